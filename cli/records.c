/* records.c - unionctl's record and node commands: the build and print
 * steps of add, show, edit, list, export, import, conflicts, resolve,
 * bundle, id and status (rows of cli/table.c; log and revert: history.c). A build step adds its
 * pairs to the request; a print step renders the reply for people (tables) or scripts (--json,
 * --csv). Neither reads argv nor talks to the socket (except bundle export into a directory, which
 * asks the node's name). One-line confirmations (edited, resolved, wrote) go to a terminal only: a
 * script piping unionctl sees what it saw before. */
#include "cli/cli.h"
#include "proto/problem.h"
#include "cli/schemacmd.h"
#include "cli/csvin.h"
#include "cli/dmsg.h"
#include "cli/jsonin.h"
#include "cli/i18n.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* FIELD=VALUE, FIELD+=VALUE, FIELD-=VALUE -> [field, op, value] */
static int pack_assignments(msgpack_packer *pk, char **args, int n)
{
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (!eq || eq == args[i])
            return cli_usage_error(_("'%s' is not FIELD=VALUE"), args[i]);
        const char *op = "=";
        size_t flen = (size_t)(eq - args[i]);
        if (eq[-1] == '+' || eq[-1] == '-') {
            op = eq[-1] == '+' ? "+=" : "-=";
            flen--;
        }
        char field[SCHEMA_NAME_MAX + 2];
        if (flen == 0 || flen > SCHEMA_NAME_MAX)
            return cli_usage_error(_("'%s': bad field name"), args[i]);
        memcpy(field, args[i], flen);
        field[flen] = 0;
        msgpack_pack_array(pk, 3);
        msg_pack_str(pk, field);
        msg_pack_str(pk, op);
        msg_pack_str(pk, eq + 1);
    }
    return 0;
}

int cli_add_build(cli_call *c)
{
    msg_map_key(&c->req.map, "fields");
    return pack_assignments(&c->req.pk, c->args, c->nargs);
}

int cli_add_print(cli_call *c)
{
    char *id = msg_get_str(c->rep.result, "id");
    printf("%s\n", id ? id : "");
    free(id);
    return EXIT_OK;
}

int cli_edit_build(cli_call *c)
{
    msg_map_str(&c->req.map, "id", c->args[0]);
    msg_map_key(&c->req.map, "fields");
    return pack_assignments(&c->req.pk, c->args + 1, c->nargs - 1);
}

/* "phone, benefits": the fields of the FIELD=VALUE arguments, as titled
 * for people, each once. Malloc'd. */
static char *assigned_fields(char **args, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(args[i]) + SCHEMA_LABEL_MAX + 4;
    char *out = calloc(1, len);
    for (int i = 0; out && i < n; i++) {
        char field[SCHEMA_NAME_MAX + 2];
        size_t flen = strcspn(args[i], "+-=");
        if (flen == 0 || flen > SCHEMA_NAME_MAX)
            continue;
        memcpy(field, args[i], flen);
        field[flen] = 0;
        const char *title = cli_field_title(field);
        int seen = 0;
        for (int k = 0; k < i && !seen; k++)
            seen = strncmp(args[k], field, flen) == 0 && strchr("+-=", args[k][flen]);
        if (seen)
            continue;
        if (*out)
            strcat(out, ", ");
        strcat(out, title);
    }
    return out;
}

int cli_edit_print(cli_call *c)
{
    if (msg_get_int(c->rep.result, "changed", 0) == 0) {
        fputs(_("nothing changed: the values were already those\n"), stdout);
    } else if (isatty(STDOUT_FILENO)) {
        /* the reply names the record but not the member: the id is shown */
        char *id = msg_get_str(c->rep.result, "id");
        char *fields = assigned_fields(c->args + 1, c->nargs - 1);
        printf(_("edited %s: %s\n"), id ? id : c->args[0], fields ? fields : "?");
        free(fields);
        free(id);
    }
    return EXIT_OK;
}

