/* csvcheck.c - checking an import file's values before anything is sent
 * (see csvin.h: csvin_check): every row normalised in place by the schema's
 * one row function, every problem of every row collected, 15-digit IDs and
 * genders filled from the ID counted. Split from csvin.c, which decodes the
 * bytes; this file never reads a file. */
#include "cli/csvin.h"

#include <stdlib.h>
#include <string.h>

#include "proto/schema.h"

/* Replaces row r's cells by vals (n strings) in one block. */
static int row_replace(csvin_row *r, char *const *vals, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(vals[i]) + 1;
    char **blk = malloc(n * sizeof(char *) + bytes);
    if (!blk)
        return -1;
    char *p = (char *)(blk + n);
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(vals[i]) + 1;
        blk[i] = memcpy(p, vals[i], k);
        p += k;
    }
    free(r->cells);
    r->cells = blk;
    r->ncells = n;
    return 0;
}

/* Adds a "gender" column (empty cells) when the header has id_number but
 * no gender, so genders filled from ID numbers have a place. */
static int gender_column_add(csvin_doc *d)
{
    int has_id = 0;
    for (size_t i = 0; i < d->nheader; i++) {
        if (strcmp(d->header[i], "gender") == 0)
            return 0;
        has_id |= strcmp(d->header[i], "id_number") == 0;
    }
    if (!has_id)
        return 0;
    size_t n = d->nheader + 1;
    char **names = malloc(n * sizeof(char *)), **raws = malloc(n * sizeof(char *));
    int rc = -1;
    if (!names || !raws)
        goto cleanup;
    for (size_t i = 0; i + 1 < n; i++)
        names[i] = d->header[i], raws[i] = d->header_raw[i];
    names[n - 1] = raws[n - 1] = "gender";
    for (size_t r = 0; r < d->nrows; r++) {
        char **vals = malloc(n * sizeof(char *));
        if (!vals)
            goto cleanup;
        for (size_t i = 0; i + 1 < n; i++)
            vals[i] = d->rows[r].cells[i];
        vals[n - 1] = "";
        int k = row_replace(&d->rows[r], vals, n);
        free(vals);
        if (k != 0)
            goto cleanup;
    }
    /* the header block, rebuilt with both arrays as header_resolve does */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(names[i]) + strlen(raws[i]) + 2;
    char **blk = malloc(2 * n * sizeof(char *) + bytes);
    if (!blk)
        goto cleanup;
    char *p = (char *)(blk + 2 * n);
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(names[i]) + 1, b = strlen(raws[i]) + 1;
        blk[i] = memcpy(p, names[i], a);
        p += a;
        blk[n + i] = memcpy(p, raws[i], b);
        p += b;
    }
    free(d->header);
    d->header = blk;
    d->header_raw = blk + n;
    d->nheader = n;
    rc = 0;
cleanup:
    free(names);
    free(raws);
    return rc;
}

uerr csvin_check(csvin_doc *d, const char *today, csvin_stats *st, problem_list *pl)
{
    schema_row_stats rs = {0};
    csvin_stats local = {0};
    char **out = NULL;
    uerr rc = UERR_NOMEM;

    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (gender_column_add(d) != 0)
        return UERR_NOMEM;
    out = calloc(d->nheader ? d->nheader : 1, sizeof *out);
    if (!out)
        return UERR_NOMEM;
    for (size_t r = 0; r < d->nrows; r++) {
        csvin_row *row = &d->rows[r];
        uerr k = schema_row_normalize(out, NULL, &rs, (const char *const *)d->header,
                                      (const char *const *)row->cells, row->ncells, today,
                                      row->line, pl);
        if (k == UERR_NOMEM)
            goto cleanup;
        row->bad = k != UERR_OK;
        st->bad_rows += row->bad;
        int fail = !row->bad && row_replace(row, out, row->ncells) != 0;
        for (size_t i = 0; i < row->ncells; i++) {
            free(out[i]);
            out[i] = NULL;
        }
        if (fail)
            goto cleanup;
    }
    st->id15 = rs.id15;
    st->gender_filled = rs.gender_filled;
    rc = st->bad_rows ? UERR_INVALID : UERR_OK;
cleanup:
    free(out);
    return rc;
}
