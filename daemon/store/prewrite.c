/* prewrite.c - an import's record blobs hashed and deflated into a
 * temporary pack on a thread of their own while the import's rows are
 * still being checked (store.h, store_prewrite_*); the bulk commit
 * (bulktree.c) then adds the trees and the commit to the same pack. Part
 * of the store room.
 *
 * Why: deflate is about a third of an import's CPU and needs only the
 * bytes; the row checks (ctl room) need the index and run on the store
 * queue's thread. On two cores the two overlap.
 *
 * Memory: a record given with store_prewrite_give is freed once written;
 * p keeps the deflated bytes it wrote to the pack (about half the size:
 * ~300 of ~610 bytes for a member) in blocks, and inflates them again for
 * whoever asks (store_prewrite_record: the import feeding its index after
 * the commit, or a commit that falls back to the ordinary way). At a
 * million rows that is ~300 MB less at the import's peak.
 *
 * The thread touches only its pack file (objects/pack/tmp_pack_*, removed
 * on abort and by store_open after a crash), the buffers it was given
 * and its own maps: no libgit2, no store, no schema. Nothing becomes
 * visible before the bulk commit renames the pack into place. */
#include "daemon/store/store_int.h"
#include "daemon/store/writecheck.h"

#include <libdeflate.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* zlib level as for the bulk commit (bulktree.c BULK_ZLEVEL) */
#define PREWRITE_ZLEVEL 1

/* Bytes of given records queued and not yet taken by the thread, at
 * most: past it store_prewrite_give waits. Without a bound, a thread
 * starved of CPU (a loaded machine) would let every encoded record of the
 * import pile up in its queue, the peak this file exists to avoid. 4 MiB
 * (~6,500 members, ~60 ms of the thread's work): the queue's tail is what
 * the commit waits for once the rows are checked (16 MiB was ~0.1 s at
 * 100k, round 11), and the adder, woken at half, waits ~30 times a
 * 100k import. */
#define PREWRITE_QUEUE_MAX (4u << 20)

/* A sleeping thread is woken once this many items wait for it (or the
 * adder stops, or waits for room); an adder waiting for room once the
 * queue fell to half of PREWRITE_QUEUE_MAX. One signal per item was a
 * futex wake per record on the import's thread, ~0.1 s of its 1 s of row
 * checks at 100k (perf, round 11). */
#define PREWRITE_WAKE_ITEMS 32

/* The deflated copies live in blocks of this size (one allocation per
 * ~13,000 members instead of one per record). */
#define PREWRITE_BLOCK (4u << 20)

struct prewrite_block {
    prewrite_block *next; /* the newer block */
    size_t used, size;
    size_t last; /* the highest item whose copy is in it */
};

static unsigned char *block_data(prewrite_block *b)
{
    return (unsigned char *)(b + 1);
}

/* n bytes of z copied into a block as item k's; NULL when out of memory. */
static const unsigned char *prewrite_keep(store_prewrite *p, const unsigned char *z, size_t n,
                                          size_t k)
{
    prewrite_block *b = p->newest;
    if (!b || b->size - b->used < n) {
        size_t size = n > PREWRITE_BLOCK ? n : PREWRITE_BLOCK;
        if (!(b = malloc(sizeof *b + size)))
            return NULL;
        *b = (prewrite_block){NULL, 0, size, k};
        if (p->newest)
            p->newest->next = b;
        else
            p->blocks = b;
        p->newest = b;
    }
    unsigned char *d = block_data(b) + b->used;
    memcpy(d, z, n);
    b->used += n;
    b->last = k;
    return d;
}

/* Room for one more copy and one more id (the thread's arrays). 0 or -1. */
static int prewrite_reserve(store_prewrite *p)
{
    if (p->ncopies == p->copycap) {
        size_t nc = p->copycap ? p->copycap * 2 : 4096;
        prewrite_copy *c = realloc(p->copies, nc * sizeof *c);
        if (!c)
            return -1;
        p->copies = c;
        p->copycap = nc;
    }
    if (p->noids == p->oidcap) {
        size_t nc = p->oidcap ? p->oidcap * 2 : 4096;
        git_oid *no = realloc(p->oids, nc * sizeof *no);
        if (!no)
            return -1;
        p->oids = no;
        p->oidcap = nc;
    }
    return 0;
}

