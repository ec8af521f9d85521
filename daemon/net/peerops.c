/* peerops.c - the control socket's requests about peers, answered on the
 * loop thread where the peers' state lives: `peers` (their state), `sync`
 * (a round with every peer, answered when all finished or after 20 s),
 * `peer add` / `peer remove` (which also write the config), plus the status
 * snapshot that store-queue jobs read under a lock.
 *
 * Gets a reply handle (daemon/reply.h), never a control client: this file
 * must not include the control room. Replies are built with proto/msg.h's
 * self-counting maps. */
#include "daemon/util/log.h"
#include "daemon/net/net_internal.h"
#include "proto/msg.h"
#include "proto/names.h"
#include "proto/record.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- status snapshot -------------------------------------------------------- */

static void pack_peer(msgpack_packer *pk, const peer_state *ps)
{
    char tbuf[32] = "", rbuf[32] = "";
    const char *state = ps->s              ? session_state_name(ps->s->state)
                        : ps->retry_active ? "backoff"
                                           : "idle";
    msg_map m;
    msg_map_open(&m, pk);
    msg_map_str(&m, "name", ps->conf.name);
    msg_map_str(&m, "address", ps->conf.address);
    msg_map_str(&m, "fingerprint", ps->conf.fingerprint);
    msg_map_str(&m, "office", ps->office);
    msg_map_str(&m, "state", state);
    if (ps->last_sync)
        record_time_format(tbuf, sizeof tbuf, (int64_t)ps->last_sync);
    msg_map_str(&m, "last_sync", ps->last_sync ? tbuf : NULL);
    if (!ps->s && ps->retry_active)
        record_time_format(rbuf, sizeof rbuf, (int64_t)ps->retry_at);
    msg_map_str(&m, "retry_at", rbuf[0] ? rbuf : NULL);
    msg_map_int(&m, "bytes_in", (int64_t)ps->bytes_in);
    msg_map_int(&m, "bytes_out", (int64_t)ps->bytes_out);
    msg_map_int(&m, "heads_behind", (int64_t)ps->behind);
    msg_map_int(&m, "pushes_in", (int64_t)ps->pushes_in);
    msg_map_int(&m, "pushes_out", (int64_t)ps->pushes_out);
    msg_map_int(&m, "wants_out", (int64_t)ps->wants_out);
    msg_map_str(&m, "last_error", ps->last_error);
    msg_map_close(&m);
}

void peers_snapshot(peers *p)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msg_arr a;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msg_arr_open(&a, &pk);
    for (peer_state *ps = p->peers; ps; ps = ps->next) {
        msg_arr_item(&a);
        pack_peer(&pk, ps);
    }
    msg_arr_close(&a);
    pthread_mutex_lock(&p->snap_lock);
    msgpack_sbuffer_destroy(&p->snap);
    p->snap = b;
    pthread_mutex_unlock(&p->snap_lock);
}

void peers_status(void *arg, msgpack_packer *pk)
{
    peers *p = arg;
    pthread_mutex_lock(&p->snap_lock);
    if (p->snap.size)
        msgpack_pack_str_body(pk, p->snap.data, p->snap.size); /* raw: already packed */
    else
        msgpack_pack_array(pk, 0);
    pthread_mutex_unlock(&p->snap_lock);
}

/* ---- replies ------------------------------------------------------------------ */

/* {"ok": true, "result": nil} or {"ok": false, "error": error}. */
static void reply_simple(reply r, const char *error)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msg_map m;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msg_map_open(&m, &pk);
    msg_map_bool(&m, "ok", error == NULL);
    if (error) {
        msg_map_str(&m, "error", error);
    } else {
        msg_map_key(&m, "result");
        msgpack_pack_nil(&pk);
    }
    msg_map_close(&m);
    reply_send(r, &b);
    msgpack_sbuffer_destroy(&b);
}

/* ---- sync: a round with every peer -------------------------------------------- */

static void sync_closed(uv_handle_t *h)
{
    sync_wait *w = h->data;
    peers *p = w->p;
    free(w);
    p->open--;
    peers_maybe_done(p);
}

