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

/* 1 if the record of it (kind k) is named by value (see
 * ctl_kind_link_find). Reads its bytes, decodes nothing. */
static int names_record(const recindex *ix, const recindex_item *it, record_kind k,
                        const char *value)
{
    static const char *const keys[][3] = {
        [KIND_MEMBER] = {"id_number", NULL, NULL},  [KIND_UNION] = {"name", NULL, NULL},
        [KIND_ENTERPRISE] = {"uscc", "name", NULL}, [KIND_STATION] = {"name", NULL, NULL},
        [KIND_BENEFIT] = {NULL, NULL, NULL},
    };
    assert(k > KIND_NONE && k < KIND_COUNT);
    for (size_t i = 0; keys[k][i]; i++) {
        const char *v = reccompact_winner(&ix->cr, it->id, keys[k][i]);
        if (v && strcmp(v, value) == 0)
            return 1;
    }
    return 0;
}

/* One candidate of a link: names value (as its own kind's record), of
 * kind k or another. Returns -1 when a second record of kind k names it
 * (ambiguous: the search ends). */
typedef struct {
    const recindex *ix;
    record_kind k;
    const char *value, *found;
    int other, several;
} link_search;

static void link_try(void *arg, const recindex_item *it)
{
    link_search *ls = arg;
    if (ls->several || !it->id || !names_record(ls->ix, it, it->kind, ls->value))
        return;
    if (it->kind != ls->k) {
        ls->other = 1;
        return;
    }
    if (ls->found && strcmp(ls->found, it->id) != 0)
        ls->several = 1;
    ls->found = it->id;
}

/* The rows of o->ix holding unions, enterprises and stations brought up
 * to date (ops_ctx link_rows). Called with ctl_lazy_mu held. 0, or -1
 * when out of memory (the list is then as it was). */
static int link_rows_update(ops_ctx *o)
{
    for (; o->link_upto < o->ix.count; o->link_upto++) {
        const recindex_item *it = recindex_row(&o->ix, o->link_upto);
        if (it->kind == KIND_MEMBER || it->kind == KIND_BENEFIT)
            continue;
        if (o->nlink_rows == o->link_rows_cap) {
            size_t ncap = o->link_rows_cap ? 2 * o->link_rows_cap : 256;
            uint32_t *nr = realloc(o->link_rows, ncap * sizeof *nr);
            if (!nr)
                return -1;
            o->link_rows = nr;
            o->link_rows_cap = ncap;
        }
        o->link_rows[o->nlink_rows++] = o->link_upto;
    }
    return 0;
}

/* ctl_kind_link_find over the candidates cand[0..ncand) (NULL: every
 * record of the index that can name value: the unions, enterprises and
 * stations (o->link_rows) and the members holding value as their ID
 * number (the person keys), which is what a walk of every record would
 * find, names_record naming nothing else). */
static const char *link_find(const ops_ctx *o, const recindex_item *const *cand, size_t ncand,
                             record_kind k, const char *value, int *wrong)
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
    link_search ls = {.ix = &o->ix, .k = k, .value = value};
    if (cand) {
        for (size_t i = 0; i < ncand && !ls.several; i++)
            link_try(&ls, cand[i]);
    } else {
        /* the list is a cache of the index, brought up to date here by
         * whichever thread looks first: not a change of o's meaning */
        ops_ctx *lazy = (ops_ctx *)o;
        pthread_mutex_lock(&ctl_lazy_mu);
        if (link_rows_update(lazy) != 0) {
            /* out of memory: the walk of every record, as before */
            pthread_mutex_unlock(&ctl_lazy_mu);
            for (size_t i = 0; i < o->ix.cap && !ls.several; i++)
                link_try(&ls, &o->ix.slots[i]);
        } else {
            for (size_t i = 0; i < o->nlink_rows && !ls.several; i++)
                link_try(&ls, recindex_row(&o->ix, o->link_rows[i]));
            pthread_mutex_unlock(&ctl_lazy_mu);
            char key[PERSON_KEY_MAX];
            persons_key_id(key, value);
            persons_each(o, key, link_try, &ls);
        }
    }
    if (ls.several)
        return NULL; /* several: ambiguous, kept as written */
    /* names no record of kind k but one of another kind: the wrong kind */
    *wrong = !ls.found && ls.other;
    return ls.found;
}

const char *ctl_kind_link_find(const ops_ctx *o, record_kind k, const char *value, int *wrong)
{
    return link_find(o, NULL, 0, k, value, wrong);
}

