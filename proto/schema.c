/* schema.c - the member record schema (DESIGN.md "Records and the merge"):
 * the table of standard fields, validation and normalisation of one value,
 * masking of personal fields for display, and the UTF-8 helpers (length,
 * terminal width) that CJK-aware tables need.
 *
 * Pure C11: no I/O, no locale. <ctype.h> and strcasecmp() are avoided on
 * purpose: their answers depend on the process locale, and every node must
 * judge a value the same way or replicas would disagree on what is valid. */
#include "proto/schema.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Display order is the order of DESIGN.md's field table; merged_into (the id
 * of the record a duplicate was merged into) comes last. max_chars is set
 * only where it is a real input limit; the fixed formats (id, phone, date,
 * ...) are enforced by their own rules, and their raw input may legitimately
 * be longer than the stored form ("+86 138-1234-5678", "female"). */
// clang-format off
static const schema_field fields[] = {
    {"name",        SCHEMA_TEXT,   64},
    {"gender",      SCHEMA_GENDER, 0},
    {"id_number",   SCHEMA_IDNUM,  0},
    {"phone",       SCHEMA_PHONE,  0},
    {"category",    SCHEMA_TEXT,   0},
    {"employer",    SCHEMA_TEXT,   0},
    {"union",       SCHEMA_TEXT,   0},
    {"notes",       SCHEMA_TEXT,   0},
    {"office",      SCHEMA_OFFICE, 32},
    {"joined",      SCHEMA_DATE,   0},
    {"status",      SCHEMA_STATUS, 0},
    {"benefits",    SCHEMA_SET,    64}, /* per element */
    {"merged_into", SCHEMA_TEXT,   0},
};
// clang-format on
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *const statuses[] = {"applicant", "active", "lapsed", "transferred", "merged"};
#define NSTATUSES (sizeof statuses / sizeof statuses[0])

/* Nobody was born, or joined, before this year: an earlier year is a typo. */
#define YEAR_MIN 1900

/* ---- small locale-free character helpers ---- */

static int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char to_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The ASCII whitespace that is trimmed from every value. */
static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* C0, DEL and C1. C1 matters as much as C0: U+009B is a terminal CSI, so a
 * value carrying it could drive the terminal of whoever lists the records. */
static int is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* Unicode spaces an IME or a copy-paste leaves around a name (U+3000 is the
 * ideographic space of Chinese input methods, U+FEFF a stray BOM). */
static int is_unicode_space(uint32_t cp)
{
    return cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

static int ascii_caseeq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++)
        if (to_lower((unsigned char)a[i]) != to_lower((unsigned char)b[i])) return 0;
    return 1;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- UTF-8 ---- */

/* Decodes the code point at s (n >= 1 bytes available) into *cp and returns
 * its length in bytes, or 0 if the bytes there are not a valid sequence:
 * truncated, bad continuation, overlong, a surrogate or beyond U+10FFFF.
 * Overlongs must be refused, not decoded: "\xC0\xAF" would otherwise be a
 * '/' that slipped past a byte-level check. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0; /* continuation byte, C0/C1 (always overlong), F5..FF */
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

long schema_utf8_len(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    uint32_t cp;

    if (!s) return len == 0 ? 0 : -1;
    for (size_t i = 0; i < len; count++) {
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0) return -1;
        i += k;
    }
    return count;
}

/* The code point that starts the valid UTF-8 string s[0..n), n >= 1. */
static uint32_t utf8_first(const char *s, size_t n)
{
    uint32_t cp = 0;
    utf8_next((const unsigned char *)s, n, &cp);
    return cp;
}

/* The code point that ends the valid UTF-8 string s[0..n), n >= 1. */
static uint32_t utf8_last(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = n - 1;
    uint32_t cp = 0;
    while (i > 0 && (p[i] & 0xC0) == 0x80)
        i--;
    utf8_next(p + i, n - i, &cp);
    return cp;
}

/* ---- display width ---- */

typedef struct {
    uint32_t lo, hi;
} cp_range;

