/* ops_internal.h - helpers shared by the control request handlers (ops.c,
 * report.c). Everything here runs on the store queue's worker thread and
 * may touch the store and the index. Not for other modules. */
#ifndef UNIOND_OPS_INTERNAL_H
#define UNIOND_OPS_INTERNAL_H

#include "daemon/ops.h"
#include "proto/query.h"

#include <msgpack.h>

typedef struct {
    char *field;
    char *op; /* "=", "+=", "-=" */
    char *value;
} assignment;

/* A record picked by a query: borrowed pointers into the index. */
typedef struct {
    const char *id;
    const record *r;
    const char *key; /* sort key */
} hit;

/* Today's date (node's local time zone), "YYYY-MM-DD". */
void ops_today(char out[11]);
/* Write {"ok": false, "error": message} as the whole reply. */
void ops_reply_error(msgpack_packer *pk, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Write {"ok": true, "result": and leave the result value to the caller. */
void ops_reply_ok(msgpack_packer *pk);
/* Pack a value, masked unless reveal for id_number/phone. */
void ops_pack_value(msgpack_packer *pk, const char *field, const char *v, int reveal);
/* Distinct values of a single-valued field, the displayed one first, into
 * vals (room for the field's entry count); returns how many. Borrowed. */
size_t ops_field_values(const char **vals, const record *r, const char *field);
/* Number of single-valued fields of r in conflict. */
size_t ops_conflict_count(const record *r);
/* {"id", "fields", "conflicts"} as in DESIGN.md. */
void ops_pack_record(msgpack_packer *pk, const char *id, const record *r, int reveal);
/* Validate and normalise one assignment in place (value replaced by its
 * normalised form). Returns 0 or -1 with err naming field and rule. */
int ops_assignment_check(assignment *a, const char *today, char *err, size_t errlen);
/* Apply checked assignments as writes of node; returns fields changed or -1. */
int ops_assignments_apply(record *r, const assignment *a, size_t n, const char *node,
                          int64_t now);
void ops_assignments_free(assignment *a, size_t n);
/* A fresh record id not in the index. */
void ops_new_id(char out[RECORD_ID_LEN + 1], const recindex *ix, int64_t now);
/* Encode recs, commit them in one commit (bulk: one pack), and install them
 * in the index (taking ownership of recs[i]'s contents). 0 or -1 + err. */
int ops_commit_records(ops_ctx *o, char **ids, record *recs, size_t n, int bulk,
                       const char *operator, const char *message, char *err, size_t errlen);
/* The request's operator name, sanitised, in buf. */
const char *ops_operator(const msgpack_object *req, char *buf, size_t len);
/* The record named by the request's "id", or NULL after writing an error
 * reply. *id is malloc'd (caller frees) either way. */
const record *ops_find_record(ops_ctx *o, const msgpack_object *req, char **id,
                              msgpack_packer *pk);
/* Sort hits by key then id. */
int ops_hit_cmp(const void *a, const void *b);
/* Parse the request's "where" strings. 0, or -1 with err. */
int ops_conds_read(query_cond **out, size_t *nout, const msgpack_object *req, char *err,
                   size_t errlen);
void ops_conds_free(query_cond *c, size_t n);
/* Displayed value of any field as text: sets joined by ';', conflicts by
 * " | ", each value masked first when mask is set. Malloc'd. */
char *ops_display_joined(const record *r, const char *field, int mask);

/* daemon/report.c: stats, duplicates, merge, transfer. Returns 1 if op was
 * one of its requests (the reply is then written), 0 otherwise. */
int ops_report_handle(ops_ctx *o, const char *op, const msgpack_object *req, msgpack_packer *pk);

/* daemon/report.c internals, exposed for tests/unit/test_report.c. */
/* Fold DUP's values into KEEP as writes of node (see report.c): fields KEEP
 * lacks are taken, differing values become conflicts, set elements are
 * united. The three lists receive space-separated field names (listlen
 * bytes each, start empty). Returns fields changed, or -1 (allocation). */
int report_merge_fold(record *keep, const record *dup, const char *node, char *taken,
                      char *conflicts, char *added, size_t listlen);
/* 1 if two names are alike enough for a duplicate: equal, one contains the
 * other, or at most one code point edit apart. */
int report_names_similar(const char *a, const char *b);

#endif
