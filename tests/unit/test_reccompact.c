/* test_reccompact.c - the compact form of the record index
 * (daemon/store/reccompact.h) gives back exactly the record put: random
 * records with several entries per field, set elements, conflicts, big
 * counters, negative and odd times, values short and long, repeated
 * (dictionary) and not (inline, also past a field's dictionary cap),
 * decode to the same state and the same record_encode bytes; the winner
 * read from the bytes is record_field_winner's; records replaced many
 * times (a repack of the arena) still read back the same. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/store/recindex.h"
#include "proto/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *fields[] = {"address", "category", "id_number", "joined",
                               "name",    "office",   "skills",    "status"};
static const char *nodes[] = {"a", "hz01-n2", "nb01-n1", "zz"};

static uint64_t rnd64(void)
{
    return ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
}

/* A value: mostly from a few (dictionary), else unique or long (inline). */
static char *random_value(void)
{
    char buf[400];
    int pick = rand() % 10;
    if (pick < 5) {
        static const char *few[] = {"nb01", "快递员", "active", "", "void", "2024-01-02"};
        snprintf(buf, sizeof buf, "%s", few[rand() % 6]);
    } else if (pick < 8) {
        snprintf(buf, sizeof buf, "v%llu", (unsigned long long)rnd64());
    } else {
        size_t n = 49 + (size_t)rand() % 300;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(1 + rand() % 255); /* any byte but NUL */
        buf[n] = 0;
    }
    char *v = strdup(buf);
    assert_non_null(v);
    return v;
}

static int64_t random_time(void)
{
    switch (rand() % 5) {
    case 0: /* far before the epoch: the delta to the next entry is big */
        return -(1LL << 45) - rand() % 3;
    case 1:
        return (1LL << 45) + rand() % 3;
    case 2:
        return -(int64_t)(rnd64() >> 20);
    default:
        return 1795860000000LL + rand() % 5000;
    }
}

static int entry_cmp(const void *a, const void *b)
{
    const record_entry *x = a, *y = b;
    int c = strcmp(x->field, y->field);
    if (!c)
        c = strcmp(x->node, y->node);
    if (!c)
        c = (x->counter > y->counter) - (x->counter < y->counter);
    return c;
}

/* A random state built by hand (canonical order; counters any size). */
static void random_record(record *r)
{
    record_init(r);
    size_t ne = (size_t)rand() % 20;
    if (ne) {
        r->entries = calloc(ne, sizeof *r->entries);
        assert_non_null(r->entries);
    }
    for (size_t i = 0; i < ne; i++) {
        const char *f = fields[rand() % 8], *n = nodes[rand() % 4];
        r->entries[i].field = record_intern(f, strlen(f));
        r->entries[i].node = record_intern(n, strlen(n));
        r->entries[i].counter = rand() % 4 ? (uint64_t)(rand() % 50) : rnd64();
        r->entries[i].time_ms = random_time();
        r->entries[i].value = random_value();
    }
    r->nentries = ne;
    if (ne)
        qsort(r->entries, ne, sizeof *r->entries, entry_cmp);
    size_t nc = (size_t)rand() % 5;
    if (nc) {
        r->ctx = calloc(nc, sizeof *r->ctx);
        assert_non_null(r->ctx);
    }
    for (size_t i = 0; i < nc; i++) {
        r->ctx[i].node = record_intern(nodes[i], strlen(nodes[i]));
        r->ctx[i].counter = rand() % 3 ? (uint64_t)(rand() % 100) : UINT64_MAX - (uint64_t)i;
    }
    r->nctx = nc;
}

