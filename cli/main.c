/* main.c - unionctl: parses the command line (DESIGN.md "unionctl"), sends
 * one request to the daemon, renders the reply for people (tables) or
 * scripts (--json, --csv).
 *
 * Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 daemon unreachable. */
#include "cli/cli.h"
#include "cli/csvin.h"
#include "cli/ctl.h"
#include "cli/render.h"
#include "cli/schemacmd.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"

#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static int cmd_add(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "");
    if (rc)
        goto out;
    if (optind >= argc) {
        rc = cli_usage_error("add: give at least one FIELD=VALUE (name=... is required)");
        goto out;
    }
    cli_request_begin(&r, "add", 1);
    msg_pack_str(&r.pk, "fields");
    if ((rc = pack_assignments(&r.pk, argv + optind, argc - optind))) {
        msgpack_sbuffer_destroy(&r.buf);
        goto out;
    }
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        char *id = msg_get_str(rep.result, "id");
        printf("%s\n", id ? id : "");
        free(id);
    }
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_edit(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "");
    if (rc)
        goto out;
    if (argc - optind < 2) {
        rc = cli_usage_error("edit: usage: unionctl edit ID FIELD=VALUE...");
        goto out;
    }
    cli_request_begin(&r, "edit", 2);
    msg_pack_kv_str(&r.pk, "id", argv[optind]);
    msg_pack_str(&r.pk, "fields");
    if ((rc = pack_assignments(&r.pk, argv + optind + 1, argc - optind - 1))) {
        msgpack_sbuffer_destroy(&r.buf);
        goto out;
    }
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        int64_t n = msg_get_int(rep.result, "changed", 0);
        if (n == 0)
            printf("nothing changed: the values were already those\n");
    }
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
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

static int cmd_show(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "jcr");
    if (rc)
        goto out;
    if (argc - optind != 1) {
        rc = cli_usage_error("show: usage: unionctl show ID [--json|--csv] [--reveal]");
        goto out;
    }
    cli_request_begin(&r, "show", 2);
    msg_pack_kv_str(&r.pk, "id", argv[optind]);
    msg_pack_kv_bool(&r.pk, "reveal", o.reveal);
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        if (o.json) {
            cli_print_json(rep.result);
        } else if (o.csv) {
            msgpack_object_array one = {1, (msgpack_object *)rep.result};
            cli_print_records_csv(&one);
        } else {
            print_show(rep.result);
        }
    }
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_list(int argc, char **argv, int export)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, export ? "jc" : "jcrnSLw");
    if (rc)
        goto out;
    if (optind != argc) {
        rc = cli_usage_error("%s: unexpected argument '%s'", argv[0], argv[optind]);
        goto out;
    }
    if ((rc = cli_where_check(o.where, o.nwhere)) != 0)
        goto out;
    cli_request_begin(&r, "list", 6);
    msg_pack_str(&r.pk, "where");
    msgpack_pack_array(&r.pk, (size_t)o.nwhere);
    for (int i = 0; i < o.nwhere; i++)
        msg_pack_str(&r.pk, o.where[i]);
    msg_pack_kv_str(&r.pk, "sort", o.sort);
    msg_pack_kv_int(&r.pk, "limit", o.limit);
    msg_pack_kv_bool(&r.pk, "reveal", o.reveal);
    msg_pack_kv_bool(&r.pk, "count", o.count);
    msg_pack_kv_bool(&r.pk, "full", export);
    if ((rc = cli_request_send(&r, &rep)) != 0)
        goto done;
    if (o.count) {
        long long n = (long long)msg_get_int(rep.result, "count", 0);
        if (o.json)
            printf("{\"count\": %lld}\n", n);
        else
            printf("%lld\n", n);
        goto done;
    }
    const msgpack_object *recs = msg_get(rep.result, "records");
    if (o.json) {
        if (recs)
            render_json_msgpack(stdout, recs, 1);
        else
            fputs("[]", stdout);
        putchar('\n');
    } else if (o.csv || export) {
        cli_print_records_csv(cli_result_records(&rep));
    } else {
        cli_print_records_table(cli_result_records(&rep));
    }
