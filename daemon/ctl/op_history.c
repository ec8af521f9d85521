/* op_history.c - the office's history and undo: `history` (unionctl log
 * without an id: every change, newest first, who, what, whose record,
 * which fields) and `revert` (one new change putting back what a change
 * replaced). Runs on the store queue's worker thread; reads the store's
 * history (store_log) and writes through ctl_commit_records. Never logs
 * field values; commit messages name fields, never values. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/optable.h"

#include "daemon/util/clock.h"
#include "daemon/util/log.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Changes writing more records than this are listed with their count only
 * (an import of 4,000 members is one line, not 4,000 names). */
#define HISTORY_DETAIL_MAX 20
/* Records named per change in the history. */
#define HISTORY_NAMES_MAX 3
/* Short change id shown and accepted. */
#define CHANGE_ID_SHOWN 10
#define CHANGE_ID_MIN 6

/* ---- what a change was ------------------------------------------------------ */

/* "add", "edit", "import", ...: the first word of the message; a commit
 * of several parents is a "sync merge" whatever it says. */
static void change_what(char *out, size_t len, const store_change_info *c)
{
    if (c->parents > 1) {
        snprintf(out, len, "sync merge");
        return;
    }
    size_t n = strcspn(c->message, " \n");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), c->message);
}

/* ---- history ------------------------------------------------------------------ */

typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msg_arr arr;
    int reveal;
    int64_t since, until; /* seconds; 0: no bound */
    char *by, *node;
    int64_t limit; /* -1: none */
    int64_t n;
} history_acc;

/* {id, name, changes: [{field, from, to}]} of one delta whose bytes were
 * read; a delta that does not decode is listed without changes. */
static void history_pack_record(msgpack_packer *pk, const store_delta *d, int reveal)
{
    record oldr, newr;
    char err[128];
    ctl_diff df;
    record_init(&oldr);
    record_init(&newr);
    int ok = (!d->old_buf || record_decode(&oldr, d->old_buf, d->old_len, err, sizeof err) == 0) &&
             record_decode(&newr, d->new_buf, d->new_len, err, sizeof err) == 0;
    memset(&df, 0, sizeof df);
    if (ok && ctl_diff_make(&df, &oldr, &newr, reveal) != 0) {
        ctl_diff_free(&df);
        memset(&df, 0, sizeof df);
    }
    msg_map m;
    msg_map_open(&m, pk);
    msg_map_str(&m, "id", d->id);
    msg_map_str(&m, "name", ok ? query_display(&newr, d->id, "name") : "");
    msg_map_key(&m, "changes");
    ctl_diff_pack(pk, &df);
    msg_map_close(&m);
    ctl_diff_free(&df);
    record_free(&oldr);
    record_free(&newr);
}

static int history_wanted(const history_acc *acc, const store_change_info *c)
{
    if ((acc->since && c->time < acc->since) || (acc->until && c->time > acc->until))
        return 0;
    if (acc->by && *acc->by && strcmp(acc->by, c->operator) != 0)
        return 0;
    return !(acc->node && *acc->node && strcmp(acc->node, c->node) != 0);
}

static int history_cb(const store_change_info *c, void *arg)
{
    history_acc *acc = arg;
    char tbuf[32], what[32], summary[256];
    if (!history_wanted(acc, c))
        return 0;
    if (acc->limit >= 0 && acc->n >= acc->limit)
        return 1; /* enough: stop the walk */
    acc->n++;
    record_time_format(tbuf, sizeof tbuf, c->time * 1000);
    tbuf[19] = 'Z';
    tbuf[20] = 0;
    change_what(what, sizeof what, c);
    const char *nl = strchr(c->message, '\n');
    snprintf(summary, sizeof summary, "%.*s", nl ? (int)(nl - c->message) : 200, c->message);
    msgpack_packer *pk = &acc->pk;
    msg_map m;
    msg_arr_item(&acc->arr);
    msg_map_open(&m, pk);
    msg_map_str(&m, "commit", c->commit);
    msg_map_str(&m, "time", tbuf);
    msg_map_str(&m, "node", c->node);
    msg_map_str(&m, "operator", c->operator);
    msg_map_str(&m, "what", what);
    msg_map_str(&m, "summary", summary);
    msg_map_bool(&m, "merge", c->parents > 1);
    msg_map_int(&m, "count", (int64_t)c->ndeltas);
    msg_map_key(&m, "records");
    msg_arr a;
    msg_arr_open(&a, pk);
    for (size_t i = 0; i < c->ndeltas && c->deltas[i].new_buf; i++) {
        msg_arr_item(&a);
        history_pack_record(pk, &c->deltas[i], acc->reveal);
    }
    msg_arr_close(&a);
    msg_map_close(&m);
    return 0;
}

