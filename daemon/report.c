/* report.c - the membership work requests: stats (counts by field for the
 * federation's reports), duplicates (likely double registrations), merge
 * (fold a duplicate into the record kept) and transfer (move a member to
 * another office). See ops_internal.h and docs/CONTROL.md.
 *
 * Like every handler these run on the store queue's worker thread and read
 * the in-memory index, never the store. Reads are one pass over the index
 * with hash grouping, so they stay linear at a million records. */
#include "daemon/util/log.h"
#include "daemon/ops_internal.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERRLEN 512
/* More --by fields than this is not a report anyone reads. */
#define STATS_BY_MAX 8
/* A phone number shared by more records than this is a placeholder (the
 * office's own number, 13800000000), not one person's: comparing every pair
 * of names in it would be quadratic and would only produce noise. */
#define DUP_PHONE_GROUP_MAX 1000
/* Names are at most 64 characters; longer values (custom imports) are
 * compared on their first this many code points. */
#define NAME_CP_MAX 256

/* ---- a small hash map: byte string -> size_t ------------------------------ */

/* The keys are borrowed: the caller keeps them alive (stats copies group
 * keys into its own array, duplicates point into the index's records, which
 * do not change while a handler runs). */
typedef struct {
    const char *key; /* NULL marks a free slot */
    size_t len;
    uint64_t hash;
    size_t val;
} smap_slot;

typedef struct {
    smap_slot *slots;
    size_t cap, count;
} smap;

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static size_t smap_find(const smap_slot *slots, size_t cap, const char *key, size_t len, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slots[i].key &&
           (slots[i].hash != h || slots[i].len != len || memcmp(slots[i].key, key, len) != 0))
        i = (i + 1) & (cap - 1);
    return i;
}

