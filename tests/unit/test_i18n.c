/* test_i18n.c - unit tests of what unionctl shows people in their locale
 * and zone (cli/i18n.c): stored UTC times as local times (with and without
 * milliseconds; anything else as it is), and that English (no catalogue)
 * leaves field names, status values and context words untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/i18n.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void check_time(const char *utc, const char *want)
{
    char *got = cli_time_local(utc);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_time_local(void **state)
{
    (void)state;
    zone("Asia/Shanghai");
    check_time("2026-11-29T00:02:06.123Z", "2026-11-29 08:02:06 +0800");
    check_time("2026-11-28T16:40:55Z", "2026-11-29 00:40:55 +0800"); /* the date moves too */
    zone("UTC");
    check_time("2026-11-29T00:02:06Z", "2026-11-29 00:02:06 +0000");
    zone("America/New_York");
    check_time("2026-07-01T12:00:00.000Z", "2026-07-01 08:00:00 -0400");
    /* not a stored time: shown as it is */
    check_time("yesterday", "yesterday");
    check_time("", "");
    check_time("2026-11-29T25:00:00Z", "2026-11-29T25:00:00Z");
    assert_null(cli_time_local(NULL));
}

static void test_english_untouched(void **state)
{
    (void)state;
    setenv("UNIOND_LOCALEDIR", "/nonexistent", 1);
    unsetenv("LANGUAGE");
    setenv("LC_ALL", "C", 1);
    cli_i18n_init();
    assert_false(cli_i18n_chinese());
    assert_string_equal(cli_field_title("name"), "name");
    assert_string_equal(cli_field_title("office"), "office");
    assert_string_equal(cli_value_shown("status", "active"), "active");
    assert_string_equal(cli_pgettext("peer column", "name"), "name");
    assert_string_equal(_("options:"), "options:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_local),
        cmocka_unit_test(test_english_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
