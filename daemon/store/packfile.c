/* packfile.c - the store's own objects written as a pack file and its .idx
 * (packfile.h), without libgit2's indexer. Part of the store room.
 *
 * Why: the bulk commit of an import used to stream its pack through
 * git_odb_write_pack, whose indexer inflates every object it was just
 * given, hashes it again and keeps an entry per object: at 100k records a
 * third of the import's zlib time. The writer already knows each object's
 * id (it hashed it to build the trees), its offset and the CRC-32 of the
 * bytes it wrote, which is all a version 2 .idx holds. The unit test
 * (tests/unit/test_packfile.c) checks the result with `git verify-pack`
 * and compares the .idx byte for byte with what `git index-pack` writes.
 *
 * Never writes anything that came from outside (take-ins are indexed by
 * libgit2 in quarantine), never reads a pack, never moves a ref. */
#include "daemon/store/packfile.h"

#include "daemon/util/fsutil.h"

#include <libdeflate.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PF_CHUNK (1u << 20) /* bytes written to the file at a time */

static void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

static int entry_cmp(const void *a, const void *b)
{
    return memcmp(((const packfile_entry *)a)->id, ((const packfile_entry *)b)->id, PACKFILE_OID);
}

#define SORT_KEYS 65536u     /* buckets: the first two bytes of an id */
#define SORT_RADIX_MIN 4096u /* fewer entries: qsort alone */
#define SORT_BUCKET_MAX 32u  /* a bucket up to this: insertion sort, else qsort */

/* Sort e by id. qsort costs ~17 calls of entry_cmp per entry at 150k
 * objects: 30-40 ms at the end of every first replication's take-in
 * (perf, round 10), with the receiver's other core idle. Ids are SHA-1s,
 * evenly spread: one counting pass on their first two bytes puts each in
 * its bucket (about n/65536 entries each), and each bucket is sorted on
 * its own. The ids come from outside (a take-in's pack): a peer can make
 * many ids share their first bytes, so a crowded bucket is qsorted, never
 * insertion sorted. Without memory for the copy: qsort. */