static int smap_grow(smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    smap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            ns[smap_find(ns, ncap, m->slots[i].key, m->slots[i].len, m->slots[i].hash)] =
                m->slots[i];
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

/* The slot of key, inserted (key borrowed, val 0, *isnew = 1) if absent.
 * NULL on allocation failure. The pointer is valid until the next call. */
static smap_slot *smap_upsert(smap *m, const char *key, size_t len, int *isnew)
{
    if ((m->count + 1) * 4 > m->cap * 3 && smap_grow(m) != 0)
        return NULL;
    uint64_t h = fnv1a(key, len);
    smap_slot *s = &m->slots[smap_find(m->slots, m->cap, key, len, h)];
    *isnew = s->key == NULL;
    if (*isnew) {
        s->key = key;
        s->len = len;
        s->hash = h;
        s->val = 0;
        m->count++;
    }
    return s;
}

static void smap_free(smap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- stats ---------------------------------------------------------------- */

/* One group: its key is the displayed values of the --by fields, each
 * NUL-terminated, one after the other. Stored values never contain NUL
 * (msg_str_dup refuses it), so the key is unambiguous, and comparing keys
 * bytewise orders groups field by field (NUL sorts before every byte). */
typedef struct {
    char *key;
    size_t len;
    size_t count;
} stats_group;

static int group_cmp(const void *a, const void *b)
{
    const stats_group *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Append condition FIELD OP VALUE to the list (for --since, --until and the
 * implicit status=active). 0 or -1 (allocation). */
static int cond_add(query_cond *c, size_t *n, const char *field, query_op op, const char *value)
{
    c[*n].field = strdup(field);
    c[*n].value = strdup(value);
    c[*n].op = op;
    (*n)++; /* counted even on failure so that ops_conds_free frees it */
    return c[*n - 1].field && c[*n - 1].value ? 0 : -1;
}

/* Read and check the "by" list. 0, or -1 with err. */
static int stats_by_read(char ***out, size_t *nout, const msgpack_object *req, char *err,
                         size_t errlen)
{
    const msgpack_object_array *arr = msg_get_array(req, "by");
    *out = NULL;
    *nout = 0;
    if (!arr || arr->size == 0)
        return 0;
    if (arr->size > STATS_BY_MAX) {
        snprintf(err, errlen, "--by: at most %d fields", STATS_BY_MAX);
        return -1;
    }
    char **by = calloc(arr->size, sizeof *by);
    if (!by) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = by;
    for (uint32_t i = 0; i < arr->size; i++) {
        by[i] = msg_str_dup(&arr->ptr[i]);
        *nout = i + 1;
        if (!by[i] || !schema_name_valid(by[i])) {
            snprintf(err, errlen, "--by: '%s' is not a field name", by[i] ? by[i] : "?");
            return -1;
        }
        if (strcmp(by[i], "count") == 0) {
            snprintf(err, errlen,
                     "--by count: 'count' is the name of the result column; a field of that "
                     "name cannot be grouped");
            return -1;
        }
        if (schema_field_is_masked(by[i])) {
            snprintf(err, errlen,
                     "--by %s: personal fields cannot be grouped (each value is one person); "
                     "unionctl duplicates finds shared values",
                     by[i]);
            return -1;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(by[i], by[j]) == 0) {
                snprintf(err, errlen, "--by: field '%s' is named twice", by[i]);
                return -1;
            }
    }
    return 0;
}

/* The values a record groups under for one --by field, into vals (room for
 * the record's entry count + 1): the displayed value for a single-valued
 * field, each distinct element for a set (a member counts once per
 * element), "" when the field is missing. Returns how many (>= 1). */
static size_t group_values(const char **vals, const record *r, const char *id, const char *field,
                           int is_set)
{
    if (!is_set) {
        vals[0] = query_display(r, id, field);
        return 1;
    }
    size_t first, n = record_field_entries(r, field, &first), k = 0;
    for (size_t i = first; i < first + n; i++) {
        const char *v = r->entries[i].value;
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(vals[j], v) == 0;
        if (!dup)
            vals[k++] = v;
    }
    if (k == 0)
        vals[k++] = "";
    return k;
}

/* How many records ahead a scan asks the memory for (see scan_prefetch). */
#define SCAN_AHEAD 8

/* Every field name and value in the index is an allocation of its own, so a
 * scan over all records waits on memory, not on the CPU. Ask for the
 * entries of the record two steps ahead of i and for the field names of the
 * one a step ahead (values sit next to them), so that the loads of several
 * records overlap instead of following one another. */
static void scan_prefetch(const recindex_item *slots, size_t i, size_t to)
{
    if (i + 2 * SCAN_AHEAD < to && slots[i + 2 * SCAN_AHEAD].id)
        __builtin_prefetch(slots[i + 2 * SCAN_AHEAD].rec.entries);
    if (i + SCAN_AHEAD < to && slots[i + SCAN_AHEAD].id) {
        const record *p = &slots[i + SCAN_AHEAD].rec;
        for (size_t j = 0; j < p->nentries; j++)
            __builtin_prefetch(p->entries[j].field);
    }
}

/* The projection of r on the fields need (sorted, distinct): every entry of
 * those fields, in r's order, shallow-copied into *buf (grown as needed;
 * *cap is its size). query_match, query_display and record_field_winner see
 * exactly the same entries for these fields as in r itself, and one merge
 * walk replaces a binary search per field. proj borrows *buf and r's
 * strings: never record_free it. Returns 1 if *buf grew, 0, or -1. */
static int project(record *proj, record_entry **buf, size_t *cap, const record *r,
                   const char *const *need, size_t nneed)
{
    int grew = 0;
    if (r->nentries > *cap) {
        record_entry *nb = realloc(*buf, r->nentries * sizeof *nb);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = r->nentries;
        grew = 1;
    }
    /* locals: stores through *buf would make the compiler reload it */
    record_entry *out = *buf;
    const record_entry *e = r->entries;
    size_t n = 0, ne = r->nentries;
    for (size_t j = 0, k = 0; j < ne && k < nneed;) {
        int cmp = strcmp(e[j].field, need[k]);
        if (cmp < 0)
            j++;
        else if (cmp > 0)
            k++;
        else
            out[n++] = e[j++];
    }
    record_init(proj);
    proj->entries = out;
    proj->nentries = n;
    return grew;
}

/* One scan over a range of index slots. The inputs are shared and
 * read-only (nothing writes the index while a handler runs); the results
 * are the scan's own, so ranges can be counted at the same time. */
typedef struct {
    const recindex_item *slots;
    size_t from, to;
    const query_cond *c;
    size_t nc;
    char *const *by;
    const int *by_set;
    size_t nby;
    const char *const *need; /* the fields the scan reads, sorted */
    size_t nneed;
    smap map; /* group key -> index into groups */
    stats_group *groups;
    size_t ngroups, gcap, total;
    int oom;
} stats_scan;

/* Count one combination of group values (key in kb). 0 or -1. */
static int stats_count(stats_scan *s, const char *kb, size_t klen)
{
    int isnew;
    smap_slot *sl = smap_upsert(&s->map, kb, klen, &isnew);
    if (!sl)
        return -1;
    if (isnew) {
        char *k = NULL;
        if (s->ngroups == s->gcap) {
            size_t ncap = s->gcap ? s->gcap * 2 : 64;
            stats_group *ng = realloc(s->groups, ncap * sizeof *ng);
            if (ng) {
                s->groups = ng;
                s->gcap = ncap;
            }
        }
        if (s->ngroups == s->gcap || !(k = malloc(klen))) {
            sl->key = NULL; /* kb is not ours to keep */
            s->map.count--;
            return -1;
        }
        memcpy(k, kb, klen);
        sl->key = k;
        sl->val = s->ngroups;
        s->groups[s->ngroups++] = (stats_group){k, klen, 0};
    }
    s->groups[sl->val].count++;
    return 0;
}

static void *stats_scan_run(void *arg)
{
    stats_scan *s = arg;
    size_t kcap = 256, pcap = 0;
    char *kb = malloc(kcap);
    record_entry *pe = NULL;
    const char ***vals = calloc(s->nby + 1, sizeof *vals); /* per --by field */
    size_t *nvals = calloc(s->nby + 1, sizeof *nvals), *pos = calloc(s->nby + 1, sizeof *pos);
    record proj;
    record_init(&proj);
    if (!kb || !vals || !nvals || !pos)
        goto oom;
    for (size_t f = 0; f < s->nby; f++)
        if (!(vals[f] = malloc(sizeof *vals[f])))
            goto oom;
    for (size_t i = s->from; i < s->to; i++) {
        scan_prefetch(s->slots, i, s->to);
        const recindex_item *it = &s->slots[i];
        if (!it->id)
            continue;
        int grew = project(&proj, &pe, &pcap, &it->rec, s->need, s->nneed);
        if (grew < 0)
            goto oom;
        /* room for every value a set field can have */
        for (size_t f = 0; grew && f < s->nby; f++) {
            const char **v = realloc(vals[f], (pcap + 1) * sizeof *v);
            if (!v)
                goto oom;
            vals[f] = v;
        }
        if (!query_match(s->c, s->nc, it->id, &proj))
            continue;
        s->total++;
        if (s->nby == 0)
            continue;
        for (size_t f = 0; f < s->nby; f++) {
            nvals[f] = group_values(vals[f], &proj, it->id, s->by[f], s->by_set[f]);
            pos[f] = 0;
        }
        /* every combination of the fields' values (an odometer; one
         * combination unless a set field has several elements) */
        for (;;) {
            size_t klen = 0;
            for (size_t f = 0; f < s->nby; f++) {
                const char *v = vals[f][pos[f]];
                size_t vl = strlen(v) + 1;
                if (klen + vl > kcap) {
                    while (klen + vl > kcap)
                        kcap *= 2;
                    char *nk = realloc(kb, kcap);
                    if (!nk)
                        goto oom;
                    kb = nk;
                }
                memcpy(kb + klen, v, vl);
                klen += vl;
            }
            if (stats_count(s, kb, klen) != 0)
                goto oom;
            size_t f = s->nby;
            while (f > 0 && ++pos[f - 1] == nvals[f - 1])
                pos[--f] = 0;
            if (f == 0)
                break;
        }
    }
    goto cleanup;
oom:
    s->oom = 1;
cleanup:
    for (size_t f = 0; vals && f < s->nby; f++)
        free(vals[f]);
    free(vals);
    free(nvals);
    free(pos);
    free(pe);
    free(kb);
    return NULL;
}

static void stats_scan_free(stats_scan *s)
{
    for (size_t g = 0; g < s->ngroups; g++)
        free(s->groups[g].key);
    free(s->groups);
    smap_free(&s->map);
}

/* Fold scan b's counts into a (b keeps only the keys a did not take). */
static int stats_scan_add(stats_scan *a, stats_scan *b)
{
    a->total += b->total;
    for (size_t g = 0; g < b->ngroups; g++) {
        int isnew;
        smap_slot *sl = smap_upsert(&a->map, b->groups[g].key, b->groups[g].len, &isnew);
        if (!sl)
            return -1;
        if (isnew) {
            if (a->ngroups == a->gcap) {
                size_t ncap = a->gcap ? a->gcap * 2 : 64;
                stats_group *ng = realloc(a->groups, ncap * sizeof *ng);
                if (!ng) {
                    sl->key = NULL;
                    a->map.count--;
                    return -1;
                }
                a->groups = ng;
                a->gcap = ncap;
            }
            sl->val = a->ngroups;
            a->groups[a->ngroups++] = (stats_group){b->groups[g].key, b->groups[g].len, 0};
            b->groups[g].key = NULL; /* now a's */
        }
        a->groups[sl->val].count += b->groups[g].count;
    }
    return 0;
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Large indexes are counted by this many threads at most, one slot range
 * each: the scan is memory-bound, and the loads of several cores overlap. */
#define STATS_THREADS 4
#define STATS_THREAD_MIN_SLOTS 65536

static void op_stats(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[ERRLEN];
    char **by = NULL, *since = msg_get_str(req, "since"), *until = msg_get_str(req, "until");
    size_t nby = 0, nc = 0, nneed = 0, nscan = 1;
    query_cond *c = NULL;
    const char **need = NULL;
    int *by_set = NULL;
    stats_scan scans[STATS_THREADS];
    pthread_t th[STATS_THREADS];
    int started[STATS_THREADS] = {0};
    memset(scans, 0, sizeof scans);
    int64_t t0 = ops_now_ms();
    if (stats_by_read(&by, &nby, req, err, sizeof err) != 0)
        goto refuse;
    if ((since && !schema_date_valid(since)) || (until && !schema_date_valid(until))) {
        snprintf(err, sizeof err, "--%s: '%s' is not a date (YYYY-MM-DD)",
                 since && !schema_date_valid(since) ? "since" : "until",
                 since && !schema_date_valid(since) ? since : until);
        goto refuse;
    }
    query_cond *given = NULL;
    size_t ngiven = 0;
    if (ops_conds_read(&given, &ngiven, req, err, sizeof err) != 0)
        goto refuse;
    /* Our own conditions go after the given ones, so they share one list. */
    c = calloc(ngiven + 3, sizeof *c);
    if (!c) {
        ops_conds_free(given, ngiven);
        goto oom;
    }
    if (ngiven)
        memcpy(c, given, ngiven * sizeof *c);
    free(given); /* the strings moved into c */
    nc = ngiven;
    int on_status = 0;
    for (size_t i = 0; i < nc; i++)
        on_status |= strcmp(c[i].field, "status") == 0;
    /* The federation counts members: applicants, lapsed and merged records
     * are not members unless the caller asks about status itself. */
    if ((!on_status && cond_add(c, &nc, "status", Q_EQ, "active") != 0) ||
        (since && cond_add(c, &nc, "joined", Q_GE, since) != 0) ||
        (until && cond_add(c, &nc, "joined", Q_LE, until) != 0))
        goto oom;
    need = malloc((nc + nby + 1) * sizeof *need);
    by_set = calloc(nby + 1, sizeof *by_set);
    if (!need || !by_set)
        goto oom;
    for (size_t i = 0; i < nc; i++)
        need[nneed++] = c[i].field;
    for (size_t f = 0; f < nby; f++) {
        need[nneed++] = by[f];
        by_set[f] = schema_field_is_set(by[f]);
    }
    qsort(need, nneed, sizeof *need, str_ptr_cmp);
    size_t w = 0;
    for (size_t i = 0; i < nneed; i++)
        if (!w || strcmp(need[w - 1], need[i]) != 0)
            need[w++] = need[i];
    nneed = w;
    if (o->ix.cap >= STATS_THREAD_MIN_SLOTS) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nscan = cpus < 1 ? 1 : cpus > STATS_THREADS ? STATS_THREADS : (size_t)cpus;
    }
    for (size_t t = 0; t < nscan; t++) {
        scans[t] = (stats_scan){.slots = o->ix.slots,
                                .from = o->ix.cap * t / nscan,
                                .to = o->ix.cap * (t + 1) / nscan,
                                .c = c,
                                .nc = nc,
                                .by = by,
                                .by_set = by_set,
                                .nby = nby,
                                .need = need,
                                .nneed = nneed};
        /* the first range is ours; a thread that cannot start is run here */
        if (t > 0)
            started[t] = pthread_create(&th[t], NULL, stats_scan_run, &scans[t]) == 0;
    }
    stats_scan_run(&scans[0]);
    for (size_t t = 1; t < nscan; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            stats_scan_run(&scans[t]);
    }
    for (size_t t = 0; t < nscan; t++)
        if (scans[t].oom || (t > 0 && stats_scan_add(&scans[0], &scans[t]) != 0))
            goto oom;
    stats_scan *s = &scans[0];
    if (s->ngroups)
        qsort(s->groups, s->ngroups, sizeof *s->groups, group_cmp);
    log_msg(LOG_DEBUG, "stats: %zu records, %zu groups, %zu threads in %lld ms", s->total,
            s->ngroups, nscan, (long long)(ops_now_ms() - t0));
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 3);
    msg_pack_str(pk, "by");
    msgpack_pack_array(pk, nby);
    for (size_t f = 0; f < nby; f++)
        msg_pack_str(pk, by[f]);
    msg_pack_str(pk, "groups");
    /* without --by the whole selection is the one group */
    msgpack_pack_array(pk, nby ? s->ngroups : 1);
    if (nby == 0) {
        msgpack_pack_map(pk, 1);
        msg_pack_kv_int(pk, "count", (int64_t)s->total);
    }
    for (size_t g = 0; nby && g < s->ngroups; g++) {
        msgpack_pack_map(pk, nby + 1);
        const char *v = s->groups[g].key;
        for (size_t f = 0; f < nby; f++) {
            msg_pack_kv_str(pk, by[f], v);
            v += strlen(v) + 1;
        }
        msg_pack_kv_int(pk, "count", (int64_t)s->groups[g].count);
    }
    msg_pack_kv_int(pk, "total", (int64_t)s->total);
    goto cleanup;
oom:
    snprintf(err, sizeof err, "out of memory counting records");
refuse:
    ops_reply_error(pk, "%s", err);
cleanup:
    for (size_t t = 0; t < STATS_THREADS; t++)
        stats_scan_free(&scans[t]);
    free(need);
    free(by_set);
    ops_conds_free(c, nc);
    for (size_t f = 0; f < nby; f++)
        free(by[f]);
    free(by);
    free(since);
    free(until);
}

/* ---- duplicates ------------------------------------------------------------- */

/* Decode UTF-8 into code points (at most max); an invalid byte counts as
 * one code point of its own value, so any bytes compare sensibly. */
static size_t utf8_codepoints(uint32_t *out, size_t max, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p && n < max) {
        uint32_t cp = *p;
        int len = cp < 0x80         ? 1
                  : (cp >> 5) == 6  ? 2
                  : (cp >> 4) == 14 ? 3
                  : (cp >> 3) == 30 ? 4
                                    : 0;
        int ok = len > 0;
        for (int i = 1; ok && i < len; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (!ok) {
            out[n++] = cp;
            p++;
            continue;
        }
        if (len > 1)
            cp &= 0x7f >> len;
        for (int i = 1; i < len; i++)
            cp = (cp << 6) | (p[i] & 0x3f);
        out[n++] = cp;
        p += len;
    }
    return n;
}

/* 1 if the names are the same person's as a clerk would type them: equal,
 * one contains the other (王伟 / 王伟伟, a dropped character), or one
 * edit (substitution, insertion, deletion of one code point) apart. */
int report_names_similar(const char *a, const char *b)
{
    if (!*a || !*b)
        return 0;
    if (strstr(a, b) || strstr(b, a)) /* UTF-8 is self-synchronising */
        return 1;
    uint32_t x[NAME_CP_MAX], y[NAME_CP_MAX];
    size_t nx = utf8_codepoints(x, NAME_CP_MAX, a), ny = utf8_codepoints(y, NAME_CP_MAX, b);
    if (nx < ny) { /* x is the longer one */
        uint32_t t[NAME_CP_MAX];
        memcpy(t, x, nx * sizeof *t);
        memcpy(x, y, ny * sizeof *x);
        memcpy(y, t, nx * sizeof *y);
        size_t tn = nx;
        nx = ny;
        ny = tn;
    }
    if (nx - ny > 1)
        return 0;
    size_t i = 0;
    while (i < ny && x[i] == y[i])
        i++;
    if (nx == ny) { /* one substitution at i, the rest equal */
        for (size_t j = i + 1; j < nx; j++)
            if (x[j] != y[j])
                return 0;
        return 1;
    }
    for (size_t j = i; j < ny; j++) /* x has one extra code point at i */
        if (x[j + 1] != y[j])
            return 0;
    return 1;
}

typedef struct {
    const char *id;
    const record *r;
    const char *name, *idnum, *phone;
} dup_cand;

typedef struct {
    size_t keep, dup; /* indices into the candidates */
    int certain;      /* same id_number; otherwise same phone, similar name */
} dup_pair;

/* Certain pairs first, then by KEEP's id and DUP's id (qsort_r: arg is the
 * candidate array). */
static int dup_pair_cmp(const void *a, const void *b, void *arg)
{
    const dup_pair *x = a, *y = b;
    const dup_cand *cs = arg;
    if (x->certain != y->certain)
        return y->certain - x->certain;
    int c = strcmp(cs[x->keep].id, cs[y->keep].id);
    return c ? c : strcmp(cs[x->dup].id, cs[y->dup].id);
}

static int pair_push(dup_pair **p, size_t *n, size_t *cap, dup_pair v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        dup_pair *np = realloc(*p, nc * sizeof *np);
        if (!np)
            return -1;
        *p = np;
        *cap = nc;
    }
    (*p)[(*n)++] = v;
    return 0;
}

/* Chain the candidates by id_number or phone into map (key -> one index)
 * and next (index -> next index in the same chain, SIZE_MAX ends). Empty
 * values are not chained. */
static int dup_chain(smap *map, size_t *next, const dup_cand *cs, size_t n, int by_phone)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = by_phone ? cs[i].phone : cs[i].idnum;
        next[i] = SIZE_MAX;
        if (!*k)
            continue;
        int isnew;
        smap_slot *s = smap_upsert(map, k, strlen(k), &isnew);
        if (!s)
            return -1;
        if (!isnew)
            next[i] = s->val;
        s->val = i;
    }
    return 0;
}

