/* test_packparse.c - the take-in's own pack parser (daemon/store/packparse.c)
 * on packs built here byte by byte: a whole pack is parsed, every object
 * handed over once with the bytes it was deflated from, its CRC-32 and
 * offset right, and ids as `git hash-object` makes them; every pack it
 * must leave to libgit2's indexer (truncated, a lying object count, bad
 * zlib, a size that does not match, deltas, tags, a wrong checksum, bytes
 * after the last entry, an object over the limit, a callback that stops)
 * is refused with a reason and nothing kept. Also writes the fuzz corpus
 * of tests/fuzz/fuzz_packparse.c when FUZZ_CORPUS_OUT is set. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "daemon/store/packparse.h"

/* ---- building packs ------------------------------------------------------ */

typedef struct {
    unsigned char *b;
    size_t len, cap;
} bytes;

static void put(bytes *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
        assert_non_null(o->b);
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void pack_start(bytes *o, uint32_t count)
{
    unsigned char h[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    h[8] = (unsigned char)(count >> 24);
    h[9] = (unsigned char)(count >> 16);
    h[10] = (unsigned char)(count >> 8);
    h[11] = (unsigned char)count;
    o->len = 0;
    put(o, h, 12);
}

/* An entry of type t announcing size `said`, deflating data[0..len). */
static void pack_entry(bytes *o, int t, uint64_t said, const void *data, size_t len)
{
    unsigned char hdr[16], z[4096];
    uLongf zl = sizeof z;
    put(o, hdr, packfile_entry_header(hdr, t, said));
    assert_int_equal(compress2(z, &zl, data, len, 1), Z_OK);
    put(o, z, zl);
}

static void pack_end(bytes *o)
{
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    assert_true(EVP_Digest(o->b, o->len, sum, &n, EVP_sha1(), NULL));
    put(o, sum, 20);
}

static const char *blobs[] = {"name: one\n", "name: two\n", "", "name: three\nphone: 1\n"};

/* The valid pack: three blobs and an empty one. */
static void pack_valid(bytes *o)
{
    pack_start(o, 4);
    for (int i = 0; i < 4; i++)
        pack_entry(o, PACKFILE_BLOB, strlen(blobs[i]), blobs[i], strlen(blobs[i]));
    pack_end(o);
}

/* ---- the callback ---------------------------------------------------------- */

typedef struct {
    size_t seen, stop_at, flushed;
    char data[8][64];
} got;

static int on_batch(void *arg, packparse_obj *o, size_t first, size_t n, char *why, size_t whylen)
{
    got *g = arg;
    if (n == 0) { /* the last call */
        assert_null(o);
        g->flushed++;
        return 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(first, g->seen);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(packfile_hash(o[i].e->id, ctx, o[i].type, o[i].data, o[i].len), 0);
        if (g->seen < 8)
            snprintf(g->data[g->seen], sizeof g->data[0], "%.*s", (int)o[i].len, o[i].data);
        if (++g->seen == g->stop_at) {
            snprintf(why, whylen, "stopped by the test");
            EVP_MD_CTX_free(ctx);
            return 1;
        }
    }
    EVP_MD_CTX_free(ctx);
    return 0;
}

static uerr run(const bytes *o, size_t len, uint64_t maxsize, got *g, char *err, size_t errlen)
{
    packfile_entry *e = (packfile_entry *)1;
    size_t n = 99;
    unsigned char sum[20];
    packparse_limits lim = {100000, maxsize};
    err[0] = 0;
    uerr rc = packparse_run(&e, &n, sum, o->b, len, &lim, on_batch, g, err, errlen);
    if (rc != UERR_OK) {
        assert_null(e);
        assert_int_equal(n, 0);
        assert_true(err[0] != 0);
    } else {
        assert_memory_equal(sum, o->b + len - 20, 20);
        free(e);
    }
    return rc;
}

/* ---- tests ------------------------------------------------------------------- */

static void whole_pack_parsed(void **state)
{
    (void)state;
    bytes o = {0};
    got g = {0};
    char err[256];
    pack_valid(&o);
    packfile_entry *e = NULL;
    size_t n = 0;
    unsigned char sum[20];
    packparse_limits lim = {1000, 1 << 20};
    assert_int_equal(packparse_run(&e, &n, sum, o.b, o.len, &lim, on_batch, &g, err, sizeof err),
                     UERR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(g.seen, 4);
    assert_int_equal(g.flushed, 1);
    for (int i = 0; i < 4; i++)
        assert_string_equal(g.data[i], blobs[i]);
    /* the first entry right after the header; each CRC over the whole
     * entry; ids as git makes them */
    assert_int_equal(e[0].off, 12);
    for (size_t i = 0; i < n; i++) {
        uint64_t end = i + 1 < n ? e[i + 1].off : o.len - 20;
        assert_int_equal(e[i].crc, (uint32_t)crc32(0, o.b + e[i].off, (uInt)(end - e[i].off)));
    }
    char hex[41];
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", e[0].id[i]);
    /* printf 'name: one\n' | git hash-object --stdin */
    FILE *p = popen("printf 'name: one\\n' | git hash-object --stdin", "r");
    char want[64] = "";
    assert_non_null(p);
    assert_non_null(fgets(want, sizeof want, p));
    pclose(p);
    want[40] = 0;
    assert_string_equal(hex, want);
    free(e);
    free(o.b);
}

static void left_to_the_indexer(void **state)
{
    (void)state;
    bytes o = {0};
    char err[256];
    got g = {0};
    /* truncated, at every length */
    pack_valid(&o);
    for (size_t cut = 0; cut < o.len; cut++) {
        g = (got){0};
        assert_int_equal(run(&o, cut, 1 << 20, &g, err, sizeof err), UERR_PEER);
    }
    /* a wrong checksum */
    o.b[o.len - 1] ^= 1;
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    assert_non_null(strstr(err, "checksum"));
    /* a count the bytes cannot hold: refused before anything is sized by it */
    pack_start(&o, 0xffffffffu);
    pack_entry(&o, PACKFILE_BLOB, 3, "abc", 3);
    pack_end(&o);
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    /* more objects announced than there are */
    pack_start(&o, 2);
    pack_entry(&o, PACKFILE_BLOB, 3, "abc", 3);
    pack_end(&o);
    g = (got){0};
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    /* fewer: bytes after the last entry */
    pack_start(&o, 1);
    pack_entry(&o, PACKFILE_BLOB, 3, "abc", 3);
    pack_entry(&o, PACKFILE_BLOB, 3, "def", 3);
    pack_end(&o);
    g = (got){0};
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    assert_non_null(strstr(err, "after the last entry"));
    /* a size that does not match what inflates, either way */
    for (int d = -1; d <= 1; d += 2) {
        pack_start(&o, 1);
        pack_entry(&o, PACKFILE_BLOB, (uint64_t)(3 + d), "abc", 3);
        pack_end(&o);
        g = (got){0};
        assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    }
    /* bad zlib: the stream's bytes flipped (the checksum made anew) */
    pack_start(&o, 1);
    pack_entry(&o, PACKFILE_BLOB, 10, "name: one\n", 10);
    o.b[o.len - 3] ^= 0xff;
    pack_end(&o);
    g = (got){0};
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    assert_non_null(strstr(err, "zlib"));
    /* deltas (OFS and REF) and tags are the indexer's */
    for (int t = 4; t <= 7; t++) {
        if (t == 5)
            continue;
        pack_start(&o, 1);
        pack_entry(&o, t, 3, "abc", 3);
        pack_end(&o);
        g = (got){0};
        assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
        assert_non_null(strstr(err, "delta or tag"));
    }
    /* an object over the size limit, refused from its header */
    pack_start(&o, 1);
    pack_entry(&o, PACKFILE_BLOB, 10, "name: one\n", 10);
    pack_end(&o);
    g = (got){0};
    assert_int_equal(run(&o, o.len, 9, &g, err, sizeof err), UERR_PEER);
    assert_int_equal(g.seen, 0);
    assert_int_equal(run(&o, o.len, 10, &g, err, sizeof err), UERR_OK);
    /* a size varint that never ends */
    pack_start(&o, 1);
    unsigned char forever[12];
    memset(forever, 0xbf, sizeof forever);
    put(&o, forever, sizeof forever);
    pack_end(&o);
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    /* not a pack, another version */
    pack_valid(&o);
    o.b[7] = 3;
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    /* the callback's refusal stops the parse, with its reason */
    pack_valid(&o);
    g = (got){0};
    g.stop_at = 2;
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_PEER);
    assert_string_equal(err, "stopped by the test");
    assert_int_equal(g.flushed, 1); /* told the end after its refusal too */
    free(o.b);
}

/* Many objects: batches follow each other in pack order. */
static void batches_in_order(void **state)
{
    (void)state;
    bytes o = {0};
    char err[256], buf[32];
    size_t n = PACKPARSE_BATCH_OBJECTS * 2 + 5;
    pack_start(&o, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        int l = snprintf(buf, sizeof buf, "name: %zu\n", i);
        pack_entry(&o, PACKFILE_BLOB, (uint64_t)l, buf, (size_t)l);
    }
    pack_end(&o);
    got g = {0};
    assert_int_equal(run(&o, o.len, 1 << 20, &g, err, sizeof err), UERR_OK);
    assert_int_equal(g.seen, n);
    free(o.b);
}

/* Objects of 100,000 bytes each: the batch buffers grow from their first
 * 64 KiB, and every object still holds its own bytes when handed over
 * (pointers are made after the buffer moved). */
static int on_big(void *arg, packparse_obj *o, size_t first, size_t n, char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    size_t *seen = arg;
    for (size_t i = 0; i < n; i++) {
        unsigned char want = (unsigned char)('a' + (first + i) % 26);
        assert_int_equal(o[i].len, 100000);
        for (size_t k = 0; k < o[i].len; k += 997)
            assert_int_equal(o[i].data[k], want);
        assert_int_equal(o[i].data[o[i].len - 1], want);
        (*seen)++;
    }
    return 0;
}

static void big_objects_grow_the_buffer(void **state)
{
    (void)state;
    bytes o = {0};
    char err[256];
    enum { NBIG = 40, BIG = 100000 };
    unsigned char *blob = malloc(BIG);
    assert_non_null(blob);
    pack_start(&o, NBIG);
    for (int i = 0; i < NBIG; i++) {
        memset(blob, 'a' + i % 26, BIG);
        pack_entry(&o, PACKFILE_BLOB, BIG, blob, BIG);
    }
    pack_end(&o);
    packfile_entry *e = NULL;
    size_t n = 0, seen = 0;
    unsigned char sum[20];
    packparse_limits lim = {1000, 1 << 20};
    assert_int_equal(packparse_run(&e, &n, sum, o.b, o.len, &lim, on_big, &seen, err, sizeof err),
                     UERR_OK);
    assert_int_equal(n, NBIG);
    assert_int_equal(seen, NBIG);
    free(e);
    free(blob);
    free(o.b);
}

static int on_count(void *arg, packparse_obj *o, size_t first, size_t n, char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    (void)first;
    size_t *seen = arg;
    for (size_t i = 0; i < n; i++) {
        o[i].e->id[0] = 1; /* any id */
        (*seen)++;
    }
    return 0;
}

/* A pack of more than a MiB is hashed on a thread of its own while its
 * entries are inflated and handed over: every batch reaches the callback
 * even when the trailer is wrong, and the verdict still waits for the
 * hash (refused: "checksum"); with the trailer right, packsum is it. */
static void large_pack_hashed_meanwhile(void **state)
{
    (void)state;
    bytes o = {0};
    char err[256];
    enum { NBLOB = 300, SIZE = 4000 }; /* (pack_entry deflates into 4 KiB) */
    unsigned char *blob = malloc(SIZE), sum[20];
    uint32_t x = 2463534242u;
    assert_non_null(blob);
    pack_start(&o, NBLOB);
    for (int i = 0; i < NBLOB; i++) {
        for (size_t k = 0; k < SIZE; k++) { /* incompressible: the pack is > 1 MiB */
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            blob[k] = (unsigned char)x;
        }
        pack_entry(&o, PACKFILE_BLOB, SIZE, blob, SIZE);
    }
    pack_end(&o);
    assert_true(o.len > (1u << 20));
    packfile_entry *e = NULL;
    size_t n = 0, seen = 0;
    packparse_limits lim = {1000, 1 << 20};
    assert_int_equal(packparse_run(&e, &n, sum, o.b, o.len, &lim, on_count, &seen, err, sizeof err),
                     UERR_OK);
    assert_int_equal(n, NBLOB);
    assert_memory_equal(sum, o.b + o.len - 20, 20);
    free(e);
    o.b[o.len - 1] ^= 1;
    seen = 0;
    assert_int_equal(packparse_run(&e, &n, sum, o.b, o.len, &lim, on_count, &seen, err, sizeof err),
                     UERR_PEER);
    assert_non_null(strstr(err, "checksum"));
    assert_int_equal(seen, NBLOB); /* parsed while the hash ran */
    assert_null(e);
    free(blob);
    free(o.b);
}

/* FUZZ_CORPUS_OUT=dir: the packs above as seed inputs for fuzz_packparse. */
static void write_corpus(const char *dir)
{
    bytes o = {0};
    char path[512];
    struct {
        const char *name;
        int kind;
    } seeds[] = {{"whole", 0},         {"truncated", 1}, {"bad-checksum", 2},
                 {"huge-count", 3},    {"bad-zlib", 4},  {"ofs-delta", 5},
                 {"size-mismatch", 6}, {"twice", 7},     {"stop", 8}};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        size_t len;
        switch (seeds[s].kind) {
        case 3:
            pack_start(&o, 0x7fffffff);
            pack_entry(&o, PACKFILE_BLOB, 3, "abc", 3);
            pack_end(&o);
            break;
        case 4:
            pack_start(&o, 1);
            pack_entry(&o, PACKFILE_BLOB, 10, "name: one\n", 10);
            o.b[o.len - 3] ^= 0xff;
            pack_end(&o);
            break;
        case 5:
            pack_start(&o, 2);
            pack_entry(&o, PACKFILE_BLOB, 10, "name: one\n", 10);
            pack_entry(&o, 6, 3, "\x01\x0c\x0c", 3);
            pack_end(&o);
            break;
        case 6:
            pack_start(&o, 1);
            pack_entry(&o, PACKFILE_TREE, 40, "40000 x", 7);
            pack_end(&o);
            break;
        case 7:
        case 8:
            pack_start(&o, 2);
            pack_entry(&o, PACKFILE_BLOB, 4, seeds[s].kind == 7 ? "abcd" : "STOP", 4);
            pack_entry(&o, PACKFILE_BLOB, 4, "abcd", 4);
            pack_end(&o);
            break;
        default:
            pack_valid(&o);
        }
        len = seeds[s].kind == 1 ? o.len / 2 : o.len;
        if (seeds[s].kind == 2)
            o.b[o.len - 5] ^= 1;
        snprintf(path, sizeof path, "%s/%s", dir, seeds[s].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(o.b, 1, len, f) != len)
            abort();
        fclose(f);
    }
    free(o.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_pack_parsed),
        cmocka_unit_test(left_to_the_indexer),
        cmocka_unit_test(batches_in_order),
        cmocka_unit_test(big_objects_grow_the_buffer),
        cmocka_unit_test(large_pack_hashed_meanwhile),
    };
    if (getenv("FUZZ_CORPUS_OUT")) {
        write_corpus(getenv("FUZZ_CORPUS_OUT"));
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
