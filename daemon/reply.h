/* reply.h - where the answer to a control request goes, as seen by a
 * handler. The control room owns the socket and its clients; a handler in
 * another room (the peers' requests: peers, sync, peer add/remove) gets
 * only this handle, never a client, so no room outside the control room
 * includes control.h.
 *
 * Contract: a handler that takes a request calls reply_send exactly once,
 * now or later (sync answers when its exchanges finish), on the loop
 * thread. Sending after the asker went away is safe (the answer is
 * dropped). */
#ifndef UNIOND_REPLY_H
#define UNIOND_REPLY_H

#include <msgpack.h>

typedef struct reply_to reply_to; /* opaque: owned by the control room */

typedef struct {
    /* Send answer (one msgpack map, {"ok": ...} as in docs/CONTROL.md) and
     * release the handle. Takes the buffer's data (answer is left empty). */
    void (*send)(reply_to *to, msgpack_sbuffer *answer);
    reply_to *to;
} reply;

static inline void reply_send(reply r, msgpack_sbuffer *answer)
{
    r.send(r.to, answer);
}

#endif
