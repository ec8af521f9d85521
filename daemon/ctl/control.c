/* control.c - control socket server (see control.h): clients, frames,
 * dispatch through the op table, replies.
 *
 * Two queues of jobs: the store queue (the one writer, shared with the
 * peers) and the read queue, which this file owns: the op table's reader
 * rows run there, on the libuv pool beside the writer, with a store
 * handle of their own (daemon/store/readview.h) and the index read lock
 * (optable.h). So show, list, stats, log, status ... never wait behind a
 * write (issue 12).
 *
 * Lifetimes: a client is freed when its handle has closed and no job or
 * loop handler refers to it; a store job whose client went away still runs
 * (a write must not be half done) and its reply is dropped. The read queue
 * and its store handle are freed once every client is gone (nothing can
 * be queued on it any more). Runs on the loop thread only, except job_run
 * and read_run (pool threads), which touch nothing but their job. */
#include "daemon/ctl/control.h"

#include "daemon/ctl/common.h"
#include "daemon/ctl/gcommit.h"
#include "daemon/ctl/optable.h"
#include "daemon/store/readview.h"
#include "daemon/util/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

#include <assert.h>
#include <pthread.h>
#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Frames larger than this go to the store queue without being looked at on
 * the loop thread (imports can be huge; peer requests are tiny). */
#define LOOP_PEEK_MAX (64 * 1024)

typedef struct control_client control_client;

/* What a loop handler's reply handle points to (daemon/reply.h). */
struct reply_to {
    control_client *cl;
};

struct control_client {
    uv_pipe_t pipe;
    control *ctl;
    control_client *prev, *next;
    struct reply_to to; /* to.cl == this client */
    char *buf;          /* bytes read and not yet consumed */
    size_t len, cap;
    int refs; /* 1 for the open handle, 1 per job or handler holding it */
    int closing;
    int closed;   /* the handle's close callback ran */
    int busy;     /* a request of this client is in flight (at most one) */
    int answered; /* the request in flight has been answered */
    /* The clerk's account from the socket's peer credentials: every request
     * of a client on another account than the daemon's carries this name as
     * its "operator", whatever the client claimed. Empty: the daemon's own
     * account, whose claim stands (it can write the store directly). */
    char peer_name[64];
};

typedef struct {
    control_client *cl;
    control *ctl; /* a read job's store handle (read_run) */
    ops_ctx *ops; /* what the worker thread may touch */
    char *req;
    size_t reqlen;
    msgpack_sbuffer reply;
    int read;        /* on the read queue (else the store queue) */
    unsigned queued; /* store-queue jobs ahead of it when it arrived */
} job;

typedef struct {
    uv_write_t req;
    control_client *cl;
    uv_buf_t bufs[2];
    uint8_t header[FRAME_HEADER_LEN];
    msgpack_sbuffer body;
} reply_write;

struct control {
    uv_loop_t *loop;
    uv_pipe_t server;
    squeue *q;
    /* The read queue and the readers' store handle (NULL when the handle
     * could not be opened: reads then go to the store queue, as before).
     * rst is used only by the read queue's job; freed after it drained. */
    squeue *rq;
    store *rst;
    int rq_closing;
    ops_ctx *ops;
    control_loop_fn loop_fn;
    void *loop_arg;
    control_client *clients;
    void (*after_job)(void *);
    void *after_arg;
    int closing;
    int open; /* the server handle + clients not yet freed + the drain timer
                 + the read queue */
    /* Graceful stop (control_close): the requests in flight are answered
     * before their clients close, for at most stop_ms. */
    /* What status says, as the last store job left it: published by the
     * worker at the end of every job, read on the loop thread to answer
     * status without queueing behind writes. */
    uv_timer_t drain_timer;
    int draining; /* the drain timer is running */
    uint64_t drain_started;
    void (*done)(void *);
    void *done_arg;
};

static void read_queue_drained(void *arg);

static void control_maybe_done(control *c)
{
    /* Only the read queue left: no client remains to queue a read, and
     * none runs (each holds its client). Close it; it drains at once. */
    if (c->closing && c->open == 1 && c->rq && !c->rq_closing) {
        c->rq_closing = 1;
        squeue_close(c->rq, read_queue_drained, c); /* may free c */
        return;
    }
    if (c->closing && c->open == 0) {
        assert(c->clients == NULL);
        void (*done)(void *) = c->done;
        void *arg = c->done_arg;
        free(c);
        if (done)
            done(arg);
    }
}

