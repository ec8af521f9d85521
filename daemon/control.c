/* control.c - control socket server and the store queue (see control.h).
 *
 * Lifetimes: a client is freed in its close callback once no job refers to
 * it; a job whose client went away still runs (a write must not be half
 * done) and its reply is dropped. */
#include "daemon/control.h"

#include "daemon/log.h"
#include "proto/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct client client;

typedef struct job {
    uv_work_t work;
    struct job *next;
    control *ctl;
    client *cl;
    char *req;
    size_t reqlen;
    msgpack_sbuffer reply;
} job;

struct client {
    uv_pipe_t pipe;
    control *ctl;
    client *prev, *next;
    char *buf; /* bytes read and not yet consumed */
    size_t len, cap;
    int refs; /* 1 for the open handle, 1 per job pointing here */
    int closing;
    int busy; /* a request of this client is queued or running */
};

typedef struct {
    uv_write_t req;
    client *cl;
    uv_buf_t bufs[2];
    uint8_t header[FRAME_HEADER_LEN];
    msgpack_sbuffer body;
} reply_write;

struct control {
    uv_loop_t *loop;
    uv_pipe_t server;
    ops_ctx *ops;
    client *clients;
    job *head, *tail; /* queued, not yet running */
    job *running;
    int closing;
    int open_handles;
    void (*done)(void *);
    void *done_arg;
};

static void control_maybe_done(control *c)
{
    if (c->closing && c->open_handles == 0 && !c->running) {
        void (*done)(void *) = c->done;
        void *arg = c->done_arg;
        free(c);
        if (done)
            done(arg);
    }
}

static void client_unref(client *cl)
{
    if (--cl->refs > 0)
        return;
    control *c = cl->ctl;
    free(cl->buf);
    free(cl);
    c->open_handles--;
    control_maybe_done(c);
}

static void client_closed(uv_handle_t *h)
{
    client_unref(h->data);
}

static void client_close(client *cl)
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

static void queue_run_next(control *c);
static void client_read_start(client *cl);

static void reply_written(uv_write_t *w, int status)
{
    reply_write *rw = (reply_write *)w;
    client *cl = rw->cl;
    msgpack_sbuffer_destroy(&rw->body);
    free(rw);
    cl->busy = 0;
    if (status < 0)
        client_close(cl);
    else if (!cl->closing)
        client_read_start(cl); /* more requests may already be buffered */
    client_unref(cl);
}

static void work_run(uv_work_t *w)
{
    job *j = w->data;
    ops_handle(j->ctl->ops, j->req, j->reqlen, &j->reply);
}

static void work_done(uv_work_t *w, int status)
{
    job *j = w->data;
    control *c = j->ctl;
    client *cl = j->cl;
    (void)status;
    c->running = NULL;
    if (!cl->closing && j->reply.size <= FRAME_CONTROL_MAX) {
        reply_write *rw = calloc(1, sizeof *rw);
        if (rw) {
            rw->cl = cl;
            rw->body = j->reply; /* moved */
            j->reply.data = NULL;
            frame_header_put(rw->header, (uint32_t)rw->body.size);
            rw->bufs[0] = uv_buf_init((char *)rw->header, FRAME_HEADER_LEN);
            rw->bufs[1] = uv_buf_init(rw->body.data, (unsigned)rw->body.size);
            cl->refs++;
            if (uv_write(&rw->req, (uv_stream_t *)&cl->pipe, rw->bufs, 2, reply_written) != 0) {
                msgpack_sbuffer_destroy(&rw->body);
                free(rw);
                cl->refs--;
                client_close(cl);
            }
        } else {
            client_close(cl);
        }
    } else if (!cl->closing) {
        log_msg(LOG_WARN, "reply too large for the control socket; closing the client");
        client_close(cl);
    }
    msgpack_sbuffer_destroy(&j->reply);
    free(j->req);
    free(j);
    client_unref(cl);
    if (c->closing) {
        /* drop what is queued: nothing was done for those yet */
        while (c->head) {
            job *q = c->head;
            c->head = q->next;
            client_unref(q->cl);
            free(q->req);
            free(q);
        }
        c->tail = NULL;
        control_maybe_done(c);
        return;
    }
    queue_run_next(c);
}

