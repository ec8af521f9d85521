/* unit_sh.h - shell helpers the unit tests share: run a command (plain
 * git on a store, mostly) and read its status or output. Header-only
 * (static inline), for cmocka programs: include it after <cmocka.h>.
 * Commands are at most 4095 bytes once formatted; a longer one fails the
 * test rather than running truncated. */
#ifndef UNIOND_UNIT_SH_H
#define UNIOND_UNIT_SH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static inline void unit_sh_format(char *cmd, size_t len, const char *fmt, va_list ap)
{
    int n = vsnprintf(cmd, len, fmt, ap);
    assert_true(n >= 0 && (size_t)n < len);
}

/* The exit status of the command (-1 when it did not exit). */
static inline int unit_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int unit_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    unit_sh_format(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Run the command; the test fails unless it exits 0. */
static inline void unit_sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void unit_sh_ok(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    unit_sh_format(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

/* The first line of the command's output into out (newline stripped;
 * empty when it printed nothing). */
static inline void unit_sh_line(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void unit_sh_line(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    unit_sh_format(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = 0;
    if (!fgets(out, (int)outlen, p))
        out[0] = 0;
    pclose(p);
    out[strcspn(out, "\n")] = 0;
}

/* The whole output of the command, malloc'd (the caller frees it), *len
 * its length; the test fails unless the command exits 0. */
static inline unsigned char *unit_sh_capture(size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline unsigned char *unit_sh_capture(size_t *len, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    unit_sh_format(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0, got;
    unsigned char *b = malloc(cap);
    assert_non_null(b);
    while ((got = fread(b + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap);
            assert_non_null(b);
        }
    }
    assert_int_equal(pclose(p), 0);
    *len = n;
    return b;
}

#endif
