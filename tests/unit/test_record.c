/* test_record.c - unit tests for proto/record.c: write / set add / set remove
 * semantics, the join on small hand-made histories, the exact canonical text
 * of known states, decode round trips and refusal of every non-canonical
 * variant, value escaping, time formatting, record ids, tree paths, the
 * conflict winner and the "sequential writes never conflict" rule.
 * Expected bytes, paths and ids were worked out by hand / independently of
 * record.c (FNV-1a and base32 in Python, epoch seconds with date(1)). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/record.h"

/* 2026-11-28T10:00:00.000Z (date -u -d 2026-11-28T10:00:00Z +%s) */
#define T0 1795860000000LL

static char *encode(const record *r, size_t *len)
{
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(record_encode(&out, &n, r), 0);
    assert_non_null(out);
    if (len)
        *len = n;
    return out;
}

static void assert_encodes_to(const record *r, const char *want)
{
    size_t n;
    char *got = encode(r, &n);
    if (n != strlen(want) || memcmp(got, want, n) != 0)
        fail_msg("encoding differs.\n--- got:\n%.*s--- want:\n%s", (int)n, got, want);
    free(got);
}

/* decode(encode(r)) == r and re-encoding gives the same bytes. */
static void assert_roundtrip(const record *r)
{
    size_t n;
    char *bytes = encode(r, &n);
    record d;
    char err[200] = "";
    if (record_decode(&d, bytes, n, err, sizeof err) != 0)
        fail_msg("decode of own encoding failed: %s\n%.*s", err, (int)n, bytes);
    assert_true(record_equal(&d, r));
    size_t n2;
    char *again = encode(&d, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(again, bytes, n);
    free(again);
    free(bytes);
    record_free(&d);
}

/* record_decode_trusted (bytes the process has just encoded) gives the
 * same state as record_decode; it skips only the re-encoding check: an
 * escape that needs not be there ("\\x41" for "A") is refused by
 * record_decode and read by the trusted one (which never sees such bytes:
 * it is for record_encode's output), while every other check stays. */
static void test_decode_trusted(void **state)
{
    (void)state;
    record r, d, t;
    char err[200] = "";
    record_init(&r);
    assert_int_equal(record_write(&r, "a", 1700000000000, "name", "Li\tWei\n"), 0);
    assert_int_equal(record_set_add(&r, "b", 1700000000001, "benefits", "x"), 0);
    assert_int_equal(record_write(&r, "a", 1700000000002, "phone", "13800000000"), 0);
    size_t n;
    char *bytes = encode(&r, &n);
    assert_int_equal(record_decode(&d, bytes, n, err, sizeof err), 0);
    assert_int_equal(record_decode_trusted(&t, bytes, n, err, sizeof err), 0);
    assert_true(record_equal(&d, &t));
    assert_true(record_equal(&r, &t));
    record_free(&d);
    record_free(&t);
    free(bytes);
    record_free(&r);
    static const char esc[] = "name: \\x41\n--\ncontext: a=1\nname a 1 2026-11-28T10:00:00.000Z\n";
    assert_int_equal(record_decode(&d, esc, sizeof esc - 1, err, sizeof err), -1);
    assert_int_equal(record_decode_trusted(&t, esc, sizeof esc - 1, err, sizeof err), 0);
    assert_string_equal(t.entries[0].value, "A");
    record_free(&t);
    static const char bad[] = "name: x\n--\ncontext: a=1\nname b 1 2026-11-28T10:00:00.000Z\n";
    assert_int_equal(record_decode_trusted(&t, bad, sizeof bad - 1, err, sizeof err), -1);
}

/* record_decode_trusted_mem gives what record_decode_trusted gives (and
 * record_decode_checked_mem what record_decode gives), one decode after
 * another into the same memory: records growing and
 * shrinking (entries, context, escaped values, an empty value), a refused
 * record in between (left empty, the memory kept), and the memory freed. */
static void test_decode_trusted_mem(void **state)
{
    (void)state;
    record_decode_mem m = {0};
    char err[200] = "";
    for (int k = 0; k < 40; k++) {
        record r, want, got;
        record_init(&r);
        int nf = 1 + (k * 7) % 13;
        for (int f = 0; f < nf; f++) {
            char field[16], value[200];
            snprintf(field, sizeof field, "f%02d", f);
            int vl = (k * 31 + f * 17) % 150;
            for (int c = 0; c < vl; c++)
                value[c] = (char)(c % 11 == 3 ? '\\' : c % 13 == 5 ? '\n' : 'a' + (c + k) % 26);
            value[vl] = 0;
            const char *node = f % 3 == 0 ? "a" : f % 3 == 1 ? "node-b" : "c";
            assert_int_equal(record_write(&r, node, 1700000000000 + k * 1000 + f, field, value), 0);
            if (k % 4 == 1)
                assert_int_equal(record_set_add(&r, "b", 1700000000000 + f, "benefits", field), 0);
        }
        size_t n;
        char *bytes = encode(&r, &n);
        assert_int_equal(record_decode_trusted(&want, bytes, n, err, sizeof err), 0);
        assert_int_equal(record_decode_trusted_mem(&got, &m, bytes, n, err, sizeof err), 0);
        assert_true(record_equal(&got, &want));
        assert_true(record_equal(&got, &r));
        /* the checked variant: the same, every check made */
        assert_int_equal(record_decode_checked_mem(&got, &m, bytes, n, err, sizeof err), 0);
        assert_true(record_equal(&got, &want));
        record_free(&want);
        record_free(&r);
        free(bytes);
        if (k % 9 == 4) {
            static const char bad[] =
                "name: x\n--\ncontext: a=1\nname b 1 2026-11-28T10:00:00.000Z\n";
            assert_int_equal(
                record_decode_trusted_mem(&got, &m, bad, sizeof bad - 1, err, sizeof err), -1);
            assert_int_equal(got.nentries, 0);
            assert_null(got.entries);
            /* an escape that needs not be there: only the checked one refuses */
            static const char esc[] =
                "name: \\x41\n--\ncontext: a=1\nname a 1 2026-11-28T10:00:00.000Z\n";
            assert_int_equal(
                record_decode_checked_mem(&got, &m, esc, sizeof esc - 1, err, sizeof err), -1);
            assert_null(got.entries);
            assert_int_equal(
                record_decode_trusted_mem(&got, &m, esc, sizeof esc - 1, err, sizeof err), 0);
            assert_string_equal(got.entries[0].value, "A");
        }
    }
    record_decode_mem_free(&m);
    assert_null(m.entries);
}

/* Entry i of field, checked against the expected contents. */
static void assert_entry(const record *r, const char *field, size_t k, const char *value,
                         const char *node, uint64_t counter, int64_t time_ms)
{
    size_t first, n = record_field_entries(r, field, &first);
    assert_true(k < n);
    const record_entry *e = &r->entries[first + k];
    assert_string_equal(e->field, field);
    assert_string_equal(e->value, value);
    assert_string_equal(e->node, node);
    assert_int_equal(e->counter, counter);
    assert_int_equal(e->time_ms, time_ms);
}

static size_t nfield(const record *r, const char *field)
{
    size_t first;
    return record_field_entries(r, field, &first);
}

static void join_into(record *dst, const record *src)
{
    record out;
    assert_int_equal(record_join(&out, dst, src), 0);
    record_free(dst);
    *dst = out;
}

/* ---- writes and sets ----------------------------------------------------- */

static void test_write_replaces(void **state)
{
    (void)state;
    record r;
    record_init(&r);
    assert_int_equal(record_ctx_get(&r, "a"), 0);
    assert_int_equal(record_write(&r, "a", T0, "name", "Li Wei"), 0);
    assert_int_equal(record_ctx_get(&r, "a"), 1);
    assert_int_equal(nfield(&r, "name"), 1);
    assert_entry(&r, "name", 0, "Li Wei", "a", 1, T0);

    assert_int_equal(record_write(&r, "a", T0 + 5, "phone", "13800138000"), 0);
    assert_int_equal(record_write(&r, "a", T0 + 9, "name", "Li Wei 2"), 0);
    assert_int_equal(record_ctx_get(&r, "a"), 3);
    assert_int_equal(r.nentries, 2);
    assert_int_equal(nfield(&r, "name"), 1);
    assert_entry(&r, "name", 0, "Li Wei 2", "a", 3, T0 + 9);
    assert_entry(&r, "phone", 0, "13800138000", "a", 2, T0 + 5); /* untouched */
    assert_int_equal(record_ctx_get(&r, "b"), 0);

    /* a node that has seen a's writes replaces them with its own dot */
    assert_int_equal(record_write(&r, "b", T0 + 10, "name", "Wang Fang"), 0);
    assert_int_equal(nfield(&r, "name"), 1);
    assert_entry(&r, "name", 0, "Wang Fang", "b", 1, T0 + 10);
    assert_int_equal(record_ctx_get(&r, "a"), 3);
    assert_int_equal(record_ctx_get(&r, "b"), 1);
    assert_roundtrip(&r);
    record_free(&r);
    assert_int_equal(r.nentries, 0);
    assert_int_equal(r.nctx, 0);
    assert_null(r.entries);
}

static void test_set_add_remove(void **state)
{
    (void)state;
    record r;
    record_init(&r);
    assert_int_equal(record_set_add(&r, "a", T0, "benefits", "welfare-2021"), 0);
    assert_int_equal(record_set_add(&r, "a", T0 + 1, "benefits", "heat-relief-2021"), 0);
    assert_int_equal(nfield(&r, "benefits"), 2);
    /* adding an element again replaces its entry with a fresh dot */
    assert_int_equal(record_set_add(&r, "a", T0 + 2, "benefits", "welfare-2021"), 0);
    assert_int_equal(nfield(&r, "benefits"), 2);
    assert_entry(&r, "benefits", 0, "heat-relief-2021", "a", 2, T0 + 1);
    assert_entry(&r, "benefits", 1, "welfare-2021", "a", 3, T0 + 2);
    assert_int_equal(record_ctx_get(&r, "a"), 3);

    /* removing an element that is not there changes nothing */
    record before;
    assert_int_equal(record_copy(&before, &r), 0);
    assert_int_equal(record_set_remove(&r, "a", T0 + 3, "benefits", "nope"), 0);
    assert_int_equal(record_set_remove(&r, "a", T0 + 3, "other", "welfare-2021"), 0);
    assert_true(record_equal(&r, &before));

    /* observed remove: drops the element and bumps the counter */
    assert_int_equal(record_set_remove(&r, "a", T0 + 3, "benefits", "welfare-2021"), 1);
    assert_int_equal(nfield(&r, "benefits"), 1);
    assert_entry(&r, "benefits", 0, "heat-relief-2021", "a", 2, T0 + 1);
    assert_int_equal(record_ctx_get(&r, "a"), 4);
    assert_int_equal(record_set_remove(&r, "a", T0 + 4, "benefits", "welfare-2021"), 0);
    assert_int_equal(record_ctx_get(&r, "a"), 4);
    assert_roundtrip(&r);

    /* the removal spreads: joining the old state back does not revive it,
     * from either side */
    record rb;
    assert_int_equal(record_join(&rb, &before, &r), 0);
    join_into(&r, &before);
    assert_true(record_equal(&rb, &r));
    assert_int_equal(nfield(&r, "benefits"), 1);
    assert_entry(&r, "benefits", 0, "heat-relief-2021", "a", 2, T0 + 1);
    record_free(&rb);
    record_free(&before);
    record_free(&r);
}

static void test_set_concurrent_add_survives_remove(void **state)
{
    (void)state;
    record a, b;
    record_init(&a);
    assert_int_equal(record_set_add(&a, "a", T0, "benefits", "welfare-2021"), 0);
    assert_int_equal(record_copy(&b, &a), 0);
    /* b adds the same element concurrently with a's remove */
    assert_int_equal(record_set_add(&b, "b", T0 + 1, "benefits", "welfare-2021"), 0);
    assert_int_equal(record_set_remove(&a, "a", T0 + 2, "benefits", "welfare-2021"), 1);
    assert_int_equal(nfield(&a, "benefits"), 0);

    record ab, ba;
    assert_int_equal(record_join(&ab, &a, &b), 0);
    assert_int_equal(record_join(&ba, &b, &a), 0);
    assert_true(record_equal(&ab, &ba));
    /* add wins over the concurrent remove: b's unseen dot survives */
    assert_int_equal(nfield(&ab, "benefits"), 1);
    assert_entry(&ab, "benefits", 0, "welfare-2021", "b", 1, T0 + 1);

    /* a remove that has seen both adds takes out every entry of the element */
    record c;
    record_init(&c);
    assert_int_equal(record_set_add(&c, "c", T0, "benefits", "welfare-2021"), 0);
    join_into(&c, &b);
    assert_int_equal(nfield(&c, "benefits"), 2);
    assert_int_equal(record_set_remove(&c, "c", T0 + 3, "benefits", "welfare-2021"), 1);
    assert_int_equal(nfield(&c, "benefits"), 0);
    join_into(&c, &ab);
    assert_int_equal(nfield(&c, "benefits"), 0);

    record_free(&a);
    record_free(&b);
    record_free(&ab);
    record_free(&ba);
    record_free(&c);
}

static void test_join_conflict_and_resolve(void **state)
{
    (void)state;
    record a, b;
    record_init(&a);
    record_init(&b);
    assert_int_equal(record_write(&a, "a", T0, "name", "Li Wei"), 0);
    assert_int_equal(record_write(&b, "b", T0 - 1000, "name", "Li Wei (b)"), 0);
    assert_int_equal(record_write(&b, "b", T0 - 500, "phone", "13800138000"), 0);

    record ab, ba, aa;
    assert_int_equal(record_join(&ab, &a, &b), 0);
    assert_int_equal(record_join(&ba, &b, &a), 0);
    assert_int_equal(record_join(&aa, &a, &a), 0);
    assert_true(record_equal(&ab, &ba));
    assert_true(record_equal(&aa, &a));
    assert_int_equal(nfield(&ab, "name"), 2); /* concurrent: a conflict */
    assert_entry(&ab, "name", 0, "Li Wei", "a", 1, T0);
    assert_entry(&ab, "name", 1, "Li Wei (b)", "b", 1, T0 - 1000);
    assert_int_equal(nfield(&ab, "phone"), 1);
    assert_int_equal(record_ctx_get(&ab, "a"), 1);
    assert_int_equal(record_ctx_get(&ab, "b"), 2);
    const record_entry *w = record_field_winner(&ab, "name");
    assert_non_null(w);
    assert_string_equal(w->value, "Li Wei"); /* later time wins */
    assert_null(record_field_winner(&ab, "gender"));

    /* resolve at b: a write that saw both clears the conflict, and the
     * stale states joined back in do not bring it back */
    assert_int_equal(record_write(&ba, "b", T0 - 2000, "name", "Li Wei"), 0);
    assert_int_equal(nfield(&ba, "name"), 1);
    join_into(&ba, &a);
    join_into(&ba, &b);
    join_into(&ba, &ab);
    assert_int_equal(nfield(&ba, "name"), 1);
    assert_entry(&ba, "name", 0, "Li Wei", "b", 3, T0 - 2000);
    record stale_first;
    assert_int_equal(record_join(&stale_first, &ab, &ba), 0);
    assert_true(record_equal(&stale_first, &ba));
    record_free(&stale_first);
    assert_roundtrip(&ab);
    assert_roundtrip(&ba);

    record_free(&a);
    record_free(&b);
    record_free(&ab);
    record_free(&ba);
    record_free(&aa);
}

static void test_winner_order(void **state)
{
    (void)state;
    record a, b, c, r, tmp;
    record_init(&a);
    record_init(&b);
    record_init(&c);
    /* same time on all three: the greatest node name wins */
    assert_int_equal(record_write(&a, "n1", T0, "name", "from n1"), 0);
    assert_int_equal(record_write(&b, "n3", T0, "name", "from n3"), 0);
    assert_int_equal(record_write(&c, "n2", T0, "name", "from n2"), 0);
    assert_int_equal(record_join(&tmp, &a, &b), 0);
    assert_int_equal(record_join(&r, &tmp, &c), 0);
    record_free(&tmp);
    assert_int_equal(nfield(&r, "name"), 3);
    assert_string_equal(record_field_winner(&r, "name")->value, "from n3");

    /* a strictly later time beats the node order */
    record d;
    record_init(&d);
    assert_int_equal(record_write(&d, "n0", T0 + 1, "name", "from n0"), 0);
    join_into(&r, &d);
    assert_int_equal(nfield(&r, "name"), 4);
    assert_string_equal(record_field_winner(&r, "name")->value, "from n0");

    /* same time and node: the greater counter wins (a hand-built state, as
     * one node never holds two of its own dots for one field) */
    static const char two_dots[] = "name: first\n"
                                   "name: second\n"
                                   "--\n"
                                   "context: x=9\n"
                                   "name x 3 2026-11-28T10:00:00.000Z\n"
                                   "name x 7 2026-11-28T10:00:00.000Z\n";
    record e;
    char err[200] = "";
    if (record_decode(&e, two_dots, sizeof two_dots - 1, err, sizeof err) != 0)
        fail_msg("decode failed: %s", err);
    assert_string_equal(record_field_winner(&e, "name")->value, "second");
    static const char two_dots_rev[] = "name: first\n"
                                       "name: second\n"
                                       "--\n"
                                       "context: x=9\n"
                                       "name x 7 2026-11-28T10:00:00.000Z\n"
                                       "name x 8 2026-11-28T09:59:59.999Z\n";
    record f;
    if (record_decode(&f, two_dots_rev, sizeof two_dots_rev - 1, err, sizeof err) != 0)
        fail_msg("decode failed: %s", err);
    assert_string_equal(record_field_winner(&f, "name")->value, "first");

    record_free(&a);
    record_free(&b);
    record_free(&c);
    record_free(&d);
    record_free(&e);
    record_free(&f);
    record_free(&r);
}

static void test_backwards_clock_sequential(void **state)
{
    (void)state;
    record r;
    record_init(&r);
    int64_t t = T0;
    for (int i = 0; i < 50; i++) {
        char v[32];
        snprintf(v, sizeof v, "value %d", i);
        t += i % 3 == 0 ? -86400000 : (i % 3 == 1 ? -1 : 0); /* clock runs backwards */
        assert_int_equal(record_write(&r, "a", t, "name", v), 0);
        assert_int_equal(nfield(&r, "name"), 1);
        assert_entry(&r, "name", 0, v, "a", (uint64_t)i + 1, t);
        assert_string_equal(record_field_winner(&r, "name")->value, v);
    }
    /* the same across nodes: b sees a's state, writes with an older clock */
    record b;
    assert_int_equal(record_copy(&b, &r), 0);
    assert_int_equal(record_write(&b, "b", T0 - 365LL * 86400000, "name", "from b"), 0);
    assert_int_equal(record_write(&r, "a", t - 1, "phone", "13800138000"), 0);
    join_into(&r, &b);
    assert_int_equal(nfield(&r, "name"), 1);
    assert_string_equal(record_field_winner(&r, "name")->value, "from b");
    record_free(&b);
    record_free(&r);
}

static void test_copy_and_equal(void **state)
{
    (void)state;
    record a, b, empty;
    record_init(&a);
    record_init(&empty);
    assert_int_equal(record_write(&a, "a", T0, "name", "x"), 0);
    assert_int_equal(record_set_add(&a, "b", T0, "benefits", "y"), 0);
    assert_int_equal(record_copy(&b, &a), 0);
    assert_true(record_equal(&a, &b));
    assert_ptr_not_equal(a.entries, b.entries);
    assert_false(record_equal(&a, &empty));
    /* each part of an entry and of the context counts */
    b.entries[0].time_ms++;
    assert_false(record_equal(&a, &b));
    b.entries[0].time_ms--;
    b.entries[1].value[0] = 'z';
    assert_false(record_equal(&a, &b));
    b.entries[1].value[0] = 'x';
    b.ctx[0].counter = 5;
    assert_false(record_equal(&a, &b));
    b.ctx[0].counter = 1;
    assert_true(record_equal(&a, &b));
    record copy_empty;
    assert_int_equal(record_copy(&copy_empty, &empty), 0);
    assert_true(record_equal(&copy_empty, &empty));
    record_free(&copy_empty);
    record_free(&empty);
    record_free(&a);
    record_free(&b);
}

/* ---- canonical encoding ------------------------------------------------ */

/* The state used by the exact-bytes tests: a wrote name and phone, b added
 * a benefit, then the two states were joined. */
static void known_state(record *out)
{
    record a, b;
    record_init(&a);
    record_init(&b);
    assert_int_equal(record_write(&a, "a", T0, "name", "Li Wei"), 0);
    assert_int_equal(record_write(&a, "a", T0 + 61001, "phone", "13800138000"), 0);
    assert_int_equal(record_set_add(&b, "b", T0 - 86400000LL * 366, "benefits", "welfare-2021"), 0);
    assert_int_equal(record_join(out, &a, &b), 0);
    record_free(&a);
    record_free(&b);
}

static const char KNOWN[] = "benefits: welfare-2021\n"
                            "name: Li Wei\n"
                            "phone: 13800138000\n"
                            "--\n"
                            "context: a=2 b=1\n"
                            "benefits b 1 2025-11-27T10:00:00.000Z\n"
                            "name a 1 2026-11-28T10:00:00.000Z\n"
                            "phone a 2 2026-11-28T10:01:01.001Z\n";

static void test_encode_known(void **state)
{
    (void)state;
    record r;
    known_state(&r);
    assert_encodes_to(&r, KNOWN);
    assert_roundtrip(&r);
    record_free(&r);
}

static void test_encode_empty_and_escapes(void **state)
{
    (void)state;
    record r;
    record_init(&r);
    assert_encodes_to(&r, "--\ncontext:\n");
    assert_roundtrip(&r);

    assert_int_equal(record_write(&r, "node-1.x", T0, "notes", "a\nb\\c\td\re\x01\x7f 工会"), 0);
    assert_int_equal(record_write(&r, "node-1.x", T0, "employer", ""), 0);
    assert_int_equal(record_write(&r, "m", -1, "zz_custom9", "  spaced  "), 0);
    assert_encodes_to(&r, "employer:\n"
                          "notes: a\\nb\\\\c\\td\\re\\x01\\x7f 工会\n"
                          "zz_custom9:   spaced  \n"
                          "--\n"
                          "context: m=1 node-1.x=2\n"
                          "employer node-1.x 2 2026-11-28T10:00:00.000Z\n"
                          "notes node-1.x 1 2026-11-28T10:00:00.000Z\n"
                          "zz_custom9 m 1 1969-12-31T23:59:59.999Z\n");
    assert_roundtrip(&r);
    record_free(&r);
}

static void test_escape_roundtrip(void **state)
{
    (void)state;
    static const char *values[] = {
        "line1\nline2",
        "back\\slash",
        "tab\there",
        "cr\rhere",
        "ctl\x01\x02\x1f\x7f",
        "\\n is not a newline",
        "\\x41",
        "中华全国总工会 外卖配送员",
        "😀 emoji",
        "trailing\\",
        "\n",
        "\\",
        "",
        " ",
        "a: b",
        "--",
        "x\n--\ncontext: a=1",
    };
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        record r;
        record_init(&r);
        assert_int_equal(record_write(&r, "a", T0, "notes", values[i]), 0);
        size_t n;
        char *bytes = encode(&r, &n);
        /* the value lines never carry a raw control character */
        const char *sep = strstr(bytes, "\n--\n");
        assert_non_null(sep);
        for (const char *p = bytes; p < sep; p++)
            if (((unsigned char)*p < 0x20 && *p != '\n') || *p == 0x7f)
                fail_msg("raw control in value %zu", i);
        /* exactly one value line for one entry */
        size_t lines = 0;
        for (const char *p = bytes; p <= sep; p++)
            lines += *p == '\n';
        assert_int_equal(lines, 1);
        record d;
        char err[200] = "";
        if (record_decode(&d, bytes, n, err, sizeof err) != 0)
            fail_msg("value %zu: decode failed: %s", i, err);
        assert_string_equal(d.entries[0].value, values[i]);
        assert_true(record_equal(&d, &r));
        free(bytes);
        record_free(&d);
        record_free(&r);
    }
}

