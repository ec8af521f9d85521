/* repo.c - repository access: libgit2 setup, create/open, the own head,
 * reading records, writing commits, a record's history, the branch list.
 * Part of the store room (daemon/store/), the only code that includes
 * git2.h. Never takes data from outside: that is transfer.c's job.
 *
 * Writes: objects go to loose files (one record edited), or one streamed
 * pack (bulk: bulktree.c), or in a batch to a mempack written as one pack
 * (packwriter.c); only then is the branch ref moved. With libgit2's fsync
 * option on, an acknowledged write survives a crash or kill -9. */
#include "daemon/store/journal.h"
#include "daemon/store/objcheck.h"
#include "daemon/store/readwatch.h"
#include "daemon/store/writecheck.h"
#include "daemon/store/store_int.h"

#include "daemon/util/log.h"
#include "proto/record.h"

#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- room-wide helpers --------------------------------------------------- */

void store_enter(store *s)
{
    int was = atomic_exchange(&s->busy, 1);
    assert(was == 0 && "the store is used from one thread at a time");
    (void)was;
}

void store_leave(store *s)
{
    int was = atomic_exchange(&s->busy, 0);
    assert(was == 1);
    (void)was;
}

uerr store_git_err(char *err, size_t errlen, uerr otherwise, const char *what)
{
    const git_error *e = git_error_last();
    uerr code = otherwise;
    if (e && (e->klass == GIT_ERROR_OS || e->klass == GIT_ERROR_FILESYSTEM))
        code = UERR_IO;
    else if (e && e->klass == GIT_ERROR_NOMEMORY)
        code = UERR_NOMEM;
    return uerr_set(err, errlen, code, "%s: %s", what,
                    e && e->message ? e->message : "unknown git error");
}

/* A read of object id failed at start: name it, its loose file when it
 * has one, and what to do. Typed as store_git_err would (UERR_IO). */
static uerr damaged_err(char *err, size_t errlen, git_repository *repo, const git_oid *id,
                        const char *what)
{
    char hex[GIT_OID_HEXSZ + 1], path[4200];
    const git_error *e = git_error_last();
    struct stat st;
    git_oid_tostr(hex, sizeof hex, id);
    snprintf(path, sizeof path, "%sobjects/%.2s/%s", git_repository_path(repo), hex, hex + 2);
    if (stat(path, &st) != 0)
        snprintf(path, sizeof path, "a pack in %sobjects/pack", git_repository_path(repo));
    return uerr_set(err, errlen, e && e->klass == GIT_ERROR_NOMEMORY ? UERR_NOMEM : UERR_IO,
                    "%s: store object %s (%s) is damaged: %s; restore this node from a peer or "
                    "a bundle (uniond(8), REPAIR)",
                    what, hex, path, e && e->message ? e->message : "unreadable");
}

/* ---- setup ----------------------------------------------------------------- */

uerr store_global_init(void)
{
    if (git_libgit2_init() < 0)
        return UERR_INTERNAL;
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
    /* Each group commit leaves a small pack (joined at the next start):
     * keep the packs libgit2 holds open bounded, far below the fd limit. */
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT, (size_t)128);
    return UERR_OK;
}

void store_global_shutdown(void)
{
    git_libgit2_shutdown();
}

uerr store_create(const char *gitdir, const char *node, char *err, size_t errlen)
{
    git_repository *repo = NULL;
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    struct stat st;
    uerr rc = UERR_OK;
    if (stat(gitdir, &st) == 0)
        return uerr_set(err, errlen, UERR_CONFLICT, "%s already exists", gitdir);
    opts.flags =
        GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    opts.initial_head = node;
    opts.description = "uniond member store";
    if (git_repository_init_ext(&repo, gitdir, &opts) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "creating the git store");
    else
        rc = store_format_mark(repo, err, errlen);
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
        strncmp(base, "tmp_", 4) == 0) /* libgit2's tmp_object_git2_*, packfile.c's tmp_pack_* */
        unlink(path);
    return 0;
}

