/* control.h - the control socket DATA/uniond.sock (mode 0660) that unionctl
 * talks to, and the store queue behind it.
 *
 * Frames: 4-byte big-endian length + one msgpack map (proto/frame.h).
 * Every request becomes a job on one FIFO queue; one job at a time runs on
 * the libuv thread pool (uv_queue_work), so the store has one writer and
 * the loop thread never touches git. A client has at most one request in
 * flight: reading stops until its reply is written (backpressure). */
#ifndef UNIOND_CONTROL_H
#define UNIOND_CONTROL_H

#include "daemon/ops.h"

#include <stddef.h>
#include <uv.h>

typedef struct control control;

/* Bind and listen on sock_path (a stale socket file is replaced: the caller
 * holds the DATA lock). ops is borrowed and must outlive the control.
 * *out is owned by the caller until control_close. Returns 0 or -1. */
int control_start(control **out, uv_loop_t *loop, const char *sock_path, ops_ctx *ops, char *err,
                  size_t errlen);

/* Stop accepting, let the running job finish, drop queued ones, close every
 * handle; frees c in the last close callback, then calls done(arg). */
void control_close(control *c, void (*done)(void *), void *arg);

#endif
