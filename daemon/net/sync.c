/* sync.c - the sync state machine of docs/PROTOCOL.md (sections 5 and 6):
 * one table {message type, states where it is allowed, handler}, in the
 * manner of OpenBSD's imsg dispatch. Each handler first checks its payload,
 * then acts; a message that is valid but not allowed in the session's state
 * is a protocol error (the session closes), never a crash.
 *
 * Message in -> frames out (session_send) and store jobs (session_submit):
 * nothing here touches a socket, so tests drive it in memory. Every wire
 * message is built here, in the fixed small maps PROTOCOL.md quotes. */
#include "daemon/util/log.h"
#include "daemon/net/net_internal.h"
#include "daemon/util/clock.h"
#include "proto/msg.h"
#include "proto/record.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building messages ------------------------------------------------------ */

/* One outgoing message being built: a map whose first pair is "t". The pair
 * count is fixed by each builder (PROTOCOL.md quotes the exact bytes). */
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

/* Send and free the message. */
static uerr outmsg_send(session *s, outmsg *m)
{
    uerr rc = session_send(s, &m->b);
    msgpack_sbuffer_destroy(&m->b);
    return rc;
}

static void pack_heads(msgpack_packer *pk, const store_ref *h, size_t n)
{
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++)
        msg_pack_kv_str(pk, h[i].name, h[i].oid);
}

void sync_send_error(session *s, const char *msg)
{
    outmsg m;
    outmsg_begin(&m, "error", 1);
    msg_pack_kv_str(&m.pk, "msg", msg);
    outmsg_send(s, &m);
}

uerr sync_send_simple(session *s, const char *type)
{
    outmsg m;
    outmsg_begin(&m, type, 0);
    return outmsg_send(s, &m);
}

void sync_send_hello(session *s)
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
void sync_send_heads(session *s, uint32_t req, uint32_t ack)
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

/* HEADS {heads: h, pack}: an announcement with the pack of what the peer
 * lacks (PROTOCOL.md 5.4); without pack a plain HEADS of h. */
uerr sync_send_push(session *s, const store_ref *h, size_t n, const char *pack, size_t len)
{
    outmsg m;
    outmsg_begin(&m, "heads", pack ? 2 : 1);
    msg_pack_str(&m.pk, "heads");
    pack_heads(&m.pk, h, n);
    if (pack) {
        msg_pack_str(&m.pk, "pack");
        msgpack_pack_bin(&m.pk, len);
        msgpack_pack_bin_body(&m.pk, pack, len);
    }
    if (m.b.size > PEER_FRAME_MAX) { /* many branches and a pack: too big for one frame */
        msgpack_sbuffer_destroy(&m.b);
        return sync_send_push(s, h, n, NULL, 0);
    }
    return outmsg_send(s, &m);
}

/* WANT: the commits we lack; our heads are the haves. */
uerr sync_send_want(session *s, uint32_t id, char *const *want, size_t nwant)
{
    peers *p = s->p;
    outmsg m;
    outmsg_begin(&m, "want", 3);
    msg_pack_kv_int(&m.pk, "id", id);
    msg_pack_str(&m.pk, "want");
    msgpack_pack_array(&m.pk, nwant);
    for (size_t i = 0; i < nwant; i++)
        msg_pack_str(&m.pk, want[i]);
    if (s->ps)
        s->ps->wants_out++;
    msg_pack_str(&m.pk, "have");
    msgpack_pack_array(&m.pk, p->nheads);
    for (size_t i = 0; i < p->nheads; i++)
        msg_pack_str(&m.pk, p->heads[i].oid);
    return outmsg_send(s, &m);
}

void sync_broadcast_heads(peers *p)
{
    for (session *s = p->sessions; s; s = s->next)
        if (s->state == S_LIVE)
            sync_send_heads(s, 0, 0);
}

void sync_heads_update(peers *p, store_ref *h, size_t n)
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
        sync_announce(p);
}

/* Queue pack chunks while the socket keeps up (backpressure): the rest
 * goes when a write completes (session.c's on_written). */
