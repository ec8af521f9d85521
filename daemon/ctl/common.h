/* common.h - helpers shared by the control request handlers (op_*.c):
 * replies, record rendering (render.c), assignments, conditions, commits
 * (common.c). Everything here runs on the store queue's worker thread and
 * may touch the store and the index. Not for other rooms.
 *
 * The handler files use these helpers and never each other, and these
 * helpers never call a handler: no two ctl files call each other in a
 * circle. */
#ifndef UNIOND_CTL_COMMON_H
#define UNIOND_CTL_COMMON_H

#include "daemon/ctl/ops.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"
#include "proto/uerr.h"

#include <msgpack.h>

#define CTL_ERRLEN 512

typedef struct {
    char *field;
    char *op; /* "=", "+=", "-=" */
    char *value;
    unsigned lent; /* CTL_LENT_*: parts the caller lends (not freed here); 0 = all owned */
} assignment;

/* An import lends each cell's field name (its header's), operator and raw
 * value (a buffer of the row) instead of three allocations a cell;
 * ctl_assignments_free skips lent parts, and a part replaced (the
 * normalised value) is owned from then on. */
#define CTL_LENT_FIELD 0x1u
#define CTL_LENT_OP 0x2u
#define CTL_LENT_VALUE 0x4u

/* A record picked by a query: borrowed pointers into the index (decode
 * it with a view, recindex_view_item, to read it whole). */
typedef struct {
    const char *id;
    const recindex_item *it;
    const char *key; /* sort key */
} hit;

/* ---- replies (common.c) ---------------------------------------------------- */

/* Write {"ok": false, "error": message, "code": uerr_name(e)} as the whole
 * reply (docs/CONTROL.md). */
