/* test_kinds.c - unit tests for the kinds of record (issue 11): kind names
 * and tree paths (proto/kind.c), the benefit id rule, every kind's field
 * table and validation (links, yes/no, USCC, counts, amounts, dates in the
 * future), the required fields, and the period report's accumulator
 * (proto/period.c) against figures counted by hand. Expected hashes and
 * ids were computed independently (Python hashlib, FNV-1a by hand). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/kind.h"
#include "proto/period.h"
#include "proto/record.h"
#include "proto/schema.h"

#define TODAY "2026-11-28"

static void ok_at(int line, record_kind k, const char *field, const char *in, const char *want)
{
    char err[256] = "";
    char *out = NULL;
    if (schema_kind_value_check(&out, k, field, in, TODAY, err, sizeof err) != 0)
        fail_msg("line %d: %s.%s=\"%s\" refused: %s", line, kind_name(k), field, in, err);
    if (strcmp(out, want) != 0)
        fail_msg("line %d: %s.%s=\"%s\" gave \"%s\", want \"%s\"", line, kind_name(k), field, in,
                 out, want);
    free(out);
}

/* refused with this rule, and a message naming the field */
static void err_at(int line, record_kind k, const char *field, const char *in, const char *rule)
{
    char err[256] = "";
    schema_norm nm;
    uerr rc = schema_kind_value_normalize(&nm, k, field, in, TODAY, err, sizeof err);
    if (rc == UERR_OK)
        fail_msg("line %d: %s.%s=\"%s\" accepted as \"%s\"", line, kind_name(k), field, in,
                 nm.value);
    if (!nm.rule || strcmp(nm.rule, rule) != 0)
        fail_msg("line %d: %s.%s=\"%s\": rule %s, want %s (%s)", line, kind_name(k), field, in,
                 nm.rule ? nm.rule : "(none)", rule, err);
    if (nm.field && strncmp(err, nm.field->name, strlen(nm.field->name)) != 0)
        fail_msg("line %d: message \"%s\" does not name the field", line, err);
    schema_norm_free(&nm);
}

#define OK(k, f, in, want) ok_at(__LINE__, k, f, in, want)
#define ERR(k, f, in, rule) err_at(__LINE__, k, f, in, rule)

static void test_kind_names(void **state)
{
    (void)state;
    record_kind k;
    assert_string_equal(kind_name(KIND_MEMBER), "member");
    assert_string_equal(kind_name(KIND_BENEFIT), "benefit");
    assert_string_equal(kind_name_zh(KIND_STATION), "服务站点");
    assert_string_equal(kind_name(KIND_NONE), "?");
    assert_null(kind_dir(KIND_NONE));
    assert_int_equal(kind_parse(&k, "Union", NULL, 0), UERR_OK);
    assert_int_equal(k, KIND_UNION);
    assert_int_equal(kind_parse(&k, "enterprises", NULL, 0), UERR_OK);
    assert_int_equal(k, KIND_ENTERPRISE);
    assert_int_equal(kind_parse(&k, "工会", NULL, 0), UERR_OK);
    assert_int_equal(k, KIND_UNION);
    char err[200];
    assert_int_equal(kind_parse(&k, "memberz", err, sizeof err), UERR_INVALID);
    assert_int_equal(k, KIND_NONE);
    assert_non_null(strstr(err, "one of member, union"));
}

