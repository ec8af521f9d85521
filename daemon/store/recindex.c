/* recindex.c - open-addressing hash map of id -> record, with secondary
 * indexes field value -> rows (see recindex.h). The capacity is a power of
 * two and the load stays under 3/4, so a probe always ends at a free slot.
 * A put first reserves everything it may need, then changes the table, so
 * a failed put leaves the record and its secondary entries as they were. */
#include "daemon/store/recindex.h"

#include "proto/schema.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Everything but the lock: the lock is the last member. */
static void recindex_clear(recindex *ix)
{
    memset(ix, 0, offsetof(recindex, lock));
}

void recindex_init(recindex *ix)
{
    pthread_rwlockattr_t a;
    recindex_clear(ix);
    /* A waiting writer goes before new readers: with glibc's default
     * (readers first) overlapping reads could keep a finished commit out
     * of the index, and its reply waiting, for as long as they overlap. */
    pthread_rwlockattr_init(&a);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&ix->lock, &a);
    pthread_rwlockattr_destroy(&a);
}

void recindex_read_lock(recindex *ix)
{
    int e = pthread_rwlock_rdlock(&ix->lock);
    assert(e == 0 && "the index read lock");
    if (e != 0)
        abort();
}

void recindex_write_lock(recindex *ix)
{
    int e = pthread_rwlock_wrlock(&ix->lock);
    assert(e == 0 && "the index write lock (taken twice by one thread?)");
    if (e != 0)
        abort();
}

void recindex_unlock(recindex *ix)
{
    int e = pthread_rwlock_unlock(&ix->lock);
    assert(e == 0 && "unlocking an index lock not held");
    if (e != 0)
        abort();
}

static void field_free(recindex_field *f)
{
    recindex_value *v, *tmp;
    HASH_ITER(hh, f->values, v, tmp)
    {
        HASH_DEL(f->values, v);
        free(v->value);
        free(v->rows);
        free(v);
    }
    free(f->field);
}

static void tallies_free(recindex_tally **head)
{
    recindex_tally *t, *tmp;
    HASH_ITER(hh, *head, t, tmp)
    {
        HASH_DEL(*head, t);
        free(t);
    }
}

void recindex_free(recindex *ix)
{
    reccompact_free(&ix->cr);
    recindex_view_free(&ix->wview);
    free(ix->slots);
    free(ix->tags);
    free(ix->rows);
    for (size_t f = 0; f < ix->nfields; f++)
        field_free(&ix->fields[f]);
    tallies_free(&ix->tallies);
    recindex_clear(ix);
}

uint64_t recindex_id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot of id (hash h), or the free slot where it would go. The slot
 * is the hash's low bits (cap is at most 2^32: rows are 32-bit), so a
 * stored tag gives its slot again. */
static size_t find_slot(const recindex *ix, const char *id, uint64_t h)
{
    assert(ix->cap && (ix->cap & (ix->cap - 1)) == 0);
    size_t mask = ix->cap - 1, i = (size_t)h & mask;
    uint32_t tag = (uint32_t)h;
    while (ix->slots[i].id && (ix->tags[i] != tag || strcmp(ix->slots[i].id, id) != 0))
        i = (i + 1) & mask;
    return i;
}

const recindex_item *recindex_find(const recindex *ix, const char *id)
{
    if (!ix->cap)
        return NULL;
    size_t i = find_slot(ix, id, recindex_id_hash(id));
    return ix->slots[i].id ? &ix->slots[i] : NULL;
}

/* ---- views -------------------------------------------------------------------- */

void recindex_view_init(recindex_view *v)
{
    memset(v, 0, sizeof *v);
}

void recindex_view_free(recindex_view *v)
{
    free(v->ebuf);
    free(v->cbuf);
    recindex_view_init(v);
}

const record *recindex_view_item(recindex_view *v, const recindex *ix, const recindex_item *it)
{
    assert(it && it->id);
    if (reccompact_decode(&v->rec, &v->ebuf, &v->ecap, &v->cbuf, &v->ccap, &ix->cr, it->id) != 0)
        return NULL;
    return &v->rec;
}

