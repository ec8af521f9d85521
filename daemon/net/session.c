/* session.c - one peer connection below the sync machine: TCP, TLS 1.3
 * through memory BIOs (daemon/net/tls.h), length-prefixed frames with the
 * cap checked on the header alone, keepalive and per-state deadlines,
 * writes that honour backpressure, and close.
 *
 * Never decides anything about messages (sync.c does) and never frees a
 * session except from session_unref, once its handles have closed and no
 * store job or write refers to it. A session may instead run on a
 * session_io (no handles, no TLS) so the sync machine can be driven in
 * memory by tests. */
#include "daemon/util/log.h"
#include "daemon/net/net_internal.h"
#include "daemon/util/clock.h"
#include "proto/frame.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"connecting", "handshake", "hello", "connected",
                                          "closing"};

const char *session_state_name(sstate st)
{
    return state_names[st];
}

/* ---- lifetime --------------------------------------------------------------- */

void session_unref(session *s)
{
    assert(s->refs > 0);
    if (--s->refs > 0)
        return;
    /* handles are freed only in their close callbacks: both must be done */
    assert(s->handles == 0);
    assert(s->state == S_CLOSING);
    assert(!s->building);
    peers *p = s->p;
    tls_conn_free(s->tls);
    free(s->in);
    pack_spool_drop(s);
    free(s->out);
    free(s->want_refs);
    free(s->next_refs);
    free(s->next_push);
    free(s->echo_refs);
    free(s->pushed_heads);
    free(s->peer_heads);
    free(s);
    p->open--;
    peers_maybe_done(p);
}

static void handle_closed(uv_handle_t *h)
{
    session *s = h->data;
    assert(s->handles > 0);
    s->handles--;
    session_unref(s);
}

/* ---- output ----------------------------------------------------------------- */

typedef struct {
    uv_write_t req;
    session *s;
    char *buf;
} wreq;

static void on_written(uv_write_t *w, int status)
{
    wreq *r = (wreq *)w;
    session *s = r->s;
    free(r->buf);
    free(r);
    if (status < 0 && s->state != S_CLOSING) {
        s->write_failed = 1;
        session_close(s, "write failed");
    } else if (s->out && s->state == S_LIVE) {
        session_pack_pump(s); /* the socket drained: queue the next chunks */
    }
    session_unref(s);
}

/* Send whatever ciphertext TLS has produced. A write that cannot be queued
 * loses TLS records, after which the stream is broken for good: the
 * session closes (and later output is dropped) instead of going on. */
static void session_flush(session *s)
{
    char *out = NULL;
    size_t n;
    while ((n = tls_conn_take_output(s->tls, &out)) > 0) {
        if (s->write_failed || uv_is_closing((uv_handle_t *)&s->tcp)) {
            free(out);
            continue;
        }
        wreq *r = malloc(sizeof *r);
        int e = UV_ENOMEM;
        if (r) {
            r->s = s;
            r->buf = out;
            uv_buf_t b = uv_buf_init(out, (unsigned)n);
            e = uv_write(&r->req, (uv_stream_t *)&s->tcp, &b, 1, on_written);
        }
        if (e != 0) {
            free(out);
            free(r);
            s->write_failed = 1;
            log_msg(LOG_WARN, "peer %s: cannot write: %s", s->ps ? s->ps->conf.name : "?",
                    uv_strerror(e));
            session_close(s, "write failed");
            continue;
        }
        s->refs++;
        if (s->ps)
            s->ps->bytes_out += n;
    }
    /* Pack chunks stop at SEND_HIGH_WATER; what piles up beyond is answers
     * (PONG, DONE, ...) to a peer that sends but never reads. */
    if (s->state != S_CLOSING && !uv_is_closing((uv_handle_t *)&s->tcp) &&
        uv_stream_get_write_queue_size((const uv_stream_t *)&s->tcp) > SEND_QUEUE_MAX) {
        log_msg(LOG_WARN, "peer %s: more than %u bytes queued unread: dropped",
                s->ps ? s->ps->conf.name : "?", SEND_QUEUE_MAX);
        session_close(s, "the peer does not read what it is sent");
    }
}

/* The detached transport: one whole frame to io->send. */
static uerr session_send_io(session *s, const uint8_t hdr[FRAME_HEADER_LEN],
                            const msgpack_sbuffer *msg)
{
    char *frame = malloc(FRAME_HEADER_LEN + msg->size);
    int e = 1;
    if (frame) {
        memcpy(frame, hdr, FRAME_HEADER_LEN);
        memcpy(frame + FRAME_HEADER_LEN, msg->data, msg->size);
        e = s->io->send(s->io_arg, frame, FRAME_HEADER_LEN + msg->size);
        free(frame);
    }
    if (e != 0) {
        s->write_failed = 1;
        session_close(s, "write failed");
        return UERR_IO;
    }
    return UERR_OK;
}

