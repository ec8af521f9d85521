/* test_msg.c - msg_check / msg_unpack: the guard in front of msgpack-c that
 * refuses declared lengths larger than the bytes that follow; and the
 * self-counting containers (msg_map_* / msg_arr_*): counts right, nesting
 * works, msgpack-c and msg_check read the result. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(const char *bytes, size_t n)
{
    return msg_check(bytes, n);
}

static void test_valid(void **state)
{
    (void)state;
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msg_pack_kv_str(&pk, "op", "add");
    msg_pack_kv_int(&pk, "n", -123456789);
    msg_pack_str(&pk, "fields");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_bin(&pk, 300);
    char zeros[300] = {0};
    msgpack_pack_bin_body(&pk, zeros, 300);
    msgpack_pack_double(&pk, 1.5);
    assert_int_equal(check(b.data, b.size), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, b.data, b.size), 0);
    char *op = msg_get_str(&u.data, "op");
    assert_string_equal(op, "add");
    free(op);
    msgpack_unpacked_destroy(&u);
    /* every proper prefix is refused, and so is trailing data */
    for (size_t i = 0; i < b.size; i++)
        assert_int_equal(check(b.data, i), -1);
    char *more = malloc(b.size + 1);
    memcpy(more, b.data, b.size);
    more[b.size] = 0x01;
    assert_int_equal(check(more, b.size + 1), -1);
    free(more);
    msgpack_sbuffer_destroy(&b);
}

static void test_lying_counts(void **state)
{
    (void)state;
    /* map32 claiming 2^28 entries, array32 claiming 2^32-1, str32 4 GiB */
    assert_int_equal(check("\xdf\x0f\xff\xff\xff\xa1"
                           "a\xa1"
                           "b",
                           9),
                     -1);
    assert_int_equal(check("\xdd\xff\xff\xff\xff\x01", 6), -1);
    assert_int_equal(check("\xdb\xff\xff\xff\xff"
                           "abc",
                           8),
                     -1);
    assert_int_equal(check("\xc6\x00\x00\x00\x05"
                           "abcd",
                           9),
                     -1);
    assert_int_equal(check("\xc6\x00\x00\x00\x04"
                           "abcd",
                           9),
                     0);
    /* fixarray of 3 with 2 elements; nested arrays adding up too much */
    assert_int_equal(check("\x93\x01\x02", 3), -1);
    assert_int_equal(check("\x92\x9f\x01", 3), -1);
    assert_int_equal(check("\xc1", 1), -1); /* never-used byte */
    assert_int_equal(check("", 0), -1);
}

static void test_empty_string(void **state)
{
    (void)state;
    /* ["" ] : msgpack-c leaves the pointer NULL for the empty string */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, "\x91\xa0", 2), 0);
    char *s = msg_str_dup(&u.data.via.array.ptr[0]);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    msgpack_unpacked_destroy(&u);
}

/* Build {"node": "yinzhou-01", "n": 7, "ok": true, "none": nil,
 *        "peers": [{"name": "a"}, {"name": "b", "tags": []}], "empty": {}}
 * with the counting builder and read it back with msgpack-c. */
