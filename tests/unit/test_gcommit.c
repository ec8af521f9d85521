/* test_gcommit.c - unit tests for the store's group commit
 * (daemon/store/gcommit.c) on real bare repositories: the commits of a
 * batch are each their own commit (own message), chained, readable during
 * the batch, and the branch on disk moves only at store_batch_end, once;
 * a refused commit inside a batch leaves the others; a batch whose branch
 * cannot move keeps nothing; many small packs are joined at start; the
 * trees and commits a batch builds in memory (gctree.c) are the ones
 * libgit2 builds for the same writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/unit_sh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/store/store.h"
#include "proto/record.h"

#define T0 1795860000000LL

static char root[64];

static store *open_new(char dir[128], const char *name)
{
    char err[512];
    store *s = NULL;
    snprintf(dir, 128, "%s/%s.git", root, name);
    assert_int_equal(store_create(dir, "node-a", err, sizeof err), UERR_OK);
    if (store_open(&s, dir, "node-a", err, sizeof err) != UERR_OK)
        fail_msg("store_open: %s", err);
    return s;
}

/* Commit record id with name=value and message msg; the store's code. */
static uerr put(store *s, const char *id, const char *value, const char *msg)
{
    record r;
    char *buf, err[512];
    size_t len;
    record_init(&r);
    assert_int_equal(record_write(&r, "node-a", T0, "name", value), 0);
    assert_int_equal(record_encode(&buf, &len, &r), 0);
    record_free(&r);
    store_change ch = {id, buf, len, KIND_MEMBER};
    uerr e = store_commit(s, &ch, 1, 0, "clerk", msg, err, sizeof err);
    free(buf);
    return e;
}

static void on_disk_head(char out[64], const char *dir)
{
    unit_sh_line(out, 64, "git --git-dir=%s rev-parse --verify -q refs/heads/node-a", dir);
}

static void batch_commits_each_then_moves_once(void **state)
{
    (void)state;
    char dir[128], err[512], before[64], mid[64], after[64], head[41], tree[41], *buf;
    size_t len;
    store *s = open_new(dir, "chain");
    assert_int_equal(put(s, "r0", "zero", "add r0\n"), UERR_OK);
    on_disk_head(before, dir);
    store_batch_begin(s);
    assert_int_equal(put(s, "r1", "one", "add r1\n"), UERR_OK);
    assert_int_equal(put(s, "bad/id", "x", "add bad\n"), UERR_INVALID); /* refused alone */
    assert_int_equal(put(s, "r2", "two", "add r2\n"), UERR_OK);
    assert_int_equal(store_batch_pending(s), 2);
    /* readable during the batch, not yet on disk */
    assert_int_equal(store_read(s, &buf, &len, "r1", err, sizeof err), UERR_OK);
    free(buf);
    on_disk_head(mid, dir);
    assert_string_equal(mid, before);
    assert_int_equal(store_batch_end(s, err, sizeof err), UERR_OK);
    assert_int_equal(store_batch_pending(s), 0);
    on_disk_head(after, dir);
    store_head(s, head, tree);
    assert_string_equal(after, head);
    /* two commits, each its own message, the first on the old head */
    char line[256];
    unit_sh_line(line, sizeof line,
                 "git --git-dir=%s log --format=%%s -n 3 refs/heads/node-a | tr '\\n' ,", dir);
    assert_string_equal(line, "add r2,add r1,add r0,");
    unit_sh_line(line, sizeof line, "git --git-dir=%s rev-parse refs/heads/node-a~2", dir);
    assert_string_equal(line, before);
    assert_int_equal(unit_sh("test -e %s/refs/heads/node-a.lock", dir), 1); /* renamed in */
    /* the last change status shows, kept as the batch made the commit:
     * what git says of the head commit */
    int64_t t;
    char who[128], want[160], got[160];
    assert_int_equal(store_last_change(s, &t, who, sizeof who, err, sizeof err), UERR_OK);
    snprintf(got, sizeof got, "%lld %s", (long long)t, who);
    unit_sh_line(want, sizeof want,
                 "git --git-dir=%s log -1 --format='%%ct %%ae' refs/heads/node-a", dir);
    assert_string_equal(got, want);
    assert_int_equal(unit_sh("git --git-dir=%s fsck --strict --no-dangling >/dev/null 2>&1", dir),
                     0);
    store_free(s);
}

