/* report.c - unionctl's membership work commands: stats (the counts the
 * federation reports upward), duplicates, merge and transfer (see cli.h).
 * Each command checks its arguments, sends one request (docs/CONTROL.md)
 * and renders the reply: a table for people, --json / --csv for scripts. */
#include "cli/cli.h"
#include "cli/render.h"
#include "cli/schemacmd.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_BY_MAX 8

static void pack_bool(msgpack_packer *pk, const char *key, int v)
{
    msg_pack_str(pk, key);
    v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

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
            return cli_usage_error("--by: '%s' is not a field name", t);
        if (*n == STATS_BY_MAX)
            return cli_usage_error("--by: at most %d fields", STATS_BY_MAX);
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

static int cmd_stats(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    char *bycopy = NULL, *by[STATS_BY_MAX];
    size_t nby = 0;
    int rc = cli_opts_parse(&o, argc, argv, "BFUwjc");
    if (rc)
        goto out;
    if (optind != argc) {
        rc = cli_usage_error("stats: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (o.by && (!(bycopy = strdup(o.by)) || (rc = split_by(bycopy, by, &nby)) != 0)) {
        rc = rc ? rc : EXIT_FAIL;
        goto out;
    }
    if (o.since && !schema_date_valid(o.since)) {
        rc = cli_usage_error("--since: '%s' is not a date (YYYY-MM-DD)", o.since);
        goto out;
    }
    if (o.until && !schema_date_valid(o.until)) {
        rc = cli_usage_error("--until: '%s' is not a date (YYYY-MM-DD)", o.until);
        goto out;
    }
    if ((rc = cli_where_check(o.where, o.nwhere)) != 0)
        goto out;
    cli_request_begin(&r, "stats", 2 + (o.since != NULL) + (o.until != NULL));
    msg_pack_str(&r.pk, "by");
    msgpack_pack_array(&r.pk, nby);
    for (size_t i = 0; i < nby; i++)
        msg_pack_str(&r.pk, by[i]);
    msg_pack_str(&r.pk, "where");
    msgpack_pack_array(&r.pk, (size_t)o.nwhere);
    for (int i = 0; i < o.nwhere; i++)
        msg_pack_str(&r.pk, o.where[i]);
    if (o.since)
        msg_pack_kv_str(&r.pk, "since", o.since);
    if (o.until)
        msg_pack_kv_str(&r.pk, "until", o.until);
    if ((rc = cli_request_send(&r, &rep)) != 0)
        goto done;
    if (o.json) {
        cli_print_json(rep.result);
        goto done;
    }
    long long total = (long long)msg_get_int(rep.result, "total", 0);
    const msgpack_object_array *groups = msg_get_array(rep.result, "groups");
    size_t ng = groups ? groups->size : 0, ncols = nby + 1;
    if (nby == 0 && !o.csv) {
        printf("%lld\n", total);
        goto done;
    }
    const char **head = malloc(ncols * sizeof *head);
    char **cells = calloc((ng + 1) * ncols + 1, sizeof *cells);
    if (!head || !cells) {
        free(head);
        free(cells);
        fprintf(stderr, "unionctl: out of memory\n");
        rc = EXIT_FAIL;
        goto done;
    }
    for (size_t f = 0; f < nby; f++)
        head[f] = by[f];
    head[nby] = "count";
    for (size_t g = 0; g < ng; g++) {
        for (size_t f = 0; f < nby; f++) {
            char *v = msg_get_str(&groups->ptr[g], by[f]);
            /* a person reading the table needs to see the empty group */
            if (!o.csv && v && !*v) {
                free(v);
                v = strdup("(none)");
            }
            cells[g * ncols + f] = v;
        }
        cells[g * ncols + nby] = num_str((long long)msg_get_int(&groups->ptr[g], "count", 0));
    }
    if (o.csv) {
        render_csv_row(stdout, head, ncols);
        for (size_t g = 0; g < ng; g++)
            render_csv_row(stdout, (const char *const *)&cells[g * ncols], ncols);
    } else {
        /* The total counts members, so with a set field in --by (a member
         * in several groups) it is less than the sum of the rows. */
        cells[ng * ncols] = strdup("total");
        cells[ng * ncols + nby] = num_str(total);
        render_table(stdout, head, ncols, (const char *const *)cells, ng + 1);
    }
    for (size_t i = 0; i < (ng + 1) * ncols; i++)
        free(cells[i]);
    free(cells);
    free(head);
done:
    cli_reply_free(&rep);
out:
    free(bycopy);
    free(o.where);
    return rc;
}

static char *side_str(const msgpack_object *pair, const char *side, const char *key)
{
    char *v = msg_get_str(msg_get(pair, side), key);
    return v ? v : strdup("");
}

static int cmd_duplicates(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "jcr");
    if (rc)
        goto out;
    if (optind != argc) {
        rc = cli_usage_error("duplicates: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    cli_request_begin(&r, "duplicates", 1);
    pack_bool(&r.pk, "reveal", o.reveal);
    if ((rc = cli_request_send(&r, &rep)) != 0)
        goto done;
    if (o.json) {
        cli_print_json(rep.result);
        goto done;
    }
    const msgpack_object_array *pairs = msg_get_array(rep.result, "pairs");
    size_t np = pairs ? pairs->size : 0;
    long long skipped = (long long)msg_get_int(rep.result, "skipped_phones", 0);
    if (np == 0 && !o.csv) {
        printf("no likely duplicates\n");
    } else {
        enum { NC = 8 };
        static const char *const head[NC] = {"keep", "name",   "office", "dup",
                                             "name", "office", "reason", "shared"};
        char **cells = calloc(np * NC + 1, sizeof *cells);
        for (size_t i = 0; cells && i < np; i++) {
            const msgpack_object *p = &pairs->ptr[i];
            char **row = &cells[i * NC];
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
        if (cells)
            cli_print_rows(&o, head, NC, (const char *const *)cells, np);
        for (size_t i = 0; cells && i < np * NC; i++)
            free(cells[i]);
        free(cells);
        if (!o.csv)
            printf("%zu pair%s. The older record is listed first (keep); after checking, fold "
                   "the other into it with: unionctl merge KEEP DUP\n",
                   np, np == 1 ? "" : "s");
    }
    if (skipped)
        printf("note: %lld phone number%s shared by more than 1000 records (a placeholder?) "
               "%s not compared\n",
               skipped, skipped == 1 ? "" : "s", skipped == 1 ? "was" : "were");
done:
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
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

static int cmd_merge(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "j");
    if (rc)
        goto out;
    if (argc - optind != 2) {
        rc = cli_usage_error("merge: usage: unionctl merge KEEP_ID DUP_ID");
        goto out;
    }
    cli_request_begin(&r, "merge", 2);
    msg_pack_kv_str(&r.pk, "keep", argv[optind]);
    msg_pack_kv_str(&r.pk, "dup", argv[optind + 1]);
    if ((rc = cli_request_send(&r, &rep)) != 0)
        goto done;
    if (o.json) {
        cli_print_json(rep.result);
        goto done;
    }
    const msgpack_object_array *conf = msg_get_array(rep.result, "conflicts");
    char *taken = joined_list(msg_get_array(rep.result, "taken"));
    char *confl = joined_list(conf);
    char *added = joined_list(msg_get_array(rep.result, "added"));
    printf("merged %s into %s (%s is now status=merged, merged_into=%s)\n"
           "  fields taken:       %s\n"
           "  set elements added: %s\n"
           "  now in conflict:    %s\n",
           argv[optind + 1], argv[optind], argv[optind + 1], argv[optind], taken ? taken : "?",
           added ? added : "?", confl ? confl : "?");
    if (conf && conf->size)
        printf("The two records disagree there: unionctl conflicts lists the values, "
               "unionctl resolve %s FIELD VALUE settles each.\n",
               argv[optind]);
    free(taken);
    free(confl);
    free(added);
done:
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_transfer(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "fj");
    if (rc)
        goto out;
    if (argc - optind != 2) {
        rc = cli_usage_error("transfer: usage: unionctl transfer ID OFFICE [--force]");
        goto out;
    }
    cli_request_begin(&r, "transfer", 3);
    msg_pack_kv_str(&r.pk, "id", argv[optind]);
    msg_pack_kv_str(&r.pk, "office", argv[optind + 1]);
    pack_bool(&r.pk, "force", o.force);
    if ((rc = cli_request_send(&r, &rep)) != 0)
        goto done;
    if (o.json) {
        cli_print_json(rep.result);
        goto done;
    }
    char *from = msg_get_str(rep.result, "from"), *to = msg_get_str(rep.result, "office");
    if (msg_get_int(rep.result, "changed", 0))
        printf("%s moved from office %s to %s\n", argv[optind], from && *from ? from : "(none)",
               to ? to : "?");
    else
        printf("nothing changed: %s is already in office %s\n", argv[optind], to ? to : "?");
    free(from);
    free(to);
done:
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

int cli_report_main(int argc, char **argv)
{
    if (strcmp(argv[0], "stats") == 0)
        return cmd_stats(argc, argv);
    if (strcmp(argv[0], "duplicates") == 0)
        return cmd_duplicates(argc, argv);
    if (strcmp(argv[0], "merge") == 0)
        return cmd_merge(argc, argv);
    if (strcmp(argv[0], "transfer") == 0)
        return cmd_transfer(argc, argv);
    return -1;
}
