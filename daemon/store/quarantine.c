/* quarantine.c - where a take-in waits while it is checked: the pack is
 * indexed into objects/incoming-XXXXXX (within the store's byte and object
 * budgets), read through a view that also sees the store, and at the end
 * either the checked objects are moved in or the directory is removed.
 * Part of the store room. Never moves a ref; never decides what is valid
 * (ingest.c and objcheck.c do). */
#include "daemon/store/quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNPACK_LIMIT 100 /* objects; larger take-ins whole are kept as they came */

/* Remove dir and what it holds (a quarantine holds files, at most one
 * level of folders). */
static void rmtree(const char *dir, int depth)
{
    char p[4700];
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (unlink(p) != 0 && depth < 3)
            rmtree(p, depth + 1); /* a folder (EISDIR) */
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

void store_quarantine_clear(const char *gitdir)
{
    char objdir[4200], p[4500];
    snprintf(objdir, sizeof objdir, "%s/objects", gitdir);
    DIR *d = opendir(objdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "incoming-", 9) != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", objdir, de->d_name);
        rmtree(p, 0);
    }
    if (d)
        closedir(d);
}

void quarantine_free(quarantine *qt)
{
    if (qt->qdir[0])
        rmtree(qt->qdir, 0);
    qt->qdir[0] = 0;
    git_repository_free(qt->q);
    git_odb_free(qt->qodb);
    qt->q = NULL;
    qt->qodb = NULL;
}

/* The object count a pack announces in its 12-byte header, or -1. */
static long long pack_header_count(const unsigned char *b, size_t n)
{
    if (n < 12 || memcmp(b, "PACK", 4) != 0)
        return -1;
    return ((long long)b[8] << 24) | ((long long)b[9] << 16) | ((long long)b[10] << 8) | b[11];
}

uerr quarantine_index(quarantine *qt, git_odb *main_odb, FILE *f, const store_limits *lim,
                      char *err, size_t errlen)
{
    git_indexer *idx = NULL;
    git_indexer_options io = GIT_INDEXER_OPTIONS_INIT;
    unsigned char chunk[65536];
    size_t n;
    uint64_t total = 0;
    uerr rc = UERR_OK;
    snprintf(qt->qdir, sizeof qt->qdir, "%s/incoming-XXXXXX", qt->objdir);
    if (!mkdtemp(qt->qdir)) {
        qt->qdir[0] = 0;
        return uerr_set(err, errlen, UERR_IO, "cannot make a quarantine directory: %s",
                        strerror(errno));
    }
    /* A pack of at most UNPACK_LIMIT objects is moved in as a new pack
     * (quarantine_move_in), written and fsynced then: its quarantine
     * copy is only read, and removed at the next start after a crash, so
     * it is indexed without fsyncs (the live path: 4 fewer per change).
     * libgit2 reads the switch when the indexer is made; only the store
     * queue's one thread writes objects. */
    n = fread(chunk, 1, sizeof chunk, f);
    long long head_cnt = pack_header_count(chunk, n);
    int nosync = head_cnt >= 0 && head_cnt <= UNPACK_LIMIT;
    qt->unsynced = nosync;
    if (nosync)
        git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);
    int made = git_indexer_new(&idx, qt->qdir, 0, main_odb, &io);
    if (nosync)
        git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1); /* repo.c: always on */
    if (made < 0)
        return store_git_err(err, errlen, UERR_IO, "reading the pack");
    for (; n > 0; n = fread(chunk, 1, sizeof chunk, f)) {
        if (total == 0) {
            /* Refuse an oversized pack from its header, before indexing. */
            long long cnt = pack_header_count(chunk, n);
            if (cnt > (long long)lim->objects) {
                rc = uerr_set(err, errlen, UERR_PEER,
                              "the pack announces %llu objects, over the take-in limit "
                              "of %llu ([sync] max_take_in_objects)",
                              (unsigned long long)cnt, (unsigned long long)lim->objects);
                goto cleanup;
            }
        }
        total += n;
        if (total > lim->bytes) {
            rc = uerr_set(err, errlen, UERR_PEER,
                          "the pack is over this node's take-in budget of %llu bytes "
                          "([sync] max_pack_bytes)",
                          (unsigned long long)lim->bytes);
            goto cleanup;
        }
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
    else if (qt->stats.indexed_objects > lim->objects)
        rc = uerr_set(err, errlen, UERR_PEER,
                      "the pack holds more than %llu objects ([sync] "
                      "max_take_in_objects)",
                      (unsigned long long)lim->objects);
    if (rc == UERR_OK)
        snprintf(qt->packname, sizeof qt->packname, "%s", git_indexer_name(idx));
cleanup:
    git_indexer_free(idx);
    return rc;
}

