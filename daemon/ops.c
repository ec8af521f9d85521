/* ops.c - control request handlers (see ops.h). Runs on the store queue's
 * worker thread. Every write validates everything first and writes nothing
 * when any value is refused; a reply is sent only after store_commit has
 * made the change durable. */
#include "daemon/ops.h"

#include "daemon/util/log.h"
#include "daemon/ops_internal.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ERRLEN 512
#define IMPORT_ERRORS_SHOWN 20

int64_t ops_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Today's date in the node's local time zone: "not in the future" is about
 * the clerk's calendar, not UTC. */
void ops_today(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

void ops_reply_error(msgpack_packer *pk, const char *fmt, ...)
{
    char msg[ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    msgpack_pack_map(pk, 2);
    msg_pack_str(pk, "ok");
    msgpack_pack_false(pk);
    msg_pack_kv_str(pk, "error", msg);
}

void ops_reply_ok(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    msg_pack_str(pk, "ok");
    msgpack_pack_true(pk);
    msg_pack_str(pk, "result");
}

/* ---- loading ------------------------------------------------------------ */

int ops_load(ops_ctx *o, char *err, size_t errlen)
{
    int rc = store_foreach(o->st, ops_index_changed, o, err, errlen);
    if (rc > 0)
        snprintf(err, errlen, "a record in the store is damaged (see the log); run git fsck");
    return rc ? -1 : 0;
}

/* ---- rendering records -------------------------------------------------- */

/* The fields a record shows, in schema order then custom fields by name;
 * *names is malloc'd, the strings are borrowed from r. */
static size_t record_field_names(const char ***names, const record *r)
{
    size_t ns, n = 0;
    const schema_field *sf = schema_fields(&ns);
    const char **out = malloc((ns + r->nentries + 1) * sizeof *out);
    *names = out;
    if (!out)
        return 0;
    for (size_t i = 0; i < ns; i++) {
        size_t first;
        if (record_field_entries(r, sf[i].name, &first))
            out[n++] = sf[i].name;
    }
    for (size_t i = 0; i < r->nentries; i++) {
        const char *f = r->entries[i].field;
        if (schema_field_find(f) || (n && strcmp(out[n - 1], f) == 0))
            continue;
        out[n++] = f;
    }
    return n;
}

void ops_pack_value(msgpack_packer *pk, const char *field, const char *v, int reveal)
{
    if (!reveal && schema_field_is_masked(field)) {
        char *m = schema_value_mask(field, v);
        msg_pack_str(pk, m ? m : "");
        free(m);
    } else {
        msg_pack_str(pk, v);
    }
}

/* Distinct values of a field's entries, winner first; returns count. */
size_t ops_field_values(const char **vals, const record *r, const char *field)
{
    size_t first, n = record_field_entries(r, field, &first), k = 0;
    const record_entry *w = record_field_winner(r, field);
    if (w)
        vals[k++] = w->value;
    for (size_t i = first; i < first + n; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(vals[j], r->entries[i].value) == 0;
        if (!dup)
            vals[k++] = r->entries[i].value;
    }
    return k;
}

size_t ops_conflict_count(const record *r)
{
    /* Entries are sorted by field: a field is in conflict when its run of
     * entries holds a value other than the run's first. No allocation: this
     * runs over every record for status. */
    size_t n = 0;
    for (size_t i = 0; i < r->nentries;) {
        size_t j = i + 1;
        int differs = 0;
        while (j < r->nentries && strcmp(r->entries[j].field, r->entries[i].field) == 0) {
            differs |= strcmp(r->entries[j].value, r->entries[i].value) != 0;
            j++;
        }
        if (differs && !schema_field_is_set(r->entries[i].field))
            n++;
        i = j;
    }
    return n;
}

/* {"id", "fields": {...}, "conflicts": {...}} */
void ops_pack_record(msgpack_packer *pk, const char *id, const record *r, int reveal)
{
    const char **names = NULL;
    size_t nf = record_field_names(&names, r);
    const char **vals = malloc((r->nentries + 1) * sizeof *vals);
    size_t nshown = 0, nconf = 0;
    for (size_t i = 0; i < nf && vals; i++) {
        if (schema_field_is_set(names[i])) {
            nshown++;
            continue;
        }
        size_t k = ops_field_values(vals, r, names[i]);
        nshown += k > 1 || (k == 1 && vals[0][0]);
        nconf += k > 1;
    }
    msgpack_pack_map(pk, 3);
    msg_pack_kv_str(pk, "id", id);
    msg_pack_str(pk, "fields");
    msgpack_pack_map(pk, vals ? nshown : 0);
    for (size_t i = 0; i < nf && vals; i++) {
        size_t first, n = record_field_entries(r, names[i], &first);
        if (schema_field_is_set(names[i])) {
            /* distinct elements, sorted */
            const char **el = vals;
            size_t ne = 0;
            for (size_t j = first; j < first + n; j++) {
                const char *v = r->entries[j].value;
                size_t pos = 0;
                while (pos < ne && strcmp(el[pos], v) < 0)
                    pos++;
                if (pos < ne && strcmp(el[pos], v) == 0)
                    continue;
                memmove(&el[pos + 1], &el[pos], (ne - pos) * sizeof *el);
                el[pos] = v;
                ne++;
            }
            msg_pack_str(pk, names[i]);
            msgpack_pack_array(pk, ne);
            for (size_t j = 0; j < ne; j++)
                msg_pack_str(pk, el[j]);
            continue;
        }
        size_t k = ops_field_values(vals, r, names[i]);
        if (k > 1 || (k == 1 && vals[0][0])) {
            msg_pack_str(pk, names[i]);
            ops_pack_value(pk, names[i], vals[0], reveal);
        }
    }
    msg_pack_str(pk, "conflicts");
    msgpack_pack_map(pk, vals ? nconf : 0);
    for (size_t i = 0; i < nf && vals; i++) {
        if (schema_field_is_set(names[i]))
            continue;
        size_t k = ops_field_values(vals, r, names[i]);
        if (k < 2)
            continue;
        msg_pack_str(pk, names[i]);
        msgpack_pack_array(pk, k);
        for (size_t j = 0; j < k; j++)
            ops_pack_value(pk, names[i], vals[j], reveal);
    }
    free(vals);
    free(names);
}

/* ---- writes ------------------------------------------------------------- */

void ops_assignments_free(assignment *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].field);
        free(a[i].op);
        free(a[i].value);
    }
    free(a);
}

