/* report.c - unionctl's membership work commands: stats (the counts the
 * federation reports upward), duplicates, merge and transfer (see cli.h).
 * The build and print steps of their rows in cli/table.c: a build step
 * checks what only it can and adds its pairs to the request (docs/CONTROL.md);
 * a print step renders the reply: a table for people, --csv for scripts. */
#include "cli/cli.h"
#include "cli/i18n.h"
#include "cli/render.h"
#include "cli/xlsx.h"
#include "proto/buf.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_BY_MAX 8

/* "--by office, category" -> fields; checks names so a typo is a usage
 * error before anything is sent. Returns 0 or EXIT_USAGE. */
static int split_by(char *by, char **fields, size_t *n)
{
    *n = 0;
    for (char *save = NULL, *t = strtok_r(by, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        while (len && t[len - 1] == ' ')
            t[--len] = 0;
        if (!*t)
            continue;
        if (!schema_name_valid(t))
            return cli_usage_error(_("--by: '%s' is not a field name"), t);
        if (*n == STATS_BY_MAX)
            return cli_usage_error(_("--by: at most %d fields"), STATS_BY_MAX);
        fields[(*n)++] = t;
    }
    return 0;
}

static char *num_str(long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return strdup(buf);
}

/* What stats's build hands its print: the --by fields, pointing into the
 * copy of the option kept after them (one allocation, freed by cli_run). */
typedef struct {
    char *by[STATS_BY_MAX];
    size_t nby;
    int grid; /* --across: by[nby - 1] is the column field */
    char text[];
} stats_state;

/* --across F: exactly one --by field for the rows, F for the columns,
 * neither a set field. Then every record counted falls in exactly one
 * (row, column) group of `--by ROW,F`, so the grid's row and column
 * totals computed from the groups are exact counts of records. The
 * across field is appended to st->by. Returns 0 or EXIT_USAGE. */
static int stats_grid_check(stats_state *st, const char *across)
{
    if (st->nby != 1)
        return cli_usage_error(_("--across wants exactly one --by field (the rows)"));
    if (!schema_name_valid(across))
        return cli_usage_error(_("--across: '%s' is not a field name"), across);
    if (strcmp(across, st->by[0]) == 0)
        return cli_usage_error(_("--across: the rows are already by '%s'"), across);
    const char *fields[2] = {st->by[0], across};
    for (size_t i = 0; i < 2; i++)
        if (schema_field_is_set(fields[i]))
            return cli_usage_error(_("--across: '%s' is a set (a record has several values); "
                                     "a grid needs one value per record"),
                                   fields[i]);
    st->by[st->nby++] = (char *)across;
    st->grid = 1;
    return 0;
}

int cli_stats_build(cli_call *c)
{
    const char *by = c->o.by ? c->o.by : "";
    stats_state *st = calloc(1, sizeof *st + strlen(by) + 1);
    if (!st) {
        fputs(_("unionctl: out of memory\n"), stderr);
        return EXIT_FAIL;
    }
    c->state = st;
    strcpy(st->text, by);
    int rc = split_by(st->text, st->by, &st->nby);
    if (rc)
        return rc;
    if (c->o.across && (rc = stats_grid_check(st, c->o.across)) != 0)
        return rc;
    if (c->o.kind && !cli_kind_is_member(c->o.kind))
        msg_map_str(&c->req.map, "kind", c->o.kind);
    if (c->o.since && !schema_date_valid(c->o.since))
        return cli_usage_error(_("--since: '%s' is not a date (YYYY-MM-DD)"), c->o.since);
    if (c->o.until && !schema_date_valid(c->o.until))
        return cli_usage_error(_("--until: '%s' is not a date (YYYY-MM-DD)"), c->o.until);
    msg_map_key(&c->req.map, "by");
    msgpack_pack_array(&c->req.pk, st->nby);
    for (size_t i = 0; i < st->nby; i++)
        msg_pack_str(&c->req.pk, st->by[i]);
    if ((rc = cli_pack_where(c)) != 0)
        return rc;
    if (c->o.since)
        msg_map_str(&c->req.map, "since", c->o.since);
    if (c->o.until)
        msg_map_str(&c->req.map, "until", c->o.until);
    return 0;
}

/* The groups as rows: one cell per --by field, then the count; one more row
 * for the total. Malloc'd, (ng + 1) * (nby + 1) cells. */
static char **stats_cells(const stats_state *st, const msgpack_object_array *groups, int csv)
{
    size_t ng = groups ? groups->size : 0, ncols = st->nby + 1;
    char **cells = calloc((ng + 1) * ncols + 1, sizeof *cells);
    for (size_t g = 0; cells && g < ng; g++) {
        for (size_t f = 0; f < st->nby; f++) {
            char *v = msg_get_str(&groups->ptr[g], st->by[f]);
            /* a person reading the table needs to see the empty group */
            if (!csv && v && !*v) {
                free(v);
                v = strdup(_("(none)"));
            } else if (!csv && v && cli_value_shown(st->by[f], v) != v) {
                char *word = strdup(cli_value_shown(st->by[f], v));
                free(v);
                v = word;
            }
            cells[g * ncols + f] = v;
        }
        cells[g * ncols + st->nby] = num_str((long long)msg_get_int(&groups->ptr[g], "count", 0));
    }
    return cells;
}

/* ---- stats --across: the grid ---------------------------------------------- */

typedef struct {
    char **rows, **cols; /* distinct values, sorted (malloc'd) */
    size_t nrows, ncols;
    long long *n; /* nrows * ncols counts */
    long long *rowsum, *colsum, total;
} stats_grid;

static void grid_free(stats_grid *g)
{
    for (size_t i = 0; i < g->nrows; i++)
        free(g->rows[i]);
    for (size_t i = 0; i < g->ncols; i++)
        free(g->cols[i]);
    free(g->rows);
    free(g->cols);
    free(g->n);
    free(g->rowsum);
    free(g->colsum);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of v in the sorted distinct list, or adds it (unsorted) when
 * add. SIZE_MAX when absent. */
static size_t values_find(char **vals, size_t n, const char *v)
{
    char *const *at = bsearch(&v, vals, n, sizeof *vals, str_cmp);
    return at ? (size_t)(at - vals) : (size_t)-1;
}

/* The distinct values of field in the groups, sorted, into *out. */
static int values_collect(char ***out, size_t *n, const msgpack_object_array *groups,
                          const char *field)
{
    char **v = calloc(groups->size + 1, sizeof *v);
    size_t k = 0;
    if (!v)
        return -1;
    for (uint32_t i = 0; i < groups->size; i++) {
        char *s = msg_get_str(&groups->ptr[i], field);
        if (!s)
            s = strdup("");
        if (!s)
            goto oom;
        v[k++] = s;
    }
    qsort(v, k, sizeof *v, str_cmp);
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        if (w && strcmp(v[w - 1], v[i]) == 0)
            free(v[i]);
        else
            v[w++] = v[i];
    }
    *out = v;
    *n = w;
    return 0;
oom:
    while (k)
        free(v[--k]);
    free(v);
    return -1;
}

/* The grid of a `--by ROW,COL` reply. 0 or -1 (out of memory). */
static int grid_build(stats_grid *g, const stats_state *st, const msgpack_object_array *groups)
{
    static const msgpack_object_array none = {0, NULL};
    if (!groups)
        groups = &none;
    memset(g, 0, sizeof *g);
    if (values_collect(&g->rows, &g->nrows, groups, st->by[0]) != 0 ||
        values_collect(&g->cols, &g->ncols, groups, st->by[1]) != 0)
        return -1;
    g->n = calloc(g->nrows * g->ncols + 1, sizeof *g->n);
    g->rowsum = calloc(g->nrows + 1, sizeof *g->rowsum);
    g->colsum = calloc(g->ncols + 1, sizeof *g->colsum);
    if (!g->n || !g->rowsum || !g->colsum)
        return -1;
    for (uint32_t i = 0; i < groups->size; i++) {
        char *r = msg_get_str(&groups->ptr[i], st->by[0]),
             *c = msg_get_str(&groups->ptr[i], st->by[1]);
        size_t ri = values_find(g->rows, g->nrows, r ? r : ""),
               ci = values_find(g->cols, g->ncols, c ? c : "");
        long long k = (long long)msg_get_int(&groups->ptr[i], "count", 0);
        free(r);
        free(c);
        assert(ri < g->nrows && ci < g->ncols);
        g->n[ri * g->ncols + ci] += k;
        g->rowsum[ri] += k;
        g->colsum[ci] += k;
        g->total += k;
    }
    return 0;
}

/* The grid as cells: a row per value (then "total"), a column per value
 * (then "total"); the first column is the row value. (nrows + 1) *
 * (ncols + 2) cells, malloc'd; head gets ncols + 2 titles (borrowed from
 * g and st). words: a person reads it ("(none)", the locale's "total"). */
static char **grid_cells(const char **head, const stats_state *st, const stats_grid *g, int words)
{
    size_t w = g->ncols + 2;
    char **cells = calloc((g->nrows + 1) * w + 1, sizeof *cells);
    const char *total = words ? _("total") : "total";
    head[0] = words ? cli_column_title(st->by[0]) : st->by[0];
    for (size_t c = 0; c < g->ncols; c++)
        head[c + 1] = words && !*g->cols[c] ? _("(none)") : g->cols[c];
    head[g->ncols + 1] = total;
    for (size_t r = 0; cells && r <= g->nrows; r++) {
        const char *name = r < g->nrows ? g->rows[r] : total;
        if (words && r < g->nrows && !*name)
            name = _("(none)");
        else if (words && r < g->nrows)
            name = cli_value_shown(st->by[0], name);
        cells[r * w] = strdup(name);
        for (size_t c = 0; c <= g->ncols; c++) {
            long long v = r < g->nrows ? (c < g->ncols ? g->n[r * g->ncols + c] : g->rowsum[r])
                                       : (c < g->ncols ? g->colsum[c] : g->total);
            cells[r * w + 1 + c] = num_str(v);
        }
    }
    return cells;
}

static void json_list(const char *key, char *const *v, size_t n)
{
    printf("  \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", stdout);
        render_json_string(stdout, v[i]);
    }
    printf("],\n");
}

