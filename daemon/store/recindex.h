/* recindex.h - the in-memory index of the head tree: record id -> decoded
 * record state. Queries read it instead of the store; it is updated from
 * the records a commit wrote (and, for merges, from tree diffs). Part of
 * the store room; it never reads the store itself.
 *
 * Threads: one writer (the store queue's job) and readers (the control
 * socket's read jobs, daemon/ctl/optable.h) share one index through its
 * lock. Readers hold the read lock for a whole request, so a reply shows
 * one state. The writer reads without the lock (nobody else writes) and
 * takes the write lock only around the step that changes the index (a
 * finished commit or merge being applied), never across git writes or an
 * fsync. The lock also guards what is changed in the same step: the
 * person keys (daemon/ctl/persons.c), the schema records and the
 * declarations made from them (daemon/ctl/op_schema.c). The functions
 * below do not lock: their callers do.
 *
 * Why a table of its own and not uthash (proto/map.h, the map everywhere
 * else): this is not a general map but the one structure whose size grows
 * with the register. A slot here is 16 bytes (pointer to the compact
 * record, row, kind); a
 * uthash handle would add 56 bytes per record, about 56 MB more at a
 * million records on a field laptop, plus one allocation per item. And the
 * scans (stats, duplicates, list) walk the slots as one flat array with
 * prefetching (daemon/ctl/scan.h), which chained items would defeat. Keep
 * it for this one use; use proto/map.h for any other table. */
#ifndef UNIOND_RECINDEX_H
#define UNIOND_RECINDEX_H

#include "daemon/store/reccompact.h"
#include "proto/kind.h"
#include "proto/map.h"
#include "proto/record.h"
#include "proto/uerr.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* A record in the table. The record itself is kept compact
 * (daemon/store/reccompact.h): id points at its stored bytes in the
 * index's arena (the id, then the encoded state); read it with a view
 * (recindex_view_item) or recindex_item_shown. */
typedef struct {
    const char *id;   /* NULL marks a free slot */
    uint32_t row;     /* the record's stable number (see recindex.rows) */
    record_kind kind; /* the folder the record sits in (KIND_MEMBER ... KIND_BENEFIT) */
} recindex_item;

/* A decoded record read from the index: the caller's buffers, the
 * strings (values, names) borrowed from the index, valid until the next
 * put even after the view is reused for another record (so a value taken
 * from one row may be kept while the view moves on). Never record_free
 * view.rec; record_copy it for a record of one's own. A view belongs to
 * one thread; two records held at once need two views. */
typedef struct {
    record rec;
    record_entry *ebuf;
    record_ctx *cbuf;
    size_t ecap, ccap;
} recindex_view;

#define RECINDEX_VIEW_INIT                                                                         \
    {                                                                                              \
        {0}, NULL, NULL, 0, 0                                                                      \
    }

/* Secondary indexes. A record keeps its row number for the life of the
 * index (records are never removed, only replaced), while its slot moves
 * when the table grows; so the secondary indexes name records by row, and
 * rows[row] is the slot. A row number is 4 bytes where a pointer is 8, and
 * reaching the record costs two array reads, not a hash of the id. */

/* The rows whose displayed value of one field (query_display: the winning
 * entry, "" when absent) is `value`, in no particular order. */
typedef struct recindex_value {
    char *value;
    uint32_t *rows;
    size_t n, cap;
    /* How many of rows are records of each kind, kept by every put: an
     * equality count is one read, a range count one read per distinct
     * value, never one per row. */
    size_t by_kind[KIND_COUNT];
    UT_hash_handle hh;
} recindex_value;

/* One indexed field: value -> rows. Values no record holds any more stay,
 * with n == 0 (their number is bounded by the values ever written). */
typedef struct {
    char *field;
    recindex_value *values; /* uthash head */
} recindex_field;

/* At most this many secondary indexes on one recindex. */
#define RECINDEX_FIELDS_MAX 8

