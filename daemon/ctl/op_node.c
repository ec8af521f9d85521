/* op_node.c - what the node says about itself: id and status
 * (docs/CONTROL.md). Runs on the store queue's worker thread; the peers'
 * part of status is a thread-safe snapshot main wires in
 * (ops_ctx.peers_status), so this file never reaches into the net room. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/optable.h"

#include "daemon/util/clock.h"
#include "proto/version.h"

void op_id(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    msg_map m;
    (void)req;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "node", o->node);
    msg_map_str(&m, "office", o->office);
    msg_map_str(&m, "office_name", o->office_name ? o->office_name : "");
    msg_map_str(&m, "fingerprint", o->fingerprint);
    msg_map_str(&m, "listen", o->listen);
    msg_map_close(&m);
}

/* "last_change": {"time": UTC text, "by": "operator@node"}, nil on an
 * empty store or when the head could not be read. */
static void pack_last_change(msg_map *m, msgpack_packer *pk, const ctl_status_view *v)
{
    char tbuf[32];
    msg_map_key(m, "last_change");
    if (v->last_change_ms == 0) {
        msgpack_pack_nil(pk);
        return;
    }
    msg_map lc;
    record_time_format(tbuf, sizeof tbuf, v->last_change_ms);
    msg_map_open(&lc, pk);
    msg_map_str(&lc, "time", tbuf);
    msg_map_str(&lc, "by", v->last_change_by);
    msg_map_close(&lc);
}

void ctl_status_pack(msgpack_packer *pk, const ops_ctx *o, const ctl_status_view *v)
{
    msg_map m, kinds;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "node", o->node);
    msg_map_str(&m, "office", o->office);
    msg_map_str(&m, "office_name", o->office_name ? o->office_name : "");
    msg_map_str(&m, "head", v->head); /* "" on a new node (the table says "(empty)") */
    msg_map_str(&m, "tree", v->tree);
    msg_map_int(&m, "records", (int64_t)v->records);
    /* fields in conflict, the count of `unionctl conflicts` items */
    msg_map_int(&m, "conflicts", (int64_t)v->conflicts);
    msg_map_key(&m, "peers");
    if (o->peers_status) {
        o->peers_status(o->peers_arg, pk);
    } else {
        msg_arr none;
        msg_arr_open(&none, pk);
        msg_arr_close(&none);
    }
    msg_map_str(&m, "listen", o->listen);
    msg_map_int(&m, "uptime_s", (clock_now_ms() - o->started_ms) / 1000);
    msg_map_int(&m, "requests", (int64_t)v->requests);
    msg_map_int(&m, "write_batches", (int64_t)v->write_batches);
    msg_map_int(&m, "batched_writes", (int64_t)v->batched_writes);
    msg_map_int(&m, "packs_joined", (int64_t)v->packs_joined);
    msg_map_str(&m, "version", UNIOND_VERSION);
    msg_map_int(&m, "conflict_records", (int64_t)v->conflict_records);
    msg_map_int(&m, "queued", (int64_t)v->queued);
    msg_map_key(&m, "records_by_kind");
    msg_map_open(&kinds, pk);
    for (int k = KIND_MEMBER; k < KIND_COUNT; k++)
        msg_map_int(&kinds, kind_name((record_kind)k), (int64_t)v->by_kind[k]);
    msg_map_close(&kinds);
    pack_last_change(&m, pk, v);
    msg_map_close(&m);
}

void ctl_status_view_take(ctl_status_view *v, ops_ctx *o)
{
    char err[CTL_ERRLEN];
    int64_t t = 0;
    v->head[0] = v->tree[0] = 0;
    v->last_change_ms = 0;
    v->last_change_by[0] = 0;
    store *st = ctl_read_store(o); /* a reader's own handle on a reader */
    const ctl_env *env = ctl_env_now();
    v->queued = env ? env->queued : 0;
    if (st) { /* a unit test's ops may have no store */
        store_head(st, v->head, v->tree);
        if (v->head[0] && store_last_change(st, &t, v->last_change_by, sizeof v->last_change_by,
                                            err, sizeof err) == UERR_OK)
            v->last_change_ms = t * 1000;
    }
    v->records = o->ix.count;
    v->conflicts = o->ix.conflict_fields;
    v->conflict_records = o->ix.conflicted;
    memcpy(v->by_kind, o->ix.by_kind, sizeof v->by_kind);
    v->requests = __atomic_load_n(&o->requests, __ATOMIC_RELAXED); /* readers count too */
    v->write_batches = o->write_batches;
    v->batched_writes = o->batched_writes;
    v->packs_joined = o->st ? store_packs_joined(o->st) : 0; /* an atomic: any thread */
}

void op_status(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    ctl_status_view v;
    (void)req;
    ctl_status_view_take(&v, o);
    ctl_status_pack(pk, o, &v);
}
