/* test_recindex_tally.c - counts and stats from the record index's
 * per-value counts and tallies give exactly the scan's answers: on random
 * records of two kinds, with conflicts (two nodes writing an indexed field:
 * the record counts under the displayed value, the winner, as the scan
 * counts it), void and merged statuses, records replaced (a value moved, a
 * kind changed, a member made void: the index's "removal"), the list
 * --count and stats replies of a node with the indexes and tallies are
 * byte for byte those of a node without any (which scans every record). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/optable.h"
#include "daemon/ctl/scan.h"
#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795860000000LL
#define NREC 4000

static const char *offices[] = {"nb01", "nb02", "hz01", ""};
static const char *cats[] = {"快递员", "外卖骑手", "网约车司机", ""};
static const char *statuses[] = {"active", "active", "active", "lapsed", "void", "merged", ""};

#define PICK(a) (a[(size_t)rand() % (sizeof a / sizeof *a)])

static void random_record(record *r)
{
    const char *f[] = {"office", "category", "status"};
    record_init(r);
    int64_t t = T0 + rand() % 100;
    for (size_t i = 0; i < 3; i++) {
        const char *v = i == 0 ? PICK(offices) : i == 1 ? PICK(cats) : PICK(statuses);
        if (*v)
            assert_int_equal(record_write(r, "n1", t, f[i], v), 0);
        /* a conflict: a second node's concurrent value */
        v = i == 0 ? PICK(offices) : i == 1 ? PICK(cats) : PICK(statuses);
        if (rand() % 5 == 0 && *v)
            assert_int_equal(record_write(r, "n2", t + rand() % 3 - 1, f[i], v), 0);
    }
    if (rand() % 10) {
        char date[16];
        snprintf(date, sizeof date, "20%02d-%02d-%02d", 15 + rand() % 10, 1 + rand() % 12,
                 1 + rand() % 28);
        assert_int_equal(record_write(r, "n1", t, "joined", date), 0);
    }
    assert_int_equal(record_write(r, "n1", t, "name", "x"), 0);
}

/* One request {op, operator, where: [...], KEY: BOOL or by: [...]}; the
 * reply into out (caller destroys). */
static void request(msgpack_sbuffer *out, ops_ctx *o, const char *op, char *const *where, size_t nw,
                    const char *by0, const char *by1, const char *kind)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msg_map m;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msg_map_open(&m, &pk);
    msg_map_str(&m, "op", op);
    msg_map_str(&m, "operator", "tester");
    if (kind)
        msg_map_str(&m, "kind", kind);
    msg_map_key(&m, "where");
    msgpack_pack_array(&pk, nw);
    for (size_t i = 0; i < nw; i++)
        msg_pack_str(&pk, where[i]);
    if (strcmp(op, "list") == 0) {
        msg_map_bool(&m, "count", 1);
    } else {
        msg_map_key(&m, "by");
        msgpack_pack_array(&pk, (by0 != NULL) + (by1 != NULL));
        if (by0)
            msg_pack_str(&pk, by0);
        if (by1)
            msg_pack_str(&pk, by1);
    }
    msg_map_close(&m);
    msgpack_sbuffer_init(out);
    ctl_queue_handle(o, b.data, b.size, out);
    msgpack_sbuffer_destroy(&b);
}

static void random_where(char *w)
{
    static const char *ops[] = {"=", "=", "=", "!=", "<", ">="};
    const char *op = PICK(ops);
    switch (rand() % 5) {
    case 0:
        sprintf(w, "office%s%s", op, PICK(offices));
        break;
    case 1:
        sprintf(w, "category%s%s", op, PICK(cats));
        break;
    case 2:
        sprintf(w, "status%s%s", op, PICK(statuses));
        break;
    case 3:
        sprintf(w, "joined%s20%02d-%02d-01", op, 15 + rand() % 10, 1 + rand() % 12);
        break;
    default:
        sprintf(w, "name%s", rand() % 2 ? "~x" : "=x");
    }
    if (strchr(w, '=') == w + strlen(w) - 1 || w[strlen(w) - 1] == '<' || w[strlen(w) - 1] == '>')
        strcat(w, "nb01"); /* never an empty value: the parser refuses some */
}

/* Both nodes answer the same request with the same bytes; and the reply
 * is an answer, not an error. */
static void same_reply(ops_ctx *fast, ops_ctx *slow, const char *op, char *const *where, size_t nw,
                       const char *by0, const char *by1, const char *kind, size_t *okays)
{
    msgpack_sbuffer a, b;
    request(&a, fast, op, where, nw, by0, by1, kind);
    request(&b, slow, op, where, nw, by0, by1, kind);
    if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0) {
        fprintf(stderr, "%s by %s,%s where", op, by0 ? by0 : "-", by1 ? by1 : "-");
        for (size_t i = 0; i < nw; i++)
            fprintf(stderr, " %s", where[i]);
        fprintf(stderr, "\n");
        fail_msg("the index's reply differs from the scan's");
    }
    *okays += memmem(a.data, a.size, "\xa2ok\xc3", 4) != NULL;
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}

