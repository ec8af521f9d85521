/* recsnap_fmt.c - the persisted record index's bytes (see recsnap_fmt.h).
 * Every read goes through a cursor that refuses to step past the end; the
 * check walks the whole image before the load trusts any of it. */
#include "daemon/store/recsnap_fmt.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SNAP_MAGIC "uniondRX"
#define SNAP_END "RXok"
#define SNAP_HEADER (8 + 4 + 40)
#define SNAP_TRAILER (4 + 4)

/* ---- a bounded cursor ---------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
    int bad; /* set once a read went past the end: every later read fails */
} cur;

static uint64_t get_le(cur *c, int n)
{
    uint64_t v = 0;
    if (c->bad || c->end - c->p < n) {
        c->bad = 1;
        return 0;
    }
    for (int i = n; i-- > 0;)
        v = v << 8 | c->p[i];
    c->p += n;
    return v;
}

/* n bytes at the cursor (NULL when they are not all there). */
static const unsigned char *take(cur *c, uint64_t n)
{
    if (c->bad || (uint64_t)(c->end - c->p) < n) {
        c->bad = 1;
        return NULL;
    }
    const unsigned char *at = c->p;
    c->p += n;
    return at;
}

static uLong crc_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    /* crc32 takes a uInt length: feed it in pieces */
    for (size_t off = 0; off < n;) {
        size_t step = n - off > (1u << 30) ? (1u << 30) : n - off;
        crc = crc32(crc, p + off, (uInt)step);
        off += step;
    }
    return crc;
}

/* ---- checking -------------------------------------------------------------------- */

