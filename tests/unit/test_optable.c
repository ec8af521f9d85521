/* test_optable.c - the control socket's op table (daemon/ctl/optable.h):
 * every op is found once and runs where it must; unknown and malformed
 * requests get an error reply; and, through a real control socket on a
 * libuv loop, a request of each place reaches its handler (a store-queue
 * op runs its handler, a loop-thread op reaches the loop handler with a
 * reply handle). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/ctl/control.h"
#include "daemon/ctl/optable.h"
#include "proto/frame.h"
#include "proto/msg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The ops answered on the loop thread (by the peers); the pure reads,
 * run by the readers beside the writer (issue 12); the ops that hold the
 * index write lock for their whole run; every other op runs on the store
 * queue. */
static const char *const loop_ops[] = {"peer_add", "peer_remove", "peers", "sync"};
static const char *const reader_ops[] = {"benefit_list", "conflicts", "duplicates", "fields",
                                         "history",      "id",        "list",       "log",
                                         "report",       "show",      "stats",      "status"};
static const char *const excl_ops[] = {"field_add", "field_value_add"};
/* Every op unionctl sends (docs/CONTROL.md). */
static const char *const all_ops[] = {
    "add",       "backup",     "benefit_list", "bundle_export", "bundle_import",
    "conflicts", "duplicates", "edit",         "field_add",     "field_value_add",
    "fields",    "history",    "id",           "import",        "list",
    "log",       "merge",      "peer_add",     "peer_remove",   "peers",
    "report",    "resolve",    "revert",       "show",          "stats",
    "status",    "sync",       "transfer"};

static int in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

#define IN(list, name) in_list(list, sizeof list / sizeof *list, name)

static int is_loop_op(const char *name)
{
    return IN(loop_ops, name);
}

static void every_op_found_once(void **state)
{
    (void)state;
    size_t n;
    const ctl_op *rows = ctl_ops(&n);
    assert_int_equal(n, sizeof all_ops / sizeof *all_ops);
    for (size_t i = 0; i < n; i++) {
        /* strictly sorted: the binary search finds each row, no name twice */
        if (i > 0)
            assert_true(strcmp(rows[i - 1].name, rows[i].name) < 0);
        assert_ptr_equal(ctl_op_find(rows[i].name), &rows[i]);
    }
    for (size_t i = 0; i < sizeof all_ops / sizeof *all_ops; i++) {
        const ctl_op *row = ctl_op_find(all_ops[i]);
        assert_non_null(row);
        assert_string_equal(row->name, all_ops[i]);
    }
    assert_null(ctl_op_find("frobnicate"));
    assert_null(ctl_op_find(""));
    assert_null(ctl_op_find("Add"));
}

static void each_row_in_its_place(void **state)
{
    (void)state;
    size_t n;
    const ctl_op *rows = ctl_ops(&n);
    for (size_t i = 0; i < n; i++) {
        if (is_loop_op(rows[i].name)) {
            assert_int_equal(rows[i].place, CTL_ON_LOOP);
            assert_null(rows[i].run); /* answered by the loop handler */
        } else if (IN(reader_ops, rows[i].name)) {
            assert_int_equal(rows[i].place, CTL_ON_READER);
            assert_non_null(rows[i].run);
        } else {
            assert_int_equal(rows[i].place, CTL_ON_QUEUE);
            assert_non_null(rows[i].run);
        }
        /* only writes may hold the write lock for a whole run */
        assert_int_equal(rows[i].excl, IN(excl_ops, rows[i].name));
        if (rows[i].excl)
            assert_int_equal(rows[i].place, CTL_ON_QUEUE);
    }
}

/* ---- the store-queue side ------------------------------------------------- */

static void request_pack(msgpack_sbuffer *b, const char *op)
{
    msgpack_packer pk;
    msg_map m;
    msgpack_sbuffer_init(b);
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msg_map_open(&m, &pk);
    if (op)
        msg_map_str(&m, "op", op);
    msg_map_str(&m, "operator", "tester");
    msg_map_close(&m);
}

static void ops_fake(ops_ctx *o)
{
    memset(o, 0, sizeof *o);
    recindex_init(&o->ix);
    o->node = "test-01";
    o->office = "haishu";
    o->listen = "127.0.0.1:7420";
    snprintf(o->fingerprint, sizeof o->fingerprint, "%064d", 0);
}

