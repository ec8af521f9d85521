/* test_report.c - unit tests for daemon/ctl/op_members.c's pure parts: the name
 * similarity used by `duplicates`, and the merge fold used by `merge`
 * (what is taken, what becomes a conflict, benefits united) with the
 * replication properties a merge must keep: the folded KEEP dominates the
 * old KEEP (a replica that has not seen the merge cannot undo it), two nodes
 * folding the same pair concurrently converge to the same shown values and
 * conflicts, and a concurrent edit of KEEP elsewhere is not lost. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/optable.h"
#include "proto/msg.h"

/* 2026-11-28T10:00:00.000Z */
#define T0 1795860000000LL
#define LISTLEN 256

static void names_similar(void **state)
{
    (void)state;
    assert_true(members_names_similar("陈诚", "陈诚"));
    assert_true(members_names_similar("赵敏", "赵敏敏"));   /* contains */
    assert_true(members_names_similar("王秀英", "秀英"));   /* contains */
    assert_true(members_names_similar("孙丽", "孙莉"));     /* one substitution */
    assert_true(members_names_similar("李建国", "李国"));   /* one deletion */
    assert_true(members_names_similar("李国", "李建国"));   /* one insertion */
    assert_true(members_names_similar("张晓东", "张小东")); /* 3 chars, 1 apart */
    assert_true(members_names_similar("Li Na", "Li Ma"));
    assert_false(members_names_similar("周杰", "吴芳"));
    assert_false(members_names_similar("张晓东", "张小冬")); /* two apart */
    assert_false(members_names_similar("王伟", "李伟强"));
    assert_false(members_names_similar("李建国", "李国强")); /* not contained, 2 apart */
    assert_false(members_names_similar("", "王"));
    /* a byte-level edit distance would call these one apart: the code
     * points 陈 (e9 99 88) and 阵 (e9 98 b5) differ in two bytes */
    assert_true(members_names_similar("陈一", "阵一"));
    assert_false(members_names_similar("陈一二", "阵一三"));
}

/* Distinct values of a single-valued field, sorted, as "a|b|c". */
static void values_of(char *out, size_t len, const record *r, const char *field)
{
    size_t first, n = record_field_entries(r, field, &first);
    const char *v[64];
    size_t k = 0;
    for (size_t i = first; i < first + n && k < 64; i++) {
        size_t pos = 0;
        while (pos < k && strcmp(v[pos], r->entries[i].value) < 0)
            pos++;
        if (pos < k && strcmp(v[pos], r->entries[i].value) == 0)
            continue;
        memmove(&v[pos + 1], &v[pos], (k - pos) * sizeof *v);
        v[pos] = r->entries[i].value;
        k++;
    }
    out[0] = 0;
    for (size_t i = 0; i < k; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "|" : "", v[i]);
}

static void assert_values(const record *r, const char *field, const char *want)
{
    char got[512];
    values_of(got, sizeof got, r, field);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got '%s', want '%s'", field, got, want);
}

/* KEEP and DUP, both written by the same node: their dots collide
 * ((yinzhou-01, 1) names a different write in each), which is what makes
 * copying DUP's context into KEEP wrong. */
static void make_pair(record *k, record *d)
{
    record_init(k);
    record_init(d);
    assert_int_equal(record_write(k, "yinzhou-01", T0, "name", "陈诚"), 0);
    assert_int_equal(record_write(k, "yinzhou-01", T0, "category", "快递员"), 0);
    assert_int_equal(record_write(k, "yinzhou-01", T0, "employer", "顺丰速运"), 0);
    assert_int_equal(record_write(k, "yinzhou-01", T0, "notes", ""), 0); /* cleared */
    assert_int_equal(record_write(k, "yinzhou-01", T0, "status", "active"), 0);
    assert_int_equal(record_set_add(k, "yinzhou-01", T0, "benefits", "welfare-2021"), 0);
    assert_int_equal(record_write(d, "yinzhou-01", T0 + 5, "name", "陈成"), 0);
    assert_int_equal(record_write(d, "yinzhou-01", T0 + 5, "category", "外卖配送员"), 0);
    assert_int_equal(record_write(d, "yinzhou-01", T0 + 5, "employer", "顺丰速运"), 0);
    assert_int_equal(record_write(d, "yinzhou-01", T0 + 5, "union", "外卖骑手工会"), 0);
    assert_int_equal(record_write(d, "yinzhou-01", T0 + 5, "notes", "twice"), 0);
    assert_int_equal(record_write(d, "yinzhou-01", T0 + 5, "status", "active"), 0);
    assert_int_equal(record_set_add(d, "yinzhou-01", T0 + 5, "benefits", "heat-relief-2021"), 0);
    assert_int_equal(record_set_add(d, "yinzhou-01", T0 + 5, "benefits", "welfare-2021"), 0);
}

