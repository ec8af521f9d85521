/* log.h - the daemon's log: one line per event on stderr, with a UTC
 * timestamp and level. Never log personal field values. Thread-safe (a
 * line is one write(2)). */
#ifndef UNIOND_LOG_H
#define UNIOND_LOG_H

enum { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Minimum level written (default LOG_INFO). */
void log_level_set(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
