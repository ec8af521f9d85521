/* progress.h - a progress line on stderr for long client work (an import):
 * rows done of a total, rate and ETA while a step can count its rows, a
 * spinner with the elapsed time while it cannot (reading the file, the
 * check, the daemon's one request). Only when stderr is a terminal, and
 * only once the work has taken longer than a second: a short import, or
 * output to a pipe or a file, shows nothing and prints not one byte more.
 *
 * One progress line at a time per process (the one started last is the
 * "current" one). A background thread redraws it; the functions here may
 * be called from the main thread only. Never shows a row's content. */
#ifndef UNIOND_CLI_PROGRESS_H
#define UNIOND_CLI_PROGRESS_H

#include <stddef.h>

typedef struct cli_progress cli_progress;

/* Start a progress line (it draws nothing for its first second). Returns
 * the handle, owned by the caller until cli_progress_stop, or NULL when
 * stderr is not a terminal or a thread cannot start: every function here
 * accepts NULL and then does nothing. UNIONCTL_PROGRESS_DELAY_MS (tests)
 * replaces the one-second delay. */
cli_progress *cli_progress_start(void);

/* Begin a step named label (copied; a translated string): with total > 0
 * a bar of done/total rows, rate and ETA; with total == 0 a spinner and
 * the elapsed time. The row count starts again at 0. */
void cli_progress_step(cli_progress *p, const char *label, size_t total);

/* Rows done in the current step (cheap: call it per row). */
void cli_progress_set(cli_progress *p, size_t done);

/* Stop p: the thread ends and the line is cleared, so whatever is printed
 * next starts on a clean line; p is freed. */
void cli_progress_stop(cli_progress *p);

/* Stop the current progress line, if any (before printing a reply or an
 * error that may interleave with it). */
void cli_progress_stop_current(void);

#endif
