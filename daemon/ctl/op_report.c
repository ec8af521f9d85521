/* op_report.c - the period report (`unionctl report`, issue 11;
 * docs/CONTROL.md "report"): one walk over the index feeding every record
 * of every kind to the accumulator of proto/period.h, and the figures
 * packed under the keys. Runs on the store queue's worker thread;
 * reads the index only, never the store, never logs values. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"

#include "proto/period.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* period_get_fn over a record of the index: the displayed (winning)
 * value. */
static const char *report_get(const void *rec, const char *field)
{
    const record_entry *w = record_field_winner(rec, field);
    return w ? w->value : NULL;
}

/* The inner keys shared by the total and each office. */
static void pack_figures(msg_map *m, const period_figures *f)
{
    msgpack_packer *pk = m->pk;
    msg_map u, mem, e, s, b;
    char yuan[32];
    msg_map_key(m, "unions");
    msg_map_open(&u, pk);
    msg_map_int(&u, "new", (int64_t)f->unions_new);
    msg_map_int(&u, "new_form", (int64_t)f->unions_new_form);
    msg_map_close(&u);
    msg_map_key(m, "members");
    msg_map_open(&mem, pk);
    msg_map_int(&mem, "new", (int64_t)f->members_new);
    msg_map_int(&mem, "new_form", (int64_t)f->members_new_form);
    msg_map_int(&mem, "active", (int64_t)f->members_active);
    msg_map_close(&mem);
    msg_map_key(m, "enterprises");
    msg_map_open(&e, pk);
    msg_map_int(&e, "surveyed", (int64_t)f->enterprises_surveyed);
    msg_map_int(&e, "with_union", (int64_t)f->enterprises_with_union);
    msg_map_close(&e);
    msg_map_key(m, "stations");
    msg_map_open(&s, pk);
    msg_map_int(&s, "opened", (int64_t)f->stations_opened);
    msg_map_int(&s, "total", (int64_t)f->stations_total);
    msg_map_close(&s);
    msg_map_key(m, "benefits");
    msg_map_open(&b, pk);
    msg_map_int(&b, "count", (int64_t)f->benefits_count);
    /* text, exactly as an amount is stored ("240", "1234.50"): msgpack has
     * no decimal, and a float would not be exact */
    msg_map_str(&b, "yuan", schema_amount_format(yuan, f->benefits_fen));
    msg_map_int(&b, "members", (int64_t)f->benefits_members);
    msg_map_close(&b);
}

static void pack_result(msgpack_packer *pk, const period_result *r)
{
    msg_map m, offs, cats;
    msg_map_open(&m, pk);
    msg_map_str(&m, "from", r->from);
    msg_map_str(&m, "to", r->to);
    pack_figures(&m, &r->total);
    msg_map_key(&m, "by_office");
    msg_map_open(&offs, pk);
    for (size_t i = 0; i < r->noffices; i++) {
        msg_map om;
        msg_map_key(&offs, r->offices[i].office);
        msg_map_open(&om, pk);
        pack_figures(&om, &r->offices[i].f);
        msg_map_close(&om);
    }
    msg_map_close(&offs);
    msg_map_key(&m, "by_category");
    msg_map_open(&cats, pk);
    for (size_t i = 0; i < r->ncategories; i++) {
        msg_map cm;
        msg_map_key(&cats, r->categories[i].category);
        msg_map_open(&cm, pk);
        msg_map_int(&cm, "new", (int64_t)r->categories[i].new_members);
        msg_map_int(&cm, "active", (int64_t)r->categories[i].active);
        msg_map_close(&cm);
    }
    msg_map_close(&cats);
    msg_map_close(&m);
}

void op_report(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *from = msg_get_str(req, "from"), *to = msg_get_str(req, "to");
    char *office = msg_get_str(req, "office"), err[CTL_ERRLEN];
    period_acc *a = NULL;
    recindex_view view = RECINDEX_VIEW_INIT;
    period_result r;
    memset(&r, 0, sizeof r);
    if (!from || !to) {
        ctl_reply_error(pk, UERR_INVALID, "report: give --from D and --to D (YYYY-MM-DD)");
        goto cleanup;
    }
    uerr e = period_init(&a, from, to, office, err, sizeof err);
    for (size_t i = 0; e == UERR_OK && i < o->ix.cap; i++) {
        const recindex_item *it = &o->ix.slots[i];
        if (!it->id)
            continue;
        /* decoded once: the report reads several fields of each record */
        const record *rec = recindex_view_item(&view, &o->ix, it);
        e = rec ? period_add_record(a, it->kind, it->id, report_get, rec) : UERR_NOMEM;
    }
    if (e != UERR_OK) {
        if (e == UERR_NOMEM)
            snprintf(err, sizeof err, "out of memory computing the report");
        ctl_reply_error(pk, e, "%s", err);
        goto cleanup;
    }
    e = period_finish(&r, a, err, sizeof err);
    a = NULL; /* freed by period_finish in every case */
    if (e != UERR_OK) {
        ctl_reply_error(pk, e, "%s", err);
        goto cleanup;
    }
    ctl_reply_ok(pk);
    pack_result(pk, &r);
cleanup:
    recindex_view_free(&view);
    period_acc_free(a);
    period_result_free(&r);
    free(from);
    free(to);
    free(office);
}
