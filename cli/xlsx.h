/* xlsx.h - unionctl's workbooks (--xlsx FILE on report and stats):
 * a thin layer over libxlsxwriter that writes one sheet per table, the
 * header row bold, numbers as numbers and ID-like columns as text (so
 * that Excel and WPS never round an ID number or drop a leading zero).
 * It only writes the file it is given; it never reads the socket. */
#ifndef UNIOND_CLI_XLSX_H
#define UNIOND_CLI_XLSX_H

#include <stddef.h>

typedef struct xlsx_book xlsx_book;

/* Open a new workbook to be written at path (replaced if it exists).
 * Returns NULL (message printed) on failure. Free with xlsx_close. */
xlsx_book *xlsx_open(const char *path);

/* Add a sheet named name (at most 31 characters, no []:*?/\) with the
 * header row head (ncols titles) and nrows rows of cells (row-major; a
 * NULL cell is left empty). A cell that is a plain decimal number
 * ("12", "1234.50") is written as a number unless its column is text:
 * text_col[i] != 0 (text_col may be NULL: no text column). The strings
 * stay owned by the caller. Returns 0, or -1 (message printed). */
int xlsx_sheet(xlsx_book *b, const char *name, const char *const *head, size_t ncols,
               const char *const *cells, size_t nrows, const unsigned char *text_col);

/* Write the file and free b (taken over; NULL is a no-op). Returns 0, or
 * -1 when the file could not be written (message printed), also when an
 * earlier xlsx_sheet failed. */
int xlsx_close(xlsx_book *b);

#endif
