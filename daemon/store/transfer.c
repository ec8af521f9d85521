/* transfer.c - moving objects between stores: building the pack a peer
 * asked for (want minus have), and taking in what a peer or a bundle sent:
 * index the pack into a quarantine, check every new commit and record,
 * move it in, move other nodes' branch copies forward, take in each moved
 * head. Part of the store room.
 *
 * Whose fault: anything wrong with the received bytes is UERR_PEER and
 * leaves the store's refs and objects as they were; a local failure while
 * writing, renaming or fsyncing (disk full, read-only) is UERR_IO, so the
 * peer is never told "refused" for our own disk. The own branch is never
 * taken from outside. */
#include "daemon/store/store_int.h"

#include "proto/record.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNPACK_LIMIT 100 /* objects; larger take-ins are kept as a pack */

/* ---- checks on what came in ------------------------------------------------ */

typedef struct {
    git_repository *repo;
    char *err;
    size_t errlen;
    uerr bad;
} check_ctx;

static int check_fail(check_ctx *c, uerr code)
{
    c->bad = code;
    return -1;
}

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
    if (!slash || !record_id_valid(slash + 1))
        return check_fail(c,
                          uerr_set(c->err, c->errlen, UERR_PEER,
                                   "bundle holds a file outside the record layout: %.200s", path));
    record_kind kind; /* any kind folder (kind_path_parse), at its hashed path */
    if (kind_path_parse(&kind, want, sizeof want, path) != UERR_OK ||
        d->new_file.mode != GIT_FILEMODE_BLOB)
        return check_fail(c, uerr_set(c->err, c->errlen, UERR_PEER,
                                      "bundle holds %.200s at the wrong path or mode (%o)", path,
                                      d->new_file.mode));
    git_odb *odb = NULL;
    size_t len;
    git_object_t type;
    int hdr = git_repository_odb(&odb, c->repo) < 0
                  ? -1
                  : git_odb_read_header(&len, &type, odb, &d->new_file.id);
    git_odb_free(odb);
    if (hdr < 0 || type != GIT_OBJECT_BLOB || len > RECORD_BLOB_MAX) {
        if (hdr < 0)
            return check_fail(c, store_git_err(c->err, c->errlen, UERR_PEER,
                                               "bundle holds an unreadable record"));
        return check_fail(c, uerr_set(c->err, c->errlen, UERR_PEER,
                                      "bundle holds %.200s that is not a record-sized blob", path));
    }
    git_blob *b = NULL;
    record r;
    if (git_blob_lookup(&b, c->repo, &d->new_file.id) < 0)
        return check_fail(
            c, store_git_err(c->err, c->errlen, UERR_PEER, "bundle holds an unreadable record"));
    int dec =
        record_decode(&r, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), derr, sizeof derr);
    git_blob_free(b);
    if (dec != 0)
        return check_fail(c, uerr_set(c->err, c->errlen, UERR_PEER,
                                      "bundle holds a damaged record %.200s: %s", path, derr));
    record_free(&r);
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

/* Check the files commit oid (in q) adds or changes against its first parent. */
static uerr check_commit(git_repository *q, const git_oid *oid, check_ctx *c, char *err,
                         size_t errlen)
{
    git_commit *cm = NULL, *parent = NULL;
    git_tree *t = NULL, *pt = NULL;
    uerr rc = UERR_OK;
    if (git_commit_lookup(&cm, q, oid) < 0 || git_commit_tree(&t, cm) < 0 ||
        (git_commit_parentcount(cm) > 0 &&
         (git_commit_parent(&parent, cm, 0) < 0 || git_commit_tree(&pt, parent) < 0))) {
        rc = store_git_err(err, errlen, UERR_PEER, "bundle commit is incomplete");
    } else {
        int tc = store_tree_changes(q, pt, t, check_file_cb, c);
        if (c->bad)
            rc = c->bad;
        else if (tc == -2)
            rc = uerr_set(err, errlen, UERR_PEER,
                          "bundle holds trees deeper than the record layout");
        else if (tc != 0)
            rc = store_git_err(err, errlen, UERR_PEER, "bundle commit is incomplete");
    }
    git_tree_free(t);
    git_tree_free(pt);
    git_commit_free(parent);
    git_commit_free(cm);
    return rc;
}

