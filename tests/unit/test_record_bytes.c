/* test_record_bytes.c - the canonical bytes of a record must never change:
 * blob ids, tree ids and every stored record depend on them. This test
 * builds many varied states (empty, the most entries, long values, CJK,
 * every byte that is escaped, concurrent values, many context nodes,
 * counters and timestamps at their edges, and thousands of random states
 * built through the write, set and join calls) and checks record_encode
 * against two references made before the encoder was rewritten for speed
 * (round 9):
 *  - old_encode below, a verbatim copy of the round 8 encoder (struct buf
 *    appends, snprintf escapes, the digit-loop time format), compared byte
 *    for byte on every state;
 *  - one FNV-1a 64 hash over every state's bytes, pinned as the value the
 *    round 8 encoder gave (CORPUS_HASH), which also catches a change in
 *    how the write calls build the states.
 * If this test fails, the encoding (or the states the calls build) changed:
 * that is a format change, not a refactoring. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"
#include "proto/record.h"

/* ---- the round 8 encoder, verbatim (renamed) ---------------------------- */

typedef struct {
    struct buf b;
    uerr e;
} old_sbuf;

static void old_sb_put(old_sbuf *b, const char *s, size_t n)
{
    if (b->e == UERR_OK)
        b->e = buf_append(&b->b, s, n);
}

static void old_sb_str(old_sbuf *b, const char *s)
{
    old_sb_put(b, s, strlen(s));
}

static void old_sb_escaped(old_sbuf *b, const char *s)
{
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[5] = {0};
        if (*p == '\\')
            strcpy(esc, "\\\\");
        else if (*p == '\n')
            strcpy(esc, "\\n");
        else if (*p == '\r')
            strcpy(esc, "\\r");
        else if (*p == '\t')
            strcpy(esc, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", *p);
        else
            continue;
        old_sb_put(b, run, (const char *)p - run);
        old_sb_str(b, esc);
        run = (const char *)p + 1;
    }
    old_sb_str(b, run);
}

/* noinline: as in record_codec.c, outlen is not a constant here, so
 * -Wformat-truncation does not judge the snprintf by the caller's buffer */
__attribute__((noinline)) static void old_time_format(char *out, size_t outlen, int64_t ms)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999 || outlen < 25) {
        snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
        return;
    }
    const int part[7] = {(int)y,          (int)m, (int)d, (int)(rem / 3600), (int)(rem / 60 % 60),
                         (int)(rem % 60), msec};
    static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    char *o = out;
    for (int i = 0; i < 7; i++) {
        for (int w = width[i] - 1, v = part[i]; w >= 0; w--, v /= 10)
            o[w] = (char)('0' + v % 10);
        o += width[i];
        *o++ = after[i];
    }
    *o = 0;
}

static size_t old_u64_text(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}

static int old_encode(char **out, size_t *len, const record *r)
{
    old_sbuf b = {BUF_INIT, UERR_OK};
    char num[32], tbuf[32];
    b.e = buf_reserve(&b.b, 256);
    for (size_t i = 0; i < r->nentries; i++) {
        old_sb_str(&b, r->entries[i].field);
        old_sb_str(&b, ":");
        if (r->entries[i].value[0]) {
            old_sb_str(&b, " ");
            old_sb_escaped(&b, r->entries[i].value);
        }
        old_sb_str(&b, "\n");
    }
    old_sb_str(&b, "--\ncontext:");
    for (size_t i = 0; i < r->nctx; i++) {
        num[0] = '=';
        old_u64_text(num + 1, r->ctx[i].counter);
        old_sb_str(&b, " ");
        old_sb_str(&b, r->ctx[i].node);
        old_sb_str(&b, num);
    }
    old_sb_str(&b, "\n");
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        old_time_format(tbuf, sizeof tbuf, e->time_ms);
        num[0] = ' ';
        size_t nl = old_u64_text(num + 1, e->counter);
        num[nl + 1] = ' ';
        num[nl + 2] = 0;
        old_sb_str(&b, e->field);
        old_sb_str(&b, " ");
        old_sb_str(&b, e->node);
        old_sb_str(&b, num);
        old_sb_str(&b, tbuf);
        old_sb_str(&b, "\n");
    }
    if (b.e != UERR_OK || !(*out = buf_detach(&b.b, len))) {
        buf_free(&b.b);
        return -1;
    }
    return 0;
}

