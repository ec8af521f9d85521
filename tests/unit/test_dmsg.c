/* test_dmsg.c - unit tests of cli/dmsg.c, the daemon's messages in the
 * clerk's language: the scanf-like matcher (backtracking %s, integers,
 * %c, %%), the most literal format winning, arguments put back in order
 * and by position, arguments that are messages translated too, messages
 * no format matches kept as they are, and English left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/dmsg.h"
#include "cli/i18n.h"

#include <stdlib.h>
#include <string.h>

static const char *const fmts[] = {
    "%s: %s",
    "%s: unknown operator '%s'",
    "unknown field '%s' (did you mean '%s'?)",
    "importing: %s",
    "line %zu: %s",
    "no record with id %s",
    "at most %d characters (got %ld)",
    "bundle header line %zu: bad object id",
    "revert: %.10s is a sync merge",
    "grade %c of %u",
    "100%% of %s",
    "%s was merged into %s; transfer %s instead",
    "must be 11 digits starting with 1",
    "%zu records match %s; give the record id of the one meant:",
};

/* The "catalogue" of these tests. */
static const char *tr(const char *f)
{
    static const char *const pairs[][2] = {
        {"%s: %s", "%s：%s"},
        {"%s: unknown operator '%s'", "%1$s：未知的运算符“%2$s”"},
        {"unknown field '%s' (did you mean '%s'?)", "没有“%1$s”这个字段（您是想输入“%2$s”吗？）"},
        {"importing: %s", "导入时出错：%s"},
        {"line %zu: %s", "第 %zu 行：%s"},
        {"no record with id %s", "没有编号为 %s 的记录"},
        {"at most %d characters (got %ld)", "最多 %d 个字符（现有 %ld 个）"},
        {"revert: %.10s is a sync merge", "无法撤销：%.10s 是同步合并"},
        {"grade %c of %u", "%2$u 级中的 %1$c"},
        {"100%% of %s", "%s 的 100%%"},
        {"%s was merged into %s; transfer %s instead", "%2$s 已并入 %3$s，请转移 %1$s"},
        {"must be 11 digits starting with 1", "必须是以 1 开头的 11 位数字"},
        {"%zu records match %s; give the record id of the one meant:",
         "有 %zu 条记录符合 %s，请给出记录编号："},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (strcmp(pairs[i][0], f) == 0)
            return pairs[i][1];
    return f;
}

static void check(const char *msg, const char *want)
{
    char *got = dmsg_translate_using(msg, fmts, sizeof fmts / sizeof fmts[0], tr);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_plain(void **state)
{
    (void)state;
    check("no record with id 01abcdef", "没有编号为 01abcdef 的记录");
    check("must be 11 digits starting with 1", "必须是以 1 开头的 11 位数字");
    check("no record with id ", "没有编号为  的记录"); /* %s may be empty */
}

static void test_integers(void **state)
{
    (void)state;
    check("at most 40 characters (got 52)", "最多 40 个字符（现有 52 个）");
    check("at most -3 characters (got 7)", "最多 -3 个字符（现有 7 个）");
    /* %zu wants digits: words do not match it, nor does the glue */
    check("at most forty characters (got 52)", "at most forty characters (got 52)");
    check("grade B of 12", "12 级中的 B");
    check("100% of ten", "ten 的 100%");
}

static void test_backtracking(void **state)
{
    (void)state;
    /* the first %s must stretch over "': ..." to find the last "' (" */
    check("unknown field 'a' (b' (did you mean 'phone'?)",
          "没有“a' (b”这个字段（您是想输入“phone”吗？）");
    /* the most literal format wins over the glue "%s: %s" */
    check("phone: unknown operator '*='", "phone：未知的运算符“*=”");
    /* positional arguments in another order */
    check("x1 was merged into k2; transfer k2 instead", "k2 已并入 k2，请转移 x1");
    check("revert: 0123456789 is a sync merge", "无法撤销：0123456789 是同步合并");
}

static void test_recursion(void **state)
{
    (void)state;
    check("importing: line 3: phone: must be 11 digits starting with 1",
          "导入时出错：第 3 行：phone：必须是以 1 开头的 11 位数字");
    check("line 7: unknown field 'phon' (did you mean 'phone'?)",
          "第 7 行：没有“phon”这个字段（您是想输入“phone”吗？）");
}

static void test_no_match(void **state)
{
    (void)state;
    check("the disk is on fire", "the disk is on fire");
    check("", "");
    /* a format with no translation keeps its words, arguments still go in */
    check("bundle header line 4: bad object id", "bundle header line 4: bad object id");
    /* a list after the message: the first line translated, the rest kept */
    check(
        "2 records match 1381234; give the record id of the one meant:\n  01ab  陈诚\n  01cd  陈成",
        "有 2 条记录符合 1381234，请给出记录编号：\n  01ab  陈诚\n  01cd  陈成");
    assert_null(dmsg_translate_using(NULL, fmts, 1, tr));
}

/* A long message of many "x: " pieces: the backtracking budget and the
 * nesting limit keep it quick; the text survives whole. */
static void test_long_message(void **state)
{
    (void)state;
    char msg[4001];
    for (size_t i = 0; i < 1000; i++)
        memcpy(msg + 4 * i, "a: b", 4);
    msg[4000] = '\0';
    char *got = dmsg_translate_using(msg, fmts, sizeof fmts / sizeof fmts[0], tr);
    assert_non_null(got);
    assert_true(strlen(got) >= 1000); /* translated or not, nothing is lost */
    free(got);
}

static void test_english_untouched(void **state)
{
    (void)state;
    setenv("UNIOND_LOCALEDIR", "/nonexistent", 1);
    unsetenv("LANGUAGE");
    setenv("LC_ALL", "C", 1);
    cli_i18n_init();
    char *got = dmsg_translate("no record with id x (nor with that id prefix)");
    assert_string_equal(got, "no record with id x (nor with that id prefix)");
    free(got);
    assert_true(dmsg_ntemplates > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_backtracking),
        cmocka_unit_test(test_recursion),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_english_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
