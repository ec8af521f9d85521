/* test_schema.c - unit tests for proto/schema.c: the field table, every
 * validation rule with its edge cases (check digits, leap days, the future,
 * phone prefixes, UTF-8 edge cases, length limits), masking and display
 * width. Expected ID numbers were computed independently of schema.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/schema.h"
#include "proto/schema_priv.h"
#include "proto/vocab.h"

#define TODAY "2026-11-28"

/* Helpers report the caller's line so a failing case is easy to find. */
static void expect_ok_at(int line, const char *field, const char *in, const char *want)
{
    char err[256] = "untouched";
    char *out = (char *)0x1;
    int rc = schema_value_check(&out, field, in, TODAY, err, sizeof err);
    if (rc != 0)
        fail_msg("line %d: %s=\"%s\" refused: %s", line, field, in, err);
    assert_non_null(out);
    if (strcmp(out, want) != 0)
        fail_msg("line %d: %s=\"%s\" gave \"%s\", want \"%s\"", line, field, in, out, want);
    assert_string_equal(err, "");
    free(out);
}

/* The message must contain `want` (a substring, or the whole message when
 * exact is set). */
static void expect_err_at(int line, const char *field, const char *in, const char *want, int exact)
{
    char err[256] = "";
    char *out = (char *)0x1;
    int rc = schema_value_check(&out, field, in, TODAY, err, sizeof err);
    if (rc != -1)
        fail_msg("line %d: %s=\"%s\" accepted as \"%s\"", line, field, in, out ? out : "(null)");
    assert_null(out);
    if (exact ? strcmp(err, want) != 0 : strstr(err, want) == NULL)
        fail_msg("line %d: %s: message \"%s\", want %s\"%s\"", line, field, err,
                 exact ? "" : "it to contain ", want);
}

#define OK(f, in, want) expect_ok_at(__LINE__, f, in, want)
#define ERR(f, in, want) expect_err_at(__LINE__, f, in, want, 0)
#define ERR_EXACT(f, in, want) expect_err_at(__LINE__, f, in, want, 1)

static char *repeat(const char *unit, size_t times)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * times] = '\0';
    return s;
}

static void test_field_table(void **state)
{
    (void)state;
    size_t n = 0;
    const schema_field *f = schema_fields(&n);
    static const char *const want[] = {"name",     "gender",   "id_number",  "phone",  "category",
                                       "employer", "union",    "notes",      "office", "joined",
                                       "status",   "benefits", "merged_into"};
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(f[i].name, want[i]);
        assert_ptr_equal(schema_field_find(want[i]), &f[i]);
        assert_true(schema_name_valid(f[i].name));
    }
    assert_int_equal(schema_field_find("gender")->type, SCHEMA_GENDER);
    assert_int_equal(schema_field_find("id_number")->type, SCHEMA_IDNUM);
    assert_int_equal(schema_field_find("phone")->type, SCHEMA_PHONE);
    assert_int_equal(schema_field_find("office")->type, SCHEMA_OFFICE);
    assert_int_equal(schema_field_find("joined")->type, SCHEMA_DATE);
    assert_int_equal(schema_field_find("status")->type, SCHEMA_STATUS);
    assert_int_equal(schema_field_find("benefits")->type, SCHEMA_SET);
    assert_int_equal(schema_field_find("merged_into")->type, SCHEMA_TEXT);
    assert_int_equal(schema_field_find("name")->max_chars, 64);
    assert_null(schema_field_find("shoe_size"));
    assert_null(schema_field_find("Name"));
    assert_null(schema_field_find(""));
    assert_null(schema_field_find(NULL));
    assert_non_null(schema_fields(NULL));
}

static void test_name_valid(void **state)
{
    (void)state;
    char *n32 = repeat("a", 32), *n33 = repeat("a", 33);
    assert_true(schema_name_valid("a"));
    assert_true(schema_name_valid("shoe_size"));
    assert_true(schema_name_valid("x9_"));
    assert_true(schema_name_valid("idx"));
    assert_true(schema_name_valid("id_number"));
    assert_true(schema_name_valid(n32));
    assert_false(schema_name_valid(n33));
    assert_false(schema_name_valid("id"));
    assert_false(schema_name_valid(""));
    assert_false(schema_name_valid(NULL));
    assert_false(schema_name_valid("1a"));
    assert_false(schema_name_valid("_a"));
    assert_false(schema_name_valid("Name"));
    assert_false(schema_name_valid("a-b"));
    assert_false(schema_name_valid("a b"));
    assert_false(schema_name_valid("姓名"));
    assert_false(schema_name_valid("a\n"));
    free(n32);
    free(n33);
}

static void test_set_and_masked(void **state)
{
    (void)state;
    assert_true(schema_field_is_set("benefits"));
    assert_false(schema_field_is_set("notes"));
    assert_false(schema_field_is_set("shoe_size"));
    assert_false(schema_field_is_set(NULL));
    assert_true(schema_field_is_masked("id_number"));
    assert_true(schema_field_is_masked("phone"));
    assert_false(schema_field_is_masked("name"));
    assert_false(schema_field_is_masked("id_number_old"));
    assert_false(schema_field_is_masked(NULL));
}

static void test_field_names_in_check(void **state)
{
    (void)state;
    /* issue 9: a name that is neither built in nor declared is refused,
     * with the nearest known name; Chinese column names resolve */
    ERR_EXACT("Phone", "13812345678", "unknown field 'Phone' (did you mean 'phone'?)");
    ERR_EXACT("phnoe", "13812345678", "unknown field 'phnoe' (did you mean 'phone'?)");
    ERR_EXACT("catgory", "快递员", "unknown field 'catgory' (did you mean 'category'?)");
    OK("姓名", "陈诚", "陈诚");
    OK("手机号码", "13812345678", "13812345678");
    ERR("a\x1b[2Jb", "x", "unknown field 'a?[2Jb'");
    ERR_EXACT("\xff", "x", "unknown field '?' (not valid UTF-8)");
    ERR("", "x", "unknown field ''");
    ERR("id", "x", "id: reserved");
    /* a huge bad name is cut short rather than overflowing the message */
    char *big = repeat("Z", 5000);
    ERR(big, "x", "ZZZZ...' (");
    free(big);
    ERR("shoe_size", " 42 ", "unknown field 'shoe_size' (unionctl fields lists");
    /* a declared field is a field */
    char e[256];
    assert_int_equal(schema_field_declare("shoe_size", SCHEMA_TEXT, "鞋码", 0, e, sizeof e), 0);
    OK("shoe_size", " 42 ", "42");
    OK("shoe_size", "", "");
    OK("鞋码", "42", "42");
    schema_declared_reset();
    ERR("shoe_size", "42", "unknown field");
    char err[128];
    char *out = (char *)0x1;
    assert_int_equal(schema_value_check(&out, NULL, "x", TODAY, err, sizeof err), -1);
    assert_null(out);
    assert_int_equal(schema_value_check(&out, "notes", NULL, TODAY, err, sizeof err), -1);
    assert_string_equal(err, "notes: no value");
}

