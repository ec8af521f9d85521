/* test_recindex_tags.c - the id table's hash tags (recindex.h, round 10):
 * a probe compares the stored low 32 bits of an id's hash before the id,
 * and a growth places each id from its tag alone. What must hold: every
 * id put is found (also ids whose tags are equal: the id bytes decide),
 * no id that was not put is found, each slot is reachable from its home
 * without crossing a free slot (the invariant a lookup relies on), each
 * tag is its id's hash, and rows[] names each record's slot, through
 * growths and after recindex_reserve. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/store/recindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIDS 300000 /* enough for a few pairs of equal 32-bit tags */

static void id_of(char out[24], const char *prefix, size_t i)
{
    snprintf(out, 24, "%s%07zx", prefix, i * 2654435761u % 0xfffffffu);
}

typedef struct {
    uint32_t tag;
    uint32_t i;
} tag_of;

static int tag_cmp(const void *a, const void *b)
{
    const tag_of *x = a, *y = b;
    return x->tag < y->tag ? -1 : x->tag > y->tag ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* The table's invariants, walked whole. */
static void check_table(const recindex *ix)
{
    size_t mask = ix->cap - 1, n = 0;
    for (size_t i = 0; i < ix->cap; i++) {
        if (!ix->slots[i].id)
            continue;
        n++;
        uint64_t h = recindex_id_hash(ix->slots[i].id);
        assert_int_equal(ix->tags[i], (uint32_t)h);
        for (size_t j = (size_t)h & mask; j != i; j = (j + 1) & mask)
            assert_non_null(ix->slots[j].id); /* no hole between home and slot */
        assert_int_equal(ix->rows[ix->slots[i].row], i);
    }
    assert_int_equal(n, ix->count);
}

static void put_all(recindex *ix, char (*ids)[24], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        record r;
        record_init(&r);
        assert_int_equal(record_write(&r, "n1", 1700000000000, "name", "x"), 0);
        assert_int_equal(recindex_put_kind(ix, KIND_MEMBER, ids[i], &r), UERR_OK);
    }
}

static void lookups(const recindex *ix, char (*ids)[24], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const recindex_item *it = recindex_find(ix, ids[i]);
        assert_non_null(it);
        assert_string_equal(it->id, ids[i]);
        assert_int_equal(recindex_kind(ix, ids[i]), KIND_MEMBER);
    }
    char other[24];
    for (size_t i = 0; i < n; i += 7) {
        id_of(other, "q", i);
        assert_null(recindex_find(ix, other));
        assert_int_equal(recindex_kind(ix, other), KIND_NONE);
    }
}

/* ids with equal tags are told apart by their bytes, through growths */
static void equal_tags_found(void **state)
{
    (void)state;
    char(*ids)[24] = malloc(NIDS * sizeof *ids);
    tag_of *t = malloc(NIDS * sizeof *t);
    assert_non_null(ids);
    assert_non_null(t);
    for (size_t i = 0; i < NIDS; i++) {
        id_of(ids[i], "m", i);
        t[i] = (tag_of){(uint32_t)recindex_id_hash(ids[i]), (uint32_t)i};
    }
    qsort(t, NIDS, sizeof *t, tag_cmp);
    size_t pairs = 0;
    for (size_t i = 1; i < NIDS; i++)
        pairs += t[i].tag == t[i - 1].tag;
    assert_true(pairs > 0); /* the case this test is for is there */
    recindex ix;
    recindex_init(&ix);
    put_all(&ix, ids, NIDS);
    check_table(&ix);
    lookups(&ix, ids, NIDS);
    /* the pairs: each finds itself, not its twin */
    for (size_t i = 1; i < NIDS; i++)
        if (t[i].tag == t[i - 1].tag) {
            const recindex_item *a = recindex_find(&ix, ids[t[i].i]);
            const recindex_item *b = recindex_find(&ix, ids[t[i - 1].i]);
            assert_true(a && b && a != b);
            assert_string_equal(a->id, ids[t[i].i]);
            assert_string_equal(b->id, ids[t[i - 1].i]);
        }
    /* a put of an id already there replaces it: the count stays */
    put_all(&ix, ids, 1000);
    assert_int_equal(ix.count, NIDS);
    check_table(&ix);
    recindex_free(&ix);
    free(t);
    free(ids);
}

/* room reserved first (an import's feed): the same lookups, no growth */
static void reserved_then_put(void **state)
{
    (void)state;
    size_t n = 50000;
    char(*ids)[24] = malloc(n * sizeof *ids);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++)
        id_of(ids[i], "r", i);
    recindex ix;
    recindex_init(&ix);
    put_all(&ix, ids, 100); /* a table already in use */
    assert_int_equal(recindex_reserve(&ix, n), UERR_OK);
    size_t cap = ix.cap;
    put_all(&ix, ids + 100, n - 100);
    assert_int_equal(ix.cap, cap);
    check_table(&ix);
    lookups(&ix, ids, n);
    recindex_free(&ix);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equal_tags_found),
        cmocka_unit_test(reserved_then_put),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