static void queue_run_next(control *c)
{
    if (c->running || !c->head)
        return;
    job *j = c->head;
    c->head = j->next;
    if (!c->head)
        c->tail = NULL;
    c->running = j;
    j->work.data = j;
    if (uv_queue_work(c->loop, &j->work, work_run, work_done) != 0) {
        log_msg(LOG_ERR, "cannot queue store work");
        c->running = NULL;
        client_close(j->cl);
        client_unref(j->cl);
        free(j->req);
        free(j);
    }
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client *cl = h->data;
    (void)suggested;
    size_t want = 64 * 1024;
    size_t need = 0;
    const uint8_t *p;
    size_t pl, consumed;
    /* Grow to the whole frame once its header is known (capped). */
    if (frame_parse(&p, &pl, &consumed, &need, (uint8_t *)cl->buf, cl->len, FRAME_CONTROL_MAX) ==
            FRAME_NEED_MORE &&
        need > cl->len + want)
        want = need - cl->len;
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

/* Take one complete frame off the client's buffer into a job. */
static void client_take_frame(client *cl)
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
    job *j = calloc(1, sizeof *j);
    char *req = j ? malloc(plen) : NULL;
    if (!req) {
        free(j);
        client_close(cl);
        return;
    }
    memcpy(req, payload, plen);
    memmove(cl->buf, cl->buf + consumed, cl->len - consumed);
    cl->len -= consumed;
    j->ctl = cl->ctl;
    j->cl = cl;
    j->req = req;
    j->reqlen = plen;
    msgpack_sbuffer_init(&j->reply);
    cl->refs++;
    cl->busy = 1;
    uv_read_stop((uv_stream_t *)&cl->pipe);
    control *c = cl->ctl;
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    queue_run_next(c);
}

static void client_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client *cl = s->data;
    (void)buf;
    if (nread < 0) {
        client_close(cl);
        return;
    }
    cl->len += (size_t)nread;
    if (!cl->busy)
        client_take_frame(cl);
}

static void client_read_start(client *cl)
{
    client_take_frame(cl);
    if (!cl->busy && !cl->closing)
        uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_on_read);
}

static void on_connection(uv_stream_t *server, int status)
{
    control *c = server->data;
    if (status < 0 || c->closing)
        return;
    client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return;
    cl->ctl = c;
    cl->refs = 1;
    uv_pipe_init(c->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    c->open_handles++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
        cl->closing = 1;
        uv_close((uv_handle_t *)&cl->pipe, client_closed);
        return;
    }
    cl->next = c->clients;
    if (c->clients)
        c->clients->prev = cl;
    c->clients = cl;
    uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_on_read);
}

int control_start(control **out, uv_loop_t *loop, const char *sock_path, ops_ctx *ops, char *err,
                  size_t errlen)
{
    control *c = calloc(1, sizeof *c);
    int e;
    *out = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->loop = loop;
    c->ops = ops;
    unlink(sock_path); /* stale from a crash; we hold the DATA lock */
    uv_pipe_init(loop, &c->server, 0);
    c->server.data = c;
    c->open_handles = 1;
    mode_t old = umask(0117); /* socket file born 0660 */
    e = uv_pipe_bind(&c->server, sock_path);
    umask(old);
    if (e == 0) {
        chmod(sock_path, 0660);
        e = uv_listen((uv_stream_t *)&c->server, 64, on_connection);
    }
    if (e != 0) {
        snprintf(err, errlen, "control socket %s: %s", sock_path, uv_strerror(e));
        c->closing = 1;
        uv_close((uv_handle_t *)&c->server, NULL);
        /* freed by the caller's loop run: the handle must close first */
        c->open_handles = 0;
        *out = NULL;
        return -1; /* c leaks only on this fatal startup path */
    }
    *out = c;
    return 0;
}

static void server_closed(uv_handle_t *h)
{
    control *c = h->data;
    c->open_handles--;
    control_maybe_done(c);
}

void control_close(control *c, void (*done)(void *), void *arg)
{
    c->closing = 1;
    c->done = done;
    c->done_arg = arg;
    while (c->clients)
        client_close(c->clients);
    if (!c->running) {
        while (c->head) {
            job *q = c->head;
            c->head = q->next;
            client_unref(q->cl);
            free(q->req);
            free(q);
        }
        c->tail = NULL;
    }
    uv_close((uv_handle_t *)&c->server, server_closed);
}
