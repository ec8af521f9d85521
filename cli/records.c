/* records.c - unionctl's record and node commands: the build and print
 * steps of add, show, edit, list, export, log, import, conflicts, resolve,
 * bundle, id and status (rows of cli/table.c). A build step adds its pairs
 * to the request; a print step renders the reply for people (tables) or
 * scripts (--json, --csv). Neither reads argv nor talks to the socket. */
#include "cli/cli.h"
#include "cli/csvin.h"
#include "cli/render.h"
#include "proto/msg.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FIELD=VALUE, FIELD+=VALUE, FIELD-=VALUE -> [field, op, value] */
static int pack_assignments(msgpack_packer *pk, char **args, int n)
{
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (!eq || eq == args[i])
            return cli_usage_error("'%s' is not FIELD=VALUE", args[i]);
        const char *op = "=";
        size_t flen = (size_t)(eq - args[i]);
        if (eq[-1] == '+' || eq[-1] == '-') {
            op = eq[-1] == '+' ? "+=" : "-=";
            flen--;
        }
        char field[SCHEMA_NAME_MAX + 2];
        if (flen == 0 || flen > SCHEMA_NAME_MAX)
            return cli_usage_error("'%s': bad field name", args[i]);
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

int cli_edit_print(cli_call *c)
{
    if (msg_get_int(c->rep.result, "changed", 0) == 0)
        printf("nothing changed: the values were already those\n");
    return EXIT_OK;
}

/* show, log: one record, {"id", "reveal"} */
int cli_record_build(cli_call *c)
{
    msg_map_str(&c->req.map, "id", c->args[0]);
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    return 0;
}

static void print_show(const msgpack_object *rec)
{
    const msgpack_object *f = msg_get(rec, "fields");
    const msgpack_object *conf = msg_get(rec, "conflicts");
    size_t n = f && f->type == MSGPACK_OBJECT_MAP ? f->via.map.size : 0;
    char **cells = calloc(2 * (n + 1), sizeof *cells);
    if (!cells)
        return;
    cells[0] = strdup("id");
    cells[1] = msg_get_str(rec, "id");
    for (size_t i = 0; i < n; i++) {
        char *name = msg_str_dup(&f->via.map.ptr[i].key);
        char *v = name ? cli_record_cell(rec, name) : NULL;
        const msgpack_object *cv = name ? msg_get(conf, name) : NULL;
        if (v && cv && cv->type == MSGPACK_OBJECT_ARRAY) {
            /* winner, then "(conflict: a | b)" listing every value */
            size_t len = strlen(v) + 32;
            for (uint32_t k = 0; k < cv->via.array.size; k++)
                len += cv->via.array.ptr[k].via.str.size + 3;
            char *m = malloc(len);
            if (m) {
                size_t off = (size_t)sprintf(m, "%s  (conflict: ", v);
                for (uint32_t k = 0; k < cv->via.array.size; k++)
                    off += (size_t)sprintf(m + off, "%s%.*s", k ? " | " : "",
                                           (int)cv->via.array.ptr[k].via.str.size,
                                           cv->via.array.ptr[k].via.str.ptr);
                strcpy(m + off, ")");
            }
            free(v);
            v = m;
        }
        cells[2 * (i + 1)] = name;
        cells[2 * (i + 1) + 1] = v;
    }
    static const char *const head[] = {"field", "value"};
    render_table(stdout, head, 2, (const char *const *)cells, n + 1);
    char *into = cli_record_cell(rec, "merged_into");
    if (into && *into)
        printf("this record was merged into %s: unionctl show %s\n", into, into);
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

int cli_list_build(cli_call *c)
{
    int rc = cli_pack_where(c);
    if (rc)
        return rc;
    msg_map_str(&c->req.map, "sort", c->o.sort);
    msg_map_int(&c->req.map, "limit", c->o.limit);
    msg_map_bool(&c->req.map, "reveal", c->o.reveal);
    msg_map_bool(&c->req.map, "count", c->o.count);
    msg_map_bool(&c->req.map, "full", is_export(c));
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

int cli_log_print(cli_call *c)
{
    const msgpack_object *arr = c->rep.result;
    if (c->o.csv) {
        print_log_csv(arr);
        return EXIT_OK;
    }
    for (uint32_t i = 0; arr && arr->type == MSGPACK_OBJECT_ARRAY && i < arr->via.array.size; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        char *t = msg_get_str(e, "time"), *node = msg_get_str(e, "node");
        char *op = msg_get_str(e, "operator"), *sum = msg_get_str(e, "summary");
        char *commit = msg_get_str(e, "commit");
        printf("%s%s  %s  by %s@%s  %.12s  %s\n", i ? "\n" : "", t ? t : "", sum ? sum : "",
               op ? op : "", node ? node : "", commit ? commit : "",
               msg_get_bool(e, "merge", 0) ? "(merge)" : "");
        const msgpack_object_array *ch = msg_get_array(e, "changes");
        for (uint32_t k = 0; ch && k < ch->size; k++) {
            char *f = msg_get_str(&ch->ptr[k], "field");
            char *from = msg_get_str(&ch->ptr[k], "from"), *to = msg_get_str(&ch->ptr[k], "to");
            printf("    %s: %s -> %s\n", f ? f : "?", from && *from ? from : "(none)",
                   to && *to ? to : "(none)");
            free(f);
            free(from);
            free(to);
        }
        free(t);
        free(node);
        free(op);
        free(sum);
        free(commit);
    }
    return EXIT_OK;
}

int cli_import_build(cli_call *c)
{
    csvin_doc doc;
    char err[512];
    if (c->o.kind && !cli_kind_is_member(c->o.kind)) /* another kind: cli/kindcmd.c */
        return cli_kind_import_build(c);
    csvin_init(&doc);
    if (csvin_read_file(&doc, c->args[0], err, sizeof err) != 0) {
        fprintf(stderr, "unionctl: %s: %s; nothing imported\n", c->args[0], err);
        csvin_free(&doc);
        return EXIT_FAIL;
    }
    msgpack_packer *pk = &c->req.pk;
    msg_map_key(&c->req.map, "header");
    msgpack_pack_array(pk, doc.nheader);
    for (size_t i = 0; i < doc.nheader; i++)
        msg_pack_str(pk, doc.header[i]);
    msg_map_bool(&c->req.map, "skip_invalid", c->o.skip_invalid);
    msg_map_key(&c->req.map, "rows");
    msgpack_pack_array(pk, doc.nrows);
    for (size_t i = 0; i < doc.nrows; i++) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, doc.rows[i].line);
        msgpack_pack_array(pk, doc.rows[i].ncells);
        for (size_t k = 0; k < doc.rows[i].ncells; k++)
            msg_pack_str(pk, doc.rows[i].cells[k] ? doc.rows[i].cells[k] : "");
    }
    csvin_free(&doc);
    return 0;
}

int cli_import_print(cli_call *c)
{
    const msgpack_object *res = c->rep.result;
    printf("imported %lld new, %lld updated, %lld unchanged",
           (long long)msg_get_int(res, "imported", 0), (long long)msg_get_int(res, "updated", 0),
           (long long)msg_get_int(res, "unchanged", 0));
    long long sk = (long long)msg_get_int(res, "skipped", 0);
    if (sk)
        printf(", skipped %lld invalid rows:", sk);
    putchar('\n');
    const msgpack_object_array *errs = msg_get_array(res, "errors");
    for (uint32_t i = 0; errs && i < errs->size; i++) {
        char *f = msg_get_str(&errs->ptr[i], "field");
        char *why = msg_get_str(&errs->ptr[i], "reason");
        printf("  line %lld: %s: %s\n", (long long)msg_get_int(&errs->ptr[i], "line", 0),
               f ? f : "?", why ? why : "?");
        free(f);
        free(why);
    }
    if (errs && (long long)errs->size < sk)
        printf("  ... and %lld more\n", sk - (long long)errs->size);
    return EXIT_OK;
}

/* id, status: one "key value" line per pair of the reply's map */
int cli_node_print(cli_call *c)
{
    if (!c->rep.result || c->rep.result->type != MSGPACK_OBJECT_MAP)
        return EXIT_OK;
    const msgpack_object_map *m = &c->rep.result->via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        printf("%-12.*s ", (int)m->ptr[i].key.via.str.size, m->ptr[i].key.via.str.ptr);
        const msgpack_object *v = &m->ptr[i].val;
        if (v->type == MSGPACK_OBJECT_STR)
            printf("%.*s\n", (int)v->via.str.size, v->via.str.ptr);
        else
            render_json_msgpack(stdout, v, 0), putchar('\n');
    }
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
            cells[row * 6 + 2] = k ? strdup("") : msg_get_str(c, "field");
            char *val = msg_get_str(&v->ptr[k], "value");
            char *shown = malloc(strlen(val ? val : "") + 3);
            if (shown)
                sprintf(shown, "%s%s", val ? val : "",
                        !csv && msg_get_bool(&v->ptr[k], "shown", 0) ? " *" : "");
            free(val);
            cells[row * 6 + 3] = shown;
            cells[row * 6 + 4] = msg_get_str(&v->ptr[k], "node");
            cells[row * 6 + 5] = msg_get_str(&v->ptr[k], "time");
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
            printf("no conflicts\n");
        free(cells);
        return EXIT_OK;
    }
    static const char *const head[] = {"id", "name", "field", "value", "node", "time"};
    cli_print_rows_free(&c->o, head, 6, cells, rows);
    if (!c->o.csv)
        printf("%zu field%s in conflict; * = the value every node shows now.\n"
               "Settle one with: unionctl resolve ID FIELD [VALUE]\n",
               n, n == 1 ? "" : "s");
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