/* Check every commit reachable from the refs and not already ours. */
static uerr quarantine_check(git_repository *q, git_repository *main_repo,
                             const store_bundle_ref *refs, size_t nrefs, size_t *ncommits,
                             char *err, size_t errlen)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    uerr rc = UERR_OK;
    check_ctx c = {q, err, errlen, UERR_OK};
    *ncommits = 0;
    if (git_revwalk_new(&walk, q) < 0 || hide_existing(walk, main_repo) != 0) {
        rc = store_git_err(err, errlen, UERR_IO, "walking the bundle");
        goto cleanup;
    }
    for (size_t i = 0; i < nrefs; i++) {
        git_object *o = NULL;
        if (git_object_lookup(&o, q, &refs[i].oid, GIT_OBJECT_COMMIT) < 0) {
            rc = uerr_set(err, errlen, UERR_PEER,
                          "bundle branch %s points to a commit the bundle lacks", refs[i].name);
            goto cleanup;
        }
        git_object_free(o);
        if (git_revwalk_push(walk, &refs[i].oid) < 0) {
            rc = store_git_err(err, errlen, UERR_PEER, "walking the bundle");
            goto cleanup;
        }
    }
    int e;
    while ((e = git_revwalk_next(&oid, walk)) == 0) {
        (*ncommits)++;
        if ((rc = check_commit(q, &oid, &c, err, errlen)) != UERR_OK)
            goto cleanup;
    }
    if (e != GIT_ITEROVER)
        rc = store_git_err(err, errlen, UERR_PEER, "bundle history is incomplete");
cleanup:
    git_revwalk_free(walk);
    return rc;
}

/* ---- branch copies ------------------------------------------------------------ */

/* Would taking ref r move our copy of that branch forward? Looked up in
 * repo (the quarantine view, which also sees the store). Returns 1 forward,
 * 0 same or older, UERR_PEER diverged (with err set). */
static int branch_copy_check(store *s, git_repository *repo, const store_bundle_ref *r, char *err,
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
    else if (git_graph_descendant_of(repo, &r->oid, cur) != 1)
        rc = uerr_set(err, errlen, UERR_PEER,
                      "branch %s is not a fast-forward of ours (a node rewrote its history?)",
                      r->name);
    git_reference_free(ref);
    return rc;
}

/* Fast-forward the copy of another node's branch. Returns 1 moved, 0 not
 * (same or older), or a negative uerr (UERR_PEER diverged, UERR_IO). */
static int branch_copy_forward(store *s, const store_bundle_ref *r, char *err, size_t errlen)
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
            git_reference_free(ref);
            return uerr_set(err, errlen, UERR_PEER,
                            "branch %s in the bundle is not a fast-forward of ours", r->name);
        }
        e = git_reference_create_matching(&out, s->repo, name, &r->oid, 1, cur, "bundle import");
        git_reference_free(ref);
    } else {
        e = git_reference_create(&out, s->repo, name, &r->oid, 0, "bundle import");
    }
    git_reference_free(out);
    if (e < 0)
        return store_git_err(err, errlen, UERR_IO, "updating a branch copy");
    return 1;
}

/* ---- the quarantine ------------------------------------------------------------- */

typedef struct {
    git_odb *disk;
    git_odb *from;
    uerr rc;
    char *err;
    size_t errlen;
} unpack_ctx;

/* Copy one object of the quarantine pack into the store as a loose object
 * (git_odb_write checks, compresses and fsyncs it). Reading is the pack's
 * side (UERR_PEER), writing ours (UERR_IO). */
