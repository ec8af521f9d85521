/* packwriter.c - the store's own pack writer: a version 2 pack of whole
 * (undeltified) objects, deflated at level 1 (libdeflate) or stored, for the mempack's writes
 * (group commit, merge commits: store_mempack_flush) and for the packs sent to peers
 * (store_pack_build). Part of the store room. It writes bytes only; it
 * never decides which objects go in (callers do) and never reads a pack.
 *
 * Why not libgit2's git_packbuilder: it runs a delta search over every
 * object, while these packs are written once (and `git repack` can compact
 * the store at any time). It stays only because it is faster, measured on
 * the same data: `tests/bench/packwriter.sh 20000 3` (20,000 genmembers
 * records, one bulk commit into a fresh store, best of 3; 2 cores shared
 * with other builds, libgit2 1.5.1):
 *     own writer    import 1.378 s, of which pack writing 0.992 s, pack 8.4 MiB
 *     packbuilder   import 2.062 s, of which pack writing 1.644 s, pack 6.0 MiB
 * i.e. packbuilder takes 1.50x as long (a second run on a busier machine:
 * 1.832 s vs 2.424 s, 1.32x). The price is a ~40% larger pack. Re-run the
 * script when libgit2 changes; if packbuilder wins, delete this file.
 * (The import's bulk commit no longer comes here: bulktree.c streams its
 * objects into the pack indexer without an in-memory copy.) */
#include "daemon/store/store_int.h"

#include <git2/sys/odb_backend.h>

#include "daemon/store/packfile.h"
#include "daemon/store/packbuf.h"
#include "daemon/store/packread.h"
#include "daemon/util/log.h"

#include "daemon/util/fsutil.h"

#include <openssl/evp.h>
#include <libdeflate.h>
#include <zlib.h>

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Make room for n more bytes; sets oom on failure. */
static int pb_reserve(packbuf *p, size_t n)
{
    if (p->oom)
        return -1;
    if (p->len + n <= p->cap)
        return 0;
    size_t nc = p->cap ? p->cap : 1 << 20;
    while (nc < p->len + n)
        nc *= 2;
    /* the new address is stored before the lock is let go: a pipe's
     * hasher that takes it next must read the moved buffer, never the
     * freed one (it did, between the unlock and the store: ASan in the
     * partition test, seed 6) */
    if (p->grow)
        pthread_mutex_lock(p->grow);
    unsigned char *nb = realloc(p->buf, nc);
    if (nb) {
        p->buf = nb;
        p->cap = nc;
    }
    if (p->grow)
        pthread_mutex_unlock(p->grow);
    if (!nb) {
        p->oom = 1;
        return -1;
    }
    return 0;
}

void pb_put(packbuf *p, const void *data, size_t n)
{
    if (pb_reserve(p, n) != 0)
        return;
    memcpy(p->buf + p->len, data, n);
    p->len += n;
}

/* Level 0: the zlib stream of data in stored blocks, written here. Through
 * zlib (compress2) each object paid a deflateInit (a 256 KiB state
 * allocated and cleared) to copy its bytes: 5% of the daemon's CPU with 50
 * clients adding (perf), for every object of every group commit. */
static void pb_stored(packbuf *p, const unsigned char *data, size_t size)
{
    size_t nblocks = size ? (size + 65534) / 65535 : 1;
    if (pb_reserve(p, 2 + nblocks * 5 + size + 4) != 0)
        return;
    unsigned char *o = p->buf + p->len;
    *o++ = 0x78; /* deflate, 32 KiB window */
    *o++ = 0x01; /* no dictionary, fastest: (0x7801 % 31) == 0 */
    size_t left = size;
    do {
        size_t n = left < 65535 ? left : 65535;
        *o++ = n == left; /* BFINAL on the last, BTYPE 00 (stored) */
        *o++ = (unsigned char)n;
        *o++ = (unsigned char)(n >> 8);
        *o++ = (unsigned char)~n;
        *o++ = (unsigned char)(~n >> 8);
        memcpy(o, data, n);
        o += n;
        data += n;
        left -= n;
    } while (left);
    uint32_t a = libdeflate_adler32(1, data - size, size);
    *o++ = (unsigned char)(a >> 24);
    *o++ = (unsigned char)(a >> 16);
    *o++ = (unsigned char)(a >> 8);
    *o++ = (unsigned char)a;
    p->len = (size_t)(o - p->buf);
}