done:
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_log(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "jcr");
    if (rc)
        goto out;
    if (argc - optind != 1) {
        rc = cli_usage_error("log: usage: unionctl log ID [--json|--csv] [--reveal]");
        goto out;
    }
    cli_request_begin(&r, "log", 2);
    msg_pack_kv_str(&r.pk, "id", argv[optind]);
    msg_pack_kv_bool(&r.pk, "reveal", o.reveal);
    if ((rc = cli_request_send(&r, &rep)) != 0)
        goto done;
    if (o.json) {
        cli_print_json(rep.result);
        goto done;
    }
    const msgpack_object *arr = rep.result;
    if (o.csv) {
        /* one row per changed field: commit,time,node,operator,summary,field,from,to */
        static const char *const head[] = {"commit",  "time",  "node", "operator",
                                           "summary", "field", "from", "to"};
        render_csv_row(stdout, head, 8);
        for (uint32_t i = 0; arr && arr->type == MSGPACK_OBJECT_ARRAY && i < arr->via.array.size;
             i++) {
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
        goto done;
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
done:
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

/* import's own options (--encoding WORD, --dry-run), taken out of argv
 * before the common ones are parsed. 0 or EXIT_USAGE. */
static int import_opts_take(int *argc, char **argv, csvin_encoding *enc, int *dry_run)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *word = NULL;
        if (strcmp(a, "--dry-run") == 0) {
            *dry_run = 1;
            continue;
        }
        if (strcmp(a, "--encoding") == 0) {
            if (i + 1 >= *argc)
                return cli_usage_error("--encoding needs a word (utf-8, gb18030, gbk, auto)");
            word = argv[++i];
        } else if (strncmp(a, "--encoding=", 11) == 0) {
            word = a + 11;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        if (csvin_encoding_parse(enc, word) != 0)
            return cli_usage_error("--encoding %s: not an encoding (utf-8, gb18030, gbk, auto)",
                                   word);
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* Print every problem csvin_check found, one line per group. */
static void import_problems_print(FILE *f, const problem_list *pl)
{
    problem_group *g = NULL;
    size_t ng = 0;
    char line[1024];
    if (problem_groups(&g, &ng, pl) != UERR_OK) {
        fprintf(f, "  (out of memory listing the problems)\n");
        return;
    }
    for (size_t i = 0; i < ng; i++) {
        problem_group_format(line, sizeof line, &g[i]);
        fprintf(f, "  %s\n", line);
    }
    free(g);
}

static void import_today(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* The import request: the resolved header and the rows that passed the
 * checks, with their line numbers. */
static void import_request_build(request *r, const csvin_doc *doc, int skip_invalid, int dry_run)
{
    size_t good = 0;
    for (size_t i = 0; i < doc->nrows; i++)
        good += !doc->rows[i].bad;
    cli_request_begin(r, "import", 4);
    msg_pack_str(&r->pk, "header");
    msgpack_pack_array(&r->pk, doc->nheader);
    for (size_t i = 0; i < doc->nheader; i++)
        msg_pack_str(&r->pk, doc->header[i]);
    msg_pack_kv_bool(&r->pk, "skip_invalid", skip_invalid);
    msg_pack_kv_bool(&r->pk, "dry_run", dry_run);
    msg_pack_str(&r->pk, "rows");
    msgpack_pack_array(&r->pk, good);
    for (size_t i = 0; i < doc->nrows; i++) {
        if (doc->rows[i].bad)
            continue;
        msgpack_pack_array(&r->pk, 2);
        msgpack_pack_uint64(&r->pk, doc->rows[i].line);
        msgpack_pack_array(&r->pk, doc->rows[i].ncells);
        for (size_t c = 0; c < doc->rows[i].ncells; c++)
            msg_pack_str(&r->pk, doc->rows[i].cells[c] ? doc->rows[i].cells[c] : "");
    }
}

/* "imported 3 new, 1 updated, 0 unchanged (read as GB18030; ...)" */
static void import_summary_print(const reply *rep, const csvin_doc *doc, const csvin_stats *st,
                                 const problem_list *pl, int dry_run)
{
    printf("%s %lld new, %lld updated, %lld unchanged", dry_run ? "would import" : "imported",
           (long long)msg_get_int(rep->result, "imported", 0),
           (long long)msg_get_int(rep->result, "updated", 0),
           (long long)msg_get_int(rep->result, "unchanged", 0));
    long long sk = (long long)msg_get_int(rep->result, "skipped", 0) + (long long)st->bad_rows;
    if (sk)
        printf(", skipped %lld invalid rows", sk);
    printf(" (read as %s", csvin_encoding_name(doc->encoding));
    if (st->id15)
        printf("; converted %zu 15-digit ID numbers", st->id15);
    if (st->gender_filled)
        printf("; %zu genders filled from the ID number", st->gender_filled);
    printf(")%s\n", sk ? ":" : "");
    if (st->bad_rows)
        import_problems_print(stdout, pl);
    const msgpack_object_array *errs = msg_get_array(rep->result, "errors");
    for (uint32_t i = 0; errs && i < errs->size; i++) {
        char *f = msg_get_str(&errs->ptr[i], "field");
        char *why = msg_get_str(&errs->ptr[i], "reason");
        printf("  line %lld: %s: %s\n", (long long)msg_get_int(&errs->ptr[i], "line", 0),
               f ? f : "?", why ? why : "?");
        free(f);
        free(why);
    }
    if (dry_run)
        printf("dry run: nothing was written\n");
}

static int cmd_import(int argc, char **argv)
{
    opts o = {0};
    reply rep;
    request r;
    csvin_doc doc;
    csvin_stats st = {0};
    csvin_encoding enc = CSVIN_ENC_AUTO;
    problem_list pl;
    char err[1024], today[11];
    int dry_run = 0;
    csvin_init(&doc);
    problem_list_init(&pl);
    int rc = import_opts_take(&argc, argv, &enc, &dry_run);
    if (rc || (rc = cli_opts_parse(&o, argc, argv, "sj")))
        goto out;
    if (argc - optind != 1) {
        rc = cli_usage_error("import: usage: unionctl import FILE.csv [--encoding WORD] "
                             "[--dry-run] [--skip-invalid]");
        goto out;
    }
    /* the office's declared fields and categories, so that their columns
     * and labels resolve here as in the daemon */
    if ((rc = cli_schema_fetch()) != 0)
        goto out;
    if (csvin_read_file_enc(&doc, argv[optind], enc, err, sizeof err) != 0) {
        fprintf(stderr, "unionctl: %s: %s; nothing imported\n", argv[optind], err);
        rc = EXIT_FAIL;
        goto out;
    }
    import_today(today);
    uerr ce = csvin_check(&doc, today, &st, &pl);
    if (ce == UERR_NOMEM || (ce != UERR_OK && !o.skip_invalid)) {
        fprintf(stderr,
                "unionctl: %s: %zu of %zu rows have problems; nothing was imported (fix them, "
                "or use --skip-invalid to import the valid rows):\n",
                argv[optind], st.bad_rows, doc.nrows);
        import_problems_print(stderr, &pl);
        rc = EXIT_FAIL;
        goto out;
    }
    import_request_build(&r, &doc, o.skip_invalid, dry_run);
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        if (o.json)
            cli_print_json(rep.result);
        else
            import_summary_print(&rep, &doc, &st, &pl, dry_run);
    }
    cli_reply_free(&rep);
out:
    problem_list_free(&pl);
    csvin_free(&doc);
    free(o.where);
    return rc;
}

static int cmd_simple(int argc, char **argv, const char *op)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "j");
    if (rc)
        goto out;
    if (optind != argc) {
        rc = cli_usage_error("%s: unexpected argument '%s'", argv[0], argv[optind]);
        goto out;
    }
    cli_request_begin(&r, op, 0);
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        if (o.json) {
            cli_print_json(rep.result);
        } else if (rep.result && rep.result->type == MSGPACK_OBJECT_MAP) {
            const msgpack_object_map *m = &rep.result->via.map;
            for (uint32_t i = 0; i < m->size; i++) {
                printf("%-12.*s ", (int)m->ptr[i].key.via.str.size, m->ptr[i].key.via.str.ptr);
                const msgpack_object *v = &m->ptr[i].val;
                if (v->type == MSGPACK_OBJECT_STR)
                    printf("%.*s\n", (int)v->via.str.size, v->via.str.ptr);
                else
                    render_json_msgpack(stdout, v, 0), putchar('\n');
            }
        }
    }
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_conflicts(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "jcr");
    if (rc)
        goto out;
    if (optind != argc) {
        rc = cli_usage_error("conflicts: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    cli_request_begin(&r, "conflicts", 1);
    msg_pack_kv_bool(&r.pk, "reveal", o.reveal);
    if ((rc = cli_request_send(&r, &rep)) != 0)
        goto done;
    if (o.json) {
        cli_print_json(rep.result);
        goto done;
    }
    const msgpack_object *arr = rep.result;
    size_t n = arr && arr->type == MSGPACK_OBJECT_ARRAY ? arr->via.array.size : 0, rows = 0;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object_array *v = msg_get_array(&arr->via.array.ptr[i], "values");
        rows += v ? v->size : 0;
    }
    if (rows == 0) {
        if (o.csv)
            printf("id,name,field,value,node,time\n");
        else
            printf("no conflicts\n");
        goto done;
    }
    char **cells = calloc(rows * 6 + 1, sizeof *cells);
    size_t row = 0;
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
                        !o.csv && msg_get_bool(&v->ptr[k], "shown", 0) ? " *" : "");
            free(val);
            cells[row * 6 + 3] = shown;
            cells[row * 6 + 4] = msg_get_str(&v->ptr[k], "node");
            cells[row * 6 + 5] = msg_get_str(&v->ptr[k], "time");
        }
    }
    static const char *const head[] = {"id", "name", "field", "value", "node", "time"};
    if (cells)
        cli_print_rows(&o, head, 6, (const char *const *)cells, rows);
    for (size_t i = 0; cells && i < rows * 6; i++)
        free(cells[i]);
    free(cells);
    if (!o.csv)
        printf("%zu field%s in conflict; * = the value every node shows now.\n"
               "Settle one with: unionctl resolve ID FIELD [VALUE]\n",
               n, n == 1 ? "" : "s");
