/* kinds.c - the control side of the kinds of record (see kinds.h): the
 * request's "kind", per-kind validation of assignments, and link
 * resolution against the index. Worker thread only. Never writes the
 * store, never logs personal values. */
#include "daemon/ctl/kinds.h"

#include "proto/msg.h"
#include "proto/schema.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uerr ctl_kind_read(record_kind *out, const msgpack_object *req, char *err, size_t errlen)
{
    char *word = msg_get_str(req, "kind");
    *out = KIND_MEMBER;
    if (!word || !*word) {
        free(word);
        return UERR_OK;
    }
    uerr e = kind_parse(out, word, err, errlen);
    free(word);
    if (e != UERR_OK)
        *out = KIND_MEMBER;
    return e;
}

/* The value of a record's single field as displayed (winner), or NULL. */
static const char *field_value(const record *r, const char *field)
{
    const record_entry *w = record_field_winner(r, field);
    return w ? w->value : NULL;
}

/* 1 if record r of kind k is named by value (see ctl_kind_link_find). */
static int names_record(const record *r, record_kind k, const char *value)
{
    static const char *const keys[][3] = {
        [KIND_MEMBER] = {"id_number", NULL, NULL},  [KIND_UNION] = {"name", NULL, NULL},
        [KIND_ENTERPRISE] = {"uscc", "name", NULL}, [KIND_STATION] = {"name", NULL, NULL},
        [KIND_BENEFIT] = {NULL, NULL, NULL},
    };
    assert(k > KIND_NONE && k < KIND_COUNT);
    for (size_t i = 0; keys[k][i]; i++) {
        const char *v = field_value(r, keys[k][i]);
        if (v && strcmp(v, value) == 0)
            return 1;
    }
    return 0;
}

const char *ctl_kind_link_find(const ops_ctx *o, record_kind k, const char *value, int *wrong)
{
    *wrong = 0;
    if (!value || !*value)
        return NULL;
    if (record_id_valid(value)) {
        record_kind have = recindex_kind(&o->ix, value);
        if (have == k)
            return value;
        if (have != KIND_NONE) {
            *wrong = 1;
            return NULL;
        }
    }
    const char *found = NULL;
    int other = 0;
    for (size_t i = 0; i < o->ix.cap; i++) {
        const recindex_item *it = &o->ix.slots[i];
        if (!it->id || !names_record(&it->rec, it->kind, value))
            continue;
        if (it->kind != k) {
            other = 1;
            continue;
        }
        if (found)
            return NULL; /* several: ambiguous, kept as written */
        found = it->id;
    }
    /* names no record of kind k but one of another kind: the wrong kind */
    *wrong = !found && other;
    return found;
}

/* Resolve one link value (malloc'd *v) of field f in place. UERR_INVALID
 * with err when it names a record of another kind. */
static uerr link_resolve(char **v, const schema_field *f, const ops_ctx *o, char *err,
                         size_t errlen)
{
    int wrong = 0;
    if (!f || f->link == KIND_NONE || !**v)
        return UERR_OK;
    const char *id = ctl_kind_link_find(o, f->link, *v, &wrong);
    if (wrong) {
        record_kind have = recindex_kind(&o->ix, *v);
        if (have != KIND_NONE)
            return uerr_set(err, errlen, UERR_INVALID, "%s: %s is a %s, not a %s", f->name, *v,
                            kind_name(have), kind_name(f->link));
        return uerr_set(err, errlen, UERR_INVALID,
                        "%s: '%s' names another kind of record, not a %s", f->name, *v,
                        kind_name(f->link));
    }
    if (!id || strcmp(id, *v) == 0)
        return UERR_OK; /* unresolved (kept as written) or already an id */
    char *copy = strdup(id);
    if (!copy)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    free(*v);
    *v = copy;
    return UERR_OK;
}

uerr ctl_kind_assignment_check(assignment *a, record_kind kind, const ops_ctx *o, const char *today,
                               char *err, size_t errlen)
{
    /* a member's union and employer stay text as before (no resolution
     * here: member behaviour is unchanged) */
    if (kind == KIND_MEMBER || kind == KIND_NONE)
        return ctl_assignment_check(a, today, err, errlen);
    if (strcmp(a->field, "id") == 0)
        return uerr_set(err, errlen, UERR_INVALID, "id: the record id cannot be changed");
    if (strcmp(a->op, "=") != 0)
        return uerr_set(err, errlen, UERR_INVALID, "%s: a %s has no set fields (use =)", a->field,
                        kind_name(kind));
    const schema_field *f = NULL;
    uerr e = schema_kind_field_resolve(&f, kind, a->field, err, errlen);
    if (e != UERR_OK)
        return e;
    schema_norm n;
    e = schema_kind_value_normalize(&n, kind, f->name, a->value, today, err, errlen);
    if (e != UERR_OK) {
        schema_norm_free(&n);
        return e;
    }
    char *name = strdup(f->name);
    if (!name) {
        schema_norm_free(&n);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    free(a->field);
    a->field = name;
    free(a->value);
    a->value = n.value;
    n.value = NULL;
    schema_norm_free(&n);
    return link_resolve(&a->value, f, o, err, errlen);
}

size_t ctl_kind_row_links(const ops_ctx *o, record_kind k, const char *const *fields, char **vals,
                          size_t n, size_t line, problem_list *pl)
{
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        const schema_field *f = k == KIND_MEMBER ? NULL : schema_kind_field_find(k, fields[i]);
        char err[CTL_ERRLEN];
        if (!f || f->link == KIND_NONE || !vals[i] || !*vals[i])
            continue;
        uerr e = link_resolve(&vals[i], f, o, err, sizeof err);
        if (e == UERR_NOMEM)
            return SIZE_MAX;
        if (e != UERR_OK) {
            if (problem_add(pl, line, f->name, "link", err) != UERR_OK)
                return SIZE_MAX;
            added++;
        }
    }
    return added;
}
