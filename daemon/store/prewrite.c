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
 * The thread touches only its pack file (objects/pack/tmp_pack_*, removed
 * on abort and by store_open after a crash), the buffers it was given
 * (borrowed, unchanged until the commit or the abort) and its own maps: no
 * libgit2, no store, no schema. Nothing becomes visible before the bulk
 * commit renames the pack into place. */
#include "daemon/store/store_int.h"
#include "daemon/store/writecheck.h"

#include <stdlib.h>
#include <string.h>

/* zlib level as for the bulk commit (bulktree.c BULK_ZLEVEL) */
#define PREWRITE_ZLEVEL 1

/* Hash item k, then deflate it into the pack unless an earlier item had
 * the same bytes. */
static void prewrite_one(store_prewrite *p, const prewrite_item *it)
{
    if (p->noids == p->oidcap) {
        size_t nc = p->oidcap ? p->oidcap * 2 : 4096;
        git_oid *no = realloc(p->oids, nc * sizeof *no);
        if (!no) {
            p->pack.failed = 1;
            return;
        }
        p->oids = no;
        p->oidcap = nc;
    }
    git_oid *id = &p->oids[p->noids++];
    if (packfile_hash(id->id, p->hash, PACKFILE_BLOB, it->buf, it->len) != 0) {
        p->pack.failed = 1;
        return;
    }
    int added = store_oidmap_put(&p->seen, id, 0);
    if (added < 0)
        p->pack.failed = 1;
    else if (added)
        packfile_object(&p->pack, PACKFILE_BLOB, id->id, it->buf, it->len);
    /* the record's write check here too (pure: decode and schema reads);
     * a refusal is made again, with its message, by the commit */
    char why[256];
    if (!p->unchecked &&
        store_write_check_kind(it->id, it->kind, it->buf, it->len, why, sizeof why) != UERR_OK)
        p->unchecked = 1;
}

static void *prewrite_run(void *arg)
{
    store_prewrite *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->next == p->nitems && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->next == p->nitems) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        prewrite_item it = p->items[p->next++];
        pthread_mutex_unlock(&p->mu);
        if (!p->pack.failed)
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
    if (!(p->hash = EVP_MD_CTX_new()) ||
        packfile_open_ended(&p->pack, packdir, PREWRITE_ZLEVEL, err, sizeof err) != UERR_OK ||
        pthread_mutex_init(&p->mu, NULL) != 0) {
        packfile_free(&p->pack);
        EVP_MD_CTX_free(p->hash);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        packfile_free(&p->pack);
        EVP_MD_CTX_free(p->hash);
        free(p);
        return NULL;
    }
    if (pthread_create(&p->thread, NULL, prewrite_run, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        packfile_free(&p->pack);
        EVP_MD_CTX_free(p->hash);
        free(p);
        return NULL;
    }
    return p;
}

void store_prewrite_add(store_prewrite *p, const char *id, record_kind kind, const char *buf,
                        size_t len)
{
    if (!p)
        return;
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
    if (!p->failed) {
        p->items[p->nitems++] = (prewrite_item){id, kind ? kind : KIND_MEMBER, buf, len};
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Tell the thread nothing more comes and wait until it has written all. */
static void prewrite_stop(store_prewrite *p)
{
    pthread_mutex_lock(&p->mu);
    int was = p->done;
    p->done = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!was)
        pthread_join(p->thread, NULL);
}

int store_prewrite_finish(store_prewrite *p, const store_change *ch, size_t n, int *checked)
{
    *checked = 0;
    prewrite_stop(p);
    if (p->failed || p->pack.failed || p->nitems != n || p->noids != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (p->items[i].buf != ch[i].buf || p->items[i].len != ch[i].len ||
            strcmp(p->items[i].id, ch[i].id) != 0 ||
            p->items[i].kind != (ch[i].kind ? ch[i].kind : KIND_MEMBER))
            return -1;
    *checked = !p->unchecked;
    return 0;
}

void store_prewrite_abort(store_prewrite *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->next = p->nitems; /* what is still queued is not wanted */
    pthread_mutex_unlock(&p->mu);
    prewrite_stop(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    packfile_free(&p->pack); /* removes the file unless the commit renamed it */
    EVP_MD_CTX_free(p->hash);
    store_oidmap_free(&p->seen);
    free(p->items);
    free(p->oids);
    free(p);
}
