/* squeue.h - the store queue: one FIFO of jobs, run one at a time on the
 * libuv thread pool. Everything that touches the store (control requests,
 * peer pack building and ingestion) goes through it, so the store has one
 * writer and the loop thread never runs libgit2. All functions are called
 * on the loop thread only. Invariants (asserted): at most one job runs at a
 * time; the queue is empty and nothing runs when it is freed. */
#ifndef UNIOND_SQUEUE_H
#define UNIOND_SQUEUE_H

#include "proto/uerr.h"

#include <uv.h>

typedef struct squeue squeue;

/* work runs on a pool thread; done runs on the loop thread afterwards, with
 * cancelled = 1 if the job was dropped without running (queue closing). */
typedef void (*squeue_work_fn)(void *arg);
typedef void (*squeue_done_fn)(void *arg, int cancelled);

/* A queue on loop; *out owned by the caller (freed by squeue_close).
 * UERR_OK or UERR_NOMEM. */
uerr squeue_new(squeue **out, uv_loop_t *loop);
/* Append a job; arg stays the caller's (handed back to done). UERR_OK, or
 * UERR_BUSY when closing, UERR_NOMEM (then neither function is ever called). */
uerr squeue_push(squeue *q, squeue_work_fn work, squeue_done_fn done, void *arg);
/* Jobs queued or running. */
unsigned squeue_length(const squeue *q);
/* Stop taking jobs, cancel the queued ones, let the running one finish,
 * then free q and call drained(arg) (on the loop thread). Call once. */
void squeue_close(squeue *q, void (*drained)(void *), void *arg);

#endif
