/* test_import_feed.c - daemon/ctl/import_feed.c: an import's committed
 * records decoded on a second thread come out in order, each equal to its
 * own decode; a record that does not decode is reported in its place and
 * the rest still come; a lent record stays intact while the thread runs
 * ahead; freeing the feed before every record was
 * taken (the ring full, the thread waiting) stops it without a leak
 * (ASan). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/ctl/import_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 3000 };

static char *bufs[N];
static size_t lens[N];

static void make_records(void)
{
    for (size_t i = 0; i < N; i++) {
        record r;
        char v[32];
        record_init(&r);
        snprintf(v, sizeof v, "member %zu", i);
        assert_int_equal(record_write(&r, "node-a", 1700000000000 + (int64_t)i, "name", v), 0);
        assert_int_equal(record_encode(&bufs[i], &lens[i], &r), 0);
        record_free(&r);
    }
}

static void free_records(void)
{
    for (size_t i = 0; i < N; i++)
        free(bufs[i]);
}

static void in_order_and_equal(void **state)
{
    (void)state;
    make_records();
    /* record 7 does not decode: reported in its place */
    char *keep = bufs[7];
    size_t keeplen = lens[7];
    bufs[7] = "not a record";
    lens[7] = strlen(bufs[7]);
    import_feed *f = import_feed_start(NULL, bufs, lens, N);
    assert_non_null(f);
    for (size_t i = 0; i < N; i++) {
        const record *got = NULL;
        record want;
        char why[128] = "", werr[128];
        int rc = import_feed_next(f, &got, why, sizeof why);
        assert_non_null(got);
        if (i == 7) {
            assert_int_equal(rc, -1);
            assert_true(why[0] != 0);
            assert_int_equal(got->nentries, 0);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(record_decode(&want, bufs[i], lens[i], werr, sizeof werr), 0);
        /* the record_decode above gave the thread time to refill every
         * other slot: the lent record is untouched (ASan would see a
         * free of it) */
        assert_true(record_equal(got, &want));
        record_free(&want);
    }
    import_feed_free(f);
    bufs[7] = keep;
    lens[7] = keeplen;
    free_records();
}

static void freed_early(void **state)
{
    (void)state;
    make_records();
    import_feed *f = import_feed_start(NULL, bufs, lens, N);
    assert_non_null(f);
    const record *r = NULL;
    char why[128];
    assert_int_equal(import_feed_next(f, &r, why, sizeof why), 0);
    assert_int_equal(r->nentries, 1);
    import_feed_free(f); /* the thread is ahead, or waiting for room */
    import_feed_free(NULL);
    free_records();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_and_equal),
        cmocka_unit_test(freed_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
