/* test_sync.c - the sync state machine (daemon/net/sync.c) driven with
 * in-memory frames: no socket, no TLS, no store. A detached session sends
 * its frames to a buffer here and hands its store jobs to this test, which
 * finishes them with the outcome it wants. Checks PROTOCOL.md section 6.1
 * (what each state allows) and section 9 (what the peer is told). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/net/net_internal.h"
#include "daemon/util/clock.h"
#include "proto/frame.h"
#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define OID_C "cccccccccccccccccccccccccccccccccccccccc"
#define PEER_FPR "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct {
    squeue_work_fn run;
    squeue_done_fn done;
    void *job;
} captured_job;

typedef struct {
    uv_loop_t loop;
    config cfg;
    peers *p;
    peer_state *ps;
    session *s;
    char sent[16][64];    /* the "t" of each frame sent, in order */
    char errors[16][200]; /* the "msg" of each ERROR sent */
    int nsent, nerrors;
    int fail_send;
    int closed;
    char why[200];
    captured_job jobs[8];
    int njobs;
} fx;

/* ---- the detached transport ---------------------------------------------------- */

static int io_send(void *arg, const void *frame, size_t len)
{
    fx *f = arg;
    uint32_t n;
    msgpack_unpacked u;
    if (f->fail_send)
        return -1;
    assert_true(len > FRAME_HEADER_LEN);
    const unsigned char *b = frame;
    n = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    assert_int_equal(n, len - FRAME_HEADER_LEN); /* one whole frame per call */
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, (const char *)b + FRAME_HEADER_LEN, n), 0);
    char *t = msg_get_str(&u.data, "t");
    assert_non_null(t);
    assert_true(f->nsent < 16);
    snprintf(f->sent[f->nsent++], sizeof f->sent[0], "%s", t);
    if (strcmp(t, "error") == 0) {
        char *m = msg_get_str(&u.data, "msg");
        snprintf(f->errors[f->nerrors++], sizeof f->errors[0], "%s", m ? m : "");
        free(m);
    }
    free(t);
    msgpack_unpacked_destroy(&u);
    return 0;
}

static void io_closed(void *arg, const char *why)
{
    fx *f = arg;
    f->closed++;
    snprintf(f->why, sizeof f->why, "%s", why);
}

static int io_submit(void *arg, squeue_work_fn run, squeue_done_fn done, void *job)
{
    fx *f = arg;
    assert_true(f->njobs < 8);
    f->jobs[f->njobs++] = (captured_job){run, done, job};
    return 0;
}

static const session_io test_io = {io_send, io_closed, io_submit};

/* Finish captured job i as if the store queue had run it (or cancelled). */
static void job_finish(fx *f, int i, int cancelled)
{
    captured_job j = f->jobs[i];
    assert_non_null(j.job);
    f->jobs[i].job = NULL;
    j.done(j.job, cancelled);
}

/* ---- fixture ------------------------------------------------------------------- */

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    config_init(&f->cfg);
    f->cfg.node = "alpha-01";
    f->cfg.office = "yinzhou";
    assert_int_equal(peers_new(&f->p, &f->loop, NULL, NULL, NULL, NULL, &f->cfg, err, sizeof err),
                     UERR_OK);
    config_peer cp = {"beta-01", "127.0.0.1:1", PEER_FPR};
    f->ps = peer_add_state(f->p, &cp);
    assert_non_null(f->ps);
    f->s = session_new_detached(f->p, f->ps, &test_io, f);
    assert_non_null(f->s);
    assert_int_equal(f->s->state, S_HELLO);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    for (int i = 0; i < f->njobs; i++)
        if (f->jobs[i].job)
            job_finish(f, i, 1);
    session_release(f->s);
    peers_close(f->p, NULL, NULL);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* ---- frames in ------------------------------------------------------------------ */

typedef struct {
    msgpack_sbuffer b;
    msgpack_packer pk;
} msgbuf;

