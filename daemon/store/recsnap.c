/* recsnap.c - the persisted record index (see recsnap.h).
 *
 * File layout (integers little-endian):
 *   header   "uniondRX" | version u32 | head tree id, 40 hex digits
 *   entries  kind u8 | id length u8 | blob length u32 | id | blob
 *   trailer  entry count u64 | crc32 of header and entries u32 | "RXok"
 * The whole file is checked (magic, version, tree, crc, every entry's
 * bounds, the count) before the first record is handed on, so a damaged
 * file is never half-used. The file is written to a temporary name and
 * renamed, without fsync: a torn file after a crash fails its checksum
 * and is rebuilt, which is all a cache needs. */
#include "daemon/store/recsnap.h"
#include "daemon/store/store_int.h"
#include "daemon/util/log.h"

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

/* 1 if the snapshot at [p, p+size) is whole and of tree; *count is its
 * number of entries. */
static int snap_check(const unsigned char *p, size_t size, const char tree[41], uint64_t *count)
{
    if (size < SNAP_HEADER + SNAP_TRAILER || memcmp(p, SNAP_MAGIC, 8) != 0 ||
        get_le(p + 8, 4) != SNAP_VERSION || memcmp(p + 12, tree, 40) != 0)
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

/* Hand every entry of a checked snapshot to cb (each id and blob copied
 * NUL-terminated, as store_foreach gives them). UERR_OK, cb's value, or
 * UERR_NOMEM. */
static uerr snap_replay(const unsigned char *p, size_t size, store_record_cb cb, void *arg,
                        char *err, size_t errlen)
{
    char id[RECORD_ID_MAX + 1], *blob = NULL;
    size_t cap = 0, off = SNAP_HEADER, end = size - SNAP_TRAILER;
    uerr rc = UERR_OK;
    while (rc == UERR_OK && off < end) {
        unsigned idlen = p[off + 1];
        size_t len = (size_t)get_le(p + off + 2, 4);
        if (len + 1 > cap) {
            char *nb = realloc(blob, len + 1);
            if (!nb) {
                rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory reading the record index");
                break;
            }
            blob = nb;
            cap = len + 1;
        }
        memcpy(id, p + off + SNAP_ENTRY, idlen);
        id[idlen] = 0;
        memcpy(blob, p + off + SNAP_ENTRY + idlen, len);
        blob[len] = 0;
        rc = (uerr)cb((record_kind)p[off], id, blob, len, arg);
        off += SNAP_ENTRY + idlen + len;
    }
    free(blob);
    return rc;
}

/* 1 and the records replayed (*rc their outcome) when path holds a good
 * snapshot of tree; 0 when it does not (nothing was handed on). */
static int snap_load(const char *path, const char tree[41], store_record_cb cb, void *arg, uerr *rc,
                     char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint64_t count = 0;
    int ok = 0;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || st.st_size < SNAP_HEADER + SNAP_TRAILER) {
        close(fd);
        return 0;
    }
    size_t size = (size_t)st.st_size;
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 0;
    madvise(m, size, MADV_SEQUENTIAL);
    if (snap_check(m, size, tree, &count)) {
        ok = 1;
        *rc = snap_replay(m, size, cb, arg, err, errlen);
        log_msg(LOG_INFO, "record index: %llu records from the snapshot of tree %.12s",
                (unsigned long long)count, tree);
    } else {
        log_msg(LOG_INFO, "record index: the snapshot is missing a piece, stale or damaged; "
                          "reading the records from git");
    }
    munmap(m, size);
    return ok;
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

/* ---- the entry point -------------------------------------------------------- */

uerr store_foreach_snap(store *s, store_record_cb cb, void *arg, int *from_snap, char *err,
                        size_t errlen)
{
    char commit[41], tree[41], path[4096], tmp[4200];
    uerr rc = UERR_OK;
    *from_snap = 0;
    store_head(s, commit, tree);
    int n = snprintf(path, sizeof path, "%s%s", git_repository_path(s->repo), RECSNAP_NAME);
    if (!tree[0] || n < 0 || (size_t)n >= sizeof path)
        return store_foreach(s, cb, arg, err, errlen); /* empty store: nothing to keep */
    if (snap_load(path, tree, cb, arg, &rc, err, errlen)) {
        *from_snap = 1;
        return rc;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* personal data, like the store's objects: readable by the node only */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    snap_writer w = {cb, arg, fd >= 0 ? fdopen(fd, "wb") : NULL, crc32(0L, Z_NULL, 0), 0};
    if (fd >= 0 && !w.f)
        close(fd);
    if (w.f) {
        unsigned char h[SNAP_HEADER];
        memcpy(h, SNAP_MAGIC, 8);
        put_le(h + 8, SNAP_VERSION, 4);
        memcpy(h + 12, tree, 40);
        writer_put(&w, h, sizeof h);
    }
    rc = store_foreach(s, snap_capture, &w, err, errlen);
    if (rc == UERR_OK && snap_finish(&w, tmp, path) == 0)
        return UERR_OK;
    if (w.f)
        fclose(w.f);
    if (rc == UERR_OK)
        log_msg(LOG_WARN, "record index: could not write %s: %s", path, strerror(errno));
    unlink(tmp);
    return rc;
}
