/* test_persons.c - the persons table (daemon/ctl/persons.c: key hash ->
 * row) answers as a brute-force search of the index does: random records
 * sharing ID numbers and name + phone pairs (several records per key, as
 * duplicates are), replaced (keys moved), merged away, removed from the
 * table and put back; after every step persons_find gives the smallest
 * live id holding the key, or none, for every key ever used. Enough rows
 * that the table grows and removals shift runs back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/ctl/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREC 3000
#define NIDN 700 /* distinct ID numbers: about four records each */

static void make(record *r, int idn, int phone, int merged)
{
    char v[32];
    record_init(r);
    snprintf(v, sizeof v, "33010219900101%04d", idn);
    if (idn >= 0)
        assert_int_equal(record_write(r, "n", 1000, "id_number", v), 0);
    snprintf(v, sizeof v, "name%d", phone % 50);
    assert_int_equal(record_write(r, "n", 1000, "name", v), 0);
    snprintf(v, sizeof v, "138%08d", phone);
    assert_int_equal(record_write(r, "n", 1000, "phone", v), 0);
    if (merged)
        assert_int_equal(record_write(r, "n", 1000, "merged_into", "x"), 0);
}

/* The smallest live id holding key, by a scan of the index. */
static const char *brute(const ops_ctx *o, const char *key)
{
    const char *best = NULL;
    for (uint32_t row = 0; row < o->ix.count; row++) {
        const recindex_item *it = recindex_row(&o->ix, row);
        char k1[PERSON_KEY_MAX], k2[PERSON_KEY_MAX];
        persons_key_id(k1, recindex_item_shown(&o->ix, it, "id_number"));
        persons_key_np(k2, recindex_item_shown(&o->ix, it, "name"),
                       recindex_item_shown(&o->ix, it, "phone"));
        if ((strcmp(k1, key) == 0 || strcmp(k2, key) == 0) &&
            !*recindex_item_shown(&o->ix, it, "merged_into") && (!best || strcmp(it->id, best) < 0))
            best = it->id;
    }
    return best;
}

static void check_all(const ops_ctx *o)
{
    char key[PERSON_KEY_MAX], v[32];
    for (int i = 0; i < NIDN; i += 7) {
        snprintf(v, sizeof v, "33010219900101%04d", i);
        persons_key_id(key, v);
        const char *a = persons_find(o, key, NULL), *b = brute(o, key);
        assert_true((a == NULL) == (b == NULL));
        if (a)
            assert_string_equal(a, b);
    }
    for (int p = 0; p < 2 * NIDN; p += 11) {
        char name[32], phone[32];
        snprintf(name, sizeof name, "name%d", p % 50);
        snprintf(phone, sizeof phone, "138%08d", p);
        persons_key_np(key, name, phone);
        const char *a = persons_find(o, key, NULL), *b = brute(o, key);
        assert_true((a == NULL) == (b == NULL));
        if (a)
            assert_string_equal(a, b);
    }
}

/* Put record r as id the way ops_index_changed does. */
static void put(ops_ctx *o, const char *id, record *r)
{
    persons_remove(o, id);
    assert_int_equal(recindex_put(&o->ix, id, r), UERR_OK);
    assert_int_equal(persons_add(o, id), UERR_OK);
}

static void find_equals_scan(void **state)
{
    (void)state;
    ops_ctx o;
    memset(&o, 0, sizeof o);
    recindex_init(&o.ix);
    srand(7);
    for (int i = 0; i < NREC; i++) {
        char id[32];
        record r;
        snprintf(id, sizeof id, "p%05d", i);
        make(&r, rand() % 8 ? rand() % NIDN : -1, rand() % (2 * NIDN), rand() % 10 == 0);
        put(&o, id, &r);
        if (i % 500 == 0)
            check_all(&o);
    }
    check_all(&o);
    /* replaced: keys move, some become merged, some lose their ID number */
    for (int i = 0; i < NREC; i += 3) {
        char id[32];
        record r;
        snprintf(id, sizeof id, "p%05d", i);
        make(&r, rand() % 3 ? rand() % NIDN : -1, rand() % (2 * NIDN), rand() % 5 == 0);
        put(&o, id, &r);
    }
    check_all(&o);
    /* noting a record twice changes nothing; skip leaves one id out */
    assert_int_equal(persons_add(&o, "p00001"), UERR_OK);
    check_all(&o);
    char key[PERSON_KEY_MAX];
    const recindex_item *it = recindex_find(&o.ix, "p00002");
    persons_key_np(key, recindex_item_shown(&o.ix, it, "name"),
                   recindex_item_shown(&o.ix, it, "phone"));
    const char *other = persons_find(&o, key, "p00002");
    assert_true(other == NULL || strcmp(other, "p00002") != 0);
    assert_null(persons_find(&o, "", NULL));
    persons_free(&o);
    assert_null(o.persons);
    recindex_free(&o.ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(find_equals_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
