/* uerr.c - names and message helper for typed errors (see uerr.h). */
#include "proto/uerr.h"

#include <stdarg.h>
#include <stdio.h>

const char *uerr_name(uerr e)
{
    switch (e) {
    case UERR_OK:
        return "ok";
    case UERR_INVALID:
        return "invalid";
    case UERR_NOTFOUND:
        return "not-found";
    case UERR_PEER:
        return "refused-peer-data";
    case UERR_CONFLICT:
        return "conflict";
    case UERR_IO:
        return "io";
    case UERR_BUSY:
        return "busy";
    case UERR_NOMEM:
        return "no-memory";
    case UERR_INTERNAL:
        return "internal";
    }
    return "unknown";
}

uerr uerr_set(char *err, size_t errlen, uerr e, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return e;
}