void op_history(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[CTL_ERRLEN];
    history_acc acc = {0};
    msgpack_sbuffer_init(&acc.buf);
    msgpack_packer_init(&acc.pk, &acc.buf, msgpack_sbuffer_write);
    msg_arr_open(&acc.arr, &acc.pk);
    acc.reveal = msg_get_bool(req, "reveal", 0);
    acc.since = msg_get_int(req, "since", 0);
    acc.until = msg_get_int(req, "until", 0);
    acc.limit = msg_get_int(req, "limit", -1);
    acc.by = msg_get_str(req, "by");
    acc.node = msg_get_str(req, "node");
    uerr rc = store_log(ctl_read_store(o), HISTORY_DETAIL_MAX, history_cb, &acc, err, sizeof err);
    if (rc < 0) {
        ctl_reply_error(pk, rc, "%s", err);
        goto cleanup;
    }
    msg_arr_close(&acc.arr);
    if (acc.reveal)
        ctl_note_reveal(req, "history", (size_t)acc.n);
    ctl_reply_ok(pk);
    msgpack_pack_str_body(pk, acc.buf.data, acc.buf.size);
cleanup:
    msgpack_sbuffer_destroy(&acc.buf);
    free(acc.by);
    free(acc.node);
}

/* ---- revert ------------------------------------------------------------------- */

/* A field a later change wrote again: (record, field, change). */
typedef struct {
    char id[RECORD_ID_MAX + 1];
    char field[SCHEMA_NAME_MAX + 1];
    char commit[CHANGE_ID_SHOWN + 1];
} later_write;

/* One record of the change reverted, its states before and after it. */
typedef struct {
    char id[RECORD_ID_MAX + 1];
    int created; /* the change created it */
    record before, after;
} revert_rec;

typedef struct {
    const char *want; /* change id prefix, or NULL: the last change of node */
    const char *node;
    int found;
    char commit[41];
    char what[32];
    revert_rec *recs;
    size_t nrecs;
    later_write *later;
    size_t nlater, caplater;
    int failed; /* out of memory or a record that does not decode */
} revert_acc;

static int later_add(revert_acc *acc, const char *id, const char *field, const char *commit)
{
    if (acc->nlater == acc->caplater) {
        size_t nc = acc->caplater ? acc->caplater * 2 : 16;
        later_write *nv = realloc(acc->later, nc * sizeof *nv);
        if (!nv)
            return -1;
        acc->later = nv;
        acc->caplater = nc;
    }
    later_write *w = &acc->later[acc->nlater++];
    snprintf(w->id, sizeof w->id, "%s", id);
    snprintf(w->field, sizeof w->field, "%s", field);
    snprintf(w->commit, sizeof w->commit, "%.*s", CHANGE_ID_SHOWN, commit);
    return 0;
}

