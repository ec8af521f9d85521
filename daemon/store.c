/* store.c - the git store (see store.h). The only file that includes git2.h.
 *
 * Writes: objects go either straight to loose files (one record edited) or,
 * for bulk writes, into an in-memory pack (libgit2 mempack) that is written
 * as one packfile; only then is the branch ref moved. With libgit2's fsync
 * option on, an acknowledged write survives a crash or kill -9. */
#include "daemon/store.h"

#include "proto/record.h"

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct store {
    git_repository *repo; /* loose writes, all reads */
    git_repository *bulk; /* same store, with a mempack backend on top */
    git_odb_backend *mempack;
    char *node;
    char ref[300]; /* refs/heads/<node> */
    git_oid head;
    git_oid tree;
    int has_head;
};

static void git_err(char *err, size_t errlen, const char *what)
{
    const git_error *e = git_error_last();
    snprintf(err, errlen, "%s: %s", what, e && e->message ? e->message : "unknown git error");
}

int store_global_init(void)
{
    if (git_libgit2_init() < 0)
        return -1;
    /* Durability: every object, pack, index and ref write is fsynced. */
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
    /* Records live decoded in the index; libgit2's object cache (256 MiB by
     * default) would mostly hold blobs we never read twice. */
    git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(32 << 20));
    /* The daemon owns DATA; a store made by root and run by a service user
     * is still ours to open. */
    git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
    return 0;
}

void store_global_shutdown(void)
{
    git_libgit2_shutdown();
}

int store_create(const char *gitdir, const char *node, char *err, size_t errlen)
{
    git_repository *repo = NULL;
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    struct stat st;
    int rc = -1;
    if (stat(gitdir, &st) == 0) {
        snprintf(err, errlen, "%s already exists", gitdir);
        return -1;
    }
    opts.flags =
        GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    opts.initial_head = node;
    opts.description = "uniond member store";
    if (git_repository_init_ext(&repo, gitdir, &opts) < 0) {
        git_err(err, errlen, "creating the git store");
        goto cleanup;
    }
    rc = 0;
cleanup:
    git_repository_free(repo);
    return rc;
}

static int unlink_stale(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    const char *base = path + ftw->base;
    size_t n = strlen(base);
    if (flag != FTW_F)
        return 0;
    if ((n > 5 && strcmp(base + n - 5, ".lock") == 0) || strncmp(base, "pack_git2_", 10) == 0 ||
        strncmp(base, "tmp_object_git2_", 16) == 0)
        unlink(path);
    return 0;
}

static int store_refresh_head(store *s, char *err, size_t errlen)
{
    git_reference *ref = NULL;
    git_commit *c = NULL;
    int e = git_reference_lookup(&ref, s->repo, s->ref);
    if (e == GIT_ENOTFOUND) {
        s->has_head = 0;
        return 0;
    }
    if (e < 0 || git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
        git_err(err, errlen, "reading the own branch");
        git_reference_free(ref);
        return -1;
    }
    git_oid_cpy(&s->head, git_reference_target(ref));
    git_reference_free(ref);
    if (git_commit_lookup(&c, s->repo, &s->head) < 0) {
        git_err(err, errlen, "reading the head commit");
        return -1;
    }
    git_oid_cpy(&s->tree, git_commit_tree_id(c));
    git_commit_free(c);
    s->has_head = 1;
    return 0;
}

int store_open(store **out, const char *gitdir, const char *node, char *err, size_t errlen)
{
    store *s = calloc(1, sizeof *s);
    git_odb *odb = NULL;
    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Stale locks and temp files from a crash. We hold the DATA lock. */
    nftw(gitdir, unlink_stale, 16, FTW_PHYS);
    s->node = strdup(node);
    snprintf(s->ref, sizeof s->ref, "refs/heads/%s", node);
    if (!s->node)
        goto fail;
    if (git_repository_open_bare(&s->repo, gitdir) < 0 ||
        git_repository_open_bare(&s->bulk, gitdir) < 0) {
        git_err(err, errlen, "opening the git store");
        goto fail;
    }
    if (git_mempack_new(&s->mempack) < 0 || git_repository_odb(&odb, s->bulk) < 0 ||
        git_odb_add_backend(odb, s->mempack, 999) < 0) {
        git_err(err, errlen, "setting up the bulk writer");
        goto fail;
    }
    git_odb_free(odb);
    odb = NULL;
    if (store_refresh_head(s, err, errlen) != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    git_odb_free(odb);
    store_free(s);
    return -1;
}

void store_free(store *s)
{
    if (!s)
        return;
    git_repository_free(s->bulk); /* owns the mempack backend via its odb */
    git_repository_free(s->repo);
    free(s->node);
    free(s);
}

void store_head(const store *s, char commit[41], char tree[41])
{
    commit[0] = tree[0] = 0;
    if (!s->has_head)
        return;
    git_oid_tostr(commit, 41, &s->head);
    git_oid_tostr(tree, 41, &s->tree);
}

typedef struct {
    git_repository *repo;
    store_record_cb cb;
    void *arg;
    int rc;
} walk_ctx;

static int walk_cb(const char *root, const git_tree_entry *entry, void *payload)
{
    walk_ctx *w = payload;
    git_blob *blob = NULL;
    /* Only members/aa/bb/<id> blobs are records. */
    if (strncmp(root, "members/", 8) != 0 || strlen(root) != 14)
        return git_tree_entry_type(entry) == GIT_OBJECT_TREE ? 0 : 0;
    if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
        return 0;
    if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(entry)) < 0) {
        w->rc = -1;
        return -1;
    }
    int rc = w->cb(git_tree_entry_name(entry), git_blob_rawcontent(blob),
                   (size_t)git_blob_rawsize(blob), w->arg);
    git_blob_free(blob);
    if (rc) {
        w->rc = rc;
        return -1;
    }
    return 0;
}

int store_foreach(store *s, store_record_cb cb, void *arg, char *err, size_t errlen)
{
    git_tree *tree = NULL;
    walk_ctx w = {s->repo, cb, arg, 0};
    if (!s->has_head)
        return 0;
    if (git_tree_lookup(&tree, s->repo, &s->tree) < 0) {
        git_err(err, errlen, "reading the head tree");
        return -1;
    }
    int e = git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &w);
    git_tree_free(tree);
    if (w.rc == -1 || (e < 0 && e != GIT_EUSER)) {
        git_err(err, errlen, "walking the head tree");
        return -1;
    }
    return w.rc;
}

/* The blob id of record `id` in tree, or 0 if absent. */
static int tree_record_oid(git_oid *out, git_tree *tree, const char *id)
{
    char path[RECORD_ID_MAX + 32];
    git_tree_entry *te = NULL;
    record_path(path, sizeof path, id);
    if (git_tree_entry_bypath(&te, tree, path) < 0)
        return 0;
    git_oid_cpy(out, git_tree_entry_id(te));
    git_tree_entry_free(te);
    return 1;
}

static int blob_read(git_repository *repo, const git_oid *oid, char **buf, size_t *len)
{
    git_blob *b = NULL;
    if (git_blob_lookup(&b, repo, oid) < 0)
        return -1;
    *len = (size_t)git_blob_rawsize(b);
    *buf = malloc(*len + 1);
    if (*buf) {
        memcpy(*buf, git_blob_rawcontent(b), *len);
        (*buf)[*len] = 0;
    }
    git_blob_free(b);
    return *buf ? 0 : -1;
}

int store_read(store *s, char **buf, size_t *len, const char *id, char *err, size_t errlen)
{
    git_tree *tree = NULL;
    git_oid oid;
    int rc = 0;
    *buf = NULL;
    *len = 0;
    if (!s->has_head)
        return 0;
    if (git_tree_lookup(&tree, s->repo, &s->tree) < 0) {
        git_err(err, errlen, "reading the head tree");
        return -1;
    }
    if (tree_record_oid(&oid, tree, id)) {
        rc = blob_read(s->repo, &oid, buf, len) == 0 ? 1 : -1;
        if (rc < 0)
            git_err(err, errlen, "reading a record");
    }
    git_tree_free(tree);
    return rc;
}

/* ---- bulk writes: one pack, no delta search ---------------------------- */

typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int oom;
} packbuf;

static void pb_put(packbuf *p, const void *data, size_t n)
{
    if (p->oom)
        return;
    if (p->len + n > p->cap) {
        size_t nc = p->cap ? p->cap : 1 << 20;
        while (nc < p->len + n)
            nc *= 2;
        unsigned char *nb = realloc(p->buf, nc);
        if (!nb) {
            p->oom = 1;
            return;
        }
        p->buf = nb;
        p->cap = nc;
    }
    memcpy(p->buf + p->len, data, n);
    p->len += n;
}

/* Append one undeltified object: type/size header, then zlib data. */
static void pb_object(packbuf *p, git_object_t type, const void *data, size_t size)
{
    unsigned char hdr[16];
    size_t h = 0, sz = size;
    unsigned c = ((unsigned)type << 4) | (sz & 15);
    sz >>= 4;
    while (sz) {
        hdr[h++] = (unsigned char)(c | 0x80);
        c = sz & 0x7f;
        sz >>= 7;
    }
    hdr[h++] = (unsigned char)c;
    pb_put(p, hdr, h);
    uLongf out = compressBound((uLong)size);
    if (p->oom)
        return;
    if (p->len + out > p->cap) {
        size_t nc = p->cap;
        while (nc < p->len + out)
            nc *= 2;
        unsigned char *nb = realloc(p->buf, nc);
        if (!nb) {
            p->oom = 1;
            return;
        }
        p->buf = nb;
        p->cap = nc;
    }
    /* speed over size: these packs are written once per bulk write and
     * the store can be repacked with plain git at any time */
    if (compress2(p->buf + p->len, &out, data, (uLong)size, 1) != Z_OK) {
        p->oom = 1;
        return;
    }
    p->len += out;
}

typedef struct {
    git_oid *v;
    size_t n, cap;
} oidvec;

static int oidvec_push(oidvec *o, const git_oid *id)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 1024;
        git_oid *nv = realloc(o->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        o->v = nv;
        o->cap = nc;
    }
    git_oid_cpy(&o->v[o->n++], id);
    return 0;
}

/* A version 2 pack of objs (read from odb), undeltified, with its SHA-1
 * trailer, into pk. Returns 0 or -1 with err set. */
static int pack_encode(packbuf *pk, git_odb *odb, const oidvec *objs, char *err, size_t errlen)
{
    unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    head[8] = (unsigned char)(objs->n >> 24);
    head[9] = (unsigned char)(objs->n >> 16);
    head[10] = (unsigned char)(objs->n >> 8);
    head[11] = (unsigned char)objs->n;
    pb_put(pk, head, sizeof head);
    for (size_t i = 0; i < objs->n && !pk->oom; i++) {
        git_odb_object *o = NULL;
        if (git_odb_read(&o, odb, &objs->v[i]) < 0) {
            git_err(err, errlen, "reading an object to pack");
            return -1;
        }
        pb_object(pk, git_odb_object_type(o), git_odb_object_data(o), git_odb_object_size(o));
        git_odb_object_free(o);
    }
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned sumlen = 0;
    if (pk->oom || !EVP_Digest(pk->buf, pk->len, sum, &sumlen, EVP_sha1(), NULL)) {
        snprintf(err, errlen, "out of memory building a pack");
        return -1;
    }
    pb_put(pk, sum, sumlen);
    if (pk->oom) {
        snprintf(err, errlen, "out of memory building a pack");
        return -1;
    }
    return 0;
}

/* Every object under tree that the on-disk store lacks (new trees stop the
 * descent where a subtree is already on disk: unchanged parts are shared). */
static int collect_new(oidvec *out, git_repository *bulk, git_odb *disk, const git_oid *tree_id)
{
    git_tree *t = NULL;
    if (git_odb_exists_ext(disk, tree_id, GIT_ODB_LOOKUP_NO_REFRESH))
        return 0;
    if (oidvec_push(out, tree_id) != 0 || git_tree_lookup(&t, bulk, tree_id) < 0)
        return -1;
    int rc = 0;
    size_t n = git_tree_entrycount(t);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
            rc = collect_new(out, bulk, disk, git_tree_entry_id(e));
        else if (!git_odb_exists_ext(disk, git_tree_entry_id(e), GIT_ODB_LOOKUP_NO_REFRESH))
            rc = oidvec_push(out, git_tree_entry_id(e));
    }
    git_tree_free(t);
    return rc;
}

/* Write commit `tip` and every new object it needs, queued in the mempack,
 * as one pack into the real object store, then empty the mempack. libgit2's
 * mempack dump runs a delta search over every object (seconds for a large
 * import); a bulk write's objects are written once, so they go undeltified. */
static int mempack_flush(store *s, const git_oid *tip, char *err, size_t errlen)
{
    git_odb *disk = NULL, *bodb = NULL;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = {0};
    git_commit *c = NULL;
    oidvec objs = {0};
    packbuf pk = {0};
    int rc = -1;
    if (git_repository_odb(&disk, s->repo) < 0 || git_repository_odb(&bodb, s->bulk) < 0 ||
        git_commit_lookup(&c, s->bulk, tip) < 0 || oidvec_push(&objs, tip) != 0 ||
        collect_new(&objs, s->bulk, disk, git_commit_tree_id(c)) != 0) {
        git_err(err, errlen, "collecting the objects to write");
        goto cleanup;
    }
    if (pack_encode(&pk, bodb, &objs, err, errlen) != 0)
        goto cleanup;
    if (pk.oom || git_odb_write_pack(&wp, disk, NULL, NULL) < 0 ||
        wp->append(wp, pk.buf, pk.len, &stats) < 0 || wp->commit(wp, &stats) < 0) {
        git_err(err, errlen, "writing the pack");
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (wp)
        wp->free(wp);
    git_commit_free(c);
    git_odb_free(disk);
    git_odb_free(bodb);
    free(objs.v);
    free(pk.buf);
    git_mempack_reset(s->mempack);
    return rc;
}

int store_commit(store *s, const store_change *ch, size_t n, int bulk, const char *operator,
                 const char * message, char *err, size_t errlen)
{
    git_repository *repo = bulk ? s->bulk : s->repo;
    git_tree_update *up = NULL;
    char(*paths)[RECORD_ID_MAX + 32] = NULL;
    git_tree *base = NULL, *newtree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    git_reference *ref = NULL;
    git_oid tree_oid, commit_oid;
    char email[256];
    int rc = -1;

    if (n == 0) {
        snprintf(err, errlen, "nothing to commit");
        return -1;
    }
    up = calloc(n, sizeof *up);
    paths = calloc(n, sizeof *paths);
    if (!up || !paths) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        record_path(paths[i], sizeof paths[i], ch[i].id);
        if (git_blob_create_from_buffer(&up[i].id, repo, ch[i].buf, ch[i].len) < 0) {
            git_err(err, errlen, "writing a record");
            goto cleanup;
        }
        up[i].action = GIT_TREE_UPDATE_UPSERT;
        up[i].filemode = GIT_FILEMODE_BLOB;
        up[i].path = paths[i];
    }
    if (s->has_head) {
        if (git_commit_lookup(&parent, repo, &s->head) < 0 || git_commit_tree(&base, parent) < 0) {
            git_err(err, errlen, "reading the head");
            goto cleanup;
        }
    }
    /* base NULL on an empty store: no empty tree object is written */
    if (git_tree_create_updated(&tree_oid, repo, base, n, up) < 0 ||
        git_tree_lookup(&newtree, repo, &tree_oid) < 0) {
        git_err(err, errlen, "building the new tree");
        goto cleanup;
    }
    snprintf(email, sizeof email, "%s@%s", operator, s->node);
    if (git_signature_now(&sig, operator, email) < 0) {
        git_err(err, errlen, "making the commit signature");
        goto cleanup;
    }
    const git_commit *parents[1] = {parent};
    if (git_commit_create(&commit_oid, repo, NULL, sig, sig, "UTF-8", message, newtree,
                          parent ? 1 : 0, parents) < 0) {
        git_err(err, errlen, "creating the commit");
        goto cleanup;
    }
    if (bulk && mempack_flush(s, &commit_oid, err, errlen) != 0)
        goto cleanup;
    /* Objects are durable; now move the branch, expecting the head we built
     * on (nobody else writes it, but a mismatch must never be papered over). */
    int e = s->has_head ? git_reference_create_matching(&ref, s->repo, s->ref, &commit_oid, 1,
                                                        &s->head, message)
                        : git_reference_create(&ref, s->repo, s->ref, &commit_oid, 0, message);
    if (e < 0) {
        git_err(err, errlen, "moving the branch");
        goto cleanup;
    }
    git_oid_cpy(&s->head, &commit_oid);
    git_oid_cpy(&s->tree, &tree_oid);
    s->has_head = 1;
    rc = 0;
cleanup:
    if (rc != 0 && bulk)
        git_mempack_reset(s->mempack);
    git_reference_free(ref);
    git_signature_free(sig);
    git_commit_free(parent);
    git_tree_free(base);
    git_tree_free(newtree);
    free(up);
    free(paths);
    return rc;
}

