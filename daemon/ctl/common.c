/* common.c - replies, assignments, commits and request parsing shared by
 * the control request handlers (see common.h), and the index loading main
 * and the peers use (ops.h). Runs on the store queue's worker thread. Every
 * write validates everything first and writes nothing when any value is
 * refused; a reply is sent only after store_commit made the change durable.
 * Never calls a handler. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/scan.h"
#include "daemon/store/recsnap.h"

#include "daemon/util/clock.h"
#include "daemon/util/log.h"
#include "proto/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- replies --------------------------------------------------------------- */

void ctl_reply_error(msgpack_packer *pk, uerr e, const char *fmt, ...)
{
    char msg[CTL_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    msg_map m;
    msg_map_open(&m, pk);
    msg_map_bool(&m, "ok", 0);
    msg_map_str(&m, "error", msg);
    msg_map_str(&m, "code", uerr_name(e));
    msg_map_close(&m);
}

void ctl_reply_text(msgpack_packer *pk, uerr e, const char *msg)
{
    msg_map m;
    msg_map_open(&m, pk);
    msg_map_bool(&m, "ok", 0);
    msg_map_str(&m, "error", msg);
    msg_map_str(&m, "code", uerr_name(e));
    msg_map_close(&m);
}

void ctl_reply_ok(msgpack_packer *pk)
{
    msg_map m;
    msg_map_open(&m, pk);
    msg_map_bool(&m, "ok", 1);
    msg_map_key(&m, "result");
    msg_map_close(&m); /* the count is final; the caller's value ends the map */
}

/* ---- loading ---------------------------------------------------------------- */

uerr ops_load(ops_ctx *o, char *err, size_t errlen)
{
    /* the rows are numbered anew */
    o->idrange_rows = 0;
    o->idmin[0] = o->idmax[0] = 0;
    o->nlink_rows = 0;
    o->link_upto = 0;
    /* the secondary indexes first: filled as the records are put */
    for (size_t f = 0; f < scan_nindexed_fields; f++)
        if (recindex_index_field(&o->ix, scan_indexed_fields[f]) != UERR_OK)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory indexing records");
    if (recindex_tally_fields(&o->ix, scan_tallied_fields, scan_ntallied_fields) != UERR_OK)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory indexing records");
    int from_snap;
    int rc = store_load_index(o->st, &o->ix, ops_index_changed, o, &from_snap, err, errlen);
    if (rc > 0)
        return uerr_set(err, errlen, UERR_IO,
                        "a record in the store is damaged (see the log); run git fsck");
    if (rc)
        return (uerr)rc;
    /* the records copied from the snapshot did not pass ops_index_changed:
     * note their person keys (a record noted already is skipped); three
     * keys a member at most, the table sized once */
    if (from_snap && persons_reserve(o, 3 * o->ix.count) != UERR_OK)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory indexing records");
    for (uint32_t row = 0; from_snap && row < o->ix.count; row++)
        if (persons_add_item(o, recindex_row(&o->ix, row)) != UERR_OK)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory indexing records");
    return schema_records_load(o, err, errlen);
}

/* Index update for a record of the head: at load, and for records a merge
 * or fast-forward changed. */
int ops_index_changed(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    ops_ctx *o = arg;
    record r;
    char err[256];
    if (record_id_is_schema(id))
        return schema_record_changed(o, id, buf, len);
    if (record_decode(&r, buf, len, err, sizeof err) != 0) {
        log_msg(LOG_ERR, "record %s in the store does not decode: %s", id, err);
        return 1;
    }
    persons_remove(o, id);
    if (recindex_put_kind(&o->ix, kind, id, &r) != 0) {
        record_free(&r);
        return 2;
    }
    return persons_add(o, id) == UERR_OK ? 0 : 2;
}

void ops_free(ops_ctx *o)
{
    persons_free(o);
    free(o->link_rows);
    o->link_rows = NULL;
    o->nlink_rows = o->link_rows_cap = 0;
    recindex_free(&o->ix);
    recindex_free(&o->decl);
    if (o->view_on) {
        pthread_mutex_destroy(&o->view_mu);
        o->view_on = 0;
    }
}

/* ---- writes ----------------------------------------------------------------- */

void ctl_assignments_free(assignment *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        if (!(a[i].lent & CTL_LENT_FIELD))
            free(a[i].field);
        if (!(a[i].lent & CTL_LENT_OP))
            free(a[i].op);
        if (!(a[i].lent & CTL_LENT_VALUE))
            free(a[i].value);
    }
    free(a);
}

