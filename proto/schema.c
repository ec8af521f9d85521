/* schema.c - the member record schema (DESIGN.md "Records and the merge"):
 * normalisation and validation of one value (the field table is in
 * schema_fields.c, the text/date/ID normalisers in schema_norm.c, the
 * record-wide checks in schema_row.c), masking of personal fields for
 * display, and the terminal width that CJK-aware tables need (UTF-8
 * itself is decoded by proto/utf8.h only).
 *
 * Pure C11: no I/O, no locale. <ctype.h> and strcasecmp() are avoided on
 * purpose: their answers depend on the process locale, and every node must
 * judge a value the same way or replicas would disagree on what is valid. */
#include "proto/schema.h"

#include "proto/schema_priv.h"
#include "proto/utf8.h"
#include "proto/vocab.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* C0, DEL and C1. C1 matters as much as C0: U+009B is a terminal CSI, so a
 * value carrying it could drive the terminal of whoever lists the records. */
static int is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

static int ascii_caseeq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (to_lower((unsigned char)a[i]) != to_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- UTF-8 ---- */

/* Strict decoding is proto/utf8.h's: overlongs must be refused, not
 * decoded ("\xC0\xAF" would otherwise be a '/' that slipped past a
 * byte-level check). This name stays for its callers; NULL with len 0 is
 * the empty string. */
long schema_utf8_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    long count = 0;
    if (!s)
        return len == 0 ? 0 : -1;
    /* utf8_len with the ASCII bytes (most of a CSV file: unionctl checks
     * every byte of one) counted here, without a decoder call each */
    for (size_t i = 0; i < len; count++) {
        uint32_t cp;
        size_t k = u[i] < 0x80 ? 1 : utf8_decode(&cp, s + i, len - i);
        if (k == 0)
            return -1;
        i += k;
    }
    return count;
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
    size_t width = 0, n;
    uint32_t cp;

    if (!s)
        return 0;
    n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_decode(&cp, s + i, n - i);
        if (k == 0) {
            /* an invalid byte is shown as one replacement glyph */
            width += 1;
            i += 1;
            continue;
        }
        i += k;
        if (in_ranges(cp, zero_width, sizeof zero_width / sizeof zero_width[0]))
            continue;
        width += in_ranges(cp, wide, sizeof wide / sizeof wide[0]) ? 2 : 1;
    }
    return width;
}

/* ---- dates ---- */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int schema_ymd_valid(int y, int m, int d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses exactly "YYYY-MM-DD" (n bytes): -1 if that is not the shape,
 * 0 if it is the shape but not a calendar date, 1 if it is a real date. */
static int parse_iso_date(const char *s, size_t n, int *y)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int yy = digits(s, 4), mm = digits(s + 5, 2), dd = digits(s + 8, 2);
    if (yy < 0 || mm < 0 || dd < 0)
        return -1;
    *y = yy;
    return schema_ymd_valid(yy, mm, dd);
}

int schema_date_valid(const char *s)
{
    int y;
    return s && parse_iso_date(s, strlen(s), &y) == 1;
}

/* ---- validation ---- */

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

/* A field name or value made safe to print: at most 40 characters, control
 * characters and invalid bytes shown as '?'. It may be anything a CSV
 * header held ("Phone", garbage). */
void schema_printable(char *buf, size_t size, const char *name)
{
    size_t n = strlen(name), o = 0, chars = 0;
    uint32_t cp;

    for (size_t i = 0; i < n;) {
        size_t k = utf8_decode(&cp, name + i, n - i);
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
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_decode(&cp, s + i, n - i);
        if (k == 0)
            return 0; /* callers check UTF-8 first; stay safe regardless */
        if (is_control(cp)) {
            int crlf = cp == '\r' && i + 1 < n && s[i + 1] == '\n';
            if (!multiline || !(cp == '\t' || cp == '\n' || crlf))
                return 0;
        }
        i += k;
    }
    return 1;
}

static char *copy_without_cr(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
            out[o++] = s[i];
    out[o] = '\0';
    return out;
}

/* One value being checked: the field, the value after NFKC and trimming,
 * and where the verdict goes. */
typedef struct {
    const schema_field *f;
    const char *v; /* normalised value, n bytes, chars code points */
    size_t n;
    long chars;
    const char *today;
    char *err;
    size_t errlen;
    const char *rule; /* the rule broken, set by refuse() */
    unsigned flags;   /* SCHEMA_NORM_* */
} vctx;

