/* history.c - the history steps of unionctl: log (one member's history
 * or, without an id, every change of the office) and revert (undo one
 * change). Build and print only: the daemon reads the store (op log,
 * history, revert). Never unmasks on its own: values come masked unless
 * --reveal asked the daemon for them. */
#include "cli/cli.h"
#include "cli/i18n.h"
#include "cli/render.h"
#include "proto/msg.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* log --csv: one row per changed field:
 * commit,time,node,operator,summary,field,from,to */
static void print_log_csv(const msgpack_object *arr)
{
    static const char *const head[] = {"commit",  "time",  "node", "operator",
                                       "summary", "field", "from", "to"};
    render_csv_row(stdout, head, 8);
    for (uint32_t i = 0; arr && arr->type == MSGPACK_OBJECT_ARRAY && i < arr->via.array.size; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        const msgpack_object_array *ch = msg_get_array(e, "changes");
        char *c[8] = {msg_get_str(e, "commit"),
                      msg_get_str(e, "time"),
                      msg_get_str(e, "node"),
                      msg_get_str(e, "operator"),
                      msg_get_str(e, "summary"),
                      NULL,
                      NULL,
                      NULL};
        for (uint32_t k = 0; ch && k < ch->size; k++) {
            c[5] = msg_get_str(&ch->ptr[k], "field");
            c[6] = msg_get_str(&ch->ptr[k], "from");
            c[7] = msg_get_str(&ch->ptr[k], "to");
            render_csv_row(stdout, (const char *const *)c, 8);
            for (int x = 5; x < 8; x++)
                free(c[x]);
        }
        for (int x = 0; x < 5; x++)
            free(c[x]);
    }
}

/* Seconds since the epoch of local midnight starting day (YYYY-MM-DD,
 * "today", "yesterday"), plus days_after days; -1 when not a day. */