static void msg_begin(msgbuf *m, const char *t, size_t more)
{
    msgpack_sbuffer_init(&m->b);
    msgpack_packer_init(&m->pk, &m->b, msgpack_sbuffer_write);
    msgpack_pack_map(&m->pk, 1 + more);
    msg_pack_kv_str(&m->pk, "t", t);
}

/* Frame the message and feed it; returns session_input's result. */
static uerr msg_feed(fx *f, msgbuf *m)
{
    char *frame = malloc(FRAME_HEADER_LEN + m->b.size);
    assert_non_null(frame);
    frame_header_put((uint8_t *)frame, (uint32_t)m->b.size);
    memcpy(frame + FRAME_HEADER_LEN, m->b.data, m->b.size);
    uerr rc = session_input(f->s, frame, FRAME_HEADER_LEN + m->b.size);
    free(frame);
    msgpack_sbuffer_destroy(&m->b);
    return rc;
}

static void pack_heads_of(msgpack_packer *pk, const char *oid)
{
    msg_pack_str(pk, "heads");
    msgpack_pack_map(pk, 1);
    msg_pack_kv_str(pk, "beta-01", oid);
}

static uerr feed_hello(fx *f)
{
    msgbuf m;
    msg_begin(&m, "hello", 4);
    msg_pack_kv_int(&m.pk, "v", 1);
    msg_pack_kv_str(&m.pk, "node", "beta-01");
    msg_pack_kv_str(&m.pk, "office", "haishu");
    pack_heads_of(&m.pk, OID_A);
    return msg_feed(f, &m);
}

static uerr feed_heads(fx *f, const char *oid)
{
    msgbuf m;
    msg_begin(&m, "heads", 1);
    pack_heads_of(&m.pk, oid);
    return msg_feed(f, &m);
}

static uerr feed_want(fx *f, uint32_t id)
{
    msgbuf m;
    msg_begin(&m, "want", 3);
    msg_pack_kv_int(&m.pk, "id", id);
    msg_pack_str(&m.pk, "want");
    msgpack_pack_array(&m.pk, 1);
    msg_pack_str(&m.pk, OID_B);
    msg_pack_str(&m.pk, "have");
    msgpack_pack_array(&m.pk, 0);
    return msg_feed(f, &m);
}

/* A WANT with a given id (any integer) and want entry. */
static uerr feed_want_raw(fx *f, int64_t id, const char *oid)
{
    msgbuf m;
    msg_begin(&m, "want", 3);
    msg_pack_str(&m.pk, "id");
    msgpack_pack_int64(&m.pk, id);
    msg_pack_str(&m.pk, "want");
    msgpack_pack_array(&m.pk, 1);
    msg_pack_str(&m.pk, oid);
    msg_pack_str(&m.pk, "have");
    msgpack_pack_array(&m.pk, 0);
    return msg_feed(f, &m);
}

static uerr feed_simple(fx *f, const char *t)
{
    msgbuf m;
    msg_begin(&m, t, 0);
    return msg_feed(f, &m);
}

/* HELLO in, the session is live and its take-in (plan) job submitted. */
static void go_live(fx *f)
{
    assert_int_equal(feed_hello(f), UERR_OK);
    assert_int_equal(f->s->state, S_LIVE);
    assert_int_equal(f->njobs, 1);
    assert_ptr_equal(f->jobs[0].done, take_done);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_hello_then_heads(void **state)
{
    fx *f = *state;
    go_live(f);
    assert_string_equal(f->ps->office, "haishu");
    assert_int_equal(f->closed, 0);
    /* a HEADS while the HELLO's take-in runs waits: only the newest counts */
    assert_int_equal(feed_heads(f, OID_B), UERR_OK);
    assert_int_equal(f->njobs, 1);
    assert_true(f->s->has_next);
    /* the first take-in finishes (nothing lacked): the waiting one starts */
    job_finish(f, 0, 0);
    assert_int_equal(f->njobs, 2);
    assert_ptr_equal(f->jobs[1].done, take_done);
    take_job *j = f->jobs[1].job;
    assert_int_equal(j->nrefs, 1);
    assert_string_equal(j->refs[0].oid, OID_B);
    assert_int_equal(f->s->state, S_LIVE);
    assert_int_equal(f->nerrors, 0);
}

/* Our heads in memory (what the store's branches were after its last
 * job): n pairs of name, oid. */
static void heads_set(fx *f, size_t n, ...)
{
    va_list ap;
    store_ref *h = calloc(n + 1, sizeof *h);
    assert_non_null(h);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        snprintf(h[i].name, sizeof h[i].name, "%s", va_arg(ap, const char *));
        snprintf(h[i].oid, sizeof h[i].oid, "%s", va_arg(ap, const char *));
    }
    va_end(ap);
    free(f->p->heads);
    f->p->heads = h;
    f->p->nheads = n;
}