static void test_name(void **state)
{
    (void)state;
    OK("name", "陈诚", "陈诚");
    OK("name", "  陈诚\t\n", "陈诚");
    OK("name", "Zhang San", "Zhang San");
    OK("name", "阿依古丽·买买提", "阿依古丽·买买提");
    ERR_EXACT("name", "", "name: must not be empty");
    ERR_EXACT("name", " \t ", "name: must not be empty");
    ERR("name", "陈\t诚", "name: control characters are not allowed");
    ERR("name", "陈\n诚", "name: control characters");
    ERR("name", "陈\x7f", "name: control characters");
    ERR("name", "陈\xc2\x85诚", "name: control characters"); /* U+0085 NEL (C1) */
    /* issue 9: Unicode spaces around a value are trimmed (they were refused) */
    OK("name", "\xe3\x80\x80陈诚", "陈诚");        /* U+3000 */
    OK("name", "陈诚\xc2\xa0", "陈诚");            /* NBSP */
    OK("name", "\xef\xbb\xbf陈诚", "陈诚");        /* BOM */
    OK("name", "Ｚｈａｎｇ　Ｓａｎ", "Zhang San"); /* full-width letters and space */

    char *cjk64 = repeat("陈", 64), *cjk65 = repeat("陈", 65);
    char *a64 = repeat("a", 64), *a65 = repeat("a", 65);
    OK("name", cjk64, cjk64);
    ERR_EXACT("name", cjk65, "name: at most 64 characters (got 65)");
    OK("name", a64, a64);
    ERR_EXACT("name", a65, "name: at most 64 characters (got 65)");
    free(cjk64);
    free(cjk65);
    free(a64);
    free(a65);
}

static void test_gender(void **state)
{
    (void)state;
    const char *male[] = {"男", "M", "m", "male", "MALE", "Male", " m ", "\t男\n"};
    const char *female[] = {"女", "F", "f", "female", "FEMALE", "Female", " F "};
    for (size_t i = 0; i < sizeof male / sizeof male[0]; i++)
        OK("gender", male[i], "男");
    for (size_t i = 0; i < sizeof female / sizeof female[0]; i++)
        OK("gender", female[i], "女");
    const char *msg = "gender: must be 男 or 女 (M/F, male/female accepted)";
    ERR_EXACT("gender", "x", msg);
    ERR_EXACT("gender", "男性", msg);
    ERR_EXACT("gender", "mal", msg);
    ERR_EXACT("gender", "males", msg);
    OK("gender", "\xef\xbc\xad", "男"); /* fullwidth M: NFKC (issue 9) */
    ERR_EXACT("gender", "男女", msg);
    ERR_EXACT("gender", "", "gender: must not be empty");
}

static void test_idnum_check_digit(void **state)
{
    (void)state;
    OK("id_number", "11010519491231002X", "11010519491231002X");
    OK("id_number", "11010519491231002x", "11010519491231002X");
    OK("id_number", " 330203199001011236\n", "330203199001011236");
    OK("id_number", "440304200412315675", "440304200412315675");
    OK("id_number", "510100199307150035", "510100199307150035");
    ERR_EXACT("id_number", "110105194912310021",
              "id_number: check digit is wrong (check every digit against the ID card)");
    ERR("id_number", "330203199001011237", "id_number: check digit is wrong");
    ERR("id_number", "33020319900101123X", "id_number: check digit is wrong");
    ERR_EXACT("id_number", "11010519491231002",
              "id_number: must be 18 characters (17 digits and a check digit), got 17");
    ERR("id_number", "11010519491231002X1", "id_number: must be 18 characters");
    ERR("id_number", "110105 19491231002X", "id_number: must be 18 characters");
    ERR("id_number", "110105194912310O2X", "id_number: the first 17 characters must be digits");
    ERR("id_number", "11010519491231002Y", "id_number: the last character must be a digit or X");
    ERR("id_number", "", "id_number: must not be empty");

    /* MOD 11-2 catches every single-digit substitution and every swap of
     * two adjacent different digits. */
    const char *good = "330203199001011236";
    char buf[19];
    for (int i = 0; i < 17; i++) {
        for (char d = '0'; d <= '9'; d++) {
            if (d == good[i])
                continue;
            memcpy(buf, good, 19);
            buf[i] = d;
            ERR("id_number", buf, "id_number: ");
        }
        if (i < 16 && good[i] != good[i + 1]) {
            memcpy(buf, good, 19);
            buf[i] = good[i + 1];
            buf[i + 1] = good[i];
            ERR("id_number", buf, "id_number: ");
        }
    }
}

static void test_idnum_birth_date(void **state)
{
    (void)state;
    OK("id_number", "330203200002291239", "330203200002291239"); /* 2000: leap (400) */
    OK("id_number", "330203199602291237", "330203199602291237");
    OK("id_number", "330203200402290016", "330203200402290016");
    ERR_EXACT("id_number", "330203190002291232", /* 1900: not leap (100) */
              "id_number: birth date (characters 7-14) is not a real date");
    ERR("id_number", "33020320230229123X", "is not a real date");
    ERR("id_number", "330203199013011233", "is not a real date"); /* month 13 */
    ERR("id_number", "330203199001321234", "is not a real date"); /* day 32 */
    ERR("id_number", "330203199001001230", "is not a real date"); /* day 0 */
    ERR_EXACT("id_number", "330203189912311230", "id_number: birth year must be 1900 or later");
    OK("id_number", "330203190001011235", "330203190001011235");
    OK("id_number", "330203202611281238", "330203202611281238"); /* born today */
    ERR_EXACT("id_number", "330203202611291233",
              "id_number: birth date is in the future (today is 2026-11-28)");
}