static void pack_dup_side(msgpack_packer *pk, const dup_cand *c, int reveal)
{
    msgpack_pack_map(pk, 6);
    msg_pack_kv_str(pk, "id", c->id);
    msg_pack_kv_str(pk, "name", c->name);
    msg_pack_kv_str(pk, "office", query_display(c->r, c->id, "office"));
    msg_pack_kv_str(pk, "joined", query_display(c->r, c->id, "joined"));
    msg_pack_str(pk, "id_number");
    ops_pack_value(pk, "id_number", c->idnum, reveal);
    msg_pack_str(pk, "phone");
    ops_pack_value(pk, "phone", c->phone, reveal);
}

static void op_duplicates(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    int reveal = msg_get_bool(req, "reveal", 0);
    dup_cand *cs = malloc((o->ix.count + 1) * sizeof *cs);
    size_t *next_id = malloc((o->ix.count + 1) * sizeof *next_id);
    size_t *next_ph = malloc((o->ix.count + 1) * sizeof *next_ph);
    size_t *grp = malloc((o->ix.count + 1) * sizeof *grp);
    dup_pair *pairs = NULL;
    size_t n = 0, np = 0, pcap = 0, skipped = 0;
    smap by_id = {0}, by_phone = {0};
    static const char *const need[] = {"id_number", "name", "phone", "status"}; /* sorted */
    record_entry *proj_buf = NULL;
    size_t proj_cap = 0;
    if (!cs || !next_id || !next_ph || !grp)
        goto oom;
    for (size_t i = 0; i < o->ix.cap; i++) {
        scan_prefetch(o->ix.slots, i, o->ix.cap);
        const recindex_item *it = &o->ix.slots[i];
        record proj;
        if (!it->id)
            continue;
        if (project(&proj, &proj_buf, &proj_cap, &it->rec, need, 4) < 0) {
            free(proj_buf);
            goto oom;
        }
        if (strcmp(query_display(&proj, it->id, "status"), "merged") == 0)
            continue;
        /* the values point into the index's record, not into proj_buf */
        cs[n++] = (dup_cand){it->id, &it->rec, query_display(&proj, it->id, "name"),
                             query_display(&proj, it->id, "id_number"),
                             query_display(&proj, it->id, "phone")};
    }
    free(proj_buf);
    if (dup_chain(&by_id, next_id, cs, n, 0) != 0 || dup_chain(&by_phone, next_ph, cs, n, 1) != 0)
        goto oom;
    /* Same id_number: certain. Ids sort by creation time, so the smallest
     * id is the oldest record: the keeper for all the others. */
    for (size_t s = 0; s < by_id.cap; s++) {
        if (!by_id.slots[s].key || next_id[by_id.slots[s].val] == SIZE_MAX)
            continue;
        size_t keep = by_id.slots[s].val;
        for (size_t d = next_id[keep]; d != SIZE_MAX; d = next_id[d])
            if (strcmp(cs[d].id, cs[keep].id) < 0)
                keep = d;
        for (size_t d = by_id.slots[s].val; d != SIZE_MAX; d = next_id[d])
            if (d != keep && pair_push(&pairs, &np, &pcap, (dup_pair){keep, d, 1}) != 0)
                goto oom;
    }
    /* Same phone and similar names: likely. Similarity is not transitive,
     * so every pair in the group is compared. */
    for (size_t s = 0; s < by_phone.cap; s++) {
        if (!by_phone.slots[s].key || next_ph[by_phone.slots[s].val] == SIZE_MAX)
            continue;
        size_t ng = 0;
        for (size_t d = by_phone.slots[s].val; d != SIZE_MAX && ng <= DUP_PHONE_GROUP_MAX;
             d = next_ph[d])
            grp[ng++] = d;
        if (ng > DUP_PHONE_GROUP_MAX) {
            skipped++;
            continue;
        }
        for (size_t a = 0; a < ng; a++)
            for (size_t b = a + 1; b < ng; b++) {
                const dup_cand *x = &cs[grp[a]], *y = &cs[grp[b]];
                if (*x->idnum && strcmp(x->idnum, y->idnum) == 0)
                    continue; /* already certain, by id_number */
                if (!report_names_similar(x->name, y->name))
                    continue;
                int older = strcmp(x->id, y->id) < 0; /* the keeper */
                dup_pair p = {older ? grp[a] : grp[b], older ? grp[b] : grp[a], 0};
                if (pair_push(&pairs, &np, &pcap, p) != 0)
                    goto oom;
            }
    }
    if (skipped)
        log_msg(LOG_INFO,
                "duplicates: %zu phone numbers shared by more than %d records were not compared",
                skipped, DUP_PHONE_GROUP_MAX);
    if (np)
        qsort_r(pairs, np, sizeof *pairs, dup_pair_cmp, cs);
    if (reveal && np) {
        char opbuf[64];
        log_msg(LOG_INFO, "reveal: %s showed unmasked personal fields (duplicates, %zu pairs)",
                ops_operator(req, opbuf, sizeof opbuf), np);
    }
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 2);
    msg_pack_str(pk, "pairs");
    msgpack_pack_array(pk, np);
    for (size_t i = 0; i < np; i++) {
        msgpack_pack_map(pk, 4);
        msg_pack_str(pk, "keep");
        pack_dup_side(pk, &cs[pairs[i].keep], reveal);
        msg_pack_str(pk, "dup");
        pack_dup_side(pk, &cs[pairs[i].dup], reveal);
        msg_pack_kv_str(pk, "reason",
                        pairs[i].certain ? "same id_number" : "same phone, similar name");
        msg_pack_str(pk, "certain");
        pairs[i].certain ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    msg_pack_kv_int(pk, "skipped_phones", (int64_t)skipped);
    goto cleanup;
oom:
    ops_reply_error(pk, "out of memory looking for duplicates");
cleanup:
    free(cs);
    free(next_id);
    free(next_ph);
    free(grp);
    free(pairs);
    smap_free(&by_id);
    smap_free(&by_phone);
}

