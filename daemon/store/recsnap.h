/* recsnap.h - the record index persisted beside the store: a snapshot of
 * the head tree's record blobs (kind, id, bytes) in one file, keyed by the
 * tree id it reflects, so that start-up reads one file instead of walking
 * the tree and inflating every blob from git. It is derived data: when it
 * is missing, stale (another tree), damaged (checksum, bounds) or of
 * another version, the records are read from git and the file is written
 * anew. It never replaces git as the truth and never leaves the node (a
 * backup may carry it; it is checked like any other copy). Part of the
 * store room. */
#ifndef UNIOND_RECSNAP_H
#define UNIOND_RECSNAP_H

#include "daemon/store/store.h"

/* The snapshot's file name inside the store's git directory. */
#define RECSNAP_NAME "uniond-recindex.snap"

/* store_foreach through the snapshot: every record of the own head tree
 * goes to cb exactly as store_foreach gives it (same kinds, ids and
 * bytes; buffers borrowed for the call, NUL-terminated), read from the
 * snapshot when it matches the head tree, else from git, writing a new
 * snapshot on the way (a failure to write it is logged, not returned).
 * *from_snap says which (1 snapshot, 0 git). Returns as store_foreach:
 * UERR_OK, the callback's non-zero value unchanged, or UERR_IO/UERR_NOMEM
 * with err set. */
uerr store_foreach_snap(store *s, store_record_cb cb, void *arg, int *from_snap, char *err,
                        size_t errlen);

#endif
