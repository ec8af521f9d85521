/* csvin.c - the import CSV decoder (see csvin.h).
 *
 * libcsv does the RFC 4180 state machine; this file feeds it one physical
 * line at a time (a line ends at LF, CRLF or a lone CR), which is how every
 * row gets the number of the line it starts on even when quoted cells span
 * several lines. A GB18030 file is converted to UTF-8 first (glibc iconv;
 * GB18030 never uses the bytes of CR or LF inside a character, so line
 * numbers survive). Each line is checked (UTF-8, no NUL) before libcsv
 * sees it. libcsv's own whitespace trimming is switched off (RFC 4180 keeps
 * spaces) and its field buffer may not grow past the cell limit. Cells of
 * the current row are collected in one scratch buffer and become one
 * allocation per row when the row ends. */
#include "cli/errtext.h"
#include "cli/csvin.h"
#include "cli/dmsg.h"
#include "cli/i18n.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/schema.h"

/* libcsv's field buffer may grow to this; longer cells fail with ENOMEM. */
#define CSVIN_FIELD_BUF_MAX (CSVIN_CELL_MAX + 1024)

typedef struct {
    csvin_doc *d;
    char *err;
    size_t errlen;
    int failed;      /* a callback found an error (libcsv cannot be stopped) */
    size_t line;     /* line number of the line being fed */
    size_t row_line; /* line where the current row began, 0 = none begun */
    int have_header; /* the first row has been taken as the header */
    size_t rows_cap; /* allocated entries of d->rows */
    char *buf;       /* the current row's cells, each NUL-terminated */
    size_t buflen, bufcap;
    size_t offs[CSVIN_COLS_MAX]; /* start of each cell in buf */
    size_t ncells;
} csvin_state;

static void err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void csvin_init(csvin_doc *d)
{
    memset(d, 0, sizeof *d);
}

void csvin_free(csvin_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nrows; i++)
        free(d->rows[i].cells);
    free(d->rows);
    free(d->header); /* header_raw lives in the same block */
    csvin_init(d);
}

/* libcsv's realloc: refuses to grow the field buffer past the cell limit,
 * so a huge cell costs at most CSVIN_FIELD_BUF_MAX bytes. */
static void *csvin_field_realloc(void *p, size_t n)
{
    if (n > CSVIN_FIELD_BUF_MAX)
        return NULL;
    return realloc(p, n);
}

/* Tell libcsv that no character is "space": RFC 4180 keeps spaces in cells
 * and a space next to a quoted cell's quotes is a quoting error. */