/* Note every field the later change c wrote, per record. */
static int revert_note_later(revert_acc *acc, const store_change_info *c)
{
    for (size_t i = 0; i < c->ndeltas; i++) {
        const store_delta *d = &c->deltas[i];
        record oldr, newr;
        ctl_diff df;
        char err[128];
        record_init(&oldr);
        record_init(&newr);
        int rc = 0;
        if ((d->old_buf && record_decode(&oldr, d->old_buf, d->old_len, err, sizeof err) != 0) ||
            !d->new_buf || record_decode(&newr, d->new_buf, d->new_len, err, sizeof err) != 0) {
            record_free(&oldr);
            continue; /* unreadable: the check on the current values still holds */
        }
        if (ctl_diff_make(&df, &oldr, &newr, 1) != 0)
            rc = -1;
        for (size_t k = 0; rc == 0 && k < df.n; k++)
            if (df.changed[k])
                rc = later_add(acc, d->id, df.names[k], c->commit);
        ctl_diff_free(&df);
        record_free(&oldr);
        record_free(&newr);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Keep the records of the change reverted, with both states. */
static int revert_take(revert_acc *acc, const store_change_info *c)
{
    char err[128];
    acc->recs = calloc(c->ndeltas + 1, sizeof *acc->recs);
    if (!acc->recs)
        return -1;
    for (size_t i = 0; i < c->ndeltas; i++) {
        const store_delta *d = &c->deltas[i];
        revert_rec *r = &acc->recs[acc->nrecs++];
        snprintf(r->id, sizeof r->id, "%s", d->id);
        record_init(&r->before);
        record_init(&r->after);
        r->created = !d->has_old;
        if ((d->old_buf && record_decode(&r->before, d->old_buf, d->old_len, err, sizeof err)) ||
            !d->new_buf || record_decode(&r->after, d->new_buf, d->new_len, err, sizeof err))
            return -1;
    }
    return 0;
}

static int revert_cb(const store_change_info *c, void *arg)
{
    revert_acc *acc = arg;
    int is_it = acc->want ? strncmp(c->commit, acc->want, strlen(acc->want)) == 0
                          : c->parents <= 1 && c->ndeltas > 0 && strcmp(c->node, acc->node) == 0;
    if (!is_it) {
        if (revert_note_later(acc, c) != 0) {
            acc->failed = 1;
            return 1;
        }
        return 0;
    }
    acc->found = 1;
    snprintf(acc->commit, sizeof acc->commit, "%s", c->commit);
    change_what(acc->what, sizeof acc->what, c);
    if (c->parents > 1)
        return 1; /* refused by the caller */
    if (revert_take(acc, c) != 0)
        acc->failed = 1;
    return 1;
}

static void revert_acc_free(revert_acc *acc)
{
    for (size_t i = 0; i < acc->nrecs; i++) {
        record_free(&acc->recs[i].before);
        record_free(&acc->recs[i].after);
    }
    free(acc->recs);
    free(acc->later);
}

/* Later changes that wrote field of id, listed into out (", "-joined,
 * each once). */
static void later_names(char *out, size_t len, const revert_acc *acc, const char *id,
                        const char *field)
{
    size_t off = strlen(out);
    for (size_t i = 0; i < acc->nlater && off < len; i++) {
        const later_write *w = &acc->later[i];
        if (strcmp(w->id, id) != 0 || strcmp(w->field, field) != 0 || strstr(out, w->commit))
            continue;
        off += (size_t)snprintf(out + off, len - off, "%s%s", off ? ", " : "", w->commit);
    }
}

/* Put back, in cur (a copy of the record now), every field the change
 * wrote: single fields get the value before it (empty when it had none),
 * set elements it added are removed and those it removed added again. A
 * record it created is voided instead. Fields changed again since are
 * named in `refused` (and left alone) unless force. Returns fields
 * changed, or -1 (out of memory). */
static int revert_record(record *cur, const revert_rec *rr, const ops_ctx *o, int64_t now,
                         int force, char *refused, size_t rlen, const revert_acc *acc)
{
    if (rr->created) {
        const record_entry *w = record_field_winner(cur, "status");
        if (w && strcmp(w->value, "void") == 0)
            return 0;
        return record_write(cur, o->node, now, "status", "void") == 0 ? 1 : -1;
    }
    ctl_diff df, since;
    int changed = 0;
    memset(&since, 0, sizeof since);
    if (ctl_diff_make(&df, &rr->before, &rr->after, 1) != 0 ||
        ctl_diff_make(&since, &rr->after, cur, 1) != 0) {
        ctl_diff_free(&df);
        ctl_diff_free(&since);
        return -1;
    }
    for (size_t i = 0; i < df.n && changed >= 0; i++) {
        const char *f = df.names[i];
        if (!df.changed[i])
            continue;
        int again = 0;
        for (size_t k = 0; k < since.n; k++)
            again |= since.changed[k] && strcmp(since.names[k], f) == 0;
        if (again && !force) {
            size_t off = strlen(refused);
            snprintf(refused + off, rlen - off, "%s%s.%s (", off ? "; " : "", rr->id, f);
            later_names(refused, rlen, acc, rr->id, f);
            off = strlen(refused);
            snprintf(refused + off, rlen - off, ")");
            continue;
        }
        if (schema_field_is_set(f)) {
            for (size_t e = 0; e < rr->after.nentries && changed >= 0; e++) {
                const record_entry *x = &rr->after.entries[e];
                size_t first, n = record_field_entries(&rr->before, f, &first), had = 0;
                for (size_t j = first; strcmp(x->field, f) == 0 && j < first + n; j++)
                    had |= strcmp(rr->before.entries[j].value, x->value) == 0;
                if (strcmp(x->field, f) == 0 && !had)
                    changed =
                        record_set_remove(cur, o->node, now, f, x->value) < 0 ? -1 : changed + 1;
            }
            size_t first, n = record_field_entries(&rr->before, f, &first);
            for (size_t j = first; j < first + n && changed >= 0; j++)
                changed = record_set_add(cur, o->node, now, f, rr->before.entries[j].value) != 0
                              ? -1
                              : changed + 1;
            continue;
        }
        const record_entry *w = record_field_winner(&rr->before, f);
        changed = record_write(cur, o->node, now, f, w ? w->value : "") != 0 ? -1 : changed + 1;
    }
    ctl_diff_free(&df);
    ctl_diff_free(&since);
    return changed;
}

/* Find the change to revert; replies and returns -1 when it cannot be. */
static int revert_find(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk, revert_acc *acc,
                       char **want)
{
    char err[CTL_ERRLEN];
    *want = msg_get_str(req, "change");
    if (*want && !**want) {
        free(*want);
        *want = NULL;
    }
    if (!*want && !msg_get_bool(req, "last", 0)) {
        ctl_reply_error(pk, UERR_INVALID, "revert: give a change id (unionctl log) or --last");
        return -1;
    }
    for (const char *p = *want; p && *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) ||
            strlen(*want) < CHANGE_ID_MIN) {
            ctl_reply_error(pk, UERR_INVALID,
                            "revert: '%s' is not a change id (%d+ hex digits, from unionctl log)",
                            *want, CHANGE_ID_MIN);
            return -1;
        }
    acc->want = *want;
    acc->node = o->node;
    uerr rc = store_log(o->st, SIZE_MAX, revert_cb, acc, err, sizeof err);
    if (rc < 0) {
        ctl_reply_error(pk, rc, "%s", err);
        return -1;
    }
    if (acc->failed) {
        ctl_reply_error(pk, UERR_NOMEM, "revert: out of memory (or a damaged record)");
        return -1;
    }
    if (!acc->found) {
        ctl_reply_error(pk, UERR_NOTFOUND, "revert: no change %s here (unionctl log lists them)",
                        *want ? *want : "of this node");
        return -1;
    }
    if (strcmp(acc->what, "sync merge") == 0) {
        ctl_reply_error(pk, UERR_INVALID,
                        "revert: %.10s is a sync merge (it joined other nodes' changes); revert "
                        "those changes instead",
                        acc->commit);
        return -1;
    }
    return 0;
}

void op_revert(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    revert_acc acc = {0};
    char *want = NULL, err[CTL_ERRLEN], opbuf[64], msg[512], refused[CTL_ERRLEN] = "";
    int force = msg_get_bool(req, "force", 0);
    record *recs = NULL;
    char **ids = NULL;
    size_t n = 0;
    int64_t total = 0;
    if (revert_find(o, req, pk, &acc, &want) != 0)
        goto cleanup;
    recs = calloc(acc.nrecs + 1, sizeof *recs);
    ids = calloc(acc.nrecs + 1, sizeof *ids);
    if (!recs || !ids)
        goto oom;
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < acc.nrecs; i++) {
        int got = recindex_get_copy(&recs[n], &o->ix, acc.recs[i].id);
        if (got < 0)
            goto oom;
        if (got == 0)
            continue;
        int ch =
            revert_record(&recs[n], &acc.recs[i], o, now, force, refused, sizeof refused, &acc);
        if (ch < 0) {
            record_free(&recs[n]);
            goto oom;
        }
        if (ch == 0) {
            record_free(&recs[n]);
            continue;
        }
        ids[n++] = acc.recs[i].id;
        total += ch;
    }
    if (*refused) {
        ctl_reply_error(pk, UERR_CONFLICT,
                        "revert: changed again since %.10s: %s; revert those first, or --force "
                        "puts back the older values anyway",
                        acc.commit, refused);
        goto cleanup;
    }
    if (n > 0) {
        snprintf(msg, sizeof msg, "revert %.10s\n\nreverts: %s %s\nrecords: %zu\n", acc.commit,
                 acc.what, acc.commit, n);
        uerr e = ctl_commit_records(o, ids, recs, n, n > 1, ctl_operator(req, opbuf, sizeof opbuf),
                                    msg, err, sizeof err);
        if (e != UERR_OK) {
            ctl_reply_error(pk, e, "%s", err);
            goto cleanup;
        }
        if (force)
            log_msg(LOG_INFO, "revert of %.10s forced (--force)", acc.commit);
    }
    msg_map m;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "change", acc.commit);
    msg_map_str(&m, "what", acc.what);
    msg_map_int(&m, "records", (int64_t)n);
    msg_map_int(&m, "fields", total);
    msg_map_close(&m);
    goto cleanup;
oom:
    ctl_reply_error(pk, UERR_NOMEM, "revert: out of memory; nothing written");
cleanup:
    /* ctl_commit_records took the contents of recs[0..n) on success; on a
     * refusal they are still ours */
    for (size_t i = 0; recs && i < n; i++)
        record_free(&recs[i]);
    free(recs);
    free(ids);
    free(want);
    revert_acc_free(&acc);
}