static void test_phone(void **state)
{
    (void)state;
    const char *same[] = {"13812345678",          "138 1234 5678",     "138-1234-5678",
                          "+8613812345678",       "+86 138 1234 5678", "+86-138-1234-5678",
                          "8613812345678",        "86 13812345678",    "  13812345678 ",
                          "1 3 8 1 2 3 4 5 6 7 8"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        OK("phone", same[i], "13812345678");
    OK("phone", "8618612345678", "18612345678");
    OK("phone", "19912345678", "19912345678");
    OK("phone",
       "\xef\xbc\x91\xef\xbc\x93\xef\xbc\x98\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93"
       "\xef\xbc\x94\xef\xbc\x95\xef\xbc\x96\xef\xbc\x97\xef\xbc\x98",
       "13812345678"); /* full-width digits: NFKC (issue 9) */
    ERR("phone", "1.38123E+10", "Excel turned the column into numbers");

    const char *msg = "phone: must be 11 digits starting with 1";
    const char *bad[] = {"23812345678",     "1381234567",
                         "138123456789",    "+8513812345678",
                         "86 1381234567",   "+86",
                         "138.1234.5678",   "1381234567a",
                         "++8613812345678", "+86 23812345678",
                         "(138)12345678",   "0086 13812345678",
                         "86123456789",     "---"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ERR_EXACT("phone", bad[i], msg);
    ERR_EXACT("phone", "", "phone: must not be empty");
    char *longp = repeat("1", 5000);
    ERR("phone", longp, "phone: too long");
    free(longp);
    char *longp2 = repeat("1", 100);
    ERR_EXACT("phone", longp2, msg);
    free(longp2);
}

/* Personal values never appear in messages, whatever the rule they break. */
static void test_no_personal_echo(void **state)
{
    (void)state;
    const char *ids[] = {"110105194912310021", "330203190002291232", "330203189912311230",
                         "330203202611291233", "11010519491231002",  "11010519491231002X99"};
    const char *phones[] = {"23812345678", "138123456789", "+8513812345678", "1381234567"};
    char err[256];
    char *out;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        assert_int_equal(schema_value_check(&out, "id_number", ids[i], TODAY, err, sizeof err), -1);
        assert_null(strstr(err, ids[i]));
        assert_null(strstr(err, "19491231")); /* not even the birth date */
    }
    for (size_t i = 0; i < sizeof phones / sizeof phones[0]; i++) {
        assert_int_equal(schema_value_check(&out, "phone", phones[i], TODAY, err, sizeof err), -1);
        assert_null(strstr(err, "1234567"));
    }
}

static void test_office(void **state)
{
    (void)state;
    OK("office", "yinzhou", "yinzhou");
    OK("office", "Yinzhou", "yinzhou");
    OK("office", " xiangshan-lt3 ", "xiangshan-lt3");
    OK("office", "a", "a");
    char *o32 = repeat("b", 32), *o33 = repeat("b", 33);
    OK("office", o32, o32);
    ERR("office", o33, "office: must be a code [a-z][a-z0-9-]*, at most 32 characters");
    free(o32);
    free(o33);
    ERR("office", "1abc", "office: must be a code");
    ERR("office", "-abc", "office: must be a code");
    ERR("office", "a_b", "office: must be a code");
    ERR("office", "yin zhou", "office: must be a code");
    ERR("office", "宁波", "office: must be a code");
    ERR("office", "", "office: must not be empty");
}

static void test_joined(void **state)
{
    (void)state;
    OK("joined", "2021-03-01", "2021-03-01");
    OK("joined", " 2021-03-01\n", "2021-03-01");
    OK("joined", "2024-02-29", "2024-02-29");
    OK("joined", "2000-02-29", "2000-02-29");
    OK("joined", "1900-01-01", "1900-01-01");
    OK("joined", "2026-11-28", "2026-11-28");
    ERR_EXACT("joined", "2026-11-29", "joined: date is in the future (today is 2026-11-28)");
    ERR_EXACT("joined", "2027-01-01", "joined: date is in the future (today is 2026-11-28)");
    ERR_EXACT("joined", "2023-02-29", "joined: not a real calendar date");
    ERR("joined", "1900-02-29", "joined: not a real calendar date");
    ERR("joined", "2021-04-31", "joined: not a real calendar date");
    ERR("joined", "2021-00-10", "joined: not a real calendar date");
    ERR("joined", "2021-13-01", "joined: not a real calendar date");
    ERR("joined", "2021-01-00", "joined: not a real calendar date");
    /* issue 9: the date styles of Chinese spreadsheets */
    OK("joined", "2021-3-1", "2021-03-01");
    OK("joined", "2021/03/01", "2021-03-01");
    OK("joined", "2021/8/1", "2021-08-01");
    OK("joined", "2021.8.1", "2021-08-01");
    OK("joined", "20210301", "2021-03-01");
    OK("joined", "2021年8月1日", "2021-08-01");
    OK("joined", "２０２１年８月１日", "2021-08-01");
    ERR("joined", "2021/8-1", "joined: must be a date YYYY-MM-DD");
    ERR("joined", "2021年8月1", "joined: must be a date YYYY-MM-DD");
    ERR("joined", "20210230", "joined: not a real calendar date");
    ERR("joined", "2021/2/29", "joined: not a real calendar date");
    ERR("joined", "44409", "Excel turned the column into numbers");
    ERR("joined", "2021-03-01T00:00", "joined: must be a date YYYY-MM-DD");
    ERR("joined", "+021-03-01", "joined: must be a date YYYY-MM-DD");
    ERR_EXACT("joined", "1899-12-31", "joined: year must be 1900 or later");
    ERR("joined", "", "joined: must not be empty");
}

static void test_today_required(void **state)
{
    (void)state;
    char err[256];
    char *out = NULL;
    assert_int_equal(schema_value_check(&out, "joined", "2021-03-01", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "joined: "));
    assert_int_equal(
        schema_value_check(&out, "joined", "2021-03-01", "2026-13-01", err, sizeof err), -1);
    assert_int_equal(
        schema_value_check(&out, "id_number", "11010519491231002X", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "id_number: "));
    /* fields that need no date do not need today */
    assert_int_equal(schema_value_check(&out, "notes", "x", NULL, err, sizeof err), 0);
    assert_string_equal(out, "x");
    free(out);
    /* a different today moves the limit */
    assert_int_equal(
        schema_value_check(&out, "joined", "2026-11-29", "2026-11-29", err, sizeof err), 0);
    free(out);
}

static void test_status(void **state)
{
    (void)state;
    OK("status", "applicant", "applicant");
    OK("status", "Active", "active");
    OK("status", " LAPSED ", "lapsed");
    OK("status", "Transferred", "transferred");
    OK("status", "MERGED", "merged");
    /* issue 9: the Chinese words */
    OK("status", "申请中", "applicant");
    OK("status", "在会", "active");
    OK("status", "有效", "active");
    OK("status", "失效", "lapsed");
    OK("status", "退会", "lapsed");
    OK("status", "转出", "transferred");
    OK("status", "已合并", "merged");
    const char *msg = "status: must be one of applicant, active, lapsed, transferred, merged";
    ERR("status", "deleted", msg);
    ERR("status", "activ", msg);
    ERR("status", "actives", msg);
    ERR("status", "act ive", msg);
    ERR_EXACT("status", "", "status: must not be empty");
}

static void test_benefits(void **state)
{
    (void)state;
    OK("benefits", "welfare-2021", "welfare-2021");
    OK("benefits", "  heat-relief-2021\t", "heat-relief-2021");
    OK("benefits", "高温慰问 2021", "高温慰问 2021");
    OK("benefits", "a,b", "a,b");
    char *b64 = repeat("福", 64), *b65 = repeat("福", 65);
    OK("benefits", b64, b64);
    ERR_EXACT("benefits", b65, "benefits: an element is at most 64 characters (got 65)");
    free(b64);
    free(b65);
    ERR("benefits", "a;b", "benefits: an element must not contain ';'");
    ERR("benefits", ";", "benefits: an element must not contain ';'");
    ERR("benefits", "a\tb", "benefits: control characters are not allowed");
    ERR("benefits", "a\nb", "benefits: control characters are not allowed");
    ERR_EXACT("benefits", "", "benefits: must not be empty");
    ERR_EXACT("benefits", "   ", "benefits: must not be empty");
}

static void test_text_fields(void **state)
{
    (void)state;
    OK("category", "外卖配送员", "外卖配送员");
    OK("employer", " 美团 ", "美团");
    OK("union", "宁波市鄞州区快递行业工会", "宁波市鄞州区快递行业工会");
    OK("merged_into", "01HZX3K9Q2M7R8T4", "01HZX3K9Q2M7R8T4");
    OK("category", "", "");
    OK("notes", "", "");
    OK("notes", " \n\t ", "");
    OK("notes", "第一行\n第二行\tx", "第一行\n第二行\tx");
    OK("notes", "a\r\nb\r\n\r\nc", "a\nb\n\nc");
    OK("notes", "a;b", "a;b");
    ERR_EXACT("notes", "a\rb", "notes: control characters are not allowed (only tab and newline)");
    ERR("notes", "a\x01z", "notes: control characters are not allowed");
    ERR("notes", "\x1b[31mred", "notes: control characters are not allowed");
    ERR("notes", "a\x7f", "notes: control characters are not allowed");
    ERR("notes",
        "a\xc2\x9b"
        "31m",
        "notes: control characters are not allowed"); /* C1 CSI */
    ERR("employer",
        "a\x0b"
        "b",
        "employer: control characters are not allowed");

    char *t4096 = repeat("a", SCHEMA_VALUE_MAX), *t4097 = repeat("a", SCHEMA_VALUE_MAX + 1);
    OK("notes", t4096, t4096);
    ERR_EXACT("notes", t4097, "notes: too long (at most 4096 bytes)");
    ERR("name", t4097, "name: too long");
    /* trimmed whitespace does not count against the limit */
    char *padded = malloc(SCHEMA_VALUE_MAX + 5);
    assert_non_null(padded);
    snprintf(padded, SCHEMA_VALUE_MAX + 5, "  %s  ", t4096);
    OK("notes", padded, t4096);
    free(padded);
    free(t4096);
    free(t4097);
}

static void test_invalid_utf8_values(void **state)
{
    (void)state;
    const char *bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* U+D800 high surrogate */
        "\xed\xbf\xbf",     /* U+DFFF low surrogate */
        "\xe9\x99",         /* truncated 陈 */
        "a\xe9",            /* truncated at the end */
        "\x80",             /* lone continuation */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* F5 lead */
        "\xff",
        "\xe9\x99\x88\xe9\x99", /* 陈 then a broken 陈 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ERR_EXACT("notes", bad[i], "notes: not valid UTF-8");
        ERR_EXACT("name", bad[i], "name: not valid UTF-8");
        ERR_EXACT("benefits", bad[i], "benefits: not valid UTF-8");
        ERR_EXACT("gender", bad[i], "gender: not valid UTF-8");
        assert_int_equal(schema_utf8_len(bad[i], strlen(bad[i])), -1);
    }
}

static void test_utf8_len(void **state)
{
    (void)state;
    assert_int_equal(schema_utf8_len("", 0), 0);
    assert_int_equal(schema_utf8_len(NULL, 0), 0);
    assert_int_equal(schema_utf8_len(NULL, 1), -1);
    assert_int_equal(schema_utf8_len("abc", 3), 3);
    assert_int_equal(schema_utf8_len("陈诚", strlen("陈诚")), 2);
    assert_int_equal(schema_utf8_len("陈诚abc", strlen("陈诚abc")), 5);
    assert_int_equal(schema_utf8_len("\xf0\x9f\x98\x80", 4), 1); /* U+1F600 */
    assert_int_equal(schema_utf8_len("\xf4\x8f\xbf\xbf", 4), 1); /* U+10FFFF, the last */
    assert_int_equal(schema_utf8_len("\xc2\x80", 2), 1);         /* U+0080, first 2-byte */
    assert_int_equal(schema_utf8_len("\xe0\xa0\x80", 3), 1);     /* U+0800, first 3-byte */
    assert_int_equal(schema_utf8_len("\xf0\x90\x80\x80", 4), 1); /* U+10000, first 4-byte */
    assert_int_equal(schema_utf8_len("\xed\x9f\xbf", 3), 1);     /* U+D7FF, before surrogates */
    assert_int_equal(schema_utf8_len("\xee\x80\x80", 3), 1);     /* U+E000, after them */
    assert_int_equal(schema_utf8_len("\xef\xbf\xbf", 3), 1);     /* U+FFFF */
    assert_int_equal(schema_utf8_len("a\0b", 3), 3);             /* len, not NUL, ends it */
    assert_int_equal(schema_utf8_len("陈", 2), -1);              /* cut by len */
    assert_int_equal(schema_utf8_len("陈诚", 3), 1);
}

static void test_display_width(void **state)
{
    (void)state;
    assert_int_equal(schema_display_width(NULL), 0);
    assert_int_equal(schema_display_width(""), 0);
    assert_int_equal(schema_display_width("abc"), 3);
    assert_int_equal(schema_display_width("陈诚"), 4);
    assert_int_equal(schema_display_width("陈诚abc"), 7);
    assert_int_equal(schema_display_width("张三 (Zhang San)"), 16);
    assert_int_equal(schema_display_width("外卖配送员"), 10);
    assert_int_equal(schema_display_width("welfare-2021；高温"), 12 + 2 + 4); /* fullwidth ; */
    assert_int_equal(schema_display_width("ＡＢ"), 4);                        /* fullwidth Latin */
    assert_int_equal(schema_display_width("\xef\xbd\xb1"), 1); /* halfwidth katakana */
    assert_int_equal(schema_display_width("あア"), 4);
    assert_int_equal(schema_display_width("한국"), 4);
    assert_int_equal(schema_display_width("\xe3\x80\x80"), 2); /* U+3000 */
    assert_int_equal(schema_display_width("。，"), 4);
    assert_int_equal(schema_display_width("é"), 1);         /* precomposed */
    assert_int_equal(schema_display_width("e\xcc\x81"), 1); /* e + combining acute */
    assert_int_equal(schema_display_width("a\xe2\x80\x8b"
                                          "b"),
                     2);                                                   /* zero width space */
    assert_int_equal(schema_display_width("\xe3\x81\x8b\xe3\x82\x99"), 2); /* か + voiced mark */
    assert_int_equal(schema_display_width("\xf0\x9f\x98\x80"), 2);         /* U+1F600 */
    assert_int_equal(schema_display_width("\xf0\xa0\x80\x80"), 2);         /* U+20000 */
    assert_int_equal(schema_display_width("\xff"), 1);
    assert_int_equal(schema_display_width("a\xff\xfe"
                                          "b"),
                     4);
    assert_int_equal(schema_display_width("\xe9\x99"), 2); /* truncated: two bad bytes */
    assert_int_equal(schema_display_width("\xed\xa0\x80"), 3);
    assert_int_equal(schema_display_width("Ωß"), 2);
}

static void test_mask(void **state)
{
    (void)state;
    struct {
        const char *field, *in, *want;
    } cases[] = {
        {"id_number", "330203199001011234", "330203********1234"},
        {"id_number", "11010519491231002X", "110105********002X"},
        {"id_number", "330203900101123", "330203*****1123"}, /* old 15-digit card */
        {"id_number", "12345", "*****"},
        {"id_number", "1234567890", "**********"},
        {"id_number", "", ""},
        {"phone", "13812345678", "138****5678"},
        {"phone", "+8613812345678", "+86*******5678"},
        {"phone", "1381234567", "**********"},
        {"phone", "110", "***"},
        {"name", "陈诚", "陈诚"},
        {"notes", "13812345678", "13812345678"},
        {"shoe_size", "42", "42"},
        {"id_number", "陈陈陈陈陈陈陈陈陈陈陈陈陈陈陈陈陈陈", "陈陈陈陈陈陈********陈陈陈陈"},
        {"phone", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
         "\xff\xff\xff****\xff\xff\xff\xff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = schema_value_mask(cases[i].field, cases[i].in);
        assert_non_null(m);
        if (strcmp(m, cases[i].want) != 0)
            fail_msg("mask %s=\"%s\": \"%s\", want \"%s\"", cases[i].field, cases[i].in, m,
                     cases[i].want);
        free(m);
    }
    char *m = schema_value_mask("phone", NULL);
    assert_string_equal(m, "");
    free(m);
    m = schema_value_mask(NULL, "x");
    assert_string_equal(m, "x");
    free(m);
}

static void test_date_valid(void **state)
{
    (void)state;
    assert_true(schema_date_valid("2021-03-01"));
    assert_true(schema_date_valid("2000-02-29"));
    assert_true(schema_date_valid("2400-02-29"));
    assert_true(schema_date_valid("2024-02-29"));
    assert_true(schema_date_valid("9999-12-31"));
    assert_true(schema_date_valid("0001-01-01"));
    assert_true(schema_date_valid("2021-12-31"));
    assert_false(schema_date_valid("2100-02-29"));
    assert_false(schema_date_valid("2023-02-29"));
    assert_false(schema_date_valid("2021-06-31"));
    assert_false(schema_date_valid("0000-01-01"));
    assert_false(schema_date_valid("2021-01-01x"));
    assert_false(schema_date_valid(" 2021-01-01"));
    assert_false(schema_date_valid("2021-1-01"));
    assert_false(schema_date_valid("2021-01-1"));
    assert_false(schema_date_valid("2021_01_01"));
    assert_false(schema_date_valid("２０２１-01-01"));
    assert_false(schema_date_valid(""));
    assert_false(schema_date_valid(NULL));
}

static void test_err_buffer(void **state)
{
    (void)state;
    char small[8];
    char *out = (char *)0x1;
    assert_int_equal(schema_value_check(&out, "phone", "x", TODAY, small, sizeof small), -1);
    assert_string_equal(small, "phone: ");
    assert_null(out);
    /* no buffer at all is fine */
    assert_int_equal(schema_value_check(&out, "phone", "x", TODAY, NULL, 0), -1);
    assert_int_equal(schema_value_check(&out, "phone", "13812345678", TODAY, NULL, 0), 0);
    free(out);
    /* out may be NULL: a pure check */
    char err[64];
    assert_int_equal(schema_value_check(NULL, "gender", "m", TODAY, err, sizeof err), 0);
    assert_int_equal(schema_value_check(NULL, "gender", "x", TODAY, err, sizeof err), -1);
}

/* Normalising a normalised value changes nothing: the daemon re-checks what
 * the CLI already normalised, and both must agree. */
static void test_idempotent(void **state)
{
    (void)state;
    struct {
        const char *field, *in;
    } cases[] = {
        {"gender", " male "},
        {"id_number", "11010519491231002x"},
        {"phone", "+86 138-1234-5678"},
        {"office", "YinZhou"},
        {"status", "Active"},
        {"notes", " a\r\nb "},
        {"name", " 陈诚 "},
        {"benefits", " welfare-2021 "},
        {"joined", " 2021-03-01 "},
        {"joined", "2021年8月1日"},
        {"id_number", "330203900101123"},
        {"category", "快递小哥"},
        {"status", "在会"},
        {"phone", "１３８１２３４５６７８"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *once = NULL, *twice = NULL;
        char err[256];
        assert_int_equal(
            schema_value_check(&once, cases[i].field, cases[i].in, TODAY, err, sizeof err), 0);
        assert_int_equal(schema_value_check(&twice, cases[i].field, once, TODAY, err, sizeof err),
                         0);
        assert_string_equal(once, twice);
        free(once);
        free(twice);
    }
}

/* ---- issue 9: normalisation, vocabularies, declared fields, cross-checks ---- */

static void test_idnum_15(void **state)
{
    (void)state;
    char out[19];
    /* expected 18-digit forms computed independently (python, GB 11643) */
    assert_int_equal(schema_idnum_from15(out, "330203900101123"), UERR_OK);
    assert_string_equal(out, "330203199001011236");
    assert_int_equal(schema_idnum_from15(out, "330203850615124"), UERR_OK);
    assert_string_equal(out, "330203198506151248");
    assert_int_equal(schema_idnum_from15(out, "33020385061512X"), UERR_INVALID);
    assert_int_equal(schema_idnum_from15(out, "3302038506151"), UERR_INVALID);

    schema_norm n;
    char err[256];
    assert_int_equal(
        schema_value_normalize(&n, "id_number", " 330203900101123 ", TODAY, err, sizeof err),
        UERR_OK);
    assert_string_equal(n.value, "330203199001011236");
    assert_true(n.flags & SCHEMA_NORM_ID15);
    schema_norm_free(&n);
    assert_int_equal(
        schema_value_normalize(&n, "id_number", "330203199001011236", TODAY, err, sizeof err),
        UERR_OK);
    assert_false(n.flags & SCHEMA_NORM_ID15); /* an 18-digit one is not counted */
    schema_norm_free(&n);
    /* full-width digits */
    OK("id_number", "３３０２０３１９９００１０１１２３６", "330203199001011236");
    /* a 15-digit number with an impossible birth date is refused */
    ERR("id_number", "330203901301123", "birth date (characters 7-14) is not a real date");
    /* Excel's scientific notation: refused with the hint, value not echoed */
    assert_int_equal(schema_value_normalize(&n, "id_number", "3.30205E+17", TODAY, err, sizeof err),
                     UERR_INVALID);
    assert_string_equal(n.rule, "excel_number");
    assert_non_null(strstr(err, "Excel turned the column into numbers"));
    assert_null(strstr(err, "30205"));
    ERR("身份证号码", "3.30205e17", "Excel turned the column into numbers");
}

static void test_category_vocab(void **state)
{
    (void)state;
    const char *builtin[] = {"快递员",     "外卖配送员", "网约车司机", "货车司机",   "护工护理员",
                             "家政服务员", "育婴师",     "保安员",     "商场信息员", "房产中介员"};
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
        OK("category", builtin[i], builtin[i]);
        assert_int_equal(vocab_is_new_form("category", builtin[i]), 1);
    }
    OK("category", "网格员", "网格员");
    OK("category", "其他", "其他");
    assert_int_equal(vocab_is_new_form("category", "网格员"), 0);
    assert_int_equal(vocab_is_new_form("category", "其他"), 0);
    assert_int_equal(vocab_is_new_form("category", "飞行员"), -1);
    OK("category", "快递小哥", "快递员");
    OK("category", "外卖骑手", "外卖配送员");
    OK("category", "骑手", "外卖配送员");
    OK("category", "网约送餐员", "外卖配送员");
    OK("category", "护工", "护工护理员");
    OK("category", "保姆", "家政服务员");
    OK("职业", " 快递员 ", "快递员");
    assert_int_equal(vocab_is_new_form("category", "快递小哥"), 1);
    ERR("category", "快递", "'快递' is not in the list (did you mean '快递员'?)");
    ERR("category", "外卖员", "(did you mean '外卖配送员'?)");
    ERR("category", "代驾司机", "is not in the list (did you mean");

    /* an office extends the list at run time */
    char err[256];
    const char *aliases[] = {"代驾"};
    assert_int_equal(vocab_value_add("category", "代驾司机", aliases, 1, 1, err, sizeof err), 0);
    OK("category", "代驾司机", "代驾司机");
    OK("category", "代驾", "代驾司机");
    assert_int_equal(vocab_is_new_form("category", "代驾司机"), 1);
    /* an alias may not stand for two values; a value without a list is refused */
    const char *clash[] = {"骑手"};
    assert_int_equal(vocab_value_add("category", "跑腿员", clash, 1, 0, err, sizeof err),
                     UERR_CONFLICT);
    assert_int_equal(vocab_value_add("name", "x", NULL, 0, 0, err, sizeof err), UERR_INVALID);
    assert_int_equal(vocab_value_add("category", "", NULL, 0, 0, err, sizeof err), UERR_INVALID);
    assert_int_equal(vocab_value_add("category", "a;b", NULL, 0, 0, err, sizeof err), UERR_INVALID);
    /* adding an alias to a built-in value */
    const char *more[] = {"快递配送员"};
    assert_int_equal(vocab_value_add("category", "快递员", more, 1, 0, err, sizeof err), 0);
    OK("category", "快递配送员", "快递员");
    const vocab_value *v;
    size_t nv = vocab_values("category", &v);
    assert_int_equal(nv, 13);
    assert_string_equal(v[12].value, "代驾司机");
    assert_false(v[12].builtin);
    vocab_reset();
    assert_int_equal(vocab_values("category", &v), 12);
    ERR("category", "代驾司机", "is not in the list");
}

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(vocab_distance("phone", "phone"), 0);
    assert_int_equal(vocab_distance("phnoe", "phone"), 1); /* a swap is one edit */
    assert_int_equal(vocab_distance("catgory", "category"), 1);
    assert_int_equal(vocab_distance("", "abc"), 3);
    assert_int_equal(vocab_distance("快递", "快递员"), 1);
    assert_int_equal(vocab_distance("\xff", "a"), (size_t)-1);
    const char *c[] = {"name", "phone", "joined", "id_number"};
    assert_string_equal(vocab_nearest("nmae", c, 4), "name");
    assert_string_equal(vocab_nearest("join_date", c, 4), "joined");
    assert_string_equal(vocab_nearest("id_no", c, 4), "id_number");
    assert_null(vocab_nearest("xyz", c, 4));
    assert_null(vocab_nearest("", c, 4));
}

static void test_resolve_and_declare(void **state)
{
    (void)state;
    const schema_field *f;
    char err[256];
    const struct {
        const char *alias, *field;
    } a[] = {
        {"姓名", "name"},
        {"性别", "gender"},
        {"身份证号", "id_number"},
        {"身份证号码", "id_number"},
        {"公民身份号码", "id_number"},
        {"手机", "phone"},
        {"手机号", "phone"},
        {"手机号码", "phone"},
        {"联系电话", "phone"},
        {"职业", "category"},
        {"职业类别", "category"},
        {"从业类别", "category"},
        {"工作单位", "employer"},
        {"单位", "employer"},
        {"所属工会", "union"},
        {"工会", "union"},
        {"入会日期", "joined"},
        {"入会时间", "joined"},
        {"加入日期", "joined"},
        {"状态", "status"},
        {"会籍状态", "status"},
        {"备注", "notes"},
        {"福利", "benefits"},
        {"福利发放", "benefits"},
        {" ｐｈｏｎｅ ", "phone"},
    };
    for (size_t i = 0; i < sizeof a / sizeof *a; i++) {
        if (schema_field_resolve(&f, a[i].alias, err, sizeof err) != UERR_OK)
            fail_msg("%s: %s", a[i].alias, err);
        assert_string_equal(f->name, a[i].field);
    }
    assert_int_equal(schema_field_resolve(&f, "phnoe", err, sizeof err), UERR_INVALID);
    assert_string_equal(err, "unknown field 'phnoe' (did you mean 'phone'?)");
    assert_null(f);
    assert_int_equal(schema_field_resolve(&f, "id", err, sizeof err), UERR_INVALID);

    /* declared fields: type, label as alias, private masking */
    schema_type t;
    assert_int_equal(schema_type_parse(&t, "date", err, sizeof err), 0);
    assert_int_equal(t, SCHEMA_DATE);
    assert_int_equal(schema_type_parse(&t, "gender", err, sizeof err), UERR_INVALID);
    assert_int_equal(
        schema_field_declare("first_job", SCHEMA_DATE, "首次就业日期", 0, err, sizeof err), 0);
    assert_int_equal(schema_field_declare("bank_card", SCHEMA_TEXT, "银行卡号", 1, err, sizeof err),
                     0);
    assert_int_equal(schema_field_declare("skills", SCHEMA_SET, NULL, 0, err, sizeof err), 0);
    OK("首次就业日期", "2019/5/4", "2019-05-04");
    OK("first_job", "2019年5月4日", "2019-05-04");
    assert_true(schema_field_is_set("skills"));
    assert_true(schema_field_is_masked("bank_card"));
    char *m = schema_value_mask("bank_card", "6222");
    assert_string_equal(m, "****");
    free(m);
    size_t n;
    schema_fields(&n);
    assert_int_equal(n, 16);
    /* again with the same type: fine (a replicated declaration) */
    assert_int_equal(schema_field_declare("skills", SCHEMA_SET, "技能", 0, err, sizeof err), 0);
    assert_int_equal(schema_field_resolve(&f, "技能", err, sizeof err), 0);
    assert_string_equal(f->name, "skills");
    /* conflicts */
    assert_int_equal(schema_field_declare("skills", SCHEMA_TEXT, NULL, 0, err, sizeof err),
                     UERR_CONFLICT);
    assert_int_equal(schema_field_declare("phone", SCHEMA_TEXT, NULL, 0, err, sizeof err),
                     UERR_CONFLICT);
    assert_int_equal(schema_field_declare("x2", SCHEMA_TEXT, "手机", 0, err, sizeof err),
                     UERR_CONFLICT);
    assert_int_equal(schema_field_declare("x3", SCHEMA_GENDER, NULL, 0, err, sizeof err),
                     UERR_INVALID);
    assert_int_equal(schema_field_declare("Bad", SCHEMA_TEXT, NULL, 0, err, sizeof err),
                     UERR_INVALID);
    schema_declared_reset();
    schema_fields(&n);
    assert_int_equal(n, 13);
}

static void test_cross_checks(void **state)
{
    (void)state;
    problem_list pl;
    problem_list_init(&pl);
    const char *fill = "x";
    /* 330203199001011236: 17th digit 3 (odd) = 男, born 1990-01-01 */
    schema_person ok = {"男", "330203199001011236", "2021-08-01"};
    assert_int_equal(schema_cross_check(&fill, &ok, 2, &pl), 0);
    assert_null(fill);
    schema_person wrong = {"女", "330203199001011236", "2021-08-01"};
    assert_int_equal(schema_cross_check(&fill, &wrong, 3, &pl), 1);
    assert_string_equal(pl.v[0].rule, "gender_id");
    assert_int_equal(pl.v[0].line, 3);
    schema_person empty = {"", "330203198506151248", NULL};
    assert_int_equal(schema_cross_check(&fill, &empty, 4, &pl), 0);
    assert_string_equal(fill, "女");
    /* 16th birthday: 2006-01-01 born, joined 2021-12-31 = 15, 2022-01-01 = 16 */
    schema_person young = {NULL, "330203200601011235", "2021-12-31"};
    schema_person sixteen = {NULL, "330203200601011235", "2022-01-01"};
    size_t before = pl.n;
    assert_int_equal(schema_cross_check(NULL, &young, 5, &pl), 1);
    assert_string_equal(pl.v[before].rule, "age");
    assert_non_null(strstr(pl.v[before].msg, "at least 16"));
    assert_int_equal(schema_cross_check(NULL, &sixteen, 6, &pl), 0);
    /* both problems of one record at once */
    schema_person both = {"女", "330203200601011235", "2021-12-31"};
    assert_int_equal(schema_cross_check(NULL, &both, 7, &pl), 2);
    problem_list_free(&pl);

    /* a whole row: every problem, gender filled */
    const char *fields[] = {"name", "gender", "id_number", "phone", "joined"};
    const char *in[] = {"", "", "330203900101123", "138", "2021/13/1"};
    char *out[5];
    schema_row_stats st = {0};
    problem_list_init(&pl);
    assert_int_equal(schema_row_normalize(out, NULL, &st, fields, in, 5, TODAY, 9, &pl),
                     UERR_INVALID);
    assert_int_equal(pl.n, 2); /* phone and joined */
    assert_string_equal(out[1], "男");
    assert_string_equal(out[2], "330203199001011236");
    assert_null(out[3]);
    assert_int_equal(st.id15, 1);
    assert_int_equal(st.gender_filled, 1);
    for (int i = 0; i < 5; i++)
        free(out[i]);
    problem_list_free(&pl);
}

static void test_problem_groups(void **state)
{
    (void)state;
    problem_list pl;
    problem_list_init(&pl);
    for (size_t line = 2; line < 12; line++)
        assert_int_equal(problem_add(&pl, line, "joined", "date", "joined: must be a date"), 0);
    assert_int_equal(problem_add(&pl, 7, "phone", "phone", "phone: must be 11 digits"), 0);
    problem_group *g;
    size_t n;
    assert_int_equal(problem_groups(&g, &n, &pl), 0);
    assert_int_equal(n, 2);
    char buf[256];
    problem_group_format(buf, sizeof buf, &g[0]);
    assert_string_equal(buf, "joined: must be a date (10 rows: lines 2, 3, 4, 5, 6, ...)");
    problem_group_format(buf, sizeof buf, &g[1]);
    assert_string_equal(buf, "line 7: phone: must be 11 digits");
    free(g);
    problem_list_free(&pl);
}

/* ---- the normal-form shortcut (schema_text_is_normal) ---- */

static size_t put_cp(char *b, uint32_t cp)
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* s through schema_text_normalize (shortcuts on) and through utf8proc
 * alone: the same answer, and a text the shortcut passes is left as it
 * is by utf8proc. */
static void norm_agrees_at(int line, const char *s, size_t len)
{
    char *fast = NULL, *full = NULL;
    uerr rf = schema_text_normalize(&fast, s, len);
    uerr rn = schema_text_normalize_nfkc(&full, s, len);
    if (rf != rn)
        fail_msg("line %d: '%.*s' (%zu bytes): shortcut rc %d, utf8proc rc %d", line, (int)len, s,
                 len, (int)rf, (int)rn);
    if (rf == UERR_OK && strcmp(fast, full) != 0)
        fail_msg("line %d: '%.*s': shortcut '%s', utf8proc '%s'", line, (int)len, s, fast, full);
    if (schema_text_is_normal(s, len) &&
        (rn != UERR_OK || strlen(full) != len || memcmp(full, s, len) != 0))
        fail_msg("line %d: '%.*s' passed as normal but utf8proc changes it", line, (int)len, s);
    free(fast);
    free(full);
}
#define NORM_AGREES(s, len) norm_agrees_at(__LINE__, s, len)

static void test_norm_fast_cjk_range(void **state)
{
    (void)state;
    char b[16];
    /* every ideograph of the range alone, and between ASCII letters */
    for (uint32_t cp = 0x4E00; cp <= 0x9FFF; cp++) {
        size_t n = put_cp(b, cp);
        assert_true(schema_text_is_normal(b, n));
        NORM_AGREES(b, n);
        char m[8] = "a";
        memcpy(m + 1, b, n);
        m[n + 1] = '1';
        assert_true(schema_text_is_normal(m, n + 2));
        NORM_AGREES(m, n + 2);
    }
    /* neighbours and look-alikes outside it take the full path */
    static const uint32_t outside[] = {0x4DFF, 0xA000, 0x3000, 0x3001, 0x3002, 0xFF10,  0xFF21,
                                       0xF900, 0xFA0E, 0x2F00, 0x2E80, 0x3400, 0x20000, 0x2F800,
                                       0xFF0C, 0x00A0, 0x0085, 0xFEFF, 0x200B, 0x0301,  0x3099,
                                       0xAC00, 0x1100, 0x00E9, 0x2460, 0xFB01, 0xFF76};
    for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
        size_t n = put_cp(b, outside[i]);
        b[n] = 0;
        if (schema_text_is_normal(b, n))
            fail_msg("U+%04X passed as normal", (unsigned)outside[i]);
        NORM_AGREES(b, n);
    }
}

