/* gcommit.c - group commit (store.h: store_batch_*): the commits of a
 * batch of writes become durable together, as one pack holding every new
 * object of every pending commit (fsynced by libgit2's indexer: pack,
 * index, directory), then one move of the branch (ref and its directory
 * fsynced). A lone write costs the same six fsyncs instead of two per loose
 * object (fourteen for one record: blob, four trees, commit, ref).
 * Part of the store room. It never builds a commit itself (repo.c does),
 * and it never moves the branch before the pack is on disk: a crash at any
 * point leaves the branch at a commit whose objects are all durable. */
#include "daemon/store/store_int.h"

#include <assert.h>
#include <stdlib.h>

void store_batch_begin(store *s)
{
    store_enter(s);
    assert(!s->batching && "batches do not nest");
    s->batching = 1;
    s->batch_commits = 0;
    git_oid_cpy(&s->durable_head, &s->head);
    git_oid_cpy(&s->durable_tree, &s->tree);
    s->durable_has_head = s->has_head;
    store_leave(s);
}

size_t store_batch_pending(const store *s)
{
    return s->batching ? s->batch_commits : 0;
}

/* Add id to out unless seen before or already on disk: 1 added, 0 not,
 * -1 out of memory. */
static int collect_one(store_oidvec *out, store_oidmap *seen, git_odb *disk, const git_oid *id)
{
    int fresh = store_oidmap_put(seen, id, 0);
    if (fresh <= 0)
        return fresh;
    if (git_odb_exists_ext(disk, id, GIT_ODB_LOOKUP_NO_REFRESH))
        return 0;
    return store_oidvec_push(out, id) == 0 ? 1 : -1;
}

/* Every object under tree_id that the disk lacks, once each. A subtree on
 * disk (or seen) is not descended: unchanged parts are shared. 0 or -1. */
static int collect_tree(store_oidvec *out, store_oidmap *seen, git_repository *bulk, git_odb *disk,
                        const git_oid *tree_id, int depth)
{
    git_tree *t = NULL;
    int rc = collect_one(out, seen, disk, tree_id);
    if (rc <= 0)
        return rc;
    if (depth > STORE_TREE_DEPTH_MAX || git_tree_lookup(&t, bulk, tree_id) < 0)
        return -1;
    rc = 0;
    size_t n = git_tree_entrycount(t);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
            rc = collect_tree(out, seen, bulk, disk, git_tree_entry_id(e), depth + 1);
        else
            rc = collect_one(out, seen, disk, git_tree_entry_id(e));
    }
    git_tree_free(t);
    return rc < 0 ? -1 : 0;
}

/* The pending commits (newest first: each one's only parent is the one
 * before it, the first one's the durable head) and the new objects they
 * reach. 0 or -1 (libgit2's error set, or out of memory). */
static int collect_batch(store_oidvec *out, store *s, git_odb *disk)
{
    store_oidmap seen = {0};
    git_oid cur;
    int rc = 0;
    git_oid_cpy(&cur, &s->head);
    for (size_t i = 0; i < s->batch_commits && rc == 0; i++) {
        git_commit *c = NULL;
        if (git_commit_lookup(&c, s->bulk, &cur) < 0 || store_oidvec_push(out, &cur) != 0 ||
            collect_tree(out, &seen, s->bulk, disk, git_commit_tree_id(c), 0) != 0) {
            rc = -1;
        } else if (i + 1 < s->batch_commits) {
            assert(git_commit_parentcount(c) == 1 && "a pending commit has one parent");
            git_oid_cpy(&cur, git_commit_parent_id(c, 0));
        } else {
            /* the chain ends on the durable head (or on nothing) */
            assert(s->durable_has_head
                       ? git_commit_parentcount(c) == 1 &&
                             git_oid_equal(git_commit_parent_id(c, 0), &s->durable_head)
                       : git_commit_parentcount(c) == 0);
        }
        git_commit_free(c);
    }
    store_oidmap_free(&seen);
    return rc;
}

/* Write the batch's objects as one pack, then move the branch from the
 * durable head to the pending tip. */
static uerr batch_write(store *s, char *err, size_t errlen)
{
    git_odb *disk = NULL, *bodb = NULL;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = {0};
    store_oidvec objs = {0};
    unsigned char *pk = NULL;
    size_t pklen = 0;
    git_oid tip;
    uerr rc;
    git_oid_cpy(&tip, &s->head);
    if (git_repository_odb(&disk, s->repo) < 0 || git_repository_odb(&bodb, s->bulk) < 0 ||
        collect_batch(&objs, s, disk) != 0) {
        rc = store_git_err(err, errlen, UERR_IO, "collecting the objects to write");
        goto cleanup;
    }
    rc = store_pack_encode(&pk, &pklen, bodb, &objs, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    if (git_odb_write_pack(&wp, disk, NULL, NULL) < 0 || wp->append(wp, pk, pklen, &stats) < 0 ||
        wp->commit(wp, &stats) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "writing the pack");
        goto cleanup;
    }
    /* The objects are durable; now move the branch, expecting the head it
     * had before the batch. */
    git_oid_cpy(&s->head, &s->durable_head);
    s->has_head = s->durable_has_head;
    rc = store_branch_move(s, s->repo, &tip, "group commit", err, errlen);
    if (rc == UERR_OK) {
        git_oid_cpy(&s->head, &tip);
        s->has_head = 1;
    }
cleanup:
    if (wp)
        wp->free(wp);
    git_odb_free(disk);
    git_odb_free(bodb);
    free(objs.v);
    free(pk);
    return rc;
}

uerr store_batch_end(store *s, char *err, size_t errlen)
{
    store_enter(s);
    assert(s->batching && "store_batch_end follows store_batch_begin");
    uerr rc = s->batch_commits ? batch_write(s, err, errlen) : UERR_OK;
    if (rc != UERR_OK) {
        /* nothing of the batch is kept */
        git_oid_cpy(&s->head, &s->durable_head);
        git_oid_cpy(&s->tree, &s->durable_tree);
        s->has_head = s->durable_has_head;
    }
    git_mempack_reset(s->mempack);
    s->batching = 0;
    s->batch_commits = 0;
    store_leave(s);
    return rc;
}