/* show, log: one record, {"id", "reveal"} */
int cli_record_build(cli_call *c)
{
    msg_map_str(&c->req.map, "id", c->args[0]);
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    return 0;
}

/* A field's row title in show: its name, and in Chinese its label before
 * it ("手机号码 (phone)": the name is what edit and resolve take). Malloc'd. */
static char *field_row_title(const char *name)
{
    const char *title = cli_field_title(name);
    if (strcmp(title, name) == 0)
        return strdup(name);
    char *out = malloc(strlen(title) + strlen(name) + 4);
    if (out)
        sprintf(out, "%s (%s)", title, name);
    return out;
}

char *cli_link_cell(const msgpack_object *rec, const char *field, int mark)
{
    const msgpack_object *l = msg_get(msg_get(rec, "links"), field);
    if (!l || l->type != MSGPACK_OBJECT_MAP)
        return NULL;
    if (msg_get_bool(l, "resolved", 0))
        return msg_get_str(l, "name");
    char *v = msg_get_str(l, "value");
    if (!v || !mark)
        return v;
    const char *word = _("unresolved");
    char *out = malloc(strlen(v) + strlen(word) + 4);
    if (out)
        sprintf(out, "%s (%s)", v, word);
    free(v);
    return out;
}

static void print_show(const msgpack_object *rec)
{
    const msgpack_object *f = msg_get(rec, "fields");
    const msgpack_object *conf = msg_get(rec, "conflicts");
    size_t n = f && f->type == MSGPACK_OBJECT_MAP ? f->via.map.size : 0;
    char **cells = calloc(2 * (n + 1), sizeof *cells);
    if (!cells)
        return;
    cells[0] = strdup(cli_field_title("id"));
    cells[1] = msg_get_str(rec, "id");
    for (size_t i = 0; i < n; i++) {
        char *name = msg_str_dup(&f->via.map.ptr[i].key);
        char *v = name ? cli_record_cell(rec, name) : NULL;
        const msgpack_object *cv = name ? msg_get(conf, name) : NULL;
        const char *shown = v ? cli_value_shown(name, v) : NULL;
        if (shown && shown != v) {
            free(v);
            v = strdup(shown);
        }
        char *linked = name ? cli_link_cell(rec, name, 1) : NULL;
        if (linked) { /* issue 11: the union's name, or the text marked */
            free(v);
            v = linked;
        }
        if (v && cv && cv->type == MSGPACK_OBJECT_ARRAY) {
            /* winner, then "(conflict: a | b)" listing every value */
            size_t len = strlen(v) + 32;
            for (uint32_t k = 0; k < cv->via.array.size; k++)
                len += cv->via.array.ptr[k].via.str.size + 3;
            char *m = malloc(len + strlen(_("conflict")));
            if (m) {
                size_t off = (size_t)sprintf(m, "%s  (%s: ", v, _("conflict"));
                for (uint32_t k = 0; k < cv->via.array.size; k++)
                    off += (size_t)sprintf(m + off, "%s%.*s", k ? " | " : "",
                                           (int)cv->via.array.ptr[k].via.str.size,
                                           cv->via.array.ptr[k].via.str.ptr);
                strcpy(m + off, ")");
            }
            free(v);
            v = m;
        }
        cells[2 * (i + 1)] = name ? field_row_title(name) : NULL;
        cells[2 * (i + 1) + 1] = v;
        free(name);
    }
    const char *head[] = {cli_column_title("field"), cli_column_title("value")};
    render_table(stdout, head, 2, (const char *const *)cells, n + 1);
    char *into = cli_record_cell(rec, "merged_into");
    if (into && *into)
        printf(_("this record was merged into %s: unionctl show %s\n"), into, into);
    free(into);
    for (size_t i = 0; i < 2 * (n + 1); i++)
        free(cells[i]);
    free(cells);
}