/* Characters that take no column of their own: combining marks, zero-width
 * and bidi format characters, variation selectors, Hangul medial/final jamo
 * (they join the preceding initial). Checked before the wide table, which
 * contains some of them (U+302A..302D, U+3099..309A). Sorted. */
static const cp_range zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A},   {0x064B, 0x065F},
    {0x0670, 0x0670}, {0x1160, 0x11FF}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},   {0x200B, 0x200F},
    {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0x302A, 0x302D},   {0x3099, 0x309A},
    {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
};

/* East Asian Wide (W) and Fullwidth (F) characters, after Unicode's
 * EastAsianWidth.txt, coarsened to ranges. Sorted. */
static const cp_range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
    {0x17000, 0x18CFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
    {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F202}, {0x1F210, 0x1F23B},
    {0x1F240, 0x1F248}, {0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F64F},
    {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7},
    {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F900, 0x1F9FF}, {0x1FA70, 0x1FAFF},
    {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static int in_ranges(uint32_t cp, const cp_range *r, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

size_t schema_display_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t width = 0, n;
    uint32_t cp;

    if (!s) return 0;
    n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_next(p + i, n - i, &cp);
        if (k == 0) {
            /* an invalid byte is shown as one replacement glyph */
            width += 1;
            i += 1;
            continue;
        }
        i += k;
        if (in_ranges(cp, zero_width, sizeof zero_width / sizeof zero_width[0])) continue;
        width += in_ranges(cp, wide, sizeof wide / sizeof wide[0]) ? 2 : 1;
    }
    return width;
}

/* ---- dates ---- */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int ymd_valid(int y, int m, int d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return 0;
    return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses exactly "YYYY-MM-DD" (n bytes): -1 if that is not the shape,
 * 0 if it is the shape but not a calendar date, 1 if it is a real date. */
static int parse_iso_date(const char *s, size_t n, int *y)
{
    if (n != 10 || s[4] != '-' || s[7] != '-') return -1;
    int yy = digits(s, 4), mm = digits(s + 5, 2), dd = digits(s + 8, 2);
    if (yy < 0 || mm < 0 || dd < 0) return -1;
    *y = yy;
    return ymd_valid(yy, mm, dd);
}

int schema_date_valid(const char *s)
{
    int y;
    return s && parse_iso_date(s, strlen(s), &y) == 1;
}

/* ---- field table ---- */

const schema_field *schema_fields(size_t *n)
{
    if (n) *n = NFIELDS;
    return fields;
}

const schema_field *schema_field_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].name, name) == 0) return &fields[i];
    return NULL;
}

int schema_name_valid(const char *name)
{
    if (!name || !is_lower((unsigned char)name[0])) return 0;
    for (size_t i = 1; name[i]; i++) {
        unsigned char c = (unsigned char)name[i];
        if (i >= SCHEMA_NAME_MAX || !(is_lower(c) || is_digit(c) || c == '_')) return 0;
    }
    /* "id" is the record id in every output (JSON, CSV header, --where) */
    return strcmp(name, "id") != 0;
}

int schema_field_is_set(const char *name)
{
    const schema_field *f = schema_field_find(name);
    return f && f->type == SCHEMA_SET;
}

int schema_field_is_masked(const char *name)
{
    const schema_field *f = schema_field_find(name);
    return f && (f->type == SCHEMA_IDNUM || f->type == SCHEMA_PHONE);
}

/* ---- validation ---- */

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

/* Writes the message (if there is a buffer) and returns -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A field name that failed schema_name_valid, made safe to print: at most
 * 40 characters, control characters and invalid bytes shown as '?'. It may
 * be anything a CSV header held ("姓名", "Phone", garbage). */
static void printable_name(char *buf, size_t size, const char *name)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t n = strlen(name), o = 0, chars = 0;
    uint32_t cp;

    for (size_t i = 0; i < n;) {
        size_t k = utf8_next(p + i, n - i, &cp);
        if (chars == 40 || o + 4 + 4 >= size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (k == 0 || is_control(cp)) {
            buf[o++] = '?';
            i += k ? k : 1;
        } else {
            memcpy(buf + o, name + i, k);
            o += k;
            i += k;
        }
        chars++;
    }
    buf[o] = '\0';
}

