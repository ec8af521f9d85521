/* test_log.c - unit tests for daemon/util/log.c: log_safe escapes and caps
 * what a peer sends, and log_msg writes exactly one line of valid UTF-8
 * whatever its arguments hold (no forged lines, no raw invalid bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/util/log.h"
#include "proto/utf8.h"

static void test_log_safe(void **state)
{
    (void)state;
    char b[LOG_SAFE_SIZE], small[12];
    assert_string_equal(log_safe(b, sizeof b, "mini-01"), "mini-01");
    assert_string_equal(log_safe(b, sizeof b, NULL), "(none)");
    assert_string_equal(log_safe(b, sizeof b, "x\n2099 \xff\\"), "x\\x0a2099 \\xff\\x5c");
    char longer[100];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    log_safe(b, sizeof b, longer);
    assert_int_equal(strlen(b), LOG_SAFE_MAX + 3);
    assert_string_equal(b + LOG_SAFE_MAX, "...");
    log_safe(small, sizeof small, longer); /* a small buffer still ends in ... */
    assert_true(strlen(small) < sizeof small);
    assert_non_null(strstr(small, "..."));
}

/* log_msg's line, read back through a pipe standing in for stderr. */
static size_t log_capture(char *out, size_t outlen, const char *arg)
{
    int fds[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(fds), 0);
    dup2(fds[1], STDERR_FILENO);
    log_msg(LOG_WARN, "peer says: %s", arg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, outlen - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = '\0';
    return (size_t)n;
}

static void test_log_one_line(void **state)
{
    (void)state;
    char line[2048];
    size_t n =
        log_capture(line, sizeof line, "a\n2099-01-01 info: forged\r\x1b[2J \xff\xc0\xaf 会员");
    assert_int_equal(line[n - 1], '\n');
    assert_null(memchr(line, '\n', n - 1)); /* exactly one line */
    assert_true(utf8_valid(line, n));
    assert_non_null(
        strstr(line, "a\\x0a2099-01-01 info: forged\\x0d\\x1b[2J \\xff\\xc0\\xaf 会员"));
    /* an overlong message is cut, still one line */
    char big[3000];
    memset(big, '\n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    n = log_capture(line, sizeof line, big);
    assert_int_equal(line[n - 1], '\n');
    assert_null(memchr(line, '\n', n - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_safe),
        cmocka_unit_test(test_log_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