int cli_bundle_build(cli_call *c)
{
    int export = is_bundle_export(c);
    if (!export && strcmp(c->args[0], "import") != 0)
        return cli_usage_of(c);
    if (c->o.since && !export)
        return cli_usage_error("--since is for bundle export");
    if (c->o.since && access(c->o.since, R_OK) != 0) {
        fprintf(stderr, "unionctl: cannot read %s\n", c->o.since);
        return EXIT_FAIL;
    }
    if (!export && access(c->args[1], R_OK) != 0) {
        fprintf(stderr, "unionctl: cannot read %s\n", c->args[1]);
        return EXIT_FAIL;
    }
    /* The daemon opens the file, so it gets an absolute path. */
    char *path = absolute_path(c->args[1]);
    char *since = c->o.since ? absolute_path(c->o.since) : NULL;
    int rc = EXIT_OK;
    if (!path || (c->o.since && !since)) {
        fprintf(stderr, "unionctl: out of memory\n");
        rc = EXIT_FAIL;
        goto cleanup;
    }
    cli_call_op(c, export ? "bundle_export" : "bundle_import");
    msg_map_str(&c->req.map, "path", path);
    if (since)
        msg_map_str(&c->req.map, "since", since);
cleanup:
    free(since);
    free(path);
    return rc;
}

int cli_bundle_print(cli_call *c)
{
    if (is_bundle_export(c))
        return EXIT_OK;
    const msgpack_object *res = c->rep.result;
    printf("bundle imported: %lld branches, %lld moved forward, %lld new commits checked; "
           "%lld merged, %lld fast-forwarded\n",
           (long long)msg_get_int(res, "refs", 0), (long long)msg_get_int(res, "updated", 0),
           (long long)msg_get_int(res, "commits", 0), (long long)msg_get_int(res, "merged", 0),
           (long long)msg_get_int(res, "forwarded", 0));
    return EXIT_OK;
}