static void test_norm_fast_ascii(void **state)
{
    (void)state;
    char b[4];
    /* every pair of ASCII characters (NUL too: refused by both) */
    for (int x = 0; x < 128; x++)
        for (int y = 0; y < 128; y++) {
            b[0] = (char)x, b[1] = (char)y;
            NORM_AGREES(b, 1);
            NORM_AGREES(b, 2);
        }
    assert_false(schema_text_is_normal(" a", 2));
    assert_false(schema_text_is_normal("a\t", 2));
    assert_false(schema_text_is_normal("a\r", 2));
    assert_true(schema_text_is_normal("a b", 3));
    assert_true(schema_text_is_normal("", 0));
}

/* Pieces joined at random into many values: ASCII, Chinese, full-width
 * digits and letters, the spaces an IME leaves, combining marks, Hangul
 * jamo that compose, compatibility characters, invalid UTF-8. */
static const char *const norm_pieces[] = {
    "a",
    "Z",
    "0",
    "9",
    " ",
    "\t",
    "\n",
    "\r\n",
    "-",
    "/",
    ".",
    ";",
    "x",
    "X",
    "+86",
    "2021",
    "13812345678",
    "330203199001011236",
    "2024-10-18",
    "yinzhou",
    "active",
    "winter-care-2022",
    "男",
    "女",
    "张",
    "伟",
    "外卖配送员",
    "快递小哥",
    "在会",
    "美团",
    "顺丰速运",
    "工会",
    "年",
    "月",
    "日",
    "鿿",
    "一",
    "\xE4\xB7\xBF" /* U+4DFF */,
    "\xEA\x80\x80" /* U+A000 */,
    "\xE3\x80\x80" /* U+3000 */,
    "\xEF\xBC\x91\xEF\xBC\x93" /* １３ */,
    "\xEF\xBD\x90\xEF\xBD\x88" /* ｐｈ */,
    "\xEF\xBC\x8C" /* ， */,
    "\xE3\x80\x82" /* 。 */,
    "\xC2\xA0" /* NBSP */,
    "\xEF\xBB\xBF" /* BOM */,
    "\xE2\x80\x8B" /* ZWSP */,
    "\xCC\x81" /* U+0301 */,
    "\xCC\x88" /* U+0308 */,
    "e\xCC\x81",
    "\xE3\x82\x99" /* U+3099 */,
    "\xE3\x81\x8B" /* か */,
    "\xE1\x84\x80" /* U+1100 */,
    "\xE1\x85\xA1" /* U+1161 */,
    "\xEA\xB0\x80" /* 가 */,
    "\xEF\xA4\x80" /* U+F900 */,
    "\xE2\x91\xA0" /* ① */,
    "\xEF\xAC\x81" /* ﬁ */,
    "\xEF\xBD\xB6" /* ｶ */,
    "\xC3\xA9" /* é */,
    "\xF0\xA0\x80\x80",
    "\xC0\xAF" /* overlong */,
    "\xED\xA0\x80" /* surrogate */,
    "\xE4\xB8" /* cut */,
    "\xFF",
    "\x80",
    "\xE9\xBF",
    "\x01",
    "\x7F",
    "\xE2\x80\xA8" /* U+2028 */,
    "\xC2\x85" /* NEL */,
};

