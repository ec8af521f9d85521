/* schema_norm.c - the normalisation that comes before every check: NFKC
 * and trimming of any text (utf8proc does the Unicode work and the strict
 * UTF-8 check), the date styles of Chinese spreadsheets, and the old
 * 15-digit ID numbers. Pure: no I/O, no locale. */
#include "proto/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "proto/schema_priv.h"

/* ASCII whitespace, and the Unicode spaces NFKC leaves alone that an IME or
 * a copy-paste puts around a value (zero-width space, a stray BOM). */
static int trim_cp(utf8proc_int32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

int schema_norm_fast = 1;

static int trim_ascii(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Most values of an import are ASCII (dates, phones, ID numbers, codes) or
 * Chinese text (names, employers, vocabulary words). Both are their own
 * NFKC form: ASCII and the CJK unified ideographs U+4E00..U+9FFF have no
 * decomposition (the compatibility ideographs are U+F900.., U+2F800..,
 * the radicals U+2F00..), combining class 0, and no two of them compose
 * (every canonical pair has a second character outside these ranges). So
 * such a text, not starting or ending with a trim character, comes out of
 * utf8proc and the trim byte for byte as it went in: it is used as it is.
 * Anything else (full-width forms, U+3000, punctuation, combining marks,
 * invalid bytes) takes the full path. tests/unit/test_schema.c runs every
 * ideograph of the range and many mixed values through both paths. */
int schema_text_is_normal(const char *s, size_t len)
{
    long chars;
    int ctl;
    return schema_text_normal_scan(s, len, &chars, &ctl);
}

int schema_text_normal_scan(const char *s, size_t len, long *chars, int *ctl)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    int c0 = 0;
    if (!schema_norm_fast)
        return 0;
    if (len == 0) {
        *chars = 0, *ctl = 0;
        return 1;
    }
    /* a CJK character ends in a continuation byte: only ASCII can be a trim
     * character at either end here */
    if (trim_ascii(p[0]) || trim_ascii(p[len - 1]))
        return 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        n++;
        if (c < 0x80) {
            if (c == 0)
                return 0;
            c0 |= c < 0x20 || c == 0x7F;
            i++;
            continue;
        }
        /* U+4E00..U+9FFF is E4 B8 80 .. E9 BF BF; three bytes, no overlong
         * or surrogate can fall in it */
        if (c < 0xE4 || c > 0xE9 || len - i < 3)
            return 0;
        unsigned char c1 = p[i + 1], c2 = p[i + 2];
        if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80 || (c == 0xE4 && c1 < 0xB8))
            return 0;
        i += 3;
    }
    *chars = n, *ctl = c0;
    return 1;
}

/* Trim in place: walk code points from the front and remember the end of
 * the last one that is not a trim character. n bytes of valid UTF-8 at
 * nf (allocated n + 1); NUL-terminates. */
static uerr trim_in_place(utf8proc_uint8_t *nf, size_t n)
{
    size_t start = 0, end = 0, i = 0;
    int seen = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(nf + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) /* cannot happen on utf8proc's own output */
            return UERR_INVALID;
        if (!trim_cp(cp)) {
            if (!seen)
                start = i;
            seen = 1;
            end = i + (size_t)k;
        }
        i += (size_t)k;
    }
    if (!seen)
        start = end = 0;
    memmove(nf, nf + start, end - start);
    nf[end - start] = '\0';
    return UERR_OK;
}

uerr schema_text_normalize_nfkc(char **out, const char *s, size_t len)
{
    utf8proc_uint8_t *nf = NULL;

    *out = NULL;
    if (len > 0 && memchr(s, '\0', len))
        return UERR_INVALID;
    /* utf8proc refuses overlongs, surrogates and > U+10FFFF (strict) */
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nf,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    if (n < 0)
        return n == UTF8PROC_ERROR_NOMEM ? UERR_NOMEM : UERR_INVALID;
    if (trim_in_place(nf, (size_t)n) != UERR_OK) {
        free(nf);
        return UERR_INVALID;
    }
    *out = (char *)nf;
    return UERR_OK;
}

uerr schema_text_normalize(char **out, const char *s, size_t len)
{
    *out = NULL;
    if (len > 0 && memchr(s, '\0', len))
        return UERR_INVALID;
    size_t ascii = 0;
    while (ascii < len && !((unsigned char)s[ascii] & 0x80))
        ascii++;
    if (ascii < len && !schema_text_is_normal(s, len))
        return schema_text_normalize_nfkc(out, s, len);
    /* ASCII is its own NFKC form, and so is a text schema_text_is_normal
     * passes: a copy, trimmed, without utf8proc's decomposition */
    utf8proc_uint8_t *nf = malloc(len + 1);
    if (!nf)
        return UERR_NOMEM;
    memcpy(nf, s, len);
    if (trim_in_place(nf, len) != UERR_OK) {
        free(nf);
        return UERR_INVALID;
    }
    *out = (char *)nf;
    return UERR_OK;
}

