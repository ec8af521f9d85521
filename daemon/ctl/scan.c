/* scan.c - one pass over the whole index (see scan.h). */
#include "daemon/ctl/scan.h"

#include <stdlib.h>
#include <string.h>

/* ---- a small hash map: byte string -> size_t ------------------------------ */

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
smap_slot *smap_upsert(smap *m, const char *key, size_t len, int *isnew)
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

void smap_free(smap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- scanning --------------------------------------------------------------- */

/* How many records ahead a scan asks the memory for (see scan_prefetch). */
#define SCAN_AHEAD 8

/* Every field name and value in the index is an allocation of its own, so a
 * scan over all records waits on memory, not on the CPU. Ask for the
 * entries of the record two steps ahead of i and for the field names of the
 * one a step ahead (values sit next to them), so that the loads of several
 * records overlap instead of following one another. */
void scan_prefetch(const recindex_item *slots, size_t i, size_t to)
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