int store_history(store *s, const char *id, store_version_cb cb, void *arg, char *err,
                  size_t errlen)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    int rc = 0;
    if (!s->has_head)
        return 0;
    if (git_revwalk_new(&walk, s->repo) < 0 ||
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) < 0 ||
        git_revwalk_push(walk, &s->head) < 0) {
        git_err(err, errlen, "walking history");
        git_revwalk_free(walk);
        return -1;
    }
    while (rc == 0 && git_revwalk_next(&oid, walk) == 0) {
        git_commit *c = NULL;
        git_tree *t = NULL;
        git_oid mine, first = {{0}};
        int have_mine, have_first = 0, differs = 1;
        if (git_commit_lookup(&c, s->repo, &oid) < 0 || git_commit_tree(&t, c) < 0) {
            git_err(err, errlen, "reading a commit");
            git_commit_free(c);
            rc = -1;
            break;
        }
        have_mine = tree_record_oid(&mine, t, id);
        git_tree_free(t);
        unsigned np = git_commit_parentcount(c);
        for (unsigned i = 0; i < np && differs; i++) {
            git_commit *p = NULL;
            git_tree *pt = NULL;
            git_oid po;
            int have_p = 0;
            if (git_commit_parent(&p, c, i) == 0 && git_commit_tree(&pt, p) == 0)
                have_p = tree_record_oid(&po, pt, id);
            if (i == 0 && have_p) {
                git_oid_cpy(&first, &po);
                have_first = 1;
            }
            if (have_p == have_mine && (!have_mine || git_oid_equal(&po, &mine)))
                differs = 0;
            git_tree_free(pt);
            git_commit_free(p);
        }
        if (differs && (have_mine || have_first)) {
            store_version v = {0};
            char *ob = NULL, *nb = NULL;
            const git_signature *au = git_commit_author(c);
            char *node = strdup(au->email ? au->email : "");
            char *at = node ? strchr(node, '@') : NULL;
            git_oid_tostr(v.commit, sizeof v.commit, &oid);
            v.time = (int64_t)git_commit_time(c);
            v.operator= au->name;
            v.node = at ? at + 1 : "";
            v.message = git_commit_message(c);
            v.merge = np > 1;
            if ((have_first && blob_read(s->repo, &first, &ob, &v.old_len) != 0) ||
                (have_mine && blob_read(s->repo, &mine, &nb, &v.new_len) != 0)) {
                git_err(err, errlen, "reading a record version");
                rc = -1;
            } else {
                v.old_buf = ob;
                v.new_buf = nb;
                rc = cb(&v, arg);
            }
            free(ob);
            free(nb);
            free(node);
        }
        git_commit_free(c);
    }
    git_revwalk_free(walk);
    return rc;
}

/* ---- tree comparison ------------------------------------------------------ */

typedef int (*delta_cb)(const git_diff_delta *d, float progress, void *payload);

#define TREE_DEPTH_MAX 8 /* members/aa/bb/id is 4 deep; anything deeper is refused */

static int tree_changes_at(git_repository *repo, git_tree *old, git_tree *new, char *path,
                           size_t plen, int depth, delta_cb cb, void *payload)
{
    size_t n = git_tree_entrycount(new);
    if (depth > TREE_DEPTH_MAX)
        return -2;
    for (size_t i = 0; i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(new, i);
        const char *name = git_tree_entry_name(e);
        const git_tree_entry *oe = old ? git_tree_entry_byname(old, name) : NULL;
        if (oe && git_oid_equal(git_tree_entry_id(oe), git_tree_entry_id(e)) &&
            git_tree_entry_filemode(oe) == git_tree_entry_filemode(e))
            continue; /* same object: nothing below it changed */
        size_t nlen = strlen(name);
        if (plen + nlen + 2 > 1024)
            return -2;
        memcpy(path + plen, name, nlen + 1);
        int rc;
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
            git_tree *sub = NULL, *osub = NULL;
            if (git_tree_lookup(&sub, repo, git_tree_entry_id(e)) < 0)
                return -1;
            if (oe && git_tree_entry_type(oe) == GIT_OBJECT_TREE &&
                git_tree_lookup(&osub, repo, git_tree_entry_id(oe)) < 0) {
                git_tree_free(sub);
                return -1;
            }
            path[plen + nlen] = '/';
            path[plen + nlen + 1] = 0;
            rc = tree_changes_at(repo, osub, sub, path, plen + nlen + 1, depth + 1, cb, payload);
            git_tree_free(sub);
            git_tree_free(osub);
        } else {
            git_diff_delta d;
            memset(&d, 0, sizeof d);
            int was_blob = oe && git_tree_entry_type(oe) == GIT_OBJECT_BLOB;
            d.status = was_blob ? GIT_DELTA_MODIFIED : GIT_DELTA_ADDED;
            d.nfiles = 2;
            if (was_blob)
                git_oid_cpy(&d.old_file.id, git_tree_entry_id(oe));
            git_oid_cpy(&d.new_file.id, git_tree_entry_id(e));
            d.old_file.path = d.new_file.path = path;
            d.new_file.mode = (uint16_t)git_tree_entry_filemode(e);
            d.old_file.mode = was_blob ? (uint16_t)git_tree_entry_filemode(oe) : 0;
            rc = cb(&d, 0, payload);
        }
        path[plen] = 0;
        if (rc)
            return rc;
    }
    return 0;
}

/* Call cb for every file added or changed from old (may be NULL) to new,
 * descending only into subtrees whose ids differ: a change of one record
 * costs a few tree reads whatever the store's size. (libgit2's tree diff
 * walks every tree of both sides.) Deletions are not reported: records are
 * never deleted. Returns 0, the callback's non-zero value, -1 on a read
 * error, -2 for trees deeper than the layout allows. */
static int tree_changes(git_repository *repo, git_tree *old, git_tree *new, delta_cb cb,
                        void *payload)
{
    char path[1100] = "";
    return tree_changes_at(repo, old, new, path, 0, 0, cb, payload);
}

/* ---- taking in other nodes' work ---------------------------------------- */

#define BUNDLE_MAX (4ull << 30)      /* 4 GiB */
#define BUNDLE_HEADER_MAX (1u << 20) /* header lines, all together */
#define BUNDLE_REFS_MAX 10000

typedef struct {
    git_repository *repo;
    store_record_cb cb;
    void *arg;
    int rc;
} emit_ctx;

static int emit_file_cb(const git_diff_delta *d, float progress, void *payload)
{
    emit_ctx *e = payload;
    git_blob *b = NULL;
    (void)progress;
    if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED)
        return 0;
    const char *slash = strrchr(d->new_file.path, '/');
    if (git_blob_lookup(&b, e->repo, &d->new_file.id) < 0) {
        e->rc = -1;
        return -1;
    }
    int rc = e->cb(slash ? slash + 1 : d->new_file.path, git_blob_rawcontent(b),
                   (size_t)git_blob_rawsize(b), e->arg);
    git_blob_free(b);
    if (rc) {
        e->rc = rc;
        return -1;
    }
    return 0;
}

