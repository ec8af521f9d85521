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
    if (git_libgit2_init() < 0) return -1;
    /* Durability: every object, pack, index and ref write is fsynced. */
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
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
    if (flag != FTW_F) return 0;
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
    if (!s->node) goto fail;
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
    if (store_refresh_head(s, err, errlen) != 0) goto fail;
    *out = s;
    return 0;
fail:
    git_odb_free(odb);
    store_free(s);
    return -1;
}

void store_free(store *s)
{
    if (!s) return;
    git_repository_free(s->bulk); /* owns the mempack backend via its odb */
    git_repository_free(s->repo);
    free(s->node);
    free(s);
}

void store_head(const store *s, char commit[41], char tree[41])
{
    commit[0] = tree[0] = 0;
    if (!s->has_head) return;
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
    if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) return 0;
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
    if (!s->has_head) return 0;
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
    if (git_tree_entry_bypath(&te, tree, path) < 0) return 0;
    git_oid_cpy(out, git_tree_entry_id(te));
    git_tree_entry_free(te);
    return 1;
}

static int blob_read(git_repository *repo, const git_oid *oid, char **buf, size_t *len)
{
    git_blob *b = NULL;
    if (git_blob_lookup(&b, repo, oid) < 0) return -1;
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
    if (!s->has_head) return 0;
    if (git_tree_lookup(&tree, s->repo, &s->tree) < 0) {
        git_err(err, errlen, "reading the head tree");
        return -1;
    }
    if (tree_record_oid(&oid, tree, id)) {
        rc = blob_read(s->repo, &oid, buf, len) == 0 ? 1 : -1;
        if (rc < 0) git_err(err, errlen, "reading a record");
    }
    git_tree_free(tree);
    return rc;
}

/* Write the queued mempack objects as one pack into the real object store. */
static int mempack_flush(store *s, char *err, size_t errlen)
{
    git_buf pack = {0};
    git_odb *odb = NULL;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = {0};
    int rc = -1;
    if (git_mempack_dump(&pack, s->bulk, s->mempack) < 0 || git_repository_odb(&odb, s->repo) < 0 ||
        git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
        wp->append(wp, pack.ptr, pack.size, &stats) < 0 || wp->commit(wp, &stats) < 0) {
        git_err(err, errlen, "writing the pack");
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (wp) wp->free(wp);
    git_odb_free(odb);
    git_buf_dispose(&pack);
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
    if (bulk && mempack_flush(s, err, errlen) != 0) goto cleanup;
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
    if (rc != 0 && bulk) git_mempack_reset(s->mempack);
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
    if (!s->has_head) return 0;
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
            if (have_p == have_mine && (!have_mine || git_oid_equal(&po, &mine))) differs = 0;
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
