/* import_feed.c - an import's committed records decoded on a thread of
 * their own (import_feed.h). Part of the ctl room; never touches the
 * index, the store's repository or the schema. */
#include "daemon/ctl/import_feed.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records decoded ahead of the index at most (a few hundred KB). */
#define FEED_SLOTS 512
/* The prewrite copies are released every this many records. */
#define FEED_RELEASE 4096
/* A waiting reader is woken once this many records are ready (or the
 * last one is); a waiting decoder once a quarter of the slots are free.
 * One signal per record was a futex wake per record on each side. */
#define FEED_WAKE_MADE 16
#define FEED_WAKE_ROOM (FEED_SLOTS / 4)

typedef struct {
    record r; /* in mem (record_decode_trusted_mem) */
    record_decode_mem mem;
    int rc;
    char why[128];
} feed_slot;

struct import_feed {
    store_prewrite *pre;
    char *const *bufs;
    const size_t *lens;
    size_t n;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    size_t made, taken; /* under mu: records decoded, records given back */
    int stop;           /* under mu: the reader is gone */
    int feed_waits;     /* under mu: the thread waits on room */
    int reader_waits;   /* under mu: the reader waits on more */
    int lent;           /* the reader's: it holds slot taken % FEED_SLOTS */
    feed_slot slot[FEED_SLOTS];
};

/* Decode record i into s, in the slot's own memory (reused: no malloc or
 * free a record once the slots have grown, and nothing allocated on this
 * thread is freed on another: the store thread's frees into this thread's
 * malloc arena, under its lock, were most of the index feed's time,
 * round 11). */
static void feed_decode(import_feed *f, size_t i, feed_slot *s)
{
    const char *buf = f->bufs[i];
    size_t len = f->lens[i];
    s->why[0] = 0;
    s->rc = buf || store_prewrite_record(f->pre, i, &buf, &len, s->why, sizeof s->why) == UERR_OK
                ? record_decode_trusted_mem(&s->r, &s->mem, buf, len, s->why, sizeof s->why)
                : -1;
    if (s->rc != 0)
        record_init(&s->r);
    if (f->pre && !f->bufs[i] && ((i + 1) % FEED_RELEASE == 0 || i + 1 == f->n))
        store_prewrite_release(f->pre, i + 1);
}

static void *feed_run(void *arg)
{
    import_feed *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        pthread_mutex_lock(&f->mu);
        while (f->made - f->taken == FEED_SLOTS && !f->stop) {
            f->feed_waits = 1;
            pthread_cond_wait(&f->room, &f->mu);
        }
        f->feed_waits = 0;
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            break;
        /* slot i % FEED_SLOTS is free: the reader took record i - FEED_SLOTS */
        feed_decode(f, i, &f->slot[i % FEED_SLOTS]);
        pthread_mutex_lock(&f->mu);
        f->made++;
        if (f->reader_waits && (f->made - f->taken >= FEED_WAKE_MADE || f->made == f->n)) {
            f->reader_waits = 0;
            pthread_cond_signal(&f->more);
        }
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

import_feed *import_feed_start(store_prewrite *pre, char *const *bufs, const size_t *lens, size_t n)
{
    import_feed *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    *f = (import_feed){.pre = pre, .bufs = bufs, .lens = lens, .n = n};
    int made = 0; /* how many of mu, more, room, thread exist */
    if (pthread_mutex_init(&f->mu, NULL) == 0 && ++made && pthread_cond_init(&f->more, NULL) == 0 &&
        ++made && pthread_cond_init(&f->room, NULL) == 0 && ++made &&
        pthread_create(&f->thread, NULL, feed_run, f) == 0)
        return f;
    if (made > 2)
        pthread_cond_destroy(&f->room);
    if (made > 1)
        pthread_cond_destroy(&f->more);
    if (made > 0)
        pthread_mutex_destroy(&f->mu);
    free(f);
    return NULL;
}

int import_feed_next(import_feed *f, const record **r, char *why, size_t whylen)
{
    pthread_mutex_lock(&f->mu);
    if (f->lent) { /* the record lent by the last call comes back */
        f->taken++;
        f->lent = 0;
        if (f->feed_waits && FEED_SLOTS - (f->made - f->taken) >= FEED_WAKE_ROOM) {
            f->feed_waits = 0;
            pthread_cond_signal(&f->room);
        }
    }
    assert(f->taken < f->n);
    while (f->made == f->taken) {
        f->reader_waits = 1;
        pthread_cond_wait(&f->more, &f->mu);
    }
    f->reader_waits = 0;
    pthread_mutex_unlock(&f->mu);
    feed_slot *s = &f->slot[f->taken % FEED_SLOTS];
    f->lent = 1;
    *r = &s->r;
    int rc = s->rc;
    if (rc != 0)
        snprintf(why, whylen, "%s", s->why);
    return rc;
}

void import_feed_free(import_feed *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_signal(&f->room);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    for (size_t i = 0; i < FEED_SLOTS; i++)
        record_decode_mem_free(&f->slot[i].mem); /* the records are views of it */
    pthread_cond_destroy(&f->more);
    pthread_cond_destroy(&f->room);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
