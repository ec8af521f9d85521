/* op_kinds.c - add, edit and import of the records that are not members
 * (union, enterprise, station, benefit: issue 11), the dispatch of add,
 * edit and import by the request's "kind" (members go to the member
 * handlers unchanged), and benefit_list (docs/CONTROL.md). Runs on the
 * store queue's worker thread. Every value is checked with the per-kind
 * schema (proto/schema.h schema_kind_*) before anything is written; a
 * refused row writes nothing (all-or-nothing, as for members). Never logs
 * field values. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/kinds.h"
#include "daemon/ctl/scan.h"

#include "daemon/util/clock.h"
#include "proto/schema.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIND_ERRORS_SHOWN 20

/* One request's state: the kind, the clock, the problems found. */
typedef struct {
    ops_ctx *o;
    record_kind k;
    char today[11];
    int64_t now;
    problem_list pl;
} kind_job;

/* One row being checked: n (field, value) pairs, both malloc'd; an empty
 * value is "not given" (add, import) or "clear" (edit). */
typedef struct {
    size_t n;
    char **fields, **vals;
} kind_row;

static void kind_row_free(kind_row *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->fields ? r->fields[i] : NULL);
        free(r->vals ? r->vals[i] : NULL);
    }
    free(r->fields);
    free(r->vals);
    memset(r, 0, sizeof *r);
}

static int kind_row_alloc(kind_row *r, size_t n)
{
    memset(r, 0, sizeof *r);
    r->fields = calloc(n + 1, sizeof *r->fields);
    r->vals = calloc(n + 1, sizeof *r->vals);
    r->n = n;
    return r->fields && r->vals ? 0 : -1;
}

/* The index of field name in the row, or -1. */
static int row_find(const kind_row *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->fields[i] && strcmp(r->fields[i], name) == 0)
            return (int)i;
    return -1;
}

static const char *row_value(const kind_row *r, const char *name)
{
    int i = row_find(r, name);
    return i < 0 ? "" : r->vals[i];
}

/* Note a problem; -1 when out of memory. */
static int job_refuse(kind_job *j, size_t line, const char *field, const char *rule,
                      const char *msg)
{
    return problem_add(&j->pl, line, field, rule, msg) == UERR_OK ? 0 : -1;
}

/* Resolve each field name and normalise each given value. Returns the
 * problems added, or SIZE_MAX (out of memory). */
static size_t row_normalize(kind_job *j, kind_row *r, size_t line)
{
    size_t bad = 0;
    for (size_t i = 0; i < r->n; i++) {
        char err[CTL_ERRLEN];
        const schema_field *f = NULL;
        if (schema_kind_field_resolve(&f, j->k, r->fields[i], err, sizeof err) != UERR_OK) {
            if (job_refuse(j, line, r->fields[i], "unknown_field", err) != 0)
                return SIZE_MAX;
            bad++;
            continue;
        }
        char *name = strdup(f->name);
        if (!name)
            return SIZE_MAX;
        free(r->fields[i]);
        r->fields[i] = name;
        if (!*r->vals[i])
            continue;
        schema_norm nrm;
        uerr e =
            schema_kind_value_normalize(&nrm, j->k, f->name, r->vals[i], j->today, err, sizeof err);
        if (e == UERR_NOMEM) {
            schema_norm_free(&nrm);
            return SIZE_MAX;
        }
        if (e != UERR_OK) {
            int rc = job_refuse(j, line, f->name, nrm.rule ? nrm.rule : "invalid", err);
            schema_norm_free(&nrm);
            if (rc != 0)
                return SIZE_MAX;
            bad++;
            continue;
        }
        free(r->vals[i]);
        r->vals[i] = nrm.value;
        nrm.value = NULL;
        schema_norm_free(&nrm);
    }
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(r->fields[i], r->fields[k]) == 0) {
                char msg[128];
                snprintf(msg, sizeof msg, "%s: given twice", r->fields[i]);
                if (job_refuse(j, line, r->fields[i], "twice", msg) != 0)
                    return SIZE_MAX;
                bad++;
            }
    return bad;
}

/* A benefit names its member by id or ID number (id_number, input only):
 * the member must be in the store; the row then holds member = its id and
 * no id_number. Returns the problems added, or SIZE_MAX. */