const record *recindex_view_get(recindex_view *v, const recindex *ix, const char *id)
{
    const recindex_item *it = recindex_find(ix, id);
    return it ? recindex_view_item(v, ix, it) : NULL;
}

int recindex_get_copy(record *out, const recindex *ix, const char *id)
{
    recindex_view v;
    record_init(out);
    const recindex_item *it = recindex_find(ix, id);
    if (!it)
        return 0;
    recindex_view_init(&v);
    const record *r = recindex_view_item(&v, ix, it);
    int rc = r && record_copy(out, r) == 0 ? 1 : -1;
    recindex_view_free(&v);
    return rc;
}

const char *recindex_item_shown(const recindex *ix, const recindex_item *it, const char *field)
{
    const char *v = reccompact_winner(&ix->cr, it->id, field);
    return v ? v : "";
}

/* Doubles the table; every record keeps its row, rows[] follows the move. */
static int grow(recindex *ix)
{
    size_t ncap = ix->cap ? ix->cap * 2 : 1024;
    if (ncap - 1 > UINT32_MAX) /* the tags hold the slot's bits */
        return -1;
    recindex_item *ns = calloc(ncap, sizeof *ns);
    uint32_t *nt = malloc(ncap * sizeof *nt);
    if (!ns || !nt) {
        free(ns);
        free(nt);
        return -1;
    }
    /* the ids are distinct: each goes to the first free slot from its
     * home, found from its tag alone (the same places as hashing it) */
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].id) {
            size_t j = ix->tags[i] & (ncap - 1);
            while (ns[j].id)
                j = (j + 1) & (ncap - 1);
            ns[j] = ix->slots[i];
            nt[j] = ix->tags[i];
            ix->rows[ns[j].row] = (uint32_t)j;
        }
    free(ix->slots);
    free(ix->tags);
    ix->slots = ns;
    ix->tags = nt;
    ix->cap = ncap;
    return 0;
}

uerr recindex_reserve(recindex *ix, size_t n)
{
    while ((ix->count + n) * 4 > ix->cap * 3)
        if (grow(ix) != 0)
            return UERR_NOMEM;
    if (ix->count + n > ix->rowcap) {
        size_t ncap = ix->count + n;
        uint32_t *nr = ncap <= UINT32_MAX ? realloc(ix->rows, ncap * sizeof *nr) : NULL;
        if (!nr)
            return UERR_NOMEM;
        ix->rows = nr;
        ix->rowcap = ncap;
    }
    return UERR_OK;
}

record_kind recindex_kind(const recindex *ix, const char *id)
{
    if (!ix->cap)
        return KIND_NONE;
    size_t i = find_slot(ix, id, recindex_id_hash(id));
    return ix->slots[i].id ? ix->slots[i].kind : KIND_NONE;
}

uerr recindex_put(recindex *ix, const char *id, record *r)
{
    record_kind k = recindex_kind(ix, id);
    return recindex_put_kind(ix, k ? k : KIND_MEMBER, id, r);
}

/* The fields in conflict of a record of kind (0 for other kinds: status
 * counts members only). */
static size_t conflicts_of(record_kind kind, const record *r)
{
    return kind == KIND_MEMBER ? record_conflict_fields(r, schema_field_is_set) : 0;
}

/* Add (sign 1) or take away (sign -1) one record's share of the tallies. */
static void tally(recindex *ix, record_kind kind, size_t nconf, int sign)
{
    ix->by_kind[kind] += (size_t)sign;
    ix->conflicted += (size_t)(sign * (nconf > 0));
    ix->conflict_fields += (size_t)sign * nconf;
}

/* ---- secondary indexes ------------------------------------------------------ */

/* The same for a record in the index. */
static const char *item_shown(const recindex *ix, const recindex_item *it, const char *field)
{
    return recindex_item_shown(ix, it, field);
}

/* The displayed value of every indexed field of the stored record (""
 * when none) into out, in one walk; returns reccompact_winners' "some
 * field has several entries". */