void ctl_reply_error(msgpack_packer *pk, uerr e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ctl_reply_error with a ready message of any length. */
void ctl_reply_text(msgpack_packer *pk, uerr e, const char *msg);
/* Write {"ok": true, "result": and leave the result value to the caller:
 * the map's count (2) is final, the value the caller packs next ends it. */
void ctl_reply_ok(msgpack_packer *pk);

/* ---- rendering (render.c) -------------------------------------------------- */

/* Pack a value, masked unless reveal for id_number/phone. */
void ctl_pack_value(msgpack_packer *pk, const char *field, const char *v, int reveal);
/* Distinct values of a single-valued field, the displayed one first, into
 * vals (room for the field's entry count); returns how many. Borrowed. */
size_t ctl_field_values(const char **vals, const record *r, const char *field);
/* v (one of the entries first..first+n of r's field) masked, but with
 * the first masked digit that differs from another entry whose mask looks
 * the same shown, so that two values of a conflict can be told apart.
 * Malloc'd (caller frees); NULL when out of memory. */
char *ctl_mask_apart(const char *field, const char *v, const record *r, size_t first, size_t n);
/* Number of single-valued fields of r in conflict. */
size_t ctl_conflict_count(const record *r);
/* {"id", "fields", "conflicts"} as in DESIGN.md. */
void ctl_pack_record(msgpack_packer *pk, const char *id, const record *r, int reveal);
/* ctl_pack_record leaving the map *top open, so that a caller can add keys
 * (kinds.c: "links") before msg_map_close(top). */
void ctl_pack_record_open(msg_map *top, msgpack_packer *pk, const char *id, const record *r,
                          int reveal);
/* Displayed value of any field as text: sets joined by ';', conflicts by
 * " | ", each value masked first when mask is set. Malloc'd (caller frees),
 * NULL when out of memory. */
char *ctl_display_joined(const record *r, const char *field, int mask);

/* One change's field differences between two states of a record: names
 * of both sides, the values shown before and after (masked unless reveal),
 * which ones changed (render.c). */
typedef struct {
    const char **names; /* borrowed from the records */
    char **from, **to;
    char *changed;
    size_t n;
} ctl_diff;
/* Fill d from two states of a record (d borrows their field names: free d
 * first). 0, or -1 when out of memory (free d with ctl_diff_free anyway). */
int ctl_diff_make(ctl_diff *d, const record *oldr, const record *newr, int reveal);
void ctl_diff_free(ctl_diff *d);
/* [{field, from, to}] of the changed fields. */
void ctl_diff_pack(msgpack_packer *pk, const ctl_diff *d);

/* ---- writes (common.c) ----------------------------------------------------- */

/* Read [[field, op, value], ...] from the request's "fields". *out is
 * malloc'd (ctl_assignments_free). UERR_OK or UERR_INVALID/NOMEM + err. */
uerr ctl_assignments_read(assignment **out, size_t *nout, const msgpack_object *req, char *err,
                          size_t errlen);
/* Validate and normalise one assignment in place (value replaced by its
 * normalised form). UERR_OK, or UERR_INVALID with err naming field and
 * rule (UERR_NOMEM when out of memory). */
uerr ctl_assignment_check(assignment *a, const char *today, char *err, size_t errlen);
/* ctl_assignment_check of an assignment whose a->field is the name of sf,
 * resolved by the caller (an import resolves its header once), or "id"
 * with sf NULL. */
uerr ctl_assignment_check_field(assignment *a, const schema_field *sf, const char *today, char *err,
                                size_t errlen);
/* Replace a->value by v (malloc'd, now a's): the old one freed unless lent. */
void ctl_assignment_set_value(assignment *a, char *v);
/* What `status` says (ctl_status_view, ops.h), taken on the store
 * queue's thread (ctl_status_view_take) and packed on any thread
 * (ctl_status_pack: the reply of op_status; the control socket answers
 * status on the loop thread from the view the store queue's thread
 * published after its last job, ops_ctx.view). */
void ctl_status_view_take(ctl_status_view *v, ops_ctx *o);
void ctl_status_pack(msgpack_packer *pk, const ops_ctx *o, const ctl_status_view *v);

/* Refuse a single-valued field given twice in one request (name=a name=b:
 * the last would silently win). Call after ctl_assignment_check, which
 * resolves aliases (手机 and phone are one field). UERR_OK or UERR_INVALID. */
uerr ctl_assignments_unique(const assignment *a, size_t n, char *err, size_t errlen);
/* Apply checked assignments as writes of node; returns fields changed or -1
 * (out of memory). */
int ctl_assignments_apply(record *r, const assignment *a, size_t n, const char *node, int64_t now);
void ctl_assignments_free(assignment *a, size_t n);
/* The fields every new record gets unless given: office, joined, status.
 * 0 or -1 (out of memory). */
int ctl_record_defaults(record *r, const ops_ctx *o, int64_t now, const char *today);
/* A fresh record id not in the index. */
void ctl_new_id(char out[RECORD_ID_LEN + 1], const recindex *ix, int64_t now);
/* Encode recs, commit them in one commit (bulk: one pack), and install them
 * in the index (taking ownership of recs[i]'s contents). UERR_OK or the
 * store's error with err set. */
uerr ctl_commit_records(ops_ctx *o, char **ids, record *recs, size_t n, int bulk,
                        const char *operator, const char * message, char *err, size_t errlen);
/* ctl_commit_records where a record not yet in the index is of `kind`
 * (KIND_NONE: member); an indexed record always keeps its own kind. */
uerr ctl_commit_kind(ops_ctx *o, record_kind kind, char **ids, record *recs, size_t n, int bulk,
                     const char *operator, const char * message, char *err, size_t errlen);

/* Commit one record (a member unless indexed) as the request's operator,
 * with message. UERR_OK (the index holds r's contents, r is left empty),
 * or the error, already replied to pk. */
uerr ctl_commit_one(ops_ctx *o, const msgpack_object *req, char *id, record *r, const char *message,
                    msgpack_packer *pk);

/* ---- the schema records (op_schema.c) --------------------------------------- */

/* Read the declared fields and category values from the store's head and
 * declare them (at start). UERR_OK or the store's error with err. */
uerr schema_records_load(ops_ctx *o, char *err, size_t errlen);
/* A schema record (record_id_is_schema) of the head changed: keep it in
 * o->decl and declare again from it. 0, 1 (does not decode) or 2 (out of
 * memory), as ops_index_changed. */
int schema_record_changed(ops_ctx *o, const char *id, const char *buf, size_t len);

/* ---- one person, one record (persons.c) ------------------------------------ */

/* The keys a person is found by: "i" + ID number, "p" + name + US +
 * phone, "t" + phone. PERSON_KEY_MAX bytes with the NUL. */
#define PERSON_KEY_MAX 1024
/* Forget that record id holds its keys (those of its state in o->ix now:
 * call it before the index changes it; none when absent). Never fails. */
void persons_remove(ops_ctx *o, const char *id);
/* Note that record id holds its keys (those of its state in o->ix now:
 * call it after the index changed it). UERR_OK or UERR_NOMEM. */
uerr persons_add(ops_ctx *o, const char *id);
/* Room for nkeys more keys without growing (a load knows its count).
 * UERR_OK or UERR_NOMEM. */
uerr persons_reserve(ops_ctx *o, size_t nkeys);
/* persons_add of the record of it (in o->ix), found already. */
uerr persons_add_item(ops_ctx *o, const recindex_item *it);
/* The live (not merged away) record holding key, other than skip (may be
 * NULL): the smallest id, or NULL. Borrowed from the index. */
const char *persons_find(const ops_ctx *o, const char *key, const char *skip);
/* Key for an ID number / a name and phone into buf; "" when a part is
 * empty. */
void persons_key_id(char buf[PERSON_KEY_MAX], const char *id_number);
void persons_key_np(char buf[PERSON_KEY_MAX], const char *name, const char *phone);
void persons_key_phone(char buf[PERSON_KEY_MAX], const char *phone);
/* Call fn for every record holding key, merged away or not, in no order;
 * returns how many. The items are borrowed from the index (the caller
 * holds its lock as for any read of it). */
size_t persons_each(const ops_ctx *o, const char *key,
                    void (*fn)(void *arg, const recindex_item *it), void *arg);
void persons_free(ops_ctx *o);
/* scan_candidates (daemon/ctl/scan.h) that also answers = on id_number or
 * phone (a lookup, not a filter: a million values) from the person keys:
 * the rows that can match c, each once, the caller testing each. Returns
 * 1 with *rows (caller frees) and *n, 0 (scan every slot), -1 out of
 * memory. */
int ctl_candidates(uint32_t **rows, size_t *n, const ops_ctx *o, const query_cond *c, size_t nc);
/* The checks of a person across fields, on the values the record cur (NULL
 * for a new one; its id self, may be NULL) will hold after the checked
 * assignments *a: gender agrees with the ID number, age on the join date,
 * and the ID number is not registered to another record. An empty gender
 * the ID number gives is added as one more assignment (*a may move).
 * UERR_OK, UERR_INVALID (every broken rule in err), UERR_CONFLICT (the ID
 * number is registered: err names the record) or UERR_NOMEM. */
uerr ctl_person_check(ops_ctx *o, const char *self, const record *cur, assignment **a, size_t *n,
                      char *err, size_t errlen);

/* ---- requests (common.c) --------------------------------------------------- */

/* The request's operator name, sanitised, in buf. */
const char *ctl_operator(const msgpack_object *req, char *buf, size_t len);
/* Shortest record id prefix a clerk may type. */
#define CTL_ID_PREFIX_MIN 6
/* Matches listed when a lookup is ambiguous. */
#define CTL_LOOKUP_SHOW 8
/* Find the record a clerk means by q: a record id, a unique id prefix
 * (CTL_ID_PREFIX_MIN+ chars), an ID number (normalised as stored) or a
 * phone. Live records win over merged/void ones. UERR_OK with the id in
 * out; UERR_NOTFOUND; UERR_CONFLICT (several: err lists them, masked, one
 * per line); UERR_INVALID (q empty). */
uerr ctl_lookup(char out[RECORD_ID_MAX + 1], ops_ctx *o, const char *q, char *err, size_t errlen);
/* Guards what lookups bring up to date on the way (ops_ctx: the id range,
 * the rows of linkable records): a reader and the store queue may look up
 * at once, each under its own side of the index lock. */
extern pthread_mutex_t ctl_lazy_mu;
/* The record named by the request's "id" (anything ctl_lookup takes),
 * decoded into the caller's view v, or NULL after writing an error reply.
 * *id is malloc'd (caller frees) or NULL. Valid until v is reused or the
 * next index write. */
const record *ctl_find_record(ops_ctx *o, recindex_view *v, const msgpack_object *req, char **id,
                              msgpack_packer *pk);
/* Sort hits by key then id. */
int ctl_hit_cmp(const void *a, const void *b);
/* Parse the request's "where" strings (*out malloc'd: ctl_conds_free).
 * UERR_OK, or UERR_INVALID/NOMEM with err. */
uerr ctl_conds_read(query_cond **out, size_t *nout, const msgpack_object *req, char *err,
                    size_t errlen);
void ctl_conds_free(query_cond *c, size_t n);
/* Log that the operator saw unmasked personal fields (never the values). */
void ctl_note_reveal(const msgpack_object *req, const char *what, size_t n);

#endif