static size_t row_benefit_member(kind_job *j, kind_row *r, size_t line)
{
    int mi = row_find(r, "member"), ni = row_find(r, "id_number"), wrong = 0;
    int at = mi >= 0 && *r->vals[mi] ? mi : ni;
    if (at < 0 || !*r->vals[at])
        return 0; /* the required check names it */
    const char *id = ctl_kind_link_find(j->o, KIND_MEMBER, r->vals[at], &wrong);
    if (!id) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: no member %s; add or import the member first", r->fields[at],
                 wrong ? "with this id (it is another kind of record)" : "found");
        return job_refuse(j, line, r->fields[at], "unknown_member", msg) ? SIZE_MAX : 1;
    }
    char *copy = strdup(id), *mname = strdup("member");
    if (!copy || !mname) {
        free(copy);
        free(mname);
        return SIZE_MAX;
    }
    free(r->vals[at]);
    free(r->fields[at]);
    r->vals[at] = copy;
    r->fields[at] = mname;
    if (at == ni && mi >= 0) /* both given: the id_number decides, drop the other */
        *r->vals[mi] = 0;
    if (at == mi && ni >= 0)
        *r->vals[ni] = 0;
    return 0;
}

/* Check one row of kind j->k: names, values, the benefit's member, links.
 * Returns the problems added, or SIZE_MAX. */
static size_t row_check(kind_job *j, kind_row *r, size_t line)
{
    size_t bad = row_normalize(j, r, line);
    if (bad == SIZE_MAX)
        return bad;
    if (j->k == KIND_BENEFIT && bad == 0) {
        size_t b = row_benefit_member(j, r, line);
        if (b == SIZE_MAX)
            return b;
        bad += b;
    }
    if (bad)
        return bad;
    /* links other than the benefit's member (resolved above) */
    const char *member_field = NULL;
    int mi = j->k == KIND_BENEFIT ? row_find(r, "member") : -1;
    if (mi >= 0) {
        member_field = r->fields[mi];
        r->fields[mi] = NULL; /* hidden from ctl_kind_row_links */
    }
    size_t nf = r->n;
    const char **names = calloc(nf + 1, sizeof *names);
    if (!names)
        bad = SIZE_MAX;
    for (size_t i = 0; names && i < nf; i++)
        names[i] = r->fields[i] ? r->fields[i] : "";
    if (names)
        bad = ctl_kind_row_links(j->o, j->k, names, r->vals, nf, line, &j->pl);
    free(names);
    if (mi >= 0)
        r->fields[mi] = (char *)member_field;
    return bad;
}

/* The id of a checked row: the given one, the benefit's derived one, or a
 * new one. Returns 0, 1 (a problem was noted) or -1 (out of memory). */
static int row_id(kind_job *j, const kind_row *r, const char *given, size_t line, char *out)
{
    char err[CTL_ERRLEN];
    if (given && *given) {
        snprintf(out, RECORD_ID_MAX + 1, "%s", given); /* out holds RECORD_ID_MAX + 1 */
        record_kind have = recindex_kind(&j->o->ix, given);
        if (have != KIND_NONE && have != j->k) {
            snprintf(err, sizeof err, "id: %s is a %s, not a %s", given, kind_name(have),
                     kind_name(j->k));
            return job_refuse(j, line, "id", "kind", err) ? -1 : 1;
        }
        return 0;
    }
    if (j->k == KIND_BENEFIT) {
        if (kind_benefit_id(out, row_value(r, "member"), row_value(r, "kind"), row_value(r, "date"),
                            err, sizeof err) != UERR_OK)
            return job_refuse(j, line, "date", "benefit_id", err) ? -1 : 1;
        return 0;
    }
    ctl_new_id(out, &j->o->ix, j->now);
    return 0;
}

/* The required fields of a new record. Returns 0, 1 (problems) or -1. */
static int row_required(kind_job *j, const kind_row *r, size_t line)
{
    const char **names = calloc(r->n + 1, sizeof *names);
    if (!names)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        names[i] = r->fields[i];
    size_t n =
        schema_kind_required_check(j->k, names, (const char *const *)r->vals, r->n, line, &j->pl);
    free(names);
    return n == (size_t)-1 ? -1 : n > 0;
}

/* Write the row's values into rec (a copy of the current record, or new).
 * clear: an empty value clears a field the record has (edit). Returns the
 * number of fields changed, or -1 (out of memory). */
