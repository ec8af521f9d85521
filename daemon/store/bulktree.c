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
 * into libgit2's pack indexer (git_odb_write_pack), which writes it to a
 * temporary pack file: memory stays the size of the update list, not of
 * the data.
 *
 * Same result as the old path: the same tree ids for the same input (the
 * unit test builds both and compares), one commit, nothing visible on
 * failure (the indexer's temporary file is dropped), the branch moved only
 * after the pack is durable. It never reads or writes the branch itself
 * beyond that move, and never takes objects from outside. */
#include "daemon/store/store_int.h"
#include "daemon/store/writecheck.h"

#include "proto/record.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BULK_CHUNK (1u << 20) /* bytes handed to the indexer at a time */

/* One update: the record's tree path and its blob id; idx its change. */
typedef struct {
    char *path;
    git_oid oid;
    size_t idx;
} bulk_up;

/* The pack being streamed into the indexer. */
typedef struct {
    git_odb_writepack *wp;
    git_indexer_progress stats;
    EVP_MD_CTX *sha;
    z_stream z;
    int zok;
    unsigned char *buf; /* pending bytes, BULK_CHUNK */
    size_t len;
    unsigned char *zbuf; /* deflate output of one object */
    size_t zcap;
    size_t written, expected; /* objects */
    int failed;
} bulk_pack;

static int bp_flush(bulk_pack *p)
{
    if (p->failed)
        return -1;
    if (p->len && (!EVP_DigestUpdate(p->sha, p->buf, p->len) ||
                   p->wp->append(p->wp, p->buf, p->len, &p->stats) < 0))
        p->failed = 1;
    p->len = 0;
    return p->failed ? -1 : 0;
}

static void bp_put(bulk_pack *p, const void *data, size_t n)
{
    const unsigned char *d = data;
    while (n && !p->failed) {
        size_t k = BULK_CHUNK - p->len < n ? BULK_CHUNK - p->len : n;
        memcpy(p->buf + p->len, d, k);
        p->len += k;
        d += k;
        n -= k;
        if (p->len == BULK_CHUNK)
            bp_flush(p);
    }
}

/* Append one undeltified object (type/size header, zlib level 1: these
 * packs are written once and `git repack` may compact them any time). */
static void bp_object(bulk_pack *p, git_object_t type, const void *data, size_t size)
{
    unsigned char hdr[16];
    size_t h = 0, sz = size;
    unsigned c = ((unsigned)type << 4) | (sz & 15);
    if (p->failed)
        return;
    assert(p->written < p->expected);
    sz >>= 4;
    while (sz) {
        hdr[h++] = (unsigned char)(c | 0x80);
        c = sz & 0x7f;
        sz >>= 7;
    }
    hdr[h++] = (unsigned char)c;
    bp_put(p, hdr, h);
    size_t bound = deflateBound(&p->z, (uLong)size) + 64;
    if (bound > p->zcap) {
        unsigned char *nb = realloc(p->zbuf, bound);
        if (!nb) {
            p->failed = 1;
            return;
        }
        p->zbuf = nb;
        p->zcap = bound;
    }
    /* one stream reset per object: deflateInit per object (compress2)
     * costs an allocation of its whole state each time */
    p->z.next_in = (Bytef *)(uintptr_t)data;
    p->z.avail_in = (uInt)size;
    p->z.next_out = p->zbuf;
    p->z.avail_out = (uInt)p->zcap;
    if (deflateReset(&p->z) != Z_OK || deflate(&p->z, Z_FINISH) != Z_STREAM_END) {
        p->failed = 1;
        return;
    }
    bp_put(p, p->zbuf, p->zcap - p->z.avail_out);
    p->written++;
}

static int bp_open(bulk_pack *p, git_odb *disk, size_t nobj)
{
    unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    memset(p, 0, sizeof *p);
    p->expected = nobj;
    if (nobj > 0xffffffffu || !(p->buf = malloc(BULK_CHUNK)) || !(p->sha = EVP_MD_CTX_new()) ||
        !EVP_DigestInit_ex(p->sha, EVP_sha1(), NULL) || deflateInit(&p->z, 1) != Z_OK)
        return -1;
    p->zok = 1;
    if (git_odb_write_pack(&p->wp, disk, NULL, NULL) < 0)
        return -1;
    head[8] = (unsigned char)(nobj >> 24);
    head[9] = (unsigned char)(nobj >> 16);
    head[10] = (unsigned char)(nobj >> 8);
    head[11] = (unsigned char)nobj;
    bp_put(p, head, sizeof head);
    return p->failed ? -1 : 0;
}

/* Trailer, then the indexer's commit (index written, fsynced, pack moved
 * into objects/pack). 0 or -1. */
static int bp_finish(bulk_pack *p)
{
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned sumlen = 0;
    if (p->failed || p->written != p->expected || bp_flush(p) != 0 ||
        !EVP_DigestFinal_ex(p->sha, sum, &sumlen) ||
        p->wp->append(p->wp, sum, sumlen, &p->stats) < 0 || p->wp->commit(p->wp, &p->stats) < 0)
        return -1;
    return 0;
}

static void bp_free(bulk_pack *p)
{
    if (p->wp)
        p->wp->free(p->wp); /* uncommitted: the temporary pack is removed */
    if (p->zok)
        deflateEnd(&p->z);
    EVP_MD_CTX_free(p->sha);
    free(p->buf);
    free(p->zbuf);
}

/* The id of an object of type with the given bytes: SHA-1 over
 * "<type> <size>\0" and the bytes, by OpenSSL (git_odb_hash runs the
 * collision-detecting SHA-1, several times slower; these are our own
 * objects, and the indexer checks the pack as it takes it in). 0 or -1. */
static int bulk_hash(git_oid *out, const void *data, size_t len, git_object_t type)
{
    char hdr[64];
    unsigned mdlen = 0;
    int h = snprintf(hdr, sizeof hdr, "%s %zu", git_object_type2string(type), len);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestInit_ex(m, EVP_sha1(), NULL) &&
             EVP_DigestUpdate(m, hdr, (size_t)h + 1) && EVP_DigestUpdate(m, data, len) &&
             EVP_DigestFinal_ex(m, out->id, &mdlen) && mdlen == GIT_OID_RAWSZ;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
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
    bulk_pack *pack;
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
    if (rc == 0 && !t.oom && bulk_hash(out, t.b ? t.b : "", t.len, GIT_OBJECT_TREE) != 0)
        rc = -1;
    if (rc == 0 && !t.oom && c->pack->written >= c->pack->expected)
        rc = -1; /* more trees than counted: a path outside the layout */
    if (rc == 0 && !t.oom)
        bp_object(c->pack, GIT_OBJECT_TREE, t.b ? t.b : "", t.len);
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

/* Check each change, hash its blob, and sort the updates. */
static uerr bulk_updates(bulk_up **out, const store_change *ch, size_t n, char *err, size_t errlen)
{
    bulk_up *up = calloc(n, sizeof *up);
    if (!up)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    *out = up;
    for (size_t i = 0; i < n; i++) {
        char path[RECORD_ID_MAX + 32];
        if (!record_id_valid(ch[i].id))
            return uerr_set(err, errlen, UERR_INVALID, "bad record id %.64s", ch[i].id);
        uerr e = store_write_check(ch[i].id, ch[i].buf, ch[i].len, err, errlen);
        if (e != UERR_OK)
            return e;
        kind_path(path, sizeof path, ch[i].kind ? ch[i].kind : KIND_MEMBER, ch[i].id);
        up[i].idx = i;
        if (!(up[i].path = strdup(path)))
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        if (bulk_hash(&up[i].oid, ch[i].buf, ch[i].len, GIT_OBJECT_BLOB) != 0)
            return store_git_err(err, errlen, UERR_INTERNAL, "hashing a record");
    }
    qsort(up, n, sizeof *up, up_cmp);
    return UERR_OK;
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

uerr store_bulk_commit(store *s, const store_change *ch, size_t n, const char *operator,
                       const char * message, char *err, size_t errlen)
{
    bulk_up *up = NULL;
    bulk_pack pack = {0};
    git_odb *disk = NULL;
    git_commit *parent = NULL;
    git_tree *base = NULL;
    bulk_ctx c = {0};
    git_buf cbuf = {0};
    git_oid tree_oid, commit_oid;
    store_oidmap blobs = {0};
    size_t nblobs = 0;
    uerr rc;
    assert(!s->batching);
    if (n == 0)
        return uerr_set(err, errlen, UERR_INVALID, "nothing to commit");
    if ((rc = bulk_updates(&up, ch, n, err, errlen)) != UERR_OK)
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
    if (bp_open(&pack, disk, nblobs + bulk_tree_count(up, n) + 1) != 0) {
        rc = store_git_err(err, errlen, UERR_IO, "starting the pack");
        goto cleanup;
    }
    /* blobs in the order given, straight from the caller's buffers */
    for (size_t k = 0; k < n && !pack.failed; k++) {
        uint32_t *done = store_oidmap_get(&blobs, &up[k].oid);
        assert(done);
        if (*done)
            continue;
        *done = 1;
        bp_object(&pack, GIT_OBJECT_BLOB, ch[up[k].idx].buf, ch[up[k].idx].len);
    }
    c = (bulk_ctx){.repo = s->repo, .pack = &pack, .up = up};
    if (pack.failed || bulk_tree(&tree_oid, &c, base, 0, n, 0, 0) != 0 ||
        pack.written + 1 != pack.expected) {
        rc = store_git_err(err, errlen, UERR_IO, "building the new trees");
        goto cleanup;
    }
    rc = bulk_commit_bytes(&cbuf, s, &tree_oid, c.root ? c.root : "", c.rootlen, operator, message,
                           err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    if (bulk_hash(&commit_oid, cbuf.ptr, cbuf.size, GIT_OBJECT_COMMIT) != 0) {
        rc = store_git_err(err, errlen, UERR_INTERNAL, "hashing the commit");
        goto cleanup;
    }
    bp_object(&pack, GIT_OBJECT_COMMIT, cbuf.ptr, cbuf.size);
    if (bp_finish(&pack) != 0) {
        rc = store_git_err(err, errlen, UERR_IO, "writing the pack");
        goto cleanup;
    }
    /* Objects are durable; now move the branch. */
    rc = store_branch_move(s, s->repo, &commit_oid, message, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    git_oid_cpy(&s->head, &commit_oid);
    git_oid_cpy(&s->tree, &tree_oid);
    s->has_head = 1;
cleanup:
    free(c.root);
    git_buf_dispose(&cbuf);
    bp_free(&pack);
    git_commit_free(parent);
    git_tree_free(base);
    git_odb_free(disk);
    store_oidmap_free(&blobs);
    for (size_t i = 0; up && i < n; i++)
        free(up[i].path);
    free(up);
    return rc;
}
