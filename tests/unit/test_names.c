/* test_names.c - the node-name rule, fingerprint checks and normalisation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "proto/names.h"

static void test_node(void **state)
{
    (void)state;
    char err[256];
    assert_true(names_node_valid("yinzhou-01"));
    assert_true(names_node_valid("0a._-z"));
    assert_false(names_node_valid(NULL));
    assert_false(names_node_valid(""));
    assert_false(names_node_valid("-a"));
    assert_false(names_node_valid(".a"));
    assert_false(names_node_valid("a."));
    assert_false(names_node_valid("a..b"));
    assert_false(names_node_valid("a.lock"));
    assert_false(names_node_valid("Yinzhou"));
    assert_false(names_node_valid("a/b"));
    char n65[66];
    memset(n65, 'a', 65);
    n65[65] = '\0';
    assert_false(names_node_valid(n65));
    n65[64] = '\0';
    assert_true(names_node_valid(n65));
    assert_int_equal(names_node_check("a\x1b[2Jb", "--node", err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "--node"));
    assert_null(strchr(err, '\x1b')); /* escape sequences never reach a terminal */
    assert_non_null(strstr(err, "\\x1b"));
}

/* The counted form is the same rule on bytes that are not NUL-terminated
 * (a dot's node inside a record's text). */
static void test_node_counted(void **state)
{
    (void)state;
    const char *line = "yinzhou-01 7"; /* node, space, counter */
    assert_true(names_node_valid_n(line, 10));
    assert_false(names_node_valid_n(line, 11)); /* the space */
    assert_false(names_node_valid_n(line, 0));
    assert_false(names_node_valid_n("a..b x", 4));
    assert_false(names_node_valid_n("a.lock x", 6));
    assert_false(names_node_valid_n("a\0b", 3));
    char n65[65];
    memset(n65, 'a', sizeof n65);
    assert_true(names_node_valid_n(n65, 64));
    assert_false(names_node_valid_n(n65, 65));
}

static void test_fingerprint(void **state)
{
    (void)state;
    const char *up = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789";
    char out[NAMES_FINGERPRINT_LEN + 1], err[256];
    assert_true(names_fingerprint_valid(up));
    assert_int_equal(names_fingerprint_norm(out, up), UERR_OK);
    assert_string_equal(out, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    assert_int_equal(names_fingerprint_norm(out, "abc"), UERR_INVALID);
    assert_string_equal(out, "");
    assert_false(names_fingerprint_valid(NULL));
    assert_false(names_fingerprint_valid(""));
    char bad[66];
    memcpy(bad, up, 65);
    bad[10] = 'g';
    assert_false(names_fingerprint_valid(bad));
    assert_int_equal(names_fingerprint_check(bad, "fingerprint", err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "position 11"));
    memcpy(bad, up, 65);
    bad[64] = 'a';
    bad[65] = '\0';
    assert_false(names_fingerprint_valid(bad)); /* 65 digits */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node),
        cmocka_unit_test(test_node_counted),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
