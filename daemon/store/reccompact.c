/* reccompact.c - the compact form of the record index's records (see
 * reccompact.h). Encoding reserves everything before it changes c, so a
 * failed add leaves c as it was (but for names and dictionary values
 * already added, which are harmless). Decoding trusts the bytes. */
#include "daemon/store/reccompact.h"

#include "proto/map.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct rc_name_item {
    const char *name; /* interned: the key is the pointer */
    uint32_t num;
    UT_hash_handle hh;
};

struct rc_value_item {
    const char *value; /* vals[num] */
    uint32_t num;
    UT_hash_handle hh;
};

/* Blocks grow from 64 KiB to 16 MiB: a small index (the schema records, a
 * test) costs little, a big one few allocations; a record never spans two
 * blocks and never moves until a repack. */
#define RC_BLOCK_MIN (64u << 10)
#define RC_BLOCK_MAX (16u << 20)

struct rc_block {
    rc_block *next;
    size_t size, used;
    char data[];
};

void reccompact_init(reccompact *c)
{
    memset(c, 0, sizeof *c);
}

static void blocks_free(rc_block *b)
{
    while (b) {
        rc_block *next = b->next;
        free(b);
        b = next;
    }
}

void reccompact_free(reccompact *c)
{
    rc_name_item *n, *ntmp;
    HASH_ITER(hh, c->namemap, n, ntmp)
    {
        HASH_DEL(c->namemap, n);
        free(n);
    }
    rc_value_item *v, *vtmp;
    HASH_ITER(hh, c->valmap, v, vtmp)
    {
        HASH_DEL(c->valmap, v);
        free(v);
    }
    for (size_t i = 0; i < c->nvals; i++)
        free(c->vals[i]);
    free(c->vals);
    free(c->names);
    free(c->dict_made);
    blocks_free(c->blocks);
    free(c->tmp);
    reccompact_init(c);
}

/* ---- varints ---------------------------------------------------------------- */