/* The answer: each peer's outcome; resets the peers' part in w. */
static void sync_reply(sync_wait *w)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msg_map top, res, pm;
    msg_arr arr;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msg_map_open(&top, &pk);
    msg_map_bool(&top, "ok", 1);
    msg_map_key(&top, "result");
    msg_map_open(&res, &pk);
    msg_map_key(&res, "peers");
    msg_arr_open(&arr, &pk);
    for (peer_state *ps = w->p->peers; ps; ps = ps->next) {
        if (ps->waiter != w)
            continue;
        int ok = ps->sync_state == SYNC_OK;
        msg_arr_item(&arr);
        msg_map_open(&pm, &pk);
        msg_map_str(&pm, "name", ps->conf.name);
        msg_map_bool(&pm, "ok", ok);
        msg_map_str(&pm, "error",
                    ok                  ? ""
                    : ps->sync_error[0] ? ps->sync_error
                                        : "no answer in time");
        msg_map_close(&pm);
        ps->waiter = NULL;
        ps->sync_ack = 0;
        ps->sync_state = SYNC_NONE;
    }
    msg_arr_close(&arr);
    msg_map_close(&res);
    msg_map_close(&top);
    reply_send(w->r, &b);
    msgpack_sbuffer_destroy(&b);
}

void sync_finish(sync_wait *w)
{
    peers *p = w->p;
    if (w->closed)
        return;
    w->closed = 1;
    sync_reply(w);
    for (sync_wait **pp = &p->waits; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, sync_closed);
}

void sync_peer_done(peer_state *ps, const char *error)
{
    sync_wait *w = ps->waiter;
    if (!w || w->closed || ps->sync_state != SYNC_PENDING)
        return;
    ps->sync_state = error ? SYNC_FAILED : SYNC_OK;
    snprintf(ps->sync_error, sizeof ps->sync_error, "%s", error ? error : "");
    assert(w->pending > 0);
    if (w->pending)
        w->pending--;
    if (w->pending == 0)
        sync_finish(w);
}

static void on_sync_timeout(uv_timer_t *t)
{
    sync_wait *w = t->data;
    for (peer_state *ps = w->p->peers; ps; ps = ps->next)
        if (ps->waiter == w && ps->sync_state == SYNC_PENDING) {
            ps->sync_state = SYNC_FAILED;
            if (!ps->s || ps->s->state != S_LIVE)
                snprintf(ps->sync_error, sizeof ps->sync_error, "not reachable: %.120s",
                         ps->last_error[0] ? ps->last_error : "no connection");
            else
                snprintf(ps->sync_error, sizeof ps->sync_error, "no answer in time");
        }
    sync_finish(w);
}

/* Start this peer's round: HEADS with a req now, or dial (on_hello then
 * starts the round). */
static void sync_peer_start(peers *p, peer_state *ps)
{
    if (ps->s && ps->s->state == S_LIVE) {
        ps->sync_ack = peers_id_next(p);
        sync_send_heads(ps->s, ps->sync_ack, 0);
    } else if (!ps->s) {
        ps->backoff_ms = 0;
        uv_timer_stop(&ps->retry);
        ps->retry_active = 0;
        peer_connect(ps);
    }
}

static void start_sync(peers *p, reply r)
{
    sync_wait *w = calloc(1, sizeof *w);
    if (!w) {
        reply_simple(r, "out of memory");
        return;
    }
    w->r = r;
    w->p = p;
    w->next = p->waits;
    p->waits = w;
    uv_timer_init(p->loop, &w->timer);
    w->timer.data = w;
    p->open++;
    for (peer_state *ps = p->peers; ps; ps = ps->next) {
        if (ps->waiter)
            continue; /* already part of another sync: that one reports it */
        ps->waiter = w;
        ps->sync_state = SYNC_PENDING;
        ps->sync_error[0] = 0;
        w->pending++;
    }
    /* a second pass: starting a round may finish it at once (a failed send
     * closes the session), and the count must be complete by then */
    for (peer_state *ps = p->peers; ps && !w->closed; ps = ps->next)
        if (ps->waiter == w && ps->sync_state == SYNC_PENDING)
            sync_peer_start(p, ps);
    if (w->closed)
        return;
    if (w->pending == 0) {
        sync_finish(w);
        return;
    }
    uv_timer_start(&w->timer, on_sync_timeout, SYNC_WAIT_MS, 0);
}

/* ---- the requests ------------------------------------------------------------- */

