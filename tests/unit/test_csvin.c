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
    if (rc != 0) fail_msg("csvin_parse failed: %s", err);
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
    if (!strstr(err, want)) fail_msg("error \"%s\" does not contain \"%s\"", err, want);
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

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* 张三 in GBK, as Excel saves it on Chinese Windows */
    parse_fails("name,phone\nok,1\n\xD5\xC5\xC8\xFD,2\n", "line 3: not valid UTF-8");
    parse_fails("name\n\xC0\xAF\n", "line 2: not valid UTF-8");         /* overlong */
    parse_fails("name\n\xED\xA0\x80\n", "line 2: not valid UTF-8");     /* surrogate */
    parse_fails("name\n\"a\nb\xE4\xB8\"\n", "line 3: not valid UTF-8"); /* truncated */
    parse_fails_n("name\nab\0c\n", 10, "line 2: contains a NUL byte");
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
    assert_non_null(strstr(err, "line 4: not valid UTF-8"));
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