static size_t put_uv(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline uint64_t get_uv(const uint8_t **pp)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    unsigned shift = 0;
    while (*p & 0x80) {
        v |= (uint64_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    v |= (uint64_t)*p++ << shift;
    *pp = p;
    return v;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- names and dictionary -------------------------------------------------------- */

/* The slot of name s in c's name cache: the pointer's bits mixed
 * (Fibonacci hashing), its top five bits. */
static size_t ncache_slot(const char *s)
{
    return (size_t)(((uint64_t)(uintptr_t)s * 0x9E3779B97F4A7C15ull) >> 59);
}

/* The number of the interned name s, added when new; -1 out of memory.
 * The writer's only (the cache is written): encoding and loading. */
static int64_t name_num(reccompact *c, const char *s)
{
    size_t slot = ncache_slot(s);
    if (c->ncache_key[slot] == s)
        return c->ncache_num[slot];
    rc_name_item *it = NULL;
    HASH_FIND_PTR(c->namemap, &s, it);
    if (it) {
        c->ncache_key[slot] = s;
        c->ncache_num[slot] = it->num;
        return it->num;
    }
    if (c->nnames == c->namecap) {
        size_t ncap = c->namecap ? c->namecap * 2 : 32;
        const char **nn = realloc(c->names, ncap * sizeof *nn);
        if (!nn)
            return -1;
        c->names = nn;
        uint32_t *nd = realloc(c->dict_made, ncap * sizeof *nd);
        if (!nd)
            return -1;
        c->dict_made = nd;
        c->namecap = ncap;
    }
    if (!(it = malloc(sizeof *it)))
        return -1;
    it->name = s;
    it->num = (uint32_t)c->nnames;
    map_oom = 0;
    HASH_ADD_PTR(c->namemap, name, it);
    if (map_oom) {
        free(it);
        return -1;
    }
    c->names[c->nnames] = s;
    c->dict_made[c->nnames] = 0;
    c->ncache_key[slot] = s;
    c->ncache_num[slot] = (uint32_t)c->nnames;
    return (int64_t)c->nnames++;
}

/* Add s[0..len) (not yet in it) to the dictionary: its number, or -1 out
 * of memory (the dictionary unchanged). */
static int64_t dict_add(reccompact *c, const char *s, size_t len)
{
    rc_value_item *it;
    if (c->nvals == c->valcap) {
        size_t ncap = c->valcap ? c->valcap * 2 : 64;
        char **nv = realloc(c->vals, ncap * sizeof *nv);
        if (!nv)
            return -1;
        c->vals = nv;
        c->valcap = ncap;
    }
    char *copy = malloc(len + 1);
    if (!copy || !(it = malloc(sizeof *it))) {
        free(copy);
        return -1;
    }
    memcpy(copy, s, len);
    copy[len] = 0;
    it->value = copy;
    it->num = (uint32_t)c->nvals;
    map_oom = 0;
    HASH_ADD_KEYPTR(hh, c->valmap, copy, len, it);
    if (map_oom) {
        free(copy);
        free(it);
        return -1;
    }
    c->vals[c->nvals++] = copy;
    return (int64_t)it->num;
}

/* The dictionary tag of value for field fnum: 1 + its number, or 0 when
 * it stays inline; -1 out of memory. */
static int64_t value_tag(reccompact *c, uint32_t fnum, const char *value)
{
    size_t len = strlen(value);
    if (len > RECCOMPACT_DICT_VALUE_MAX)
        return 0;
    rc_value_item *it = NULL;
    HASH_FIND(hh, c->valmap, value, len, it);
    if (it)
        return (int64_t)it->num + 1;
    if (c->dict_made[fnum] >= RECCOMPACT_DICT_PER_FIELD)
        return 0;
    int64_t num = dict_add(c, value, len);
    if (num < 0)
        return -1;
    c->dict_made[fnum]++;
    return num + 1;
}

/* ---- the arena ------------------------------------------------------------------- */

/* Room for n bytes in the newest block (a new block when it is full). */
static char *arena_reserve(rc_block **head, size_t n)
{
    rc_block *b = *head;
    if (b && b->size - b->used >= n)
        return b->data + b->used;
    size_t size = b ? b->size * 2 : RC_BLOCK_MIN;
    if (size > RC_BLOCK_MAX)
        size = RC_BLOCK_MAX;
    if (size < n)
        size = n;
    rc_block *nb = malloc(sizeof *nb + size);
    if (!nb)
        return NULL;
    nb->next = b;
    nb->size = size;
    nb->used = 0;
    *head = nb;
    return nb->data;
}

/* ---- encoding ---------------------------------------------------------------------- */

static int tmp_reserve(reccompact *c, size_t n)
{
    if (n <= c->tmpcap)
        return 0;
    size_t ncap = c->tmpcap ? c->tmpcap : 256;
    while (ncap < n)
        ncap *= 2;
    uint8_t *nt = realloc(c->tmp, ncap);
    if (!nt)
        return -1;
    c->tmp = nt;
    c->tmpcap = ncap;
    return 0;
}

/* The body (context and entries) of r into c->tmp; its length, or -1. */
static int64_t encode_body(reccompact *c, const record *r)
{
    /* at most 10 bytes a varint: 2 per context item, 5 per entry */
    size_t bound = 20 + r->nctx * 20 + r->nentries * 50;
    for (size_t i = 0; i < r->nentries; i++)
        bound += strlen(r->entries[i].value) + 1;
    if (tmp_reserve(c, bound) != 0)
        return -1;
    size_t n = put_uv(c->tmp, r->nctx);
    for (size_t i = 0; i < r->nctx; i++) {
        int64_t nn = name_num(c, r->ctx[i].node);
        if (nn < 0)
            return -1;
        n += put_uv(c->tmp + n, (uint64_t)nn);
        n += put_uv(c->tmp + n, r->ctx[i].counter);
    }
    n += put_uv(c->tmp + n, r->nentries);
    int64_t prev = 0;
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        int64_t fn = name_num(c, e->field), nn = name_num(c, e->node);
        if (fn < 0 || nn < 0)
            return -1;
        int64_t tag = value_tag(c, (uint32_t)fn, e->value);
        if (tag < 0)
            return -1;
        n += put_uv(c->tmp + n, (uint64_t)fn);
        n += put_uv(c->tmp + n, (uint64_t)tag);
        if (tag == 0) {
            size_t len = strlen(e->value) + 1;
            memcpy(c->tmp + n, e->value, len);
            n += len;
        }
        n += put_uv(c->tmp + n, (uint64_t)nn);
        n += put_uv(c->tmp + n, e->counter);
        n += put_uv(c->tmp + n, zigzag((int64_t)((uint64_t)e->time_ms - (uint64_t)prev)));
        prev = e->time_ms;
    }
    assert(n <= bound);
    return (int64_t)n;
}

uerr reccompact_add(const char **stored, reccompact *c, const char *id, const record *r)
{
    size_t idlen = strlen(id);
    assert(idlen <= RECORD_ID_MAX);
    int64_t body = encode_body(c, r);
    if (body < 0)
        return UERR_NOMEM;
    uint8_t len[10];
    size_t lenlen = put_uv(len, (uint64_t)body);
    size_t total = idlen + 1 + lenlen + (size_t)body;
    char *p = arena_reserve(&c->blocks, total);
    if (!p)
        return UERR_NOMEM;
    memcpy(p, id, idlen + 1);
    memcpy(p + idlen + 1, len, lenlen);
    memcpy(p + idlen + 1 + lenlen, c->tmp, (size_t)body);
    c->blocks->used += total;
    c->used += total;
    *stored = p;
    return UERR_OK;
}

size_t reccompact_size(const char *stored)
{
    size_t idlen = strlen(stored);
    const uint8_t *p = (const uint8_t *)stored + idlen + 1, *q = p;
    uint64_t body = get_uv(&q);
    return idlen + 1 + (size_t)(q - p) + (size_t)body;
}

void reccompact_dead(reccompact *c, const char *stored)
{
    c->garbage += reccompact_size(stored);
}

int reccompact_wants_repack(const reccompact *c)
{
    return c->garbage > (4u << 20) && c->garbage > c->used - c->garbage;
}

uerr reccompact_repack(reccompact *c, const char **handle, size_t n, size_t stride)
{
    rc_block *nb = NULL;
    size_t used = 0;
    /* copy first, then move the handles: nothing changes on failure */
    char **moved = malloc((n ? n : 1) * sizeof *moved);
    if (!moved)
        return UERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *h = *(const char **)((char *)handle + i * stride);
        moved[i] = NULL;
        if (!h)
            continue;
        size_t size = reccompact_size(h);
        char *p = arena_reserve(&nb, size);
        if (!p) {
            blocks_free(nb);
            free(moved);
            return UERR_NOMEM;
        }
        memcpy(p, h, size);
        nb->used += size;
        used += size;
        moved[i] = p;
    }
    for (size_t i = 0; i < n; i++)
        if (moved[i])
            *(const char **)((char *)handle + i * stride) = moved[i];
    free(moved);
    blocks_free(c->blocks);
    c->blocks = nb;
    c->used = used;
    c->garbage = 0;
    return UERR_OK;
}

/* ---- decoding ------------------------------------------------------------------------- */

static int grow(void **buf, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < n)
        ncap *= 2;
    void *nb = realloc(*buf, ncap * size);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

/* One entry of a stored record as the walks below read it. */
typedef struct {
    const char *field, *value, *node; /* interned names; value borrowed from the
                                         dictionary or the stored bytes */
    uint64_t counter;
    int64_t time_ms; /* the running sum of the stored deltas: set to 0 before the first */
} rc_walk;

/* The context pairs of stored (after its id) are skipped over; *p is left
 * at the first entry and the number of entries is returned. */
static size_t walk_entries(const uint8_t **p, const char *stored)
{
    *p = (const uint8_t *)stored + strlen(stored) + 1;
    (void)get_uv(p); /* the length */
    size_t nctx = (size_t)get_uv(p);
    for (size_t i = 0; i < 2 * nctx; i++)
        (void)get_uv(p);
    return (size_t)get_uv(p);
}

/* Read the entry at *p into w (w->time_ms carries the previous entry's
 * time) and move *p past it. */
static inline void walk_next(rc_walk *w, const uint8_t **p, const reccompact *c)
{
    w->field = c->names[get_uv(p)];
    uint64_t tag = get_uv(p);
    if (tag) {
        w->value = c->vals[tag - 1];
    } else {
        w->value = (const char *)*p;
        *p += strlen(w->value) + 1;
    }
    w->node = c->names[get_uv(p)];
    w->counter = get_uv(p);
    w->time_ms = (int64_t)((uint64_t)w->time_ms + (uint64_t)unzigzag(get_uv(p)));
}

int reccompact_decode(record *out, record_entry **ebuf, size_t *ecap, record_ctx **cbuf,
                      size_t *ccap, const reccompact *c, const char *stored)
{
    const uint8_t *p = (const uint8_t *)stored + strlen(stored) + 1;
    record_init(out);
    (void)get_uv(&p); /* the length */
    size_t nctx = (size_t)get_uv(&p);
    if (grow((void **)cbuf, ccap, nctx, sizeof **cbuf) != 0)
        return -1;
    record_ctx *cx = *cbuf;
    for (size_t i = 0; i < nctx; i++) {
        cx[i].node = c->names[get_uv(&p)];
        cx[i].counter = get_uv(&p);
    }
    size_t ne = (size_t)get_uv(&p);
    if (grow((void **)ebuf, ecap, ne, sizeof **ebuf) != 0)
        return -1;
    record_entry *e = *ebuf;
    rc_walk w = {0};
    for (size_t i = 0; i < ne; i++) {
        walk_next(&w, &p, c);
        e[i] = (record_entry){w.field, (char *)w.value, w.node, w.counter, w.time_ms};
    }
    out->ctx = nctx ? cx : NULL;
    out->nctx = nctx;
    out->entries = ne ? e : NULL;
    out->nentries = ne;
    return 0;
}

const char *reccompact_winner(const reccompact *c, const char *stored, const char *field)
{
    const uint8_t *p;
    size_t ne = walk_entries(&p, stored);
    int64_t bt = 0;
    const char *best = NULL, *bnode = NULL;
    uint64_t bctr = 0;
    rc_walk w = {0};
    for (size_t i = 0; i < ne; i++) {
        walk_next(&w, &p, c);
        const char *f = w.field, *value = w.value, *node = w.node;
        uint64_t ctr = w.counter;
        int64_t t = w.time_ms;
        int cmp = f == field ? 0 : strcmp(f, field);
        if (cmp < 0)
            continue;
        if (cmp > 0)
            break;
        int nc = best ? strcmp(node, bnode) : 0;
        if (!best || t > bt || (t == bt && (nc > 0 || (nc == 0 && ctr > bctr)))) {
            best = value;
            bt = t;
            bnode = node;
            bctr = ctr;
        }
    }
    return best;
}

/* ---- loading from a snapshot ------------------------------------------------------- */

uerr reccompact_name_push(reccompact *c, const char *s, size_t len)
{
    const char *in = record_intern(s, len);
    rc_name_item *it = NULL;
    if (!in)
        return UERR_NOMEM;
    HASH_FIND_PTR(c->namemap, &in, it);
    if (it)
        return UERR_INVALID; /* twice: not a table this code wrote */
    return name_num(c, in) < 0 ? UERR_NOMEM : UERR_OK;
}

uerr reccompact_value_push(reccompact *c, const char *s, size_t len)
{
    rc_value_item *it = NULL;
    HASH_FIND(hh, c->valmap, s, len, it);
    if (it)
        return UERR_INVALID;
    return dict_add(c, s, len) < 0 ? UERR_NOMEM : UERR_OK;
}

uerr reccompact_add_raw(const char **stored, reccompact *c, const char *bytes, size_t len)
{
    char *p = arena_reserve(&c->blocks, len);
    if (!p)
        return UERR_NOMEM;
    memcpy(p, bytes, len);
    c->blocks->used += len;
    c->used += len;
    *stored = p;
    return UERR_OK;
}

/* A varint of at most 64 bits inside [*pp, end): 0 and *v, or -1. */
static int get_uv_checked(uint64_t *v, const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned shift = 0; p < end && shift < 64; shift += 7) {
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return -1;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            *pp = p;
            return 0;
        }
    }
    return -1;
}