uerr session_send(session *s, const msgpack_sbuffer *msg)
{
    uint8_t hdr[FRAME_HEADER_LEN];
    if (s->state == S_CLOSING)
        return UERR_BUSY;
    /* our own messages are built under the cap (pack chunks are 256 KiB) */
    assert(msg->size > 0 && msg->size <= PEER_FRAME_MAX);
    if (msg->size > PEER_FRAME_MAX)
        return UERR_INTERNAL;
    frame_header_put(hdr, (uint32_t)msg->size);
    s->last_tx = clock_mono_ms();
    if (s->io)
        return session_send_io(s, hdr, msg);
    if (tls_conn_write(s->tls, hdr, sizeof hdr) != 0 ||
        tls_conn_write(s->tls, msg->data, msg->size) != 0) {
        session_close(s, "TLS write failed");
        return UERR_IO;
    }
    session_flush(s);
    return s->state == S_CLOSING ? UERR_IO : UERR_OK;
}

int session_can_send(const session *s)
{
    if (s->io)
        return 1;
    return uv_stream_get_write_queue_size((const uv_stream_t *)&s->tcp) < SEND_HIGH_WATER;
}

uerr session_submit(session *s, squeue_work_fn run, squeue_done_fn done, void *job)
{
    int e;
    s->refs++;
    e = s->io && s->io->submit ? s->io->submit(s->io_arg, run, done, job)
                               : squeue_push(s->p->q, run, done, job);
    if (e != 0) {
        s->refs--;
        return UERR_BUSY;
    }
    return UERR_OK;
}

/* ---- input ------------------------------------------------------------------ */

/* Room for at least `more` bytes of plaintext in s->in. The buffer holds at
 * most one unfinished frame (capped at PEER_FRAME_MAX on its header) plus
 * one read, so it never grows past about twice the frame cap. */
static uerr session_in_reserve(session *s, size_t more)
{
    if (s->incap - s->inlen >= more)
        return UERR_OK;
    size_t nc = s->incap ? s->incap : 131072;
    while (nc - s->inlen < more)
        nc *= 2;
    char *nb = realloc(s->in, nc);
    if (!nb)
        return UERR_NOMEM;
    s->in = nb;
    s->incap = nc;
    return UERR_OK;
}

/* Cut s->in into frames and dispatch each one. */
static uerr session_frames(session *s)
{
    const uint8_t *payload;
    size_t plen, consumed, off = 0;
    frame_status st = FRAME_NEED_MORE;
    uerr rc = UERR_OK;
    while (s->state != S_CLOSING &&
           (st = frame_parse(&payload, &plen, &consumed, NULL, (uint8_t *)s->in + off,
                             s->inlen - off, PEER_FRAME_MAX)) == FRAME_READY) {
        rc = sync_on_message(s, (const char *)payload, plen);
        off += consumed;
    }
    if (s->state == S_CLOSING)
        return rc != UERR_OK ? rc : UERR_BUSY;
    if (st == FRAME_TOO_BIG || st == FRAME_EMPTY) {
        /* refused on the 4 header bytes, before anything is allocated */
        sync_send_error(s, "frame too large or empty");
        session_close(s, "protocol error: bad frame");
        return UERR_PEER;
    }
    memmove(s->in, s->in + off, s->inlen - off);
    s->inlen -= off;
    return UERR_OK;
}

uerr session_input(session *s, const char *plain, size_t len)
{
    if (s->state == S_CLOSING)
        return UERR_BUSY;
    if (session_in_reserve(s, len) != UERR_OK) {
        session_close(s, "out of memory");
        return UERR_NOMEM;
    }
    memcpy(s->in + s->inlen, plain, len);
    s->inlen += len;
    return session_frames(s);
}

