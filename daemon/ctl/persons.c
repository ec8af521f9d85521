/* persons.c - one person, one record: an index from what identifies a
 * person (the ID number; failing that, name + phone) to the records that
 * hold it, so that add and import find a registered person without a scan
 * per row. Updated wherever the record index is (ops_index_changed,
 * ctl_commit_records). Store queue thread only; not thread-safe. Keys are
 * personal data: never logged. */
#include "daemon/ctl/common.h"

#include "proto/map.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct person_key {
    char *key;
    char **ids; /* n record ids holding the key (usually one) */
    size_t n;
    UT_hash_handle hh;
};

void persons_key_id(char buf[PERSON_KEY_MAX], const char *id_number)
{
    buf[0] = 0;
    if (id_number && *id_number)
        snprintf(buf, PERSON_KEY_MAX, "i%s", id_number);
}

void persons_key_np(char buf[PERSON_KEY_MAX], const char *name, const char *phone)
{
    buf[0] = 0;
    if (name && *name && phone && *phone)
        snprintf(buf, PERSON_KEY_MAX, "p%s\x1f%s", name, phone);
}

static const char *winner(const record *r, const char *field)
{
    const record_entry *e = record_field_winner(r, field);
    return e ? e->value : "";
}

/* The keys of r: keys[0] its ID number key, keys[1] its name+phone key. */
/* The keys of the record id in the index: 0, or -1 when it is absent. */
static int record_keys(char keys[2][PERSON_KEY_MAX], const ops_ctx *o, const char *id)
{
    const recindex_item *it = recindex_find(&o->ix, id);
    if (!it)
        return -1;
    persons_key_id(keys[0], recindex_item_shown(&o->ix, it, "id_number"));
    persons_key_np(keys[1], recindex_item_shown(&o->ix, it, "name"),
                   recindex_item_shown(&o->ix, it, "phone"));
    return 0;
}

void persons_remove(ops_ctx *o, const char *id)
{
    char keys[2][PERSON_KEY_MAX];
    if (record_keys(keys, o, id) != 0)
        return;
    for (int k = 0; k < 2; k++) {
        struct person_key *pk = NULL;
        if (!keys[k][0])
            continue;
        HASH_FIND_STR(o->persons, keys[k], pk);
        for (size_t i = 0; pk && i < pk->n; i++)
            if (strcmp(pk->ids[i], id) == 0) {
                free(pk->ids[i]);
                pk->ids[i] = pk->ids[--pk->n];
                break;
            }
        if (pk && pk->n == 0) {
            HASH_DEL(o->persons, pk);
            free(pk->ids);
            free(pk->key);
            free(pk);
        }
    }
}

static uerr key_add(ops_ctx *o, const char *key, const char *id)
{
    struct person_key *pk = NULL;
    HASH_FIND_STR(o->persons, key, pk);
    if (!pk) {
        pk = calloc(1, sizeof *pk);
        if (!pk || !(pk->key = strdup(key))) {
            free(pk);
            return UERR_NOMEM;
        }
        map_oom = 0;
        HASH_ADD_KEYPTR(hh, o->persons, pk->key, strlen(pk->key), pk);
        if (map_oom) {
            free(pk->key);
            free(pk);
            return UERR_NOMEM;
        }
    }
    for (size_t i = 0; i < pk->n; i++)
        if (strcmp(pk->ids[i], id) == 0)
            return UERR_OK;
    char **ids = realloc(pk->ids, (pk->n + 1) * sizeof *ids);
    if (!ids)
        return UERR_NOMEM;
    pk->ids = ids;
    if (!(ids[pk->n] = strdup(id)))
        return UERR_NOMEM;
    pk->n++;
    return UERR_OK;
}

uerr persons_add(ops_ctx *o, const char *id)
{
    char keys[2][PERSON_KEY_MAX];
    if (record_keys(keys, o, id) != 0)
        return UERR_OK;
    for (int k = 0; k < 2; k++)
        if (keys[k][0] && key_add(o, keys[k], id) != UERR_OK)
            return UERR_NOMEM;
    return UERR_OK;
}

const char *persons_find(const ops_ctx *o, const char *key, const char *skip)
{
    struct person_key *pk = NULL;
    const char *best = NULL;
    if (!key[0])
        return NULL;
    HASH_FIND_STR(o->persons, key, pk);
    for (size_t i = 0; pk && i < pk->n; i++) {
        const recindex_item *it = recindex_find(&o->ix, pk->ids[i]);
        /* a duplicate folded into another record is not the person */
        if (!it || *recindex_item_shown(&o->ix, it, "merged_into") ||
            (skip && strcmp(pk->ids[i], skip) == 0))
            continue;
        if (!best || strcmp(pk->ids[i], best) < 0)
            best = pk->ids[i];
    }
    return best;
}

void persons_free(ops_ctx *o)
{
    struct person_key *pk, *tmp;
    HASH_ITER(hh, o->persons, pk, tmp)
    {
        HASH_DEL(o->persons, pk);
        for (size_t i = 0; i < pk->n; i++)
            free(pk->ids[i]);
        free(pk->ids);
        free(pk->key);
        free(pk);
    }
}

/* The value field will have after the assignments: the last "=" to it,
 * else the record's. */
static const char *merged_value(const record *cur, const assignment *a, size_t n, const char *field)
{
    for (size_t i = n; i-- > 0;)
        if (strcmp(a[i].field, field) == 0 && strcmp(a[i].op, "=") == 0)
            return a[i].value;
    return cur ? winner(cur, field) : "";
}

uerr ctl_person_check(ops_ctx *o, const char *self, const record *cur, assignment **a, size_t *n,
                      char *err, size_t errlen)
{
    schema_person p = {merged_value(cur, *a, *n, "gender"), merged_value(cur, *a, *n, "id_number"),
                       merged_value(cur, *a, *n, "joined")};
    const char *fill = NULL;
    /* first who the person is: a registered ID number says more than a
     * disagreement with a field of the other record */
    char key[PERSON_KEY_MAX];
    persons_key_id(key, p.id_number);
    const char *other = persons_find(o, key, self);
    if (other && (!cur || strcmp(p.id_number, winner(cur, "id_number")) != 0))
        return uerr_set(err, errlen, UERR_CONFLICT,
                        "id_number: this ID number is already registered as record %s; one "
                        "person has one record (unionctl show %s; change it with unionctl edit %s)",
                        other, other, other);
    problem_list pl;
    problem_list_init(&pl);
    size_t np = schema_cross_check(&fill, &p, 0, &pl);
    uerr e = UERR_OK;
    if (np == (size_t)-1) {
        e = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    } else if (np > 0) {
        size_t off = 0;
        for (size_t i = 0; i < pl.n && off < errlen; i++)
            off += (size_t)snprintf(err + off, errlen - off, "%s%s", i ? "; " : "", pl.v[i].msg);
        e = UERR_INVALID;
    }
    problem_list_free(&pl);
    if (e != UERR_OK)
        return e;
    if (fill && !*p.gender) {
        assignment *na = realloc(*a, (*n + 1) * sizeof *na);
        if (!na)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        *a = na;
        na[*n].field = strdup("gender");
        na[*n].op = strdup("=");
        na[*n].value = strdup(fill);
        (*n)++;
        if (!na[*n - 1].field || !na[*n - 1].op || !na[*n - 1].value)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    return UERR_OK;
}
