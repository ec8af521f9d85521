/* record.c - the replicated record state: writes, the join, and the one
 * canonical text form stored as a git blob.
 *
 * The state is a multi-value register with causal context per field
 * (DESIGN.md "Records and the merge"). Entries stay sorted by
 * (field, node, counter) at all times, so the join is a merge walk and
 * encoding is a straight loop. The byte format is specified in
 * docs/STORE.md; decode refuses anything that does not re-encode to the
 * same bytes, which is what makes "one state, one byte form" checkable. */
#include "proto/record.h"

#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_NAME_MAX 32

/* ---- interned names ----------------------------------------------------- */

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static const char **intern_tab;
static size_t intern_cap, intern_n;

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

const char *record_intern(const char *s, size_t len)
{
    const char *found = NULL;
    pthread_mutex_lock(&intern_lock);
    if ((intern_n + 1) * 2 > intern_cap) {
        size_t nc = intern_cap ? intern_cap * 2 : 256;
        const char **nt = calloc(nc, sizeof *nt);
        if (!nt)
            goto out;
        for (size_t i = 0; i < intern_cap; i++)
            if (intern_tab[i]) {
                size_t h = (size_t)name_hash(intern_tab[i], strlen(intern_tab[i])) & (nc - 1);
                while (nt[h])
                    h = (h + 1) & (nc - 1);
                nt[h] = intern_tab[i];
            }
        free(intern_tab);
        intern_tab = nt;
        intern_cap = nc;
    }
    size_t h = (size_t)name_hash(s, len) & (intern_cap - 1);
    for (; intern_tab[h]; h = (h + 1) & (intern_cap - 1))
        if (strncmp(intern_tab[h], s, len) == 0 && intern_tab[h][len] == 0) {
            found = intern_tab[h];
            goto out;
        }
    char *copy = strndup(s, len);
    if (copy) {
        intern_tab[h] = copy;
        intern_n++;
        found = copy;
    }
out:
    pthread_mutex_unlock(&intern_lock);
    return found;
}

static const char *intern(const char *s)
{
    return record_intern(s, strlen(s));
}

void record_init(record *r)
{
    memset(r, 0, sizeof *r);
}

static void entry_free(record_entry *e)
{
    free(e->value);
}

void record_free(record *r)
{
    for (size_t i = 0; i < r->nentries; i++)
        entry_free(&r->entries[i]);
    /* ctx node names are interned: nothing to free */
    free(r->entries);
    free(r->ctx);
    record_init(r);
}

static int entry_dup(record_entry *dst, const record_entry *src)
{
    dst->field = src->field;
    dst->value = strdup(src->value);
    dst->node = src->node;
    dst->counter = src->counter;
    dst->time_ms = src->time_ms;
    if (!dst->field || !dst->value || !dst->node) {
        entry_free(dst);
        return -1;
    }
    return 0;
}

int record_copy(record *dst, const record *src)
{
    record_init(dst);
    if (src->nentries) {
        dst->entries = calloc(src->nentries, sizeof *dst->entries);
        if (!dst->entries)
            goto fail;
    }
    for (size_t i = 0; i < src->nentries; i++) {
        if (entry_dup(&dst->entries[i], &src->entries[i]) != 0)
            goto fail;
        dst->nentries++;
    }
    if (src->nctx) {
        dst->ctx = calloc(src->nctx, sizeof *dst->ctx);
        if (!dst->ctx)
            goto fail;
    }
    for (size_t i = 0; i < src->nctx; i++) {
        dst->ctx[i].node = src->ctx[i].node;
        if (!dst->ctx[i].node)
            goto fail;
        dst->ctx[i].counter = src->ctx[i].counter;
        dst->nctx++;
    }
    return 0;
fail:
    record_free(dst);
    return -1;
}

static int ctx_find(const record *r, const char *node, size_t *pos)
{
    size_t lo = 0, hi = r->nctx;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->ctx[mid].node, node);
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

uint64_t record_ctx_get(const record *r, const char *node)
{
    size_t pos;
    return ctx_find(r, node, &pos) ? r->ctx[pos].counter : 0;
}

