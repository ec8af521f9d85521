/* test_recindex_sec.c - the record index's secondary indexes: on random
 * records, random edits (values moving between entries, conflicts decided
 * by the winner) and random conditions, the rows they offer (filtered by
 * query_match) give exactly the matches of a scan of every slot, and the
 * indexes stay consistent through growth and replacement. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/ctl/scan.h"
#include "daemon/store/recindex.h"
#include "proto/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *offices[] = {"nb01", "nb02", "hz01", ""};
static const char *cats[] = {"快递员", "外卖骑手", "网约车司机", "货车司机", ""};
static const char *statuses[] = {"active", "lapsed", "void", "applicant", ""};

static const char *pick(const char *const *v, size_t n)
{
    return v[(size_t)rand() % n];
}

#define PICK(a) pick(a, sizeof a / sizeof *a)

static void random_date(char out[16])
{
    if (rand() % 10 == 0) {
        out[0] = 0; /* a record without the field */
        return;
    }
    snprintf(out, 16, "20%02d-%02d-%02d", 10 + rand() % 15, 1 + rand() % 12, 1 + rand() % 28);
}

/* A record with random values, some written twice by two nodes (the
 * winner decides the displayed value). */
static void random_record(record *r)
{
    char date[16];
    record_init(r);
    int64_t t = 1000 + rand() % 100;
    const char *f[] = {"office", "category", "status"};
    const char *const *vals[] = {offices, cats, statuses};
    size_t nv[] = {4, 5, 5};
    for (size_t i = 0; i < 3; i++) {
        const char *v = pick(vals[i], nv[i]);
        if (*v)
            assert_int_equal(record_write(r, "n1", t, f[i], v), 0);
        if (rand() % 5 == 0 && *(v = pick(vals[i], nv[i])))
            assert_int_equal(record_write(r, "n2", t + rand() % 3 - 1, f[i], v), 0);
    }
    random_date(date);
    if (*date)
        assert_int_equal(record_write(r, "n1", t, "joined", date), 0);
    assert_int_equal(record_write(r, "n1", t, "name", "x"), 0);
}

/* The record of it, decoded into a view of this test's (one thread). */
static const record *rec_of(const recindex *ix, const recindex_item *it)
{
    static recindex_view v;
    const record *r = recindex_view_item(&v, ix, it);
    assert_non_null(r);
    return r;
}

static size_t scan_count(const recindex *ix, const query_cond *c, size_t nc)
{
    size_t n = 0;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].id && query_match(c, nc, ix->slots[i].id, rec_of(ix, &ix->slots[i])))
            n++;
    return n;
}

/* What list --count counts, by a scan: records of kind matching c, and
 * not void unless keep_void. */
static size_t list_count_scan(const recindex *ix, record_kind kind, const query_cond *c, size_t nc,
                              int keep_void)
{
    size_t n = 0;
    for (size_t i = 0; i < ix->cap; i++) {
        const recindex_item *it = &ix->slots[i];
        if (it->id && it->kind == kind &&
            (keep_void || strcmp(query_display(rec_of(ix, it), it->id, "status"), "void") != 0) &&
            query_match(c, nc, it->id, rec_of(ix, it)))
            n++;
    }
    return n;
}

/* The count from the candidates, or the scan's when no index answers. */
static size_t index_count(const recindex *ix, const query_cond *c, size_t nc, int *used)
{
    uint32_t *rows;
    size_t nrows, n = 0;
    int rc = scan_candidates(&rows, &nrows, ix, c, nc);
    assert_true(rc >= 0);
    *used = rc;
    if (rc == 0)
        return scan_count(ix, c, nc);
    char *seen = calloc(ix->count + 1, 1);
    assert_non_null(seen);
    for (size_t k = 0; k < nrows; k++) {
        assert_true(rows[k] < ix->count);
        assert_int_equal(seen[rows[k]], 0); /* each row once */
        seen[rows[k]] = 1;
        const recindex_item *it = recindex_row(ix, rows[k]);
        assert_non_null(it->id);
        assert_int_equal(it->row, rows[k]);
        if (query_match(c, nc, it->id, rec_of(ix, it)))
            n++;
    }
    free(seen);
    free(rows);
    return n;
}