static void test_builder_nested(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    msg_map top, peer, empty;
    msg_arr peers, tags;
    msg_map_open(&top, &pk);
    msg_map_str(&top, "node", "yinzhou-01");
    msg_map_int(&top, "n", 7);
    msg_map_bool(&top, "ok", 1);
    msg_map_str(&top, "none", NULL);
    msg_map_key(&top, "peers");
    msg_arr_open(&peers, &pk);
    for (int i = 0; i < 2; i++) {
        msg_arr_item(&peers);
        msg_map_open(&peer, &pk);
        msg_map_str(&peer, "name", i == 0 ? "a" : "b");
        if (i == 1) {
            msg_map_key(&peer, "tags");
            msg_arr_open(&tags, &pk);
            msg_arr_close(&tags);
        }
        msg_map_close(&peer);
    }
    msg_arr_close(&peers);
    msg_map_key(&top, "empty");
    msg_map_open(&empty, &pk);
    msg_map_close(&empty);
    msg_map_close(&top);

    assert_int_equal(msg_check(sb.data, sb.size), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size); /* exactly one object, nothing left over */
    const msgpack_object *o = &u.data;
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(o->via.map.size, 6);
    char *node = msg_get_str(o, "node");
    assert_string_equal(node, "yinzhou-01");
    free(node);
    assert_int_equal(msg_get_int(o, "n", -1), 7);
    assert_int_equal(msg_get_bool(o, "ok", 0), 1);
    assert_int_equal(msg_get(o, "none")->type, MSGPACK_OBJECT_NIL);
    const msgpack_object_array *pa = msg_get_array(o, "peers");
    assert_non_null(pa);
    assert_int_equal(pa->size, 2);
    assert_int_equal(pa->ptr[0].via.map.size, 1);
    assert_int_equal(pa->ptr[1].via.map.size, 2);
    char *name = msg_get_str(&pa->ptr[1], "name");
    assert_string_equal(name, "b");
    free(name);
    assert_int_equal(msg_get_array(&pa->ptr[1], "tags")->size, 0);
    const msgpack_object *e = msg_get(o, "empty");
    assert_int_equal(e->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(e->via.map.size, 0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* Many pairs: the count is right past the fixmap/map16 sizes. */
static void test_builder_counts(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_arr a;
    msg_arr_open(&a, &pk);
    msg_map m;
    msg_arr_item(&a);
    msg_map_open(&m, &pk);
    char key[16];
    for (int i = 0; i < 70000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        msg_map_int(&m, key, i);
    }
    msg_map_close(&m);
    for (int i = 0; i < 20; i++) {
        msg_arr_item(&a);
        msgpack_pack_int(&pk, i);
    }
    msg_arr_close(&a);
    assert_int_equal(a.n, 21);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, sb.data, sb.size), 0);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(u.data.via.array.size, 21);
    const msgpack_object *big = &u.data.via.array.ptr[0];
    assert_int_equal(big->via.map.size, 70000);
    assert_int_equal(msg_get_int(big, "k69999", -1), 69999);
    assert_int_equal(u.data.via.array.ptr[20].via.i64, 19);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* msg_map_str_set: the claimed operator is replaced, not doubled; other
 * pairs survive; a non-map payload is copied unchanged. */
static void test_map_str_set(void **state)
{
    (void)state;
    msgpack_sbuffer in, out, raw;
    msgpack_packer pk;
    msgpack_sbuffer_init(&in);
    msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
    msg_map m;
    msg_map_open(&m, &pk);
    msg_map_str(&m, "op", "add");
    msg_map_str(&m, "operator", "mallory");
    msg_map_str(&m, "operatorx", "kept");
    msg_map_close(&m);
    msgpack_sbuffer_init(&out);
    msg_map_str_set(&out, in.data, in.size, "operator", "clerk1");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msg_unpack(&u, out.data, out.size), 0);
    assert_int_equal(u.data.via.map.size, 3);
    char *v = msg_get_str(&u.data, "operator");
    assert_string_equal(v, "clerk1");
    free(v);
    v = msg_get_str(&u.data, "operatorx");
    assert_string_equal(v, "kept");
    free(v);
    v = msg_get_str(&u.data, "op");
    assert_string_equal(v, "add");
    free(v);
    msgpack_unpacked_destroy(&u);

    msgpack_sbuffer_init(&raw);
    msgpack_packer_init(&pk, &raw, msgpack_sbuffer_write);
    msgpack_pack_int(&pk, 7);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_init(&out);
    msg_map_str_set(&out, raw.data, raw.size, "operator", "clerk1");
    assert_int_equal(out.size, raw.size);
    assert_memory_equal(out.data, raw.data, raw.size);
    msgpack_sbuffer_destroy(&raw);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),          cmocka_unit_test(test_builder_nested),
        cmocka_unit_test(test_builder_counts), cmocka_unit_test(test_lying_counts),
        cmocka_unit_test(test_empty_string),   cmocka_unit_test(test_map_str_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