done:
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_resolve(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "");
    if (rc)
        goto out;
    int npos = argc - optind;
    if (npos != 2 && npos != 3) {
        rc = cli_usage_error("resolve: usage: unionctl resolve ID FIELD [VALUE]");
        goto out;
    }
    cli_request_begin(&r, "resolve", npos == 3 ? 3 : 2);
    msg_pack_kv_str(&r.pk, "id", argv[optind]);
    msg_pack_kv_str(&r.pk, "field", argv[optind + 1]);
    if (npos == 3)
        msg_pack_kv_str(&r.pk, "value", argv[optind + 2]);
    rc = cli_request_send(&r, &rep);
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
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

static int cmd_bundle(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "jF");
    if (rc)
        goto out;
    if (argc - optind != 2 ||
        (strcmp(argv[optind], "export") != 0 && strcmp(argv[optind], "import") != 0)) {
        rc = cli_usage_error("bundle: usage: unionctl bundle export [--since OLD.bundle] FILE | "
                             "bundle import FILE");
        goto out;
    }
    int export = strcmp(argv[optind], "export") == 0;
    if (o.since && (!export || access(o.since, R_OK) != 0)) {
        rc = export ? EXIT_FAIL : cli_usage_error("--since is for bundle export");
        if (export)
            fprintf(stderr, "unionctl: cannot read %s\n", o.since);
        goto out;
    }
    if (!export && access(argv[optind + 1], R_OK) != 0) {
        fprintf(stderr, "unionctl: cannot read %s\n", argv[optind + 1]);
        rc = EXIT_FAIL;
        goto out;
    }
    /* The daemon opens the file, so it gets an absolute path. */
    char *path = absolute_path(argv[optind + 1]);
    if (!path) {
        rc = EXIT_FAIL;
        goto out;
    }
    char *since = o.since ? absolute_path(o.since) : NULL;
    cli_request_begin(&r, export ? "bundle_export" : "bundle_import", since ? 2 : 1);
    msg_pack_kv_str(&r.pk, "path", path);
    if (since)
        msg_pack_kv_str(&r.pk, "since", since);
    free(since);
    free(path);
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        if (o.json) {
            cli_print_json(rep.result);
        } else if (!export) {
            printf("bundle imported: %lld branches, %lld moved forward, %lld new commits checked; "
                   "%lld merged, %lld fast-forwarded\n",
                   (long long)msg_get_int(rep.result, "refs", 0),
                   (long long)msg_get_int(rep.result, "updated", 0),
                   (long long)msg_get_int(rep.result, "commits", 0),
                   (long long)msg_get_int(rep.result, "merged", 0),
                   (long long)msg_get_int(rep.result, "forwarded", 0));
        }
    }
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int ch;
    cli_data_dir = getenv("UNIOND_DATA");
    while ((ch = getopt_long(argc, argv, "+d:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            cli_data_dir = optarg;
            break;
        case 'h':
            fputs(cli_usage_text, stdout);
            return EXIT_OK;
        default:
            fputs(cli_usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(cli_usage_text, stderr);
        return EXIT_USAGE;
    }
    char **cargv = argv + optind;
    int cargc = argc - optind;
    const char *cmd = cargv[0];
    if (strcmp(cmd, "help") == 0) {
        fputs(cli_usage_text, stdout);
        return EXIT_OK;
    }
    if (!cli_data_dir || !*cli_data_dir)
        return cli_usage_error("no DATA directory: give -d DATA or set UNIOND_DATA");
    if (strcmp(cmd, "add") == 0)
        return cmd_add(cargc, cargv);
    if (strcmp(cmd, "edit") == 0)
        return cmd_edit(cargc, cargv);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(cargc, cargv);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(cargc, cargv, 0);
    if (strcmp(cmd, "export") == 0)
        return cmd_list(cargc, cargv, 1);
    if (strcmp(cmd, "log") == 0)
        return cmd_log(cargc, cargv);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(cargc, cargv);
    if (strcmp(cmd, "conflicts") == 0)
        return cmd_conflicts(cargc, cargv);
    if (strcmp(cmd, "resolve") == 0)
        return cmd_resolve(cargc, cargv);
    if (strcmp(cmd, "bundle") == 0)
        return cmd_bundle(cargc, cargv);
    int rrc = cli_schema_main(cargc, cargv);
    if (rrc >= 0)
        return rrc;
    rrc = cli_peer_main(cargc, cargv);
    if (rrc >= 0)
        return rrc;
    rrc = cli_report_main(cargc, cargv);
    if (rrc >= 0)
        return rrc;
    if (strcmp(cmd, "id") == 0)
        return cmd_simple(cargc, cargv, "id");
    if (strcmp(cmd, "status") == 0)
        return cmd_simple(cargc, cargv, "status");
    return cli_usage_error("unknown command '%s'", cmd);
}