static uerr refresh_head(store *s, char *err, size_t errlen)
{
    git_reference *ref = NULL;
    git_commit *c = NULL;
    int e = git_reference_lookup(&ref, s->repo, s->ref);
    if (e == GIT_ENOTFOUND) {
        s->has_head = 0;
        return UERR_OK;
    }
    if (e < 0 || git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
        git_reference_free(ref);
        return store_git_err(err, errlen, UERR_IO, "reading the own branch");
    }
    git_oid_cpy(&s->head, git_reference_target(ref));
    git_reference_free(ref);
    readwatch_object(&s->head);
    int ce = git_commit_lookup(&c, s->repo, &s->head);
    readwatch_idle();
    if (ce < 0)
        return damaged_err(err, errlen, s->repo, &s->head, "reading the head commit");
    git_oid_cpy(&s->tree, git_commit_tree_id(c));
    git_commit_free(c);
    s->has_head = 1;
    return UERR_OK;
}

uerr store_open(store **out, const char *gitdir, const char *node, char *err, size_t errlen)
{
    store *s = calloc(1, sizeof *s);
    git_odb *odb = NULL;
    uerr rc;
    *out = NULL;
    if (!s)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    /* Stale locks, temp files and quarantines from a crash. We hold the
     * DATA lock. */
    nftw(gitdir, unlink_stale, 16, FTW_PHYS);
    store_quarantine_clear(gitdir);
    /* Group commits a crash left in the journal are redone before
     * anything reads a pack or the branch (the small packs' join below
     * reads packs). */
    rc = store_journal_open(&s->journal, gitdir, node, err, errlen);
    if (rc != UERR_OK)
        goto fail;
    /* Every object read from here to store_startup_done is bounded in
     * time (readwatch.h): a damaged object ends start-up, named. */
    readwatch_begin(gitdir);
    store_small_packs_join(gitdir);
    store_limits_set(s, NULL);
    s->node = strdup(node);
    snprintf(s->ref, sizeof s->ref, "refs/heads/%s", node);
    if (!s->node) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto fail;
    }
    if (git_repository_open_bare(&s->repo, gitdir) < 0 ||
        git_repository_open_bare(&s->bulk, gitdir) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the git store");
        goto fail;
    }
    if ((rc = store_format_check(s->repo, gitdir, err, errlen)) != UERR_OK)
        goto fail;
    if (git_mempack_new(&s->mempack) < 0 || git_repository_odb(&odb, s->bulk) < 0 ||
        git_odb_add_backend(odb, s->mempack, 999) < 0) {
        rc = store_git_err(err, errlen, UERR_INTERNAL, "setting up the bulk writer");
        goto fail;
    }
    git_odb_free(odb);
    odb = NULL;
    rc = refresh_head(s, err, errlen);
    if (rc != UERR_OK)
        goto fail;
    /* A take-in cut short after a branch copy moved, or a copy fetched
     * with plain git while the node was stopped: merge it now, before the
     * caller builds its index from the head. */
    store_copies_reconcile(s);
    *out = s;
    return UERR_OK;
fail:
    git_odb_free(odb);
    store_free(s);
    return rc;
}

void store_limits_set(store *s, const store_limits *l)
{
    s->limits.bytes = l && l->bytes ? l->bytes : STORE_TAKEIN_BYTES_DEFAULT;
    s->limits.objects = l && l->objects ? l->objects : STORE_TAKEIN_OBJECTS_DEFAULT;
}

void store_startup_done(store *s)
{
    (void)s;
    readwatch_end();
}

void store_free(store *s)
{
    readwatch_end();
    if (!s)
        return;
    assert(!atomic_load(&s->busy) && "store freed while a call is running");
    char err[256];
    if (s->journal && store_journal_checkpoint(s->journal, err, sizeof err) != UERR_OK)
        log_msg(LOG_WARN, "journal kept for the next start: %s", err);
    store_journal_free(s->journal);
    store_tcache_free(&s->tc);
    store_tcache_free(&s->tc_next);
    git_repository_free(s->bulk); /* owns the mempack backend via its odb */
    git_repository_free(s->repo);
    free(s->node);
    free(s);
}