/* Read [[field, op, value], ...] from the request. */
static int assignments_read(assignment **out, size_t *nout, const msgpack_object *req, char *err,
                            size_t errlen)
{
    const msgpack_object_array *arr = msg_get_array(req, "fields");
    *out = NULL;
    *nout = 0;
    if (!arr || arr->size == 0) {
        snprintf(err, errlen, "no FIELD=VALUE given");
        return -1;
    }
    assignment *a = calloc(arr->size, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < arr->size; i++) {
        const msgpack_object *t = &arr->ptr[i];
        if (t->type != MSGPACK_OBJECT_ARRAY || t->via.array.size != 3) {
            snprintf(err, errlen, "malformed request: fields[%u]", i);
            ops_assignments_free(a, arr->size);
            return -1;
        }
        a[i].field = msg_str_dup(&t->via.array.ptr[0]);
        a[i].op = msg_str_dup(&t->via.array.ptr[1]);
        a[i].value = msg_str_dup(&t->via.array.ptr[2]);
        if (!a[i].field || !a[i].op || !a[i].value) {
            snprintf(err, errlen, "malformed request: fields[%u]", i);
            ops_assignments_free(a, arr->size);
            return -1;
        }
    }
    *out = a;
    *nout = arr->size;
    return 0;
}

/* Check one assignment and normalise its value in place. Set fields accept
 * several elements separated by ';' for "=" and "+=". */
int ops_assignment_check(assignment *a, const char *today, char *err, size_t errlen)
{
    if (strcmp(a->field, "id") == 0) {
        snprintf(err, errlen, "id: the record id cannot be changed");
        return -1;
    }
    if (!schema_name_valid(a->field)) {
        snprintf(err, errlen, "%s: not a valid field name ([a-z][a-z0-9_]*, at most %d)", a->field,
                 SCHEMA_NAME_MAX);
        return -1;
    }
    int set = schema_field_is_set(a->field);
    if (strcmp(a->op, "=") != 0 && strcmp(a->op, "+=") != 0 && strcmp(a->op, "-=") != 0) {
        snprintf(err, errlen, "%s: unknown operator '%s'", a->field, a->op);
        return -1;
    }
    if (!set && strcmp(a->op, "=") != 0) {
        snprintf(err, errlen, "%s: += and -= work on set fields only (benefits)", a->field);
        return -1;
    }
    if (set) {
        /* normalise each ';'-separated element */
        char *out = calloc(1, strlen(a->value) * 4 + 2);
        size_t olen = 0;
        char *save = NULL, *copy = strdup(a->value);
        if (!out || !copy) {
            free(out);
            free(copy);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            char *norm = NULL;
            if (schema_value_check(&norm, a->field, tok, today, err, errlen) != 0) {
                free(out);
                free(copy);
                return -1;
            }
            olen += (size_t)sprintf(out + olen, "%s%s", olen ? ";" : "", norm);
            free(norm);
        }
        free(copy);
        if (olen == 0) {
            free(out);
            snprintf(err, errlen, "%s: give at least one element", a->field);
            return -1;
        }
        free(a->value);
        a->value = out;
        return 0;
    }
    char *norm = NULL;
    if (schema_value_check(&norm, a->field, a->value, today, err, errlen) != 0)
        return -1;
    free(a->value);
    a->value = norm;
    return 0;
}

/* Apply checked assignments to r as writes of this node. Single-valued
 * fields are written only when the value differs from what is displayed or
 * the field is in conflict (then the write resolves it). Returns the number
 * of fields changed, or -1 on allocation failure. */