/* Append one undeltified object: type/size header, then zlib data (the
 * deflate by libdeflate, about twice zlib's speed at the same level). */
static void pb_object_level(packbuf *p, git_object_t type, const void *data, size_t size, int level)
{
    unsigned char hdr[16];
    pb_put(p, hdr, packfile_entry_header(hdr, (int)type, size));
    if (p->oom)
        return;
    if (level == 0) {
        pb_stored(p, data, size);
        return;
    }
    if (p->zc && p->zlevel != level) {
        libdeflate_free_compressor(p->zc);
        p->zc = NULL;
    }
    if (!p->zc && !(p->zc = libdeflate_alloc_compressor(level))) {
        p->oom = 1;
        return;
    }
    p->zlevel = level;
    size_t out = libdeflate_zlib_compress_bound(p->zc, size);
    if (pb_reserve(p, out) != 0)
        return;
    out = libdeflate_zlib_compress(p->zc, data, size, p->buf + p->len, out);
    if (out == 0) {
        p->oom = 1; /* the bound is enough: not reached */
        return;
    }
    p->len += out;
}

/* speed over size: these packs are written once and the store can be
 * repacked with plain git at any time */
static void pb_object(packbuf *p, git_object_t type, const void *data, size_t size)
{
    pb_object_level(p, type, data, size, 1);
}

/* Append object id: its entry copied whole from a pack of reuse (CRC-32
 * checked) when one stores it undeltified, else read through libgit2 and
 * deflated. *reused counts the copies, *damaged the entries refused. */
uerr pb_object_id(packbuf *p, git_odb *odb, const git_oid *id, const packread_set *reuse,
                  size_t *reused, int *damaged, char *err, size_t errlen)
{
    if (reuse) {
        size_t n;
        const unsigned char *b = packread_set_whole(&n, reuse, id->id, damaged);
        if (b) {
            pb_put(p, b, n);
            (*reused)++;
            return UERR_OK;
        }
    }
    git_odb_object *o = NULL;
    if (git_odb_read(&o, odb, id) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading an object to pack");
    pb_object(p, git_odb_object_type(o), git_odb_object_data(o), git_odb_object_size(o));
    git_odb_object_free(o);
    return UERR_OK;
}

/* The store's packs for reuse; without a readable pack folder every
 * object is simply deflated. */
void pb_reuse_open(packread_set *set, const char *objdir)
{
    char why[256];
    if (packread_set_open(set, objdir, why, sizeof why) != UERR_OK)
        log_msg(LOG_WARN, "pack: no pack reuse: %s", why);
    else if (set->refused)
        log_msg(LOG_WARN, "pack: %zu pack files of the store do not read; not reused",
                set->refused);
}

void pb_damaged_warn(int damaged)
{
    if (damaged)
        log_msg(LOG_WARN,
                "pack: %d stored pack entries failed their check; sent re-read instead "
                "(run git fsck on the store)",
                damaged);
}

static uerr pack_encode(unsigned char **out, size_t *len, git_odb *odb, const store_oidvec *objs,
                        const packread_set *reuse, size_t *reused, char *err, size_t errlen)
{
    unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    packbuf pk = {0};
    int damaged = 0;
    uerr rc = UERR_OK;
    *out = NULL;
    *len = 0;
    *reused = 0;
    if (objs->n > 0xffffffffu)
        return uerr_set(err, errlen, UERR_INTERNAL, "too many objects for one pack");
    head[8] = (unsigned char)(objs->n >> 24);
    head[9] = (unsigned char)(objs->n >> 16);
    head[10] = (unsigned char)(objs->n >> 8);
    head[11] = (unsigned char)objs->n;
    pb_put(&pk, head, sizeof head);
    for (size_t i = 0; i < objs->n && !pk.oom && rc == UERR_OK; i++)
        rc = pb_object_id(&pk, odb, &objs->v[i], reuse, reused, &damaged, err, errlen);
    libdeflate_free_compressor(pk.zc);
    pk.zc = NULL;
    pb_damaged_warn(damaged);
    if (rc != UERR_OK) {
        free(pk.buf);
        return rc;
    }
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned sumlen = 0;
    if (!pk.oom && !EVP_Digest(pk.buf, pk.len, sum, &sumlen, EVP_sha1(), NULL))
        pk.oom = 1;
    pb_put(&pk, sum, sumlen);
    if (pk.oom) {
        free(pk.buf);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
    }
    *out = pk.buf;
    *len = pk.len;
    return UERR_OK;
}

uerr store_pack_encode(unsigned char **out, size_t *len, git_odb *odb, const store_oidvec *objs,
                       char *err, size_t errlen)
{
    size_t reused;
    return pack_encode(out, len, odb, objs, NULL, &reused, err, errlen);
}

uerr store_pack_encode_reuse(unsigned char **out, size_t *len, git_odb *odb,
                             const store_oidvec *objs, const char *objdir, size_t *reused,
                             char *err, size_t errlen)
{
    packread_set set = {0};
    /* Opening the packs costs time in proportion to all they hold (the
     * index is checked, entry ends are sorted); a small pack for a peer
     * (live sync: a change's fresh objects, loose anyway) is cheaper
     * deflated than paid for with a walk over a million entries. */
    if (objs->n * PACK_REUSE_SHARE >= packread_count_estimate(objdir))
        pb_reuse_open(&set, objdir);
    uerr rc = pack_encode(out, len, odb, objs, &set, reused, err, errlen);
    packread_set_free(&set);
    return rc;
}

/* Every object under tree that is new (in the mempack mp: libgit2 writes
 * an object there only when the store lacks it); the descent stops at a
 * subtree that is not new: unchanged parts are shared. One hash lookup per
 * entry, not a search of the store's loose files and every pack. */
static int collect_new(store_oidvec *out, git_repository *bulk, git_odb_backend *mp,
                       const git_oid *tree_id)
{
    git_tree *t = NULL;
    if (!mp->exists(mp, tree_id))
        return 0;
    if (store_oidvec_push(out, tree_id) != 0 || git_tree_lookup(&t, bulk, tree_id) < 0)
        return -1;
    int rc = 0;
    size_t n = git_tree_entrycount(t);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
            rc = collect_new(out, bulk, mp, git_tree_entry_id(e));
        else if (mp->exists(mp, git_tree_entry_id(e)))
            rc = store_oidvec_push(out, git_tree_entry_id(e));
    }
    git_tree_free(t);
    return rc;
}

