/* gcommit.c - group commit (store.h: store_batch_*): the commits of a
 * batch of writes become durable together, as one pack holding every new
 * object of every pending commit (built in memory by gctree.c), then one
 * move of the branch. Part of the store room.
 *
 * With the journal (journal.c, the way a store opened by store_open
 * writes): the pack, its .idx and the move are appended to the journal and
 * fdatasynced, one flush for the whole batch, and then written in place
 * unsynced; a checkpoint makes them durable later and a start after a
 * crash redoes them. Without it: the pack and its .idx fsynced, then the
 * pack folder, then the ref and the refs folder (the ref's lock file
 * flushed beside the pack, refstage.c): five fsyncs in three rounds.
 * It never builds a commit itself (repo.c does), and a crash at any point
 * leaves the branch at a commit whose objects are all durable (or redone
 * from the journal). */
#include "daemon/store/journal.h"
#include "daemon/util/log.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
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
 * once the pack's folder is fsynced. (Without a journal: it could not be
 * opened.) */
static uerr batch_write_synced(store *s, const git_oid *tip, char *err, size_t errlen)
{
    store_refstage st;
    int staged = store_refstage_begin(&st, s, tip, 1) == UERR_OK;
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
    return staged ? store_refstage_commit(&st, s, err, errlen)
                  : store_branch_move(s, s->repo, tip, "group commit", err, errlen);
}

/* The same through the journal: the pack, its .idx and the move are
 * appended and fdatasynced (the one flush the batch waits for), then the
 * files and the ref are written unsynced; the checkpoint makes them
 * durable later (journal.c). Should the files fail after the append, the
 * entry is cut off again: a failed batch must not come back at the next
 * start. */
static uerr batch_write_journal(store *s, const git_oid *tip, char *err, size_t errlen)
{
    store_packfiles f;
    store_refstage st;
    store_journal_pos at;
    char dir[PATH_MAX - 128];
    uerr rc = store_packacc_finish(&f, &s->batch_pack, err, errlen);
    if (rc != UERR_OK)
        return rc;
    store_journal_mark(&at, s->journal);
    rc = store_journal_append(s->journal, s->has_head ? &s->head : NULL, tip, &f, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    atomic_fetch_add(&s->journal_dirty, 1);
    snprintf(dir, sizeof dir, "%sobjects/pack", git_repository_path(s->repo));
    rc = store_packfiles_write(dir, &f, 0, err, errlen);
    if (rc == UERR_OK) {
        atomic_fetch_add(&s->packs_new, 1); /* one more pack to join (packjoin.c) */
        if ((rc = store_refstage_begin(&st, s, tip, 0)) == UERR_OK)
            rc = store_refstage_commit(&st, s, err, errlen);
        else
            rc = uerr_set(err, errlen, rc, "moving the branch: cannot take %s.lock", s->ref);
    }
    if (rc != UERR_OK) {
        char e2[256];
        if (store_journal_unappend(s->journal, &at, e2, sizeof e2) != UERR_OK) {
            /* the batch would come back at the next start while its
             * writers were told it failed: stop now, before any reply */
            log_msg(LOG_ERR, "%s; %s: stopping", err, e2);
            abort();
        }
        goto cleanup;
    }
    if (store_journal_full(s->journal)) {
        char e2[256];
        (void)store_checkpoint_in(s, e2, sizeof e2); /* logged; kept for later */
    }
cleanup:
    store_packfiles_free(&f);
    return rc;
}

static uerr batch_write(store *s, char *err, size_t errlen)
{
    git_oid tip;
    git_oid_cpy(&tip, &s->head);
    /* expected on disk: the head the branch had before the batch */
    git_oid_cpy(&s->head, &s->durable_head);
    s->has_head = s->durable_has_head;
    uerr rc = s->journal ? batch_write_journal(s, &tip, err, errlen)
                         : batch_write_synced(s, &tip, err, errlen);
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