int cli_show_print(cli_call *c)
{
    if (c->o.csv) {
        msgpack_object_array one = {1, (msgpack_object *)c->rep.result};
        cli_print_records_csv(&one);
    } else {
        print_show(c->rep.result);
    }
    return EXIT_OK;
}

/* list and export (the same op; export asks for full, unmasked records) */
static int is_export(const cli_call *c)
{
    return strcmp(c->cmd->name, "export") == 0;
}

/* Whether every --where condition is well formed and valid with the
 * built-in fields and values alone (the same two parses cli_where_check
 * makes). The office's declared fields and categories only add names, so
 * such a condition is valid after the fields request too. */
static int where_builtin_ok(const cli_call *c)
{
    char err[256], *probe;
    query_cond q;
    for (int i = 0; i < c->o.nwhere; i++) {
        const char *op = strpbrk(c->o.where[i], "=!<>~");
        if (!op || !(probe = malloc(strlen(op) + 3)))
            return 0;
        sprintf(probe, "id%s", op);
        int bad = query_cond_parse(&q, probe, err, sizeof err);
        free(probe);
        if (bad)
            return 0;
        query_cond_free(&q);
        if (query_cond_parse(&q, c->o.where[i], err, sizeof err) != 0)
            return 0;
        query_cond_free(&q);
    }
    return 1;
}

int cli_list_build(cli_call *c)
{
    int rc;
    if (c->o.count && c->o.nwhere > 0 && where_builtin_ok(c)) {
        /* A count prints one number: nothing of the schema shows, and the
         * conditions are valid already, so the fields request (a round
         * trip before every count) is not made. Anything else (a declared
         * field, a mistake and its message) goes the usual way. */
        msg_map_key(&c->req.map, "where");
        msgpack_pack_array(&c->req.pk, (size_t)c->o.nwhere);
        for (int i = 0; i < c->o.nwhere; i++)
            msg_pack_str(&c->req.pk, c->o.where[i]);
    } else if ((rc = cli_pack_where(c)) != 0) {
        return rc;
    }
    msg_map_str(&c->req.map, "sort", c->o.sort);
    msg_map_int(&c->req.map, "limit", c->o.limit);
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    msg_map_bool(&c->req.map, "count", c->o.count);
    msg_map_bool(&c->req.map, "full", is_export(c));
    /* resolved links (a union's name for its id) for --json and the tables
     * of other kinds (the member table shows no link column); never in a
     * CSV or an export: those keep the stored values */
    int kind_table = c->o.kind && !cli_kind_is_member(c->o.kind);
    msg_map_bool(&c->req.map, "links",
                 !is_export(c) && !c->o.csv && !c->o.count && (c->o.json || kind_table));
    return 0;
}

int cli_list_print(cli_call *c)
{
    if (c->o.count) {
        long long n = (long long)msg_get_int(c->rep.result, "count", 0);
        if (c->o.json)
            printf("{\"count\": %lld}\n", n);
        else
            printf("%lld\n", n);
        return EXIT_OK;
    }
    const msgpack_object *recs = msg_get(c->rep.result, "records");
    if (c->o.json) {
        if (recs)
            render_json_msgpack(stdout, recs, 1);
        else
            fputs("[]", stdout);
        putchar('\n');
    } else if (c->o.kind && !cli_kind_is_member(c->o.kind)) { /* cli/kindcmd.c */
        cli_kind_records_print(c, cli_result_records(&c->rep), c->o.csv || is_export(c));
    } else if (c->o.csv || is_export(c)) {
        cli_print_records_csv(cli_result_records(&c->rep));
    } else {
        cli_print_records_table(cli_result_records(&c->rep));
    }
    return EXIT_OK;
}

/* What import's print step needs from its build step (c->state, one
 * malloc'd block): the counts of the local checks and the encoding read. */
typedef struct {
    csvin_stats st;
    int dry_run;
    char encoding[16];
} import_state;