static void read_queue_drained(void *arg)
{
    control *c = arg;
    c->rq = NULL;
    store_free(c->rst); /* no read runs any more */
    c->rst = NULL;
    c->open--;
    control_maybe_done(c);
}

static void client_unref(control_client *cl)
{
    if (--cl->refs > 0)
        return;
    control *c = cl->ctl;
    assert(cl->closed); /* the handle is closed before its memory is freed */
    free(cl->buf);
    free(cl);
    c->open--;
    control_maybe_done(c);
}

static void client_closed(uv_handle_t *h)
{
    control_client *cl = h->data;
    cl->closed = 1;
    client_unref(cl);
}

static void client_close(control_client *cl)
{
    if (cl->closing)
        return;
    cl->closing = 1;
    control *c = cl->ctl;
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        c->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

static void client_read_start(control_client *cl);
static void control_drain_check(control *c);

/* A request of cl is running, or partly received: a graceful stop waits
 * for its answer. */
static int client_in_flight(const control_client *cl)
{
    return (cl->busy && !cl->answered) || cl->len > 0;
}

static void reply_written(uv_write_t *w, int status)
{
    reply_write *rw = (reply_write *)w;
    control_client *cl = rw->cl;
    msgpack_sbuffer_destroy(&rw->body);
    free(rw);
    cl->busy = 0;
    control *c = cl->ctl;
    if (status < 0 || c->closing)
        client_close(cl); /* stopping: answered, so this client is done */
    else if (!cl->closing)
        client_read_start(cl); /* another request may already be buffered */
    if (c->closing)
        control_drain_check(c); /* before the unref: c lives while cl does */
    client_unref(cl);
}

/* Send the answer to the client's request in flight and drop the
 * reference the request held. Takes the buffer's data (answer is left
 * empty). Safe when the client has gone away (the answer is dropped). */
static void client_send(control_client *cl, msgpack_sbuffer *answer)
{
    assert(cl->busy && !cl->answered); /* one answer per request */
    cl->answered = 1;
    if (cl->closing || answer->size > FRAME_CONTROL_MAX) {
        if (!cl->closing)
            client_close(cl);
        msgpack_sbuffer_destroy(answer);
        msgpack_sbuffer_init(answer);
        client_unref(cl);
        return;
    }
    reply_write *rw = calloc(1, sizeof *rw);
    if (!rw) {
        msgpack_sbuffer_destroy(answer);
        msgpack_sbuffer_init(answer);
        client_close(cl);
        client_unref(cl);
        return;
    }
    rw->cl = cl; /* the request's reference moves to the write */
    rw->body = *answer;
    msgpack_sbuffer_init(answer);
    frame_header_put(rw->header, (uint32_t)rw->body.size);
    rw->bufs[0] = uv_buf_init((char *)rw->header, FRAME_HEADER_LEN);
    rw->bufs[1] = uv_buf_init(rw->body.data, (unsigned)rw->body.size);
    if (uv_write(&rw->req, (uv_stream_t *)&cl->pipe, rw->bufs, 2, reply_written) != 0) {
        msgpack_sbuffer_destroy(&rw->body);
        free(rw);
        client_close(cl);
        client_unref(cl);
    }
}

/* reply.send for loop handlers. */
static void reply_to_send(reply_to *to, msgpack_sbuffer *answer)
{
    client_send(to->cl, answer);
}

/* Answer the request in flight with an error, on the loop thread. */
static void client_send_error(control_client *cl, uerr e, const char *msg)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    ctl_reply_error(&pk, e, "%s", msg);
    client_send(cl, &b);
    msgpack_sbuffer_destroy(&b);
}

static void job_run(void *arg)
{
    job *j = arg;
    ctl_env env = {0, NULL, j->queued, &j->req}; /* an import frees j->req early */
    ctl_handle(j->ops, &env, j->req, j->reqlen, &j->reply);
}

/* A write that commits through a batch of its own (gcommit.h): the group
 * commit's durability, the journal's one flush, for merge, resolve, ... */
static void job_run_alone(void *arg)
{
    job *j = arg;
    const char *req = j->req;
    msgpack_sbuffer *out = &j->reply;
    ctl_queue_handle_batch(j->ops, &req, &j->reqlen, &out, 1);
}

/* A run of batchable jobs (add, edit) queued back to back: one group
 * commit (gcommit.h), each job keeping its own reply. */