static void entries_sort(packfile_entry *e, size_t n)
{
    packfile_entry *tmp = NULL;
    uint32_t *at = NULL;
    if (n >= SORT_RADIX_MIN) {
        tmp = malloc(n * sizeof *tmp);
        at = calloc(SORT_KEYS + 1, sizeof *at);
    }
    if (!tmp || !at) {
        free(tmp);
        free(at);
        qsort(e, n, sizeof *e, entry_cmp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        at[((unsigned)e[i].id[0] << 8 | e[i].id[1]) + 1]++;
    for (size_t k = 0; k < SORT_KEYS; k++)
        at[k + 1] += at[k]; /* at[k]: where bucket k starts */
    for (size_t i = 0; i < n; i++)
        tmp[at[(unsigned)e[i].id[0] << 8 | e[i].id[1]]++] = e[i];
    /* now at[k] is where bucket k ends (and k + 1 starts) */
    memcpy(e, tmp, n * sizeof *e);
    for (size_t k = 0, lo = 0; k < SORT_KEYS; lo = at[k], k++) {
        size_t hi = at[k];
        if (hi - lo > SORT_BUCKET_MAX) {
            qsort(e + lo, hi - lo, sizeof *e, entry_cmp);
            continue;
        }
        for (size_t i = lo + 1; i < hi; i++) {
            packfile_entry x = e[i];
            size_t j = i;
            for (; j > lo && memcmp(e[j - 1].id, x.id, PACKFILE_OID) > 0; j--)
                e[j] = e[j - 1];
            e[j] = x;
        }
    }
    free(tmp);
    free(at);
}

uerr packfile_idx_build(unsigned char **out, size_t *len, packfile_entry *e, size_t n,
                        const unsigned char packsum[PACKFILE_OID], char *err, size_t errlen)
{
    size_t nlarge = 0;
    *out = NULL;
    *len = 0;
    if (n > 0xffffffffu)
        return uerr_set(err, errlen, UERR_INTERNAL, "too many objects for one pack index");
    entries_sort(e, n);
    for (size_t i = 0; i < n; i++) {
        if (i && memcmp(e[i - 1].id, e[i].id, PACKFILE_OID) == 0)
            return uerr_set(err, errlen, UERR_INTERNAL, "an object twice in one pack");
        nlarge += e[i].off >= 0x80000000u;
    }
    /* header 8, fan-out 1024, then per object id + crc + offset, the
     * 64-bit offsets, two checksums */
    size_t total = 8 + 1024 + n * (PACKFILE_OID + 4 + 4) + nlarge * 8 + 2 * PACKFILE_OID;
    unsigned char *b = malloc(total), *w = b;
    if (!b)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory writing a pack index");
    memcpy(w, "\377tOc\0\0\0\2", 8);
    w += 8;
    size_t k = 0;
    for (unsigned first = 0; first < 256; first++, w += 4) {
        while (k < n && e[k].id[0] <= first)
            k++;
        be32(w, (uint32_t)k);
    }
    for (size_t i = 0; i < n; i++, w += PACKFILE_OID)
        memcpy(w, e[i].id, PACKFILE_OID);
    for (size_t i = 0; i < n; i++, w += 4)
        be32(w, e[i].crc);
    unsigned char *large = w + 4 * n;
    uint32_t li = 0;
    for (size_t i = 0; i < n; i++, w += 4) {
        if (e[i].off < 0x80000000u) {
            be32(w, (uint32_t)e[i].off);
            continue;
        }
        be32(w, 0x80000000u | li++);
        be32(large, (uint32_t)(e[i].off >> 32));
        be32(large + 4, (uint32_t)e[i].off);
        large += 8;
    }
    w = large;
    memcpy(w, packsum, PACKFILE_OID);
    w += PACKFILE_OID;
    unsigned mdlen = 0;
    if (!EVP_Digest(b, (size_t)(w - b), w, &mdlen, EVP_sha1(), NULL) || mdlen != PACKFILE_OID) {
        free(b);
        return uerr_set(err, errlen, UERR_INTERNAL, "hashing a pack index");
    }
    w += PACKFILE_OID;
    assert((size_t)(w - b) == total);
    *out = b;
    *len = total;
    return UERR_OK;
}

static void pf_fail(packfile_out *p, int e)
{
    if (!p->failed)
        p->errno_ = e;
    p->failed = 1;
}

static void pf_flush(packfile_out *p)
{
    if (p->failed || !p->len)
        return;
    if (!p->open_ended && !EVP_DigestUpdate(p->sha, p->buf, p->len))
        pf_fail(p, 0);
    else if (fsutil_write_all(p->fd, p->buf, p->len) != 0)
        pf_fail(p, errno);
    p->len = 0;
}

/* Append bytes to the pack, and to the CRC of the entry being written. */
static void pf_put(packfile_out *p, const void *data, size_t n, uint32_t *crc)
{
    const unsigned char *d = data;
    *crc = libdeflate_crc32(*crc, d, n);
    p->off += n;
    while (n && !p->failed) {
        size_t k = PF_CHUNK - p->len < n ? PF_CHUNK - p->len : n;
        memcpy(p->buf + p->len, d, k);
        p->len += k;
        d += k;
        n -= k;
        if (p->len == PF_CHUNK)
            pf_flush(p);
    }
}

uerr packfile_open(packfile_out *p, const char *packdir, size_t nobj, int level, char *err,
                   size_t errlen)
{
    unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    uint32_t crc = 0;
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->opened = 1;
    p->expected = nobj;
    if (nobj > 0xffffffffu)
        return uerr_set(err, errlen, UERR_INTERNAL, "too many objects for one pack");
    if (strlen(packdir) >= sizeof p->dir)
        return uerr_set(err, errlen, UERR_INVALID, "pack folder path too long");
    snprintf(p->dir, sizeof p->dir, "%s", packdir);
    if (!(p->buf = malloc(PF_CHUNK)) || !(p->e = malloc((nobj ? nobj : 1) * sizeof *p->e)) ||
        !(p->sha = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(p->sha, EVP_sha1(), NULL))
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory starting a pack");
    if (!(p->zc = libdeflate_alloc_compressor(level)))
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory starting a pack");
    snprintf(p->tmp, sizeof p->tmp, "%s/tmp_pack_XXXXXX", p->dir);
    if ((p->fd = mkstemp(p->tmp)) < 0) {
        p->tmp[0] = 0;
        return uerr_set(err, errlen, UERR_IO, "creating a pack in %s: %s", p->dir, strerror(errno));
    }
    be32(head + 8, (uint32_t)nobj);
    pf_put(p, head, sizeof head, &crc);
    return UERR_OK;
}

uerr packfile_open_ended(packfile_out *p, const char *packdir, int level, char *err, size_t errlen)
{
    uerr rc = packfile_open(p, packdir, 0, level, err, errlen);
    p->open_ended = 1;
    p->expected = 0xffffffffu;
    free(p->e);
    p->e = NULL;
    return rc;
}

/* The open-ended pack's count into its header, then its checksum from
 * reading it back (in p->buf, which holds nothing pending after a flush).
 * 0, or -1 with errno. */
static int pf_seal(packfile_out *p)
{
    unsigned char cnt[4];
    ssize_t got;
    be32(cnt, (uint32_t)p->n);
    if (pwrite(p->fd, cnt, 4, 8) != 4 || !EVP_DigestInit_ex(p->sha, EVP_sha1(), NULL))
        return -1;
    for (off_t at = 0; at < (off_t)p->off; at += got) {
        got = pread(p->fd, p->buf, PF_CHUNK, at);
        if (got <= 0) {
            if (got == 0)
                errno = EIO;
            return -1;
        }
        if (!EVP_DigestUpdate(p->sha, p->buf, (size_t)got))
            return -1;
    }
    return lseek(p->fd, 0, SEEK_END) == (off_t)p->off ? 0 : -1;
}

int packfile_hash(unsigned char out[PACKFILE_OID], EVP_MD_CTX *ctx, int type, const void *data,
                  size_t len)
{
    static const char *names[] = {"", "commit", "tree", "blob"};
    char hdr[64];
    unsigned mdlen = 0;
    assert(type >= PACKFILE_COMMIT && type <= PACKFILE_BLOB);
    int h = snprintf(hdr, sizeof hdr, "%s %zu", names[type], len);
    if (!EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, hdr, (size_t)h + 1) ||
        !EVP_DigestUpdate(ctx, data, len) || !EVP_DigestFinal_ex(ctx, out, &mdlen) ||
        mdlen != PACKFILE_OID)
        return -1;
    return 0;
}

size_t packfile_entry_header(unsigned char hdr[16], int type, uint64_t size)
{
    size_t h = 0;
    unsigned c = ((unsigned)type << 4) | (unsigned)(size & 15);
    size >>= 4;
    while (size) {
        hdr[h++] = (unsigned char)(c | 0x80);
        c = size & 0x7f;
        size >>= 7;
    }
    hdr[h++] = (unsigned char)c;
    return h;
}

void packfile_object(packfile_out *p, int type, const unsigned char id[PACKFILE_OID],
                     const void *data, size_t size)
{
    unsigned char hdr[16];
    uint32_t crc = 0;
    p->zlast = 0;
    if (p->failed)
        return;
    if (p->open_ended && p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4096;
        packfile_entry *ne = nc < 0xffffffffu ? realloc(p->e, nc * sizeof *ne) : NULL;
        if (!ne) {
            pf_fail(p, ENOMEM);
            return;
        }
        p->e = ne;
        p->cap = nc;
    }
    if (p->n >= p->expected || size > 0xffffffffu) {
        pf_fail(p, 0);
        return;
    }
    packfile_entry *e = &p->e[p->n];
    memcpy(e->id, id, PACKFILE_OID);
    e->off = p->off;
    size_t h = packfile_entry_header(hdr, type, size);
    size_t bound = libdeflate_zlib_compress_bound(p->zc, size);
    if (bound > p->zcap) {
        unsigned char *nb = realloc(p->zbuf, bound);
        if (!nb) {
            pf_fail(p, ENOMEM);
            return;
        }
        p->zbuf = nb;
        p->zcap = bound;
    }
    /* whole buffer at once, by the pack's one compressor (allocated once
     * per pack) */
    size_t zn = libdeflate_zlib_compress(p->zc, data, size, p->zbuf, p->zcap);
    if (zn == 0) {
        pf_fail(p, 0);
        return;
    }
    pf_put(p, hdr, h, &crc);
    pf_put(p, p->zbuf, zn, &crc);
    p->zlast = zn;
    e->crc = (uint32_t)crc;
    p->n++;
}

/* Write data to a new temporary file beside the pack (the .idx), fsynced.
 * 0, or -1 with errno. */
static int pf_write_idx(packfile_out *p, const unsigned char *data, size_t len)
{
    snprintf(p->tmpidx, sizeof p->tmpidx, "%s/tmp_idx_XXXXXX", p->dir);
    int fd = mkstemp(p->tmpidx);
    if (fd < 0) {
        p->tmpidx[0] = 0;
        return -1;
    }
    int rc =
        fsutil_write_all(fd, data, len) == 0 && fchmod(fd, 0444) == 0 && fsync(fd) == 0 ? 0 : -1;
    int e = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

/* A failed step: the system's (errno kept: UERR_IO) or the writer's own
 * (an object past the announced count, a hash or deflate failure). */
static uerr pf_io(packfile_out *p, const char *what, char *err, size_t errlen)
{
    if (!p->errno_)
        return uerr_set(err, errlen, UERR_INTERNAL, "%s in %s failed", what, p->dir);
    return uerr_set(err, errlen, UERR_IO, "%s in %s: %s", what, p->dir, strerror(p->errno_));
}

uerr packfile_finish(packfile_out *p, char name[2 * PACKFILE_OID + 1], char *err, size_t errlen)
{
    unsigned char sum[EVP_MAX_MD_SIZE], *idx = NULL;
    unsigned sumlen = 0;
    size_t idxlen = 0;
    char dst[4400];
    uerr rc;
    name[0] = 0;
    if (!p->failed && !p->open_ended && p->n != p->expected)
        return uerr_set(err, errlen, UERR_INTERNAL, "pack: %zu objects written of %zu announced",
                        p->n, p->expected);
    pf_flush(p);
    if (!p->failed && p->open_ended && pf_seal(p) != 0)
        pf_fail(p, errno ? errno : EIO);
    if (p->failed)
        return pf_io(p, "writing a pack", err, errlen);
    if (!EVP_DigestFinal_ex(p->sha, sum, &sumlen) || sumlen != PACKFILE_OID)
        return uerr_set(err, errlen, UERR_INTERNAL, "hashing a pack");
    if (fsutil_write_all(p->fd, sum, sumlen) != 0 || fchmod(p->fd, 0444) != 0 ||
        fsync(p->fd) != 0) {
        pf_fail(p, errno);
        return pf_io(p, "writing a pack", err, errlen);
    }
    int fd = p->fd;
    p->fd = -1;
    if (close(fd) != 0) {
        pf_fail(p, errno);
        return pf_io(p, "writing a pack", err, errlen);
    }
    for (unsigned i = 0; i < PACKFILE_OID; i++)
        snprintf(name + 2 * i, 3, "%02x", sum[i]);
    rc = packfile_idx_build(&idx, &idxlen, p->e, p->n, sum, err, errlen);
    if (rc != UERR_OK)
        return rc;
    if (pf_write_idx(p, idx, idxlen) != 0) {
        pf_fail(p, errno);
        free(idx);
        return pf_io(p, "writing a pack index", err, errlen);
    }
    free(idx);
    /* the pack first, then the index that makes it visible */
    snprintf(dst, sizeof dst, "%s/pack-%s.pack", p->dir, name);
    if (rename(p->tmp, dst) != 0) {
        pf_fail(p, errno);
        return pf_io(p, "moving a pack into place", err, errlen);
    }
    p->tmp[0] = 0;
    snprintf(dst, sizeof dst, "%s/pack-%s.idx", p->dir, name);
    if (rename(p->tmpidx, dst) != 0) {
        pf_fail(p, errno);
        snprintf(dst, sizeof dst, "%s/pack-%s.pack", p->dir, name);
        unlink(dst); /* a pack without its index: nobody reads it */
        return pf_io(p, "moving a pack index into place", err, errlen);
    }
    p->tmpidx[0] = 0;
    p->finished = 1;
    return fsutil_dir_sync(dst, err, errlen);
}

void packfile_free(packfile_out *p)
{
    if (!p->opened)
        return;
    if (p->fd >= 0)
        close(p->fd);
    if (p->tmp[0])
        unlink(p->tmp);
    if (p->tmpidx[0])
        unlink(p->tmpidx);
    libdeflate_free_compressor(p->zc);
    EVP_MD_CTX_free(p->sha);
    free(p->buf);
    free(p->zbuf);
    free(p->e);
    memset(p, 0, sizeof *p);
}
