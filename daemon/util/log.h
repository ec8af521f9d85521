/* log.h - the daemon's log: one line per event on stderr, with a UTC
 * timestamp and level; or, when stderr is connected to the journal
 * (systemd), one journal entry with PRIORITY and UNIOND_NODE fields. Never log personal field
 * values. Thread-safe (a line is one write(2)).
 *
 * Data-safe: whatever a caller formats, a call writes exactly one line of
 * valid UTF-8 (control characters and invalid bytes come out as \xNN), so
 * nothing a peer sends can forge a line. Strings from outside (a peer's
 * node name, message type, ERROR text) are also shown bounded with
 * log_safe() at the call site. */
#ifndef UNIOND_LOG_H
#define UNIOND_LOG_H

#include <stddef.h>

enum { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Room for a log_safe rendering: at most LOG_SAFE_MAX input bytes shown
 * (4 bytes each when escaped), then "...". */
#define LOG_SAFE_MAX 64
#define LOG_SAFE_SIZE (LOG_SAFE_MAX * 4 + 4)

/* Choose the destination (journal when JOURNAL_STREAM names stderr's
 * device and inode, else stderr) and remember the node name for the
 * UNIOND_NODE field (copied; NULL for none). Without a call: stderr. */
void log_init(const char *node);
/* 1 if log lines go to the journal. */
int log_to_journal(void);

/* Minimum level written (default LOG_INFO); LOG_ERR..LOG_DEBUG. Safe to
 * call from any thread at any time (SIGHUP changes it while the thread
 * pool logs): the level is one atomic int. */
void log_level_set(int level);
/* The level now in force. */
int log_level_get(void);
/* The name of a level ("error", "warn", "info", "debug"); a static string,
 * "?" for a value outside LOG_ERR..LOG_DEBUG. */
const char *log_level_name(int level);
/* The level called name (as log_level_name spells it; "warning" is taken
 * for "warn"), or -1 for any other text. */
int log_level_parse(const char *name);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A printable, bounded rendering of the NUL-terminated s (NULL shows as
 * "(none)") for a log line or an error message: bytes outside printable
 * ASCII and '\\' as \xNN, at most LOG_SAFE_MAX bytes of s, a longer value
 * cut with "...". Written into the caller's buf (buflen bytes, at least
 * 5; LOG_SAFE_SIZE shows the whole cap), which is returned. The one
 * escaper is proto/names.h's names_show; this only fixes the cap. */
const char *log_safe(char *buf, size_t buflen, const char *s);

#endif