void ctl_assignment_set_value(assignment *a, char *v)
{
    if (!(a->lent & CTL_LENT_VALUE))
        free(a->value);
    a->value = v;
    a->lent &= ~CTL_LENT_VALUE;
}

uerr ctl_assignments_read(assignment **out, size_t *nout, const msgpack_object *req, char *err,
                          size_t errlen)
{
    const msgpack_object_array *arr = msg_get_array(req, "fields");
    *out = NULL;
    *nout = 0;
    if (!arr || arr->size == 0)
        return uerr_set(err, errlen, UERR_INVALID, "no FIELD=VALUE given");
    assignment *a = calloc(arr->size, sizeof *a);
    if (!a)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < arr->size; i++) {
        const msgpack_object *t = &arr->ptr[i];
        if (t->type == MSGPACK_OBJECT_ARRAY && t->via.array.size == 3) {
            a[i].field = msg_str_dup(&t->via.array.ptr[0]);
            a[i].op = msg_str_dup(&t->via.array.ptr[1]);
            a[i].value = msg_str_dup(&t->via.array.ptr[2]);
        }
        if (!a[i].field || !a[i].op || !a[i].value) {
            ctl_assignments_free(a, arr->size);
            return uerr_set(err, errlen, UERR_INVALID, "malformed request: fields[%u]", i);
        }
    }
    *out = a;
    *nout = arr->size;
    return UERR_OK;
}

/* The operator and field name rules of one assignment. */
static uerr assignment_check_form(const assignment *a, int set, char *err, size_t errlen)
{
    if (strcmp(a->field, "id") == 0)
        return uerr_set(err, errlen, UERR_INVALID, "id: the record id cannot be changed");
    if (strcmp(a->op, "=") != 0 && strcmp(a->op, "+=") != 0 && strcmp(a->op, "-=") != 0)
        return uerr_set(err, errlen, UERR_INVALID, "%s: unknown operator '%s'", a->field, a->op);
    if (!set && strcmp(a->op, "=") != 0)
        return uerr_set(err, errlen, UERR_INVALID,
                        "%s: += and -= work on set fields only (benefits)", a->field);
    return UERR_OK;
}

/* One value of field sf (resolved already; NULL: a->field is not a field,
 * and the schema's own refusal is wanted) normalised into *norm. 0 or
 * UERR_INVALID / UERR_NOMEM with err. */
static uerr value_check(char **norm, const schema_field *sf, const char *field, const char *v,
                        const char *today, char *err, size_t errlen)
{
    if (!sf)
        return schema_value_check(norm, field, v, today, err, errlen) != 0 ? UERR_INVALID : UERR_OK;
    schema_norm n;
    uerr e = schema_field_value_normalize(&n, sf, v, today, err, errlen);
    *norm = n.value;
    return e;
}

/* Normalise each ';'-separated element of a set assignment in place. */
static uerr assignment_check_set(assignment *a, const schema_field *sf, const char *today,
                                 char *err, size_t errlen)
{
    char *out = calloc(1, strlen(a->value) * 4 + 2);
    size_t olen = 0;
    char *save = NULL, *copy = strdup(a->value);
    uerr e = UERR_OK;
    if (!out || !copy) {
        e = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *norm = NULL;
        if (value_check(&norm, sf, a->field, tok, today, err, errlen) != UERR_OK) {
            e = UERR_INVALID;
            goto cleanup;
        }
        olen += (size_t)sprintf(out + olen, "%s%s", olen ? ";" : "", norm);
        free(norm);
    }
    if (olen == 0) {
        e = uerr_set(err, errlen, UERR_INVALID, "%s: give at least one element", a->field);
        goto cleanup;
    }
    ctl_assignment_set_value(a, out);
    out = NULL;
cleanup:
    free(out);
    free(copy);
    return e;
}