static int unpack_one(const git_oid *id, void *payload)
{
    unpack_ctx *u = payload;
    git_odb_object *o = NULL;
    git_oid written;
    if (git_odb_exists_ext(u->disk, id, GIT_ODB_LOOKUP_NO_REFRESH))
        return 0;
    if (git_odb_read(&o, u->from, id) < 0) {
        u->rc = store_git_err(u->err, u->errlen, UERR_PEER, "reading a received object");
        return -1;
    }
    if (git_odb_write(&written, u->disk, git_odb_object_data(o), git_odb_object_size(o),
                      git_odb_object_type(o)) < 0)
        u->rc = store_git_err(u->err, u->errlen, UERR_IO, "writing the received objects");
    else if (!git_oid_equal(&written, id))
        u->rc = uerr_set(u->err, u->errlen, UERR_PEER, "a received object has the wrong id");
    git_odb_object_free(o);
    return u->rc == UERR_OK ? 0 : -1;
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

/* A pack being taken in: its quarantine directory, and a repository view
 * (q) that sees the quarantined pack and, through an alternate, the store. */
typedef struct {
    char objdir[4200];
    char qdir[4400]; /* "" until made */
    char packname[GIT_OID_HEXSZ + 1];
    git_indexer_progress stats;
    git_odb *qodb;
    git_odb_backend *qpack; /* borrowed: owned by qodb */
    git_repository *q;
} quarantine;

static void quarantine_free(quarantine *qt)
{
    if (qt->qdir[0])
        rmtree(qt->qdir);
    git_repository_free(qt->q);
    git_odb_free(qt->qodb);
}

/* Index the pack read from f into a fresh quarantine directory. Bad bytes
 * are UERR_PEER; failing to make or write the quarantine is UERR_IO. */
static uerr quarantine_index(quarantine *qt, git_odb *main_odb, FILE *f, char *err, size_t errlen)
{
    git_indexer *idx = NULL;
    git_indexer_options io = GIT_INDEXER_OPTIONS_INIT;
    char chunk[65536];
    size_t n, total = 0;
    uerr rc = UERR_OK;
    snprintf(qt->qdir, sizeof qt->qdir, "%s/incoming-XXXXXX", qt->objdir);
    if (!mkdtemp(qt->qdir)) {
        qt->qdir[0] = 0;
        return uerr_set(err, errlen, UERR_IO, "cannot make a quarantine directory: %s",
                        strerror(errno));
    }
    if (git_indexer_new(&idx, qt->qdir, 0, main_odb, &io) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading the pack");
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        total += n;
        if (git_indexer_append(idx, chunk, n, &qt->stats) < 0) {
            rc = store_git_err(err, errlen, UERR_PEER, "the pack is damaged");
            goto cleanup;
        }
    }
    if (ferror(f))
        rc = uerr_set(err, errlen, UERR_IO, "reading the pack: %s", strerror(errno));
    else if (total == 0)
        rc = uerr_set(err, errlen, UERR_PEER, "no pack data (truncated file?)");
    else if (git_indexer_commit(idx, &qt->stats) < 0)
        rc = store_git_err(err, errlen, UERR_PEER, "the pack is damaged or truncated");
    if (rc == UERR_OK)
        snprintf(qt->packname, sizeof qt->packname, "%s", git_indexer_name(idx));
cleanup:
    git_indexer_free(idx);
    return rc;
}

/* The view of the quarantined pack plus the store (as an alternate). */
static uerr quarantine_open(quarantine *qt, char *err, size_t errlen)
{
    char src[4600];
    git_odb_backend *pack = NULL;
    snprintf(src, sizeof src, "%s/pack-%s.idx", qt->qdir, qt->packname);
    if (git_odb_new(&qt->qodb) < 0 || git_odb_backend_one_pack(&pack, src) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading the pack");
    if (git_odb_add_backend(qt->qodb, pack, 2) < 0) {
        pack->free(pack);
        return store_git_err(err, errlen, UERR_IO, "reading the pack");
    }
    qt->qpack = pack;
    if (git_odb_add_disk_alternate(qt->qodb, qt->objdir) < 0 ||
        git_repository_wrap_odb(&qt->q, qt->qodb) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading the pack");
    return UERR_OK;
}

/* Move the checked objects into the store. A small take-in (live sync
 * sends one change at a time) becomes loose objects, as git's
 * receive.unpackLimit does: one pack per change would leave thousands of
 * packs to search on every lookup. A large one is moved in as a pack. */
static uerr quarantine_move_in(quarantine *qt, store *s, git_odb *main_odb, char *err,
                               size_t errlen)
{
    if (qt->stats.total_objects <= UNPACK_LIMIT) {
        unpack_ctx u = {main_odb, qt->qodb, UERR_OK, err, errlen};
        /* only the received pack: qodb's alternate is the whole store */
        if (!qt->qpack->foreach || qt->qpack->foreach (qt->qpack, unpack_one, &u) < 0 ||
            u.rc != UERR_OK)
            return u.rc != UERR_OK
                       ? u.rc
                       : store_git_err(err, errlen, UERR_IO, "writing the received objects");
        return UERR_OK;
    }
    /* .pack first, .idx last (git finds packs by their index). */
    const char *ext[2] = {"pack", "idx"};
    char src[4600], dst[4600];
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/pack-%s.%s", qt->qdir, qt->packname, ext[i]);
        snprintf(dst, sizeof dst, "%s/pack/pack-%s.%s", qt->objdir, qt->packname, ext[i]);
        if (rename(src, dst) != 0)
            return uerr_set(err, errlen, UERR_IO, "moving the pack in: %s", strerror(errno));
    }
    git_odb_refresh(main_odb);
    git_odb *bodb = NULL;
    if (git_repository_odb(&bodb, s->bulk) == 0)
        git_odb_refresh(bodb);
    git_odb_free(bodb);
    return UERR_OK;
}

/* Move each branch copy forward and take in each head that moved. */
static uerr refs_apply(store *s, const store_bundle_ref *refs, size_t nrefs,
                       store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < nrefs; i++) {
        int m = branch_copy_forward(s, &refs[i], err, errlen);
        if (m < 0)
            return (uerr)m;
        if (m == 0) {
            rep->stale++;
            continue;
        }
        rep->updated++;
        char hex[41];
        store_take t;
        git_oid_tostr(hex, sizeof hex, &refs[i].oid);
        uerr rc = store_take_head_in(s, hex, refs[i].name, changed, arg, &t, err, errlen);
        if (rc != UERR_OK)
            return rc;
        rep->merged += t == STORE_TAKE_MERGED;
        rep->forwarded += t == STORE_TAKE_FORWARD;
    }
    return UERR_OK;
}

uerr store_ingest(store *s, FILE *f, const store_bundle_ref *all, size_t nall,
                  store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                  size_t errlen)
{
    /* Our own branch is never taken from outside, not even looked at: a
     * node restored from an old backup must still take in everyone else. */
    store_bundle_ref *refs = calloc(nall + 1, sizeof *refs);
    size_t nrefs = 0;
    quarantine qt = {0};
    git_odb *main_odb = NULL;
    uerr rc;
    if (!refs)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nall; i++) {
        if (strcmp(all[i].name, s->node) == 0)
            rep->own_skipped++;
        else
            refs[nrefs++] = all[i];
    }
    if (git_repository_odb(&main_odb, s->repo) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the object store");
        goto cleanup;
    }
    snprintf(qt.objdir, sizeof qt.objdir, "%s/objects", git_repository_path(s->repo));
    /* Quarantine: the pack is indexed in a directory of its own and only
     * moved in once every object has been checked. */
    if (f && ((rc = quarantine_index(&qt, main_odb, f, err, errlen)) != UERR_OK ||
              (rc = quarantine_open(&qt, err, errlen)) != UERR_OK))
        goto cleanup;
    rc = quarantine_check(qt.q ? qt.q : s->repo, s->repo, refs, nrefs, &rep->commits, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    /* Refuse a diverged branch before anything moves: all or nothing. */
    for (size_t i = 0; i < nrefs; i++) {
        int c = branch_copy_check(s, qt.q ? qt.q : s->repo, &refs[i], err, errlen);
        if (c < 0) {
            rc = (uerr)c;
            goto cleanup;
        }
    }
    if (f && (rc = quarantine_move_in(&qt, s, main_odb, err, errlen)) != UERR_OK)
        goto cleanup;
    rc = refs_apply(s, refs, nrefs, changed, arg, rep, err, errlen);
cleanup:
    quarantine_free(&qt);
    git_odb_free(main_odb);
    free(refs);
    return rc;
}

static uerr sync_apply_run(store *s, const char *pack, size_t len, const store_ref *refs,
                           size_t nrefs, store_record_cb changed, void *arg,
                           store_bundle_report *rep, char *err, size_t errlen)
{
    store_bundle_ref *br = calloc(nrefs + 1, sizeof *br);
    FILE *f = NULL;
    uerr rc = UERR_OK;
    if (!br)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nrefs; i++) {
        if (!record_node_valid(refs[i].name) || git_oid_fromstr(&br[i].oid, refs[i].oid) < 0) {
            rc = uerr_set(err, errlen, UERR_PEER, "bad head for branch %.64s", refs[i].name);
            goto cleanup;
        }
        snprintf(br[i].name, sizeof br[i].name, "%s", refs[i].name);
    }
    if (len > 0) {
        f = fmemopen((void *)pack, len, "rb");
        if (!f) {
            rc = uerr_set(err, errlen, errno == ENOMEM ? UERR_NOMEM : UERR_IO,
                          "cannot read the pack: %s", strerror(errno));
            goto cleanup;
        }
    }
    rc = store_ingest(s, f, br, nrefs, changed, arg, rep, err, errlen);
cleanup:
    if (f)
        fclose(f);
    free(br);
    return rc;
}