int ops_assignments_apply(record *r, const assignment *a, size_t n, const char *node, int64_t now)
{
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (schema_field_is_set(a[i].field)) {
            char *copy = strdup(a[i].value), *save = NULL;
            if (!copy)
                return -1;
            for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
                int rc;
                if (strcmp(a[i].op, "-=") == 0) {
                    rc = record_set_remove(r, node, now, a[i].field, tok);
                } else {
                    size_t first, ne = record_field_entries(r, a[i].field, &first), have = 0;
                    for (size_t j = first; j < first + ne; j++)
                        have |= strcmp(r->entries[j].value, tok) == 0;
                    rc = have ? 0 : (record_set_add(r, node, now, a[i].field, tok) == 0 ? 1 : -1);
                }
                if (rc < 0) {
                    free(copy);
                    return -1;
                }
                changed += rc;
            }
            free(copy);
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

void ops_new_id(char out[RECORD_ID_LEN + 1], const recindex *ix, int64_t now)
{
    do {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            rnd = (uint64_t)now * 6364136223846793005ull + (uint64_t)clock();
        record_id_make(out, now, rnd);
    } while (recindex_get(ix, out));
}

/* The fields every new record gets unless given: office, joined, status. */
static int record_defaults(record *r, const ops_ctx *o, int64_t now, const char *today)
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

/* Commit records (already encoded) and install them in the index. */
int ops_commit_records(ops_ctx *o, char **ids, record *recs, size_t n, int bulk,
                       const char *operator, const char * message, char *err, size_t errlen)
{
    store_change *ch = calloc(n, sizeof *ch);
    char **bufs = calloc(n, sizeof *bufs);
    int rc = -1;
    if (!ch || !bufs) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if (record_encode(&bufs[i], &len, &recs[i]) != 0) {
            snprintf(err, errlen, "out of memory");
            goto cleanup;
        }
        ch[i].id = ids[i];
        ch[i].buf = bufs[i];
        ch[i].len = len;
    }
    if (store_commit(o->st, ch, n, bulk, operator, message, err, errlen) != 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        if (recindex_put(&o->ix, ids[i], &recs[i]) != 0) {
            /* The store has it; the index is now stale. Refuse to go on
             * with a wrong view rather than answer queries from it. */
            log_msg(LOG_ERR, "out of memory updating the index; exiting");
            abort();
        }
    rc = 0;
cleanup:
    for (size_t i = 0; bufs && i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(ch);
    return rc;
}

const char *ops_operator(const msgpack_object *req, char *buf, size_t len)
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

static void op_add(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    assignment *a = NULL;
    size_t n = 0;
    char err[ERRLEN], today[11], opbuf[64], msg[2048];
    char id[RECORD_ID_LEN + 1], *ids[1] = {id};
    record r;
    record_init(&r);
    ops_today(today);
    if (assignments_read(&a, &n, req, err, sizeof err) != 0)
        goto refuse;
    int has_name = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops_assignment_check(&a[i], today, err, sizeof err) != 0)
            goto refuse;
        has_name |= strcmp(a[i].field, "name") == 0;
        if (strcmp(a[i].op, "-=") == 0) {
            snprintf(err, sizeof err, "%s: -= makes no sense on a new record", a[i].field);
            goto refuse;
        }
    }
    if (!has_name) {
        snprintf(err, sizeof err, "name: a new member needs a name (name=...)");
        goto refuse;
    }
    int64_t now = ops_now_ms();
    ops_new_id(id, &o->ix, now);
    if (ops_assignments_apply(&r, a, n, o->node, now) < 0 ||
        record_defaults(&r, o, now, today) != 0) {
        snprintf(err, sizeof err, "out of memory");
        goto refuse;
    }
    fields_message(msg, sizeof msg, "add", id, a, n);
    if (ops_commit_records(o, ids, &r, 1, 0, ops_operator(req, opbuf, sizeof opbuf), msg, err,
                           sizeof err) != 0)
        goto refuse;
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 1);
    msg_pack_kv_str(pk, "id", id);
    goto cleanup;
refuse:
    ops_reply_error(pk, "%s", err);
cleanup:
    record_free(&r);
    ops_assignments_free(a, n);
}

const record *ops_find_record(ops_ctx *o, const msgpack_object *req, char **id, msgpack_packer *pk)
{
    *id = msg_get_str(req, "id");
    if (!*id || !record_id_valid(*id)) {
        ops_reply_error(pk, "not a record id: ids are lowercase letters and digits");
        return NULL;
    }
    const record *r = recindex_get(&o->ix, *id);
    if (!r)
        ops_reply_error(pk, "no record with id %s (unionctl list finds records)", *id);
    return r;
}

static void op_edit(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    assignment *a = NULL;
    size_t n = 0;
    char err[ERRLEN], today[11], opbuf[64], msg[2048];
    char *id = NULL;
    record r;
    record_init(&r);
    ops_today(today);
    const record *cur = ops_find_record(o, req, &id, pk);
    if (!cur)
        goto cleanup;
    if (assignments_read(&a, &n, req, err, sizeof err) != 0)
        goto refuse;
    for (size_t i = 0; i < n; i++) {
        if (ops_assignment_check(&a[i], today, err, sizeof err) != 0)
            goto refuse;
        if (strcmp(a[i].field, "name") == 0 && !a[i].value[0]) {
            snprintf(err, sizeof err, "name: cannot be empty");
            goto refuse;
        }
    }
    if (record_copy(&r, cur) != 0) {
        snprintf(err, sizeof err, "out of memory");
        goto refuse;
    }
    int changed = ops_assignments_apply(&r, a, n, o->node, ops_now_ms());
    if (changed < 0) {
        snprintf(err, sizeof err, "out of memory");
        goto refuse;
    }
    if (changed > 0) {
        char *ids[1] = {id};
        fields_message(msg, sizeof msg, "edit", id, a, n);
        if (ops_commit_records(o, ids, &r, 1, 0, ops_operator(req, opbuf, sizeof opbuf), msg, err,
                               sizeof err) != 0)
            goto refuse;
    }
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 2);
    msg_pack_kv_str(pk, "id", id);
    msg_pack_kv_int(pk, "changed", changed);
    goto cleanup;
refuse:
    ops_reply_error(pk, "%s", err);
cleanup:
    free(id);
    record_free(&r);
    ops_assignments_free(a, n);
}

static void note_reveal(const msgpack_object *req, const char *what, size_t n)
{
    char opbuf[64];
    log_msg(LOG_INFO, "reveal: %s showed unmasked personal fields (%s, %zu record%s)",
            ops_operator(req, opbuf, sizeof opbuf), what, n, n == 1 ? "" : "s");
}

static void op_show(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL;
    const record *r = ops_find_record(o, req, &id, pk);
    int reveal = msg_get_bool(req, "reveal", 0);
    if (r) {
        if (reveal)
            note_reveal(req, "show", 1);
        ops_reply_ok(pk);
        ops_pack_record(pk, id, r, reveal);
    }
    free(id);
}