/* Assert a reply is {"ok": false, "error": contains want, "code": code}. */
static void assert_error_reply(const char *buf, size_t len, const char *want, const char *code)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, buf, len), 0);
    assert_int_equal(msg_get_bool(&u.data, "ok", 1), 0);
    char *err = msg_get_str(&u.data, "error"), *c = msg_get_str(&u.data, "code");
    assert_non_null(err);
    assert_non_null(strstr(err, want));
    assert_non_null(c);
    assert_string_equal(c, code);
    free(err);
    free(c);
    msgpack_unpacked_destroy(&u);
}

static void queue_answers_unknown_and_malformed(void **state)
{
    (void)state;
    ops_ctx o;
    msgpack_sbuffer req, out;
    ops_fake(&o);
    const struct {
        const char *op, *want;
    } cases[] = {
        {"frobnicate", "unknown request 'frobnicate'"},
        {NULL, "malformed request: no op"},
        {"peers", "request 'peers' is too large"}, /* a loop op that reached the queue */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        request_pack(&req, cases[i].op);
        msgpack_sbuffer_init(&out);
        ctl_queue_handle(&o, req.data, req.size, &out);
        assert_error_reply(out.data, out.size, cases[i].want, "invalid");
        msgpack_sbuffer_destroy(&out);
        msgpack_sbuffer_destroy(&req);
    }
    msgpack_sbuffer_init(&out);
    ctl_queue_handle(&o, "\xc1", 1, &out); /* not msgpack */
    assert_error_reply(out.data, out.size, "malformed request", "invalid");
    msgpack_sbuffer_destroy(&out);
    assert_int_equal(o.requests, 4);
    recindex_free(&o.ix);
}

static void queue_runs_the_row(void **state)
{
    (void)state;
    ops_ctx o;
    msgpack_sbuffer req, out;
    msgpack_unpacked u;
    ops_fake(&o);
    request_pack(&req, "id");
    msgpack_sbuffer_init(&out);
    ctl_queue_handle(&o, req.data, req.size, &out);
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, out.data, out.size), 0);
    assert_int_equal(msg_get_bool(&u.data, "ok", 0), 1);
    char *node = msg_get_str(msg_get(&u.data, "result"), "node");
    assert_string_equal(node, "test-01");
    free(node);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&req);
    recindex_free(&o.ix);
}

/* A reader runs read rows only (with the index read lock held: a write
 * lock taken meanwhile would deadlock, so try it), and refuses the rest. */
static void reader_runs_reads_only(void **state)
{
    (void)state;
    ops_ctx o;
    msgpack_sbuffer req, out;
    msgpack_unpacked u;
    ctl_env env = {1, NULL, 3, NULL};
    ops_fake(&o);
    request_pack(&req, "add");
    msgpack_sbuffer_init(&out);
    ctl_handle(&o, &env, req.data, req.size, &out);
    assert_error_reply(out.data, out.size, "request 'add' reached a reader", "internal");
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&req);
    assert_null(ctl_env_now()); /* only while a request is handled */

    request_pack(&req, "status");
    msgpack_sbuffer_init(&out);
    ctl_handle(&o, &env, req.data, req.size, &out);
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, out.data, out.size), 0);
    assert_int_equal(msg_get_bool(&u.data, "ok", 0), 1);
    /* the store-queue jobs ahead of it, as the control socket saw them */
    assert_int_equal(msg_get_int(msg_get(&u.data, "result"), "queued", -1), 3);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&req);
    /* the read lock was released: the writer gets the index */
    assert_int_equal(pthread_rwlock_trywrlock(&o.ix.lock), 0);
    recindex_unlock(&o.ix);
    assert_int_equal(o.requests, 2);
    recindex_free(&o.ix);
}

/* ---- through the socket ------------------------------------------------- */

#define NREQ 5

typedef struct {
    char path[108];
    const char *ops[NREQ]; /* the requests, sent one after the other */
    char *replies[NREQ];   /* each reply's payload (malloc'd) */
    size_t lens[NREQ];
    int failed;
    uv_async_t finished; /* the client thread is done */
    control *ctl;
    squeue *q;
    /* the loop handler's view */
    int loop_calls;
    char loop_op[32];
    int decline; /* the loop handler declines "sync" */
} sock_test;