void store_head(const store *s, char commit[41], char tree[41])
{
    /* Read on the loop thread only while no store job runs (store.h). */
    assert(!atomic_load(&s->busy));
    commit[0] = tree[0] = 0;
    if (!s->has_head)
        return;
    git_oid_tostr(commit, 41, &s->head);
    git_oid_tostr(tree, 41, &s->tree);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct {
    git_repository *repo;
    store_record_cb cb;
    void *arg;
    int rc;      /* the callback's non-zero value */
    int giterr;  /* a blob could not be read */
    git_oid bad; /* which (when giterr) */
    git_oid cur; /* the last entry seen: a subtree the walk failed to read */
    int has_cur;
} walk_ctx;

/* A record blob's header must claim at most STORE_OBJECT_MAX bytes before
 * the whole object is inflated into memory; -1 (with git's error set to
 * name the object) otherwise. */
static int blob_size_ok(walk_ctx *w, const git_oid *id)
{
    git_odb *odb = NULL;
    size_t size = 0;
    git_object_t type;
    char hex[GIT_OID_HEXSZ + 1], msg[256];
    if (git_repository_odb(&odb, w->repo) < 0)
        return -1;
    int e = git_odb_read_header(&size, &type, odb, id);
    git_odb_free(odb);
    if (e < 0)
        return -1;
    if (size <= STORE_OBJECT_MAX && type == GIT_OBJECT_BLOB)
        return 0;
    snprintf(msg, sizeof msg,
             "object %s is damaged: its header says a %s of %zu bytes (a record is a "
             "blob of at most %u); restore this node from a peer or a bundle",
             git_oid_tostr(hex, sizeof hex, id), git_object_type2string(type), size,
             STORE_OBJECT_MAX);
    git_error_set_str(GIT_ERROR_ODB, msg);
    return -1;
}

static int walk_cb(const char *root, const git_tree_entry *entry, void *payload)
{
    walk_ctx *w = payload;
    git_blob *blob = NULL;
    /* Only <kind folder>/aa/bb/<id> blobs are records (kind_path_parse). */
    char path[RECORD_ID_MAX + 64], id[RECORD_ID_MAX + 1];
    record_kind kind;
    /* a subtree is read by the walk after we return: watched all the same */
    readwatch_object(git_tree_entry_id(entry));
    git_oid_cpy(&w->cur, git_tree_entry_id(entry));
    w->has_cur = 1;
    if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
        return 0;
    if ((size_t)snprintf(path, sizeof path, "%s%s", root, git_tree_entry_name(entry)) >=
            sizeof path ||
        kind_path_parse(&kind, id, sizeof id, path) != UERR_OK)
        return 0;
    /* git_tree_walk returns whatever stops it, so both ways out say
     * GIT_EUSER and the flags tell them apart. */
    if (blob_size_ok(w, git_tree_entry_id(entry)) != 0 ||
        git_blob_lookup(&blob, w->repo, git_tree_entry_id(entry)) < 0) {
        w->giterr = 1;
        git_oid_cpy(&w->bad, git_tree_entry_id(entry));
        return GIT_EUSER;
    }
    int rc = w->cb(kind, id, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), w->arg);
    git_blob_free(blob);
    if (rc) {
        w->rc = rc;
        return GIT_EUSER;
    }
    return 0;
}

static uerr foreach_run(store *s, store_record_cb cb, void *arg, char *err, size_t errlen)
{
    git_tree *tree = NULL;
    walk_ctx w = {.repo = s->repo, .cb = cb, .arg = arg};
    if (!s->has_head)
        return UERR_OK;
    readwatch_object(&s->tree);
    if (git_tree_lookup(&tree, s->repo, &s->tree) < 0) {
        readwatch_idle();
        return damaged_err(err, errlen, s->repo, &s->tree, "reading the head tree");
    }
    int e = git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &w);
    readwatch_idle();
    git_tree_free(tree);
    if (w.giterr)
        return damaged_err(err, errlen, s->repo, &w.bad, "reading a record");
    if (e < 0 && e != GIT_EUSER && w.has_cur)
        return damaged_err(err, errlen, s->repo, &w.cur, "reading a folder of the tree");
    if (e < 0 && e != GIT_EUSER)
        return store_git_err(err, errlen, UERR_IO,
                             "walking the head tree (the store is damaged: restore this node "
                             "from a peer or a bundle)");
    return (uerr)w.rc; /* the callback's own value, passed through (store.h) */
}

uerr store_foreach(store *s, store_record_cb cb, void *arg, char *err, size_t errlen)
{
    store_enter(s);
    uerr rc = foreach_run(s, cb, arg, err, errlen);
    store_leave(s);
    return rc;
}

/* The blob id of record `id` in tree, or 0 if absent. Each kind folder is
 * tried: ids are unique across kinds. */
static int tree_record_oid(git_oid *out, git_tree *tree, const char *id)
{
    char path[RECORD_ID_MAX + 32];
    for (int k = KIND_MEMBER; k < KIND_COUNT; k++) {
        git_tree_entry *te = NULL;
        kind_path(path, sizeof path, (record_kind)k, id);
        if (git_tree_entry_bypath(&te, tree, path) < 0)
            continue;
        git_oid_cpy(out, git_tree_entry_id(te));
        git_tree_entry_free(te);
        return 1;
    }
    return 0;
}

