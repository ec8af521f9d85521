/* clock.h - the daemon's one reading of the wall clock and today's date,
 * shared by every room (records carry wall-clock times; dates are the
 * clerk's local calendar). */
#ifndef UNIOND_CLOCK_H
#define UNIOND_CLOCK_H

#include <stdint.h>

/* Wall clock in milliseconds since the epoch. */
int64_t clock_now_ms(void);
/* Monotonic clock in milliseconds (deadlines, timeouts). */
uint64_t clock_mono_ms(void);
/* Today's date in the local time zone, "YYYY-MM-DD" (out has room for 11). */
void clock_today(char out[11]);

#endif
