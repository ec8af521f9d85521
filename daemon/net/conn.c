/* conn.c - connections of the net room: the listener and accept, resolving
 * and dialling pinned peers, reconnecting with exponential backoff and
 * jitter, the list of peers, and start-up and shutdown of the whole room.
 *
 * Never reads or writes session data (session.c) and never decides about
 * messages (sync.c). Every handle opened here is closed before the peers
 * are freed: p->open counts them, peers_maybe_done frees at zero. */
#include "daemon/util/log.h"
#include "daemon/net/net_internal.h"
#include "daemon/util/clock.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void peers_maybe_done(peers *p)
{
    if (!p->closing || p->open != 0)
        return;
    assert(!p->sessions && !p->waits && !p->peers && !p->graveyard);
    void (*done)(void *) = p->done;
    void *arg = p->done_arg;
    free(p->heads);
    msgpack_sbuffer_destroy(&p->snap);
    pthread_mutex_destroy(&p->snap_lock);
    tls_ctx_free(p->tls);
    free(p);
    if (done)
        done(arg);
}

uint32_t peers_id_next(peers *p)
{
    if (++p->next_id == 0) /* 0 means "none" on the wire */
        ++p->next_id;
    return p->next_id;
}

/* ---- the peer list ------------------------------------------------------------- */

peer_state *peer_by_name(peers *p, const char *name)
{
    for (peer_state *ps = p->peers; ps; ps = ps->next)
        if (!ps->removed && strcmp(ps->conf.name, name) == 0)
            return ps;
    return NULL;
}

peer_state *peer_by_fpr(peers *p, const char *fpr)
{
    for (peer_state *ps = p->peers; ps; ps = ps->next)
        if (!ps->removed && strcmp(ps->conf.fingerprint, fpr) == 0)
            return ps;
    return NULL;
}

static void peer_retry_closed(uv_handle_t *h)
{
    peer_state *ps = (peer_state *)((char *)h - offsetof(peer_state, retry));
    peers *p = h->data;
    free(ps->conf.name);
    free(ps->conf.address);
    free(ps->conf.fingerprint);
    branch_window_free(ps);
    free(ps);
    p->open--;
    peers_maybe_done(p);
}

peer_state *peer_add_state(peers *p, const config_peer *cp)
{
    peer_state *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->conf.name = strdup(cp->name);
    ps->conf.address = strdup(cp->address);
    ps->conf.fingerprint = strdup(cp->fingerprint);
    if (!ps->conf.name || !ps->conf.address || !ps->conf.fingerprint) {
        free(ps->conf.name);
        free(ps->conf.address);
        free(ps->conf.fingerprint);
        free(ps);
        return NULL;
    }
    uv_timer_init(p->loop, &ps->retry);
    ps->retry.data = p;
    p->open++;
    ps->next = p->peers;
    p->peers = ps;
    return ps;
}

/* Forget a peer: its session closes; the state stays (in the graveyard)
 * until the peers close, since sessions and lookups may still point at it. */
void peer_drop(peers *p, peer_state *ps)
{
    ps->removed = 1;
    if (ps->s)
        session_close(ps->s, "peer removed");
    if (ps->sync_state == SYNC_PENDING)
        sync_peer_done(ps, "peer removed");
    for (peer_state **pp = &p->peers; *pp; pp = &(*pp)->next)
        if (*pp == ps) {
            *pp = ps->next;
            break;
        }
    uv_timer_stop(&ps->retry);
    ps->retry_active = 0;
    ps->next = p->graveyard;
    p->graveyard = ps;
}

/* ---- dialling ------------------------------------------------------------------ */

static void dial(peers *p, peer_state *ps, const struct sockaddr *addr)
{
    session *s = session_new(p, 1, ps);
    if (!s) {
        snprintf(ps->last_error, sizeof ps->last_error, "local error: out of memory");
        peer_schedule(ps, 0);
        return;
    }
    ps->s = s;
    session_dial(s, addr); /* on an error the session closed and rescheduled */
    peers_snapshot(p);
}

typedef struct {
    uv_getaddrinfo_t req;
    peer_state *ps;
    peers *p;
} resolve_req;

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res)
{
    resolve_req *rr = (resolve_req *)r;
    peer_state *ps = rr->ps;
    peers *p = rr->p;
    p->open--;
    if (!p->closing && !ps->removed && !ps->s) {
        if (status < 0 || !res) {
            snprintf(ps->last_error, sizeof ps->last_error, "cannot resolve %s: %s",
                     ps->conf.address, uv_strerror(status));
            peer_schedule(ps, 0);
        } else {
            dial(p, ps, res->ai_addr);
        }
    }
    uv_freeaddrinfo(res);
    free(rr);
    peers_maybe_done(p);
}