static uint32_t norm_rand(uint32_t *st)
{
    *st = *st * 1103515245u + 12345u;
    return *st >> 8;
}

static void test_norm_fast_mixed(void **state)
{
    (void)state;
    size_t np = sizeof norm_pieces / sizeof *norm_pieces;
    uint32_t st = 13;
    char b[256];
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < np; j++) {
            int n = snprintf(b, sizeof b, "%s%s", norm_pieces[i], norm_pieces[j]);
            NORM_AGREES(b, (size_t)n);
        }
    for (int k = 0; k < 20000; k++) {
        size_t n = 0, parts = 1 + norm_rand(&st) % 6;
        for (size_t p = 0; p < parts; p++) {
            const char *x = norm_pieces[norm_rand(&st) % np];
            size_t xl = strlen(x);
            if (n + xl < sizeof b)
                memcpy(b + n, x, xl), n += xl;
        }
        b[n] = 0;
        NORM_AGREES(b, n);
    }
}

/* Every field's normalisation with the shortcut and without (what it was
 * before it): the same value, rule, flags and message. */
static void value_agrees(const char *field, const char *v)
{
    char e1[512], e2[512];
    schema_norm a, b;
    schema_norm_fast = 1;
    uerr r1 = schema_value_normalize(&a, field, v, TODAY, e1, sizeof e1);
    schema_norm_fast = 0;
    uerr r2 = schema_value_normalize(&b, field, v, TODAY, e2, sizeof e2);
    schema_norm_fast = 1;
    if (r1 != r2 || strcmp(e1, e2) != 0 || a.flags != b.flags || a.field != b.field ||
        (a.rule != b.rule && (!a.rule || !b.rule || strcmp(a.rule, b.rule) != 0)) ||
        (a.value != b.value && (!a.value || !b.value || strcmp(a.value, b.value) != 0)))
        fail_msg("%s='%s': shortcut rc %d '%s' [%s], full rc %d '%s' [%s]", field, v, (int)r1,
                 a.value ? a.value : "(null)", e1, (int)r2, b.value ? b.value : "(null)", e2);
    schema_norm_free(&a);
    schema_norm_free(&b);
}