/* ---- merge ------------------------------------------------------------------ */

/* 1 if r has an entry of field holding value. */
static int has_value(const record *r, const char *field, const char *value)
{
    size_t first, n = record_field_entries(r, field, &first);
    for (size_t i = first; i < first + n; i++)
        if (strcmp(r->entries[i].value, value) == 0)
            return 1;
    return 0;
}

/* 1 if every entry of field in r is empty (or there is none). */
static int lacks_field(const record *r, const char *field)
{
    size_t first, n = record_field_entries(r, field, &first);
    for (size_t i = first; i < first + n; i++)
        if (r->entries[i].value[0])
            return 0;
    return 1;
}

/* Append " field" to a space-separated list buffer. */
static void list_add(char *buf, size_t len, const char *field)
{
    size_t off = strlen(buf);
    if (off + strlen(field) + 2 < len)
        snprintf(buf + off, len - off, "%s%s", off ? " " : "", field);
}

/* Fold dup's values into keep as new writes of `node`.
 *
 * Every value brought over gets a fresh dot of this node in KEEP's own
 * causal context. DUP's dots and context are NOT copied: counters are per
 * record, so DUP's (node, counter) pairs name unrelated writes in KEEP's
 * history. Joining DUP's context into KEEP would make KEEP "cover" its own
 * entries with equal counters (silently dropping KEEP's values on the next
 * join) and would mistake DUP's entries for KEEP's writes with the same dot.
 *
 * - a single-valued field KEEP lacks (absent or empty) is written with
 *   DUP's displayed value; DUP's other values, if DUP was in conflict, are
 *   added beside it, so the conflict carries over;
 * - a single-valued field both have: each DUP value KEEP does not hold is
 *   added as an extra entry next to KEEP's (a record_set_add: it drops
 *   only entries of the same value, and there are none), which is exactly
 *   a conflict that `resolve` settles;
 * - set fields: DUP's elements KEEP lacks are added (union);
 * - merged_into is never carried over.
 * An added entry keeps the time of DUP's write, so the value every node
 * shows is the more recently written one, and `conflicts` tells when each
 * value was recorded.
 *
 * Two nodes doing the same merge concurrently add the same values under
 * different dots; the join keeps both, equal values count once, so the
 * result shows the same fields and conflicts everywhere.
 *
 * taken, conflicts, added (space-separated field names) must hold at least
 * one char each and start empty. Returns the number of fields changed, or
 * -1 on allocation failure. */
