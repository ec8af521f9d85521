/* recsnap.c - the persisted record index (see recsnap.h).
 *
 * File layout (integers little-endian):
 *   header   "uniondRX" | version u32 | head tree id, 40 hex digits
 *   entries  kind u8 | id length u8 | blob length u32 | id | blob
 *   trailer  entry count u64 | crc32 of header and entries u32 | "RXok"
 * The whole file is checked (magic, version, crc, every entry's bounds,
 * the count) before the first record is handed on, so a damaged file is
 * never half-used. A snapshot of another tree (the head moved since it
 * was written) is brought up to the head from git's diff of the two trees:
 * its unchanged records are used, the changed ones read from git, and the
 * result written as the new snapshot. When the old tree is gone (pruned),
 * everything is read from git. The file is written to a temporary name and
 * renamed, without fsync: a torn file after a crash fails its checksum
 * and is rebuilt, which is all a cache needs. */
#include "daemon/store/recsnap.h"
#include "daemon/store/store_int.h"
#include "daemon/util/log.h"
#include "proto/kind.h"
#include "proto/map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SNAP_MAGIC "uniondRX"
#define SNAP_END "RXok"
#define SNAP_VERSION 1u
#define SNAP_HEADER (8 + 4 + 40)
#define SNAP_TRAILER (8 + 4 + 4)
#define SNAP_ENTRY (1 + 1 + 4)

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* ---- reading ---------------------------------------------------------------- */

/* 1 if the snapshot at [p, p+size) is whole (of whatever tree); *count
 * is its number of entries. */
static int snap_check(const unsigned char *p, size_t size, uint64_t *count)
{
    if (size < SNAP_HEADER + SNAP_TRAILER || memcmp(p, SNAP_MAGIC, 8) != 0 ||
        get_le(p + 8, 4) != SNAP_VERSION)
        return 0;
    const unsigned char *t = p + size - SNAP_TRAILER;
    if (memcmp(t + 12, SNAP_END, 4) != 0)
        return 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    /* crc32 takes a uInt length: feed it in pieces */
    for (size_t off = 0, n = size - SNAP_TRAILER; off < n;) {
        size_t step = n - off > (1u << 30) ? (1u << 30) : n - off;
        crc = crc32(crc, p + off, (uInt)step);
        off += step;
    }
    if (get_le(t + 8, 4) != (uint32_t)crc)
        return 0;
    uint64_t n = 0;
    size_t off = SNAP_HEADER, end = size - SNAP_TRAILER;
    while (off < end) {
        if (end - off < SNAP_ENTRY)
            return 0;
        unsigned kind = p[off], idlen = p[off + 1];
        uint64_t len = get_le(p + off + 2, 4);
        if (kind <= KIND_NONE || kind >= KIND_COUNT || idlen == 0 || idlen > RECORD_ID_MAX ||
            end - off - SNAP_ENTRY < idlen + len || memchr(p + off + SNAP_ENTRY, 0, idlen))
            return 0;
        off += SNAP_ENTRY + idlen + len;
        n++;
    }
    *count = n;
    return n == get_le(t, 8);
}

/* A checked snapshot, mapped. */
typedef struct {
    unsigned char *p;
    size_t size;
    uint64_t count;
    char tree[41]; /* the tree it reflects, hex */
} snap_map;

/* Map and check the snapshot at path. 1, or 0 when there is no usable one
 * (then nothing is mapped). */
static int snap_open(snap_map *m, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    memset(m, 0, sizeof *m);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || st.st_size < SNAP_HEADER + SNAP_TRAILER) {
        close(fd);
        return 0;
    }
    m->size = (size_t)st.st_size;
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 0;
    madvise(p, m->size, MADV_SEQUENTIAL);
    m->p = p;
    if (!snap_check(m->p, m->size, &m->count)) {
        munmap(m->p, m->size);
        m->p = NULL;
        return 0;
    }
    memcpy(m->tree, m->p + 12, 40);
    m->tree[40] = 0;
    return 1;
}

