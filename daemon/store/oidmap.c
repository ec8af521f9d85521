/* oidmap.c - the store room's small containers of object ids: a growable
 * list (store_oidvec) and an open-addressing map from id to a 32-bit value
 * (store_oidmap), used by the pack writer, the pack builder and the
 * take-in checks (store_int.h). Ids are hashes, so their first bytes
 * index the map without hashing again. Part of the store room. */
#include "daemon/store/store_int.h"

#include <stdlib.h>
#include <string.h>

int store_oidvec_push(store_oidvec *o, const git_oid *id)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 1024;
        git_oid *nv = realloc(o->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        o->v = nv;
        o->cap = nc;
    }
    git_oid_cpy(&o->v[o->n++], id);
    return 0;
}

void store_oidmap_free(store_oidmap *m)
{
    free(m->k);
    free(m->v);
    free(m->used);
    memset(m, 0, sizeof *m);
}

/* Ids are hashes already: their first bytes are the hash. */
static size_t oidmap_slot(const store_oidmap *m, const git_oid *id)
{
    size_t h;
    memcpy(&h, id->id, sizeof h);
    for (h &= m->cap - 1; m->used[h] && !git_oid_equal(&m->k[h], id); h = (h + 1) & (m->cap - 1))
        ;
    return h;
}

static int oidmap_grow(store_oidmap *m)
{
    store_oidmap g = {0};
    g.cap = m->cap ? m->cap * 2 : 1024;
    g.k = calloc(g.cap, sizeof *g.k);
    g.v = calloc(g.cap, sizeof *g.v);
    g.used = calloc(g.cap, 1);
    if (!g.k || !g.v || !g.used) {
        store_oidmap_free(&g);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) {
            size_t h = oidmap_slot(&g, &m->k[i]);
            g.used[h] = 1;
            git_oid_cpy(&g.k[h], &m->k[i]);
            g.v[h] = m->v[i];
        }
    g.n = m->n;
    store_oidmap_free(m);
    *m = g;
    return 0;
}

int store_oidmap_put(store_oidmap *m, const git_oid *id, uint32_t v)
{
    if ((m->n + 1) * 2 > m->cap && oidmap_grow(m) != 0)
        return -1;
    size_t h = oidmap_slot(m, id);
    if (m->used[h])
        return 0;
    m->used[h] = 1;
    git_oid_cpy(&m->k[h], id);
    m->v[h] = v;
    m->n++;
    return 1;
}

uint32_t *store_oidmap_get(store_oidmap *m, const git_oid *id)
{
    if (!m->cap)
        return NULL;
    size_t h = oidmap_slot(m, id);
    return m->used[h] ? &m->v[h] : NULL;
}
