/* log.c - the daemon's log (see log.h): journald when stderr is the
 * journal's stream, else stderr. Never writes more than one line per call,
 * whatever the arguments hold. */
#include "daemon/util/log.h"
#include "proto/names.h"
#include "proto/utf8.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* indexed by level; sd-journal.h pulls in syslog.h, whose LOG_ERR and
 * LOG_DEBUG macros (3 and 7) hide log.h's names here, so this file uses
 * the numbers 0-3 and NLEVELS */
static const char *const level_names[] = {"error", "warn", "info", "debug"};
#define NLEVELS ((int)(sizeof level_names / sizeof level_names[0]))
static atomic_int min_level = 2; /* info (see level_names); read by every thread, set by SIGHUP */
static int to_journal;           /* stderr is the journal's stream (log_init) */
static char node_field[128];     /* "UNIOND_NODE=name", or empty */

void log_init(const char *node)
{
    /* systemd sets JOURNAL_STREAM=DEV:INO of the stream it connected to
     * stderr; a child whose stderr was redirected elsewhere keeps the
     * variable, so the device and inode must match stderr's own. */
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                 (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
    node_field[0] = '\0';
    if (node)
        snprintf(node_field, sizeof node_field, "UNIOND_NODE=%s", node);
}

int log_to_journal(void)
{
    return to_journal;
}

void log_level_set(int level)
{
    assert(level >= 0 && level < NLEVELS);
    atomic_store_explicit(&min_level, level, memory_order_relaxed);
}

int log_level_get(void)
{
    return atomic_load_explicit(&min_level, memory_order_relaxed);
}

const char *log_level_name(int level)
{
    return level >= 0 && level < NLEVELS ? level_names[level] : "?";
}

int log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < NLEVELS; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return strcmp(name, "warning") == 0 ? 1 : -1; /* warn */
}

const char *log_safe(char *buf, size_t buflen, const char *s)
{
    if (!s)
        s = "(none)";
    size_t n = strnlen(s, LOG_SAFE_MAX + 1);
    if (n <= LOG_SAFE_MAX || buflen < 8)
        return names_show(buf, buflen, s, n);
    /* over the cap: the first LOG_SAFE_MAX bytes, then "..." (unless
     * names_show already cut them short for want of room, with its own) */
    size_t want = 0;
    for (size_t i = 0; i < LOG_SAFE_MAX; i++)
        want += (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') ? 1 : 4;
    names_show(buf, buflen - 3, s, LOG_SAFE_MAX);
    if (want + 1 <= buflen - 3)
        strcat(buf, "...");
    return buf;
}

/* Copy msg (n bytes) into out (room for outlen bytes, at least 5) as one
 * line of valid UTF-8: control characters (C0, DEL, C1) and bytes that are
 * not valid UTF-8 become \xNN. Returns the bytes written (no NUL). A
 * second line in a message is a forged log line waiting to happen. */
static size_t log_line_clean(char *out, size_t outlen, const char *msg, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = utf8_decode(&cp, msg + i, n - i);
        int plain = k > 0 && cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0);
        size_t need = plain ? k : 4;
        if (o + need > outlen)
            break;
        if (plain) {
            memcpy(out + o, msg + i, k);
            o += k;
            i += k;
        } else {
            unsigned char ch = (unsigned char)msg[i++];
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    return o;
}

void log_msg(int level, const char *fmt, ...)
{
    char line[1024], msg[1024];
    struct timespec ts;
    struct tm tm;
    if (level > atomic_load_explicit(&min_level, memory_order_relaxed))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s: ", ts.tv_nsec / 1000000,
                          level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m >= sizeof msg ? sizeof msg - 1 : (size_t)m;
    if (to_journal) {
        /* journald stamps the time itself; the priority is syslog's */
        static const int prio[] = {3, 4, 6, 7};
        char clean[1024];
        size_t c = log_line_clean(clean, sizeof clean - 1, msg, mlen);
        clean[c] = '\0';
        if (node_field[0])
            sd_journal_send("MESSAGE=%s", clean, "PRIORITY=%d", prio[level], "%s", node_field,
                            NULL);
        else
            sd_journal_send("MESSAGE=%s", clean, "PRIORITY=%d", prio[level], NULL);
        return;
    }
    n += log_line_clean(line + n, sizeof line - n - 1, msg, mlen);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