/* Call cb for every record that differs between two trees (old may be NULL). */
static int emit_changes(git_repository *repo, const git_oid *old_tree, const git_oid *new_tree,
                        store_record_cb cb, void *arg, char *err, size_t errlen)
{
    git_tree *a = NULL, *b = NULL;
    emit_ctx e = {repo, cb, arg, 0};
    int rc = -1;
    if (!cb)
        return 0;
    if ((old_tree && git_tree_lookup(&a, repo, old_tree) < 0) ||
        git_tree_lookup(&b, repo, new_tree) < 0) {
        git_err(err, errlen, "comparing trees");
        goto cleanup;
    }
    if (tree_changes(repo, a, b, emit_file_cb, &e) != 0 || e.rc) {
        snprintf(err, errlen, "updating the index from a tree change failed");
        goto cleanup;
    }
    rc = 0;
cleanup:
    git_tree_free(a);
    git_tree_free(b);
    return rc;
}

/* Move the own branch from the current head to `to` (fsynced). */
static int move_own_branch(store *s, const git_oid *to, const char *why, char *err, size_t errlen)
{
    git_reference *ref = NULL;
    int e = s->has_head ? git_reference_create_matching(&ref, s->repo, s->ref, to, 1, &s->head, why)
                        : git_reference_create(&ref, s->repo, s->ref, to, 0, why);
    git_reference_free(ref);
    if (e < 0) {
        git_err(err, errlen, "moving the branch");
        return -1;
    }
    return 0;
}

typedef struct {
    git_repository *repo;
    git_tree_update *up;
    char (*paths)[RECORD_ID_MAX + 32];
    size_t n, cap;
    int rc;
    char *err;
    size_t errlen;
} join_ctx;

static int join_file_cb(const git_diff_delta *d, float progress, void *payload)
{
    join_ctx *j = payload;
    (void)progress;
    if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED)
        return 0; /* a record the peer lacks stays as ours */
    if (j->n == j->cap) {
        size_t nc = j->cap ? j->cap * 2 : 64;
        git_tree_update *nu = realloc(j->up, nc * sizeof *nu);
        if (nu)
            j->up = nu;
        char(*np)[RECORD_ID_MAX + 32] = nu ? realloc(j->paths, nc * sizeof *np) : NULL;
        if (!nu || !np) {
            snprintf(j->err, j->errlen, "out of memory");
            j->rc = -1;
            return -1;
        }
        j->paths = np;
        j->cap = nc;
    }
    /* pointers into paths are fixed up after the walk (realloc moves them) */
    snprintf(j->paths[j->n], sizeof j->paths[j->n], "%s", d->new_file.path);
    git_tree_update *u = &j->up[j->n];
    memset(u, 0, sizeof *u);
    u->action = GIT_TREE_UPDATE_UPSERT;
    u->filemode = GIT_FILEMODE_BLOB;
    if (d->status == GIT_DELTA_ADDED) {
        git_oid_cpy(&u->id, &d->new_file.id);
    } else {
        git_blob *ob = NULL, *nb = NULL;
        record a, b, out;
        char *buf = NULL, derr[128];
        size_t len;
        int ok = 0;
        record_init(&a);
        record_init(&b);
        record_init(&out);
        if (git_blob_lookup(&ob, j->repo, &d->old_file.id) == 0 &&
            git_blob_lookup(&nb, j->repo, &d->new_file.id) == 0 &&
            record_decode(&a, git_blob_rawcontent(ob), (size_t)git_blob_rawsize(ob), derr,
                          sizeof derr) == 0 &&
            record_decode(&b, git_blob_rawcontent(nb), (size_t)git_blob_rawsize(nb), derr,
                          sizeof derr) == 0 &&
            record_join(&out, &a, &b) == 0 && record_encode(&buf, &len, &out) == 0 &&
            git_blob_create_from_buffer(&u->id, j->repo, buf, len) == 0)
            ok = 1;
        else
            snprintf(j->err, j->errlen, "joining %s failed", d->new_file.path);
        free(buf);
        record_free(&a);
        record_free(&b);
        record_free(&out);
        git_blob_free(ob);
        git_blob_free(nb);
        if (!ok) {
            j->rc = -1;
            return -1;
        }
    }
    j->n++;
    return 0;
}

int store_take_head(store *s, const char *peer_hex, const char *peer_node, store_record_cb changed,
                    void *arg, store_take *outcome, char *err, size_t errlen)
{
    git_oid peer, old_tree;
    git_commit *pc = NULL, *own = NULL, *pcb = NULL;
    git_tree *own_tree = NULL, *peer_tree = NULL, *merged = NULL;
    git_signature *sig = NULL;
    join_ctx j = {0};
    int rc = -1;
    *outcome = STORE_TAKE_NOTHING;
    if (git_oid_fromstr(&peer, peer_hex) < 0 || git_commit_lookup(&pc, s->repo, &peer) < 0) {
        snprintf(err, errlen, "head %.40s is not a commit in the store", peer_hex);
        return -1;
    }
    git_oid_cpy(&old_tree, &s->tree);
    int had_head = s->has_head;
    if (s->has_head && git_oid_equal(&peer, &s->head)) {
        rc = 0;
        goto cleanup;
    }
    if (!s->has_head || git_graph_descendant_of(s->repo, &peer, &s->head) == 1) {
        if (move_own_branch(s, &peer, "fast-forward", err, errlen) != 0)
            goto cleanup;
        git_oid_cpy(&s->head, &peer);
        git_oid_cpy(&s->tree, git_commit_tree_id(pc));
        s->has_head = 1;
        *outcome = STORE_TAKE_FORWARD;
        rc =
            emit_changes(s->repo, had_head ? &old_tree : NULL, &s->tree, changed, arg, err, errlen);
        goto cleanup;
    }
    if (git_graph_descendant_of(s->repo, &s->head, &peer) == 1) {
        rc = 0;
        goto cleanup;
    }
    /* Concurrent work: join only the records whose blobs differ. */
    if (git_commit_lookup(&own, s->bulk, &s->head) < 0 || git_commit_tree(&own_tree, own) < 0 ||
        git_tree_lookup(&peer_tree, s->bulk, git_commit_tree_id(pc)) < 0) {
        git_err(err, errlen, "comparing the two heads");
        goto cleanup;
    }
    j.repo = s->bulk;
    j.err = err;
    j.errlen = errlen;
    if (tree_changes(s->bulk, own_tree, peer_tree, join_file_cb, &j) != 0 || j.rc) {
        if (!j.rc)
            git_err(err, errlen, "comparing the two heads");
        goto cleanup;
    }
    for (size_t i = 0; i < j.n; i++)
        j.up[i].path = j.paths[i];
    git_oid tree_oid, commit_oid;
    if (j.n && git_tree_create_updated(&tree_oid, s->bulk, own_tree, j.n, j.up) < 0) {
        git_err(err, errlen, "building the merged tree");
        goto cleanup;
    }
    if (!j.n || git_oid_equal(&tree_oid, &s->tree)) {
        /* The own tree already holds the join. Two nodes that merged each
         * other at once hold equal trees on different commits; if both
         * merged again they would trade merges forever. So only the node
         * whose name sorts first ties the two commits together (same tree),
         * and the other fast-forwards to that: a quiet network ends with
         * every branch on one commit. */
        git_mempack_reset(s->mempack);
        *outcome = STORE_TAKE_SAME_TREE;
        rc = 0;
        if (!peer_node || strcmp(s->node, peer_node) >= 0)
            goto cleanup;
        git_oid_cpy(&tree_oid, &s->tree);
    }
    char msg[256], author[300], shortid[13];
    int tie = *outcome == STORE_TAKE_SAME_TREE;
    git_oid_tostr(shortid, sizeof shortid, &peer);
    const git_signature *pa = git_commit_author(pc);
    const char *at = pa && pa->email ? strchr(pa->email, '@') : NULL;
    if (tie)
        snprintf(msg, sizeof msg, "merge %s %s\n\nsame records: ties two merges together\n",
                 peer_node, shortid);
    else
        snprintf(msg, sizeof msg, "merge %s %s\n\nrecords joined: %zu\n", at ? at + 1 : "peer",
                 shortid, j.n);
    snprintf(author, sizeof author, "uniond@%s", s->node);
    /* Parents must belong to the repository object the commit is made in:
     * libgit2 silently drops a parent owned by another one. */
    if (git_commit_lookup(&pcb, s->bulk, &peer) < 0) {
        git_err(err, errlen, "reading the peer head");
        goto cleanup;
    }
    const git_commit *parents[2] = {own, pcb};
    if (git_tree_lookup(&merged, s->bulk, &tree_oid) < 0 ||
        git_signature_now(&sig, "uniond", author) < 0 ||
        git_commit_create(&commit_oid, s->bulk, NULL, sig, sig, "UTF-8", msg, merged, 2, parents) <
            0) {
        git_err(err, errlen, "creating the merge commit");
        git_mempack_reset(s->mempack);
        goto cleanup;
    }
    if (mempack_flush(s, &commit_oid, err, errlen) != 0 ||
        move_own_branch(s, &commit_oid, msg, err, errlen))
        goto cleanup;
    git_oid_cpy(&s->head, &commit_oid);
    git_oid_cpy(&s->tree, &tree_oid);
    *outcome = STORE_TAKE_MERGED;
    rc = tie ? 0 : emit_changes(s->repo, &old_tree, &s->tree, changed, arg, err, errlen);
cleanup:
    free(j.up);
    free(j.paths);
    git_signature_free(sig);
    git_tree_free(merged);
    git_tree_free(own_tree);
    git_tree_free(peer_tree);
    git_commit_free(own);
    git_commit_free(pc);
    git_commit_free(pcb);
    return rc;
}