static int row_apply(kind_job *j, record *rec, const kind_row *r, int is_new, int clear)
{
    int changed = 0;
    for (size_t i = 0; i < r->n; i++) {
        const schema_field *f = schema_kind_field_find(j->k, r->fields[i]);
        if (!f || f->input_only)
            continue;
        size_t first, ne = record_field_entries(rec, f->name, &first);
        const record_entry *w = record_field_winner(rec, f->name);
        if (!*r->vals[i] && (!clear || ne == 0))
            continue;
        if (ne == 1 && w && strcmp(w->value, r->vals[i]) == 0)
            continue;
        if (record_write(rec, j->o->node, j->now, f->name, r->vals[i]) != 0)
            return -1;
        changed++;
    }
    size_t first;
    if (is_new && schema_kind_field_find(j->k, "office") &&
        !record_field_entries(rec, "office", &first)) {
        if (record_write(rec, j->o->node, j->now, "office", j->o->office) != 0)
            return -1;
        changed++;
    }
    return changed;
}

/* The first problem as "field: why" for a one-record reply. */
static void job_first_problem(const kind_job *j, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", j->pl.n ? j->pl.v[0].msg : "refused");
}

/* ---- add and edit --------------------------------------------------------------- */

/* The assignments as a row (op "=" only: other kinds have no sets). */
static uerr row_from_assignments(kind_row *r, const kind_job *j, const assignment *a, size_t n,
                                 char *err, size_t errlen)
{
    if (kind_row_alloc(r, n) != 0)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].op, "=") != 0)
            return uerr_set(err, errlen, UERR_INVALID, "%s: a %s has no set fields (use =)",
                            a[i].field, kind_name(j->k));
        if (strcmp(a[i].field, "id") == 0)
            return uerr_set(err, errlen, UERR_INVALID, "id: the record id cannot be given");
        r->fields[i] = strdup(a[i].field);
        r->vals[i] = strdup(a[i].value);
        if (!r->fields[i] || !r->vals[i])
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    return UERR_OK;
}

static void fields_message(char *msg, size_t len, const char *verb, record_kind k, const char *id,
                           const kind_row *r)
{
    size_t off = (size_t)snprintf(msg, len, "%s %s %s\n\nfields:", verb, kind_name(k), id);
    for (size_t i = 0; i < r->n && off < len; i++)
        off += (size_t)snprintf(msg + off, len - off, " %s", r->fields[i]);
    if (off < len)
        snprintf(msg + off, len - off, "\n");
}

/* add (kind != member) and edit of a record of kind k. id: NULL for add. */
static void kind_write_one(ops_ctx *o, record_kind k, const char *edit_id,
                           const msgpack_object *req, msgpack_packer *pk)
{
    kind_job j = {.o = o, .k = k};
    kind_row r = {0};
    assignment *a = NULL;
    size_t n = 0;
    char err[CTL_ERRLEN], opbuf[64], msg[2048], id[RECORD_ID_MAX + 1] = "", *ids[1] = {id};
    record rec;
    uerr e;
    record_init(&rec);
    problem_list_init(&j.pl);
    clock_today(j.today);
    j.now = clock_now_ms();
    if ((e = ctl_assignments_read(&a, &n, req, err, sizeof err)) != UERR_OK ||
        (e = row_from_assignments(&r, &j, a, n, err, sizeof err)) != UERR_OK)
        goto refuse;
    size_t bad = row_check(&j, &r, 0);
    int idrc = bad || edit_id ? 0 : row_id(&j, &r, NULL, 0, id);
    const recindex_item *cur = recindex_find(&o->ix, edit_id ? edit_id : id);
    if (edit_id)
        snprintf(id, sizeof id, "%s", edit_id);
    int req_rc = bad || idrc || cur ? 0 : row_required(&j, &r, 0);
    if (bad == SIZE_MAX || idrc < 0 || req_rc < 0) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
        goto refuse;
    }
    if (bad || idrc || req_rc) {
        job_first_problem(&j, err, sizeof err);
        e = UERR_INVALID;
        goto refuse;
    }
    int changed =
        cur && recindex_get_copy(&rec, &o->ix, id) < 0 ? -1 : row_apply(&j, &rec, &r, !cur, !!cur);
    if (changed < 0) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
        goto refuse;
    }
    if (changed > 0) {
        fields_message(msg, sizeof msg, cur ? "edit" : "add", k, id, &r);
        e = ctl_commit_kind(o, k, ids, &rec, 1, 0, ctl_operator(req, opbuf, sizeof opbuf), msg, err,
                            sizeof err);
        if (e != UERR_OK)
            goto refuse;
    }
    msg_map m;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "id", id);
    msg_map_str(&m, "kind", kind_name(k));
    msg_map_int(&m, "changed", changed);
    msg_map_close(&m);
    goto cleanup;
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    record_free(&rec);
    kind_row_free(&r);
    ctl_assignments_free(a, n);
    problem_list_free(&j.pl);
}