int report_merge_fold(record *keep, const record *dup, const char *node, char *taken,
                      char *conflicts, char *added, size_t listlen)
{
    int changed = 0;
    for (size_t i = 0; i < dup->nentries; i++) {
        const char *f = dup->entries[i].field;
        if ((i > 0 && strcmp(dup->entries[i - 1].field, f) == 0) || strcmp(f, "merged_into") == 0)
            continue;
        size_t first, n = record_field_entries(dup, f, &first);
        if (schema_field_is_set(f)) {
            int any = 0;
            for (size_t e = first; e < first + n; e++) {
                const record_entry *de = &dup->entries[e];
                if (has_value(keep, f, de->value))
                    continue;
                if (record_set_add(keep, node, de->time_ms, f, de->value) != 0)
                    return -1;
                any = 1;
            }
            if (any) {
                list_add(added, listlen, f);
                changed++;
            }
            continue;
        }
        const char **vals = malloc((n + 1) * sizeof *vals);
        if (!vals)
            return -1;
        size_t k = ops_field_values(vals, dup, f);
        int took = lacks_field(keep, f), conflict = 0, rc = 0;
        int first_write = took;
        for (size_t v = 0; v < k && rc == 0; v++) {
            if (!vals[v][0] || (!first_write && has_value(keep, f, vals[v])))
                continue;
            /* the time of DUP's entry holding this value (the latest one) */
            int64_t t = 0;
            for (size_t e = first; e < first + n; e++)
                if (strcmp(dup->entries[e].value, vals[v]) == 0 && dup->entries[e].time_ms > t)
                    t = dup->entries[e].time_ms;
            if (first_write) {
                rc = record_write(keep, node, t, f, vals[v]);
                first_write = 0;
            } else {
                rc = record_set_add(keep, node, t, f, vals[v]);
                conflict = !took;
            }
        }
        free(vals);
        if (rc != 0)
            return -1;
        if (took && !lacks_field(keep, f)) {
            list_add(taken, listlen, f);
            changed++;
        } else if (conflict) {
            list_add(conflicts, listlen, f);
            changed++;
        }
    }
    return changed;
}

