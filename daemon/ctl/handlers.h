/* handlers.h - the store-queue request handlers of the op table
 * (optable.c), one per op, grouped by file:
 *   op_records.c  add, edit, show
 *   op_query.c    list, log, conflicts, resolve
 *   op_import.c   import, bundle_export, bundle_import
 *   op_node.c     id, status
 *   op_stats.c    stats
 *   op_members.c  duplicates, merge, transfer
 *   op_schema.c   fields, field_add, field_value_add
 * Each runs on the store queue's worker thread (or, for the op table's
 * reader rows, on the read queue: optable.h), reads the request (valid
 * only during the call) and writes exactly one whole reply into pk. Only
 * optable.c calls them; they call only the helpers of common.h. */
#ifndef UNIOND_CTL_HANDLERS_H
#define UNIOND_CTL_HANDLERS_H

#include "daemon/ctl/ops.h"

#include <msgpack.h>

void op_add(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
/* op_kinds.c: add, edit, import of any kind (members: op_add, op_edit,
 * op_import), and benefit_list. op_report.c: report. */
void op_add_any(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_edit_any(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_import_any(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_benefit_list(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_report(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_edit(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_show(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_list(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_log(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_conflicts(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_resolve(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_import(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_backup(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk); /* op_backup.c */
void op_bundle_export(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_bundle_import(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_id(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_status(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_stats(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_duplicates(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_merge(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_transfer(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_fields(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_field_add(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_field_value_add(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);

/* op_history.c: the office's history (log without an id) and revert. */
void op_history(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);
void op_revert(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk);

/* op_members.c internals, exposed for tests/unit/test_report.c. */
/* Fold DUP's values into KEEP as writes of node (see op_members.c): fields
 * KEEP lacks are taken, fields whose values differ are kept as KEEP has
 * them and named in differ (no conflict is created), set elements are
 * united. The three lists receive space-separated field names (listlen
 * bytes each, start empty). Returns fields changed, or -1 (allocation). */
int members_merge_fold(record *keep, const record *dup, const char *node, char *taken, char *differ,
                       char *added, size_t listlen);
/* 1 if two names are alike enough for a duplicate: equal, one contains the
 * other, or at most one code point edit apart. */
int members_names_similar(const char *a, const char *b);

#endif
