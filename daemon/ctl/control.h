/* control.h - the control socket DATA/uniond.sock (mode 0660) that unionctl
 * talks to (docs/CONTROL.md).
 *
 * Frames: 4-byte big-endian length + one msgpack map (proto/frame.h). Each
 * request is looked up in the op table (daemon/ctl/optable.h): loop-thread
 * ops go to the loop handler main wires in (the peers' requests), every
 * other request is a job on the store queue. A client has at most one
 * request in flight: reading stops until its reply is written
 * (backpressure). Must never include the net room: the loop handler is a
 * plain function pointer and gets only a reply handle (daemon/reply.h). */
#ifndef UNIOND_CTL_CONTROL_H
#define UNIOND_CTL_CONTROL_H

#include "daemon/ctl/ops.h"
#include "daemon/reply.h"
#include "daemon/store/squeue.h"

#include <msgpack.h>
#include <stddef.h>
#include <uv.h>

typedef struct control control;

/* The handler of the op table's loop-thread rows (peers, sync, peer_add,
 * peer_remove), called on the loop thread. req is valid only during the
 * call. Return 1 to take the request: the handler then calls reply_send(r)
 * exactly once, now or later, on the loop thread. Return 0 to decline: the
 * client then gets an error reply. */
typedef int (*control_loop_fn)(void *arg, const char *op, const msgpack_object *req, reply r);

/* Bind and listen on sock_path (a stale socket file is replaced: the caller
 * holds the DATA lock). q, ops and the handler's arg are borrowed and must
 * outlive the control; loop_fn may be NULL (loop ops are then refused).
 * *out is owned by the caller until control_close. On failure *out is NULL
 * and the half-made control frees itself once the loop runs. Returns
 * UERR_OK, or UERR_IO with err set. */
uerr control_start(control **out, uv_loop_t *loop, const char *sock_path, squeue *q, ops_ctx *ops,
                   control_loop_fn loop_fn, void *loop_arg, char *err, size_t errlen);

/* Call fn(arg) on the loop thread after every store job of this socket
 * (the peers use it to announce a moved head at once). */
void control_after_job(control *c, void (*fn)(void *), void *arg);

/* Stop accepting; close every idle client at once, and each client with a
 * request in flight (running, queued or partly received) once its answer
 * is written, for at most stop_ms (then it is closed unanswered, logged;
 * 0 = do not wait). Frees c once every handle has closed, then calls
 * done(arg). Jobs already on the store queue finish either way. */
void control_close(control *c, uint64_t stop_ms, void (*done)(void *), void *arg);

#endif
