/* import_phase.c - an import's phase timing (import_phase.h). */
#include "daemon/ctl/import_phase.h"

#include "daemon/util/log.h"

#include <time.h>

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void import_timing_init(import_timing *t)
{
    *t = (import_timing){.on = log_level_get() >= LOG_DEBUG};
}

double import_clock(const import_timing *t)
{
    return t->on ? now_s(CLOCK_MONOTONIC) : 0;
}

void import_part(import_timing *t, int part, double *since)
{
    if (!t->on)
        return;
    double now = now_s(CLOCK_MONOTONIC);
    t->part[part] += now - *since;
    *since = now;
}

void import_phase(int on, phase_mark *m, const char *phase, size_t n)
{
    if (!on)
        return;
    double w = now_s(CLOCK_MONOTONIC), c = now_s(CLOCK_THREAD_CPUTIME_ID);
    if (m->wall > 0)
        log_msg(LOG_DEBUG, "import: %s: %.3f s wall, %.3f s cpu (%.2f us/record, %zu records)",
                phase, w - m->wall, c - m->cpu, n ? (w - m->wall) * 1e6 / (double)n : 0.0, n);
    m->wall = w;
    m->cpu = c;
}

void import_parts_log(const import_timing *t, int feed)
{
    if (!t->on)
        return;
    if (feed)
        log_msg(LOG_DEBUG,
                "import: index feed parts: waiting for the decode %.3f s, index %.3f s, "
                "persons %.3f s",
                t->part[PH_FEEDWAIT], t->part[PH_INDEX], t->part[PH_PERSONS]);
    else
        log_msg(LOG_DEBUG,
                "import: row checks parts: check %.3f s, apply %.3f s, encode and give %.3f s",
                t->part[PH_CHECK] - t->part[PH_APPLY] - t->part[PH_KEEP], t->part[PH_APPLY],
                t->part[PH_KEEP]);
}