/* Tallies: the number of records of one kind holding one combination of
 * values of the tallied fields (a few indexed fields with few distinct
 * values, e.g. office, category, status), kept by every put like the
 * postings. Counts and stats over those fields read the combinations
 * (a few hundred) instead of the records (a million). A combination no
 * record holds any more stays, with n == 0. */
#define RECINDEX_TALLY_MAX 4

typedef struct recindex_tally {
    /* the key, compared bytewise: [0] the kind, [1 + t] the
     * recindex_value of tallied field t (a value's entry never moves and
     * lives until recindex_free), unused ones 0 */
    uintptr_t key[1 + RECINDEX_TALLY_MAX];
    size_t n;
    UT_hash_handle hh;
} recindex_tally;

typedef struct {
    recindex_item *slots; /* open addressing (linear probing, load < 3/4);
                             id == NULL marks a free slot */
    /* slot -> the low 32 bits of its id's hash (where slots[i].id): a
     * probe compares these before the id, whose bytes are in the arena
     * (a cache miss each at a million records), and a growth rehashes
     * without reading an id */
    uint32_t *tags;
    size_t cap, count;
    /* The longest id held (ids are never removed): an id prefix at least
     * this long can only name the id itself, so a lookup that missed it
     * need not walk the ids (daemon/ctl/common.c ctl_lookup). */
    size_t id_max;
    /* Tallies for status, kept as records are put, so status never scans:
     * records per kind; member records with a field in conflict and the
     * fields in conflict (what `unionctl conflicts` lists, members only). */
    size_t by_kind[KIND_COUNT];
    size_t conflicted;      /* member records with a field in conflict */
    size_t conflict_fields; /* fields in conflict over all member records */
    uint32_t *rows;         /* row -> slot; count entries used */
    size_t rowcap;
    recindex_field fields[RECINDEX_FIELDS_MAX];
    size_t nfields;
    size_t tallied[RECINDEX_TALLY_MAX]; /* the tallied fields: indexes into fields */
    size_t ntallied;
    recindex_tally *tallies; /* uthash head */
    reccompact cr;           /* the records' bytes, names and dictionary */
    recindex_view wview;     /* the writer's scratch (a put reads the old record) */
    /* Last, so that recindex_free can clear everything above it and leave
     * the lock alone (see "Threads" above). */
    pthread_rwlock_t lock;
} recindex;

/* An empty index (no allocation until the first put), its lock
 * initialised. */
void recindex_init(recindex *ix);
/* Frees every record, leaves ix empty and reusable; the lock stays
 * as it is (call it with no lock held). */
void recindex_free(recindex *ix);

/* The index lock (see "Threads" above). A reader: recindex_read_lock for
 * the whole request, then recindex_unlock. The writer: recindex_write_lock
 * around each change, then recindex_unlock. A waiting writer goes before
 * new readers. Not recursive: a thread holding it never takes it again
 * (a second read lock waits behind a waiting writer: deadlock). Abort on a lock error (only a bug
 * causes one). */
void recindex_read_lock(recindex *ix);
void recindex_write_lock(recindex *ix);
void recindex_unlock(recindex *ix);
/* The hash of a record id the table places it by (FNV-1a, 64 bits); its
 * low 32 bits are the slot's tag. Exported for the tests that build ids
 * of equal tags. */
uint64_t recindex_id_hash(const char *id);
/* The item of the record with this id, or NULL. Borrowed: valid until
 * the next put. */
const recindex_item *recindex_find(const recindex *ix, const char *id);
/* 1 if a record with this id is in the index. */
static inline int recindex_has(const recindex *ix, const char *id)
{
    return recindex_find(ix, id) != NULL;
}

/* An empty view (allocates nothing). */
void recindex_view_init(recindex_view *v);
/* Frees the view's buffers (not the strings, the index's). */
void recindex_view_free(recindex_view *v);
/* The record of it decoded into v: &v->rec, or NULL when out of memory. */
const record *recindex_view_item(recindex_view *v, const recindex *ix, const recindex_item *it);
/* The record with this id decoded into v: &v->rec, or NULL when absent
 * (or, rarely, out of memory: *oom set to 1 when oom is not NULL). */