static void random_cond(query_cond *c)
{
    static const query_op ops[] = {Q_EQ, Q_EQ, Q_EQ, Q_LT, Q_LE, Q_GT, Q_GE, Q_NE};
    char date[16];
    switch (rand() % 4) {
    case 0:
        c->field = strdup("office");
        c->value = strdup(PICK(offices));
        break;
    case 1:
        c->field = strdup("category");
        c->value = strdup(PICK(cats));
        break;
    case 2:
        c->field = strdup("status");
        c->value = strdup(PICK(statuses));
        break;
    default:
        random_date(date);
        c->field = strdup("joined");
        c->value = strdup(date);
    }
    c->op = ops[rand() % 8];
    assert_non_null(c->field);
    assert_non_null(c->value);
}

static void test_indexed_equals_scan(void **state)
{
    (void)state;
    srand(13);
    recindex ix;
    recindex_init(&ix);
    /* one field indexed before the records come, the others after */
    assert_int_equal(recindex_index_field(&ix, "office"), UERR_OK);
    assert_int_equal(recindex_index_field(&ix, "id"), UERR_INVALID);
    char id[32];
    size_t used = 0, rounds = 0, exact = 0;
    for (int i = 0; i < 3000; i++) {
        record r;
        random_record(&r);
        snprintf(id, sizeof id, "r%05d", i);
        assert_int_equal(recindex_put_kind(&ix, i % 7 ? KIND_MEMBER : KIND_UNION, id, &r), UERR_OK);
        if (i == 1500)
            for (size_t f = 0; f < scan_nindexed_fields; f++)
                assert_int_equal(recindex_index_field(&ix, scan_indexed_fields[f]), UERR_OK);
    }
    assert_int_equal(ix.nfields, scan_nindexed_fields);
    for (int round = 0; round < 300; round++) {
        /* some records change (their values move between entries) */
        for (int k = 0; k < 20; k++) {
            record r;
            random_record(&r);
            snprintf(id, sizeof id, "r%05d", rand() % 3000);
            assert_int_equal(recindex_put(&ix, id, &r), UERR_OK);
        }
        query_cond c[3];
        size_t nc = 1 + (size_t)rand() % 3;
        for (size_t k = 0; k < nc; k++)
            random_cond(&c[k]);
        int u;
        assert_int_equal(index_count(&ix, c, nc, &u), scan_count(&ix, c, nc));
        used += (size_t)u;
        rounds++;
        /* list --count straight from the indexes, where they answer */
        for (int keep = 0; keep < 2; keep++) {
            size_t got;
            record_kind k = rand() % 2 ? KIND_MEMBER : KIND_UNION;
            int rc = scan_count_indexed(&got, &ix, k, c, nc, keep);
            assert_true(rc >= 0);
            assert_int_equal(rc, nc == 1);
            if (rc) {
                assert_int_equal(got, list_count_scan(&ix, k, c, nc, keep));
                exact++;
            }
        }
        for (size_t k = 0; k < nc; k++)
            query_cond_free(&c[k]);
    }
    assert_true(used > rounds / 4); /* the index did answer, often */
    assert_true(exact > rounds / 4);
    /* every record sits in exactly one entry of each field */
    for (size_t f = 0; f < ix.nfields; f++) {
        size_t total = 0;
        for (const recindex_value *v = ix.fields[f].values; v; v = v->hh.next) {
            for (size_t k = 0; k < v->n; k++) {
                const record_entry *w = record_field_winner(
                    rec_of(&ix, recindex_row(&ix, v->rows[k])), ix.fields[f].field);
                assert_string_equal(w ? w->value : "", v->value);
            }
            total += v->n;
        }
        assert_int_equal(total, ix.count);
    }
    recindex_free(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexed_equals_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
