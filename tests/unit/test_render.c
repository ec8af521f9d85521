/* test_render.c - unit tests of cli/render.c: CJK-aware table alignment,
 * control characters and truncation in tables, CSV quoting (and its round
 * trip through csvin_parse), JSON string escaping and msgpack -> JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/csvin.h"
#include "cli/render.h"
#include "proto/schema.h"

/* A memstream to capture output; out_take closes it and returns the text
 * (caller frees). */
typedef struct {
    FILE *f;
    char *text;
    size_t len;
} out_buf;

static void out_open(out_buf *o)
{
    o->text = NULL;
    o->len = 0;
    o->f = open_memstream(&o->text, &o->len);
    assert_non_null(o->f);
}

static char *out_take(out_buf *o)
{
    assert_int_equal(fclose(o->f), 0);
    return o->text;
}

/* Split text into lines (in place); returns the count. */
static size_t lines_split(char *text, char **lines, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    return n;
}

static void test_table_cjk_alignment(void **state)
{
    (void)state;
    const char *head[] = {"id", "name", "category", "office"};
    const char *cells[] = {
        "A1",  "陈诚",      "外卖配送员", "yinzhou", /* */
        "B22", "Li Wei",    "courier",    "haishu",  /* */
        "C3",  "王小明Tom", NULL,         "海曙",    /* */
    };
    out_buf o;
    out_open(&o);
    render_table(o.f, head, 4, cells, 3);
    char *text = out_take(&o);
    assert_string_equal(text, "id   name       category    office\n"
                              "---  ---------  ----------  -------\n"
                              "A1   陈诚       外卖配送员  yinzhou\n"
                              "B22  Li Wei     courier     haishu\n"
                              "C3   王小明Tom              海曙\n");

    /* Every line: the last column starts at display column 3+2+9+2+10+2. */
    char *lines[8];
    assert_int_equal(lines_split(text, lines, 8), 5);
    const char *last[] = {"office", "-------", "yinzhou", "haishu", "海曙"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(schema_display_width(lines[i]), 28 + schema_display_width(last[i]));
        size_t len = strlen(lines[i]);
        assert_true(lines[i][len - 1] != ' ');
    }
    free(text);
}

static void test_table_same_width_lines(void **state)
{
    (void)state;
    /* last column of equal width: every line has the same display width */
    const char *head[] = {"姓名", "工作单位", "ok"};
    const char *cells[] = {"张三", "美团外卖（宁波）", "ab", "Zhang San Feng", "SF", "cd",
                           "李",   "顺丰速运",         "ef"};
    out_buf o;
    out_open(&o);
    render_table(o.f, head, 3, cells, 3);
    char *text = out_take(&o);
    char *lines[8];
    assert_int_equal(lines_split(text, lines, 8), 5);
    size_t w0 = schema_display_width(lines[0]);
    assert_int_equal(w0, 14 + 2 + 16 + 2 + 2);
    for (size_t i = 1; i < 5; i++)
        assert_int_equal(schema_display_width(lines[i]), w0);
    free(text);
}

static void test_table_control_chars_and_empty(void **state)
{
    (void)state;
    const char *head[] = {"a", "b", "c"};
    const char *cells[] = {
        "x\ny",     "tab\there", "cr\r\nlf\rz", /* */
        "\x1b[31m", "\xff!",     "",            /* empty last cell: no trailing spaces */
        NULL,       NULL,        NULL,          /* all empty */
    };
    out_buf o;
    out_open(&o);
    render_table(o.f, head, 3, cells, 3);
    char *text = out_take(&o);
    assert_string_equal(text, "a      b         c\n"
                              "-----  --------  -------\n"
                              "x⏎y    tab here  cr⏎lf⏎z\n"
                              " [31m  \xEF\xBF\xBD!\n"
                              "\n");
    free(text);

    /* a cell's own trailing spaces (or tab, or control char) never end a line */
    const char *h2[] = {"k", "v"};
    const char *c2[] = {"x ", "trail \t\x01", "  ", " ", "y", "\t"};
    out_open(&o);
    render_table(o.f, h2, 2, c2, 3);
    text = out_take(&o);
    assert_string_equal(text, "k   v\n"
                              "--  --------\n"
                              "x   trail\n"
                              "\n"
                              "y\n");
    free(text);

    /* no columns, no rows */
    out_open(&o);
    render_table(o.f, head, 0, cells, 0);
    text = out_take(&o);
    assert_string_equal(text, "");
    free(text);
    out_open(&o);
    render_table(o.f, head, 2, NULL, 0);
    text = out_take(&o);
    assert_string_equal(text, "a  b\n-  -\n");
    free(text);
    out_open(&o);
    render_table(o.f, NULL, 2, cells, 1); /* no header */
    text = out_take(&o);
    assert_string_equal(text, "x⏎y  tab here\n");
    free(text);
}

