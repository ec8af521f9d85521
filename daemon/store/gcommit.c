/* gcommit.c - group commit (store.h: store_batch_*): the commits of a
 * batch of writes become durable together, as one pack holding every new
 * object of every pending commit (built in memory by gctree.c; the pack
 * and its index fsynced, then the directory), then one move of the branch (ref and its directory
 * fsynced; the ref's lock file flushed beside the pack, refstage.c). A lone write costs the same
 * six fsyncs instead of two per loose object (fourteen for one record: blob, four trees, commit,
 * ref). Part of the store room. It never builds a commit itself (repo.c does), and it never moves
 * the branch before the pack is on disk: a crash at any point leaves the branch at a commit whose
 * objects are all durable. */
#include "daemon/store/store_int.h"

#include <assert.h>
#include <string.h>

void store_batch_begin(store *s)
{
    store_enter(s);
    assert(!s->batching && "batches do not nest");
    s->batching = 1;
    s->batch_commits = 0;
    assert(s->batch_pack.n == 0 && "the last batch's pack was freed");
    git_oid_cpy(&s->durable_head, &s->head);
    git_oid_cpy(&s->durable_tree, &s->tree);
    s->durable_has_head = s->has_head;
    store_leave(s);
}

size_t store_batch_pending(const store *s)
{
    return s->batching ? s->batch_commits : 0;
}

/* Write the batch's objects as one pack, then move the branch from the
 * durable head to the pending tip. The branch's lock file is written and
 * flushed while the pack is (refstage.c); it is renamed over the ref only
 * once the pack's folder is fsynced. */
static uerr batch_write(store *s, char *err, size_t errlen)
{
    git_oid tip;
    store_refstage st;
    git_oid_cpy(&tip, &s->head);
    int staged = store_refstage_begin(&st, s, &tip) == UERR_OK;
    /* every object the pending commits made, listed as they were made
     * (gctree.c): nothing to search for */
    uerr rc = store_packacc_write(s, &s->batch_pack, err, errlen);
    if (rc != UERR_OK) {
        if (staged)
            store_refstage_abort(&st);
        return rc;
    }
    /* The objects are durable; now move the branch, expecting the head it
     * had before the batch. */
    git_oid_cpy(&s->head, &s->durable_head);
    s->has_head = s->durable_has_head;
    rc = staged ? store_refstage_commit(&st, s, err, errlen)
                : store_branch_move(s, s->repo, &tip, "group commit", err, errlen);
    if (rc == UERR_OK) {
        git_oid_cpy(&s->head, &tip);
        s->has_head = 1;
    }
    return rc;
}

uerr store_batch_end(store *s, char *err, size_t errlen)
{
    store_enter(s);
    assert(s->batching && "store_batch_end follows store_batch_begin");
    uerr rc = s->batch_commits ? batch_write(s, err, errlen) : UERR_OK;
    if (rc == UERR_OK && s->batch_commits) {
        /* its trees are durable now: the next batch starts from them */
        store_tcache_free(&s->tc);
        s->tc = s->tc_next;
        memset(&s->tc_next, 0, sizeof s->tc_next);
    }
    store_tcache_free(&s->tc_next);
    if (rc != UERR_OK) {
        /* nothing of the batch is kept */
        git_oid_cpy(&s->head, &s->durable_head);
        git_oid_cpy(&s->tree, &s->durable_tree);
        s->has_head = s->durable_has_head;
    }
    git_mempack_reset(s->mempack);
    s->batching = 0;
    s->batch_commits = 0;
    store_packacc_free(&s->batch_pack);
    store_leave(s);
    return rc;
}
