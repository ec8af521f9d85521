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

#endif