/* ---- writing a pack of new objects into the store ----------------------- */

int store_packacc_add(store_packacc *a, const git_oid *id, git_object_t type, const void *data,
                      size_t len, int level)
{
    static const unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2, 0, 0, 0, 0};
    packbuf pb = {a->buf, a->len, a->cap, a->oom, a->zc, a->zlevel};
    if (a->n == a->ecap) {
        size_t nc = a->ecap ? a->ecap * 2 : 64;
        store_packent *ne = realloc(a->ents, nc * sizeof *ne);
        if (!ne)
            return -1;
        a->ents = ne;
        a->ecap = nc;
    }
    if (pb.len == 0)
        pb_put(&pb, head, sizeof head);
    size_t at = pb.len;
    pb_object_level(&pb, type, data, len, level);
    a->buf = pb.buf;
    a->cap = pb.cap;
    a->zc = pb.zc;
    a->zlevel = pb.zlevel;
    if (pb.oom) {
        a->len = at; /* a unchanged */
        return -1;
    }
    a->len = pb.len;
    store_packent *e = &a->ents[a->n++];
    git_oid_cpy(&e->id, id);
    e->off = at;
    e->crc = libdeflate_crc32(0, a->buf + at, a->len - at);
    return 0;
}

void store_packacc_free(store_packacc *a)
{
    libdeflate_free_compressor(a->zc);
    free(a->buf);
    free(a->ents);
    memset(a, 0, sizeof *a);
}

/* Write len bytes of data to a new temporary file from tmpl (changed to
 * its name), read-only as git's packs are; fsynced when sync. */
static uerr tmp_write(char *tmpl, const unsigned char *data, size_t len, int sync, char *err,
                      size_t errlen)
{
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return uerr_set(err, errlen, UERR_IO, "creating %s: %s", tmpl, strerror(errno));
    uerr rc = UERR_OK;
    if (fchmod(fd, 0444) != 0 || fsutil_write_all(fd, data, len) != 0 || (sync && fsync(fd) != 0))
        rc = uerr_set(err, errlen, UERR_IO, "writing %s: %s", tmpl, strerror(errno));
    if (close(fd) != 0 && rc == UERR_OK)
        rc = uerr_set(err, errlen, UERR_IO, "writing %s: %s", tmpl, strerror(errno));
    if (rc != UERR_OK)
        unlink(tmpl);
    return rc;
}

