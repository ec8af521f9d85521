/* test_query.c - --where conditions: parsing, normalisation like stored
 * values, and matching displayed values, sets and missing fields. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/query.h"

#include <string.h>

static int parses(const char *expr, const char *field, query_op op, const char *value)
{
    query_cond c;
    char err[256];
    if (query_cond_parse(&c, expr, err, sizeof err) != 0)
        return 0;
    int ok = strcmp(c.field, field) == 0 && c.op == op && strcmp(c.value, value) == 0;
    query_cond_free(&c);
    return ok;
}

static void test_parse(void **state)
{
    (void)state;
    assert_true(parses("name=陈诚", "name", Q_EQ, "陈诚"));
    assert_true(parses("name = 陈诚 ", "name", Q_EQ, "陈诚"));
    assert_true(parses("joined>=2024-01-01", "joined", Q_GE, "2024-01-01"));
    assert_true(parses("joined<2024-01-01", "joined", Q_LT, "2024-01-01"));
    assert_true(parses("status!=lapsed", "status", Q_NE, "lapsed"));
    assert_true(parses("benefits~heat", "benefits", Q_HAS, "heat"));
    assert_true(parses("gender=M", "gender", Q_EQ, "男"));          /* normalised */
    assert_true(parses("status=ACTIVE", "status", Q_EQ, "active")); /* normalised */
    assert_true(parses("phone~1380", "phone", Q_HAS, "1380"));      /* partial: as typed */
    assert_true(parses("id=01abc", "id", Q_EQ, "01abc"));
    assert_true(parses("name=", "name", Q_EQ, ""));
    assert_true(parses("notes==x", "notes", Q_EQ, "=x")); /* the value may start with = */
    query_cond c;
    char err[256];
    const char *bad[] = {"", "name", "=x", "Name=x", "9x=1", "a b=1", "name x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_equal(query_cond_parse(&c, bad[i], err, sizeof err), -1);
        assert_true(err[0] != 0);
    }
}

static void test_match(void **state)
{
    (void)state;
    record r;
    record_init(&r);
    assert_int_equal(record_write(&r, "a", 1000, "name", "陈诚"), 0);
    assert_int_equal(record_write(&r, "a", 1000, "joined", "2023-05-01"), 0);
    assert_int_equal(record_set_add(&r, "a", 1000, "benefits", "heat-relief-2021"), 0);
    assert_int_equal(record_set_add(&r, "a", 1000, "benefits", "welfare-2021"), 0);
    struct {
        const char *expr;
        int want;
    } cases[] = {
        {"name=陈诚", 1},
        {"name~陈", 1},
        {"name!=陈诚", 0},
        {"joined>2023-01-31", 1},
        {"joined<=2023-05-01", 1},
        {"joined>2023-05-01", 0},
        {"benefits=welfare-2021", 1},
        {"benefits~HEAT", 1},
        {"benefits!=welfare-2021", 0},
        {"benefits=legal-aid", 0},
        {"union=", 1},
        {"union!=x", 1},
        {"id=rec1", 1},
        {"id~rec", 1},
        {"id=rec2", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        query_cond c;
        char err[256];
        assert_int_equal(query_cond_parse(&c, cases[i].expr, err, sizeof err), 0);
        if (query_match(&c, 1, "rec1", &r) != cases[i].want)
            fail_msg("%s should %smatch", cases[i].expr, cases[i].want ? "" : "not ");
        query_cond_free(&c);
    }
    /* several conditions are ANDed */
    query_cond two[2];
    char err[256];
    assert_int_equal(query_cond_parse(&two[0], "name~陈", err, sizeof err), 0);
    assert_int_equal(query_cond_parse(&two[1], "joined<2020-01-01", err, sizeof err), 0);
    assert_int_equal(query_match(two, 1, "rec1", &r), 1);
    assert_int_equal(query_match(two, 2, "rec1", &r), 0);
    query_cond_free(&two[0]);
    query_cond_free(&two[1]);
    record_free(&r);
}

/* Issue 9: a condition means what the same words mean in an import. */
static void test_input_rules(void **state)
{
    (void)state;
    assert_true(parses("joined>=2021/1/1", "joined", Q_GE, "2021-01-01"));
    assert_true(parses("joined<2021年8月1日", "joined", Q_LT, "2021-08-01"));
    assert_true(parses("入会日期>=20210101", "joined", Q_GE, "2021-01-01"));
    assert_true(parses("category=快递小哥", "category", Q_EQ, "快递员"));
    assert_true(parses("职业=骑手", "category", Q_EQ, "外卖配送员"));
    assert_true(parses("status=在会", "status", Q_EQ, "active"));
    assert_true(parses("phone=+86 138-1234-5678", "phone", Q_EQ, "13812345678"));
    assert_true(parses("phone=１３８１２３４５６７８", "phone", Q_EQ, "13812345678"));
    assert_true(parses("id_number=330203900101123", "id_number", Q_EQ, "330203199001011236"));
    assert_true(parses("name~　陈 ", "name", Q_HAS, "陈"));
    assert_true(parses("category=", "category", Q_EQ, ""));

    query_cond c;
    char err[256];
    assert_int_equal(query_cond_parse(&c, "catgory=快递员", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown field 'catgory' (did you mean 'category'?)"));
    assert_int_equal(query_cond_parse(&c, "nmae=x", err, sizeof err), -1);
    assert_non_null(strstr(err, "did you mean 'name'?"));
    assert_int_equal(query_cond_parse(&c, "joined>=2021", err, sizeof err), -1);
    assert_non_null(strstr(err, "joined: must be a date"));
    assert_int_equal(query_cond_parse(&c, "category=快递", err, sizeof err), -1);
    assert_non_null(strstr(err, "did you mean '快递员'?"));
    assert_int_equal(query_cond_parse(&c, "phone=138", err, sizeof err), -1);

    /* dates compare as dates whatever style the condition was written in */
    record r;
    record_init(&r);
    assert_int_equal(record_write(&r, "a", 1000, "joined", "2021-03-05"), 0);
    assert_int_equal(record_write(&r, "a", 1000, "category", "快递员"), 0);
    const char *yes[] = {"joined>=2021/1/1", "joined<2021/10/1", "category=快递小哥",
                         "joined=2021年3月5日"};
    const char *no[] = {"joined>=2021/3/6", "category=骑手"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        assert_int_equal(query_cond_parse(&c, yes[i], err, sizeof err), 0);
        if (!query_match(&c, 1, "rec1", &r))
            fail_msg("%s should match", yes[i]);
        query_cond_free(&c);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        assert_int_equal(query_cond_parse(&c, no[i], err, sizeof err), 0);
        if (query_match(&c, 1, "rec1", &r))
            fail_msg("%s should not match", no[i]);
        query_cond_free(&c);
    }
    record_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_input_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