/* Decrypted bytes -> frames -> messages. */
static void session_drain(session *s)
{
    while (s->state != S_CLOSING) {
        if (session_in_reserve(s, 65536) != UERR_OK) {
            session_close(s, "out of memory");
            return;
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
        if (session_frames(s) != UERR_OK)
            return;
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

/* The TLS handshake finished: find the peer by its key, send HELLO. */
static void session_handshake_done(session *s)
{
    const char *fpr = tls_conn_peer_fingerprint(s->tls);
    if (!s->ps) {
        s->ps = peer_by_fpr(s->p, fpr);
        if (!s->ps) { /* the pin callback let it through; it was just removed */
            session_close(s, "peer no longer pinned");
            return;
        }
    }
    s->state = S_HELLO;
    sync_send_hello(s);
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
    s->last_rx = clock_mono_ms();
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
        if (h == 0 || s->state == S_CLOSING)
            return;
        session_handshake_done(s);
    }
    session_drain(s);
    if (s->state == S_LIVE && s->out)
        session_pack_pump(s);
}

/* ---- close ------------------------------------------------------------------- */

/* The peer's side of a close: log, note why, answer a waiting sync,
 * schedule the next dial. */
static void session_close_peer(session *s, sstate was, const char *why)
{
    peers *p = s->p;
    peer_state *ps = s->ps;
    if (!ps) {
        log_msg(LOG_INFO, "incoming connection refused: %s", why ? why : "closed");
        return;
    }
    if (ps->s != s)
        return;
    ps->s = NULL;
    if (was == S_LIVE)
        log_msg(LOG_INFO, "peer %s: disconnected: %s", ps->conf.name, why);
    else
        log_msg(LOG_INFO, "peer %s: connection failed: %s", ps->conf.name, why);
    snprintf(ps->last_error, sizeof ps->last_error, "%s", why ? why : "closed");
    if (ps->sync_state == SYNC_PENDING) {
        ps->sync_ack = 0;
        sync_peer_done(ps, why);
    }
    if (!p->closing && !ps->removed && !s->io)
        peer_schedule(ps, 0);
}

void session_close(session *s, const char *why)
{
    peers *p = s->p;
    if (s->state == S_CLOSING)
        return;
    sstate was = s->state;
    s->state = S_CLOSING;
    if (!s->io && s->tls && was >= S_HELLO && !s->write_failed) {
        tls_conn_shutdown(s->tls);
        session_flush(s);
    }
    session_close_peer(s, was, why);
    for (session **pp = &p->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (s->io) {
        s->io->closed(s->io_arg, why ? why : "closed");
    } else {
        uv_read_stop((uv_stream_t *)&s->tcp);
        uv_close((uv_handle_t *)&s->timer, handle_closed);
        uv_close((uv_handle_t *)&s->tcp, handle_closed);
    }
    peers_snapshot(p);
}

/* ---- deadlines and keepalive ------------------------------------------------ */

int session_want_stalled(const session *s, uint64_t now)
{
    uint64_t stall_ms = (uint64_t)s->p->cfg->want_stall_seconds * 1000;
    assert(stall_ms > 0);
    /* no deadline on the whole answer: only on the time since it last progressed */
    return s->want_id && now > s->want_progress && now - s->want_progress > stall_ms;
}

static void on_session_timer(uv_timer_t *t)
{
    session *s = t->data;
    uint64_t now = clock_mono_ms();
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
    if (session_want_stalled(s, now)) {
        char why[160];
        snprintf(why, sizeof why,
                 "the peer's answer to a WANT made no progress for %u s ([sync] "
                 "want_stall_seconds)",
                 s->p->cfg->want_stall_seconds);
        session_close(s, why);
        return;
    }
    if (s->state == S_LIVE && now - s->last_tx > PING_MS)
        sync_send_simple(s, "ping");
    take_echo_tick(s);
}

/* ---- creation ---------------------------------------------------------------- */

static session *session_alloc(peers *p, int outbound, peer_state *ps)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = p;
    s->ps = ps;
    s->outbound = outbound;
    s->pack_fd = -1;
    s->started = s->last_rx = s->last_tx = clock_mono_ms();
    return s;
}

static void session_link(session *s)
{
    s->next = s->p->sessions;
    s->p->sessions = s;
    s->p->open++;
}

session *session_new(peers *p, int outbound, peer_state *ps)
{
    session *s = session_alloc(p, outbound, ps);
    if (!s)
        return NULL;
    s->tls = tls_conn_new(p->tls, !outbound, outbound ? ps->conf.fingerprint : NULL);
    if (!s->tls) {
        free(s);
        return NULL;
    }
    s->state = outbound ? S_CONNECTING : S_TLS;
    uv_tcp_init(p->loop, &s->tcp);
    uv_timer_init(p->loop, &s->timer);
    s->tcp.data = s->timer.data = s;
    s->handles = 2;
    s->refs = 2;
    uv_timer_start(&s->timer, on_session_timer, 1000, 1000);
    session_link(s);
    return s;
}

session *session_new_detached(peers *p, peer_state *ps, const session_io *io, void *io_arg)
{
    assert(io && io->send && io->closed);
    session *s = session_alloc(p, 0, ps);
    if (!s)
        return NULL;
    s->io = io;
    s->io_arg = io_arg;
    s->state = S_HELLO;
    s->refs = 1; /* dropped by session_release */
    if (ps)
        ps->s = s;
    session_link(s);
    return s;
}

void session_release(session *s)
{
    assert(s->io);
    session_close(s, "released");
    session_unref(s);
}

/* ---- dialling ----------------------------------------------------------------- */

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
    int e = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (e != 0)
        session_close(s, uv_strerror(e));
    else if (tls_conn_handshake(s->tls) < 0)
        session_close(s, tls_conn_error(s->tls));
    else
        session_flush(s);
    session_unref(s);
}

uerr session_dial(session *s, const struct sockaddr *addr)
{
    uv_connect_t *c = malloc(sizeof *c);
    if (!c) {
        session_close(s, "out of memory");
        return UERR_NOMEM;
    }
    c->data = s;
    s->refs++;
    int e = uv_tcp_connect(c, &s->tcp, addr, on_connected);
    if (e != 0) {
        free(c);
        s->refs--;
        session_close(s, uv_strerror(e));
        return UERR_IO;
    }
    return UERR_OK;
}

uerr session_accept(session *s, uv_stream_t *server)
{
    int e = uv_accept(server, (uv_stream_t *)&s->tcp);
    if (e == 0) {
        uv_tcp_nodelay(&s->tcp, 1);
        e = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    }
    if (e != 0) {
        session_close(s, "accept failed");
        return UERR_IO;
    }
    return UERR_OK;
}