static void op_merge(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *keep_id = msg_get_str(req, "keep"), *dup_id = msg_get_str(req, "dup");
    char err[ERRLEN], opbuf[64], msg[1536];
    char taken[400] = "", conflicts[400] = "", added[400] = "";
    record recs[2];
    record_init(&recs[0]);
    record_init(&recs[1]);
    if (!keep_id || !dup_id || !record_id_valid(keep_id) || !record_id_valid(dup_id)) {
        ops_reply_error(pk, "merge: give two record ids, KEEP then DUP (lowercase letters and "
                            "digits; unionctl duplicates lists pairs)");
        goto cleanup;
    }
    if (strcmp(keep_id, dup_id) == 0) {
        ops_reply_error(pk, "merge: KEEP and DUP are the same record (%s); give two different ids",
                        keep_id);
        goto cleanup;
    }
    const record *k = recindex_get(&o->ix, keep_id), *d = recindex_get(&o->ix, dup_id);
    if (!k || !d) {
        ops_reply_error(pk, "merge: no record with id %s (unionctl duplicates lists pairs)",
                        k ? dup_id : keep_id);
        goto cleanup;
    }
    if (strcmp(query_display(d, dup_id, "status"), "merged") == 0) {
        const char *into = query_display(d, dup_id, "merged_into");
        ops_reply_error(pk, "merge: %s was already merged into %s; nothing to do", dup_id,
                        *into ? into : "another record");
        goto cleanup;
    }
    if (strcmp(query_display(k, keep_id, "status"), "merged") == 0) {
        const char *into = query_display(k, keep_id, "merged_into");
        ops_reply_error(pk, "merge: %s was itself merged into %s; merge into %s instead", keep_id,
                        *into ? into : "another record", *into ? into : "that record");
        goto cleanup;
    }
    if (record_copy(&recs[0], k) != 0 || record_copy(&recs[1], d) != 0)
        goto oom;
    int64_t now = ops_now_ms();
    if (report_merge_fold(&recs[0], d, o->node, taken, conflicts, added, sizeof taken) < 0)
        goto oom;
    /* DUP stays, marked, so its history and every reference to its id still
     * lead somewhere: show DUP points to KEEP. */
    if (record_write(&recs[1], o->node, now, "status", "merged") != 0 ||
        record_write(&recs[1], o->node, now, "merged_into", keep_id) != 0)
        goto oom;
    /* field names only: commit messages travel further than the data */
    snprintf(msg, sizeof msg,
             "merge %s into %s\n\nfields taken: %s\nfields in conflict: %s\nset elements added: "
             "%s\n",
             dup_id, keep_id, *taken ? taken : "-", *conflicts ? conflicts : "-",
             *added ? added : "-");
    char *ids[2] = {keep_id, dup_id};
    /* Both records in one commit: nobody ever sees DUP merged but KEEP not
     * yet holding its values, or the other way round. */
    if (ops_commit_records(o, ids, recs, 2, 1, ops_operator(req, opbuf, sizeof opbuf), msg, err,
                           sizeof err) != 0) {
        ops_reply_error(pk, "%s", err);
        goto cleanup;
    }
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 5);
    msg_pack_kv_str(pk, "keep", keep_id);
    msg_pack_kv_str(pk, "dup", dup_id);
    const char *lists[3] = {taken, conflicts, added};
    const char *names[3] = {"taken", "conflicts", "added"};
    for (int l = 0; l < 3; l++) {
        size_t cnt = 0;
        for (const char *p = lists[l]; *p; p++)
            cnt += p == lists[l] || p[-1] == ' ';
        msg_pack_str(pk, names[l]);
        msgpack_pack_array(pk, cnt);
        char *copy = strdup(lists[l]), *save = NULL;
        for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
            msg_pack_str(pk, t);
        if (!copy)
            for (size_t j = 0; j < cnt; j++)
                msg_pack_str(pk, "?");
        free(copy);
    }
    goto cleanup;