void session_pack_pump(session *s)
{
    while (s->out && s->state == S_LIVE && session_can_send(s)) {
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
        if (outmsg_send(s, &m) != UERR_OK)
            return;
        s->outoff += n;
        if (last) {
            free(s->out);
            s->out = NULL;
        }
    }
}

/* ---- refusing --------------------------------------------------------------- */

/* The peer broke the protocol: tell it (peer_msg, NULL for a close without
 * ERROR as PROTOCOL.md section 9 lists), close, return UERR_PEER. */
static uerr sync_refuse(session *s, const char *peer_msg, const char *why)
{
    if (peer_msg)
        sync_send_error(s, peer_msg);
    session_close(s, why);
    return UERR_PEER;
}

/* ---- payload checks --------------------------------------------------------- */

/* "heads": a map branch name -> 40 lowercase hex. *out malloc'd (caller
 * frees) with room for one more. UERR_PEER when malformed, UERR_NOMEM. */
static uerr heads_read(store_ref **out, size_t *n, const msgpack_object *m)
{
    const msgpack_object *h = msg_get(m, "heads");
    *out = NULL;
    *n = 0;
    if (!h || h->type != MSGPACK_OBJECT_MAP || h->via.map.size > HEADS_MAX)
        return UERR_PEER;
    store_ref *v = calloc(h->via.map.size + 1, sizeof *v);
    if (!v)
        return UERR_NOMEM;
    for (uint32_t i = 0; i < h->via.map.size; i++) {
        char *name = msg_str_dup(&h->via.map.ptr[i].key);
        char *oid = msg_str_dup(&h->via.map.ptr[i].val);
        int ok = name && oid_valid(oid) && record_node_valid(name);
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
            return UERR_PEER;
        }
    }
    *out = v;
    return UERR_OK;
}

/* An array of OIDs (40 lowercase hex digits), at most HEADS_MAX. */
static uerr strv_read(char ***out, size_t *n, const msgpack_object_array *a)
{
    *out = NULL;
    *n = 0;
    if (!a)
        return UERR_OK;
    if (a->size > HEADS_MAX)
        return UERR_PEER;
    char **v = calloc(a->size + 1, sizeof *v);
    if (!v)
        return UERR_NOMEM;
    for (uint32_t i = 0; i < a->size; i++) {
        char *x = msg_str_dup(&a->ptr[i]);
        if (!oid_valid(x)) {
            free(x);
            strv_free(v, *n);
            *n = 0;
            return UERR_PEER;
        }
        v[(*n)++] = x;
    }
    *out = v;
    return UERR_OK;
}

/* Branch hygiene on an announcement: UERR_OK, or the session is closing
 * (UERR_PEER: refused with an ERROR naming the rule). */
static uerr heads_admit_or_refuse(session *s, const store_ref *refs, size_t n)
{
    char msg[200];
    uerr rc = heads_admit(s, refs, n, msg, sizeof msg);
    if (rc == UERR_PEER)
        return sync_refuse(s, msg, "too many new branches");
    if (rc != UERR_OK)
        session_close(s, "out of memory");
    return rc;
}

/* ---- handlers ---------------------------------------------------------------- */

/* Two nodes that dialled each other at once keep the connection dialled by
 * the node whose name sorts first; both sides decide alike. Returns 1 if s
 * is the one to keep (the other was closed), 0 if s must go. */
static int hello_keep(session *s)
{
    peer_state *ps = s->ps;
    if (!ps->s || ps->s == s || ps->s->state != S_LIVE)
        return 1;
    int mine_wins = strcmp(s->p->cfg->node, ps->conf.name) < 0;
    if (s->outbound != mine_wins)
        return 0;
    session *old = ps->s;
    ps->s = s;
    session_close(old, "duplicate connection");
    return 1;
}

