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

void op_status(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char head[41], tree[41];
    size_t conflicts = 0;
    msg_map m;
    (void)req;
    store_head(o->st, head, tree);
    for (size_t i = 0; i < o->ix.cap; i++)
        if (o->ix.slots[i].id)
            conflicts += ctl_conflict_count(&o->ix.slots[i].rec) > 0;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "node", o->node);
    msg_map_str(&m, "office", o->office);
    msg_map_str(&m, "head", head);
    msg_map_str(&m, "tree", tree);
    msg_map_int(&m, "records", (int64_t)o->ix.count);
    msg_map_int(&m, "conflicts", (int64_t)conflicts);
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
    msg_map_int(&m, "requests", (int64_t)o->requests);
    msg_map_close(&m);
}
