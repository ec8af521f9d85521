/* test_csvin.c - unit tests of cli/csvin.c, the import CSV decoder: RFC 4180
 * quoting, line numbers across quoted newlines, CRLF, BOM, UTF-8 checks,
 * header rules, ragged rows, limits and file reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/csvin.h"

#define ERRLEN 512

/* Parse a NUL-terminated text; expects success. */
static void parse_ok(csvin_doc *d, const char *text)
{
    char err[ERRLEN];
    csvin_init(d);
    int rc = csvin_parse(d, text, strlen(text), err, sizeof err);
    if (rc != 0)
        fail_msg("csvin_parse failed: %s", err);
}

/* Parse len bytes; expects failure with a message containing want. */
static void parse_fails_n(const char *text, size_t len, const char *want)
{
    char err[ERRLEN];
    csvin_doc d;
    csvin_init(&d);
    int rc = csvin_parse(&d, text, len, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_null(d.rows);
    assert_null(d.header);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    csvin_free(&d);
}

static void parse_fails(const char *text, const char *want)
{
    parse_fails_n(text, strlen(text), want);
}

static void test_basic_and_quoted_commas(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "name,employer,notes\n"
                 "Li Wei,\"Meituan, Ningbo\",\"a, b, c\"\n"
                 "Wang,,x\n");
    assert_int_equal(d.nheader, 3);
    assert_string_equal(d.header[0], "name");
    assert_string_equal(d.header[2], "notes");
    assert_int_equal(d.nrows, 2);
    assert_int_equal(d.rows[0].ncells, 3);
    assert_string_equal(d.rows[0].cells[1], "Meituan, Ningbo");
    assert_string_equal(d.rows[0].cells[2], "a, b, c");
    assert_string_equal(d.rows[1].cells[1], "");
    assert_int_equal(d.rows[0].line, 2);
    assert_int_equal(d.rows[1].line, 3);
    csvin_free(&d);
    csvin_free(&d); /* twice is fine */
}

static void test_embedded_newlines_line_numbers(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "name,notes\n"             /* 1 */
                 "a,\"x\ny\n\nz\"\n"        /* 2-5, with an empty line inside */
                 "b,plain\n"                /* 6 */
                 "\n"                       /* 7 blank, skipped */
                 "c,\"p\r\nq\"\r\n"         /* 8-9 */
                 "\"multi\nline name\",w\n" /* 10-11 */
                 "d,e");                    /* 12, no final newline */
    assert_int_equal(d.nrows, 5);
    assert_string_equal(d.rows[0].cells[1], "x\ny\n\nz");
    assert_int_equal(d.rows[0].line, 2);
    assert_int_equal(d.rows[1].line, 6);
    assert_string_equal(d.rows[2].cells[1], "p\r\nq");
    assert_int_equal(d.rows[2].line, 8);
    assert_string_equal(d.rows[3].cells[0], "multi\nline name");
    assert_int_equal(d.rows[3].line, 10);
    assert_int_equal(d.rows[4].line, 12);
    assert_string_equal(d.rows[4].cells[1], "e");
    csvin_free(&d);
}

static void test_line_number_of_error_after_quoted_newlines(void **state)
{
    (void)state;
    parse_fails("a,b\n"
                "1,\"two\nlines\"\n"
                "3,\"x\ny\nz\"\n"
                "ragged\n",
                "line 7: 1 cell, header has 2");
}

static void test_doubled_quotes(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n\"\",x\n");
    assert_string_equal(d.rows[0].cells[0], "say \"hi\"");
    assert_string_equal(d.rows[0].cells[1], "\"");
    assert_string_equal(d.rows[1].cells[0], "");
    csvin_free(&d);
}

static void test_crlf(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "name,phone\r\nA,13800000000\r\n\r\nB,13900000000\r\n");
    assert_int_equal(d.nrows, 2);
    assert_string_equal(d.header[1], "phone");
    assert_string_equal(d.rows[0].cells[1], "13800000000");
    assert_string_equal(d.rows[1].cells[0], "B");
    assert_int_equal(d.rows[1].line, 4);
    csvin_free(&d);
}

static void test_lone_cr(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "a,b\r1,2\r3,4");
    assert_int_equal(d.nrows, 2);
    assert_int_equal(d.rows[1].line, 3);
    assert_string_equal(d.rows[1].cells[1], "4");
    csvin_free(&d);
}