static void test_paths(void **state)
{
    (void)state;
    char p[RECORD_ID_MAX + 32], q[RECORD_ID_MAX + 32], id[RECORD_ID_MAX + 1];
    record_kind k;
    /* members/ exactly as record_path: old stores stay readable */
    kind_path(p, sizeof p, KIND_MEMBER, "01kb2xyzab3c4d5e");
    record_path(q, sizeof q, "01kb2xyzab3c4d5e");
    assert_string_equal(p, q);
    assert_string_equal(p, "members/b9/14/01kb2xyzab3c4d5e");
    const char *dirs[] = {"", "members", "unions", "enterprises", "stations", "benefits"};
    for (int i = KIND_MEMBER; i < KIND_COUNT; i++) {
        kind_path(p, sizeof p, (record_kind)i, "01kb2xyzab3c4d5e");
        snprintf(q, sizeof q, "%s/b9/14/01kb2xyzab3c4d5e", dirs[i]);
        assert_string_equal(p, q);
        assert_int_equal(kind_path_parse(&k, id, sizeof id, p), UERR_OK);
        assert_int_equal(k, i);
        assert_string_equal(id, "01kb2xyzab3c4d5e");
    }
    const char *bad[] = {
        "unions/b9/15/01kb2xyzab3c4d5e", /* wrong hash */
        "union/b9/14/01kb2xyzab3c4d5e",  /* not a folder of the layout */
        "others/b9/14/01kb2xyzab3c4d5e",
        "unions/b9/14/01KB2XYZAB3C4D5E",   /* not an id */
        "unions/b9/14/x/01kb2xyzab3c4d5e", /* extra component */
        "unions/01kb2xyzab3c4d5e",
        "01kb2xyzab3c4d5e",
        "unions/b9/14/",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strcpy(id, "junk");
        if (kind_path_parse(&k, id, sizeof id, bad[i]) != UERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(k, KIND_NONE);
        assert_string_equal(id, "");
    }
    assert_int_equal(kind_path_parse(&k, id, 4, "members/b9/14/01kb2xyzab3c4d5e"), UERR_INVALID);
}

static void test_benefit_id(void **state)
{
    (void)state;
    char a[RECORD_ID_LEN + 1], b[RECORD_ID_LEN + 1], err[200];
    /* python3: sha256("benefit\n<m>\n<k>\n<d>")[:10] as base32 */
    assert_int_equal(
        kind_benefit_id(a, "01kb2xyzab3c4d5e", "welfare-2021", "2021-09-01", err, sizeof err),
        UERR_OK);
    assert_string_equal(a, "2g3wv96bfdkjtx63");
    assert_true(record_id_valid(a));
    assert_int_equal(
        kind_benefit_id(b, "01kb2xyzab3c4d5e", "福利-2021", "2021-09-01", err, sizeof err),
        UERR_OK);
    assert_string_equal(b, "22vk9gzx214gffwz");
    /* same inputs, same id; any input changed, another id */
    assert_int_equal(kind_benefit_id(b, "01kb2xyzab3c4d5e", "welfare-2021", "2021-09-01", NULL, 0),
                     UERR_OK);
    assert_string_equal(a, b);
    kind_benefit_id(b, "01kb2xyzab3c4d5f", "welfare-2021", "2021-09-01", NULL, 0);
    assert_string_not_equal(a, b);
    kind_benefit_id(b, "01kb2xyzab3c4d5e", "welfare-2022", "2021-09-01", NULL, 0);
    assert_string_not_equal(a, b);
    kind_benefit_id(b, "01kb2xyzab3c4d5e", "welfare-2021", "2021-09-02", NULL, 0);
    assert_string_not_equal(a, b);
    /* the separators keep fields apart: ("a", "b\nc") is not ("a\nb", "c") */
    assert_int_equal(kind_benefit_id(b, "ab", "x", "2021-09-02", NULL, 0), UERR_OK);
    assert_int_equal(kind_benefit_id(b, "a", "b\nx", "2021-09-02", NULL, 0), UERR_INVALID);
    assert_string_equal(b, "");
    assert_int_equal(kind_benefit_id(b, "01KB", "x", "2021-09-02", err, sizeof err), UERR_INVALID);
    assert_int_equal(kind_benefit_id(b, "01kb", "", "2021-09-02", err, sizeof err), UERR_INVALID);
    assert_int_equal(kind_benefit_id(b, "01kb", "x", "2021-9-2", err, sizeof err), UERR_INVALID);
    assert_int_equal(kind_benefit_id(b, "01kb", "x", "2021-02-30", err, sizeof err), UERR_INVALID);
}

static void test_union_fields(void **state)
{
    (void)state;
    OK(KIND_UNION, "工会名称", " 鄞州区快递行业联合工会 ", "鄞州区快递行业联合工会");
    ERR(KIND_UNION, "name", "", "empty");
    ERR(KIND_UNION, "name", "a\nb", "control");
    OK(KIND_UNION, "type", "基层工会", "基层工会");
    OK(KIND_UNION, "工会类型", "joint", "联合工会");
    OK(KIND_UNION, "type", "Trade", "行业工会");
    OK(KIND_UNION, "type", "enterprise union", "基层工会");
    ERR(KIND_UNION, "type", "company", "vocab");
    const char *yes[] = {"yes", "YES", "y", "true", "1", "是", "True"};
    const char *no[] = {"no", "N", "false", "0", "否", "FALSE"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        OK(KIND_UNION, "新就业形态", yes[i], "yes");
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        OK(KIND_UNION, "new_form", no[i], "no");
    ERR(KIND_UNION, "new_form", "maybe", "yes_no");
    ERR(KIND_UNION, "new_form", "2", "yes_no");
    ERR(KIND_UNION, "new_form", "", "empty");
    OK(KIND_UNION, "成立日期", "2021年3月8日", "2021-03-08");
    OK(KIND_UNION, "founded", TODAY, TODAY);
    ERR(KIND_UNION, "founded", "2026-11-29", "date_future");
    ERR(KIND_UNION, "founded", "2021-02-29", "date_real");
    OK(KIND_UNION, "所属区县", "Yinzhou", "yinzhou");
    /* links: an id, a name resolved later, or KIND:ID of the right kind */
    OK(KIND_UNION, "enterprise", "01kb2xyzab3c4d5e", "01kb2xyzab3c4d5e");
    OK(KIND_UNION, "所属企业", "91350100M000100Y43", "91350100M000100Y43");
    OK(KIND_UNION, "enterprise", "enterprise:01kb2xyzab3c4d5e", "01kb2xyzab3c4d5e");
    OK(KIND_UNION, "station", "station:01kb2xyz", "01kb2xyz");
    ERR(KIND_UNION, "station", "union:01kb2xyz", "link_kind");
    ERR(KIND_UNION, "enterprise", "member:01kb2xyz", "link_kind");
    OK(KIND_UNION, "station", "站点:甲", "站点:甲"); /* not a kind word: a name */
    OK(KIND_UNION, "station", "", "");               /* clears the link */
    ERR(KIND_UNION, "station", "a\tb", "control");
    char *longname = malloc(3 * 129 + 1);
    for (int i = 0; i < 129; i++)
        memcpy(longname + 3 * i, "站", 3);
    longname[3 * 129] = '\0';
    ERR(KIND_UNION, "station", longname, "too_long");
    ERR(KIND_UNION, "name", longname, "too_long");
    free(longname);
    OK(KIND_UNION, "备注", "line one\nline two", "line one\nline two");
    ERR(KIND_UNION, "uscc", "91350100M000100Y43", "unknown_field");
}

static void test_uscc(void **state)
{
    (void)state;
    /* published codes (GB 32100-2015 check characters verified) */
    const char *good[] = {"91350100M000100Y43", "91110000600037341L", "91110108551385082Q",
                          "914403001922038216"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_true(schema_uscc_valid(good[i]));
        OK(KIND_ENTERPRISE, "统一社会信用代码", good[i], good[i]);
    }
    OK(KIND_ENTERPRISE, "uscc", "91110000600037341l", "91110000600037341L");
    OK(KIND_ENTERPRISE, "uscc", "９１１１００００６０００３７３４１Ｌ", "91110000600037341L");
    /* one character changed: the check fails */
    ERR(KIND_ENTERPRISE, "uscc", "91350100M000100Y44", "uscc_check");
    ERR(KIND_ENTERPRISE, "uscc", "91110000600037341K", "uscc_check");
    ERR(KIND_ENTERPRISE, "uscc", "91350100M000101Y43", "uscc_check");
    ERR(KIND_ENTERPRISE, "uscc", "91110000600073341L", "uscc_check"); /* swapped digits */
    assert_false(schema_uscc_valid("91350100M000100Y44"));
    ERR(KIND_ENTERPRISE, "uscc", "91350100M000100Y4", "uscc_length");
    ERR(KIND_ENTERPRISE, "uscc", "91350100M000100Y431", "uscc_length");
    ERR(KIND_ENTERPRISE, "uscc", "91350100M000I00Y43", "uscc_chars"); /* I is not used */
    ERR(KIND_ENTERPRISE, "uscc", "91350100M000O00Y43", "uscc_chars"); /* nor O */
    ERR(KIND_ENTERPRISE, "uscc", "913501A0M000100Y43", "uscc_chars"); /* division code */
    ERR(KIND_ENTERPRISE, "uscc", "9.14403E+17", "excel_number");
    ERR(KIND_ENTERPRISE, "uscc", "", "empty");
    char err[256];
    assert_int_equal(schema_kind_value_check(NULL, KIND_ENTERPRISE, "uscc", "91350100M000100Y44",
                                             TODAY, err, sizeof err),
                     -1);
    assert_null(strstr(err, "Y43")); /* never shows the expected character */
    assert_false(schema_uscc_valid(NULL));
    assert_false(schema_uscc_valid("9135"));
}

static void test_enterprise_station_fields(void **state)
{
    (void)state;
    OK(KIND_ENTERPRISE, "企业名称", "宁波某某物流有限公司", "宁波某某物流有限公司");
    OK(KIND_ENTERPRISE, "职工人数", "120", "120");
    OK(KIND_ENTERPRISE, "employees", "0", "0");
    OK(KIND_ENTERPRISE, "employees", "007", "7");
    OK(KIND_ENTERPRISE, "employees", "１２０", "120");
    ERR(KIND_ENTERPRISE, "employees", "-3", "negative");
    ERR(KIND_ENTERPRISE, "employees", "12.5", "count");
    ERR(KIND_ENTERPRISE, "employees", "1,200", "count");
    ERR(KIND_ENTERPRISE, "employees", "1234567890", "count");
    OK(KIND_ENTERPRISE, "调查日期", "2021/8/1", "2021-08-01");
    OK(KIND_ENTERPRISE, "走访日期", "20210801", "2021-08-01");
    ERR(KIND_ENTERPRISE, "surveyed", "2030-01-01", "date_future");
    OK(KIND_ENTERPRISE, "所属工会", "union:01kb2xyz", "01kb2xyz");
    ERR(KIND_ENTERPRISE, "union", "station:01kb2xyz", "link_kind");
    OK(KIND_ENTERPRISE, "行业", "交通运输", "交通运输");

    OK(KIND_STATION, "站点名称", "鄞州骑手驿站", "鄞州骑手驿站");
    OK(KIND_STATION, "地址", "宁波市鄞州区\n某路1号", "宁波市鄞州区\n某路1号");
    OK(KIND_STATION, "建站日期", "2021.5.1", "2021-05-01");
    OK(KIND_STATION, "启用日期", "2021-05-01", "2021-05-01");
    ERR(KIND_STATION, "opened", "2027-01-01", "date_future");
    ERR(KIND_STATION, "opened", "44197", "excel_number");
    ERR(KIND_STATION, "uscc", "x", "unknown_field");
}

static void test_benefit_fields(void **state)
{
    (void)state;
    OK(KIND_BENEFIT, "amount", "180", "180");
    OK(KIND_BENEFIT, "金额", "180.5", "180.50");
    OK(KIND_BENEFIT, "amount", "180.50", "180.50");
    OK(KIND_BENEFIT, "amount", "180.00", "180");
    OK(KIND_BENEFIT, "amount", "180.0", "180");
    OK(KIND_BENEFIT, "amount", "0180", "180");
    OK(KIND_BENEFIT, "amount", "0", "0");
    OK(KIND_BENEFIT, "amount", "0.05", "0.05");
    OK(KIND_BENEFIT, "amount", "￥240", "240");
    OK(KIND_BENEFIT, "amount", "240元", "240");
    OK(KIND_BENEFIT, "金额(元)", "１８０．５", "180.50");
    OK(KIND_BENEFIT, "amount", "999999999999.99", "999999999999.99");
    ERR(KIND_BENEFIT, "amount", "-180", "amount_negative");
    ERR(KIND_BENEFIT, "amount", "180.505", "amount_decimals");
    ERR(KIND_BENEFIT, "amount", "180.", "amount");
    ERR(KIND_BENEFIT, "amount", ".5", "amount");
    ERR(KIND_BENEFIT, "amount", "1,800", "amount");
    ERR(KIND_BENEFIT, "amount", "1e3", "amount");
    ERR(KIND_BENEFIT, "amount", "abc", "amount");
    ERR(KIND_BENEFIT, "amount", "1000000000000", "amount_range");
    OK(KIND_BENEFIT, "发放日期", "2021-09-01", "2021-09-01");
    ERR(KIND_BENEFIT, "date", "2026-11-29", "date_future");
    ERR(KIND_BENEFIT, "date", "", "empty");
    OK(KIND_BENEFIT, "福利类型", " welfare-2021 ", "welfare-2021");
    ERR(KIND_BENEFIT, "kind", "a\nb", "control");
    ERR(KIND_BENEFIT, "kind", "", "empty");
    OK(KIND_BENEFIT, "member", "01kb2xyzab3c4d5e", "01kb2xyzab3c4d5e");
    OK(KIND_BENEFIT, "member", "member:01kb2xyzab3c4d5e", "01kb2xyzab3c4d5e");
    ERR(KIND_BENEFIT, "member", "union:01kb2xyzab3c4d5e", "link_kind");
    ERR(KIND_BENEFIT, "member", "", "empty"); /* required */
    OK(KIND_BENEFIT, "身份证号码", "11010519491231002x", "11010519491231002X");
    ERR(KIND_BENEFIT, "id_number", "110105194912310021", "id_check");
    OK(KIND_BENEFIT, "发放站点", "鄞州骑手驿站", "鄞州骑手驿站");

    int64_t fen;
    assert_int_equal(schema_amount_fen(&fen, "180.50"), UERR_OK);
    assert_int_equal(fen, 18050);
    assert_int_equal(schema_amount_fen(&fen, "240"), UERR_OK);
    assert_int_equal(fen, 24000);
    assert_int_equal(schema_amount_fen(&fen, "0.07"), UERR_OK);
    assert_int_equal(fen, 7);
    assert_int_equal(schema_amount_fen(&fen, "-1"), UERR_INVALID);
    assert_int_equal(schema_amount_fen(&fen, NULL), UERR_INVALID);
    char buf[32];
    assert_string_equal(schema_amount_format(buf, 18050), "180.50");
    assert_string_equal(schema_amount_format(buf, 24000), "240");
    assert_string_equal(schema_amount_format(buf, 7), "0.07");
    assert_string_equal(schema_amount_format(buf, 0), "0");
    assert_string_equal(schema_amount_format(buf, -150), "-1.50");
}

/* Names, labels and aliases are unique within each kind; types agree with
 * their link targets; the member API is the member case. */
static void test_tables(void **state)
{
    (void)state;
    for (int k = KIND_MEMBER; k < KIND_COUNT; k++) {
        size_t n;
        const schema_field *f = schema_kind_fields((record_kind)k, &n);
        assert_true(n > 0);
        const char *words[256];
        size_t owner[256], nw = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(schema_name_valid(f[i].name));
            assert_ptr_equal(schema_kind_field_find((record_kind)k, f[i].name), &f[i]);
            owner[nw] = i, words[nw++] = f[i].name;
            if (f[i].label)
                owner[nw] = i, words[nw++] = f[i].label;
            for (size_t a = 0; f[i].aliases && f[i].aliases[a]; a++)
                owner[nw] = i, words[nw++] = f[i].aliases[a];
            if (f[i].type == SCHEMA_LINK)
                assert_true(f[i].link > KIND_NONE && f[i].link < KIND_COUNT);
        }
        for (size_t a = 0; a < nw; a++)
            for (size_t b = a + 1; b < nw; b++)
                if (strcmp(words[a], words[b]) == 0 && owner[a] != owner[b])
                    fail_msg("%s: '%s' names two fields", kind_name((record_kind)k), words[a]);
        for (size_t i = 0; i < n; i++) {
            const schema_field *r = NULL;
            char err[256];
            assert_int_equal(
                schema_kind_field_resolve(&r, (record_kind)k, f[i].name, err, sizeof err), UERR_OK);
            assert_ptr_equal(r, &f[i]);
            if (f[i].label) {
                assert_int_equal(
                    schema_kind_field_resolve(&r, (record_kind)k, f[i].label, err, sizeof err),
                    UERR_OK);
                assert_ptr_equal(r, &f[i]);
            }
        }
    }
    size_t n1, n2;
    assert_ptr_equal(schema_kind_fields(KIND_MEMBER, &n1), schema_fields(&n2));
    assert_int_equal(n1, n2);
    assert_null(schema_kind_fields(KIND_NONE, &n1));
    assert_int_equal(n1, 0);
    assert_ptr_equal(schema_field_find("union"), schema_kind_field_find(KIND_MEMBER, "union"));
    assert_int_equal(schema_field_find("union")->link, KIND_UNION);
    assert_int_equal(schema_field_find("union")->type, SCHEMA_TEXT); /* unchanged for members */
    assert_int_equal(schema_field_find("employer")->link, KIND_ENTERPRISE);
    assert_non_null(schema_field_find("merged_into"));

    const schema_field *r;
    char err[256];
    assert_int_equal(schema_field_resolve(&r, "工会名称", err, sizeof err), UERR_INVALID);
    assert_int_equal(schema_kind_field_resolve(&r, KIND_UNION, "名称", err, sizeof err), UERR_OK);
    assert_string_equal(r->name, "name");
    assert_int_equal(schema_kind_field_resolve(&r, KIND_ENTERPRISE, "uscd", err, sizeof err),
                     UERR_INVALID);
    assert_non_null(strstr(err, "did you mean 'uscc'"));
    assert_int_equal(schema_kind_field_resolve(&r, KIND_STATION, "zzzzzz", err, sizeof err),
                     UERR_INVALID);
    assert_non_null(strstr(err, "of a station"));
    assert_int_equal(schema_kind_field_resolve(&r, KIND_NONE, "name", err, sizeof err),
                     UERR_INTERNAL);
    /* status void (issue 14) */
    char *out = NULL;
    assert_int_equal(schema_value_check(&out, "status", "作废", TODAY, err, sizeof err), 0);
    assert_string_equal(out, "void");
    free(out);
}

static void test_rows_and_required(void **state)
{
    (void)state;
    problem_list pl;
    problem_list_init(&pl);
    const char *fields[] = {"name", "uscc", "employees", "surveyed"};
    const char *in[] = {"甲公司", "91350100M000100Y44", "-1", "2021-8-1"};
    char *out[4];
    assert_int_equal(
        schema_kind_row_normalize(out, NULL, NULL, KIND_ENTERPRISE, fields, in, 4, TODAY, 7, &pl),
        UERR_INVALID);
    assert_int_equal(problem_count(&pl), 2);
    assert_int_equal(pl.v[0].line, 7);
    assert_string_equal(pl.v[0].field, "uscc");
    assert_string_equal(pl.v[0].rule, "uscc_check");
    assert_string_equal(pl.v[1].field, "employees");
    assert_string_equal(out[0], "甲公司");
    assert_null(out[1]);
    assert_null(out[2]);
    assert_string_equal(out[3], "2021-08-01");
    assert_int_equal(
        schema_kind_required_check(KIND_ENTERPRISE, fields, (const char **)out, 4, 7, &pl), 0);
    for (int i = 0; i < 4; i++)
        free(out[i]);
    problem_list_free(&pl);

    /* a union without a name; a benefit given by ID number */
    const char *uf[] = {"type", "name"};
    const char *uv[] = {"基层工会", ""};
    assert_int_equal(schema_kind_required_check(KIND_UNION, uf, uv, 2, 3, &pl), 1);
    assert_string_equal(pl.v[0].field, "name");
    assert_string_equal(pl.v[0].rule, "required");
    assert_int_equal(schema_kind_required_check(KIND_UNION, uf, uv, 1, 4, &pl), 1);
    const char *bf[] = {"id_number", "kind", "date", "amount"};
    const char *bv[] = {"11010519491231002X", "welfare-2021", "2021-09-01", "180"};
    assert_int_equal(schema_kind_required_check(KIND_BENEFIT, bf, bv, 4, 5, &pl), 0);
    assert_int_equal(schema_kind_required_check(KIND_BENEFIT, bf + 1, bv + 1, 3, 6, &pl), 1);
    assert_string_equal(pl.v[2].field, "member");
    const char *bv2[] = {"11010519491231002X", "welfare-2021", NULL, "180"}; /* date refused */
    assert_int_equal(schema_kind_required_check(KIND_BENEFIT, bf, bv2, 4, 8, &pl), 0);
    assert_int_equal(schema_kind_required_check(KIND_MEMBER, bf, bv, 0, 9, &pl), 0);
    problem_list_free(&pl);

    /* the member row keeps its cross-checks */
    const char *mf[] = {"id_number", "gender"};
    const char *mv[] = {"11010519491231002X", "男"};
    problem_list_init(&pl);
    assert_int_equal(schema_row_normalize(out, NULL, NULL, mf, mv, 2, TODAY, 2, &pl), UERR_INVALID);
    assert_string_equal(pl.v[0].rule, "gender_id");
    free(out[0]);
    free(out[1]);
    problem_list_free(&pl);
}

/* ---- the period report ---- */

typedef struct {
    const char *k[8], *v[8];
} fake;

static const char *fake_get(const void *rec, const char *field)
{
    const fake *f = rec;
    for (int i = 0; i < 8 && f->k[i]; i++)
        if (strcmp(f->k[i], field) == 0)
            return f->v[i];
    return NULL;
}

#define REC(...) (&(fake){__VA_ARGS__})

static void add(period_acc *a, record_kind k, const char *id, const fake *f)
{
    assert_int_equal(period_add_record(a, k, id, fake_get, f), UERR_OK);
}

/* The same small federation fed to every case: two offices. */
static void feed(period_acc *a)
{
    /* members: m1..m6 */
    add(a, KIND_MEMBER, "m1",
        REC({"office", "joined", "status", "category"}, {"yz", "2021-03-01", "active", "快递员"}));
    add(a, KIND_MEMBER, "m2",
        REC({"office", "joined", "status", "category"}, {"yz", "2021-09-30", "lapsed", "网格员"}));
    add(a, KIND_MEMBER, "m3",
        REC({"office", "joined", "status", "category"}, {"yz", "2020-12-31", "active", "快递员"}));
    add(a, KIND_MEMBER, "m4",
        REC({"office", "joined", "status", "category"}, {"hs", "2021-01-01", "void", "快递员"}));
    add(a, KIND_MEMBER, "m5",
        REC({"office", "joined", "status", "category"}, {"hs", "2021-05-05", "active", ""}));
    add(a, KIND_MEMBER, "m6",
        REC({"office", "joined", "status", "category"}, {"hs", "2021-10-01", "active", "快递员"}));
    /* unions */
    add(a, KIND_UNION, "u1",
        REC({"office", "founded", "new_form", "enterprise"}, {"yz", "2021-02-02", "yes", "e1"}));
    add(a, KIND_UNION, "u2",
        REC({"office", "founded", "new_form", "enterprise"},
            {"hs", "2021-06-06", "no", "91350100M000100Y43"}));
    add(a, KIND_UNION, "u3", REC({"office", "founded", "new_form"}, {"hs", "2019-06-06", "yes"}));
    /* enterprises: e1 linked from u1, e2 by its USCC from u2, e3 by its own
     * field, e4 not linked, e5 surveyed outside the period */
    add(a, KIND_ENTERPRISE, "e1", REC({"office", "surveyed", "name"}, {"yz", "2021-04-01", "甲"}));
    add(a, KIND_ENTERPRISE, "e2",
        REC({"office", "surveyed", "uscc"}, {"hs", "2021-04-01", "91350100M000100Y43"}));
    add(a, KIND_ENTERPRISE, "e3", REC({"office", "surveyed", "union"}, {"hs", "2021-01-01", "u3"}));
    add(a, KIND_ENTERPRISE, "e4", REC({"office", "surveyed"}, {"hs", "2021-07-01"}));
    add(a, KIND_ENTERPRISE, "e5", REC({"office", "surveyed", "union"}, {"yz", "2022-01-01", "u1"}));
    /* stations */
    add(a, KIND_STATION, "s1", REC({"office", "opened"}, {"yz", "2020-01-01"}));
    add(a, KIND_STATION, "s2", REC({"office", "opened"}, {"yz", "2021-09-30"}));
    add(a, KIND_STATION, "s3", REC({"office", "opened"}, {"hs", "2021-10-01"}));
    add(a, KIND_STATION, "s4", REC({"office"}, {"hs"}));
    /* benefits: a member may get several */
    add(a, KIND_BENEFIT, "b1", REC({"member", "date", "amount"}, {"m1", "2021-09-01", "180.50"}));
    add(a, KIND_BENEFIT, "b2", REC({"member", "date", "amount"}, {"m1", "2021-01-01", "240"}));
    add(a, KIND_BENEFIT, "b3", REC({"member", "date", "amount"}, {"m5", "2021-03-03", "0.25"}));
    add(a, KIND_BENEFIT, "b4", REC({"member", "date", "amount"}, {"m5", "2020-12-31", "1000"}));
    add(a, KIND_BENEFIT, "b5", REC({"member", "date", "amount"}, {"zz", "2021-03-03", "10"}));
    add(a, KIND_BENEFIT, "b6", REC({"member", "date"}, {"m3", "2021-04-04"}));
}

static const period_office *office_of(const period_result *r, const char *o)
{
    for (size_t i = 0; i < r->noffices; i++)
        if (strcmp(r->offices[i].office, o) == 0)
            return &r->offices[i];
    return NULL;
}

static void test_period(void **state)
{
    (void)state;
    period_acc *a;
    period_result r;
    char err[200];
    assert_int_equal(period_init(&a, "2021-01-01", "2021-09-30", NULL, err, sizeof err), UERR_OK);
    feed(a);
    assert_int_equal(period_finish(&r, a, err, sizeof err), UERR_OK);
    const period_figures *t = &r.total;
    assert_string_equal(r.from, "2021-01-01");
    assert_int_equal(t->unions_new, 2);             /* u1 u2 */
    assert_int_equal(t->unions_new_form, 1);        /* u1 */
    assert_int_equal(t->members_new, 3);            /* m1 m2 m5 (m4 void, m3 m6 outside) */
    assert_int_equal(t->members_new_form, 1);       /* m1 (网格员 is not new-form) */
    assert_int_equal(t->members_active, 3);         /* m1 m3 m5 (m6 joined after the end) */
    assert_int_equal(t->enterprises_surveyed, 4);   /* e1..e4 */
    assert_int_equal(t->enterprises_with_union, 3); /* e1 e2 e3 */
    assert_int_equal(t->stations_opened, 1);        /* s2 */
    assert_int_equal(t->stations_total, 2);         /* s1 s2 */
    assert_int_equal(t->benefits_count, 5);         /* b1 b2 b3 b5 b6 */
    assert_int_equal(t->benefits_fen, 18050 + 24000 + 25 + 1000);
    assert_int_equal(t->benefits_members, 4); /* m1 m5 zz m3 */

    assert_int_equal(r.noffices, 3);
    assert_string_equal(r.offices[0].office, "(none)"); /* sorted: '(' < 'h' < 'y' */
    assert_string_equal(r.offices[1].office, "hs");
    assert_string_equal(r.offices[2].office, "yz");
    const period_office *yz = office_of(&r, "yz"), *hs = office_of(&r, "hs"),
                        *none = office_of(&r, "(none)");
    assert_int_equal(yz->f.unions_new, 1);
    assert_int_equal(yz->f.members_new, 2);
    assert_int_equal(yz->f.members_active, 2);
    assert_int_equal(yz->f.enterprises_surveyed, 1);
    assert_int_equal(yz->f.enterprises_with_union, 1);
    assert_int_equal(yz->f.stations_total, 2);
    assert_int_equal(yz->f.benefits_count, 3);
    assert_int_equal(yz->f.benefits_fen, 42050);
    assert_int_equal(yz->f.benefits_members, 2);
    assert_int_equal(hs->f.members_new, 1);
    assert_int_equal(hs->f.members_new_form, 0);
    assert_int_equal(hs->f.enterprises_surveyed, 3);
    assert_int_equal(hs->f.enterprises_with_union, 2);
    assert_int_equal(hs->f.stations_opened, 0);
    assert_int_equal(hs->f.benefits_count, 1);
    assert_int_equal(hs->f.benefits_fen, 25);
    assert_int_equal(none->f.benefits_count, 1);
    assert_int_equal(none->f.benefits_fen, 1000);

    /* by_category: (none) m5; 快递员 m1 (new, active), m3 (active); 网格员 m2 */
    assert_int_equal(r.ncategories, 3);
    assert_string_equal(r.categories[0].category, "(none)");
    assert_int_equal(r.categories[0].new_members, 1);
    assert_int_equal(r.categories[0].active, 1);
    int found = 0;
    for (size_t i = 0; i < r.ncategories; i++) {
        if (strcmp(r.categories[i].category, "快递员") == 0) {
            assert_int_equal(r.categories[i].new_members, 1);
            assert_int_equal(r.categories[i].active, 2);
            found++;
        } else if (strcmp(r.categories[i].category, "网格员") == 0) {
            assert_int_equal(r.categories[i].new_members, 1);
            assert_int_equal(r.categories[i].active, 0);
            found++;
        }
    }
    assert_int_equal(found, 2);
    period_result_free(&r);
    period_result_free(&r); /* safe twice */
}

static void test_period_office_and_edges(void **state)
{
    (void)state;
    period_acc *a;
    period_result r;
    char err[200];
    /* --office hs: only hs records count, everywhere */
    assert_int_equal(period_init(&a, "2021-01-01", "2021-09-30", "hs", err, sizeof err), UERR_OK);
    feed(a);
    assert_int_equal(period_finish(&r, a, err, sizeof err), UERR_OK);
    assert_int_equal(r.noffices, 1);
    assert_string_equal(r.offices[0].office, "hs");
    assert_int_equal(r.total.members_new, 1);
    assert_int_equal(r.total.members_active, 1);
    assert_int_equal(r.total.unions_new, 1);
    assert_int_equal(r.total.enterprises_with_union, 2);
    assert_int_equal(r.total.benefits_count, 1);
    assert_int_equal(r.total.benefits_members, 1);
    assert_int_equal(r.ncategories, 1); /* m5 only */
    period_result_free(&r);

    /* a one-day period includes its day */
    assert_int_equal(period_init(&a, "2021-09-30", "2021-09-30", NULL, err, sizeof err), UERR_OK);
    feed(a);
    assert_int_equal(period_finish(&r, a, err, sizeof err), UERR_OK);
    assert_int_equal(r.total.members_new, 1);     /* m2 */
    assert_int_equal(r.total.stations_opened, 1); /* s2 */
    assert_int_equal(r.total.benefits_count, 0);
    period_result_free(&r);

    /* exact sums: 10,000 hand-outs of 180.10 and 0.01 */
    assert_int_equal(period_init(&a, "2021-01-01", "2021-12-31", NULL, err, sizeof err), UERR_OK);
    for (int i = 0; i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof id, "m%d", i % 7);
        add(a, KIND_BENEFIT, "b", REC({"member", "date", "amount"}, {id, "2021-06-01", "180.10"}));
        add(a, KIND_BENEFIT, "b", REC({"member", "date", "amount"}, {id, "2021-06-02", "0.01"}));
    }
    assert_int_equal(period_finish(&r, a, err, sizeof err), UERR_OK);
    assert_int_equal(r.total.benefits_fen, 10000LL * 18011);
    assert_int_equal(r.total.benefits_members, 7);
    char buf[32];
    assert_string_equal(schema_amount_format(buf, r.total.benefits_fen), "1801100");
    period_result_free(&r);

    /* bad arguments */
    assert_int_equal(period_init(&a, "2021-09-30", "2021-01-01", NULL, err, sizeof err),
                     UERR_INVALID);
    assert_null(a);
    assert_int_equal(period_init(&a, "2021-9-1", "2021-10-01", NULL, err, sizeof err),
                     UERR_INVALID);
    assert_int_equal(period_init(&a, "2021-01-01", "2021-12-31", "", err, sizeof err), UERR_OK);
    assert_int_equal(period_add_record(a, KIND_NONE, "x", fake_get, REC({"a"}, {"b"})),
                     UERR_INVALID);
    assert_int_equal(period_add_record(a, KIND_MEMBER, NULL, fake_get, REC({"a"}, {"b"})),
                     UERR_INVALID);
    period_acc_free(a);
    period_acc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_benefit_id),
        cmocka_unit_test(test_union_fields),
        cmocka_unit_test(test_uscc),
        cmocka_unit_test(test_enterprise_station_fields),
        cmocka_unit_test(test_benefit_fields),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_rows_and_required),
        cmocka_unit_test(test_period),
        cmocka_unit_test(test_period_office_and_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
