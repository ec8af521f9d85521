/* op_schema.c - an office's own schema: the fields it declared (`unionctl
 * field add`) and the category values it added (`unionctl field value
 * add`), kept in the store as two records so they replicate, merge and
 * keep history exactly like members:
 *   schema/schemafields    one field per declared field, its value
 *                          "TYPE PRIVATE LABEL" ("date 0 入职日期")
 *   schema/schemacategory  the set field "values", one element per
 *                          addition: "NEWFORM;VALUE;ALIAS;..." ("1;骑手;跑腿")
 * (record_path puts ids starting with "schema" under "schema/".) The
 * requests fields, field_add and field_value_add (docs/CONTROL.md).
 *
 * The declarations are process-wide (proto/schema.h, proto/vocab.h) and
 * not thread-safe: they change only here, on the store queue's worker
 * thread, which runs one job at a time, so no validation runs meanwhile.
 * Never logs labels or values. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"

#include "daemon/util/clock.h"
#include "daemon/util/log.h"
#include "proto/schema.h"
#include "proto/schema_decl.h"
#include "proto/vocab.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_FIELDS_ID SCHEMA_DECL_FIELDS_ID
#define SCHEMA_CATEGORY_ID SCHEMA_DECL_CATEGORY_ID

/* ---- applying the stored declarations --------------------------------------- */

/* Make the process-wide schema what the two stored records say: forget
 * every run-time declaration, then declare again in the records' order
 * (the same on every node that holds the same records). The byte form and
 * the rules are proto/schema_decl.h's, shared with the store's take-in. */
static void schema_records_apply(ops_ctx *o)
{
    /* two records at once: two views */
    recindex_view fv = RECINDEX_VIEW_INIT, cv = RECINDEX_VIEW_INIT;
    size_t skipped = schema_decl_apply(recindex_view_get(&fv, &o->decl, SCHEMA_FIELDS_ID),
                                       recindex_view_get(&cv, &o->decl, SCHEMA_CATEGORY_ID));
    recindex_view_free(&fv);
    recindex_view_free(&cv);
    if (skipped)
        log_msg(LOG_WARN,
                "%zu declaration(s) in the store were skipped (unreadable, or refused "
                "by this version's schema)",
                skipped);
}

int schema_record_changed(ops_ctx *o, const char *id, const char *buf, size_t len)
{
    record r;
    char err[256];
    assert(record_id_is_schema(id));
    if (record_decode(&r, buf, len, err, sizeof err) != 0) {
        log_msg(LOG_ERR, "schema record %s in the store does not decode: %s", id, err);
        return 1;
    }
    if (recindex_put(&o->decl, id, &r) != 0) {
        record_free(&r);
        return 2;
    }
    schema_records_apply(o);
    return 0;
}

uerr schema_records_load(ops_ctx *o, char *err, size_t errlen)
{
    static const char *const ids[] = {SCHEMA_FIELDS_ID, SCHEMA_CATEGORY_ID};
    for (size_t i = 0; i < 2; i++) {
        char *buf = NULL;
        size_t len = 0;
        uerr e = store_read(o->st, &buf, &len, ids[i], err, errlen);
        if (e == UERR_NOTFOUND)
            continue;
        if (e != UERR_OK)
            return e;
        int rc = schema_record_changed(o, ids[i], buf, len);
        free(buf);
        if (rc)
            return uerr_set(err, errlen, rc == 2 ? UERR_NOMEM : UERR_IO,
                            "the schema record %s is damaged (see the log); run git fsck", ids[i]);
    }
    schema_records_apply(o);
    return UERR_OK;
}

/* Commit the new version r of schema record id (then held in o->decl).
 * On failure the declarations are put back as the store has them. */