void op_add_any(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    record_kind k;
    char err[CTL_ERRLEN];
    uerr e = ctl_kind_read(&k, req, err, sizeof err);
    if (e != UERR_OK)
        ctl_reply_error(pk, e, "%s", err);
    else if (k == KIND_MEMBER)
        op_add(o, req, pk);
    else
        kind_write_one(o, k, NULL, req, pk);
}

void op_edit_any(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = msg_get_str(req, "id");
    record_kind k = id && record_id_valid(id) ? recindex_kind(&o->ix, id) : KIND_NONE;
    if (k == KIND_NONE || k == KIND_MEMBER)
        op_edit(o, req, pk); /* also says what is wrong with the id */
    else
        kind_write_one(o, k, id, req, pk);
    free(id);
}

/* ---- import --------------------------------------------------------------------- */

typedef struct {
    kind_job j;
    const msgpack_object_array *hdr, *rows;
    char **header;
    int idcol;
    smap seen;    /* id -> line of this file (keys borrowed from ids) */
    char **ids;   /* every accepted row's id (owned), nids of them */
    record *recs; /* the records to write, nrec of them ... */
    char **wids;  /* ... and their ids (borrowed from ids) */
    size_t nids, nrec, nnew, nupd, nsame, nbad;
} kind_import;

static void kind_import_free(kind_import *im)
{
    for (size_t i = 0; im->header && i < im->hdr->size; i++)
        free(im->header[i]);
    free(im->header);
    for (size_t i = 0; im->recs && i < im->nrec; i++)
        record_free(&im->recs[i]);
    for (size_t i = 0; im->ids && i < im->nids; i++)
        free(im->ids[i]);
    free(im->recs);
    free(im->ids);
    free(im->wids);
    smap_free(&im->seen);
    problem_list_free(&im->j.pl);
}

/* One row: check, find its id, refuse a repeat, apply. UERR_OK (a refused
 * row is noted), UERR_INVALID (malformed), UERR_NOMEM. */
static uerr kind_import_row(kind_import *im, uint32_t ri, char *err, size_t errlen)
{
    const msgpack_object *row = &im->rows->ptr[ri];
    if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 2 ||
        row->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        row->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY ||
        row->via.array.ptr[1].via.array.size != im->hdr->size)
        return uerr_set(err, errlen, UERR_INVALID, "malformed import request (row %u)", ri);
    size_t line = (size_t)row->via.array.ptr[0].via.u64;
    const msgpack_object_array *cells = &row->via.array.ptr[1].via.array;
    kind_row r;
    char *given = NULL, id[RECORD_ID_MAX + 1] = "";
    uerr e = UERR_OK;
    size_t nf = 0, before = problem_count(&im->j.pl);
    if (kind_row_alloc(&r, im->hdr->size) != 0)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory during import; nothing imported");
    for (uint32_t ci = 0; ci < im->hdr->size; ci++) {
        char *v = msg_str_dup(&cells->ptr[ci]);
        if (!v) {
            e = uerr_set(err, errlen, UERR_INVALID, "malformed import request (row %u)", ri);
            goto cleanup;
        }
        if ((int)ci == im->idcol) {
            given = v;
            continue;
        }
        r.fields[nf] = strdup(im->header[ci]);
        r.vals[nf++] = v;
        if (!r.fields[nf - 1])
            goto oom;
    }
    r.n = nf;
    if (given && *given && !record_id_valid(given)) {
        if (job_refuse(&im->j, line, "id", "id", "id: ids are lowercase letters and digits"))
            goto oom;
        goto cleanup;
    }
    size_t bad = row_check(&im->j, &r, line);
    if (bad == SIZE_MAX)
        goto oom;
    if (bad)
        goto cleanup;
    int rc = row_id(&im->j, &r, given, line, id);
    if (rc < 0)
        goto oom;
    if (rc)
        goto cleanup;
    size_t idlen = strlen(id);
    unsigned h = smap_hash(id, idlen);
    smap_item *s = smap_find(&im->seen, id, idlen, h);
    char *kept = NULL;
    if (s) {
        char msg[200];
        const char *field = given && *given ? "id" : "date";
        snprintf(msg, sizeof msg, "%s: line %zu and line %zu are the same %s%s; give it once",
                 field, s->val, line, im->j.k == KIND_BENEFIT ? "hand-out" : "record",
                 im->j.k == KIND_BENEFIT ? " (same member, kind and date)" : "");
        if (job_refuse(&im->j, line, field, "duplicate", msg))
            goto oom;
        goto cleanup;
    }
    kept = strdup(id);
    if (!kept || !(s = smap_add(&im->seen, kept, idlen, h, line))) {
        free(kept);
        goto oom;
    }
    im->ids[im->nids++] = kept; /* owned here; the seen map borrows it */
    const recindex_item *cur = recindex_find(&im->j.o->ix, id);
    if (!cur && (rc = row_required(&im->j, &r, line)) != 0) {
        if (rc < 0)
            goto oom;
        goto cleanup;
    }
    record *rec = &im->recs[im->nrec];
    record_init(rec);
    int changed = cur && recindex_get_copy(rec, &im->j.o->ix, id) < 0
                      ? -1
                      : row_apply(&im->j, rec, &r, !cur, 0);
    if (changed < 0) {
        record_free(rec);
        goto oom;
    }
    if (!cur || changed) {
        if (cur)
            im->nupd++;
        else
            im->nnew++;
        im->wids[im->nrec++] = kept;
    } else {
        im->nsame++;
        record_free(rec);
    }
    goto cleanup;
