/* packpipe.c - a pack for a peer encoded on a thread of its own while
 * the store thread still walks the trees that list its objects
 * (store_packpipe, store_int.h). Part of the store room: it reads the
 * store's packs and objects, writes only its own buffer. */
#include "daemon/store/packbuf.h"
#include "daemon/store/store_int.h"
#include "daemon/util/log.h"

#include <libdeflate.h>
#include <openssl/evp.h>

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A peer's pack of many objects (a first replication: every object of
 * the store) used to be built in two steps on the store thread: the walk
 * over the trees that lists the objects, then the copy of each from the
 * store's packs. The receiver waits idle for both. The pipe copies on a
 * thread of its own, block by block, while the walk goes on: the same
 * bytes in the same order (the header's count is written at the end), in
 * about the time of the longer step. Small packs (the live path) stay on
 * the caller's thread: a thread and the reuse set cost more than they
 * save there. */
#define PIPE_BLOCK 4096
static size_t pipe_min = 8192;         /* objects before a pipe pays (test hook) */
static size_t pipe_block = PIPE_BLOCK; /* ids per block handed over (test hook) */
static _Atomic size_t pipe_builds;     /* packs built through a pipe */

typedef struct pipe_block_s {
    struct pipe_block_s *next;
    size_t n;
    git_oid id[PIPE_BLOCK];
} pipe_block_t;

struct store_packpipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t out_cv;     /* published moved, or the thread ended */
    pthread_mutex_t grow;      /* held by the hasher while it reads pk.buf */
    pipe_block_t *head, *tail; /* handed over, not yet encoded */
    int done;                  /* no more blocks will come */
    int stop;                  /* give up: the caller failed */
    int ended;                 /* the thread encodes nothing more */
    size_t published;          /* pk.buf[0..published) is written for good */
    pthread_t t;
    git_odb *odb;
    char objdir[4200];
    packbuf pk;
    size_t n, reused; /* objects encoded, of them copied whole */
    int damaged;
    uerr rc;
    char err[256];
};

void store_test_pack_pipe(size_t min, size_t block)
{
    pipe_min = min;
    pipe_block = block >= 1 && block <= PIPE_BLOCK ? block : PIPE_BLOCK;
}

size_t store_test_pack_pipe_builds(void)
{
    return atomic_load(&pipe_builds);
}

size_t store_packpipe_threshold(const char *objdir)
{
    /* From this many objects on, store_pack_encode_reuse would reuse the
     * store's packs (objs->n * PACK_REUSE_SHARE >= the estimate): the pipe
     * copies what the sequential build would copy. */
    size_t est = packread_count_estimate(objdir);
    size_t worth = (est + PACK_REUSE_SHARE - 1) / PACK_REUSE_SHARE;
    return worth > pipe_min ? worth : pipe_min;
}

static void *pipe_run(void *arg)
{
    store_packpipe *pp = arg;
    packread_set set = {0};
    pb_reuse_open(&set, pp->objdir);                           /* here, while the caller walks */
    unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2}; /* the count at the end */
    pb_put(&pp->pk, head, sizeof head);
    for (;;) {
        pthread_mutex_lock(&pp->mu);
        while (!pp->head && !pp->done && !pp->stop)
            pthread_cond_wait(&pp->cv, &pp->mu);
        pipe_block_t *b = pp->stop ? NULL : pp->head;
        if (b) {
            pp->head = b->next;
            if (!pp->head)
                pp->tail = NULL;
        }
        pthread_mutex_unlock(&pp->mu);
        if (!b)
            break;
        for (size_t i = 0; i < b->n && !pp->pk.oom && pp->rc == UERR_OK; i++)
            pp->rc = pb_object_id(&pp->pk, pp->odb, &b->id[i], &set, &pp->reused, &pp->damaged,
                                  pp->err, sizeof pp->err);
        pp->n += b->n;
        free(b);
        pthread_mutex_lock(&pp->mu);
        pp->published = pp->pk.len;
        pthread_cond_signal(&pp->out_cv);
        pthread_mutex_unlock(&pp->mu);
    }
    pthread_mutex_lock(&pp->mu);
    pp->ended = 1;
    pthread_cond_signal(&pp->out_cv);
    pthread_mutex_unlock(&pp->mu);
    libdeflate_free_compressor(pp->pk.zc);
    pp->pk.zc = NULL;
    packread_set_free(&set);
    return NULL;
}

uerr store_packpipe_start(store_packpipe **out, git_odb *odb, const char *objdir)
{
    store_packpipe *pp = calloc(1, sizeof *pp);
    *out = NULL;
    if (!pp)
        return UERR_NOMEM;
    pp->odb = odb;
    snprintf(pp->objdir, sizeof pp->objdir, "%s", objdir);
    /* (Linux: the inits cannot fail for default attributes) */
    pthread_mutex_init(&pp->mu, NULL);
    pthread_mutex_init(&pp->grow, NULL);
    pthread_cond_init(&pp->cv, NULL);
    pthread_cond_init(&pp->out_cv, NULL);
    pp->pk.grow = &pp->grow;
    if (pthread_create(&pp->t, NULL, pipe_run, pp) != 0) {
        pthread_cond_destroy(&pp->cv);
        pthread_cond_destroy(&pp->out_cv);
        pthread_mutex_destroy(&pp->grow);
        pthread_mutex_destroy(&pp->mu);
        free(pp);
        return UERR_NOMEM; /* the caller builds the pack itself */
    }
    *out = pp;
    return UERR_OK;
}

