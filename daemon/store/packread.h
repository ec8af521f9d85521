/* packread.h - a small bounded reader of the store's own pack files (a
 * version 2 .idx and its .pack), for pack reuse: when the pack for a peer
 * is built, an object stored whole (not as a delta) is copied as its
 * already-deflated bytes instead of inflated and deflated again
 * (packwriter.c). Part of the store room, but without libgit2: the parse
 * works on byte ranges, so the fuzzer (tests/fuzz/fuzz_packidx.c) drives
 * it on any bytes.
 *
 * It never trusts the files: every count, offset and size is checked
 * against the mapped length before use, and an entry is handed out only
 * after its bytes match the CRC-32 the .idx records for it. It never
 * inflates, never resolves deltas and never writes: whatever it refuses,
 * the caller reads through libgit2 instead. */
#ifndef UNIOND_STORE_PACKREAD_H
#define UNIOND_STORE_PACKREAD_H

#include <stddef.h>
#include <stdint.h>

#include "proto/uerr.h"

/* Pack entry types (git's OBJ_*): 1..4 are whole objects. */
#define PACKREAD_COMMIT 1
#define PACKREAD_TREE 2
#define PACKREAD_BLOB 3
#define PACKREAD_TAG 4
#define PACKREAD_OFS_DELTA 6
#define PACKREAD_REF_DELTA 7

/* One parsed .idx over its .pack. The byte ranges are borrowed (or mapped
 * by packread_open, then owned); ends is owned. */
typedef struct {
    const unsigned char *idx, *pack;
    size_t idxlen, packlen;
    uint32_t n; /* objects */
    const unsigned char *fanout, *oids, *crcs, *offs, *large;
    size_t nlarge;          /* 8-byte offsets */
    uint64_t *ends;         /* ends[i]: where entry i (idx order) stops in the pack */
    void *idxmap, *packmap; /* mmap'd by packread_open, else NULL */
} packread;

/* One entry of the pack, as its header says. */
typedef struct {
    int type;      /* PACKREAD_* */
    uint64_t size; /* inflated size the header announces */
    uint64_t off;  /* where the entry starts in the pack */
    size_t hdrlen; /* bytes of the type/size header */
    size_t len;    /* the whole entry: header, (delta base), deflated data */
    uint32_t crc;  /* CRC-32 of those len bytes, as the .idx records it */
} packread_entry;

/* Parse idx[0..idxlen) as a version 2 index of pack[0..packlen): magic and
 * version, a non-decreasing fan-out whose last value is the object count,
 * exactly the table sizes that count implies, ids strictly increasing and
 * in their fan-out bucket, every offset inside the pack's body and no two
 * alike, and the pack's header (version 2 or 3, the same count) and
 * trailer (the checksum the .idx names). Borrows both ranges; p->ends is
 * allocated (packread_free). UERR_PEER when the bytes are not a valid
 * pair (they are local files, but their damage is data, not a system
 * failure), UERR_NOMEM. */
uerr packread_init(packread *p, const unsigned char *idx, size_t idxlen, const unsigned char *pack,
                   size_t packlen, char *err, size_t errlen);

/* Map the index file idxpath ("...pack-X.idx") and its .pack beside it,
 * read-only, and packread_init them. UERR_IO when a file cannot be
 * opened or mapped; otherwise as packread_init. On failure p holds
 * nothing (packread_free is still safe). */
uerr packread_open(packread *p, const char *idxpath, char *err, size_t errlen);

/* Release what p owns (maps, ends); p may be zeroed or half-made. */
void packread_free(packread *p);

/* The position (0..n-1, idx order) of the 20-byte id, or -1. */
long packread_find(const packread *p, const unsigned char id[20]);

/* The entry at pos: its header parsed within the entry's bounds (the
 * size varint at most 10 bytes, and followed by data). UERR_PEER for a
 * damaged header, UERR_INVALID for pos out of range. */
uerr packread_entry_at(packread_entry *e, const packread *p, uint32_t pos, char *err,
                       size_t errlen);

/* The entry's bytes (header and deflated data, e->len of them, borrowed
 * from p) if their CRC-32 equals the one the .idx records, else NULL: a
 * damaged pack is never passed on. */
const unsigned char *packread_entry_bytes(const packread *p, const packread_entry *e);

/* Every pack of one objects directory that packread_open accepts. */
typedef struct {
    packread *v;
    size_t n, cap;
    size_t refused; /* .idx files that did not open or parse (skipped) */
} packread_set;

/* About how many objects the packs under objdir/pack hold, from the
 * sizes of their .idx files alone (nothing is mapped or parsed): what
 * opening them for reuse would cost. */
size_t packread_count_estimate(const char *objdir);

/* Open every objdir/pack/NAME.idx; a pack that does not open or parse is skipped
 * (counted in refused). No pack folder is an empty set. UERR_IO when the
 * folder cannot be listed, UERR_NOMEM. packread_set_free releases it. */
uerr packread_set_open(packread_set *set, const char *objdir, char *err, size_t errlen);
void packread_set_free(packread_set *set);

/* The whole pack entry (type/size header and deflated data, *len bytes,
 * borrowed from set) of the object id when a pack of set stores it whole
 * and its CRC-32 matches; else NULL: not in a pack, stored as a delta, or
 * damaged (then *damaged is incremented). The first pack holding id
 * decides. */
const unsigned char *packread_set_whole(size_t *len, const packread_set *set,
                                        const unsigned char id[20], int *damaged);

#endif
