/* test_squeue.c - unit tests for the store queue (daemon/store/squeue.c) on
 * a real libuv loop and thread pool: jobs run in order, never two at once,
 * done runs on the loop thread; closing cancels what is queued, lets the
 * running job finish, refuses new jobs, then calls drained once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "daemon/store/squeue.h"

static atomic_int running, max_running;
static int order[16], norder, ndone, ncancelled, drained;
static pthread_t loop_thread;

typedef struct {
    int n;
    int done;
    int cancelled;
} job;

static void work(void *arg)
{
    job *j = arg;
    int now = atomic_fetch_add(&running, 1) + 1;
    int seen = atomic_load(&max_running);
    while (now > seen && !atomic_compare_exchange_weak(&max_running, &seen, now))
        ;
    usleep(2000); /* long enough that a second job would overlap if allowed */
    order[norder++] = j->n;
    atomic_fetch_sub(&running, 1);
}

static void done(void *arg, int cancelled)
{
    job *j = arg;
    assert_true(pthread_equal(pthread_self(), loop_thread));
    j->done++;
    j->cancelled = cancelled;
    ndone++;
    ncancelled += cancelled;
}

static void on_drained(void *arg)
{
    (void)arg;
    drained++;
}

static void reset(void)
{
    atomic_store(&running, 0);
    atomic_store(&max_running, 0);
    norder = ndone = ncancelled = drained = 0;
    loop_thread = pthread_self();
}

