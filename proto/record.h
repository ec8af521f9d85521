/* record.h - one member record as a replicated state: a causal context
 * (version vector node -> counter) and, per field, a set of entries
 * (value, dot, time). Writes, the join (merge) and the one canonical text
 * encoding that is stored as a git blob.
 *
 * DESIGN.md "Records and the merge"; docs/STORE.md has the byte format.
 * Pure code: no I/O. Entries are always kept in canonical order (field,
 * then dot node, then dot counter), so encoding is a straight walk. */
#ifndef UNIOND_RECORD_H
#define UNIOND_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_ID_LEN 16   /* generated ids: 16 chars of Crockford base32 */
#define RECORD_ID_MAX 64   /* longest id accepted from outside */
#define RECORD_NODE_MAX 64 /* longest node name */
#define RECORD_BLOB_MAX (1u << 20)
#define RECORD_ENTRIES_MAX 4096
#define RECORD_CTX_MAX 4096

/* field and node names are interned (record_intern): shared, never freed,
 * so a million records hold each name once and compare them cheaply. */
typedef struct {
    const char *field;
    char *value;
    const char *node; /* the dot: (node, counter) */
    uint64_t counter;
    int64_t time_ms; /* wall clock of the writer, ms since the epoch, UTC */
} record_entry;

typedef struct {
    const char *node; /* interned */
    uint64_t counter;
} record_ctx;

typedef struct {
    record_ctx *ctx; /* sorted by node */
    size_t nctx;
    record_entry *entries; /* sorted by (field, node, counter) */
    size_t nentries;
} record;

/* The one shared copy of the name s[0..len) (field or node names, at most
 * 64 bytes), kept for the life of the process; NULL on allocation failure.
 * Thread-safe. */
const char *record_intern(const char *s, size_t len);

/* An empty state (no context, no entries). Never fails. */
void record_init(record *r);
/* Frees everything r owns and leaves it empty (record_init state). */
void record_free(record *r);
/* Deep copy of src into *dst (dst is overwritten, not freed first).
 * Returns 0, or -1 on allocation failure (dst is then empty). */
int record_copy(record *dst, const record *src);

/* The counter n has seen in r (0 if none). */
uint64_t record_ctx_get(const record *r, const char *node);

/* Write `value` to single-valued `field` at `node`: every entry of the field
 * is replaced by one entry with a new dot (node, ctx[node]+1) and time_ms.
 * Returns 0, or -1 on allocation failure (r unchanged). */
int record_write(record *r, const char *node, int64_t time_ms, const char *field,
                 const char *value);

/* Add element `elem` to set field `field`: entries holding that element are
 * replaced by one with a new dot. Returns 0 or -1 (allocation). */
int record_set_add(record *r, const char *node, int64_t time_ms, const char *field,
                   const char *elem);

/* Remove element `elem` from set field `field`: drops every entry holding it
 * (observed remove), and bumps the node's counter so the change is a write
 * of its own. Returns 1 if something was removed, 0 if the element was not
 * there (r unchanged), -1 on allocation failure. */
int record_set_remove(record *r, const char *node, int64_t time_ms, const char *field,
                      const char *elem);

/* Join of a and b into *out (freshly initialised by this call; the caller
 * frees it). Keeps an entry present on both sides, or on one side when the
 * other side's context does not cover its dot; context = pointwise max.
 * Commutative, associative, idempotent. Returns 0 or -1 (allocation). */
int record_join(record *out, const record *a, const record *b);

/* 1 if the two states are equal (same context, same entries), else 0. */
int record_equal(const record *a, const record *b);

/* The entries of `field`: *first receives the index of its first entry and
 * the return value is how many there are (0 if none). */
size_t record_field_entries(const record *r, const char *field, size_t *first);

/* The entry every node displays for a single-valued field: the one with the
 * greatest (time, node, counter). NULL if the field has no entry. */
const record_entry *record_field_winner(const record *r, const char *field);