oom:
    e = uerr_set(err, errlen, UERR_NOMEM, "out of memory during import; nothing imported");
cleanup:
    if (e == UERR_OK && problem_count(&im->j.pl) > before)
        im->nbad++;
    free(given);
    kind_row_free(&r);
    return e;
}

/* The header: field names or labels of kind k (resolved per row), "id". */
static uerr kind_import_header(kind_import *im, char *err, size_t errlen)
{
    im->header = calloc(im->hdr->size, sizeof *im->header);
    if (!im->header)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory during import; nothing imported");
    for (uint32_t i = 0; i < im->hdr->size; i++) {
        char *h = im->header[i] = msg_str_dup(&im->hdr->ptr[i]);
        const schema_field *f = NULL;
        if (!h)
            return uerr_set(err, errlen, UERR_INVALID, "malformed import request");
        if (strcmp(h, "id") == 0) {
            im->idcol = (int)i;
            continue;
        }
        if (schema_kind_field_resolve(&f, im->j.k, h, err, errlen) != UERR_OK)
            return UERR_INVALID;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(h, im->header[k]) == 0)
                return uerr_set(err, errlen, UERR_INVALID,
                                "header: column '%s' appears twice; nothing imported", h);
    }
    return UERR_OK;
}

/* "field: why" -> why (the field has its own key). */
static const char *reason_of(const char *msg)
{
    const char *colon = strstr(msg, ": ");
    return colon ? colon + 2 : msg;
}

static void kind_import_pack_errors(msg_map *m, const kind_import *im)
{
    msg_arr a;
    msg_map_key(m, "errors");
    msg_arr_open(&a, m->pk);
    for (size_t i = 0; i < im->j.pl.n && i < KIND_ERRORS_SHOWN; i++) {
        const problem *p = &im->j.pl.v[i];
        msg_map em;
        msg_arr_item(&a);
        msg_map_open(&em, m->pk);
        msg_map_int(&em, "line", (int64_t)p->line);
        msg_map_str(&em, "field", p->field);
        msg_map_str(&em, "reason", reason_of(p->msg));
        msg_map_close(&em);
    }
    msg_arr_close(&a);
}