static void runs_in_order_one_at_a_time(void **state)
{
    (void)state;
    uv_loop_t loop;
    squeue *q;
    job jobs[6];
    reset();
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(squeue_new(&q, &loop), UERR_OK);
    for (int i = 0; i < 6; i++) {
        jobs[i] = (job){i, 0, 0};
        assert_int_equal(squeue_push(q, work, done, &jobs[i]), UERR_OK);
    }
    assert_int_equal(squeue_length(q), 6);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 6);
    assert_int_equal(ncancelled, 0);
    assert_int_equal(norder, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(order[i], i);
        assert_int_equal(jobs[i].done, 1);
    }
    assert_int_equal(atomic_load(&max_running), 1);
    assert_int_equal(squeue_length(q), 0);
    squeue_close(q, on_drained, NULL);
    assert_int_equal(drained, 1); /* nothing running: drained at once */
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void close_cancels_queued_and_refuses_new(void **state)
{
    (void)state;
    uv_loop_t loop;
    squeue *q;
    job jobs[4], late = {99, 0, 0};
    reset();
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(squeue_new(&q, &loop), UERR_OK);
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){i, 0, 0};
        assert_int_equal(squeue_push(q, work, done, &jobs[i]), UERR_OK);
    }
    /* job 0 is handed to the pool; 1..3 wait and are cancelled now */
    squeue_close(q, on_drained, NULL);
    assert_int_equal(ncancelled, 3);
    assert_int_equal(drained, 0); /* job 0 still runs */
    assert_int_equal(squeue_push(q, work, done, &late), UERR_BUSY);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(drained, 1);
    assert_int_equal(ndone, 4);
    assert_int_equal(late.done, 0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(jobs[i].cancelled, 1);
    /* job 0 either ran or was cancelled by the pool, but it was finished once */
    assert_int_equal(jobs[0].done, 1);
    assert_int_equal(norder + jobs[0].cancelled, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The daemon's shutdown chain may close the queue from inside the done
 * callback of its last job (a session's take-in ends, the peers finish
 * closing, main closes the queue): q must outlive that callback. */
static squeue *closing_q;
static void done_then_close(void *arg, int cancelled)
{
    done(arg, cancelled);
    squeue_close(closing_q, on_drained, NULL);
}

static void close_from_inside_a_done_callback(void **state)
{
    (void)state;
    reset();
    uv_loop_t loop;
    uv_loop_init(&loop);
    loop_thread = pthread_self();
    assert_int_equal(squeue_new(&closing_q, &loop), UERR_OK);
    job a = {1, 0, 0}, b = {2, 0, 0};
    assert_int_equal(squeue_push(closing_q, work, done_then_close, &a), UERR_OK);
    assert_int_equal(squeue_push(closing_q, work, done, &b), UERR_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.done, 1);
    assert_int_equal(a.cancelled, 0);
    assert_int_equal(b.done, 1);
    assert_int_equal(b.cancelled, 1); /* queued behind a: cancelled by the close */
    assert_int_equal(drained, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* a batch function: notes each run's size, then works its jobs in order */
static int batch_sizes[16], nbatches;

static void batch(void **args, size_t n)
{
    batch_sizes[nbatches++] = (int)n;
    for (size_t i = 0; i < n; i++)
        work(args[i]);
}

static void batches_take_runs_of_batchable_jobs_in_order(void **state)
{
    (void)state;
    uv_loop_t loop;
    squeue *q;
    job jobs[9];
    reset();
    nbatches = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(squeue_new(&q, &loop), UERR_OK);
    /* 0 ordinary (runs at once); 1-4 batchable; 5 ordinary; 6-8 batchable */
    for (int i = 0; i < 9; i++) {
        jobs[i] = (job){i, 0, 0};
        int plain = i == 0 || i == 5;
        assert_int_equal(plain ? squeue_push(q, work, done, &jobs[i])
                               : squeue_push_batchable(q, batch, done, &jobs[i]),
                         UERR_OK);
    }
    assert_int_equal(squeue_length(q), 9);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 9);
    assert_int_equal(ncancelled, 0);
    assert_int_equal(norder, 9);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(order[i], i); /* FIFO across batches and plain jobs */
        assert_int_equal(jobs[i].done, 1);
    }
    assert_int_equal(nbatches, 2);
    assert_int_equal(batch_sizes[0], 4);
    assert_int_equal(batch_sizes[1], 3);
    assert_int_equal(atomic_load(&max_running), 1);
    assert_int_equal(squeue_length(q), 0);
    squeue_close(q, on_drained, NULL);
    assert_int_equal(drained, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* the idle job: due is asked after a job when nothing waits; it runs once
 * per "yes", after every queued job, never between them */
static int idle_wanted, idle_runs, idle_dones, idle_asked;

static int idle_due(void *arg)
{
    (void)arg;
    assert_true(pthread_equal(pthread_self(), loop_thread));
    idle_asked++;
    return idle_wanted > 0;
}

static void idle_work(void *arg)
{
    (void)arg;
    idle_wanted--;
    idle_runs++;
    order[norder++] = 100;
}

static void idle_done(void *arg, int cancelled)
{
    (void)arg;
    assert_int_equal(cancelled, 0);
    idle_dones++;
}

static void idle_job_runs_when_nothing_waits(void **state)
{
    (void)state;
    uv_loop_t loop;
    squeue *q;
    job jobs[3];
    reset();
    idle_wanted = 1;
    idle_runs = idle_dones = idle_asked = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(squeue_new(&q, &loop), UERR_OK);
    squeue_set_idle(q, idle_due, idle_work, idle_done, NULL);
    for (int i = 0; i < 3; i++) {
        jobs[i] = (job){i, 0, 0};
        assert_int_equal(squeue_push(q, work, done, &jobs[i]), UERR_OK);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 3);
    assert_int_equal(idle_runs, 1);
    assert_int_equal(idle_dones, 1);
    assert_int_equal(norder, 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(order[i], i);
    assert_int_equal(order[3], 100); /* after the queued jobs, not between */
    assert_int_equal(idle_asked, 2); /* after job 2 (yes), after itself (no) */
    assert_int_equal(squeue_length(q), 0);
    squeue_close(q, on_drained, NULL);
    assert_int_equal(drained, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* the after hook: on the pool thread after every run's work (a plain
 * job, a whole batch, the idle job), before any done of that run */
static job *after_jobs;
static int after_calls, after_seen[8], after_done_seen[8];

static void after(void *arg)
{
    assert_ptr_equal(arg, &after_calls);
    assert_false(pthread_equal(pthread_self(), loop_thread));
    after_seen[after_calls] = norder; /* jobs worked so far */
    /* the last job worked has not had its done yet */
    after_done_seen[after_calls] =
        order[norder - 1] == 100 ? idle_dones : after_jobs[order[norder - 1]].done;
    after_calls++;
}

static void after_hook_runs_after_each_run_before_its_done(void **state)
{
    (void)state;
    uv_loop_t loop;
    squeue *q;
    job jobs[4];
    reset();
    nbatches = 0;
    idle_wanted = 1;
    idle_runs = idle_dones = idle_asked = after_calls = 0;
    after_jobs = jobs;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(squeue_new(&q, &loop), UERR_OK);
    squeue_set_idle(q, idle_due, idle_work, idle_done, NULL);
    squeue_set_after(q, after, &after_calls);
    /* 0 plain; 1-3 batchable (one run); then the idle job */
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){i, 0, 0};
        assert_int_equal(i == 0 ? squeue_push(q, work, done, &jobs[i])
                                : squeue_push_batchable(q, batch, done, &jobs[i]),
                         UERR_OK);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 4);
    assert_int_equal(idle_runs, 1);
    assert_int_equal(after_calls, 3); /* job 0, the batch of 1-3, the idle job */
    assert_int_equal(after_seen[0], 1);
    assert_int_equal(after_seen[1], 4);
    assert_int_equal(after_seen[2], 5);
    for (int i = 0; i < 3; i++)
        assert_int_equal(after_done_seen[i], 0);
    squeue_close(q, on_drained, NULL);
    assert_int_equal(drained, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* an idle job due SQUEUE_IDLE_QUIET waits until the queue has had no job
 * for the quiet time; a job queued during the wait starts it again; due
 * SQUEUE_IDLE_NOW runs at once; closing during a wait drops it */
static int quiet_due_answer, quiet_runs;
static uint64_t quiet_ran_at, last_done_at;
static uv_loop_t *quiet_loop;
static squeue *quiet_q;
static job late_job;

static int quiet_due(void *arg)
{
    (void)arg;
    return quiet_runs ? SQUEUE_IDLE_NO : quiet_due_answer;
}

static void quiet_work(void *arg)
{
    (void)arg;
    order[norder++] = 100;
}

static void quiet_done(void *arg, int cancelled)
{
    (void)arg;
    assert_int_equal(cancelled, 0);
    quiet_runs++;
    quiet_ran_at = uv_now(quiet_loop);
}

static void quiet_job_done(void *arg, int cancelled)
{
    done(arg, cancelled);
    last_done_at = uv_now(quiet_loop);
}

/* 20 ms into the wait, one more job */
static void push_late(uv_timer_t *t)
{
    late_job = (job){7, 0, 0};
    assert_int_equal(squeue_push(quiet_q, work, quiet_job_done, &late_job), UERR_OK);
    uv_close((uv_handle_t *)t, NULL);
}

static void idle_job_waits_for_a_quiet_queue(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_timer_t late;
    job jobs[2];
    reset();
    quiet_runs = 0;
    quiet_due_answer = SQUEUE_IDLE_QUIET;
    quiet_loop = &loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(squeue_new(&quiet_q, &loop), UERR_OK);
    squeue_set_idle(quiet_q, quiet_due, quiet_work, quiet_done, NULL);
    assert_int_equal(squeue_set_idle_quiet(quiet_q, 60), UERR_OK);
    for (int i = 0; i < 2; i++) {
        jobs[i] = (job){i, 0, 0};
        assert_int_equal(squeue_push(quiet_q, work, quiet_job_done, &jobs[i]), UERR_OK);
    }
    assert_int_equal(uv_timer_init(&loop, &late), 0);
    assert_int_equal(uv_timer_start(&late, push_late, 20, 0), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ndone, 3);
    assert_int_equal(quiet_runs, 1);
    assert_int_equal(norder, 4);
    assert_int_equal(order[2], 7);
    assert_int_equal(order[3], 100);
    /* the wait counted from the late job's end, not from the first jobs' */
    assert_true(quiet_ran_at >= last_done_at + 60);

    /* due now: no wait */
    reset();
    quiet_runs = 0;
    quiet_due_answer = SQUEUE_IDLE_NOW;
    jobs[0] = (job){0, 0, 0};
    assert_int_equal(squeue_push(quiet_q, work, quiet_job_done, &jobs[0]), UERR_OK);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(quiet_runs, 1);
    assert_true(quiet_ran_at < last_done_at + 60);

    /* closed during the wait: the idle job never runs, drained comes */
    reset();
    quiet_runs = 0;
    quiet_due_answer = SQUEUE_IDLE_QUIET;
    jobs[0] = (job){0, 0, 0};
    assert_int_equal(squeue_push(quiet_q, work, quiet_job_done, &jobs[0]), UERR_OK);
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT) >= 0, 1);
    while (ndone == 0)
        uv_run(&loop, UV_RUN_ONCE);
    squeue_close(quiet_q, on_drained, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(drained, 1);
    assert_int_equal(quiet_runs, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_in_order_one_at_a_time),
        cmocka_unit_test(close_cancels_queued_and_refuses_new),
        cmocka_unit_test(close_from_inside_a_done_callback),
        cmocka_unit_test(batches_take_runs_of_batchable_jobs_in_order),
        cmocka_unit_test(idle_job_runs_when_nothing_waits),
        cmocka_unit_test(after_hook_runs_after_each_run_before_its_done),
        cmocka_unit_test(idle_job_waits_for_a_quiet_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
