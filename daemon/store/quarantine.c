/* quarantine.c - where a take-in waits while it is checked: the pack is
 * indexed into objects/incoming-XXXXXX (within the store's byte and object
 * budgets), read through a view that also sees the store, and at the end
 * either the checked objects are moved in or the directory is removed.
 * A large pack is first spooled there and parsed by packparse.c (each
 * object inflated once and handed to the caller's checks, the .idx
 * written from the parse); whatever that refuses is indexed by libgit2
 * from the spooled bytes as before. Part of the store room. Never moves a
 * ref; never decides what is valid (ingest.c and objcheck.c do). */
#include "daemon/store/quarantine.h"
#include "daemon/store/objcheck.h"
#include "daemon/util/fsutil.h"
#include "daemon/util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
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
    free(qt->ents);
    qt->ents = NULL;
    qt->nents = 0;
}

/* The object count a pack announces in its 12-byte header, or -1. */
static long long pack_header_count(const unsigned char *b, size_t n)
{
    if (n < 12 || memcmp(b, "PACK", 4) != 0)
        return -1;
    return ((long long)b[8] << 24) | ((long long)b[9] << 16) | ((long long)b[10] << 8) | b[11];
}

/* The refusals from the first chunk and the running byte count, shared
 * by both paths (the same words whichever path takes the pack). */
static uerr limits_check(const unsigned char *chunk, size_t n, uint64_t total,
                         const store_limits *lim, char *err, size_t errlen)
{
    if (total == n) {
        /* Refuse an oversized pack from its header, before indexing. */
        long long cnt = pack_header_count(chunk, n);
        if (cnt > (long long)lim->objects)
            return uerr_set(err, errlen, UERR_PEER,
                            "the pack announces %llu objects, over the take-in limit "
                            "of %llu ([sync] max_take_in_objects)",
                            (unsigned long long)cnt, (unsigned long long)lim->objects);
    }
    if (total > lim->bytes)
        return uerr_set(err, errlen, UERR_PEER,
                        "the pack is over this node's take-in budget of %llu bytes "
                        "([sync] max_pack_bytes)",
                        (unsigned long long)lim->bytes);
    return UERR_OK;
}