void peer_connect(peer_state *ps)
{
    peers *p = ps->retry.data;
    char host[256], portstr[16];
    int port;
    if (ps->s || p->closing || ps->removed)
        return;
    if (config_addr_parse(host, sizeof host, &port, ps->conf.address) != 0) {
        snprintf(ps->last_error, sizeof ps->last_error, "bad address %s", ps->conf.address);
        return;
    }
    resolve_req *rr = calloc(1, sizeof *rr);
    if (!rr) {
        peer_schedule(ps, 0);
        return;
    }
    rr->ps = ps;
    rr->p = p;
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    p->open++;
    if (uv_getaddrinfo(p->loop, &rr->req, on_resolved, host, portstr, &hints) != 0) {
        p->open--;
        free(rr);
        peer_schedule(ps, 0);
    }
}

static void on_retry(uv_timer_t *t)
{
    peer_state *ps = (peer_state *)((char *)t - offsetof(peer_state, retry));
    ps->retry_active = 0;
    peer_connect(ps);
}

/* Dial now, or after the next backoff step (exponential, with jitter). */
void peer_schedule(peer_state *ps, int immediately)
{
    unsigned delay = 0;
    if (!immediately) {
        ps->backoff_ms = ps->backoff_ms ? ps->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (ps->backoff_ms > BACKOFF_MAX_MS)
            ps->backoff_ms = BACKOFF_MAX_MS;
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != sizeof r)
            r = (uint32_t)clock_mono_ms();
        /* +-25% jitter so offices that restart together do not dial in step */
        delay = ps->backoff_ms * 3 / 4 + r % (ps->backoff_ms / 2 + 1);
    }
    ps->retry_at = (uint64_t)clock_now_ms() + delay;
    ps->retry_active = 1;
    uv_timer_start(&ps->retry, on_retry, delay, 0);
}

/* ---- listening ----------------------------------------------------------------- */

static void on_incoming(uv_stream_t *server, int status)
{
    peers *p = server->data;
    if (status < 0 || p->closing)
        return;
    session *s = session_new(p, 0, NULL);
    if (!s)
        return;
    session_accept(s, server); /* on an error the session closed */
}

/* Server side of the handshake: is this key pinned? */
static int pin_check(const char *fpr, void *arg)
{
    peers *p = arg;
    return peer_by_fpr(p, fpr) != NULL;
}

static void on_anti_entropy(uv_timer_t *t)
{
    peers *p = t->data;
    sync_broadcast_heads(p);
}

static void listener_closed(uv_handle_t *h)
{
    peers *p = h->data;
    p->open--;
    peers_maybe_done(p);
}