/* Print every problem csvin_check found, one line per group. */
static void import_problems_print(FILE *f, const problem_list *pl)
{
    problem_group *g = NULL;
    size_t ng = 0;
    char line[1024];
    if (problem_groups(&g, &ng, pl) != UERR_OK) {
        fprintf(f, _("  (out of memory listing the problems)\n"));
        return;
    }
    for (size_t i = 0; i < ng; i++) {
        problem_group_format(line, sizeof line, &g[i]);
        char *shown = dmsg_translate(line); /* the schema's English, in the clerk's language */
        fprintf(f, "  %s\n", shown ? shown : line);
        free(shown);
    }
    free(g);
}

/* Bytes msgpack-c writes for an array header, a str header and an
 * unsigned integer (the smallest form, as msgpack_pack_array/str/uint64
 * choose it). */
static size_t mp_array_len(size_t n)
{
    return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

static size_t mp_str_len(size_t n)
{
    return (n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5) + n;
}

static size_t mp_uint_len(uint64_t v)
{
    return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v <= 0xffffffffu ? 5 : 9;
}

/* The rows that passed the checks, with their line numbers, as "rows_bin":
 * the msgpack array [[LINE, [CELL...]], ...] inside one bin
 * (docs/CONTROL.md), so that the daemon unpacks one row at a time instead
 * of the whole file's objects at once. The bin's length is computed first
 * and its bytes packed straight after its header (no second copy of the
 * rows here). */
static void import_rows_pack(cli_call *c, const csvin_doc *doc, cli_progress *pg)
{
    msgpack_packer *pk = &c->req.pk;
    msgpack_sbuffer *sb = pk->data;
    size_t good = 0, binlen = 0;
    for (size_t i = 0; i < doc->nrows; i++) {
        if (doc->rows[i].bad)
            continue;
        good++;
        binlen += 1 + mp_uint_len(doc->rows[i].line) + mp_array_len(doc->rows[i].ncells);
        for (size_t k = 0; k < doc->rows[i].ncells; k++)
            binlen += mp_str_len(doc->rows[i].cells[k] ? strlen(doc->rows[i].cells[k]) : 0);
    }
    binlen += mp_array_len(good);
    msg_map_key(&c->req.map, "header");
    msgpack_pack_array(pk, doc->nheader);
    for (size_t i = 0; i < doc->nheader; i++)
        msg_pack_str(pk, doc->header[i]);
    msg_map_bool(&c->req.map, "skip_invalid", c->o.skip_invalid);
    msg_map_bool(&c->req.map, "dry_run", c->o.dry_run);
    msg_map_key(&c->req.map, "rows_bin");
    msgpack_pack_bin(pk, binlen);
    size_t start = sb->size;
    msgpack_pack_array(pk, good);
    cli_progress_step(pg, _("preparing rows"), doc->nrows);
    for (size_t i = 0; i < doc->nrows; i++) {
        cli_progress_set(pg, i);
        if (doc->rows[i].bad)
            continue;
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, doc->rows[i].line);
        msgpack_pack_array(pk, doc->rows[i].ncells);
        for (size_t k = 0; k < doc->rows[i].ncells; k++)
            msg_pack_str(pk, doc->rows[i].cells[k] ? doc->rows[i].cells[k] : "");
    }
    /* the daemon would refuse a wrong length as malformed; it is our bug */
    assert(sb->size - start == binlen);
    (void)start;
}

