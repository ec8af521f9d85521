/* packfile.h - a version 2 pack written straight to the store's pack
 * folder, with its version 2 .idx written by us from what the writer
 * already knows (each object's id, offset and CRC-32), instead of handing
 * the bytes to libgit2's indexer, which inflates every object again to
 * hash it. For the store's OWN objects only (the bulk commit): nothing
 * from outside is ever written through here, and nothing here reads a
 * pack. Part of the store room. */
#ifndef UNIOND_PACKFILE_H
#define UNIOND_PACKFILE_H

#include "proto/uerr.h"

#include <openssl/evp.h>

#include <stddef.h>
#include <stdint.h>

#define PACKFILE_OID 20 /* SHA-1 */

/* Object types as a pack header codes them (git's). */
enum { PACKFILE_COMMIT = 1, PACKFILE_TREE = 2, PACKFILE_BLOB = 3 };

/* One object of the pack: its id, the CRC-32 of its whole entry (header
 * and deflated bytes), and where the entry starts. */
typedef struct {
    unsigned char id[PACKFILE_OID];
    uint32_t crc;
    uint64_t off;
} packfile_entry;

/* The bytes of the version 2 .idx of a pack holding e[0..n) whose trailer
 * checksum is packsum: magic, version, the fan-out table, the sorted ids,
 * their CRC-32s, their offsets (31 bits; larger ones through the 64-bit
 * table), the pack checksum and the index's own SHA-1. Byte for byte what
 * `git index-pack` writes for the same pack. Sorts e in place by id. Two
 * entries with one id are refused (UERR_INTERNAL: the writer never puts
 * an object twice). *out is malloc'd, the caller's. UERR_NOMEM too. */
uerr packfile_idx_build(unsigned char **out, size_t *len, packfile_entry *e, size_t n,
                        const unsigned char packsum[PACKFILE_OID], char *err, size_t errlen);

/* The type-and-size header of a pack entry (git's varint: 3 type bits, 4
 * size bits, then 7 size bits a byte) into hdr; returns its length (at
 * most 10 bytes). */
size_t packfile_entry_header(unsigned char hdr[16], int type, uint64_t size);

/* A pack being written: a temporary file in the pack folder, an entry per
 * object. Fields are the writer's; callers use the functions below. */
typedef struct {
    int fd;
    char dir[4200];
    char tmp[4300], tmpidx[4300];
    EVP_MD_CTX *sha;                  /* over every byte of the pack so far */
    struct libdeflate_compressor *zc; /* the writer's own: one thread at a time */
    unsigned char *buf;               /* pending bytes */
    size_t len;
    unsigned char *zbuf; /* one object's deflated bytes */
    size_t zcap;
    size_t zlast; /* how many of zbuf the last packfile_object wrote (0: none) */
    uint64_t off; /* bytes of the pack so far */
    packfile_entry *e;
    size_t n, expected;
    int failed;     /* a step failed; nothing more is written */
    int errno_;     /* its errno, 0 when it was not the system's */
    int finished;   /* renamed into place: nothing to remove */
    int opened;     /* packfile_open ran: packfile_free has work */
    int open_ended; /* count unknown until finish (packfile_open_ended) */
    size_t cap;     /* entries allocated */
} packfile_out;

/* Start a pack of exactly nobj objects in packdir (objects/pack), deflated
 * at level `level` (zlib format, by libdeflate: whole buffers, about twice
 * zlib's speed on a 600-byte record at level 1 for the same size): a temporary file
 * `tmp_pack_XXXXXX` (mode 0444 once complete), which store_open removes if a crash leaves it.
 * UERR_IO, UERR_NOMEM, UERR_INTERNAL (nobj over 2^32-1). Free with packfile_free whatever happens.
 */
uerr packfile_open(packfile_out *p, const char *packdir, size_t nobj, int level, char *err,
                   size_t errlen);

/* packfile_open for a pack whose object count is known only at the end
 * (objects are added as an import's rows are checked): the header is
 * written with a count of 0 and set by packfile_finish, which then reads
 * the file back once for its checksum (a SHA-1 over it all, where the
 * counted pack hashes as it writes). Same codes; free with packfile_free. */
uerr packfile_open_ended(packfile_out *p, const char *packdir, int level, char *err, size_t errlen);

/* The id of an object of type (PACKFILE_*) and these bytes: SHA-1 over
 * "<type> <len>\0" and the bytes (git's object id), by OpenSSL with the
 * caller's reusable context ctx (git_odb_hash runs the collision-detecting
 * SHA-1, several times slower: these are our own objects). 0 or -1. */
int packfile_hash(unsigned char out[PACKFILE_OID], EVP_MD_CTX *ctx, int type, const void *data,
                  size_t len);

/* Append one whole object whose id is `id` (the caller hashed it: see
 * packfile_hash). Errors are kept in p and reported by packfile_finish.
 * data is borrowed. Afterwards p->zbuf[0..p->zlast) holds the object's
 * deflated bytes (zlib format) until the next call; zlast is 0 when
 * nothing was written. */
void packfile_object(packfile_out *p, int type, const unsigned char id[PACKFILE_OID],
                     const void *data, size_t size);

/* The trailer, then durably into place: the pack fsynced and closed, its
 * .idx written and fsynced, the pack renamed to pack-<checksum>.pack, then
 * the .idx to pack-<checksum>.idx (git finds a pack by its index, so the
 * pack is never visible half written), then the folder fsynced. name gets
 * the checksum in hex. UERR_IO (the step and errno), UERR_INTERNAL (not as
 * many objects as announced). */
uerr packfile_finish(packfile_out *p, char name[2 * PACKFILE_OID + 1], char *err, size_t errlen);

/* Release p; an unfinished pack's temporary files are removed. */
void packfile_free(packfile_out *p);

#endif