static void job_run_batch(void **args, size_t n)
{
    const char *reqs[SQUEUE_BATCH_MAX];
    size_t lens[SQUEUE_BATCH_MAX];
    msgpack_sbuffer *outs[SQUEUE_BATCH_MAX];
    job *j = args[0];
    assert(n >= 1 && n <= SQUEUE_BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        job *k = args[i];
        reqs[i] = k->req;
        lens[i] = k->reqlen;
        outs[i] = &k->reply;
    }
    ctl_queue_handle_batch(j->ops, reqs, lens, outs, n);
}

/* The store queue's after hook (squeue_set_after): on its thread, after
 * every job that may have changed the store or the index (this socket's
 * writes, the peers' take-ins, the idle pack join), before any reply
 * about it is sent, so a client's status after its own write sees that
 * write, and the view never goes back. */
static void view_publish(void *arg)
{
    ops_ctx *o = arg;
    ctl_status_view v;
    ctl_status_view_take(&v, o);
    pthread_mutex_lock(&o->view_mu);
    o->view = v;
    pthread_mutex_unlock(&o->view_mu);
}

/* A reader's job (read queue, pool thread): the request with the
 * readers' store handle and the index read lock (optable.c). Publishes no
 * status view: only the store queue does, so the view never goes back. */
static void read_run(void *arg)
{
    job *j = arg;
    ctl_env env = {1, j->ctl->rst, j->queued, NULL};
    ctl_handle(j->ops, &env, j->req, j->reqlen, &j->reply);
}

/* status: answered here, on the loop thread, from the view the store
 * queue's thread published after its last job (view_publish), so it never
 * waits for a thread, a lock or a core behind the writes (issue 12). The
 * view is exact: every change to the store is made by a store-queue job,
 * and the view is taken after each one, before its reply goes out. Peer
 * state comes from the peers' own thread-safe snapshot. */
static void status_on_loop(control_client *cl)
{
    control *c = cl->ctl;
    msgpack_sbuffer b;
    msgpack_packer pk;
    ctl_status_view v;
    pthread_mutex_lock(&c->ops->view_mu);
    v = c->ops->view;
    pthread_mutex_unlock(&c->ops->view_mu);
    /* counted like every request (ctl_handle counts the others) */
    v.requests = __atomic_add_fetch(&c->ops->requests, 1, __ATOMIC_RELAXED);
    v.packs_joined = c->ops->st ? store_packs_joined(c->ops->st) : 0;
    v.queued = squeue_length(c->q);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    ctl_status_pack(&pk, c->ops, &v);
    cl->refs++; /* held by the request until client_send */
    client_send(cl, &b);
    msgpack_sbuffer_destroy(&b);
}

static void job_done(void *arg, int cancelled)
{
    job *j = arg;
    free(j->req);
    if (cancelled) {
        msgpack_sbuffer_destroy(&j->reply);
        if (!j->cl->closing)
            client_close(j->cl);
        client_unref(j->cl);
    } else {
        /* read c before the send: when the control socket is closing, the
         * send may drop the last client and free c (a stop that timed out
         * while a long import ran: heap-use-after-free seen under ASan) */
        control *c = j->cl->ctl;
        void (*after)(void *) = c->closing ? NULL : c->after_job;
        void *after_arg = c->after_arg;
        client_send(j->cl, &j->reply);
        /* a read moved no head: nothing for the peers to announce */
        if (!j->read && after)
            after(after_arg);
    }
    free(j);
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    control_client *cl = h->data;
    (void)suggested;
    size_t want = 64 * 1024, need = 0, pl, consumed;
    const uint8_t *p;
    /* Grow toward the announced frame size, but only as bytes arrive
     * (doubling): a header alone never makes us allocate the whole cap. */
    if (frame_parse(&p, &pl, &consumed, &need, (uint8_t *)cl->buf, cl->len, FRAME_CONTROL_MAX) ==
            FRAME_NEED_MORE &&
        need > cl->len + want) {
        want = need - cl->len;
        if (cl->len > 64 * 1024 && want > cl->len)
            want = cl->len; /* at most double what has arrived */
        else if (cl->len <= 64 * 1024 && want > 1024 * 1024)
            want = 1024 * 1024;
    }
    if (cl->cap - cl->len < want) {
        char *nb = realloc(cl->buf, cl->len + want);
        if (!nb) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        cl->buf = nb;
        cl->cap = cl->len + want;
    }
    *buf = uv_buf_init(cl->buf + cl->len, (unsigned)(cl->cap - cl->len));
}