int cli_import_build(cli_call *c)
{
    csvin_doc doc;
    csvin_encoding enc = CSVIN_ENC_AUTO;
    problem_list pl;
    import_state *is = NULL;
    char err[1024], today[11];
    int rc = EXIT_FAIL;
    if (c->o.kind && !cli_kind_is_member(c->o.kind)) /* another kind: cli/kindcmd.c */
        return cli_kind_import_build(c);
    if (c->o.encoding && csvin_encoding_parse(&enc, c->o.encoding) != 0)
        return cli_usage_error(_("--encoding %s: not an encoding (utf-8, gb18030, gbk, auto)"),
                               c->o.encoding);
    csvin_init(&doc);
    problem_list_init(&pl);
    cli_progress *pg = NULL; /* started after the schema request: a reply stops it */
    /* the office's declared fields and categories, so that their columns
     * and labels resolve here as in the daemon */
    if ((rc = cli_schema_fetch()) != 0)
        goto cleanup;
    rc = EXIT_FAIL;
    pg = cli_progress_start(); /* NULL, a no-op, unless stderr is a terminal */
    cli_progress_step(pg, _("reading the file"), 0);
    if ((jsonin_is_json(c->args[0])
             ? jsonin_read_file(&doc, c->args[0], err, sizeof err)
             : csvin_read_file_enc(&doc, c->args[0], enc, err, sizeof err)) != 0) {
        fprintf(stderr, _("unionctl: %s: %s; nothing imported\n"), c->args[0], err);
        goto cleanup;
    }
    if (!(is = calloc(1, sizeof *is)))
        goto cleanup;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    cli_progress_step(pg, _("checking the rows"), 0); /* csvin_check counts no rows */
    uerr ce = csvin_check(&doc, today, &is->st, &pl);
    if (ce == UERR_NOMEM || (ce != UERR_OK && !c->o.skip_invalid)) {
        fprintf(stderr,
                _("unionctl: %s: %zu of %zu rows have problems; nothing was imported (fix them, "
                  "or use --skip-invalid to import the valid rows):\n"),
                c->args[0], is->st.bad_rows, doc.nrows);
        import_problems_print(stderr, &pl);
        goto cleanup;
    }
    if (is->st.bad_rows)
        import_problems_print(stdout, &pl);
    is->dry_run = c->o.dry_run;
    snprintf(is->encoding, sizeof is->encoding, "%s", csvin_encoding_name(doc.encoding));
    import_rows_pack(c, &doc, pg);
    /* The daemon imports the whole file as one request so that it is all
     * or nothing (one commit, or none); batches would break that, so this
     * step shows a spinner with the elapsed time, not rows. The line stays
     * until the reply comes (cli_request_send stops it). */
    cli_progress_step(pg, _("importing (all or nothing)"), 0);
    pg = NULL;
    c->state = is;
    is = NULL;
    rc = 0;
cleanup:
    cli_progress_stop(pg);
    free(is);
    problem_list_free(&pl);
    csvin_free(&doc);
    return rc;
}

int cli_import_print(cli_call *c)
{
    const msgpack_object *res = c->rep.result;
    const import_state *is = c->state;
    cli_progress_stop_current();
    printf(is && is->dry_run ? _("would import %lld new, %lld updated, %lld unchanged")
                             : _("imported %lld new, %lld updated, %lld unchanged"),
           (long long)msg_get_int(res, "imported", 0), (long long)msg_get_int(res, "updated", 0),
           (long long)msg_get_int(res, "unchanged", 0));
    long long sk =
        (long long)msg_get_int(res, "skipped", 0) + (long long)(is ? is->st.bad_rows : 0);
    if (sk)
        printf(_(", skipped %lld invalid rows"), sk);
    if (is) {
        printf(_(" (read as %s"), is->encoding);
        if (is->st.id15)
            printf(_("; converted %zu 15-digit ID numbers"), is->st.id15);
        if (is->st.gender_filled)
            printf(_("; %zu genders filled from the ID number"), is->st.gender_filled);
        fputs(C_("closing parenthesis", ")"), stdout); /* full width in Chinese */
    }
    if (sk)
        putchar(':');
    putchar('\n');
    const msgpack_object_array *errs = msg_get_array(res, "errors");
    for (uint32_t i = 0; errs && i < errs->size; i++) {
        char *f = msg_get_str(&errs->ptr[i], "field");
        char *reason = msg_get_str(&errs->ptr[i], "reason"),
             *why = dmsg_translate_reason(f, reason);
        printf(_("  line %lld: %s: %s\n"), (long long)msg_get_int(&errs->ptr[i], "line", 0),
               f ? f : "?", why ? why : "?");
        free(f);
        free(why);
        free(reason);
    }
    long long dsk = (long long)msg_get_int(res, "skipped", 0);
    if (errs && (long long)errs->size < dsk)
        printf(_("  ... and %lld more\n"), dsk - (long long)errs->size);
    if (is && is->dry_run)
        printf(_("dry run: nothing was written\n"));
    return EXIT_OK;
}