/* Keep the deflated bytes z[0..zlen) as copy cp's (the newest), in place
 * of the record's own (owned) buffer. */
static void prewrite_shrink(store_prewrite *p, prewrite_copy *cp, const unsigned char *z,
                            size_t zlen)
{
    const unsigned char *d =
        zlen && zlen <= 0xffffffffu ? prewrite_keep(p, z, zlen, p->ncopies - 1) : NULL;
    if (!d)
        return; /* out of memory: the record stays whole */
    free((void *)(uintptr_t)cp->data);
    cp->data = d;
    cp->zlen = (uint32_t)zlen;
    cp->owned = 0;
}

/* Take item it (the next one): its copy, its hash, and
 * its blob deflated into the pack unless an earlier item had the same
 * bytes. Room was reserved (prewrite_reserve). */
static void prewrite_one(store_prewrite *p, const prewrite_item *it)
{
    prewrite_copy *cp = &p->copies[p->ncopies++];
    /* from here the item's buffer is the copy's (freed with p if owned) */
    *cp = (prewrite_copy){(const unsigned char *)it->buf, (uint32_t)it->len, 0, it->owned};
    if (p->pack.failed)
        return;
    git_oid *id = &p->oids[p->noids++];
    if (packfile_hash(id->id, p->hash, PACKFILE_BLOB, it->buf, it->len) != 0) {
        p->pack.failed = 1;
        return;
    }
    int added = store_oidmap_put(&p->seen, id, (uint32_t)p->ncopies); /* item + 1 */
    if (added < 0) {
        p->pack.failed = 1;
    } else if (added) {
        packfile_object(&p->pack, PACKFILE_BLOB, id->id, it->buf, it->len);
        if (it->owned && p->pack.zlast)
            prewrite_shrink(p, cp, p->pack.zbuf, p->pack.zlast);
    } else if (it->owned) {
        /* the same bytes as an earlier item: a copy of its deflated copy
         * (not shared: store_prewrite_release frees blocks in item order) */
        const uint32_t *v = store_oidmap_get(&p->seen, id);
        const prewrite_copy *was = v ? &p->copies[*v - 1] : NULL;
        if (was && was->zlen)
            prewrite_shrink(p, cp, was->data, was->zlen);
    }
}

static void *prewrite_run(void *arg)
{
    store_prewrite *p = arg;
    for (;;) {
        /* room first, so that a taken item always has its copy: one that
         * cannot be taken stays the queue's (and the commit falls back) */
        int room = prewrite_reserve(p) == 0;
        pthread_mutex_lock(&p->mu);
        while (room && p->next == p->nitems && !p->done) {
            p->sleeping = 1;
            pthread_cond_wait(&p->cv, &p->mu);
        }
        p->sleeping = 0;
        if (!room || p->next == p->nitems) {
            p->exited = 1;
            pthread_cond_broadcast(&p->room); /* an adder waiting stops */
            pthread_mutex_unlock(&p->mu);
            if (!room)
                p->pack.failed = 1;
            return NULL;
        }
        prewrite_item it = p->items[p->next++];
        if (it.owned) {
            p->queued -= it.len;
            if (p->adder_waits && p->queued <= PREWRITE_QUEUE_MAX / 2) {
                p->adder_waits = 0;
                pthread_cond_signal(&p->room);
            }
        }
        pthread_mutex_unlock(&p->mu);
        prewrite_one(p, &it);
    }
}