static void test_bom_skipped(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "\xEF\xBB\xBFname,office\n陈诚,yinzhou\n");
    assert_string_equal(d.header[0], "name");
    assert_int_equal(d.rows[0].line, 2);
    csvin_free(&d);
    parse_fails("\xFF\xFEn\0a\0", "UTF-16");
}

static void test_chinese_text(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "name,category,employer\n"
                 "陈诚,外卖配送员,\"美团，宁波\"\n"
                 "王芳,网约车司机,滴滴出行\n");
    assert_int_equal(d.nrows, 2);
    assert_string_equal(d.rows[0].cells[0], "陈诚");
    assert_string_equal(d.rows[0].cells[1], "外卖配送员");
    assert_string_equal(d.rows[0].cells[2], "美团，宁波");
    assert_string_equal(d.rows[1].cells[2], "滴滴出行");
    csvin_free(&d);
}

/* Parse text forced as UTF-8; expects failure with a message containing want. */
static void parse_fails_utf8(const char *text, const char *want)
{
    char err[ERRLEN];
    csvin_doc d;
    csvin_init(&d);
    assert_int_equal(csvin_parse_enc(&d, text, strlen(text), CSVIN_ENC_UTF8, err, sizeof err), -1);
    assert_null(d.header);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    csvin_free(&d);
}

/* Issue 9: a file that is not UTF-8 is now read as GB18030 when it is
 * valid GB18030 (it was refused before); forcing UTF-8 keeps the old
 * refusal with the line number. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    /* 张三 in GBK, as Excel saves it on Chinese Windows */
    parse_fails_utf8("name,phone\nok,1\n\xD5\xC5\xC8\xFD,2\n", "line 3: not valid UTF-8");
    parse_fails_utf8("name\n\xC0\xAF\n", "line 2: not valid UTF-8");         /* overlong */
    parse_fails_utf8("name\n\xED\xA0\x80\n", "line 2: not valid UTF-8");     /* surrogate */
    parse_fails_utf8("name\n\"a\nb\xE4\xB8\"\n", "line 3: not valid UTF-8"); /* truncated */
    parse_fails_n("name\nab\0c\n", 10, "line 2: contains a NUL byte");
    /* detected: a file found valid whole is not checked line by line again,
     * but its NUL is still named; with a BOM the lines are checked */
    parse_fails_n("name\n陈诚\n\0\n", 14, "line 3: contains a NUL byte");
    parse_fails("\xEF\xBB\xBFname\nok\nx\xC0\xAF\n", "line 3: not valid UTF-8");
    /* neither UTF-8 nor GB18030: the line is named */
    parse_fails("name\nok\nx\xFF\n", "line 3: neither UTF-8 nor GB18030");
}

/* A GBK file with Chinese headers and CRLF, detected without being told. */
static void test_gbk_detected(void **state)
{
    (void)state;
    const char *gbk = "\xD0\xD5\xC3\xFB,\xC9\xED\xB7\xDD\xD6\xA4\xBA\xC5,\xD6\xB0\xD2\xB5\r\n"
                      "\xD5\xC5\xC8\xFD,330203900101123,\xBF\xEC\xB5\xDD\xD0\xA1\xB8\xE7\r\n";
    char err[ERRLEN];
    csvin_doc d;
    csvin_init(&d);
    assert_int_equal(csvin_parse(&d, gbk, strlen(gbk), err, sizeof err), 0);
    assert_int_equal(d.encoding, CSVIN_ENC_GB18030);
    assert_string_equal(csvin_encoding_name(d.encoding), "GB18030");
    assert_string_equal(d.header[0], "姓名");
    assert_int_equal(csvin_header_resolve(&d, err, sizeof err), 0);
    assert_string_equal(d.header[0], "name");
    assert_string_equal(d.header[1], "id_number");
    assert_string_equal(d.header[2], "category");
    assert_string_equal(d.header_raw[1], "身份证号");
    assert_string_equal(d.rows[0].cells[0], "张三");
    /* forcing the encoding: GBK read as UTF-8 is refused */
    assert_int_equal(csvin_parse_enc(&d, gbk, strlen(gbk), CSVIN_ENC_UTF8, err, sizeof err), -1);
    /* a UTF-8 file (with BOM) is UTF-8 */
    const char *u = "\xEF\xBB\xBF姓名\n张三\n";
    assert_int_equal(csvin_parse(&d, u, strlen(u), err, sizeof err), 0);
    assert_int_equal(d.encoding, CSVIN_ENC_UTF8);
    assert_string_equal(csvin_encoding_name(d.encoding), "UTF-8");
    csvin_free(&d);

    csvin_encoding e;
    assert_int_equal(csvin_encoding_parse(&e, "GBK"), 0);
    assert_int_equal(e, CSVIN_ENC_GB18030);
    assert_int_equal(csvin_encoding_parse(&e, "utf-8"), 0);
    assert_int_equal(e, CSVIN_ENC_UTF8);
    assert_int_equal(csvin_encoding_parse(&e, "auto"), 0);
    assert_int_equal(e, CSVIN_ENC_AUTO);
    assert_int_equal(csvin_encoding_parse(&e, "latin1"), -1);
}