static uerr on_hello(session *s, const msgpack_object *m)
{
    peers *p = s->p;
    char *node = msg_get_str(m, "node"), *office = msg_get_str(m, "office");
    store_ref *refs = NULL;
    size_t n = 0;
    uerr rc = UERR_OK;
    if (msg_get_int(m, "v", 0) != PROTO_VERSION) {
        rc = sync_refuse(s, "unsupported protocol version (this node speaks 1)",
                         "protocol version mismatch");
        goto cleanup;
    }
    if (!node || !s->ps || strcmp(node, s->ps->conf.name) != 0) {
        /* The key is pinned for a name; a node must not claim another. */
        char show[LOG_SAFE_SIZE];
        log_msg(LOG_WARN, "peer with the key pinned for %s claims to be \"%s\": refused",
                s->ps ? s->ps->conf.name : "?", log_safe(show, sizeof show, node));
        rc = sync_refuse(s, "your node name does not match the name pinned for your key",
                         "node name does not match its pinned key");
        goto cleanup;
    }
    if ((rc = heads_read(&refs, &n, m)) != UERR_OK) {
        rc = rc == UERR_PEER ? sync_refuse(s, "malformed HELLO heads", "protocol error")
                             : (session_close(s, "out of memory"), rc);
        goto cleanup;
    }
    if (heads_admit_or_refuse(s, refs, n) != UERR_OK) {
        rc = UERR_PEER;
        free(refs);
        goto cleanup;
    }
    if (!hello_keep(s)) {
        session_close(s, "duplicate connection");
        free(refs);
        goto cleanup;
    }
    peer_state *ps = s->ps;
    ps->s = s;
    /* informational, shown by `unionctl peers` and logged: kept printable */
    log_safe(ps->office, sizeof ps->office, office ? office : "");
    s->state = S_LIVE;
    ps->backoff_ms = 0;
    ps->last_error[0] = 0;
    log_msg(LOG_INFO, "peer %s (%s): connected (%s, %s)", ps->conf.name, ps->office,
            s->outbound ? "outbound" : "inbound", s->tls ? tls_conn_version(s->tls) : "memory");
    if (push_peer_heads_set(s, refs, n) != UERR_OK) {
        free(refs);
        session_close(s, "out of memory");
        rc = UERR_NOMEM;
        goto cleanup;
    }
    if ((rc = take_start(s, refs, n, 0, 0, NULL, 0)) != UERR_OK)
        goto cleanup;
    if (ps->waiter && ps->sync_state == SYNC_PENDING && !ps->sync_ack && s->state == S_LIVE) {
        /* a sync was waiting for this peer to come up */
        ps->sync_ack = peers_id_next(p);
        sync_send_heads(s, ps->sync_ack, 0);
    }
    peers_snapshot(p);
cleanup:
    free(node);
    free(office);
    return rc;
}

/* HEADS and DONE: an announcement to take in; DONE answering our sync's
 * HEADS ends the round once taken in. A HEADS may carry the pack of what
 * it announces (push): taken in without asking. */
static uerr heads_or_done(session *s, const msgpack_object *m, int done)
{
    store_ref *refs;
    size_t n, pushlen = 0;
    char *push = NULL;
    uerr rc = heads_read(&refs, &n, m);
    if (rc == UERR_OK && !done)
        rc = push_read(&push, &pushlen, m);
    if (rc == UERR_PEER) {
        free(refs);
        return sync_refuse(s, "malformed heads", "protocol error");
    }
    if (rc == UERR_OK)
        rc = push_peer_heads_set(s, refs, n);
    if (rc != UERR_OK) {
        free(refs);
        free(push);
        session_close(s, "out of memory");
        return rc;
    }
    uint32_t req, ack;
    if (msg_id_read(&req, m, "req") != 0 || msg_id_read(&ack, m, "ack") != 0) {
        free(refs);
        free(push);
        return sync_refuse(s, "malformed heads", "protocol error: bad req or ack");
    }
    if ((rc = heads_admit_or_refuse(s, refs, n)) != UERR_OK) {
        free(refs);
        free(push);
        return rc;
    }
    int round = done && ack && ack == s->ps->sync_ack;
    if (round)
        s->ps->sync_ack = 0; /* the round ends once these heads are taken in */
    return take_start(s, refs, n, req, round, push, pushlen);
}