static void snap_close(snap_map *m)
{
    if (m->p)
        munmap(m->p, m->size);
    m->p = NULL;
}

/* The records a tree diff says changed: their snapshot entries are
 * skipped. Keyed by kind and id (skip_key), as a tree path is. */
typedef struct snap_skip {
    char key[RECORD_ID_MAX + 2];
    UT_hash_handle hh;
} snap_skip;

static void skip_key(char key[RECORD_ID_MAX + 2], record_kind kind, const char *id, size_t idlen)
{
    key[0] = (char)('A' + kind);
    memcpy(key + 1, id, idlen);
    key[idlen + 1] = 0;
}

/* Whether a tree entry of this mode is a blob (what store_foreach reads). */
static int is_blob_mode(uint32_t mode)
{
    return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE ||
           mode == GIT_FILEMODE_LINK;
}

/* Hand every entry of a checked snapshot to cb, but those of the ids in
 * skip (each id and blob copied NUL-terminated, as store_foreach gives
 * them). UERR_OK, cb's value, or UERR_NOMEM. */
static uerr snap_replay(const snap_map *m, snap_skip *skip, store_record_cb cb, void *arg,
                        char *err, size_t errlen)
{
    const unsigned char *p = m->p;
    char id[RECORD_ID_MAX + 1], *blob = NULL;
    size_t cap = 0, off = SNAP_HEADER, end = m->size - SNAP_TRAILER;
    uerr rc = UERR_OK;
    while (rc == UERR_OK && off < end) {
        unsigned idlen = p[off + 1];
        size_t len = (size_t)get_le(p + off + 2, 4);
        const unsigned char *at = p + off;
        off += SNAP_ENTRY + idlen + len;
        memcpy(id, at + SNAP_ENTRY, idlen);
        id[idlen] = 0;
        if (skip) {
            char key[RECORD_ID_MAX + 2];
            snap_skip *hit = NULL;
            skip_key(key, (record_kind)at[0], id, idlen);
            HASH_FIND_STR(skip, key, hit);
            if (hit)
                continue;
        }
        if (len + 1 > cap) {
            char *nb = realloc(blob, len + 1);
            if (!nb) {
                rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory reading the record index");
                break;
            }
            blob = nb;
            cap = len + 1;
        }
        memcpy(blob, at + SNAP_ENTRY + idlen, len);
        blob[len] = 0;
        rc = (uerr)cb((record_kind)at[0], id, blob, len, arg);
    }
    free(blob);
    return rc;
}

/* ---- writing ---------------------------------------------------------------- */

/* store_foreach's callback while a new snapshot is written: the entry goes
 * to the file, then on to the caller's callback. */
typedef struct {
    store_record_cb cb;
    void *arg;
    FILE *f; /* NULL once writing failed: the load goes on without it */
    uLong crc;
    uint64_t count;
} snap_writer;

static void writer_put(snap_writer *w, const void *data, size_t len)
{
    if (!w->f)
        return;
    w->crc = crc32(w->crc, data, (uInt)len);
    if (fwrite(data, 1, len, w->f) != len) {
        fclose(w->f);
        w->f = NULL;
    }
}

static int snap_capture(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    snap_writer *w = arg;
    size_t idlen = strlen(id);
    if (w->f && (idlen == 0 || idlen > RECORD_ID_MAX || len > UINT32_MAX)) {
        fclose(w->f); /* cannot be written: no snapshot this time */
        w->f = NULL;
    }
    if (w->f) {
        unsigned char h[SNAP_ENTRY];
        h[0] = (unsigned char)kind;
        h[1] = (unsigned char)idlen;
        put_le(h + 2, len, 4);
        writer_put(w, h, sizeof h);
        writer_put(w, id, idlen);
        writer_put(w, buf, len);
        w->count++;
    }
    return w->cb(kind, id, buf, len, w->arg);
}

