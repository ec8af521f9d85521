/* readwatch.h - a watchdog over the object reads of start-up. libgit2 can
 * spin forever inflating a truncated loose object (issue 12: 11 minutes at
 * 50% CPU, no log line), so start-up marks each object before it reads it
 * and a watchdog thread ends the process, naming the object, its file and
 * what to do, when one read has not finished within the limit. Part of the
 * store room (store_int.h users only). Never used after start-up: a
 * request must never end the daemon. */
#ifndef UNIOND_STORE_READWATCH_H
#define UNIOND_STORE_READWATCH_H

#include <git2.h>

/* How long one object read at start may take before the store is called
 * damaged. A 1 MiB record reads in milliseconds; this is three orders of
 * magnitude more, and well under the 5 s start-up promise. */
#define READWATCH_LIMIT_MS 2000

/* Start watching the store at gitdir (copied). Idempotent; on failure to
 * start the thread, start-up simply runs unwatched (logged). */
void readwatch_begin(const char *gitdir);
/* The object about to be read (its id is copied). No-op when not watching. */
void readwatch_object(const git_oid *id);
/* No object read in progress (the time between reads is not watched). */
void readwatch_idle(void);
/* Stop watching and join the thread. Idempotent. */
void readwatch_end(void);

#endif
