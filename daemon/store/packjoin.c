/* packjoin.c - joining the packs the group commit leaves (store.h:
 * store_packs_join*, store_int.h: store_small_packs_join). Each batch
 * writes one pack, its objects stored without deflate (gctree.c: deflate
 * was 47% of the daemon's CPU at 50 clients). Git finds an object by asking
 * every pack's index in turn, so thousands of packs slow every lookup and
 * hold as many files open; stored objects take more disk and, reused whole
 * for peers, more bytes on the wire. So the packs that are small (at most
 * JOIN_PACK_BYTES) or stored without deflate are written again as one
 * deflated pack: at start (more than JOIN_MIN_PACKS of them, or any
 * stored one), and while the daemon runs, on the store queue when it has
 * nothing else to do and JOIN_LIVE_PACKS packs were written since the
 * last join (control.c sets the queue's idle job). A take-in of a live
 * change writes one small pack too (quarantine.c) and counts the same:
 * without that, a receiver's packs grew by one per change until a restart,
 * and every take-in opened and scanned them all.
 * Part of the store room. Crash safety: the joined pack and its .idx are
 * fsynced and renamed in, and the folder fsynced, before any joined pack
 * is removed; a kill at any point leaves every object in some pack.
 * Readers of other handles (readview.c) that had a removed pack open keep
 * reading it (the file stays while open); one that had not finds the
 * object missing, refreshes the pack list and finds it in the new pack
 * (libgit2's git_odb_read retries after a refresh on a miss). */
#include "daemon/store/store_int.h"
#include "daemon/util/clock.h"
#include "daemon/util/fsutil.h"
#include "daemon/util/log.h"

#include <assert.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOIN_PACK_BYTES (1 << 20)
#define JOIN_MIN_PACKS 32
/* Packs written since the last join before the idle store queue joins
 * them: with 16, a lookup asks at most ~16 + a few packs, and one join
 * rewrites at most 16 batches (tens of ms), the most a write waits. */
#define JOIN_LIVE_PACKS 16
/* A join waits for a quiet store queue (JOIN_QUIET_MS without a job, set in
 * ctl/gcommit.c), so that it does not hold up a burst of writes or a
 * take-in; past this many packs it runs at the next gap whatever the load,
 * so that lookups never ask more than ~JOIN_LIVE_CAP packs. */
#define JOIN_LIVE_CAP 48

typedef struct {
    char name[96]; /* "pack-<hex>" without the extension */
    uint64_t size; /* of the .pack */
    int stored;    /* its objects stored without deflate */
} pack_ent;

typedef struct {
    pack_ent *e;
    size_t n, cap;
    size_t stored; /* how many of them hold objects stored without deflate */
} pack_list;

static int off_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* 1 if the pack (path base: without extension) holds its objects stored
 * without deflate, as the group commit writes them (zlib level 0): over
 * its first STORED_SAMPLE undeltified entries (in pack order, ends from
 * the .idx offsets), the bytes in the pack are at least the objects' own
 * sizes (a stored deflate stream is never smaller than its data; git's
 * and our deflated packs are smaller over a few dozen records and trees).
 * A pack past 2 GiB (large offsets) or unreadable: 0. */