int ops_hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->id, y->id);
}

/* Parse the request's where list into conditions. */
int ops_conds_read(query_cond **out, size_t *nout, const msgpack_object *req, char *err,
                   size_t errlen)
{
    const msgpack_object_array *w = msg_get_array(req, "where");
    *out = NULL;
    *nout = 0;
    if (!w || w->size == 0)
        return 0;
    query_cond *c = calloc(w->size, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < w->size; i++) {
        char *e = msg_str_dup(&w->ptr[i]);
        int rc = e ? query_cond_parse(&c[i], e, err, errlen) : -1;
        if (!e)
            snprintf(err, errlen, "malformed request: where[%u]", i);
        free(e);
        if (rc != 0) {
            for (uint32_t j = 0; j < i; j++)
                query_cond_free(&c[j]);
            free(c);
            return -1;
        }
    }
    *out = c;
    *nout = w->size;
    return 0;
}

void ops_conds_free(query_cond *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        query_cond_free(&c[i]);
    free(c);
}

static void op_list(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    query_cond *c = NULL;
    size_t nc = 0, nh = 0;
    char err[ERRLEN];
    hit *hits = NULL;
    char *sort = msg_get_str(req, "sort");
    int64_t limit = msg_get_int(req, "limit", -1);
    int reveal = msg_get_bool(req, "reveal", 0);
    int count_only = msg_get_bool(req, "count", 0);
    int full = msg_get_bool(req, "full", 0); /* export: never masked */
    if (ops_conds_read(&c, &nc, req, err, sizeof err) != 0) {
        ops_reply_error(pk, "%s", err);
        goto cleanup;
    }
    if (sort && strcmp(sort, "id") != 0 && !schema_name_valid(sort)) {
        ops_reply_error(pk, "--sort %s: not a field name", sort);
        goto cleanup;
    }
    hits = malloc((o->ix.count + 1) * sizeof *hits);
    if (!hits) {
        ops_reply_error(pk, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < o->ix.cap; i++) {
        const recindex_item *it = &o->ix.slots[i];
        if (it->id && query_match(c, nc, it->id, &it->rec)) {
            hits[nh].id = it->id;
            hits[nh].r = &it->rec;
            hits[nh].key = sort ? query_display(&it->rec, it->id, sort) : it->id;
            nh++;
        }
    }
    if (count_only) {
        ops_reply_ok(pk);
        msgpack_pack_map(pk, 1);
        msg_pack_kv_int(pk, "count", (int64_t)nh);
        goto cleanup;
    }
    qsort(hits, nh, sizeof *hits, ops_hit_cmp);
    if (limit >= 0 && (size_t)limit < nh)
        nh = (size_t)limit;
    if (full)
        reveal = 1;
    else if (reveal && nh)
        note_reveal(req, "list", nh);
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 1);
    msg_pack_str(pk, "records");
    msgpack_pack_array(pk, nh);
    for (size_t i = 0; i < nh; i++)
        ops_pack_record(pk, hits[i].id, hits[i].r, reveal);
cleanup:
    free(hits);
    free(sort);
    ops_conds_free(c, nc);
}

/* ---- log ---------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer buf; /* the entries, packed as we go */
    msgpack_packer pk;
    size_t n;
    int reveal;
} log_acc;

/* from/to are already masked where needed (value by value). */
static void pack_field_change(msgpack_packer *pk, const char *field, const char *from,
                              const char *to)
{
    msgpack_pack_map(pk, 3);
    msg_pack_kv_str(pk, "field", field);
    msg_pack_kv_str(pk, "from", from);
    msg_pack_kv_str(pk, "to", to);
}

/* Displayed value of any field, sets joined by ';' (malloc'd). */
char *ops_display_joined(const record *r, const char *field, int mask)
{
    size_t first, n = record_field_entries(r, field, &first), len = 1;
    if (!schema_field_is_set(field)) {
        const char **vals = malloc((n + 1) * sizeof *vals);
        char **masked = calloc(n + 1, sizeof *masked);
        if (!vals || !masked) {
            free(vals);
            free(masked);
            return NULL;
        }
        size_t k = ops_field_values(vals, r, field);
        /* mask each value on its own: a masked join would show neither */
        for (size_t i = 0; mask && i < k; i++)
            if (schema_field_is_masked(field) && (masked[i] = schema_value_mask(field, vals[i])))
                vals[i] = masked[i];
        for (size_t i = 0; i < k; i++)
            len += strlen(vals[i]) + 3;
        char *out = calloc(1, len);
        for (size_t i = 0; out && i < k; i++) {
            if (i)
                strcat(out, " | ");
            strcat(out, vals[i]);
        }
        for (size_t i = 0; i < k; i++)
            free(masked[i]);
        free(masked);
        free(vals);
        return out;
    }
    for (size_t i = first; i < first + n; i++)
        len += strlen(r->entries[i].value) + 1;
    char *out = calloc(1, len);
    for (size_t i = first; out && i < first + n; i++) {
        if (i > first)
            strcat(out, ";");
        strcat(out, r->entries[i].value);
    }
    return out;
}

