/* bulktree.c - the bulk commit (import, store_commit with bulk != 0 outside
 * a group-commit batch) in one streamed pack. Part of the store room.
 *
 * Why: libgit2's git_tree_create_updated inserts updates one at a time
 * into sorted arrays (memmove per insert: quadratic in a fan-out folder at
 * a million records), and the mempack keeps a copy of every object until
 * the pack is built in memory. Here each changed tree is written ONCE: the
 * updates (path, blob id) are sorted in git's tree order and merged in one
 * pass with the sorted entries of the tree they change, folder by folder;
 * every object (blobs, the new trees, the commit) is deflated straight
 * into a temporary pack file whose .idx we write ourselves from the ids,
 * offsets and CRCs we know (packfile.c: no indexer inflating it all
 * again): memory stays the size of the update list, not of the data.
 *
 * Same result as the old path: the same tree ids for the same input (the
 * unit test builds both and compares), one commit, nothing visible on
 * failure (the temporary pack file is removed), the branch moved only
 * after the pack is durable. It never reads or writes the branch itself
 * beyond that move, and never takes objects from outside. */
#include "daemon/store/store_int.h"
#include "daemon/store/packfile.h"
#include "daemon/store/writecheck.h"
#include "daemon/util/log.h"

#include "proto/record.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* zlib level of the import's pack: 1, speed over size (these packs are
 * written once and `git repack` may compact them at any time). Measured
 * against the first replication's bytes row: see docs/BENCHMARKS.md. */
#define BULK_ZLEVEL 1

/* One update: the record's tree path and its blob id; idx its change. */
typedef struct {
    char *path;
    git_oid oid;
    size_t idx;
} bulk_up;

static int bulk_hash(git_oid *out, EVP_MD_CTX *ctx, const void *data, size_t len, int type)
{
    return packfile_hash(out->id, ctx, type, data, len);
}

/* ---- the trees ------------------------------------------------------------ */