static void req_peers(peers *p, reply r)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msg_map m;
    peers_snapshot(p);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msg_map_open(&m, &pk);
    msg_map_bool(&m, "ok", 1);
    msg_map_key(&m, "result");
    peers_status(p, &pk);
    msg_map_close(&m);
    reply_send(r, &b);
    msgpack_sbuffer_destroy(&b);
}

static void req_sync(peers *p, reply r)
{
    if (p->offline)
        reply_simple(r, "this node runs --offline; restart it without --offline to sync");
    else
        start_sync(p, r);
}

/* Pin: check, write the config (rolled back in memory if saving fails),
 * then start dialling. */
static uerr peer_add(peers *p, const char *name, const char *addr, const char *fpr, char *err,
                     size_t errlen)
{
    char norm[NAMES_FINGERPRINT_LEN + 1];
    /* a malformed one is left to config_peer_add, which says what is wrong */
    if (names_fingerprint_norm(norm, fpr) == UERR_OK) {
        if (strcmp(norm, tls_ctx_fingerprint(p->tls)) == 0)
            return uerr_set(err, errlen, UERR_INVALID, "that fingerprint is this node's own key");
        fpr = norm;
    }
    if (config_peer_add(p->cfg, name, addr, fpr, err, errlen) != 0)
        return UERR_INVALID;
    if (config_save(p->cfg, p->cfg_path, err, errlen) != 0) {
        char ignored[64];
        config_peer_remove(p->cfg, name, ignored, sizeof ignored);
        return UERR_IO;
    }
    peer_state *ps = peer_add_state(p, config_peer_find(p->cfg, name));
    log_msg(LOG_INFO, "peer %s pinned (%s)", name, addr);
    if (ps && !p->offline)
        peer_schedule(ps, 1);
    peers_snapshot(p);
    return UERR_OK;
}

static void req_peer_add(peers *p, const msgpack_object *req, reply r)
{
    char err[512];
    char *name = msg_get_str(req, "name"), *addr = msg_get_str(req, "address");
    char *fpr = msg_get_str(req, "fingerprint");
    if (!name || !addr || !fpr)
        reply_simple(r, "peer add: usage: peer add NAME HOST:PORT FINGERPRINT");
    else if (peer_add(p, name, addr, fpr, err, sizeof err) != UERR_OK)
        reply_simple(r, err);
    else
        reply_simple(r, NULL);
    free(name);
    free(addr);
    free(fpr);
}

static void req_peer_remove(peers *p, const msgpack_object *req, reply r)
{
    char err[512];
    char *name = msg_get_str(req, "name");
    peer_state *ps = name ? peer_by_name(p, name) : NULL;
    if (!name) {
        reply_simple(r, "peer remove: usage: peer remove NAME");
    } else if (config_peer_remove(p->cfg, name, err, sizeof err) != 0 ||
               config_save(p->cfg, p->cfg_path, err, sizeof err) != 0) {
        reply_simple(r, err);
    } else {
        if (ps)
            peer_drop(p, ps);
        log_msg(LOG_INFO, "peer %s removed", name);
        peers_snapshot(p);
        reply_simple(r, NULL);
    }
    free(name);
}

int peers_request(void *arg, const char *op, const msgpack_object *req, reply r)
{
    peers *p = arg;
    if (strcmp(op, "peers") == 0)
        req_peers(p, r);
    else if (strcmp(op, "sync") == 0)
        req_sync(p, r);
    else if (strcmp(op, "peer_add") == 0)
        req_peer_add(p, req, r);
    else if (strcmp(op, "peer_remove") == 0)
        req_peer_remove(p, req, r);
    else
        return 0;
    return 1;
}

/* ---- SIGHUP ------------------------------------------------------------------- */

static int peer_conf_same(const config_peer *a, const config_peer *b)
{
    return strcmp(a->address, b->address) == 0 && strcmp(a->fingerprint, b->fingerprint) == 0;
}

static void reload_restart_note(const peers *p, const config *n)
{
    if (strcmp(p->cfg->node, n->node) != 0 || strcmp(p->cfg->office, n->office) != 0 ||
        strcmp(p->cfg->listen, n->listen) != 0)
        log_msg(LOG_WARN, "config reload: node, office or listen changed; they take effect at "
                          "the next start");
}

