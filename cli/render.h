/* render.h - unionctl output: aligned tables for people (CJK-aware widths,
 * control characters made visible so a row never breaks), RFC 4180 CSV rows
 * and JSON (strings, and any msgpack object) for scripts.
 *
 * All functions write to a caller-owned stdio stream and return nothing:
 * the caller checks ferror(f) (and fflush) once at the end, which is where
 * a full disk or a closed pipe shows up. Nothing here keeps a pointer to the
 * caller's data after it returns. */
#ifndef UNIOND_RENDER_H
#define UNIOND_RENDER_H

#include <stddef.h>
#include <stdio.h>

#include <msgpack.h>

/* Cells wider than this many terminal columns are truncated in tables
 * (except in the last column). */
#define RENDER_CELL_WIDTH_MAX 40

/* Print a table: the header row, a rule line of '-' under each column, then
 * nrows rows. head has ncols entries; cells is row-major, nrows * ncols
 * entries; a NULL entry (in head or cells) is shown empty. Column widths are
 * terminal display widths (CJK characters count 2); columns are separated by
 * two spaces; no line ends in spaces (not even a cell's own). Newlines and carriage returns
 * inside a cell are shown as U+23CE, tabs and other control characters as a
 * space, invalid UTF-8 bytes as U+FFFD. A cell wider than
 * RENDER_CELL_WIDTH_MAX columns is cut on a character boundary and ends in
 * U+2026, except in the last column, which is never cut. head may be NULL
 * (no header and no rule line are printed). Prints nothing when ncols is 0.
 * The strings stay owned by the caller. */
void render_table(FILE *f, const char *const *head, size_t ncols, const char *const *cells,
                  size_t nrows);

/* Print one CSV record of n fields (RFC 4180) ending in "\n". A field is
 * quoted when it contains a comma, a double quote, CR or LF, when it starts
 * or ends with a space or tab, or starts with a UTF-8 byte order mark;
 * double quotes inside are doubled (libcsv's csv_fwrite writes quoted fields). A NULL field is
 * empty. A record of one empty field is written as "" so that it is not read back as a blank line.
 * The strings stay owned by the caller. */
void render_csv_row(FILE *f, const char *const *cells, size_t n);

/* --excel: from now on render_csv_row writes for Excel and WPS: a UTF-8
 * byte order mark before the first row, CRLF line ends, and in the
 * columns the first row (the header) names ID-like
 * (render_column_is_idlike) each non-empty value as ="VALUE", so that
 * Excel shows the digits as text instead of a rounded number. on = 0
 * turns it off (and forgets the header). */
void render_csv_excel(int on);
/* 1 if a column of this name holds IDs, phones or codes that a
 * spreadsheet must keep as text. */
int render_column_is_idlike(const char *name);

/* Print s as a JSON string literal (written by libjansson), quotes
 * included: \" \\ \n \r \t \b \f escaped, other bytes below 0x20 as \u00XX, valid UTF-8 passed
 * through, each invalid UTF-8 byte replaced by U+FFFD. NULL prints null. s stays owned by the
 * caller. */
void render_json_string(FILE *f, const char *s);

/* The same for len bytes at s, which need not be NUL-terminated and may
 * contain NUL bytes (printed as \u0000). */
void render_json_string_n(FILE *f, const char *s, size_t len);

/* Print a msgpack object as JSON, with no trailing newline. nil -> null,
 * booleans, integers, floats (shortest form that reads back exactly; NaN and
 * infinities -> null), strings, bin and ext data as base64 strings, arrays,
 * maps in their stored order. Map keys that are not strings are printed as
 * a string holding their compact JSON form (1 -> "1"). pretty = 1 indents
 * by two spaces per level with one member per line, like
 * `python3 -m json.tool`; pretty = 0 is compact, without any spaces.
 * Nesting deeper than 512 levels is printed as null. Integers above
 * INT64_MAX (libjansson's limit; replies never carry them) are strings of
 * their digits. Built as a libjansson tree, written by json_dumpf. o stays owned by the
 * caller (its zone). */
void render_json_msgpack(FILE *f, const msgpack_object *o, int pretty);

#endif
