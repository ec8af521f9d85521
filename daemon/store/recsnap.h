/* recsnap.h - the record index persisted beside the store: the compact
 * index of the head tree's records (daemon/store/recsnap_fmt.h) in one
 * file, keyed by the tree id it reflects, so that start-up copies it
 * instead of walking the tree, inflating and decoding every blob. It is derived data: when it
 * is stale (another tree) it is brought up to date from the tree diff;
 * when it is missing, damaged (checksum, bounds) or of another version,
 * the records are read from git; either way the file is written anew. It never replaces git as the
 * truth and never leaves the node (a backup may carry it; it is checked like any other copy). Part
 * of the store room. */
#ifndef UNIOND_RECSNAP_H
#define UNIOND_RECSNAP_H

#include "daemon/store/recindex.h"
#include "daemon/store/store.h"

/* The snapshot's file name inside the store's git directory. */
#define RECSNAP_NAME "uniond-recindex.snap"

/* Load the own head tree's records into ix (no record yet; its
 * secondary indexes and tallies may be on) through the snapshot: when it
 * matches the head tree, its records are copied into ix and its schema
 * records handed to cb; when it is of an older tree, its unchanged
 * records likewise and the ones the tree diff names read from git and
 * handed to cb; else every record read from git and handed to cb (as
 * store_foreach gives them: buffers borrowed for the call,
 * NUL-terminated). cb puts what it gets into ix (or, a schema record,
 * elsewhere). A new snapshot of the head, made from ix once loaded, is
 * written unless it was current (a failure to write it is logged, not
 * returned). *from_snap is 1 when the snapshot was used (current or
 * brought up to date), 0 when every record was read from git. Returns as
 * store_foreach: UERR_OK, the callback's non-zero value unchanged, or
 * UERR_IO/UERR_NOMEM with err set. */
uerr store_load_index(store *s, recindex *ix, store_record_cb cb, void *arg, int *from_snap,
                      char *err, size_t errlen);

/* At a clean shutdown: write the snapshot of ix as the one of the store's
 * head tree, unless the file on disk already names that tree. ix must
 * reflect the head (the store queue drained: no write running); it is only
 * read. A failure is logged, never returned: the next start then reads
 * git, as without a snapshot. */
void store_save_index(store *s, const recindex *ix);

#endif