/* Decode must refuse `in` with a non-empty message and leave r empty. */
static void expect_refused_at(int line, const char *what, const char *in, size_t len)
{
    record r;
    char err[200];
    memset(err, 0, sizeof err);
    r.nentries = 99; /* decode must reset it */
    if (record_decode(&r, in, len, err, sizeof err) != -1) {
        record_free(&r);
        fail_msg("line %d: %s: accepted:\n%.*s", line, what, (int)len, in);
    }
    if (err[0] == '\0')
        fail_msg("line %d: %s: refused without a message", line, what);
    assert_int_equal(r.nentries, 0);
    assert_int_equal(r.nctx, 0);
    assert_null(r.entries);
    assert_null(r.ctx);
}
#define REFUSED(what, s) expect_refused_at(__LINE__, what, s, sizeof(s) - 1)

static void test_decode_refuses_noncanonical(void **state)
{
    (void)state;
    /* the base text is accepted as is */
    record ok;
    char err[200] = "";
    assert_int_equal(record_decode(&ok, KNOWN, sizeof KNOWN - 1, err, sizeof err), 0);
    assert_int_equal(ok.nentries, 3);
    record_free(&ok);

    /* "name:  x" is not an extra space: it is the value " x" */
    static const char lead[] =
        "name:  Li Wei\n--\ncontext: a=1\nname a 1 2026-11-28T10:00:00.000Z\n";
    assert_int_equal(record_decode(&ok, lead, sizeof lead - 1, err, sizeof err), 0);
    assert_string_equal(ok.entries[0].value, " Li Wei");
    record_free(&ok);

    REFUSED("empty input", "");
    REFUSED("unsorted fields", "name: Li Wei\n"
                               "benefits: welfare-2021\n"
                               "--\n"
                               "context: a=1 b=1\n"
                               "name a 1 2026-11-28T10:00:00.000Z\n"
                               "benefits b 1 2025-11-27T10:00:00.000Z\n");
    REFUSED("unsorted dots in one field", "name: x\n"
                                          "name: y\n"
                                          "--\n"
                                          "context: a=1 b=1\n"
                                          "name b 1 2026-11-28T10:00:00.000Z\n"
                                          "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("duplicate dot", "name: x\n"
                             "name: x\n"
                             "--\n"
                             "context: a=1\n"
                             "name a 1 2026-11-28T10:00:00.000Z\n"
                             "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("counters compared as numbers", "name: x\n"
                                            "name: y\n"
                                            "--\n"
                                            "context: a=10\n"
                                            "name a 10 2026-11-28T10:00:00.000Z\n"
                                            "name a 9 2026-11-28T10:00:00.000Z\n");
    REFUSED("unsorted context", "name: Li Wei\n"
                                "--\n"
                                "context: b=1 a=1\n"
                                "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("duplicate context node", "--\ncontext: a=1 a=2\n");
    REFUSED("leading zero in context", "name: Li Wei\n"
                                       "--\n"
                                       "context: a=01\n"
                                       "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("zero counter in context", "--\ncontext: a=0\n");
    REFUSED("leading zero in dot", "name: Li Wei\n"
                                   "--\n"
                                   "context: a=1\n"
                                   "name a 01 2026-11-28T10:00:00.000Z\n");
    REFUSED("sign in counter", "name: Li Wei\n"
                               "--\n"
                               "context: a=1\n"
                               "name a +1 2026-11-28T10:00:00.000Z\n");
    REFUSED("missing metadata line", "benefits: welfare-2021\n"
                                     "name: Li Wei\n"
                                     "--\n"
                                     "context: a=1 b=1\n"
                                     "benefits b 1 2025-11-27T10:00:00.000Z\n");
    REFUSED("metadata for another field", "name: Li Wei\n"
                                          "--\n"
                                          "context: a=1\n"
                                          "phone a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("trailing data", "name: Li Wei\n"
                             "--\n"
                             "context: a=1\n"
                             "name a 1 2026-11-28T10:00:00.000Z\n"
                             "extra\n");
    REFUSED("trailing blank line", "name: Li Wei\n"
                                   "--\n"
                                   "context: a=1\n"
                                   "name a 1 2026-11-28T10:00:00.000Z\n"
                                   "\n");
    REFUSED("space for empty value", "name: \n"
                                     "--\n"
                                     "context: a=1\n"
                                     "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("no space after colon", "name:Li Wei\n"
                                    "--\n"
                                    "context: a=1\n"
                                    "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("space before colon", "name : Li Wei\n"
                                  "--\n"
                                  "context: a=1\n"
                                  "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("double space in context", "name: Li Wei\n"
                                       "--\n"
                                       "context:  a=1\n"
                                       "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("trailing space in context", "--\ncontext: a=1 \n");
    REFUSED("extra space in metadata", "name: Li Wei\n"
                                       "--\n"
                                       "context: a=1\n"
                                       "name  a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("trailing space in metadata", "name: Li Wei\n"
                                          "--\n"
                                          "context: a=1\n"
                                          "name a 1 2026-11-28T10:00:00.000Z \n");
    REFUSED("bad escape letter", "name: Li\\qWei\n"
                                 "--\n"
                                 "context: a=1\n"
                                 "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("lone backslash at end", "name: Li Wei\\\n"
                                     "--\n"
                                     "context: a=1\n"
                                     "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("short hex escape", "name: x\\x4\n"
                                "--\n"
                                "context: a=1\n"
                                "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("bad hex digit", "name: x\\x0g\n"
                             "--\n"
                             "context: a=1\n"
                             "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("uppercase hex", "name: x\\x0A\n"
                             "--\n"
                             "context: a=1\n"
                             "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("escaped NUL", "name: x\\x00\n"
                           "--\n"
                           "context: a=1\n"
                           "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("hex escape of a printable", "name: \\x41\n"
                                         "--\n"
                                         "context: a=1\n"
                                         "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("hex escape of a newline", "name: \\x0a\n"
                                       "--\n"
                                       "context: a=1\n"
                                       "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("dot not covered by context", "name: Li Wei\n"
                                          "--\n"
                                          "context: a=1\n"
                                          "name a 2 2026-11-28T10:00:00.000Z\n");
    REFUSED("dot of a node missing from context", "name: Li Wei\n"
                                                  "--\n"
                                                  "context: a=1\n"
                                                  "name b 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("no trailing newline", "name: Li Wei\n"
                                   "--\n"
                                   "context: a=1\n"
                                   "name a 1 2026-11-28T10:00:00.000Z");
    REFUSED("no trailing newline, empty", "--\ncontext:");
    REFUSED("raw tab in value", "name: Li\tWei\n"
                                "--\n"
                                "context: a=1\n"
                                "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("raw CR in value", "name: Li Wei\r\n"
                               "--\n"
                               "context: a=1\n"
                               "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("raw DEL in value", "name: Li\x7fWei\n"
                                "--\n"
                                "context: a=1\n"
                                "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("raw 0x01 in value", "name: Li\x01Wei\n"
                                 "--\n"
                                 "context: a=1\n"
                                 "name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("CRLF line ends", "name: Li Wei\r\n"
                              "--\r\n"
                              "context: a=1\r\n"
                              "name a 1 2026-11-28T10:00:00.000Z\r\n");
    REFUSED("no separator", "name: Li Wei\n");
    REFUSED("no context line", "--\n");
    REFUSED("misspelt context", "--\ncontext a=1\n");
    REFUSED("context item without =", "--\ncontext: a\n");
    REFUSED("bad node name", "--\ncontext: A=1\n");
    REFUSED("node starting with -", "--\ncontext: -a=1\n");
    REFUSED("uppercase field", "Name: x\n"
                               "--\n"
                               "context: a=1\n"
                               "Name a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("empty field name", ": x\n"
                                "--\n"
                                "context: a=1\n"
                                " a 1 2026-11-28T10:00:00.000Z\n");
    REFUSED("time without millis", "name: x\n"
                                   "--\n"
                                   "context: a=1\n"
                                   "name a 1 2026-11-28T10:00:00Z\n");
    REFUSED("time with offset", "name: x\n"
                                "--\n"
                                "context: a=1\n"
                                "name a 1 2026-11-28T10:00:00.000+00\n");
    REFUSED("impossible date", "name: x\n"
                               "--\n"
                               "context: a=1\n"
                               "name a 1 2026-02-30T10:00:00.000Z\n");
    REFUSED("leap day in a common year", "name: x\n"
                                         "--\n"
                                         "context: a=1\n"
                                         "name a 1 1900-02-29T10:00:00.000Z\n");
    REFUSED("hour 24", "name: x\n"
                       "--\n"
                       "context: a=1\n"
                       "name a 1 2026-11-28T24:00:00.000Z\n");
    REFUSED("counter beyond 19 digits", "--\ncontext: a=18446744073709551615\n");

    /* an embedded NUL anywhere is refused */
    static const char nul[] =
        "name: Li\0Wei\n--\ncontext: a=1\nname a 1 2026-11-28T10:00:00.000Z\n";
    expect_refused_at(__LINE__, "NUL in value", nul, sizeof nul - 1);

    /* every proper prefix of a valid encoding is refused */
    for (size_t n = 0; n < sizeof KNOWN - 1; n++)
        expect_refused_at(__LINE__, "prefix", KNOWN, n);

    /* more than RECORD_BLOB_MAX bytes is refused before anything else */
    size_t big = (size_t)RECORD_BLOB_MAX + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, '\n', big);
    expect_refused_at(__LINE__, "over the size limit", huge, big);
    free(huge);
}

static void test_decode_error_buffer(void **state)
{
    (void)state;
    record r;
    char err[8];
    memset(err, 'x', sizeof err);
    assert_int_equal(record_decode(&r, "junk", 4, err, sizeof err), -1);
    assert_int_equal(strnlen(err, sizeof err), sizeof err - 1); /* truncated, terminated */
    /* errlen 0: no message written, no crash */
    assert_int_equal(record_decode(&r, "junk", 4, NULL, 0), -1);
}

/* ---- times, ids, paths, names ------------------------------------------ */

static void time_case(int64_t ms, const char *text)
{
    char buf[32];
    record_time_format(buf, sizeof buf, ms);
    assert_string_equal(buf, text);
    int64_t back = 0;
    assert_int_equal(record_time_parse(&back, text, strlen(text)), 0);
    assert_int_equal(back, ms);
}

static void test_time(void **state)
{
    (void)state;
    time_case(0, "1970-01-01T00:00:00.000Z");
    time_case(T0, "2026-11-28T10:00:00.000Z");
    time_case(T0 + 999, "2026-11-28T10:00:00.999Z");
    time_case(-1, "1969-12-31T23:59:59.999Z");
    time_case(-999, "1969-12-31T23:59:59.001Z");
    time_case(-1000, "1969-12-31T23:59:59.000Z");
    time_case(-1001, "1969-12-31T23:59:58.999Z");
    time_case(-14182940000LL, "1969-07-20T20:17:40.000Z");
    time_case(-2203891201000LL, "1900-02-28T23:59:59.000Z");
    time_case(-2203891200000LL, "1900-03-01T00:00:00.000Z"); /* 1900: no leap day */
    time_case(951825600000LL, "2000-02-29T12:00:00.000Z");   /* 2000: leap day */
    time_case(-310521600000LL, "1960-02-29T00:00:00.000Z");
    time_case(-62135596800000LL, "0001-01-01T00:00:00.000Z");
    time_case(-62167219200000LL, "0000-01-01T00:00:00.000Z");
    time_case(253402300799999LL, "9999-12-31T23:59:59.999Z");
    time_case(4107542400000LL, "2100-03-01T00:00:00.000Z");

    /* format then parse over a wide range, including every day around the
     * leap days of 1896..2104 */
    for (int64_t ms = -2240524800000LL; ms < 4260211200000LL; ms += 86400000LL / 4 + 7) {
        char buf[32];
        int64_t back;
        record_time_format(buf, sizeof buf, ms);
        assert_int_equal(strlen(buf), 24);
        if (record_time_parse(&back, buf, 24) != 0 || back != ms)
            fail_msg("round trip of %lld via %s failed", (long long)ms, buf);
    }

    int64_t v;
    static const char *bad[] = {
        "2026-11-28T10:00:00.000",   "2026-11-28 10:00:00.000Z", "2026-13-01T00:00:00.000Z",
        "2026-00-01T00:00:00.000Z",  "2026-01-00T00:00:00.000Z", "2026-01-32T00:00:00.000Z",
        "2026-01-01T24:00:00.000Z",  "2026-01-01T00:60:00.000Z", "2026-01-01T00:00:60.000Z",
        "2026-1-01T00:00:00.000Z",   "+026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.00aZ",
        "2026-11-28T10:00:00.000Z ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (record_time_parse(&v, bad[i], strlen(bad[i])) == 0)
            fail_msg("accepted %s", bad[i]);
}

static int b32_index(char c)
{
    static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
    const char *p = strchr(alphabet, c);
    return c && p ? (int)(p - alphabet) : -1;
}

static void test_id_make(void **state)
{
    (void)state;
    char id[RECORD_ID_LEN + 1];
    record_id_make(id, T0, 0x3fffffff);
    assert_string_equal(id, "01m8gshv80zzzzzz"); /* computed independently */
    record_id_make(id, 0, 0);
    assert_string_equal(id, "0000000000000000");

    char prev[RECORD_ID_LEN + 1] = "";
    uint64_t rnd = 0x9e3779b97f4a7c15ull;
    for (int64_t t = 1000000000000LL; t < 4000000000000LL; t += 12345678901LL + (t % 977)) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        record_id_make(id, t, rnd >> 20);
        assert_int_equal(strlen(id), RECORD_ID_LEN);
        for (int i = 0; i < RECORD_ID_LEN; i++) {
            assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z'));
            assert_true(b32_index(id[i]) >= 0);
        }
        assert_true(record_id_valid(id));
        /* the first 10 chars are the time: decode them back */
        int64_t back = 0;
        for (int i = 0; i < 10; i++)
            back = back * 32 + b32_index(id[i]);
        assert_int_equal(back, t);
        if (prev[0] && strcmp(prev, id) >= 0)
            fail_msg("ids not sorted: %s then %s", prev, id);
        memcpy(prev, id, sizeof id);
    }
    /* same millisecond: the random part decides, time order is kept */
    char a[RECORD_ID_LEN + 1], b[RECORD_ID_LEN + 1];
    record_id_make(a, T0, 0x3fffffff);
    record_id_make(b, T0 + 1, 0);
    assert_true(strcmp(a, b) < 0);
}

static void test_path(void **state)
{
    (void)state;
    char out[RECORD_ID_MAX + 16];
    record_path(out, sizeof out, "01kb2xyzab3c4d5e");
    assert_string_equal(out, "members/b9/14/01kb2xyzab3c4d5e");
    record_path(out, sizeof out, "abc");
    assert_string_equal(out, "members/1a/47/abc");

    char id[RECORD_ID_LEN + 1];
    for (int i = 0; i < 200; i++) {
        record_id_make(id, T0 + i * 7919, (uint64_t)i * 2654435761u);
        record_path(out, sizeof out, id);
        assert_int_equal(strlen(out), strlen("members/xx/yy/") + RECORD_ID_LEN);
        assert_memory_equal(out, "members/", 8);
        assert_int_equal(out[10], '/');
        assert_int_equal(out[13], '/');
        for (int k = 8; k < 13; k++)
            if (k != 10)
                assert_non_null(strchr("0123456789abcdef", out[k]));
        assert_string_equal(out + 14, id);
    }
    /* the longest id fits */
    char longid[RECORD_ID_MAX + 1];
    memset(longid, 'z', RECORD_ID_MAX);
    longid[RECORD_ID_MAX] = 0;
    record_path(out, sizeof out, longid);
    assert_int_equal(strlen(out), 14 + RECORD_ID_MAX);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(record_node_valid("a"));
    assert_true(record_node_valid("node-1.beijing_2"));
    assert_true(record_node_valid("0a"));
    assert_false(record_node_valid(""));
    assert_false(record_node_valid("-a"));
    assert_false(record_node_valid(".a"));
    assert_false(record_node_valid("Node"));
    assert_false(record_node_valid("a b"));
    assert_false(record_node_valid("a=b"));
    char n[RECORD_NODE_MAX + 2];
    memset(n, 'a', sizeof n);
    n[RECORD_NODE_MAX] = 0;
    assert_true(record_node_valid(n));
    n[RECORD_NODE_MAX] = 'a';
    n[RECORD_NODE_MAX + 1] = 0;
    assert_false(record_node_valid(n));

    assert_true(record_id_valid("01kb2xyzab3c4d5e"));
    assert_false(record_id_valid(""));
    assert_false(record_id_valid("01KB"));
    assert_false(record_id_valid("../x"));
    assert_false(record_id_valid("a-b"));
    char id[RECORD_ID_MAX + 2];
    memset(id, '1', sizeof id);
    id[RECORD_ID_MAX] = 0;
    assert_true(record_id_valid(id));
    id[RECORD_ID_MAX] = '1';
    id[RECORD_ID_MAX + 1] = 0;
    assert_false(record_id_valid(id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_replaces),
        cmocka_unit_test(test_decode_trusted),
        cmocka_unit_test(test_set_add_remove),
        cmocka_unit_test(test_set_concurrent_add_survives_remove),
        cmocka_unit_test(test_join_conflict_and_resolve),
        cmocka_unit_test(test_winner_order),
        cmocka_unit_test(test_backwards_clock_sequential),
        cmocka_unit_test(test_copy_and_equal),
        cmocka_unit_test(test_encode_known),
        cmocka_unit_test(test_encode_empty_and_escapes),
        cmocka_unit_test(test_escape_roundtrip),
        cmocka_unit_test(test_decode_refuses_noncanonical),
        cmocka_unit_test(test_decode_error_buffer),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_id_make),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_decode_trusted_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
