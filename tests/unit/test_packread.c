/* test_packread.c - the bounded pack reader of pack reuse
 * (daemon/store/packread.c) against packs git itself wrote in a mkdtemp
 * repository: every object read back (inflated from the entry the reader
 * hands out) equals `git cat-file`; deltas are told apart and not handed
 * out; large (8-byte) offsets are followed; a truncated or damaged .idx
 * or .pack is refused at once rather than read out of bounds (the ASan
 * build checks that); a flipped byte inside an entry fails its CRC-32. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/unit_sh.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "daemon/store/packread.h"

static char root[64];

static unsigned char *slurp(size_t *len, const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A repository with commits of similar blobs (so that a plain repack
 * makes deltas), one larger blob (a multi-byte size header), a tree and
 * commits. repack_opts picks the pack git writes. Returns its .idx path
 * in idx (the one pack). */
static void make_repo(char *idx, size_t idxlen, const char *name, const char *repack_opts)
{
    char repo[128];
    snprintf(repo, sizeof repo, "%s/%s", root, name);
    unit_sh_ok("git init -q '%s' && cd '%s' && git config user.name t && git config user.email t@t",
               repo, repo);
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 12; i++)
            unit_sh_ok("cd '%s' && seq 1 %d | sed 's/^/line %d of a record /' > f%02d", repo,
                       200 + i * 7, c, i);
        unit_sh_ok(
            "cd '%s' && head -c 70000 /dev/zero | tr '\\0' x > big && git add -A && git commit -qm "
            "c%d",
            repo, c);
    }
    unit_sh_ok("cd '%s' && git repack -q %s && git prune-packed && git count-objects -v | grep -q "
               "'^count: 0'",
               repo, repack_opts);
    size_t n;
    unsigned char *p = unit_sh_capture(&n, "ls '%s'/.git/objects/pack/*.idx", repo);
    assert_true(n > 5 && p[n - 1] == '\n');
    assert_null(memchr(p, '\n', n - 1)); /* exactly one pack */
    snprintf(idx, idxlen, "%.*s", (int)(n - 1), (char *)p);
    free(p);
}

static const char *type_name(int t)
{
    static const char *const names[] = {"", "commit", "tree", "blob", "tag"};
    return t >= 1 && t <= 4 ? names[t] : "delta";
}

/* Inflate an entry's data (after the header) into out (size bytes). */
static void inflate_entry(unsigned char *out, uint64_t size, const unsigned char *b,
                          const packread_entry *e)
{
    uLongf outlen = (uLongf)size;
    z_stream z = {0};
    assert_int_equal(inflateInit(&z), Z_OK);
    z.next_in = (unsigned char *)b + e->hdrlen;
    z.avail_in = (uInt)(e->len - e->hdrlen);
    z.next_out = out;
    z.avail_out = (uInt)outlen;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, size);
    assert_int_equal(z.avail_in, 0); /* the entry ends where the next begins */
    inflateEnd(&z);
}

/* Every object of the pack: whole ones equal git cat-file; returns the
 * number of deltas seen. */
static size_t check_every_object(const packread *p, const char *repo)
{
    size_t deltas = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        char hex[41], why[128];
        for (int k = 0; k < 20; k++)
            snprintf(hex + 2 * k, 3, "%02x", p->oids[i * 20 + k]);
        assert_int_equal(packread_find(p, p->oids + (size_t)i * 20), (long)i);
        packread_entry e;
        assert_int_equal(packread_entry_at(&e, p, i, why, sizeof why), UERR_OK);
        const unsigned char *b = packread_entry_bytes(p, &e);
        assert_non_null(b);
        size_t tn, cn;
        unsigned char *t =
            unit_sh_capture(&tn, "git --git-dir='%s/.git' cat-file -t %s", repo, hex);
        if (e.type == PACKREAD_OFS_DELTA || e.type == PACKREAD_REF_DELTA) {
            deltas++;
            free(t);
            continue;
        }
        assert_int_equal(tn, strlen(type_name(e.type)) + 1);
        assert_memory_equal(t, type_name(e.type), tn - 1);
        free(t);
        unsigned char *want = unit_sh_capture(&cn, "git --git-dir='%s/.git' cat-file %s %s", repo,
                                              type_name(e.type), hex);
        assert_int_equal(e.size, cn);
        unsigned char *got = malloc(cn + 1);
        assert_non_null(got);
        inflate_entry(got, e.size, b, &e);
        assert_memory_equal(got, want, cn);
        free(got);
        free(want);
    }
    return deltas;
}