/* Set fields accept several elements separated by ';' for "=" and "+=". */
uerr ctl_assignment_check(assignment *a, const char *today, char *err, size_t errlen)
{
    const schema_field *sf = NULL;
    /* 手机=..., ｐｈｏｎｅ=... name phone; an unknown name is refused with
     * the nearest one, never stored as a free field */
    if (strcmp(a->field, "id") != 0) {
        if (schema_field_resolve(&sf, a->field, err, errlen) != UERR_OK)
            return UERR_INVALID;
        if (strcmp(sf->name, a->field) != 0) {
            char *canon = strdup(sf->name);
            if (!canon)
                return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
            if (!(a->lent & CTL_LENT_FIELD))
                free(a->field);
            a->field = canon;
            a->lent &= ~CTL_LENT_FIELD;
        }
    }
    return ctl_assignment_check_field(a, sf, today, err, errlen);
}

uerr ctl_assignment_check_field(assignment *a, const schema_field *sf, const char *today, char *err,
                                size_t errlen)
{
    /* sf is the field itself (a->field is its name): resolved once for the
     * form, the set test and the value */
    int set = sf && sf->type == SCHEMA_SET;
    uerr e = assignment_check_form(a, set, err, errlen);
    if (e != UERR_OK)
        return e;
    if (set)
        return assignment_check_set(a, sf, today, err, errlen);
    char *norm = NULL;
    if (value_check(&norm, sf, a->field, a->value, today, err, errlen) != UERR_OK)
        return UERR_INVALID;
    ctl_assignment_set_value(a, norm);
    return UERR_OK;
}

uerr ctl_assignments_unique(const assignment *a, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (schema_field_is_set(a[i].field))
            continue; /* benefits+=a benefits+=b is two additions */
        for (size_t j = 0; j < i; j++)
            if (strcmp(a[i].field, a[j].field) == 0)
                return uerr_set(err, errlen, UERR_INVALID, "%s: given twice; give each field once",
                                a[i].field);
    }
    return UERR_OK;
}

/* Add or remove each ';'-separated element of a set assignment. Returns the
 * number of elements changed, or -1. */
static int apply_set(record *r, const assignment *a, const char *node, int64_t now)
{
    char *copy = strdup(a->value), *save = NULL;
    int changed = 0;
    if (!copy)
        return -1;
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        int rc;
        if (strcmp(a->op, "-=") == 0) {
            rc = record_set_remove(r, node, now, a->field, tok);
        } else {
            size_t first, ne = record_field_entries(r, a->field, &first), have = 0;
            for (size_t j = first; j < first + ne; j++)
                have |= strcmp(r->entries[j].value, tok) == 0;
            rc = have ? 0 : (record_set_add(r, node, now, a->field, tok) == 0 ? 1 : -1);
        }
        if (rc < 0) {
            free(copy);
            return -1;
        }
        changed += rc;
    }
    free(copy);
    return changed;
}

/* Single-valued fields are written only when the value differs from what
 * is displayed or the field is in conflict (then the write resolves it). */
int ctl_assignments_apply(record *r, const assignment *a, size_t n, const char *node, int64_t now)
{
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (schema_field_is_set(a[i].field)) {
            int rc = apply_set(r, &a[i], node, now);
            if (rc < 0)
                return -1;
            changed += rc;
            continue;
        }
        size_t first, ne = record_field_entries(r, a[i].field, &first);
        const record_entry *w = record_field_winner(r, a[i].field);
        int same = ne == 1 && w && strcmp(w->value, a[i].value) == 0;
        if (same || (ne == 0 && a[i].value[0] == 0))
            continue;
        if (record_write(r, node, now, a[i].field, a[i].value) != 0)
            return -1;
        changed++;
    }
    return changed;
}

int ctl_record_defaults(record *r, const ops_ctx *o, int64_t now, const char *today)
{
    size_t first;
    if (!record_field_entries(r, "office", &first) &&
        record_write(r, o->node, now, "office", o->office) != 0)
        return -1;
    if (!record_field_entries(r, "joined", &first) &&
        record_write(r, o->node, now, "joined", today) != 0)
        return -1;
    if (!record_field_entries(r, "status", &first) &&
        record_write(r, o->node, now, "status", "active") != 0)
        return -1;
    return 0;
}

void ctl_new_id(char out[RECORD_ID_LEN + 1], const recindex *ix, int64_t now)
{
    do {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            rnd = (uint64_t)now * 6364136223846793005ull + (uint64_t)clock();
        record_id_make(out, now, rnd);
    } while (recindex_has(ix, out));
}

