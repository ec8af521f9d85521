/* optable.c - the op table (see optable.h) and the worker side of
 * dispatch: which lock a row runs under, on the store queue or a reader.
 * The rows are kept sorted by name so a lookup is a binary search;
 * tests/unit/test_optable.c checks the order, so a row in the wrong place
 * fails the build's tests rather than hiding an op. */
#include "daemon/ctl/optable.h"

#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/store/readview.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const ctl_op table[] = {
    /* name, where, handler, excl (sorted by name). The reads run on the
     * read queue; field_add and field_value_add declare the field (the
     * schema readers check names against) before they commit, so they
     * keep the readers out for their whole run. */
    {"add", CTL_ON_QUEUE, op_add_any, 0},
    {"backup", CTL_ON_QUEUE, op_backup, 0},
    {"benefit_list", CTL_ON_READER, op_benefit_list, 0},
    {"bundle_export", CTL_ON_QUEUE, op_bundle_export, 0},
    {"bundle_import", CTL_ON_QUEUE, op_bundle_import, 0},
    {"conflicts", CTL_ON_READER, op_conflicts, 0},
    {"duplicates", CTL_ON_READER, op_duplicates, 0},
    {"edit", CTL_ON_QUEUE, op_edit_any, 0},
    {"field_add", CTL_ON_QUEUE, op_field_add, 1},
    {"field_value_add", CTL_ON_QUEUE, op_field_value_add, 1},
    {"fields", CTL_ON_READER, op_fields, 0},
    {"history", CTL_ON_READER, op_history, 0},
    {"id", CTL_ON_READER, op_id, 0},
    {"import", CTL_ON_QUEUE, op_import_any, 0},
    {"list", CTL_ON_READER, op_list, 0},
    {"log", CTL_ON_READER, op_log, 0},
    {"merge", CTL_ON_QUEUE, op_merge, 0},
    {"peer_add", CTL_ON_LOOP, NULL, 0},
    {"peer_remove", CTL_ON_LOOP, NULL, 0},
    {"peers", CTL_ON_LOOP, NULL, 0},
    {"report", CTL_ON_READER, op_report, 0},
    {"resolve", CTL_ON_QUEUE, op_resolve, 0},
    {"revert", CTL_ON_QUEUE, op_revert, 0},
    {"show", CTL_ON_READER, op_show, 0},
    {"stats", CTL_ON_READER, op_stats, 0},
    {"status", CTL_ON_READER, op_status, 0},
    {"sync", CTL_ON_LOOP, NULL, 0},
    {"transfer", CTL_ON_QUEUE, op_transfer, 0},
};

#define NOPS (sizeof table / sizeof *table)

static int row_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const ctl_op *)row)->name);
}

const ctl_op *ctl_op_find(const char *name)
{
    return bsearch(name, table, NOPS, sizeof *table, row_cmp);
}

const ctl_op *ctl_ops(size_t *n)
{
    *n = NOPS;
    return table;
}

/* The request this thread is handling (ctl_env_now), and its unpacked
 * objects (ctl_request_release). */
static _Thread_local const ctl_env *env_now;
static _Thread_local msgpack_unpacked *unpacked_now;

const ctl_env *ctl_env_now(void)
{
    return env_now;
}

void ctl_request_release(void)
{
    assert(env_now && unpacked_now && "only inside a handler");
    /* the objects point into the bytes (msgpack-c unpacks strings without
     * copying them): both go, the objects first */
    msgpack_unpacked_destroy(unpacked_now);
    msgpack_unpacked_init(unpacked_now); /* ctl_handle destroys it again */
    if (env_now->req_owned) {
        free(*env_now->req_owned);
        *env_now->req_owned = NULL; /* the caller's free after is a no-op */
    }
}

store *ctl_read_store(ops_ctx *o)
{
    return env_now && env_now->reader ? env_now->st : o->st;
}

/* Run the row's handler under the lock its place asks for. */
static void row_run(const ctl_op *row, ops_ctx *o, const ctl_env *env, const msgpack_object *req,
                    msgpack_packer *pk)
{
    char err[CTL_ERRLEN];
    if (env->reader) {
        recindex_read_lock(&o->ix);
        /* after the lock: the head read here is at least as new as every
         * write whose reply was sent before this request arrived */
        if (env->st && store_reader_refresh(env->st, err, sizeof err) != UERR_OK)
            ctl_reply_error(pk, UERR_IO, "%s", err);
        else
            row->run(o, req, pk);
        recindex_unlock(&o->ix);
    } else if (row->excl) {
        recindex_write_lock(&o->ix);
        row->run(o, req, pk);
        recindex_unlock(&o->ix);
    } else {
        row->run(o, req, pk);
    }
}

void ctl_handle(ops_ctx *o, const ctl_env *env, const char *req, size_t len, msgpack_sbuffer *out)
{
    static const ctl_env writer = {0, NULL, 0, NULL};
    msgpack_packer pk;
    msgpack_unpacked u;
    char *op = NULL;
    if (!env)
        env = &writer;
    assert(!env_now && "one request at a time per thread");
    env_now = env;
    unpacked_now = &u;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_unpacked_init(&u);
    /* both the writer and the readers count: atomically */
    __atomic_fetch_add(&o->requests, 1, __ATOMIC_RELAXED);
    if (msg_unpack(&u, req, len) != 0 || u.data.type != MSGPACK_OBJECT_MAP) {
        ctl_reply_error(&pk, UERR_INVALID, "malformed request: expected one msgpack map");
        goto cleanup;
    }
    op = msg_get_str(&u.data, "op");
    const ctl_op *row = op ? ctl_op_find(op) : NULL;
    if (!op) {
        ctl_reply_error(&pk, UERR_INVALID, "malformed request: no op");
    } else if (!row) {
        ctl_reply_error(&pk, UERR_INVALID, "unknown request '%s' (is unionctl newer than uniond?)",
                        op);
    } else if (row->place == CTL_ON_LOOP) {
        /* control sends loop ops to the loop handler; one gets here only
         * inside an oversized frame */
        ctl_reply_error(&pk, UERR_INVALID, "request '%s' is too large", op);
    } else if (env->reader && row->place != CTL_ON_READER) {
        /* control sends only read rows to a reader */
        ctl_reply_error(&pk, UERR_INTERNAL, "request '%s' reached a reader", op);
    } else {
        assert(row->run);
        size_t before = out->size;
        row_run(row, o, env, &u.data, &pk);
        assert(out->size > before); /* every handler writes one reply */
        (void)before;
    }
cleanup:
    env_now = NULL;
    unpacked_now = NULL;
    free(op);
    msgpack_unpacked_destroy(&u);
}

void ctl_queue_handle(ops_ctx *o, const char *req, size_t len, msgpack_sbuffer *out)
{
    ctl_handle(o, NULL, req, len, out);
}