static int log_cb(const store_version *v, void *arg)
{
    log_acc *acc = arg;
    record oldr, newr;
    char err[128], tbuf[32];
    record_init(&oldr);
    record_init(&newr);
    if ((v->old_buf && record_decode(&oldr, v->old_buf, v->old_len, err, sizeof err) != 0) ||
        (v->new_buf && record_decode(&newr, v->new_buf, v->new_len, err, sizeof err) != 0)) {
        record_free(&oldr);
        return 0; /* a damaged old version is skipped, not fatal for the log */
    }
    /* field names of both, merged in order */
    const char **names = malloc((oldr.nentries + newr.nentries + 1) * sizeof *names);
    char **from = calloc(oldr.nentries + newr.nentries + 1, sizeof *from);
    char **to = calloc(oldr.nentries + newr.nentries + 1, sizeof *to);
    size_t nn = 0, nchg = 0;
    const record *both[2] = {&oldr, &newr};
    for (int s = 0; s < 2 && names; s++)
        for (size_t i = 0; i < both[s]->nentries; i++) {
            const char *f = both[s]->entries[i].field;
            int seen = 0;
            for (size_t j = 0; j < nn && !seen; j++)
                seen = strcmp(names[j], f) == 0;
            if (!seen)
                names[nn++] = f;
        }
    /* a change is decided on the real values, then shown masked */
    char *changed = calloc(nn + 1, 1);
    for (size_t i = 0; names && from && to && i < nn; i++) {
        from[i] = ops_display_joined(&oldr, names[i], 0);
        to[i] = ops_display_joined(&newr, names[i], 0);
        if (from[i] && to[i] && strcmp(from[i], to[i]) != 0) {
            if (changed) {
                nchg++;
                changed[i] = 1;
            }
            if (!acc->reveal && schema_field_is_masked(names[i])) {
                free(from[i]);
                free(to[i]);
                from[i] = ops_display_joined(&oldr, names[i], 1);
                to[i] = ops_display_joined(&newr, names[i], 1);
                /* masking can make the two texts equal; the change stays */
                if (!from[i])
                    from[i] = strdup("*");
                if (!to[i])
                    to[i] = strdup("*");
            }
        }
    }
    record_time_format(tbuf, sizeof tbuf, v->time * 1000);
    tbuf[19] = 'Z';
    tbuf[20] = 0;
    msgpack_packer *pk = &acc->pk;
    msgpack_pack_map(pk, 7);
    msg_pack_kv_str(pk, "commit", v->commit);
    msg_pack_kv_str(pk, "time", tbuf);
    msg_pack_kv_str(pk, "node", v->node);
    msg_pack_kv_str(pk, "operator", v->operator);
    const char *nl = strchr(v->message, '\n');
    char summary[256];
    snprintf(summary, sizeof summary, "%.*s", nl ? (int)(nl - v->message) : 200, v->message);
    msg_pack_kv_str(pk, "summary", summary);
    msg_pack_kv_bool(pk, "merge", v->merge);
    msg_pack_str(pk, "changes");
    msgpack_pack_array(pk, nchg);
    for (size_t i = 0; names && from && to && changed && i < nn; i++)
        if (changed[i])
            pack_field_change(pk, names[i], from[i] ? from[i] : "*", to[i] ? to[i] : "*");
    free(changed);
    for (size_t i = 0; from && to && i < nn; i++) {
        free(from[i]);
        free(to[i]);
    }
    free(from);
    free(to);
    free(names);
    record_free(&oldr);
    record_free(&newr);
    acc->n++;
    return 0;
}

static void op_log(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL, err[ERRLEN];
    log_acc acc;
    msgpack_sbuffer_init(&acc.buf);
    msgpack_packer_init(&acc.pk, &acc.buf, msgpack_sbuffer_write);
    acc.n = 0;
    acc.reveal = msg_get_bool(req, "reveal", 0);
    if (!ops_find_record(o, req, &id, pk))
        goto cleanup;
    if (store_history(o->st, id, log_cb, &acc, err, sizeof err) < 0) {
        ops_reply_error(pk, "%s", err);
        goto cleanup;
    }
    if (acc.reveal)
        note_reveal(req, "log", 1);
    ops_reply_ok(pk);
    msgpack_pack_array(pk, acc.n);
    msgpack_pack_str_body(pk, acc.buf.data, acc.buf.size); /* raw append of packed entries */
cleanup:
    msgpack_sbuffer_destroy(&acc.buf);
    free(id);
}

/* ---- import ------------------------------------------------------------- */

typedef struct {
    size_t line;
    char *field;
    char *reason;
} row_error;