/* Echoes: heads we have cost no store job; heads that only move a branch
 * copy to a commit we hold wait for the session's tick; anything else is
 * taken in at once. */
static void test_echo_no_job(void **state)
{
    fx *f = *state;
    heads_set(f, 2, "alpha-01", OID_B, "beta-01", OID_A);
    assert_int_equal(feed_hello(f), UERR_OK); /* beta-01 at OID_A: as ours */
    assert_int_equal(f->s->state, S_LIVE);
    assert_int_equal(f->njobs, 0);
    assert_true(f->ps->last_sync > 0); /* `unionctl peers`: in step, as after a take-in */
    assert_int_equal(feed_heads(f, OID_B), UERR_OK); /* our own head: a copy moves */
    assert_int_equal(f->njobs, 0);
    assert_non_null(f->s->echo_refs);
    take_echo_tick(f->s);
    assert_int_equal(f->njobs, 1);
    take_job *j = f->jobs[0].job;
    assert_ptr_equal(f->jobs[0].done, take_done);
    assert_string_equal(j->refs[0].oid, OID_B);
    assert_null(f->s->echo_refs);
    /* a commit we do not hold: taken in (after the running job) */
    assert_int_equal(feed_heads(f, OID_C), UERR_OK);
    assert_true(f->s->has_next);
    job_finish(f, 0, 0);
    assert_int_equal(f->njobs, 2);
    j = f->jobs[1].job;
    assert_string_equal(j->refs[0].oid, OID_C);
    assert_int_equal(f->nerrors, 0);
}

/* An announcement naming a commit that was our head a change ago (a copy
 * of the peer's lagging behind ours: what its empty pushed packs name) is
 * an echo too: no store job at once, taken in at the tick. A commit never
 * ours still goes at once. */
static void test_echo_recent_head(void **state)
{
    fx *f = *state;
    heads_set(f, 2, "alpha-01", OID_A, "beta-01", OID_A);
    sync_announce(f->p); /* no live session yet: only remembered */
    heads_set(f, 2, "alpha-01", OID_B, "beta-01", OID_B);
    sync_announce(f->p);
    assert_true(heads_recent(f->p, OID_A));
    assert_false(heads_recent(f->p, OID_C));
    assert_int_equal(feed_hello(f), UERR_OK); /* beta-01 at OID_A: an older head of ours */
    assert_int_equal(f->s->state, S_LIVE);
    assert_int_equal(f->njobs, 0);
    assert_non_null(f->s->echo_refs);
    assert_int_equal(feed_heads(f, OID_C), UERR_OK);
    assert_int_equal(f->njobs, 1);
    assert_null(f->s->echo_refs);
    assert_int_equal(f->nerrors, 0);
}

/* The remembered heads are the last RECENT_HEADS distinct ones. */
static void test_recent_heads_bounded(void **state)
{
    fx *f = *state;
    char oid[41];
    for (int i = 0; i <= RECENT_HEADS; i++) {
        snprintf(oid, sizeof oid, "%040d", i);
        heads_set(f, 1, "alpha-01", oid);
        sync_announce(f->p);
        sync_announce(f->p); /* the same heads again: not a second slot */
    }
    assert_int_equal((int)f->p->nrecent, RECENT_HEADS);
    snprintf(oid, sizeof oid, "%040d", 0);
    heads_set(f, 1, "alpha-01", OID_C);
    assert_false(heads_recent(f->p, oid)); /* the oldest went */
    snprintf(oid, sizeof oid, "%040d", 1);
    assert_true(heads_recent(f->p, oid));
}

