/* render.c - unionctl output: tables for people, CSV and JSON for scripts.
 *
 * Tables measure every cell in terminal columns with schema_display_width
 * and print cells character by character, replacing what would break a row
 * or the terminal (newlines, control characters, escape sequences, invalid
 * UTF-8) with something visible, so that measuring and printing always
 * agree. CSV fields that need quotes go through libcsv's csv_fwrite; JSON
 * is built as a libjansson tree and written by json_dumpf (strings are
 * made valid UTF-8 first: jansson refuses anything else). */
#include "cli/render.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <jansson.h>

#include "proto/buf.h"
#include "proto/schema.h"
#include "proto/utf8.h"

#define RENDER_JSON_DEPTH_MAX 512

static const char REPLACEMENT[] = "\xEF\xBF\xBD";   /* U+FFFD */
static const char RETURN_SYMBOL[] = "\xE2\x8F\x8E"; /* U+23CE, shown for newlines */
static const char ELLIPSIS[] = "\xE2\x80\xA6";      /* U+2026, ends a cut cell */

/* ---- tables ---- */

/* One displayed character of a cell: the bytes to print and their width. */
typedef struct {
    const char *bytes;
    size_t nbytes;
    size_t width;
    size_t consumed; /* input bytes it stands for */
} shown_char;

static size_t width_of(const char *bytes, size_t n)
{
    char tmp[8];
    memcpy(tmp, bytes, n);
    tmp[n] = '\0';
    return schema_display_width(tmp);
}

/* What the table shows for the input character at s (len > 0). */
static shown_char shown_next(const char *s, size_t len)
{
    shown_char sc;
    uint32_t cp = 0;
    size_t n = utf8_decode(&cp, s, len);

    if (n == 0) {
        sc.bytes = REPLACEMENT;
        sc.nbytes = sizeof REPLACEMENT - 1;
        sc.consumed = 1;
    } else if (cp == '\r' || cp == '\n' || cp == 0x2028 || cp == 0x2029) {
        sc.bytes = RETURN_SYMBOL;
        sc.nbytes = sizeof RETURN_SYMBOL - 1;
        sc.consumed = (cp == '\r' && len > 1 && s[1] == '\n') ? 2 : n;
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
        sc.bytes = " ";
        sc.nbytes = 1;
        sc.consumed = n;
    } else {
        sc.bytes = s;
        sc.nbytes = n;
        sc.consumed = n;
    }
    sc.width = width_of(sc.bytes, sc.nbytes);
    return sc;
}

/* Display width of s as the table shows it, without cutting. */
static size_t cell_width_full(const char *s)
{
    size_t w = 0, len = s ? strlen(s) : 0;

    while (len > 0) {
        shown_char sc = shown_next(s, len);
        w += sc.width;
        s += sc.consumed;
        len -= sc.consumed;
    }
    return w;
}

static void spaces_emit(FILE *f, size_t n)
{
    while (n-- > 0)
        fputc(' ', f);
}

/* Print s as the table shows it (cut if may_cut and too wide) to f when f
 * is not NULL; returns the shown width either way. Spaces (the cell's own
 * and the padding before it, counted in *pending) are only written when
 * something visible follows them, so no line ends in spaces. */
static size_t cell_emit(FILE *f, const char *s, int may_cut, size_t *pending)
{
    size_t len = s ? strlen(s) : 0;
    size_t full = cell_width_full(s);
    int cut = may_cut && full > RENDER_CELL_WIDTH_MAX;
    size_t budget = cut ? RENDER_CELL_WIDTH_MAX - 1 : full; /* 1 column for the ellipsis */
    size_t w = 0;

    while (len > 0) {
        shown_char sc = shown_next(s, len);
        if (w + sc.width > budget)
            break;
        if (f && sc.nbytes == 1 && sc.bytes[0] == ' ') {
            (*pending)++;
        } else if (f) {
            spaces_emit(f, *pending);
            *pending = 0;
            fwrite(sc.bytes, 1, sc.nbytes, f);
        }
        w += sc.width;
        s += sc.consumed;
        len -= sc.consumed;
    }
    if (cut) {
        if (f) {
            spaces_emit(f, *pending);
            *pending = 0;
            fputs(ELLIPSIS, f);
        }
        w += 1;
    }
    return w;
}

