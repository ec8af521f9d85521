/* peer.c - peer sessions and the sync protocol (see peer.h and the
 * normative docs/PROTOCOL.md).
 *
 * Per session: TCP -> TLS (memory BIOs, daemon/tls.c) -> frames -> msgpack
 * messages -> a small state machine with a deadline per state. Store work
 * (what do we lack, build a pack, take one in) goes to the store queue;
 * its results come back on the loop thread. A session has at most one
 * "take in heads" operation running; newer announcements wait (only the
 * latest is kept: heads only move forward). Sessions are freed only when
 * their handles have closed and no store job refers to them. */
#include "daemon/peer.h"

#include "daemon/util/log.h"
#include "daemon/store/store.h"
#include "daemon/tls.h"
#include "daemon/util/clock.h"
#include "proto/frame.h"
#include "proto/msg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PROTO_VERSION 1
#define PEER_FRAME_MAX (1u << 20)  /* one message */
#define PACK_CHUNK (256u << 10)    /* pack bytes per PACK message */
#define PACK_MAX (1024ull << 20)   /* one incoming pack */
#define HEADS_MAX 10000            /* branches in one announcement */
#define SEND_HIGH_WATER (1u << 20) /* stop queueing pack chunks above this */
#define HANDSHAKE_MS 10000         /* TCP connect + TLS + HELLO */
#define PING_MS 10000              /* keepalive when idle */
#define IDLE_MS 45000              /* nothing heard for this long: close */
#define WANT_MS 120000             /* a WANT must be answered in full by then */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define SYNC_WAIT_MS 20000 /* unionctl sync gives up after this */

typedef enum { S_CONNECTING, S_TLS, S_HELLO, S_LIVE, S_CLOSING } sstate;
static const char *const state_names[] = {"connecting", "handshake", "hello", "connected",
                                          "closing"};

typedef struct session session;
typedef struct peer_state peer_state;

/* A sync request from unionctl, waiting for rounds with every peer. */
typedef struct sync_wait {
    reply r; /* the asker (daemon/reply.h) */
    uint32_t id;
    size_t pending; /* peers whose round has not finished */
    uv_timer_t timer;
    peers *p;
    struct sync_wait *next;
    int closed;
} sync_wait;

struct peer_state {
    config_peer conf; /* copies of name, address, fingerprint */
    session *s;       /* the session we keep (live or on its way) */
    uv_timer_t retry;
    int retry_active;
    unsigned backoff_ms;
    uint64_t retry_at;
    uint64_t last_sync; /* ms, last completed take-in from this peer */
    uint64_t bytes_in, bytes_out;
    char office[64];
    char last_error[160];
    size_t behind;     /* heads announced that we lacked, last time */
    uint32_t sync_ack; /* waiting for DONE with this id (0: none) */
    sync_wait *waiter; /* the unionctl sync this peer is part of */
    int sync_state;    /* 0 none, 1 pending, 2 done, 3 failed */
    char sync_error[160];
    int removed;
    peer_state *next;
};

struct session {
    peers *p;
    peer_state *ps; /* set once the peer is known */
    uv_tcp_t tcp;
    uv_timer_t timer;
    tls_conn *tls;
    int outbound;
    sstate state;
    int handles; /* open handles (tcp, timer) */
    int refs;    /* handles + store jobs */
    uint64_t started, last_rx, last_tx;
    char *in; /* plaintext not yet framed */
    size_t inlen, incap;
    /* incoming: the take-in of one announcement */
    int busy;
    store_ref *want_refs; /* the announcement being taken in */
    size_t nwant_refs;
    uint32_t want_id, ack_req;
    int ack_pending;
    uint64_t want_deadline;
    char *pack;
    size_t packlen, packcap;
    store_ref *next_refs; /* a newer announcement waiting */
    size_t nnext_refs;
    int has_next;
    uint32_t next_req;
    int round, next_round; /* the take-in that ends a sync round */
    /* outgoing pack */
    int building; /* a WANT's pack is being built on the store queue */
    char *out;
    size_t outlen, outoff;
    uint32_t out_id;
    session *next;
};

