/* test_recsnap.c - the persisted record index (daemon/store/recsnap.c):
 * built when missing, used when it matches the head tree, brought up to
 * date from the tree diff when stale (another tree), read from git when
 * its tree is gone, and detected and rebuilt when damaged (a flipped byte,
 * cut short, the header) or of another version; every way, the index
 * loaded holds exactly the records store_foreach gives (same kinds, same
 * states, same secondary index), and the schema records are handed on as
 * store_foreach gives them. Real bare git repositories in a mkdtemp
 * directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "daemon/store/recsnap.h"
#include "daemon/store/recsnap_fmt.h"
#include "daemon/store/store.h"
#include "proto/buf.h"
#include "proto/record.h"

static char root[64];

/* Every record handed on, each as "kind id len bytes"; compared as a
 * set (a snapshot brought up to date hands the changed records on last;
 * the index does not depend on the order). */
typedef struct {
    struct buf *items;
    size_t n;
} seen;

static int collect(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    seen *sn = arg;
    char head[128];
    assert_int_equal(buf[len], 0); /* NUL-terminated, as store_foreach's */
    sn->items = realloc(sn->items, (sn->n + 1) * sizeof *sn->items);
    assert_non_null(sn->items);
    struct buf *b = &sn->items[sn->n++];
    *b = (struct buf)BUF_INIT;
    int n = snprintf(head, sizeof head, "%d %s %zu ", (int)kind, id, len);
    assert_int_equal(buf_append(b, head, (size_t)n), UERR_OK);
    assert_int_equal(buf_append(b, buf, len), UERR_OK);
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    const struct buf *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->data, y->data, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void seen_sort(seen *sn)
{
    if (sn->n)
        qsort(sn->items, sn->n, sizeof *sn->items, item_cmp);
}

static void seen_free(seen *sn)
{
    for (size_t i = 0; i < sn->n; i++)
        buf_free(&sn->items[i]);
    free(sn->items);
}

static int stop_second(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    (void)kind, (void)id, (void)buf, (void)len;
    return ++*(int *)arg == 2 ? 7 : 0;
}

typedef struct {
    store *s;
    char dir[128];
    char snap[192];
} fixture;

static void commit_rec(fixture *f, const char *id, const char *value, record_kind kind)
{
    char *buf, err[256];
    size_t len;
    record r;
    record_init(&r);
    assert_int_equal(record_write(&r, "n1", 1795860000000LL, "name", value), 0);
    assert_int_equal(record_encode(&buf, &len, &r), 0);
    record_free(&r);
    store_change ch = {id, buf, len, kind};
    uerr e = store_commit(f->s, &ch, 1, 0, "clerk", "edit\n", err, sizeof err);
    if (e != UERR_OK)
        fail_msg("store_commit: %s", err);
    free(buf);
}

/* What a load feeds: the records into ix, the schema records (as blobs)
 * into sn, as ops_index_changed does. */
typedef struct {
    recindex ix;
    seen sn;
} loaded;

static int put_cb(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    loaded *ld = arg;
    record r;
    char err[256];
    if (record_id_is_schema(id))
        return collect(kind, id, buf, len, &ld->sn);
    assert_int_equal(buf[len], 0); /* NUL-terminated, as store_foreach's */
    assert_int_equal(record_decode(&r, buf, len, err, sizeof err), 0);
    assert_int_equal(recindex_put_kind(&ld->ix, kind, id, &r), UERR_OK);
    return 0;
}

static void loaded_init(loaded *ld)
{
    recindex_init(&ld->ix);
    memset(&ld->sn, 0, sizeof ld->sn);
    assert_int_equal(recindex_index_field(&ld->ix, "name"), UERR_OK);
}

static void loaded_free(loaded *ld)
{
    recindex_free(&ld->ix);
    pthread_rwlock_destroy(&ld->ix.lock);
    seen_free(&ld->sn);
}

/* Loads through the snapshot and checks the index equals the one
 * store_foreach gives; returns where the records came from (1 snapshot, 0
 * git). */
static int load_same(fixture *f)
{
    loaded want, got;
    char err[256];
    int from;
    loaded_init(&want);
    loaded_init(&got);
    assert_int_equal(store_foreach(f->s, put_cb, &want, err, sizeof err), UERR_OK);
    assert_int_equal(store_load_index(f->s, &got.ix, put_cb, &got, &from, err, sizeof err),
                     UERR_OK);
    assert_int_equal(got.ix.count, want.ix.count);
    recindex_view va = RECINDEX_VIEW_INIT, vb = RECINDEX_VIEW_INIT;
    for (uint32_t row = 0; row < want.ix.count; row++) {
        const recindex_item *a = recindex_row(&want.ix, row);
        const recindex_item *b = recindex_find(&got.ix, a->id);
        assert_non_null(b);
        assert_int_equal(a->kind, b->kind);
        char *ea, *eb;
        size_t la, lb;
        assert_int_equal(record_encode(&ea, &la, recindex_view_item(&va, &want.ix, a)), 0);
        assert_int_equal(record_encode(&eb, &lb, recindex_view_item(&vb, &got.ix, b)), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(ea, eb, la);
        free(ea);
        free(eb);
    }
    recindex_view_free(&va);
    recindex_view_free(&vb);
    for (size_t k = 0; k < KIND_COUNT; k++)
        assert_int_equal(got.ix.by_kind[k], want.ix.by_kind[k]);
    const recindex_field *fa = recindex_field_find(&want.ix, "name");
    const recindex_field *fb = recindex_field_find(&got.ix, "name");
    for (const recindex_value *v = fa->values; v; v = v->hh.next) {
        const recindex_value *w = recindex_value_find(fb, v->value);
        assert_int_equal(w ? w->n : 0, v->n);
    }
    seen_sort(&want.sn);
    seen_sort(&got.sn);
    assert_int_equal(got.sn.n, want.sn.n);
    for (size_t i = 0; i < want.sn.n; i++) {
        assert_int_equal(got.sn.items[i].len, want.sn.items[i].len);
        assert_memory_equal(got.sn.items[i].data, want.sn.items[i].data, want.sn.items[i].len);
    }
    loaded_free(&want);
    loaded_free(&got);
    return from;
}

/* The number of records in the head tree, by plain git (ls-tree). */
static size_t git_count(const fixture *f)
{
    char cmd[512], line[256];
    size_t n = 0;
    snprintf(cmd, sizeof cmd,
             "git --git-dir='%s' ls-tree -r --name-only "
             "\"$(git --git-dir='%s' for-each-ref --format='%%(refname)' | head -1)\"",
             f->dir, f->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p))
        n += strncmp(line, "schema/", 7) != 0; /* the declarations: not records */
    pclose(p);
    return n;
}

/* How many records a load through the snapshot gives (and schema ones). */
static size_t load_count(fixture *f)
{
    loaded got;
    char err[256];
    int from;
    loaded_init(&got);
    assert_int_equal(store_load_index(f->s, &got.ix, put_cb, &got, &from, err, sizeof err),
                     UERR_OK);
    size_t n = got.ix.count + got.sn.n;
    loaded_free(&got);
    return n;
}

static void file_poke(const char *path, long off, unsigned char x)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, off, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_not_equal(c, EOF);
    assert_int_equal(fseek(fp, off, SEEK_SET), 0);
    fputc(c ^ x, fp);
    fclose(fp);
}