/* The keys of id and status, titled for people. */
static const char *const node_keys[] = {
    NC_("node key", "node"),     NC_("node key", "office"),    NC_("node key", "fingerprint"),
    NC_("node key", "listen"),   NC_("node key", "head"),      NC_("node key", "tree"),
    NC_("node key", "records"),  NC_("node key", "conflicts"), NC_("node key", "peers"),
    NC_("node key", "uptime_s"), NC_("node key", "requests"),
};

/* id, status: one "key value" line per pair of the reply's map */
int cli_node_print(cli_call *c)
{
    if (!c->rep.result || c->rep.result->type != MSGPACK_OBJECT_MAP)
        return EXIT_OK;
    const msgpack_object_map *m = &c->rep.result->via.map;
    (void)node_keys;
    char *office_name = msg_get_str(c->rep.result, "office_name");
    for (uint32_t i = 0; i < m->size; i++) {
        char *key = msg_str_dup(&m->ptr[i].key);
        if (key && strcmp(key, "office_name") == 0) { /* shown beside office */
            free(key);
            continue;
        }
        int is_office = key && strcmp(key, "office") == 0;
        const char *title = key ? cli_pgettext("node key", key) : "?";
        /* pad to 12 display columns: a Chinese title is two per character */
        size_t w = schema_display_width(title);
        printf("%s%*s ", title, w < 12 ? (int)(12 - w) : 0, "");
        free(key);
        const msgpack_object *v = &m->ptr[i].val;
        if (v->type == MSGPACK_OBJECT_STR && is_office && office_name && *office_name)
            printf("%.*s (%s)\n", (int)v->via.str.size, v->via.str.ptr, office_name);
        else if (v->type == MSGPACK_OBJECT_STR)
            printf("%.*s\n", (int)v->via.str.size, v->via.str.ptr);
        else
            render_json_msgpack(stdout, v, 0), putchar('\n');
    }
    free(office_name);
    return EXIT_OK;
}

int cli_conflicts_build(cli_call *c)
{
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    return 0;
}

/* Conflicts as rows id,name,field,value,node,time: one row per concurrent
 * value, the record's columns only on its first row. *rows is set. */
static char **conflict_cells(const msgpack_object *arr, int csv, size_t *rows)
{
    size_t n = arr && arr->type == MSGPACK_OBJECT_ARRAY ? arr->via.array.size : 0, row = 0;
    *rows = 0;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object_array *v = msg_get_array(&arr->via.array.ptr[i], "values");
        *rows += v ? v->size : 0;
    }
    char **cells = calloc(*rows * 6 + 1, sizeof *cells);
    for (size_t i = 0; cells && i < n; i++) {
        const msgpack_object *c = &arr->via.array.ptr[i];
        const msgpack_object_array *v = msg_get_array(c, "values");
        for (uint32_t k = 0; v && k < v->size; k++, row++) {
            cells[row * 6] = k ? strdup("") : msg_get_str(c, "id");
            cells[row * 6 + 1] = k ? strdup("") : msg_get_str(c, "name");
            char *field = msg_get_str(c, "field");
            cells[row * 6 + 2] = k       ? strdup("")
                                 : field ? strdup(csv ? field : cli_field_title(field))
                                         : NULL;
            char *val = msg_get_str(&v->ptr[k], "value");
            const char *word = val && !csv && field ? cli_value_shown(field, val) : val;
            char *shown = malloc(strlen(word ? word : "") + 3);
            if (shown)
                sprintf(shown, "%s%s", word ? word : "",
                        !csv && msg_get_bool(&v->ptr[k], "shown", 0) ? " *" : "");
            free(val);
            free(field);
            cells[row * 6 + 3] = shown;
            cells[row * 6 + 4] = msg_get_str(&v->ptr[k], "node");
            char *utc = msg_get_str(&v->ptr[k], "time");
            cells[row * 6 + 5] = csv ? utc : cli_time_local(utc);
            if (!csv)
                free(utc);
        }
    }
    return cells;
}

