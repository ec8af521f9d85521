/* gcommit.c - group commit of write requests (see gcommit.h). The
 * requests of a batch run one after the other on the index, so each sees
 * the ones before it (two adds of one ID number: the second is refused
 * naming the first, as when run alone); only durability is shared
 * (store_batch_*): each request keeps its own commit, author, time and
 * message, so `log` and `revert` see every request as its own change.
 * Never sends a reply: control.c does, after this returns. */
#include "daemon/ctl/gcommit.h"

#include "daemon/ctl/common.h"
#include "daemon/ctl/optable.h"
#include "daemon/util/log.h"
#include "proto/msg.h"

#include <stdlib.h>
#include <string.h>

int ctl_request_batchable(const char *req, size_t len)
{
    msgpack_unpacked u;
    int yes = 0;
    msgpack_unpacked_init(&u);
    if (msg_unpack(&u, req, len) == 0 && u.data.type == MSGPACK_OBJECT_MAP) {
        char *op = msg_get_str(&u.data, "op");
        static const char *const alone[] = {"field_add", "field_value_add", "merge",
                                            "resolve",   "revert",          "transfer"};
        yes = op && (strcmp(op, "add") == 0 || strcmp(op, "edit") == 0);
        for (size_t i = 0; op && !yes && i < sizeof alone / sizeof *alone; i++)
            if (strcmp(op, alone[i]) == 0)
                yes = 2;
        free(op);
    }
    msgpack_unpacked_destroy(&u);
    return yes;
}

/* The batch's commits were dropped: forget what the index took from them
 * by loading it again from the store's (durable) head. */
static void index_reload(ops_ctx *o)
{
    char err[CTL_ERRLEN];
    /* under the write lock: readers run beside the writer (optable.c),
     * and recindex_free keeps the lock itself, so no reader ever sees the
     * index half loaded or a lock re-initialised under it */
    recindex_write_lock(&o->ix);
    ops_free(o);
    o->persons = NULL;
    if (ops_load(o, err, sizeof err) != UERR_OK) {
        log_msg(LOG_ERR, "reloading the index after a failed write: %s; exiting", err);
        abort();
    }
    recindex_unlock(&o->ix);
}

void ctl_queue_handle_batch(ops_ctx *o, const char *const *reqs, const size_t *lens,
                            msgpack_sbuffer *const *outs, size_t n)
{
    char err[CTL_ERRLEN];
    char *wrote = calloc(n ? n : 1, 1);
    if (!o->st || !wrote) { /* a unit test's ops, or no memory: one at a time */
        for (size_t i = 0; i < n; i++)
            ctl_queue_handle(o, reqs[i], lens[i], outs[i]);
        free(wrote);
        return;
    }
    store_batch_begin(o->st);
    for (size_t i = 0; i < n; i++) {
        size_t before = store_batch_pending(o->st);
        ctl_queue_handle(o, reqs[i], lens[i], outs[i]);
        wrote[i] = store_batch_pending(o->st) > before;
    }
    uerr e = store_batch_end(o->st, err, sizeof err);
    if (n >= 2) {
        o->write_batches++;
        o->batched_writes += n;
    }
    if (e != UERR_OK) {
        size_t nw = 0;
        for (size_t i = 0; i < n; i++) {
            if (!wrote[i])
                continue;
            msgpack_packer pk;
            msgpack_sbuffer_clear(outs[i]);
            msgpack_packer_init(&pk, outs[i], msgpack_sbuffer_write);
            ctl_reply_error(&pk, e, "%s", err);
            nw++;
        }
        log_msg(LOG_ERR, "writing %zu changes failed (%s); none was kept", nw, err);
        index_reload(o);
    }
    free(wrote);
}

/* ---- joining the batches' packs on the idle store queue ------------------- */

static int packs_due(void *arg)
{
    int d = store_packs_join_due(arg);
    return d ? d : store_checkpoint_due(arg);
}

static void packs_run(void *arg)
{
    char err[CTL_ERRLEN];
    /* the journal's checkpoint (best effort: kept and tried again, and
     * the next start redoes it), then the join when due (best effort too,
     * the store logs a failure: the store is whole either way, only
     * slower) */
    (void)store_checkpoint(arg, err, sizeof err); /* logged; kept for later */
    if (store_packs_join_due(arg))
        (void)store_packs_join(arg, err, sizeof err);
}

static void packs_done(void *arg, int cancelled)
{
    (void)arg;
    (void)cancelled;
}

/* A join waits for this long without a store job (packjoin.c): the gaps
 * between a clerk's adds, not those inside a burst of 50 clients' adds or
 * between the steps of a take-in. */
#define JOIN_QUIET_MS 100

void ctl_packs_join_wire(squeue *q, store *st)
{
    squeue_set_idle(q, packs_due, packs_run, packs_done, st);
    if (squeue_set_idle_quiet(q, JOIN_QUIET_MS) != UERR_OK)
        log_msg(LOG_WARN, "packs are joined without waiting for a quiet store: no timer");
}
