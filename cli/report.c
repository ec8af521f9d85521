/* report.c - unionctl's membership work commands: stats (the counts the
 * federation reports upward), duplicates, merge and transfer (see cli.h).
 * The build and print steps of their rows in cli/table.c: a build step
 * checks what only it can and adds its pairs to the request (docs/CONTROL.md);
 * a print step renders the reply: a table for people, --csv for scripts. */
#include "cli/cli.h"
#include "cli/i18n.h"
#include "cli/render.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"

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
    char text[];
} stats_state;

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

int cli_stats_print(cli_call *c)
{
    const stats_state *st = c->state;
    long long total = (long long)msg_get_int(c->rep.result, "total", 0);
    const msgpack_object_array *groups = msg_get_array(c->rep.result, "groups");
    size_t ng = groups ? groups->size : 0, ncols = st->nby + 1;
    if (st->nby == 0 && !c->o.csv) {
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
    if (c->o.csv) {
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
    return EXIT_OK;
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

/* "a b c" from a msgpack array of strings, or "-" (malloc'd). */
static char *joined_list(const msgpack_object_array *a)
{
    size_t len = 2;
    for (uint32_t i = 0; a && i < a->size; i++)
        len += a->ptr[i].via.str.size + 2;
    char *out = calloc(1, len);
    for (uint32_t i = 0; out && a && i < a->size; i++) {
        if (a->ptr[i].type != MSGPACK_OBJECT_STR)
            continue;
        if (i)
            strcat(out, ", ");
        strncat(out, a->ptr[i].via.str.ptr, a->ptr[i].via.str.size);
    }
    if (out && !*out)
        strcpy(out, "-");
    return out;
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
