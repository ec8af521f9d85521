/* packparse.h - a bounded parser of one whole received pack (a peer's
 * sync pack, a bundle's), for the take-in's fast path: every entry's
 * header read with each size checked before anything is allocated, each
 * object inflated ONCE (libdeflate, into a bounded batch buffer, the size
 * the entry header announces), handed in batches to the caller (who
 * hashes and checks the bytes in place), and the CRC-32 and offset of
 * every entry kept for the .idx (packfile_idx_build). Part of the store
 * room, but without libgit2: it works on a byte range, so the fuzzer
 * (tests/fuzz/fuzz_packparse.c) drives it on any bytes.
 *
 * It accepts only what uniond's sender writes: version 2, whole commits,
 * trees and blobs each at most lim_size bytes, no deltas, no tags, the
 * entries exactly filling the body, the SHA-1 trailer right. Anything else
 * (a delta from plain git's `bundle create`, a thin pack, damage) is
 * refused with a reason, and the caller takes the pack in through
 * libgit2's indexer instead, which decides (and words) the refusal as
 * before: this parser never makes a verdict the peer sees. */
#ifndef UNIOND_STORE_PACKPARSE_H
#define UNIOND_STORE_PACKPARSE_H

#include "daemon/store/packfile.h"

#include "proto/uerr.h"

#include <stddef.h>
#include <stdint.h>

/* Objects inflated at most per batch, and bytes of inflated data per
 * batch (an object is at most lim_size, itself at most
 * PACKPARSE_BATCH_BYTES). */
#define PACKPARSE_BATCH_OBJECTS 4096
#define PACKPARSE_BATCH_BYTES (16u << 20)

/* Smallest pack entry: a one-byte header and the smallest zlib stream
 * (8 bytes: header, an empty stored block, adler32): bounds the object
 * count a pack of len bytes can truly hold before anything is allocated. */
#define PACKPARSE_ENTRY_MIN 9

/* One inflated object of a batch. data is borrowed from the parser (see
 * packparse_batch_fn for how long it lives). e is the object's entry (its
 * id is for the caller to fill). */
typedef struct {
    const unsigned char *data;
    size_t len;
    int type; /* PACKFILE_COMMIT, _TREE or _BLOB */
    packfile_entry *e;
} packparse_obj;

/* Called once per batch, in pack order; first is the position (pack
 * order) of o[0]. The callback must set o[i].e->id (the object's id: the
 * SHA-1 of "<type> <len>\0" and the data) for every i; it may check the
 * bytes. It may do so after it returns (on another thread, while the
 * parser inflates the next batch): the parser alternates two buffers, so
 * o and the bytes stay valid until the callback returns from its next
 * call. After the last batch (and after a refusal, before the buffers are
 * freed) it is called once more with n == 0 and o NULL: by its return
 * every id must be set. Nonzero stops the parse (packparse_run then
 * returns UERR_PEER with the callback's reason if it wrote one to why). */
typedef int (*packparse_batch_fn)(void *arg, packparse_obj *o, size_t first, size_t n, char *why,
                                  size_t whylen);

/* Limits: objects the header may announce, bytes of one object. */
typedef struct {
    uint64_t objects;
    uint64_t size;
} packparse_limits;

/* Parse pack[0..len) (borrowed). On UERR_OK: *ents (malloc'd, the
 * caller's) holds *n entries in pack order with their CRC-32, offset and
 * (from the callback) id; packsum the pack's trailer checksum, verified.
 * UERR_PEER with the reason in err when the pack is not one this parser
 * takes (above) or the callback stopped it; UERR_NOMEM. Nothing is kept
 * on failure. */
uerr packparse_run(packfile_entry **ents, size_t *n, unsigned char packsum[PACKFILE_OID],
                   const unsigned char *pack, size_t len, const packparse_limits *lim,
                   packparse_batch_fn fn, void *arg, char *err, size_t errlen);

/* Test hooks (the take-in's choice of path, quarantine.c): mode 1 sends
 * every pack through this parser first, -1 none, 0 the default (packs of
 * more than 100 objects). store_test_fast_takeins returns how many
 * take-ins this parser has taken whole since the process started, and
 * sets *tried (may be NULL) to how many it was given. */
void store_test_fast_takein(int mode);
size_t store_test_fast_takeins(size_t *tried);

#endif
