/* recindex.c - open-addressing hash map of id -> record (see recindex.h).
 * The capacity is a power of two and the load stays under 3/4, so a probe
 * always ends at a free slot. */
#include "daemon/store/recindex.h"

#include "proto/schema.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void recindex_init(recindex *ix)
{
    memset(ix, 0, sizeof *ix);
}

void recindex_free(recindex *ix)
{
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].id) {
            free(ix->slots[i].id);
            record_free(&ix->slots[i].rec);
        }
    free(ix->slots);
    recindex_init(ix);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static size_t find_slot(const recindex_item *slots, size_t cap, const char *id)
{
    assert(cap && (cap & (cap - 1)) == 0);
    size_t i = (size_t)hash(id) & (cap - 1);
    while (slots[i].id && strcmp(slots[i].id, id) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

record *recindex_get(const recindex *ix, const char *id)
{
    if (!ix->cap)
        return NULL;
    size_t i = find_slot(ix->slots, ix->cap, id);
    return ix->slots[i].id ? &ix->slots[i].rec : NULL;
}

static int grow(recindex *ix)
{
    size_t ncap = ix->cap ? ix->cap * 2 : 1024;
    recindex_item *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].id)
            ns[find_slot(ns, ncap, ix->slots[i].id)] = ix->slots[i];
    free(ix->slots);
    ix->slots = ns;
    ix->cap = ncap;
    return 0;
}

record_kind recindex_kind(const recindex *ix, const char *id)
{
    if (!ix->cap)
        return KIND_NONE;
    size_t i = find_slot(ix->slots, ix->cap, id);
    return ix->slots[i].id ? ix->slots[i].kind : KIND_NONE;
}

uerr recindex_put(recindex *ix, const char *id, record *r)
{
    record_kind k = recindex_kind(ix, id);
    return recindex_put_kind(ix, k ? k : KIND_MEMBER, id, r);
}

/* Add (sign 1) or take away (sign -1) one record's share of the tallies. */
static void tally(recindex *ix, record_kind kind, const record *r, int sign)
{
    ix->by_kind[kind] += (size_t)sign;
    if (kind != KIND_MEMBER)
        return;
    size_t n = record_conflict_fields(r, schema_field_is_set);
    ix->conflicted += (size_t)(sign * (n > 0));
    ix->conflict_fields += (size_t)sign * n;
}

uerr recindex_put_kind(recindex *ix, record_kind kind, const char *id, record *r)
{
    assert(kind > KIND_NONE && kind < KIND_COUNT);
    if ((ix->count + 1) * 4 > ix->cap * 3 && grow(ix) != 0)
        return UERR_NOMEM;
    assert((ix->count + 1) * 4 <= ix->cap * 3);
    size_t i = find_slot(ix->slots, ix->cap, id);
    if (ix->slots[i].id) {
        tally(ix, ix->slots[i].kind, &ix->slots[i].rec, -1);
        record_free(&ix->slots[i].rec);
    } else {
        char *copy = strdup(id);
        if (!copy)
            return UERR_NOMEM;
        ix->slots[i].id = copy;
        ix->count++;
    }
    ix->slots[i].rec = *r;
    ix->slots[i].kind = kind;
    tally(ix, kind, r, 1);
    record_init(r);
    return UERR_OK;
}
