/* packread.c - the bounded reader of a version 2 .idx and its .pack
 * (packread.h), for pack reuse. Part of the store room, no libgit2. Every
 * number read from the files is checked against the mapped lengths before
 * it is used as an offset; nothing is inflated or written here.
 *
 * Layout (git's Documentation/gitformat-pack): .idx = ff 74 4f 63, version
 * 2, 256 fan-out counts, n ids of 20 bytes (sorted), n CRC-32s, n 4-byte
 * offsets (high bit set: an index into the 8-byte offsets that follow),
 * the pack's checksum, the idx's checksum. .pack = "PACK", version, count,
 * entries, checksum. */
#include "daemon/store/packread.h"

#include <zlib.h>

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDX_HEAD 8
#define IDX_FANOUT (256 * 4)
#define IDX_TRAILER 40
#define PACK_HEAD 12
#define PACK_TRAILER 20

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t be64(const unsigned char *b)
{
    return (uint64_t)be32(b) << 32 | be32(b + 4);
}

/* The pack offset of entry pos (pos < n, the tables checked by init's
 * size check; a large index is checked here). UINT64_MAX when bad. */
static uint64_t entry_offset(const packread *p, uint32_t pos)
{
    uint32_t o = be32(p->offs + (size_t)pos * 4);
    if (!(o & 0x80000000u))
        return o;
    o &= 0x7fffffffu;
    if (o >= p->nlarge)
        return UINT64_MAX;
    return be64(p->large + (size_t)o * 8);
}

/* The fan-out, the table sizes and the id order. */
static uerr idx_tables(packread *p, char *err, size_t errlen)
{
    static const unsigned char magic[8] = {0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2};
    const size_t fixed = IDX_HEAD + IDX_FANOUT + IDX_TRAILER;
    if (p->idxlen < fixed || memcmp(p->idx, magic, sizeof magic) != 0)
        return uerr_set(err, errlen, UERR_PEER, "not a version 2 pack index");
    p->fanout = p->idx + IDX_HEAD;
    uint32_t prev = 0;
    for (int b = 0; b < 256; b++) {
        uint32_t v = be32(p->fanout + b * 4);
        if (v < prev)
            return uerr_set(err, errlen, UERR_PEER, "pack index fan-out goes down at %d", b);
        prev = v;
    }
    p->n = prev;
    /* 28 bytes an object (id, crc, offset) must fit before the large
     * offsets; checked by division so that no product can overflow */
    if ((p->idxlen - fixed) / 28 < p->n)
        return uerr_set(err, errlen, UERR_PEER, "pack index too short for %u objects", p->n);
    p->oids = p->fanout + IDX_FANOUT;
    p->crcs = p->oids + (size_t)p->n * 20;
    p->offs = p->crcs + (size_t)p->n * 4;
    p->large = p->offs + (size_t)p->n * 4;
    size_t rest = p->idxlen - fixed - (size_t)p->n * 28;
    if (rest % 8 != 0)
        return uerr_set(err, errlen, UERR_PEER, "pack index has a partial large offset");
    p->nlarge = rest / 8;
    size_t used = 0;
    for (uint32_t i = 0; i < p->n; i++)
        used += (be32(p->offs + (size_t)i * 4) & 0x80000000u) != 0;
    if (used != p->nlarge)
        return uerr_set(err, errlen, UERR_PEER, "pack index has %zu large offsets for %zu",
                        p->nlarge, used);
    int bucket = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        const unsigned char *id = p->oids + (size_t)i * 20;
        while (bucket < 256 && be32(p->fanout + bucket * 4) <= i)
            bucket++;
        if (bucket == 256 || id[0] != bucket || (i > 0 && memcmp(id - 20, id, 20) >= 0))
            return uerr_set(err, errlen, UERR_PEER, "pack index ids out of order at %u", i);
    }
    return UERR_OK;
}

/* The pack's header and trailer agree with the index. */
static uerr pack_frame(const packread *p, char *err, size_t errlen)
{
    if (p->packlen < PACK_HEAD + PACK_TRAILER || memcmp(p->pack, "PACK", 4) != 0)
        return uerr_set(err, errlen, UERR_PEER, "not a pack");
    uint32_t ver = be32(p->pack + 4);
    if (ver != 2 && ver != 3)
        return uerr_set(err, errlen, UERR_PEER, "pack version %u", ver);
    if (be32(p->pack + 8) != p->n)
        return uerr_set(err, errlen, UERR_PEER, "the pack holds %u objects, its index %u",
                        be32(p->pack + 8), p->n);
    if (memcmp(p->pack + p->packlen - PACK_TRAILER, p->idx + p->idxlen - IDX_TRAILER, 20) != 0)
        return uerr_set(err, errlen, UERR_PEER, "the index belongs to another pack");
    return UERR_OK;
}

