/* ops.h - the state the control request handlers work on (the store, the
 * in-memory index, the node's identity), as main sets it up. Handlers run
 * on the store queue's worker thread (the one writer of the store and the
 * index) or, for the op table's reads, on the read queue beside it with
 * the index read lock held (daemon/ctl/optable.h); never on the loop
 * thread.
 *
 * Must never include the net room: the peers reach the index only through
 * ops_index_changed, which main hands them as a plain store_record_cb.
 * docs/CONTROL.md lists every request and its reply. */
#ifndef UNIOND_CTL_OPS_H
#define UNIOND_CTL_OPS_H

#include "daemon/store/recindex.h"
#include "daemon/store/store.h"
#include "proto/kind.h"
#include "proto/uerr.h"

#include <msgpack.h>
#include <pthread.h>
#include <stdint.h>

/* What `status` says of the store and index (common.h has its take and
 * pack). */
typedef struct {
    char head[41], tree[41];
    size_t records, conflicts, conflict_records; /* conflicts: fields, as `conflicts` lists */
    size_t by_kind[KIND_COUNT];
    unsigned long requests;
    unsigned long write_batches, batched_writes; /* as ops_ctx's */
    unsigned long packs_joined;                  /* store_packs_joined */
    int64_t last_change_ms;                      /* the head commit's time; 0 on an empty store */
    char last_change_by[128];
    unsigned queued; /* store-queue jobs ahead of the status request (optable.h ctl_env) */
} ctl_status_view;

typedef struct {
    store *st;                   /* owned (main frees it after the loop has stopped) */
    recindex ix;                 /* owned */
    recindex decl;               /* owned: the schema records (op_schema.c), never in ix */
    struct persons_tab *persons; /* owned: ID number / name+phone -> rows (persons.c) */
    char *node;                  /* borrowed from the daemon's config */
    char *office;                /* borrowed */
    char *office_name;           /* borrowed: the office's display name, or NULL */
    char *listen;                /* borrowed */
    char fingerprint[65];
    int64_t started_ms;
    unsigned long requests; /* store-queue requests handled */
    /* group commits of two or more writes (gcommit.c), and the write
     * requests in them */
    unsigned long write_batches, batched_writes;
    /* peers' state for status (thread-safe snapshot, one msgpack value
     * packed into pk), NULL if none. Wired by main. */
    void (*peers_status)(void *arg, msgpack_packer *pk);
    void *peers_arg;
    /* status as the store queue's thread left it after its last job
     * (control.c view_publish), read on the loop thread under view_mu.
     * Here, not in the control socket, because the store queue outlives
     * the socket at shutdown (the peers' last jobs still publish). view_mu
     * is initialised by control_start when view_on is set, destroyed by
     * ops_free. */
    pthread_mutex_t view_mu;
    ctl_status_view view;
    int view_on;
    /* The least and greatest record id of rows [0, idrange_rows) of ix
     * (records are never removed, so the range only widens): an id prefix
     * outside it matches nothing, and ctl_lookup skips its walk. Updated
     * by ctl_lookup under a mutex of its own (a reader and the store queue
     * may look up at once); reset by ops_load. */
    uint32_t idrange_rows;
    char idmin[RECORD_ID_MAX + 1], idmax[RECORD_ID_MAX + 1];
    /* The rows of ix holding unions, enterprises and stations (what a
     * link names), of rows [0, link_upto): a record's kind never changes,
     * so the list only grows. A link of one record (show, add) is resolved
     * against these and the person keys, not a walk of every record
     * (kinds.c). Same mutex and reset as the id range. Owned. */
    uint32_t *link_rows;
    size_t nlink_rows, link_rows_cap;
    uint32_t link_upto;
} ops_ctx;

/* Fill the index from the store's head tree. Returns UERR_OK, or an error
 * with err set (a record that does not decode is an error naming its id). */
uerr ops_load(ops_ctx *o, char *err, size_t errlen);

/* Free what o owns (the indexes; not the store). */
void ops_free(ops_ctx *o);

/* A store_record_cb that decodes a record a merge or fast-forward changed
 * into o's index (arg = ops_ctx *). Worker thread only. Returns 0, 1 (the
 * record does not decode; logged) or 2 (out of memory). */
int ops_index_changed(record_kind kind, const char *id, const char *buf, size_t len, void *arg);

#endif