static void fold(record *out, const record *k, const record *d, const char *node, char *taken,
                 char *conflicts, char *added)
{
    taken[0] = conflicts[0] = added[0] = 0;
    assert_int_equal(record_copy(out, k), 0);
    assert_true(members_merge_fold(out, d, node, taken, conflicts, added, LISTLEN) > 0);
}

static void merge_fold_fields(void **state)
{
    (void)state;
    record k, d, m;
    char taken[LISTLEN], conflicts[LISTLEN], added[LISTLEN];
    make_pair(&k, &d);
    fold(&m, &k, &d, "haishu-01", taken, conflicts, added);
    assert_string_equal(taken, "notes union");
    assert_string_equal(conflicts, "category name"); /* differ: KEEP's kept */
    assert_string_equal(added, "benefits");
    assert_values(&m, "name", "陈诚");
    assert_values(&m, "category", "快递员");
    assert_values(&m, "employer", "顺丰速运"); /* equal: untouched */
    assert_values(&m, "union", "外卖骑手工会");
    assert_values(&m, "notes", "twice"); /* empty counts as lacking */
    assert_values(&m, "status", "active");
    assert_values(&m, "benefits", "heat-relief-2021|welfare-2021");
    /* KEEP's value stays although DUP's was written later: no conflict */
    assert_string_equal(record_field_winner(&m, "name")->value, "陈诚");
    assert_int_equal(ctl_conflict_count(&m), 0);
    /* the new entries (notes, union, one benefit) are this node's writes in
     * KEEP's own context */
    assert_int_equal(record_ctx_get(&m, "haishu-01"), record_ctx_get(&k, "haishu-01") + 3);
    assert_int_equal(record_ctx_get(&m, "yinzhou-01"), record_ctx_get(&k, "yinzhou-01"));
    /* folding again changes nothing */
    record again;
    assert_int_equal(record_copy(&again, &m), 0);
    taken[0] = conflicts[0] = added[0] = 0;
    assert_int_equal(members_merge_fold(&again, &d, "haishu-01", taken, conflicts, added, LISTLEN),
                     0);
    assert_true(record_equal(&again, &m));
    record_free(&again);
    record_free(&m);
    record_free(&k);
    record_free(&d);
}

static void merge_fold_dominates_old_keep(void **state)
{
    (void)state;
    record k, d, m, j;
    char taken[LISTLEN], conflicts[LISTLEN], added[LISTLEN];
    make_pair(&k, &d);
    fold(&m, &k, &d, "haishu-01", taken, conflicts, added);
    /* A replica that still holds the old KEEP meets the merged one: the
     * merge survives whole, in either order. */
    assert_int_equal(record_join(&j, &k, &m), 0);
    assert_true(record_equal(&j, &m));
    record_free(&j);
    assert_int_equal(record_join(&j, &m, &k), 0);
    assert_true(record_equal(&j, &m));
    record_free(&j);
    record_free(&m);
    record_free(&k);
    record_free(&d);
}

static void merge_fold_concurrent_converges(void **state)
{
    (void)state;
    record k, d, ma, mb, ab, ba;
    char taken[LISTLEN], conflicts[LISTLEN], added[LISTLEN];
    make_pair(&k, &d);
    fold(&ma, &k, &d, "yinzhou-02", taken, conflicts, added);
    fold(&mb, &k, &d, "haishu-01", taken, conflicts, added);
    assert_int_equal(record_join(&ab, &ma, &mb), 0);
    assert_int_equal(record_join(&ba, &mb, &ma), 0);
    assert_true(record_equal(&ab, &ba));
    /* the same values, conflicts and winners as one merge alone */
    static const char *const fields[] = {"name",  "category", "employer", "union",
                                         "notes", "status",   "benefits"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        char one[512], both[512];
        values_of(one, sizeof one, &ma, fields[i]);
        values_of(both, sizeof both, &ab, fields[i]);
        assert_string_equal(both, one);
        if (strcmp(fields[i], "benefits") != 0)
            assert_string_equal(record_field_winner(&ab, fields[i])->value,
                                record_field_winner(&ma, fields[i])->value);
    }
    /* a resolve on one side clears the conflict for both */
    record r, rj;
    assert_int_equal(record_copy(&r, &ab), 0);
    assert_int_equal(record_write(&r, "haishu-01", T0 + 100, "category", "快递员"), 0);
    assert_int_equal(record_join(&rj, &r, &ba), 0);
    assert_values(&rj, "category", "快递员");
    record_free(&rj);
    record_free(&r);
    record_free(&ab);
    record_free(&ba);
    record_free(&ma);
    record_free(&mb);
    record_free(&k);
    record_free(&d);
}