/* "[ip]:port" or "ip:port" of the bound listener, for `id` and the log. */
static void listen_addr_name(peers *p)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64];
    if (uv_tcp_getsockname(&p->listener, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
        snprintf(p->listen_addr, sizeof p->listen_addr, "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        snprintf(p->listen_addr, sizeof p->listen_addr, "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
}

static uerr peers_listen(peers *p, const char *addr, char *err, size_t errlen)
{
    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (config_addr_parse(host, sizeof host, &port, addr) != 0 ||
        (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
         uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0))
        return uerr_set(err, errlen, UERR_INVALID, "listen address %s: give a numeric IP and port",
                        addr);
    uv_tcp_init(p->loop, &p->listener);
    p->listener.data = p;
    p->open++;
    p->listening = 1;
    int e = uv_tcp_bind(&p->listener, (struct sockaddr *)&ss, 0);
    if (e == 0)
        e = uv_listen((uv_stream_t *)&p->listener, 64, on_incoming);
    if (e != 0)
        return uerr_set(err, errlen, UERR_IO, "cannot listen on %s: %s", addr, uv_strerror(e));
    listen_addr_name(p);
    return UERR_OK;
}

/* ---- start and stop ------------------------------------------------------------ */

uerr peers_new(peers **out, uv_loop_t *loop, squeue *q, store *st, store_record_cb changed,
               void *changed_arg, config *cfg, char *err, size_t errlen)
{
    peers *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    p->loop = loop;
    p->q = q;
    p->st = st;
    p->changed = changed;
    p->changed_arg = changed_arg;
    p->cfg = cfg;
    pthread_mutex_init(&p->snap_lock, NULL);
    msgpack_sbuffer_init(&p->snap);
    uv_timer_init(loop, &p->anti_entropy);
    p->anti_entropy.data = p;
    p->open++;
    *out = p;
    return UERR_OK;
}

/* Before the loop runs: reading the store here is not on the loop. */
static uerr peers_load(peers *p, const char *data_dir, char *err, size_t errlen)
{
    char key[4200], crt[4200];
    uerr rc;
    snprintf(key, sizeof key, "%s/node.key", data_dir);
    snprintf(crt, sizeof crt, "%s/node.crt", data_dir);
    if ((rc = tls_ctx_new(&p->tls, key, crt, pin_check, p, err, errlen)) != UERR_OK)
        return rc;
    if ((rc = spool_dir_prepare(p, data_dir, err, errlen)) != UERR_OK)
        return rc;
    if (store_heads(&p->heads, &p->nheads, p->st, err, errlen) != 0)
        return UERR_IO;
    for (size_t i = 0; i < p->nheads; i++)
        if (strcmp(p->heads[i].name, p->cfg->node) == 0)
            snprintf(p->own_head, sizeof p->own_head, "%s", p->heads[i].oid);
    return UERR_OK;
}

uerr peers_start(peers **out, uv_loop_t *loop, squeue *q, store *st, store_record_cb changed,
                 void *changed_arg, config *cfg, const char *cfg_path, const char *data_dir,
                 int offline, const char **listen_out, char *err, size_t errlen)
{
    peers *p;
    uerr rc;
    *out = NULL;
    if ((rc = peers_new(&p, loop, q, st, changed, changed_arg, cfg, err, errlen)) != UERR_OK)
        return rc;
    /* the store's take-in limits (peers' packs and bundles alike) are the
     * [sync] keys; set before the loop runs, so before any store job */
    if (st)
        store_limits_set(st, &(store_limits){cfg->max_pack_bytes, cfg->max_take_in_objects});
    snprintf(p->cfg_path, sizeof p->cfg_path, "%s", cfg_path);
    p->offline = offline;
    if (!offline && cfg->listen)
        snprintf(p->listen_addr, sizeof p->listen_addr, "%s", cfg->listen);
    if ((rc = peers_load(p, data_dir, err, errlen)) != UERR_OK)
        goto fail;
    if (!offline && cfg->listen && cfg->listen[0] &&
        (rc = peers_listen(p, cfg->listen, err, errlen)) != UERR_OK)
        goto fail;
    const char *ae = getenv("UNIOND_ANTI_ENTROPY_MS");
    unsigned ae_ms = ae ? (unsigned)atoi(ae) : 60000;
    if (ae_ms < 100)
        ae_ms = 60000;
    uv_timer_start(&p->anti_entropy, on_anti_entropy, ae_ms, ae_ms);
    for (size_t i = 0; i < cfg->npeers; i++) {
        peer_state *ps = peer_add_state(p, &cfg->peers[i]);
        if (ps && !offline)
            peer_schedule(ps, 1);
    }
    peers_snapshot(p);
    *listen_out = p->listen_addr;
    *out = p;
    log_msg(LOG_INFO, "peers: %s %s, %zu pinned", offline ? "offline," : "listening on",
            p->listen_addr[0] ? p->listen_addr : "-", cfg->npeers);
    return UERR_OK;
fail:
    /* the handles opened so far close now; p is freed when the loop runs */
    peers_close(p, NULL, NULL);
    return rc;
}

void peers_close(peers *p, void (*done)(void *), void *arg)
{
    assert(!p->closing);
    p->closing = 1;
    p->done = done;
    p->done_arg = arg;
    while (p->waits) {
        sync_wait *w = p->waits;
        for (peer_state *ps = p->peers; ps; ps = ps->next)
            if (ps->waiter == w && ps->sync_state == SYNC_PENDING) {
                ps->sync_state = SYNC_FAILED;
                snprintf(ps->sync_error, sizeof ps->sync_error, "node stopping");
            }
        sync_finish(w);
    }
    while (p->sessions)
        session_close(p->sessions, "node stopping");
    while (p->peers)
        peer_drop(p, p->peers);
    while (p->graveyard) {
        peer_state *ps = p->graveyard;
        p->graveyard = ps->next;
        uv_close((uv_handle_t *)&ps->retry, peer_retry_closed);
    }
    if (p->listening)
        uv_close((uv_handle_t *)&p->listener, listener_closed);
    uv_timer_stop(&p->anti_entropy);
    uv_close((uv_handle_t *)&p->anti_entropy, listener_closed);
    peers_maybe_done(p);
}
