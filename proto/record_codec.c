/* record_codec.c - the one canonical text form of a record state, stored
 * as a git blob (docs/STORE.md): record_encode, record_decode and the
 * timestamp format they use. Split from record.c, which keeps the state
 * and the join. Pure: no I/O.
 *
 * decode refuses anything that does not re-encode to the same bytes, which
 * is what makes "one state, one byte form" checkable. */
#include "proto/record.h"

#include "proto/names.h"
#include "proto/record_priv.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_NAME_MAX 32

/* ---- canonical text ---------------------------------------------------- */

/* How a value byte is written: 0 as itself, else the length of its escape
 * ("\\", "\n", "\r", "\t": 2; other controls and DEL "\xHH": 4). A
 * table, because record_encode runs once per stored record and its values
 * are scanned twice (size, then copy). */
static const unsigned char esc_len[256] = {
    [0x01] = 4, [0x02] = 4, [0x03] = 4, [0x04] = 4, [0x05] = 4, [0x06] = 4, [0x07] = 4,
    [0x08] = 4, ['\t'] = 2, ['\n'] = 2, [0x0b] = 4, [0x0c] = 4, ['\r'] = 2, [0x0e] = 4,
    [0x0f] = 4, [0x10] = 4, [0x11] = 4, [0x12] = 4, [0x13] = 4, [0x14] = 4, [0x15] = 4,
    [0x16] = 4, [0x17] = 4, [0x18] = 4, [0x19] = 4, [0x1a] = 4, [0x1b] = 4, [0x1c] = 4,
    [0x1d] = 4, [0x1e] = 4, [0x1f] = 4, ['\\'] = 2, [0x7f] = 4,
};

/* The length of the value s[0..n) once escaped. Eight bytes at a time: a
 * word holds a byte to escape exactly when one of its bytes is below 0x20,
 * or equal to 0x7f or to '\\' (the "has a byte less than" and "has a zero
 * byte" tests of the bit-twiddling folklore, exact for existence); only
 * such a word is looked at byte by byte. Most values have no escape. */
static size_t escaped_len(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    size_t i = 0, out = n;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, d, b;
        memcpy(&x, s + i, 8);
        d = x ^ (ones * 0x7f);
        b = x ^ (ones * '\\');
        uint64_t below = (x - ones * 0x20) & ~x & high; /* a byte < 0x20 */
        uint64_t del = (d - ones) & ~d & high;          /* a byte 0x7f */
        uint64_t bsl = (b - ones) & ~b & high;          /* a backslash */
        if ((below | del | bsl) == 0)
            continue;
        for (size_t k = i; k < i + 8; k++)
            out += esc_len[(unsigned char)s[k]] ? esc_len[(unsigned char)s[k]] - 1u : 0;
    }
    for (; i < n; i++)
        out += esc_len[(unsigned char)s[i]] ? esc_len[(unsigned char)s[i]] - 1u : 0;
    return out;
}

/* The escaped value s[0..n) at o; returns the end. The escapes are those
 * of esc_len (docs/STORE.md), hex in lowercase. */
static char *put_escaped(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (esc_len[c]) {
        case 0:
            *o++ = (char)c;
            break;
        case 2:
            *o++ = '\\';
            *o++ = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
            break;
        default:
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
            break;
        }
    }
    return o;
}

/* The milliseconds of 0000-01-01T00:00:00.000Z and of
 * 10000-01-01T00:00:00.000Z: a time in [TIME_4Y_MIN, TIME_4Y_END) has a
 * four-digit year, and its text is always 24 bytes. */
#define TIME_4Y_MIN (-62167219200000LL)
#define TIME_4Y_END 253402300800000LL
#define TIME_TEXT_LEN 24

/* "00" .. "99": two digits a store, instead of a division per digit */
static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                            "34353637383940414243444546474849505152535455565758596061626364656667"
                            "6869707172737475767778798081828384858687888990919293949596979899";

static void put2(char *o, int v)
{
    memcpy(o, pairs + 2 * v, 2);
}

/* Split ms into the civil date and time (UTC, proleptic Gregorian). */
static void time_split(int64_t ms, int64_t *y, int *part)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    /* civil_from_days (Howard Hinnant), pure and locale-free */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (m <= 2);
    part[0] = (int)m;
    part[1] = (int)d;
    part[2] = (int)(rem / 3600);
    part[3] = (int)(rem / 60 % 60);
    part[4] = (int)(rem % 60);
    part[5] = msec;
}

