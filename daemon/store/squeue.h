/* squeue.h - the store queue: one FIFO of jobs, run one at a time on the
 * libuv thread pool. Everything that touches the store (control requests,
 * peer pack building and ingestion) goes through it, so the store has one
 * writer and the loop thread never runs libgit2. All functions are called
 * on the loop thread only. Invariants (asserted): at most one job runs at a
 * time; the queue is empty and nothing runs when it is freed.
 *
 * Group commit (issue 12): a job pushed with squeue_push_batchable may run
 * together with the batchable jobs queued right behind it (same batch
 * function, up to SQUEUE_BATCH_MAX) as one pool job, so that their writes
 * share one durable step. Order is kept: a batch is only ever a run of
 * consecutive jobs, never reaching past an ordinary one. */
#ifndef UNIOND_SQUEUE_H
#define UNIOND_SQUEUE_H

#include "proto/uerr.h"

#include <stddef.h>
#include <uv.h>

typedef struct squeue squeue;

/* work runs on a pool thread; done runs on the loop thread afterwards, with
 * cancelled = 1 if the job was dropped without running (queue closing). */
typedef void (*squeue_work_fn)(void *arg);
typedef void (*squeue_done_fn)(void *arg, int cancelled);

typedef void (*squeue_batch_fn)(void **args, size_t n);

/* Most jobs one batch takes. */
#define SQUEUE_BATCH_MAX 64

/* A queue on loop; *out owned by the caller (freed by squeue_close).
 * UERR_OK or UERR_NOMEM. */
uerr squeue_new(squeue **out, uv_loop_t *loop);
/* Append a job; arg stays the caller's (handed back to done). UERR_OK, or
 * UERR_BUSY when closing, UERR_NOMEM (then neither function is ever called). */
uerr squeue_push(squeue *q, squeue_work_fn work, squeue_done_fn done, void *arg);
/* Append a job that may run in a batch: batch(args, n) runs on a pool
 * thread with this job's arg and those of the batchable jobs (same batch)
 * queued right after it, in queue order (n >= 1); then done runs for each
 * of them in that order. Ownership and codes as squeue_push. */
uerr squeue_push_batchable(squeue *q, squeue_batch_fn batch, squeue_done_fn done, void *arg);
/* The idle job: after a job finishes and the queue is empty (and not
 * closing), due(arg) (loop thread) says whether work(arg) is queued like
 * squeue_push's, then done(arg, cancelled): SQUEUE_IDLE_NOW queues it at
 * once; SQUEUE_IDLE_QUIET once the queue has stayed empty for the quiet
 * time (squeue_set_idle_quiet; every job queued meanwhile starts the wait
 * again, so a burst of writes is not held up by it); SQUEUE_IDLE_NO not.
 * A write that arrives while it runs waits for at most that one job. arg
 * stays the caller's; set once. */
enum { SQUEUE_IDLE_NO = 0, SQUEUE_IDLE_NOW = 1, SQUEUE_IDLE_QUIET = 2 };
typedef int (*squeue_due_fn)(void *arg);
void squeue_set_idle(squeue *q, squeue_due_fn due, squeue_work_fn work, squeue_done_fn done,
                     void *arg);
/* How long the queue must stay empty before an idle job due
 * SQUEUE_IDLE_QUIET runs (0, the default: at once, as SQUEUE_IDLE_NOW).
 * Set once; uses a timer on the queue's loop, so
 * squeue_close's drained then comes on a later turn of the loop. */
uerr squeue_set_idle_quiet(squeue *q, unsigned ms);
/* The after hook: fn(arg) runs on the pool thread right after every job's
 * (or batch's) work, the idle job's too, before its done is called: what
 * must see every change to the store as soon as it is made, and before
 * any reply about it is sent, takes its copy there (the control socket's
 * status view). arg stays the caller's; set once, before the first job. */
void squeue_set_after(squeue *q, squeue_work_fn fn, void *arg);
/* Jobs queued or running. */
unsigned squeue_length(const squeue *q);
/* Stop taking jobs, cancel the queued ones, let the running one finish,
 * then free q and call drained(arg) (on the loop thread). Call once. */
void squeue_close(squeue *q, void (*drained)(void *), void *arg);

#endif