/* A copy of blob oid, NUL-terminated; *buf malloc'd (caller frees). */
static uerr blob_read(git_repository *repo, const git_oid *oid, char **buf, size_t *len, char *err,
                      size_t errlen)
{
    git_blob *b = NULL;
    if (git_blob_lookup(&b, repo, oid) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading a record");
    *len = (size_t)git_blob_rawsize(b);
    *buf = malloc(*len + 1);
    if (*buf) {
        memcpy(*buf, git_blob_rawcontent(b), *len);
        (*buf)[*len] = 0;
    }
    git_blob_free(b);
    return *buf ? UERR_OK : uerr_set(err, errlen, UERR_NOMEM, "out of memory reading a record");
}

static uerr read_run(store *s, char **buf, size_t *len, const char *id, char *err, size_t errlen)
{
    git_tree *tree = NULL;
    git_oid oid;
    uerr rc;
    if (!s->has_head)
        return uerr_set(err, errlen, UERR_NOTFOUND, "no record %.64s (the store is empty)", id);
    /* in a batch the pending head's objects are in bulk's mempack */
    git_repository *repo = s->batching ? s->bulk : s->repo;
    if (git_tree_lookup(&tree, repo, &s->tree) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading the head tree");
    if (tree_record_oid(&oid, tree, id))
        rc = blob_read(repo, &oid, buf, len, err, errlen);
    else
        rc = uerr_set(err, errlen, UERR_NOTFOUND, "no record %.64s", id);
    git_tree_free(tree);
    return rc;
}

uerr store_read(store *s, char **buf, size_t *len, const char *id, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    store_enter(s);
    uerr rc = read_run(s, buf, len, id, err, errlen);
    store_leave(s);
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

uerr store_branch_move(store *s, git_repository *repo, const git_oid *to, const char *why,
                       char *err, size_t errlen)
{
    git_reference *ref = NULL;
    /* the journal's moves are durable before any other */
    uerr rc = store_checkpoint_in(s, err, errlen);
    if (rc != UERR_OK)
        return rc;
    /* Expect the head we built on: nobody else writes the own branch, but a
     * mismatch must never be papered over. */
    int e = s->has_head ? git_reference_create_matching(&ref, repo, s->ref, to, 1, &s->head, why)
                        : git_reference_create(&ref, repo, s->ref, to, 0, why);
    git_reference_free(ref);
    if (e == GIT_EMODIFIED || e == GIT_EEXISTS)
        return store_git_err(err, errlen, UERR_CONFLICT, "moving the branch");
    if (e < 0)
        return store_git_err(err, errlen, UERR_IO, "moving the branch");
    return UERR_OK;
}

/* The tree updates writing each change's blob (into repo: loose objects,
 * or the mempack when bulk). up and paths are filled by the caller's
 * allocation of n each. */
static uerr commit_blobs(git_tree_update *up, char (*paths)[RECORD_ID_MAX + 32],
                         git_repository *repo, const store_change *ch, size_t n, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!record_id_valid(ch[i].id))
            return uerr_set(err, errlen, UERR_INVALID, "bad record id %.64s", ch[i].id);
        uerr e = store_write_check(ch[i].id, ch[i].buf, ch[i].len, err, errlen);
        if (e != UERR_OK)
            return e;
        kind_path(paths[i], sizeof paths[i], ch[i].kind ? ch[i].kind : KIND_MEMBER, ch[i].id);
        if (git_blob_create_from_buffer(&up[i].id, repo, ch[i].buf, ch[i].len) < 0)
            return store_git_err(err, errlen, UERR_IO, "writing a record");
        up[i].action = GIT_TREE_UPDATE_UPSERT;
        up[i].filemode = GIT_FILEMODE_BLOB;
        up[i].path = paths[i];
    }
    return UERR_OK;
}

/* git_tree_create_updated: loose writes (a batch: gctree.c; bulk: bulktree.c) */
static uerr commit_run(store *s, const store_change *ch, size_t n, int bulk, const char *operator,
                       const char * message, char *err, size_t errlen)
{
    /* (a batch's commits are built by gctree.c) */
    git_repository *repo = bulk ? s->bulk : s->repo;
    git_tree_update *up = NULL;
    char(*paths)[RECORD_ID_MAX + 32] = NULL;
    git_tree *base = NULL, *newtree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    git_oid tree_oid, commit_oid;
    char email[256];
    uerr rc;

    if (n == 0)
        return uerr_set(err, errlen, UERR_INVALID, "nothing to commit");
    up = calloc(n, sizeof *up);
    paths = calloc(n, sizeof *paths);
    if (!up || !paths) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    rc = commit_blobs(up, paths, repo, ch, n, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    if (s->has_head &&
        (git_commit_lookup(&parent, repo, &s->head) < 0 || git_commit_tree(&base, parent) < 0)) {
        rc = store_git_err(err, errlen, UERR_IO, "reading the head");
        goto cleanup;
    }
    /* base NULL on an empty store: no empty tree object is written */
    if (git_tree_create_updated(&tree_oid, repo, base, n, up) < 0 ||
        git_tree_lookup(&newtree, repo, &tree_oid) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "building the new tree");
        goto cleanup;
    }
    snprintf(email, sizeof email, "%s@%s", operator, s->node);
    if (git_signature_now(&sig, operator, email) < 0) {
        rc = store_git_err(err, errlen, UERR_INVALID, "making the commit signature");
        goto cleanup;
    }
    const git_commit *parents[1] = {parent};
    if (git_commit_create(&commit_oid, repo, NULL, sig, sig, "UTF-8", message, newtree,
                          parent ? 1 : 0, parents) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "creating the commit");
        goto cleanup;
    }
    if (bulk && (rc = store_mempack_flush(s, &commit_oid, err, errlen)) != UERR_OK)
        goto cleanup;
    /* Objects are durable; now move the branch. */
    rc = store_branch_move(s, s->repo, &commit_oid, message, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    git_oid_cpy(&s->head, &commit_oid);
    git_oid_cpy(&s->tree, &tree_oid);
    s->has_head = 1;
cleanup:
    if (rc != UERR_OK && bulk)
        git_mempack_reset(s->mempack);
    git_signature_free(sig);
    git_commit_free(parent);
    git_tree_free(base);
    git_tree_free(newtree);
    free(up);
    free(paths);
    return rc;
}

uerr store_commit(store *s, const store_change *ch, size_t n, int bulk, const char *operator,
                  const char * message, char *err, size_t errlen)
{
    store_enter(s);
    uerr rc = s->batching ? store_batch_commit(s, ch, n, operator, message, err, errlen)
              : bulk      ? store_bulk_commit(s, ch, n, operator, message, err, errlen)
                          : commit_run(s, ch, n, bulk, operator, message, err, errlen);
    store_leave(s);
    return rc;
}

/* ---- history ------------------------------------------------------------------ */

/* Does commit c's version of record id differ from every parent's? *mine
 * and *first (the first parent's version) are set when present. */
static int version_differs(git_commit *c, git_tree *t, const char *id, git_oid *mine,
                           int *have_mine, git_oid *first, int *have_first)
{
    int differs = 1;
    *have_mine = tree_record_oid(mine, t, id);
    *have_first = 0;
    unsigned np = git_commit_parentcount(c);
    for (unsigned i = 0; i < np && differs; i++) {
        git_commit *p = NULL;
        git_tree *pt = NULL;
        git_oid po;
        int have_p = 0;
        if (git_commit_parent(&p, c, i) == 0 && git_commit_tree(&pt, p) == 0)
            have_p = tree_record_oid(&po, pt, id);
        if (i == 0 && have_p) {
            git_oid_cpy(first, &po);
            *have_first = 1;
        }
        if (have_p == *have_mine && (!*have_mine || git_oid_equal(&po, mine)))
            differs = 0;
        git_tree_free(pt);
        git_commit_free(p);
    }
    return differs;
}

/* Build the version of commit c (oid) and hand it to cb. */
static uerr version_emit(store *s, git_commit *c, const git_oid *oid, const git_oid *first,
                         int have_first, const git_oid *mine, int have_mine, store_version_cb cb,
                         void *arg, char *err, size_t errlen)
{
    store_version v = {0};
    char *ob = NULL, *nb = NULL;
    const git_signature *au = git_commit_author(c);
    char *node = strdup(au->email ? au->email : "");
    char *at = node ? strchr(node, '@') : NULL;
    uerr rc = UERR_OK;
    if (!node)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    git_oid_tostr(v.commit, sizeof v.commit, oid);
    v.time = (int64_t)git_commit_time(c);
    v.operator= au->name;
    v.node = at ? at + 1 : "";
    v.message = git_commit_message(c);
    v.merge = git_commit_parentcount(c) > 1;
    if (have_first)
        rc = blob_read(s->repo, first, &ob, &v.old_len, err, errlen);
    if (rc == UERR_OK && have_mine)
        rc = blob_read(s->repo, mine, &nb, &v.new_len, err, errlen);
    if (rc == UERR_OK) {
        v.old_buf = ob;
        v.new_buf = nb;
        rc = (uerr)cb(&v, arg); /* the callback's own value, passed through */
    }
    free(ob);
    free(nb);
    free(node);
    return rc;
}

uerr store_walk_head(git_revwalk **out, store *s, char *err, size_t errlen)
{
    *out = NULL;
    if (git_revwalk_new(out, s->repo) < 0 ||
        git_revwalk_sorting(*out, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) < 0 ||
        git_revwalk_push(*out, &s->head) < 0) {
        git_revwalk_free(*out);
        *out = NULL;
        return store_git_err(err, errlen, UERR_IO, "walking history");
    }
    return UERR_OK;
}

static uerr history_run(store *s, const char *id, store_version_cb cb, void *arg, char *err,
                        size_t errlen)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    uerr rc = UERR_OK;
    if (!s->has_head)
        return UERR_OK;
    if ((rc = store_walk_head(&walk, s, err, errlen)) != UERR_OK)
        return rc;
    while (rc == UERR_OK && git_revwalk_next(&oid, walk) == 0) {
        git_commit *c = NULL;
        git_tree *t = NULL;
        git_oid mine, first = {{0}};
        int have_mine, have_first;
        if (git_commit_lookup(&c, s->repo, &oid) < 0 || git_commit_tree(&t, c) < 0) {
            rc = store_git_err(err, errlen, UERR_IO, "reading a commit");
            git_commit_free(c);
            break;
        }
        int differs = version_differs(c, t, id, &mine, &have_mine, &first, &have_first);
        git_tree_free(t);
        if (differs && (have_mine || have_first))
            rc = version_emit(s, c, &oid, &first, have_first, &mine, have_mine, cb, arg, err,
                              errlen);
        git_commit_free(c);
    }
    git_revwalk_free(walk);
    return rc;
}

