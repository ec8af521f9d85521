/* scan.h - tools for one pass over the whole in-memory index, shared by
 * stats and duplicates: a small hash map of borrowed byte strings, the
 * projection of a record on the fields a scan reads, and prefetching.
 * Worker thread only; never allocates per record in the steady state. */
#ifndef UNIOND_CTL_SCAN_H
#define UNIOND_CTL_SCAN_H

#include "daemon/store/recindex.h"

#include <stddef.h>
#include <stdint.h>

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

/* The slot of key, inserted (key borrowed, val 0, *isnew = 1) if absent.
 * NULL on allocation failure. The pointer is valid until the next call. */
smap_slot *smap_upsert(smap *m, const char *key, size_t len, int *isnew);
void smap_free(smap *m);

/* Prefetch the records a scan at slot i of [.., to) reads a few steps
 * ahead (see scan.c). */
void scan_prefetch(const recindex_item *slots, size_t i, size_t to);

/* The projection of r on the fields need (sorted, distinct): every entry of
 * those fields, in r's order, shallow-copied into *buf (grown as needed;
 * *cap is its size). query_match, query_display and record_field_winner see
 * exactly the same entries for these fields as in r itself, and one merge
 * walk replaces a binary search per field. proj borrows *buf and r's
 * strings: never record_free it. Returns 1 if *buf grew, 0, or -1. */
int scan_project(record *proj, record_entry **buf, size_t *cap, const record *r,
                 const char *const *need, size_t nneed);

#endif