/* --json of the grid (docs/unionctl.1 "stats"):
 * {"by", "across", "rows": [row values], "columns": [column values],
 *  "counts": [[per column] per row], "row_totals": [...],
 *  "column_totals": [...], "total": N} */
static void grid_json(const stats_state *st, const stats_grid *g)
{
    printf("{\n  \"by\": ");
    render_json_string(stdout, st->by[0]);
    printf(",\n  \"across\": ");
    render_json_string(stdout, st->by[1]);
    printf(",\n");
    json_list("rows", g->rows, g->nrows);
    json_list("columns", g->cols, g->ncols);
    printf("  \"counts\": [");
    for (size_t r = 0; r < g->nrows; r++) {
        printf("%s[", r ? ", " : "");
        for (size_t c = 0; c < g->ncols; c++)
            printf("%s%lld", c ? ", " : "", g->n[r * g->ncols + c]);
        printf("]");
    }
    printf("],\n  \"row_totals\": [");
    for (size_t r = 0; r < g->nrows; r++)
        printf("%s%lld", r ? ", " : "", g->rowsum[r]);
    printf("],\n  \"column_totals\": [");
    for (size_t c = 0; c < g->ncols; c++)
        printf("%s%lld", c ? ", " : "", g->colsum[c]);
    printf("],\n  \"total\": %lld\n}\n", g->total);
}