/* One row of ncols cells; widths may be NULL (no alignment). */
static void row_emit(FILE *f, const char *const *row, size_t ncols, const size_t *widths)
{
    size_t pending = 0;

    for (size_t i = 0; i < ncols; i++) {
        size_t w = cell_emit(f, row[i], i + 1 < ncols, &pending);
        size_t colw = widths ? widths[i] : w;
        pending += (colw > w ? colw - w : 0) + 2;
    }
    fputc('\n', f);
}

void render_table(FILE *f, const char *const *head, size_t ncols, const char *const *cells,
                  size_t nrows)
{
    if (ncols == 0)
        return;
    size_t *widths = calloc(ncols, sizeof *widths);
    /* Without memory the table is still printed, only not aligned. */

    if (widths) {
        for (size_t i = 0; i < ncols; i++) {
            int may_cut = i + 1 < ncols;
            widths[i] = cell_emit(NULL, head ? head[i] : NULL, may_cut, NULL);
            if (widths[i] == 0)
                widths[i] = 1; /* the rule line shows every column */
            for (size_t r = 0; r < nrows; r++) {
                size_t w = cell_emit(NULL, cells[r * ncols + i], may_cut, NULL);
                if (w > widths[i])
                    widths[i] = w;
            }
        }
    }

    if (head) {
        row_emit(f, head, ncols, widths);
        for (size_t i = 0; i < ncols; i++) {
            if (i > 0)
                fputs("  ", f);
            size_t w = widths ? widths[i] : 3;
            for (size_t k = 0; k < w; k++)
                fputc('-', f);
        }
        fputc('\n', f);
    }
    for (size_t r = 0; r < nrows; r++)
        row_emit(f, cells + r * ncols, ncols, widths);
    free(widths);
}

/* ---- CSV ---- */

static int csv_field_needs_quotes(const char *s)
{
    size_t len = strlen(s);

    if (len == 0)
        return 0;
    if (strpbrk(s, ",\"\r\n"))
        return 1;
    if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
        return 1;
    return len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0;
}

/* --excel (render_csv_excel): on, the BOM written yet, and which columns
 * of the header row (the first row written) hold ID-like values. */
#define EXCEL_COLS_MAX 256
static struct {
    int on, started;
    unsigned char text_col[EXCEL_COLS_MAX];
} excel;

void render_csv_excel(int on)
{
    memset(&excel, 0, sizeof excel);
    excel.on = on;
}

/* A column Excel would turn into a number and damage: 18-digit ID
 * numbers lose their last digits (15 significant digits) and show as
 * 3.30203E+17, phones and codes lose leading zeros, record ids like
 * "01e5..." read as exponents. */
int render_column_is_idlike(const char *name)
{
    static const char *const idlike[] = {
        "id",  "id_number",   "phone",    "uscc",   "member",          "keep",
        "dup", "employer_id", "身份证号", "手机号", "统一社会信用代码"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof idlike / sizeof idlike[0]; i++)
        if (strcmp(name, idlike[i]) == 0)
            return 1;
    return len > 3 && strcmp(name + len - 3, "_id") == 0;
}

/* One field as Excel keeps it text: ="VALUE" (a formula whose result is
 * the text), quoted as a CSV field with its quotes doubled. */
static void excel_text_field(FILE *f, const char *s)
{
    fputs("\"=\"\"", f);
    for (; *s; s++) {
        if (*s == '"')
            fputs("\"\"\"\"", f); /* doubled for the formula, then for CSV */
        else
            fputc(*s, f);
    }
    fputs("\"\"\"", f);
}

void render_csv_row(FILE *f, const char *const *cells, size_t n)
{
    int header = 0;
    if (excel.on && !excel.started) {
        fputs("\xEF\xBB\xBF", f); /* the BOM: Excel then reads UTF-8, not the ANSI page */
        excel.started = header = 1;
        for (size_t i = 0; i < n && i < EXCEL_COLS_MAX; i++)
            excel.text_col[i] = cells[i] && render_column_is_idlike(cells[i]);
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = cells[i] ? cells[i] : "";
        if (i > 0)
            fputc(',', f);
        if (excel.on && !header && *s && i < EXCEL_COLS_MAX && excel.text_col[i]) {
            excel_text_field(f, s);
            continue;
        }
        if (!csv_field_needs_quotes(s)) {
            fputs(s, f);
            continue;
        }
        csv_fwrite(f, s, strlen(s)); /* quoted, inner quotes doubled */
    }
    if (n == 1 && (!cells[0] || !cells[0][0]))
        fputs("\"\"", f);
    fputs(excel.on ? "\r\n" : "\n", f);
}