/* Where dispatch_on_loop sends a request. */
typedef enum { TO_DONE, TO_WRITER, TO_READER } dispatch_to;

/* Where a reader row goes: status is answered here from the view; the
 * others go to the read queue (to the store queue when there is none). */
static dispatch_to reader_row_place(control_client *cl, const char *op)
{
    control *c = cl->ctl;
    if (strcmp(op, "status") == 0 && c->ops->view_on) {
        status_on_loop(cl);
        return TO_DONE;
    }
    return c->rq ? TO_READER : TO_WRITER;
}

/* Look a small request's op up in the op table: a loop-thread row goes to
 * the loop handler (or is refused) and TO_DONE is returned; a reader row
 * TO_READER (or see reader_row_place); everything else TO_WRITER
 * (store-queue rows, large frames that are not looked at here, and
 * anything the store queue answers with an error: malformed requests,
 * unknown ops). */
static dispatch_to dispatch_on_loop(control_client *cl, const char *payload, size_t plen)
{
    control *c = cl->ctl;
    msgpack_unpacked u;
    dispatch_to to = TO_WRITER;
    if (plen > LOOP_PEEK_MAX)
        return TO_WRITER;
    msgpack_unpacked_init(&u);
    char *op = msg_unpack(&u, payload, plen) == 0 ? msg_get_str(&u.data, "op") : NULL;
    const ctl_op *row = op ? ctl_op_find(op) : NULL;
    if (row && row->place == CTL_ON_READER) {
        to = reader_row_place(cl, op);
    } else if (row && row->place == CTL_ON_LOOP) {
        reply r = {reply_to_send, &cl->to};
        to = TO_DONE;
        cl->refs++; /* held by the handler until it answers */
        if (!c->loop_fn || !c->loop_fn(c->loop_arg, op, &u.data, r)) {
            char msg[160];
            snprintf(msg, sizeof msg, "request '%s' is not served by this daemon", op);
            client_send_error(cl, UERR_INTERNAL, msg);
        }
    }
    free(op);
    msgpack_unpacked_destroy(&u);
    return to;
}

static void client_frame_run(control_client *cl, const uint8_t *payload, size_t plen,
                             size_t consumed);

/* Take one complete frame off the client's buffer. */
static void client_take_frame(control_client *cl)
{
    const uint8_t *payload;
    size_t plen, consumed;
    frame_status st = frame_parse(&payload, &plen, &consumed, NULL, (uint8_t *)cl->buf, cl->len,
                                  FRAME_CONTROL_MAX);
    if (st == FRAME_NEED_MORE)
        return;
    if (st != FRAME_READY) {
        log_msg(LOG_WARN, "control client sent a bad frame (%s); closing it",
                st == FRAME_TOO_BIG ? "too large" : "empty");
        client_close(cl);
        return;
    }
    assert(!cl->busy); /* one request in flight per client */
    cl->busy = 1;
    cl->answered = 0;
    uv_read_stop((uv_stream_t *)&cl->pipe);
    msgpack_sbuffer named;
    msgpack_sbuffer_init(&named);
    if (cl->peer_name[0]) {
        msg_map_str_set(&named, (const char *)payload, plen, "operator", cl->peer_name);
        payload = (const uint8_t *)named.data;
        plen = named.size;
    }
    client_frame_run(cl, payload, plen, consumed);
    msgpack_sbuffer_destroy(&named);
}

/* Queue a copy of the request (payload, plen) on the read or the store queue; failing, close cl. */
static void job_push(control_client *cl, const uint8_t *payload, size_t plen, int read)
{
    control *c = cl->ctl;
    job *j = calloc(1, sizeof *j);
    char *req = j ? malloc(plen) : NULL;
    if (!req) {
        free(j);
        client_close(cl);
        return;
    }
    memcpy(req, payload, plen);
    j->cl = cl;
    j->ctl = c;
    j->ops = c->ops;
    j->req = req;
    j->reqlen = plen;
    j->read = read;
    j->queued = squeue_length(c->q);
    msgpack_sbuffer_init(&j->reply);
    cl->refs++;
    int pushed, batch = read ? 0 : ctl_request_batchable(req, plen);
    if (read)
        pushed = squeue_push(c->rq, read_run, job_done, j);
    else if (batch == 1)
        pushed = squeue_push_batchable(c->q, job_run_batch, job_done, j);
    else if (batch == 2)
        pushed = squeue_push(c->q, job_run_alone, job_done, j);
    else
        pushed = squeue_push(c->q, job_run, job_done, j);
    if (pushed != 0) {
        cl->refs--;
        free(req);
        free(j);
        client_close(cl);
    }
}