static void op_import(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    const msgpack_object_array *hdr = msg_get_array(req, "header");
    const msgpack_object_array *rows = msg_get_array(req, "rows");
    int skip_invalid = msg_get_bool(req, "skip_invalid", 0);
    char err[ERRLEN], today[11], opbuf[64], msg[256];
    char **header = NULL, **ids = NULL;
    record *recs = NULL;
    row_error *errs = NULL;
    size_t nerr = 0, nrec = 0, nnew = 0, nupd = 0, nsame = 0;
    int idcol = -1, namecol = -1;
    recindex seen; /* ids written by this import, to refuse repeats */
    recindex_init(&seen);
    ops_today(today);
    if (!hdr || !rows || hdr->size == 0) {
        ops_reply_error(pk, "malformed import request");
        return;
    }
    header = calloc(hdr->size, sizeof *header);
    if (!header)
        goto oom;
    for (uint32_t i = 0; i < hdr->size; i++) {
        header[i] = msg_str_dup(&hdr->ptr[i]);
        if (!header[i]) {
            ops_reply_error(pk, "malformed import request");
            goto cleanup;
        }
        if (strcmp(header[i], "id") == 0)
            idcol = (int)i;
        else if (!schema_name_valid(header[i])) {
            ops_reply_error(pk,
                            "header: '%s' is not a field name ([a-z][a-z0-9_]*); nothing imported",
                            header[i]);
            goto cleanup;
        }
        if (strcmp(header[i], "name") == 0)
            namecol = (int)i;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(header[i], header[j]) == 0) {
                ops_reply_error(pk, "header: column '%s' appears twice; nothing imported",
                                header[i]);
                goto cleanup;
            }
    }
    errs = calloc(rows->size + 1, sizeof *errs);
    recs = calloc(rows->size + 1, sizeof *recs);
    ids = calloc(rows->size + 1, sizeof *ids);
    if (!errs || !recs || !ids)
        goto oom;
    int64_t now = ops_now_ms();
    for (uint32_t ri = 0; ri < rows->size; ri++) {
        const msgpack_object *row = &rows->ptr[ri];
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 2 ||
            row->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            row->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY ||
            row->via.array.ptr[1].via.array.size != hdr->size) {
            ops_reply_error(pk, "malformed import request (row %u)", ri);
            goto cleanup;
        }
        size_t line = (size_t)row->via.array.ptr[0].via.u64;
        const msgpack_object_array *cells = &row->via.array.ptr[1].via.array;
        assignment *a = calloc(hdr->size, sizeof *a);
        size_t na = 0;
        char *rid = NULL;
        const char *bad_field = NULL;
        err[0] = 0;
        if (!a)
            goto oom;
        for (uint32_t ci = 0; ci < hdr->size && !bad_field; ci++) {
            char *v = msg_str_dup(&cells->ptr[ci]);
            if (!v) {
                bad_field = header[ci];
                snprintf(err, sizeof err, "%s: not text", header[ci]);
                break;
            }
            if ((int)ci == idcol) {
                if (*v && !record_id_valid(v)) {
                    bad_field = "id";
                    snprintf(err, sizeof err, "id: ids are lowercase letters and digits");
                }
                rid = v;
                continue;
            }
            if (!*v) { /* empty cell: field not given */
                free(v);
                continue;
            }
            a[na].field = strdup(header[ci]);
            a[na].op = strdup("=");
            a[na].value = v;
            if (!a[na].field || !a[na].op)
                goto oom_row;
            na++;
            if (ops_assignment_check(&a[na - 1], today, err, sizeof err) != 0)
                bad_field = header[ci];
        }
        const record *cur = rid && *rid ? recindex_get(&o->ix, rid) : NULL;
        if (!bad_field && !cur && (namecol < 0 || !cells->ptr[namecol].via.str.size)) {
            bad_field = "name";
            snprintf(err, sizeof err, "name: a new member needs a name");
        }
        if (!bad_field && rid && *rid && recindex_get(&seen, rid)) {
            bad_field = "id";
            snprintf(err, sizeof err, "id: appears on an earlier line of this file");
        }
        if (bad_field) {
            /* "field: reason" -> reason alone, the field has its own column */
            const char *colon = strstr(err, ": ");
            errs[nerr].line = line;
            errs[nerr].field = strdup(bad_field);
            errs[nerr].reason = strdup(colon ? colon + 2 : err);
            nerr++;
        } else {
            record *r = &recs[nrec];
            record_init(r);
            if (cur && record_copy(r, cur) != 0)
                goto oom_row;
            char idbuf[RECORD_ID_LEN + 1];
            if (!rid || !*rid) {
                ops_new_id(idbuf, &o->ix, now);
                while (recindex_get(&seen, idbuf))
                    ops_new_id(idbuf, &o->ix, now);
            }
            ids[nrec] = strdup(rid && *rid ? rid : idbuf);
            record tmp;
            record_init(&tmp);
            int changed = ids[nrec] ? ops_assignments_apply(r, a, na, o->node, now) : -1;
            if (changed < 0 || (!cur && record_defaults(r, o, now, today) != 0) ||
                recindex_put(&seen, ids[nrec], &tmp) != 0)
                goto oom_row;
            if (!cur) {
                nnew++;
                nrec++;
            } else if (changed) {
                nupd++;
                nrec++;
            } else {
                nsame++;
                free(ids[nrec]);
                ids[nrec] = NULL;
                record_free(r);
            }
        }
        free(rid);
        ops_assignments_free(a, hdr->size);
        continue;
    oom_row:
        free(rid);
        ops_assignments_free(a, hdr->size);
        goto oom;
    }
    if (nerr && !skip_invalid) {
        msgpack_pack_map(pk, 3);
        msg_pack_str(pk, "ok");
        msgpack_pack_false(pk);
        snprintf(err, sizeof err,
                 "%zu of %u rows are invalid; nothing was imported (fix them, or use "
                 "--skip-invalid to import the valid rows)",
                 nerr, rows->size);
        msg_pack_kv_str(pk, "error", err);
        goto pack_errors;
    }
    if (nrec) {
        snprintf(msg, sizeof msg, "import %zu records (%zu new, %zu updated)\n", nrec, nnew, nupd);
        if (ops_commit_records(o, ids, recs, nrec, 1, ops_operator(req, opbuf, sizeof opbuf), msg,
                               err, sizeof err) != 0) {
            ops_reply_error(pk, "%s", err);
            goto cleanup;
        }
    }
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 5);
    msg_pack_kv_int(pk, "imported", (int64_t)nnew);
    msg_pack_kv_int(pk, "updated", (int64_t)nupd);
    msg_pack_kv_int(pk, "unchanged", (int64_t)nsame);
    msg_pack_kv_int(pk, "skipped", (int64_t)nerr);
pack_errors:
    msg_pack_str(pk, "errors");
    msgpack_pack_array(pk, nerr < IMPORT_ERRORS_SHOWN ? nerr : IMPORT_ERRORS_SHOWN);
    for (size_t i = 0; i < nerr && i < IMPORT_ERRORS_SHOWN; i++) {
        msgpack_pack_map(pk, 3);
        msg_pack_kv_int(pk, "line", (int64_t)errs[i].line);
        msg_pack_kv_str(pk, "field", errs[i].field);
        msg_pack_kv_str(pk, "reason", errs[i].reason);
    }
    goto cleanup;
