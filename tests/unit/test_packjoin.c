/* test_packjoin.c - which packs a running join rewrites
 * (store_packjoin_pick, daemon/store/packjoin.c): the packs stored without
 * deflate always, then the small ones smallest first while each is at most
 * twice the bytes picked before it, so an earlier joined pack is rewritten
 * only once about as many new bytes came after it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/store/store_int.h"

/* 16 live changes' packs of ~11 KB and the pack an earlier join made:
 * 180 KB is at most twice the 176 KB of new packs, so it is joined with
 * them; a 400 KB one waits. */
static void test_new_packs_join_an_earlier_one_of_their_size(void **state)
{
    (void)state;
    uint64_t size[17];
    int stored[17] = {0}, pick[17];
    for (int i = 0; i < 16; i++)
        size[i] = 11000;
    size[16] = 180000;
    assert_int_equal(store_packjoin_pick(pick, size, stored, 17), 17);
    size[16] = 400000;
    assert_int_equal(store_packjoin_pick(pick, size, stored, 17), 16);
    assert_int_equal(pick[16], 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(pick[i], 1);
}

/* A pack stored without deflate is always rewritten, whatever its size,
 * and its bytes count for the ones after it. */
static void test_stored_always(void **state)
{
    (void)state;
    uint64_t size[3] = {5000000, 900000, 100};
    int stored[3] = {1, 0, 0}, pick[3];
    assert_int_equal(store_packjoin_pick(pick, size, stored, 3), 3);
    uint64_t size2[3] = {100, 900000, 1000};
    int stored2[3] = {0, 0, 1};
    assert_int_equal(store_packjoin_pick(pick, size2, stored2, 3), 2);
    assert_int_equal(pick[0], 1);
    assert_int_equal(pick[1], 0);
    assert_int_equal(pick[2], 1);
}

/* Joins in a row: each adds 16 packs of 11 KB and joins what the pick
 * says; the bytes rewritten over 64 joins stay within a small multiple of
 * the bytes that came (geometric), and the packs left stay few. Before the
 * pick every join rewrote all packs up to 1 MiB. */
static void test_rewrites_stay_geometric(void **state)
{
    (void)state;
    uint64_t size[64];
    int stored[64] = {0}, pick[64];
    size_t n = 0;
    uint64_t rewritten = 0, came = 0;
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < 16; i++) {
            size[n++] = 11000;
            came += 11000;
        }
        store_packjoin_pick(pick, size, stored, n);
        uint64_t joined = 0;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (pick[i])
                joined += size[i];
            else
                size[m++] = size[i];
        size[m++] = joined;
        n = m;
        rewritten += joined;
        assert_true(n <= 16);
    }
    assert_true(rewritten <= 8 * came);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_packs_join_an_earlier_one_of_their_size),
        cmocka_unit_test(test_stored_always),
        cmocka_unit_test(test_rewrites_stay_geometric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