/* A workbook's column title: the field's Chinese label, else the word. */
static const char *xlsx_title(const char *name)
{
    const schema_field *f = schema_field_find(name);
    if (f && f->label && *f->label)
        return f->label;
    if (strcmp(name, "count") == 0)
        return "人数";
    return strcmp(name, "total") == 0 ? "合计" : name;
}

/* Rows for a workbook: one sheet named after the command, the first
 * column (a field's values) as text. */
static int stats_xlsx(const char *path, const char **head, size_t ncols, char *const *cells,
                      size_t nrows, int grid)
{
    unsigned char *text = calloc(ncols + 1, 1);
    xlsx_book *b = text ? xlsx_open(path) : NULL;
    if (!b) {
        free(text);
        return EXIT_FAIL;
    }
    text[0] = 1;
    const char **titles = (const char **)head;
    for (size_t i = 0; i < ncols; i++) /* a grid's columns are values, not names */
        if (!grid || i == 0 || i == ncols - 1)
            titles[i] = xlsx_title(head[i]);
    int rc = xlsx_sheet(b, "统计", head, ncols, (const char *const *)cells, nrows, text);
    rc |= xlsx_close(b);
    free(text);
    if (rc)
        return EXIT_FAIL;
    printf(_("written to %s\n"), path);
    return EXIT_OK;
}

