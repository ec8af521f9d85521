/* packwriter.c - the store's own pack writer: a version 2 pack of whole
 * (undeltified) objects, zlib level 1, for the mempack's writes (group
 * commit, merge commits: store_mempack_flush) and for the packs sent to peers
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

#include "daemon/store/packread.h"
#include "daemon/util/log.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <stdlib.h>
#include <string.h>

/* Pack reuse pays when a pack for a peer holds at least 1/PACK_REUSE_SHARE
 * of the objects the store's packs hold. */
#define PACK_REUSE_SHARE 16

typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int oom;
} packbuf;

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
    unsigned char *nb = realloc(p->buf, nc);
    if (!nb) {
        p->oom = 1;
        return -1;
    }
    p->buf = nb;
    p->cap = nc;
    return 0;
}

static void pb_put(packbuf *p, const void *data, size_t n)
{
    if (pb_reserve(p, n) != 0)
        return;
    memcpy(p->buf + p->len, data, n);
    p->len += n;
}

/* Append one undeltified object: type/size header, then zlib data. */
static void pb_object(packbuf *p, git_object_t type, const void *data, size_t size)
{
    unsigned char hdr[16];
    size_t h = 0, sz = size;
    unsigned c = ((unsigned)type << 4) | (sz & 15);
    sz >>= 4;
    while (sz) {
        hdr[h++] = (unsigned char)(c | 0x80);
        c = sz & 0x7f;
        sz >>= 7;
    }
    hdr[h++] = (unsigned char)c;
    pb_put(p, hdr, h);
    uLongf out = compressBound((uLong)size);
    if (pb_reserve(p, out) != 0)
        return;
    /* speed over size: these packs are written once per bulk write and
     * the store can be repacked with plain git at any time */
    if (compress2(p->buf + p->len, &out, data, (uLong)size, 1) != Z_OK) {
        p->oom = 1;
        return;
    }
    p->len += out;
}

/* Append object id: its entry copied whole from a pack of reuse (CRC-32
 * checked) when one stores it undeltified, else read through libgit2 and
 * deflated. *reused counts the copies, *damaged the entries refused. */
static uerr pb_object_id(packbuf *p, git_odb *odb, const git_oid *id, const packread_set *reuse,
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
    if (damaged)
        log_msg(LOG_WARN,
                "pack: %d stored pack entries failed their check; sent re-read instead "
                "(run git fsck on the store)",
                damaged);
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
    char why[256];
    /* Opening the packs costs time in proportion to all they hold (the
     * index is checked, entry ends are sorted); a small pack for a peer
     * (live sync: a change's fresh objects, loose anyway) is cheaper
     * deflated than paid for with a walk over a million entries. */
    int worth = objs->n * PACK_REUSE_SHARE >= packread_count_estimate(objdir);
    /* without a readable pack folder every object is simply deflated */
    if (worth && packread_set_open(&set, objdir, why, sizeof why) != UERR_OK)
        log_msg(LOG_WARN, "pack: no pack reuse: %s", why);
    else if (worth && set.refused)
        log_msg(LOG_WARN, "pack: %zu pack files of the store do not read; not reused", set.refused);
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

uerr store_pack_write_new(store *s, const store_oidvec *objs, char *err, size_t errlen)
{
    git_odb *disk = NULL, *bodb = NULL;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = {0};
    unsigned char *pk = NULL;
    size_t pklen = 0;
    uerr rc;
    if (git_repository_odb(&disk, s->repo) < 0 || git_repository_odb(&bodb, s->bulk) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the object store");
        goto cleanup;
    }
    rc = store_pack_encode(&pk, &pklen, bodb, objs, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    if (git_odb_write_pack(&wp, disk, NULL, NULL) < 0 || wp->append(wp, pk, pklen, &stats) < 0 ||
        wp->commit(wp, &stats) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "writing the pack");
        goto cleanup;
    }
cleanup:
    if (wp)
        wp->free(wp);
    git_odb_free(disk);
    git_odb_free(bodb);
    free(pk);
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
