/* schema_types.c - the value types the federation's records brought in
 * besides the member's: links between records, yes/no, the unified social
 * credit code (GB 32100-2015), counts and amounts of money. Called by
 * schema.c's check_typed on a value already NFKC'd, trimmed and non-empty;
 * each puts the value in its one stored form. Pure: no I/O, no locale
 * (every node must judge a value the same way).
 *
 * Amounts are handled as integer fen, never as floating point: a sum of
 * thousands of 180.50s must come out exact. */
#include "proto/schema.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/record.h"
#include "proto/schema_priv.h"

/* a link names a record by id or by a name: a union's name may be long */
#define LINK_CHARS_MAX 128
/* whole yuan digits: 10^12 fen still fits an int64 many times over */
#define AMOUNT_DIGITS_MAX 12
#define COUNT_DIGITS_MAX 9

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int caseeq_n(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int fail(const char **rule, char *msg, size_t msglen, const char *r, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(const char **rule, char *msg, size_t msglen, const char *r, const char *fmt, ...)
{
    va_list ap;
    *rule = r;
    if (msg && msglen) {
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- links ---- */

int schema_link_is_id(const char *value)
{
    return value && record_id_valid(value);
}

/* "union:01kb..." names the kind it points to; a kind word that is not the
 * field's is a link to the wrong kind, refused before it reaches a store. */
static int check_link(char **out, const schema_field *f, const char *v, size_t n, long chars,
                      const char **rule, char *msg, size_t msglen)
{
    if (chars > LINK_CHARS_MAX)
        return fail(rule, msg, msglen, "too_long", "at most %d characters (got %ld)",
                    LINK_CHARS_MAX, chars);
    const char *colon = memchr(v, ':', n);
    if (colon && colon > v && (size_t)(colon - v) < 16) {
        char word[16], id[RECORD_ID_MAX + 1];
        size_t wl = (size_t)(colon - v), il = n - wl - 1;
        record_kind k;
        memcpy(word, v, wl);
        word[wl] = '\0';
        if (il <= RECORD_ID_MAX) {
            memcpy(id, colon + 1, il);
            id[il] = '\0';
        }
        if (il <= RECORD_ID_MAX && record_id_valid(id) && kind_parse(&k, word, NULL, 0) == 0) {
            if (k != f->link)
                return fail(rule, msg, msglen, "link_kind",
                            "links to a record of kind %s; this field links to a %s", kind_name(k),
                            kind_name(f->link));
            *out = dup_n(id, il);
            return 0;
        }
    }
    *out = dup_n(v, n);
    return 0;
}

/* ---- yes / no ---- */

static int check_yesno(char **out, const char *v, size_t n, const char **rule, char *msg,
                       size_t msglen)
{
    static const char *const yes[] = {"yes", "y", "true", "1", "是"};
    static const char *const no[] = {"no", "n", "false", "0", "否"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (caseeq_n(v, n, yes[i]))
            return (*out = dup_n("yes", 3)), 0;
        if (caseeq_n(v, n, no[i]))
            return (*out = dup_n("no", 2)), 0;
    }
    return fail(rule, msg, msglen, "yes_no", "must be yes or no (是/否, y/n, true/false, 1/0)");
}

/* ---- unified social credit code ---- */

/* GB 32100-2015: 31 characters, the capitals without I, O, S, V, Z. */
static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static int uscc_value(char c)
{
    const char *p = c ? strchr(uscc_alphabet, c) : NULL;
    return p ? (int)(p - uscc_alphabet) : -1;
}

/* Check character of the first 17: weights 3^i mod 31, C18 = 31 - sum mod
 * 31 (31 -> 0). -1 if a character is outside the alphabet. */
static int uscc_check(const char *s)
{
    int sum = 0, w = 1;
    for (int i = 0; i < 17; i++) {
        int v = uscc_value(s[i]);
        if (v < 0)
            return -1;
        sum += v * w;
        w = w * 3 % 31;
    }
    return (31 - sum % 31) % 31;
}

int schema_uscc_valid(const char *s)
{
    if (!s || strlen(s) != 18 || uscc_value(s[17]) < 0)
        return 0;
    for (int i = 2; i < 8; i++)
        if (!is_digit(s[i]))
            return 0;
    return uscc_check(s) == uscc_value(s[17]);
}

/* Like the ID number, the message never shows the expected character: a
 * clerk who mistyped a middle character would "fix" the last one. */
static int check_uscc(char **out, const char *v, size_t n, const char **rule, char *msg,
                      size_t msglen)
{
    char u[19];
    /* Excel's form of a long number ("9.13302E+17") is never 18 characters;
     * an 18-character code may well be digits, E, digits (91330212E600000107) */
    if (n != 18 && schema_excel_number(v, n))
        return fail(rule, msg, msglen, "excel_number",
                    "Excel turned the column into numbers (scientific notation) and the "
                    "characters are lost; format the column as Text, enter the codes again");
    if (n != 18)
        return fail(rule, msg, msglen, "uscc_length", "must be 18 characters, got %zu", n);
    for (size_t i = 0; i < 18; i++) {
        u[i] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 'a' + 'A') : v[i];
        if (uscc_value(u[i]) < 0)
            return fail(rule, msg, msglen, "uscc_chars",
                        "character %zu is not allowed (digits and capitals except I, O, S, V, Z)",
                        i + 1);
    }
    u[18] = '\0';
    for (int i = 2; i < 8; i++)
        if (!is_digit(u[i]))
            return fail(rule, msg, msglen, "uscc_chars",
                        "characters 3-8 (the division code) must be digits");
    if (!schema_uscc_valid(u))
        return fail(rule, msg, msglen, "uscc_check",
                    "check character is wrong (check every character against the licence)");
    *out = dup_n(u, 18);
    return 0;
}

/* ---- counts and amounts ---- */

static int check_count(char **out, const char *v, size_t n, const char **rule, char *msg,
                       size_t msglen)
{
    if (v[0] == '-')
        return fail(rule, msg, msglen, "negative", "must not be negative");
    size_t i = 0;
    while (i + 1 < n && v[i] == '0')
        i++;
    for (size_t k = i; k < n; k++)
        if (!is_digit(v[k]))
            return fail(rule, msg, msglen, "count", "must be a whole number (digits only)");
    if (n - i > COUNT_DIGITS_MAX)
        return fail(rule, msg, msglen, "count", "at most %d digits", COUNT_DIGITS_MAX);
    *out = dup_n(v + i, n - i);
    return 0;
}

/* Parses [¥]digits[.d[d]][元] into fen; -1 (and *why) otherwise. */
static int amount_parse(int64_t *fen, const char *v, size_t n, const char **why)
{
    static const char yen[] = "\xc2\xa5", yuan[] = "元";
    size_t i = 0, ip = 0, fp = 0;
    int64_t whole = 0, frac = 0;

    if (n >= 2 && memcmp(v, yen, 2) == 0)
        i = 2;
    if (n - i >= 3 && memcmp(v + n - 3, yuan, 3) == 0)
        n -= 3;
    if (i < n && v[i] == '-')
        return (*why = "negative"), -1;
    for (; i < n && is_digit(v[i]); i++, ip++) {
        if (ip == 0 || whole > 0 || v[i] != '0')
            whole = whole * 10 + (v[i] - '0');
        if (whole >= 1000000000000LL) /* AMOUNT_DIGITS_MAX */
            return (*why = "too_large"), -1;
    }
    if (ip == 0)
        return (*why = "amount"), -1;
    if (i < n && v[i] == '.') {
        for (i++; i < n && is_digit(v[i]); i++, fp++)
            if (fp < 2)
                frac = frac * 10 + (v[i] - '0');
        if (fp == 0)
            return (*why = "amount"), -1;
        if (fp > 2)
            return (*why = "decimals"), -1;
        if (fp == 1)
            frac *= 10;
    }
    if (i != n)
        return (*why = "amount"), -1;
    *fen = whole * 100 + frac;
    return 0;
}

char *schema_amount_format(char out[32], int64_t fen)
{
    const char *sign = fen < 0 ? "-" : "";
    uint64_t a = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    if (a % 100 == 0)
        snprintf(out, 32, "%s%llu", sign, (unsigned long long)(a / 100));
    else
        snprintf(out, 32, "%s%llu.%02u", sign, (unsigned long long)(a / 100), (unsigned)(a % 100));
    return out;
}

uerr schema_amount_fen(int64_t *fen, const char *amount)
{
    const char *why;
    *fen = 0;
    if (!amount || amount_parse(fen, amount, strlen(amount), &why) != 0)
        return UERR_INVALID;
    return UERR_OK;
}

static int check_amount(char **out, const char *v, size_t n, const char **rule, char *msg,
                        size_t msglen)
{
    const char *why = NULL;
    int64_t fen;
    char buf[32];
    if (amount_parse(&fen, v, n, &why) != 0) {
        assert(why);
        if (strcmp(why, "negative") == 0)
            return fail(rule, msg, msglen, "amount_negative", "must not be negative");
        if (strcmp(why, "decimals") == 0)
            return fail(rule, msg, msglen, "amount_decimals", "at most 2 decimals (yuan and fen)");
        if (strcmp(why, "too_large") == 0)
            return fail(rule, msg, msglen, "amount_range", "at most %d digits before the point",
                        AMOUNT_DIGITS_MAX);
        return fail(rule, msg, msglen, "amount", "must be an amount in yuan such as 180 or 180.50");
    }
    schema_amount_format(buf, fen);
    *out = dup_n(buf, strlen(buf));
    return 0;
}

int schema_check_more(char **out, const schema_field *f, const char *v, size_t n, long chars,
                      const char **rule, char *msg, size_t msglen)
{
    assert(n > 0);
    *out = NULL;
    switch (f->type) {
    case SCHEMA_LINK:
        return check_link(out, f, v, n, chars, rule, msg, msglen);
    case SCHEMA_YESNO:
        return check_yesno(out, v, n, rule, msg, msglen);
    case SCHEMA_USCC:
        return check_uscc(out, v, n, rule, msg, msglen);
    case SCHEMA_COUNT:
        return check_count(out, v, n, rule, msg, msglen);
    case SCHEMA_AMOUNT:
        return check_amount(out, v, n, rule, msg, msglen);
    default:
        return fail(rule, msg, msglen, "internal", "unknown field type");
    }
}