static int stats_grid_print(cli_call *c)
{
    const stats_state *st = c->state;
    stats_grid g;
    int rc = EXIT_OK;
    const char **head = NULL;
    char **cells = NULL;
    if (grid_build(&g, st, msg_get_array(c->rep.result, "groups")) != 0)
        goto oom;
    assert(g.total == (long long)msg_get_int(c->rep.result, "total", 0));
    if (c->o.json) {
        grid_json(st, &g);
        goto cleanup;
    }
    size_t w = g.ncols + 2;
    int words = !c->o.csv;
    head = calloc(w, sizeof *head);
    if (!head || !(cells = grid_cells(head, st, &g, words && !c->o.xlsx)))
        goto oom;
    for (size_t i = 0; i < (g.nrows + 1) * w; i++)
        if (!cells[i])
            goto oom;
    if (c->o.xlsx)
        rc = stats_xlsx(c->o.xlsx, head, w, cells, g.nrows + 1, 1);
    else if (c->o.csv) {
        render_csv_row(stdout, head, w);
        for (size_t r = 0; r <= g.nrows; r++)
            render_csv_row(stdout, (const char *const *)&cells[r * w], w);
    } else {
        render_table(stdout, head, w, (const char *const *)cells, g.nrows + 1);
    }
    goto cleanup;
oom:
    fputs(_("unionctl: out of memory\n"), stderr);
    rc = EXIT_FAIL;
cleanup:
    for (size_t i = 0; cells && i < (g.nrows + 1) * (g.ncols + 2); i++)
        free(cells[i]);
    free(cells);
    free(head);
    grid_free(&g);
    return rc;
}

int cli_stats_print(cli_call *c)
{
    const stats_state *st = c->state;
    if (st->grid)
        return stats_grid_print(c);
    if (c->o.json) {
        cli_print_json(c->rep.result);
        return EXIT_OK;
    }
    long long total = (long long)msg_get_int(c->rep.result, "total", 0);
    const msgpack_object_array *groups = msg_get_array(c->rep.result, "groups");
    size_t ng = groups ? groups->size : 0, ncols = st->nby + 1;
    int rc = EXIT_OK;
    if (st->nby == 0 && !c->o.csv && !c->o.xlsx) {
        printf("%lld\n", total);
        return EXIT_OK;
    }
    const char **head = malloc(ncols * sizeof *head);
    char **cells = stats_cells(st, groups, c->o.csv);
    if (!head || !cells) {
        free(head);
        free(cells);
        fputs(_("unionctl: out of memory\n"), stderr);
        return EXIT_FAIL;
    }
    for (size_t f = 0; f < st->nby; f++)
        head[f] = st->by[f];
    head[st->nby] = "count";
    if (c->o.xlsx) {
        if (st->nby) { /* the total row, as the table shows it */
            cells[ng * ncols] = strdup("total");
            cells[ng * ncols + st->nby] = num_str(total);
        }
        rc = stats_xlsx(c->o.xlsx, head, ncols, cells, ng + (st->nby ? 1 : 0), 0);
    } else if (c->o.csv) {
        render_csv_row(stdout, head, ncols);
        for (size_t g = 0; g < ng; g++)
            render_csv_row(stdout, (const char *const *)&cells[g * ncols], ncols);
    } else {
        /* The total counts members, so with a set field in --by (a member
         * in several groups) it is less than the sum of the rows. */
        cells[ng * ncols] = strdup(_("total"));
        cells[ng * ncols + st->nby] = num_str(total);
        for (size_t f = 0; f < ncols; f++)
            head[f] = cli_column_title(head[f]);
        render_table(stdout, head, ncols, (const char *const *)cells, ng + 1);
    }
    for (size_t i = 0; i < (ng + 1) * ncols; i++)
        free(cells[i]);
    free(cells);
    free(head);
    return rc;
}

static char *side_str(const msgpack_object *pair, const char *side, const char *key)
{
    char *v = msg_get_str(msg_get(pair, side), key);
    return v ? v : strdup("");
}

int cli_duplicates_build(cli_call *c)
{
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    return 0;
}

/* One row per pair: keep, name, office, dup, name, office, reason, shared. */
enum { DUP_NC = 8 };
static char **duplicate_cells(const msgpack_object_array *pairs)
{
    size_t np = pairs ? pairs->size : 0;
    char **cells = calloc(np * DUP_NC + 1, sizeof *cells);
    for (size_t i = 0; cells && i < np; i++) {
        const msgpack_object *p = &pairs->ptr[i];
        char **row = &cells[i * DUP_NC];
        row[0] = side_str(p, "keep", "id");
        row[1] = side_str(p, "keep", "name");
        row[2] = side_str(p, "keep", "office");
        row[3] = side_str(p, "dup", "id");
        row[4] = side_str(p, "dup", "name");
        row[5] = side_str(p, "dup", "office");
        row[6] = msg_get_str(p, "reason");
        /* the value the pair shares, masked unless --reveal */
        row[7] = side_str(p, "keep", msg_get_bool(p, "certain", 0) ? "id_number" : "phone");
    }
    return cells;
}