static int64_t day_start(const char *day, int days_after)
{
    struct tm tm = {0};
    time_t now = time(NULL);
    if (strcmp(day, "today") == 0 || strcmp(day, "yesterday") == 0) {
        localtime_r(&now, &tm);
        tm.tm_mday -= day[0] == 'y';
    } else if (schema_date_valid(day)) {
        tm.tm_year = atoi(day) - 1900;
        tm.tm_mon = atoi(day + 5) - 1;
        tm.tm_mday = atoi(day + 8);
    } else {
        return -1;
    }
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mday += days_after;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

/* log ID: one member's history (op log); log: the office's (op history). */
int cli_log_build(cli_call *c)
{
    if (c->nargs == 1) {
        cli_call_op(c, "log");
        return cli_record_build(c);
    }
    cli_call_op(c, "history");
    if (c->o.since) {
        int64_t t = day_start(c->o.since, 0);
        if (t < 0)
            return cli_usage_error(_("--since: '%s' is not a date (YYYY-MM-DD)"), c->o.since);
        msg_map_int(&c->req.map, "since", t);
    }
    if (c->o.until) {
        int64_t t = day_start(c->o.until, 1);
        if (t < 0)
            return cli_usage_error(_("--until: '%s' is not a date (YYYY-MM-DD)"), c->o.until);
        msg_map_int(&c->req.map, "until", t - 1);
    }
    if (c->o.by)
        msg_map_str(&c->req.map, "by", c->o.by);
    if (c->o.node)
        msg_map_str(&c->req.map, "node", c->o.node);
    if (c->o.limit >= 0)
        msg_map_int(&c->req.map, "limit", c->o.limit);
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    return 0;
}

/* "手机 138****0001 -> 139****1234, 状态 ..." of one record's changes. */
static void print_changes(const msgpack_object_array *ch, int names_only)
{
    for (uint32_t k = 0; ch && k < ch->size; k++) {
        char *f = msg_get_str(&ch->ptr[k], "field");
        char *from = msg_get_str(&ch->ptr[k], "from"), *to = msg_get_str(&ch->ptr[k], "to");
        if (names_only) /* a new record: which fields it was given */
            printf("%s%s", k ? ", " : " (", f ? cli_field_title(f) : "?");
        else
            printf("%s%s %s -> %s", k ? ", " : ": ", f ? cli_field_title(f) : "?",
                   from && *from ? cli_value_shown(f ? f : "", from) : _("(none)"),
                   to && *to ? cli_value_shown(f ? f : "", to) : _("(none)"));
        free(f);
        free(from);
        free(to);
    }
    if (names_only && ch && ch->size)
        putchar(')');
}

/* history --csv: commit,time,node,operator,what,id,name,field,from,to */
static void print_history_csv(const msgpack_object *arr)
{
    static const char *const head[] = {"commit", "time", "node",  "operator", "what",
                                       "id",     "name", "field", "from",     "to"};
    render_csv_row(stdout, head, 10);
    for (uint32_t i = 0; arr && arr->type == MSGPACK_OBJECT_ARRAY && i < arr->via.array.size; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        const msgpack_object_array *recs = msg_get_array(e, "records");
        char *c[10] = {msg_get_str(e, "commit"), msg_get_str(e, "time"), msg_get_str(e, "node"),
                       msg_get_str(e, "operator"), msg_get_str(e, "what")};
        for (uint32_t r = 0; recs && r < recs->size; r++) {
            const msgpack_object_array *ch = msg_get_array(&recs->ptr[r], "changes");
            c[5] = msg_get_str(&recs->ptr[r], "id");
            c[6] = msg_get_str(&recs->ptr[r], "name");
            for (uint32_t k = 0; ch && k < ch->size; k++) {
                c[7] = msg_get_str(&ch->ptr[k], "field");
                c[8] = msg_get_str(&ch->ptr[k], "from");
                c[9] = msg_get_str(&ch->ptr[k], "to");
                render_csv_row(stdout, (const char *const *)c, 10);
                for (int x = 7; x < 10; x++)
                    free(c[x]);
            }
            free(c[5]);
            free(c[6]);
            c[5] = c[6] = NULL;
        }
        if (!recs || !recs->size)
            render_csv_row(stdout, (const char *const *)c, 10);
        for (int x = 0; x < 5; x++)
            free(c[x]);
    }
}

/* The words the daemon names changes with, for the catalogue (printed
 * through _() as they come). */
static const char *const change_words[] __attribute__((unused)) = {
    N_("add"),    N_("edit"),       N_("import"), N_("merge"),   N_("transfer"), N_("resolve"),
    N_("revert"), N_("sync merge"), N_("field"),  N_("benefit"), N_("declare")};

/* A change's summary ("edit 01m8...", "revert 52b6f37910") with its first
 * word, the change's kind, in the clerk's words. Malloc'd (caller frees);
 * NULL when sum is NULL or memory ran out. */
static char *summary_shown(const char *sum)
{
    if (!sum)
        return NULL;
    size_t n = strcspn(sum, " ");
    char *word = strndup(sum, n);
    const char *w = word ? _(word) : sum;
    char *out = malloc(strlen(w) + strlen(sum + n) + 1);
    if (out)
        sprintf(out, "%s%s", w, sum + n);
    free(word);
    return out;
}

/* One change a line: id, local time, who, what, whose record, fields. */
static void print_history(const msgpack_object *arr)
{
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size == 0) {
        fputs(_("no changes\n"), stdout);
        return;
    }
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        char *commit = msg_get_str(e, "commit"), *utc = msg_get_str(e, "time");
        char *t = cli_time_local(utc), *op = msg_get_str(e, "operator");
        char *node = msg_get_str(e, "node"), *what = msg_get_str(e, "what");
        const msgpack_object_array *recs = msg_get_array(e, "records");
        int64_t count = msg_get_int(e, "count", 0);
        printf("%.10s  %s  %s@%s  %s", commit ? commit : "", t ? t : "", op ? op : "",
               node ? node : "", what ? _(what) : "");
        if (recs && recs->size > 0 && recs->size <= 3) {
            for (uint32_t r = 0; r < recs->size; r++) {
                char *name = msg_get_str(&recs->ptr[r], "name");
                printf("%s%s", r ? "; " : "  ", name && *name ? name : "?");
                print_changes(msg_get_array(&recs->ptr[r], "changes"),
                              what && strcmp(what, "add") == 0);
                free(name);
            }
        } else if (count > 0) {
            printf(ngettext("  %lld record", "  %lld records", (unsigned long)count),
                   (long long)count);
        }
        putchar('\n');
        free(commit);
        free(utc);
        free(t);
        free(op);
        free(node);
        free(what);
    }
}