/* Run one request (payload, plen); the buffer's first consumed bytes are dropped after. */
static void client_frame_run(control_client *cl, const uint8_t *payload, size_t plen,
                             size_t consumed)
{
    dispatch_to to = dispatch_on_loop(cl, (const char *)payload, plen);
    if (to != TO_DONE)
        job_push(cl, payload, plen, to == TO_READER);
    memmove(cl->buf, cl->buf + consumed, cl->len - consumed);
    cl->len -= consumed;
    /* a buffer grown for a large request (an import's CSV): the job has its own copy */
    if (cl->len == 0 && cl->cap > 1024 * 1024) {
        free(cl->buf);
        cl->buf = NULL, cl->cap = 0;
    }
}

static void client_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    control_client *cl = s->data;
    (void)buf;
    if (nread < 0) {
        control *c = cl->ctl;
        client_close(cl);
        if (c->closing)
            control_drain_check(c);
        return;
    }
    cl->len += (size_t)nread;
    if (!cl->busy)
        client_take_frame(cl);
}

static void client_read_start(control_client *cl)
{
    client_take_frame(cl);
    if (!cl->busy && !cl->closing)
        uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_on_read);
}

/* Who is on the other end (SO_PEERCRED): the daemon's own account keeps
 * the operator it names; any other account is named by its user name (or
 * "uid-N" without one). Credentials that cannot be read name the client
 * "unknown" rather than trusting its claim. */
static void client_peer_name(control_client *cl)
{
    struct ucred cr;
    socklen_t crlen = sizeof cr;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&cl->pipe, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
        snprintf(cl->peer_name, sizeof cl->peer_name, "unknown");
        return;
    }
    if (cr.uid == geteuid())
        return;
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(cr.uid, &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(cl->peer_name, sizeof cl->peer_name, "%s", res->pw_name);
    else
        snprintf(cl->peer_name, sizeof cl->peer_name, "uid-%lu", (unsigned long)cr.uid);
}

static void on_connection(uv_stream_t *server, int status)
{
    control *c = server->data;
    if (status < 0 || c->closing)
        return;
    control_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return;
    cl->ctl = c;
    cl->to.cl = cl;
    cl->refs = 1;
    uv_pipe_init(c->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    c->open++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
        cl->closing = 1;
        uv_close((uv_handle_t *)&cl->pipe, client_closed);
        return;
    }
    client_peer_name(cl);
    cl->next = c->clients;
    if (c->clients)
        c->clients->prev = cl;
    c->clients = cl;
    uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_on_read);
}

static void server_closed(uv_handle_t *h)
{
    control *c = h->data;
    c->open--;
    control_maybe_done(c);
}

/* The socket takes DATA's group when DATA lets its group in (0710,
 * `uniond init --group`): the clerks of that group reach the socket, and
 * nothing else of DATA. A failure is logged, not fatal: the owner still
 * reaches the node. */
static void socket_group_set(const char *sock_path)
{
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s", sock_path);
    if (stat(dirname(dir), &st) != 0 || !(st.st_mode & 010))
        return;
    if (chown(sock_path, (uid_t)-1, st.st_gid) != 0)
        log_msg(LOG_WARN, "cannot give the control socket the group of DATA (gid %lu): %s",
                (unsigned long)st.st_gid, strerror(errno));
}

/* The read queue and the readers' store handle. Without them the reads
 * go to the store queue (slower under writes, still correct), so a
 * failure here is logged, not fatal. A unit test's ops may have no store:
 * the readers then have no handle either (their rows need none). */
static void read_queue_start(control *c)
{
    char err[512];
    if (c->ops->st && store_reader_open(&c->rst, c->ops->st, err, sizeof err) != UERR_OK) {
        log_msg(LOG_WARN, "reads will wait behind writes: %s", err);
        return;
    }
    if (squeue_new(&c->rq, c->loop) != UERR_OK) {
        log_msg(LOG_WARN, "reads will wait behind writes: out of memory");
        store_free(c->rst);
        c->rst = NULL;
        return;
    }
    c->open++;
    /* from now on the take-ins lock the index while they change it */
    if (c->ops->st)
        store_index_attach(c->ops->st, &c->ops->ix);
}

