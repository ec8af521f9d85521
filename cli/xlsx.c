/* xlsx.c - unionctl's workbooks (see xlsx.h): libxlsxwriter, one sheet
 * per table. Writes only the file it is given, never anything personal
 * to stderr (errors name the file and libxlsxwriter's reason). */
#include "cli/xlsx.h"
#include "cli/i18n.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

struct xlsx_book {
    lxw_workbook *wb;
    lxw_format *head; /* bold header */
    char *path;
    int failed;
};

xlsx_book *xlsx_open(const char *path)
{
    xlsx_book *b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(path))) {
        free(b);
        fputs(_("unionctl: out of memory\n"), stderr);
        return NULL;
    }
    b->wb = workbook_new(path);
    if (!b->wb) {
        fprintf(stderr, _("unionctl: cannot write the workbook %s\n"), path);
        free(b->path);
        free(b);
        return NULL;
    }
    b->head = workbook_add_format(b->wb);
    format_set_bold(b->head);
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
    lxw_worksheet *ws = workbook_add_worksheet(b->wb, name);
    lxw_error e = LXW_NO_ERROR;
    if (!ws) {
        b->failed = 1;
        fprintf(stderr, _("unionctl: cannot add the sheet %s to %s\n"), name, b->path);
        return -1;
    }
    for (size_t c = 0; c < ncols && !e; c++) {
        e = worksheet_write_string(ws, 0, (lxw_col_t)c, head[c] ? head[c] : "", b->head);
        /* wide enough for an 18-digit ID or a Chinese title */
        worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, c == 0 ? 22 : 14, NULL);
    }
    for (size_t r = 0; r < nrows && !e; r++) {
        for (size_t c = 0; c < ncols && !e; c++) {
            const char *v = cells[r * ncols + c];
            if (!v || !*v)
                continue;
            if ((!text_col || !text_col[c]) && is_plain_number(v))
                e = worksheet_write_number(ws, (lxw_row_t)(r + 1), (lxw_col_t)c, strtod(v, NULL),
                                           NULL);
            else
                e = worksheet_write_string(ws, (lxw_row_t)(r + 1), (lxw_col_t)c, v, NULL);
        }
    }
    if (e) {
        b->failed = 1;
        fprintf(stderr, _("unionctl: writing the sheet %s of %s: %s\n"), name, b->path,
                lxw_strerror(e));
        return -1;
    }
    return 0;
}

int xlsx_close(xlsx_book *b)
{
    if (!b)
        return 0;
    lxw_error e = workbook_close(b->wb);
    int rc = b->failed ? -1 : 0;
    if (e) {
        fprintf(stderr, _("unionctl: writing the workbook %s: %s\n"), b->path, lxw_strerror(e));
        rc = -1;
    }
    free(b->path);
    free(b);
    return rc;
}