/* Close the file of w with its trailer and move it to path. 0 or -1. */
static int snap_finish(snap_writer *w, const char *tmp, const char *path)
{
    unsigned char t[SNAP_TRAILER];
    if (!w->f)
        return -1;
    put_le(t, w->count, 8);
    put_le(t + 8, (uint32_t)w->crc, 4);
    memcpy(t + 12, SNAP_END, 4);
    int bad = fwrite(t, 1, sizeof t, w->f) != sizeof t;
    bad |= fclose(w->f) != 0;
    w->f = NULL;
    return bad || rename(tmp, path) != 0 ? -1 : 0;
}

/* Start a new snapshot of tree at tmp (w->f NULL if it cannot be). */
static void writer_open(snap_writer *w, store_record_cb cb, void *arg, const char *tmp,
                        const char *tree)
{
    /* personal data, like the store's objects: readable by the node only */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    *w = (snap_writer){cb, arg, fd >= 0 ? fdopen(fd, "wb") : NULL, crc32(0L, Z_NULL, 0), 0};
    if (fd >= 0 && !w->f)
        close(fd);
    if (w->f) {
        unsigned char h[SNAP_HEADER];
        memcpy(h, SNAP_MAGIC, 8);
        put_le(h + 8, SNAP_VERSION, 4);
        memcpy(h + 12, tree, 40);
        writer_put(w, h, sizeof h);
    }
}

/* Close w: renamed to path when rc is UERR_OK and all was written, else
 * removed (a failure to write is logged, never returned). */
static void writer_close(snap_writer *w, uerr rc, const char *tmp, const char *path)
{
    if (rc == UERR_OK && snap_finish(w, tmp, path) == 0)
        return;
    if (w->f)
        fclose(w->f);
    w->f = NULL;
    if (rc == UERR_OK)
        log_msg(LOG_WARN, "record index: could not write %s: %s", path, strerror(errno));
    unlink(tmp);
}

/* ---- bringing a stale snapshot up to the head ---------------------------------- */

/* A record the head has and the snapshot's tree has not (or not so). */
typedef struct {
    record_kind kind;
    char id[RECORD_ID_MAX + 1];
    git_oid blob;
} snap_add;

typedef struct {
    snap_skip *skip; /* uthash head */
    snap_add *adds;
    size_t nadds;
} snap_delta;

static void delta_free(snap_delta *d)
{
    snap_skip *k, *tmp;
    HASH_ITER(hh, d->skip, k, tmp)
    {
        HASH_DEL(d->skip, k);
        free(k);
    }
    free(d->adds);
}

/* The records that differ between the snapshot's tree and the head, from
 * git's tree diff (it descends only into subtrees whose ids differ, so its
 * cost follows the changes, not the register). 0, or -1 when the diff
 * cannot be made (the old tree pruned, out of memory): then the caller
 * reads everything from git. */
static int delta_make(snap_delta *d, store *s, const char *old_hex)
{
    git_oid old_id;
    git_tree *old = NULL, *cur = NULL;
    git_diff *diff = NULL;
    int rc = -1;
    memset(d, 0, sizeof *d);
    if (git_oid_fromstrn(&old_id, old_hex, 40) < 0 || git_tree_lookup(&old, s->repo, &old_id) < 0 ||
        git_tree_lookup(&cur, s->repo, &s->tree) < 0 ||
        git_diff_tree_to_tree(&diff, s->repo, old, cur, NULL) < 0)
        goto cleanup;
    size_t n = git_diff_num_deltas(diff);
    if (!(d->adds = calloc(n + 1, sizeof *d->adds)))
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        const git_diff_delta *dd = git_diff_get_delta(diff, i);
        record_kind kind;
        char id[RECORD_ID_MAX + 1];
        if (dd->status != GIT_DELTA_ADDED &&
            kind_path_parse(&kind, id, sizeof id, dd->old_file.path) == UERR_OK) {
            snap_skip *k = calloc(1, sizeof *k), *had = NULL;
            if (!k)
                goto cleanup;
            skip_key(k->key, kind, id, strlen(id));
            HASH_FIND_STR(d->skip, k->key, had);
            if (had) {
                free(k);
            } else {
                map_oom = 0;
                HASH_ADD_STR(d->skip, key, k);
                if (map_oom) {
                    free(k);
                    goto cleanup;
                }
            }
        }
        if (dd->status != GIT_DELTA_DELETED && is_blob_mode(dd->new_file.mode) &&
            kind_path_parse(&kind, id, sizeof id, dd->new_file.path) == UERR_OK) {
            snap_add *a = &d->adds[d->nadds++];
            a->kind = kind;
            memcpy(a->id, id, sizeof a->id);
            git_oid_cpy(&a->blob, &dd->new_file.id);
        }
    }
    rc = 0;