static int csvin_no_space(unsigned char c)
{
    (void)c;
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* One block holding an array of st->ncells pointers followed by the cell
 * strings (trimmed of spaces and tabs when trim is set). NULL on OOM. */
static char **cells_block_build(const csvin_state *st, int trim)
{
    size_t ptrs = st->ncells * sizeof(char *);
    char **cells = malloc(ptrs + st->buflen);
    if (!cells)
        return NULL;
    char *out = (char *)cells + ptrs;

    for (size_t i = 0; i < st->ncells; i++) {
        const char *s = st->buf + st->offs[i];
        size_t len = strlen(s);
        if (trim) {
            while (len > 0 && is_blank(*s)) {
                s++;
                len--;
            }
            while (len > 0 && is_blank(s[len - 1]))
                len--;
        }
        memcpy(out, s, len);
        out[len] = '\0';
        cells[i] = out;
        out += len + 1;
    }
    return cells;
}

static void state_fail(csvin_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void state_fail(csvin_state *st, const char *fmt, ...)
{
    va_list ap;

    st->failed = 1;
    if (!st->err || st->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(st->err, st->errlen, fmt, ap);
    va_end(ap);
}

/* libcsv callback: one cell of the current row has ended. */
static void csvin_on_cell(void *field, size_t len, void *data)
{
    csvin_state *st = data;

    if (st->failed)
        return;
    if (!field)
        len = 0;
    if (st->ncells == CSVIN_COLS_MAX) {
        state_fail(st, _("line %zu: more than %d columns; an import file has at most %d"), st->line,
                   CSVIN_COLS_MAX, CSVIN_COLS_MAX);
        return;
    }
    if (len > CSVIN_CELL_MAX) {
        state_fail(st, _("line %zu: cell %zu is longer than %zu bytes; shorten it"), st->line,
                   st->ncells + 1, CSVIN_CELL_MAX);
        return;
    }
    if (st->buflen + len + 1 > st->bufcap) {
        /* bounded: at most CSVIN_COLS_MAX cells of CSVIN_CELL_MAX + 1 */
        size_t cap = st->bufcap ? st->bufcap : 256;
        while (cap < st->buflen + len + 1)
            cap *= 2;
        char *nb = realloc(st->buf, cap);
        if (!nb) {
            state_fail(st, _("line %zu: out of memory"), st->line);
            return;
        }
        st->buf = nb;
        st->bufcap = cap;
    }
    st->offs[st->ncells++] = st->buflen;
    if (len > 0)
        memcpy(st->buf + st->buflen, field, len);
    st->buf[st->buflen + len] = '\0';
    st->buflen += len + 1;
}

static int header_take(csvin_state *st, size_t line)
{
    csvin_doc *d = st->d;
    char **names = cells_block_build(st, 1);

    if (!names) {
        state_fail(st, _("line %zu: out of memory"), line);
        return -1;
    }
    for (size_t i = 0; i < st->ncells; i++) {
        if (names[i][0] == '\0') {
            state_fail(st,
                       _("line %zu: column %zu of the header has no name; the first row must "
                         "name every column"),
                       line, i + 1);
            free(names);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                state_fail(st,
                           _("line %zu: header name \"%.64s\" appears twice (columns %zu and %zu); "
                             "each field may have one column"),
                           line, names[i], j + 1, i + 1);
                free(names);
                return -1;
            }
        }
    }
    d->header = names;
    d->nheader = st->ncells;
    st->have_header = 1;
    return 0;
}

static int row_take(csvin_state *st, size_t line)
{
    csvin_doc *d = st->d;

    if (st->ncells != d->nheader) {
        state_fail(st,
                   ngettext("line %zu: %zu cell, header has %zu",
                            "line %zu: %zu cells, header has %zu", st->ncells),
                   line, st->ncells, d->nheader);
        return -1;
    }
    if (d->nrows == CSVIN_ROWS_MAX) {
        state_fail(st, _("line %zu: more than %d rows; split the file into smaller imports"), line,
                   CSVIN_ROWS_MAX);
        return -1;
    }
    if (d->nrows == st->rows_cap) {
        size_t cap = st->rows_cap ? st->rows_cap * 2 : 64;
        if (cap > CSVIN_ROWS_MAX)
            cap = CSVIN_ROWS_MAX;
        csvin_row *nr = realloc(d->rows, cap * sizeof *nr);
        if (!nr) {
            state_fail(st, _("line %zu: out of memory"), line);
            return -1;
        }
        d->rows = nr;
        st->rows_cap = cap;
    }
    char **cells = cells_block_build(st, 0);
    if (!cells) {
        state_fail(st, _("line %zu: out of memory"), line);
        return -1;
    }
    d->rows[d->nrows].line = line;
    d->rows[d->nrows].cells = cells;
    d->rows[d->nrows].ncells = st->ncells;
    d->nrows++;
    return 0;
}

/* libcsv callback: the current row has ended. */
static void csvin_on_row(int c, void *data)
{
    csvin_state *st = data;
    size_t line = st->row_line ? st->row_line : st->line;

    (void)c;
    if (st->failed)
        return;
    if (st->have_header)
        row_take(st, line);
    else
        header_take(st, line);
    st->ncells = 0;
    st->buflen = 0;
    st->row_line = 0;
}

/* Message for a libcsv strict-mode error at byte `at` of the line. */
static void quote_error_report(csvin_state *st, const char *text, size_t at, size_t len)
{
    size_t cell = st->ncells + 1;

    if (at < len && text[at] == '"')
        state_fail(st,
                   _("line %zu: cell %zu has a double quote inside an unquoted value; enclose "
                     "the whole cell in double quotes and write the quote twice (\"\")"),
                   st->line, cell);
    else
        state_fail(st,
                   _("line %zu: cell %zu has text after its closing double quote; enclose the "
                     "whole cell in double quotes and write any quote inside it twice (\"\")"),
                   st->line, cell);
}

/* Check one line's content (without its line end) before libcsv sees it;
 * valid: the whole text is known to be UTF-8 (a line of it is too: lines
 * end at ASCII bytes, never inside a character). */
static int line_check(csvin_state *st, const char *s, size_t len, int valid)
{
    if (memchr(s, '\0', len)) {
        state_fail(st,
                   _("line %zu: contains a NUL byte; the file is not UTF-8 text (UTF-16? save it "
                     "as \"CSV UTF-8\")"),
                   st->line);
        return -1;
    }
    if (!valid && schema_utf8_len(s, len) < 0) {
        state_fail(st,
                   _("line %zu: not valid UTF-8 (a GBK/GB18030 file from Excel?); leave out "
                     "--encoding utf-8 to detect it, or give --encoding gb18030"),
                   st->line);
        return -1;
    }
    return 0;
}

/* The parse proper, over UTF-8 bytes (valid: all of buf checked already). */
static int parse_utf8(csvin_doc *d, const char *buf, size_t len, int valid, char *err,
                      size_t errlen)
{
    struct csv_parser p;
    csvin_state st;
    size_t pos = 0;
    int rc = -1;

    csvin_free(d);
    err_set(err, errlen, _("unknown error"));
    memset(&st, 0, sizeof st);
    st.d = d;
    st.err = err;
    st.errlen = errlen;
    st.line = 1;

    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        err_set(err, errlen, _("cannot set up the CSV parser"));
        return -1;
    }
    csv_set_space_func(&p, csvin_no_space);
    csv_set_realloc_func(&p, csvin_field_realloc);

    if (len >= 2 &&
        ((buf[0] == '\xFF' && buf[1] == '\xFE') || (buf[0] == '\xFE' && buf[1] == '\xFF'))) {
        err_set(err, errlen, _("line 1: the file is UTF-16; save it as \"CSV UTF-8\""));
        goto cleanup;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;

    while (pos < len) {
        size_t end = pos; /* end of the line's content */
        while (end < len && buf[end] != '\n' && buf[end] != '\r')
            end++;
        size_t next = end; /* start of the next line */
        if (next < len)
            next += (buf[next] == '\r' && next + 1 < len && buf[next + 1] == '\n') ? 2 : 1;

        if (line_check(&st, buf + pos, end - pos, valid) != 0)
            goto cleanup;
        /* A row begins on the first line that is not empty (libcsv skips
         * empty lines between rows; inside a row they are cell text). */
        if (st.row_line == 0 && end > pos)
            st.row_line = st.line;

        size_t n = csv_parse(&p, buf + pos, next - pos, csvin_on_cell, csvin_on_row, &st);
        if (st.failed)
            goto cleanup;
        if (n != next - pos) {
            int e = csv_error(&p);
            if (e == CSV_EPARSE)
                quote_error_report(&st, buf + pos, n, end - pos);
            else if (e == CSV_ENOMEM && csv_get_buffer_size(&p) + 2 * 128 > CSVIN_FIELD_BUF_MAX)
                state_fail(&st, _("line %zu: cell %zu is longer than %zu bytes; shorten it"),
                           st.line, st.ncells + 1, CSVIN_CELL_MAX);
            else
                state_fail(&st, _("line %zu: %s"), st.line, csv_strerror(e));
            goto cleanup;
        }
        if (next > end)
            st.line++;
        pos = next;
    }
    if (csv_fini(&p, csvin_on_cell, csvin_on_row, &st) != 0) {
        state_fail(&st,
                   _("line %zu: a quoted cell in the row starting here is never closed; add the "
                     "missing closing double quote"),
                   st.row_line ? st.row_line : st.line);
        goto cleanup;
    }
    if (st.failed)
        goto cleanup;
    if (!st.have_header) {
        err_set(err, errlen,
                _("the file is empty; its first row must name the fields (e.g. name,phone)"));
        goto cleanup;
    }
    rc = 0;
    if (errlen > 0 && err)
        err[0] = '\0';

cleanup:
    csv_free(&p);
    free(st.buf);
    if (rc != 0)
        csvin_free(d);
    return rc;
}

/* Read at most CSVIN_FILE_MAX bytes of fd into a malloc'd buffer. */
static int fd_slurp(int fd, char **out, size_t *outlen, char *err, size_t errlen)
{
    struct stat sb;
    char *buf = NULL;
    size_t len = 0, cap;

    if (fstat(fd, &sb) != 0) {
        err_set(err, errlen, "%s", errtext_strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        err_set(err, errlen, _("is a directory; give the path of a .csv file"));
        return -1;
    }
    if (S_ISREG(sb.st_mode) && (unsigned long long)sb.st_size > CSVIN_FILE_MAX) {
        err_set(err, errlen, _("%llu MiB is more than the %zu MiB an import may have; split it"),
                (unsigned long long)sb.st_size >> 20, CSVIN_FILE_MAX >> 20);
        return -1;
    }
    cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : 65536;
    buf = malloc(cap);
    if (!buf)
        goto oom;
    for (;;) {
        if (len == cap) {
            if (cap > CSVIN_FILE_MAX) {
                err_set(err, errlen, _("more than the %zu MiB an import may have; split it"),
                        CSVIN_FILE_MAX >> 20);
                free(buf);
                return -1;
            }
            size_t ncap = cap * 2 > CSVIN_FILE_MAX + 1 ? CSVIN_FILE_MAX + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb)
                goto oom;
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set(err, errlen, "%s", errtext_strerror(errno));
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > CSVIN_FILE_MAX) {
        err_set(err, errlen, _("more than the %zu MiB an import may have; split it"),
                CSVIN_FILE_MAX >> 20);
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = len;
    return 0;

oom:
    free(buf);
    err_set(err, errlen, _("out of memory reading the file"));
    return -1;
}

int csvin_read_file_enc(csvin_doc *d, const char *path, csvin_encoding enc, char *err,
                        size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = -1;

    csvin_free(d);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, errlen, "%s", errtext_strerror(errno));
        return -1;
    }
    if (fd_slurp(fd, &buf, &len, err, errlen) != 0)
        goto cleanup;
    if (csvin_parse_enc(d, buf, len, enc, err, errlen) != 0)
        goto cleanup;
    if (csvin_header_resolve(d, err, errlen) != 0) {
        csvin_free(d);
        goto cleanup;
    }
    rc = 0;

cleanup:
    free(buf);
    close(fd);
    return rc;
}

int csvin_read_file(csvin_doc *d, const char *path, char *err, size_t errlen)
{
    return csvin_read_file_enc(d, path, CSVIN_ENC_AUTO, err, errlen);
}

/* ---- encodings ---- */

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int word_caseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
            return 0;
    return *a == *b;
}

int csvin_encoding_parse(csvin_encoding *out, const char *word)
{
    static const struct {
        const char *w;
        csvin_encoding e;
    } words[] = {{"auto", CSVIN_ENC_AUTO},    {"utf-8", CSVIN_ENC_UTF8},
                 {"utf8", CSVIN_ENC_UTF8},    {"gb18030", CSVIN_ENC_GB18030},
                 {"gbk", CSVIN_ENC_GB18030},  {"gb2312", CSVIN_ENC_GB18030},
                 {"cp936", CSVIN_ENC_GB18030}};
    for (size_t i = 0; word && i < sizeof words / sizeof words[0]; i++)
        if (word_caseeq(word, words[i].w)) {
            *out = words[i].e;
            return 0;
        }
    return -1;
}

const char *csvin_encoding_name(csvin_encoding enc)
{
    return enc == CSVIN_ENC_UTF8 ? "UTF-8" : enc == CSVIN_ENC_GB18030 ? "GB18030" : "auto";
}

static size_t line_of(const char *buf, size_t at)
{
    size_t line = 1;
    for (size_t i = 0; i < at; i++)
        if (buf[i] == '\n' || (buf[i] == '\r' && !(i + 1 < at && buf[i + 1] == '\n')))
            line++;
    return line;
}

/* GB18030 -> UTF-8 into a malloc'd buffer. -1 with err naming the line of
 * the first byte that is not GB18030 text. */
static int gb18030_decode(char **out, size_t *outlen, const char *buf, size_t len, char *err,
                          size_t errlen)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1) {
        err_set(err, errlen, _("this system cannot convert GB18030 (iconv: %s)"),
                errtext_strerror(errno));
        return -1;
    }
    /* a GB18030 character is 1, 2 or 4 bytes; its UTF-8 at most 4 */
    size_t cap = len * 2 + 16;
    char *dst = malloc(cap);
    if (!dst) {
        iconv_close(cd);
        err_set(err, errlen, _("out of memory converting the file"));
        return -1;
    }
    char *in = (char *)buf, *o = dst;
    size_t inleft = len, oleft = cap - 1;
    size_t r = iconv(cd, &in, &inleft, &o, &oleft);
    if (r != (size_t)-1)
        r = iconv(cd, NULL, NULL, &o, &oleft);
    iconv_close(cd);
    if (r == (size_t)-1 || inleft != 0) {
        err_set(err, errlen,
                _("line %zu: neither UTF-8 nor GB18030 (GBK) text; save the file as \"CSV UTF-8\""),
                line_of(buf, (size_t)(in - buf)));
        free(dst);
        return -1;
    }
    *o = '\0';
    *out = dst;
    *outlen = (size_t)(o - dst);
    return 0;
}