void ctl_links_init(ctl_links *l, const ops_ctx *o)
{
    memset(l, 0, sizeof *l);
    l->items = malloc((o->ix.count + 1) * sizeof *l->items);
    for (size_t i = 0; l->items && i < o->ix.cap; i++) {
        const recindex_item *it = &o->ix.slots[i];
        if (it->id && it->kind != KIND_MEMBER && it->kind != KIND_BENEFIT)
            l->items[l->n++] = it;
    }
}

void ctl_links_free(ctl_links *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* The display resolution of value as a link to kind k: through l's
 * candidates when it has them and k is not a member (members are many;
 * a benefit's member is stored as an id, found without a scan). */
static const char *link_shown(const ops_ctx *o, const ctl_links *l, record_kind k,
                              const char *value)
{
    int wrong = 0;
    if (l && l->items && k != KIND_MEMBER)
        return link_find(o, l->items, l->n, k, value, &wrong);
    return link_find(o, NULL, 0, k, value, &wrong);
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

uerr ctl_member_link_check(assignment *a, const ops_ctx *o, const ctl_links *lk, char *err,
                           size_t errlen)
{
    const schema_field *f = schema_field_find(a->field);
    if (!f || f->link == KIND_NONE || strcmp(a->op, "=") != 0 || !a->value[0])
        return UERR_OK;
    /* only the id of a record of another kind is refused: a member's free
     * text may well equal a station's name */
    record_kind have = record_id_valid(a->value) ? recindex_kind(&o->ix, a->value) : KIND_NONE;
    if (have != KIND_NONE && have != f->link)
        return uerr_set(err, errlen, UERR_INVALID, "%s: %s is a %s, not a %s", f->name, a->value,
                        kind_name(have), kind_name(f->link));
    const char *id = link_shown(o, lk, f->link, a->value);
    if (!id || strcmp(id, a->value) == 0)
        return UERR_OK; /* kept as given: names none, or several (never guessed) */
    char *copy = strdup(id);
    if (!copy)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    ctl_assignment_set_value(a, copy);
    return UERR_OK;
}

uerr ctl_kind_assignment_check(assignment *a, record_kind kind, const ops_ctx *o, const char *today,
                               char *err, size_t errlen)
{
    if (kind == KIND_MEMBER || kind == KIND_NONE) {
        uerr e = ctl_assignment_check(a, today, err, errlen);
        return e == UERR_OK && o ? ctl_member_link_check(a, o, NULL, err, errlen) : e;
    }
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

/* The name shown for a linked record (a member's too: a name is not masked). */
static const char *link_name(const ops_ctx *o, const char *id)
{
    const recindex_item *it = recindex_find(&o->ix, id);
    const char *v = it ? reccompact_winner(&o->ix.cr, it->id, "name") : NULL;
    return v ? v : "";
}

/* How many link fields of kind k r holds a value in. */
static size_t links_held(record_kind k, const record *r)
{
    size_t nf, n = 0;
    const schema_field *sf = schema_kind_fields(k, &nf);
    for (size_t i = 0; sf && i < nf; i++) {
        const char *v = sf[i].link != KIND_NONE ? field_value(r, sf[i].name) : NULL;
        n += v && *v;
    }
    return n;
}

void ctl_kind_pack_links(msg_map *top, msgpack_packer *pk, const ops_ctx *o, const ctl_links *lk,
                         record_kind k, const record *r)
{
    size_t nf;
    const schema_field *sf = schema_kind_fields(k, &nf);
    if (!sf || links_held(k, r) == 0)
        return;
    msg_map links;
    msg_map_key(top, "links");
    msg_map_open(&links, pk);
    for (size_t i = 0; i < nf; i++) {
        const char *v = sf[i].link != KIND_NONE ? field_value(r, sf[i].name) : NULL;
        if (!v || !*v)
            continue;
        const char *id = link_shown(o, lk, sf[i].link, v);
        msg_map l;
        msg_map_key(&links, sf[i].name);
        msg_map_open(&l, pk);
        if (id) {
            msg_map_str(&l, "id", id);
            msg_map_str(&l, "name", link_name(o, id));
        } else {
            msg_map_str(&l, "value", v);
        }
        msg_map_bool(&l, "resolved", id != NULL);
        msg_map_close(&l);
    }
    msg_map_close(&links);
}

void ctl_kind_pack_record(msgpack_packer *pk, const ops_ctx *o, const ctl_links *lk, const char *id,
                          const record *r, int reveal)
{
    msg_map top;
    record_kind k = recindex_kind(&o->ix, id);
    ctl_pack_record_open(&top, pk, id, r, reveal);
    ctl_kind_pack_links(&top, pk, o, lk, k == KIND_NONE ? KIND_MEMBER : k, r);
    msg_map_close(&top);
}
