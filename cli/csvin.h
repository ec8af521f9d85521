/* csvin.h - reading the CSV file of `unionctl import`: RFC 4180 (via
 * libcsv, strict), CRLF or LF line ends, an optional UTF-8 byte order mark,
 * UTF-8 only. The first row is the header (field names); every other row
 * must have as many cells as the header. Input is outside data: sizes are
 * checked before anything is allocated, and the first problem stops the
 * parse with a message "line N: what is wrong; what to do". */
#ifndef UNIOND_CSVIN_H
#define UNIOND_CSVIN_H

#include <stddef.h>

#define CSVIN_FILE_MAX ((size_t)512 << 20) /* bytes, csvin_read_file */
#define CSVIN_COLS_MAX 256
#define CSVIN_CELL_MAX ((size_t)64 << 10) /* bytes per cell */
#define CSVIN_ROWS_MAX 10000000           /* data rows, header not counted */

typedef struct {
    size_t line;   /* 1-based line number where the row starts in the file */
    char **cells;  /* ncells NUL-terminated UTF-8 strings, never NULL */
    size_t ncells; /* always equal to the header's nheader */
} csvin_row;

typedef struct {
    char **header; /* field names, spaces and tabs around them trimmed */
    size_t nheader;
    csvin_row *rows; /* data rows, in file order; blank lines are skipped */
    size_t nrows;
} csvin_doc;

/* Set d to an empty document. Call once before csvin_parse or
 * csvin_read_file. */
void csvin_init(csvin_doc *d);

/* Free everything d holds and make it empty again (safe to call twice).
 * Ownership: d owns all of its memory. Each row's cells array and the
 * strings it points to are ONE allocation (as are header and its strings):
 * never free or realloc a single cell; copy what must outlive d. */
void csvin_free(csvin_doc *d);

/* Parse len bytes at buf (need not be NUL-terminated; buf stays owned by
 * the caller) into d, which must have been set up by csvin_init; whatever
 * d held before is freed first.
 * Returns 0 on success: d holds the header (at least one name, none empty,
 * no duplicates) and 0 or more rows.
 * Returns -1 on the first error, with d empty and err (if errlen > 0)
 * holding "line N: reason", e.g. "line 7: 5 cells, header has 6". Errors:
 * empty input, bad quoting, invalid UTF-8 or NUL bytes, a row whose cell
 * count differs from the header's, an empty or duplicate header name, more
 * than CSVIN_COLS_MAX columns, a cell over CSVIN_CELL_MAX bytes, more than
 * CSVIN_ROWS_MAX rows, out of memory. */
int csvin_parse(csvin_doc *d, const char *buf, size_t len, char *err, size_t errlen);

/* Read the file at path (at most CSVIN_FILE_MAX bytes; regular files, pipes
 * and devices alike) and parse it as csvin_parse does. Returns 0 or -1; on
 * failure d is empty and err holds the reason without the path, which the
 * caller puts in front: "No such file or directory", "line N: ...". */
int csvin_read_file(csvin_doc *d, const char *path, char *err, size_t errlen);

#endif
