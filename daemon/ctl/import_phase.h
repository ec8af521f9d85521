/* import_phase.h - an import's phase timing for `uniond --verbose`
 * (docs/BENCHMARKS.md, round 10): wall and the thread's CPU per phase, and
 * inside the row checks and the index feed the wall time of their parts,
 * summed over the records. Only counts and times are logged, never a
 * value. Off (no clock read) unless the log level is debug. Part of the
 * ctl room (op_import.c). */
#ifndef UNIOND_IMPORT_PHASE_H
#define UNIOND_IMPORT_PHASE_H

#include <stddef.h>

/* the parts: the row's check, applying it, encoding and giving it to the
 * prewrite thread; waiting for the feed's decode, the index put (with the
 * persons' removal lookup), the persons' keys */
enum { PH_CHECK, PH_APPLY, PH_KEEP, PH_FEEDWAIT, PH_INDEX, PH_PERSONS, PH_N };

typedef struct {
    int on;
    double part[PH_N]; /* seconds */
} import_timing;

/* The last mark of a sequence of phases. */
typedef struct {
    double wall, cpu;
} phase_mark;

/* On when the log level is debug; the parts zero. */
void import_timing_init(import_timing *t);
/* Monotonic seconds, 0 when t is off. */
double import_clock(const import_timing *t);
/* When t is on: the time since *since added to part, *since now. */
void import_part(import_timing *t, int part, double *since);
/* When on: logs phase's wall and CPU since m's last mark (none at the
 * first), n records, and marks m now. */
void import_phase(int on, phase_mark *m, const char *phase, size_t n);
/* When t is on: one line of the row checks' parts (feed 0) or the index
 * feed's (feed 1). */
void import_parts_log(const import_timing *t, int feed);

#endif