static int up_cmp(const void *a, const void *b)
{
    const bulk_up *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* git's order of tree entries: bytes, a folder's name compared as if it
 * ended in '/'. */
static int git_name_cmp(const char *a, size_t alen, int adir, const char *b, size_t blen, int bdir)
{
    size_t m = alen < blen ? alen : blen;
    int c = memcmp(a, b, m);
    if (c)
        return c;
    unsigned ca = alen > m ? (unsigned char)a[m] : adir ? '/' : 0;
    unsigned cb = blen > m ? (unsigned char)b[m] : bdir ? '/' : 0;
    return (int)ca - (int)cb;
}

/* The component of path starting at off: its length, and whether more
 * components follow (a folder). */
static size_t comp_len(const char *path, size_t off, int *dir)
{
    const char *s = strchr(path + off, '/');
    *dir = s != NULL;
    return s ? (size_t)(s - (path + off)) : strlen(path + off);
}

typedef struct {
    git_repository *repo; /* reads the base trees */
    packfile_out *pack;
    EVP_MD_CTX *hash;
    bulk_up *up;
    char *root; /* the root tree's bytes (kept for the commit), malloc'd */
    size_t rootlen;
} bulk_ctx;

typedef struct {
    char *b;
    size_t len, cap;
    int oom;
} tbuf;

static void tb_entry(tbuf *t, const char *mode, const char *name, size_t nlen, const git_oid *id)
{
    size_t ml = strlen(mode), need = ml + 1 + nlen + 1 + GIT_OID_RAWSZ;
    if (t->oom)
        return;
    if (t->len + need > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 4096;
        while (nc < t->len + need)
            nc *= 2;
        char *nb = realloc(t->b, nc);
        if (!nb) {
            t->oom = 1;
            return;
        }
        t->b = nb;
        t->cap = nc;
    }
    memcpy(t->b + t->len, mode, ml);
    t->b[t->len + ml] = ' ';
    memcpy(t->b + t->len + ml + 1, name, nlen);
    t->b[t->len + ml + 1 + nlen] = 0;
    memcpy(t->b + t->len + ml + 2 + nlen, id->id, GIT_OID_RAWSZ);
    t->len += need;
}

/* Write the tree at folder depth `depth` (its entries' names start at
 * byte off of each update path) merging base (NULL: a new folder) with
 * updates [lo, hi), every one of which lies under it; *out its id.
 * Subfolders first (post-order), so the pack holds each tree once. 0, or
 * -1 (read error, out of memory, or a path the layout cannot hold). */
static int bulk_tree(git_oid *out, bulk_ctx *c, const git_tree *base, size_t lo, size_t hi,
                     size_t off, int depth)
{
    tbuf t = {0};
    size_t nb = base ? git_tree_entrycount(base) : 0, bi = 0, ui = lo;
    int rc = 0;
    if (depth >= STORE_TREE_DEPTH_MAX)
        return -1;
    while ((bi < nb || ui < hi) && rc == 0 && !t.oom) {
        const git_tree_entry *be = bi < nb ? git_tree_entry_byindex(base, bi) : NULL;
        int udir = 0, bdir = be && git_tree_entry_type(be) == GIT_OBJECT_TREE;
        size_t ul = ui < hi ? comp_len(c->up[ui].path, off, &udir) : 0;
        const char *un = ui < hi ? c->up[ui].path + off : NULL;
        const char *bn = be ? git_tree_entry_name(be) : NULL;
        size_t bl = be ? strlen(bn) : 0;
        int cmp = !be ? 1 : !un ? -1 : git_name_cmp(bn, bl, bdir, un, ul, udir);
        if (be && un && bl == ul && memcmp(bn, un, ul) == 0)
            cmp = 0;   /* the same name replaced, whatever its type was */
        if (cmp < 0) { /* an entry the updates leave alone */
            char mode[16];
            snprintf(mode, sizeof mode, "%o", (unsigned)git_tree_entry_filemode_raw(be));
            tb_entry(&t, mode, bn, bl, git_tree_entry_id(be));
            bi++;
            continue;
        }
        bi += cmp == 0;
        if (!udir) {
            /* a record: the last update of this path wins (sorted by
             * path, then by the order given) */
            size_t last = ui;
            while (last + 1 < hi && strcmp(c->up[last + 1].path, c->up[ui].path) == 0)
                last++;
            tb_entry(&t, "100644", un, ul, &c->up[last].oid);
            ui = last + 1;
            continue;
        }
        /* a folder: every update under the same name, one subtree */
        size_t end = ui + 1;
        while (end < hi && strncmp(c->up[end].path + off, un, ul) == 0 &&
               c->up[end].path[off + ul] == '/')
            end++;
        git_tree *sub = NULL;
        git_oid sid;
        if (cmp == 0 && bdir && git_tree_lookup(&sub, c->repo, git_tree_entry_id(be)) < 0)
            rc = -1;
        if (rc == 0)
            rc = bulk_tree(&sid, c, sub, ui, end, off + ul + 1, depth + 1);
        git_tree_free(sub);
        if (rc == 0)
            tb_entry(&t, "40000", un, ul, &sid);
        ui = end;
    }
    if (rc == 0 && !t.oom && bulk_hash(out, c->hash, t.b ? t.b : "", t.len, PACKFILE_TREE) != 0)
        rc = -1;
    if (rc == 0 && !t.oom && c->pack->n >= c->pack->expected)
        rc = -1; /* more trees than counted: a path outside the layout */
    if (rc == 0 && !t.oom)
        packfile_object(c->pack, PACKFILE_TREE, out->id, t.b ? t.b : "", t.len);
    if (depth == 0 && rc == 0 && !t.oom) {
        c->root = t.b;
        c->rootlen = t.len;
        t.b = NULL;
    }
    free(t.b);
    return t.oom || c->pack->failed ? -1 : rc;
}

/* How many trees the sorted updates make: the root and every distinct
 * folder on their paths. */
static size_t bulk_tree_count(const bulk_up *up, size_t n)
{
    size_t count = n ? 1 : 0;
    for (size_t k = 0; k < n; k++) {
        const char *p = up[k].path, *q = k ? up[k - 1].path : NULL;
        for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
            size_t pre = (size_t)(s - p) + 1; /* "a/b/" */
            if (!q || strncmp(p, q, pre) != 0)
                count++;
        }
    }
    return count;
}

/* ---- the commit ----------------------------------------------------------- */

/* From this many updates on, the sort runs on two threads (the second
 * core is idle during the commit: a second of qsort at 1M, round 11). */
#define BULK_SORT_SPLIT 65536u

typedef struct {
    bulk_up *a;
    size_t n;
} bulk_half;