static int refuse(vctx *c, const char *rule, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Writes "field: <message>" and the rule; returns -1. */
static int refuse(vctx *c, const char *rule, const char *fmt, ...)
{
    c->rule = rule;
    if (c->err && c->errlen > 0) {
        int k = snprintf(c->err, c->errlen, "%s: ", c->f->name);
        if (k >= 0 && (size_t)k < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static int check_name(char **out, vctx *c)
{
    if (c->f->max_chars && c->chars > c->f->max_chars)
        return refuse(c, "too_long", "at most %d characters (got %ld)", c->f->max_chars, c->chars);
    *out = dup_n(c->v, c->n);
    return 0;
}

static int check_gender(char **out, vctx *c)
{
    static const char male[] = "男", female[] = "女";
    const char *v = c->v, *res = NULL;
    size_t n = c->n;

    if ((n == strlen(male) && memcmp(v, male, n) == 0) || ascii_caseeq(v, n, "m") ||
        ascii_caseeq(v, n, "male"))
        res = male;
    else if ((n == strlen(female) && memcmp(v, female, n) == 0) || ascii_caseeq(v, n, "f") ||
             ascii_caseeq(v, n, "female"))
        res = female;
    if (!res)
        return refuse(c, "gender", "must be 男 or 女 (M/F, male/female accepted)");
    *out = dup_n(res, strlen(res));
    return 0;
}

/* "3.30205E+17": what Excel shows (and saves) for a long number in a cell
 * formatted as a number. The digits after the fifth are gone for good. */
int schema_excel_number(const char *v, size_t n)
{
    size_t i = 0, d = 0;
    while (i < n && is_digit((unsigned char)v[i]))
        i++, d++;
    if (d == 0)
        return 0;
    if (i < n && v[i] == '.') {
        i++;
        while (i < n && is_digit((unsigned char)v[i]))
            i++;
    }
    if (i >= n || (v[i] != 'E' && v[i] != 'e'))
        return 0;
    i++;
    if (i < n && v[i] == '+')
        i++;
    if (i >= n)
        return 0;
    while (i < n && is_digit((unsigned char)v[i]))
        i++;
    return i == n;
}

static int refuse_excel(vctx *c)
{
    return refuse(c, "excel_number",
                  "Excel turned the column into numbers (scientific notation such as 3.3E+17) "
                  "and the digits are lost; format the column as Text in Excel, enter the "
                  "numbers again and save");
}

/* ISO 7064 MOD 11-2 as used by GB 11643-1999. The message never shows the
 * expected check character: a clerk who mistyped a middle digit would be
 * tempted to "fix" the last one and store a wrong number that validates.
 * An old 15-digit number is converted first (SCHEMA_NORM_ID15). */
static int check_idnum(char **out, vctx *c)
{
    static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char checks[] = "10X98765432";
    char date[11], v18[19];
    const char *v = c->v;
    int sum = 0, y;

    if (schema_excel_number(v, c->n))
        return refuse_excel(c);
    if (c->n == 15 && schema_idnum_from15(v18, v) == UERR_OK) {
        v = v18;
        c->flags |= SCHEMA_NORM_ID15;
    } else if (c->n != 18) {
        return refuse(c, "id_length",
                      "must be 18 characters (17 digits and a check digit), got %ld", c->chars);
    }
    for (int i = 0; i < 17; i++) {
        if (!is_digit((unsigned char)v[i]))
            return refuse(c, "id_digits", "the first 17 characters must be digits");
        sum += (v[i] - '0') * weight[i];
    }
    char last = v[17] == 'x' ? 'X' : v[17];
    if (!is_digit((unsigned char)last) && last != 'X')
        return refuse(c, "id_last", "the last character must be a digit or X");
    if (checks[sum % 11] != last)
        return refuse(c, "id_check",
                      "check digit is wrong (check every digit against the ID card)");

    /* characters 7-14 are the birth date YYYYMMDD */
    memcpy(date, v + 6, 4);
    date[4] = '-';
    memcpy(date + 5, v + 10, 2);
    date[7] = '-';
    memcpy(date + 8, v + 12, 2);
    date[10] = '\0';
    if (parse_iso_date(date, 10, &y) != 1)
        return refuse(c, "id_birth", "birth date (characters 7-14) is not a real date");
    if (y < YEAR_MIN)
        return refuse(c, "id_birth", "birth year must be %d or later", YEAR_MIN);
    if (strcmp(date, c->today) > 0)
        return refuse(c, "id_birth", "birth date is in the future (today is %s)", c->today);

    *out = dup_n(v, 18);
    if (*out)
        (*out)[17] = last;
    return 0;
}

/* Accepts what people type: "138 1234 5678", "138-1234-5678",
 * "+86 13812345678", "8613812345678". Stores the bare 11 digits. */
static int check_phone(char **out, vctx *c)
{
    char buf[32];
    size_t m = 0;

    if (schema_excel_number(c->v, c->n))
        return refuse_excel(c);
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i] == ' ' || c->v[i] == '-')
            continue;
        if (m == sizeof buf - 1)
            goto bad;
        buf[m++] = c->v[i];
    }
    buf[m] = '\0';
    const char *d = buf;
    if (m == 14 && memcmp(buf, "+86", 3) == 0)
        d += 3, m -= 3;
    else if (m == 13 && memcmp(buf, "86", 2) == 0)
        d += 2, m -= 2;
    if (m != 11 || d[0] != '1')
        goto bad;
    for (size_t i = 0; i < 11; i++)
        if (!is_digit((unsigned char)d[i]))
            goto bad;
    *out = dup_n(d, 11);
    return 0;
bad:
    return refuse(c, "phone", "must be 11 digits starting with 1");
}

/* Office codes are compared byte for byte everywhere (transfer, stats), so
 * "Yinzhou" is folded to "yinzhou" here rather than refused. */
static int check_office(char **out, vctx *c)
{
    const char *v = c->v;
    size_t n = c->n;
    int ok = n >= 1 && n <= (size_t)c->f->max_chars && is_lower(to_lower((unsigned char)v[0]));
    for (size_t i = 1; ok && i < n; i++) {
        unsigned char ch = to_lower((unsigned char)v[i]);
        ok = is_lower(ch) || is_digit(ch) || ch == '-';
    }
    if (!ok)
        return refuse(c, "office",
                      "must be a code [a-z][a-z0-9-]*, at most %d characters (e.g. yinzhou)",
                      c->f->max_chars);
    *out = dup_n(v, n);
    if (*out)
        for (size_t i = 0; i < n; i++)
            (*out)[i] = (char)to_lower((unsigned char)(*out)[i]);
    return 0;
}

static int check_date(char **out, vctx *c)
{
    char iso[11], why[200];
    int y;
    if (schema_date_normalize(iso, c->v, why, sizeof why) != UERR_OK) {
        /* one rule id per kind of mistake, so they are counted apart */
        const char *rule = strstr(why, "Excel")  ? "excel_number"
                           : strstr(why, "real") ? "date_real"
                                                 : "date";
        return refuse(c, rule, "%s", why);
    }
    parse_iso_date(iso, 10, &y);
    if (y < YEAR_MIN)
        return refuse(c, "date_range", "year must be %d or later", YEAR_MIN);
    /* equal-shaped ISO dates compare as strings */
    if (memcmp(iso, c->today, 10) > 0)
        return refuse(c, "date_future", "date is in the future (today is %s)", c->today);
    *out = dup_n(iso, 10);
    return 0;
}

/* status and category: a word of the field's vocabulary, stored as its
 * canonical value; an unknown word is refused with the nearest one. */
static int check_vocab(char **out, vctx *c)
{
    const char *vname = c->f->vocab ? c->f->vocab : c->f->name;
    const char *canon = vocab_resolve(vname, c->v);
    if (canon) {
        *out = dup_n(canon, strlen(canon));
        return 0;
    }
    char shown[200];
    schema_printable(shown, sizeof shown, c->v);
    if (c->f->type == SCHEMA_STATUS)
        return refuse(c, "vocab",
                      "must be one of applicant, active, lapsed, transferred, merged, void "
                      "(申请中, 在会/有效, 失效/退会, 转出, 已合并, 作废)");
    const char *near = vocab_suggest(vname, c->v);
    if (near)
        return refuse(c, "vocab",
                      "'%s' is not in the list (did you mean '%s'?); unionctl fields lists the "
                      "values, unionctl field value add %s adds one",
                      shown, near, c->f->name);
    return refuse(c, "vocab", "'%s' is not in the list", shown);
}

static int check_set_elem(char **out, vctx *c)
{
    if (memchr(c->v, ';', c->n))
        return refuse(c, "set_separator",
                      "an element must not contain ';' (it separates elements)");
    if (c->f->max_chars && c->chars > c->f->max_chars)
        return refuse(c, "too_long", "an element is at most %d characters (got %ld)",
                      c->f->max_chars, c->chars);
    *out = dup_n(c->v, c->n);
    return 0;
}

/* A name-like text (a name, a benefit's kind): one line, with a length
 * limit; other text (notes, an address) may span lines. */
static int short_text(const schema_field *f)
{
    return f->type == SCHEMA_TEXT && (f->max_chars > 0 || strcmp(f->name, "name") == 0);
}

/* The type's check; result in *out (NULL only when out of memory). */
static int check_typed(char **out, vctx *c)
{
    switch (c->f->type) {
    case SCHEMA_TEXT:
        if (short_text(c->f))
            return check_name(out, c);
        *out = copy_without_cr(c->v, c->n);
        return 0;
    case SCHEMA_GENDER:
        return check_gender(out, c);
    case SCHEMA_IDNUM:
        return check_idnum(out, c);
    case SCHEMA_PHONE:
        return check_phone(out, c);
    case SCHEMA_OFFICE:
        return check_office(out, c);
    case SCHEMA_DATE:
        return check_date(out, c);
    case SCHEMA_STATUS:
    case SCHEMA_VOCAB:
        return check_vocab(out, c);
    case SCHEMA_SET:
        return check_set_elem(out, c);
    case SCHEMA_LINK:
    case SCHEMA_YESNO:
    case SCHEMA_USCC:
    case SCHEMA_COUNT:
    case SCHEMA_AMOUNT: {
        char msg[300];
        const char *rule = "internal";
        if (schema_check_more(out, c->f, c->v, c->n, c->chars, &rule, msg, sizeof msg) != 0)
            return refuse(c, rule, "%s", msg);
        return 0;
    }
    }
    return refuse(c, "internal", "unknown field type");
}

/* Empty is how a caller clears a text, vocabulary or link field (other
 * than a name-like or required one); nothing else may be empty. */
static int may_be_empty(const schema_field *f)
{
    if (f->required)
        return 0;
    return (f->type == SCHEMA_TEXT && !short_text(f)) || f->type == SCHEMA_VOCAB ||
           f->type == SCHEMA_LINK;
}

static int multiline(const schema_field *f)
{
    return f->type == SCHEMA_TEXT && !short_text(f);
}

void schema_norm_free(schema_norm *n)
{
    if (!n)
        return;
    free(n->value);
    memset(n, 0, sizeof *n);
}

/* Raw input is bounded before NFKC, which may expand a string. */
#define RAW_MAX (4 * SCHEMA_VALUE_MAX)

uerr schema_value_normalize(schema_norm *out, const char *name, const char *value,
                            const char *today, char *err, size_t errlen)
{
    return schema_kind_value_normalize(out, KIND_MEMBER, name, value, today, err, errlen);
}

uerr schema_kind_value_normalize(schema_norm *out, record_kind k, const char *name,
                                 const char *value, const char *today, char *err, size_t errlen)
{
    const schema_field *f = NULL;
    uerr rc;

    memset(out, 0, sizeof *out);
    if (err && errlen > 0)
        err[0] = '\0';
    out->rule = "unknown_field";
    if ((rc = schema_kind_field_resolve(&f, k, name, err, errlen)) != UERR_OK)
        return rc;
    return schema_field_value_normalize(out, f, value, today, err, errlen);
}

uerr schema_field_value_normalize(schema_norm *out, const schema_field *f, const char *value,
                                  const char *today, char *err, size_t errlen)
{
    vctx c = {0};
    char *v = NULL, *result = NULL;
    const char *cv = NULL; /* the normalised value: v, or value itself */
    uerr rc = UERR_OK;
    int ctl = 1;

    memset(out, 0, sizeof *out);
    if (err && errlen > 0)
        err[0] = '\0';
    c.f = f;
    out->field = c.f;
    c.today = today, c.err = err, c.errlen = errlen;
    if (!value) {
        out->rule = "missing";
        return uerr_set(err, errlen, UERR_INVALID, "%s: no value", c.f->name);
    }
    size_t raw = strlen(value);
    if (raw > RAW_MAX) {
        out->rule = "too_long";
        return uerr_set(err, errlen, UERR_INVALID, "%s: too long (at most %d bytes)", c.f->name,
                        SCHEMA_VALUE_MAX);
    }
    /* a value already in normal form (most of an import's) is used as it
     * is: no utf8proc, no copy */
    if (schema_text_normal_scan(value, raw, &c.chars, &ctl))
        cv = value;
    else if ((rc = schema_text_normalize(&v, value, raw)) == UERR_OK)
        cv = v;
    if (rc == UERR_NOMEM) {
        out->rule = "nomem";
        return uerr_set(err, errlen, rc, "%s: out of memory", c.f->name);
    }
    if (rc != UERR_OK) {
        out->rule = "utf8";
        return uerr_set(err, errlen, UERR_INVALID, "%s: not valid UTF-8", c.f->name);
    }
    /* a value the scan passed has its length in code points, and no
     * control character unless an ASCII one */
    c.v = cv, c.n = cv == value ? raw : strlen(cv);
    if (cv != value)
        c.chars = schema_utf8_len(cv, c.n);
    rc = UERR_INVALID;
    if (c.n > SCHEMA_VALUE_MAX) {
        refuse(&c, "too_long", "too long (at most %d bytes)", SCHEMA_VALUE_MAX);
    } else if (ctl && !controls_ok(cv, c.n, multiline(c.f))) {
        refuse(&c, "control",
               multiline(c.f) ? "control characters are not allowed (only tab and newline)"
                              : "control characters are not allowed");
    } else if (c.n == 0 && !may_be_empty(c.f)) {
        refuse(&c, "empty", "must not be empty");
    } else if (c.n == 0) {
        result = dup_n("", 0);
        rc = UERR_OK;
    } else if ((c.f->type == SCHEMA_IDNUM || c.f->type == SCHEMA_DATE) &&
               !(today && schema_date_valid(today))) {
        refuse(&c, "internal", "cannot check the date: today's date is not YYYY-MM-DD");
    } else if (check_typed(&result, &c) == 0) {
        rc = UERR_OK;
    }
    free(v);
    if (rc == UERR_OK && !result) {
        out->rule = "nomem";
        return uerr_set(err, errlen, UERR_NOMEM, "%s: out of memory", c.f->name);
    }
    if (rc != UERR_OK) {
        out->rule = c.rule;
        return rc;
    }
    out->rule = NULL;
    out->value = result;
    out->flags = c.flags;
    return UERR_OK;
}

int schema_value_check(char **out, const char *name, const char *value, const char *today,
                       char *err, size_t errlen)
{
    return schema_kind_value_check(out, KIND_MEMBER, name, value, today, err, errlen);
}

int schema_kind_value_check(char **out, record_kind k, const char *name, const char *value,
                            const char *today, char *err, size_t errlen)
{
    schema_norm n;
    uerr rc = schema_kind_value_normalize(&n, k, name, value, today, err, errlen);
    if (out)
        *out = NULL;
    if (rc != UERR_OK)
        return rc;
    if (out)
        *out = n.value;
    else
        free(n.value);
    return 0;
}

/* ---- masking ---- */

char *schema_value_mask(const char *name, const char *value)
{
    const schema_field *f = schema_field_find(name);
    size_t len, chars = 0, head, tail, min_chars;
    uint32_t cp;

    if (!value)
        value = "";
    len = strlen(value);
    if (f && f->type == SCHEMA_IDNUM) {
        /* 15 covers the old 15-digit cards still found in imported data */
        head = 6, tail = 4, min_chars = 15;
    } else if (f && f->type == SCHEMA_PHONE) {
        head = 3, tail = 4, min_chars = 11;
    } else if (f && f->is_private) {
        head = tail = 0, min_chars = 0;
    } else {
        return dup_n(value, len);
    }

    /* Walk by characters so a stray multi-byte value is not cut mid-sequence;
     * invalid bytes count as one character each. */
    for (size_t i = 0; i < len; chars++) {
        size_t k = utf8_decode(&cp, value + i, len - i);
        i += k ? k : 1;
    }
    if (chars < min_chars)
        head = tail = 0;

    /* each '*' replaces at least one byte, so len + 1 is enough */
    char *out = malloc(len + 1);
    size_t o = 0, c = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; c++) {
        size_t k = utf8_decode(&cp, value + i, len - i);
        if (k == 0)
            k = 1;
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