oom:
    ops_reply_error(pk, "out of memory during import; nothing imported");
cleanup:
    for (size_t i = 0; header && i < hdr->size; i++)
        free(header[i]);
    free(header);
    for (size_t i = 0; errs && i < nerr; i++) {
        free(errs[i].field);
        free(errs[i].reason);
    }
    free(errs);
    for (size_t i = 0; recs && i <= rows->size; i++) {
        record_free(&recs[i]);
        if (ids)
            free(ids[i]);
    }
    free(recs);
    free(ids);
    recindex_free(&seen);
}

/* ---- conflicts ------------------------------------------------------------ */

static void op_conflicts(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    int reveal = msg_get_bool(req, "reveal", 0);
    hit *hits = malloc((o->ix.count + 1) * sizeof *hits);
    size_t nh = 0, nitems = 0;
    if (!hits) {
        ops_reply_error(pk, "out of memory");
        return;
    }
    for (size_t i = 0; i < o->ix.cap; i++) {
        const recindex_item *it = &o->ix.slots[i];
        size_t c = it->id ? ops_conflict_count(&it->rec) : 0;
        if (c) {
            hits[nh].id = it->id;
            hits[nh].r = &it->rec;
            hits[nh].key = it->id;
            nh++;
            nitems += c;
        }
    }
    qsort(hits, nh, sizeof *hits, ops_hit_cmp);
    ops_reply_ok(pk);
    msgpack_pack_array(pk, nitems);
    for (size_t h = 0; h < nh; h++) {
        const record *r = hits[h].r;
        for (size_t i = 0; i < r->nentries; i++) {
            const char *f = r->entries[i].field;
            if ((i > 0 && strcmp(r->entries[i - 1].field, f) == 0) || schema_field_is_set(f))
                continue;
            size_t first, n = record_field_entries(r, f, &first);
            const char **vals = malloc((n + 1) * sizeof *vals);
            size_t k = vals ? ops_field_values(vals, r, f) : 0;
            free(vals);
            if (k < 2)
                continue;
            const record_entry *w = record_field_winner(r, f);
            msgpack_pack_map(pk, 4);
            msg_pack_kv_str(pk, "id", hits[h].id);
            msg_pack_kv_str(pk, "name", query_display(r, hits[h].id, "name"));
            msg_pack_kv_str(pk, "field", f);
            msg_pack_str(pk, "values");
            msgpack_pack_array(pk, n);
            /* the displayed entry first, then the others in dot order */
            for (int pass = 0; pass < 2; pass++)
                for (size_t e = first; e < first + n; e++) {
                    const record_entry *en = &r->entries[e];
                    if ((pass == 0) != (en == w))
                        continue;
                    char tbuf[32];
                    record_time_format(tbuf, sizeof tbuf, en->time_ms);
                    msgpack_pack_map(pk, 4);
                    msg_pack_str(pk, "value");
                    ops_pack_value(pk, f, en->value, reveal);
                    msg_pack_kv_str(pk, "node", en->node);
                    msg_pack_kv_str(pk, "time", tbuf);
                    msg_pack_str(pk, "shown");
                    en == w ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
                }
        }
    }
    free(hits);
}

static void op_resolve(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL, *field = msg_get_str(req, "field"), *value = msg_get_str(req, "value");
    char err[ERRLEN], today[11], opbuf[64], msg[512];
    record r;
    record_init(&r);
    ops_today(today);
    const record *cur = ops_find_record(o, req, &id, pk);
    if (!cur)
        goto cleanup;
    if (!field || !schema_name_valid(field) || schema_field_is_set(field)) {
        ops_reply_error(pk, "resolve: give a single-valued field name");
        goto cleanup;
    }
    size_t first, n = record_field_entries(cur, field, &first);
    const char **vals = malloc((n + 1) * sizeof *vals);
    size_t k = vals ? ops_field_values(vals, cur, field) : 0;
    free(vals);
    if (k < 2) {
        ops_reply_error(pk, "%s of %s is not in conflict (unionctl edit changes it)", field, id);
        goto cleanup;
    }
    assignment a = {field, "=", NULL};
    if (value) {
        a.value = value;
        if (ops_assignment_check(&a, today, err, sizeof err) != 0) {
            ops_reply_error(pk, "%s", err);
            value = a.value;
            goto cleanup;
        }
        value = a.value;
    } else {
        value = strdup(record_field_winner(cur, field)->value);
    }
    if (!value || record_copy(&r, cur) != 0 ||
        record_write(&r, o->node, ops_now_ms(), field, value) != 0) {
        ops_reply_error(pk, "out of memory");
        goto cleanup;
    }
    char *ids[1] = {id};
    snprintf(msg, sizeof msg, "resolve %s\n\nfields: %s\n", id, field);
    if (ops_commit_records(o, ids, &r, 1, 0, ops_operator(req, opbuf, sizeof opbuf), msg, err,
                           sizeof err) != 0) {
        ops_reply_error(pk, "%s", err);
        goto cleanup;
    }
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 2);
    msg_pack_kv_str(pk, "id", id);
    msg_pack_kv_str(pk, "field", field);
cleanup:
    free(id);
    free(field);
    free(value);
    record_free(&r);
}

/* ---- bundles -------------------------------------------------------------- */

/* Index update for a record of the head: at load, and for records a merge
 * or fast-forward changed. */
int ops_index_changed(const char *id, const char *buf, size_t len, void *arg)
{
    ops_ctx *o = arg;
    record r;
    char err[256];
    if (record_decode(&r, buf, len, err, sizeof err) != 0) {
        log_msg(LOG_ERR, "record %s in the store does not decode: %s", id, err);
        return 1;
    }
    if (recindex_put(&o->ix, id, &r) != 0) {
        record_free(&r);
        return 2;
    }
    return 0;
}

