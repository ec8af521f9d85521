/* scan.c - one pass over the whole index (see scan.h). */
#include "daemon/ctl/scan.h"

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
