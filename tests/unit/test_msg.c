/* test_msg.c - msg_check / msg_unpack: the guard in front of msgpack-c that
 * refuses declared lengths larger than the bytes that follow. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/msg.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_lying_counts),
        cmocka_unit_test(test_empty_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