static uerr schema_commit(ops_ctx *o, const char *id, record *r, const msgpack_object *req,
                          const char *message, char *err, size_t errlen)
{
    char *buf = NULL, opbuf[64];
    size_t len;
    uerr e;
    /* what the take-in of every peer will check: never write less */
    if ((e = schema_decl_record_check(id, r, err, errlen)) != UERR_OK) {
        e = UERR_INTERNAL;
        goto cleanup;
    }
    if (record_encode(&buf, &len, r) != 0) {
        e = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    store_change ch = {.id = id, .buf = buf, .len = len};
    int rc = store_commit(o->st, &ch, 1, 0, ctl_operator(req, opbuf, sizeof opbuf), message, err,
                          errlen);
    if (rc != 0) {
        e = rc < 0 ? (uerr)rc : UERR_INTERNAL;
        goto cleanup;
    }
    e = recindex_put(&o->decl, id, r) == 0 ? UERR_OK
                                           : uerr_set(err, errlen, UERR_NOMEM, "out of memory");
cleanup:
    free(buf);
    if (e != UERR_OK)
        schema_records_apply(o);
    return e;
}

/* A copy of schema record id as stored (empty if there is none yet). */
static int schema_copy(record *out, const ops_ctx *o, const char *id)
{
    return recindex_get_copy(out, &o->decl, id) < 0 ? -1 : 0;
}

/* ---- requests ----------------------------------------------------------------- */

static void pack_words(msgpack_packer *pk, const char *const *w, size_t n)
{
    msg_arr a;
    msg_arr_open(&a, pk);
    for (size_t i = 0; w && i < n; i++) {
        msg_arr_item(&a);
        msg_pack_str(pk, w[i]);
    }
    msg_arr_close(&a);
}

void op_fields(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    size_t nf, nv;
    const schema_field *f = schema_fields(&nf);
    const vocab_value *v;
    msg_map m, e;
    msg_arr a;
    (void)o;
    (void)req;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_key(&m, "fields");
    msg_arr_open(&a, pk);
    for (size_t i = 0; i < nf; i++) {
        size_t na = 0;
        while (f[i].aliases && f[i].aliases[na])
            na++;
        msg_arr_item(&a);
        msg_map_open(&e, pk);
        msg_map_str(&e, "name", f[i].name);
        msg_map_str(&e, "type", schema_type_name(f[i].type));
        msg_map_str(&e, "label", f[i].label ? f[i].label : "");
        msg_map_key(&e, "aliases");
        pack_words(pk, f[i].aliases, na);
        msg_map_bool(&e, "private", f[i].is_private || schema_field_is_masked(f[i].name));
        msg_map_bool(&e, "declared", f[i].declared);
        msg_map_close(&e);
    }
    msg_arr_close(&a);
    msg_map_key(&m, "categories");
    nv = vocab_values("category", &v);
    msg_arr_open(&a, pk);
    for (size_t i = 0; i < nv; i++) {
        msg_arr_item(&a);
        msg_map_open(&e, pk);
        msg_map_str(&e, "value", v[i].value);
        msg_map_key(&e, "aliases");
        pack_words(pk, (const char *const *)v[i].aliases, v[i].naliases);
        msg_map_bool(&e, "new_form", v[i].new_form);
        msg_map_bool(&e, "builtin", v[i].builtin);
        msg_map_close(&e);
    }
    msg_arr_close(&a);
    msg_map_close(&m);
}

/* Read the request of field_add into name, its type and a normalised
 * label (*label malloc'd or NULL). UERR_OK or UERR_INVALID with err. */
static uerr field_add_read(char **name, schema_type *t, char **label, const msgpack_object *req,
                           char *err, size_t errlen)
{
    char *type = msg_get_str(req, "type"), *raw = msg_get_str(req, "label");
    uerr e = UERR_OK;
    *name = msg_get_str(req, "name");
    *label = NULL;
    if (!*name || !schema_name_valid(*name))
        e = uerr_set(err, errlen, UERR_INVALID,
                     "field add: '%s' is not a field name ([a-z][a-z0-9_]*, at most %d)",
                     *name ? *name : "", SCHEMA_NAME_MAX);
    else if (schema_type_parse(t, type ? type : "text", err, errlen) != UERR_OK)
        e = UERR_INVALID;
    else if (raw && *raw && schema_text_normalize(label, raw, strlen(raw)) != UERR_OK)
        e = uerr_set(err, errlen, UERR_INVALID, "--label: not valid UTF-8");
    else if (*label && (strchr(*label, '\n') || strlen(*label) > SCHEMA_LABEL_MAX))
        e = uerr_set(err, errlen, UERR_INVALID, "--label: one line of at most %d bytes",
                     SCHEMA_LABEL_MAX);
    free(type);
    free(raw);
    return e;
}

void op_field_add(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[CTL_ERRLEN], *name = NULL, *label = NULL, value[SCHEMA_LABEL_MAX + 48], msg[128];
    schema_type t = SCHEMA_TEXT;
    int priv = msg_get_bool(req, "private", 0), changed = 0;
    record r;
    msg_map m;
    uerr e;
    record_init(&r);
    if ((e = field_add_read(&name, &t, &label, req, err, sizeof err)) != UERR_OK)
        goto refuse;
    /* The declaration itself is the check (built-in names, labels another
     * field answers to, another type): refused here, nothing is written. */
    if ((e = schema_field_declare(name, t, label, priv, err, sizeof err)) != UERR_OK)
        goto refuse;
    schema_decl_field_format(value, sizeof value, t, priv, label);
    if (schema_copy(&r, o, SCHEMA_FIELDS_ID) != 0) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
        goto refuse;
    }
    size_t first, ne = record_field_entries(&r, name, &first);
    const record_entry *w = record_field_winner(&r, name);
    if (ne != 1 || strcmp(w->value, value) != 0) {
        if (record_write(&r, o->node, clock_now_ms(), name, value) != 0) {
            e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
            schema_records_apply(o);
            goto refuse;
        }
        snprintf(msg, sizeof msg, "declare field %s\n", name);
        if ((e = schema_commit(o, SCHEMA_FIELDS_ID, &r, req, msg, err, sizeof err)) != UERR_OK)
            goto refuse;
        changed = 1;
    }
    log_msg(LOG_INFO, "field %s declared (%s)", name, schema_type_name(t));
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "name", name);
    msg_map_str(&m, "type", schema_type_name(t));
    msg_map_bool(&m, "changed", changed);
    msg_map_close(&m);
    goto cleanup;
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    record_free(&r);
    free(name);
    free(label);
}

