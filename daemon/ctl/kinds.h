/* kinds.h - the control side of the kinds of record (issue 11): reading a
 * request's "kind" key, validating F=V assignments and whole rows with the
 * per-kind schema (proto/schema.h schema_kind_*), and resolving links (a
 * union's enterprise, a member's union, a benefit's member ...) against the
 * index. Runs on the store queue's worker thread, like every handler.
 * Never writes the store itself: the handlers commit. */
#ifndef UNIOND_CTL_KINDS_H
#define UNIOND_CTL_KINDS_H

#include "daemon/ctl/common.h"
#include "proto/kind.h"
#include "proto/problem.h"

#include <msgpack.h>

/* The request's "kind" (a kind_parse word; absent: KIND_MEMBER) into *out.
 * UERR_INVALID with err set for an unknown kind. */
uerr ctl_kind_read(record_kind *out, const msgpack_object *req, char *err, size_t errlen);

/* The id of the single record of kind k that value names: the value itself
 * when it is the id of a record of kind k; else the only record of kind k
 * whose name (or, for an enterprise, uscc; for a member, id_number) equals
 * it. Returns the id (borrowed from value or the index, valid until the
 * index changes), or NULL (none, or several). *wrong is
 * set to 1 when value is the id of a record of ANOTHER kind, or names no
 * record of kind k but some record of another kind. */
const char *ctl_kind_link_find(const ops_ctx *o, record_kind k, const char *value, int *wrong);

/* Validate assignments of a record of kind `kind` in place (values
 * normalised with schema_kind_value_normalize; links resolved to an id
 * when they name exactly one record of the linked kind, kept as given
 * when none, refused when they name a record of another kind). For
 * KIND_MEMBER this is ctl_assignment_check, then a union or employer "="
 * naming exactly one union/enterprise (its id, name, or an enterprise's
 * USCC) is stored as that id, any other text kept as given (o NULL: no
 * resolution); only the id of a record of another kind is refused. UERR_OK or UERR_INVALID with
 * err "field: why". */
uerr ctl_kind_assignment_check(assignment *a, record_kind kind, const ops_ctx *o, const char *today,
                               char *err, size_t errlen);

/* Resolve the link fields of a normalised row (fields[i] canonical names
 * of kind k, vals[i] malloc'd and replaced when resolved) in place; a link
 * naming a record of another kind adds a problem (rule "link") on line.
 * Returns the number of problems added, or SIZE_MAX when out of memory. */
size_t ctl_kind_row_links(const ops_ctx *o, record_kind k, const char *const *fields, char **vals,
                          size_t n, size_t line, problem_list *pl);

/* The candidates a display resolves names against, collected once for a
 * whole list (so that showing N records is not N scans of the index): the
 * index's unions, enterprises and stations. Borrows the index: valid until
 * it changes. Out of memory leaves it empty (then every lookup scans). */
typedef struct {
    const recindex_item **items;
    size_t n;
} ctl_links;
void ctl_links_init(ctl_links *l, const ops_ctx *o);
void ctl_links_free(ctl_links *l);

/* A member's union or employer assignment (already checked by
 * ctl_assignment_check), "=" only: stored as the id of the one union or
 * enterprise the value names (its id, name, or an enterprise's USCC), else
 * kept as the text given (naming none, or several: never guessed). The id
 * of a record of another kind is refused (UERR_INVALID). lk: candidates
 * for a whole import (ctl_links_init), or NULL. */
uerr ctl_member_link_check(assignment *a, const ops_ctx *o, const ctl_links *lk, char *err,
                           size_t errlen);

/* Add "links": {FIELD: {"id", "name", "resolved": true} or {"value",
 * "resolved": false}} to the open record map *top for every link field of
 * kind k that r holds a value in (nothing when none): a stored id or a name
 * naming exactly one record of the linked kind resolves (ctl_kind_link_find,
 * so a record that arrived later by sync resolves from then on); anything
 * else is unresolved and shown as stored. lk: candidates (ctl_links_init)
 * or NULL (each name a scan of the index). Borrows everything. */
void ctl_kind_pack_links(msg_map *top, msgpack_packer *pk, const ops_ctx *o, const ctl_links *lk,
                         record_kind k, const record *r);

/* ctl_pack_record plus its "links" (above); the kind is the index's for id
 * (a record not in the index is taken for a member). */
void ctl_kind_pack_record(msgpack_packer *pk, const ops_ctx *o, const ctl_links *lk, const char *id,
                          const record *r, int reveal);

#endif
