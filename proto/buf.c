/* buf.c - the growable byte buffer (see buf.h). */
#include "proto/buf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

uerr buf_reserve(struct buf *b, size_t extra)
{
    assert(b->len <= b->cap);
    if (extra > SIZE_MAX - 1 - b->len)
        return UERR_NOMEM;
    size_t need = b->len + extra + 1; /* + NUL */
    if (need <= b->cap)
        return UERR_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *nd = realloc(b->data, cap);
    if (!nd)
        return UERR_NOMEM;
    b->data = nd;
    b->cap = cap;
    return UERR_OK;
}

uerr buf_append(struct buf *b, const void *p, size_t n)
{
    uerr e = buf_reserve(b, n);
    if (e != UERR_OK)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return UERR_OK;
}

uerr buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

uerr buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return UERR_INTERNAL;
    uerr e = buf_reserve(b, (size_t)n);
    if (e != UERR_OK)
        return e;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return UERR_OK;
}

char *buf_detach(struct buf *b, size_t *len)
{
    if (!b->data && buf_reserve(b, 0) != UERR_OK)
        return NULL;
    if (b->len == 0)
        b->data[0] = '\0';
    char *d = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return d;
}