static void test_tally_equals_scan(void **state)
{
    (void)state;
    srand(42);
    ops_ctx fast, slow;
    memset(&fast, 0, sizeof fast);
    memset(&slow, 0, sizeof slow);
    fast.node = slow.node = "n1";
    fast.office = slow.office = "nb01";
    recindex_init(&fast.ix);
    recindex_init(&slow.ix);
    char id[32];
    for (int i = 0; i < NREC; i++) {
        record r1, r2;
        random_record(&r1);
        assert_int_equal(record_copy(&r2, &r1), 0);
        snprintf(id, sizeof id, "r%05d", i);
        record_kind k = i % 9 ? KIND_MEMBER : KIND_UNION;
        assert_int_equal(recindex_put_kind(&fast.ix, k, id, &r1), UERR_OK);
        assert_int_equal(recindex_put_kind(&slow.ix, k, id, &r2), UERR_OK);
        if (i == NREC / 2) { /* tallies built from records already there */
            for (size_t f = 0; f < scan_nindexed_fields; f++)
                assert_int_equal(recindex_index_field(&fast.ix, scan_indexed_fields[f]), UERR_OK);
            assert_int_equal(
                recindex_tally_fields(&fast.ix, scan_tallied_fields, scan_ntallied_fields),
                UERR_OK);
            assert_int_equal(
                recindex_tally_fields(&fast.ix, scan_tallied_fields, scan_ntallied_fields),
                UERR_OK); /* again: a no-op */
            assert_int_equal(recindex_tally_fields(&fast.ix, scan_tallied_fields, 2), UERR_INVALID);
        }
    }
    size_t okays = 0, requests = 0;
    for (int round = 0; round < 150; round++) {
        /* replacements: values move, conflicts come and go, a member is
         * voided or merged, a record changes kind */
        for (int k = 0; k < 30; k++) {
            record r1, r2;
            random_record(&r1);
            assert_int_equal(record_copy(&r2, &r1), 0);
            snprintf(id, sizeof id, "r%05d", rand() % NREC);
            if (rand() % 4) {
                assert_int_equal(recindex_put(&fast.ix, id, &r1), UERR_OK);
                assert_int_equal(recindex_put(&slow.ix, id, &r2), UERR_OK);
            } else {
                record_kind kd = rand() % 2 ? KIND_MEMBER : KIND_UNION;
                assert_int_equal(recindex_put_kind(&fast.ix, kd, id, &r1), UERR_OK);
                assert_int_equal(recindex_put_kind(&slow.ix, kd, id, &r2), UERR_OK);
            }
        }
        char wbuf[3][64], *where[3] = {wbuf[0], wbuf[1], wbuf[2]};
        size_t nw = (size_t)rand() % 4;
        for (size_t k = 0; k < nw; k++)
            random_where(wbuf[k]);
        const char *kind = rand() % 4 ? NULL : "union";
        static const char *bys[] = {"office", "category", "status", "joined", NULL};
        const char *by0 = PICK(bys), *by1 = PICK(bys);
        if (by0 && by1 && strcmp(by0, by1) == 0)
            by1 = NULL;
        same_reply(&fast, &slow, "list", where, nw, NULL, NULL, kind, &okays);
        same_reply(&fast, &slow, "stats", where, nw, by0, by1, kind, &okays);
        same_reply(&fast, &slow, "stats", where, nw, "office", "category", NULL, &okays);
        requests += 3;
    }
    assert_true(okays > requests / 2); /* most were answers, not refusals */
    /* every tally is the number of its records */
    size_t sum = 0;
    for (const recindex_tally *t = fast.ix.tallies; t; t = t->hh.next)
        sum += t->n;
    assert_int_equal(sum, fast.ix.count);
    recindex_free(&fast.ix);
    recindex_free(&slow.ix);
}

/* The counts alone, through scan_count_indexed: it answers (never falls
 * back to a scan) for conjunctions of tallied fields and single conditions
 * on any indexed field. */
static void test_count_answers(void **state)
{
    (void)state;
    srand(7);
    recindex ix;
    recindex_init(&ix);
    for (size_t f = 0; f < scan_nindexed_fields; f++)
        assert_int_equal(recindex_index_field(&ix, scan_indexed_fields[f]), UERR_OK);
    assert_int_equal(recindex_tally_fields(&ix, scan_tallied_fields, scan_ntallied_fields),
                     UERR_OK);
    char id[32];
    for (int i = 0; i < 2000; i++) {
        record r;
        random_record(&r);
        snprintf(id, sizeof id, "r%05d", i % 1500); /* the last 500 replace */
        assert_int_equal(recindex_put(&ix, id, &r), UERR_OK);
    }
    query_cond c[2];
    size_t n;
    assert_int_equal(query_cond_parse(&c[0], "office=nb01", NULL, 0), 0);
    assert_int_equal(query_cond_parse(&c[1], "status!=lapsed", NULL, 0), 0);
    assert_int_equal(scan_count_indexed(&n, &ix, KIND_MEMBER, c, 2, 0), 1);
    assert_int_equal(scan_count_indexed(&n, &ix, KIND_MEMBER, c, 0, 0), 1);
    assert_int_equal(
        n,
        ix.by_kind[KIND_MEMBER] -
            recindex_value_find(recindex_field_find(&ix, "status"), "void")->by_kind[KIND_MEMBER]);
    query_cond_free(&c[1]);
    assert_int_equal(query_cond_parse(&c[1], "joined>=2020-01-01", NULL, 0), 0);
    assert_int_equal(scan_count_indexed(&n, &ix, KIND_MEMBER, &c[1], 1, 0), 1);
    assert_int_equal(scan_count_indexed(&n, &ix, KIND_MEMBER, c, 2, 0), 0); /* joined: a scan */
    query_cond_free(&c[0]);
    query_cond_free(&c[1]);
    recindex_free(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tally_equals_scan),
        cmocka_unit_test(test_count_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
