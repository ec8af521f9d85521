/* op_records.c - the record requests: add, edit, show (docs/CONTROL.md).
 * Runs on the store queue's worker thread. A write validates every value
 * first and writes nothing when one is refused; it is acknowledged only
 * after store_commit made it durable. Never logs field values. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/kinds.h"

#include "daemon/util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Message body listing changed field names (never values: commit messages
 * end up in places logs go). */
static void fields_message(char *msg, size_t len, const char *verb, const char *id,
                           const assignment *a, size_t n)
{
    size_t off = (size_t)snprintf(msg, len, "%s %s\n\nfields:", verb, id);
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(msg + off, len - off, " %s%s", a[i].field,
                                strcmp(a[i].op, "=") ? a[i].op : "");
    if (off < len)
        snprintf(msg + off, len - off, "\n");
}

/* Check the assignments of a new record: every value valid, a name, no
 * removal. */
static uerr add_check(const ops_ctx *o, assignment *a, size_t n, const char *today, char *err,
                      size_t errlen)
{
    int has_name = 0;
    for (size_t i = 0; i < n; i++) {
        uerr e = ctl_kind_assignment_check(&a[i], KIND_MEMBER, o, today, err, errlen);
        if (e != UERR_OK)
            return e;
        has_name |= strcmp(a[i].field, "name") == 0;
        if (strcmp(a[i].op, "-=") == 0)
            return uerr_set(err, errlen, UERR_INVALID, "%s: -= makes no sense on a new record",
                            a[i].field);
    }
    if (!has_name)
        return uerr_set(err, errlen, UERR_INVALID, "name: a new member needs a name (name=...)");
    return ctl_assignments_unique(a, n, err, errlen);
}

void op_add(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    assignment *a = NULL;
    size_t n = 0;
    char err[CTL_ERRLEN], today[11], msg[2048];
    char id[RECORD_ID_LEN + 1];
    uerr e;
    record r;
    record_init(&r);
    clock_today(today);
    if ((e = ctl_assignments_read(&a, &n, req, err, sizeof err)) != UERR_OK ||
        (e = add_check(o, a, n, today, err, sizeof err)) != UERR_OK ||
        (e = ctl_person_check(o, NULL, NULL, &a, &n, err, sizeof err)) != UERR_OK)
        goto refuse;
    int64_t now = clock_now_ms();
    ctl_new_id(id, &o->ix, now);
    if (ctl_assignments_apply(&r, a, n, o->node, now) < 0 ||
        ctl_record_defaults(&r, o, now, today) != 0) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
        goto refuse;
    }
    fields_message(msg, sizeof msg, "add", id, a, n);
    if (ctl_commit_one(o, req, id, &r, msg, pk) != UERR_OK)
        goto cleanup;
    msg_map m;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "id", id);
    msg_map_close(&m);
    goto cleanup;
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    record_free(&r);
    ctl_assignments_free(a, n);
}

void op_edit(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    assignment *a = NULL;
    size_t n = 0;
    char err[CTL_ERRLEN], today[11], msg[2048];
    char *id = NULL;
    uerr e;
    record r;
    recindex_view fv = RECINDEX_VIEW_INIT;
    record_init(&r);
    clock_today(today);
    const record *cur = ctl_find_record(o, &fv, req, &id, pk);
    if (!cur)
        goto cleanup;
    if ((e = ctl_assignments_read(&a, &n, req, err, sizeof err)) != UERR_OK)
        goto refuse;
    for (size_t i = 0; i < n; i++) {
        e = ctl_kind_assignment_check(&a[i], KIND_MEMBER, o, today, err, sizeof err);
        if (e != UERR_OK)
            goto refuse;
        if (strcmp(a[i].field, "name") == 0 && !a[i].value[0]) {
            e = uerr_set(err, sizeof err, UERR_INVALID, "name: cannot be empty");
            goto refuse;
        }
    }
    if ((e = ctl_assignments_unique(a, n, err, sizeof err)) != UERR_OK ||
        (e = ctl_person_check(o, id, cur, &a, &n, err, sizeof err)) != UERR_OK)
        goto refuse;
    int changed =
        record_copy(&r, cur) != 0 ? -1 : ctl_assignments_apply(&r, a, n, o->node, clock_now_ms());
    if (changed < 0) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
        goto refuse;
    }
    if (changed > 0) {
        fields_message(msg, sizeof msg, "edit", id, a, n);
        if (ctl_commit_one(o, req, id, &r, msg, pk) != UERR_OK)
            goto cleanup;
    }
    msg_map m;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "id", id);
    msg_map_int(&m, "changed", changed);
    msg_map_close(&m);
    goto cleanup;
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    recindex_view_free(&fv);
    free(id);
    record_free(&r);
    ctl_assignments_free(a, n);
}

void op_show(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL;
    recindex_view fv = RECINDEX_VIEW_INIT;
    const record *r = ctl_find_record(o, &fv, req, &id, pk);
    int reveal = msg_get_bool(req, "reveal", 0);
    if (r) {
        if (reveal)
            ctl_note_reveal(req, "show", 1);
        ctl_reply_ok(pk);
        ctl_kind_pack_record(pk, o, NULL, id, r, reveal);
    }
    recindex_view_free(&fv);
    free(id);
}
