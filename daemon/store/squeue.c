/* squeue.c - the one-writer store queue (see squeue.h). Part of the store
 * room; it never touches the store itself, it only orders the jobs that do. */
#include "daemon/store/squeue.h"

#include <assert.h>
#include <stdlib.h>

typedef struct sjob {
    uv_work_t work;
    struct sjob *next;
    squeue *q;
    squeue_work_fn fn;
    squeue_batch_fn batch; /* set: batchable (fn is NULL) */
    squeue_done_fn done;
    void *arg;
    size_t nrun; /* on a running job: the jobs of its run, itself first, linked by next */
} sjob;

struct squeue {
    uv_loop_t *loop;
    sjob *head, *tail;
    sjob *running;
    unsigned length;
    int closing;
    /* done callbacks running now: a callback may close the queue (the
     * daemon's shutdown chain does), so q is freed only after the
     * outermost one has returned. */
    unsigned in_done;
    void (*drained)(void *);
    void *drained_arg;
    /* the idle job (squeue_set_idle) */
    squeue_due_fn idle_due;
    squeue_work_fn idle_work;
    squeue_done_fn idle_done;
    void *idle_arg;
    /* the quiet wait before an idle job due SQUEUE_IDLE_QUIET */
    unsigned quiet_ms;
    int has_timer;
    int quiet_over; /* the wait ran out with no job in between */
    uv_timer_t quiet;
    /* the after hook (squeue_set_after) */
    squeue_work_fn after;
    void *after_arg;
};

uerr squeue_new(squeue **out, uv_loop_t *loop)
{
    squeue *q = calloc(1, sizeof *q);
    *out = q;
    if (!q)
        return UERR_NOMEM;
    q->loop = loop;
    return UERR_OK;
}

unsigned squeue_length(const squeue *q)
{
    return q->length;
}

static void run_next(squeue *q);
static uerr push(squeue *q, squeue_work_fn work, squeue_batch_fn batch, squeue_done_fn done,
                 void *arg);

void squeue_set_idle(squeue *q, squeue_due_fn due, squeue_work_fn work, squeue_done_fn done,
                     void *arg)
{
    assert(due && work && done && !q->idle_due && "the idle job is set once");
    q->idle_due = due;
    q->idle_work = work;
    q->idle_done = done;
    q->idle_arg = arg;
}

static void idle_ask(squeue *q);

static void on_quiet(uv_timer_t *t)
{
    squeue *q = t->data;
    q->quiet_over = 1;
    idle_ask(q);
}

uerr squeue_set_idle_quiet(squeue *q, unsigned ms)
{
    assert(!q->has_timer && "the quiet time is set once");
    if (ms == 0)
        return UERR_OK;
    if (uv_timer_init(q->loop, &q->quiet) != 0)
        return UERR_NOMEM;
    q->quiet.data = q;
    q->has_timer = 1;
    q->quiet_ms = ms;
    return UERR_OK;
}

void squeue_set_after(squeue *q, squeue_work_fn fn, void *arg)
{
    assert(fn && !q->after && !q->running && "the after hook is set once, before any job");
    q->after = fn;
    q->after_arg = arg;
}

/* The last step of a close: q is freed, then its owner told (drained may
 * free what q pointed into, so q is gone first). */