typedef struct {
    uint64_t off;
    uint32_t pos;
} offpos;

static int offpos_cmp(const void *a, const void *b)
{
    const offpos *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Each entry ends where the next one (by offset) starts, the last at the
 * trailer; offsets must lie in the body, pairwise different. */
static uerr entry_ends(packread *p, char *err, size_t errlen)
{
    const uint64_t body_end = p->packlen - PACK_TRAILER;
    offpos *v = malloc(((size_t)p->n + 1) * sizeof *v);
    p->ends = malloc(((size_t)p->n + 1) * sizeof *p->ends);
    uerr rc = UERR_OK;
    if (!v || !p->ends) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory reading a pack index");
        goto cleanup;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        v[i].off = entry_offset(p, i);
        v[i].pos = i;
        if (v[i].off < PACK_HEAD || v[i].off >= body_end) {
            rc = uerr_set(err, errlen, UERR_PEER, "pack index offset %u outside the pack", i);
            goto cleanup;
        }
    }
    qsort(v, p->n, sizeof *v, offpos_cmp);
    for (uint32_t i = 0; i < p->n; i++) {
        uint64_t end = i + 1 < p->n ? v[i + 1].off : body_end;
        if (end <= v[i].off) {
            rc = uerr_set(err, errlen, UERR_PEER, "two pack index entries share an offset");
            goto cleanup;
        }
        p->ends[v[i].pos] = end;
    }
cleanup:
    free(v);
    return rc;
}

uerr packread_init(packread *p, const unsigned char *idx, size_t idxlen, const unsigned char *pack,
                   size_t packlen, char *err, size_t errlen)
{
    void *im = p->idxmap, *pm = p->packmap;
    memset(p, 0, sizeof *p);
    p->idxmap = im;
    p->packmap = pm;
    p->idx = idx;
    p->idxlen = idxlen;
    p->pack = pack;
    p->packlen = packlen;
    uerr rc = idx_tables(p, err, errlen);
    if (rc == UERR_OK)
        rc = pack_frame(p, err, errlen);
    if (rc == UERR_OK)
        rc = entry_ends(p, err, errlen);
    if (rc != UERR_OK) {
        free(p->ends);
        p->ends = NULL;
        p->n = 0; /* nothing can be found in a refused pair */
    }
    return rc;
}

