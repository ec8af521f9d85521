/* recindex.h - the in-memory index of the head tree: record id -> decoded
 * record state. Queries read it instead of the store; it is updated from
 * the records a commit wrote (and, for merges, from tree diffs). Used only
 * from the store queue's jobs (one at a time); not thread-safe. Part of the
 * store room; it never reads the store itself.
 *
 * Why a table of its own and not uthash (proto/map.h, the map everywhere
 * else): this is not a general map but the one structure whose size grows
 * with the register. A slot here is 40 bytes (id pointer + record); a
 * uthash handle would add 56 bytes per record, about 56 MB more at a
 * million records on a field laptop, plus one allocation per item. And the
 * scans (stats, duplicates, list) walk the slots as one flat array with
 * prefetching (daemon/ctl/scan.h), which chained items would defeat. Keep
 * it for this one use; use proto/map.h for any other table. */
#ifndef UNIOND_RECINDEX_H
#define UNIOND_RECINDEX_H

#include "proto/kind.h"
#include "proto/record.h"
#include "proto/uerr.h"

#include <stddef.h>

typedef struct {
    char *id;
    record rec;
    record_kind kind; /* the folder the record sits in (KIND_MEMBER ... KIND_BENEFIT) */
} recindex_item;

typedef struct {
    recindex_item *slots; /* open addressing (linear probing, load < 3/4);
                             id == NULL marks a free slot */
    size_t cap, count;
    /* Tallies for status, kept as records are put, so status never scans:
     * records per kind; member records with a field in conflict and the
     * fields in conflict (what `unionctl conflicts` lists, members only). */
    size_t by_kind[KIND_COUNT];
    size_t conflicted;      /* member records with a field in conflict */
    size_t conflict_fields; /* fields in conflict over all member records */
} recindex;

/* An empty index (no allocation until the first put). */
void recindex_init(recindex *ix);
/* Frees every id and record, leaves ix empty and reusable. */
void recindex_free(recindex *ix);
/* The record with this id, or NULL. Borrowed: valid until the next put. */
record *recindex_get(const recindex *ix, const char *id);
/* Insert or replace; id is copied. Takes ownership of *r's contents (r is
 * left empty). UERR_OK, or UERR_NOMEM (then *r is untouched). */
uerr recindex_put(recindex *ix, const char *id, record *r);
/* recindex_put that also sets the record's kind (recindex_put keeps the
 * kind of a record already there and makes a new one a member). */
uerr recindex_put_kind(recindex *ix, record_kind kind, const char *id, record *r);
/* The kind of the record with this id, or KIND_NONE when absent. */
record_kind recindex_kind(const recindex *ix, const char *id);

#endif