/* tmp_write for a thread: its own error buffer. */
typedef struct {
    char *tmpl;
    const unsigned char *data;
    size_t len;
    int sync;
    uerr rc;
    char err[256];
} tmp_job;

static void *tmp_write_job(void *arg)
{
    tmp_job *j = arg;
    j->rc = tmp_write(j->tmpl, j->data, j->len, j->sync, j->err, sizeof j->err);
    return NULL;
}

uerr store_packfiles_write(const char *dir, const store_packfiles *f, int sync, char *err,
                           size_t errlen)
{
    char tpack[PATH_MAX], tidx[PATH_MAX], fpack[PATH_MAX], fidx[PATH_MAX];
    char hex[GIT_OID_HEXSZ + 1];
    int have_pack = 0, have_idx = 0;
    uerr rc;
    git_oid sumid;
    git_oid_fromraw(&sumid, f->sum);
    git_oid_tostr(hex, sizeof hex, &sumid);
    snprintf(tpack, sizeof tpack, "%s/pack_git2_uniond_XXXXXX", dir);
    snprintf(tidx, sizeof tidx, "%s/pack_git2_uniond_XXXXXX", dir);
    snprintf(fpack, sizeof fpack, "%s/pack-%s.pack", dir, hex);
    snprintf(fidx, sizeof fidx, "%s/pack-%s.idx", dir, hex);
    /* the two files are written and fsynced at once, the pack on a
     * helper thread: the disk takes both flushes together (two fsyncs in
     * a row 7.2 ms, side by side 4.3 ms, median of 40, on this machine
     * under load); unsynced (the journal holds them), no thread is worth it */
    tmp_job pj = {tpack, f->pack, f->packlen, sync, UERR_OK, {0}};
    pthread_t th;
    int threaded = sync && pthread_create(&th, NULL, tmp_write_job, &pj) == 0;
    if (!threaded)
        tmp_write_job(&pj);
    uerr irc = tmp_write(tidx, f->idx, f->idxlen, sync, err, errlen);
    if (threaded)
        pthread_join(th, NULL);
    have_pack = pj.rc == UERR_OK;
    have_idx = irc == UERR_OK;
    if (pj.rc != UERR_OK) {
        rc = uerr_set(err, errlen, pj.rc, "%s", pj.err);
        goto cleanup;
    }
    if ((rc = irc) != UERR_OK)
        goto cleanup;
    if (rename(tpack, fpack) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "renaming %s: %s", tpack, strerror(errno));
        goto cleanup;
    }
    have_pack = 0;
    if (rename(tidx, fidx) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "renaming %s: %s", tidx, strerror(errno));
        goto cleanup; /* the .pack alone is never read: harmless */
    }
    have_idx = 0;
    rc = sync ? fsutil_dir_sync(fidx, err, errlen) : UERR_OK;
cleanup:
    if (have_pack)
        unlink(tpack);
    if (have_idx)
        unlink(tidx);
    return rc;
}

/* Why not libgit2's git_odb_write_pack: its indexer inflates and hashes
 * every object again to write the .idx, which this writer knows already
 * (ids, offsets, CRC-32s), and it fsyncs the pack folder twice. Here:
 * the pack and the .idx are written under temporary names (pack_git2_*:
 * store_open removes such leftovers of a crash) and each fsynced; both are
 * renamed (the .pack first: a reader that finds the .idx finds its pack);
 * then one fsync of the folder makes both names durable. A crash before
 * that fsync leaves no pack or an unreferenced one: the branch moves only
 * after this returns. */
uerr store_packacc_write(store *s, store_packacc *a, char *err, size_t errlen)
{
    char dir[PATH_MAX - 128];
    snprintf(dir, sizeof dir, "%sobjects/pack", git_repository_path(s->repo));
    uerr rc = store_packacc_write_dir(dir, a, NULL, err, errlen);
    if (rc == UERR_OK)
        atomic_fetch_add(&s->packs_new, 1); /* one more pack to join (packjoin.c) */
    return rc;
}

