/* csvin.h - reading the CSV file of `unionctl import`: RFC 4180 (via
 * libcsv, strict), CRLF or LF line ends, UTF-8 with or without a byte
 * order mark or GB18030 (which covers GBK, the default of Chinese Excel),
 * detected or forced. The first row is the header: field names or their
 * Chinese column names (姓名, 手机号码, ...), resolved to field names; every
 * other row must have as many cells as the header. Input is outside data:
 * sizes are checked before anything is allocated; a broken file structure
 * stops the parse with "line N: what is wrong; what to do", and
 * csvin_check then finds every problem of every value at once. */
#ifndef UNIOND_CSVIN_H
#define UNIOND_CSVIN_H

#include <stddef.h>

#include "proto/problem.h"
#include "proto/schema.h"

#define CSVIN_FILE_MAX ((size_t)512 << 20) /* bytes, csvin_read_file */
#define CSVIN_COLS_MAX 256
#define CSVIN_CELL_MAX ((size_t)64 << 10) /* bytes per cell */
#define CSVIN_ROWS_MAX 10000000           /* data rows, header not counted */

typedef enum {
    CSVIN_ENC_AUTO = 0, /* UTF-8 if the whole file is valid UTF-8, else GB18030 */
    CSVIN_ENC_UTF8,
    CSVIN_ENC_GB18030 /* also GBK and GB2312, which it contains */
} csvin_encoding;

typedef struct {
    size_t line;   /* 1-based line number where the row starts in the file */
    char **cells;  /* ncells NUL-terminated UTF-8 strings, never NULL */
    size_t ncells; /* always equal to the header's nheader */
    int bad;       /* csvin_check found a problem in this row */
} csvin_row;

typedef struct {
    char **header;     /* canonical field names ("id" for the record id column) */
    char **header_raw; /* the header as written (姓名), spaces and tabs trimmed */
    size_t nheader;
    csvin_row *rows; /* data rows, in file order; blank lines are skipped */
    size_t nrows;
    csvin_encoding encoding; /* the encoding that was read (never AUTO after a parse) */
} csvin_doc;

/* What csvin_check changed besides normalising, for the summary. */
typedef struct {
    size_t id15;          /* 15-digit ID numbers converted to 18 digits */
    size_t gender_filled; /* empty genders filled from the ID number */
    size_t bad_rows;      /* rows with at least one problem */
} csvin_stats;

/* Set d to an empty document. Call once before csvin_parse or
 * csvin_read_file. */
void csvin_init(csvin_doc *d);

/* Free everything d holds and make it empty again (safe to call twice).
 * Ownership: d owns all of its memory. Each row's cells array and the
 * strings it points to are ONE allocation (as are header, header_raw and
 * their strings): never free or realloc a single cell; copy what must
 * outlive d. */
void csvin_free(csvin_doc *d);

/* Parse len bytes at buf (need not be NUL-terminated; buf stays owned by
 * the caller) into d, which must have been set up by csvin_init; whatever
 * d held before is freed first. enc says how the bytes are encoded
 * (CSVIN_ENC_AUTO: detect); d->encoding says what was read.
 * Returns 0 on success: d holds the header as written (at least one name,
 * none empty, no duplicates; header_raw = header until csvin_header_resolve)
 * and 0 or more rows.
 * Returns -1 on the first error, with d empty and err (if errlen > 0)
 * holding "line N: reason", e.g. "line 7: 5 cells, header has 6". Errors:
 * empty input, bad quoting, bytes that are not text in the encoding, NUL
 * bytes, a row whose cell count differs from the header's, an empty or
 * duplicate header name, more than CSVIN_COLS_MAX columns, a cell over
 * CSVIN_CELL_MAX bytes, more than CSVIN_ROWS_MAX rows, out of memory. */
int csvin_parse_enc(csvin_doc *d, const char *buf, size_t len, csvin_encoding enc, char *err,
                    size_t errlen);

/* Resolve every header name of a parsed d to its field (field name,
 * Chinese column name, declared label; "id" stays "id"): header becomes the
 * canonical names, header_raw keeps what was written. 0, or -1 with d
 * unchanged and err listing every unknown name with the nearest known one
 * ("line 1: unknown field 'phnoe' (did you mean 'phone'?); ...") and every
 * field named by two columns (手机 and phone). The CLI must declare the
 * office's fields (schema_field_declare) before, or they are unknown. */
int csvin_header_resolve(csvin_doc *d, char *err, size_t errlen);

/* csvin_parse_enc with CSVIN_ENC_AUTO. */
int csvin_parse(csvin_doc *d, const char *buf, size_t len, char *err, size_t errlen);

/* Read the file at path (at most CSVIN_FILE_MAX bytes; regular files, pipes
 * and devices alike), parse it as csvin_parse_enc does and resolve its
 * header (csvin_header_resolve): the import's way in. Returns 0 or -1;
 * on failure d is empty and err holds the reason without the path, which
 * the caller puts in front: "No such file or directory", "line N: ...". */
int csvin_read_file_enc(csvin_doc *d, const char *path, csvin_encoding enc, char *err,
                        size_t errlen);

/* csvin_read_file_enc with CSVIN_ENC_AUTO. */
int csvin_read_file(csvin_doc *d, const char *path, char *err, size_t errlen);

/* Parse the word of `--encoding` (utf-8, utf8, gb18030, gbk, gb2312, auto;
 * any case) into *out. 0, or -1 for an unknown word. */
int csvin_encoding_parse(csvin_encoding *out, const char *word);

/* "UTF-8", "GB18030" or "auto", static. */
const char *csvin_encoding_name(csvin_encoding enc);

/* Normalise and check every value of every row (schema_row_normalize:
 * NFKC, date styles, 15-digit IDs, vocabularies, cross-checks), replacing
 * each row's cells with the normalised values, and add every problem to pl
 * (line = the row's line). A row with problems is marked bad and keeps its
 * cells as written. When the header has id_number but no gender column, a
 * gender column is added so that genders filled from the ID number reach
 * the import. today is "YYYY-MM-DD". *st (may be NULL) receives the
 * counts. Returns UERR_OK (no problem), UERR_INVALID (problems in pl) or
 * UERR_NOMEM. Group pl with problem_groups for display. */
uerr csvin_check(csvin_doc *d, const char *today, csvin_stats *st, problem_list *pl);

#endif