/* ---- the header ---- */

/* Resolves every header name to its field (a list of every unknown name,
 * with the nearest known one, when some are unknown) and builds the block
 * holding header and header_raw. */
int csvin_header_resolve(csvin_doc *d, char *err, size_t errlen)
{
    const char **canon = calloc(d->nheader, sizeof *canon);
    size_t o = 0, bytes = 0;
    int bad = 0;

    if (!canon) {
        err_set(err, errlen, _("out of memory"));
        return -1;
    }
    if (err && errlen)
        err[0] = '\0';
    for (size_t i = 0; i < d->nheader; i++) {
        const schema_field *f = NULL;
        char why[300];
        if (strcmp(d->header[i], "id") == 0) {
            canon[i] = "id";
        } else if (schema_field_resolve(&f, d->header[i], why, sizeof why) == UERR_OK) {
            canon[i] = f->name;
        } else {
            if (err && o < errlen) {
                /* the schema's English, shown in the clerk's language */
                char *shown = dmsg_translate(why);
                int k = snprintf(err + o, errlen - o, "%s%s", bad ? "; " : _("line 1: "),
                                 shown ? shown : why);
                free(shown);
                o += k > 0 ? (size_t)k : 0;
            }
            bad = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (canon[j] && strcmp(canon[j], canon[i]) == 0) {
                if (err && o < errlen) {
                    int k = snprintf(err + o, errlen - o,
                                     _("%scolumns %zu (%.64s) and %zu (%.64s) are both %s; "
                                       "each field may have one column"),
                                     bad ? "; " : _("line 1: "), j + 1, d->header[j], i + 1,
                                     d->header[i], canon[i]);
                    o += k > 0 ? (size_t)k : 0;
                }
                bad = 1;
            }
        bytes += strlen(canon[i]) + 1 + strlen(d->header[i]) + 1;
    }
    if (bad) {
        free(canon);
        return -1;
    }
    char **blk = malloc(2 * d->nheader * sizeof(char *) + bytes);
    if (!blk) {
        free(canon);
        err_set(err, errlen, _("out of memory"));
        return -1;
    }
    char *p = (char *)(blk + 2 * d->nheader);
    for (size_t i = 0; i < d->nheader; i++) {
        size_t a = strlen(canon[i]) + 1, b = strlen(d->header[i]) + 1;
        blk[i] = memcpy(p, canon[i], a);
        p += a;
        blk[d->nheader + i] = memcpy(p, d->header[i], b);
        p += b;
    }
    free(canon);
    free(d->header);
    d->header = blk;
    d->header_raw = blk + d->nheader;
    return 0;
}

int csvin_parse_enc(csvin_doc *d, const char *buf, size_t len, csvin_encoding enc, char *err,
                    size_t errlen)
{
    char *conv = NULL;
    size_t clen = 0;
    int rc = -1, valid = 0;

    csvin_free(d);
    if (len >= 2 &&
        ((buf[0] == '\xFF' && buf[1] == '\xFE') || (buf[0] == '\xFE' && buf[1] == '\xFF'))) {
        err_set(err, errlen, _("line 1: the file is UTF-16; save it as \"CSV UTF-8\""));
        return -1;
    }
    if (enc == CSVIN_ENC_AUTO) {
        /* UTF-8 is self-checking: a GBK text of any length is almost never
         * valid UTF-8, so "valid UTF-8" decides. NUL bytes are left to the
         * line check, which says what they mean. */
        int has_bom = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0;
        /* the whole file found valid here is not checked again line by
         * line (the line check names the line of an invalid byte) */
        valid = !has_bom && schema_utf8_len(buf, len) >= 0;
        enc = has_bom || valid || memchr(buf, '\0', len) ? CSVIN_ENC_UTF8 : CSVIN_ENC_GB18030;
    }
    if (enc == CSVIN_ENC_GB18030) {
        if (gb18030_decode(&conv, &clen, buf, len, err, errlen) != 0)
            return -1;
        buf = conv;
        len = clen;
    }
    if (parse_utf8(d, buf, len, valid, err, errlen) != 0)
        goto cleanup;
    d->header_raw = d->header;
    d->encoding = enc;
    rc = 0;
cleanup:
    free(conv);
    return rc;
}

int csvin_parse(csvin_doc *d, const char *buf, size_t len, char *err, size_t errlen)
{
    return csvin_parse_enc(d, buf, len, CSVIN_ENC_AUTO, err, errlen);
}