static void objects_read_back(void **state)
{
    (void)state;
    char idx[512], repo[128], why[256];
    packread p;
    /* window 0: every object whole, as uniond's own writer stores them */
    make_repo(idx, sizeof idx, "whole", "-adf --window=0");
    snprintf(repo, sizeof repo, "%s/whole", root);
    assert_int_equal(packread_open(&p, idx, why, sizeof why), UERR_OK);
    assert_true(p.n >= 3 * 3 + 12 + 1);
    assert_int_equal(check_every_object(&p, repo), 0);
    packread_free(&p);

    /* git's usual repack: deltas are recognised, whole objects still read */
    make_repo(idx, sizeof idx, "deltas", "-adf");
    snprintf(repo, sizeof repo, "%s/deltas", root);
    assert_int_equal(packread_open(&p, idx, why, sizeof why), UERR_OK);
    size_t deltas = check_every_object(&p, repo);
    assert_true(deltas > 0 && deltas < p.n);
    packread_free(&p);

    /* the set over the objects folder hands out whole objects only */
    packread_set set;
    char objdir[256];
    snprintf(objdir, sizeof objdir, "%s/.git/objects", repo);
    assert_int_equal(packread_set_open(&set, objdir, why, sizeof why), UERR_OK);
    assert_int_equal(set.n, 1);
    assert_int_equal(set.refused, 0);
    assert_int_equal(packread_count_estimate(objdir), set.v[0].n); /* from the .idx size */
    size_t whole = 0, nd = 0;
    for (uint32_t i = 0; i < set.v[0].n; i++) {
        size_t len;
        int damaged = 0;
        const unsigned char *b =
            packread_set_whole(&len, &set, set.v[0].oids + (size_t)i * 20, &damaged);
        assert_int_equal(damaged, 0);
        whole += b != NULL;
        nd += b == NULL;
    }
    assert_int_equal(nd, deltas);
    assert_int_equal(whole + deltas, set.v[0].n);
    unsigned char absent[20] = {0};
    size_t len;
    int damaged = 0;
    assert_null(packread_set_whole(&len, &set, absent, &damaged));
    packread_set_free(&set);
}

/* The .idx rewritten with entry 0's offset moved to the 8-byte table. */
static unsigned char *with_large_offset(size_t *outlen, const unsigned char *idx, size_t idxlen,
                                        uint32_t n, uint32_t large_index)
{
    size_t offs = 8 + 1024 + (size_t)n * 24;
    unsigned char *o = malloc(idxlen + 8);
    assert_non_null(o);
    memcpy(o, idx, idxlen - 40);
    uint32_t off0 = (uint32_t)idx[offs] << 24 | (uint32_t)idx[offs + 1] << 16 |
                    (uint32_t)idx[offs + 2] << 8 | idx[offs + 3];
    uint32_t v = 0x80000000u | large_index;
    for (int k = 0; k < 4; k++)
        o[offs + k] = (unsigned char)(v >> (24 - 8 * k));
    unsigned char *l = o + idxlen - 40;
    memset(l, 0, 4);
    for (int k = 0; k < 4; k++)
        l[4 + k] = (unsigned char)(off0 >> (24 - 8 * k));
    memcpy(l + 8, idx + idxlen - 40, 40);
    *outlen = idxlen + 8;
    return o;
}

