/* render.c - unionctl output: tables for people, CSV and JSON for scripts.
 *
 * Tables measure every cell in terminal columns with schema_display_width
 * and print cells character by character, replacing what would break a row
 * or the terminal (newlines, control characters, escape sequences, invalid
 * UTF-8) with something visible, so that measuring and printing always
 * agree. Nothing here allocates except one array of column widths per
 * table (and a memstream for non-string map keys in JSON). */
#include "cli/render.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/schema.h"

#define RENDER_JSON_DEPTH_MAX 512

static const char REPLACEMENT[] = "\xEF\xBF\xBD";   /* U+FFFD */
static const char RETURN_SYMBOL[] = "\xE2\x8F\x8E"; /* U+23CE, shown for newlines */
static const char ELLIPSIS[] = "\xE2\x80\xA6";      /* U+2026, ends a cut cell */

/* Decode one UTF-8 sequence at s (len > 0 bytes available). Returns its
 * length and stores the code point, or returns 0 when the bytes at s are
 * not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF
 * are invalid, as in schema_utf8_len). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

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
    const unsigned char *u = (const unsigned char *)s;
    shown_char sc;
    uint32_t cp = 0;
    size_t n = utf8_decode(u, len, &cp);

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

void render_csv_row(FILE *f, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = cells[i] ? cells[i] : "";
        if (i > 0)
            fputc(',', f);
        if (!csv_field_needs_quotes(s)) {
            fputs(s, f);
            continue;
        }
        fputc('"', f);
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    }
    if (n == 1 && (!cells[0] || !cells[0][0]))
        fputs("\"\"", f);
    fputc('\n', f);
}

/* ---- JSON ---- */

void render_json_string_n(FILE *f, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    fputc('"', f);
    while (i < len) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t n = utf8_decode(u + i, len - i, &cp);
            if (n == 0) {
                fputs(REPLACEMENT, f);
                i++;
            } else {
                fwrite(u + i, 1, n, f);
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\b':
            fputs("\\b", f);
            break;
        case '\f':
            fputs("\\f", f);
            break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
        i++;
    }
    fputc('"', f);
}

void render_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    render_json_string_n(f, s, strlen(s));
}

/* Base64 (RFC 4648, with padding) of n bytes, as a JSON string. */
static void json_base64_emit(FILE *f, const unsigned char *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fputc(abc[(v >> 18) & 63], f);
        fputc(abc[(v >> 12) & 63], f);
        fputc(i + 1 < n ? abc[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? abc[v & 63] : '=', f);
    }
    fputc('"', f);
}

/* Shortest decimal form of d that reads back to the same value (as a float
 * when single), always with a '.' or exponent, independent of the locale's
 * decimal point. buf must hold 40 bytes. */
static void json_float_format(char *buf, size_t size, double d, int single)
{
    char tmp[40];
    int first = single ? 6 : 15, last = single ? 9 : 17;

    for (int prec = first; prec <= last; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (single ? (strtof(tmp, NULL) == (float)d) : (strtod(tmp, NULL) == d))
            break;
    }
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

/* Text of a scalar object (nil, bool, integer, float) into buf (40 bytes).
 * Returns 0 for other types. */
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

static void json_newline_indent(FILE *f, int pretty, int depth)
{
    if (!pretty)
        return;
    fputc('\n', f);
    spaces_emit(f, (size_t)depth * 2);
}

static void json_value_emit(FILE *f, const msgpack_object *o, int pretty, int depth);

static void json_key_emit(FILE *f, const msgpack_object *k, int depth)
{
    char buf[40];

    if (k->type == MSGPACK_OBJECT_STR) {
        render_json_string_n(f, k->via.str.ptr, k->via.str.size);
    } else if (k->type == MSGPACK_OBJECT_BIN || k->type == MSGPACK_OBJECT_EXT) {
        json_value_emit(f, k, 0, depth); /* already a string */
    } else if (json_scalar_format(buf, sizeof buf, k)) {
        render_json_string(f, buf);
    } else {
        /* array or map as a key: its compact JSON, as a string */
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (m) {
            json_value_emit(m, k, 0, depth);
            if (fclose(m) != 0)
                len = 0;
        }
        render_json_string_n(f, text ? text : "", text ? len : 0);
        free(text);
    }
}

static void json_value_emit(FILE *f, const msgpack_object *o, int pretty, int depth)
{
    char buf[40];

    if (depth > RENDER_JSON_DEPTH_MAX) {
        fputs("null", f);
        return;
    }
    if (json_scalar_format(buf, sizeof buf, o)) {
        fputs(buf, f);
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        render_json_string_n(f, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        json_base64_emit(f, (const unsigned char *)o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT:
        json_base64_emit(f, (const unsigned char *)o->via.ext.ptr, o->via.ext.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc('[', f);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i > 0)
                fputc(',', f);
            json_newline_indent(f, pretty, depth + 1);
            json_value_emit(f, &o->via.array.ptr[i], pretty, depth + 1);
        }
        if (o->via.array.size > 0)
            json_newline_indent(f, pretty, depth);
        fputc(']', f);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc('{', f);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i > 0)
                fputc(',', f);
            json_newline_indent(f, pretty, depth + 1);
            json_key_emit(f, &o->via.map.ptr[i].key, depth + 1);
            fputs(pretty ? ": " : ":", f);
            json_value_emit(f, &o->via.map.ptr[i].val, pretty, depth + 1);
        }
        if (o->via.map.size > 0)
            json_newline_indent(f, pretty, depth);
        fputc('}', f);
        break;
    default:
        fputs("null", f);
    }
}

void render_json_msgpack(FILE *f, const msgpack_object *o, int pretty)
{
    json_value_emit(f, o, pretty != 0, 0);
}