uerr quarantine_open(quarantine *qt, char *err, size_t errlen)
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

static int list_one(const git_oid *id, void *payload)
{
    return store_oidvec_push(payload, id) == 0 ? 0 : -1;
}

uerr quarantine_list(store_oidvec *out, quarantine *qt, char *err, size_t errlen)
{
    /* only the received pack: qodb's alternate is the whole store */
    if (!qt->qpack->foreach || qt->qpack->foreach (qt->qpack, list_one, out) < 0)
        return store_git_err(err, errlen, UERR_NOMEM, "listing the received objects");
    return UERR_OK;
}

/* Write the listed objects as one new pack (what was smuggled beside them
 * stays behind in the quarantine). */
static uerr move_repacked(const store_oidvec *objs, quarantine *qt, git_odb *disk, char *err,
                          size_t errlen)
{
    unsigned char *pk = NULL;
    size_t pklen = 0;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = {0};
    uerr rc = store_pack_encode(&pk, &pklen, qt->qodb, objs, err, errlen);
    if (rc == UERR_OK && (git_odb_write_pack(&wp, disk, NULL, NULL) < 0 ||
                          wp->append(wp, pk, pklen, &stats) < 0 || wp->commit(wp, &stats) < 0))
        rc = store_git_err(err, errlen, UERR_IO, "writing the received objects");
    if (wp)
        wp->free(wp);
    free(pk);
    return rc;
}

uerr quarantine_move_in(quarantine *qt, const store_oidvec *keep, size_t total, git_odb *disk,
                        char *err, size_t errlen)
{
    uerr rc = UERR_OK;
    if (keep->n == 0)
        return UERR_OK;
    /* A small take-in (live sync sends one change at a time) becomes one
     * new pack of the kept objects, written and fsynced by libgit2's
     * indexer (pack, index, their folder twice: 4 fsyncs), as a batch
     * of group commits does (gcommit.c): loose objects cost two fsyncs each (file and
     * folder; 12 for one record's change). The pack also appears at once,
     * by its index, so no crash can leave a commit without its tree: the
     * children-first order loose objects needed is given by the format.
     * Small packs pile up like the batches' and are joined at start
     * (store_small_packs_join). A small quarantine is indexed unsynced, so
     * it is never renamed in as is. */
    if (keep->n <= UNPACK_LIMIT || keep->n < total || qt->unsynced)
        rc = move_repacked(keep, qt, disk, err, errlen);
    else {
        /* Everything is kept: the pack itself moves in, .pack first, .idx
         * last (git finds packs by their index). Both are fsynced by the
         * indexer; the directory entries by the rename's journal. */
        const char *ext[2] = {"pack", "idx"};
        char src[4600], dst[4600];
        for (int i = 0; i < 2 && rc == UERR_OK; i++) {
            snprintf(src, sizeof src, "%s/pack-%s.%s", qt->qdir, qt->packname, ext[i]);
            snprintf(dst, sizeof dst, "%s/pack/pack-%s.%s", qt->objdir, qt->packname, ext[i]);
            if (rename(src, dst) != 0)
                rc = uerr_set(err, errlen, UERR_IO, "moving the pack in: %s", strerror(errno));
        }
    }
    if (rc == UERR_OK)
        git_odb_refresh(disk);
    return rc;
}