/* Rules shared by every text-like value once trimmed: no control characters
 * except (when multiline) tab, newline and the CR of a CRLF pair, which is
 * dropped on output; spreadsheets on Windows write CRLF inside cells. */
static int controls_ok(const char *s, size_t n, int multiline)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_next(p + i, n - i, &cp);
        if (k == 0) return 0; /* callers check UTF-8 first; stay safe regardless */
        if (is_control(cp)) {
            int crlf = cp == '\r' && i + 1 < n && p[i + 1] == '\n';
            if (!multiline || !(cp == '\t' || cp == '\n' || crlf)) return 0;
        }
        i += k;
    }
    return 1;
}

static char *copy_without_cr(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')) out[o++] = s[i];
    out[o] = '\0';
    return out;
}

static int check_name(char **out, const schema_field *f, const char *v, size_t n, long chars,
                      char *err, size_t errlen)
{
    if (is_unicode_space(utf8_first(v, n)) || is_unicode_space(utf8_last(v, n)))
        return fail(err, errlen, "name: must not begin or end with whitespace");
    if (chars > f->max_chars)
        return fail(err, errlen, "name: at most %d characters (got %ld)", f->max_chars, chars);
    *out = dup_n(v, n);
    return 0;
}

static int check_gender(char **out, const char *v, size_t n, char *err, size_t errlen)
{
    static const char male[] = "男", female[] = "女";
    const char *res = NULL;

    if ((n == strlen(male) && memcmp(v, male, n) == 0) || ascii_caseeq(v, n, "m") ||
        ascii_caseeq(v, n, "male"))
        res = male;
    else if ((n == strlen(female) && memcmp(v, female, n) == 0) || ascii_caseeq(v, n, "f") ||
             ascii_caseeq(v, n, "female"))
        res = female;
    if (!res) return fail(err, errlen, "gender: must be 男 or 女 (M/F, male/female accepted)");
    *out = dup_n(res, strlen(res));
    return 0;
}

/* ISO 7064 MOD 11-2 as used by GB 11643-1999. The message never shows the
 * expected check character: a clerk who mistyped a middle digit would be
 * tempted to "fix" the last one and store a wrong number that validates. */
static int check_idnum(char **out, const char *v, size_t n, long chars, const char *today,
                       char *err, size_t errlen)
{
    static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char checks[] = "10X98765432";
    char date[11];
    int sum = 0, y;

    if (n != 18)
        return fail(err, errlen,
                    "id_number: must be 18 characters (17 digits and a check digit), got %ld",
                    chars);
    for (int i = 0; i < 17; i++) {
        if (!is_digit((unsigned char)v[i]))
            return fail(err, errlen, "id_number: the first 17 characters must be digits");
        sum += (v[i] - '0') * weight[i];
    }
    char last = v[17] == 'x' ? 'X' : v[17];
    if (!is_digit((unsigned char)last) && last != 'X')
        return fail(err, errlen, "id_number: the last character must be a digit or X");
    if (checks[sum % 11] != last)
        return fail(err, errlen,
                    "id_number: check digit is wrong (check every digit against the ID card)");

    /* characters 7-14 are the birth date YYYYMMDD */
    memcpy(date, v + 6, 4);
    date[4] = '-';
    memcpy(date + 5, v + 10, 2);
    date[7] = '-';
    memcpy(date + 8, v + 12, 2);
    date[10] = '\0';
    if (parse_iso_date(date, 10, &y) != 1)
        return fail(err, errlen, "id_number: birth date (characters 7-14) is not a real date");
    if (y < YEAR_MIN)
        return fail(err, errlen, "id_number: birth year must be %d or later", YEAR_MIN);
    if (strcmp(date, today) > 0)
        return fail(err, errlen, "id_number: birth date is in the future (today is %s)", today);

    *out = dup_n(v, n);
    if (*out) (*out)[17] = last;
    return 0;
}

/* Accepts what people type: "138 1234 5678", "138-1234-5678",
 * "+86 13812345678", "8613812345678". Stores the bare 11 digits. */