#define STORED_SAMPLE 64
static int pack_is_stored(const char *base)
{
    char path[PATH_MAX + 8];
    unsigned char head[8 + 256 * 4];
    uint32_t *offs = NULL;
    int stored = 0;
    FILE *f = NULL, *pf = NULL;
    snprintf(path, sizeof path, "%s.idx", base);
    if (!(f = fopen(path, "rb")) || fread(head, 1, sizeof head, f) != sizeof head ||
        memcmp(head, "\377tOc\0\0\0\2", 8) != 0)
        goto cleanup;
    const unsigned char *last = head + 8 + 255 * 4;
    uint32_t n = (uint32_t)last[0] << 24 | (uint32_t)last[1] << 16 | (uint32_t)last[2] << 8 |
                 (uint32_t)last[3];
    if (n == 0 || n > (1u << 26) || !(offs = malloc((size_t)n * 4)) ||
        fseek(f, (long)(sizeof head + (size_t)n * 24), SEEK_SET) != 0 || fread(offs, 4, n, f) != n)
        goto cleanup;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *b = (const unsigned char *)&offs[i];
        offs[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (offs[i] & 0x80000000u)
            goto cleanup;
    }
    qsort(offs, n, 4, off_cmp);
    snprintf(path, sizeof path, "%s.pack", base);
    struct stat st;
    if (!(pf = fopen(path, "rb")) || fstat(fileno(pf), &st) != 0)
        goto cleanup;
    uint64_t raw = 0, inpack = 0;
    for (uint32_t i = 0; i < n && i < STORED_SAMPLE; i++) {
        unsigned char h[16];
        uint64_t end = i + 1 < n ? offs[i + 1] : (uint64_t)st.st_size - 20;
        if (end <= offs[i] || fseek(pf, (long)offs[i], SEEK_SET) != 0 ||
            fread(h, 1, sizeof h < end - offs[i] ? sizeof h : end - offs[i], pf) < 1)
            goto cleanup;
        unsigned type = (h[0] >> 4) & 7;
        uint64_t size = h[0] & 15;
        size_t k = 0;
        for (unsigned sh = 4; (h[k] & 0x80) && k + 1 < sizeof h; sh += 7)
            size |= (uint64_t)(h[++k] & 0x7f) << sh;
        if (type < 1 || type > 4)
            continue; /* a delta: another writer's */
        raw += size;
        inpack += end - offs[i] - (k + 1);
    }
    stored = raw > 0 && inpack >= raw;
cleanup:
    if (f)
        fclose(f);
    if (pf)
        fclose(pf);
    free(offs);
    return stored;
}

/* The packs in dir that may be joined: with an index, no .keep, and small
 * or stored without deflate. 0 or -1. */
/* pack_is_stored's verdicts by pack name: a pack's name is its checksum,
 * so its bytes never change. Without it every live join read and sorted
 * the whole offset table of the store's large packs again (150k entries
 * at 100k members: 12% of a receiver's CPU in a run of live changes).
 * Only packs over JOIN_PACK_BYTES are kept (a few: the small ones come and
 * go with every join and would push them out). Bounded, reused round
 * robin; under a lock (start and the store queue). */
#define STORED_CACHE 64
static pthread_mutex_t stored_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[101];
    int stored;
} stored_cache[STORED_CACHE];
static size_t stored_next;

static int pack_is_stored_cached(const char *base, const char *name)
{
    int hit = -1;
    pthread_mutex_lock(&stored_mu);
    for (size_t i = 0; i < STORED_CACHE && hit < 0; i++)
        if (strcmp(stored_cache[i].name, name) == 0)
            hit = stored_cache[i].stored;
    pthread_mutex_unlock(&stored_mu);
    if (hit >= 0)
        return hit;
    int stored = pack_is_stored(base);
    pthread_mutex_lock(&stored_mu);
    snprintf(stored_cache[stored_next].name, sizeof stored_cache[0].name, "%.100s", name);
    stored_cache[stored_next].stored = stored;
    stored_next = (stored_next + 1) % STORED_CACHE;
    pthread_mutex_unlock(&stored_mu);
    return stored;
}

static int join_packs_list(pack_list *l, const char *dir)
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
        if (stat(path, &st) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)len - 5, e->d_name);
        off_t size = st.st_size;
        /* a small pack is read in a moment; a large one only once */
        int stored =
            size > JOIN_PACK_BYTES ? pack_is_stored_cached(path, e->d_name) : pack_is_stored(path);
        if (size > JOIN_PACK_BYTES && !stored)
            continue;
        snprintf(path, sizeof path, "%s/%.*s.keep", dir, (int)len - 5, e->d_name);
        if (stat(path, &st) == 0)
            continue;
        snprintf(path, sizeof path, "%s/%.*s.idx", dir, (int)len - 5, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 64;
            void *nn = realloc(l->e, nc * sizeof *l->e);
            if (!nn) {
                closedir(d);
                return -1;
            }
            l->e = nn;
            l->cap = nc;
        }
        pack_ent *pe = &l->e[l->n++];
        snprintf(pe->name, sizeof pe->name, "%.*s", (int)len - 5, e->d_name);
        pe->size = (uint64_t)size;
        pe->stored = stored;
        l->stored += stored;
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