/* The 24 bytes of a time within the four-digit years at o (no NUL):
 * written two digits at a time, as every entry of every encoded record has
 * one (the digit-by-digit loop was a quarter of record_encode). */
static void time_text24(char *o, int64_t ms)
{
    int64_t y;
    int p[6];
    time_split(ms, &y, p);
    put2(o, (int)(y / 100));
    put2(o + 2, (int)(y % 100));
    o[4] = '-';
    put2(o + 5, p[0]);
    o[7] = '-';
    put2(o + 8, p[1]);
    o[10] = 'T';
    put2(o + 11, p[2]);
    o[13] = ':';
    put2(o + 14, p[3]);
    o[16] = ':';
    put2(o + 17, p[4]);
    o[19] = '.';
    o[20] = (char)('0' + p[5] / 100);
    put2(o + 21, p[5] % 100);
    o[23] = 'Z';
}

void record_time_format(char *out, size_t outlen, int64_t ms)
{
    if (ms >= TIME_4Y_MIN && ms < TIME_4Y_END && outlen > TIME_TEXT_LEN) {
        time_text24(out, ms);
        out[TIME_TEXT_LEN] = 0;
        return;
    }
    /* years before 0 or after 9999 (no write makes them; a clock can) */
    int64_t y;
    int p[6];
    time_split(ms, &y, p);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, p[0], p[1], p[2], p[3],
             p[4], p[5]);
}

/* How many decimal digits v has. */
static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* The n decimal digits of v at o (no NUL); returns the end. */
static char *put_u64(char *o, uint64_t v, size_t n)
{
    char *e = o + n;
    do
        *--e = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return o + n;
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int record_time_parse(int64_t *ms, const char *s, size_t len)
{
    int y, mo, d, h, mi, se, f;
    if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[19] != '.' || s[23] != 'Z')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se) ||
        digits(s + 20, 3, &f))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    /* days_from_civil */
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    *ms = ((days * 86400) + h * 3600 + mi * 60 + se) * 1000 + f;
    return 0;
}

/* n += x, or 0 when that would overflow (then n is unchanged). */
static int size_add(size_t *n, size_t x)
{
    if (x > SIZE_MAX - *n)
        return 0;
    *n += x;
    return 1;
}

/* The text of a time outside the four-digit years, as record_time_format
 * writes it into a 32-byte buffer (which the format never fills). */
static size_t time_text_other(char *tbuf, int64_t ms)
{
    record_time_format(tbuf, 32, ms);
    return strlen(tbuf);
}

int record_encode(char **out, size_t *len, const record *r)
{
    /* Two passes: the exact size first, then one allocation and plain
     * stores (round 8 appended ~120 pieces a record through buf_append,
     * each checking room and copying: a third of the encoding). */
    char tbuf[32];
    size_t n = 0;
    int escapes = 0; /* a value needs an escape: else values are copied whole */
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        size_t fl = strlen(e->field), raw = strlen(e->value), vl = escaped_len(e->value, raw);
        escapes |= vl != raw;
        /* "field: value\n" (no space when empty) and "field node counter time\n" */
        size_t tl = e->time_ms >= TIME_4Y_MIN && e->time_ms < TIME_4Y_END
                        ? TIME_TEXT_LEN
                        : time_text_other(tbuf, e->time_ms);
        if (!size_add(&n, fl) || !size_add(&n, vl) || !size_add(&n, (vl ? 3 : 2) + fl) ||
            !size_add(&n, strlen(e->node)) || !size_add(&n, u64_digits(e->counter) + tl + 4))
            return -1;
    }
    if (!size_add(&n, sizeof "--\ncontext:\n" - 1))
        return -1;
    for (size_t i = 0; i < r->nctx; i++)
        if (!size_add(&n, strlen(r->ctx[i].node)) ||
            !size_add(&n, u64_digits(r->ctx[i].counter) + 2))
            return -1;
    if (n == SIZE_MAX)
        return -1;
    char *text = malloc(n + 1), *o = text; /* + NUL: callers may read it as a string */
    if (!text)
        return -1;
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        size_t fl = strlen(e->field);
        memcpy(o, e->field, fl);
        o += fl;
        *o++ = ':';
        if (e->value[0]) {
            *o++ = ' ';
            size_t vl = strlen(e->value);
            if (escapes) {
                o = put_escaped(o, e->value, vl);
            } else {
                memcpy(o, e->value, vl);
                o += vl;
            }
        }
        *o++ = '\n';
    }
    memcpy(o, "--\ncontext:", sizeof "--\ncontext:" - 1);
    o += sizeof "--\ncontext:" - 1;
    for (size_t i = 0; i < r->nctx; i++) {
        size_t nl = strlen(r->ctx[i].node);
        *o++ = ' ';
        memcpy(o, r->ctx[i].node, nl);
        o += nl;
        *o++ = '=';
        o = put_u64(o, r->ctx[i].counter, u64_digits(r->ctx[i].counter));
    }
    *o++ = '\n';
    /* The entries of one write share its time (an import row's dozen
     * fields): the previous entry's text is copied instead of redone. */
    const char *prev = NULL;
    int64_t prev_ms = 0;
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        size_t fl = strlen(e->field), nl = strlen(e->node);
        memcpy(o, e->field, fl);
        o += fl;
        *o++ = ' ';
        memcpy(o, e->node, nl);
        o += nl;
        *o++ = ' ';
        o = put_u64(o, e->counter, u64_digits(e->counter));
        *o++ = ' ';
        if (e->time_ms >= TIME_4Y_MIN && e->time_ms < TIME_4Y_END) {
            if (prev && prev_ms == e->time_ms)
                memcpy(o, prev, TIME_TEXT_LEN);
            else
                time_text24(o, e->time_ms);
            prev = o;
            prev_ms = e->time_ms;
            o += TIME_TEXT_LEN;
        } else {
            size_t tl = time_text_other(tbuf, e->time_ms);
            memcpy(o, tbuf, tl);
            o += tl;
        }
        *o++ = '\n';
    }
    assert((size_t)(o - text) == n);
    *o = 0;
    *out = text;
    *len = n;
    return 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, size_t line)
{
    if (errlen)
        snprintf(err, errlen, fmt, line);
}