/* Raise ctx[node] to counter, inserting the node if new. */
static int ctx_set(record *r, const char *node, uint64_t counter)
{
    size_t pos;
    if (ctx_find(r, node, &pos)) {
        if (r->ctx[pos].counter < counter)
            r->ctx[pos].counter = counter;
        return 0;
    }
    const char *n = intern(node);
    record_ctx *nc = realloc(r->ctx, (r->nctx + 1) * sizeof *nc);
    if (!n || !nc) {
        if (nc)
            r->ctx = nc;
        return -1;
    }
    r->ctx = nc;
    memmove(&r->ctx[pos + 1], &r->ctx[pos], (r->nctx - pos) * sizeof *nc);
    r->ctx[pos].node = n;
    r->ctx[pos].counter = counter;
    r->nctx++;
    return 0;
}

static int entry_cmp(const record_entry *a, const record_entry *b)
{
    int c = strcmp(a->field, b->field);
    if (c)
        return c;
    c = strcmp(a->node, b->node);
    if (c)
        return c;
    return a->counter < b->counter ? -1 : a->counter > b->counter;
}

size_t record_field_entries(const record *r, const char *field, size_t *first)
{
    /* lower bound on field */
    size_t lo = 0, hi = r->nentries;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(r->entries[mid].field, field) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    size_t n = 0;
    while (lo + n < r->nentries && strcmp(r->entries[lo + n].field, field) == 0)
        n++;
    return n;
}

/* Remove entries [first, first+n), keeping order. */
static void entries_drop(record *r, size_t first, size_t n, const char *match_value)
{
    size_t w = first;
    for (size_t i = first; i < first + n; i++) {
        if (match_value && strcmp(r->entries[i].value, match_value) != 0) {
            r->entries[w++] = r->entries[i];
            continue;
        }
        entry_free(&r->entries[i]);
    }
    size_t removed = first + n - w;
    memmove(&r->entries[w], &r->entries[first + n], (r->nentries - first - n) * sizeof *r->entries);
    r->nentries -= removed;
}

/* Insert e (already owned) at its sorted place. */
static int entry_insert(record *r, record_entry *e)
{
    record_entry *ne = realloc(r->entries, (r->nentries + 1) * sizeof *ne);
    if (!ne)
        return -1;
    r->entries = ne;
    size_t pos = r->nentries;
    while (pos > 0 && entry_cmp(&r->entries[pos - 1], e) > 0)
        pos--;
    memmove(&r->entries[pos + 1], &r->entries[pos], (r->nentries - pos) * sizeof *ne);
    r->entries[pos] = *e;
    r->nentries++;
    return 0;
}

/* Common path of write and set-add: drop the entries the writer can see
 * (all of the field, or those holding one element), add one fresh dot. */
static int record_put(record *r, const char *node, int64_t time_ms, const char *field,
                      const char *value, int only_same_value)
{
    record_entry e = {0};
    uint64_t c = record_ctx_get(r, node) + 1;
    e.field = intern(field);
    e.value = strdup(value);
    e.node = intern(node);
    e.counter = c;
    e.time_ms = time_ms;
    if (!e.field || !e.value || !e.node)
        goto fail;
    /* Reserve room first so nothing below can fail after we drop entries. */
    if (ctx_set(r, node, record_ctx_get(r, node)) != 0)
        goto fail;
    record_entry *ne = realloc(r->entries, (r->nentries + 1) * sizeof *ne);
    if (!ne)
        goto fail;
    r->entries = ne;
    size_t first, n = record_field_entries(r, field, &first);
    entries_drop(r, first, n, only_same_value ? value : NULL);
    entry_insert(r, &e); /* cannot fail: room reserved */
    ctx_set(r, node, c); /* cannot fail: node present */
    return 0;
fail:
    entry_free(&e);
    return -1;
}

int record_write(record *r, const char *node, int64_t time_ms, const char *field, const char *value)
{
    return record_put(r, node, time_ms, field, value, 0);
}

int record_set_add(record *r, const char *node, int64_t time_ms, const char *field,
                   const char *elem)
{
    return record_put(r, node, time_ms, field, elem, 1);
}