static void merge_fold_keeps_concurrent_edit(void **state)
{
    (void)state;
    record k, d, m, e, j;
    char taken[LISTLEN], conflicts[LISTLEN], added[LISTLEN];
    make_pair(&k, &d);
    fold(&m, &k, &d, "yinzhou-02", taken, conflicts, added);
    /* meanwhile another node edits KEEP's category and removes a benefit */
    assert_int_equal(record_copy(&e, &k), 0);
    assert_int_equal(record_write(&e, "xiangshan-lt3", T0 + 50, "category", "网约车司机"), 0);
    assert_int_equal(record_set_remove(&e, "xiangshan-lt3", T0 + 50, "benefits", "welfare-2021"),
                     1);
    assert_int_equal(record_join(&j, &m, &e), 0);
    /* the edit replaced KEEP's value (the merge brought no other) */
    assert_values(&j, "category", "网约车司机");
    /* the merge added only what KEEP lacked (heat-relief-2021, a fresh dot
     * the remover never saw: it stays); welfare-2021 was KEEP's own entry,
     * which the remover observed: the remove wins */
    assert_values(&j, "benefits", "heat-relief-2021");
    assert_values(&j, "union", "外卖骑手工会");
    record_free(&j);
    record_free(&e);
    record_free(&m);
    record_free(&k);
    record_free(&d);
}

static void merge_fold_dup_conflict_carried(void **state)
{
    (void)state;
    record k, d, d2, m;
    char taken[LISTLEN], conflicts[LISTLEN], added[LISTLEN];
    make_pair(&k, &d);
    /* DUP itself has a conflict on phone (two offices wrote it at once) */
    assert_int_equal(record_copy(&d2, &d), 0);
    record_free(&d);
    record a, b;
    assert_int_equal(record_copy(&a, &d2), 0);
    assert_int_equal(record_copy(&b, &d2), 0);
    assert_int_equal(record_write(&a, "yinzhou-01", T0 + 7, "phone", "13800000001"), 0);
    assert_int_equal(record_write(&b, "haishu-01", T0 + 8, "phone", "13900000002"), 0);
    assert_int_equal(record_join(&d, &a, &b), 0);
    fold(&m, &k, &d, "beilun-01", taken, conflicts, added);
    /* KEEP lacked a phone: DUP's displayed one is taken, alone (a merge
     * creates no conflict, not even one DUP had) */
    assert_values(&m, "phone", "13900000002");
    assert_non_null(strstr(taken, "phone"));
    /* merged_into is never carried over */
    record withinto;
    assert_int_equal(record_copy(&withinto, &d), 0);
    assert_int_equal(record_write(&withinto, "x", T0, "merged_into", "zzz"), 0);
    record m2;
    fold(&m2, &k, &withinto, "beilun-01", taken, conflicts, added);
    size_t first;
    assert_int_equal(record_field_entries(&m2, "merged_into", &first), 0);
    record_free(&m2);
    record_free(&withinto);
    record_free(&a);
    record_free(&b);
    record_free(&d2);
    record_free(&m);
    record_free(&k);
    record_free(&d);
}

/* ---- stats over an index large enough to be counted by several threads -- */

#define NREC 70000 /* > STATS_THREAD_MIN_SLOTS / 2: the slot table exceeds it */
static const char *const offices[] = {"yinzhou", "haishu", "beilun"};
static const char *const cats[] = {"快递员", "外卖配送员", "网约车司机", "货车司机"};
static const char *const statuses[] = {"active", "active", "lapsed", "applicant"};
static const char *const benefits[] = {"welfare-2021", "heat-relief-2021"};

static void stats_request(msgpack_sbuffer *out, ops_ctx *o, const char *by0, const char *by1,
                          const char *since)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, since ? 4 : 3);
    msg_pack_kv_str(&pk, "op", "stats");
    msg_pack_kv_str(&pk, "operator", "tester");
    msg_pack_str(&pk, "by");
    msgpack_pack_array(&pk, (by0 != NULL) + (by1 != NULL));
    if (by0)
        msg_pack_str(&pk, by0);
    if (by1)
        msg_pack_str(&pk, by1);
    if (since)
        msg_pack_kv_str(&pk, "since", since);
    msgpack_sbuffer_init(out);
    ctl_queue_handle(o, b.data, b.size, out);
    msgpack_sbuffer_destroy(&b);
}

