/* import_rows.h - the rows of an import request (docs/CONTROL.md), one
 * at a time, for op_import.c. Part of the ctl room. */
#ifndef UNIOND_IMPORT_ROWS_H
#define UNIOND_IMPORT_ROWS_H

#include "daemon/ctl/common.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* The rows of a request, one at a time: either the array "rows",
 * unpacked with the request, or "rows_bin", a bin holding that same
 * array's msgpack bytes (docs/CONTROL.md), unpacked here one row at a
 * time so that only one row's objects exist at once (unpacked whole, the
 * rows of a million-row file are ~340 MB of msgpack objects). */
typedef struct {
    const msgpack_object_array *arr; /* "rows", or NULL */
    const char *bin;                 /* "rows_bin": the array's bytes (the request's) */
    size_t binlen, off;              /* off: where the next row starts */
    msgpack_unpacked cur;            /* the current row of bin */
    const char *dropped;             /* the bin's pages before it were given back */
} import_rows;

/* Open the rows of request req: "rows_bin" when given, else "rows". *n
 * receives their number. 0, or -1 when neither is there or they are
 * malformed (the caller refuses the request). r is then import_rows_free's
 * either way. */
int import_rows_open(import_rows *r, uint32_t *n, const msgpack_object *req);

/* Row ri (0, 1, ... in order, each once), or NULL when it cannot be read.
 * Borrowed: valid until the next call. The rows before it may no longer
 * be read (their pages are given back). */
const msgpack_object *import_rows_get(import_rows *r, uint32_t ri);

/* Free what r holds (not the request). */
void import_rows_free(import_rows *r);

/* Small allocations freed all at once (import_blocks_free), carved from
 * 1 MiB blocks, each 16-byte aligned: for what lives as long as the row
 * checks (a million rows' entries are then a few hundred frees). */
typedef struct import_block import_block;
/* n bytes from *head's newest block (a new block when it is full); NULL
 * when out of memory. */
void *import_block_alloc(import_block **head, size_t n);
/* Free every block of *head (NULL after). */
void import_blocks_free(import_block **head);

/* The value of field among a row's assignments, "" if not given. */
const char *import_row_value(const assignment *a, size_t na, const char *field);
/* The field a "field: message" names, into buf (returned). */
const char *import_message_field(char *buf, size_t len, const char *msg);

#endif