static void *bulk_sort_run(void *arg)
{
    bulk_half *h = arg;
    qsort(h->a, h->n, sizeof *h->a, up_cmp);
    return NULL;
}

/* Sort up by up_cmp (a total order: path, then change index). Large: each
 * half on its own thread, then one merge; the same order as one qsort.
 * Without a thread or the merge's memory, qsort alone. */
static void bulk_sort(bulk_up *up, size_t n)
{
    if (n < BULK_SORT_SPLIT) {
        qsort(up, n, sizeof *up, up_cmp);
        return;
    }
    size_t h = n / 2;
    bulk_half second = {up + h, n - h};
    bulk_up *tmp = malloc(n * sizeof *tmp);
    pthread_t t;
    if (!tmp || pthread_create(&t, NULL, bulk_sort_run, &second) != 0) {
        free(tmp);
        qsort(up, n, sizeof *up, up_cmp);
        return;
    }
    qsort(up, h, sizeof *up, up_cmp);
    pthread_join(t, NULL);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = up_cmp(&up[j], &up[i]) < 0 ? up[j++] : up[i++];
    while (i < h)
        tmp[k++] = up[i++];
    while (j < n)
        tmp[k++] = up[j++];
    memcpy(up, tmp, n * sizeof *up);
    free(tmp);
}

/* Hash each change's blob, name its path, and sort the updates (the
 * records themselves are checked by bulk_check, beside the deflating).
 * With neither hash nor pre the ids are left zero (filled in later from a
 * prewrite's: bulk_prewritten_paths). */
static uerr bulk_updates(bulk_up **out, EVP_MD_CTX *hash, const store_change *ch, size_t n,
                         const git_oid *pre, char *err, size_t errlen)
{
    bulk_up *up = calloc(n, sizeof *up);
    if (!up)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    *out = up;
    for (size_t i = 0; i < n; i++) {
        char path[RECORD_ID_MAX + 32];
        if (!record_id_valid(ch[i].id))
            return uerr_set(err, errlen, UERR_INVALID, "bad record id %.64s", ch[i].id);
        kind_path(path, sizeof path, ch[i].kind ? ch[i].kind : KIND_MEMBER, ch[i].id);
        up[i].idx = i;
        if (!(up[i].path = strdup(path)))
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        if (pre)
            git_oid_cpy(&up[i].oid, &pre[i]);
        else if (hash && bulk_hash(&up[i].oid, hash, ch[i].buf, ch[i].len, PACKFILE_BLOB) != 0)
            return store_git_err(err, errlen, UERR_INTERNAL, "hashing a record");
    }
    bulk_sort(up, n);
    return UERR_OK;
}

/* Every record must pass the write check (writecheck.h) of the folder it
 * goes to. Runs on the calling thread while bulk_deflater writes the
 * blobs; *stop is raised at the first refusal so the deflater ends early. */
static uerr bulk_check(const store_change *ch, size_t n, store_prewrite *pre, atomic_int *stop,
                       char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *buf = ch[i].buf;
        size_t len = ch[i].len;
        /* a record given to the prewrite thread: its bytes are pre's */
        assert(buf || pre);
        uerr e = buf ? UERR_OK : store_prewrite_record(pre, i, &buf, &len, err, errlen);
        if (e == UERR_OK)
            e = store_write_check_kind(ch[i].id, ch[i].kind ? ch[i].kind : KIND_MEMBER, buf, len,
                                       err, errlen);
        if (e != UERR_OK) {
            atomic_store(stop, 1);
            return e;
        }
    }
    return UERR_OK;
}

/* The distinct blobs, deflated into the pack on a thread of their own:
 * deflate is a third of an import's CPU and needs nothing but the bytes,
 * so on two cores it runs beside the records' checks. The thread touches
 * only the pack and the caller's buffers (no libgit2, no store, no
 * schema); the caller joins it before reading the pack again. */
typedef struct {
    packfile_out *pack;
    const store_change *ch;
    const bulk_up **blob; /* the first update of each distinct blob, input order */
    size_t n;
    atomic_int *stop;
} bulk_deflater;