uerr store_history(store *s, const char *id, store_version_cb cb, void *arg, char *err,
                   size_t errlen)
{
    store_enter(s);
    uerr rc = history_run(s, id, cb, arg, err, errlen);
    store_leave(s);
    return rc;
}

/* ---- branches ---------------------------------------------------------------- */

uerr store_heads_in(store_ref **out, size_t *n, store *s, char *err, size_t errlen)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    store_ref *v = NULL;
    size_t cnt = 0;
    uerr rc = UERR_OK;
    *out = NULL;
    *n = 0;
    if (git_reference_iterator_glob_new(&it, s->repo, "refs/heads/*") < 0)
        return store_git_err(err, errlen, UERR_IO, "listing branches");
    while (rc == UERR_OK && git_reference_next(&ref, it) == 0) {
        const char *name = git_reference_name(ref) + 11;
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT && record_node_valid(name)) {
            store_ref *nv = realloc(v, (cnt + 1) * sizeof *nv);
            if (!nv) {
                rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory listing branches");
            } else {
                v = nv;
                snprintf(v[cnt].name, sizeof v[cnt].name, "%s", name);
                git_oid_tostr(v[cnt].oid, sizeof v[cnt].oid, git_reference_target(ref));
                cnt++;
            }
        }
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    if (rc != UERR_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return UERR_OK;
}

uerr store_heads(store_ref **out, size_t *n, store *s, char *err, size_t errlen)
{
    store_enter(s);
    uerr rc = store_heads_in(out, n, s, err, errlen);
    store_leave(s);
    return rc;
}

int store_has_object_in(store *s, const char *hex)
{
    git_oid oid;
    git_odb *odb = NULL;
    int r = 0;
    if (git_oid_fromstr(&oid, hex) == 0 && git_repository_odb(&odb, s->repo) == 0)
        r = git_odb_exists(odb, &oid);
    git_odb_free(odb);
    return r;
}

int store_has_object(store *s, const char *hex)
{
    store_enter(s);
    int r = store_has_object_in(s, hex);
    store_leave(s);
    return r;
}