/* ---- dates ---- */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Reads 1..maxd digits at *p into *v; 0 if none. */
static int read_num(const char **p, int maxd, int *v)
{
    int n = 0;
    *v = 0;
    while (n < maxd && is_digit((unsigned char)**p)) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n;
}

/* Parses one of the accepted styles; 1 and y/m/d set, or 0. */
static int date_parse(const char *s, int *y, int *m, int *d)
{
    size_t n = strlen(s);
    const char *p = s;

    int eight = n == 8;
    for (size_t i = 0; eight && i < 8; i++)
        eight = is_digit((unsigned char)s[i]);
    if (eight) { /* YYYYMMDD */
        *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        *m = (s[4] - '0') * 10 + (s[5] - '0');
        *d = (s[6] - '0') * 10 + (s[7] - '0');
        return 1;
    }
    if (read_num(&p, 4, y) != 4)
        return 0;
    static const char nian[] = "年", yue[] = "月", ri[] = "日";
    if (strncmp(p, nian, strlen(nian)) == 0) {
        p += strlen(nian);
        if (read_num(&p, 2, m) == 0 || strncmp(p, yue, strlen(yue)) != 0)
            return 0;
        p += strlen(yue);
        if (read_num(&p, 2, d) == 0 || strcmp(p, ri) != 0)
            return 0;
        return 1;
    }
    char sep = *p;
    if (sep != '-' && sep != '/' && sep != '.')
        return 0;
    p++;
    if (read_num(&p, 2, m) == 0 || *p != sep)
        return 0;
    p++;
    if (read_num(&p, 2, d) == 0 || *p != '\0')
        return 0;
    return 1;
}

uerr schema_date_normalize(char out[11], const char *s, char *err, size_t errlen)
{
    char *own = NULL;
    const char *v = s;
    int y, m, d;
    size_t len = strlen(s);
    uerr rc = UERR_OK;

    out[0] = '\0';
    /* a date already YYYY-MM-DD (as schema_kind_value_normalize hands it
     * on) needs no copy */
    if (!schema_text_is_normal(s, len)) {
        rc = schema_text_normalize(&own, s, len);
        v = own;
    }
    if (rc == UERR_NOMEM)
        return uerr_set(err, errlen, rc, "out of memory");
    if (rc != UERR_OK)
        return uerr_set(err, errlen, UERR_INVALID, "not valid UTF-8");
    size_t n = strlen(v);
    int all_digits = n > 0;
    for (size_t i = 0; i < n; i++)
        all_digits = all_digits && is_digit((unsigned char)v[i]);
    if (all_digits && n == 5) {
        rc = uerr_set(err, errlen, UERR_INVALID,
                      "looks like an Excel date number: Excel turned the column into numbers; "
                      "format it as a date (YYYY-MM-DD) and save again");
    } else if (!date_parse(v, &y, &m, &d)) {
        rc = uerr_set(err, errlen, UERR_INVALID,
                      "must be a date YYYY-MM-DD (2021-8-1, 2021/8/1, 2021.8.1, 20210801 and "
                      "2021年8月1日 are accepted too)");
    } else if (!schema_ymd_valid(y, m, d)) {
        rc = uerr_set(err, errlen, UERR_INVALID, "not a real calendar date");
    } else {
        /* "%04u-%02u-%02u" by hand: snprintf was most of this function's
         * time, once for every date of an import */
        unsigned yy = (unsigned)y % 10000u, mm = (unsigned)m % 100u, dd = (unsigned)d % 100u;
        out[0] = (char)('0' + yy / 1000), out[1] = (char)('0' + yy / 100 % 10);
        out[2] = (char)('0' + yy / 10 % 10), out[3] = (char)('0' + yy % 10), out[4] = '-';
        out[5] = (char)('0' + mm / 10), out[6] = (char)('0' + mm % 10), out[7] = '-';
        out[8] = (char)('0' + dd / 10), out[9] = (char)('0' + dd % 10), out[10] = '\0';
        rc = UERR_OK;
    }
    free(own);
    return rc;
}

/* ---- ID numbers ---- */

uerr schema_idnum_from15(char out[19], const char *in)
{
    static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char checks[] = "10X98765432";
    int sum = 0;

    out[0] = '\0';
    if (!in || strlen(in) != 15)
        return UERR_INVALID;
    for (size_t i = 0; i < 15; i++)
        if (!is_digit((unsigned char)in[i]))
            return UERR_INVALID;
    /* GB 11643-1999: the 6-digit area, "19" + the 2-digit year, the rest */
    memcpy(out, in, 6);
    out[6] = '1';
    out[7] = '9';
    memcpy(out + 8, in + 6, 9);
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * weight[i];
    out[17] = checks[sum % 11];
    out[18] = '\0';
    return UERR_OK;
}
