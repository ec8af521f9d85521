/* record_codec.c - the one canonical text form of a record state, stored
 * as a git blob (docs/STORE.md): record_encode, record_decode and the
 * timestamp format they use. Split from record.c, which keeps the state
 * and the join. Pure: no I/O.
 *
 * decode refuses anything that does not re-encode to the same bytes, which
 * is what makes "one state, one byte form" checkable. */
#include "proto/record.h"

#include "proto/buf.h"
#include "proto/names.h"
#include "proto/record_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_NAME_MAX 32

/* ---- canonical text ---------------------------------------------------- */

/* The text being built: a struct buf (proto/buf.h) and the first error,
 * which sticks, so encode checks once at the end instead of after every
 * piece. */
typedef struct {
    struct buf b;
    uerr e;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->e == UERR_OK)
        b->e = buf_append(&b->b, s, n);
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_escaped(sbuf *b, const char *s)
{
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[5] = {0};
        if (*p == '\\')
            strcpy(esc, "\\\\");
        else if (*p == '\n')
            strcpy(esc, "\\n");
        else if (*p == '\r')
            strcpy(esc, "\\r");
        else if (*p == '\t')
            strcpy(esc, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", *p);
        else
            continue;
        sb_put(b, run, (const char *)p - run);
        sb_str(b, esc);
        run = (const char *)p + 1;
    }
    sb_str(b, run);
}

void record_time_format(char *out, size_t outlen, int64_t ms)
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
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999 || outlen < 25) {
        snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
        return;
    }
    /* the same text written digit by digit: snprintf here was a fifth of
     * the cost of checking a received record (every entry has a time) */
    const int part[7] = {(int)y,          (int)m, (int)d, (int)(rem / 3600), (int)(rem / 60 % 60),
                         (int)(rem % 60), msec};
    static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    char *o = out;
    for (int i = 0; i < 7; i++) {
        for (int w = width[i] - 1, v = part[i]; w >= 0; w--, v /= 10)
            o[w] = (char)('0' + v % 10);
        o += width[i];
        *o++ = after[i];
    }
    *o = 0;
}

/* Decimal digits of v at out (room for 21), NUL-terminated; the length. */
static size_t u64_text(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
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

int record_encode(char **out, size_t *len, const record *r)
{
    sbuf b = {BUF_INIT, UERR_OK};
    char num[32], tbuf[32];
    b.e = buf_reserve(&b.b, 256); /* most records fit: one allocation */
    for (size_t i = 0; i < r->nentries; i++) {
        sb_str(&b, r->entries[i].field);
        sb_str(&b, ":");
        if (r->entries[i].value[0]) {
            sb_str(&b, " ");
            sb_escaped(&b, r->entries[i].value);
        }
        sb_str(&b, "\n");
    }
    sb_str(&b, "--\ncontext:");
    for (size_t i = 0; i < r->nctx; i++) {
        num[0] = '=';
        u64_text(num + 1, r->ctx[i].counter);
        sb_str(&b, " ");
        sb_str(&b, r->ctx[i].node);
        sb_str(&b, num);
    }
    sb_str(&b, "\n");
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        record_time_format(tbuf, sizeof tbuf, e->time_ms);
        num[0] = ' ';
        size_t nl = u64_text(num + 1, e->counter);
        num[nl + 1] = ' ';
        num[nl + 2] = 0;
        sb_str(&b, e->field);
        sb_str(&b, " ");
        sb_str(&b, e->node);
        sb_str(&b, num);
        sb_str(&b, tbuf);
        sb_str(&b, "\n");
    }
    if (b.e != UERR_OK || !(*out = buf_detach(&b.b, len))) {
        buf_free(&b.b);
        return -1;
    }
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

/* Unescape [s, s+n) into a fresh string; -1 on a bad escape. */
static char *unescape(const char *s, size_t n)
{
    char *o = malloc(n + 1), *w = o;
    if (!o)
        return NULL;
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
    return o;
bad:
    free(o);
    errno = EINVAL;
    return NULL;
}

/* record_decode, with the final canonical-form check when canonical. */
static int decode(record *r, const char *buf, size_t len, int canonical, char *err, size_t errlen)
{
    record_init(r);
    char *again = NULL;
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
    if (nvals) {
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
        e->field = record_intern(s, (size_t)(colon - s));
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
        e->value = unescape(v, vl);
        if (!e->field || !e->value) {
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
        if (nitems) {
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
            ci->node = record_intern(s + q, (size_t)(eq - (s + q)));
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
    /* one metadata line per entry: field node counter time */
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
        if (!names_node_valid_n(sp1 + 1, (size_t)(sp2 - sp1 - 1)) ||
            parse_u64(&e->counter, sp2 + 1, (size_t)(sp3 - sp2 - 1)) != 0 ||
            record_time_parse(&e->time_ms, sp3 + 1, (size_t)(s + l - sp3 - 1)) != 0) {
            seterr(err, errlen, "line %zu: bad entry metadata", line);
            goto fail;
        }
        e->node = record_intern(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        if (!e->node)
            goto oom;
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
    record_free(r);
    return -1;
}

int record_decode(record *r, const char *buf, size_t len, char *err, size_t errlen)
{
    return decode(r, buf, len, 1, err, errlen);
}

int record_decode_trusted(record *r, const char *buf, size_t len, char *err, size_t errlen)
{
    return decode(r, buf, len, 0, err, errlen);
}