int record_set_remove(record *r, const char *node, int64_t time_ms, const char *field,
                      const char *elem)
{
    (void)time_ms;
    size_t first, n = record_field_entries(r, field, &first);
    size_t hits = 0;
    for (size_t i = first; i < first + n; i++)
        hits += strcmp(r->entries[i].value, elem) == 0;
    if (!hits)
        return 0;
    /* The removal needs no dot of its own for the join (the context already
     * covers the dropped dots), but bumping the counter marks that this node
     * changed the record, which keeps "who saw what" honest in the vector. */
    if (ctx_set(r, node, record_ctx_get(r, node) + 1) != 0)
        return -1;
    entries_drop(r, first, n, elem);
    return 1;
}

static int covered(const record *r, const record_entry *e)
{
    return record_ctx_get(r, e->node) >= e->counter;
}

int record_join(record *out, const record *a, const record *b)
{
    record_init(out);
    size_t cap = a->nentries + b->nentries;
    if (cap) {
        out->entries = calloc(cap, sizeof *out->entries);
        if (!out->entries)
            goto fail;
    }
    size_t i = 0, j = 0;
    while (i < a->nentries || j < b->nentries) {
        const record_entry *take = NULL;
        if (j >= b->nentries) {
            if (!covered(b, &a->entries[i]))
                take = &a->entries[i];
            i++;
        } else if (i >= a->nentries) {
            if (!covered(a, &b->entries[j]))
                take = &b->entries[j];
            j++;
        } else {
            int c = entry_cmp(&a->entries[i], &b->entries[j]);
            if (c == 0) {
                /* Same dot on both sides: the same write. Should the bytes
                 * ever differ, pick deterministically so join commutes. */
                const record_entry *x = &a->entries[i], *y = &b->entries[j];
                int v = strcmp(x->value, y->value);
                take = v < 0 || (v == 0 && x->time_ms <= y->time_ms) ? x : y;
                i++;
                j++;
            } else if (c < 0) {
                if (!covered(b, &a->entries[i]))
                    take = &a->entries[i];
                i++;
            } else {
                if (!covered(a, &b->entries[j]))
                    take = &b->entries[j];
                j++;
            }
        }
        if (take) {
            if (entry_dup(&out->entries[out->nentries], take) != 0)
                goto fail;
            out->nentries++;
        }
    }
    cap = a->nctx + b->nctx;
    if (cap) {
        out->ctx = calloc(cap, sizeof *out->ctx);
        if (!out->ctx)
            goto fail;
    }
    i = j = 0;
    while (i < a->nctx || j < b->nctx) {
        const record_ctx *src;
        uint64_t cnt;
        int c = i >= a->nctx ? 1 : j >= b->nctx ? -1 : strcmp(a->ctx[i].node, b->ctx[j].node);
        if (c == 0) {
            src = &a->ctx[i];
            cnt = a->ctx[i].counter > b->ctx[j].counter ? a->ctx[i].counter : b->ctx[j].counter;
            i++;
            j++;
        } else if (c < 0) {
            src = &a->ctx[i++];
            cnt = src->counter;
        } else {
            src = &b->ctx[j++];
            cnt = src->counter;
        }
        out->ctx[out->nctx].node = src->node;
        if (!out->ctx[out->nctx].node)
            goto fail;
        out->ctx[out->nctx++].counter = cnt;
    }
    return 0;
fail:
    record_free(out);
    return -1;
}

int record_equal(const record *a, const record *b)
{
    if (a->nentries != b->nentries || a->nctx != b->nctx)
        return 0;
    for (size_t i = 0; i < a->nctx; i++)
        if (strcmp(a->ctx[i].node, b->ctx[i].node) || a->ctx[i].counter != b->ctx[i].counter)
            return 0;
    for (size_t i = 0; i < a->nentries; i++) {
        const record_entry *x = &a->entries[i], *y = &b->entries[i];
        if (entry_cmp(x, y) || strcmp(x->value, y->value) || x->time_ms != y->time_ms)
            return 0;
    }
    return 1;
}

const record_entry *record_field_winner(const record *r, const char *field)
{
    size_t first, n = record_field_entries(r, field, &first);
    const record_entry *best = NULL;
    for (size_t i = first; i < first + n; i++) {
        const record_entry *e = &r->entries[i];
        if (!best || e->time_ms > best->time_ms ||
            (e->time_ms == best->time_ms &&
             (strcmp(e->node, best->node) > 0 ||
              (strcmp(e->node, best->node) == 0 && e->counter > best->counter))))
            best = e;
    }
    return best;
}