/* ---- the corpus ---------------------------------------------------------- */

/* FNV-1a 64 over every state's bytes (and its length), the round 8
 * encoder's value: computed with old_encode before record_encode was
 * changed, and pinned here. */
#define CORPUS_HASH 0x1cbcfbfde7385822ull

typedef struct {
    uint64_t hash;
    size_t states, bytes;
} tally;

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= s[i];
        *h *= 0x100000001b3ull;
    }
}

/* One state: the new encoder's bytes equal the old encoder's, the text
 * is NUL-terminated as before (callers use it as a string), and it
 * decodes back to the same state when decodable. */
static void check(tally *t, const record *r)
{
    char *got = NULL, *want = NULL;
    size_t gl = 0, wl = 0;
    assert_int_equal(record_encode(&got, &gl, r), 0);
    assert_int_equal(old_encode(&want, &wl, r), 0);
    if (gl != wl || memcmp(got, want, gl) != 0) {
        size_t at = 0;
        while (at < gl && at < wl && got[at] == want[at])
            at++;
        fail_msg("state %zu: encoding differs at byte %zu (got %zu bytes, want %zu)\n"
                 "--- got:\n%.*s\n--- want:\n%.*s",
                 t->states, at, gl, wl, (int)(gl < 4000 ? gl : 4000), got,
                 (int)(wl < 4000 ? wl : 4000), want);
    }
    assert_int_equal(got[gl], 0);
    /* and it decodes (the canonical check included) back to the state,
     * unless a time is outside the four-digit years or a counter beyond
     * the 19 digits the decoder takes */
    int in_range = 1;
    for (size_t i = 0; i < r->nentries; i++)
        in_range &= r->entries[i].time_ms >= -62167219200000LL &&
                    r->entries[i].time_ms < 253402300800000LL &&
                    r->entries[i].counter <= 9999999999999999999ull;
    for (size_t i = 0; i < r->nctx; i++)
        in_range &= r->ctx[i].counter <= 9999999999999999999ull;
    record d;
    char err[200] = "";
    int rc = record_decode(&d, got, gl, err, sizeof err);
    if (in_range && rc != 0)
        fail_msg("state %zu: own encoding refused: %s", t->states, err);
    if (rc == 0) {
        assert_true(in_range);
        assert_true(record_equal(&d, r));
        record_free(&d);
    }
    uint64_t l = gl;
    fnv(&t->hash, &l, sizeof l);
    fnv(&t->hash, got, gl);
    t->states++;
    t->bytes += gl;
    free(got);
    free(want);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so the corpus is the same on every run */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static const char *const fields[] = {
    "a",
    "address",
    "benefits",
    "birth_date",
    "category",
    "employer",
    "gender",
    "id_number",
    "joined",
    "name",
    "note",
    "office",
    "phone",
    "status",
    "union",
    "x_23456789012345678901234567890",  /* 31 */
    "y_234567890123456789012345678901", /* 32: the longest field name */
    "z9",
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *const nodes[] = {
    "a",
    "hq",
    "jiangbei",
    "node-1",
    "node-2",
    "office.b",
    "z",
    /* 64: the longest node name */
    "n234567890123456789012345678901234567890123456789012345678901234",
};
#define NNODES (sizeof nodes / sizeof nodes[0])

static const char *const pieces[] = {
    "",
    "x",
    "胡艳明",
    "外卖骑手工会",
    "美团",
    "男",
    "330205199407117615",
    "16760336522",
    "2024-10-18",
    "lapsed",
    "winter-care-2022",
    "a b",
    " lead",
    "trail ",
    "\\",
    "\\n",
    "\n",
    "\r\n",
    "\t",
    "\x01",
    "\x1f",
    "\x7f",
    "\x80",
    "\xff",
    "ｆｕｌｌ",
    "①",
    "　",
    "é",
    "e\xcc\x81",
    "ＡＢＣ",
    "한국어",
    "😀",
    "--",
    ":",
    "context: a=1",
};
#define NPIECES (sizeof pieces / sizeof pieces[0])

/* A random value of up to maxpieces pieces. */
static char *rand_value(char *out, size_t cap, int maxpieces)
{
    size_t n = 0;
    int k = (int)(rnd() % (uint64_t)(maxpieces + 1));
    out[0] = 0;
    for (int i = 0; i < k; i++) {
        const char *p = pieces[rnd() % NPIECES];
        size_t l = strlen(p);
        if (n + l + 1 > cap)
            break;
        memcpy(out + n, p, l + 1);
        n += l;
    }
    return out;
}

/* Times: around now, the epoch, and the edges of the 4-digit years (below
 * year 0 and from year 10000 on the format falls back to snprintf). */
static int64_t rand_time(void)
{
    static const int64_t edges[] = {
        0,
        -1,
        1,
        999,
        1000,
        -999,
        -1000,
        -1001,
        86399999,
        86400000,
        -86400000,
        -86400001,
        951782400000LL,    /* 2000-02-29 */
        1795860000000LL,   /* 2026-11-28T10:00:00Z */
        -62167219200000LL, /* 0000-01-01T00:00:00.000Z, the first 4-digit */
        -62167219200001LL, /* one ms before: year -1 */
        -62167219199999LL,
        253402300799999LL, /* 9999-12-31T23:59:59.999Z, the last 4-digit */
        253402300800000LL, /* 10000-01-01: falls back */
        253402300800001LL,
        4102444800000LL,  /* 2100-01-01 */
        -2208988800000LL, /* 1900-01-01 */
        -1000000000000000LL,
        1000000000000000LL,
    };
    switch (rnd() % 4) {
    case 0:
        return edges[rnd() % (sizeof edges / sizeof edges[0])];
    case 1:
        return 1700000000000LL + (int64_t)(rnd() % 400000000000ull);
    case 2:
        return (int64_t)(rnd() % 600000000000000ull) - 300000000000000LL;
    default:
        return edges[rnd() % (sizeof edges / sizeof edges[0])] + (int64_t)(rnd() % 2001) - 1000;
    }
}

/* A random state built through the calls a store makes: writes, set adds
 * and removes on a few nodes, sometimes joined with a concurrent copy. */
static void rand_state(record *r, int ops, int maxpieces)
{
    char v[4096];
    record_init(r);
    for (int i = 0; i < ops; i++) {
        const char *f = fields[rnd() % NFIELDS];
        const char *n = nodes[rnd() % NNODES];
        int64_t t = rand_time();
        int what = (int)(rnd() % 10);
        if (what < 6)
            assert_int_equal(record_write(r, n, t, f, rand_value(v, sizeof v, maxpieces)), 0);
        else if (what < 9)
            assert_int_equal(record_set_add(r, n, t, f, rand_value(v, sizeof v, maxpieces)), 0);
        else
            assert_true(record_set_remove(r, n, t, f, rand_value(v, sizeof v, maxpieces)) >= 0);
    }
    if (rnd() % 3 == 0) {
        /* concurrent values: two copies written apart, then joined */
        record a, b, j;
        assert_int_equal(record_copy(&a, r), 0);
        assert_int_equal(record_copy(&b, r), 0);
        for (int i = 0; i < 1 + ops / 2; i++) {
            assert_int_equal(record_write(&a, nodes[rnd() % NNODES], rand_time(),
                                          fields[rnd() % NFIELDS],
                                          rand_value(v, sizeof v, maxpieces)),
                             0);
            assert_int_equal(record_set_add(&b, nodes[rnd() % NNODES], rand_time(),
                                            fields[rnd() % NFIELDS],
                                            rand_value(v, sizeof v, maxpieces)),
                             0);
        }
        assert_int_equal(record_join(&j, &a, &b), 0);
        record_free(&a);
        record_free(&b);
        record_free(r);
        *r = j;
    }
}

/* A state set up by hand (no calls), for counters and sizes the calls do
 * not reach quickly: entries and context are the caller's arrays. */
static void check_raw(tally *t, record_entry *e, size_t ne, record_ctx *c, size_t nc)
{
    record r = {c, nc, e, ne};
    check(t, &r);
}

static void test_bytes_unchanged(void **state)
{
    (void)state;
    tally t = {0xcbf29ce484222325ull, 0, 0};
    record r;
    char v[4096];

    /* the empty state */
    record_init(&r);
    check(&t, &r);

    /* one field, empty value; one field, every escaped and unescaped byte */
    assert_int_equal(record_write(&r, "a", 0, "a", ""), 0);
    check(&t, &r);
    for (int c = 1; c < 256; c++)
        v[c - 1] = (char)c;
    v[255] = 0;
    assert_int_equal(record_write(&r, "a", 1, "a", v), 0);
    check(&t, &r);
    /* each byte alone, at the start, middle and end */
    for (int c = 1; c < 256; c++) {
        char s[8] = {(char)c, 0};
        assert_int_equal(record_write(&r, "hq", c, "note", s), 0);
        check(&t, &r);
        snprintf(s, sizeof s, "x%cy", c);
        assert_int_equal(record_write(&r, "hq", c, "note", s), 0);
        check(&t, &r);
        snprintf(s, sizeof s, "xy%c", c);
        assert_int_equal(record_write(&r, "hq", c, "note", s), 0);
        check(&t, &r);
    }
    record_free(&r);

    /* long values: 64 KiB of CJK, 300 KiB of ASCII, 100 KiB of escapes */
    {
        size_t big = 300 * 1024;
        char *s = malloc(big + 1);
        assert_non_null(s);
        size_t n = 0;
        while (n + 3 <= 64 * 1024) {
            memcpy(s + n, "会", 3);
            n += 3;
        }
        s[n] = 0;
        record_init(&r);
        assert_int_equal(record_write(&r, "jiangbei", 1795860000000LL, "name", s), 0);
        check(&t, &r);
        memset(s, 'q', big);
        s[big] = 0;
        assert_int_equal(record_write(&r, "jiangbei", 1795860000001LL, "note", s), 0);
        check(&t, &r);
        for (size_t i = 0; i < 100 * 1024; i++)
            s[i] = "\n\\\x01\t"[i % 4];
        s[100 * 1024] = 0;
        assert_int_equal(record_write(&r, "hq", 1795860000002LL, "address", s), 0);
        check(&t, &r);
        record_free(&r);
        free(s);
    }

    /* the most entries (4096) as one set field, and as 4096 fields */
    record_init(&r);
    for (int i = 0; i < RECORD_ENTRIES_MAX; i++) {
        snprintf(v, sizeof v, "element %d 工会", i);
        assert_int_equal(record_set_add(&r, nodes[i % NNODES], 1795860000000LL + i, "benefits", v),
                         0);
    }
    check(&t, &r);
    record_free(&r);
    record_init(&r);
    for (int i = 0; i < RECORD_ENTRIES_MAX; i++) {
        char f[40];
        snprintf(f, sizeof f, "f%d", (i * 7919) % RECORD_ENTRIES_MAX);
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(record_write(&r, nodes[i % NNODES], -62167219200000LL + i, f, v), 0);
    }
    check(&t, &r);
    record_free(&r);

    /* counters at their edges (by hand: the calls count up from 1) */
    {
        static const uint64_t counters[] = {1,
                                            9,
                                            10,
                                            99,
                                            100,
                                            999999999,
                                            1000000000,
                                            4294967295u,
                                            4294967296u,
                                            UINT64_MAX / 10,
                                            9999999999999999999ull,
                                            UINT64_MAX};
        size_t nc = sizeof counters / sizeof counters[0];
        record_entry e[16];
        record_ctx c[16];
        for (size_t i = 0; i < nc; i++) {
            e[i] = (record_entry){record_intern("f", 1), (char *)"v", record_intern("n", 1),
                                  counters[i], 1795860000000LL};
            c[0] = (record_ctx){record_intern("n", 1), counters[i]};
            check_raw(&t, &e[i], 1, c, 1);
        }
        /* many context nodes, sorted, with every counter */
        char names[64][16];
        for (int i = 0; i < 64; i++) {
            snprintf(names[i], sizeof names[i], "node%02d", i);
        }
        record_ctx many[64];
        for (int i = 0; i < 64; i++)
            many[i] =
                (record_ctx){record_intern(names[i], strlen(names[i])), counters[(size_t)i % nc]};
        check_raw(&t, NULL, 0, many, 64);
        check_raw(&t, e, 1, many, 64);
    }

    /* every edge time alone, and a run of identical times then a change
     * (an encoder may reuse the text of the previous entry's time) */
    for (int i = 0; i < 2000; i++) {
        record_init(&r);
        int64_t t0 = rand_time();
        int n = 1 + (int)(rnd() % 6);
        for (int k = 0; k < n; k++)
            assert_int_equal(record_write(&r, "hq", k == n - 1 && i % 2 ? rand_time() : t0,
                                          fields[(size_t)k % NFIELDS], "v"),
                             0);
        check(&t, &r);
        record_free(&r);
    }

    /* an import-like row: eleven fields written at one time */
    {
        static const char *const row[][2] = {{"name", "胡艳明"},
                                             {"gender", "男"},
                                             {"id_number", "330205199407117615"},
                                             {"phone", "16760336522"},
                                             {"category", "外卖配送员"},
                                             {"employer", "美团"},
                                             {"union", "外卖骑手工会"},
                                             {"office", "jiangbei"},
                                             {"joined", "2024-10-18"},
                                             {"status", "lapsed"},
                                             {"benefits", "winter-care-2022"}};
        record_init(&r);
        for (size_t i = 0; i < sizeof row / sizeof row[0]; i++)
            assert_int_equal(record_write(&r, "jiangbei", 1795860000000LL, row[i][0], row[i][1]),
                             0);
        check(&t, &r);
        record_free(&r);
    }

    /* random states: small, medium and a few large ones */
    for (int i = 0; i < 3000; i++) {
        rand_state(&r, 1 + (int)(rnd() % 12), 4);
        check(&t, &r);
        record_free(&r);
    }
    for (int i = 0; i < 300; i++) {
        rand_state(&r, 20 + (int)(rnd() % 200), 12);
        check(&t, &r);
        record_free(&r);
    }
    for (int i = 0; i < 5; i++) {
        rand_state(&r, 3000, 40);
        check(&t, &r);
        record_free(&r);
    }

    print_message("%zu states, %zu bytes, hash 0x%016" PRIx64 "\n", t.states, t.bytes, t.hash);
    assert_int_equal(t.hash, CORPUS_HASH);
}

/* Every byte at every place of values long enough for a word-at-a-time
 * scan (8 bytes a word), over ASCII and over UTF-8 (bytes >= 0x80, which
 * such scans get wrong when they borrow across bytes), alone and with a
 * second escape further on; compared with the old encoder only (the
 * pinned hash above is the corpus of round 8). */
static void test_bytes_every_place(void **state)
{
    (void)state;
    static const char *const bases[] = {"abcdefghijklmnopqrstuvwxyz", "会会会会会会会会会",
                                        "\xff\xfe\x80\x81\xe4\xbc\x9a\xa0\xbf"
                                        "\xc3\xa9\xf0\x9f\x98\x80\x7e\x20\x21"};
    tally t = {0xcbf29ce484222325ull, 0, 0};
    char v[64];
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        size_t n = strlen(bases[b]);
        for (int c = 1; c < 256; c++)
            for (size_t at = 0; at < n; at++) {
                record r;
                record_init(&r);
                memcpy(v, bases[b], n + 1);
                v[at] = (char)c;
                assert_int_equal(record_write(&r, "hq", 1795860000000LL, "note", v), 0);
                check(&t, &r);
                v[(at + 9) % n] = (char)(c ^ 0x5c ? c ^ 0x5c : 1);
                assert_int_equal(record_write(&r, "hq", 1795860000000LL, "a", v), 0);
                assert_int_equal(record_write(&r, "hq", 1795860000000LL, "name", bases[b]), 0);
                check(&t, &r);
                record_free(&r);
            }
    }
}

/* record_time_format itself (other callers show times): the old text for
 * the edges, a million random times and every buffer size up to 40. */
static void test_time_format_unchanged(void **state)
{
    (void)state;
    char got[48], want[48];
    for (int i = 0; i < 1000000; i++) {
        int64_t ms = rand_time();
        size_t outlen = i % 50 == 0 ? (size_t)(rnd() % 41) + 1 : 32;
        memset(got, 'G', sizeof got);
        memset(want, 'G', sizeof want);
        record_time_format(got, outlen, ms);
        old_time_format(want, outlen, ms);
        if (memcmp(got, want, sizeof got) != 0)
            fail_msg("time %" PRId64 " (outlen %zu): got %.*s, want %.*s", ms, outlen, (int)outlen,
                     got, (int)outlen, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_unchanged),
        cmocka_unit_test(test_bytes_every_place),
        cmocka_unit_test(test_time_format_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
