/* transfer.c - moving objects between stores: building the pack a peer
 * asked for (want minus have), and handing what a peer sent to the one
 * take-in path (store_ingest, ingest.c: quarantine, check every object,
 * move in, merge, then move the branch copies). Part of the store room.
 *
 * Whose fault: anything wrong with the received bytes is UERR_PEER and
 * leaves the store's refs and objects as they were; a local failure while
 * writing, renaming or fsyncing (disk full, read-only) is UERR_IO, so the
 * peer is never told "refused" for our own disk. */
#include "daemon/store/store_int.h"

#include "daemon/util/log.h"
#include "proto/record.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (len > s->limits.bytes) {
        rc = uerr_set(err, errlen, UERR_PEER,
                      "the pack is %zu bytes, over this node's take-in budget of %llu bytes", len,
                      (unsigned long long)s->limits.bytes);
        goto cleanup;
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

typedef store_oidmap oidset;

static int oidset_add(oidset *st, const git_oid *id) /* 1 added, 0 present, -1 oom */
{
    return store_oidmap_put(st, id, 0);
}

/* Objects of tree t not found at the same path in any parent tree: those
 * the receiver cannot have unless this pack brings them (every parent is
 * either in the pack too or reachable from its haves). */
/* Where the walk puts the objects to pack: the list, and from
 * store_packpipe_threshold objects on a pipe that encodes them meanwhile
 * (packwriter.c), handed over in blocks. */
typedef struct {
    oidset seen;
    store_oidvec objs;
    store_packpipe *pipe;
    size_t handed;   /* objs[0..handed) are the pipe's */
    size_t start_at; /* objects before the pipe starts (SIZE_MAX: none) */
    git_odb *odb;
    const char *objdir;
} collector;

#define COLLECT_HAND 4096 /* ids handed to the pipe at a time */

/* Hand what is not handed yet to the pipe, starting it if it is time.
 * 0, or -1 out of memory. */
static int collect_hand(collector *c)
{
    if (!c->pipe) {
        if (c->objs.n < c->start_at)
            return 0;
        if (store_packpipe_start(&c->pipe, c->odb, c->objdir) != UERR_OK) {
            c->start_at = SIZE_MAX; /* no thread: built after the walk, as before */
            return 0;
        }
    }
    if (store_packpipe_give(c->pipe, c->objs.v + c->handed, c->objs.n - c->handed) != 0)
        return -1;
    c->handed = c->objs.n;
    return 0;
}

/* id goes into the pack (in this order). 0, or -1 out of memory. */
static int collect_push(collector *c, const git_oid *id)
{
    if (store_oidvec_push(&c->objs, id) != 0)
        return -1;
    int due = c->pipe ? c->objs.n - c->handed >= COLLECT_HAND : c->objs.n >= c->start_at;
    return due ? collect_hand(c) : 0;
}

static int tree_collect(git_repository *repo, git_tree *t, git_tree **parents, size_t np,
                        collector *c)
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
        int added = oidset_add(&c->seen, id);
        if (added < 0 || (added && collect_push(c, id) != 0))
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
        int rc = tree_collect(repo, sub, psub, nps, c);
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
static int pack_collect_commit(store *s, const git_oid *oid, collector *col)
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
    int bad = oidset_add(&col->seen, oid) < 0 || collect_push(col, oid) != 0;
    const git_oid *tid = git_tree_id(t);
    int shared = 0;
    for (size_t p = 0; p < np; p++)
        shared |= pt[p] && git_oid_equal(git_tree_id(pt[p]), tid);
    if (!bad && !shared) {
        int added = oidset_add(&col->seen, tid);
        bad =
            added < 0 ||
            (added && (collect_push(col, tid) != 0 || tree_collect(s->repo, t, pt, np, col) != 0));
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
    collector col = {.start_at = SIZE_MAX};
    unsigned char *pk = NULL;
    git_oid oid;
    char objdir[4200];
    size_t reused = 0;
    uerr rc = UERR_OK;
    if (git_revwalk_new(&walk, s->repo) < 0 || git_repository_odb(&odb, s->repo) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "building a pack");
        goto cleanup;
    }
    snprintf(objdir, sizeof objdir, "%s/objects", git_repository_path(s->repo));
    col.odb = odb;
    col.objdir = objdir;
    col.start_at = store_packpipe_threshold(objdir);
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
     * stays fast and linear, at the price of a somewhat larger pack; what
     * the store's packs hold whole is copied, not deflated again. */
    for (size_t i = 0; i < nhave; i++)
        if (git_oid_fromstr(&oid, have[i]) == 0 && store_has_object_in(s, have[i]))
            git_revwalk_hide(walk, &oid);
    int e;
    while ((e = git_revwalk_next(&oid, walk)) == 0)
        if (pack_collect_commit(s, &oid, &col) != 0) {
            rc = store_git_err(err, errlen, UERR_IO, "collecting the objects to pack");
            goto cleanup;
        }
    if (e != GIT_ITEROVER) {
        rc = store_git_err(err, errlen, UERR_IO, "walking history");
        goto cleanup;
    }
    if (col.pipe) {
        if (collect_hand(&col) != 0) {
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
            goto cleanup;
        }
        store_packpipe *pp = col.pipe;
        col.pipe = NULL; /* finish frees it */
        rc = store_packpipe_finish(pp, &pk, len, col.objs.n, &reused, err, errlen);
    } else
        rc = store_pack_encode_reuse(&pk, len, odb, &col.objs, objdir, &reused, err, errlen);
    if (rc == UERR_OK) {
        *out = (char *)pk;
        log_msg(LOG_DEBUG, "pack: %zu objects reused, %zu deflated (%zu bytes)", reused,
                col.objs.n - reused, *len);
    }
cleanup:
    store_packpipe_abort(col.pipe); /* a failed walk: the pipe's work is dropped */
    free(col.objs.v);
    store_oidmap_free(&col.seen);
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