static void kind_import_run(ops_ctx *o, record_kind k, const msgpack_object *req,
                            msgpack_packer *pk)
{
    kind_import im = {.j = {.o = o, .k = k}, .idcol = -1};
    int skip_invalid = msg_get_bool(req, "skip_invalid", 0);
    char err[CTL_ERRLEN], opbuf[64], msg[256];
    uerr e;
    msg_map m;
    problem_list_init(&im.j.pl);
    clock_today(im.j.today);
    im.j.now = clock_now_ms();
    im.hdr = msg_get_array(req, "header");
    im.rows = msg_get_array(req, "rows");
    if (!im.hdr || !im.rows || im.hdr->size == 0) {
        ctl_reply_error(pk, UERR_INVALID, "malformed import request");
        goto cleanup;
    }
    if ((e = kind_import_header(&im, err, sizeof err)) != UERR_OK)
        goto refuse;
    im.ids = calloc(im.rows->size + 1, sizeof *im.ids);
    im.wids = calloc(im.rows->size + 1, sizeof *im.wids);
    im.recs = calloc(im.rows->size + 1, sizeof *im.recs);
    if (!im.ids || !im.wids || !im.recs) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory during import; nothing imported");
        goto refuse;
    }
    for (uint32_t ri = 0; ri < im.rows->size; ri++)
        if ((e = kind_import_row(&im, ri, err, sizeof err)) != UERR_OK)
            goto refuse;
    if (im.nbad && !skip_invalid) {
        msg_map_open(&m, pk);
        msg_map_bool(&m, "ok", 0);
        snprintf(err, sizeof err,
                 "%zu of %u rows are invalid; nothing was imported (fix them, or use "
                 "--skip-invalid to import the valid rows)",
                 im.nbad, im.rows->size);
        msg_map_str(&m, "error", err);
        msg_map_str(&m, "code", uerr_name(UERR_INVALID));
        kind_import_pack_errors(&m, &im);
        msg_map_close(&m);
        goto cleanup;
    }
    if (im.nrec) {
        snprintf(msg, sizeof msg, "import %zu %s records (%zu new, %zu updated)\n", im.nrec,
                 kind_name(k), im.nnew, im.nupd);
        e = ctl_commit_kind(o, k, im.wids, im.recs, im.nrec, 1,
                            ctl_operator(req, opbuf, sizeof opbuf), msg, err, sizeof err);
        if (e != UERR_OK)
            goto refuse;
        im.nrec = 0; /* the index owns their contents now */
    }
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_int(&m, "imported", (int64_t)im.nnew);
    msg_map_int(&m, "updated", (int64_t)im.nupd);
    msg_map_int(&m, "unchanged", (int64_t)im.nsame);
    msg_map_int(&m, "skipped", (int64_t)im.nbad);
    kind_import_pack_errors(&m, &im);
    msg_map_close(&m);
    goto cleanup;
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    kind_import_free(&im);
}

void op_import_any(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    record_kind k;
    char err[CTL_ERRLEN];
    uerr e = ctl_kind_read(&k, req, err, sizeof err);
    if (e != UERR_OK)
        ctl_reply_error(pk, e, "%s", err);
    else if (k == KIND_MEMBER)
        op_import(o, req, pk);
    else
        kind_import_run(o, k, req, pk);
}

/* ---- benefit_list ----------------------------------------------------------------- */

typedef struct {
    const char *id, *date;
    const recindex_item *it;
} benefit_hit;

static int benefit_hit_cmp(const void *a, const void *b)
{
    const benefit_hit *x = a, *y = b;
    int c = strcmp(x->date, y->date);
    return c ? c : strcmp(x->id, y->id);
}

void op_benefit_list(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *who = msg_get_str(req, "member");
    int wrong = 0;
    const char *mid = who ? ctl_kind_link_find(o, KIND_MEMBER, who, &wrong) : NULL;
    benefit_hit *hits = NULL;
    size_t nh = 0;
    if (!mid) {
        ctl_reply_error(pk, UERR_NOTFOUND,
                        "no member with this id or ID number (unionctl list finds members)");
        goto cleanup;
    }
    hits = malloc((o->ix.count + 1) * sizeof *hits);
    if (!hits) {
        ctl_reply_error(pk, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < o->ix.cap; i++) {
        const recindex_item *it = &o->ix.slots[i];
        if (!it->id || it->kind != KIND_BENEFIT)
            continue;
        const char *m = reccompact_winner(&o->ix.cr, it->id, "member");
        const char *d = reccompact_winner(&o->ix.cr, it->id, "date");
        if (m && strcmp(m, mid) == 0)
            hits[nh++] = (benefit_hit){it->id, d ? d : "", it};
    }
    qsort(hits, nh, sizeof *hits, benefit_hit_cmp);
    msg_map m;
    msg_arr a;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "member", mid);
    msg_map_key(&m, "records");
    msg_arr_open(&a, pk);
    recindex_view v = RECINDEX_VIEW_INIT;
    for (size_t i = 0; i < nh; i++) {
        const record *r = recindex_view_item(&v, &o->ix, hits[i].it);
        msg_arr_item(&a);
        if (r)
            ctl_pack_record(pk, hits[i].id, r, 0);
        else
            msgpack_pack_nil(pk); /* out of memory: a hole, not a wrong record */
    }
    recindex_view_free(&v);
    msg_arr_close(&a);
    msg_map_close(&m);
cleanup:
    free(hits);
    free(who);
}