int recsnap_fmt_header(char tree[41], const unsigned char *p, size_t size)
{
    if (size < SNAP_HEADER || memcmp(p, SNAP_MAGIC, 8) != 0)
        return 0;
    cur c = {p + 8, p + SNAP_HEADER, 0};
    if (get_le(&c, 4) != RECSNAP_VERSION)
        return 0;
    const unsigned char *hex = take(&c, 40);
    for (int i = 0; hex && i < 40; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return 0;
    if (!hex)
        return 0;
    memcpy(tree, hex, 40);
    tree[40] = 0;
    return 1;
}

int recsnap_fmt_check(char tree[41], const unsigned char *p, size_t size)
{
    if (size < SNAP_HEADER + SNAP_TRAILER || memcmp(p, SNAP_MAGIC, 8) != 0)
        return 0;
    cur c = {p + 8, p + size - SNAP_TRAILER, 0};
    if (get_le(&c, 4) != RECSNAP_VERSION)
        return 0;
    const unsigned char *t = p + size - SNAP_TRAILER;
    if (memcmp(t + 4, SNAP_END, 4) != 0)
        return 0;
    cur tc = {t, t + 4, 0};
    if (get_le(&tc, 4) != (uint32_t)crc_of(p, size - SNAP_TRAILER))
        return 0;
    const unsigned char *hex = take(&c, 40);
    for (int i = 0; hex && i < 40; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return 0;
    uint64_t nnames = get_le(&c, 4);
    for (uint64_t i = 0; i < nnames && !c.bad; i++) {
        uint64_t len = get_le(&c, 1);
        const unsigned char *s = take(&c, len);
        if (!s || len == 0 || len > RECORD_NODE_MAX || memchr(s, 0, len))
            return 0;
    }
    uint64_t nvals = get_le(&c, 4);
    for (uint64_t i = 0; i < nvals && !c.bad; i++) {
        uint64_t len = get_le(&c, 4);
        const unsigned char *s = take(&c, len);
        if (!s || memchr(s, 0, len))
            return 0;
    }
    uint64_t nrec = get_le(&c, 8);
    for (uint64_t i = 0; i < nrec && !c.bad; i++) {
        uint64_t kind = get_le(&c, 1), len = get_le(&c, 4);
        const unsigned char *s = take(&c, len);
        if (!s || kind <= KIND_NONE || kind >= KIND_COUNT ||
            !reccompact_check(nnames, nvals, (const char *)s, len))
            return 0;
    }
    uint64_t nblobs = get_le(&c, 4);
    for (uint64_t i = 0; i < nblobs && !c.bad; i++) {
        uint64_t kind = get_le(&c, 1), idlen = get_le(&c, 1), len = get_le(&c, 4);
        const unsigned char *id = take(&c, idlen);
        if (!id || !take(&c, len) || kind <= KIND_NONE || kind >= KIND_COUNT || idlen == 0 ||
            idlen > RECORD_ID_MAX || memchr(id, 0, idlen))
            return 0;
    }
    if (c.bad || c.p != c.end)
        return 0;
    memcpy(tree, p + 12, 40);
    tree[40] = 0;
    return 1;
}

/* ---- loading ---------------------------------------------------------------------- */

uerr recsnap_fmt_load(recindex *ix, const unsigned char *p, size_t size, recsnap_skip_fn skip,
                      recsnap_blob_fn blob_cb, void *arg)
{
    char tree[41];
    if (!recsnap_fmt_check(tree, p, size))
        return UERR_INVALID;
    return recsnap_fmt_load_checked(ix, p, size, skip, blob_cb, arg);
}

uerr recsnap_fmt_load_checked(recindex *ix, const unsigned char *p, size_t size,
                              recsnap_skip_fn skip, recsnap_blob_fn blob_cb, void *arg)
{
    char id[RECORD_ID_MAX + 1], *blob = NULL;
    size_t cap = 0;
    uerr e = UERR_OK;
    if (ix->count || ix->cr.nnames || ix->cr.nvals)
        return UERR_INVALID;
    cur c = {p + SNAP_HEADER, p + size - SNAP_TRAILER, 0};
    uint64_t n = get_le(&c, 4);
    for (uint64_t i = 0; i < n && e == UERR_OK; i++) {
        uint64_t len = get_le(&c, 1);
        e = reccompact_name_push(&ix->cr, (const char *)take(&c, len), len);
    }
    n = get_le(&c, 4);
    for (uint64_t i = 0; i < n && e == UERR_OK; i++) {
        uint64_t len = get_le(&c, 4);
        e = reccompact_value_push(&ix->cr, (const char *)take(&c, len), len);
    }
    n = get_le(&c, 8);
    /* checked: n records of at least 3 bytes each fit in the image */
    if (e == UERR_OK)
        e = recindex_reserve(ix, (size_t)n);
    for (uint64_t i = 0; i < n && e == UERR_OK; i++) {
        record_kind kind = (record_kind)get_le(&c, 1);
        uint64_t len = get_le(&c, 4);
        const char *s = (const char *)take(&c, len);
        if (!skip || !skip(kind, s, arg)) /* the stored bytes begin with the id */
            e = recindex_put_compact(ix, kind, s, len);
    }
    n = get_le(&c, 4);
    for (uint64_t i = 0; i < n && e == UERR_OK; i++) {
        record_kind kind = (record_kind)get_le(&c, 1);
        uint64_t idlen = get_le(&c, 1), len = get_le(&c, 4);
        memcpy(id, take(&c, idlen), idlen);
        id[idlen] = 0;
        const unsigned char *b = take(&c, len);
        if (skip && skip(kind, id, arg))
            continue;
        if (len + 1 > cap) {
            char *nb = realloc(blob, len + 1);
            if (!nb) {
                e = UERR_NOMEM;
                break;
            }
            blob = nb;
            cap = len + 1;
        }
        memcpy(blob, b, len);
        blob[len] = 0;
        e = (uerr)blob_cb(kind, id, blob, len, arg);
    }
    free(blob);
    return e;
}

/* ---- writing ------------------------------------------------------------------------ */

typedef struct {
    FILE *f;
    uLong crc;
    int bad;
} out;

static void put(out *o, const void *data, size_t len)
{
    if (o->bad || !len)
        return;
    o->crc = crc32(o->crc, data, (uInt)len);
    o->bad = fwrite(data, 1, len, o->f) != len;
}

static void put_le(out *o, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(o, b, (size_t)n);
}

int recsnap_fmt_write(FILE *f, const recindex *ix, const char *tree, const recsnap_blob *blobs,
                      size_t nblobs)
{
    out o = {f, crc32(0L, Z_NULL, 0), 0};
    const reccompact *cr = &ix->cr;
    if (strlen(tree) != 40 || cr->nnames > UINT32_MAX || cr->nvals > UINT32_MAX ||
        nblobs > UINT32_MAX)
        return -1;
    put(&o, SNAP_MAGIC, 8);
    put_le(&o, RECSNAP_VERSION, 4);
    put(&o, tree, 40);
    put_le(&o, cr->nnames, 4);
    for (size_t i = 0; i < cr->nnames; i++) {
        size_t len = strlen(cr->names[i]);
        if (len == 0 || len > RECORD_NODE_MAX)
            return -1;
        put_le(&o, len, 1);
        put(&o, cr->names[i], len);
    }
    put_le(&o, cr->nvals, 4);
    for (size_t i = 0; i < cr->nvals; i++) {
        size_t len = strlen(cr->vals[i]);
        put_le(&o, len, 4);
        put(&o, cr->vals[i], len);
    }
    /* in row order: the order they were first put, the arena's */
    put_le(&o, ix->count, 8);
    for (size_t r = 0; r < ix->count; r++) {
        const recindex_item *it = recindex_row(ix, (uint32_t)r);
        size_t len = reccompact_size(it->id);
        put_le(&o, (uint64_t)it->kind, 1);
        put_le(&o, len, 4);
        put(&o, it->id, len);
    }
    put_le(&o, nblobs, 4);
    for (size_t i = 0; i < nblobs; i++) {
        size_t idlen = strlen(blobs[i].id);
        if (idlen == 0 || idlen > RECORD_ID_MAX || blobs[i].len > UINT32_MAX)
            return -1;
        put_le(&o, (uint64_t)blobs[i].kind, 1);
        put_le(&o, idlen, 1);
        put_le(&o, blobs[i].len, 4);
        put(&o, blobs[i].id, idlen);
        put(&o, blobs[i].blob, blobs[i].len);
    }
    uLong crc = o.crc;
    put_le(&o, (uint32_t)crc, 4);
    put(&o, SNAP_END, 4);
    return o.bad ? -1 : 0;
}