store_prewrite *store_prewrite_start(store *s)
{
    char packdir[4200], err[256];
    store_prewrite *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    store_enter(s);
    snprintf(packdir, sizeof packdir, "%sobjects/pack", git_repository_path(s->repo));
    store_leave(s);
    /* what was made so far is undone in reverse order (goto ladder) */
    if (!(p->hash = EVP_MD_CTX_new()) ||
        packfile_open_ended(&p->pack, packdir, PREWRITE_ZLEVEL, err, sizeof err) != UERR_OK ||
        pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail_pack;
    if (pthread_cond_init(&p->cv, NULL) != 0)
        goto fail_mu;
    if (pthread_cond_init(&p->room, NULL) != 0)
        goto fail_cv;
    if (pthread_create(&p->thread, NULL, prewrite_run, p) != 0)
        goto fail_room;
    return p;
fail_room:
    pthread_cond_destroy(&p->room);
fail_cv:
    pthread_cond_destroy(&p->cv);
fail_mu:
    pthread_mutex_destroy(&p->mu);
fail_pack:
    packfile_free(&p->pack);
    EVP_MD_CTX_free(p->hash);
    free(p);
    return NULL;
}

/* Queue one item. 0, or -1 when out of memory (nothing queued; p->failed
 * is set: the commit will not use p's pack). */
static int prewrite_queue(store_prewrite *p, const char *id, record_kind kind, const char *buf,
                          size_t len, int owned)
{
    int rc = 0;
    /* The record's write check (pure: decode and schema reads), here on
     * the adder's thread rather than on p's: p's deflate is the longer of
     * the two (libdeflate's ~8 us a record at level 1, mostly its hash
     * table's reset per call: docs/BENCHMARKS.md, round 10), and the
     * import's thread waited on p's queue for most of its rows. A refusal
     * is made again, with its message, by the commit. */
    char why[256];
    if (!p->unchecked && store_write_check_kind_mem(id, kind ? kind : KIND_MEMBER, buf, len,
                                                    &p->checkmem, why, sizeof why) != UERR_OK)
        p->unchecked = 1;
    pthread_mutex_lock(&p->mu);
    if (p->nitems == p->cap && !p->failed) {
        size_t nc = p->cap ? p->cap * 2 : 4096;
        prewrite_item *ni = realloc(p->items, nc * sizeof *ni);
        if (ni) {
            p->items = ni;
            p->cap = nc;
        } else
            p->failed = 1;
    }
    if (!p->failed && len <= 0xffffffffu) {
        p->items[p->nitems++] = (prewrite_item){id, kind ? kind : KIND_MEMBER, buf, len, owned};
        p->queued += owned ? len : 0;
        int many = p->nitems - p->next >= PREWRITE_WAKE_ITEMS;
        /* a given record waits here while the thread is far behind (woken
         * first, whatever the count, so that it takes some) */
        while (p->queued > PREWRITE_QUEUE_MAX && !p->exited) {
            if (p->sleeping) {
                p->sleeping = 0;
                pthread_cond_signal(&p->cv);
            }
            p->adder_waits = 1;
            pthread_cond_wait(&p->room, &p->mu);
        }
        if (p->sleeping && many) {
            p->sleeping = 0;
            pthread_cond_signal(&p->cv);
        }
    } else {
        p->failed = 1;
        rc = -1;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void store_prewrite_add(store_prewrite *p, const char *id, record_kind kind, const char *buf,
                        size_t len)
{
    if (p)
        prewrite_queue(p, id, kind, buf, len, 0);
}

int store_prewrite_give(store_prewrite *p, const char *id, record_kind kind, char *buf, size_t len)
{
    return p ? prewrite_queue(p, id, kind, buf, len, 1) : -1;
}

void store_prewrite_stop(store_prewrite *p)
{
    if (p->stopped)
        return;
    pthread_mutex_lock(&p->mu);
    p->done = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->stopped = 1;
}

size_t store_prewrite_count(const store_prewrite *p)
{
    assert(p->stopped);
    return p->nitems > p->ncopies ? p->nitems : p->ncopies;
}

int store_prewrite_finish(store_prewrite *p, const store_change *ch, size_t n, int *checked)
{
    *checked = 0;
    store_prewrite_stop(p);
    if (p->failed || p->pack.failed || p->nitems != n || p->noids != n || p->ncopies != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (p->items[i].len != ch[i].len || strcmp(p->items[i].id, ch[i].id) != 0 ||
            p->items[i].kind != (ch[i].kind ? ch[i].kind : KIND_MEMBER) ||
            (p->items[i].owned ? ch[i].buf != NULL : p->items[i].buf != ch[i].buf))
            return -1;
    *checked = !p->unchecked;
    /* every buffer is a copy's now: the queue and the map of blobs seen
     * are not needed through the commit */
    free(p->items);
    p->items = NULL;
    p->nitems = p->cap = p->next = 0;
    store_oidmap_free(&p->seen);
    return 0;
}

uerr store_prewrite_record(store_prewrite *p, size_t i, const char **buf, size_t *len, char *err,
                           size_t errlen)
{
    assert(p->stopped);
    if (i >= p->ncopies) {
        /* not taken by the thread (it stopped early): the item itself */
        if (i >= p->nitems)
            return uerr_set(err, errlen, UERR_INTERNAL, "import record %zu is missing", i);
        *buf = p->items[i].buf;
        *len = p->items[i].len;
        return UERR_OK;
    }
    const prewrite_copy *cp = &p->copies[i];
    if (i < p->released)
        return uerr_set(err, errlen, UERR_INTERNAL, "import record %zu was released", i);
    *len = cp->len;
    if (!cp->zlen) {
        *buf = (const char *)cp->data;
        return UERR_OK;
    }
    if (!p->inflater && !(p->inflater = libdeflate_alloc_decompressor()))
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    if (p->scratchcap < (size_t)cp->len + 1) {
        char *nb = realloc(p->scratch, (size_t)cp->len + 1);
        if (!nb)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        p->scratch = nb;
        p->scratchcap = (size_t)cp->len + 1;
    }
    size_t got = 0;
    if (libdeflate_zlib_decompress(p->inflater, cp->data, cp->zlen, p->scratch, cp->len, &got) !=
            LIBDEFLATE_SUCCESS ||
        got != cp->len)
        return uerr_set(err, errlen, UERR_INTERNAL, "import record %zu does not inflate", i);
    p->scratch[got] = 0; /* NUL-terminated, as record_encode's */
    *buf = p->scratch;
    return UERR_OK;
}

void store_prewrite_release(store_prewrite *p, size_t upto)
{
    assert(p->stopped);
    /* the pack is in place (the commit took it): its tables, and the ids */
    packfile_free(&p->pack);
    free(p->oids);
    p->oids = NULL;
    p->noids = p->oidcap = 0;
    if (upto > p->ncopies)
        upto = p->ncopies;
    for (; p->released < upto; p->released++) {
        prewrite_copy *cp = &p->copies[p->released];
        if (cp->owned)
            free((void *)(uintptr_t)cp->data);
        *cp = (prewrite_copy){0};
    }
    while (p->blocks && p->blocks->last < upto) {
        prewrite_block *next = p->blocks->next;
        if (p->newest == p->blocks)
            p->newest = NULL;
        free(p->blocks);
        p->blocks = next;
    }
}

void store_prewrite_abort(store_prewrite *p)
{
    if (!p)
        return;
    if (!p->stopped) {
        pthread_mutex_lock(&p->mu);
        p->next = p->nitems; /* what is still queued is not wanted */
        pthread_mutex_unlock(&p->mu);
        store_prewrite_stop(p);
    }
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    packfile_free(&p->pack); /* removes the file unless the commit renamed it */
    EVP_MD_CTX_free(p->hash);
    store_oidmap_free(&p->seen);
    /* owned buffers: the copies kept whole, and the items never taken */
    for (size_t i = 0; i < p->ncopies; i++)
        if (p->copies[i].owned)
            free((void *)(uintptr_t)p->copies[i].data);
    for (size_t i = p->ncopies; i < p->nitems; i++)
        if (p->items[i].owned)
            free((void *)(uintptr_t)p->items[i].buf);
    while (p->blocks) {
        prewrite_block *next = p->blocks->next;
        free(p->blocks);
        p->blocks = next;
    }
    libdeflate_free_decompressor(p->inflater);
    record_decode_mem_free(&p->checkmem);
    free(p->scratch);
    free(p->items);
    free(p->copies);
    free(p->oids);
    free(p);
}