uerr store_sync_apply(store *s, const char *pack, size_t len, const store_ref *refs, size_t nrefs,
                      store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                      size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    rep->refs = nrefs;
    store_enter(s);
    uerr rc = sync_apply_run(s, pack, len, refs, nrefs, changed, arg, rep, err, errlen);
    store_leave(s);
    return rc;
}

/* ---- building a pack for a peer ----------------------------------------------- */

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
                        oidset *seen, store_oidvec *out)
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
        if (added < 0 || (added && store_oidvec_push(out, id) != 0))
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

/* Queue the objects commit oid brings that its parents lack: the commit,
 * and its tree's new parts. Returns 0 or -1 (libgit2 error or oom). */
static int pack_collect_commit(store *s, const git_oid *oid, oidset *seen, store_oidvec *objs)
{
    git_commit *c = NULL;
    git_tree *t = NULL, *pt[8] = {0};
    size_t np = 0;
    if (git_commit_lookup(&c, s->repo, oid) < 0 || git_commit_tree(&t, c) < 0) {
        git_commit_free(c);
        return -1;
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
    int bad = oidset_add(seen, oid) < 0 || store_oidvec_push(objs, oid) != 0;
    const git_oid *tid = git_tree_id(t);
    int shared = 0;
    for (size_t p = 0; p < np; p++)
        shared |= pt[p] && git_oid_equal(git_tree_id(pt[p]), tid);
    if (!bad && !shared) {
        int added = oidset_add(seen, tid);
        bad = added < 0 || (added && (store_oidvec_push(objs, tid) != 0 ||
                                      tree_collect(s->repo, t, pt, np, seen, objs) != 0));
    }
    for (size_t p = 0; p < np; p++)
        git_tree_free(pt[p]);
    git_tree_free(t);
    git_commit_free(c);
    return bad ? -1 : 0;
}

static uerr pack_build_run(char **out, size_t *len, store *s, const char *const *want, size_t nwant,
                           const char *const *have, size_t nhave, char *err, size_t errlen)
{
    git_revwalk *walk = NULL;
    git_odb *odb = NULL;
    oidset seen = {0};
    store_oidvec objs = {0};
    unsigned char *pk = NULL;
    git_oid oid;
    uerr rc = UERR_OK;
    if (git_revwalk_new(&walk, s->repo) < 0 || git_repository_odb(&odb, s->repo) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "building a pack");
        goto cleanup;
    }
    for (size_t i = 0; i < nwant; i++) {
        git_commit *c = NULL;
        if (git_oid_fromstr(&oid, want[i]) < 0 || git_commit_lookup(&c, s->repo, &oid) < 0) {
            rc = uerr_set(err, errlen, UERR_NOTFOUND, "asked for %.40s, which is not a commit here",
                          want[i]);
            goto cleanup;
        }
        git_commit_free(c);
        if (git_revwalk_push(walk, &oid) < 0) {
            rc = store_git_err(err, errlen, UERR_IO, "building a pack");
            goto cleanup;
        }
    }
    /* The asker's haves we know cut the walk: only missing objects cross.
     * Objects are sent whole (no delta search, packwriter.c): building
     * stays fast and linear, at the price of a somewhat larger pack. */
    for (size_t i = 0; i < nhave; i++)
        if (git_oid_fromstr(&oid, have[i]) == 0 && store_has_object_in(s, have[i]))
            git_revwalk_hide(walk, &oid);
    int e;
    while ((e = git_revwalk_next(&oid, walk)) == 0)
        if (pack_collect_commit(s, &oid, &seen, &objs) != 0) {
            rc = store_git_err(err, errlen, UERR_IO, "collecting the objects to pack");
            goto cleanup;
        }
    if (e != GIT_ITEROVER) {
        rc = store_git_err(err, errlen, UERR_IO, "walking history");
        goto cleanup;
    }
    rc = store_pack_encode(&pk, len, odb, &objs, err, errlen);
    if (rc == UERR_OK)
        *out = (char *)pk;
cleanup:
    free(objs.v);
    free(seen.v);
    free(seen.used);
    git_odb_free(odb);
    git_revwalk_free(walk);
    return rc;
}

uerr store_pack_build(char **out, size_t *len, store *s, const char *const *want, size_t nwant,
                      const char *const *have, size_t nhave, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    store_enter(s);
    uerr rc = pack_build_run(out, len, s, want, nwant, have, nhave, err, errlen);
    store_leave(s);
    return rc;
}