cleanup:
    git_diff_free(diff);
    git_tree_free(old);
    git_tree_free(cur);
    if (rc)
        delta_free(d);
    return rc;
}

/* The records of a stale snapshot that did not change, then the changed
 * ones from git, to cb and into a new snapshot of tree (the head). */
static uerr snap_update(store *s, const snap_map *m, const snap_delta *d, const char *tree,
                        const char *tmp, const char *path, store_record_cb cb, void *arg, char *err,
                        size_t errlen)
{
    snap_writer w;
    writer_open(&w, cb, arg, tmp, tree);
    uerr rc = snap_replay(m, d->skip, snap_capture, &w, err, errlen);
    for (size_t i = 0; rc == UERR_OK && i < d->nadds; i++) {
        git_blob *b = NULL;
        if (git_blob_lookup(&b, s->repo, &d->adds[i].blob) < 0) {
            rc = store_git_err(err, errlen, UERR_IO, "reading a record");
            break;
        }
        size_t len = (size_t)git_blob_rawsize(b);
        char *buf = malloc(len + 1);
        if (!buf) {
            git_blob_free(b);
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory reading a record");
            break;
        }
        memcpy(buf, git_blob_rawcontent(b), len);
        buf[len] = 0;
        git_blob_free(b);
        rc = (uerr)snap_capture(d->adds[i].kind, d->adds[i].id, buf, len, &w);
        free(buf);
    }
    writer_close(&w, rc, tmp, path);
    return rc;
}

/* ---- the entry point -------------------------------------------------------- */

uerr store_foreach_snap(store *s, store_record_cb cb, void *arg, int *from_snap, char *err,
                        size_t errlen)
{
    char commit[41], tree[41], path[4096], tmp[4200];
    snap_map m;
    uerr rc;
    *from_snap = 0;
    store_head(s, commit, tree);
    int n = snprintf(path, sizeof path, "%s%s", git_repository_path(s->repo), RECSNAP_NAME);
    if (!tree[0] || n < 0 || (size_t)n >= sizeof path)
        return store_foreach(s, cb, arg, err, errlen); /* empty store: nothing to keep */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (snap_open(&m, path)) {
        if (strcmp(m.tree, tree) == 0) {
            rc = snap_replay(&m, NULL, cb, arg, err, errlen);
            log_msg(LOG_INFO, "record index: %llu records from the snapshot of tree %.12s",
                    (unsigned long long)m.count, tree);
            snap_close(&m);
            *from_snap = 1;
            return rc;
        }
        snap_delta d;
        store_enter(s);
        if (delta_make(&d, s, m.tree) == 0) {
            rc = snap_update(s, &m, &d, tree, tmp, path, cb, arg, err, errlen);
            log_msg(LOG_INFO,
                    "record index: snapshot of tree %.12s brought to %.12s (%zu records "
                    "changed)",
                    m.tree, tree, d.nadds);
            delta_free(&d);
            store_leave(s);
            snap_close(&m);
            *from_snap = 1;
            return rc;
        }
        store_leave(s);
        snap_close(&m);
    }
    log_msg(LOG_INFO, "record index: no usable snapshot (missing, damaged or its tree is gone); "
                      "reading the records from git");
    snap_writer w;
    writer_open(&w, cb, arg, tmp, tree);
    rc = store_foreach(s, snap_capture, &w, err, errlen);
    writer_close(&w, rc, tmp, path);
    return rc;
}
