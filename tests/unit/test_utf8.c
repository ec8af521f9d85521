/* test_utf8.c - the one strict UTF-8 decoder: valid forms of every length
 * decode, overlong forms, surrogates, values above U+10FFFF and truncated
 * sequences are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "proto/utf8.h"

static size_t dec(const char *s, uint32_t *cp)
{
    return utf8_decode(cp, s, strlen(s));
}

static void test_valid_lengths(void **state)
{
    (void)state;
    uint32_t cp = 0;
    assert_int_equal(dec("A", &cp), 1);
    assert_int_equal(cp, 0x41);
    assert_int_equal(dec("\xc3\xa9", &cp), 2); /* é */
    assert_int_equal(cp, 0xE9);
    assert_int_equal(dec("陈", &cp), 3);
    assert_int_equal(cp, 0x9648);
    assert_int_equal(dec("\xf0\x9f\x98\x80", &cp), 4); /* U+1F600 */
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(dec("\xf4\x8f\xbf\xbf", &cp), 4); /* U+10FFFF, the last */
    assert_int_equal(cp, 0x10FFFF);
    assert_int_equal(utf8_decode(&cp, "", 0), 0);
    assert_int_equal(utf8_decode(&cp, "\0", 1), 1); /* NUL is a character */
    assert_int_equal(cp, 0);
}

static void test_refused(void **state)
{
    (void)state;
    uint32_t cp = 12345;
    assert_int_equal(dec("\xc0\xaf", &cp), 0);         /* overlong '/' */
    assert_int_equal(dec("\xc1\xbf", &cp), 0);         /* overlong */
    assert_int_equal(dec("\xe0\x80\xaf", &cp), 0);     /* overlong, 3 bytes */
    assert_int_equal(dec("\xf0\x80\x80\xaf", &cp), 0); /* overlong, 4 bytes */
    assert_int_equal(dec("\xed\xa0\x80", &cp), 0);     /* U+D800 surrogate */
    assert_int_equal(dec("\xed\xbf\xbf", &cp), 0);     /* U+DFFF surrogate */
    assert_int_equal(dec("\xf4\x90\x80\x80", &cp), 0); /* U+110000 */
    assert_int_equal(dec("\xf5\x80\x80\x80", &cp), 0);
    assert_int_equal(dec("\xff", &cp), 0);
    assert_int_equal(dec("\x80", &cp), 0);                        /* lone continuation */
    assert_int_equal(dec("\xe9\x99", &cp), 0);                    /* truncated */
    assert_int_equal(dec("\xe9\x41\x88", &cp), 0);                /* bad continuation */
    assert_int_equal(utf8_decode(&cp, "\xf0\x9f\x98\x80", 3), 0); /* cut by len */
    assert_int_equal(cp, 12345);                                  /* untouched */
}

static void test_len_valid(void **state)
{
    (void)state;
    assert_int_equal(utf8_len("", 0), 0);
    assert_int_equal(utf8_len("陈诚 ab", strlen("陈诚 ab")), 5);
    assert_int_equal(utf8_len("a\xc0\xaf", 3), -1);
    assert_true(utf8_valid("宁波\xf0\x9f\x98\x80", strlen("宁波\xf0\x9f\x98\x80")));
    assert_false(utf8_valid("a\xed\xa0\x80", 4));
}

static void test_encode_roundtrip(void **state)
{
    (void)state;
    const uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        char b[UTF8_SEQ_MAX];
        uint32_t back = 0;
        size_t n = utf8_encode(b, cps[i]);
        assert_true(n > 0);
        assert_int_equal(utf8_decode(&back, b, n), n);
        assert_int_equal(back, cps[i]);
    }
    char b[UTF8_SEQ_MAX];
    assert_int_equal(utf8_encode(b, 0xD800), 0);
    assert_int_equal(utf8_encode(b, 0x110000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_lengths),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_len_valid),
        cmocka_unit_test(test_encode_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