static void test_norm_fast_values(void **state)
{
    (void)state;
    size_t nf, np = sizeof norm_pieces / sizeof *norm_pieces;
    const schema_field *fs = schema_fields(&nf);
    static const char *const whole[] = {
        "",
        "张伟",
        " 张伟 ",
        "张伟\xE3\x80\x80",
        "ＭＡＬＥ",
        "M",
        "female",
        "男",
        "330203199001011236",
        "33020319900101123x",
        "330203900101123",
        "3.30205E+17",
        "13812345678",
        "138 1234 5678",
        "+86 13812345678",
        "１３８１２３４５６７８",
        "2024-10-18",
        "2024/1/8",
        "2024年1月8日",
        "20241018",
        "45000",
        "２０２４－１０－１８",
        "2099-01-01",
        "Yinzhou",
        "yinzhou",
        "在会",
        "active",
        "快递小哥",
        "外卖配送员",
        "快递员 ",
        "winter-care-2022",
        "a;b",
        "美团",
        "是",
        "yes",
        "0",
        "12",
        "180.50",
        "91350100M000100Y43",
        "line\nbreak",
        "tab\there",
        "e\xCC\x81",
        "\xEF\xA4\x80",
        "\xC0\xAF",
        "\x01x",
    };
    static const char *const more[] = {
        "a\x7f",      "张\x1f伟",   "张\x7f",     "\t张伟",     "20240229",
        "2023-02-29", "1900-01-01", "0001-01-01", "1949-10-01", "2026-11-28",
        "2026-11-29", "9999-12-31", "2021.8.1",
    };
    /* long values: the code points the scan counts against max_chars, and
     * the byte limit */
    static char longs[4][3 * SCHEMA_VALUE_MAX + 8];
    size_t lens[4] = {20, 64, 200, SCHEMA_VALUE_MAX / 3 + 1};
    for (int i = 0; i < 4; i++) {
        for (size_t k = 0; k < lens[i]; k++)
            memcpy(longs[i] + 3 * k, "张", 3);
        longs[i][3 * lens[i]] = 0;
    }
    for (size_t f = 0; f < nf; f++) {
        for (size_t i = 0; i < sizeof whole / sizeof *whole; i++)
            value_agrees(fs[f].name, whole[i]);
        for (size_t i = 0; i < sizeof more / sizeof *more; i++)
            value_agrees(fs[f].name, more[i]);
        for (int i = 0; i < 4; i++)
            value_agrees(fs[f].name, longs[i]);
        for (size_t i = 0; i < np; i++)
            value_agrees(fs[f].name, norm_pieces[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_table),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_set_and_masked),
        cmocka_unit_test(test_field_names_in_check),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_gender),
        cmocka_unit_test(test_idnum_check_digit),
        cmocka_unit_test(test_idnum_birth_date),
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_no_personal_echo),
        cmocka_unit_test(test_office),
        cmocka_unit_test(test_joined),
        cmocka_unit_test(test_today_required),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_benefits),
        cmocka_unit_test(test_text_fields),
        cmocka_unit_test(test_invalid_utf8_values),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_display_width),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_date_valid),
        cmocka_unit_test(test_err_buffer),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_idnum_15),
        cmocka_unit_test(test_category_vocab),
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_resolve_and_declare),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_problem_groups),
        cmocka_unit_test(test_norm_fast_cjk_range),
        cmocka_unit_test(test_norm_fast_ascii),
        cmocka_unit_test(test_norm_fast_mixed),
        cmocka_unit_test(test_norm_fast_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