uerr ctl_commit_records(ops_ctx *o, char **ids, record *recs, size_t n, int bulk,
                        const char *operator, const char * message, char *err, size_t errlen)
{
    return ctl_commit_kind(o, KIND_NONE, ids, recs, n, bulk, operator, message, err, errlen);
}

uerr ctl_commit_kind(ops_ctx *o, record_kind kind, char **ids, record *recs, size_t n, int bulk,
                     const char *operator, const char * message, char *err, size_t errlen)
{
    store_change *ch = calloc(n, sizeof *ch);
    char **bufs = calloc(n, sizeof *bufs);
    uerr e = UERR_OK;
    if (!ch || !bufs) {
        e = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if (record_encode(&bufs[i], &len, &recs[i]) != 0) {
            e = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
            goto cleanup;
        }
        /* a record already indexed keeps its kind; a new one is `kind`
         * (KIND_NONE: a member) */
        record_kind k = recindex_kind(&o->ix, ids[i]);
        ch[i].kind = k ? k : (kind ? kind : KIND_MEMBER);
        ch[i].id = ids[i];
        ch[i].buf = bufs[i];
        ch[i].len = len;
    }
    /* The store's own code says whose fault a refusal is. */
    int rc = store_commit(o->st, ch, n, bulk, operator, message, err, errlen);
    if (rc != 0) {
        e = rc < 0 ? (uerr)rc : UERR_INTERNAL;
        goto cleanup;
    }
    /* the readers see the whole commit or none of it (recindex.h) */
    recindex_write_lock(&o->ix);
    for (size_t i = 0; i < n; i++) {
        persons_remove(o, ids[i]);
        if (recindex_put_kind(&o->ix, ch[i].kind, ids[i], &recs[i]) != 0 ||
            persons_add(o, ids[i]) != UERR_OK) {
            /* The store has it; the index is now stale. Refuse to go on
             * with a wrong view rather than answer queries from it. */
            log_msg(LOG_ERR, "out of memory updating the index; exiting");
            abort();
        }
    }
    recindex_unlock(&o->ix);
cleanup:
    for (size_t i = 0; bufs && i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(ch);
    return e;
}

uerr ctl_commit_one(ops_ctx *o, const msgpack_object *req, char *id, record *r, const char *message,
                    msgpack_packer *pk)
{
    char err[CTL_ERRLEN], opbuf[64];
    char *ids[1] = {id};
    uerr e = ctl_commit_records(o, ids, r, 1, 0, ctl_operator(req, opbuf, sizeof opbuf), message,
                                err, sizeof err);
    if (e != UERR_OK)
        ctl_reply_error(pk, e, "%s", err);
    return e;
}

/* ---- requests --------------------------------------------------------------- */

const char *ctl_operator(const msgpack_object *req, char *buf, size_t len)
{
    char *op = msg_get_str(req, "operator");
    int ok = op && *op && strlen(op) < 64;
    for (const char *p = op; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '_' || *p == '-';
    snprintf(buf, len, "%s", ok ? op : "unknown");
    free(op);
    return buf;
}

/* 1 if r is a live record: not merged away, not voided. */
static int lookup_live(const recindex *ix, const recindex_item *it)
{
    const char *st = recindex_item_shown(ix, it, "status");
    return strcmp(st, "merged") != 0 && strcmp(st, "void") != 0;
}

/* What a clerk typed, normalised as the field would be stored: the ID
 * number (spaces, lowercase x, full width, 15 digits) and the phone. */
typedef struct {
    char *idnum, *phone;
    const char *prefix; /* q itself when it may be an id prefix, else NULL */
} lookup_key;

static void lookup_key_make(lookup_key *k, const char *q, size_t ix_id_max)
{
    char today[11], err[256], packed[256];
    size_t n = 0;
    clock_today(today);
    memset(k, 0, sizeof *k);
    /* "330203 19850312 106x", "138-1234-5678": as read off a card */
    for (const char *p = q; *p && n + 1 < sizeof packed; p++)
        if (*p != ' ' && *p != '-')
            packed[n++] = *p;
    packed[n] = 0;
    if (schema_value_check(&k->idnum, "id_number", packed, today, err, sizeof err) != 0 ||
        !*k->idnum) {
        free(k->idnum);
        k->idnum = NULL;
    }
    if (schema_value_check(&k->phone, "phone", packed, today, err, sizeof err) != 0 || !*k->phone) {
        free(k->phone);
        k->phone = NULL;
    }
    if (strlen(q) >= CTL_ID_PREFIX_MIN && record_id_valid(q) && strlen(q) < ix_id_max)
        k->prefix = q;
}

static int lookup_key_matches(const lookup_key *k, const recindex *ix, const recindex_item *it)
{
    if (k->prefix && strncmp(it->id, k->prefix, strlen(k->prefix)) == 0)
        return 1;
    if (k->idnum && strcmp(recindex_item_shown(ix, it, "id_number"), k->idnum) == 0)
        return 1;
    return k->phone && strcmp(recindex_item_shown(ix, it, "phone"), k->phone) == 0;
}

/* 1 if some record id of the index may start with prefix: it lies within
 * the least and greatest id held (o->idmin, o->idmax, first brought up to
 * the rows added since the last lookup). Ids sort as strings, so an id
 * starting with prefix has its first strlen(prefix) bytes between theirs. */
pthread_mutex_t ctl_lazy_mu = PTHREAD_MUTEX_INITIALIZER;

static int lookup_prefix_possible(ops_ctx *o, const char *prefix)
{
    size_t len = strlen(prefix);
    int possible;
    pthread_mutex_lock(&ctl_lazy_mu);
    for (; o->idrange_rows < o->ix.count; o->idrange_rows++) {
        const char *id = recindex_row(&o->ix, o->idrange_rows)->id;
        if (!o->idmin[0] || strcmp(id, o->idmin) < 0)
            snprintf(o->idmin, sizeof o->idmin, "%s", id);
        if (strcmp(id, o->idmax) > 0)
            snprintf(o->idmax, sizeof o->idmax, "%s", id);
    }
    possible =
        o->idmin[0] && strncmp(prefix, o->idmin, len) >= 0 && strncmp(prefix, o->idmax, len) <= 0;
    pthread_mutex_unlock(&ctl_lazy_mu);
    return possible;
}

/* "several records match": one line per match, masked, in err. */
static void lookup_list(char *err, size_t errlen, const char *q, const char **ids, size_t n,
                        const ops_ctx *o)
{
    size_t off = (size_t)snprintf(
        err, errlen, "%zu records match %s; give the record id of the one meant:", n, q);
    for (size_t i = 0; i < n && off < errlen; i++) {
        const recindex_item *it = recindex_find(&o->ix, ids[i]);
        char *idm = schema_value_mask("id_number", scan_display(&o->ix, it, "id_number"));
        char *phm = schema_value_mask("phone", scan_display(&o->ix, it, "phone"));
        off += (size_t)snprintf(err + off, errlen - off, "\n  %s  %s  %s  %s  %s", ids[i],
                                scan_display(&o->ix, it, "name"), idm ? idm : "", phm ? phm : "",
                                scan_display(&o->ix, it, "status"));
        free(idm);
        free(phm);
    }
}

/* The matches of a lookup: live records first (a duplicate merged away
 * still holds the ID number, but the member is the record it went into). */
typedef struct {
    const recindex *ix;
    const char *ids[CTL_LOOKUP_SHOW], *dead[CTL_LOOKUP_SHOW];
    size_t nlive, ndead;
} lookup_found;

static void lookup_found_add(void *arg, const recindex_item *it)
{
    lookup_found *f = arg;
    if (record_id_is_schema(it->id))
        return;
    if (lookup_live(f->ix, it)) {
        if (f->nlive < CTL_LOOKUP_SHOW)
            f->ids[f->nlive] = it->id;
        f->nlive++;
    } else {
        if (f->ndead < CTL_LOOKUP_SHOW)
            f->dead[f->ndead] = it->id;
        f->ndead++;
    }
}

uerr ctl_lookup(char out[RECORD_ID_MAX + 1], ops_ctx *o, const char *q, char *err, size_t errlen)
{
    out[0] = 0;
    if (!q || !*q)
        return uerr_set(err, errlen, UERR_INVALID, "give a record id, an ID number or a phone");
    if (record_id_valid(q) && recindex_has(&o->ix, q)) {
        snprintf(out, RECORD_ID_MAX + 1, "%s", q);
        return UERR_OK;
    }
    lookup_key k;
    /* an id as long as the longest held was looked up whole above */
    lookup_key_make(&k, q, o->ix.id_max);
    if (k.prefix && !lookup_prefix_possible(o, k.prefix))
        k.prefix = NULL; /* no id starts so (a phone's digits, mostly) */
    lookup_found f = {.ix = &o->ix};
    if (k.prefix) {
        /* One walk, the match tested before liveness: a key that is only
         * an id prefix compares ids and decodes nothing, so a miss costs a
         * string compare per record, not a decode of its status. */
        for (size_t i = 0; i < o->ix.cap; i++) {
            const recindex_item *it = &o->ix.slots[i];
            if (it->id && lookup_key_matches(&k, &o->ix, it))
                lookup_found_add(&f, it);
        }
    } else {
        /* An ID number or a phone: the person keys name their records
         * (persons.c); q cannot be both (15 or 18 characters, 11 digits),
         * so no record is counted twice. A key that is neither (`show` of
         * a record not here yet) finds nothing without a walk. */
        char key[PERSON_KEY_MAX];
        if (k.idnum) {
            persons_key_id(key, k.idnum);
            persons_each(o, key, lookup_found_add, &f);
        }
        if (k.phone) {
            persons_key_phone(key, k.phone);
            persons_each(o, key, lookup_found_add, &f);
        }
    }
    size_t n = f.nlive;
    const char **ids = f.ids;
    if (f.nlive == 0) {
        ids = f.dead;
        n = f.ndead;
    }
    free(k.idnum);
    free(k.phone);
    if (n == 1) {
        snprintf(out, RECORD_ID_MAX + 1, "%s", ids[0]);
        return UERR_OK;
    }
    if (n == 0)
        return uerr_set(err, errlen, UERR_NOTFOUND,
                        "no record with id %s (nor with that id prefix, ID number or "
                        "phone; unionctl list finds records)",
                        q);
    lookup_list(err, errlen, q, ids, n < CTL_LOOKUP_SHOW ? n : CTL_LOOKUP_SHOW, o);
    return UERR_CONFLICT;
}

const record *ctl_find_record(ops_ctx *o, recindex_view *v, const msgpack_object *req, char **id,
                              msgpack_packer *pk)
{
    char *q = msg_get_str(req, "id"), err[CTL_ERRLEN * 4];
    char found[RECORD_ID_MAX + 1];
    *id = NULL;
    uerr e = ctl_lookup(found, o, q, err, sizeof err);
    free(q);
    if (e != UERR_OK) {
        ctl_reply_text(pk, e, err);
        return NULL;
    }
    *id = strdup(found);
    if (!*id) {
        ctl_reply_error(pk, UERR_NOMEM, "out of memory");
        return NULL;
    }
    const record *r = recindex_view_get(v, &o->ix, *id);
    if (!r)
        ctl_reply_error(pk, UERR_NOMEM, "out of memory");
    return r;
}

int ctl_hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->id, y->id);
}

uerr ctl_conds_read(query_cond **out, size_t *nout, const msgpack_object *req, char *err,
                    size_t errlen)
{
    const msgpack_object_array *w = msg_get_array(req, "where");
    *out = NULL;
    *nout = 0;
    if (!w || w->size == 0)
        return UERR_OK;
    query_cond *c = calloc(w->size, sizeof *c);
    if (!c)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < w->size; i++) {
        char *e = msg_str_dup(&w->ptr[i]);
        int rc = e ? query_cond_parse(&c[i], e, err, errlen) : -1;
        if (!e)
            snprintf(err, errlen, "malformed request: where[%u]", i);
        free(e);
        if (rc != 0) {
            ctl_conds_free(c, i);
            return UERR_INVALID;
        }
    }
    *out = c;
    *nout = w->size;
    return UERR_OK;
}

void ctl_conds_free(query_cond *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        query_cond_free(&c[i]);
    free(c);
}

void ctl_note_reveal(const msgpack_object *req, const char *what, size_t n)
{
    char opbuf[64];
    log_msg(LOG_INFO, "reveal: %s showed unmasked personal fields (%s, %zu record%s)",
            ctl_operator(req, opbuf, sizeof opbuf), what, n, n == 1 ? "" : "s");
}
