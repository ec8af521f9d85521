/* control.h - the control socket DATA/uniond.sock (mode 0660) that unionctl
 * talks to.
 *
 * Frames: 4-byte big-endian length + one msgpack map (proto/frame.h). A
 * request goes either to the loop handler (peer requests, answered later
 * with control_reply) or as a job on the store queue, where ops_handle runs
 * it on the thread pool. A client has at most one request in flight:
 * reading stops until its reply is written (backpressure). */
#ifndef UNIOND_CONTROL_H
#define UNIOND_CONTROL_H

#include "daemon/ops.h"
#include "daemon/store/squeue.h"

#include <msgpack.h>
#include <stddef.h>
#include <uv.h>

typedef struct control control;
typedef struct control_client control_client;

/* Requests that must run on the loop thread (peer state lives there).
 * Return 1 to take the request: the handler then owns one reference to cl
 * and must call control_reply exactly once. Return 0 to let it go to the
 * store queue. req is valid only during the call. */
typedef int (*control_loop_fn)(void *arg, const char *op, const msgpack_object *req,
                               control_client *cl);

/* Bind and listen on sock_path (a stale socket file is replaced: the caller
 * holds the DATA lock). q, ops and the handler's arg are borrowed and must
 * outlive the control. *out is owned by the caller until control_close.
 * Returns 0 or -1 with err set. */
int control_start(control **out, uv_loop_t *loop, const char *sock_path, squeue *q, ops_ctx *ops,
                  control_loop_fn loop_fn, void *loop_arg, char *err, size_t errlen);

/* Call fn(arg) on the loop thread after every store job of this socket
 * (the peers use it to announce a moved head at once). */
void control_after_job(control *c, void (*fn)(void *), void *arg);

/* Send the reply for the request a loop handler took and drop its reference
 * to cl. Takes the buffer's data (reply is left empty). Safe when the client
 * has gone away (the reply is then dropped). */
void control_reply(control_client *cl, msgpack_sbuffer *reply);

/* Stop accepting and close every client; frees c once every handle has
 * closed, then calls done(arg). Jobs already on the store queue finish. */
void control_close(control *c, void (*done)(void *), void *arg);

#endif
