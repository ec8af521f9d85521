/* op_stats.c - stats: counts of records by field values, for the
 * federation's reports (docs/CONTROL.md). Runs on the store queue's worker
 * thread and reads the in-memory index, never the store. When every
 * condition and --by field is one the index keeps tallies on (office,
 * category, status: the default report), the groups are summed from the
 * tallies (hundreds of combinations, not a million records); otherwise one
 * pass with hash grouping, so it stays linear at a million records.
 *
 * The pass runs on the job's own thread. It once started raw pthreads from
 * inside this thread-pool job to count slot ranges in parallel; that
 * bypassed the pool's size, raced the loop for cores the sessions need, and
 * could not be cancelled at shutdown. One thread counts a million records
 * in well under a second (the scan is memory-bound), and the store queue
 * runs one job at a time anyway. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/scan.h"
#include "proto/buf.h"

#include "daemon/util/log.h"
#include "daemon/util/clock.h"
#include "proto/kind.h"
#include "proto/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More --by fields than this is not a report anyone reads. */
#define STATS_BY_MAX 8

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
    (*n)++; /* counted even on failure so that ctl_conds_free frees it */
    return c[*n - 1].field && c[*n - 1].value ? 0 : -1;
}

/* Read and check the "by" list. 0, or -1 with err. */
static int stats_by_read(char ***out, size_t *nout, const msgpack_object *req, record_kind kind,
                         char *err, size_t errlen)
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
        /* a typo is refused with the nearest name, never counted as "(none)" */
        const schema_field *sf;
        char why[CTL_ERRLEN / 2];
        if (schema_kind_field_resolve(&sf, kind, by[i], why, sizeof why) != UERR_OK) {
            snprintf(err, errlen, "--by: %s", why);
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

/* One scan over the index slots [from, to). The inputs are borrowed and
 * read-only (nothing writes the index while a handler runs). */
typedef struct {
    const recindex *ix;
    const uint32_t *rows; /* when not NULL, the rows to read (from a
                             secondary index); else the slots [from, to) */
    size_t from, to;
    const query_cond *c;
    size_t nc;
    char *const *by;
    const int *by_set;
    size_t nby;
    record_kind kind;        /* the kind counted (members unless asked) */
    const char *const *need; /* the fields the scan reads, sorted */
    size_t nneed;
    smap map; /* group key -> index into groups */
    stats_group *groups;
    size_t ngroups, gcap, total;
    int oom;
} stats_scan;

/* Count one combination of group values (key in kb, a scratch buffer: a
 * new group gets its own copy). 0 or -1. */
static int stats_count(stats_scan *s, const char *kb, size_t klen, size_t add)
{
    unsigned h = smap_hash(kb, klen);
    smap_item *it = smap_find(&s->map, kb, klen, h);
    if (it) {
        s->groups[it->val].count += add;
        return 0;
    }
    if (s->ngroups == s->gcap) {
        size_t ncap = s->gcap ? s->gcap * 2 : 64;
        stats_group *ng = realloc(s->groups, ncap * sizeof *ng);
        if (!ng)
            return -1;
        s->groups = ng;
        s->gcap = ncap;
    }
    char *k = malloc(klen);
    if (!k)
        return -1;
    memcpy(k, kb, klen);
    if (!smap_add(&s->map, k, klen, h, s->ngroups)) {
        free(k);
        return -1;
    }
    s->groups[s->ngroups++] = (stats_group){k, klen, add};
    return 0;
}

static void stats_scan_run(stats_scan *s)
{
    size_t pcap = 0;
    struct buf kb = BUF_INIT; /* the group key: each value and its NUL */
    record_entry *pe = NULL;
    const char ***vals = calloc(s->nby + 1, sizeof *vals); /* per --by field */
    size_t *nvals = calloc(s->nby + 1, sizeof *nvals), *pos = calloc(s->nby + 1, sizeof *pos);
    record proj;
    recindex_view view = RECINDEX_VIEW_INIT; /* this thread's */
    record_init(&proj);
    if (buf_reserve(&kb, 256) != UERR_OK || !vals || !nvals || !pos)
        goto oom;
    for (size_t f = 0; f < s->nby; f++)
        if (!(vals[f] = malloc(sizeof *vals[f])))
            goto oom;
    for (size_t i = s->from; i < s->to; i++) {
        const recindex_item *it;
        if (s->rows) {
            it = recindex_row(s->ix, s->rows[i]);
        } else {
            scan_prefetch(s->ix->slots, i, s->to);
            it = &s->ix->slots[i];
        }
        if (!it->id || it->kind != s->kind) /* one kind at a time, members by default */
            continue;
        const record *r = recindex_view_item(&view, s->ix, it);
        int grew = r ? scan_project(&proj, &pe, &pcap, r, s->need, s->nneed) : -1;
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
            buf_reset(&kb);
            for (size_t f = 0; f < s->nby; f++) {
                const char *v = vals[f][pos[f]];
                if (buf_append(&kb, v, strlen(v) + 1) != UERR_OK)
                    goto oom;
            }
            if (stats_count(s, kb.data, kb.len, 1) != 0)
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
    recindex_view_free(&view);
    for (size_t f = 0; vals && f < s->nby; f++)
        free(vals[f]);
    free(vals);
    free(nvals);
    free(pos);
    free(pe);
    buf_free(&kb);
}

/* The same counts from the index's tallies (daemon/store/recindex.h),
 * without visiting a record: possible when every condition and every
 * --by field is a tallied single-valued field. A record counts under the
 * displayed value of each field (the winner of a conflict), as the scan
 * counts it. Returns 1 (answered; s->oom on failure) or 0 (scan). */
static int stats_tallied(stats_scan *s)
{
    int slot[STATS_BY_MAX], *cslot = malloc((s->nc + 1) * sizeof *cslot);
    struct buf kb = BUF_INIT;
    int ok = cslot && scan_tally_conds(cslot, s->ix, s->c, s->nc);
    for (size_t f = 0; ok && f < s->nby; f++)
        ok = !s->by_set[f] && (slot[f] = recindex_tally_slot(s->ix, s->by[f])) >= 0;
    for (const recindex_tally *t = ok ? s->ix->tallies : NULL; t && !s->oom; t = t->hh.next) {
        if (!t->n || t->key[0] != (uintptr_t)s->kind || !scan_tally_match(t, s->c, cslot, s->nc))
            continue;
        s->total += t->n;
        if (s->nby == 0)
            continue;
        buf_reset(&kb);
        for (size_t f = 0; f < s->nby && !s->oom; f++) {
            const char *v = recindex_tally_value(t, slot[f]);
            s->oom = buf_append(&kb, v, strlen(v) + 1) != UERR_OK;
        }
        s->oom = s->oom || stats_count(s, kb.data, kb.len, t->n) != 0;
    }
    s->oom |= !cslot;
    free(cslot);
    buf_free(&kb);
    return ok || s->oom;
}

static void stats_scan_free(stats_scan *s)
{
    for (size_t g = 0; g < s->ngroups; g++)
        free(s->groups[g].key);
    free(s->groups);
    smap_free(&s->map);
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The conditions a stats request counts under: the given "where" list,
 * then status=active unless a condition is on status (the federation
 * counts members: applicants, lapsed and merged records are not members
 * unless asked about), then joined >= since and joined <= until. */
/* The date --since and --until bound, per kind: when the record came
 * to be (a member joined, a union was founded, an enterprise surveyed, a
 * station opened, a benefit handed out). */
static const char *stats_date_field(record_kind k)
{
    switch (k) {
    case KIND_UNION:
        return "founded";
    case KIND_ENTERPRISE:
        return "surveyed";
    case KIND_STATION:
        return "opened";
    case KIND_BENEFIT:
        return "date";
    default:
        return "joined";
    }
}

static uerr stats_conds_build(query_cond **out, size_t *nout, const msgpack_object *req,
                              record_kind kind, const char *since, const char *until, char *err,
                              size_t errlen)
{
    query_cond *given = NULL, *c;
    size_t ngiven = 0, nc;
    uerr e = ctl_conds_read(&given, &ngiven, req, err, errlen);
    *out = NULL;
    *nout = 0;
    if (e != UERR_OK)
        return e;
    c = calloc(ngiven + 3, sizeof *c);
    if (!c) {
        ctl_conds_free(given, ngiven);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory counting records");
    }
    if (ngiven)
        memcpy(c, given, ngiven * sizeof *c);
    free(given); /* the strings moved into c */
    nc = ngiven;
    *out = c;
    int on_status = kind != KIND_MEMBER; /* only members have a status */
    const char *date = stats_date_field(kind);
    for (size_t i = 0; i < nc; i++)
        on_status |= strcmp(c[i].field, "status") == 0;
    int rc = (!on_status && cond_add(c, &nc, "status", Q_EQ, "active") != 0) ||
             (since && cond_add(c, &nc, date, Q_GE, since) != 0) ||
             (until && cond_add(c, &nc, date, Q_LE, until) != 0);
    *nout = nc;
    return rc ? uerr_set(err, errlen, UERR_NOMEM, "out of memory counting records") : UERR_OK;
}

/* The fields the scan reads (conditions and --by), sorted and distinct,
 * into need (room for nc + nby). Returns how many. */
static size_t stats_need(const char **need, const query_cond *c, size_t nc, char *const *by,
                         size_t nby)
{
    size_t n = 0, w = 0;
    for (size_t i = 0; i < nc; i++)
        need[n++] = c[i].field;
    for (size_t f = 0; f < nby; f++)
        need[n++] = by[f];
    qsort(need, n, sizeof *need, str_ptr_cmp);
    for (size_t i = 0; i < n; i++)
        if (!w || strcmp(need[w - 1], need[i]) != 0)
            need[w++] = need[i];
    return w;
}

/* {by: [...], groups: [{FIELD: VALUE, ..., count}], total} */
static void stats_pack(msgpack_packer *pk, const stats_scan *s, char *const *by, size_t nby)
{
    msg_map m;
    msg_arr a, g;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_key(&m, "by");
    msg_arr_open(&a, pk);
    for (size_t f = 0; f < nby; f++) {
        msg_arr_item(&a);
        msg_pack_str(pk, by[f]);
    }
    msg_arr_close(&a);
    msg_map_key(&m, "groups");
    msg_arr_open(&g, pk);
    if (nby == 0) { /* without --by the whole selection is the one group */
        msg_map one;
        msg_arr_item(&g);
        msg_map_open(&one, pk);
        msg_map_int(&one, "count", (int64_t)s->total);
        msg_map_close(&one);
    }
    for (size_t i = 0; nby && i < s->ngroups; i++) {
        msg_map gm;
        const char *v = s->groups[i].key;
        msg_arr_item(&g);
        msg_map_open(&gm, pk);
        for (size_t f = 0; f < nby; f++) {
            msg_map_str(&gm, by[f], v);
            v += strlen(v) + 1;
        }
        msg_map_int(&gm, "count", (int64_t)s->groups[i].count);
        msg_map_close(&gm);
    }
    msg_arr_close(&g);
    msg_map_int(&m, "total", (int64_t)s->total);
    msg_map_close(&m);
}

void op_stats(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[CTL_ERRLEN];
    char **by = NULL, *since = msg_get_str(req, "since"), *until = msg_get_str(req, "until");
    size_t nby = 0, nc = 0;
    query_cond *c = NULL;
    const char **need = NULL;
    int *by_set = NULL;
    uint32_t *rows = NULL;
    size_t nrows = 0;
    stats_scan s;
    uerr e;
    memset(&s, 0, sizeof s);
    int64_t t0 = clock_now_ms();
    record_kind kind = KIND_MEMBER;
    char *kword = msg_get_str(req, "kind");
    e = kword ? kind_parse(&kind, kword, err, sizeof err) : UERR_OK;
    free(kword);
    if (e != UERR_OK)
        goto refuse;
    if (stats_by_read(&by, &nby, req, kind, err, sizeof err) != 0) {
        e = UERR_INVALID;
        goto refuse;
    }
    if ((since && !schema_date_valid(since)) || (until && !schema_date_valid(until))) {
        int bad_since = since && !schema_date_valid(since);
        e = uerr_set(err, sizeof err, UERR_INVALID, "--%s: '%s' is not a date (YYYY-MM-DD)",
                     bad_since ? "since" : "until", bad_since ? since : until);
        goto refuse;
    }
    if ((e = stats_conds_build(&c, &nc, req, kind, since, until, err, sizeof err)) != UERR_OK)
        goto refuse;
    need = malloc((nc + nby + 1) * sizeof *need);
    by_set = calloc(nby + 1, sizeof *by_set);
    if (!need || !by_set)
        goto oom;
    for (size_t f = 0; f < nby; f++) {
        const schema_field *sf = schema_kind_field_find(kind, by[f]);
        by_set[f] = kind == KIND_MEMBER ? schema_field_is_set(by[f]) : sf && sf->type == SCHEMA_SET;
    }
    s = (stats_scan){.ix = &o->ix,
                     .c = c,
                     .nc = nc,
                     .by = by,
                     .by_set = by_set,
                     .nby = nby,
                     .kind = kind,
                     .need = need,
                     .nneed = stats_need(need, c, nc, by, nby)};
    if (!stats_tallied(&s)) { /* else one pass over the records */
        int cand = ctl_candidates(&rows, &nrows, o, c, nc);
        if (cand < 0)
            goto oom;
        s.rows = rows;
        s.to = cand ? nrows : o->ix.cap;
        stats_scan_run(&s);
    }
    if (s.oom)
        goto oom;
    if (s.ngroups)
        qsort(s.groups, s.ngroups, sizeof *s.groups, group_cmp);
    log_msg(LOG_DEBUG, "stats: %zu records, %zu groups in %lld ms", s.total, s.ngroups,
            (long long)(clock_now_ms() - t0));
    stats_pack(pk, &s, by, nby);
    goto cleanup;
oom:
    e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory counting records");
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    stats_scan_free(&s);
    free(rows);
    free(need);
    free(by_set);
    ctl_conds_free(c, nc);
    for (size_t f = 0; f < nby; f++)
        free(by[f]);
    free(by);
    free(since);
    free(until);
}