static void op_bundle_export(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[ERRLEN], *path = msg_get_str(req, "path"), *since = msg_get_str(req, "since");
    if (!path || path[0] != '/' || (since && since[0] != '/')) {
        ops_reply_error(pk, "bundle export: the paths must be absolute");
    } else if (store_bundle_write(o->st, path, since, err, sizeof err) != 0) {
        ops_reply_error(pk, "%s", err);
    } else {
        char head[41], tree[41];
        store_head(o->st, head, tree);
        log_msg(LOG_INFO, "bundle exported (head %.12s)", head);
        ops_reply_ok(pk);
        msgpack_pack_map(pk, 1);
        msg_pack_kv_str(pk, "head", head);
    }
    free(path);
    free(since);
}

static void op_bundle_import(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[ERRLEN], *path = msg_get_str(req, "path");
    store_bundle_report rep;
    if (!path || path[0] != '/') {
        ops_reply_error(pk, "bundle import: the path must be absolute");
    } else if (store_bundle_read(o->st, path, ops_index_changed, o, &rep, err, sizeof err) != 0) {
        log_msg(LOG_WARN, "bundle refused: %s", err);
        ops_reply_error(pk, "bundle refused: %s", err);
    } else {
        char head[41], tree[41];
        store_head(o->st, head, tree);
        log_msg(LOG_INFO,
                "bundle imported: %zu refs, %zu updated, %zu commits, %zu merged, %zu forwarded",
                rep.refs, rep.updated, rep.commits, rep.merged, rep.forwarded);
        ops_reply_ok(pk);
        msgpack_pack_map(pk, 8);
        msg_pack_kv_int(pk, "refs", (int64_t)rep.refs);
        msg_pack_kv_int(pk, "updated", (int64_t)rep.updated);
        msg_pack_kv_int(pk, "stale", (int64_t)rep.stale);
        msg_pack_kv_int(pk, "own_skipped", (int64_t)rep.own_skipped);
        msg_pack_kv_int(pk, "commits", (int64_t)rep.commits);
        msg_pack_kv_int(pk, "merged", (int64_t)rep.merged);
        msg_pack_kv_int(pk, "forwarded", (int64_t)rep.forwarded);
        msg_pack_kv_str(pk, "head", head);
    }
    free(path);
}

/* ---- node info ---------------------------------------------------------- */

static void op_id(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    (void)req;
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 4);
    msg_pack_kv_str(pk, "node", o->node);
    msg_pack_kv_str(pk, "office", o->office);
    msg_pack_kv_str(pk, "fingerprint", o->fingerprint);
    msg_pack_kv_str(pk, "listen", o->listen);
}

static void op_status(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    (void)req;
    char head[41], tree[41];
    size_t conflicts = 0;
    store_head(o->st, head, tree);
    for (size_t i = 0; i < o->ix.cap; i++)
        if (o->ix.slots[i].id)
            conflicts += ops_conflict_count(&o->ix.slots[i].rec) > 0;
    ops_reply_ok(pk);
    msgpack_pack_map(pk, 10);
    msg_pack_kv_str(pk, "node", o->node);
    msg_pack_kv_str(pk, "office", o->office);
    msg_pack_kv_str(pk, "head", head);
    msg_pack_kv_str(pk, "tree", tree);
    msg_pack_kv_int(pk, "records", (int64_t)o->ix.count);
    msg_pack_kv_int(pk, "conflicts", (int64_t)conflicts);
    msg_pack_str(pk, "peers");
    if (o->peers_status)
        o->peers_status(o->peers_arg, pk);
    else
        msgpack_pack_array(pk, 0);
    msg_pack_kv_str(pk, "listen", o->listen);
    msg_pack_kv_int(pk, "uptime_s", (ops_now_ms() - o->started_ms) / 1000);
    msg_pack_kv_int(pk, "requests", (int64_t)o->requests);
}

void ops_handle(ops_ctx *o, const char *req, size_t len, msgpack_sbuffer *out)
{
    static const struct {
        const char *name;
        void (*fn)(ops_ctx *, const msgpack_object *, msgpack_packer *);
    } table[] = {
        {"add", op_add},
        {"edit", op_edit},
        {"show", op_show},
        {"list", op_list},
        {"log", op_log},
        {"import", op_import},
        {"conflicts", op_conflicts},
        {"resolve", op_resolve},
        {"bundle_export", op_bundle_export},
        {"bundle_import", op_bundle_import},
        {"id", op_id},
        {"status", op_status},
    };
    msgpack_packer pk;
    msgpack_unpacked u;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_unpacked_init(&u);
    o->requests++;
    if (msg_unpack(&u, req, len) != 0 || u.data.type != MSGPACK_OBJECT_MAP) {
        ops_reply_error(&pk, "malformed request: expected one msgpack map");
        goto cleanup;
    }
    char *op = msg_get_str(&u.data, "op");
    size_t i = 0, n = sizeof table / sizeof *table;
    while (op && i < n && strcmp(op, table[i].name) != 0)
        i++;
    if (!op)
        ops_reply_error(&pk, "malformed request: no op");
    else if (i < n)
        table[i].fn(o, &u.data, &pk);
    else if (!ops_report_handle(o, op, &u.data, &pk)) /* stats, duplicates, merge, transfer */
        ops_reply_error(&pk, "unknown request '%s' (is unionctl newer than uniond?)", op);
    free(op);
cleanup:
    msgpack_unpacked_destroy(&u);
}