static void *bulk_deflate_run(void *arg)
{
    bulk_deflater *d = arg;
    for (size_t k = 0; k < d->n && !d->pack->failed; k++) {
        if ((k & 1023) == 0 && atomic_load(d->stop))
            break;
        const bulk_up *u = d->blob[k];
        packfile_object(d->pack, PACKFILE_BLOB, u->oid.id, d->ch[u->idx].buf, d->ch[u->idx].len);
    }
    return NULL;
}

/* Write the distinct blobs (deflated on a second thread while this one
 * checks the records). UERR_OK, the write check's refusal, or UERR_IO /
 * UERR_NOMEM. */
static uerr bulk_blobs(packfile_out *pack, const store_change *ch, const bulk_up *up, size_t n,
                       store_oidmap *blobs, size_t nblobs, char *err, size_t errlen)
{
    const bulk_up **order = malloc((nblobs ? nblobs : 1) * sizeof *order);
    atomic_int stop = 0;
    size_t k = 0;
    if (!order)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    /* in the order given (the file's), each distinct blob once */
    for (size_t i = 0; i < n; i++) {
        uint32_t *done = store_oidmap_get(blobs, &up[i].oid);
        assert(done);
        if (!*done) {
            *done = 1;
            order[k++] = &up[i];
        }
    }
    assert(k == nblobs);
    bulk_deflater d = {.pack = pack, .ch = ch, .blob = order, .n = k, .stop = &stop};
    pthread_t t;
    int threaded = pthread_create(&t, NULL, bulk_deflate_run, &d) == 0;
    uerr rc = bulk_check(ch, n, NULL, &stop, err, errlen);
    if (threaded)
        pthread_join(t, NULL);
    else if (rc == UERR_OK)
        bulk_deflate_run(&d); /* no thread to be had: the same work here */
    free(order);
    return rc;
}

/* The commit object's bytes exactly as git_commit_create would write them:
 * the root tree is put into the bulk mempack so libgit2 can look it up
 * (strict object creation), and the mempack is reset afterwards. */
static uerr bulk_commit_bytes(git_buf *out, store *s, const git_oid *tree_oid, const void *root,
                              size_t rootlen, const char *operator, const char * message, char *err,
                              size_t errlen)
{
    git_odb *bodb = NULL;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    git_oid id;
    char email[256];
    uerr rc = UERR_OK;
    snprintf(email, sizeof email, "%s@%s", operator, s->node);
    if (git_signature_now(&sig, operator, email) < 0) {
        rc = store_git_err(err, errlen, UERR_INVALID, "making the commit signature");
        goto cleanup;
    }
    if (git_repository_odb(&bodb, s->bulk) < 0 ||
        git_odb_write(&id, bodb, root, rootlen, GIT_OBJECT_TREE) < 0 ||
        git_tree_lookup(&tree, s->bulk, tree_oid) < 0 ||
        (s->has_head && git_commit_lookup(&parent, s->bulk, &s->head) < 0)) {
        rc = store_git_err(err, errlen, UERR_IO, "preparing the commit");
        goto cleanup;
    }
    const git_commit *parents[1] = {parent};
    if (git_commit_create_buffer(out, s->bulk, sig, sig, "UTF-8", message, tree, parent ? 1 : 0,
                                 parents) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "creating the commit");
cleanup:
    git_signature_free(sig);
    git_commit_free(parent);
    git_tree_free(tree);
    git_odb_free(bodb);
    git_mempack_reset(s->mempack);
    return rc;
}

/* Write the distinct blobs (in the order of the sorted updates, straight
 * from the caller's buffers), the changed trees and the commit into pack;
 * *tree_oid and *commit_oid the new root and commit. */
