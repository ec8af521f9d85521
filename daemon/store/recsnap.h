/* recsnap.h - the record index persisted beside the store: a snapshot of
 * the head tree's record blobs (kind, id, bytes) in one file, keyed by the
 * tree id it reflects, so that start-up reads one file instead of walking
 * the tree and inflating every blob from git. It is derived data: when it
 * is stale (another tree) it is brought up to date from the tree diff;
 * when it is missing, damaged (checksum, bounds) or of another version,
 * the records are read from git; either way the file is written anew. It never replaces git as the
 * truth and never leaves the node (a backup may carry it; it is checked like any other copy). Part
 * of the store room. */
#ifndef UNIOND_RECSNAP_H
#define UNIOND_RECSNAP_H

#include "daemon/store/store.h"

/* The snapshot's file name inside the store's git directory. */
#define RECSNAP_NAME "uniond-recindex.snap"

/* store_foreach through the snapshot: every record of the own head tree
 * goes to cb exactly as store_foreach gives it (same kinds, ids and
 * bytes; buffers borrowed for the call, NUL-terminated), read from the
 * snapshot when it matches the head tree; when it is of an older tree,
 * its unchanged records from it and the ones the tree diff names from git;
 * else all from git. A new snapshot of the head is written on the way
 * unless it was current (a failure to write it is logged, not returned).
 * *from_snap is 1 when the snapshot was used (current or brought up to
 * date), 0 when every record was read from git. Returns as store_foreach:
 * UERR_OK, the callback's non-zero value unchanged, or UERR_IO/UERR_NOMEM
 * with err set. */
uerr store_foreach_snap(store *s, store_record_cb cb, void *arg, int *from_snap, char *err,
                        size_t errlen);

#endif
