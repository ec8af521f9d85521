/* op_query.c - the reading requests and the conflict work: list (and
 * export, which is list with "full"), log, conflicts, resolve
 * (docs/CONTROL.md). Runs on the store queue's worker thread; reads the
 * in-memory index, and the store only for a record's history. Masks
 * personal fields unless asked; a reveal is logged without values. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/kinds.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/optable.h"
#include "daemon/ctl/scan.h"

#include "daemon/util/clock.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- list ------------------------------------------------------------------- */

static int is_void(const recindex *ix, const recindex_item *it)
{
    return strcmp(recindex_item_shown(ix, it, "status"), "void") == 0;
}

void op_list(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    query_cond *c = NULL;
    size_t nc = 0, nh = 0;
    char err[CTL_ERRLEN];
    hit *hits = NULL;
    uint32_t *rows = NULL;
    size_t nrows = 0;
    recindex_view view = RECINDEX_VIEW_INIT;
    record empty;
    record_init(&empty);
    char *sort = msg_get_str(req, "sort");
    int64_t limit = msg_get_int(req, "limit", -1);
    int reveal = msg_get_bool(req, "reveal", 0);
    int count_only = msg_get_bool(req, "count", 0);
    int full = msg_get_bool(req, "full", 0);   /* export: never masked */
    int links = msg_get_bool(req, "links", 0); /* issue 11: resolved links too */
    msg_map m;
    record_kind kind;
    uerr e = ctl_kind_read(&kind, req, err, sizeof err);
    if (e == UERR_OK)
        e = ctl_conds_read(&c, &nc, req, err, sizeof err);
    if (e != UERR_OK) {
        ctl_reply_error(pk, e, "%s", err);
        goto cleanup;
    }
    if (sort && strcmp(sort, "id") != 0) {
        /* a typo is refused with the nearest name, never sorted by nothing */
        const schema_field *sf;
        char *canon;
        if (schema_field_resolve(&sf, sort, err, sizeof err) != UERR_OK) {
            ctl_reply_error(pk, UERR_INVALID, "--sort: %s", err);
            goto cleanup;
        }
        if (!(canon = strdup(sf->name))) {
            ctl_reply_error(pk, UERR_NOMEM, "out of memory");
            goto cleanup;
        }
        free(sort);
        sort = canon;
    }
    /* void records (created by a change since reverted) are shown only
     * when asked for by status, and in a full export */
    int asks_status = 0;
    for (size_t i = 0; i < nc; i++)
        asks_status |= strcmp(c[i].field, "status") == 0;
    if (count_only) { /* from the secondary indexes when they answer exactly */
        size_t n;
        int got = scan_count_indexed(&n, &o->ix, kind, c, nc, full || asks_status);
        if (got < 0) {
            ctl_reply_error(pk, UERR_NOMEM, "out of memory");
            goto cleanup;
        }
        if (got) {
            ctl_reply_ok(pk);
            msg_map_open(&m, pk);
            msg_map_int(&m, "count", (int64_t)n);
            msg_map_close(&m);
            goto cleanup;
        }
    }
    hits = malloc((o->ix.count + 1) * sizeof *hits);
    if (!hits) {
        ctl_reply_error(pk, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    /* the rows an indexed condition selects, else every slot */
    int cand = ctl_candidates(&rows, &nrows, o, c, nc);
    if (cand < 0) {
        ctl_reply_error(pk, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0, to = cand ? nrows : o->ix.cap; i < to; i++) {
        const recindex_item *it = cand ? recindex_row(&o->ix, rows[i]) : &o->ix.slots[i];
        if (!cand)
            scan_prefetch(o->ix.slots, i, to);
        if (!it->id || it->kind != kind || (!full && !asks_status && is_void(&o->ix, it)))
            continue;
        const record *r = nc ? recindex_view_item(&view, &o->ix, it) : NULL;
        if (nc && !r) {
            ctl_reply_error(pk, UERR_NOMEM, "out of memory");
            goto cleanup;
        }
        if (!nc || query_match(c, nc, it->id, r)) {
            hits[nh].id = it->id;
            hits[nh].it = it;
            /* borrowed from the index, not the view: stays valid */
            hits[nh].key = sort ? scan_display(&o->ix, it, sort) : it->id;
            nh++;
        }
    }
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    if (count_only) {
        msg_map_int(&m, "count", (int64_t)nh);
        msg_map_close(&m);
        goto cleanup;
    }
    qsort(hits, nh, sizeof *hits, ctl_hit_cmp);
    if (limit >= 0 && (size_t)limit < nh)
        nh = (size_t)limit;
    if (full)
        reveal = 1;
    else if (reveal && nh)
        ctl_note_reveal(req, "list", nh);
    msg_arr a;
    ctl_links lk = {0};
    if (links)
        ctl_links_init(&lk, o);
    msg_map_key(&m, "records");
    msg_arr_open(&a, pk);
    for (size_t i = 0; i < nh; i++) {
        const record *r = recindex_view_item(&view, &o->ix, hits[i].it);
        if (!r)
            r = &empty; /* out of memory: the row without its fields */
        msg_arr_item(&a);
        if (links)
            ctl_kind_pack_record(pk, o, &lk, hits[i].id, r, reveal);
        else
            ctl_pack_record(pk, hits[i].id, r, reveal);
    }
    msg_arr_close(&a);
    ctl_links_free(&lk);
    msg_map_close(&m);
cleanup:
    recindex_view_free(&view);
    free(rows);
    free(hits);
    free(sort);
    ctl_conds_free(c, nc);
}

/* ---- log -------------------------------------------------------------------- */

/* The entries are packed into a buffer of their own as the history is
 * walked, and appended to the reply only when the walk succeeded. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msg_arr arr; /* the array of entries, at the start of buf */
    int reveal;
} log_acc;

static void log_pack_entry(msgpack_packer *pk, const store_version *v, const ctl_diff *d)
{
    char tbuf[32], summary[256];
    record_time_format(tbuf, sizeof tbuf, v->time * 1000);
    tbuf[19] = 'Z';
    tbuf[20] = 0;
    const char *nl = strchr(v->message, '\n');
    snprintf(summary, sizeof summary, "%.*s", nl ? (int)(nl - v->message) : 200, v->message);
    msg_map m;
    msg_map_open(&m, pk);
    msg_map_str(&m, "commit", v->commit);
    msg_map_str(&m, "time", tbuf);
    msg_map_str(&m, "node", v->node);
    msg_map_str(&m, "operator", v->operator);
    msg_map_str(&m, "summary", summary);
    msg_map_bool(&m, "merge", v->merge);
    msg_map_key(&m, "changes");
    ctl_diff_pack(pk, d);
    msg_map_close(&m);
}

static int log_cb(const store_version *v, void *arg)
{
    log_acc *acc = arg;
    record oldr, newr;
    char err[128];
    ctl_diff d;
    record_init(&oldr);
    record_init(&newr);
    if ((v->old_buf && record_decode(&oldr, v->old_buf, v->old_len, err, sizeof err) != 0) ||
        (v->new_buf && record_decode(&newr, v->new_buf, v->new_len, err, sizeof err) != 0)) {
        record_free(&oldr);
        return 0; /* a damaged old version is skipped, not fatal for the log */
    }
    if (ctl_diff_make(&d, &oldr, &newr, acc->reveal) != 0)
        d.n = 0; /* out of memory: the entry is listed without its changes */
    msg_arr_item(&acc->arr);
    log_pack_entry(&acc->pk, v, &d);
    ctl_diff_free(&d);
    record_free(&oldr);
    record_free(&newr);
    return 0;
}

void op_log(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL, err[CTL_ERRLEN];
    recindex_view fv = RECINDEX_VIEW_INIT;
    log_acc acc;
    msgpack_sbuffer_init(&acc.buf);
    msgpack_packer_init(&acc.pk, &acc.buf, msgpack_sbuffer_write);
    msg_arr_open(&acc.arr, &acc.pk);
    acc.reveal = msg_get_bool(req, "reveal", 0);
    if (!ctl_find_record(o, &fv, req, &id, pk))
        goto cleanup;
    int rc = store_history(ctl_read_store(o), id, log_cb, &acc, err, sizeof err);
    if (rc < 0) {
        ctl_reply_error(pk, (uerr)rc, "%s", err);
        goto cleanup;
    }
    msg_arr_close(&acc.arr);
    if (acc.reveal)
        ctl_note_reveal(req, "log", 1);
    ctl_reply_ok(pk);
    /* the whole counted array, already packed: appended as raw bytes */
    msgpack_pack_str_body(pk, acc.buf.data, acc.buf.size);
cleanup:
    recindex_view_free(&fv);
    msgpack_sbuffer_destroy(&acc.buf);
    free(id);
}

/* ---- conflicts ---------------------------------------------------------------- */

/* One {id, name, field, values} item per field of r in conflict. */
static void pack_record_conflicts(msg_arr *items, msgpack_packer *pk, const char *id,
                                  const record *r, int reveal)
{
    for (size_t i = 0; i < r->nentries; i++) {
        const char *f = r->entries[i].field;
        if ((i > 0 && strcmp(r->entries[i - 1].field, f) == 0) || schema_field_is_set(f))
            continue;
        size_t first, n = record_field_entries(r, f, &first);
        const char **vals = malloc((n + 1) * sizeof *vals);
        size_t k = vals ? ctl_field_values(vals, r, f) : 0;
        free(vals);
        if (k < 2)
            continue;
        const record_entry *w = record_field_winner(r, f);
        msg_map m;
        msg_arr va;
        msg_arr_item(items);
        msg_map_open(&m, pk);
        msg_map_str(&m, "id", id);
        msg_map_str(&m, "name", query_display(r, id, "name"));
        msg_map_str(&m, "field", f);
        msg_map_key(&m, "values");
        msg_arr_open(&va, pk);
        /* the displayed entry first, then the others in dot order */
        for (int pass = 0; pass < 2; pass++)
            for (size_t e = first; e < first + n; e++) {
                const record_entry *en = &r->entries[e];
                if ((pass == 0) != (en == w))
                    continue;
                char tbuf[32];
                msg_map v;
                record_time_format(tbuf, sizeof tbuf, en->time_ms);
                msg_arr_item(&va);
                msg_map_open(&v, pk);
                msg_map_key(&v, "value");
                if (reveal || !schema_field_is_masked(f)) {
                    msg_pack_str(pk, en->value);
                } else {
                    /* 139****1234 twice tells a clerk nothing: the
                     * digits that differ are shown */
                    char *apart = ctl_mask_apart(f, en->value, r, first, n);
                    msg_pack_str(pk, apart ? apart : "");
                    free(apart);
                }
                msg_map_str(&v, "node", en->node);
                msg_map_str(&v, "time", tbuf);
                msg_map_bool(&v, "shown", en == w);
                msg_map_close(&v);
            }
        msg_arr_close(&va);
        msg_map_close(&m);
    }
}

void op_conflicts(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    int reveal = msg_get_bool(req, "reveal", 0);
    hit *hits = malloc((o->ix.count + 1) * sizeof *hits);
    size_t nh = 0;
    if (!hits) {
        ctl_reply_error(pk, UERR_NOMEM, "out of memory");
        return;
    }
    recindex_view view = RECINDEX_VIEW_INIT;
    /* The index counts the members in conflict as every put changes them
     * (the count status shows, by the same ctl_conflict_count): once that
     * many are found, the rest of the walk can find none. With no
     * conflict, the usual case, nothing is read (a million records took
     * 835 ms). */
    size_t want = o->ix.conflicted;
    for (size_t i = 0; i < o->ix.cap && nh < want; i++) {
        const recindex_item *it = &o->ix.slots[i];
        if (!it->id || it->kind != KIND_MEMBER)
            continue;
        scan_prefetch(o->ix.slots, i, o->ix.cap);
        const record *r = recindex_view_item(&view, &o->ix, it);
        if (!r) {
            ctl_reply_error(pk, UERR_NOMEM, "out of memory");
            goto cleanup;
        }
        if (ctl_conflict_count(r)) {
            hits[nh].id = it->id;
            hits[nh].it = it;
            hits[nh].key = it->id;
            nh++;
        }
    }
    qsort(hits, nh, sizeof *hits, ctl_hit_cmp);
    msg_arr items;
    ctl_reply_ok(pk);
    msg_arr_open(&items, pk);
    for (size_t h = 0; h < nh; h++) {
        const record *r = recindex_view_item(&view, &o->ix, hits[h].it);
        if (r)
            pack_record_conflicts(&items, pk, hits[h].id, r, reveal);
    }
    msg_arr_close(&items);
cleanup:
    recindex_view_free(&view);
    free(hits);
}

/* ---- resolve ------------------------------------------------------------------ */

void op_resolve(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL, *field = msg_get_str(req, "field"), *value = msg_get_str(req, "value");
    char err[CTL_ERRLEN], today[11], msg[512];
    uerr e;
    record r;
    recindex_view fv = RECINDEX_VIEW_INIT;
    record_init(&r);
    clock_today(today);
    const record *cur = ctl_find_record(o, &fv, req, &id, pk);
    if (!cur)
        goto cleanup;
    if (!field || !schema_name_valid(field) || schema_field_is_set(field)) {
        ctl_reply_error(pk, UERR_INVALID, "resolve: give a single-valued field name");
        goto cleanup;
    }
    size_t first, n = record_field_entries(cur, field, &first);
    const char **vals = malloc((n + 1) * sizeof *vals);
    size_t k = vals ? ctl_field_values(vals, cur, field) : 0;
    free(vals);
    if (k < 2) {
        ctl_reply_error(pk, UERR_CONFLICT, "%s of %s is not in conflict (unionctl edit changes it)",
                        field, id);
        goto cleanup;
    }
    assignment a = {field, "=", NULL};
    if (value) {
        a.value = value;
        e = ctl_assignment_check(&a, today, err, sizeof err);
        value = a.value;
        if (e != UERR_OK) {
            ctl_reply_error(pk, e, "%s", err);
            goto cleanup;
        }
    } else {
        value = strdup(record_field_winner(cur, field)->value);
    }
    if (!value || record_copy(&r, cur) != 0 ||
        record_write(&r, o->node, clock_now_ms(), field, value) != 0) {
        ctl_reply_error(pk, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    snprintf(msg, sizeof msg, "resolve %s\n\nfields: %s\n", id, field);
    if (ctl_commit_one(o, req, id, &r, msg, pk) != UERR_OK)
        goto cleanup;
    msg_map m;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "id", id);
    msg_map_str(&m, "field", field);
    msg_map_close(&m);
cleanup:
    recindex_view_free(&fv);
    free(id);
    free(field);
    free(value);
    record_free(&r);
}