int cli_conflicts_print(cli_call *c)
{
    const msgpack_object *arr = c->rep.result;
    size_t n = arr && arr->type == MSGPACK_OBJECT_ARRAY ? arr->via.array.size : 0, rows;
    char **cells = conflict_cells(arr, c->o.csv, &rows);
    if (rows == 0) {
        if (c->o.csv)
            printf("id,name,field,value,node,time\n");
        else
            fputs(_("no conflicts\n"), stdout);
        free(cells);
        return EXIT_OK;
    }
    static const char *const head[] = {"id", "name", "field", "value", "node", "time"};
    cli_print_rows_free(&c->o, head, 6, cells, rows);
    if (!c->o.csv)
        printf(ngettext("%zu field in conflict; * = the value every node shows now.\n"
                        "Settle one with: unionctl resolve ID FIELD [VALUE]\n",
                        "%zu fields in conflict; * = the value every node shows now.\n"
                        "Settle one with: unionctl resolve ID FIELD [VALUE]\n",
                        n),
               n);
    return EXIT_OK;
}

int cli_resolve_build(cli_call *c)
{
    msg_map_str(&c->req.map, "id", c->args[0]);
    msg_map_str(&c->req.map, "field", c->args[1]);
    if (c->nargs == 3)
        msg_map_str(&c->req.map, "value", c->args[2]);
    return 0;
}

int cli_resolve_print(cli_call *c)
{
    if (!isatty(STDOUT_FILENO))
        return EXIT_OK;
    char *id = msg_get_str(c->rep.result, "id"), *field = msg_get_str(c->rep.result, "field");
    printf(_("resolved %s: %s\n"), id ? id : c->args[0],
           cli_field_title(field ? field : c->args[1]));
    free(id);
    free(field);
    return EXIT_OK;
}

/* An absolute path for FILE, which may not exist yet (export). Malloc'd. */
static char *absolute_path(const char *file)
{
    if (file[0] == '/')
        return strdup(file);
    char *cwd = getcwd(NULL, 0);
    char *out = cwd ? malloc(strlen(cwd) + strlen(file) + 2) : NULL;
    if (out)
        sprintf(out, "%s/%s", cwd, file);
    free(cwd);
    return out;
}

static int is_bundle_export(const cli_call *c)
{
    return strcmp(c->args[0], "export") == 0;
}

/* The node's name, from an id request (malloc'd), or NULL after the
 * message was printed; *rc is the exit code then. */
static char *node_name(int *rc)
{
    request r;
    reply rep;
    char *node = NULL;
    cli_request_begin(&r, "id");
    *rc = cli_request_send(&r, &rep);
    if (*rc == EXIT_OK && !(node = msg_get_str(rep.result, "node"))) {
        fputs(_("unionctl: the daemon did not say its node name\n"), stderr);
        *rc = EXIT_FAIL;
    }
    cli_reply_free(&rep);
    return node;
}

/* Where bundle export writes: FILE as an absolute path, or in a directory
 * NODE-YYYYMMDD.bundle (the clerk's calendar); an existing file only with
 * --force. The daemon writes whatever path it is given, so the checks are
 * here. Returns the malloc'd path, or NULL with *rc set (message printed). */
