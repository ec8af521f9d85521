/* fuzz_csv.c - fuzz target for the import CSV decoder (cli/csvin.c) and the
 * CSV writer (cli/render.c). Any input must be parsed or refused without a
 * crash or leak; when it parses, writing the header and rows back out with
 * render_csv_row and parsing that again must give exactly the same cells
 * (abort() otherwise). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/csvin.h"
#include "cli/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cells_same(char *const *a, char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i], b[i]) != 0) {
            fprintf(stderr, "fuzz_csv: cell %zu changed in the round trip\n", i + 1);
            abort();
        }
    }
}

static void round_trip_check(const csvin_doc *d)
{
    char *text = NULL;
    size_t len = 0;
    char err[256];
    csvin_doc again;

    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    render_csv_row(f, (const char *const *)d->header, d->nheader);
    for (size_t i = 0; i < d->nrows; i++)
        render_csv_row(f, (const char *const *)d->rows[i].cells, d->rows[i].ncells);
    if (fclose(f) != 0) {
        free(text);
        return;
    }

    csvin_init(&again);
    if (csvin_parse_enc(&again, text, len, CSVIN_ENC_UTF8, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_csv: re-parse of written CSV failed: %s\n", err);
        abort();
    }
    if (again.nheader != d->nheader || again.nrows != d->nrows) {
        fprintf(stderr, "fuzz_csv: round trip changed the shape\n");
        abort();
    }
    cells_same(again.header, d->header, d->nheader);
    for (size_t i = 0; i < d->nrows; i++) {
        if (again.rows[i].ncells != d->rows[i].ncells)
            abort();
        cells_same(again.rows[i].cells, d->rows[i].cells, d->rows[i].ncells);
    }
    csvin_free(&again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    csvin_doc d;
    char err[256];

    csvin_init(&d);
    if (csvin_parse(&d, (const char *)data, size, err, sizeof err) == 0) {
        round_trip_check(&d);
        /* the import's next steps: header names, then every value */
        if (csvin_header_resolve(&d, err, sizeof err) == 0) {
            problem_list pl;
            csvin_stats st;
            problem_list_init(&pl);
            uerr rc = csvin_check(&d, "2026-11-28", &st, &pl);
            if (rc == UERR_OK && (problem_count(&pl) != 0 || st.bad_rows != 0))
                abort();
            if (rc == UERR_INVALID && (problem_count(&pl) == 0 || st.bad_rows == 0))
                abort();
            problem_group *g = NULL;
            size_t ng = 0;
            if (problem_groups(&g, &ng, &pl) == UERR_OK)
                for (size_t i = 0; i < ng; i++) {
                    char line[512];
                    problem_group_format(line, sizeof line, &g[i]);
                }
            free(g);
            problem_list_free(&pl);
        } else if (!err[0]) {
            abort();
        }
    }
    csvin_free(&d);
    return 0;
}