struct peers {
    uv_loop_t *loop;
    squeue *q;
    store *st;                /* borrowed: used on the store queue only */
    store_record_cb index_cb; /* the control room's index update (main wires it) */
    void *index_arg;
    config *cfg;
    char cfg_path[4096];
    tls_ctx *tls;
    uv_tcp_t listener;
    int listening;
    char listen_addr[300];
    uv_timer_t anti_entropy;
    peer_state *peers;
    peer_state *graveyard; /* removed peers, freed at close (jobs may point at them) */
    session *sessions;
    store_ref *heads; /* our last known branches */
    size_t nheads;
    char own_head[41];
    sync_wait *waits;
    uint32_t next_id;
    int closing;
    int offline; /* started with --offline: no listener, no dialling */
    int open;    /* handles + sessions + waits not yet freed */
    void (*done)(void *);
    void *done_arg;
    pthread_mutex_t snap_lock;
    msgpack_sbuffer snap; /* peers_status_pack snapshot */
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void session_close(session *s, const char *why);
static void session_send_heads(session *s, uint32_t req, uint32_t ack);
static void take_start(session *s, store_ref *refs, size_t n, uint32_t req, int round);
static void peer_schedule(peer_state *ps, int immediately);
static void peers_snapshot(peers *p);
static void sync_peer_done(peer_state *ps, const char *error);

static void peers_maybe_done(peers *p)
{
    if (p->closing && p->open == 0) {
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
}

/* ---- output ------------------------------------------------------------- */

typedef struct {
    uv_write_t req;
    session *s;
    char *buf;
} wreq;

static void session_unref(session *s)
{
    if (--s->refs > 0)
        return;
    peers *p = s->p;
    tls_conn_free(s->tls);
    free(s->in);
    free(s->pack);
    free(s->out);
    free(s->want_refs);
    free(s->next_refs);
    free(s);
    p->open--;
    peers_maybe_done(p);
}

static void pack_pump(session *s);

static void on_written(uv_write_t *w, int status)
{
    wreq *r = (wreq *)w;
    session *s = r->s;
    free(r->buf);
    free(r);
    if (status < 0 && s->state != S_CLOSING)
        session_close(s, "write failed");
    else if (s->out && s->state == S_LIVE)
        pack_pump(s); /* the socket drained: queue the next chunks */
    session_unref(s);
}

/* Send whatever ciphertext TLS has produced. */
static void session_flush(session *s)
{
    char *out = NULL;
    size_t n;
    while ((n = tls_conn_take_output(s->tls, &out)) > 0) {
        if (uv_is_closing((uv_handle_t *)&s->tcp)) {
            free(out);
            continue;
        }
        wreq *r = malloc(sizeof *r);
        if (!r) {
            free(out);
            return;
        }
        r->s = s;
        r->buf = out;
        uv_buf_t b = uv_buf_init(out, (unsigned)n);
        s->refs++;
        if (s->ps)
            s->ps->bytes_out += n;
        if (uv_write(&r->req, (uv_stream_t *)&s->tcp, &b, 1, on_written) != 0) {
            free(out);
            free(r);
            s->refs--;
            return;
        }
    }
}

/* Encrypt and send one message (a finished msgpack map). */
static int session_send(session *s, const msgpack_sbuffer *msg)
{
    uint8_t hdr[FRAME_HEADER_LEN];
    if (s->state == S_CLOSING || msg->size > PEER_FRAME_MAX)
        return -1;
    frame_header_put(hdr, (uint32_t)msg->size);
    if (tls_conn_write(s->tls, hdr, sizeof hdr) != 0 ||
        tls_conn_write(s->tls, msg->data, msg->size) != 0) {
        session_close(s, "TLS write failed");
        return -1;
    }
    s->last_tx = now_ms();
    session_flush(s);
    return 0;
}

/* One outgoing message being built: a map whose first pair is "t". */
typedef struct {
    msgpack_sbuffer b;
    msgpack_packer pk;
} outmsg;

static void outmsg_begin(outmsg *m, const char *type, size_t more_pairs)
{
    msgpack_sbuffer_init(&m->b);
    msgpack_packer_init(&m->pk, &m->b, msgpack_sbuffer_write);
    msgpack_pack_map(&m->pk, 1 + more_pairs);
    msg_pack_kv_str(&m->pk, "t", type);
}

/* Send and free the message; returns session_send's result. */
static int outmsg_send(session *s, outmsg *m)
{
    int rc = session_send(s, &m->b);
    msgpack_sbuffer_destroy(&m->b);
    return rc;
}

static void pack_heads(msgpack_packer *pk, const store_ref *h, size_t n)
{
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++)
        msg_pack_kv_str(pk, h[i].name, h[i].oid);
}

static void send_error(session *s, const char *msg)
{
    outmsg m;
    outmsg_begin(&m, "error", 1);
    msg_pack_kv_str(&m.pk, "msg", msg);
    outmsg_send(s, &m);
}

static void send_simple(session *s, const char *type)
{
    outmsg m;
    outmsg_begin(&m, type, 0);
    outmsg_send(s, &m);
}

static void send_hello(session *s)
{
    peers *p = s->p;
    outmsg m;
    outmsg_begin(&m, "hello", 4);
    msg_pack_kv_int(&m.pk, "v", PROTO_VERSION);
    msg_pack_kv_str(&m.pk, "node", p->cfg->node);
    msg_pack_kv_str(&m.pk, "office", p->cfg->office);
    msg_pack_str(&m.pk, "heads");
    pack_heads(&m.pk, p->heads, p->nheads);
    outmsg_send(s, &m);
}

/* HEADS: our branches; req asks for a DONE once taken in; ack answers one. */
static void session_send_heads(session *s, uint32_t req, uint32_t ack)
{
    peers *p = s->p;
    outmsg m;
    outmsg_begin(&m, ack ? "done" : "heads", 1 + (req != 0) + (ack != 0));
    if (req)
        msg_pack_kv_int(&m.pk, "req", req);
    if (ack)
        msg_pack_kv_int(&m.pk, "ack", ack);
    msg_pack_str(&m.pk, "heads");
    pack_heads(&m.pk, p->heads, p->nheads);
    outmsg_send(s, &m);
}

static void broadcast_heads(peers *p)
{
    for (session *s = p->sessions; s; s = s->next)
        if (s->state == S_LIVE)
            session_send_heads(s, 0, 0);
}

/* Replace the cached branch list; tell peers if anything moved. */
static void heads_update(peers *p, store_ref *h, size_t n)
{
    int changed = n != p->nheads;
    for (size_t i = 0; !changed && i < n; i++)
        changed = strcmp(h[i].name, p->heads[i].name) || strcmp(h[i].oid, p->heads[i].oid);
    free(p->heads);
    p->heads = h;
    p->nheads = n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].name, p->cfg->node) == 0)
            snprintf(p->own_head, sizeof p->own_head, "%s", h[i].oid);
    if (changed)
        broadcast_heads(p);
}

/* ---- outgoing packs ------------------------------------------------------ */

/* Queue pack chunks while the socket keeps up (backpressure). */
static void pack_pump(session *s)
{
    while (s->out && s->state == S_LIVE &&
           uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) < SEND_HIGH_WATER) {
        size_t n = s->outlen - s->outoff;
        if (n > PACK_CHUNK)
            n = PACK_CHUNK;
        int last = s->outoff + n == s->outlen;
        outmsg m;
        outmsg_begin(&m, "pack", 3);
        msg_pack_kv_int(&m.pk, "id", s->out_id);
        msg_pack_str(&m.pk, "data");
        msgpack_pack_bin(&m.pk, n);
        msgpack_pack_bin_body(&m.pk, s->out + s->outoff, n);
        msg_pack_kv_bool(&m.pk, "last", last);
        int rc = outmsg_send(s, &m);
        if (rc != 0)
            return;
        s->outoff += n;
        if (last) {
            free(s->out);
            s->out = NULL;
        }
    }
}

typedef struct {
    session *s;
    uint32_t id;
    char **want, **have;
    size_t nwant, nhave;
    char *pack;
    size_t len;
    int rc;
    uint64_t ms; /* time spent building */
    char err[256];
} build_job;