/* The store's take-in limits change on the store queue, between jobs, so
 * no take-in sees them change under it. */
typedef struct {
    store *st;
    store_limits lim;
} limits_job;

static void limits_job_run(void *arg)
{
    limits_job *j = arg;
    store_limits_set(j->st, &j->lim);
}

static void limits_job_done(void *arg, int cancelled)
{
    (void)cancelled;
    free(arg);
}

static void reload_limits(peers *p, const config *n)
{
    limits_job *j = malloc(sizeof *j);
    if (j) {
        j->st = p->st;
        j->lim = (store_limits){n->max_pack_bytes, n->max_take_in_objects};
    }
    if (!j || !p->st || squeue_push(p->q, limits_job_run, limits_job_done, j) != UERR_OK) {
        free(j);
        log_msg(LOG_WARN, "config reload: the take-in limits of the store are kept (cannot queue "
                          "the change)");
    }
}

uerr peers_reload(peers *p, const config *newcfg, char *err, size_t errlen)
{
    size_t dropped = 0, added = 0;
    char ignored[256];
    reload_restart_note(p, newcfg);
    /* drop what is gone or changed (a changed one is added back below) */
    for (size_t i = p->cfg->npeers; i-- > 0;) {
        const config_peer *cur = &p->cfg->peers[i];
        const config_peer *want = config_peer_find(newcfg, cur->name);
        if (want && peer_conf_same(cur, want))
            continue;
        char name[CONFIG_NAME_MAX + 1];
        snprintf(name, sizeof name, "%s", cur->name);
        peer_state *ps = peer_by_name(p, name);
        if (ps)
            peer_drop(p, ps);
        config_peer_remove(p->cfg, name, ignored, sizeof ignored);
        log_msg(LOG_INFO, "config reload: peer %s %s", name, want ? "changed" : "removed");
        dropped++;
    }
    for (size_t i = 0; i < newcfg->npeers; i++) {
        const config_peer *want = &newcfg->peers[i];
        if (config_peer_find(p->cfg, want->name))
            continue;
        if (config_peer_add(p->cfg, want->name, want->address, want->fingerprint, err, errlen) !=
            UERR_OK) {
            log_msg(LOG_WARN, "config reload: peer %s not added: %s", want->name, err);
            continue;
        }
        peer_state *ps = peer_add_state(p, config_peer_find(p->cfg, want->name));
        if (!ps) {
            peers_snapshot(p);
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory adding peer %s", want->name);
        }
        if (!p->offline)
            peer_schedule(ps, 1);
        log_msg(LOG_INFO, "config reload: peer %s pinned (%s)", want->name, want->address);
        added++;
    }
    p->cfg->max_pack_bytes = newcfg->max_pack_bytes;
    p->cfg->max_take_in_objects = newcfg->max_take_in_objects;
    p->cfg->want_stall_seconds = newcfg->want_stall_seconds;
    p->cfg->new_branches_per_hour = newcfg->new_branches_per_hour;
    reload_limits(p, newcfg);
    peers_snapshot(p);
    log_msg(LOG_INFO, "config reloaded: %zu peer(s) added, %zu removed or changed, %zu pinned",
            added, dropped, p->cfg->npeers);
    return UERR_OK;
}

/* ---- after local writes ------------------------------------------------------- */

void peers_after_job(void *arg)
{
    peers *p = arg;
    char head[41], tree[41];
    /* Safe here: the store queue runs nothing while a done callback runs. */
    store_head(p->st, head, tree);
    if (!head[0] || strcmp(head, p->own_head) == 0)
        return;
    snprintf(p->own_head, sizeof p->own_head, "%s", head);
    for (size_t i = 0; i < p->nheads; i++)
        if (strcmp(p->heads[i].name, p->cfg->node) == 0) {
            snprintf(p->heads[i].oid, sizeof p->heads[i].oid, "%s", head);
            sync_announce(p);
            return;
        }
    store_ref *nh = realloc(p->heads, (p->nheads + 1) * sizeof *nh);
    if (!nh)
        return;
    p->heads = nh;
    snprintf(nh[p->nheads].name, sizeof nh[p->nheads].name, "%s", p->cfg->node);
    snprintf(nh[p->nheads].oid, sizeof nh[p->nheads].oid, "%s", head);
    p->nheads++;
    sync_announce(p);
}