/* The words of field_value_add, normalised: w[0] the value, then the
 * aliases. *n receives the count. UERR_OK or UERR_INVALID/NOMEM + err. */
static uerr value_words_read(char **w, size_t *n, const msgpack_object *req, char *err,
                             size_t errlen)
{
    char *v = msg_get_str(req, "value");
    const msgpack_object_array *al = msg_get_array(req, "aliases");
    uerr e = UERR_OK;
    *n = 0;
    if (!v || !*v)
        e = uerr_set(err, errlen, UERR_INVALID, "field value add: give the value");
    else if (al && al->size > VOCAB_ALIASES_MAX)
        e = uerr_set(err, errlen, UERR_INVALID, "field value add: at most %d aliases",
                     VOCAB_ALIASES_MAX);
    for (uint32_t i = 0; e == UERR_OK && i <= (al ? al->size : 0); i++) {
        char *raw = i == 0 ? v : msg_str_dup(&al->ptr[i - 1]);
        if (!raw || schema_text_normalize(&w[*n], raw, strlen(raw)) != UERR_OK)
            e = uerr_set(err, errlen, UERR_INVALID, "field value add: a word is not valid UTF-8");
        else
            (*n)++;
        if (i > 0)
            free(raw);
    }
    free(v);
    return e;
}

void op_field_value_add(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[CTL_ERRLEN], *field = msg_get_str(req, "field"), *w[VOCAB_ALIASES_MAX + 1] = {0};
    char elem[SCHEMA_DECL_ELEM_MAX], msg[128];
    size_t nw = 0, off;
    int new_form = msg_get_bool(req, "new_form", 0), changed = 0;
    record r;
    msg_map m;
    uerr e;
    record_init(&r);
    if (!field || strcmp(field, "category") != 0) {
        e = uerr_set(err, sizeof err, UERR_INVALID,
                     "field value add: only the category list can be extended (not '%s')",
                     field ? field : "");
        goto refuse;
    }
    if ((e = value_words_read(w, &nw, req, err, sizeof err)) != UERR_OK ||
        (e = vocab_value_add(field, w[0], (const char *const *)w + 1, nw - 1, new_form, err,
                             sizeof err)) != UERR_OK)
        goto refuse;
    off = (size_t)snprintf(elem, sizeof elem, "%d", new_form ? 1 : 0);
    for (size_t i = 0; i < nw; i++)
        off += (size_t)snprintf(elem + off, sizeof elem - off, ";%s", w[i]);
    if (schema_copy(&r, o, SCHEMA_CATEGORY_ID) != 0) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
        goto refuse;
    }
    size_t first, ne = record_field_entries(&r, SCHEMA_DECL_VALUES_FIELD, &first), have = 0;
    for (size_t i = first; i < first + ne; i++)
        have |= strcmp(r.entries[i].value, elem) == 0;
    if (!have) {
        if (record_set_add(&r, o->node, clock_now_ms(), SCHEMA_DECL_VALUES_FIELD, elem) != 0) {
            e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory");
            schema_records_apply(o);
            goto refuse;
        }
        snprintf(msg, sizeof msg, "add a category value\n");
        if ((e = schema_commit(o, SCHEMA_CATEGORY_ID, &r, req, msg, err, sizeof err)) != UERR_OK)
            goto refuse;
        changed = 1;
    }
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "value", w[0]);
    msg_map_bool(&m, "changed", changed);
    msg_map_close(&m);
    goto cleanup;
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    record_free(&r);
    for (size_t i = 0; i < nw; i++)
        free(w[i]);
    free(field);
}