uerr control_start(control **out, uv_loop_t *loop, const char *sock_path, squeue *q, ops_ctx *ops,
                   control_loop_fn loop_fn, void *loop_arg, char *err, size_t errlen)
{
    control *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    c->loop = loop;
    c->q = q;
    c->ops = ops;
    c->loop_fn = loop_fn;
    c->loop_arg = loop_arg;
    if (ops->st && !ops->view_on) {
        /* a unit test's ops without a store answer status on the queue */
        pthread_mutex_init(&ops->view_mu, NULL);
        ctl_status_view_take(&ops->view, ops); /* no job has run yet */
        ops->view_on = 1;
        squeue_set_after(q, view_publish, ops);
    }
    unlink(sock_path); /* stale from a crash; we hold the DATA lock */
    uv_pipe_init(loop, &c->server, 0);
    c->server.data = c;
    c->open = 1;
    mode_t old = umask(0117); /* the socket file is born 0660 */
    int e = uv_pipe_bind(&c->server, sock_path);
    umask(old);
    if (e == 0) {
        chmod(sock_path, 0660);
        socket_group_set(sock_path);
        e = uv_listen((uv_stream_t *)&c->server, 64, on_connection);
    }
    if (e != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->server, server_closed);
        /* c is freed by server_closed when the loop runs */
        return uerr_set(err, errlen, UERR_IO, "control socket %s: %s", sock_path, uv_strerror(e));
    }
    read_queue_start(c);
    if (ops->st)
        ctl_packs_join_wire(q, ops->st);
    *out = c;
    return UERR_OK;
}

void control_after_job(control *c, void (*fn)(void *), void *arg)
{
    c->after_job = fn;
    c->after_arg = arg;
}

static void drain_timer_closed(uv_handle_t *h)
{
    control *c = h->data;
    c->open--;
    control_maybe_done(c);
}

static void drain_timer_stop(control *c)
{
    if (!c->draining)
        return;
    c->draining = 0;
    uv_timer_stop(&c->drain_timer);
    uv_close((uv_handle_t *)&c->drain_timer, drain_timer_closed);
}

/* Stopping: once no client has a request in flight, close the rest. */
static void control_drain_check(control *c)
{
    assert(c->closing);
    for (control_client *cl = c->clients; cl; cl = cl->next)
        if (client_in_flight(cl))
            return;
    while (c->clients)
        client_close(c->clients);
    if (c->draining)
        log_msg(LOG_INFO, "stopping: the running requests were answered (%llu ms)",
                (unsigned long long)(uv_now(c->loop) - c->drain_started));
    drain_timer_stop(c);
}

static void on_drain_timeout(uv_timer_t *t)
{
    control *c = t->data;
    int n = 0;
    for (control_client *cl = c->clients; cl; cl = cl->next)
        n += client_in_flight(cl);
    log_msg(LOG_WARN,
            "stopping: %d request(s) still running after %llu ms; closing their connections "
            "(a running write still finishes; its answer is lost)",
            n, (unsigned long long)(uv_now(c->loop) - c->drain_started));
    while (c->clients)
        client_close(c->clients);
    drain_timer_stop(c);
}

void control_close(control *c, uint64_t stop_ms, void (*done)(void *), void *arg)
{
    c->closing = 1;
    c->done = done;
    c->done_arg = arg;
    uv_close((uv_handle_t *)&c->server, server_closed);
    /* idle clients go now; those with a request in flight are answered
     * first (reply_written closes them), within stop_ms */
    int n = 0;
    for (control_client *cl = c->clients, *next; cl; cl = next) {
        next = cl->next;
        if (client_in_flight(cl))
            n++;
        else
            client_close(cl);
    }
    if (n == 0 || stop_ms == 0) {
        while (c->clients)
            client_close(c->clients);
        return;
    }
    log_msg(LOG_INFO,
            "stopping: waiting for %d running request(s) to be answered (at most %llu ms)", n,
            (unsigned long long)stop_ms);
    uv_timer_init(c->loop, &c->drain_timer);
    c->drain_timer.data = c;
    c->open++;
    c->draining = 1;
    c->drain_started = uv_now(c->loop);
    uv_timer_start(&c->drain_timer, on_drain_timeout, stop_ms, 0);
}