static void build_run(void *arg)
{
    build_job *j = arg;
    uint64_t t0 = uv_hrtime();
    j->rc =
        store_pack_build(&j->pack, &j->len, j->s->p->st, (const char *const *)j->want,
                         j->nwant, (const char *const *)j->have, j->nhave, j->err, sizeof j->err);
    j->ms = (uv_hrtime() - t0) / 1000000;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void build_done(void *arg, int cancelled)
{
    build_job *j = arg;
    session *s = j->s;
    s->building = 0;
    if (!cancelled && s->state == S_LIVE) {
        if (j->rc != 0) {
            log_msg(LOG_WARN, "peer %s: cannot answer a want: %s", s->ps->conf.name, j->err);
            send_error(s, j->err);
            session_close(s, "bad want");
        } else {
            free(s->out);
            s->out = j->pack;
            s->outlen = j->len;
            s->outoff = 0;
            s->out_id = j->id;
            j->pack = NULL;
            log_msg(LOG_DEBUG, "peer %s: sending a pack of %zu bytes (built in %llu ms)",
                    s->ps->conf.name, j->len, (unsigned long long)j->ms);
            pack_pump(s);
        }
    }
    free(j->pack);
    strv_free(j->want, j->nwant);
    strv_free(j->have, j->nhave);
    free(j);
    session_unref(s);
}

static char **strv_from(const msgpack_object_array *a, size_t *n, int *bad)
{
    *n = 0;
    if (!a)
        return NULL;
    if (a->size > HEADS_MAX) {
        *bad = 1;
        return NULL;
    }
    char **v = calloc(a->size + 1, sizeof *v);
    for (uint32_t i = 0; v && i < a->size; i++) {
        char *x = msg_str_dup(&a->ptr[i]);
        if (!x || strlen(x) != 40) {
            free(x);
            *bad = 1;
            break;
        }
        v[(*n)++] = x;
    }
    return v;
}

static void on_want(session *s, const msgpack_object *m)
{
    if (s->out || s->building) {
        send_error(s, "a WANT while a PACK is still being sent");
        session_close(s, "protocol error");
        return;
    }
    build_job *j = calloc(1, sizeof *j);
    int bad = 0;
    if (!j)
        return;
    j->s = s;
    j->id = (uint32_t)msg_get_int(m, "id", 0);
    j->want = strv_from(msg_get_array(m, "want"), &j->nwant, &bad);
    j->have = strv_from(msg_get_array(m, "have"), &j->nhave, &bad);
    if (bad || j->nwant == 0 || j->id == 0) {
        strv_free(j->want, j->nwant);
        strv_free(j->have, j->nhave);
        free(j);
        send_error(s, "malformed WANT");
        session_close(s, "protocol error");
        return;
    }
    s->refs++;
    s->building = 1;
    if (squeue_push(s->p->q, build_run, build_done, j) != 0) {
        s->refs--;
        s->building = 0;
        strv_free(j->want, j->nwant);
        strv_free(j->have, j->nhave);
        free(j);
    }
}

/* ---- taking in announced heads ------------------------------------------- */

typedef struct {
    session *s;
    store_ref *refs; /* announced */
    size_t nrefs;
    int plan;   /* find what we lack first; take in directly if nothing */
    char *pack; /* the pack that answered our WANT (plan == 0) */
    size_t packlen;
    int planned_only; /* result: we lack objects, want these */
    char **missing;
    size_t nmissing;
    store_ref *heads; /* result: our branches after */
    size_t nheads;
    store_bundle_report rep;
    int rc;
    uint64_t ms; /* time spent taking in */
    char err[256];
} take_job;

static void take_run(void *arg)
{
    take_job *j = arg;
    peers *o = j->s->p;
    const char *own = j->s->p->cfg->node;
    j->ms = uv_hrtime();
    if (j->plan) {
        j->missing = calloc(j->nrefs + 1, sizeof *j->missing);
        for (size_t i = 0; j->missing && i < j->nrefs; i++)
            if (strcmp(j->refs[i].name, own) != 0 && !store_has_object(o->st, j->refs[i].oid))
                j->missing[j->nmissing++] = strdup(j->refs[i].oid);
        if (j->nmissing) {
            j->planned_only = 1;
            store_heads(&j->heads, &j->nheads, o->st, j->err, sizeof j->err);
            return;
        }
    }
    j->rc = store_sync_apply(o->st, j->pack, j->packlen, j->refs, j->nrefs, o->index_cb,
                             o->index_arg, &j->rep, j->err, sizeof j->err);
    store_heads(&j->heads, &j->nheads, o->st, j->err[0] ? j->err + strlen(j->err) : j->err,
                j->err[0] ? 1 : sizeof j->err);
    j->ms = (uv_hrtime() - j->ms) / 1000000;
}

static void take_finish(session *s);

static void take_done(void *arg, int cancelled)
{
    take_job *j = arg;
    session *s = j->s;
    peers *p = s->p;
    if (!cancelled && j->heads) {
        if (j->planned_only) {
            /* keep the cache but do not gossip: nothing moved */
            free(j->heads);
            j->heads = NULL;
        } else {
            heads_update(p, j->heads, j->nheads);
            j->heads = NULL;
        }
    }
    if (cancelled || s->state == S_CLOSING) {
        s->busy = 0;
        goto out;
    }
    if (j->planned_only) {
        /* ask for what we lack; our heads are the haves */
        s->want_id = ++p->next_id ? p->next_id : ++p->next_id;
        s->packlen = 0;
        s->want_deadline = now_ms() + WANT_MS;
        s->ps->behind = j->nmissing;
        outmsg m;
        outmsg_begin(&m, "want", 3);
        msg_pack_kv_int(&m.pk, "id", s->want_id);
        msg_pack_str(&m.pk, "want");
        msgpack_pack_array(&m.pk, j->nmissing);
        for (size_t i = 0; i < j->nmissing; i++)
            msg_pack_str(&m.pk, j->missing[i]);
        msg_pack_str(&m.pk, "have");
        msgpack_pack_array(&m.pk, p->nheads);
        for (size_t i = 0; i < p->nheads; i++)
            msg_pack_str(&m.pk, p->heads[i].oid);
        outmsg_send(s, &m);
        /* s->want_refs keeps the announcement until the pack is in */
        goto out;
    }
    if (j->rc != 0) {
        log_msg(LOG_WARN, "peer %s: refused what it sent: %s", s->ps->conf.name, j->err);
        snprintf(s->ps->last_error, sizeof s->ps->last_error, "refused its data: %.120s", j->err);
        send_error(s, "your data was refused; see the receiver's log");
        session_close(s, "refused data");
        s->busy = 0;
        goto out;
    }
    s->ps->last_sync = (uint64_t)clock_now_ms();
    s->ps->behind = 0;
    if (j->rep.updated)
        log_msg(LOG_INFO,
                "peer %s: took in %zu branch(es), %zu commit(s): %zu merged, %zu forwarded "
                "(%zu pack bytes, %llu ms)",
                s->ps->conf.name, j->rep.updated, j->rep.commits, j->rep.merged, j->rep.forwarded,
                j->packlen, (unsigned long long)j->ms);
    take_finish(s);
out:
    free(j->pack);
    free(j->refs);
    strv_free(j->missing, j->nmissing);
    free(j->heads);
    free(j);
    peers_snapshot(p);
    session_unref(s);
}

/* One take-in finished: answer a pending request, finish a sync round,
 * start the next announcement if one came meanwhile. */
static void take_finish(session *s)
{
    peer_state *ps = s->ps;
    s->busy = 0;
    free(s->want_refs);
    s->want_refs = NULL;
    s->nwant_refs = 0;
    if (s->ack_pending) {
        s->ack_pending = 0;
        session_send_heads(s, 0, s->ack_req);
    }
    if (s->round) { /* the round's last step: their DONE taken in */
        s->round = 0;
        sync_peer_done(ps, NULL);
    }
    if (s->has_next) {
        s->has_next = 0;
        store_ref *r = s->next_refs;
        size_t n = s->nnext_refs;
        s->next_refs = NULL;
        s->nnext_refs = 0;
        int round = s->next_round;
        uint32_t req = s->next_req;
        s->next_round = 0;
        s->next_req = 0;
        take_start(s, r, n, req, round);
    }
}

static void take_push(session *s, store_ref *refs, size_t n, char *pack, size_t packlen, int plan)
{
    take_job *j = calloc(1, sizeof *j);
    if (!j) {
        free(refs);
        free(pack);
        session_close(s, "out of memory");
        return;
    }
    j->s = s;
    j->refs = refs;
    j->nrefs = n;
    j->pack = pack;
    j->packlen = packlen;
    j->plan = plan;
    s->refs++;
    if (squeue_push(s->p->q, take_run, take_done, j) != 0) {
        s->refs--;
        free(refs);
        free(pack);
        free(j);
        s->busy = 0;
    }
}

/* Take in an announcement (refs owned by us now). */
static void take_start(session *s, store_ref *refs, size_t n, uint32_t req, int round)
{
    if (s->busy) {
        /* only the newest announcement matters: heads only move forward */
        free(s->next_refs);
        s->next_refs = refs;
        s->nnext_refs = n;
        s->has_next = 1;
        if (req)
            s->next_req = req;
        s->next_round |= round;
        return;
    }
    s->busy = 1;
    s->round = round;
    if (req) {
        s->ack_pending = 1;
        s->ack_req = req;
    }
    /* keep a copy: the plan job may send a WANT, the pack then needs it */
    free(s->want_refs);
    s->want_refs = malloc((n + 1) * sizeof *refs);
    if (s->want_refs)
        memcpy(s->want_refs, refs, n * sizeof *refs);
    s->nwant_refs = s->want_refs ? n : 0;
    take_push(s, refs, n, NULL, 0, 1);
}

static int heads_read(store_ref **out, size_t *n, const msgpack_object *m)
{
    const msgpack_object *h = msg_get(m, "heads");
    *out = NULL;
    *n = 0;
    if (!h || h->type != MSGPACK_OBJECT_MAP || h->via.map.size > HEADS_MAX)
        return -1;
    store_ref *v = calloc(h->via.map.size + 1, sizeof *v);
    if (!v)
        return -1;
    for (uint32_t i = 0; i < h->via.map.size; i++) {
        char *name = msg_str_dup(&h->via.map.ptr[i].key);
        char *oid = msg_str_dup(&h->via.map.ptr[i].val);
        int ok = name && oid && strlen(oid) == 40 && strspn(oid, "0123456789abcdef") == 40 &&
                 record_node_valid(name);
        if (ok) {
            snprintf(v[*n].name, sizeof v[*n].name, "%s", name);
            snprintf(v[*n].oid, sizeof v[*n].oid, "%s", oid);
            (*n)++;
        }
        free(name);
        free(oid);
        if (!ok) {
            free(v);
            *n = 0;
            return -1;
        }
    }
    *out = v;
    return 0;
}

static void on_pack(session *s, const msgpack_object *m)
{
    const msgpack_object *d = msg_get(m, "data");
    uint32_t id = (uint32_t)msg_get_int(m, "id", 0);
    if (!s->busy || !s->want_id || id != s->want_id || !d || d->type != MSGPACK_OBJECT_BIN) {
        send_error(s, "PACK that answers no WANT");
        session_close(s, "protocol error");
        return;
    }
    size_t n = d->via.bin.size;
    int last = msg_get_bool(m, "last", 0);
    if ((n == 0 && !last) || (last && s->packlen + n < 32)) {
        /* a pack is at least a 12-byte header and a 20-byte checksum */
        send_error(s, "empty PACK chunk or a pack too short to be one");
        session_close(s, "protocol error: empty pack");
        return;
    }
    if (s->packlen + n > PACK_MAX) {
        send_error(s, "pack larger than 1 GiB");
        session_close(s, "pack too large");
        return;
    }
    if (s->packlen + n > s->packcap) {
        size_t nc = s->packcap ? s->packcap : 1u << 20;
        while (nc < s->packlen + n)
            nc *= 2;
        char *np = realloc(s->pack, nc);
        if (!np) {
            session_close(s, "out of memory");
            return;
        }
        s->pack = np;
        s->packcap = nc;
    }
    if (n)
        memcpy(s->pack + s->packlen, d->via.bin.ptr, n);
    s->packlen += n;
    if (last) {
        char *pack = s->pack;
        size_t len = s->packlen;
        s->pack = NULL;
        s->packlen = s->packcap = 0;
        s->want_id = 0;
        store_ref *refs = s->want_refs;
        size_t nrefs = s->nwant_refs;
        s->want_refs = malloc((nrefs + 1) * sizeof *refs);
        if (s->want_refs)
            memcpy(s->want_refs, refs, nrefs * sizeof *refs);
        s->nwant_refs = s->want_refs ? nrefs : 0;
        take_push(s, refs, nrefs, pack, len, 0);
    }
}

/* ---- sessions ------------------------------------------------------------- */

static peer_state *peer_by_name(peers *p, const char *name)
{
    for (peer_state *ps = p->peers; ps; ps = ps->next)
        if (!ps->removed && strcmp(ps->conf.name, name) == 0)
            return ps;
    return NULL;
}

static peer_state *peer_by_fpr(peers *p, const char *fpr)
{
    for (peer_state *ps = p->peers; ps; ps = ps->next)
        if (!ps->removed && strcmp(ps->conf.fingerprint, fpr) == 0)
            return ps;
    return NULL;
}

static void on_hello(session *s, const msgpack_object *m)
{
    peers *p = s->p;
    char *node = msg_get_str(m, "node"), *office = msg_get_str(m, "office");
    int64_t v = msg_get_int(m, "v", 0);
    store_ref *refs = NULL;
    size_t n = 0;
    if (v != PROTO_VERSION) {
        send_error(s, "unsupported protocol version (this node speaks 1)");
        session_close(s, "protocol version mismatch");
        goto out;
    }
    if (!node || !s->ps || strcmp(node, s->ps->conf.name) != 0) {
        /* The key is pinned for a name; a node must not claim another. */
        log_msg(LOG_WARN, "peer with the key pinned for %s claims to be %.64s: refused",
                s->ps ? s->ps->conf.name : "?", node ? node : "(none)");
        send_error(s, "your node name does not match the name pinned for your key");
        session_close(s, "node name does not match its pinned key");
        goto out;
    }
    if (heads_read(&refs, &n, m) != 0) {
        send_error(s, "malformed HELLO heads");
        session_close(s, "protocol error");
        goto out;
    }
    peer_state *ps = s->ps;
    /* Two nodes that dialled each other at once keep the connection dialled
     * by the node whose name sorts first; both sides decide alike. */
    if (ps->s && ps->s != s && ps->s->state == S_LIVE) {
        int mine_wins = strcmp(p->cfg->node, ps->conf.name) < 0;
        int keep_new = s->outbound == mine_wins;
        if (!keep_new) {
            session_close(s, "duplicate connection");
            free(refs);
            goto out;
        }
        session *old = ps->s;
        ps->s = s;
        session_close(old, "duplicate connection");
    }
    ps->s = s;
    snprintf(ps->office, sizeof ps->office, "%s", office ? office : "");
    s->state = S_LIVE;
    ps->backoff_ms = 0;
    ps->last_error[0] = 0;
    log_msg(LOG_INFO, "peer %s (%s): connected (%s, %s)", ps->conf.name, ps->office,
            s->outbound ? "outbound" : "inbound", tls_conn_version(s->tls));
    take_start(s, refs, n, 0, 0);
    if (ps->waiter && ps->sync_state == 1 && !ps->sync_ack) {
        /* a sync was waiting for this peer to come up */
        ps->sync_ack = ++p->next_id;
        session_send_heads(s, ps->sync_ack, 0);
    }
    peers_snapshot(p);
out:
    free(node);
    free(office);
}

static void on_message(session *s, const char *buf, size_t len)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    (void)off;
    if (msg_unpack(&u, buf, len) != 0 || u.data.type != MSGPACK_OBJECT_MAP) {
        send_error(s, "a frame that is not one msgpack map");
        session_close(s, "protocol error");
        goto out;
    }
    char *t = msg_get_str(&u.data, "t");
    if (!t) {
        session_close(s, "protocol error: message without t");
    } else if (s->state == S_HELLO) {
        if (strcmp(t, "hello") == 0)
            on_hello(s, &u.data);
        else if (strcmp(t, "error") == 0)
            session_close(s, "refused by the peer");
        else
            session_close(s, "protocol error: expected hello");
    } else if (strcmp(t, "heads") == 0 || strcmp(t, "done") == 0) {
        store_ref *refs;
        size_t n;
        if (heads_read(&refs, &n, &u.data) != 0) {
            send_error(s, "malformed heads");
            session_close(s, "protocol error");
        } else {
            uint32_t req = (uint32_t)msg_get_int(&u.data, "req", 0);
            uint32_t ack = (uint32_t)msg_get_int(&u.data, "ack", 0);
            int round = strcmp(t, "done") == 0 && ack && ack == s->ps->sync_ack;
            if (round)
                s->ps->sync_ack = 0; /* the round ends once these heads are taken in */
            take_start(s, refs, n, req, round);
        }
    } else if (strcmp(t, "want") == 0) {
        on_want(s, &u.data);
    } else if (strcmp(t, "pack") == 0) {
        on_pack(s, &u.data);
    } else if (strcmp(t, "ping") == 0) {
        send_simple(s, "pong");
    } else if (strcmp(t, "pong") == 0) {
        /* last_rx already updated */
    } else if (strcmp(t, "error") == 0) {
        char *msg = msg_get_str(&u.data, "msg");
        log_msg(LOG_WARN, "peer %s says: %.200s", s->ps->conf.name, msg ? msg : "?");
        free(msg);
        session_close(s, "closed by the peer after an error");
    } else {
        send_error(s, "unknown message type");
        session_close(s, "protocol error: unknown message");
    }
    free(t);
out:
    msgpack_unpacked_destroy(&u);
}