static void header_fails(const char *text, const char *want)
{
    char err[ERRLEN];
    csvin_doc d;
    csvin_init(&d);
    assert_int_equal(csvin_parse(&d, text, strlen(text), err, sizeof err), 0);
    assert_int_equal(csvin_header_resolve(&d, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    csvin_free(&d);
}

static void test_header_strict(void **state)
{
    (void)state;
    header_fails("name,phnoe\nx,1\n", "unknown field 'phnoe' (did you mean 'phone'?)");
    header_fails("join_date,id_no\nx,1\n", "unknown field 'join_date' (did you mean 'joined'?)");
    header_fails("join_date,id_no\nx,1\n", "unknown field 'id_no' (did you mean 'id_number'?)");
    header_fails("手机,phone\n1,2\n", "are both phone");
    header_fails("name,bogus field\nx,y\n", "unknown field 'bogus field'");
    /* the record id column and every alias resolve */
    const char *ok =
        "id,姓名,性别,公民身份号码,联系电话,从业类别,单位,工会,入会时间,会籍状态,备注,福利发放\n";
    char err[ERRLEN];
    csvin_doc d;
    csvin_init(&d);
    assert_int_equal(csvin_parse(&d, ok, strlen(ok), err, sizeof err), 0);
    if (csvin_header_resolve(&d, err, sizeof err) != 0)
        fail_msg("%s", err);
    const char *want[] = {"id",       "name",  "gender", "id_number", "phone", "category",
                          "employer", "union", "joined", "status",    "notes", "benefits"};
    for (size_t i = 0; i < 12; i++)
        assert_string_equal(d.header[i], want[i]);
    csvin_free(&d);
    /* a declared field's label is a header too */
    assert_int_equal(schema_field_declare("shoe_size", SCHEMA_TEXT, "鞋码", 0, err, sizeof err), 0);
    const char *decl = "姓名,鞋码\n张三,42\n";
    assert_int_equal(csvin_parse(&d, decl, strlen(decl), err, sizeof err), 0);
    assert_int_equal(csvin_header_resolve(&d, err, sizeof err), 0);
    assert_string_equal(d.header[1], "shoe_size");
    csvin_free(&d);
    schema_declared_reset();
}

/* Every value normalised, every problem of every row collected, a gender
 * column added and filled from the ID number, 15-digit IDs counted. */
static void test_check_rows(void **state)
{
    (void)state;
    const char *text = "姓名,身份证号,手机号码,入会日期,职业,状态\r\n"
                       "张三,330203900101123,１３８１２３４５６７８,2021/8/1,快递小哥,在会\r\n"
                       "李四,330203850615124,13812345679,2021年8月1日,骑手,有效\r\n"
                       "王五,3.30205E+17,138,2021.13.1,飞行员,x\r\n"
                       "赵六,,13812345670,20210801,其他,active\r\n"
                       "钱七,,13812345671,2021-8-32,,\r\n";
    char err[ERRLEN];
    csvin_doc d;
    problem_list pl;
    csvin_stats st;
    csvin_init(&d);
    problem_list_init(&pl);
    assert_int_equal(csvin_parse(&d, text, strlen(text), err, sizeof err), 0);
    assert_int_equal(csvin_header_resolve(&d, err, sizeof err), 0);
    assert_int_equal(csvin_check(&d, "2026-11-28", &st, &pl), UERR_INVALID);
    assert_int_equal(st.id15, 2);
    assert_int_equal(st.gender_filled, 2);
    assert_int_equal(st.bad_rows, 2);
    assert_int_equal(d.nheader, 7);
    assert_string_equal(d.header[6], "gender");
    /* row 1 */
    assert_string_equal(d.rows[0].cells[1], "330203199001011236");
    assert_string_equal(d.rows[0].cells[2], "13812345678");
    assert_string_equal(d.rows[0].cells[3], "2021-08-01");
    assert_string_equal(d.rows[0].cells[4], "快递员");
    assert_string_equal(d.rows[0].cells[5], "active");
    assert_string_equal(d.rows[0].cells[6], "男");
    assert_string_equal(d.rows[1].cells[3], "2021-08-01");
    assert_string_equal(d.rows[1].cells[4], "外卖配送员");
    assert_string_equal(d.rows[1].cells[6], "女");
    assert_string_equal(d.rows[3].cells[3], "2021-08-01");
    assert_false(d.rows[3].bad);
    /* row 3 (line 4): five problems, all reported */
    size_t on4 = 0;
    int excel = 0;
    for (size_t i = 0; i < pl.n; i++)
        if (pl.v[i].line == 4) {
            on4++;
            excel |= strstr(pl.v[i].msg, "Excel turned the column into numbers") != NULL;
        }
    assert_int_equal(on4, 5);
    assert_true(excel);
    assert_true(d.rows[2].bad);
    assert_true(d.rows[4].bad);
    problem_list_free(&pl);
    csvin_free(&d);
}

/* One problem on many rows is one summary line with the count. */
static void test_check_grouped(void **state)
{
    (void)state;
    size_t cap = 64 + 3000 * 32, o = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    o += (size_t)snprintf(text, cap, "name,joined\n");
    for (int i = 0; i < 3000; i++)
        o += (size_t)snprintf(text + o, cap - o, "a%d,01-08-2021\n", i);
    char err[ERRLEN];
    csvin_doc d;
    problem_list pl;
    csvin_init(&d);
    problem_list_init(&pl);
    assert_int_equal(csvin_parse(&d, text, o, err, sizeof err), 0);
    assert_int_equal(csvin_check(&d, "2026-11-28", NULL, &pl), UERR_INVALID);
    assert_int_equal(problem_count(&pl), 3000);
    problem_group *g;
    size_t ng;
    assert_int_equal(problem_groups(&g, &ng, &pl), UERR_OK);
    assert_int_equal(ng, 1);
    char line[512];
    problem_group_format(line, sizeof line, &g[0]);
    assert_non_null(strstr(line, "joined: must be a date"));
    assert_non_null(strstr(line, "(3000 rows: lines 2, 3, 4, 5, 6, ...)"));
    free(g);
    problem_list_free(&pl);
    csvin_free(&d);
    free(text);
}

static void test_ragged_rows(void **state)
{
    (void)state;
    parse_fails("a,b,c\n1,2,3\n1,2\n", "line 3: 2 cells, header has 3");
    parse_fails("a,b\n1,2,3\n", "line 2: 3 cells, header has 2");
    parse_fails("a,b\n1,2\n,,\n", "line 3: 3 cells, header has 2");
}

static void test_empty_file(void **state)
{
    (void)state;
    parse_fails("", "empty");
    parse_fails("\xEF\xBB\xBF", "empty");
    parse_fails("\n\r\n\n", "empty");
    char err[ERRLEN];
    csvin_doc d;
    csvin_init(&d);
    assert_int_equal(csvin_parse(&d, NULL, 0, err, sizeof err), -1);
    assert_int_equal(csvin_parse(&d, "", 0, NULL, 0), -1); /* no err buffer is fine */
}

static void test_header_only(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, "name,phone\n");
    assert_int_equal(d.nheader, 2);
    assert_int_equal(d.nrows, 0);
    assert_null(d.rows);
    csvin_free(&d);
    parse_ok(&d, "\n\nname");
    assert_int_equal(d.nheader, 1);
    assert_string_equal(d.header[0], "name");
    assert_int_equal(d.nrows, 0);
    csvin_free(&d);
}

static void test_header_rules(void **state)
{
    (void)state;
    csvin_doc d;
    parse_ok(&d, " name ,\tphone\t, notes\n a , b ,c\n");
    assert_string_equal(d.header[0], "name");
    assert_string_equal(d.header[1], "phone");
    assert_string_equal(d.header[2], "notes");
    /* cells keep their spaces (RFC 4180) */
    assert_string_equal(d.rows[0].cells[0], " a ");
    assert_string_equal(d.rows[0].cells[1], " b ");
    csvin_free(&d);
    parse_fails("name,,phone\n", "line 1: column 2 of the header has no name");
    parse_fails("\nname,  \n", "line 2: column 2 of the header has no name");
    parse_fails("name,phone,name \n", "header name \"name\" appears twice (columns 1 and 3)");
}

static void test_bad_quoting(void **state)
{
    (void)state;
    parse_fails("a,b\n1,x\"y\n", "line 2: cell 2 has a double quote inside an unquoted value");
    parse_fails("a,b\n1,\"x\"y\n", "line 2: cell 2 has text after its closing double quote");
    parse_fails("a,b\n1, \"x\"\n", "line 2: cell 2 has a double quote inside an unquoted");
    parse_fails("a,b\n1,\"x\" \n", "line 2: cell 2 has text after its closing");
    parse_fails("a,b\n1,2\n3,\"open\nmore\nstill\n", "line 3: a quoted cell in the row");
}

static void test_column_limit(void **state)
{
    (void)state;
    size_t n = CSVIN_COLS_MAX + 1;
    char *text = malloc(n * 8 + 8);
    assert_non_null(text);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(text + o, "%sc%zu", i ? "," : "", i);
    text[o++] = '\n';
    parse_fails_n(text, o, "line 1: more than 256 columns");

    /* exactly 256 is fine */
    o = 0;
    for (size_t i = 0; i < CSVIN_COLS_MAX; i++)
        o += (size_t)sprintf(text + o, "%sc%zu", i ? "," : "", i);
    text[o] = '\0';
    csvin_doc d;
    parse_ok(&d, text);
    assert_int_equal(d.nheader, CSVIN_COLS_MAX);
    csvin_free(&d);
    free(text);
}

static void test_cell_limit(void **state)
{
    (void)state;
    size_t big = CSVIN_CELL_MAX + 5000;
    char *text = malloc(big + 64);
    assert_non_null(text);

    for (int quoted = 0; quoted <= 1; quoted++) {
        for (size_t len = CSVIN_CELL_MAX - 1; len <= CSVIN_CELL_MAX + 2; len++) {
            size_t o = (size_t)sprintf(text, "a,b\n1,%s", quoted ? "\"" : "");
            memset(text + o, 'x', len);
            o += len;
            o += (size_t)sprintf(text + o, "%s\n", quoted ? "\"" : "");
            char err[ERRLEN];
            csvin_doc d;
            csvin_init(&d);
            int rc = csvin_parse(&d, text, o, err, sizeof err);
            if (len <= CSVIN_CELL_MAX) {
                assert_int_equal(rc, 0);
                assert_int_equal(strlen(d.rows[0].cells[1]), len);
            } else {
                assert_int_equal(rc, -1);
                assert_non_null(strstr(err, "line 2: cell 2 is longer than 65536 bytes"));
            }
            csvin_free(&d);
        }
        /* far over the limit: refused without growing libcsv's buffer */
        size_t o = (size_t)sprintf(text, "a\n%s", quoted ? "\"" : "");
        memset(text + o, 'y', big);
        o += big;
        parse_fails_n(text, o, "line 2: cell 1 is longer than 65536 bytes");
    }
    free(text);
}

static void test_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_csvin.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "\xEF\xBB\xBFname,gender\r\n陈诚,男\r\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    csvin_doc d;
    char err[ERRLEN];
    csvin_init(&d);
    assert_int_equal(csvin_read_file(&d, path, err, sizeof err), 0);
    assert_int_equal(d.nrows, 1);
    assert_string_equal(d.rows[0].cells[1], "男");

    /* a second parse into the same doc replaces the first */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "name\nx\ny\n\xFF\n", 11), 11);
    close(fd);
    assert_int_equal(csvin_read_file(&d, path, err, sizeof err), -1);
    assert_int_equal(d.nrows, 0);
    assert_non_null(strstr(err, "line 4: neither UTF-8 nor GB18030"));
    assert_null(strstr(err, path)); /* the caller names the file */
    unlink(path);

    assert_int_equal(csvin_read_file(&d, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(csvin_read_file(&d, "/tmp", err, sizeof err), -1);
    assert_non_null(strstr(err, "is a directory"));
    csvin_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_and_quoted_commas),
        cmocka_unit_test(test_embedded_newlines_line_numbers),
        cmocka_unit_test(test_line_number_of_error_after_quoted_newlines),
        cmocka_unit_test(test_doubled_quotes),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_lone_cr),
        cmocka_unit_test(test_bom_skipped),
        cmocka_unit_test(test_chinese_text),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_gbk_detected),
        cmocka_unit_test(test_header_strict),
        cmocka_unit_test(test_check_rows),
        cmocka_unit_test(test_check_grouped),
        cmocka_unit_test(test_ragged_rows),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_bad_quoting),
        cmocka_unit_test(test_column_limit),
        cmocka_unit_test(test_cell_limit),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests_name("csvin", tests, NULL, NULL);
}