/* ---- bundles ------------------------------------------------------------- */

static int push_heads(git_revwalk *walk, git_repository *repo)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    int rc = 0;
    if (git_reference_iterator_glob_new(&it, repo, "refs/heads/*") < 0)
        return -1;
    while (git_reference_next(&ref, it) == 0) {
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
            git_revwalk_push(walk, git_reference_target(ref)) < 0)
            rc = -1;
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    return rc;
}

typedef struct {
    git_oid oid;
    char name[RECORD_NODE_MAX + 1];
} bundle_ref;

static int bundle_header_read(FILE *f, bundle_ref **refs, size_t *nrefs, git_oid **prereq,
                              size_t *nprereq, char *err, size_t errlen);

int store_bundle_write(store *s, const char *path, const char *since, char *err, size_t errlen)
{
    git_packbuilder *pb = NULL;
    git_revwalk *walk = NULL;
    git_reference_iterator *it = NULL;
    git_reference *ref;
    git_buf pack = {0};
    bundle_ref *old = NULL;
    git_oid *oldpre = NULL;
    size_t nold = 0, noldpre = 0;
    char tmp[4096];
    FILE *f = NULL;
    int rc = -1;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (since) {
        /* Incremental: what the earlier bundle carried becomes this one's
         * prerequisites, so only newer objects are packed. */
        FILE *sf = fopen(since, "rb");
        if (!sf) {
            snprintf(err, errlen, "cannot open %s: %s", since, strerror(errno));
            goto cleanup;
        }
        int e = bundle_header_read(sf, &old, &nold, &oldpre, &noldpre, err, errlen);
        fclose(sf);
        if (e != 0)
            goto cleanup;
        for (size_t i = 0; i < nold; i++) {
            git_commit *c = NULL;
            if (git_commit_lookup(&c, s->repo, &old[i].oid) < 0) {
                snprintf(err, errlen,
                         "%s names a commit this store does not have; export a full "
                         "bundle instead",
                         since);
                goto cleanup;
            }
            git_commit_free(c);
        }
    }
    if (git_packbuilder_new(&pb, s->repo) < 0 || git_revwalk_new(&walk, s->repo) < 0 ||
        push_heads(walk, s->repo) != 0) {
        git_err(err, errlen, "building the bundle's pack");
        goto cleanup;
    }
    for (size_t i = 0; i < nold; i++)
        git_revwalk_hide(walk, &old[i].oid);
    if (git_packbuilder_insert_walk(pb, walk) < 0 || git_packbuilder_write_buf(&pack, pb) < 0) {
        git_err(err, errlen, "building the bundle's pack");
        goto cleanup;
    }
    f = fopen(tmp, "wbx");
    if (!f) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fputs("# v2 git bundle\n", f);
    for (size_t i = 0; i < nold; i++) {
        char hex[41];
        git_oid_tostr(hex, sizeof hex, &old[i].oid);
        fprintf(f, "-%s %s\n", hex, old[i].name);
    }
    if (git_reference_iterator_glob_new(&it, s->repo, "refs/heads/*") < 0) {
        git_err(err, errlen, "listing branches");
        goto cleanup;
    }
    while (git_reference_next(&ref, it) == 0) {
        char hex[41];
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT) {
            git_oid_tostr(hex, sizeof hex, git_reference_target(ref));
            fprintf(f, "%s %s\n", hex, git_reference_name(ref));
        }
        git_reference_free(ref);
    }
    fputs("\n", f);
    if (fwrite(pack.ptr, 1, pack.size, f) != pack.size || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "renaming %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (f)
        fclose(f);
    if (rc != 0)
        unlink(tmp);
    git_reference_iterator_free(it);
    git_buf_dispose(&pack);
    git_revwalk_free(walk);
    git_packbuilder_free(pb);
    free(old);
    free(oldpre);
    return rc;
}

/* Parse "# v2 git bundle" header lines from f. */
static int bundle_header_read(FILE *f, bundle_ref **refs, size_t *nrefs, git_oid **prereq,
                              size_t *nprereq, char *err, size_t errlen)
{
    char line[1024];
    size_t total = 0, lineno = 0;
    *refs = NULL;
    *prereq = NULL;
    *nrefs = *nprereq = 0;
    if (!fgets(line, sizeof line, f) || strcmp(line, "# v2 git bundle\n") != 0) {
        snprintf(err, errlen, "not a git bundle (v2): the first line must be '# v2 git bundle'");
        return -1;
    }
    for (;;) {
        lineno++;
        if (!fgets(line, sizeof line, f)) {
            snprintf(err, errlen, "bundle header is cut short (truncated file?)");
            return -1;
        }
        size_t n = strlen(line);
        total += n;
        if (n == 0 || line[n - 1] != '\n' || total > BUNDLE_HEADER_MAX) {
            snprintf(err, errlen, "bundle header line %zu is too long or cut short", lineno + 1);
            return -1;
        }
        line[--n] = 0;
        if (n == 0)
            break;
        if (*nrefs + *nprereq >= BUNDLE_REFS_MAX) {
            snprintf(err, errlen, "bundle lists more than %d refs", BUNDLE_REFS_MAX);
            return -1;
        }
        int is_prereq = line[0] == '-';
        const char *hex = line + is_prereq;
        git_oid oid;
        if (strlen(hex) < 40 || git_oid_fromstrn(&oid, hex, 40) < 0 ||
            (hex[40] != ' ' && hex[40] != 0)) {
            snprintf(err, errlen, "bundle header line %zu: bad object id", lineno + 1);
            return -1;
        }
        if (is_prereq) {
            git_oid *np = realloc(*prereq, (*nprereq + 1) * sizeof *np);
            if (!np)
                return -1;
            *prereq = np;
            git_oid_cpy(&np[(*nprereq)++], &oid);
            continue;
        }
        const char *name = hex + 41;
        if (hex[40] != ' ') {
            snprintf(err, errlen, "bundle header line %zu: ref without a name", lineno + 1);
            return -1;
        }
        if (strcmp(name, "HEAD") == 0)
            continue;
        if (strncmp(name, "refs/heads/", 11) != 0 || !record_node_valid(name + 11)) {
            snprintf(err, errlen,
                     "bundle header line %zu: '%.100s' is not a node branch (refs/heads/NODE)",
                     lineno + 1, name);
            return -1;
        }
        for (size_t i = 0; i < *nrefs; i++)
            if (strcmp((*refs)[i].name, name + 11) == 0) {
                snprintf(err, errlen, "bundle lists branch %s twice", name + 11);
                return -1;
            }
        bundle_ref *nr = realloc(*refs, (*nrefs + 1) * sizeof *nr);
        if (!nr)
            return -1;
        *refs = nr;
        git_oid_cpy(&nr[*nrefs].oid, &oid);
        snprintf(nr[*nrefs].name, sizeof nr[*nrefs].name, "%s", name + 11);
        (*nrefs)++;
    }
    return 0;
}

