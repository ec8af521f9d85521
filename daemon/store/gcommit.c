/* gcommit.c - group commit (store.h: store_batch_*): the commits of a
 * batch of writes become durable together, as one pack holding every new
 * object of every pending commit (built in memory by gctree.c; the pack
 * and its index fsynced, then the directory), then one move of the branch (ref and its directory
 * fsynced). A lone write costs the same six fsyncs instead of two per loose
 * object (fourteen for one record: blob, four trees, commit, ref).
 * Part of the store room. It never builds a commit itself (repo.c does),
 * and it never moves the branch before the pack is on disk: a crash at any
 * point leaves the branch at a commit whose objects are all durable. */
#include "daemon/store/store_int.h"
#include "daemon/util/fsutil.h"
#include "daemon/util/log.h"

#include <git2/sys/odb_backend.h>

#include <assert.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
 * durable head to the pending tip. */
static uerr batch_write(store *s, char *err, size_t errlen)
{
    git_oid tip;
    git_oid_cpy(&tip, &s->head);
    /* every object the pending commits made, listed as they were made
     * (gctree.c): nothing to search for */
    uerr rc = store_packacc_write(s, &s->batch_pack, err, errlen);
    if (rc == UERR_OK) {
        /* The objects are durable; now move the branch, expecting the head
         * it had before the batch. */
        git_oid_cpy(&s->head, &s->durable_head);
        s->has_head = s->durable_has_head;
        rc = store_branch_move(s, s->repo, &tip, "group commit", err, errlen);
        if (rc == UERR_OK) {
            git_oid_cpy(&s->head, &tip);
            s->has_head = 1;
        }
    }
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
    store_packacc_free(&s->batch_pack);
    store_leave(s);
    return rc;
}

/* ---- joining the batches' packs at start ------------------------------------ */

/* Each batch leaves one small pack. Git finds an object by asking every
 * pack's index in turn, so thousands of them would slow every lookup (and
 * hold as many files open): at start, when there are more than
 * JOIN_MIN_PACKS packs of at most JOIN_PACK_BYTES, their objects are
 * written as one pack (fsynced) and only then are they removed. */
#define JOIN_PACK_BYTES (1 << 20)
#define JOIN_MIN_PACKS 32

typedef struct {
    char (*names)[96]; /* "pack-<hex>" without the extension */
    size_t n, cap;
} pack_list;

/* The small packs in dir that have an index (and no .keep). 0 or -1. */
static int small_packs_list(pack_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    struct stat st;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 10 || len >= 96 + 5 || strncmp(e->d_name, "pack-", 5) != 0 ||
            strcmp(e->d_name + len - 5, ".pack") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || st.st_size > JOIN_PACK_BYTES)
            continue;
        snprintf(path, sizeof path, "%s/%.*s.keep", dir, (int)len - 5, e->d_name);
        if (stat(path, &st) == 0)
            continue;
        snprintf(path, sizeof path, "%s/%.*s.idx", dir, (int)len - 5, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 64;
            void *nn = realloc(l->names, nc * sizeof *l->names);
            if (!nn) {
                closedir(d);
                return -1;
            }
            l->names = nn;
            l->cap = nc;
        }
        snprintf(l->names[l->n++], sizeof l->names[0], "%.*s", (int)len - 5, e->d_name);
    }
    closedir(d);
    return 0;
}

/* Append the object ids a version 2 pack index lists (path) to out, each
 * once (seen). 0, or -1 when it cannot be read or is not such an index. */
static int idx_oids(store_oidvec *out, store_oidmap *seen, const char *path)
{
    static const unsigned char magic[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
    unsigned char head[8 + 256 * 4];
    FILE *f = fopen(path, "rb");
    int rc = -1;
    if (!f)
        return -1;
    if (fread(head, 1, sizeof head, f) != sizeof head || memcmp(head, magic, 8) != 0)
        goto cleanup;
    const unsigned char *last = head + 8 + 255 * 4;
    uint32_t n = (uint32_t)last[0] << 24 | (uint32_t)last[1] << 16 | (uint32_t)last[2] << 8 |
                 (uint32_t)last[3];
    for (uint32_t i = 0; i < n; i++) {
        git_oid id;
        if (fread(id.id, 1, GIT_OID_RAWSZ, f) != GIT_OID_RAWSZ)
            goto cleanup;
        int fresh = store_oidmap_put(seen, &id, 0);
        if (fresh < 0 || (fresh && store_oidvec_push(out, &id) != 0))
            goto cleanup;
    }
    rc = 0;
cleanup:
    fclose(f);
    return rc;
}

/* Write every object of the listed packs as one pack into repo's store. */
static uerr packs_join_write(git_repository *repo, const char *dir, const pack_list *l, char *err,
                             size_t errlen)
{
    store_oidvec objs = {0};
    store_oidmap seen = {0};
    git_odb *odb = NULL;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = {0};
    unsigned char *pk = NULL;
    size_t pklen = 0;
    char path[PATH_MAX];
    uerr rc = UERR_OK;
    for (size_t i = 0; i < l->n && rc == UERR_OK; i++) {
        snprintf(path, sizeof path, "%s/%s.idx", dir, l->names[i]);
        if (idx_oids(&objs, &seen, path) != 0)
            rc = uerr_set(err, errlen, UERR_IO, "reading %s", path);
    }
    if (rc == UERR_OK && git_repository_odb(&odb, repo) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "opening the object store");
    if (rc == UERR_OK)
        rc = store_pack_encode(&pk, &pklen, odb, &objs, err, errlen);
    if (rc == UERR_OK && (git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
                          wp->append(wp, pk, pklen, &stats) < 0 || wp->commit(wp, &stats) < 0))
        rc = store_git_err(err, errlen, UERR_IO, "writing the joined pack");
    if (wp)
        wp->free(wp);
    git_odb_free(odb);
    store_oidmap_free(&seen);
    free(objs.v);
    free(pk);
    return rc;
}

void store_small_packs_join(const char *gitdir)
{
    pack_list l = {0};
    git_repository *repo = NULL;
    char dir[PATH_MAX - 256], path[PATH_MAX], err[256];
    snprintf(dir, sizeof dir, "%s/objects/pack", gitdir);
    if (small_packs_list(&l, dir) != 0 || l.n <= JOIN_MIN_PACKS)
        goto cleanup;
    if (git_repository_open_bare(&repo, gitdir) < 0) {
        store_git_err(err, sizeof err, UERR_IO, "opening the git store");
    } else if (packs_join_write(repo, dir, &l, err, sizeof err) == UERR_OK) {
        /* the joined pack is durable: the small ones can go (index first,
         * so that no reader finds an index without its pack) */
        git_repository_free(repo);
        repo = NULL;
        for (size_t i = 0; i < l.n; i++) {
            snprintf(path, sizeof path, "%s/%s.idx", dir, l.names[i]);
            unlink(path);
            snprintf(path, sizeof path, "%s/%s.pack", dir, l.names[i]);
            unlink(path);
        }
        fsutil_dir_sync(dir, err, sizeof err);
        log_msg(LOG_INFO, "joined %zu small packs into one", l.n);
        goto cleanup;
    }
    /* best effort: the store is whole either way, only slower */
    log_msg(LOG_WARN, "could not join %zu small packs: %s", l.n, err);
cleanup:
    git_repository_free(repo);
    free(l.names);
}