static int shown_all(const char *out[RECINDEX_FIELDS_MAX], const recindex *ix, const char *stored)
{
    const char *names[RECINDEX_FIELDS_MAX] = {0}, *got[RECINDEX_FIELDS_MAX];
    size_t pos[RECINDEX_FIELDS_MAX] = {0}, n = ix->nfields;
    /* sorted by name, as the entries are (insertion sort: a few fields) */
    for (size_t f = 0; f < n; f++) {
        size_t k = f;
        while (k > 0 && strcmp(names[k - 1], ix->fields[f].field) > 0) {
            names[k] = names[k - 1];
            pos[k] = pos[k - 1];
            k--;
        }
        names[k] = ix->fields[f].field;
        pos[k] = f;
    }
    int multi = reccompact_winners(got, &ix->cr, stored, names, n);
    for (size_t k = 0; k < n; k++)
        out[pos[k]] = got[k] ? got[k] : "";
    return multi;
}

const recindex_field *recindex_field_find(const recindex *ix, const char *field)
{
    for (size_t f = 0; f < ix->nfields; f++)
        if (strcmp(ix->fields[f].field, field) == 0)
            return &ix->fields[f];
    return NULL;
}

const recindex_value *recindex_value_find(const recindex_field *f, const char *value)
{
    recindex_value *v = NULL;
    HASH_FIND_STR(f->values, value, v);
    return v;
}

/* The entry of value in f, created empty when missing, with room for one
 * more row. NULL when out of memory (f may keep a new empty entry). */
static recindex_value *value_reserve(recindex_field *f, const char *value)
{
    recindex_value *v = NULL;
    HASH_FIND_STR(f->values, value, v);
    if (!v) {
        if (!(v = calloc(1, sizeof *v)) || !(v->value = strdup(value))) {
            free(v);
            return NULL;
        }
        map_oom = 0;
        HASH_ADD_KEYPTR(hh, f->values, v->value, strlen(v->value), v);
        if (map_oom) {
            free(v->value);
            free(v);
            return NULL;
        }
    }
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 4;
        uint32_t *nr = realloc(v->rows, ncap * sizeof *nr);
        if (!nr)
            return NULL;
        v->rows = nr;
        v->cap = ncap;
    }
    return v;
}

/* Take row out of the entry of value (it must be there). A record changes
 * its value rarely (an edit), so a linear search of 4-byte rows is cheap
 * next to the commit that caused it. */
static void value_drop(recindex_field *f, const char *value, uint32_t row)
{
    recindex_value *v = NULL;
    HASH_FIND_STR(f->values, value, v);
    assert(v);
    for (size_t k = v->n; k-- > 0;)
        if (v->rows[k] == row) {
            v->rows[k] = v->rows[--v->n];
            return;
        }
    assert(!"row missing from its secondary index entry");
}

uerr recindex_index_field(recindex *ix, const char *field)
{
    if (recindex_field_find(ix, field))
        return UERR_OK;
    if (ix->nfields == RECINDEX_FIELDS_MAX || strcmp(field, "id") == 0)
        return UERR_INVALID;
    recindex_field nf = {strdup(field), NULL};
    if (!nf.field)
        return UERR_NOMEM;
    for (uint32_t row = 0; row < ix->count; row++) {
        const recindex_item *it = recindex_row(ix, row);
        recindex_value *v = value_reserve(&nf, item_shown(ix, it, field));
        if (!v) {
            field_free(&nf);
            return UERR_NOMEM;
        }
        v->rows[v->n++] = row;
        v->by_kind[it->kind]++;
    }
    ix->fields[ix->nfields++] = nf;
    return UERR_OK;
}

/* ---- tallies ------------------------------------------------------------------ */

int recindex_tally_slot(const recindex *ix, const char *field)
{
    for (size_t t = 0; t < ix->ntallied; t++)
        if (strcmp(ix->fields[ix->tallied[t]].field, field) == 0)
            return (int)t;
    return -1;
}

/* The key of kind and the values v (one per indexed field) in *key. */
static void tally_key(uintptr_t key[1 + RECINDEX_TALLY_MAX], const recindex *ix, record_kind kind,
                      recindex_value *const *v)
{
    memset(key, 0, (1 + RECINDEX_TALLY_MAX) * sizeof *key);
    key[0] = (uintptr_t)kind;
    for (size_t t = 0; t < ix->ntallied; t++)
        key[1 + t] = (uintptr_t)v[ix->tallied[t]];
}