static int check_phone(char **out, const char *v, size_t n, char *err, size_t errlen)
{
    char buf[32];
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        if (v[i] == ' ' || v[i] == '-') continue;
        if (m == sizeof buf - 1) goto bad;
        buf[m++] = v[i];
    }
    buf[m] = '\0';
    const char *d = buf;
    if (m == 14 && memcmp(buf, "+86", 3) == 0)
        d += 3, m -= 3;
    else if (m == 13 && memcmp(buf, "86", 2) == 0)
        d += 2, m -= 2;
    if (m != 11 || d[0] != '1') goto bad;
    for (size_t i = 0; i < 11; i++)
        if (!is_digit((unsigned char)d[i])) goto bad;
    *out = dup_n(d, 11);
    return 0;
bad:
    return fail(err, errlen, "phone: must be 11 digits starting with 1");
}

/* Office codes are compared byte for byte everywhere (transfer, stats), so
 * "Yinzhou" is folded to "yinzhou" here rather than refused. */
static int check_office(char **out, const schema_field *f, const char *v, size_t n, char *err,
                        size_t errlen)
{
    int ok = n >= 1 && n <= (size_t)f->max_chars && is_lower(to_lower((unsigned char)v[0]));
    for (size_t i = 1; ok && i < n; i++) {
        unsigned char c = to_lower((unsigned char)v[i]);
        ok = is_lower(c) || is_digit(c) || c == '-';
    }
    if (!ok)
        return fail(err, errlen,
                    "office: must be a code [a-z][a-z0-9-]*, at most %d characters (e.g. yinzhou)",
                    f->max_chars);
    *out = dup_n(v, n);
    if (*out)
        for (size_t i = 0; i < n; i++)
            (*out)[i] = (char)to_lower((unsigned char)(*out)[i]);
    return 0;
}

static int check_date(char **out, const char *fname, const char *v, size_t n, const char *today,
                      char *err, size_t errlen)
{
    int y, r = parse_iso_date(v, n, &y);
    if (r < 0) return fail(err, errlen, "%s: must be a date YYYY-MM-DD", fname);
    if (r == 0) return fail(err, errlen, "%s: not a real calendar date", fname);
    if (y < YEAR_MIN) return fail(err, errlen, "%s: year must be %d or later", fname, YEAR_MIN);
    /* equal-shaped ISO dates compare as strings */
    if (memcmp(v, today, 10) > 0)
        return fail(err, errlen, "%s: date is in the future (today is %s)", fname, today);
    *out = dup_n(v, n);
    return 0;
}

static int check_status(char **out, const char *v, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < NSTATUSES; i++)
        if (ascii_caseeq(v, n, statuses[i])) {
            *out = dup_n(statuses[i], strlen(statuses[i]));
            return 0;
        }
    return fail(err, errlen,
                "status: must be one of applicant, active, lapsed, transferred, merged");
}

static int check_set_elem(char **out, const schema_field *f, const char *v, size_t n, long chars,
                          char *err, size_t errlen)
{
    if (memchr(v, ';', n))
        return fail(err, errlen, "%s: an element must not contain ';' (it separates elements)",
                    f->name);
    if (chars > f->max_chars)
        return fail(err, errlen, "%s: an element is at most %d characters (got %ld)", f->name,
                    f->max_chars, chars);
    *out = dup_n(v, n);
    return 0;
}