/* How many fields of r are in conflict: a field whose entries hold more
 * than one distinct value, unless is_set(field) says it is a set field
 * (several elements are its normal state). No allocation: it runs over
 * every record. */
size_t record_conflict_fields(const record *r, int (*is_set)(const char *field));

/* Canonical text encoding. *out receives a malloc'd buffer (owned by the
 * caller) and *len its length. One state has exactly one byte form.
 * Returns 0 or -1 (allocation). */
int record_encode(char **out, size_t *len, const record *r);

/* Decode a canonical encoding. Checks every size before allocating, and
 * refuses anything that is not byte-for-byte the canonical form of the state
 * it describes. On success returns 0 and *r holds the state (caller frees).
 * On failure returns -1, *r is empty, and err receives the reason. */
int record_decode(record *r, const char *buf, size_t len, char *err, size_t errlen);

/* record_decode of bytes this process has just made with record_encode
 * (and that were checked since, e.g. by the store's write check): every
 * check of record_decode but the last, the re-encoding compared byte for
 * byte with buf (a third of a decode), which such bytes pass by
 * construction. Never for bytes read from disk or from a peer. */
int record_decode_trusted(record *r, const char *buf, size_t len, char *err, size_t errlen);

/* Memory kept from one decode to the next (record_decode_trusted_mem):
 * zero it before the first use, free it with record_decode_mem_free. */
typedef struct {
    record_entry *entries;
    size_t ecap;
    record_ctx *ctx;
    size_t ccap;
    char *vals;
    size_t vcap;
} record_decode_mem;

/* record_decode_trusted into m's memory: *r's entries, context and values
 * are m's (no allocation once m has grown to the largest record), valid
 * until the next decode into m; never record_free(r). Why: an import's
 * index feed decodes every record once and drops it right after; the
 * dozen mallocs and frees a record were a third of that decode. */
int record_decode_trusted_mem(record *r, record_decode_mem *m, const char *buf, size_t len,
                              char *err, size_t errlen);
/* record_decode (every check, the re-encoding compared included) into m's
 * memory, as record_decode_trusted_mem: the write check of every record an
 * import stores. */
int record_decode_checked_mem(record *r, record_decode_mem *m, const char *buf, size_t len,
                              char *err, size_t errlen);
void record_decode_mem_free(record_decode_mem *m);

/* 1 if s is a valid node name: exactly names_node_valid() (proto/names.h,
 * the one rule), kept under this name for the store's callers. */
int record_node_valid(const char *s);

/* 1 if s is a valid record id: [0-9a-z]+, at most RECORD_ID_MAX bytes. */
int record_id_valid(const char *s);

/* Make a new record id from a millisecond timestamp (50 bits) and 30 random bits:
 * 16 chars of lowercase Crockford base32, sortable by creation time.
 * out must hold RECORD_ID_LEN + 1 bytes. */
void record_id_make(char *out, int64_t time_ms, uint64_t random_bits);

/* Tree path of a record: "members/aa/bb/<id>", aa/bb from the FNV-1a hash
 * of the id; a schema record (record_id_is_schema) lives at "schema/<id>"
 * instead. out must hold at least RECORD_ID_MAX + 16 bytes. */
void record_path(char *out, size_t outlen, const char *id);

/* Ids beginning with this word name the schema records (an office's field
 * declarations and vocabulary extensions, daemon/ctl/declared.c), kept in
 * the top-level tree folder "schema/" with the record format and merge of
 * members. No member record may have such an id. */
#define RECORD_SCHEMA_PREFIX "schema"

/* 1 if id names a schema record (starts with RECORD_SCHEMA_PREFIX). */
int record_id_is_schema(const char *id);

/* Format ms-since-epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes with NUL). */
void record_time_format(char *out, size_t outlen, int64_t time_ms);
/* Parse that exact format. Returns 0 and *ms, or -1. */
int record_time_parse(int64_t *ms, const char *s, size_t len);

#endif