/* ---- JSON ---- */

/* A jansson string of len bytes at s: each byte that does not start a
 * valid UTF-8 sequence becomes U+FFFD (jansson accepts only valid UTF-8);
 * NUL bytes are kept (jansson writes them as \u0000). NULL when out of
 * memory. The caller owns the result. */
static json_t *json_text_new(const char *s, size_t len)
{
    if (utf8_valid(s, len))
        return json_stringn(s, len);
    struct buf b = BUF_INIT;
    size_t i = 0;
    uerr e = UERR_OK;
    while (i < len && e == UERR_OK) {
        uint32_t cp;
        size_t n = utf8_decode(&cp, s + i, len - i);
        if (n == 0) {
            e = buf_append(&b, REPLACEMENT, sizeof REPLACEMENT - 1);
            i++;
        } else {
            e = buf_append(&b, s + i, n);
            i += n;
        }
    }
    json_t *j = e == UERR_OK ? json_stringn(b.data ? b.data : "", b.len) : NULL;
    buf_free(&b);
    return j;
}

/* Base64 (RFC 4648, with padding) of n bytes, as a jansson string. */
static json_t *json_base64_new(const unsigned char *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct buf b = BUF_INIT;
    uerr e = buf_reserve(&b, (n + 2) / 3 * 4);

    for (size_t i = 0; e == UERR_OK && i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {abc[(v >> 18) & 63], abc[(v >> 12) & 63], i + 1 < n ? abc[(v >> 6) & 63] : '=',
                     i + 2 < n ? abc[v & 63] : '='};
        e = buf_append(&b, q, 4);
    }
    json_t *j = e == UERR_OK ? json_stringn(b.data ? b.data : "", b.len) : NULL;
    buf_free(&b);
    return j;
}

/* The fewest significant digits (1..17) with which d reads back exactly
 * (as a float when single). */
static int json_float_digits(double d, int single)
{
    char tmp[40];
    for (int prec = 1; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (single ? (strtof(tmp, NULL) == (float)d) : (strtod(tmp, NULL) == d))
            return prec;
    }
    return 17;
}

/* Shortest decimal form of d that reads back to the same value (as a float
 * when single), always with a '.' or exponent, independent of the locale's
 * decimal point. For map keys, which JSON needs as strings. */
static void json_float_format(char *buf, size_t size, double d, int single)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.*g", json_float_digits(d, single), d);
    /* Copy, turning the locale's decimal point (whatever bytes) into '.'. */
    size_t o = 0;
    int seen_point = 0, in_point = 0;
    for (const char *p = tmp; *p && o + 1 < size; p++) {
        if ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == 'e' || *p == 'E') {
            buf[o++] = *p;
            in_point = 0;
            if (*p == 'e' || *p == 'E')
                seen_point = 1;
        } else if (!in_point) {
            buf[o++] = '.';
            in_point = 1;
            seen_point = 1;
        }
    }
    if (!seen_point && o + 3 < size) {
        buf[o++] = '.';
        buf[o++] = '0';
    }
    buf[o] = '\0';
}

/* Text of a scalar object (nil, bool, integer, float) into buf (40 bytes),
 * for a map key. Returns 0 for other types. */
static int json_scalar_format(char *buf, size_t size, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        snprintf(buf, size, "null");
        return 1;
    case MSGPACK_OBJECT_BOOLEAN:
        snprintf(buf, size, "%s", o->via.boolean ? "true" : "false");
        return 1;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(buf, size, "%llu", (unsigned long long)o->via.u64);
        return 1;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(buf, size, "%lld", (long long)o->via.i64);
        return 1;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            snprintf(buf, size, "null");
        else
            json_float_format(buf, size, o->via.f64, o->type == MSGPACK_OBJECT_FLOAT32);
        return 1;
    default:
        return 0;
    }
}

