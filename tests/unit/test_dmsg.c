/* test_dmsg.c - unit tests of cli/dmsg.c, the daemon's messages in the
 * clerk's language: the scanf-like matcher (backtracking %s, integers,
 * %c, %%), the most literal format winning, arguments put back in order
 * and by position, arguments that are messages translated too, messages
 * no format matches kept as they are, and English left alone. The
 * system's error texts (cli/errtext.c) through the built catalogue:
 * inside a daemon message, whole, in libuv's lowercase, and unionctl's
 * own strerror, Chinese without glibc's libc.mo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/dmsg.h"
#include "cli/errtext.h"
#include "cli/i18n.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Chinese from the catalogue make built (build/locale, two up from
 * build/san/unit/test_dmsg); skipped when it was not built. */
static void zh_catalogue(void)
{
    char exe[PATH_MAX], dir[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(dir, sizeof dir, "%s/../../locale/zh_CN/LC_MESSAGES/unionctl.mo", exe);
    struct stat st;
    if (stat(dir, &st) != 0)
        skip();
    snprintf(dir, sizeof dir, "%s/../../locale", exe);
    setenv("UNIOND_LOCALEDIR", dir, 1);
    setenv("LANGUAGE", "zh_CN", 1);
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    setenv("LANG", "C.UTF-8", 1);
    cli_i18n_init();
    assert_true(cli_i18n_chinese());
}

static void check_zh(const char *msg, const char *want)
{
    char *got = dmsg_translate(msg);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_errno_texts(void **state)
{
    (void)state;
    zh_catalogue();
    /* inside a daemon message (daemon/store/bundle.c) */
    check_zh("cannot create /media/usb/x.bundle.tmp: No such file or directory",
             "无法创建 /media/usb/x.bundle.tmp：没有那个文件或目录");
    check_zh("cannot create /media/usb/x.bundle.tmp: Read-only file system",
             "无法创建 /media/usb/x.bundle.tmp：只读文件系统");
    /* a message that is only the text (a peer's last error), libuv's case */
    check_zh("connection refused", "连接被拒绝");
    check_zh("Connection timed out", "连接超时");
    check_zh("No space left on device", "设备上没有空间");
    /* a part of a text is not one; nor is an unknown message changed */
    check_zh("No such file", "No such file");
    assert_null(errtext_translate("No such file"));
    assert_null(errtext_translate(""));
    check_zh("the disk is on fire", "the disk is on fire");
    /* unionctl's own strerror: the table, whatever libc has */
    assert_string_equal(errtext_strerror(ENOENT), "没有那个文件或目录");
    assert_string_equal(errtext_strerror(EACCES), "权限不够");
    assert_string_equal(errtext_strerror(EROFS), "只读文件系统");
    assert_string_equal(errtext_strerror(EEXIST), "文件已存在");
    assert_string_equal(errtext_strerror(ENOTDIR), "不是目录");
    assert_string_equal(errtext_strerror(EISDIR), "是一个目录");
    assert_string_equal(errtext_strerror(ECONNREFUSED), "连接被拒绝");
    assert_string_equal(errtext_strerror(EMFILE), "打开的文件过多");
    /* not in the table: the C library's own text */
    assert_string_equal(errtext_strerror(ENOLCK), strerror(ENOLCK));
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
    /* the system's texts stay English too */
    assert_string_equal(errtext_strerror(ENOENT), "No such file or directory");
    got = dmsg_translate("cannot create /x: No such file or directory");
    assert_string_equal(got, "cannot create /x: No such file or directory");
    free(got);
    assert_true(dmsg_ntemplates > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_backtracking), cmocka_unit_test(test_recursion),
        cmocka_unit_test(test_no_match),     cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_errno_texts),  cmocka_unit_test(test_english_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
