/* optable.h - THE op table of the control socket: one row per request
 * {op name, where it runs, handler}. Adding an op is adding one row (and
 * its handler). The control socket looks every request up here; nothing
 * else dispatches on op names.
 *
 * Two places: CTL_ON_QUEUE rows run their handler on the store queue's
 * worker thread (they own the store and the index while they run);
 * CTL_ON_LOOP rows (the peers' requests) are answered on the loop thread by
 * the loop handler main gives control_start, which never sees this table's
 * handlers. */
#ifndef UNIOND_CTL_OPTABLE_H
#define UNIOND_CTL_OPTABLE_H

#include "daemon/ctl/ops.h"

#include <msgpack.h>
#include <stddef.h>

typedef enum { CTL_ON_QUEUE, CTL_ON_LOOP } ctl_place;

/* A store-queue handler: reads req (valid during the call) and writes
 * exactly one whole reply into pk. */
typedef void (*ctl_queue_fn)(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);

typedef struct {
    const char *name;
    ctl_place place;
    ctl_queue_fn run; /* CTL_ON_QUEUE rows only; NULL for CTL_ON_LOOP */
} ctl_op;

/* The row of op name, or NULL. Borrowed (static). */
const ctl_op *ctl_op_find(const char *name);

/* Every row, sorted by name (*n set). Borrowed (static); for tests and
 * docs. */
const ctl_op *ctl_ops(size_t *n);

/* Handle one request on the store queue's worker thread: decode it, look
 * its op up, run the row's handler, append exactly one reply map to out
 * (owned by the caller). Malformed requests, unknown ops and loop-thread
 * ops that reached the queue are answered with an error reply. */
void ctl_queue_handle(ops_ctx *o, const char *req, size_t len, msgpack_sbuffer *out);

#endif
