/* uerr.h - typed errors, in libgit2's manner: every fallible call returns a
 * uerr (0 or a negative code) and writes a message for people beside it
 * (a caller-supplied buffer). The code says whose fault it was, so the
 * caller never has to read the message to decide what to do: a peer is
 * told "refused" only for UERR_PEER, a local disk error is never blamed on
 * the peer, and the CLI maps codes to exit statuses. Pure: no I/O. */
#ifndef UNIOND_UERR_H
#define UNIOND_UERR_H

#include <stddef.h>

typedef enum {
    UERR_OK = 0,
    UERR_INVALID = -1,  /* the caller's input is wrong (a user's value, a usage error) */
    UERR_NOTFOUND = -2, /* the thing asked for does not exist */
    UERR_PEER = -3,     /* data from outside (peer, bundle) is refused: the sender's fault */
    UERR_CONFLICT = -4, /* refused because of the current state (exists, not fast-forward) */
    UERR_IO = -5,       /* local I/O or system failure (disk full, read-only, permissions) */
    UERR_BUSY = -6,     /* try again later (locked, closing, queue full) */
    UERR_NOMEM = -7,    /* out of memory */
    UERR_INTERNAL = -8  /* a bug: an invariant did not hold */
} uerr;

/* A short stable name for the code ("invalid", "io", ...), for logs and the
 * control protocol's "code" key. Never NULL. */
const char *uerr_name(uerr e);

/* Write a formatted message into err[0..errlen) (truncating safely; err
 * may be NULL when errlen is 0) and return e, so a failure is one line:
 *     return uerr_set(err, errlen, UERR_IO, "writing %s: %s", path, strerror(errno)); */
uerr uerr_set(char *err, size_t errlen, uerr e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