static uerr on_heads(session *s, const msgpack_object *m)
{
    return heads_or_done(s, m, 0);
}

static uerr on_done(session *s, const msgpack_object *m)
{
    return heads_or_done(s, m, 1);
}

/* WANT: build the pack on the store queue. One WANT of the peer's is in
 * flight at a time: a second before its PACK is fully sent is refused. */
static uerr on_want(session *s, const msgpack_object *m)
{
    if (s->out || s->building)
        return sync_refuse(s, "a WANT while a PACK is still being sent", "protocol error");
    build_job *j = calloc(1, sizeof *j);
    if (!j) {
        session_close(s, "out of memory");
        return UERR_NOMEM;
    }
    j->s = s;
    uerr rc = msg_id_read(&j->id, m, "id") == 0 ? UERR_OK : UERR_PEER;
    if (rc == UERR_OK)
        rc = strv_read(&j->want, &j->nwant, msg_get_array(m, "want"));
    if (rc == UERR_OK)
        rc = strv_read(&j->have, &j->nhave, msg_get_array(m, "have"));
    if (rc == UERR_OK && (j->nwant == 0 || j->id == 0))
        rc = UERR_PEER;
    if (rc == UERR_OK) {
        s->building = 1;
        if ((rc = session_submit(s, build_run, build_done, j)) == UERR_OK)
            return UERR_OK;
        s->building = 0;
    }
    strv_free(j->want, j->nwant);
    strv_free(j->have, j->nhave);
    free(j);
    if (rc == UERR_PEER)
        return sync_refuse(s, "malformed WANT", "protocol error");
    session_close(s, rc == UERR_NOMEM ? "out of memory" : "the store queue is closing");
    return rc;
}

/* The whole pack is in: take it in with the announcement it answers. */
static uerr pack_complete(session *s)
{
    char *pack;
    size_t len = s->packlen;
    if (pack_spool_map(&pack, s) != UERR_OK) {
        pack_spool_drop(s);
        log_msg(LOG_ERR, "peer %s: cannot map the received pack spool (local error)",
                s->ps->conf.name);
        session_close(s, "local error: cannot map the pack spool");
        return UERR_IO;
    }
    s->packlen = 0;
    s->want_id = 0;
    store_ref *refs = s->want_refs;
    size_t nrefs = s->nwant_refs;
    /* keep a copy: take_finish frees the announcement when it is in */
    s->want_refs = malloc((nrefs + 1) * sizeof *refs);
    if (s->want_refs)
        memcpy(s->want_refs, refs, nrefs * sizeof *refs);
    s->nwant_refs = s->want_refs ? nrefs : 0;
    take_push(s, refs, nrefs, pack, len, 0);
    return UERR_OK;
}

static uerr on_pack(session *s, const msgpack_object *m)
{
    const msgpack_object *d = msg_get(m, "data");
    uint32_t id;
    char err[200];
    if (msg_id_read(&id, m, "id") != 0 || !s->busy || !s->want_id || id != s->want_id || !d ||
        d->type != MSGPACK_OBJECT_BIN)
        return sync_refuse(s, "PACK that answers no WANT", "protocol error");
    size_t n = d->via.bin.size;
    int last = msg_get_bool(m, "last", 0);
    if ((n == 0 && !last) || (last && s->packlen + n < 32))
        /* a pack is at least a 12-byte header and a 20-byte checksum */
        return sync_refuse(s, "empty PACK chunk or a pack too short to be one",
                           "protocol error: empty pack");
    s->want_progress = clock_mono_ms(); /* the answer progresses */
    uerr rc = pack_spool_append(s, d->via.bin.ptr, n, err, sizeof err);
    if (rc == UERR_PEER) {
        /* the peer's fault: it sent more than this node takes in one pack */
        log_msg(LOG_WARN, "peer %s: %s: refused", s->ps->conf.name, err);
        pack_spool_drop(s);
        return sync_refuse(s, err, "pack over the take-in budget");
    }
    if (rc != UERR_OK) {
        log_msg(LOG_ERR, "peer %s: local error receiving a pack: %s", s->ps->conf.name, err);
        pack_spool_drop(s);
        session_close(s, "local error: cannot spool the pack");
        return rc;
    }
    return last ? pack_complete(s) : UERR_OK;
}

