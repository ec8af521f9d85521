/* record.c - the replicated record state: writes and the join (the one
 * canonical text form stored as a git blob is in record_codec.c).
 *
 * The state is a multi-value register with causal context per field
 * (DESIGN.md "Records and the merge"). Entries stay sorted by
 * (field, node, counter) at all times, so the join is a merge walk and
 * encoding is a straight loop. */
#include "proto/record.h"

#include "proto/map.h"
#include "proto/names.h"
#include "proto/record_priv.h"

#ifdef __GLIBC__
#include <malloc.h> /* malloc_usable_size */
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- interned names ----------------------------------------------------- */

/* Field and node names are interned: one copy per distinct name for the
 * process, so entries share them and compare by pointer-sized work. The
 * table is uthash (proto/map.h); a few hundred names at most, never freed. */
typedef struct {
    UT_hash_handle hh;
    char s[]; /* the name, NUL-terminated */
} intern_item;

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static intern_item *intern_tab; /* guarded by intern_lock */

const char *record_intern(const char *s, size_t len)
{
    intern_item *it = NULL;
    pthread_mutex_lock(&intern_lock);
    HASH_FIND(hh, intern_tab, s, len, it);
    if (!it && (it = malloc(sizeof *it + len + 1)) != NULL) {
        memcpy(it->s, s, len);
        it->s[len] = '\0';
        map_oom = 0;
        HASH_ADD_KEYPTR(hh, intern_tab, it->s, len, it);
        if (map_oom) {
            free(it);
            it = NULL;
        }
    }
    pthread_mutex_unlock(&intern_lock);
    return it ? it->s : NULL;
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

/* strcmp for field and node names, sign for sign: interned names are equal
 * exactly when their pointers are, and names that differ mostly differ in
 * their first byte, so most comparisons of the searches below need no
 * call (strcmp was the store thread's largest single cost). A pointer that
 * is not interned (a caller's string) still compares by its bytes. */
static inline int name_cmp(const char *a, const char *b)
{
    if (a == b)
        return 0;
    if (a[0] != b[0])
        return (unsigned char)a[0] - (unsigned char)b[0];
    return strcmp(a, b);
}

static int ctx_find(const record *r, const char *node, size_t *pos)
{
    size_t lo = 0, hi = r->nctx;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = name_cmp(r->ctx[mid].node, node);
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

int record_entry_cmp(const record_entry *a, const record_entry *b)
{
    int c = name_cmp(a->field, b->field);
    if (c)
        return c;
    c = name_cmp(a->node, b->node);
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
        if (name_cmp(r->entries[mid].field, field) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    size_t n = 0;
    /* the run's names are one interned pointer, usually the same as field */
    while (lo + n < r->nentries && name_cmp(r->entries[lo + n].field, field) == 0)
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

/* Room for one more entry in r->entries. The record has no capacity field
 * (records are made in many places: decode, join, copy, the compact
 * index's views), so with glibc the allocation's usable size says how
 * many fit, and the array grows by half instead of by one: a record built
 * by a dozen writes (an import row) then takes one allocation, not one
 * realloc a write. Elsewhere it grows by one, as before. */
static int entries_room(record *r)
{
    size_t have = r->nentries;
#ifdef __GLIBC__
    if (r->entries)
        have = malloc_usable_size(r->entries) / sizeof *r->entries;
#endif
    if (r->nentries < have)
        return 0;
    size_t want = r->nentries < 16 ? 16 : r->nentries + r->nentries / 2;
    if (want > SIZE_MAX / sizeof *r->entries)
        return -1;
    record_entry *ne = realloc(r->entries, want * sizeof *ne);
    if (!ne)
        return -1;
    r->entries = ne;
    return 0;
}

/* record_intern through a small per-thread cache of names already
 * interned: the global table takes a lock and a hash a call, and a
 * record's writes (and a decoded record's lines) name the same few fields
 * and one node over and over. A slot holds an interned (never freed)
 * pointer and its length, so a stale slot is only a miss. */
#define INTERN_CACHE 64
static _Thread_local struct {
    const char *s;
    size_t len;
} intern_cache[INTERN_CACHE];

const char *record_intern_cached(const char *s, size_t len)
{
    if (len == 0)
        return record_intern(s, len);
    size_t h = (len * 31 + (unsigned char)s[0] * 7 + (unsigned char)s[len - 1] +
                (unsigned char)s[len / 2] * 3) %
               INTERN_CACHE;
    const char *c = intern_cache[h].s;
    if (c && intern_cache[h].len == len && memcmp(c, s, len) == 0)
        return c;
    c = record_intern(s, len);
    if (c) {
        intern_cache[h].s = c;
        intern_cache[h].len = len;
    }
    return c;
}

static const char *intern_cached(const char *s)
{
    return record_intern_cached(s, strlen(s));
}

/* Common path of write and set-add: drop the entries the writer can see
 * (all of the field, or those holding one element), add one fresh dot.
 * Everything that can fail is done first, so r is unchanged on failure. */
static int record_put(record *r, const char *node, int64_t time_ms, const char *field,
                      const char *value, int only_same_value)
{
    record_entry e = {0};
    size_t cpos;
    int have_node = ctx_find(r, node, &cpos);
    e.field = intern_cached(field);
    e.node = have_node ? r->ctx[cpos].node : intern_cached(node);
    e.value = strdup(value);
    e.counter = (have_node ? r->ctx[cpos].counter : 0) + 1;
    e.time_ms = time_ms;
    if (!e.field || !e.value || !e.node || entries_room(r) != 0)
        goto fail;
    if (!have_node) {
        record_ctx *nc = realloc(r->ctx, (r->nctx + 1) * sizeof *nc);
        if (!nc)
            goto fail;
        r->ctx = nc;
        memmove(&r->ctx[cpos + 1], &r->ctx[cpos], (r->nctx - cpos) * sizeof *nc);
        r->ctx[cpos].node = e.node;
        r->nctx++;
    }
    r->ctx[cpos].counter = e.counter;
    size_t first, n = record_field_entries(r, field, &first);
    size_t before = r->nentries;
    entries_drop(r, first, n, only_same_value ? value : NULL);
    /* the field's kept entries are [first, first + kept): the new one goes
     * at its place among them (by node, then counter) */
    size_t pos = first + n - (before - r->nentries);
    while (pos > first && record_entry_cmp(&r->entries[pos - 1], &e) > 0)
        pos--;
    memmove(&r->entries[pos + 1], &r->entries[pos], (r->nentries - pos) * sizeof e);
    r->entries[pos] = e;
    r->nentries++;
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

int record_entry_covered(const record *r, const record_entry *e)
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
            if (!record_entry_covered(b, &a->entries[i]))
                take = &a->entries[i];
            i++;
        } else if (i >= a->nentries) {
            if (!record_entry_covered(a, &b->entries[j]))
                take = &b->entries[j];
            j++;
        } else {
            int c = record_entry_cmp(&a->entries[i], &b->entries[j]);
            if (c == 0) {
                /* Same dot on both sides: the same write. Should the bytes
                 * ever differ, pick deterministically so join commutes. */
                const record_entry *x = &a->entries[i], *y = &b->entries[j];
                int v = strcmp(x->value, y->value);
                take = v < 0 || (v == 0 && x->time_ms <= y->time_ms) ? x : y;
                i++;
                j++;
            } else if (c < 0) {
                if (!record_entry_covered(b, &a->entries[i]))
                    take = &a->entries[i];
                i++;
            } else {
                if (!record_entry_covered(a, &b->entries[j]))
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
        if (record_entry_cmp(x, y) || strcmp(x->value, y->value) || x->time_ms != y->time_ms)
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
             (name_cmp(e->node, best->node) > 0 ||
              (name_cmp(e->node, best->node) == 0 && e->counter > best->counter))))
            best = e;
    }
    return best;
}

/* ---- ids and paths ------------------------------------------------------ */

_Static_assert(RECORD_NODE_MAX == NAMES_NODE_MAX, "one node-name length limit");

int record_node_valid(const char *s)
{
    return names_node_valid(s); /* the one rule: proto/names.h */
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

size_t record_conflict_fields(const record *r, int (*is_set)(const char *field))
{
    /* Entries are sorted by field: a field is in conflict when its run of
     * entries holds a value other than the run's first. */
    size_t n = 0;
    for (size_t i = 0; i < r->nentries;) {
        size_t j = i + 1;
        int differs = 0;
        while (j < r->nentries && name_cmp(r->entries[j].field, r->entries[i].field) == 0) {
            differs |= strcmp(r->entries[j].value, r->entries[i].value) != 0;
            j++;
        }
        if (differs && !is_set(r->entries[i].field))
            n++;
        i = j;
    }
    return n;
}