/* Write every object of the listed packs, read through odb and deflated
 * (zlib level 1: speed over size, as packwriter.c), as one pack with its
 * .idx into dir, durably (store_packacc_write_dir); hex: its name's
 * checksum (GIT_OID_HEXSZ + 1 bytes). */
static uerr join_write(git_odb *odb, const char *dir, const pack_list *l, char *hex, char *err,
                       size_t errlen)
{
    store_oidvec objs = {0};
    store_oidmap seen = {0};
    store_packacc a = {0};
    char path[PATH_MAX];
    uerr rc = UERR_OK;
    for (size_t i = 0; i < l->n && rc == UERR_OK; i++) {
        snprintf(path, sizeof path, "%s/%s.idx", dir, l->e[i].name);
        if (idx_oids(&objs, &seen, path) != 0)
            rc = uerr_set(err, errlen, UERR_IO, "reading %s", path);
    }
    for (size_t i = 0; i < objs.n && rc == UERR_OK; i++) {
        git_odb_object *o = NULL;
        if (git_odb_read(&o, odb, &objs.v[i]) < 0) {
            rc = store_git_err(err, errlen, UERR_IO, "reading an object to join");
            break;
        }
        if (store_packacc_add(&a, &objs.v[i], git_odb_object_type(o), git_odb_object_data(o),
                              git_odb_object_size(o), 1) != 0)
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory joining packs");
        git_odb_object_free(o);
    }
    if (rc == UERR_OK && a.n)
        rc = store_packacc_write_dir(dir, &a, hex, err, errlen);
    else if (rc == UERR_OK)
        rc = uerr_set(err, errlen, UERR_INTERNAL, "no objects to join");
    store_packacc_free(&a);
    store_oidmap_free(&seen);
    free(objs.v);
    return rc;
}

/* The joined pack is durable: remove the listed ones (each index before its
 * pack, so that no reader finds an index without its pack), then make that
 * durable. An emptied name (the joined pack itself) is skipped. */
static void joined_remove(const char *dir, const pack_list *l)
{
    char path[PATH_MAX], err[256];
    for (size_t i = 0; i < l->n; i++) {
        if (!l->e[i].name[0])
            continue; /* the joined pack itself */
        snprintf(path, sizeof path, "%s/%s.idx", dir, l->e[i].name);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s.pack", dir, l->e[i].name);
        unlink(path);
    }
    if (fsutil_dir_sync(dir, err, sizeof err) != UERR_OK)
        log_msg(LOG_WARN, "could not join %zu small packs: %s", l->n, err);
}

/* Join the packs of l (in dir) through odb. 1 joined, -1 failed (err set). */
static int join_run(git_odb *odb, const char *dir, pack_list *l, char *err, size_t errlen)
{
    char hex[GIT_OID_HEXSZ + 1];
    if (join_write(odb, dir, l, hex, err, errlen) != UERR_OK)
        return -1;
    /* the joined pack's name is its checksum: if a listed pack has the same
     * bytes (one of our level-1 packs holding them all, in this order), the
     * rename replaced it by itself, and it must stay */
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].name + 5, hex) == 0)
            l->e[i].name[0] = 0;
    joined_remove(dir, l);
    return 1;
}

void store_small_packs_join(const char *gitdir)
{
    pack_list l = {0};
    git_repository *repo = NULL;
    git_odb *odb = NULL;
    char dir[PATH_MAX - 256], err[256];
    snprintf(dir, sizeof dir, "%s/objects/pack", gitdir);
    if (join_packs_list(&l, dir) != 0 || (l.n <= JOIN_MIN_PACKS && l.stored == 0))
        goto cleanup;
    if (git_repository_open_bare(&repo, gitdir) < 0 || git_repository_odb(&odb, repo) < 0)
        store_git_err(err, sizeof err, UERR_IO, "opening the git store");
    else if (join_run(odb, dir, &l, err, sizeof err) == 1) {
        log_msg(LOG_INFO, "joined %zu small packs into one", l.n);
        goto cleanup;
    }
    /* best effort: the store is whole either way, only slower */
    log_msg(LOG_WARN, "could not join %zu small packs: %s", l.n, err);
cleanup:
    git_odb_free(odb);
    git_repository_free(repo);
    free(l.e);
}