/* A push names its heads; our branch copy catching up to the commit just
 * pushed (the peer has not announced it yet) is announced without
 * building and sending the same pack again. */
static void test_push_not_repeated(void **state)
{
    fx *f = *state;
    heads_set(f, 1, "alpha-01", OID_B);
    go_live(f);
    job_finish(f, 0, 0);
    sync_announce(f->p);
    assert_int_equal(f->njobs, 2); /* the push's pack is built */
    job_finish(f, 1, 0);
    assert_int_equal((int)f->ps->pushes_out, 1);
    int sent = f->nsent;
    heads_set(f, 2, "alpha-01", OID_B, "gamma-01", OID_B);
    sync_announce(f->p);
    assert_int_equal(f->njobs, 2); /* no second pack */
    assert_int_equal(f->nsent, sent + 1);
    assert_string_equal(f->sent[sent], "heads");
    assert_int_equal((int)f->ps->pushes_out, 1);
}

static void test_wrong_state_hello(void **state)
{
    fx *f = *state;
    /* HEADS is valid, but not before HELLO: closed, without an ERROR */
    assert_int_equal(feed_heads(f, OID_A), UERR_PEER);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->nsent, 0);
    assert_int_equal(f->njobs, 0);
    /* and nothing more is read from a closed session */
    assert_int_equal(feed_hello(f), UERR_BUSY);
    assert_int_equal(f->njobs, 0);
}

static void test_wrong_state_live(void **state)
{
    fx *f = *state;
    go_live(f);
    /* a second HELLO after the handshake: ERROR `unknown message type` */
    assert_int_equal(feed_hello(f), UERR_PEER);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "unknown message type");
}

static void test_second_want_refused(void **state)
{
    fx *f = *state;
    go_live(f);
    assert_int_equal(feed_want(f, 7), UERR_OK);
    assert_int_equal(f->njobs, 2);
    assert_ptr_equal(f->jobs[1].done, build_done);
    assert_true(f->s->building);
    /* one WANT of the peer's in flight: the second is refused */
    assert_int_equal(feed_want(f, 8), UERR_PEER);
    assert_int_equal(f->njobs, 2);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "a WANT while a PACK is still being sent");
}

static void test_malformed_want(void **state)
{
    fx *f = *state;
    go_live(f);
    assert_int_equal(feed_want(f, 0), UERR_PEER); /* id 0 is not an id */
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "malformed WANT");
    assert_false(f->s->building);
}

/* Ids are 1..2^32-1 and OIDs lowercase: anything else is malformed, never
 * truncated or folded. */
static void test_want_id_and_oid_strict(void **state)
{
    fx *f = *state;
    static const struct {
        int64_t id;
        const char *oid;
    } bad[] = {{-1, OID_B}, {4294967296ll, OID_B}, {7, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        teardown(state);
        setup(state);
        f = *state;
        go_live(f);
        assert_int_equal(feed_want_raw(f, bad[i].id, bad[i].oid), UERR_PEER);
        assert_int_equal(f->nerrors, 1);
        assert_string_equal(f->errors[0], "malformed WANT");
        assert_false(f->s->building);
    }
}

static void test_unknown_type(void **state)
{
    fx *f = *state;
    go_live(f);
    assert_int_equal(feed_simple(f, "frobnicate"), UERR_PEER);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "unknown message type");
}

static void test_no_type(void **state)
{
    fx *f = *state;
    go_live(f);
    msgbuf m;
    msgpack_sbuffer_init(&m.b);
    msgpack_packer_init(&m.pk, &m.b, msgpack_sbuffer_write);
    msgpack_pack_map(&m.pk, 1);
    msg_pack_kv_int(&m.pk, "x", 1);
    assert_int_equal(msg_feed(f, &m), UERR_PEER);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->nsent, 0); /* closed without an ERROR */
}