/* Make the snapshot claim another tree, with a checksum that matches: a
 * whole snapshot of a tree this store does not have. */
static void snap_retree(const char *path, const char *tree_hex, uint32_t version)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    unsigned char *p = malloc((size_t)size);
    assert_non_null(p);
    fseek(fp, 0, SEEK_SET);
    assert_int_equal(fread(p, 1, (size_t)size, fp), (size_t)size);
    memcpy(p + 12, tree_hex, 40);
    for (int i = 0; i < 4; i++)
        p[8 + i] = (unsigned char)(version >> (8 * i));
    uLong crc = crc32(crc32(0L, Z_NULL, 0), p, (uInt)(size - 8));
    for (int i = 0; i < 4; i++)
        p[size - 8 + i] = (unsigned char)(crc >> (8 * i));
    fseek(fp, 0, SEEK_SET);
    assert_int_equal(fwrite(p, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    free(p);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void fixture_open(fixture *f, const char *name)
{
    char err[256];
    snprintf(f->dir, sizeof f->dir, "%s/%s.git", root, name);
    snprintf(f->snap, sizeof f->snap, "%s/%s", f->dir, RECSNAP_NAME);
    assert_int_equal(store_create(f->dir, "n1", err, sizeof err), UERR_OK);
    assert_int_equal(store_open(&f->s, f->dir, "n1", err, sizeof err), UERR_OK);
}

static void missing_stale_damaged(void **state)
{
    (void)state;
    fixture f;
    char id[32];
    fixture_open(&f, "a");
    /* an empty store keeps no snapshot */
    assert_int_equal(load_same(&f), 0);
    assert_int_equal(file_size(f.snap), -1);
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "r%03d", i);
        commit_rec(&f, id, i % 2 ? "甲" : "乙", i % 5 ? KIND_MEMBER : KIND_UNION);
    }
    /* missing: read from git, written; then used */
    assert_int_equal(load_same(&f), 0);
    assert_true(file_size(f.snap) > 0);
    struct stat st;
    assert_int_equal(stat(f.snap, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* personal data */
    assert_int_equal(load_same(&f), 1);
    assert_int_equal(load_count(&f), git_count(&f));
    assert_int_equal(git_count(&f), 40);
    /* stale: the head tree moved (a new record, a changed member, a
     * changed union): brought up to date from the tree diff, rewritten */
    struct stat st0, st1;
    assert_int_equal(stat(f.snap, &st0), 0);
    commit_rec(&f, "r999", "丙", KIND_MEMBER);
    commit_rec(&f, "r001", "丁", KIND_MEMBER);
    commit_rec(&f, "r005", "戊", KIND_UNION);
    assert_int_equal(load_same(&f), 1);
    assert_int_equal(load_count(&f), git_count(&f));
    assert_int_equal(stat(f.snap, &st1), 0);
    assert_true(st1.st_ino != st0.st_ino); /* a new file, renamed in */
    assert_int_equal(load_same(&f), 1);
    /* stale, and its tree is not in the store (pruned): all from git */
    char tree[41];
    {
        FILE *fp = fopen(f.snap, "rb");
        assert_non_null(fp);
        assert_int_equal(fseek(fp, 12, SEEK_SET), 0);
        assert_int_equal(fread(tree, 1, 40, fp), 40);
        tree[40] = 0;
        fclose(fp);
    }
    snap_retree(f.snap, "0123456789abcdef0123456789abcdef01234567", RECSNAP_VERSION);
    assert_int_equal(load_same(&f), 0);
    assert_int_equal(load_same(&f), 1);
    /* of another version (whole, its own tree): read from git, rewritten */
    snap_retree(f.snap, tree, 1);
    assert_int_equal(load_same(&f), 0);
    assert_int_equal(load_same(&f), 1);
    snap_retree(f.snap, tree, RECSNAP_VERSION + 1);
    assert_int_equal(load_same(&f), 0);
    assert_int_equal(load_same(&f), 1);
    /* damaged: a byte in a blob, the crc, a byte of the header */
    long size = file_size(f.snap);
    long where[] = {size / 2, size - 6, 8, 20};
    for (size_t k = 0; k < sizeof where / sizeof *where; k++) {
        file_poke(f.snap, where[k], 0x40);
        assert_int_equal(load_same(&f), 0);
        assert_int_equal(load_same(&f), 1); /* rebuilt */
    }
    /* cut short, and empty */
    assert_int_equal(truncate(f.snap, size / 2), 0);
    assert_int_equal(load_same(&f), 0);
    assert_int_equal(load_same(&f), 1);
    assert_int_equal(truncate(f.snap, 0), 0);
    assert_int_equal(load_same(&f), 0);
    assert_int_equal(load_same(&f), 1);
    /* a current snapshot hands nothing on (every record copied into the
     * index); from git, the callback's stop value comes back unchanged */
    int calls = 0, from;
    char err[256];
    recindex ix;
    recindex_init(&ix);
    assert_int_equal(store_load_index(f.s, &ix, stop_second, &calls, &from, err, sizeof err),
                     UERR_OK);
    assert_int_equal(from, 1);
    assert_int_equal(calls, 0);
    assert_int_equal(ix.count, 41);
    recindex_free(&ix);
    assert_int_equal(unlink(f.snap), 0);
    calls = 0;
    assert_int_equal(store_load_index(f.s, &ix, stop_second, &calls, &from, err, sizeof err), 7);
    assert_int_equal(from, 0);
    assert_int_equal(calls, 2);
    recindex_free(&ix);
    pthread_rwlock_destroy(&ix.lock);
    store_free(f.s);
}

/* The tree id the snapshot file names (its header), or "" without one. */
static void snap_tree(char tree[41], const char *path)
{
    FILE *fp = fopen(path, "rb");
    tree[0] = 0;
    if (!fp)
        return;
    if (fseek(fp, 12, SEEK_SET) == 0 && fread(tree, 1, 40, fp) == 40)
        tree[40] = 0;
    else
        tree[0] = 0;
    fclose(fp);
}

/* A clean shutdown writes the snapshot of the live index as the head's,
 * so the next start copies it (neither the diff nor git); it writes
 * nothing when the file is already of the head's tree, or the store is
 * empty. */
static void saved_at_shutdown(void **state)
{
    (void)state;
    fixture f;
    char id[32], head[41], tree[41], have[41];
    struct stat st0, st1;
    fixture_open(&f, "shut");
    loaded live;
    loaded_init(&live);
    store_save_index(f.s, &live.ix); /* empty store: no file */
    assert_int_equal(file_size(f.snap), -1);
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "s%03d", i);
        commit_rec(&f, id, i % 3 ? "甲" : "乙", i % 4 ? KIND_MEMBER : KIND_STATION);
    }
    assert_int_equal(load_same(&f), 0); /* the start: from git, written */
    /* a day of changes: the live index follows the head */
    commit_rec(&f, "s100", "丙", KIND_MEMBER);
    commit_rec(&f, "s001", "丁", KIND_MEMBER);
    char err[256];
    assert_int_equal(store_foreach(f.s, put_cb, &live, err, sizeof err), UERR_OK);
    store_head(f.s, head, tree);
    snap_tree(have, f.snap);
    assert_string_not_equal(have, tree);
    store_save_index(f.s, &live.ix);
    snap_tree(have, f.snap);
    assert_string_equal(have, tree);
    assert_int_equal(stat(f.snap, &st0), 0);
    assert_int_equal(st0.st_mode & 0777, 0600);
    /* already the head's: left as it is */
    store_save_index(f.s, &live.ix);
    assert_int_equal(stat(f.snap, &st1), 0);
    assert_true(st1.st_ino == st0.st_ino);
    /* the next start uses it as current and gets what git holds */
    assert_int_equal(load_same(&f), 1);
    assert_int_equal(load_count(&f), git_count(&f));
    assert_int_equal(git_count(&f), 31);
    assert_int_equal(stat(f.snap, &st1), 0);
    assert_true(st1.st_ino == st0.st_ino); /* current: not rewritten at start */
    loaded_free(&live);
    store_free(f.s);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/test_recsnap.XXXXXX");
    return mkdtemp(root) && store_global_init() == UERR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    store_global_shutdown();
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_stale_damaged),
        cmocka_unit_test(saved_at_shutdown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