static void damage_refused(void **state)
{
    (void)state;
    char idxpath[512], packpath[512], why[256];
    make_repo(idxpath, sizeof idxpath, "damage", "-adf --window=0");
    snprintf(packpath, sizeof packpath, "%.*s.pack", (int)(strlen(idxpath) - 4), idxpath);
    size_t il, pl;
    unsigned char *idx = slurp(&il, idxpath), *pack = slurp(&pl, packpath);
    packread p = {0};
    assert_int_equal(packread_init(&p, idx, il, pack, pl, why, sizeof why), UERR_OK);
    uint32_t n = p.n;
    packread_free(&p);

    /* every truncation of the .idx, and of the .pack, is refused; each
     * cut copy is its own allocation so that ASan sees any overread */
    for (size_t cut = 0; cut < il; cut++) {
        unsigned char *c = malloc(cut ? cut : 1);
        memcpy(c, idx, cut);
        memset(&p, 0, sizeof p);
        assert_int_not_equal(packread_init(&p, c, cut, pack, pl, why, sizeof why), UERR_OK);
        assert_true(why[0] != 0);
        assert_int_equal(packread_find(&p, idx + 8 + 1024), -1);
        packread_free(&p);
        free(c);
    }
    for (size_t cut = 0; cut < pl; cut += cut < 64 ? 1 : 97) {
        unsigned char *c = malloc(cut ? cut : 1);
        memcpy(c, pack, cut);
        memset(&p, 0, sizeof p);
        assert_int_not_equal(packread_init(&p, idx, il, c, cut, why, sizeof why), UERR_OK);
        packread_free(&p);
        free(c);
    }

    /* an offset pointing past the pack, a fan-out going down, ids out of
     * order, a count the pack does not agree with, another pack's index */
    size_t offs = 8 + 1024 + (size_t)n * 24;
    struct {
        size_t at;
        unsigned char val;
    } flips[] = {{offs, 0x7f}, {8 + 4 * 10, 0xff}, {8 + 1024 + 20, 0x01}, {il - 40, 0xff}};
    for (size_t f = 0; f <= sizeof flips / sizeof flips[0]; f++) {
        unsigned char *c = malloc(il);
        memcpy(c, idx, il);
        if (f < sizeof flips / sizeof flips[0])
            c[flips[f].at] ^= flips[f].val;
        else /* the first id twice */
            memcpy(c + 8 + 1024 + 20, c + 8 + 1024, 20);
        memset(&p, 0, sizeof p);
        assert_int_not_equal(packread_init(&p, c, il, pack, pl, why, sizeof why), UERR_OK);
        packread_free(&p);
        free(c);
    }
    unsigned char *pc = malloc(pl);
    memcpy(pc, pack, pl);
    pc[11] ^= 1; /* the object count */
    memset(&p, 0, sizeof p);
    assert_int_not_equal(packread_init(&p, idx, il, pc, pl, why, sizeof why), UERR_OK);
    packread_free(&p);

    /* large offsets: followed when the index is in range, refused not */
    size_t ll;
    unsigned char *large = with_large_offset(&ll, idx, il, n, 0);
    memset(&p, 0, sizeof p);
    assert_int_equal(packread_init(&p, large, ll, pack, pl, why, sizeof why), UERR_OK);
    packread_entry e;
    assert_int_equal(packread_entry_at(&e, &p, 0, why, sizeof why), UERR_OK);
    assert_non_null(packread_entry_bytes(&p, &e));
    packread_free(&p);
    free(large);
    large = with_large_offset(&ll, idx, il, n, 1);
    memset(&p, 0, sizeof p);
    assert_int_not_equal(packread_init(&p, large, ll, pack, pl, why, sizeof why), UERR_OK);
    packread_free(&p);
    free(large);

    /* a flipped byte inside an entry's deflated data: the pair still
     * parses, but that entry fails its CRC-32 and is not handed out */
    memcpy(pc, pack, pl);
    memset(&p, 0, sizeof p);
    assert_int_equal(packread_init(&p, idx, il, pc, pl, why, sizeof why), UERR_OK);
    assert_int_equal(packread_entry_at(&e, &p, 0, why, sizeof why), UERR_OK);
    pc[e.off + e.len - 1] ^= 0x40;
    assert_null(packread_entry_bytes(&p, &e));
    /* and a damaged CRC in the index refuses the intact entry the same way */
    pc[e.off + e.len - 1] ^= 0x40;
    assert_non_null(packread_entry_bytes(&p, &e));
    e.crc ^= 1;
    assert_null(packread_entry_bytes(&p, &e));
    assert_int_not_equal(packread_entry_at(&e, &p, n, why, sizeof why), UERR_OK);
    packread_free(&p);
    free(pc);
    free(idx);
    free(pack);

    /* files: a missing .pack beside the .idx, a name that is not .idx */
    char gone[600];
    snprintf(gone, sizeof gone, "%s.gone", packpath);
    assert_int_equal(rename(packpath, gone), 0);
    assert_int_equal(packread_open(&p, idxpath, why, sizeof why), UERR_IO);
    assert_int_equal(packread_open(&p, packpath, why, sizeof why), UERR_INVALID);
    packread_set set;
    char objdir[256];
    snprintf(objdir, sizeof objdir, "%s/damage/.git/objects", root);
    assert_int_equal(packread_set_open(&set, objdir, why, sizeof why), UERR_OK);
    assert_int_equal(set.n, 0);
    assert_int_equal(set.refused, 1);
    packread_set_free(&set);
}

/* A damaged entry found through the set is counted, not handed out. */
static void set_counts_damage(void **state)
{
    (void)state;
    char idxpath[512], packpath[512], why[256], objdir[256];
    make_repo(idxpath, sizeof idxpath, "setdamage", "-adf --window=0");
    snprintf(packpath, sizeof packpath, "%.*s.pack", (int)(strlen(idxpath) - 4), idxpath);
    packread p;
    packread_entry e;
    assert_int_equal(packread_open(&p, idxpath, why, sizeof why), UERR_OK);
    assert_int_equal(packread_entry_at(&e, &p, 3, why, sizeof why), UERR_OK);
    unsigned char id[20];
    memcpy(id, p.oids + 3 * 20, 20);
    uint64_t at = e.off + e.hdrlen + 1;
    packread_free(&p);
    unit_sh_ok("chmod u+w '%s' && printf 'Z' | dd of='%s' bs=1 seek=%llu conv=notrunc status=none",
               packpath, packpath, (unsigned long long)at);
    packread_set set;
    snprintf(objdir, sizeof objdir, "%s/setdamage/.git/objects", root);
    assert_int_equal(packread_set_open(&set, objdir, why, sizeof why), UERR_OK);
    assert_int_equal(set.n, 1);
    size_t len;
    int damaged = 0;
    assert_null(packread_set_whole(&len, &set, id, &damaged));
    assert_int_equal(damaged, 1);
    packread_set_free(&set);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/uniond-packread.XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objects_read_back),
        cmocka_unit_test(damage_refused),
        cmocka_unit_test(set_counts_damage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
