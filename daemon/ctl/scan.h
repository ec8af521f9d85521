/* scan.h - tools for one pass over the whole in-memory index, shared by
 * stats and duplicates: a hash map of borrowed byte strings, the
 * projection of a record on the fields a scan reads, and prefetching.
 * Worker thread only; never allocates per record in the steady state. */
#ifndef UNIOND_CTL_SCAN_H
#define UNIOND_CTL_SCAN_H

#include "daemon/store/recindex.h"
#include "proto/map.h"
#include "proto/query.h"

#include <stddef.h>
#include <stdint.h>

/* A map of borrowed byte strings to a size_t: uthash (proto/map.h, THE
 * map) with the items carved from blocks, so a scan over a million records
 * does not call malloc once per key. The keys are borrowed: the caller
 * keeps them alive (stats copies group keys into its own array,
 * duplicates point into the index's records, which do not change while a
 * handler runs). Items never move; they live until smap_free. */
typedef struct smap_item {
    const char *key;
    size_t len;
    size_t val;
    UT_hash_handle hh;
} smap_item;

typedef struct smap_block smap_block;

typedef struct {
    smap_item *head;    /* the uthash head; NULL when empty; iterate with hh.next */
    smap_block *blocks; /* where the items live, newest first */
} smap;

#define SMAP_INIT                                                                                  \
    {                                                                                              \
        NULL, NULL                                                                                 \
    }

/* The hash of key (len bytes), computed once for a find and an add. */
unsigned smap_hash(const char *key, size_t len);
/* The item of key, or NULL if absent. h is smap_hash(key, len). */
smap_item *smap_find(const smap *m, const char *key, size_t len, unsigned h);
/* Add key (borrowed; must not be in m yet; h = smap_hash(key, len)) with
 * val. Returns the item, or NULL when out of memory (m is unchanged). */
smap_item *smap_add(smap *m, const char *key, size_t len, unsigned h, size_t val);
/* Free the table and the items (not the keys); m is empty afterwards. */
void smap_free(smap *m);

/* Prefetch the records a scan at slot i of [.., to) reads a few steps
 * ahead (see scan.c). */
void scan_prefetch(const recindex_item *slots, size_t i, size_t to);

/* query_display of the record of it without decoding it: its id for
 * "id", else the displayed (winning) value of field, "" when none.
 * Borrowed from ix: valid until the next put. */
const char *scan_display(const recindex *ix, const recindex_item *it, const char *field);

/* The projection of r on the fields need (sorted, distinct): every entry of
 * those fields, in r's order, shallow-copied into *buf (grown as needed;
 * *cap is its size). query_match, query_display and record_field_winner see
 * exactly the same entries for these fields as in r itself, and one merge
 * walk replaces a binary search per field. proj borrows *buf and r's
 * strings: never record_free it. Returns 1 if *buf grew, 0, or -1. */
int scan_project(record *proj, record_entry **buf, size_t *cap, const record *r,
                 const char *const *need, size_t nneed);

/* The fields the record index keeps secondary indexes on (ops_load turns
 * them on): the ones clerks and reports filter by. */
extern const char *const scan_indexed_fields[];
extern const size_t scan_nindexed_fields;

/* The rows of ix that can match the conditions c (AND): a superset of the
 * matching records, each once, read from the secondary index of the most
 * selective condition that has one (= on an indexed single-valued field,
 * or <, <=, >, >= compared as query_match does, over the field's distinct
 * values). The caller still tests every row with query_match; the answer
 * is the same as a scan's, only fewer records are read. Returns 1 with
 * *rows (caller frees) and *n; 0 when no condition is indexed or the best
 * one selects more than half the records (a scan in slot order is then
 * faster), *rows NULL; -1 when out of memory. */
int scan_candidates(uint32_t **rows, size_t *n, const recindex *ix, const query_cond *c, size_t nc);

/* The fields the record index keeps tallies on (ops_load turns them on,
 * after the indexes): the few-valued ones stats groups by. */
extern const char *const scan_tallied_fields[];
extern const size_t scan_ntallied_fields;

/* Whether every condition of c (AND) can be decided on a tally of ix
 * alone: each names a tallied single-valued field, with any operator but
 * ~ (the tally holds the displayed value, the winner of a conflict, as
 * query_match compares it). Then slot[i] (room for nc) is the tally slot
 * of c[i]. 1 or 0. */
int scan_tally_conds(int *slot, const recindex *ix, const query_cond *c, size_t nc);
/* Whether the combination of tally t matches c (slots from
 * scan_tally_conds): the answer query_match gives for each of its records. */
int scan_tally_match(const recindex_tally *t, const query_cond *c, const int *slot, size_t nc);

/* The number of records of kind that match c and, unless keep_void, are
 * not shown as status "void" (what list --count counts), without reading
 * a record (but the few void ones): from the tallies when every condition
 * is on a tallied field (also none: all records of kind), else from the
 * per-value counts when c is one condition an index answers exactly (any
 * operator but ~ on an indexed single-valued field: the index holds each
 * record under the displayed value query_match compares), summed over the
 * distinct values it accepts. Returns 1 with *n, 0 when it cannot (the
 * caller scans), -1 when out of memory. */
int scan_count_indexed(size_t *n, const recindex *ix, record_kind kind, const query_cond *c,
                       size_t nc, int keep_void);

#endif