static void squeue_free_and_tell(squeue *q)
{
    void (*drained)(void *) = q->drained;
    void *arg = q->drained_arg;
    free(q);
    if (drained)
        drained(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    squeue_free_and_tell(h->data);
}

static void maybe_drained(squeue *q)
{
    if (q->closing && !q->running && !q->head && q->in_done == 0) {
        assert(q->length == 0 && !q->tail && "store queue freed with jobs in it");
        if (q->has_timer) {
            /* freed once the loop has let go of the timer */
            q->has_timer = 0;
            uv_close((uv_handle_t *)&q->quiet, on_timer_closed);
            return;
        }
        squeue_free_and_tell(q);
    }
}

static void on_work(uv_work_t *w)
{
    sjob *j = w->data;
    if (!j->batch) {
        j->fn(j->arg);
    } else {
        void *args[SQUEUE_BATCH_MAX];
        size_t n = 0;
        for (sjob *k = j; k; k = k->next)
            args[n++] = k->arg;
        assert(n == j->nrun && n <= SQUEUE_BATCH_MAX);
        j->batch(args, n);
    }
    /* still on the pool thread, the one writer: nothing else runs on the
     * store until the next job is queued from on_done */
    if (j->q->after)
        j->q->after(j->q->after_arg);
}

/* Call done for every job of the run j heads (in order) and free them. */
static void run_finish(squeue *q, sjob *j, int cancelled)
{
    assert(q->length >= j->nrun);
    q->length -= (unsigned)j->nrun;
    q->in_done++;
    while (j) {
        sjob *next = j->next;
        j->done(j->arg, cancelled);
        free(j);
        j = next;
    }
    q->in_done--;
}

static void on_done(uv_work_t *w, int status)
{
    sjob *j = w->data;
    squeue *q = j->q;
    assert(q->running == j && "only the one running job finishes");
    q->running = NULL;
    run_finish(q, j, status == UV_ECANCELED);
    if (q->closing) {
        maybe_drained(q);
        return;
    }
    run_next(q);
    idle_ask(q);
}

/* Nothing waiting: the idle job's turn, now or after the quiet wait (its
 * own finish asks again, and due says no once it has run). */
static void idle_ask(squeue *q)
{
    if (q->closing || q->running || q->head || !q->idle_due)
        return;
    int due = q->idle_due(q->idle_arg);
    if (due == SQUEUE_IDLE_QUIET && q->has_timer && !q->quiet_over) {
        /* the wait runs (or starts): it asks again when it ends */
        if (!uv_is_active((uv_handle_t *)&q->quiet))
            uv_timer_start(&q->quiet, on_quiet, q->quiet_ms, 0);
        return;
    }
    if (due != SQUEUE_IDLE_NO)
        push(q, q->idle_work, NULL, q->idle_done, q->idle_arg);
}

static void run_next(squeue *q)
{
    while (!q->running && q->head) {
        sjob *j = q->head, *last = j;
        j->nrun = 1;
        /* a batchable job takes the batchable jobs right behind it */
        while (j->batch && last->next && last->next->batch == j->batch &&
               j->nrun < SQUEUE_BATCH_MAX) {
            last = last->next;
            j->nrun++;
        }
        q->head = last->next;
        last->next = NULL;
        if (!q->head)
            q->tail = NULL;
        assert(!q->running && "one job at a time");
        q->running = j;
        j->work.data = j;
        if (uv_queue_work(q->loop, &j->work, on_work, on_done) == 0)
            return;
        q->running = NULL;
        run_finish(q, j, 1);
        if (q->closing) {
            maybe_drained(q);
            return;
        }
    }
}

static uerr push(squeue *q, squeue_work_fn work, squeue_batch_fn batch, squeue_done_fn done,
                 void *arg)
{
    assert((work || batch) && done);
    if (q->closing)
        return UERR_BUSY;
    sjob *j = calloc(1, sizeof *j);
    if (!j)
        return UERR_NOMEM;
    j->q = q;
    j->fn = work;
    j->batch = batch;
    j->done = done;
    j->arg = arg;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->length++;
    /* a job: the queue is not quiet; the wait starts again after it */
    if (q->has_timer) {
        uv_timer_stop(&q->quiet);
        q->quiet_over = 0;
    }
    run_next(q);
    return UERR_OK;
}

uerr squeue_push(squeue *q, squeue_work_fn work, squeue_done_fn done, void *arg)
{
    assert(work);
    return push(q, work, NULL, done, arg);
}

uerr squeue_push_batchable(squeue *q, squeue_batch_fn batch, squeue_done_fn done, void *arg)
{
    assert(batch);
    return push(q, NULL, batch, done, arg);
}

void squeue_close(squeue *q, void (*drained)(void *), void *arg)
{
    assert(!q->closing && "squeue_close is called once");
    q->closing = 1;
    q->drained = drained;
    q->drained_arg = arg;
    q->in_done++;
    while (q->head) {
        sjob *j = q->head;
        q->head = j->next;
        q->length--;
        j->done(j->arg, 1);
        free(j);
    }
    q->tail = NULL;
    q->in_done--;
    if (q->has_timer)
        uv_timer_stop(&q->quiet);
    maybe_drained(q);
}