static uerr on_ping(session *s, const msgpack_object *m)
{
    (void)m;
    /* A sender pings while it builds the answer to our WANT (before the
     * first PACK chunk, which can take minutes for a first replication of a
     * large store): it is alive and working, so the answer progresses. */
    if (s->want_id && s->packlen == 0)
        s->want_progress = clock_mono_ms();
    return sync_send_simple(s, "pong");
}

static uerr on_pong(session *s, const msgpack_object *m)
{
    (void)s;
    (void)m; /* last_rx is updated by every read */
    return UERR_OK;
}

static uerr on_error(session *s, const msgpack_object *m)
{
    if (s->state == S_HELLO) {
        session_close(s, "refused by the peer");
        return UERR_PEER;
    }
    char *msg = msg_get_str(m, "msg");
    char show[LOG_SAFE_SIZE];
    log_msg(LOG_WARN, "peer %s says: %s", s->ps->conf.name, log_safe(show, sizeof show, msg));
    free(msg);
    session_close(s, "closed by the peer after an error");
    return UERR_PEER;
}

/* ---- the table --------------------------------------------------------------- */

typedef uerr (*sync_handler)(session *s, const msgpack_object *m);

#define IN_HELLO SSTATE_BIT(S_HELLO)
#define IN_LIVE SSTATE_BIT(S_LIVE)

/* PROTOCOL.md 6.1, "Messages allowed per state". Adding a message is one row. */
static const struct {
    const char *type;
    unsigned states;
    sync_handler fn;
} sync_table[] = {
    {"hello", IN_HELLO, on_hello}, {"heads", IN_LIVE, on_heads},
    {"done", IN_LIVE, on_done},    {"want", IN_LIVE, on_want},
    {"pack", IN_LIVE, on_pack},    {"ping", IN_LIVE, on_ping},
    {"pong", IN_LIVE, on_pong},    {"error", IN_HELLO | IN_LIVE, on_error},
};

/* A type unknown, or not allowed in this state: in the hello state the
 * session closes without ERROR, later with ERROR `unknown message type`. */
static uerr sync_not_allowed(session *s, const char *t)
{
    if (s->state == S_HELLO)
        return sync_refuse(s, NULL, "protocol error: expected hello");
    char show[LOG_SAFE_SIZE];
    log_msg(LOG_DEBUG, "peer %s: message \"%s\" not allowed in state %s",
            s->ps ? s->ps->conf.name : "?", log_safe(show, sizeof show, t),
            session_state_name(s->state));
    return sync_refuse(s, "unknown message type", "protocol error: unknown message");
}

uerr sync_on_message(session *s, const char *buf, size_t len)
{
    msgpack_unpacked u;
    uerr rc;
    char *t = NULL;
    assert(s->state == S_HELLO || s->state == S_LIVE);
    msgpack_unpacked_init(&u);
    if (msg_unpack(&u, buf, len) != 0 || u.data.type != MSGPACK_OBJECT_MAP) {
        rc = sync_refuse(s, "a frame that is not one msgpack map", "protocol error");
        goto cleanup;
    }
    t = msg_get_str(&u.data, "t");
    if (!t) {
        rc = sync_refuse(s, NULL, "protocol error: message without t");
        goto cleanup;
    }
    rc = UERR_PEER;
    size_t i;
    for (i = 0; i < sizeof sync_table / sizeof sync_table[0]; i++)
        if (strcmp(sync_table[i].type, t) == 0)
            break;
    if (i == sizeof sync_table / sizeof sync_table[0] ||
        !(sync_table[i].states & SSTATE_BIT(s->state)))
        rc = sync_not_allowed(s, t);
    else
        rc = sync_table[i].fn(s, &u.data);
cleanup:
    free(t);
    msgpack_unpacked_destroy(&u);
    assert(rc == UERR_OK || s->state == S_CLOSING);
    return rc;
}