static void test_table_truncation(void **state)
{
    (void)state;
    char cjk[25 * 3 + 1] = "", ascii[46], longlast[101];
    for (int i = 0; i < 25; i++)
        strcat(cjk, "汉");
    memset(ascii, 'a', 45);
    ascii[45] = '\0';
    memset(longlast, 'z', 100);
    longlast[100] = '\0';
    const char *head[] = {"c", "a", "last"};
    const char *cells[] = {cjk, ascii, longlast};
    out_buf o;
    out_open(&o);
    render_table(o.f, head, 3, cells, 1);
    char *text = out_take(&o);
    char *lines[4];
    assert_int_equal(lines_split(text, lines, 4), 3);
    /* 19 wide characters (38 columns) + ellipsis = 39; 39 'a' + ellipsis = 40 */
    char want[512] = "";
    for (int i = 0; i < 19; i++)
        strcat(want, "汉");
    strcat(want, "…  ");
    strncat(want, ascii, 39);
    strcat(want, "…  ");
    strcat(want, longlast);
    assert_string_equal(lines[2], want);
    assert_int_equal(schema_display_width(lines[2]), 39 + 2 + 40 + 2 + 100);
    assert_int_equal(schema_display_width(lines[1]), 39 + 2 + 40 + 2 + 100);
    free(text);
}

static void test_csv_quoting(void **state)
{
    (void)state;
    const char *cells[] = {"plain", "a,b", "say \"hi\"", " lead", "trail\t",      "line\nbreak",
                           "",      NULL,  "陈诚",       "cr\r",  "\xEF\xBB\xBFx"};
    out_buf o;
    out_open(&o);
    render_csv_row(o.f, cells, 11);
    const char *one_empty[] = {""}, *one_null[] = {NULL}, *two_empty[] = {"", ""};
    render_csv_row(o.f, one_empty, 1);
    render_csv_row(o.f, one_null, 1);
    render_csv_row(o.f, two_empty, 2);
    char *text = out_take(&o);
    assert_string_equal(text, "plain,\"a,b\",\"say \"\"hi\"\"\",\" lead\",\"trail\t\","
                              "\"line\nbreak\",,,陈诚,\"cr\r\",\"\xEF\xBB\xBFx\"\n"
                              "\"\"\n"
                              "\"\"\n"
                              ",\n");
    free(text);
}

static void test_csv_round_trip(void **state)
{
    (void)state;
    const char *head[] = {"name", "notes", "employer"};
    const char *rows[][3] = {
        {"陈诚", "line1\nline2\r\nline3", "美团, 宁波"},
        {"  spaced  ", "\"quoted\"", ""},
        {"\xEF\xBB\xBF", ",", "\r"},
        {"", "", ""},
        {"a\"b", "\"\"", "tab\tin"},
    };
    const size_t nrows = sizeof rows / sizeof rows[0];
    out_buf o;
    out_open(&o);
    render_csv_row(o.f, head, 3);
    for (size_t i = 0; i < nrows; i++)
        render_csv_row(o.f, rows[i], 3);
    char *text = out_take(&o);

    csvin_doc d;
    char err[256];
    csvin_init(&d);
    if (csvin_parse(&d, text, strlen(text), err, sizeof err) != 0)
        fail_msg("re-parse failed: %s\n%s", err, text);
    assert_int_equal(d.nheader, 3);
    for (size_t j = 0; j < 3; j++)
        assert_string_equal(d.header[j], head[j]);
    assert_int_equal(d.nrows, nrows);
    for (size_t i = 0; i < nrows; i++)
        for (size_t j = 0; j < 3; j++)
            assert_string_equal(d.rows[i].cells[j], rows[i][j]);
    /* line numbers count the embedded newlines (CRLF inside counts once) */
    assert_int_equal(d.rows[0].line, 2);
    assert_int_equal(d.rows[1].line, 5);
    csvin_free(&d);
    free(text);
}

static void test_json_string_escaping(void **state)
{
    (void)state;
    out_buf o;
    out_open(&o);
    render_json_string(o.f, "a\"b\\c\nd\re\tf\bg\fh\x01i\x1fj/陈诚\x7f");
    fputc(' ', o.f);
    render_json_string(o.f, "bad\xff-\xe4\xb8"); /* invalid and truncated */
    fputc(' ', o.f);
    render_json_string(o.f, "\xC0\xAF\xED\xA0\x80"); /* overlong, surrogate */
    fputc(' ', o.f);
    render_json_string(o.f, NULL);
    fputc(' ', o.f);
    render_json_string_n(o.f, "a\0b", 3);
    fputc(' ', o.f);
    render_json_string(o.f, "");
    char *text = out_take(&o);
    /* libjansson writes \uXXXX escapes in upper case */
    assert_string_equal(text, "\"a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh\\u0001i\\u001Fj/陈诚\x7f\" "
                              "\"bad\xEF\xBF\xBD-\xEF\xBF\xBD\xEF\xBF\xBD\" "
                              "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\" "
                              "null \"a\\u0000b\" \"\"");
    free(text);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Unpack sb and render it; returns the JSON text (caller frees). */
static char *render_sbuffer(const msgpack_sbuffer *sb, int pretty)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
    out_buf o;
    out_open(&o);
    render_json_msgpack(o.f, &up.data, pretty);
    msgpack_unpacked_destroy(&up);
    return out_take(&o);
}