/* Map path read-only: *map, *len. An empty file maps nothing. */
static uerr map_file(void **map, size_t *len, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *map = NULL;
    *len = 0;
    if (fd < 0)
        return uerr_set(err, errlen, UERR_IO, "opening %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return uerr_set(err, errlen, UERR_IO, "%s is empty or unreadable", path);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return uerr_set(err, errlen, UERR_IO, "mapping %s: %s", path, strerror(errno));
    *map = m;
    *len = (size_t)st.st_size;
    return UERR_OK;
}

uerr packread_open(packread *p, const char *idxpath, char *err, size_t errlen)
{
    char packpath[4200];
    size_t il = 0, pl = 0, n = strlen(idxpath);
    memset(p, 0, sizeof *p);
    if (n < 4 || n >= sizeof packpath || strcmp(idxpath + n - 4, ".idx") != 0)
        return uerr_set(err, errlen, UERR_INVALID, "not an index file name: %s", idxpath);
    snprintf(packpath, sizeof packpath, "%.*s.pack", (int)(n - 4), idxpath);
    uerr rc = map_file(&p->idxmap, &il, idxpath, err, errlen);
    p->idxlen = il; /* what packread_free unmaps, should the rest fail */
    if (rc == UERR_OK)
        rc = map_file(&p->packmap, &pl, packpath, err, errlen);
    p->packlen = pl;
    if (rc == UERR_OK)
        rc = packread_init(p, p->idxmap, il, p->packmap, pl, err, errlen);
    if (rc != UERR_OK) {
        packread_free(p);
        return rc;
    }
    return UERR_OK;
}

void packread_free(packread *p)
{
    if (p->idxmap)
        munmap(p->idxmap, p->idxlen ? p->idxlen : 1);
    if (p->packmap)
        munmap(p->packmap, p->packlen ? p->packlen : 1);
    free(p->ends);
    memset(p, 0, sizeof *p);
}

long packread_find(const packread *p, const unsigned char id[20])
{
    if (p->n == 0)
        return -1;
    uint32_t lo = id[0] ? be32(p->fanout + (id[0] - 1) * 4) : 0;
    uint32_t hi = be32(p->fanout + id[0] * 4);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(p->oids + (size_t)mid * 20, id, 20);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

uerr packread_entry_at(packread_entry *e, const packread *p, uint32_t pos, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (pos >= p->n || !p->ends)
        return uerr_set(err, errlen, UERR_INVALID, "no pack entry %u", pos);
    e->off = entry_offset(p, pos);
    /* init checked every offset and end; the asserts restate it */
    assert(e->off >= PACK_HEAD && e->off < p->ends[pos] && p->ends[pos] <= p->packlen);
    e->len = (size_t)(p->ends[pos] - e->off);
    e->crc = be32(p->crcs + (size_t)pos * 4);
    const unsigned char *b = p->pack + e->off;
    unsigned c = b[0];
    size_t h = 1;
    int shift = 4;
    e->type = (c >> 4) & 7;
    e->size = c & 15;
    while (c & 0x80) {
        if (h >= e->len || shift > 60)
            return uerr_set(err, errlen, UERR_PEER, "pack entry %u: damaged header", pos);
        c = b[h++];
        e->size |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
    }
    if (h >= e->len || e->type == 0 || e->type == 5)
        return uerr_set(err, errlen, UERR_PEER, "pack entry %u: damaged header", pos);
    e->hdrlen = h;
    return UERR_OK;
}

const unsigned char *packread_entry_bytes(const packread *p, const packread_entry *e)
{
    const unsigned char *b = p->pack + e->off;
    uLong crc = crc32(0L, Z_NULL, 0);
    /* crc32 takes a uInt length: feed huge entries in pieces */
    for (size_t done = 0; done < e->len;) {
        size_t piece = e->len - done > (1u << 30) ? (1u << 30) : e->len - done;
        crc = crc32(crc, b + done, (uInt)piece);
        done += piece;
    }
    return (uint32_t)crc == e->crc ? b : NULL;
}

size_t packread_count_estimate(const char *objdir)
{
    char dir[4200], path[4600];
    struct stat st;
    size_t total = 0;
    snprintf(dir, sizeof dir, "%s/pack", objdir);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".idx") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0 && st.st_size > IDX_HEAD + IDX_FANOUT + IDX_TRAILER)
            total += ((size_t)st.st_size - IDX_HEAD - IDX_FANOUT - IDX_TRAILER) / 28;
    }
    if (d)
        closedir(d);
    return total;
}

uerr packread_set_open(packread_set *set, const char *objdir, char *err, size_t errlen)
{
    char dir[4200], path[4600];
    memset(set, 0, sizeof *set);
    snprintf(dir, sizeof dir, "%s/pack", objdir);
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return errno == ENOENT
                   ? UERR_OK
                   : uerr_set(err, errlen, UERR_IO, "opening %s: %s", dir, strerror(errno));
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".idx") != 0)
            continue;
        if (set->n == set->cap) {
            size_t nc = set->cap ? set->cap * 2 : 8;
            packread *nv = realloc(set->v, nc * sizeof *nv);
            if (!nv) {
                closedir(d);
                packread_set_free(set);
                return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
            }
            set->v = nv;
            set->cap = nc;
        }
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char why[256];
        /* a pack that does not read is skipped: its objects then come
         * through libgit2, which has its own view of that file */
        if (packread_open(&set->v[set->n], path, why, sizeof why) == UERR_OK)
            set->n++;
        else
            set->refused++;
    }
    closedir(d);
    return UERR_OK;
}

void packread_set_free(packread_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        packread_free(&set->v[i]);
    free(set->v);
    memset(set, 0, sizeof *set);
}

const unsigned char *packread_set_whole(size_t *len, const packread_set *set,
                                        const unsigned char id[20], int *damaged)
{
    *len = 0;
    for (size_t i = 0; i < set->n; i++) {
        long pos = packread_find(&set->v[i], id);
        packread_entry e;
        char why[128];
        if (pos < 0)
            continue;
        if (packread_entry_at(&e, &set->v[i], (uint32_t)pos, why, sizeof why) != UERR_OK) {
            (*damaged)++;
            return NULL;
        }
        if (e.type < PACKREAD_COMMIT || e.type > PACKREAD_TAG)
            return NULL; /* a delta: the caller inflates and deflates */
        const unsigned char *b = packread_entry_bytes(&set->v[i], &e);
        if (!b) {
            (*damaged)++;
            return NULL;
        }
        *len = e.len;
        return b;
    }
    return NULL;
}
