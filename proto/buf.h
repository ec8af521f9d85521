/* buf.h - THE growable byte buffer: one size-checked way to build text or
 * bytes of unknown length (config files, messages, CSV cells). Growth
 * doubles and every size computation is checked for overflow, so a huge
 * request fails with UERR_NOMEM instead of wrapping around. The data is
 * always NUL-terminated (after len bytes) once anything was appended, so
 * text can be used as a C string. Pure: no I/O. */
#ifndef UNIOND_BUF_H
#define UNIOND_BUF_H

#include <stddef.h>

#include "proto/uerr.h"

/* A struct tag, not a typedef: a type named buf would clash (-Wshadow)
 * with the many variables called buf. */
struct buf {
    char *data; /* owned; NULL until the first append; NUL after len bytes */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_init(struct buf *b);
/* Free the data and reset b to empty; b itself is the caller's. */
void buf_free(struct buf *b);
/* Make room for extra more bytes (plus the NUL). UERR_NOMEM on overflow or
 * allocation failure; b is unchanged then. */
uerr buf_reserve(struct buf *b, size_t extra);
/* Empty b (len 0, data "" if allocated) but keep its allocation, for a
 * scratch buffer refilled in a loop. */
void buf_reset(struct buf *b);
/* Append n bytes at p (p may be NULL when n is 0). UERR_NOMEM on failure,
 * leaving b as it was. */
uerr buf_append(struct buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. */
uerr buf_puts(struct buf *b, const char *s);
/* Append formatted text. UERR_NOMEM on failure (b unchanged). */
uerr buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (who frees it; never NULL on success: an
 * empty buffer gives ""), store its length in *len when len is not NULL,
 * and reset b to empty. NULL only when out of memory. */
char *buf_detach(struct buf *b, size_t *len);

#endif