static void test_oversize_frame(void **state)
{
    fx *f = *state;
    go_live(f);
    uint8_t hdr[FRAME_HEADER_LEN];
    /* refused on the header alone: no payload follows, none is awaited */
    frame_header_put(hdr, PEER_FRAME_MAX + 1);
    assert_int_equal(session_input(f->s, (const char *)hdr, sizeof hdr), UERR_PEER);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "frame too large or empty");
}

static void test_frame_at_cap_waits(void **state)
{
    fx *f = *state;
    go_live(f);
    uint8_t hdr[FRAME_HEADER_LEN];
    frame_header_put(hdr, PEER_FRAME_MAX); /* the cap itself is allowed */
    assert_int_equal(session_input(f->s, (const char *)hdr, sizeof hdr), UERR_OK);
    assert_int_equal(f->s->state, S_LIVE);
}

static void test_ping_pong(void **state)
{
    fx *f = *state;
    go_live(f);
    assert_int_equal(feed_simple(f, "ping"), UERR_OK);
    assert_int_equal(f->nsent, 1);
    assert_string_equal(f->sent[0], "pong");
    assert_int_equal(feed_simple(f, "pong"), UERR_OK);
    assert_int_equal(f->nsent, 1);
}

static void test_failed_write_closes(void **state)
{
    fx *f = *state;
    go_live(f);
    f->fail_send = 1;
    /* the PONG cannot go: a local failure, the session closes */
    assert_int_equal(feed_simple(f, "ping"), UERR_IO);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_string_equal(f->why, "write failed");
}

/* A take-in that fails with a local error (disk full): the peer is not told
 * its data was refused; `peers` shows a local error. */
static void test_local_error_not_blamed(void **state)
{
    fx *f = *state;
    go_live(f);
    take_job *j = f->jobs[0].job;
    j->rc = UERR_IO;
    snprintf(j->err, sizeof j->err, "writing objects: No space left on device");
    job_finish(f, 0, 0);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->nerrors, 0);
    assert_int_equal(strncmp(f->why, "local error: ", 13), 0);
    assert_int_equal(strncmp(f->ps->last_error, "local error: ", 13), 0);
}

static void test_peer_error_refused(void **state)
{
    fx *f = *state;
    go_live(f);
    take_job *j = f->jobs[0].job;
    j->rc = UERR_PEER;
    snprintf(j->err, sizeof j->err, "bundle holds a file outside the record layout: README");
    job_finish(f, 0, 0);
    assert_int_equal(f->s->state, S_CLOSING);
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "your data was refused; see the receiver's log");
}

/* We lack the announced commit: one WANT goes out; a PACK must answer it. */
static void test_want_sent_and_pack_checked(void **state)
{
    fx *f = *state;
    go_live(f);
    take_job *j = f->jobs[0].job;
    j->planned_only = 1;
    j->missing = calloc(2, sizeof *j->missing);
    j->missing[0] = strdup(OID_A);
    j->nmissing = 1;
    job_finish(f, 0, 0);
    assert_int_equal(f->nsent, 1);
    assert_string_equal(f->sent[0], "want");
    assert_true(f->s->want_id != 0);
    /* a PACK for another id answers no WANT */
    msgbuf m;
    msg_begin(&m, "pack", 3);
    msg_pack_kv_int(&m.pk, "id", f->s->want_id + 1);
    msg_pack_str(&m.pk, "data");
    msgpack_pack_bin(&m.pk, 4);
    msgpack_pack_bin_body(&m.pk, "PACK", 4);
    msg_pack_kv_bool(&m.pk, "last", 0);
    assert_int_equal(msg_feed(f, &m), UERR_PEER);
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "PACK that answers no WANT");
}

/* Drive f to a WANT of ours in flight (we lack OID_A). */
static void want_in_flight(fx *f)
{
    go_live(f);
    take_job *j = f->jobs[0].job;
    j->planned_only = 1;
    j->missing = calloc(2, sizeof *j->missing);
    j->missing[0] = strdup(OID_A);
    j->nmissing = 1;
    job_finish(f, 0, 0);
    assert_string_equal(f->sent[0], "want");
    assert_true(f->s->want_id != 0);
}

