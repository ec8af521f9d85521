/* msg.c - typed msgpack map lookups and packing shorthands (see msg.h). */
#include "proto/msg.h"

#include <stdlib.h>
#include <string.h>

const msgpack_object *msg_get(const msgpack_object *o, const char *key)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return NULL;
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
    if (!o || o->type != MSGPACK_OBJECT_STR) return NULL;
    if (memchr(o->via.str.ptr, 0, o->via.str.size)) return NULL;
    return strndup(o->via.str.ptr, o->via.str.size);
}

char *msg_get_str(const msgpack_object *o, const char *key)
{
    return msg_str_dup(msg_get(o, key));
}

int64_t msg_get_int(const msgpack_object *o, const char *key, int64_t def)
{
    const msgpack_object *v = msg_get(o, key);
    if (!v) return def;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return v->via.u64 > INT64_MAX ? def : (int64_t)v->via.u64;
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return v->via.i64;
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

void msg_pack_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    msg_pack_str(pk, key);
    msgpack_pack_int64(pk, val);
}
