/* readwatch.c - the start-up read watchdog (readwatch.h). One process-wide
 * watch: start-up is single-threaded and happens once. On a stuck read the
 * watchdog thread logs the object and _exits with status 1; nothing is
 * being written at that point (the index is still being built), so there
 * is nothing to flush or undo. */
#include "daemon/store/readwatch.h"

#include "daemon/util/clock.h"
#include "daemon/util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running; /* the thread exists (joined by readwatch_end) */
    int stop;
    char gitdir[4096];
    char oid[GIT_OID_HEXSZ + 1];
    uint64_t since_ms; /* 0: no read in progress */
} w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Say which object is stuck, where it lives and what to do; then exit. */
static void readwatch_fail(const char *oid, int64_t waited_ms)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/objects/%.2s/%s", w.gitdir, oid, oid + 2);
    if (stat(path, &st) != 0)
        snprintf(path, sizeof path, "a pack file in %s/objects/pack", w.gitdir);
    log_msg(LOG_ERR,
            "store object %s (%s) is damaged: reading it did not finish in %lld ms "
            "(a truncated or corrupt object). Restore this node from a peer or a bundle "
            "(uniond(8), REPAIR); not starting",
            oid, path, (long long)waited_ms);
    fprintf(stderr,
            "uniond: store object %s is damaged (%s): reading it did not finish.\n"
            "  restore this node from a peer or a bundle (see uniond(8), REPAIR)\n",
            oid, path);
    _exit(1);
}

static void *readwatch_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&w.mu);
    while (!w.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w.cv, &w.mu, &ts);
        uint64_t now = clock_mono_ms();
        if (!w.stop && w.since_ms && now - w.since_ms > READWATCH_LIMIT_MS)
            readwatch_fail(w.oid, (int64_t)(now - w.since_ms)); /* does not return */
    }
    pthread_mutex_unlock(&w.mu);
    return NULL;
}

void readwatch_begin(const char *gitdir)
{
    pthread_mutex_lock(&w.mu);
    if (!w.running) {
        snprintf(w.gitdir, sizeof w.gitdir, "%s", gitdir);
        w.stop = 0;
        w.since_ms = 0;
        if (pthread_create(&w.thread, NULL, readwatch_main, NULL) == 0)
            w.running = 1;
        else
            log_msg(LOG_WARN, "start-up read watchdog not started; reading unwatched");
    }
    pthread_mutex_unlock(&w.mu);
}

void readwatch_object(const git_oid *id)
{
    if (!w.running) /* only the start-up thread changes it */
        return;
    pthread_mutex_lock(&w.mu);
    git_oid_tostr(w.oid, sizeof w.oid, id);
    w.since_ms = clock_mono_ms();
    if (w.since_ms == 0)
        w.since_ms = 1;
    pthread_mutex_unlock(&w.mu);
}

void readwatch_idle(void)
{
    if (!w.running)
        return;
    pthread_mutex_lock(&w.mu);
    w.since_ms = 0;
    pthread_mutex_unlock(&w.mu);
}

void readwatch_end(void)
{
    pthread_mutex_lock(&w.mu);
    int running = w.running;
    w.stop = 1;
    w.since_ms = 0;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    if (running)
        pthread_join(w.thread, NULL);
    pthread_mutex_lock(&w.mu);
    w.running = 0;
    pthread_mutex_unlock(&w.mu);
}
