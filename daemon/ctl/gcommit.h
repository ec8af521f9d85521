/* gcommit.h - group commit of write requests on the store queue (issue 12):
 * the control socket pushes add and edit as batchable jobs, and the store
 * queue hands a run of them to ctl_queue_handle_batch, which answers each
 * on its own (as if run one after the other) but makes their commits
 * durable with one pack and one branch move. Store queue worker thread
 * only, except ctl_request_batchable (any thread: it only reads bytes). */
#ifndef UNIOND_CTL_GCOMMIT_H
#define UNIOND_CTL_GCOMMIT_H

#include "daemon/ctl/ops.h"
#include "daemon/store/squeue.h"

#include <msgpack.h>
#include <stddef.h>

/* 1 if the request (len bytes) is a write that may share a batch: add or
 * edit; 2 if it is a write that commits through a batch of its own (merge,
 * resolve, revert, transfer, field_add, field_value_add: they read the
 * store's history or schema before they write, so they never follow
 * another request's commit pending in the same batch), for the batch's
 * durability (the journal: one flush). Anything else, malformed requests
 * included, is 0. */
int ctl_request_batchable(const char *req, size_t len);

/* Handle reqs[0..n) (lens[i] bytes each) in order exactly as
 * ctl_queue_handle would one after the other, each answered into outs[i]
 * (the caller's), with every commit they make durable together before
 * this returns. If that last step fails, every request that wrote gets
 * that error instead of its answer (the others keep theirs) and the index
 * is reloaded from the store: nothing unacknowledged stays visible. */
void ctl_queue_handle_batch(ops_ctx *o, const char *const *reqs, const size_t *lens,
                            msgpack_sbuffer *const *outs, size_t n);

/* Make joining the group commit's packs (store_packs_join) q's idle job
 * (squeue_set_idle), for st (borrowed; outlives q's jobs). Loop thread. */
void ctl_packs_join_wire(squeue *q, store *st);

#endif