static int field_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > FIELD_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int parse_u64(uint64_t *v, const char *s, size_t n)
{
    /* canonical decimal: no sign, no leading zero, > 0 */
    if (n == 0 || n > 19 || s[0] == '0')
        return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (uint64_t)(s[i] - '0');
    }
    return 0;
}

/* Unescape [s, s+n) at o (room for n + 1 bytes), NUL-terminated; the
 * end, or NULL (errno EINVAL) on a bad escape. */
static char *unescape_at(char *o, const char *s, size_t n)
{
    char *w = o;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 0)
            goto bad;
        if (s[i] != '\\') {
            *w++ = s[i];
            continue;
        }
        if (++i >= n)
            goto bad;
        switch (s[i]) {
        case '\\':
            *w++ = '\\';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'x': {
            if (i + 2 >= n)
                goto bad;
            unsigned v = 0;
            for (int k = 1; k <= 2; k++) {
                char c = s[i + k];
                v = v * 16 + (unsigned)(c >= '0' && c <= '9'   ? c - '0'
                                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                               : 99);
            }
            if (v == 0 || v > 0xff)
                goto bad;
            *w++ = (char)v;
            i += 2;
            break;
        }
        default:
            goto bad;
        }
    }
    *w = 0;
    return w + 1;
bad:
    errno = EINVAL;
    return NULL;
}

/* Unescape [s, s+n) into a fresh string; NULL on a bad escape (errno
 * EINVAL) or out of memory. */
static char *unescape(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (o && !unescape_at(o, s, n)) {
        free(o);
        errno = EINVAL;
        return NULL;
    }
    return o;
}

/* Room for n items of size sz in *p (capacity *cap, kept); 0 or -1. */
static int mem_room(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < n)
        nc *= 2;
    void *np = realloc(*p, nc * sz);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

