/* msg.h - small helpers for reading msgpack maps safely (control and wire
 * messages): typed lookups that treat a missing or mistyped key alike, so
 * handlers never touch a msgpack_object of the wrong type. */
#ifndef UNIOND_MSG_H
#define UNIOND_MSG_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* Unpack exactly one msgpack object from buf[0..len) into *u (initialised
 * by the caller, destroyed by the caller). Before msgpack-c sees the bytes,
 * checks that every array/map/str/bin/ext length fits in what remains, so
 * a 9-byte message cannot make msgpack-c allocate gigabytes up front.
 * Strings in *u point into buf. Returns 0, or -1 if the bytes are not one
 * well-formed object. */
int msg_unpack(msgpack_unpacked *u, const char *buf, size_t len);

/* 0 if buf[0..len) is exactly one msgpack object whose declared lengths all
 * fit in the buffer, -1 otherwise. */
int msg_check(const char *buf, size_t len);

/* The value of key in map, or NULL if o is not a map or has no such key. */
const msgpack_object *msg_get(const msgpack_object *o, const char *key);
/* The string at key as a fresh NUL-terminated copy (caller frees), or NULL
 * if missing, not a string, or containing a NUL byte. */
char *msg_get_str(const msgpack_object *o, const char *key);
/* Copy a str object into a fresh NUL-terminated string (NULL if not a str
 * or it contains NUL). Caller frees. */
char *msg_str_dup(const msgpack_object *o);
/* Integer at key, or def if missing / not an integer. */
int64_t msg_get_int(const msgpack_object *o, const char *key, int64_t def);
/* Boolean at key, or def if missing / not a bool. */
int msg_get_bool(const msgpack_object *o, const char *key, int def);
/* The array at key, or NULL. */
const msgpack_object_array *msg_get_array(const msgpack_object *o, const char *key);

/* Pack a NUL-terminated string (or nil for NULL). */
void msg_pack_str(msgpack_packer *pk, const char *s);
/* Pack "key" then the string value. */
void msg_pack_kv_str(msgpack_packer *pk, const char *key, const char *val);
void msg_pack_kv_int(msgpack_packer *pk, const char *key, int64_t val);
void msg_pack_kv_bool(msgpack_packer *pk, const char *key, int val);

/* Containers that count their own items: the header is written as map32 /
 * array32 with a placeholder and patched when the container is closed, so
 * a reply can never carry a hand-counted size that disagrees with what was
 * packed (msgpack allows the 32-bit forms for any count). The packer must
 * write into a msgpack_sbuffer (msgpack_packer_init(pk, sb,
 * msgpack_sbuffer_write)); containers nest freely, each closed in order.
 *
 *     msg_map m;
 *     msg_map_open(&m, pk);
 *     msg_map_str(&m, "node", node);
 *     msg_map_key(&m, "peers");   then pack the value with pk
 *     msg_map_close(&m);
 */
typedef struct {
    msgpack_packer *pk;
    size_t at;  /* offset of the header in the sbuffer */
    uint32_t n; /* pairs (map) or items (array) so far */
} msg_map;
typedef msg_map msg_arr;

void msg_map_open(msg_map *m, msgpack_packer *pk);
/* Pack a key; the caller packs its value next with m->pk. */
void msg_map_key(msg_map *m, const char *key);
void msg_map_str(msg_map *m, const char *key, const char *val); /* nil for NULL */
void msg_map_int(msg_map *m, const char *key, int64_t val);
void msg_map_bool(msg_map *m, const char *key, int val);
void msg_map_close(msg_map *m);

void msg_arr_open(msg_arr *a, msgpack_packer *pk);
/* Count one item; the caller packs it (before or after, before close). */
void msg_arr_item(msg_arr *a);
void msg_arr_close(msg_arr *a);

/* The msgpack map payload[0..plen) with key's value replaced by the
 * string value (the old pair dropped, the new one last), appended to out
 * (the caller's, initialised; it owns the bytes). A payload that is not a
 * map is copied as it is, so that its reader refuses it. Used to stamp a
 * control request with the operator the socket saw, whatever it claimed. */
void msg_map_str_set(msgpack_sbuffer *out, const char *payload, size_t plen, const char *key,
                     const char *value);

#endif