size_t store_packjoin_pick(int *pick, const uint64_t *size, const int *stored, size_t n)
{
    size_t *order = malloc((n + 1) * sizeof *order), npick = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        pick[i] = stored[i] != 0; /* always rewritten: deflated at last */
        if (pick[i]) {
            acc += size[i];
            npick++;
        }
    }
    if (!order) { /* no memory to sort: every pack, as before */
        for (size_t i = 0; i < n; i++)
            pick[i] = 1;
        return n;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!stored[i])
            order[m++] = i;
    /* smallest first (insertion sort: a few dozen packs) */
    for (size_t i = 1; i < m; i++)
        for (size_t k = i; k > 0 && size[order[k - 1]] > size[order[k]]; k--) {
            size_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    for (size_t i = 0; i < m; i++) {
        if (acc && size[order[i]] > 2 * acc)
            break; /* this one and the larger ones wait for more new bytes */
        pick[order[i]] = 1;
        acc += size[order[i]];
        npick++;
    }
    free(order);
    return npick;
}

/* Keep in l only the packs store_packjoin_pick chooses. */
static int join_list_pick(pack_list *l)
{
    uint64_t *size = malloc((l->n + 1) * sizeof *size);
    int *stored = malloc((l->n + 1) * sizeof *stored), *pick = malloc((l->n + 1) * sizeof *pick);
    if (!size || !stored || !pick) {
        free(size);
        free(stored);
        free(pick);
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        size[i] = l->e[i].size;
        stored[i] = l->e[i].stored;
    }
    store_packjoin_pick(pick, size, stored, l->n);
    size_t m = 0;
    for (size_t i = 0; i < l->n; i++)
        if (pick[i])
            l->e[m++] = l->e[i];
    l->n = m;
    free(size);
    free(stored);
    free(pick);
    return 0;
}

int store_packs_join_due(const store *s)
{
    unsigned long n = atomic_load(&s->packs_new);
    return n >= JOIN_LIVE_CAP ? 1 : n >= JOIN_LIVE_PACKS ? 2 : 0;
}

unsigned long store_packs_joined(const store *s)
{
    return atomic_load(&s->packs_joined);
}

uerr store_packs_join(store *s, char *err, size_t errlen)
{
    pack_list l = {0};
    git_odb *odb = NULL;
    char dir[PATH_MAX - 256];
    uerr rc = UERR_OK;
    uint64_t t0 = clock_mono_ms();
    store_enter(s);
    assert(!s->batching && "no join inside a batch");
    /* counted from zero again whatever happens: a failing join is retried
     * after as many packs again, not after every job */
    atomic_store(&s->packs_new, 0);
    /* the packs the journal holds are made durable before any pack they
     * hold objects of is removed */
    if ((rc = store_checkpoint_in(s, err, errlen)) != UERR_OK)
        goto cleanup;
    snprintf(dir, sizeof dir, "%sobjects/pack", git_repository_path(s->repo));
    if (join_packs_list(&l, dir) != 0 || join_list_pick(&l) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "listing %s", dir);
        goto cleanup;
    }
    if (l.n < 2 && l.stored == 0)
        goto cleanup;
    if (git_repository_odb(&odb, s->repo) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the object store");
        goto cleanup;
    }
    if (join_run(odb, dir, &l, err, errlen) != 1) {
        log_msg(LOG_WARN, "could not join %zu small packs: %s", l.n, err);
        rc = UERR_IO;
        goto cleanup;
    }
    atomic_fetch_add(&s->packs_joined, l.n);
    log_msg(LOG_INFO, "joined %zu small packs into one", l.n);
    log_msg(LOG_DEBUG, "pack join: %zu packs in %llu ms", l.n,
            (unsigned long long)(clock_mono_ms() - t0));
cleanup:
    git_odb_free(odb);
    free(l.e);
    store_leave(s);
    return rc;
}