typedef struct {
    git_repository *repo;
    char *err;
    size_t errlen;
    int bad;
} check_ctx;

/* Every file a new commit brings must be a canonical record at its path. */
static int check_file_cb(const git_diff_delta *d, float progress, void *payload)
{
    check_ctx *c = payload;
    char want[RECORD_ID_MAX + 32], derr[128];
    (void)progress;
    if (d->status == GIT_DELTA_DELETED)
        return 0;
    const char *path = d->new_file.path;
    const char *slash = strrchr(path, '/');
    if (!slash || !record_id_valid(slash + 1)) {
        snprintf(c->err, c->errlen, "bundle holds a file outside the record layout: %.200s", path);
        c->bad = 1;
        return -1;
    }
    record_path(want, sizeof want, slash + 1);
    if (strcmp(want, path) != 0 || d->new_file.mode != GIT_FILEMODE_BLOB) {
        snprintf(c->err, c->errlen, "bundle holds %.200s at the wrong path or mode (%o)", path,
                 d->new_file.mode);
        c->bad = 1;
        return -1;
    }
    git_odb *odb = NULL;
    size_t len;
    git_object_t type;
    if (git_repository_odb(&odb, c->repo) < 0 ||
        git_odb_read_header(&len, &type, odb, &d->new_file.id) < 0 || type != GIT_OBJECT_BLOB ||
        len > RECORD_BLOB_MAX) {
        git_odb_free(odb);
        snprintf(c->err, c->errlen, "bundle holds %.200s that is not a record-sized blob", path);
        c->bad = 1;
        return -1;
    }
    git_odb_free(odb);
    git_blob *b = NULL;
    record r;
    if (git_blob_lookup(&b, c->repo, &d->new_file.id) < 0 ||
        record_decode(&r, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), derr, sizeof derr) !=
            0) {
        git_blob_free(b);
        snprintf(c->err, c->errlen, "bundle holds a damaged record %.200s: %s", path, derr);
        c->bad = 1;
        return -1;
    }
    record_free(&r);
    git_blob_free(b);
    return 0;
}

static int hide_existing(git_revwalk *walk, git_repository *main_repo)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    if (git_reference_iterator_glob_new(&it, main_repo, "refs/heads/*") < 0)
        return -1;
    while (git_reference_next(&ref, it) == 0) {
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT)
            git_revwalk_hide(walk, git_reference_target(ref));
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    return 0;
}

/* Check every commit reachable from the refs and not already ours. */
static int quarantine_check(git_repository *q, git_repository *main_repo, const bundle_ref *refs,
                            size_t nrefs, size_t *ncommits, char *err, size_t errlen)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    int rc = -1;
    check_ctx c = {q, err, errlen, 0};
    *ncommits = 0;
    if (git_revwalk_new(&walk, q) < 0 || hide_existing(walk, main_repo) != 0) {
        git_err(err, errlen, "walking the bundle");
        goto cleanup;
    }
    for (size_t i = 0; i < nrefs; i++) {
        git_object *o = NULL;
        if (git_object_lookup(&o, q, &refs[i].oid, GIT_OBJECT_COMMIT) < 0) {
            snprintf(err, errlen, "bundle branch %s points to a commit the bundle lacks",
                     refs[i].name);
            goto cleanup;
        }
        git_object_free(o);
        if (git_revwalk_push(walk, &refs[i].oid) < 0) {
            git_err(err, errlen, "walking the bundle");
            goto cleanup;
        }
    }
    int e;
    while ((e = git_revwalk_next(&oid, walk)) == 0) {
        git_commit *cm = NULL, *parent = NULL;
        git_tree *t = NULL, *pt = NULL;
        (*ncommits)++;
        if (git_commit_lookup(&cm, q, &oid) < 0 || git_commit_tree(&t, cm) < 0 ||
            (git_commit_parentcount(cm) > 0 &&
             (git_commit_parent(&parent, cm, 0) < 0 || git_commit_tree(&pt, parent) < 0))) {
            git_err(err, errlen, "bundle commit is incomplete");
            e = -1;
        } else {
            int tc = tree_changes(q, pt, t, check_file_cb, &c);
            if (tc == -2 && !c.bad) {
                snprintf(err, errlen, "bundle holds trees deeper than the record layout");
                c.bad = 1;
            } else if (tc == -1 && !c.bad) {
                git_err(err, errlen, "bundle commit is incomplete");
                c.bad = 1;
            }
            if (c.bad)
                e = -1;
        }
        git_tree_free(t);
        git_tree_free(pt);
        git_commit_free(parent);
        git_commit_free(cm);
        if (e < 0)
            goto cleanup;
    }
    if (e != GIT_ITEROVER) {
        git_err(err, errlen, "bundle history is incomplete");
        goto cleanup;
    }
    rc = 0;
cleanup:
    git_revwalk_free(walk);
    return rc;
}

