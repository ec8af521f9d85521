/* scan.c - one pass over the whole index (see scan.h). */
#include "daemon/ctl/scan.h"
#include "proto/schema.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the map: uthash, items from blocks ------------------------------------ */

/* Items per block: big enough that allocation is rare, small enough that a
 * map of a few keys costs little (about 20 KiB). */
#define SMAP_BLOCK 256

struct smap_block {
    smap_block *next;
    size_t used;
    smap_item items[SMAP_BLOCK];
};

/* FNV-1a (uthash's HASH_FNV): on keys this short (ID numbers, phones,
 * group keys) it measured about 10% faster than uthash's default Jenkins
 * hash. Every item is added and found by this value, so the table never
 * mixes the two functions. */
unsigned smap_hash(const char *key, size_t len)
{
    unsigned h;
    HASH_FNV(key, len, h);
    return h;
}

smap_item *smap_find(const smap *m, const char *key, size_t len, unsigned h)
{
    smap_item *it = NULL;
    HASH_FIND_BYHASHVALUE(hh, m->head, key, len, h, it);
    return it;
}

smap_item *smap_add(smap *m, const char *key, size_t len, unsigned h, size_t val)
{
    smap_block *b = m->blocks;
    if (!b || b->used == SMAP_BLOCK) {
        b = malloc(sizeof *b);
        if (!b)
            return NULL;
        b->next = m->blocks;
        b->used = 0;
        m->blocks = b;
    }
    smap_item *it = &b->items[b->used];
    *it = (smap_item){.key = key, .len = len, .val = val};
    map_oom = 0;
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, m->head, key, len, h, it);
    if (map_oom)
        return NULL; /* not added; the slot is simply reused next time */
    b->used++;
    return it;
}

void smap_free(smap *m)
{
    HASH_CLEAR(hh, m->head);
    while (m->blocks) {
        smap_block *next = m->blocks->next;
        free(m->blocks);
        m->blocks = next;
    }
}

/* ---- scanning --------------------------------------------------------------- */

/* How many records ahead a scan asks the memory for (see scan_prefetch). */
#define SCAN_AHEAD 8

/* A scan in slot order reads the records' bytes in hash order, so it
 * waits on memory, not on the CPU. Ask for the bytes of the record a few
 * steps ahead of i, so that the loads of several records overlap instead
 * of following one another. */
void scan_prefetch(const recindex_item *slots, size_t i, size_t to)
{
    if (i + SCAN_AHEAD < to && slots[i + SCAN_AHEAD].id) {
        __builtin_prefetch(slots[i + SCAN_AHEAD].id);
        __builtin_prefetch(slots[i + SCAN_AHEAD].id + 64);
    }
}

/* The projection of r on the fields need (sorted, distinct): every entry of
 * those fields, in r's order, shallow-copied into *buf (grown as needed;
 * *cap is its size). query_match, query_display and record_field_winner see
 * exactly the same entries for these fields as in r itself, and one merge
 * walk replaces a binary search per field. proj borrows *buf and r's
 * strings: never record_free it. Returns 1 if *buf grew, 0, or -1. */