/* Decrypted bytes -> frames -> messages. */
static void session_drain(session *s)
{
    for (;;) {
        if (s->incap - s->inlen < 65536) {
            size_t nc = s->incap ? s->incap * 2 : 131072;
            char *nb = realloc(s->in, nc);
            if (!nb) {
                session_close(s, "out of memory");
                return;
            }
            s->in = nb;
            s->incap = nc;
        }
        long n = tls_conn_read(s->tls, s->in + s->inlen, s->incap - s->inlen);
        if (n == -2) {
            session_close(s, "closed by the peer");
            return;
        }
        if (n < 0) {
            session_close(s, tls_conn_error(s->tls));
            return;
        }
        if (n == 0)
            break;
        s->inlen += (size_t)n;
        const uint8_t *payload;
        size_t plen, consumed, off = 0;
        frame_status st = FRAME_NEED_MORE;
        while (s->state != S_CLOSING &&
               (st = frame_parse(&payload, &plen, &consumed, NULL, (uint8_t *)s->in + off,
                                 s->inlen - off, PEER_FRAME_MAX)) == FRAME_READY) {
            on_message(s, (const char *)payload, plen);
            off += consumed;
        }
        if (s->state == S_CLOSING)
            return;
        if (st == FRAME_TOO_BIG || st == FRAME_EMPTY) {
            send_error(s, "frame too large or empty");
            session_close(s, "protocol error: bad frame");
            return;
        }
        memmove(s->in, s->in + off, s->inlen - off);
        s->inlen -= off;
    }
    session_flush(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(65536);
    buf->len = buf->base ? 65536 : 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    session *s = st->data;
    if (nread < 0) {
        free(buf->base);
        session_close(s, nread == UV_EOF ? "connection closed" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || s->state == S_CLOSING) {
        free(buf->base);
        return;
    }
    s->last_rx = now_ms();
    if (s->ps)
        s->ps->bytes_in += (uint64_t)nread;
    int e = tls_conn_feed(s->tls, buf->base, (size_t)nread);
    free(buf->base);
    if (e != 0) {
        session_flush(s); /* the alert, if any */
        session_close(s, tls_conn_error(s->tls));
        return;
    }
    if (s->state == S_TLS) {
        int h = tls_conn_handshake(s->tls);
        session_flush(s);
        if (h < 0) {
            session_close(s, tls_conn_error(s->tls));
            return;
        }
        if (h == 0)
            return;
        const char *fpr = tls_conn_peer_fingerprint(s->tls);
        if (!s->ps) {
            s->ps = peer_by_fpr(s->p, fpr);
            if (!s->ps) { /* the pin callback let it through; it was just removed */
                session_close(s, "peer no longer pinned");
                return;
            }
        }
        s->state = S_HELLO;
        send_hello(s);
    }
    session_drain(s);
    if (s->state == S_LIVE && s->out)
        pack_pump(s);
}

static void handle_closed(uv_handle_t *h)
{
    session *s = h->data;
    s->handles--;
    session_unref(s);
}

static void session_close(session *s, const char *why)
{
    peers *p = s->p;
    if (s->state == S_CLOSING)
        return;
    sstate was = s->state;
    s->state = S_CLOSING;
    if (s->tls && was >= S_HELLO) {
        tls_conn_shutdown(s->tls);
        session_flush(s);
    }
    peer_state *ps = s->ps;
    if (ps && ps->s == s) {
        ps->s = NULL;
        if (was == S_LIVE)
            log_msg(LOG_INFO, "peer %s: disconnected: %s", ps->conf.name, why);
        else
            log_msg(LOG_INFO, "peer %s: connection failed: %s", ps->conf.name, why);
        snprintf(ps->last_error, sizeof ps->last_error, "%s", why ? why : "closed");
        if (ps->sync_state == 1) {
            ps->sync_ack = 0;
            sync_peer_done(ps, why);
        }
        if (!p->closing && !ps->removed)
            peer_schedule(ps, 0);
    } else if (!ps) {
        log_msg(LOG_INFO, "incoming connection refused: %s", why ? why : "closed");
    }
    /* unlink from the session list */
    for (session **pp = &p->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    uv_read_stop((uv_stream_t *)&s->tcp);
    uv_close((uv_handle_t *)&s->timer, handle_closed);
    uv_close((uv_handle_t *)&s->tcp, handle_closed);
    peers_snapshot(p);
}

static void on_session_timer(uv_timer_t *t)
{
    session *s = t->data;
    uint64_t now = now_ms();
    if (s->state == S_CLOSING)
        return;
    if (s->state != S_LIVE && now - s->started > HANDSHAKE_MS) {
        session_close(s, s->state == S_CONNECTING ? "connect timed out" : "handshake timed out");
        return;
    }
    if (now - s->last_rx > IDLE_MS) {
        session_close(s, "idle timeout: nothing heard for 45 s");
        return;
    }
    if (s->want_id && now > s->want_deadline) {
        session_close(s, "the peer did not answer a WANT in time");
        return;
    }
    if (s->state == S_LIVE && now - s->last_tx > PING_MS)
        send_simple(s, "ping");
}

static session *session_new(peers *p, int outbound, peer_state *ps)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = p;
    s->ps = ps;
    s->outbound = outbound;
    s->tls = tls_conn_new(p->tls, !outbound, outbound ? ps->conf.fingerprint : NULL);
    if (!s->tls) {
        free(s);
        return NULL;
    }
    s->state = outbound ? S_CONNECTING : S_TLS;
    s->started = s->last_rx = s->last_tx = now_ms();
    uv_tcp_init(p->loop, &s->tcp);
    uv_timer_init(p->loop, &s->timer);
    s->tcp.data = s->timer.data = s;
    s->handles = 2;
    s->refs = 2;
    uv_timer_start(&s->timer, on_session_timer, 1000, 1000);
    s->next = p->sessions;
    p->sessions = s;
    p->open++;
    return s;
}

static void on_connected(uv_connect_t *c, int status)
{
    session *s = c->data;
    free(c);
    if (s->state == S_CLOSING) {
        session_unref(s);
        return;
    }
    if (status < 0) {
        session_close(s, uv_strerror(status));
        session_unref(s);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    s->state = S_TLS;
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (tls_conn_handshake(s->tls) < 0) {
        session_close(s, tls_conn_error(s->tls));
        session_unref(s);
        return;
    }
    session_flush(s);
    session_unref(s);
}

static void dial(peers *p, peer_state *ps, const struct sockaddr *addr)
{
    session *s = session_new(p, 1, ps);
    if (!s)
        return;
    ps->s = s;
    uv_connect_t *c = malloc(sizeof *c);
    if (!c) {
        session_close(s, "out of memory");
        return;
    }
    c->data = s;
    s->refs++;
    int e = uv_tcp_connect(c, &s->tcp, addr, on_connected);
    if (e != 0) {
        free(c);
        s->refs--;
        session_close(s, uv_strerror(e));
    }
    peers_snapshot(s->p);
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

static void peer_connect(peer_state *ps)
{
    peers *p = ps->retry.data;
    char host[256];
    int port;
    if (ps->s || p->closing || ps->removed)
        return;
    if (config_addr_parse(host, sizeof host, &port, ps->conf.address) != 0) {
        snprintf(ps->last_error, sizeof ps->last_error, "bad address %s", ps->conf.address);
        return;
    }
    resolve_req *rr = calloc(1, sizeof *rr);
    if (!rr)
        return;
    rr->ps = ps;
    rr->p = p;
    char portstr[16];
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
static void peer_schedule(peer_state *ps, int immediately)
{
    unsigned delay = 0;
    if (!immediately) {
        ps->backoff_ms = ps->backoff_ms ? ps->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (ps->backoff_ms > BACKOFF_MAX_MS)
            ps->backoff_ms = BACKOFF_MAX_MS;
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != sizeof r)
            r = (uint32_t)now_ms();
        /* +-25% jitter so offices that restart together do not dial in step */
        delay = ps->backoff_ms * 3 / 4 + r % (ps->backoff_ms / 2 + 1);
    }
    ps->retry_at = (uint64_t)clock_now_ms() + delay;
    ps->retry_active = 1;
    uv_timer_start(&ps->retry, on_retry, delay, 0);
}

static void on_incoming(uv_stream_t *server, int status)
{
    peers *p = server->data;
    if (status < 0 || p->closing)
        return;
    session *s = session_new(p, 0, NULL);
    if (!s)
        return;
    if (uv_accept(server, (uv_stream_t *)&s->tcp) != 0) {
        session_close(s, "accept failed");
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
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
    broadcast_heads(p);
}

/* ---- peer list ------------------------------------------------------------ */

static void peer_retry_closed(uv_handle_t *h)
{
    peer_state *ps = (peer_state *)((char *)h - offsetof(peer_state, retry));
    peers *p = h->data;
    free(ps->conf.name);
    free(ps->conf.address);
    free(ps->conf.fingerprint);
    free(ps);
    p->open--;
    peers_maybe_done(p);
}

static peer_state *peer_add_state(peers *p, const config_peer *cp)
{
    peer_state *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->conf.name = strdup(cp->name);
    ps->conf.address = strdup(cp->address);
    ps->conf.fingerprint = strdup(cp->fingerprint);
    uv_timer_init(p->loop, &ps->retry);
    ps->retry.data = p;
    p->open++;
    ps->next = p->peers;
    p->peers = ps;
    return ps;
}

/* Forget a peer: its session closes; the state stays (in the graveyard)
 * until the peers close, since sessions and lookups may still point at it. */
static void peer_drop(peers *p, peer_state *ps)
{
    ps->removed = 1;
    if (ps->s)
        session_close(ps->s, "peer removed");
    if (ps->sync_state == 1)
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

/* ---- status snapshot ------------------------------------------------------- */

static void pack_peer(msgpack_packer *pk, const peer_state *ps)
{
    char tbuf[32] = "";
    const char *state = ps->s ? state_names[ps->s->state] : ps->retry_active ? "backoff" : "idle";
    msgpack_pack_map(pk, 11);
    msg_pack_kv_str(pk, "name", ps->conf.name);
    msg_pack_kv_str(pk, "address", ps->conf.address);
    msg_pack_kv_str(pk, "fingerprint", ps->conf.fingerprint);
    msg_pack_kv_str(pk, "office", ps->office);
    msg_pack_kv_str(pk, "state", state);
    if (ps->last_sync)
        record_time_format(tbuf, sizeof tbuf, (int64_t)ps->last_sync);
    msg_pack_str(pk, "last_sync");
    ps->last_sync ? msg_pack_str(pk, tbuf) : msgpack_pack_nil(pk);
    char rbuf[32] = "";
    if (!ps->s && ps->retry_active)
        record_time_format(rbuf, sizeof rbuf, (int64_t)ps->retry_at);
    msg_pack_str(pk, "retry_at");
    rbuf[0] ? msg_pack_str(pk, rbuf) : msgpack_pack_nil(pk);
    msg_pack_kv_int(pk, "bytes_in", (int64_t)ps->bytes_in);
    msg_pack_kv_int(pk, "bytes_out", (int64_t)ps->bytes_out);
    msg_pack_kv_int(pk, "heads_behind", (int64_t)ps->behind);
    msg_pack_kv_str(pk, "last_error", ps->last_error);
}

static void peers_snapshot(peers *p)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    size_t n = 0;
    for (peer_state *ps = p->peers; ps; ps = ps->next)
        n++;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (peer_state *ps = p->peers; ps; ps = ps->next)
        pack_peer(&pk, ps);
    pthread_mutex_lock(&p->snap_lock);
    msgpack_sbuffer_destroy(&p->snap);
    p->snap = b;
    pthread_mutex_unlock(&p->snap_lock);
}

void peers_status_pack(peers *p, msgpack_packer *pk)
{
    pthread_mutex_lock(&p->snap_lock);
    if (p->snap.size)
        msgpack_pack_str_body(pk, p->snap.data, p->snap.size); /* raw: already packed */
    else
        msgpack_pack_array(pk, 0);
    pthread_mutex_unlock(&p->snap_lock);
}

/* ---- control requests -------------------------------------------------------- */

static void reply_simple(reply r, int ok, const char *error)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msg_pack_str(&pk, "ok");
    if (ok) {
        msgpack_pack_true(&pk);
        msg_pack_str(&pk, "result");
        msgpack_pack_nil(&pk);
    } else {
        msgpack_pack_false(&pk);
        msg_pack_kv_str(&pk, "error", error);
    }
    reply_send(r, &b);
}

static void sync_closed(uv_handle_t *h)
{
    sync_wait *w = h->data;
    peers *p = w->p;
    free(w);
    p->open--;
    peers_maybe_done(p);
}

/* Finish a sync request: reply with each peer's outcome. */
static void sync_finish(sync_wait *w)
{
    peers *p = w->p;
    if (w->closed)
        return;
    w->closed = 1;
    msgpack_sbuffer b;
    msgpack_packer pk;
    size_t n = 0;
    for (peer_state *ps = p->peers; ps; ps = ps->next)
        n += ps->waiter == w;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msg_pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    msg_pack_str(&pk, "result");
    msgpack_pack_map(&pk, 1);
    msg_pack_str(&pk, "peers");
    msgpack_pack_array(&pk, n);
    for (peer_state *ps = p->peers; ps; ps = ps->next) {
        if (ps->waiter != w)
            continue;
        int ok = ps->sync_state == 2;
        msgpack_pack_map(&pk, 3);
        msg_pack_kv_str(&pk, "name", ps->conf.name);
        msg_pack_kv_bool(&pk, "ok", ok);
        msg_pack_kv_str(&pk, "error",
                        ok                  ? ""
                        : ps->sync_error[0] ? ps->sync_error
                                            : "no answer in time");
        ps->waiter = NULL;
        ps->sync_ack = 0;
        ps->sync_state = 0;
    }
    reply_send(w->r, &b);
    for (sync_wait **pp = &p->waits; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, sync_closed);
}

/* One peer's round of a sync finished (error NULL: it worked). */
static void sync_peer_done(peer_state *ps, const char *error)
{
    sync_wait *w = ps->waiter;
    if (!w || w->closed || ps->sync_state != 1)
        return;
    ps->sync_state = error ? 3 : 2;
    snprintf(ps->sync_error, sizeof ps->sync_error, "%s", error ? error : "");
    if (w->pending)
        w->pending--;
    if (w->pending == 0)
        sync_finish(w);
}

static void on_sync_timeout(uv_timer_t *t)
{
    sync_wait *w = t->data;
    for (peer_state *ps = w->p->peers; ps; ps = ps->next)
        if (ps->waiter == w && ps->sync_state == 1) {
            ps->sync_state = 3;
            if (!ps->s || ps->s->state != S_LIVE)
                snprintf(ps->sync_error, sizeof ps->sync_error, "not reachable: %.120s",
                         ps->last_error[0] ? ps->last_error : "no connection");
            else
                snprintf(ps->sync_error, sizeof ps->sync_error, "no answer in time");
        }
    sync_finish(w);
}

static void start_sync(peers *p, reply r)
{
    sync_wait *w = calloc(1, sizeof *w);
    if (!w) {
        reply_simple(r, 0, "out of memory");
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
        ps->sync_state = 1;
        ps->sync_error[0] = 0;
        w->pending++;
        if (ps->s && ps->s->state == S_LIVE) {
            ps->sync_ack = ++p->next_id;
            session_send_heads(ps->s, ps->sync_ack, 0);
        } else if (!ps->s) {
            ps->backoff_ms = 0;
            uv_timer_stop(&ps->retry);
            ps->retry_active = 0;
            peer_connect(ps); /* on_hello starts the round */
        }
    }
    if (w->pending == 0) {
        sync_finish(w);
        return;
    }
    uv_timer_start(&w->timer, on_sync_timeout, SYNC_WAIT_MS, 0);
}

int peers_control(void *arg, const char *op, const msgpack_object *req, reply r)
{
    peers *p = arg;
    char err[512];
    if (strcmp(op, "peers") == 0) {
        msgpack_sbuffer b;
        msgpack_packer pk;
        peers_snapshot(p);
        msgpack_sbuffer_init(&b);
        msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        msg_pack_str(&pk, "ok");
        msgpack_pack_true(&pk);
        msg_pack_str(&pk, "result");
        peers_status_pack(p, &pk);
        reply_send(r, &b);
        return 1;
    }
    if (strcmp(op, "sync") == 0) {
        if (p->offline)
            reply_simple(r, 0, "this node runs --offline; restart it without --offline to sync");
        else
            start_sync(p, r);
        return 1;
    }
    if (strcmp(op, "peer_add") == 0) {
        char *name = msg_get_str(req, "name"), *addr = msg_get_str(req, "address");
        char *fpr = msg_get_str(req, "fingerprint");
        if (fpr)
            for (char *c = fpr; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
        if (!name || !addr || !fpr) {
            reply_simple(r, 0, "peer add: usage: peer add NAME HOST:PORT FINGERPRINT");
        } else if (fpr && strcmp(fpr, tls_ctx_fingerprint(p->tls)) == 0) {
            reply_simple(r, 0, "that fingerprint is this node's own key");
        } else if (config_peer_add(p->cfg, name, addr, fpr, err, sizeof err) != 0) {
            reply_simple(r, 0, err);
        } else if (config_save(p->cfg, p->cfg_path, err, sizeof err) != 0) {
            config_peer_remove(p->cfg, name, err, sizeof err);
            reply_simple(r, 0, err);
        } else {
            peer_state *ps = peer_add_state(p, config_peer_find(p->cfg, name));
            log_msg(LOG_INFO, "peer %s pinned (%s)", name, addr);
            if (ps && !p->offline)
                peer_schedule(ps, 1);
            peers_snapshot(p);
            reply_simple(r, 1, NULL);
        }
        free(name);
        free(addr);
        free(fpr);
        return 1;
    }
    if (strcmp(op, "peer_remove") == 0) {
        char *name = msg_get_str(req, "name");
        peer_state *ps = name ? peer_by_name(p, name) : NULL;
        if (!name || config_peer_remove(p->cfg, name, err, sizeof err) != 0) {
            reply_simple(r, 0, name ? err : "peer remove: usage: peer remove NAME");
        } else if (config_save(p->cfg, p->cfg_path, err, sizeof err) != 0) {
            reply_simple(r, 0, err);
        } else {
            if (ps)
                peer_drop(p, ps);
            log_msg(LOG_INFO, "peer %s removed", name);
            peers_snapshot(p);
            reply_simple(r, 1, NULL);
        }
        free(name);
        return 1;
    }
    return 0;
}

/* ---- after local writes ------------------------------------------------------ */

void peers_after_job(void *arg)
{
    peers *p = arg;
    char head[41], tree[41];
    /* Safe here: the store queue runs nothing while a done callback runs. */
    store_head(p->st, head, tree);
    if (!head[0] || strcmp(head, p->own_head) == 0)
        return;
    snprintf(p->own_head, sizeof p->own_head, "%s", head);
    int found = 0;
    for (size_t i = 0; i < p->nheads; i++)
        if (strcmp(p->heads[i].name, p->cfg->node) == 0) {
            snprintf(p->heads[i].oid, sizeof p->heads[i].oid, "%s", head);
            found = 1;
        }
    if (!found) {
        store_ref *nh = realloc(p->heads, (p->nheads + 1) * sizeof *nh);
        if (!nh)
            return;
        p->heads = nh;
        snprintf(nh[p->nheads].name, sizeof nh[p->nheads].name, "%s", p->cfg->node);
        snprintf(nh[p->nheads].oid, sizeof nh[p->nheads].oid, "%s", head);
        p->nheads++;
    }
    broadcast_heads(p);
}

/* ---- start and stop --------------------------------------------------------- */

static void listener_closed(uv_handle_t *h)
{
    peers *p = h->data;
    p->open--;
    peers_maybe_done(p);
}

int peers_start(peers **out, uv_loop_t *loop, squeue *q, store *st, store_record_cb index_cb,
                void *index_arg, config *cfg,
                const char *cfg_path, const char *data_dir, int offline, const char **listen_out,
                char *err, size_t errlen)
{
    peers *p = calloc(1, sizeof *p);
    char key[4200], crt[4200];
    *out = NULL;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->loop = loop;
    p->q = q;
    p->st = st;
    p->index_cb = index_cb;
    p->index_arg = index_arg;
    p->cfg = cfg;
    snprintf(p->cfg_path, sizeof p->cfg_path, "%s", cfg_path);
    pthread_mutex_init(&p->snap_lock, NULL);
    msgpack_sbuffer_init(&p->snap);
    snprintf(key, sizeof key, "%s/node.key", data_dir);
    snprintf(crt, sizeof crt, "%s/node.crt", data_dir);
    if (tls_ctx_new(&p->tls, key, crt, pin_check, p, err, errlen) != 0)
        goto fail;
    /* Before the loop runs: reading the store here is not on the loop. */
    if (store_heads(&p->heads, &p->nheads, st, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < p->nheads; i++)
        if (strcmp(p->heads[i].name, cfg->node) == 0)
            snprintf(p->own_head, sizeof p->own_head, "%s", p->heads[i].oid);
    snprintf(p->listen_addr, sizeof p->listen_addr, "%s", cfg->listen ? cfg->listen : "");
    p->offline = offline;
    if (offline)
        p->listen_addr[0] = 0;
    if (!offline && cfg->listen && cfg->listen[0]) {
        char host[256];
        int port;
        struct sockaddr_storage ss;
        if (config_addr_parse(host, sizeof host, &port, cfg->listen) != 0 ||
            (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
             uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)) {
            snprintf(err, errlen, "listen address %s: give a numeric IP and port", cfg->listen);
            goto fail;
        }
        uv_tcp_init(loop, &p->listener);
        p->listener.data = p;
        p->open++;
        p->listening = 1;
        int e = uv_tcp_bind(&p->listener, (struct sockaddr *)&ss, 0);
        if (e == 0)
            e = uv_listen((uv_stream_t *)&p->listener, 64, on_incoming);
        if (e != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen, uv_strerror(e));
            goto fail;
        }
        int len = sizeof ss;
        if (uv_tcp_getsockname(&p->listener, (struct sockaddr *)&ss, &len) == 0) {
            char ip[64];
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
    }
    uv_timer_init(loop, &p->anti_entropy);
    p->anti_entropy.data = p;
    p->open++;
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
    return 0;
fail:
    /* Only reached before the loop runs. An open listener is closed here;
     * p frees itself in its close callback when the caller runs the loop
     * (peers_close cannot be used: the timer was never started). */
    if (p->listening) {
        p->closing = 1;
        uv_close((uv_handle_t *)&p->listener, listener_closed);
        return -1;
    }
    msgpack_sbuffer_destroy(&p->snap);
    pthread_mutex_destroy(&p->snap_lock);
    tls_ctx_free(p->tls);
    free(p->heads);
    free(p);
    return -1;
}

void peers_close(peers *p, void (*done)(void *), void *arg)
{
    p->closing = 1;
    p->done = done;
    p->done_arg = arg;
    while (p->waits) {
        sync_wait *w = p->waits;
        for (peer_state *ps = p->peers; ps; ps = ps->next)
            if (ps->waiter == w && ps->sync_state == 1) {
                ps->sync_state = 3;
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
