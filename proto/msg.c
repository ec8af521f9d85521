/* msg.c - typed msgpack map lookups and packing shorthands (see msg.h). */
#include "proto/msg.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const msgpack_object *msg_get(const msgpack_object *o, const char *key)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            memcmp(k->via.str.ptr, key, kl) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

char *msg_str_dup(const msgpack_object *o)
{
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return NULL;
    if (o->via.str.size == 0) /* msgpack-c may leave ptr NULL for "" */
        return strdup("");
    if (memchr(o->via.str.ptr, 0, o->via.str.size))
        return NULL;
    return strndup(o->via.str.ptr, o->via.str.size);
}

char *msg_get_str(const msgpack_object *o, const char *key)
{
    return msg_str_dup(msg_get(o, key));
}

int64_t msg_get_int(const msgpack_object *o, const char *key, int64_t def)
{
    const msgpack_object *v = msg_get(o, key);
    if (!v)
        return def;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return v->via.u64 > INT64_MAX ? def : (int64_t)v->via.u64;
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return v->via.i64;
    return def;
}

int msg_get_bool(const msgpack_object *o, const char *key, int def)
{
    const msgpack_object *v = msg_get(o, key);
    return v && v->type == MSGPACK_OBJECT_BOOLEAN ? v->via.boolean : def;
}

const msgpack_object_array *msg_get_array(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = msg_get(o, key);
    return v && v->type == MSGPACK_OBJECT_ARRAY ? &v->via.array : NULL;
}

void msg_pack_str(msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void msg_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    msg_pack_str(pk, key);
    msg_pack_str(pk, val);
}

void msg_pack_kv_bool(msgpack_packer *pk, const char *key, int val)
{
    msg_pack_str(pk, key);
    if (val)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void msg_pack_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    msg_pack_str(pk, key);
    msgpack_pack_int64(pk, val);
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int msg_check(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t pos = 0;
    uint64_t pending = 1; /* objects still to read */
    while (pending) {
        if (pos >= len)
            return -1;
        unsigned c = p[pos++];
        uint64_t skip = 0, children = 0;
        int hdr = 0; /* bytes of the length field */
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            /* fixint, nil, bool */
        } else if (c <= 0x8f) {
            children = 2ull * (c & 0x0f); /* fixmap */
        } else if (c <= 0x9f) {
            children = c & 0x0f; /* fixarray */
        } else if (c <= 0xbf) {
            skip = c & 0x1f; /* fixstr */
        } else {
            switch (c) {
            case 0xc4: /* bin8 */
            case 0xd9: /* str8 */
                hdr = 1;
                break;
            case 0xc5:
            case 0xda:
            case 0xdc: /* array16 */
            case 0xde: /* map16 */
                hdr = 2;
                break;
            case 0xc6:
            case 0xdb:
            case 0xdd: /* array32 */
            case 0xdf: /* map32 */
                hdr = 4;
                break;
            case 0xc7: /* ext8, 16, 32: length, then a type byte */
                hdr = 1;
                skip = 1;
                break;
            case 0xc8:
                hdr = 2;
                skip = 1;
                break;
            case 0xc9:
                hdr = 4;
                skip = 1;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xca:
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcb:
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4: /* fixext 1, 2, 4, 8, 16: type byte + data */
                skip = 2;
                break;
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            default: /* 0xc1 is never used */
                return -1;
            }
            if (hdr) {
                if (len - pos < (size_t)hdr)
                    return -1;
                uint64_t n = be(p + pos, hdr);
                pos += (size_t)hdr;
                if (c == 0xdc || c == 0xdd)
                    children = n;
                else if (c == 0xde || c == 0xdf)
                    children = 2 * n;
                else
                    skip += n;
            }
        }
        if (skip > len - pos)
            return -1;
        pos += (size_t)skip;
        /* Every object takes at least one byte: a count beyond the bytes
         * left is a lie, refused before msgpack-c allocates for it. */
        pending = pending - 1 + children;
        if (pending > len - pos)
            return -1;
    }
    return pos == len ? 0 : -1;
}

int msg_unpack(msgpack_unpacked *u, const char *buf, size_t len)
{
    size_t off = 0;
    if (msg_check(buf, len) != 0)
        return -1;
    if (msgpack_unpack_next(u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        return -1;
    return 0;
}

/* ---- self-counting containers ------------------------------------------ */

static void container_open(msg_map *m, msgpack_packer *pk, unsigned char tag)
{
    /* Patching needs the bytes in one sbuffer. (Not asserted by comparing
     * pk->callback with msgpack_sbuffer_write: that is a static inline
     * function, so each file that takes its address gets its own copy and
     * the pointers differ across files.) */
    assert(pk->data != NULL);
    msgpack_sbuffer *sb = pk->data;
    unsigned char hdr[5] = {tag, 0, 0, 0, 0};
    m->pk = pk;
    m->at = sb->size;
    m->n = 0;
    msgpack_sbuffer_write(sb, (const char *)hdr, sizeof hdr);
}

static void container_close(msg_map *m)
{
    msgpack_sbuffer *sb = m->pk->data;
    assert(sb->size >= m->at + 5);
    unsigned char *p = (unsigned char *)sb->data + m->at + 1;
    p[0] = (unsigned char)(m->n >> 24);
    p[1] = (unsigned char)(m->n >> 16);
    p[2] = (unsigned char)(m->n >> 8);
    p[3] = (unsigned char)m->n;
}

void msg_map_open(msg_map *m, msgpack_packer *pk)
{
    container_open(m, pk, 0xdf);
}

void msg_map_key(msg_map *m, const char *key)
{
    m->n++;
    msg_pack_str(m->pk, key);
}

void msg_map_str(msg_map *m, const char *key, const char *val)
{
    msg_map_key(m, key);
    msg_pack_str(m->pk, val);
}

void msg_map_int(msg_map *m, const char *key, int64_t val)
{
    msg_map_key(m, key);
    msgpack_pack_int64(m->pk, val);
}

void msg_map_bool(msg_map *m, const char *key, int val)
{
    msg_map_key(m, key);
    if (val)
        msgpack_pack_true(m->pk);
    else
        msgpack_pack_false(m->pk);
}

void msg_map_close(msg_map *m)
{
    container_close(m);
}

void msg_arr_open(msg_arr *a, msgpack_packer *pk)
{
    container_open(a, pk, 0xdd);
}

void msg_arr_item(msg_arr *a)
{
    a->n++;
}

void msg_arr_close(msg_arr *a)
{
    container_close(a);
}

void msg_map_str_set(msgpack_sbuffer *out, const char *payload, size_t plen, const char *key,
                     const char *value)
{
    size_t klen = strlen(key);
    msgpack_unpacked u;
    msgpack_packer pk;
    msgpack_unpacked_init(&u);
    if (msg_unpack(&u, payload, plen) != 0 || u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_sbuffer_write(out, payload, plen);
        msgpack_unpacked_destroy(&u);
        return;
    }
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msg_map m;
    msg_map_open(&m, &pk);
    const msgpack_object_map *map = &u.data.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            continue;
        /* keys are copied as they are (any type): the pair is counted by
         * hand, as msg_arr_item counts an item the caller packs */
        msgpack_pack_object(&pk, *k);
        msgpack_pack_object(&pk, map->ptr[i].val);
        msg_arr_item(&m);
    }
    msg_map_str(&m, key, value);
    msg_map_close(&m);
    msgpack_unpacked_destroy(&u);
}