static void test_json_msgpack_nested(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "id");
    pack_str(&pk, "01ABC");
    pack_str(&pk, "fields");
    msgpack_pack_map(&pk, 7);
    pack_str(&pk, "name");
    pack_str(&pk, "陈诚");
    pack_str(&pk, "benefits");
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, "heat-relief-2021");
    pack_str(&pk, "welfare-2021");
    pack_str(&pk, "age");
    msgpack_pack_int(&pk, 34);
    pack_str(&pk, "score");
    msgpack_pack_int(&pk, -2);
    pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    pack_str(&pk, "none");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "ratio");
    msgpack_pack_double(&pk, 0.5);
    pack_str(&pk, "conflicts");
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "union");
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, "A");
    pack_str(&pk, "B");
    pack_str(&pk, "empty");
    msgpack_pack_array(&pk, 0);
    pack_str(&pk, "emptymap");
    msgpack_pack_map(&pk, 0);

    char *compact = render_sbuffer(&sb, 0);
    assert_string_equal(compact, "{\"id\":\"01ABC\",\"fields\":{\"name\":\"陈诚\",\"benefits\":"
                                 "[\"heat-relief-2021\",\"welfare-2021\"],\"age\":34,\"score\":-2,"
                                 "\"ok\":true,\"none\":null,\"ratio\":0.5},\"conflicts\":"
                                 "{\"union\":[\"A\",\"B\"]},\"empty\":[],\"emptymap\":{}}");
    free(compact);

    /* as python3 -c 'json.dumps(o, ensure_ascii=False, indent=2)' prints it */
    char *pretty = render_sbuffer(&sb, 1);
    assert_string_equal(pretty,
                        "{\n  \"id\": \"01ABC\",\n  \"fields\": {\n    \"name\": \"陈诚\",\n"
                        "    \"benefits\": [\n      \"heat-relief-2021\",\n"
                        "      \"welfare-2021\"\n    ],\n    \"age\": 34,\n"
                        "    \"score\": -2,\n    \"ok\": true,\n    \"none\": null,\n"
                        "    \"ratio\": 0.5\n  },\n  \"conflicts\": {\n"
                        "    \"union\": [\n      \"A\",\n      \"B\"\n    ]\n  },\n"
                        "  \"empty\": [],\n  \"emptymap\": {}\n}");
    free(pretty);
    msgpack_sbuffer_destroy(&sb);
}

static void test_json_msgpack_scalars_and_keys(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    msgpack_pack_map(&pk, 7);
    msgpack_pack_int(&pk, 1); /* non-string keys become strings */
    pack_str(&pk, "a");
    msgpack_pack_int(&pk, -1);
    pack_str(&pk, "b");
    msgpack_pack_true(&pk);
    pack_str(&pk, "c");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "d");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "x\"y");
    pack_str(&pk, "e");
    msgpack_pack_double(&pk, 1.5);
    pack_str(&pk, "f");
    pack_str(&pk, "vals");
    msgpack_pack_array(&pk, 12);
    msgpack_pack_double(&pk, 0.1);
    msgpack_pack_double(&pk, 1.0);
    msgpack_pack_double(&pk, 1e300);
    msgpack_pack_float(&pk, 0.1f);
    msgpack_pack_double(&pk, NAN);
    msgpack_pack_double(&pk, -INFINITY);
    msgpack_pack_double(&pk, -0.0);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_bin(&pk, 4);
    msgpack_pack_bin_body(&pk, "\x00\x01\x02\xff", 4);
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "ab", 2);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "a\0\xff", 3);

    /* libjansson: exponents without '+'; integers above INT64_MAX (which
     * replies never carry) as strings of their digits */
    char *text = render_sbuffer(&sb, 0);
    assert_string_equal(text, "{\"1\":\"a\",\"-1\":\"b\",\"true\":\"c\",\"null\":\"d\","
                              "\"[1,\\\"x\\\\\\\"y\\\"]\":\"e\",\"1.5\":\"f\",\"vals\":"
                              "[0.1,1.0,1e300,0.1,null,null,-0.0,\"18446744073709551615\","
                              "-9223372036854775808,\"AAEC/w==\",\"YWI=\","
                              "\"a\\u0000\xEF\xBF\xBD\"]}");
    free(text);
    msgpack_sbuffer_destroy(&sb);

    /* a scalar at the top, pretty */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_str(&pk, "陈");
    text = render_sbuffer(&sb, 1);
    assert_string_equal(text, "\"陈\"");
    free(text);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_cjk_alignment),
        cmocka_unit_test(test_table_same_width_lines),
        cmocka_unit_test(test_table_control_chars_and_empty),
        cmocka_unit_test(test_table_truncation),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_csv_round_trip),
        cmocka_unit_test(test_json_string_escaping),
        cmocka_unit_test(test_json_msgpack_nested),
        cmocka_unit_test(test_json_msgpack_scalars_and_keys),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