static recindex_tally *tally_find(recindex_tally *head, const uintptr_t *key)
{
    recindex_tally *t = NULL;
    HASH_FIND(hh, head, key, (1 + RECINDEX_TALLY_MAX) * sizeof *key, t);
    return t;
}

/* The tally of key in *head, created with n == 0 when missing. NULL when
 * out of memory (head unchanged). */
static recindex_tally *tally_reserve(recindex_tally **head, const uintptr_t *key)
{
    recindex_tally *t = tally_find(*head, key);
    if (t)
        return t;
    if (!(t = calloc(1, sizeof *t)))
        return NULL;
    memcpy(t->key, key, sizeof t->key);
    map_oom = 0;
    HASH_ADD(hh, *head, key, sizeof t->key, t);
    if (map_oom) {
        free(t);
        return NULL;
    }
    return t;
}

uerr recindex_tally_fields(recindex *ix, const char *const *fields, size_t n)
{
    if (ix->ntallied == n) { /* again with the same fields: a no-op */
        size_t same = 0;
        while (same < n && recindex_tally_slot(ix, fields[same]) == (int)same)
            same++;
        if (n && same == n)
            return UERR_OK;
    }
    if (ix->ntallied || n == 0 || n > RECINDEX_TALLY_MAX)
        return UERR_INVALID;
    size_t slot[RECINDEX_TALLY_MAX];
    for (size_t t = 0; t < n; t++) {
        const recindex_field *f = recindex_field_find(ix, fields[t]);
        if (!f)
            return UERR_INVALID;
        slot[t] = (size_t)(f - ix->fields);
    }
    memcpy(ix->tallied, slot, n * sizeof *slot);
    ix->ntallied = n;
    recindex_tally *head = NULL;
    for (uint32_t row = 0; row < ix->count; row++) {
        const recindex_item *it = recindex_row(ix, row);
        recindex_value *v[RECINDEX_FIELDS_MAX] = {0};
        uintptr_t key[1 + RECINDEX_TALLY_MAX];
        for (size_t t = 0; t < n; t++) {
            v[slot[t]] = (recindex_value *)recindex_value_find(&ix->fields[slot[t]],
                                                               item_shown(ix, it, fields[t]));
            assert(v[slot[t]]);
        }
        tally_key(key, ix, it->kind, v);
        recindex_tally *tl = tally_reserve(&head, key);
        if (!tl) {
            tallies_free(&head);
            ix->ntallied = 0;
            return UERR_NOMEM;
        }
        tl->n++;
    }
    ix->tallies = head;
    return UERR_OK;
}

/* ---- put ------------------------------------------------------------------------ */

/* Put the record already stored in the arena at stored (its id first)
 * as the record of kind with that id. On failure the stored bytes are
 * counted dead and the index is as it was. */
