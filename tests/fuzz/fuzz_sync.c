/* fuzz_sync.c - fuzz target for the peer messages (daemon/net/sync.c's
 * table and the decoders behind it: heads, ids, WANT lists, PACK chunks,
 * the pushed pack of a HEADS, DONE): what a pinned peer can send once its
 * HELLO was accepted. The input is a byte stream cut into frames (4-byte
 * length, payload) with the protocol's cap, as a connection would; each
 * payload goes through sync_on_message on a detached session (no socket,
 * no TLS, no store) until the session closes. Store jobs the messages start
 * (take-ins, pack builds, pushed packs spooled to $TMPDIR) are finished as
 * cancelled after each message, which runs their done paths.
 *
 * Checks besides "no crash, no leak": a message that closed the session
 * reported it (sync_on_message returns non-OK exactly then), and nothing
 * is sent after the close. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/net/net_internal.h"
#include "daemon/util/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define PEER_FPR "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CAP (1u << 20)

typedef struct {
    squeue_work_fn run;
    squeue_done_fn done;
    void *job;
} job;

typedef struct {
    job jobs[64];
    int njobs;
    int closed;
    int sent_after_close;
} fx;

static int io_send(void *arg, const void *frame, size_t len)
{
    fx *f = arg;
    (void)frame;
    (void)len;
    if (f->closed)
        f->sent_after_close = 1;
    return 0;
}

static void io_closed(void *arg, const char *why)
{
    fx *f = arg;
    (void)why;
    f->closed = 1;
}

static int io_submit(void *arg, squeue_work_fn run, squeue_done_fn done, void *j)
{
    fx *f = arg;
    if (f->njobs >= (int)(sizeof f->jobs / sizeof f->jobs[0]))
        return -1; /* the queue is closing: the session must cope */
    f->jobs[f->njobs++] = (job){run, done, j};
    return 0;
}

static const session_io io = {io_send, io_closed, io_submit};

/* Cancel every captured job (their done may submit more: loop). */
static void jobs_cancel(fx *f)
{
    while (f->njobs > 0) {
        job j = f->jobs[--f->njobs];
        j.done(j.job, 1);
    }
}

static void hello(session *s)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msg_pack_kv_str(&pk, "t", "hello");
    msg_pack_kv_int(&pk, "v", 1);
    msg_pack_kv_str(&pk, "node", "beta-01");
    msg_pack_kv_str(&pk, "office", "haishu");
    msg_pack_str(&pk, "heads");
    msgpack_pack_map(&pk, 0);
    if (sync_on_message(s, b.data, b.size) != UERR_OK)
        abort(); /* a valid HELLO is taken */
    msgpack_sbuffer_destroy(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    uv_loop_t loop;
    config cfg;
    peers *p = NULL;
    fx f = {0};
    char err[256];
    if (!quiet) {
        log_level_set(LOG_ERR);
        quiet = 1;
    }
    if (uv_loop_init(&loop) != 0)
        abort();
    config_init(&cfg);
    cfg.node = "alpha-01";
    cfg.office = "yinzhou";
    cfg.max_pack_bytes = 1 << 20; /* the budget checks on small inputs */
    cfg.max_take_in_objects = 50;
    if (peers_new(&p, &loop, NULL, NULL, NULL, NULL, &cfg, err, sizeof err) != UERR_OK)
        abort();
    config_peer cp = {"beta-01", "127.0.0.1:1", PEER_FPR};
    peer_state *ps = peer_add_state(p, &cp);
    session *s = ps ? session_new_detached(p, ps, &io, &f) : NULL;
    if (!s)
        abort();
    hello(s);
    jobs_cancel(&f);
    size_t off = 0;
    while (off < size && s->state != S_CLOSING) {
        const uint8_t *pl;
        size_t plen, used, need;
        frame_status st = frame_parse(&pl, &plen, &used, &need, data + off, size - off, CAP);
        if (st != FRAME_READY)
            break;
        off += used;
        uerr rc = sync_on_message(s, (const char *)pl, plen);
        if ((rc != UERR_OK) != (s->state == S_CLOSING))
            abort();
        jobs_cancel(&f);
    }
    if (f.sent_after_close)
        abort();
    jobs_cancel(&f);
    session_release(s);
    peers_close(p, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