static void batch_that_cannot_move_keeps_nothing(void **state)
{
    (void)state;
    char dir[128], err[512], before[64], after[64], head[41], tree[41], *buf;
    size_t len;
    store *s = open_new(dir, "locked");
    assert_int_equal(put(s, "r0", "zero", "add r0\n"), UERR_OK);
    on_disk_head(before, dir);
    store_batch_begin(s);
    assert_int_equal(put(s, "r1", "one", "add r1\n"), UERR_OK);
    assert_int_equal(unit_sh("touch %s/refs/heads/node-a.lock", dir), 0);
    assert_int_not_equal(store_batch_end(s, err, sizeof err), UERR_OK);
    assert_int_equal(unit_sh("rm %s/refs/heads/node-a.lock", dir), 0);
    on_disk_head(after, dir);
    assert_string_equal(after, before);
    store_head(s, head, tree);
    assert_string_equal(head, before);
    assert_int_equal(store_read(s, &buf, &len, "r1", err, sizeof err), UERR_NOTFOUND);
    /* and the store goes on */
    assert_int_equal(put(s, "r3", "three", "add r3\n"), UERR_OK);
    assert_int_equal(unit_sh("git --git-dir=%s fsck --strict >/dev/null 2>&1", dir), 0);
    store_free(s);
}

/* The branch moved on disk by someone else (plain git) during a batch:
 * the batch's move (refstage.c, lock written beside the pack) sees it
 * under the lock, refuses, and leaves the branch and no lock file. */
static void batch_whose_branch_moved_keeps_nothing(void **state)
{
    (void)state;
    char dir[128], err[512], before[64], moved[64], after[64];
    store *s = open_new(dir, "moved");
    assert_int_equal(put(s, "r0", "zero", "add r0\n"), UERR_OK);
    assert_int_equal(put(s, "r00", "zero", "add r00\n"), UERR_OK);
    on_disk_head(before, dir);
    store_batch_begin(s);
    assert_int_equal(put(s, "r1", "one", "add r1\n"), UERR_OK);
    assert_int_equal(
        unit_sh("git --git-dir=%s update-ref refs/heads/node-a refs/heads/node-a~1", dir), 0);
    on_disk_head(moved, dir);
    assert_string_not_equal(moved, before);
    assert_int_equal(store_batch_end(s, err, sizeof err), UERR_CONFLICT);
    on_disk_head(after, dir);
    assert_string_equal(after, moved);
    assert_int_equal(unit_sh("test -e %s/refs/heads/node-a.lock", dir), 1);
    store_free(s);
}

/* The next batch starts from the trees the last one wrote, kept in
 * memory (gctree.c, store_tcache): with the last batch's pack moved away
 * from the store, a new batch still builds (it reads no tree of it from
 * disk), and once the pack is back the store is whole. */
static void batch_starts_from_the_last_batchs_trees(void **state)
{
    (void)state;
    char dir[128], err[512], pack[256];
    store *s = open_new(dir, "tcache");
    store_batch_begin(s);
    assert_int_equal(put(s, "r1", "one", "add r1\n"), UERR_OK);
    assert_int_equal(store_batch_end(s, err, sizeof err), UERR_OK);
    unit_sh_line(pack, sizeof pack, "ls %s/objects/pack/pack-*.pack", dir);
    assert_true(pack[0] != 0);
    assert_int_equal(unit_sh("mkdir %s/away && mv %s %s/away/ && mv %.*sidx %s/away/", dir, pack,
                             dir, (int)(strlen(pack) - 4), pack, dir),
                     0);
    store_batch_begin(s);
    assert_int_equal(put(s, "r2", "two", "add r2\n"), UERR_OK);
    assert_int_equal(store_batch_end(s, err, sizeof err), UERR_OK);
    assert_int_equal(unit_sh("mv %s/away/* %s/objects/pack/ && rmdir %s/away", dir, dir, dir), 0);
    assert_int_equal(unit_sh("git --git-dir=%s fsck --strict --no-dangling >/dev/null 2>&1", dir),
                     0);
    char line[64];
    unit_sh_line(line, sizeof line,
                 "git --git-dir=%s ls-tree -r --name-only refs/heads/node-a | wc -l", dir);
    assert_string_equal(line, "2");
    store_free(s);
}

