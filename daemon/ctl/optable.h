/* optable.h - THE op table of the control socket: one row per request
 * {op name, where it runs, handler}. Adding an op is adding one row (and
 * its handler). The control socket looks every request up here; nothing
 * else dispatches on op names.
 *
 * Three places:
 * - CTL_ON_QUEUE rows (the writes) run their handler on the store queue's
 *   worker thread, one at a time: the one writer of the store and the
 *   index. It reads the index without its lock (nobody else writes it) and
 *   write-locks it only while it applies a finished commit
 *   (recindex.h "Threads"); an `excl` row holds the write lock for its
 *   whole run (it changes what readers read before it commits).
 * - CTL_ON_READER rows (the pure reads) run on the read queue, beside the
 *   writer, with the readers' own store handle (daemon/store/readview.h)
 *   and the index read lock held for the whole request, so a reply is one
 *   state and never waits for the writer's queue (issue 12). A read row
 *   may also run on the store queue (no read queue, or a request too large
 *   to look at on the loop thread): it must then work from o->st, so read
 *   handlers take their store from ctl_read_store, never o->st.
 * - CTL_ON_LOOP rows (the peers' requests) are answered on the loop thread
 *   by the loop handler main gives control_start, which never sees this
 *   table's handlers. */
#ifndef UNIOND_CTL_OPTABLE_H
#define UNIOND_CTL_OPTABLE_H

#include "daemon/ctl/ops.h"

#include <msgpack.h>
#include <stddef.h>

typedef enum { CTL_ON_QUEUE, CTL_ON_LOOP, CTL_ON_READER } ctl_place;

/* A store-queue or reader handler: reads req (valid during the call) and
 * writes exactly one whole reply into pk. */
typedef void (*ctl_queue_fn)(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);

typedef struct {
    const char *name;
    ctl_place place;
    ctl_queue_fn run; /* NULL for CTL_ON_LOOP rows only */
    int excl;         /* CTL_ON_QUEUE only: the index write lock for the whole run */
} ctl_op;

/* The row of op name, or NULL. Borrowed (static). */
const ctl_op *ctl_op_find(const char *name);

/* Every row, sorted by name (*n set). Borrowed (static); for tests and
 * docs. */
const ctl_op *ctl_ops(size_t *n);

/* Where a request is handled, as the control socket knows it. */
typedef struct {
    int reader;      /* 1: a reader thread (CTL_ON_READER rows only) */
    store *st;       /* reader: the readers' store handle (may be NULL in
                        unit tests without a store); borrowed */
    unsigned queued; /* store-queue jobs running or waiting when the request
                        arrived, not counting itself (status "queued") */
    /* Where the caller keeps the request's bytes (the req given to
     * ctl_handle, malloc'd), so a handler that releases the request early
     * (ctl_request_release) can free them (and set *req_owned NULL). NULL:
     * the bytes stay until the caller frees them after ctl_handle. */
    char **req_owned;
} ctl_env;

/* Handle one request: decode it, look its op up, run the row's handler,
 * append exactly one reply map to out (owned by the caller). env NULL:
 * the store queue's worker with nothing queued. On the store queue
 * (env->reader 0) queue and reader rows run; on a reader only reader rows
 * run, with the index read lock held and env->st refreshed to the branch
 * on disk first. Malformed requests, unknown ops and ops of another place
 * are answered with an error reply. env is borrowed for the call. */
void ctl_handle(ops_ctx *o, const ctl_env *env, const char *req, size_t len, msgpack_sbuffer *out);

/* ctl_handle(o, NULL, ...): on the store queue's worker thread. */
void ctl_queue_handle(ops_ctx *o, const char *req, size_t len, msgpack_sbuffer *out);

/* The env of the request this thread is handling, or NULL (outside
 * ctl_handle). Borrowed. */
const ctl_env *ctl_env_now(void);

/* Release the request this thread is handling before its handler
 * returns: its unpacked objects (every msgpack_object the handler got,
 * and every string in them) and, when the env owns them (req_owned), its
 * bytes. For a handler that has taken all it needs from a large request
 * and then does long work (import: the commit), so the request's memory is
 * not held through it. Nothing of the request may be read after this. */
void ctl_request_release(void);

/* The store a read handler reads: the reader's handle on a reader thread,
 * o->st on the store queue (or outside ctl_handle). Borrowed. */
store *ctl_read_store(ops_ctx *o);

#endif