/* ---- canonical text ---------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *nb = realloc(b->buf, nc);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = nc;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
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
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
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
    sbuf b = {0};
    char num[32], tbuf[32];
    sb_put(&b, "", 0);
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
        snprintf(num, sizeof num, "=%" PRIu64, r->ctx[i].counter);
        sb_str(&b, " ");
        sb_str(&b, r->ctx[i].node);
        sb_str(&b, num);
    }
    sb_str(&b, "\n");
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        record_time_format(tbuf, sizeof tbuf, e->time_ms);
        snprintf(num, sizeof num, " %" PRIu64 " ", e->counter);
        sb_str(&b, e->field);
        sb_str(&b, " ");
        sb_str(&b, e->node);
        sb_str(&b, num);
        sb_str(&b, tbuf);
        sb_str(&b, "\n");
    }
    if (b.oom) {
        free(b.buf);
        return -1;
    }
    *out = b.buf;
    *len = b.len;
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

static int node_ok(const char *s, size_t n)
{
    if (n == 0 || n > RECORD_NODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
            return 0;
    }
    return 1;
}

int record_node_valid(const char *s)
{
    /* also a valid git branch name: no "..", not ending in "." or ".lock" */
    size_t n = strlen(s);
    if (!node_ok(s, n) || strstr(s, "..") || s[n - 1] == '.' ||
        (n >= 5 && strcmp(s + n - 5, ".lock") == 0))
        return 0;
    return 1;
}

int record_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RECORD_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
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

int record_decode(record *r, const char *buf, size_t len, char *err, size_t errlen)
{
    record_init(r);
    char *again = NULL;
    size_t againlen = 0;
    if (len > RECORD_BLOB_MAX) {
        seterr(err, errlen, "record is larger than the 1 MiB limit", 0);
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
        seterr(err, errlen, "record has more than 4096 entries", 0);
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
            seterr(err, errlen, "line %zu: context too large", line);
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
            if (!eq || !node_ok(s + q, (size_t)(eq - (s + q))) ||
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
        if (!node_ok(sp1 + 1, (size_t)(sp2 - sp1 - 1)) ||
            parse_u64(&e->counter, sp2 + 1, (size_t)(sp3 - sp2 - 1)) != 0 ||
            record_time_parse(&e->time_ms, sp3 + 1, (size_t)(s + l - sp3 - 1)) != 0) {
            seterr(err, errlen, "line %zu: bad entry metadata", line);
            goto fail;
        }
        e->node = record_intern(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        if (!e->node)
            goto oom;
        if (i > 0 && entry_cmp(&r->entries[i - 1], e) >= 0) {
            seterr(err, errlen, "line %zu: entries not in canonical order", line);
            goto fail;
        }
        if (!covered(r, e)) {
            seterr(err, errlen, "line %zu: entry dot not covered by the context", line);
            goto fail;
        }
        p += l + 1;
    }
    if (p != len) {
        seterr(err, errlen, "line %zu: trailing data after the last entry", line);
        goto fail;
    }
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

/* ---- ids and paths ------------------------------------------------------ */

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

void record_id_make(char *out, int64_t time_ms, uint64_t random_bits)
{
    /* 50 bits of time (ms, good until the year 37648) + 30 bits random.
     * 16 chars * 5 bits = 80 bits; sortable as strings by creation time. */
    uint64_t t = (uint64_t)time_ms & ((1ull << 50) - 1);
    for (int i = 9; i >= 0; i--) {
        out[i] = b32[t & 31];
        t >>= 5;
    }
    for (int i = 15; i >= 10; i--) {
        out[i] = b32[random_bits & 31];
        random_bits >>= 5;
    }
    out[16] = 0;
}

int record_id_is_schema(const char *id)
{
    return strncmp(id, RECORD_SCHEMA_PREFIX, strlen(RECORD_SCHEMA_PREFIX)) == 0;
}

void record_path(char *out, size_t outlen, const char *id)
{
    if (record_id_is_schema(id)) {
        snprintf(out, outlen, "schema/%s", id);
        return;
    }
    uint32_t h = 2166136261u; /* FNV-1a 32 */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    snprintf(out, outlen, "members/%02x/%02x/%s", (unsigned)(h >> 24), (unsigned)((h >> 16) & 0xff),
             id);
}