void record_decode_mem_free(record_decode_mem *m)
{
    free(m->entries);
    free(m->ctx);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* record_decode, with the final canonical-form check when canonical; into
 * m's memory when m is not NULL (record_decode_trusted_mem). */
static int decode(record *r, const char *buf, size_t len, int canonical, record_decode_mem *m,
                  char *err, size_t errlen)
{
    record_init(r);
    char *again = NULL, *vat = NULL;
    size_t againlen = 0;
    if (len > RECORD_BLOB_MAX) {
        seterr(err, errlen, "record is larger than the 1 MiB (1048576 bytes) limit", 0);
        return -1;
    }
    if (len == 0 || buf[len - 1] != '\n') {
        seterr(err, errlen, "record does not end with a newline", 0);
        return -1;
    }
    /* Count the value lines (before "--") to bound the allocation. */
    size_t nvals = 0, sep = 0, found = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t l = (size_t)(nl - (buf + p));
        if (l == 2 && buf[p] == '-' && buf[p + 1] == '-') {
            sep = p;
            found = 1;
            break;
        }
        nvals++;
        p += l + 1;
    }
    if (!found) {
        seterr(err, errlen, "record has no '--' separator line", 0);
        return -1;
    }
    if (nvals > RECORD_ENTRIES_MAX) {
        seterr(err, errlen,
               "it would hold %zu values (fields and set elements), more than the 4096 "
               "one record may hold",
               nvals);
        return -1;
    }
    if (m) {
        /* every value unescaped is at most its text, plus its NUL: the
         * values' buffer never moves during the decode */
        if (mem_room((void **)&m->entries, &m->ecap, nvals, sizeof *m->entries) != 0 ||
            mem_room((void **)&m->vals, &m->vcap, sep + nvals + 1, 1) != 0)
            goto oom;
        if (nvals) {
            memset(m->entries, 0, nvals * sizeof *m->entries);
            r->entries = m->entries;
        }
        vat = m->vals;
    } else if (nvals) {
        r->entries = calloc(nvals, sizeof *r->entries);
        if (!r->entries)
            goto oom;
    }
    size_t line = 1, p = 0;
    for (size_t i = 0; i < nvals; i++, line++) {
        const char *s = buf + p, *nl = memchr(s, '\n', len - p);
        size_t l = (size_t)(nl - s);
        const char *colon = memchr(s, ':', l);
        if (!colon || !field_name_ok(s, (size_t)(colon - s))) {
            seterr(err, errlen, "line %zu: expected 'field: value'", line);
            goto fail;
        }
        record_entry *e = &r->entries[r->nentries++];
        e->field = record_intern_cached(s, (size_t)(colon - s));
        const char *v = colon + 1;
        size_t vl = l - (size_t)(v - s);
        if (vl > 0) {
            if (*v != ' ') {
                seterr(err, errlen, "line %zu: expected a space after ':'", line);
                goto fail;
            }
            v++;
            vl--;
        }
        if (m) {
            e->value = vat;
            vat = unescape_at(vat, v, vl);
        } else {
            e->value = unescape(v, vl);
        }
        if (!e->field || !e->value || (m && !vat)) {
            if (errno == EINVAL)
                seterr(err, errlen, "line %zu: bad escape in value", line);
            else
                seterr(err, errlen, "out of memory", 0);
            goto fail;
        }
        p += l + 1;
    }
    p = sep + 3;
    line++;
    /* context line */
    {
        const char *s = buf + p, *nl = memchr(s, '\n', len - p);
        if (!nl || (size_t)(nl - s) < 8 || memcmp(s, "context:", 8) != 0) {
            seterr(err, errlen, "line %zu: expected 'context:'", line);
            goto fail;
        }
        size_t q = 8, l = (size_t)(nl - s);
        size_t nitems = 0;
        for (size_t k = q; k < l; k++)
            nitems += s[k] == ' ';
        if (nitems > RECORD_CTX_MAX) {
            seterr(err, errlen, "line %zu: context too large (more than 4096 nodes)", line);
            goto fail;
        }
        if (m && nitems) {
            if (mem_room((void **)&m->ctx, &m->ccap, nitems, sizeof *m->ctx) != 0)
                goto oom;
            memset(m->ctx, 0, nitems * sizeof *m->ctx);
            r->ctx = m->ctx;
        } else if (nitems) {
            r->ctx = calloc(nitems, sizeof *r->ctx);
            if (!r->ctx)
                goto oom;
        }
        while (q < l) {
            if (s[q] != ' ') {
                seterr(err, errlen, "line %zu: bad context", line);
                goto fail;
            }
            q++;
            size_t end = q;
            while (end < l && s[end] != ' ')
                end++;
            const char *eq = memchr(s + q, '=', end - q);
            uint64_t c;
            if (!eq || !names_node_valid_n(s + q, (size_t)(eq - (s + q))) ||
                parse_u64(&c, eq + 1, (size_t)(s + end - eq - 1)) != 0) {
                seterr(err, errlen, "line %zu: bad context item", line);
                goto fail;
            }
            record_ctx *ci = &r->ctx[r->nctx++];
            ci->node = record_intern_cached(s + q, (size_t)(eq - (s + q)));
            ci->counter = c;
            if (!ci->node)
                goto oom;
            if (r->nctx > 1 && strcmp(r->ctx[r->nctx - 2].node, ci->node) >= 0) {
                seterr(err, errlen, "line %zu: context not sorted", line);
                goto fail;
            }
            q = end;
        }
        p += l + 1;
        line++;
    }
    /* one metadata line per entry: field node counter time. The previous
     * line's node and time text, already checked: a write's entries share
     * both, and bytes equal to checked bytes pass the same checks, so
     * such a line takes the previous line's node and time (the node check
     * and the time parse were a third of a decode). */
    const char *pnode = NULL, *ptime = NULL;
    size_t pnodelen = 0, ptimelen = 0;
    for (size_t i = 0; i < r->nentries; i++, line++) {
        if (p >= len) {
            seterr(err, errlen, "line %zu: missing entry metadata", line);
            goto fail;
        }
        const char *s = buf + p, *nl = memchr(s, '\n', len - p);
        size_t l = (size_t)(nl - s);
        const char *sp1 = memchr(s, ' ', l);
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', l - (size_t)(sp1 + 1 - s)) : NULL;
        const char *sp3 = sp2 ? memchr(sp2 + 1, ' ', l - (size_t)(sp2 + 1 - s)) : NULL;
        record_entry *e = &r->entries[i];
        if (!sp3 || (size_t)(sp1 - s) != strlen(e->field) ||
            memcmp(s, e->field, (size_t)(sp1 - s)) != 0) {
            seterr(err, errlen, "line %zu: metadata does not match its value line", line);
            goto fail;
        }
        size_t nodelen = (size_t)(sp2 - sp1 - 1), timelen = (size_t)(s + l - sp3 - 1);
        int same_node = pnode && nodelen == pnodelen && memcmp(sp1 + 1, pnode, nodelen) == 0;
        int same_time = ptime && timelen == ptimelen && memcmp(sp3 + 1, ptime, timelen) == 0;
        if (same_time)
            e->time_ms = r->entries[i - 1].time_ms;
        if ((!same_node && !names_node_valid_n(sp1 + 1, nodelen)) ||
            parse_u64(&e->counter, sp2 + 1, (size_t)(sp3 - sp2 - 1)) != 0 ||
            (!same_time && record_time_parse(&e->time_ms, sp3 + 1, timelen) != 0)) {
            seterr(err, errlen, "line %zu: bad entry metadata", line);
            goto fail;
        }
        e->node = same_node ? r->entries[i - 1].node : record_intern_cached(sp1 + 1, nodelen);
        if (!e->node)
            goto oom;
        pnode = sp1 + 1;
        pnodelen = nodelen;
        ptime = sp3 + 1;
        ptimelen = timelen;
        if (i > 0 && record_entry_cmp(&r->entries[i - 1], e) >= 0) {
            seterr(err, errlen, "line %zu: entries not in canonical order", line);
            goto fail;
        }
        if (!record_entry_covered(r, e)) {
            seterr(err, errlen, "line %zu: entry dot not covered by the context", line);
            goto fail;
        }
        p += l + 1;
    }
    if (p != len) {
        seterr(err, errlen, "line %zu: trailing data after the last entry", line);
        goto fail;
    }
    if (!canonical)
        return 0;
    /* The final word on canonical form: re-encode and compare. */
    if (record_encode(&again, &againlen, r) != 0)
        goto oom;
    if (againlen != len || memcmp(again, buf, len) != 0) {
        seterr(err, errlen, "record is not in canonical form", 0);
        goto fail;
    }
    free(again);
    return 0;
oom:
    seterr(err, errlen, "out of memory", 0);
fail:
    free(again);
    if (m)
        record_init(r); /* m's memory stays m's */
    else
        record_free(r);
    return -1;
}

int record_decode(record *r, const char *buf, size_t len, char *err, size_t errlen)
{
    return decode(r, buf, len, 1, NULL, err, errlen);
}

int record_decode_trusted(record *r, const char *buf, size_t len, char *err, size_t errlen)
{
    return decode(r, buf, len, 0, NULL, err, errlen);
}

int record_decode_trusted_mem(record *r, record_decode_mem *m, const char *buf, size_t len,
                              char *err, size_t errlen)
{
    return decode(r, buf, len, 0, m, err, errlen);
}

int record_decode_checked_mem(record *r, record_decode_mem *m, const char *buf, size_t len,
                              char *err, size_t errlen)
{
    return decode(r, buf, len, 1, m, err, errlen);
}