int store_packpipe_give(store_packpipe *pp, const git_oid *ids, size_t n)
{
    while (n > 0) {
        size_t k = n < pipe_block ? n : pipe_block;
        pipe_block_t *b = malloc(sizeof *b);
        if (!b)
            return -1;
        b->next = NULL;
        b->n = k;
        memcpy(b->id, ids, k * sizeof *ids);
        pthread_mutex_lock(&pp->mu);
        if (pp->tail)
            pp->tail->next = b;
        else
            pp->head = b;
        pp->tail = b;
        pthread_cond_signal(&pp->cv);
        pthread_mutex_unlock(&pp->mu);
        ids += k;
        n -= k;
    }
    return 0;
}

/* Stop the thread (stop: without encoding what is still queued) and free
 * the queue. */
static void pipe_end(store_packpipe *pp, int stop)
{
    pthread_mutex_lock(&pp->mu);
    pp->done = 1;
    pp->stop = stop;
    pthread_cond_signal(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    pthread_join(pp->t, NULL);
    while (pp->head) {
        pipe_block_t *b = pp->head;
        pp->head = b->next;
        free(b);
    }
    pthread_cond_destroy(&pp->cv);
    pthread_cond_destroy(&pp->out_cv);
    pthread_mutex_destroy(&pp->grow);
    pthread_mutex_destroy(&pp->mu);
}

#define HASH_STEP (1u << 20) /* bytes hashed per hold of the grow lock */

/* The pack's SHA-1 on the caller's thread while the pipe's thread still
 * encodes (the walk is over, the count is known): the header as it will
 * be, then each stretch the thread has published, in order. 0 and sum
 * set, or -1 (the thread failed or out of memory: finish reports it). */
static int pipe_hash(store_packpipe *pp, size_t count, unsigned char sum[EVP_MAX_MD_SIZE],
                     unsigned *sumlen)
{
    unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL);
    head[8] = (unsigned char)(count >> 24);
    head[9] = (unsigned char)(count >> 16);
    head[10] = (unsigned char)(count >> 8);
    head[11] = (unsigned char)count;
    ok = ok && EVP_DigestUpdate(md, head, sizeof head);
    size_t hashed = sizeof head;
    while (ok) {
        pthread_mutex_lock(&pp->mu);
        while (pp->published <= hashed && !pp->ended)
            pthread_cond_wait(&pp->out_cv, &pp->mu);
        size_t upto = pp->published;
        int ended = pp->ended;
        pthread_mutex_unlock(&pp->mu);
        if (upto <= hashed) {
            if (ended)
                break;
            continue;
        }
        while (ok && hashed < upto) {
            size_t n = upto - hashed < HASH_STEP ? upto - hashed : HASH_STEP;
            pthread_mutex_lock(&pp->grow); /* buf stays where it is meanwhile */
            ok = EVP_DigestUpdate(md, pp->pk.buf + hashed, n);
            pthread_mutex_unlock(&pp->grow);
            hashed += n;
        }
    }
    ok = ok && EVP_DigestFinal_ex(md, sum, sumlen);
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

void store_packpipe_abort(store_packpipe *pp)
{
    if (!pp)
        return;
    pipe_end(pp, 1);
    free(pp->pk.buf);
    free(pp);
}

uerr store_packpipe_finish(store_packpipe *pp, unsigned char **out, size_t *len, size_t count,
                           size_t *reused, char *err, size_t errlen)
{
    uerr rc;
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned sumlen = 0;
    *out = NULL;
    *len = 0;
    pthread_mutex_lock(&pp->mu);
    pp->done = 1; /* the thread ends once the queue is empty */
    pthread_cond_signal(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    int hashed = pipe_hash(pp, count, sum, &sumlen);
    pipe_end(pp, 0);
    pb_damaged_warn(pp->damaged);
    if (pp->rc != UERR_OK) {
        rc = uerr_set(err, errlen, pp->rc, "%s", pp->err);
        goto cleanup;
    }
    /* every block given was encoded: the thread stops early only on an
     * error (above) */
    assert(pp->n == count);
    if (count > 0xffffffffu) {
        rc = uerr_set(err, errlen, UERR_INTERNAL, "too many objects for one pack");
        goto cleanup;
    }
    if (!pp->pk.oom) {
        pp->pk.grow = NULL; /* the thread is gone: no reader besides us */
        pp->pk.buf[8] = (unsigned char)(count >> 24);
        pp->pk.buf[9] = (unsigned char)(count >> 16);
        pp->pk.buf[10] = (unsigned char)(count >> 8);
        pp->pk.buf[11] = (unsigned char)count;
        if (hashed != 0 || sumlen != PACKFILE_OID)
            pp->pk.oom = 1;
        else
            pb_put(&pp->pk, sum, sumlen);
    }
    if (pp->pk.oom) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory building a pack");
        goto cleanup;
    }
    *out = pp->pk.buf;
    *len = pp->pk.len;
    *reused = pp->reused;
    pp->pk.buf = NULL;
    atomic_fetch_add(&pipe_builds, 1);
    rc = UERR_OK;
cleanup:
    free(pp->pk.buf);
    free(pp);
    return rc;
}