static uerr put_stored(recindex *ix, record_kind kind, const char *stored, const record *r)
{
    const char *id = stored;
    uerr e = UERR_NOMEM;
    assert(kind > KIND_NONE && kind < KIND_COUNT);
    recindex_value *to[RECINDEX_FIELDS_MAX] = {0};
    recindex_value *oldv[RECINDEX_FIELDS_MAX] = {0}, *newv[RECINDEX_FIELDS_MAX] = {0};
    recindex_tally *oldt = NULL, *newt = NULL;
    uintptr_t key[1 + RECINDEX_TALLY_MAX];
    if ((ix->count + 1) * 4 > ix->cap * 3 && grow(ix) != 0)
        goto fail;
    assert((ix->count + 1) * 4 <= ix->cap * 3);
    uint64_t h = recindex_id_hash(id);
    size_t i = find_slot(ix, id, h);
    recindex_item *it = &ix->slots[i];
    /* the displayed values of the indexed fields, new and old, each in
     * one walk of the bytes; whether a record may have a conflict at all */
    const char *nshown[RECINDEX_FIELDS_MAX], *oshown[RECINDEX_FIELDS_MAX];
    int nmulti = shown_all(nshown, ix, stored), omulti = it->id ? shown_all(oshown, ix, it->id) : 0;
    /* reserve: the entries the record moves to, a row for a new record,
     * the tally of its new combination */
    for (size_t f = 0; f < ix->nfields; f++) {
        const char *nv = nshown[f];
        if (it->id) {
            const char *ov = oshown[f];
            oldv[f] = (recindex_value *)recindex_value_find(&ix->fields[f], ov);
            assert(oldv[f]);
            if (strcmp(ov, nv) == 0) {
                newv[f] = oldv[f]; /* to[f] == NULL: stays where it is */
                continue;
            }
        }
        if (!(to[f] = value_reserve(&ix->fields[f], nv)))
            goto fail;
        newv[f] = to[f];
    }
    if (ix->ntallied) {
        if (it->id) {
            tally_key(key, ix, it->kind, oldv);
            oldt = tally_find(ix->tallies, key);
            assert(oldt && oldt->n > 0);
        }
        tally_key(key, ix, kind, newv);
        if (!(newt = tally_reserve(&ix->tallies, key)))
            goto fail;
    }
    size_t oldconf = 0;
    if (it->id && it->kind == KIND_MEMBER && omulti) {
        const record *old = recindex_view_item(&ix->wview, ix, it);
        if (!old)
            goto fail;
        oldconf = conflicts_of(it->kind, old);
    }
    if (!it->id && ix->count == ix->rowcap) {
        size_t ncap = ix->rowcap ? ix->rowcap * 2 : 1024;
        uint32_t *nr = ncap <= UINT32_MAX ? realloc(ix->rows, ncap * sizeof *nr) : NULL;
        if (!nr)
            goto fail;
        ix->rows = nr;
        ix->rowcap = ncap;
    }
    size_t newconf = 0;
    if (kind == KIND_MEMBER && (nmulti || r)) {
        if (!r && !(r = recindex_view_item(&ix->wview, ix, &(recindex_item){stored, 0, kind})))
            goto fail;
        newconf = conflicts_of(kind, r);
    }
    /* change: nothing below fails */
    if (it->id) {
        for (size_t f = 0; f < ix->nfields; f++) {
            if (to[f])
                value_drop(&ix->fields[f], oshown[f], it->row);
            assert(oldv[f]->by_kind[it->kind] > 0);
            oldv[f]->by_kind[it->kind]--;
        }
        if (oldt)
            oldt->n--;
        tally(ix, it->kind, oldconf, -1);
        reccompact_dead(&ix->cr, it->id);
        it->id = stored;
    } else {
        it->id = stored;
        ix->tags[i] = (uint32_t)h;
        if (strlen(stored) > ix->id_max)
            ix->id_max = strlen(stored);
        it->row = (uint32_t)ix->count;
        ix->rows[ix->count++] = (uint32_t)i;
    }
    for (size_t f = 0; f < ix->nfields; f++) {
        if (to[f])
            to[f]->rows[to[f]->n++] = it->row;
        newv[f]->by_kind[kind]++;
    }
    if (newt)
        newt->n++;
    it->kind = kind;
    tally(ix, kind, newconf, 1);
    /* replaced records leave dead bytes: drop them when they outweigh the
     * live ones (a failure only keeps them a while longer) */
    if (reccompact_wants_repack(&ix->cr))
        (void)reccompact_repack(&ix->cr, &ix->slots[0].id, ix->cap, sizeof *ix->slots);
    return UERR_OK;
fail:
    reccompact_dead(&ix->cr, stored);
    return e;
}

uerr recindex_put_kind_lent(recindex *ix, record_kind kind, const char *id, const record *r)
{
    const char *stored;
    if (reccompact_add(&stored, &ix->cr, id, r) != UERR_OK)
        return UERR_NOMEM;
    return put_stored(ix, kind, stored, r);
}

uerr recindex_put_kind(recindex *ix, record_kind kind, const char *id, record *r)
{
    uerr e = recindex_put_kind_lent(ix, kind, id, r);
    if (e == UERR_OK)
        record_free(r);
    return e;
}

uerr recindex_put_compact(recindex *ix, record_kind kind, const char *bytes, size_t len)
{
    const char *stored;
    if (reccompact_add_raw(&stored, &ix->cr, bytes, len) != UERR_OK)
        return UERR_NOMEM;
    return put_stored(ix, kind, stored, NULL);
}