int scan_project(record *proj, record_entry **buf, size_t *cap, const record *r,
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

const char *scan_display(const recindex *ix, const recindex_item *it, const char *field)
{
    if (strcmp(field, "id") == 0)
        return it->id;
    return recindex_item_shown(ix, it, field);
}

/* ---- candidates from the secondary indexes ----------------------------------- */

const char *const scan_indexed_fields[] = {"office", "category", "status", "joined", "union"};
const size_t scan_nindexed_fields = sizeof scan_indexed_fields / sizeof *scan_indexed_fields;
/* few distinct values each (tens of offices, categories, statuses): their
 * combinations stay in the hundreds; joined (thousands of dates) is not */
const char *const scan_tallied_fields[] = {"office", "category", "status"};
const size_t scan_ntallied_fields = sizeof scan_tallied_fields / sizeof *scan_tallied_fields;

/* query_op_holds for the operators an index answers; ~ is not answered
 * from an index (the callers never ask), so it accepts every value. */
static int value_in(query_op op, const char *have, const char *want)
{
    return op == Q_HAS ? 1 : query_op_holds(op, have, want);
}

/* How many rows the condition selects from f (the sum over the distinct
 * values it accepts). */
static size_t cond_size(const recindex_field *f, const query_cond *c)
{
    if (c->op == Q_EQ) {
        const recindex_value *v = recindex_value_find(f, c->value);
        return v ? v->n : 0;
    }
    size_t n = 0;
    for (const recindex_value *v = f->values; v; v = v->hh.next)
        if (value_in(c->op, v->value, c->value))
            n += v->n;
    return n;
}

int scan_candidates(uint32_t **rows, size_t *n, const recindex *ix, const query_cond *c, size_t nc)
{
    const recindex_field *bestf = NULL;
    const query_cond *best = NULL;
    size_t bestn = SIZE_MAX;
    *rows = NULL;
    *n = 0;
    for (size_t i = 0; i < nc; i++) {
        const recindex_field *f = recindex_field_find(ix, c[i].field);
        if (!f || c[i].op == Q_NE || c[i].op == Q_HAS || schema_field_is_set(c[i].field))
            continue;
        size_t k = cond_size(f, &c[i]);
        if (k < bestn) {
            bestn = k;
            best = &c[i];
            bestf = f;
        }
    }
    if (!best || bestn > ix->count / 2)
        return 0;
    uint32_t *out = malloc((bestn + 1) * sizeof *out);
    if (!out)
        return -1;
    size_t k = 0;
    const recindex_value *one = best->op == Q_EQ ? recindex_value_find(bestf, best->value) : NULL;
    for (const recindex_value *v = one ? one : bestf->values; v; v = one ? NULL : v->hh.next)
        if (value_in(best->op, v->value, best->value)) {
            assert(k + v->n <= bestn);
            memcpy(out + k, v->rows, v->n * sizeof *out);
            k += v->n;
        }
    assert(k == bestn);
    *rows = out;
    *n = k;
    return 1;
}

/* ---- counts from tallies and per-value counts -------------------------------- */

/* Whether the index holds a record under exactly the value cond_match
 * compares for c: a single-valued field (the displayed value, the winner
 * of a conflict) and an operator value_in answers (not ~). */
static int cond_exact(const query_cond *c)
{
    return c->op != Q_HAS && strcmp(c->field, "id") != 0 && !schema_field_is_set(c->field);
}

int scan_tally_conds(int *slot, const recindex *ix, const query_cond *c, size_t nc)
{
    if (!ix->ntallied)
        return 0;
    for (size_t i = 0; i < nc; i++)
        if (!cond_exact(&c[i]) || (slot[i] = recindex_tally_slot(ix, c[i].field)) < 0)
            return 0;
    return 1;
}

int scan_tally_match(const recindex_tally *t, const query_cond *c, const int *slot, size_t nc)
{
    for (size_t i = 0; i < nc; i++)
        if (!value_in(c[i].op, recindex_tally_value(t, slot[i]), c[i].value))
            return 0;
    return 1;
}

/* The count from the tallies: every condition on a tallied field. 1, 0
 * (not answered), -1 (memory). */
static int count_tallied(size_t *n, const recindex *ix, record_kind kind, const query_cond *c,
                         size_t nc, int keep_void)
{
    int st = recindex_tally_slot(ix, "status");
    int *slot = malloc((nc + 1) * sizeof *slot);
    if (!slot)
        return -1;
    int ok = scan_tally_conds(slot, ix, c, nc) && (keep_void || st >= 0);
    size_t count = 0;
    for (const recindex_tally *t = ok ? ix->tallies : NULL; t; t = t->hh.next)
        if (t->n && t->key[0] == (uintptr_t)kind &&
            (keep_void || strcmp(recindex_tally_value(t, st), "void") != 0) &&
            scan_tally_match(t, c, slot, nc))
            count += t->n;
    free(slot);
    *n = count;
    return ok;
}

int scan_count_indexed(size_t *n, const recindex *ix, record_kind kind, const query_cond *c,
                       size_t nc, int keep_void)
{
    *n = 0;
    int got = count_tallied(n, ix, kind, c, nc, keep_void);
    if (got)
        return got;
    if (nc != 1 || !cond_exact(c))
        return 0;
    const recindex_field *f = recindex_field_find(ix, c->field);
    const recindex_field *st = recindex_field_find(ix, "status");
    if (!f || (!keep_void && !st))
        return 0;
    /* the rows of kind under every value the condition accepts */
    size_t count = 0;
    const recindex_value *one = c->op == Q_EQ ? recindex_value_find(f, c->value) : NULL;
    if (c->op != Q_EQ || one)
        for (const recindex_value *v = one ? one : f->values; v; v = one ? NULL : v->hh.next)
            if (value_in(c->op, v->value, c->value))
                count += v->by_kind[kind];
    /* less the void ones among them: usually none or few */
    const recindex_value *vv = keep_void ? NULL : recindex_value_find(st, "void");
    for (size_t k = 0; vv && k < vv->n; k++) {
        const recindex_item *it = recindex_row(ix, vv->rows[k]);
        if (it->kind == kind && value_in(c->op, scan_display(ix, it, c->field), c->value)) {
            assert(count > 0);
            count--;
        }
    }
    *n = count;
    return 1;
}