static void rmtree(const char *dir)
{
    char p[4700];
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Would taking ref r move our copy of that branch forward? Looked up in
 * repo (the quarantine view, which also sees the store). Returns 1 forward,
 * 0 same or older, -1 diverged (with err set). */
static int branch_copy_check(store *s, git_repository *repo, const bundle_ref *r, char *err,
                             size_t errlen)
{
    char name[300];
    git_reference *ref = NULL;
    snprintf(name, sizeof name, "refs/heads/%s", r->name);
    if (git_reference_lookup(&ref, s->repo, name) != 0)
        return 1;
    const git_oid *cur = git_reference_target(ref);
    int rc = 1;
    if (!cur || git_oid_equal(cur, &r->oid) || git_graph_descendant_of(repo, cur, &r->oid) == 1)
        rc = 0;
    else if (git_graph_descendant_of(repo, &r->oid, cur) != 1) {
        snprintf(err, errlen,
                 "branch %s is not a fast-forward of ours (a node rewrote its history?)", r->name);
        rc = -1;
    }
    git_reference_free(ref);
    return rc;
}

/* Fast-forward the copy of another node's branch. Returns 1 moved, 0 not
 * (same or older), -1 diverged or error. */
static int branch_copy_forward(store *s, const bundle_ref *r, char *err, size_t errlen)
{
    char name[300];
    git_reference *ref = NULL, *out = NULL;
    snprintf(name, sizeof name, "refs/heads/%s", r->name);
    int e = git_reference_lookup(&ref, s->repo, name);
    if (e == 0) {
        const git_oid *cur = git_reference_target(ref);
        if (!cur || git_oid_equal(cur, &r->oid) ||
            git_graph_descendant_of(s->repo, cur, &r->oid) == 1) {
            git_reference_free(ref);
            return 0;
        }
        if (git_graph_descendant_of(s->repo, &r->oid, cur) != 1) {
            snprintf(err, errlen, "branch %s in the bundle is not a fast-forward of ours", r->name);
            git_reference_free(ref);
            return -1;
        }
        e = git_reference_create_matching(&out, s->repo, name, &r->oid, 1, cur, "bundle import");
        git_reference_free(ref);
    } else {
        e = git_reference_create(&out, s->repo, name, &r->oid, 0, "bundle import");
    }
    git_reference_free(out);
    if (e < 0) {
        git_err(err, errlen, "updating a branch copy");
        return -1;
    }
    return 1;
}

#define UNPACK_LIMIT 100 /* objects; larger take-ins are kept as a pack */

typedef struct {
    git_odb *disk;
    git_odb *from;
    int rc;
} unpack_ctx;

/* Copy one object of the quarantine pack into the store as a loose object
 * (git_odb_write checks, compresses and fsyncs it). */
static int unpack_one(const git_oid *id, void *payload)
{
    unpack_ctx *u = payload;
    git_odb_object *o = NULL;
    git_oid written;
    if (git_odb_exists_ext(u->disk, id, GIT_ODB_LOOKUP_NO_REFRESH))
        return 0;
    if (git_odb_read(&o, u->from, id) < 0 ||
        git_odb_write(&written, u->disk, git_odb_object_data(o), git_odb_object_size(o),
                      git_odb_object_type(o)) < 0 ||
        !git_oid_equal(&written, id)) {
        git_odb_object_free(o);
        u->rc = -1;
        return -1;
    }
    git_odb_object_free(o);
    return 0;
}

/* Take in a pack (f positioned at its first byte; NULL when every object is
 * already here) and the refs it comes with: quarantine, check, move in,
 * move the branch copies forward and take in each moved head. */
static int ingest(store *s, FILE *f, const bundle_ref *all, size_t nall, store_record_cb changed,
                  void *arg, store_bundle_report *rep, char *err, size_t errlen)
{
    /* Our own branch is never taken from outside, not even looked at: a
     * node restored from an old backup must still take in everyone else. */
    bundle_ref *refs = calloc(nall + 1, sizeof *refs);
    size_t nrefs = 0;
    if (!refs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nall; i++) {
        if (strcmp(all[i].name, s->node) == 0)
            rep->own_skipped++;
        else
            refs[nrefs++] = all[i];
    }
    git_indexer_progress stats = {0};
    git_indexer *idx = NULL;
    git_odb *main_odb = NULL, *qodb = NULL;
    git_odb_backend *qpack = NULL, *qpack_b = NULL;
    git_repository *q = NULL;
    char qdir[4400] = "", src[4600], dst[4600], objdir[4200];
    const char *packname = NULL;
    int rc = -1;
    if (git_repository_odb(&main_odb, s->repo) < 0)
        goto giterr;
    snprintf(objdir, sizeof objdir, "%s/objects", git_repository_path(s->repo));
    if (f) {
        /* Quarantine: the pack is indexed in a directory of its own and
         * only moved in once every object has been checked. */
        snprintf(qdir, sizeof qdir, "%s/incoming-XXXXXX", objdir);
        if (!mkdtemp(qdir)) {
            snprintf(err, errlen, "cannot make a quarantine directory: %s", strerror(errno));
            qdir[0] = 0;
            goto cleanup;
        }
        git_indexer_options io = GIT_INDEXER_OPTIONS_INIT;
        if (git_indexer_new(&idx, qdir, 0, main_odb, &io) < 0)
            goto giterr;
        char chunk[65536];
        size_t n, total = 0;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            total += n;
            if (git_indexer_append(idx, chunk, n, &stats) < 0) {
                git_err(err, errlen, "the pack is damaged");
                goto cleanup;
            }
        }
        if (ferror(f) || total == 0 || git_indexer_commit(idx, &stats) < 0) {
            if (total == 0)
                snprintf(err, errlen, "no pack data (truncated file?)");
            else
                git_err(err, errlen, "the pack is damaged or truncated");
            goto cleanup;
        }
        packname = git_indexer_name(idx);
        snprintf(src, sizeof src, "%s/pack-%s.idx", qdir, packname);
        if (git_odb_new(&qodb) < 0 || git_odb_backend_one_pack(&qpack, src) < 0 ||
            git_odb_add_backend(qodb, qpack, 2) < 0)
            goto giterr;
        qpack_b = qpack; /* borrowed from here on: owned by qodb */
        qpack = NULL;
        if (git_odb_add_disk_alternate(qodb, objdir) < 0 || git_repository_wrap_odb(&q, qodb) < 0)
            goto giterr;
    }
    if (quarantine_check(q ? q : s->repo, s->repo, refs, nrefs, &rep->commits, err, errlen) != 0)
        goto cleanup;
    /* Refuse a diverged branch before anything moves: all or nothing. */
    for (size_t i = 0; i < nrefs; i++)
        if (branch_copy_check(s, q ? q : s->repo, &refs[i], err, errlen) < 0)
            goto cleanup;
    if (f && stats.total_objects <= UNPACK_LIMIT) {
        /* A small take-in (live sync sends one change at a time) becomes
         * loose objects, as git's receive.unpackLimit does: one pack per
         * change would leave thousands of packs to search on every lookup. */
        unpack_ctx u = {main_odb, qodb, 0};
        /* only the received pack: qodb's alternate is the whole store */
        if (!qpack_b->foreach || qpack_b->foreach (qpack_b, unpack_one, &u) < 0 || u.rc != 0) {
            git_err(err, errlen, "writing the received objects");
            goto cleanup;
        }
    } else if (f) {
        /* Move in: .pack first, .idx last (git finds packs by their index). */
        const char *ext[2] = {"pack", "idx"};
        for (int i = 0; i < 2; i++) {
            snprintf(src, sizeof src, "%s/pack-%s.%s", qdir, packname, ext[i]);
            snprintf(dst, sizeof dst, "%s/pack/pack-%s.%s", objdir, packname, ext[i]);
            if (rename(src, dst) != 0) {
                snprintf(err, errlen, "moving the pack in: %s", strerror(errno));
                goto cleanup;
            }
        }
        git_odb_refresh(main_odb);
        git_odb *bodb = NULL;
        if (git_repository_odb(&bodb, s->bulk) == 0)
            git_odb_refresh(bodb);
        git_odb_free(bodb);
    }
    for (size_t i = 0; i < nrefs; i++) {
        int m = branch_copy_forward(s, &refs[i], err, errlen);
        if (m < 0)
            goto cleanup;
        if (m == 0) {
            rep->stale++;
            continue;
        }
        rep->updated++;
        char hex[41];
        store_take t;
        git_oid_tostr(hex, sizeof hex, &refs[i].oid);
        if (store_take_head(s, hex, refs[i].name, changed, arg, &t, err, errlen) != 0)
            goto cleanup;
        rep->merged += t == STORE_TAKE_MERGED;
        rep->forwarded += t == STORE_TAKE_FORWARD;
    }
    rc = 0;
    goto cleanup;
giterr:
    git_err(err, errlen, "reading the pack");
cleanup:
    if (qdir[0])
        rmtree(qdir);
    git_repository_free(q);
    git_odb_free(qodb);
    git_indexer_free(idx);
    git_odb_free(main_odb);
    free(refs);
    return rc;
}

int store_bundle_read(store *s, const char *path, store_record_cb changed, void *arg,
                      store_bundle_report *rep, char *err, size_t errlen)
{
    FILE *f = NULL;
    bundle_ref *refs = NULL;
    git_oid *prereq = NULL;
    git_odb *odb = NULL;
    size_t nrefs = 0, nprereq = 0;
    int rc = -1;
    struct stat st;
    memset(rep, 0, sizeof *rep);
    f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > BUNDLE_MAX) {
        snprintf(err, errlen, "%s is not a regular file under 4 GiB", path);
        goto cleanup;
    }
    if (bundle_header_read(f, &refs, &nrefs, &prereq, &nprereq, err, errlen) != 0)
        goto cleanup;
    rep->refs = nrefs;
    if (git_repository_odb(&odb, s->repo) < 0) {
        git_err(err, errlen, "opening the object store");
        goto cleanup;
    }
    for (size_t i = 0; i < nprereq; i++)
        if (!git_odb_exists(odb, &prereq[i])) {
            char hex[41];
            git_oid_tostr(hex, sizeof hex, &prereq[i]);
            snprintf(err, errlen,
                     "bundle needs commit %.12s that this store lacks (import the earlier bundle "
                     "first)",
                     hex);
            goto cleanup;
        }
    rc = ingest(s, f, refs, nrefs, changed, arg, rep, err, errlen);
cleanup:
    git_odb_free(odb);
    free(refs);
    free(prereq);
    if (f)
        fclose(f);
    return rc;
}

int store_sync_apply(store *s, const char *pack, size_t len, const store_ref *refs, size_t nrefs,
                     store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                     size_t errlen)
{
    bundle_ref *br = calloc(nrefs + 1, sizeof *br);
    FILE *f = NULL;
    int rc = -1;
    memset(rep, 0, sizeof *rep);
    rep->refs = nrefs;
    if (!br) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nrefs; i++) {
        if (!record_node_valid(refs[i].name) || git_oid_fromstr(&br[i].oid, refs[i].oid) < 0) {
            snprintf(err, errlen, "bad head for branch %.64s", refs[i].name);
            goto cleanup;
        }
        snprintf(br[i].name, sizeof br[i].name, "%s", refs[i].name);
    }
    if (len > 0) {
        f = fmemopen((void *)pack, len, "rb");
        if (!f) {
            snprintf(err, errlen, "cannot read the pack: %s", strerror(errno));
            goto cleanup;
        }
    }
    rc = ingest(s, f, br, nrefs, changed, arg, rep, err, errlen);
