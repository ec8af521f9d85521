/* test_buf.c - the growable buffer (growth, NUL termination, overflow
 * refused) and the uthash map with its out-of-memory flag. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/map.h"

static void test_buf_grow(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&b, "%d,", i), UERR_OK);
    assert_true(b.len < b.cap);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
    assert_int_equal(buf_append(&b, "x\0y", 3), UERR_OK);
    assert_int_equal(memcmp(b.data + b.len - 3, "x\0y", 3), 0);
    size_t before = b.len;
    assert_int_equal(buf_reserve(&b, SIZE_MAX), UERR_NOMEM); /* overflow refused */
    assert_int_equal(buf_append(&b, "z", SIZE_MAX - 2), UERR_NOMEM);
    assert_int_equal(b.len, before);
    size_t len;
    char *d = buf_detach(&b, &len);
    assert_int_equal(len, before);
    assert_null(b.data);
    free(d);
    buf_free(&b);
}

static void test_buf_empty(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    size_t len = 9;
    char *d = buf_detach(&b, &len);
    assert_non_null(d);
    assert_string_equal(d, "");
    assert_int_equal(len, 0);
    free(d);
    assert_int_equal(buf_puts(&b, "宁波"), UERR_OK);
    assert_string_equal(b.data, "宁波");
    /* reset keeps the allocation for the next round */
    char *kept = b.data;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_puts(&b, "a"), UERR_OK);
    assert_ptr_equal(b.data, kept);
    assert_string_equal(b.data, "a");
    buf_free(&b);
    assert_null(b.data);
    buf_reset(&b); /* an empty buffer stays empty */
    assert_null(b.data);
}

typedef struct {
    char *key;
    int value;
    UT_hash_handle hh;
} item;

static void test_map(void **state)
{
    (void)state;
    item *table = NULL, *it, *tmp;
    static char keys[100][16];
    map_oom = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i & 127);
        it = calloc(1, sizeof *it);
        it->key = keys[i];
        it->value = i;
        HASH_ADD_KEYPTR(hh, table, it->key, strlen(it->key), it);
        assert_int_equal(map_oom, 0);
    }
    assert_int_equal(HASH_COUNT(table), 100);
    HASH_FIND_STR(table, "k42", it);
    assert_non_null(it);
    assert_int_equal(it->value, 42);
    HASH_FIND_STR(table, "k100", it);
    assert_null(it);
    HASH_ITER(hh, table, it, tmp)
    {
        HASH_DEL(table, it);
        free(it);
    }
    assert_null(table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grow),
        cmocka_unit_test(test_buf_empty),
        cmocka_unit_test(test_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