static int read_full(int fd, char *buf, size_t n)
{
    while (n) {
        ssize_t r = read(fd, buf, n);
        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

static void *client_main(void *arg)
{
    sock_test *t = arg;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", t->path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        t->failed = 1;
        goto done;
    }
    for (int i = 0; i < NREQ && !t->failed; i++) {
        msgpack_sbuffer b;
        uint8_t hdr[FRAME_HEADER_LEN];
        request_pack(&b, t->ops[i]);
        frame_header_put(hdr, (uint32_t)b.size);
        if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr ||
            write(fd, b.data, b.size) != (ssize_t)b.size ||
            read_full(fd, (char *)hdr, sizeof hdr) != 0) {
            t->failed = 1;
        } else {
            t->lens[i] =
                ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
            t->replies[i] = malloc(t->lens[i] + 1);
            if (!t->replies[i] || read_full(fd, t->replies[i], t->lens[i]) != 0)
                t->failed = 1;
        }
        msgpack_sbuffer_destroy(&b);
    }
done:
    if (fd >= 0)
        close(fd);
    uv_async_send(&t->finished);
    return NULL;
}

/* The loop handler: answers "peers" at once with {"ok": true, "result":
 * "pong"}, declines "sync" when told to. */
static int fake_loop(void *arg, const char *op, const msgpack_object *req, reply r)
{
    sock_test *t = arg;
    (void)req;
    t->loop_calls++;
    snprintf(t->loop_op, sizeof t->loop_op, "%s", op);
    if (t->decline && strcmp(op, "sync") == 0)
        return 0;
    msgpack_sbuffer b;
    msgpack_packer pk;
    msg_map m;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msg_map_open(&m, &pk);
    msg_map_bool(&m, "ok", 1);
    msg_map_str(&m, "result", "pong");
    msg_map_close(&m);
    reply_send(r, &b);
    msgpack_sbuffer_destroy(&b);
    return 1;
}

static void async_closed(uv_handle_t *h)
{
    (void)h;
}

static void queue_drained(void *arg)
{
    sock_test *t = arg;
    uv_close((uv_handle_t *)&t->finished, async_closed);
}

static void control_closed(void *arg)
{
    sock_test *t = arg;
    squeue_close(t->q, queue_drained, t);
}

static void on_finished(uv_async_t *a)
{
    sock_test *t = a->data;
    control_close(t->ctl, 0, control_closed, t);
}

static void requests_reach_their_handlers(void **state)
{
    (void)state;
    sock_test t;
    ops_ctx o;
    uv_loop_t loop;
    pthread_t th;
    char err[256], dir[] = "/tmp/test_optable.XXXXXX";
    memset(&t, 0, sizeof t);
    ops_fake(&o);
    assert_non_null(mkdtemp(dir));
    snprintf(t.path, sizeof t.path, "%s/s.sock", dir);
    t.ops[0] = "id";         /* read queue: op_id */
    t.ops[1] = "peers";      /* loop thread: the loop handler */
    t.ops[2] = "frobnicate"; /* unknown */
    t.ops[3] = "sync";       /* loop op the handler declines */
    t.ops[4] = "id";         /* the client is still served */
    t.decline = 1;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(squeue_new(&t.q, &loop), 0);
    assert_int_equal(control_start(&t.ctl, &loop, t.path, t.q, &o, fake_loop, &t, err, sizeof err),
                     UERR_OK);
    uv_async_init(&loop, &t.finished, on_finished);
    t.finished.data = &t;
    assert_int_equal(pthread_create(&th, NULL, client_main, &t), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_false(t.failed);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, t.replies[0], t.lens[0]), 0);
    char *node = msg_get_str(msg_get(&u.data, "result"), "node");
    assert_string_equal(node, "test-01");
    free(node);
    assert_int_equal(msg_unpack(&u, t.replies[1], t.lens[1]), 0);
    char *pong = msg_get_str(&u.data, "result");
    assert_string_equal(pong, "pong");
    free(pong);
    msgpack_unpacked_destroy(&u);
    assert_error_reply(t.replies[2], t.lens[2], "unknown request 'frobnicate'", "invalid");
    assert_error_reply(t.replies[3], t.lens[3], "request 'sync' is not served", "internal");
    assert_int_equal(t.loop_calls, 2); /* peers and sync, nothing else */
    assert_string_equal(t.loop_op, "sync");
    assert_int_equal(o.requests, 3); /* id, frobnicate, id went to a queue */
    for (int i = 0; i < NREQ; i++)
        free(t.replies[i]);
    unlink(t.path);
    rmdir(dir);
    recindex_free(&o.ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_op_found_once),
        cmocka_unit_test(each_row_in_its_place),
        cmocka_unit_test(queue_answers_unknown_and_malformed),
        cmocka_unit_test(queue_runs_the_row),
        cmocka_unit_test(reader_runs_reads_only),
        cmocka_unit_test(requests_reach_their_handlers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