/* libgit2's indexer over f, whose first n bytes are already in chunk. */
static uerr index_git(quarantine *qt, git_odb *main_odb, FILE *f, unsigned char *chunk,
                      size_t chunklen, size_t n, const store_limits *lim, char *err, size_t errlen)
{
    git_indexer *idx = NULL;
    git_indexer_options io = GIT_INDEXER_OPTIONS_INIT;
    uint64_t total = 0;
    uerr rc = UERR_OK;
    /* A pack of at most UNPACK_LIMIT objects is moved in as a new pack
     * (quarantine_move_in), written and fsynced then: its quarantine
     * copy is only read, and removed at the next start after a crash, so
     * it is indexed without fsyncs (the live path: 4 fewer per change).
     * libgit2 reads the switch when the indexer is made; only the store
     * queue's one thread writes objects. */
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
    for (; n > 0; n = fread(chunk, 1, chunklen, f)) {
        total += n;
        if ((rc = limits_check(chunk, n, total, lim, err, errlen)) != UERR_OK)
            goto cleanup;
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

/* ---- the fast path: our own parse of a spooled pack --------------------------- */

static int fast_mode;               /* store_test_fast_takein */
static _Atomic size_t fast_takeins; /* taken whole by packparse */
static _Atomic size_t fast_tried;   /* given to packparse */

void store_test_fast_takein(int mode)
{
    fast_mode = mode;
}

size_t store_test_fast_takeins(size_t *tried)
{
    if (tried)
        *tried = atomic_load(&fast_tried);
    return atomic_load(&fast_takeins);
}

/* Copy f (its first n bytes in chunk) into the file fd, within lim. */
static uerr spool(int fd, FILE *f, unsigned char *chunk, size_t chunklen, size_t n, uint64_t *total,
                  const store_limits *lim, char *err, size_t errlen)
{
    uerr rc;
    *total = 0;
    for (; n > 0; n = fread(chunk, 1, chunklen, f)) {
        *total += n;
        if ((rc = limits_check(chunk, n, *total, lim, err, errlen)) != UERR_OK)
            return rc;
        if (fsutil_write_all(fd, chunk, n) != 0)
            return uerr_set(err, errlen, UERR_IO, "writing the pack: %s", strerror(errno));
    }
    if (ferror(f))
        return uerr_set(err, errlen, UERR_IO, "reading the pack: %s", strerror(errno));
    return UERR_OK;
}

/* The spooled pack's fsync, on a thread of its own while the pack is
 * parsed and checked (the disk's time, not the CPU's). */
typedef struct {
    int fd, rc, err;
    pthread_t t;
    int started;
} bg_sync;

static void *bg_sync_run(void *arg)
{
    bg_sync *b = arg;
    b->rc = fsync(b->fd);
    b->err = errno;
    return NULL;
}

static void bg_sync_start(bg_sync *b, int fd)
{
    b->fd = fd;
    b->rc = 0;
    b->started = pthread_create(&b->t, NULL, bg_sync_run, b) == 0;
}

/* 0 when the pack is on disk (the thread's fsync, or one here when no
 * thread ran), else -1 with errno set. */
static int bg_sync_wait(bg_sync *b)
{
    if (!b->started)
        return fsync(b->fd);
    pthread_join(b->t, NULL);
    b->started = 0;
    errno = b->err;
    return b->rc;
}

/* Write the .idx of the parsed pack and give both files their names
 * (pack-<checksum>.pack/.idx, fsynced as the indexer does). UERR_PEER
 * when the index cannot be made of these entries (an object twice: the
 * indexer decides), UERR_IO, UERR_NOMEM. */
static uerr fast_files(quarantine *qt, bg_sync *sync, const char *spoolpath,
                       const unsigned char packsum[PACKFILE_OID], char *err, size_t errlen)
{
    unsigned char *idx = NULL;
    size_t idxlen = 0;
    char hex[2 * PACKFILE_OID + 1], path[4600];
    packfile_entry *sorted = malloc((qt->nents ? qt->nents : 1) * sizeof *sorted);
    uerr rc;
    if (!sorted)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory indexing a pack");
    memcpy(sorted, qt->ents, qt->nents * sizeof *sorted);
    rc = packfile_idx_build(&idx, &idxlen, sorted, qt->nents, packsum, err, errlen);
    free(sorted);
    if (rc == UERR_INTERNAL)
        rc = UERR_PEER; /* two objects alike: libgit2's indexer says what it makes of it */
    if (rc != UERR_OK)
        return rc;
    for (int i = 0; i < PACKFILE_OID; i++)
        snprintf(hex + 2 * i, 3, "%02x", packsum[i]);
    int ifd = -1;
    if (bg_sync_wait(sync) != 0)
        goto io;
    snprintf(path, sizeof path, "%s/pack-%s.pack", qt->qdir, hex);
    if (rename(spoolpath, path) != 0)
        goto io;
    snprintf(path, sizeof path, "%s/pack-%s.idx", qt->qdir, hex);
    ifd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (ifd < 0 || fsutil_write_all(ifd, idx, idxlen) != 0 || fsync(ifd) != 0)
        goto io;
    if (close(ifd) != 0) {
        ifd = -1;
        goto io;
    }
    free(idx);
    snprintf(qt->packname, sizeof qt->packname, "%s", hex);
    return UERR_OK;
io:
    rc = uerr_set(err, errlen, UERR_IO, "writing the pack's index: %s", strerror(errno));
    if (ifd >= 0)
        close(ifd);
    free(idx);
    return rc;
}

/* Spool f into the quarantine, parse it (fast), and on a refusal by the
 * parse or its checks hand the spooled bytes to libgit2's indexer. */
static uerr index_spooled(quarantine *qt, git_odb *main_odb, FILE *f, unsigned char *chunk,
                          size_t chunklen, size_t n, const store_limits *lim,
                          const quarantine_fast *fast, char *err, size_t errlen)
{
    char spoolpath[4600], why[256];
    uint64_t total = 0;
    void *map = MAP_FAILED;
    unsigned char packsum[PACKFILE_OID];
    bg_sync sync = {0};
    uerr rc;
    snprintf(spoolpath, sizeof spoolpath, "%s/spool.pack", qt->qdir);
    int fd = open(spoolpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return uerr_set(err, errlen, UERR_IO, "writing the pack: %s", strerror(errno));
    if ((rc = spool(fd, f, chunk, chunklen, n, &total, lim, err, errlen)) != UERR_OK)
        goto cleanup;
    bg_sync_start(&sync, fd);
    map = mmap(NULL, (size_t)total, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = uerr_set(err, errlen, UERR_IO, "reading the pack: %s", strerror(errno));
        goto cleanup;
    }
    madvise(map, (size_t)total, MADV_SEQUENTIAL);
    packparse_limits pl = {lim->objects, STORE_OBJECT_MAX};
    atomic_fetch_add(&fast_tried, 1);
    why[0] = 0;
    rc = packparse_run(&qt->ents, &qt->nents, packsum, map, (size_t)total, &pl, fast->fn, fast->arg,
                       why, sizeof why);
    if (rc == UERR_OK)
        rc = fast_files(qt, &sync, spoolpath, packsum, why, sizeof why);
    if (rc == UERR_OK) {
        qt->fast = 1;
        qt->unsynced = 0;
        qt->stats.indexed_objects = (unsigned)qt->nents;
        atomic_fetch_add(&fast_takeins, 1);
        goto cleanup;
    }
    free(qt->ents);
    qt->ents = NULL;
    qt->nents = 0;
    if (rc != UERR_PEER) {
        rc = uerr_set(err, errlen, rc, "%s", why);
        goto cleanup;
    }
    log_msg(LOG_DEBUG, "take-in: the indexer takes the pack (%s)", why);
    FILE *mf = fmemopen(map, (size_t)total, "rb");
    if (!mf) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "reading the pack: %s", strerror(errno));
        goto cleanup;
    }
    n = fread(chunk, 1, chunklen, mf);
    rc = index_git(qt, main_odb, mf, chunk, chunklen, n, lim, err, errlen);
    fclose(mf);
cleanup:
    if (sync.started)
        (void)bg_sync_wait(&sync); /* before the file goes */
    if (map != MAP_FAILED)
        munmap(map, (size_t)total);
    close(fd);
    if (!qt->fast)
        unlink(spoolpath);
    return rc;
}

uerr quarantine_index(quarantine *qt, git_odb *main_odb, FILE *f, const store_limits *lim,
                      const quarantine_fast *fast, char *err, size_t errlen)
{
    unsigned char chunk[65536];
    snprintf(qt->qdir, sizeof qt->qdir, "%s/incoming-XXXXXX", qt->objdir);
    if (!mkdtemp(qt->qdir)) {
        qt->qdir[0] = 0;
        return uerr_set(err, errlen, UERR_IO, "cannot make a quarantine directory: %s",
                        strerror(errno));
    }
    size_t n = fread(chunk, 1, sizeof chunk, f);
    long long cnt = pack_header_count(chunk, n);
    int big = fast_mode > 0 || (fast_mode == 0 && cnt > UNPACK_LIMIT);
    if (fast && big && cnt >= 0)
        return index_spooled(qt, main_odb, f, chunk, sizeof chunk, n, lim, fast, err, errlen);
    return index_git(qt, main_odb, f, chunk, sizeof chunk, n, lim, err, errlen);
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

/* Everything received is kept: the pack itself moves in, .pack first,
 * .idx last (git finds packs by their index). A big quarantine was
 * indexed with fsyncs, and its directory entries are ordered before the
 * ref's fsync by the filesystem's journal, as they always were. A small
 * one (the live path: one change) was indexed unsynced: its two files are
 * fsynced here and the pack folder after the renames, 3 fsyncs, where
 * writing the same objects again as a new pack cost a second encode, a
 * second indexer pass and 4 fsyncs. */
static uerr move_whole(quarantine *qt, char *err, size_t errlen)
{
    const char *ext[2] = {"pack", "idx"};
    char src[4600], dst[4600];
    uerr rc = UERR_OK;
    for (int i = 0; i < 2 && rc == UERR_OK && qt->unsynced; i++) {
        snprintf(src, sizeof src, "%s/pack-%s.%s", qt->qdir, qt->packname, ext[i]);
        rc = fsutil_file_sync(src, err, errlen);
    }
    for (int i = 0; i < 2 && rc == UERR_OK; i++) {
        snprintf(src, sizeof src, "%s/pack-%s.%s", qt->qdir, qt->packname, ext[i]);
        snprintf(dst, sizeof dst, "%s/pack/pack-%s.%s", qt->objdir, qt->packname, ext[i]);
        if (rename(src, dst) != 0)
            rc = uerr_set(err, errlen, UERR_IO, "moving the pack in: %s", strerror(errno));
    }
    if (rc == UERR_OK && qt->unsynced)
        rc = fsutil_dir_sync(dst, err, errlen);
    return rc;
}

uerr quarantine_move_in(quarantine *qt, const store_oidvec *keep, size_t total, git_odb *disk,
                        char *err, size_t errlen)
{
    uerr rc = UERR_OK;
    if (keep->n == 0)
        return UERR_OK;
    /* A take-in becomes one new pack, never loose objects (two fsyncs
     * each, file and folder: 12 for one record's change), as a batch of
     * group commits does (gcommit.c); the pack appears at once, by its
     * index, so no crash can leave a commit without its tree. When the
     * peer sent exactly what is kept, its pack moves in as it came
     * (move_whole); when it also sent objects we hold or did not ask for,
     * the kept ones are written as a new pack (pack, index, their folder
     * twice: 4 fsyncs) and the rest stays behind in the quarantine. Small
     * packs pile up like the batches' and are joined while running and
     * at start (packjoin.c). */
    if (keep->n < total)
        rc = move_repacked(keep, qt, disk, err, errlen);
    else
        rc = move_whole(qt, err, errlen);
    if (rc == UERR_OK)
        git_odb_refresh(disk);
    return rc;
}