/* A NUL-terminated string inside [*pp, end): 0 (*pp past the NUL) or -1. */
static int skip_str(const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *z = memchr(*pp, 0, (size_t)(end - *pp));
    if (!z)
        return -1;
    *pp = z + 1;
    return 0;
}

int reccompact_check(size_t nnames, size_t nvals, const char *bytes, size_t len)
{
    const uint8_t *p = (const uint8_t *)bytes, *end = p + len;
    const uint8_t *idend = memchr(p, 0, len < RECORD_ID_MAX + 1 ? len : RECORD_ID_MAX + 1);
    uint64_t body, n, v;
    if (!idend || !record_id_valid(bytes))
        return 0;
    p = idend + 1;
    if (get_uv_checked(&body, &p, end) != 0 || body != (uint64_t)(end - p))
        return 0;
    if (get_uv_checked(&n, &p, end) != 0 || n > RECORD_CTX_MAX)
        return 0;
    for (uint64_t i = 0; i < n; i++)
        if (get_uv_checked(&v, &p, end) != 0 || v >= nnames || get_uv_checked(&v, &p, end) != 0)
            return 0;
    if (get_uv_checked(&n, &p, end) != 0 || n > RECORD_ENTRIES_MAX)
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        if (get_uv_checked(&v, &p, end) != 0 || v >= nnames) /* field */
            return 0;
        if (get_uv_checked(&v, &p, end) != 0 || v > nvals) /* value tag */
            return 0;
        if (v == 0 && skip_str(&p, end) != 0)
            return 0;
        if (get_uv_checked(&v, &p, end) != 0 || v >= nnames || /* node */
            get_uv_checked(&v, &p, end) != 0 ||                /* counter */
            get_uv_checked(&v, &p, end) != 0)                  /* time */
            return 0;
    }
    return p == end;
}