const record *recindex_view_get(recindex_view *v, const recindex *ix, const char *id);
/* A record of the caller's own (record_free it) with this id: 1, 0 when
 * absent (*out empty), -1 when out of memory (*out empty). */
int recindex_get_copy(record *out, const recindex *ix, const char *id);
/* The value every node displays for single-valued field of it (the
 * winning entry's, as record_field_winner), "" when it has none, without
 * decoding the record. Borrowed: valid until the next put. */
const char *recindex_item_shown(const recindex *ix, const recindex_item *it, const char *field);

/* Insert or replace; id is copied. Takes ownership of *r's contents (r is
 * left empty). UERR_OK, or UERR_NOMEM (then *r is untouched). */
uerr recindex_put(recindex *ix, const char *id, record *r);
/* recindex_put_kind of a record in its stored compact form (len bytes,
 * checked with reccompact_check against ix->cr's tables): a snapshot's
 * load. UERR_OK or UERR_NOMEM. */
uerr recindex_put_compact(recindex *ix, record_kind kind, const char *bytes, size_t len);
/* recindex_put that also sets the record's kind (recindex_put keeps the
 * kind of a record already there and makes a new one a member). */
uerr recindex_put_kind(recindex *ix, record_kind kind, const char *id, record *r);
/* recindex_put_kind that leaves *r to its caller (read, never freed): an
 * import's records are freed on the thread that decoded them. */
uerr recindex_put_kind_lent(recindex *ix, record_kind kind, const char *id, const record *r);
/* Room for n more records without growing (a snapshot's load knows its
 * count). UERR_OK or UERR_NOMEM (ix unchanged but maybe bigger). */
uerr recindex_reserve(recindex *ix, size_t n);
/* The kind of the record with this id, or KIND_NONE when absent. */
record_kind recindex_kind(const recindex *ix, const char *id);

/* Keep a secondary index on the single-valued field `field` (copied; not
 * "id"), built now from the records already in ix and kept up to date by
 * every put. Indexing a field twice is a no-op. UERR_OK, UERR_NOMEM (ix
 * unchanged), or UERR_INVALID (RECINDEX_FIELDS_MAX fields already). The
 * index lives until recindex_free. */
uerr recindex_index_field(recindex *ix, const char *field);
/* The secondary index of field, or NULL when the field is not indexed.
 * Borrowed: valid until the next put. */
const recindex_field *recindex_field_find(const recindex *ix, const char *field);
/* The rows holding value in an indexed field, or NULL (no record ever
 * held it). Borrowed: valid until the next put. */
const recindex_value *recindex_value_find(const recindex_field *f, const char *value);
/* Keep tallies over the indexed fields named (n <= RECINDEX_TALLY_MAX,
 * each already indexed with recindex_index_field; copied by position),
 * built now from the records in ix and kept by every put. Once per index:
 * a second call with the same fields is a no-op, with others refused. UERR_OK, UERR_NOMEM (ix
 * unchanged) or UERR_INVALID (a field not indexed, too many, or tallies already on). */
uerr recindex_tally_fields(recindex *ix, const char *const *fields, size_t n);
/* Which tallied field field is (0 .. ntallied-1), or -1. */
int recindex_tally_slot(const recindex *ix, const char *field);
/* The value tally t holds for tallied field slot. Borrowed. */
static inline const char *recindex_tally_value(const recindex_tally *t, int slot)
{
    return ((const recindex_value *)t->key[1 + slot])->value;
}

/* The record of row (row < ix->count). Borrowed: valid until the next put. */
static inline const recindex_item *recindex_row(const recindex *ix, uint32_t row)
{
    return &ix->slots[ix->rows[row]];
}

#endif