oom:
    ops_reply_error(pk, "out of memory; nothing merged");
cleanup:
    record_free(&recs[0]);
    record_free(&recs[1]);
    free(keep_id);
    free(dup_id);
}

/* ---- transfer --------------------------------------------------------------- */

/* 1 if some node or record names office: our own office, or any value (also
 * a conflicting one) of any record's office field. */
static int office_known(const ops_ctx *o, const char *office)
{
    if (strcmp(o->office, office) == 0)
        return 1;
    for (size_t i = 0; i < o->ix.cap; i++)
        if (o->ix.slots[i].id && has_value(&o->ix.slots[i].rec, "office", office))
            return 1;
    return 0;
}

static void op_transfer(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL, *office = msg_get_str(req, "office"), *norm = NULL;
    char err[ERRLEN], today[11], opbuf[64], msg[256];
    int force = msg_get_bool(req, "force", 0);
    record r;
    record_init(&r);
    ops_today(today);
    const record *cur = ops_find_record(o, req, &id, pk);
    if (!cur)
        goto cleanup;
    if (!office) {
        ops_reply_error(pk, "transfer: give the office to move %s to", id);
        goto cleanup;
    }
    if (schema_value_check(&norm, "office", office, today, err, sizeof err) != 0) {
        ops_reply_error(pk, "%s", err);
        goto cleanup;
    }
    if (strcmp(query_display(cur, id, "status"), "merged") == 0) {
        const char *into = query_display(cur, id, "merged_into");
        ops_reply_error(pk, "transfer: %s was merged into %s; transfer %s instead", id,
                        *into ? into : "another record", *into ? into : "that record");
        goto cleanup;
    }
    if (!force && !office_known(o, norm)) {
        ops_reply_error(pk,
                        "office '%s' is unknown: no node or record names it; check the spelling "
                        "or use --force",
                        norm);
        goto cleanup;
    }
    size_t first, n = record_field_entries(cur, "office", &first);
    char from[64];
    snprintf(from, sizeof from, "%s", query_display(cur, id, "office"));
    int changed = !(n == 1 && strcmp(from, norm) == 0);
    if (changed) {
        if (record_copy(&r, cur) != 0 || record_write(&r, o->node, ops_now_ms(), "office", norm)) {
            ops_reply_error(pk, "out of memory; nothing written");
            goto cleanup;
        }
        snprintf(msg, sizeof msg, "transfer %s\n\nfields: office\n", id);
        char *ids[1] = {id};
        if (ops_commit_records(o, ids, &r, 1, 0, ops_operator(req, opbuf, sizeof opbuf), msg, err,
                               sizeof err) != 0) {
            ops_reply_error(pk, "%s", err);
            goto cleanup;
        }
        if (force)
            log_msg(LOG_INFO, "transfer of %s to office %s forced (--force)", id, norm);
    }
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 4);
    msg_pack_kv_str(pk, "id", id);
    msg_pack_kv_str(pk, "from", from);
    msg_pack_kv_str(pk, "office", norm);
    msg_pack_kv_int(pk, "changed", changed);
cleanup:
    record_free(&r);
    free(id);
    free(office);
    free(norm);
}

int ops_report_handle(ops_ctx *o, const char *op, const msgpack_object *req, msgpack_packer *pk)
{
    if (strcmp(op, "stats") == 0)
        op_stats(o, req, pk);
    else if (strcmp(op, "duplicates") == 0)
        op_duplicates(o, req, pk);
    else if (strcmp(op, "merge") == 0)
        op_merge(o, req, pk);
    else if (strcmp(op, "transfer") == 0)
        op_transfer(o, req, pk);
    else
        return 0;
    return 1;
}
