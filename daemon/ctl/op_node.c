/* op_node.c - what the node says about itself: id and status
 * (docs/CONTROL.md). Runs on the store queue's worker thread; the peers'
 * part of status is a thread-safe snapshot main wires in
 * (ops_ctx.peers_status), so this file never reaches into the net room. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"

#include "daemon/util/clock.h"

void op_id(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    msg_map m;
    (void)req;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "node", o->node);
    msg_map_str(&m, "office", o->office);
    msg_map_str(&m, "fingerprint", o->fingerprint);
    msg_map_str(&m, "listen", o->listen);
    msg_map_close(&m);
}

void ctl_status_pack(msgpack_packer *pk, const ops_ctx *o, const ctl_status_view *v)
{
    msg_map m;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "node", o->node);
    msg_map_str(&m, "office", o->office);
    msg_map_str(&m, "head", v->head);
    msg_map_str(&m, "tree", v->tree);
    msg_map_int(&m, "records", (int64_t)v->records);
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
    msg_map_close(&m);
}

void ctl_status_view_take(ctl_status_view *v, ops_ctx *o)
{
    v->head[0] = v->tree[0] = 0;
    if (o->st) /* a unit test's ops may have no store */
        store_head(o->st, v->head, v->tree);
    v->records = o->ix.count;
    v->conflicts = o->ix.conflicted;
    v->requests = o->requests;
}

void op_status(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    ctl_status_view v;
    (void)req;
    ctl_status_view_take(&v, o);
    ctl_status_pack(pk, o, &v);
}