int cli_duplicates_print(cli_call *c)
{
    const msgpack_object_array *pairs = msg_get_array(c->rep.result, "pairs");
    size_t np = pairs ? pairs->size : 0;
    long long skipped = (long long)msg_get_int(c->rep.result, "skipped_phones", 0);
    if (np == 0 && !c->o.csv) {
        fputs(_("no likely duplicates\n"), stdout);
    } else {
        static const char *const head[DUP_NC] = {"keep", "name",   "office", "dup",
                                                 "name", "office", "reason", "shared"};
        cli_print_rows_free(&c->o, head, DUP_NC, duplicate_cells(pairs), np);
        if (!c->o.csv)
            printf(ngettext("%zu pair. The older record is listed first (keep); after checking, "
                            "fold the other into it with: unionctl merge KEEP DUP\n",
                            "%zu pairs. The older record is listed first (keep); after checking, "
                            "fold the other into it with: unionctl merge KEEP DUP\n",
                            np),
                   np);
    }
    if (skipped)
        printf(ngettext("note: %lld phone number shared by more than 1000 records (a placeholder?) "
                        "was not compared\n",
                        "note: %lld phone numbers shared by more than 1000 records (a "
                        "placeholder?) were not compared\n",
                        (unsigned long)skipped),
               skipped);
    return EXIT_OK;
}

/* "a, b, c" from a msgpack array of field names, each titled for people
 * (cli_field_title: its label in Chinese), or "-" (malloc'd). */
static char *joined_list(const msgpack_object_array *a)
{
    struct buf out = BUF_INIT;
    for (uint32_t i = 0; a && i < a->size; i++) {
        if (a->ptr[i].type != MSGPACK_OBJECT_STR)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)a->ptr[i].via.str.size, a->ptr[i].via.str.ptr);
        if ((out.len && buf_puts(&out, ", ") != UERR_OK) ||
            buf_puts(&out, cli_field_title(name)) != UERR_OK) {
            buf_free(&out);
            return NULL;
        }
    }
    if (!out.len && buf_puts(&out, "-") != UERR_OK) {
        buf_free(&out);
        return NULL;
    }
    return buf_detach(&out, NULL);
}

int cli_merge_build(cli_call *c)
{
    msg_map_str(&c->req.map, "keep", c->args[0]);
    msg_map_str(&c->req.map, "dup", c->args[1]);
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    return 0;
}

int cli_merge_print(cli_call *c)
{
    char *keep = msg_get_str(c->rep.result, "keep"), *dup = msg_get_str(c->rep.result, "dup");
    const msgpack_object_array *diff = msg_get_array(c->rep.result, "differ");
    char *taken = joined_list(msg_get_array(c->rep.result, "taken"));
    char *added = joined_list(msg_get_array(c->rep.result, "added"));
    const char *k = keep ? keep : c->args[0], *d = dup ? dup : c->args[1];
    printf(_("merged %s into %s (%s is now status=merged, merged_into=%s)\n"
             "  fields taken:       %s\n"
             "  set elements added: %s\n"),
           d, k, d, k, taken ? taken : "?", added ? added : "?");
    if (diff && diff->size) {
        printf(_("  kept (the two differed; unionctl edit %s FIELD=VALUE if DUP was right):\n"), k);
        for (uint32_t i = 0; i < diff->size; i++) {
            char *f = msg_get_str(&diff->ptr[i], "field");
            char *kv = msg_get_str(&diff->ptr[i], "keep"), *dv = msg_get_str(&diff->ptr[i], "dup");
            printf(_("    %s: %s (DUP had %s)\n"), f ? cli_field_title(f) : "?",
                   kv && *kv ? cli_value_shown(f ? f : "", kv) : _("(none)"),
                   dv && *dv ? cli_value_shown(f ? f : "", dv) : _("(none)"));
            free(f);
            free(kv);
            free(dv);
        }
    }
    free(taken);
    free(added);
    free(keep);
    free(dup);
    return EXIT_OK;
}

int cli_transfer_build(cli_call *c)
{
    msg_map_str(&c->req.map, "id", c->args[0]);
    msg_map_str(&c->req.map, "office", c->args[1]);
    msg_map_bool(&c->req.map, "force", c->o.force);
    return 0;
}

int cli_transfer_print(cli_call *c)
{
    const char *id = c->args[0];
    char *from = msg_get_str(c->rep.result, "from"), *to = msg_get_str(c->rep.result, "office");
    if (msg_get_int(c->rep.result, "changed", 0))
        printf(_("%s moved from office %s to %s\n"), id, from && *from ? from : _("(none)"),
               to ? to : "?");
    else
        printf(_("nothing changed: %s is already in office %s\n"), id, to ? to : "?");
    free(from);
    free(to);
    return EXIT_OK;
}