/* One PACK chunk answering our WANT: a pack header announcing `objects`,
 * then filler. */
static uerr feed_chunk(fx *f, uint32_t objects)
{
    unsigned char d[64] = "PACK\0\0\0\2";
    d[8] = (unsigned char)(objects >> 24);
    d[9] = (unsigned char)(objects >> 16);
    d[10] = (unsigned char)(objects >> 8);
    d[11] = (unsigned char)objects;
    msgbuf m;
    msg_begin(&m, "pack", 3);
    msg_pack_kv_int(&m.pk, "id", f->s->want_id);
    msg_pack_str(&m.pk, "data");
    msgpack_pack_bin(&m.pk, sizeof d);
    msgpack_pack_bin_body(&m.pk, d, sizeof d);
    msg_pack_kv_bool(&m.pk, "last", 0);
    return msg_feed(f, &m);
}

/* The answer to a WANT has no whole deadline, only a progress one: a
 * sender that pings while it builds for minutes, then sends a chunk every
 * 30 s for 150 s (longer than the 120 s the whole answer once had), is
 * never given up; one that stops for want_stall_seconds is. */
static void test_want_progress_deadline(void **state)
{
    fx *f = *state;
    want_in_flight(f);
    session *s = f->s;
    const uint64_t stall = (uint64_t)f->cfg.want_stall_seconds * 1000;
    assert_int_equal(stall, 60000); /* the default */
    assert_int_equal(session_want_stalled(s, s->want_progress), 0);
    assert_int_equal(session_want_stalled(s, s->want_progress + stall + 1), 1);
    /* the sender builds the pack for 5 minutes, pinging every 30 s */
    for (int k = 0; k < 10; k++) {
        s->want_progress -= 30000; /* 30 s pass without a byte of the pack */
        assert_int_equal(session_want_stalled(s, clock_mono_ms()), 0); /* progress resets */
        assert_int_equal(feed_simple(f, "ping"), UERR_OK);
    }
    /* then the pack: a chunk every 30 s for 150 s */
    for (int k = 0; k < 5; k++) {
        s->want_progress -= 30000;
        assert_int_equal(session_want_stalled(s, clock_mono_ms()), 0); /* progress resets */
        assert_int_equal(feed_chunk(f, 3), UERR_OK);
    }
    assert_int_equal(f->closed, 0);
    assert_int_equal(f->nerrors, 0);
    assert_true(s->packlen == 5 * 64);
    /* 15 minutes since the WANT, and the answer is alive */
    assert_int_equal(session_want_stalled(s, clock_mono_ms()), 0);
    uint64_t last = s->want_progress;
    assert_int_equal(session_want_stalled(s, last + stall), 0);
    assert_int_equal(session_want_stalled(s, last + stall + 1), 1);
    /* once the pack flows, a PING alone is no progress of the answer */
    s->want_progress -= 30000;
    last = s->want_progress;
    assert_int_equal(feed_simple(f, "ping"), UERR_OK);
    assert_true(s->want_progress == last);
}

/* The object count in the pack header, over [sync] max_take_in_objects:
 * refused at once, naming the key; at the limit: taken. */
static void test_take_in_objects_limit(void **state)
{
    fx *f = *state;
    f->cfg.max_take_in_objects = 50;
    want_in_flight(f);
    assert_int_equal(feed_chunk(f, 50), UERR_OK);
    pack_spool_drop(f->s);
    assert_int_equal(feed_chunk(f, 51), UERR_PEER);
    assert_int_equal(f->nerrors, 1);
    assert_string_equal(f->errors[0], "the pack announces 51 objects, over the take-in limit of 50 "
                                      "([sync] max_take_in_objects)");
    assert_int_equal(f->closed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_then_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_state_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_state_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_want_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_want, setup, teardown),
        cmocka_unit_test_setup_teardown(test_want_id_and_oid_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_at_cap_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_error_not_blamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_error_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_want_sent_and_pack_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_want_progress_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_in_objects_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_no_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_not_repeated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_recent_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent_heads_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
