/* xlsx.c - unionctl's workbooks (see xlsx.h): libxlsxwriter, one sheet
 * per table. Writes only the file it is given, never anything personal
 * to stderr (errors name the file and libxlsxwriter's reason).
 *
 * libxlsxwriter is loaded with dlopen when a workbook is first opened, not
 * linked: linking it loads it (and the shared libcrypto and minizip it
 * needs) into every unionctl process, about 1 ms of start-up each, for the
 * two commands (report, stats --xlsx) that write workbooks. */
#include "cli/xlsx.h"
#include "cli/i18n.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

/* The library's functions this file calls, found once by xlsx_lib_load. */
static struct {
    int tried, ok;
    __typeof__(workbook_new) *workbook_new;
    __typeof__(workbook_add_format) *workbook_add_format;
    __typeof__(format_set_bold) *format_set_bold;
    __typeof__(workbook_add_worksheet) *workbook_add_worksheet;
    __typeof__(worksheet_write_string) *worksheet_write_string;
    __typeof__(worksheet_write_number) *worksheet_write_number;
    __typeof__(worksheet_set_column) *worksheet_set_column;
    __typeof__(workbook_close) *workbook_close;
    __typeof__(lxw_strerror) *lxw_strerror;
} lx;

/* Load libxlsxwriter (XLSX_SONAME, the one the build was made against).
 * 0, or -1 with the reason printed. The handle is kept for the process. */
static int xlsx_lib_load(void)
{
    if (lx.tried)
        return lx.ok ? 0 : -1;
    lx.tried = 1;
    void *h = dlopen(XLSX_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libxlsxwriter.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, _("unionctl: cannot load libxlsxwriter to write workbooks: %s\n"),
                dlerror());
        return -1;
    }
    /* POSIX: a function pointer may be read through a void * (dlsym(3)) */
#define XLSX_SYM(name) *(void **)&lx.name = dlsym(h, #name)
    XLSX_SYM(workbook_new);
    XLSX_SYM(workbook_add_format);
    XLSX_SYM(format_set_bold);
    XLSX_SYM(workbook_add_worksheet);
    XLSX_SYM(worksheet_write_string);
    XLSX_SYM(worksheet_write_number);
    XLSX_SYM(worksheet_set_column);
    XLSX_SYM(workbook_close);
    XLSX_SYM(lxw_strerror);
#undef XLSX_SYM
    lx.ok = lx.workbook_new && lx.workbook_add_format && lx.format_set_bold &&
            lx.workbook_add_worksheet && lx.worksheet_write_string && lx.worksheet_write_number &&
            lx.worksheet_set_column && lx.workbook_close && lx.lxw_strerror;
    if (!lx.ok)
        fprintf(stderr, _("unionctl: cannot load libxlsxwriter to write workbooks: %s\n"), "dlsym");
    return lx.ok ? 0 : -1;
}

struct xlsx_book {
    lxw_workbook *wb;
    lxw_format *head; /* bold header */
    char *path;
    int failed;
};

xlsx_book *xlsx_open(const char *path)
{
    if (xlsx_lib_load() != 0)
        return NULL;
    xlsx_book *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(path))) {
        free(b);
        fputs(_("unionctl: out of memory\n"), stderr);
        return NULL;
    }
    b->wb = lx.workbook_new(path);
    if (!b->wb) {
        fprintf(stderr, _("unionctl: cannot write the workbook %s\n"), path);
        free(b->path);
        free(b);
        return NULL;
    }
    b->head = lx.workbook_add_format(b->wb);
    lx.format_set_bold(b->head);
    return b;
}

/* 1 if s is a plain decimal number a spreadsheet may sum: digits, at
 * most one '.', no sign, no leading zero before another digit (a code
 * like "007" stays text), at most 15 significant digits (what a double
 * holds exactly). */
static int is_plain_number(const char *s)
{
    size_t digits = 0, dots = 0;
    if (!*s || (s[0] == '0' && s[1] && s[1] != '.'))
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p >= '0' && *p <= '9')
            digits++;
        else
            return 0;
    }
    return dots <= 1 && digits && digits <= 15 && s[strlen(s) - 1] != '.' && s[0] != '.';
}

int xlsx_sheet(xlsx_book *b, const char *name, const char *const *head, size_t ncols,
               const char *const *cells, size_t nrows, const unsigned char *text_col)
{
    lxw_worksheet *ws = lx.workbook_add_worksheet(b->wb, name);
    lxw_error e = LXW_NO_ERROR;
    if (!ws) {
        b->failed = 1;
        fprintf(stderr, _("unionctl: cannot add the sheet %s to %s\n"), name, b->path);
        return -1;
    }
    for (size_t c = 0; c < ncols && !e; c++) {
        e = lx.worksheet_write_string(ws, 0, (lxw_col_t)c, head[c] ? head[c] : "", b->head);
        /* wide enough for an 18-digit ID or a Chinese title */
        lx.worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, c == 0 ? 22 : 14, NULL);
    }
    for (size_t r = 0; r < nrows && !e; r++) {
        for (size_t c = 0; c < ncols && !e; c++) {
            const char *v = cells[r * ncols + c];
            if (!v || !*v)
                continue;
            if ((!text_col || !text_col[c]) && is_plain_number(v))
                e = lx.worksheet_write_number(ws, (lxw_row_t)(r + 1), (lxw_col_t)c, strtod(v, NULL),
                                              NULL);
            else
                e = lx.worksheet_write_string(ws, (lxw_row_t)(r + 1), (lxw_col_t)c, v, NULL);
        }
    }
    if (e) {
        b->failed = 1;
        fprintf(stderr, _("unionctl: writing the sheet %s of %s: %s\n"), name, b->path,
                lx.lxw_strerror(e));
        return -1;
    }
    return 0;
}

int xlsx_close(xlsx_book *b)
{
    if (!b)
        return 0;
    lxw_error e = lx.workbook_close(b->wb);
    int rc = b->failed ? -1 : 0;
    if (e) {
        fprintf(stderr, _("unionctl: writing the workbook %s: %s\n"), b->path, lx.lxw_strerror(e));
        rc = -1;
    }
    free(b->path);
    free(b);
    return rc;
}