cleanup:
    if (f)
        fclose(f);
    free(br);
    return rc;
}

int store_heads(store_ref **out, size_t *n, store *s, char *err, size_t errlen)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    store_ref *v = NULL;
    size_t cnt = 0;
    *out = NULL;
    *n = 0;
    if (git_reference_iterator_glob_new(&it, s->repo, "refs/heads/*") < 0) {
        git_err(err, errlen, "listing branches");
        return -1;
    }
    while (git_reference_next(&ref, it) == 0) {
        const char *name = git_reference_name(ref) + 11;
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT && record_node_valid(name)) {
            store_ref *nv = realloc(v, (cnt + 1) * sizeof *nv);
            if (!nv) {
                git_reference_free(ref);
                break;
            }
            v = nv;
            snprintf(v[cnt].name, sizeof v[cnt].name, "%s", name);
            git_oid_tostr(v[cnt].oid, sizeof v[cnt].oid, git_reference_target(ref));
            cnt++;
        }
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    *out = v;
    *n = cnt;
    return 0;
}

int store_has_object(store *s, const char *hex)
{
    git_oid oid;
    git_odb *odb = NULL;
    int r = 0;
    if (git_oid_fromstr(&oid, hex) == 0 && git_repository_odb(&odb, s->repo) == 0)
        r = git_odb_exists(odb, &oid);
    git_odb_free(odb);
    return r;
}

/* A set of object ids (open addressing; ids are hashes already). */
typedef struct {
    git_oid *v;
    unsigned char *used;
    size_t cap, n;
} oidset;

static int oidset_add(oidset *st, const git_oid *id) /* 1 added, 0 present, -1 oom */
{
    if ((st->n + 1) * 2 > st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 4096;
        git_oid *nv = calloc(nc, sizeof *nv);
        unsigned char *nu = calloc(nc, 1);
        if (!nv || !nu) {
            free(nv);
            free(nu);
            return -1;
        }
        for (size_t i = 0; i < st->cap; i++)
            if (st->used[i]) {
                size_t h;
                memcpy(&h, st->v[i].id, sizeof h);
                for (h &= nc - 1; nu[h]; h = (h + 1) & (nc - 1))
                    ;
                nu[h] = 1;
                git_oid_cpy(&nv[h], &st->v[i]);
            }
        free(st->v);
        free(st->used);
        st->v = nv;
        st->used = nu;
        st->cap = nc;
    }
    size_t h;
    memcpy(&h, id->id, sizeof h);
    for (h &= st->cap - 1; st->used[h]; h = (h + 1) & (st->cap - 1))
        if (git_oid_equal(&st->v[h], id))
            return 0;
    st->used[h] = 1;
    git_oid_cpy(&st->v[h], id);
    st->n++;
    return 1;
}

/* Objects of tree t not found at the same path in any parent tree: those
 * the receiver cannot have unless this pack brings them (every parent is
 * either in the pack too or reachable from its haves). */
static int tree_collect(git_repository *repo, git_tree *t, git_tree **parents, size_t np,
                        oidset *seen, oidvec *out)
{
    size_t n = git_tree_entrycount(t);
    for (size_t i = 0; i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        const git_oid *id = git_tree_entry_id(e);
        int shared = 0;
        for (size_t p = 0; p < np && !shared; p++) {
            const git_tree_entry *pe =
                parents[p] ? git_tree_entry_byname(parents[p], git_tree_entry_name(e)) : NULL;
            shared = pe && git_oid_equal(git_tree_entry_id(pe), id);
        }
        if (shared)
            continue;
        int added = oidset_add(seen, id);
        if (added < 0 || (added && oidvec_push(out, id) != 0))
            return -1;
        if (!added || git_tree_entry_type(e) != GIT_OBJECT_TREE)
            continue;
        git_tree *sub = NULL, *psub[8] = {0};
        size_t nps = np < 8 ? np : 8;
        if (git_tree_lookup(&sub, repo, id) < 0)
            return -1;
        for (size_t p = 0; p < nps; p++) {
            const git_tree_entry *pe =
                parents[p] ? git_tree_entry_byname(parents[p], git_tree_entry_name(e)) : NULL;
            if (pe && git_tree_entry_type(pe) == GIT_OBJECT_TREE)
                git_tree_lookup(&psub[p], repo, git_tree_entry_id(pe));
        }
        int rc = tree_collect(repo, sub, psub, nps, seen, out);
        for (size_t p = 0; p < nps; p++)
            git_tree_free(psub[p]);
        git_tree_free(sub);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int store_pack_build(char **out, size_t *len, store *s, const char *const *want, size_t nwant,
                     const char *const *have, size_t nhave, char *err, size_t errlen)
{
    git_revwalk *walk = NULL;
    git_odb *odb = NULL;
    oidset seen = {0};
    oidvec objs = {0};
    packbuf pk = {0};
    git_oid oid;
    int rc = -1;
    *out = NULL;
    *len = 0;
    if (git_revwalk_new(&walk, s->repo) < 0 || git_repository_odb(&odb, s->repo) < 0) {
        git_err(err, errlen, "building a pack");
        goto cleanup;
    }
    for (size_t i = 0; i < nwant; i++) {
        git_commit *c = NULL;
        if (git_oid_fromstr(&oid, want[i]) < 0 || git_commit_lookup(&c, s->repo, &oid) < 0) {
            snprintf(err, errlen, "asked for %.40s, which is not a commit here", want[i]);
            goto cleanup;
        }
        git_commit_free(c);
        if (git_revwalk_push(walk, &oid) < 0) {
            git_err(err, errlen, "building a pack");
            goto cleanup;
        }
    }
    /* The asker's haves we know cut the walk: only missing objects cross.
     * Objects are sent whole (no delta search): building stays fast and
     * linear, at the price of a somewhat larger pack. */
    for (size_t i = 0; i < nhave; i++)
        if (git_oid_fromstr(&oid, have[i]) == 0 && store_has_object(s, have[i]))
            git_revwalk_hide(walk, &oid);
    int e;
    while ((e = git_revwalk_next(&oid, walk)) == 0) {
        git_commit *c = NULL;
        git_tree *t = NULL, *pt[8] = {0};
        size_t np = 0;
        if (git_commit_lookup(&c, s->repo, &oid) < 0 || git_commit_tree(&t, c) < 0) {
            git_commit_free(c);
            git_err(err, errlen, "reading a commit to pack");
            goto cleanup;
        }
        np = git_commit_parentcount(c);
        if (np > 8)
            np = 8;
        for (size_t p = 0; p < np; p++) {
            git_commit *pc = NULL;
            if (git_commit_parent(&pc, c, (unsigned)p) == 0)
                git_commit_tree(&pt[p], pc);
            git_commit_free(pc);
        }
        int bad = oidset_add(&seen, &oid) < 0 || oidvec_push(&objs, &oid) != 0;
        const git_oid *tid = git_tree_id(t);
        int shared = 0;
        for (size_t p = 0; p < np; p++)
            shared |= pt[p] && git_oid_equal(git_tree_id(pt[p]), tid);
        if (!bad && !shared) {
            int added = oidset_add(&seen, tid);
            bad = added < 0 || (added && (oidvec_push(&objs, tid) != 0 ||
                                          tree_collect(s->repo, t, pt, np, &seen, &objs) != 0));
        }
        for (size_t p = 0; p < np; p++)
            git_tree_free(pt[p]);
        git_tree_free(t);
        git_commit_free(c);
        if (bad) {
            git_err(err, errlen, "collecting the objects to pack");
            goto cleanup;
        }
    }
    if (e != GIT_ITEROVER) {
        git_err(err, errlen, "walking history");
        goto cleanup;
    }
    if (pack_encode(&pk, odb, &objs, err, errlen) != 0)
        goto cleanup;
    *out = (char *)pk.buf;
    *len = pk.len;
    pk.buf = NULL;
    rc = 0;
cleanup:
    free(pk.buf);
    free(objs.v);
    free(seen.v);
    free(seen.used);
    git_odb_free(odb);
    git_revwalk_free(walk);
    return rc;
}