static uerr bulk_write(git_oid *tree_oid, git_oid *commit_oid, store *s, packfile_out *pack,
                       store_prewrite *pre, EVP_MD_CTX *hash, const store_change *ch, bulk_up *up,
                       size_t n, store_oidmap *blobs, size_t nblobs, int checked,
                       const git_tree *base, const char *operator, const char * message, char *err,
                       size_t errlen)
{
    bulk_ctx c = {.repo = s->repo, .pack = pack, .hash = hash, .up = up};
    git_buf cbuf = {0};
    uerr rc = UERR_OK;
    atomic_int stop = 0;
    /* blobs already in an open-ended pack (prewritten): only the checks */
    rc = !pack->open_ended ? bulk_blobs(pack, ch, up, n, blobs, nblobs, err, errlen)
         : checked         ? UERR_OK
                           : bulk_check(ch, n, pre, &stop, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    if (pack->failed || bulk_tree(tree_oid, &c, base, 0, n, 0, 0) != 0 ||
        (!pack->open_ended && pack->n + 1 != pack->expected)) {
        rc = pack->failed ? uerr_set(err, errlen, UERR_IO, "writing the pack: %s",
                                     pack->errno_ ? strerror(pack->errno_) : "failed")
                          : store_git_err(err, errlen, UERR_IO, "building the new trees");
        goto cleanup;
    }
    rc = bulk_commit_bytes(&cbuf, s, tree_oid, c.root ? c.root : "", c.rootlen, operator, message,
                           err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    if (bulk_hash(commit_oid, hash, cbuf.ptr, cbuf.size, PACKFILE_COMMIT) != 0) {
        rc = uerr_set(err, errlen, UERR_INTERNAL, "hashing the commit");
        goto cleanup;
    }
    packfile_object(pack, PACKFILE_COMMIT, commit_oid->id, cbuf.ptr, cbuf.size);
cleanup:
    free(c.root);
    git_buf_dispose(&cbuf);
    return rc;
}

/* Monotonic seconds, for the debug phase line. */
static double bulk_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bulk_ups_free(bulk_up *up, size_t n)
{
    for (size_t i = 0; up && i < n; i++)
        free(up[i].path);
    free(up);
}

/* The bulk commit; pre: the blobs already written (in ch's order) into
 * pre->pack with their ids pre->oids (store_prewrite), else NULL; checked:
 * pre's thread passed every record's write check; made: the updates
 * already named and sorted with their ids (taken: freed here), else
 * NULL. */
static uerr bulk_commit(store *s, const store_change *ch, size_t n, store_prewrite *pre,
                        int checked, bulk_up *made, const char *operator, const char * message,
                        char *err, size_t errlen)
{
    bulk_up *up = made;
    packfile_out own = {0}, *pack = pre ? &pre->pack : &own;
    git_odb *disk = NULL;
    git_commit *parent = NULL;
    git_tree *base = NULL;
    git_oid tree_oid, commit_oid;
    store_oidmap blobs = {0};
    EVP_MD_CTX *hash = EVP_MD_CTX_new();
    char packdir[4200], name[2 * PACKFILE_OID + 1];
    size_t nblobs = 0;
    uerr rc;
    double t0 = bulk_clock();
    assert(!s->batching);
    if (n == 0)
        return uerr_set(err, errlen, UERR_INVALID, "nothing to commit");
    if (!hash) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (!up &&
        (rc = bulk_updates(&up, hash, ch, n, pre ? pre->oids : NULL, err, errlen)) != UERR_OK)
        goto cleanup;
    /* each distinct blob once in the pack */
    for (size_t i = 0; i < n; i++) {
        int added = store_oidmap_put(&blobs, &up[i].oid, 0);
        if (added < 0) {
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
            goto cleanup;
        }
        nblobs += (size_t)added;
    }
    if (git_repository_odb(&disk, s->repo) < 0 ||
        (s->has_head && (git_commit_lookup(&parent, s->repo, &s->head) < 0 ||
                         git_commit_tree(&base, parent) < 0))) {
        rc = store_git_err(err, errlen, UERR_IO, "reading the head");
        goto cleanup;
    }
    snprintf(packdir, sizeof packdir, "%sobjects/pack", git_repository_path(s->repo));
    rc = pre ? UERR_OK
             : packfile_open(pack, packdir, nblobs + bulk_tree_count(up, n) + 1, BULK_ZLEVEL, err,
                             errlen);
    double t1 = bulk_clock(), t2 = 0, t3 = 0;
    if (rc == UERR_OK)
        rc = bulk_write(&tree_oid, &commit_oid, s, pack, pre, hash, ch, up, n, &blobs, nblobs,
                        checked, base, operator, message, err, errlen);
    t2 = bulk_clock();
    if (rc == UERR_OK)
        rc = packfile_finish(pack, name, err, errlen);
    t3 = bulk_clock();
    if (rc != UERR_OK)
        goto cleanup;
    /* Objects are durable; let libgit2 see the new pack, then move the
     * branch. */
    git_odb_refresh(disk);
    rc = store_branch_move(s, s->repo, &commit_oid, message, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    /* phase times for `uniond --verbose` (no names, counts only) */
    if (log_level_get() >= LOG_DEBUG)
        log_msg(LOG_DEBUG,
                "bulk commit of %zu records: paths and blobs %.3f s, trees and commit %.3f s, "
                "pack end (.idx, fsync) %.3f s, branch %.3f s",
                n, t1 - t0, t2 - t1, t3 - t2, bulk_clock() - t3);
    git_oid_cpy(&s->head, &commit_oid);
    git_oid_cpy(&s->tree, &tree_oid);
    s->has_head = 1;
cleanup:
    packfile_free(&own); /* a prewritten pack is its owner's to free */
    EVP_MD_CTX_free(hash);
    git_commit_free(parent);
    git_tree_free(base);
    git_odb_free(disk);
    store_oidmap_free(&blobs);
    bulk_ups_free(up, n);
    return rc;
}

uerr store_bulk_commit(store *s, const store_change *ch, size_t n, const char *operator,
                       const char * message, char *err, size_t errlen)
{
    return bulk_commit(s, ch, n, NULL, 0, NULL, operator, message, err, errlen);
}

/* The ordinary bulk commit of what was given to pre (it could not be
 * used: its thread failed, or the list differs, or inside a batch): the
 * records it holds are inflated into buffers of their own for it. */
static uerr prewritten_fallback(store *s, store_prewrite *pre, const store_change *ch, size_t n,
                                const char *operator, const char * message, char *err,
                                size_t errlen)
{
    store_change *full = malloc((n ? n : 1) * sizeof *full);
    char **own = calloc(n ? n : 1, sizeof *own);
    uerr rc = UERR_OK;
    store_prewrite_stop(pre);
    if (!full || !own) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        const char *b;
        size_t len;
        full[i] = ch[i];
        if (ch[i].buf)
            continue;
        if ((rc = store_prewrite_record(pre, i, &b, &len, err, errlen)) != UERR_OK)
            goto cleanup;
        if (len != ch[i].len) {
            rc = uerr_set(err, errlen, UERR_INTERNAL, "import record %zu changed", i);
            goto cleanup;
        }
        if (!(own[i] = malloc(len + 1))) {
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
            goto cleanup;
        }
        memcpy(own[i], b, len + 1);
        full[i].buf = own[i];
    }
    rc = store_commit(s, full, n, 1, operator, message, err, errlen);
cleanup:
    for (size_t i = 0; own && i < n; i++)
        free(own[i]);
    free(own);
    free(full);
    return rc;
}

uerr store_commit_prewritten(store *s, store_prewrite *pre, const store_change *ch, size_t n,
                             const char *operator, const char * message, char *err, size_t errlen)
{
    /* the blobs it wrote must be exactly these, in this order; otherwise
     * (its writing failed, or inside a batch) the commit is made the
     * ordinary way */
    int checked = 0;
    bulk_up *up = NULL;
    char perr[256];
    if (!pre)
        return store_commit(s, ch, n, 1, operator, message, err, errlen);
    /* The paths named and sorted (a second at 1M) while the prewrite
     * thread still deflates the queue's tail, which this thread used to
     * wait for idle; the ids are the thread's, copied after. A failure
     * here leaves it all to bulk_commit, as before. */
    double t0 = bulk_clock();
    if (!s->batching && bulk_updates(&up, NULL, ch, n, NULL, perr, sizeof perr) != UERR_OK) {
        bulk_ups_free(up, n);
        up = NULL;
    }
    double t1 = bulk_clock();
    if (s->batching || store_prewrite_finish(pre, ch, n, &checked) != 0) {
        bulk_ups_free(up, n);
        return prewritten_fallback(s, pre, ch, n, operator, message, err, errlen);
    }
    for (size_t k = 0; up && k < n; k++)
        git_oid_cpy(&up[k].oid, &pre->oids[up[k].idx]);
    if (log_level_get() >= LOG_DEBUG)
        log_msg(LOG_DEBUG,
                "bulk commit: paths named and sorted %.3f s, then waited %.3f s for the prewrite "
                "thread to finish",
                t1 - t0, bulk_clock() - t1);
    store_enter(s);
    uerr rc = bulk_commit(s, ch, n, pre, checked, up, operator, message, err, errlen);
    store_leave(s);
    return rc;
}