/* Converting one reply: jansson writes every real with one precision, so
 * the conversion finds the fewest digits with which all of them read back
 * exactly (for a single float: its shortest form). */
typedef struct {
    int digits; /* 1..17 */
    int oom;
} json_conv;

static json_t *json_from_msgpack(json_conv *cv, const msgpack_object *o, int depth);

/* The key of a map entry as text: strings as they are, scalars in their
 * JSON form, bin/ext in base64, arrays and maps as their compact JSON. */
static char *json_key_text(json_conv *cv, const msgpack_object *k, size_t *len, int depth)
{
    char tmp[40];
    if (k->type == MSGPACK_OBJECT_STR) {
        json_t *s = json_text_new(k->via.str.ptr, k->via.str.size);
        char *t = s ? strndup(json_string_value(s), json_string_length(s)) : NULL;
        *len = s ? json_string_length(s) : 0;
        json_decref(s);
        return t;
    }
    if (json_scalar_format(tmp, sizeof tmp, k)) {
        *len = strlen(tmp);
        return strdup(tmp);
    }
    json_t *v = json_from_msgpack(cv, k, depth);
    if (!v)
        return NULL;
    char *t;
    if (json_is_string(v)) {
        *len = json_string_length(v);
        t = strndup(json_string_value(v), *len);
    } else {
        t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(cv->digits));
        *len = t ? strlen(t) : 0;
    }
    json_decref(v);
    return t;
}

static json_t *json_map_from_msgpack(json_conv *cv, const msgpack_object_map *m, int depth)
{
    json_t *obj = json_object();
    for (uint32_t i = 0; obj && i < m->size; i++) {
        size_t klen = 0;
        char *key = json_key_text(cv, &m->ptr[i].key, &klen, depth + 1);
        json_t *val = json_from_msgpack(cv, &m->ptr[i].val, depth + 1);
        /* keys with NUL bytes cannot be jansson keys; such a key is cut */
        int bad = !key || !val || json_object_set_new(obj, key, val) != 0;
        free(key);
        if (bad) {
            if (!key)
                json_decref(val);
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

static json_t *json_from_msgpack(json_conv *cv, const msgpack_object *o, int depth)
{
    json_t *j = NULL;

    if (depth > RENDER_JSON_DEPTH_MAX)
        return json_null();
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX) { /* json_int_t is signed: keep the digits, as a string */
            char tmp[24];
            snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)o->via.u64);
            return json_string(tmp);
        }
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return json_null();
        {
            int d = json_float_digits(o->via.f64, o->type == MSGPACK_OBJECT_FLOAT32);
            if (d > cv->digits)
                cv->digits = d;
        }
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_text_new(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return json_base64_new((const unsigned char *)o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT:
        return json_base64_new((const unsigned char *)o->via.ext.ptr, o->via.ext.size);
    case MSGPACK_OBJECT_ARRAY:
        j = json_array();
        for (uint32_t i = 0; j && i < o->via.array.size; i++) {
            if (json_array_append_new(j, json_from_msgpack(cv, &o->via.array.ptr[i], depth + 1)) !=
                0) {
                json_decref(j);
                j = NULL;
            }
        }
        return j;
    case MSGPACK_OBJECT_MAP:
        return json_map_from_msgpack(cv, &o->via.map, depth);
    default:
        return json_null();
    }
}

/* Write j (consumed) to f; "null" when the conversion ran out of memory. */
static void json_emit(FILE *f, json_t *j, size_t flags)
{
    if (!j || json_dumpf(j, f, flags | JSON_ENCODE_ANY) != 0)
        fputs("null", f);
    json_decref(j);
}

void render_json_string_n(FILE *f, const char *s, size_t len)
{
    json_emit(f, json_text_new(s, len), JSON_COMPACT);
}

void render_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    render_json_string_n(f, s, strlen(s));
}

void render_json_msgpack(FILE *f, const msgpack_object *o, int pretty)
{
    json_conv cv = {1, 0};
    json_t *j = json_from_msgpack(&cv, o, 0);
    /* JSON_PRESERVE_ORDER: maps keep the daemon's key order; no
     * JSON_ENSURE_ASCII: Chinese stays UTF-8, as people read it. */
    size_t flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(cv.digits) |
                   (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    json_emit(f, j, flags);
}