int schema_value_check(char **out, const char *name, const char *value, const char *today,
                       char *err, size_t errlen)
{
    char *result = NULL;
    int rc = 0;

    if (out) *out = NULL;
    if (err && errlen > 0) err[0] = '\0';
    if (!name) return fail(err, errlen, "field name missing");
    if (strcmp(name, "id") == 0)
        return fail(err, errlen, "id: reserved for the record id, not a field");
    if (!schema_name_valid(name)) {
        char shown[200];
        printable_name(shown, sizeof shown, name);
        return fail(err, errlen,
                    "%s: not a valid field name ([a-z][a-z0-9_]*, at most %d characters)", shown,
                    SCHEMA_NAME_MAX);
    }
    if (!value) return fail(err, errlen, "%s: no value", name);

    const schema_field *f = schema_field_find(name);
    schema_type type = f ? f->type : SCHEMA_TEXT;
    int is_name = f && strcmp(f->name, "name") == 0;

    /* trim surrounding ASCII whitespace */
    size_t n = strlen(value);
    while (n > 0 && is_space((unsigned char)value[0]))
        value++, n--;
    while (n > 0 && is_space((unsigned char)value[n - 1]))
        n--;

    if (n > SCHEMA_VALUE_MAX)
        return fail(err, errlen, "%s: too long (at most %d bytes)", name, SCHEMA_VALUE_MAX);
    long chars = schema_utf8_len(value, n);
    if (chars < 0) return fail(err, errlen, "%s: not valid UTF-8", name);
    if (!controls_ok(value, n, type == SCHEMA_TEXT && !is_name))
        return fail(err, errlen,
                    type == SCHEMA_TEXT && !is_name
                        ? "%s: control characters are not allowed (only tab and newline)"
                        : "%s: control characters are not allowed",
                    name);
    /* "" is how a caller clears a text field; nothing else may be empty */
    if (n == 0 && !(type == SCHEMA_TEXT && !is_name))
        return fail(err, errlen, "%s: must not be empty", name);
    if ((type == SCHEMA_IDNUM || type == SCHEMA_DATE) && !(today && schema_date_valid(today)))
        return fail(err, errlen, "%s: cannot check the date: today's date is not YYYY-MM-DD", name);

    switch (type) {
    case SCHEMA_TEXT:
        if (is_name)
            rc = check_name(&result, f, value, n, chars, err, errlen);
        else
            result = copy_without_cr(value, n);
        break;
    case SCHEMA_GENDER:
        rc = check_gender(&result, value, n, err, errlen);
        break;
    case SCHEMA_IDNUM:
        rc = check_idnum(&result, value, n, chars, today, err, errlen);
        break;
    case SCHEMA_PHONE:
        rc = check_phone(&result, value, n, err, errlen);
        break;
    case SCHEMA_OFFICE:
        rc = check_office(&result, f, value, n, err, errlen);
        break;
    case SCHEMA_DATE:
        rc = check_date(&result, name, value, n, today, err, errlen);
        break;
    case SCHEMA_STATUS:
        rc = check_status(&result, value, n, err, errlen);
        break;
    case SCHEMA_SET:
        rc = check_set_elem(&result, f, value, n, chars, err, errlen);
        break;
    default:
        rc = fail(err, errlen, "%s: unknown field type", name);
        break;
    }
    if (rc) return rc;
    if (!result) return fail(err, errlen, "%s: out of memory", name);
    if (out)
        *out = result;
    else
        free(result);
    return 0;
}

/* ---- masking ---- */

char *schema_value_mask(const char *name, const char *value)
{
    const schema_field *f = schema_field_find(name);
    const unsigned char *p;
    size_t len, chars = 0, head, tail, min_chars;
    uint32_t cp;

    if (!value) value = "";
    len = strlen(value);
    if (f && f->type == SCHEMA_IDNUM) {
        /* 15 covers the old 15-digit cards still found in imported data */
        head = 6, tail = 4, min_chars = 15;
    } else if (f && f->type == SCHEMA_PHONE) {
        head = 3, tail = 4, min_chars = 11;
    } else {
        return dup_n(value, len);
    }

    /* Walk by characters so a stray multi-byte value is not cut mid-sequence;
     * invalid bytes count as one character each. */
    p = (const unsigned char *)value;
    for (size_t i = 0; i < len; chars++) {
        size_t k = utf8_next(p + i, len - i, &cp);
        i += k ? k : 1;
    }
    if (chars < min_chars) head = tail = 0;

    /* each '*' replaces at least one byte, so len + 1 is enough */
    char *out = malloc(len + 1);
    size_t o = 0, c = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < len; c++) {
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0) k = 1;
        if (c < head || c >= chars - tail) {
            memcpy(out + o, value + i, k);
            o += k;
        } else {
            out[o++] = '*';
        }
        i += k;
    }
    out[o] = '\0';
    return out;
}
