/* progress.c - the progress line of progress.h: a thread redrawing one
 * line of stderr ("\r...\033[K") five times a second. It writes only to
 * stderr, only when stderr is a terminal, and never a row's content. */
#include "cli/progress.h"
#include "cli/i18n.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_DELAY_MS 1000 /* "imports that take more than a second" */
#define PROGRESS_TICK_MS 200
#define PROGRESS_BAR_WIDTH 24

struct cli_progress {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;    /* under mu */
    int drawn;       /* the line has been drawn once (thread only, then stop) */
    char label[128]; /* under mu */
    size_t total;    /* under mu */
    double step_t0;  /* under mu: when the step began */
    double t0;       /* when the progress line began */
    long delay_ms;
    atomic_size_t done;
};

static cli_progress *current;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fmt_duration(char *out, size_t outlen, double s)
{
    long v = s < 0 ? 0 : (long)(s + 0.5);
    if (v >= 3600)
        snprintf(out, outlen, "%ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
    else
        snprintf(out, outlen, "%ld:%02ld", v / 60, v % 60);
}

/* One redraw, under p->mu. */
static void draw(cli_progress *p, unsigned tick)
{
    static const char spin[] = "|/-\\";
    char line[320], el[32], eta[32];
    double t = now_s(), ds = t - p->step_t0;
    size_t done = atomic_load(&p->done);
    fmt_duration(el, sizeof el, t - p->t0);
    if (p->total > 0) {
        if (done > p->total)
            done = p->total;
        int fill = (int)((double)done * PROGRESS_BAR_WIDTH / (double)p->total);
        char bar[PROGRESS_BAR_WIDTH + 1];
        for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[PROGRESS_BAR_WIDTH] = '\0';
        double rate = ds > 0 ? (double)done / ds : 0;
        if (rate > 0)
            fmt_duration(eta, sizeof eta, (double)(p->total - done) / rate);
        else
            snprintf(eta, sizeof eta, "?");
        char body[300];
        /* TRANSLATORS: the progress line: label, bar, rows done/total, rate, time left */
        snprintf(body, sizeof body, _("%s [%s] %zu/%zu rows  %.0f rows/s  ETA %s"), p->label, bar,
                 done, p->total, rate, eta);
        snprintf(line, sizeof line, "\r%s\033[K", body);
    } else {
        snprintf(line, sizeof line, "\r%s %c %s\033[K", p->label, spin[tick % 4], el);
    }
    /* one write: a line is never torn by another writer of stderr */
    ssize_t w = write(STDERR_FILENO, line, strlen(line));
    (void)w;
    p->drawn = 1;
}

static void *progress_main(void *arg)
{
    cli_progress *p = arg;
    unsigned tick = 0;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += PROGRESS_TICK_MS * 1000000L;
        dl.tv_sec += dl.tv_nsec / 1000000000L;
        dl.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&p->cv, &p->mu, &dl);
        if (!p->stopping && (now_s() - p->t0) * 1000 >= (double)p->delay_ms)
            draw(p, tick++);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

cli_progress *cli_progress_start(void)
{
    if (!isatty(STDERR_FILENO))
        return NULL;
    cli_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    const char *d = getenv("UNIONCTL_PROGRESS_DELAY_MS");
    p->delay_ms = d && *d ? strtol(d, NULL, 10) : PROGRESS_DELAY_MS;
    p->t0 = p->step_t0 = now_s();
    atomic_init(&p->done, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, progress_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    cli_progress_stop_current();
    current = p;
    return p;
}

void cli_progress_step(cli_progress *p, const char *label, size_t total)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->step_t0 = now_s();
    atomic_store(&p->done, 0);
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_set(cli_progress *p, size_t done)
{
    if (p)
        atomic_store_explicit(&p->done, done, memory_order_relaxed);
}

void cli_progress_stop(cli_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    if (p->drawn) {
        static const char clear[] = "\r\033[K";
        ssize_t w = write(STDERR_FILENO, clear, sizeof clear - 1);
        (void)w;
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    if (current == p)
        current = NULL;
    free(p);
}

void cli_progress_stop_current(void)
{
    cli_progress_stop(current);
}