static char *export_path(const cli_call *c, int *rc)
{
    struct stat st;
    char *path = NULL;
    *rc = EXIT_OK;
    if (stat(c->args[1], &st) == 0 && S_ISDIR(st.st_mode)) {
        char *node = node_name(rc), date[16];
        time_t now = time(NULL);
        struct tm tm;
        if (!node)
            return NULL;
        if (!localtime_r(&now, &tm) || strftime(date, sizeof date, "%Y%m%d", &tm) == 0)
            snprintf(date, sizeof date, "today");
        char *dir = absolute_path(c->args[1]);
        size_t len = dir ? strlen(dir) : 0;
        path = dir ? malloc(len + strlen(node) + sizeof date + 16) : NULL;
        if (path)
            sprintf(path, "%s%s%s-%s.bundle", dir, len && dir[len - 1] == '/' ? "" : "/", node,
                    date);
        free(dir);
        free(node);
    } else {
        path = absolute_path(c->args[1]);
    }
    if (!path) {
        fputs(_("unionctl: out of memory\n"), stderr);
        *rc = EXIT_FAIL;
        return NULL;
    }
    if (!c->o.force && lstat(path, &st) == 0) {
        fprintf(stderr, _("unionctl: %s exists; use --force to overwrite it\n"), path);
        free(path);
        *rc = EXIT_FAIL;
        return NULL;
    }
    return path;
}

int cli_bundle_build(cli_call *c)
{
    int export = is_bundle_export(c);
    if (!export && strcmp(c->args[0], "import") != 0)
        return cli_usage_of(c);
    if (c->o.since && !export)
        return cli_usage_error(_("--since is for bundle export"));
    if (c->o.force && !export)
        return cli_usage_error(_("--force is for bundle export"));
    if (c->o.since && access(c->o.since, R_OK) != 0) {
        fprintf(stderr, _("unionctl: cannot read %s\n"), c->o.since);
        return EXIT_FAIL;
    }
    if (!export && access(c->args[1], R_OK) != 0) {
        fprintf(stderr, _("unionctl: cannot read %s\n"), c->args[1]);
        return EXIT_FAIL;
    }
    /* The daemon opens the file, so it gets an absolute path. */
    int rc = EXIT_OK;
    char *path = export ? export_path(c, &rc) : absolute_path(c->args[1]);
    char *since = c->o.since ? absolute_path(c->o.since) : NULL;
    if (rc != EXIT_OK)
        goto cleanup;
    if (!path || (c->o.since && !since)) {
        fputs(_("unionctl: out of memory\n"), stderr);
        rc = EXIT_FAIL;
        goto cleanup;
    }
    cli_call_op(c, export ? "bundle_export" : "bundle_import");
    msg_map_str(&c->req.map, "path", path);
    if (since)
        msg_map_str(&c->req.map, "since", since);
    /* print names the file written */
    c->state = path;
    path = NULL;
cleanup:
    free(since);
    free(path);
    return rc;
}

int cli_bundle_print(cli_call *c)
{
    if (is_bundle_export(c)) {
        /* the reply does not count the records: the file is named */
        if (isatty(STDOUT_FILENO))
            printf(_("wrote %s\n"), (const char *)c->state);
        return EXIT_OK;
    }
    const msgpack_object *res = c->rep.result;
    printf(_("bundle imported: %lld members added, %lld changed, %lld now in conflict\n"),
           (long long)msg_get_int(res, "members_added", 0),
           (long long)msg_get_int(res, "members_changed", 0),
           (long long)msg_get_int(res, "members_in_conflict", 0));
    printf(_("  (git: %lld branches, %lld moved forward, %lld new commits checked; "
             "%lld merged, %lld fast-forwarded)\n"),
           (long long)msg_get_int(res, "refs", 0), (long long)msg_get_int(res, "updated", 0),
           (long long)msg_get_int(res, "commits", 0), (long long)msg_get_int(res, "merged", 0),
           (long long)msg_get_int(res, "forwarded", 0));
    return EXIT_OK;
}
