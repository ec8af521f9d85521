/* readview.h - the readers' own handle on the store, and the index lock
 * the writer takes while a take-in applies a merge to the index.
 *
 * libgit2 is safe across threads when each thread uses its own
 * git_repository, so the readers of the control socket (show, list, log,
 * status, ...: daemon/ctl/optable.h) get a store of their own, opened on
 * the same git directory, that never writes: a read runs beside the
 * writer instead of queueing behind it. Each read starts with
 * store_reader_refresh, so it sees the own branch as it is on disk now
 * (an acknowledged write is on disk before its reply: read-your-writes).
 *
 * Never writes to the store: no commit, ref, pack or object is made
 * through a reader (store_commit and the take-in are for the writer's
 * store only). */
#ifndef UNIOND_STORE_READVIEW_H
#define UNIOND_STORE_READVIEW_H

#include "daemon/store/recindex.h"
#include "daemon/store/store.h"
#include "proto/uerr.h"

#include <stddef.h>

/* Open a reader on the repository of the writer's store w (borrowed; only
 * its path and node are read, so call this on the thread that owns w, or
 * before its jobs start). *out is the caller's (store_free; on the thread
 * that uses it, or once it is idle). UERR_OK, or UERR_IO/UERR_NOMEM with
 * err set. */
uerr store_reader_open(store **out, const store *w, char *err, size_t errlen);

/* Read the own branch again (the ref on disk), so the next store_head,
 * store_history, store_log or store_last_change on r sees the newest
 * acknowledged write. UERR_OK, or UERR_IO with err set (r then reads the
 * head it had). */
uerr store_reader_refresh(store *r, char *err, size_t errlen);

/* The index whose lock the writer's take-ins hold while they apply what a
 * merge or fast-forward changed (merge.c): ix is borrowed and must outlive
 * s (NULL: none, nothing is locked). Call before s's first job. */
void store_index_attach(store *s, recindex *ix);

/* For merge.c: take / release the attached index's write lock (no-ops
 * when none is attached). Between the two, only reads of git objects and
 * the index callbacks run: no git write, no fsync. */
void store_index_write_begin(store *s);
void store_index_write_end(store *s);

#endif