static void small_packs_joined_at_open(void **state)
{
    (void)state;
    char dir[128], err[512], n[64], id[16];
    store *s = open_new(dir, "many");
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "r%d", i);
        store_batch_begin(s);
        assert_int_equal(put(s, id, "v", "add\n"), UERR_OK);
        assert_int_equal(store_batch_end(s, err, sizeof err), UERR_OK);
    }
    store_free(s);
    unit_sh_line(n, sizeof n, "ls %s/objects/pack | grep -c 'pack$'", dir);
    assert_string_equal(n, "40");
    assert_int_equal(store_open(&s, dir, "node-a", err, sizeof err), UERR_OK);
    store_startup_done(s);
    unit_sh_line(n, sizeof n, "ls %s/objects/pack | grep -c 'pack$'", dir);
    assert_string_equal(n, "1");
    for (int i = 0; i < 40; i++) {
        char *buf;
        size_t len;
        snprintf(id, sizeof id, "r%d", i);
        assert_int_equal(store_read(s, &buf, &len, id, err, sizeof err), UERR_OK);
        free(buf);
    }
    assert_int_equal(unit_sh("git --git-dir=%s fsck --strict --no-dangling >/dev/null 2>&1", dir),
                     0);
    store_free(s);
}

/* Commit the changes ids[0..n) (value v) as one commit. */
static uerr put_many(store *s, const char *const *ids, size_t n, const char *v, const char *msg)
{
    store_change ch[8];
    char *bufs[8], err[512];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        record r;
        size_t len;
        record_init(&r);
        assert_int_equal(record_write(&r, "node-a", T0, "name", v), 0);
        assert_int_equal(record_encode(&bufs[i], &len, &r), 0);
        record_free(&r);
        ch[i] = (store_change){ids[i], bufs[i], len, KIND_MEMBER};
    }
    uerr e = store_commit(s, ch, n, 0, "clerk", msg, err, sizeof err);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    return e;
}

/* The head commit's text with the times taken out. */
static void commit_text(char *out, size_t outlen, const char *dir)
{
    unit_sh_line(
        out, outlen,
        "git --git-dir=%s cat-file commit refs/heads/node-a | sed -E 's/> [0-9]+ [-+][0-9]{4}$/>/'"
        " | grep -v '^parent' | tail -n +2 | tr '\\n' '|'",
        dir);
}

static void batch_trees_are_libgit2s(void **state)
{
    (void)state;
    char da[128], db[128], err[512], ha[41], ta[41], hb[41], tb[41], ca[512], cb[512], id[32];
    store *a = open_new(da, "trees-batch"), *b = open_new(db, "trees-loose");
    /* an empty store first, then enough records that folders share trees */
    for (int round = 0; round < 6; round++) {
        store_batch_begin(a);
        for (int i = 0; i < 12; i++) {
            snprintf(id, sizeof id, "r%d", round * 12 + i);
            char v[16];
            snprintf(v, sizeof v, "v%d", round);
            assert_int_equal(put(a, id, v, "add\n"), UERR_OK);
            assert_int_equal(put(b, id, v, "add\n"), UERR_OK);
            store_head(a, ha, ta);
            store_head(b, hb, tb);
            assert_string_equal(ta, tb);
        }
        /* a record written again in a batch, and several in one commit */
        const char *two[] = {"r1", "zz9", "r70"};
        assert_int_equal(put_many(a, two, 3, "again", "edit\n"), UERR_OK);
        assert_int_equal(put_many(b, two, 3, "again", "edit\n"), UERR_OK);
        assert_int_equal(put(a, "r0", "v0", "back\n"), UERR_OK);
        assert_int_equal(put(b, "r0", "v0", "back\n"), UERR_OK);
        assert_int_equal(store_batch_end(a, err, sizeof err), UERR_OK);
        store_head(a, ha, ta);
        store_head(b, hb, tb);
        assert_string_equal(ta, tb);
        commit_text(ca, sizeof ca, da);
        commit_text(cb, sizeof cb, db);
        assert_string_equal(ca, cb);
    }
    assert_int_equal(unit_sh("git --git-dir=%s fsck --strict --no-dangling >/dev/null 2>&1", da),
                     0);
    store_free(a);
    store_free(b);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/test-gcommit-XXXXXX");
    if (!mkdtemp(root) || store_global_init() != UERR_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_global_shutdown();
    return unit_sh("rm -rf %s", root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_commits_each_then_moves_once),
        cmocka_unit_test(batch_that_cannot_move_keeps_nothing),
        cmocka_unit_test(batch_whose_branch_moved_keeps_nothing),
        cmocka_unit_test(batch_starts_from_the_last_batchs_trees),
        cmocka_unit_test(small_packs_joined_at_open),
        cmocka_unit_test(batch_trees_are_libgit2s),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