static void stats_many_records(void **state)
{
    (void)state;
    ops_ctx o;
    memset(&o, 0, sizeof o);
    o.node = "yinzhou-01";
    o.office = "yinzhou";
    recindex_init(&o.ix);
    /* expected counts, computed here independently of report.c */
    size_t by_oc[3][4] = {{0}}, by_ben[3] = {0}, active = 0, since = 0;
    uint64_t x = 12345;
    for (size_t i = 0; i < NREC; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned oi = (unsigned)(x >> 33) % 3, ci = (unsigned)(x >> 40) % 4,
                 si = (unsigned)(x >> 20) % 4, bi = (unsigned)(x >> 50) % 4,
                 day = 1 + (unsigned)(x >> 10) % 28;
        char id[32], joined[16];
        snprintf(id, sizeof id, "r%zu", i);
        snprintf(joined, sizeof joined, "2024-02-%02u", day);
        record r;
        record_init(&r);
        assert_int_equal(record_write(&r, "n", T0, "office", offices[oi]), 0);
        if (ci < 3) /* a missing category groups as empty */
            assert_int_equal(record_write(&r, "n", T0, "category", cats[ci]), 0);
        assert_int_equal(record_write(&r, "n", T0, "status", statuses[si]), 0);
        assert_int_equal(record_write(&r, "n", T0, "joined", joined), 0);
        if (bi & 1)
            assert_int_equal(record_set_add(&r, "n", T0, "benefits", benefits[0]), 0);
        if (bi & 2)
            assert_int_equal(record_set_add(&r, "n", T0, "benefits", benefits[1]), 0);
        assert_int_equal(recindex_put(&o.ix, id, &r), 0);
        if (si > 1)
            continue;
        active++;
        since += day >= 15;
        by_oc[oi][ci < 3 ? ci : 3]++;
        by_ben[0] += bi == 0;
        by_ben[1] += (bi & 1) != 0;
        by_ben[2] += (bi & 2) != 0;
    }
    msgpack_sbuffer out;
    msgpack_unpacked u;

    stats_request(&out, &o, "office", "category", NULL);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, out.data, out.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *res = msg_get(&u.data, "result");
    assert_non_null(res);
    assert_int_equal(msg_get_int(res, "total", -1), (int64_t)active);
    const msgpack_object_array *g = msg_get_array(res, "groups");
    assert_non_null(g);
    assert_int_equal(g->size, 12);
    char prev[128] = "";
    for (uint32_t i = 0; i < g->size; i++) {
        char *off = msg_get_str(&g->ptr[i], "office"), *cat = msg_get_str(&g->ptr[i], "category");
        size_t oi = 0, ci = 3;
        while (oi < 3 && strcmp(offices[oi], off) != 0)
            oi++;
        for (size_t k = 0; k < 3; k++)
            if (strcmp(cats[k], cat) == 0)
                ci = k;
        assert_true(oi < 3);
        assert_true(ci < 3 || cat[0] == 0);
        assert_int_equal(msg_get_int(&g->ptr[i], "count", -1), (int64_t)by_oc[oi][ci]);
        /* sorted by office, then category ("" first) */
        char key[128];
        snprintf(key, sizeof key, "%s%c%s", off, 1, cat);
        assert_true(strcmp(prev, key) < 0);
        strcpy(prev, key);
        free(off);
        free(cat);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&out);

    stats_request(&out, &o, "benefits", NULL, "2024-02-15");
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, out.data, out.size, NULL), MSGPACK_UNPACK_SUCCESS);
    res = msg_get(&u.data, "result");
    assert_int_equal(msg_get_int(res, "total", -1), (int64_t)since);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&out);

    stats_request(&out, &o, "benefits", NULL, NULL);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, out.data, out.size, NULL), MSGPACK_UNPACK_SUCCESS);
    res = msg_get(&u.data, "result");
    g = msg_get_array(res, "groups");
    assert_int_equal(g->size, 3);
    static const char *const want[] = {"", "heat-relief-2021", "welfare-2021"};
    const size_t wantn[] = {by_ben[0], by_ben[2], by_ben[1]};
    for (uint32_t i = 0; i < 3; i++) {
        char *b = msg_get_str(&g->ptr[i], "benefits");
        assert_string_equal(b, want[i]);
        assert_int_equal(msg_get_int(&g->ptr[i], "count", -1), (int64_t)wantn[i]);
        free(b);
    }
    assert_int_equal(msg_get_int(res, "total", -1), (int64_t)active);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&out);
    recindex_free(&o.ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_similar),
        cmocka_unit_test(merge_fold_fields),
        cmocka_unit_test(merge_fold_dominates_old_keep),
        cmocka_unit_test(merge_fold_concurrent_converges),
        cmocka_unit_test(merge_fold_keeps_concurrent_edit),
        cmocka_unit_test(merge_fold_dup_conflict_carried),
        cmocka_unit_test(stats_many_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