int cli_revert_build(cli_call *c)
{
    if ((c->nargs == 1) == (c->o.last != 0))
        return cli_usage_error(_("revert: give a change id (from unionctl log) or --last"));
    if (c->nargs == 1)
        msg_map_str(&c->req.map, "change", c->args[0]);
    msg_map_bool(&c->req.map, "last", c->o.last);
    msg_map_bool(&c->req.map, "force", c->o.force);
    return 0;
}

int cli_revert_print(cli_call *c)
{
    char *change = msg_get_str(c->rep.result, "change"), *what = msg_get_str(c->rep.result, "what");
    int64_t n = msg_get_int(c->rep.result, "records", 0);
    if (n == 0)
        printf(_("nothing to revert: %.10s (%s) is already undone\n"), change ? change : "",
               what ? _(what) : "");
    else
        printf(ngettext("reverted %.10s (%s): %lld record put back\n",
                        "reverted %.10s (%s): %lld records put back\n", (unsigned long)n),
               change ? change : "", what ? _(what) : "", (long long)n);
    free(change);
    free(what);
    return EXIT_OK;
}

int cli_log_print(cli_call *c)
{
    const msgpack_object *arr = c->rep.result;
    if (c->nargs == 0) {
        if (c->o.csv)
            print_history_csv(arr);
        else
            print_history(arr);
        return EXIT_OK;
    }
    if (c->o.csv) {
        print_log_csv(arr);
        return EXIT_OK;
    }
    for (uint32_t i = 0; arr && arr->type == MSGPACK_OBJECT_ARRAY && i < arr->via.array.size; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        char *utc = msg_get_str(e, "time"), *node = msg_get_str(e, "node");
        char *t = cli_time_local(utc);
        char *op = msg_get_str(e, "operator"), *sum = msg_get_str(e, "summary");
        char *commit = msg_get_str(e, "commit"), *shown = summary_shown(sum);
        printf("%s%s  %s  %s %s@%s  %.12s  %s\n", i ? "\n" : "", t ? t : "",
               shown ? shown
               : sum ? sum
                     : "",
               _("by"), op ? op : "", node ? node : "", commit ? commit : "",
               msg_get_bool(e, "merge", 0) ? _("(merge)") : "");
        const msgpack_object_array *ch = msg_get_array(e, "changes");
        for (uint32_t k = 0; ch && k < ch->size; k++) {
            char *f = msg_get_str(&ch->ptr[k], "field");
            char *from = msg_get_str(&ch->ptr[k], "from"), *to = msg_get_str(&ch->ptr[k], "to");
            printf("    %s: %s -> %s\n", f ? cli_field_title(f) : "?",
                   from && *from ? cli_value_shown(f ? f : "", from) : _("(none)"),
                   to && *to ? cli_value_shown(f ? f : "", to) : _("(none)"));
            free(f);
            free(from);
            free(to);
        }
        free(t);
        free(utc);
        free(node);
        free(op);
        free(sum);
        free(shown);
        free(commit);
    }
    return EXIT_OK;
}