static void assert_same(const record *a, const record *b)
{
    char *ea, *eb;
    size_t la, lb;
    assert_true(record_equal(a, b));
    assert_int_equal(record_encode(&ea, &la, a), 0);
    assert_int_equal(record_encode(&eb, &lb, b), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    free(ea);
    free(eb);
    for (size_t f = 0; f < 8; f++) {
        const record_entry *wa = record_field_winner(a, fields[f]);
        const record_entry *wb = record_field_winner(b, fields[f]);
        assert_true((wa == NULL) == (wb == NULL));
        if (wa)
            assert_string_equal(wa->value, wb->value);
    }
}

#define NREC 3000

static void round_trip(void **state)
{
    (void)state;
    srand(13);
    recindex ix;
    recindex_init(&ix);
    record *want = calloc(NREC, sizeof *want);
    assert_non_null(want);
    recindex_view v = RECINDEX_VIEW_INIT;
    for (int round = 0; round < 3; round++) /* put, then replace twice */
        for (size_t i = 0; i < NREC; i++) {
            char id[32];
            snprintf(id, sizeof id, "r%05zu", i);
            record r;
            random_record(&r);
            record_free(&want[i]);
            assert_int_equal(record_copy(&want[i], &r), 0);
            assert_int_equal(recindex_put(&ix, id, &r), UERR_OK);
            /* the record just put, and an earlier one, read back whole */
            assert_same(recindex_view_get(&v, &ix, id), &want[i]);
            snprintf(id, sizeof id, "r%05zu", i / 2);
            assert_same(recindex_view_get(&v, &ix, id), &want[i / 2]);
        }
    assert_int_equal(ix.count, NREC);
    for (size_t i = 0; i < NREC; i++) {
        char id[32];
        snprintf(id, sizeof id, "r%05zu", i);
        const recindex_item *it = recindex_find(&ix, id);
        assert_non_null(it);
        assert_string_equal(it->id, id);
        assert_same(recindex_view_item(&v, &ix, it), &want[i]);
        for (size_t f = 0; f < 8; f++) {
            const record_entry *w = record_field_winner(&want[i], fields[f]);
            assert_string_equal(recindex_item_shown(&ix, it, fields[f]), w ? w->value : "");
        }
        record c;
        assert_int_equal(recindex_get_copy(&c, &ix, id), 1);
        assert_same(&c, &want[i]);
        record_free(&c);
        record_free(&want[i]);
    }
    assert_false(recindex_has(&ix, "nope"));
    record c;
    assert_int_equal(recindex_get_copy(&c, &ix, "nope"), 0);
    free(want);
    recindex_view_free(&v);
    recindex_free(&ix);
}

/* Records replaced again and again: the dead bytes outgrow the live ones,
 * the arena is repacked, and every record still reads back. */
static void repack_keeps_records(void **state)
{
    (void)state;
    recindex ix;
    recindex_init(&ix);
    recindex_view v = RECINDEX_VIEW_INIT;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    size_t repacks = 0, last_used = 0;
    for (int round = 0; round < 40; round++)
        for (int i = 0; i < 300; i++) {
            char id[32], val[32];
            snprintf(id, sizeof id, "p%04d", i);
            snprintf(val, sizeof val, "%d-%d", round, i);
            record r;
            record_init(&r);
            assert_int_equal(record_write(&r, "n1", 1000 + round, "name", val), 0);
            assert_int_equal(record_write(&r, "n1", 1000 + round, "address", big), 0);
            size_t before = ix.cr.garbage;
            assert_int_equal(recindex_put(&ix, id, &r), UERR_OK);
            repacks += ix.cr.garbage < before;
            last_used = ix.cr.used;
        }
    assert_true(repacks > 0);
    assert_true(last_used < 8u << 20);
    for (int i = 0; i < 300; i++) {
        char id[32], val[32];
        snprintf(id, sizeof id, "p%04d", i);
        snprintf(val, sizeof val, "39-%d", i);
        const record *r = recindex_view_get(&v, &ix, id);
        assert_non_null(r);
        assert_string_equal(record_field_winner(r, "name")->value, val);
        assert_string_equal(record_field_winner(r, "address")->value, big);
    }
    recindex_view_free(&v);
    recindex_free(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(repack_keeps_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
