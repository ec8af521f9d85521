/* op_node.c - what the node says about itself: id and status
 * (docs/CONTROL.md). Runs on the store queue's worker thread; the peers'
 * part of status is a thread-safe snapshot main wires in
 * (ops_ctx.peers_status), so this file never reaches into the net room. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"

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

/* What status counts over the index: records per kind, and the conflicts
 * exactly as `conflicts` lists them (member records; one per field whose
 * concurrent values differ, ctl_conflict_count). */
typedef struct {
    size_t by_kind[KIND_COUNT];
    size_t conflict_fields, conflict_records;
} status_counts;

static void status_count(status_counts *c, const ops_ctx *o)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < o->ix.cap; i++) {
        const recindex_item *it = &o->ix.slots[i];
        if (!it->id)
            continue;
        if (it->kind > KIND_NONE && it->kind < KIND_COUNT)
            c->by_kind[it->kind]++;
        if (it->kind != KIND_MEMBER)
            continue;
        size_t n = ctl_conflict_count(&it->rec);
        c->conflict_fields += n;
        c->conflict_records += n > 0;
    }
}

/* "last_change": {"time": UTC text, "by": "operator@node"}, nil on an
 * empty store or when the head cannot be read. */
static void pack_last_change(msg_map *m, msgpack_packer *pk, ops_ctx *o)
{
    char who[256], tbuf[32], err[CTL_ERRLEN];
    int64_t t = 0;
    msg_map_key(m, "last_change");
    if (store_last_change(o->st, &t, who, sizeof who, err, sizeof err) != UERR_OK || t == 0) {
        msgpack_pack_nil(pk);
        return;
    }
    msg_map lc;
    record_time_format(tbuf, sizeof tbuf, t * 1000);
    msg_map_open(&lc, pk);
    msg_map_str(&lc, "time", tbuf);
    msg_map_str(&lc, "by", who);
    msg_map_close(&lc);
}

void op_status(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char head[41], tree[41];
    status_counts c;
    msg_map m, kinds;
    (void)req;
    store_head(o->st, head, tree);
    status_count(&c, o);
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "node", o->node);
    msg_map_str(&m, "office", o->office);
    msg_map_str(&m, "office_name", o->office_name ? o->office_name : "");
    msg_map_str(&m, "head", head); /* "" on a new node (the table says "(empty)") */
    msg_map_str(&m, "tree", tree);
    msg_map_int(&m, "records", (int64_t)o->ix.count);
    /* fields in conflict, the count of `unionctl conflicts` items */
    msg_map_int(&m, "conflicts", (int64_t)c.conflict_fields);
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
    msg_map_str(&m, "version", UNIOND_VERSION);
    msg_map_int(&m, "conflict_records", (int64_t)c.conflict_records);
    msg_map_key(&m, "records_by_kind");
    msg_map_open(&kinds, pk);
    for (int k = KIND_MEMBER; k < KIND_COUNT; k++)
        msg_map_int(&kinds, kind_name((record_kind)k), (int64_t)c.by_kind[k]);
    msg_map_close(&kinds);
    pack_last_change(&m, pk, o);
    msg_map_close(&m);
}