/* ---- several fields in one walk ------------------------------------------------------ */

int reccompact_winners(const char **out, const reccompact *c, const char *stored,
                       const char *const *fields, size_t n)
{
    const uint8_t *p;
    size_t ne = walk_entries(&p, stored);
    int64_t bt = 0;
    const char *bnode = NULL;
    uint64_t bctr = 0;
    const char *prevf = NULL;
    int multi = 0;
    size_t k = 0; /* the field of fields the walk is at */
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    rc_walk w = {0};
    for (size_t i = 0; i < ne; i++) {
        walk_next(&w, &p, c);
        const char *f = w.field, *value = w.value, *node = w.node;
        uint64_t ctr = w.counter;
        int64_t t = w.time_ms;
        multi |= f == prevf; /* names are interned: one pointer per name */
        prevf = f;
        int cmp = 1;
        while (k < n && (cmp = strcmp(f, fields[k])) > 0)
            k++;
        if (k == n) {
            if (multi)
                break;
            continue;
        }
        if (cmp < 0)
            continue;
        int nc = out[k] ? strcmp(node, bnode) : 0;
        if (!out[k] || t > bt || (t == bt && (nc > 0 || (nc == 0 && ctr > bctr)))) {
            out[k] = value;
            bt = t;
            bnode = node;
            bctr = ctr;
        }
    }
    return multi;
}