uerr store_packacc_finish(store_packfiles *out, store_packacc *a, char *err, size_t errlen)
{
    unsigned sl = 0;
    packbuf ix = {0};
    uerr rc;
    memset(out, 0, sizeof *out);
    assert(a->n > 0 && a->len >= 12);
    if (a->n > 0xffffffffu)
        return uerr_set(err, errlen, UERR_INTERNAL, "too many objects for one pack");
    a->buf[8] = (unsigned char)(a->n >> 24);
    a->buf[9] = (unsigned char)(a->n >> 16);
    a->buf[10] = (unsigned char)(a->n >> 8);
    a->buf[11] = (unsigned char)a->n;
    if (!EVP_Digest(a->buf, a->len, out->sum, &sl, EVP_sha1(), NULL) || sl != GIT_OID_RAWSZ)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
    /* the .idx by the one writer of them (packfile.c), over a copy that
     * it sorts: a stays in pack order */
    packfile_entry *ents = malloc(a->n * sizeof *ents);
    if (!ents)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
    for (size_t i = 0; i < a->n; i++) {
        memcpy(ents[i].id, a->ents[i].id.id, PACKFILE_OID);
        ents[i].crc = a->ents[i].crc;
        ents[i].off = a->ents[i].off;
    }
    rc = packfile_idx_build(&ix.buf, &ix.len, ents, a->n, out->sum, err, errlen);
    free(ents);
    if (rc != UERR_OK)
        return rc;
    /* the trailer goes on a copy too */
    packbuf pk = {0};
    pb_put(&pk, a->buf, a->len);
    pb_put(&pk, out->sum, GIT_OID_RAWSZ);
    if (pk.oom) {
        free(pk.buf);
        free(ix.buf);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
    }
    out->pack = pk.buf;
    out->packlen = pk.len;
    out->idx = ix.buf;
    out->idxlen = ix.len;
    return UERR_OK;
}

void store_packfiles_free(store_packfiles *f)
{
    free(f->pack);
    free(f->idx);
    memset(f, 0, sizeof *f);
}

uerr store_packacc_write_dir(const char *dir, store_packacc *a, char *hex, char *err, size_t errlen)
{
    store_packfiles f;
    uerr rc = store_packacc_finish(&f, a, err, errlen);
    if (rc != UERR_OK)
        return rc;
    rc = store_packfiles_write(dir, &f, 1, err, errlen);
    if (hex) {
        git_oid sumid;
        git_oid_fromraw(&sumid, f.sum);
        git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &sumid);
    }
    store_packfiles_free(&f);
    return rc;
}

uerr store_pack_write_new(store *s, const store_oidvec *objs, char *err, size_t errlen)
{
    git_odb *bodb = NULL;
    store_oidmap seen = {0};
    store_packacc a = {0};
    uerr rc = UERR_OK;
    if (git_repository_odb(&bodb, s->bulk) < 0)
        return store_git_err(err, errlen, UERR_IO, "opening the object store");
    for (size_t i = 0; i < objs->n && rc == UERR_OK; i++) {
        int fresh = store_oidmap_put(&seen, &objs->v[i], 0);
        if (fresh < 0)
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
        if (fresh <= 0)
            continue;
        git_odb_object *o = NULL;
        if (git_odb_read(&o, bodb, &objs->v[i]) < 0) {
            rc = store_git_err(err, errlen, UERR_IO, "reading an object to pack");
            break;
        }
        if (store_packacc_add(&a, &objs->v[i], git_odb_object_type(o), git_odb_object_data(o),
                              git_odb_object_size(o), 1) != 0)
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
        git_odb_object_free(o);
    }
    if (rc == UERR_OK && a.n)
        rc = store_packacc_write(s, &a, err, errlen);
    store_packacc_free(&a);
    store_oidmap_free(&seen);
    git_odb_free(bodb);
    return rc;
}

uerr store_mempack_flush(store *s, const git_oid *tip, char *err, size_t errlen)
{
    git_commit *c = NULL;
    store_oidvec objs = {0};
    uerr rc;
    if (git_commit_lookup(&c, s->bulk, tip) < 0 || store_oidvec_push(&objs, tip) != 0 ||
        collect_new(&objs, s->bulk, s->mempack, git_commit_tree_id(c)) != 0)
        rc = store_git_err(err, errlen, UERR_IO, "collecting the objects to write");
    else
        rc = store_pack_write_new(s, &objs, err, errlen);
    git_commit_free(c);
    free(objs.v);
    git_mempack_reset(s->mempack);
    return rc;
}
