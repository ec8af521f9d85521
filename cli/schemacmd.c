/* schemacmd.c - unionctl and the office's own schema (see schemacmd.h):
 *   fields [--json]
 *   field add NAME [--type text|date|phone|id_number|set] [--label 中文名] [--private]
 *   field value add category NAME [--alias A]... [--new-form]
 * The daemon keeps the declarations in the store (they replicate like
 * records); this file only asks and renders. */
#include "cli/schemacmd.h"

#include "cli/cli.h"
#include "cli/dmsg.h"
#include "cli/i18n.h"
#include "cli/render.h"
#include "proto/msg.h"
#include "proto/query.h"
#include "proto/schema.h"
#include "proto/vocab.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declare one field of a fields reply in this process if it is declared. */
static void declare_one(const msgpack_object *f)
{
    char *name = msg_get_str(f, "name"), *type = msg_get_str(f, "type");
    char *label = msg_get_str(f, "label"), err[256];
    schema_type t;
    if (name && type && msg_get_bool(f, "declared", 0) &&
        schema_type_parse(&t, type, err, sizeof err) == UERR_OK)
        schema_field_declare(name, t, label && *label ? label : NULL, msg_get_bool(f, "private", 0),
                             err, sizeof err);
    free(name);
    free(type);
    free(label);
}

/* Add one category value of a fields reply if it is not built in. */
static void vocab_one(const msgpack_object *v)
{
    char *value = msg_get_str(v, "value"), *al[VOCAB_ALIASES_MAX], err[256];
    const msgpack_object_array *a = msg_get_array(v, "aliases");
    size_t na = 0;
    for (uint32_t i = 0; a && i < a->size && na < VOCAB_ALIASES_MAX; i++)
        if ((al[na] = msg_str_dup(&a->ptr[i])))
            na++;
    if (value && !msg_get_bool(v, "builtin", 1))
        vocab_value_add("category", value, (const char *const *)al, na,
                        msg_get_bool(v, "new_form", 0), err, sizeof err);
    for (size_t i = 0; i < na; i++)
        free(al[i]);
    free(value);
}

/* Send "fields"; on success *rep holds the reply. */
static int fields_request(reply *rep)
{
    request r;
    cli_request_begin(&r, "fields");
    return cli_request_send(&r, rep);
}

int cli_schema_fetch(void)
{
    reply rep;
    int rc = fields_request(&rep);
    if (rc == 0) {
        const msgpack_object_array *f = msg_get_array(rep.result, "fields");
        const msgpack_object_array *c = msg_get_array(rep.result, "categories");
        for (uint32_t i = 0; f && i < f->size; i++)
            declare_one(&f->ptr[i]);
        for (uint32_t i = 0; c && i < c->size; i++)
            vocab_one(&c->ptr[i]);
    }
    cli_reply_free(&rep);
    return rc;
}

int cli_where_check(const char *const *where, int n)
{
    char err[512], *probe;
    query_cond c;
    if (n <= 0)
        return 0;
    int rc = cli_schema_fetch();
    for (int i = 0; rc == 0 && i < n; i++) {
        /* The syntax alone: the same condition on the record id, which
         * names no field and takes any value. */
        const char *op = strpbrk(where[i], "=!<>~");
        if (!op || !(probe = malloc(strlen(op) + 3)))
            return cli_usage_error(_("--where '%s': expected FIELD OP VALUE with OP one of = != "
                                     "< <= > >= ~"),
                                   where[i]);
        sprintf(probe, "id%s", op);
        int syn = query_cond_parse(&c, probe, err, sizeof err);
        free(probe);
        if (syn != 0) {
            char *shown = dmsg_translate(err); /* proto's English, in the clerk's language */
            rc = cli_usage_error(_("--where: %s"), shown ? shown : err);
            free(shown);
            return rc;
        }
        query_cond_free(&c);
        if (query_cond_parse(&c, where[i], err, sizeof err) != 0) {
            char *shown = dmsg_translate(err);
            fprintf(stderr, _("unionctl: --where %s: %s\n"), where[i], shown ? shown : err);
            free(shown);
            return EXIT_FAIL;
        }
        query_cond_free(&c);
    }
    return rc;
}

/* ---- fields -------------------------------------------------------------------- */

static char *words_joined(const msgpack_object_array *a)
{
    size_t len = 1;
    for (uint32_t i = 0; a && i < a->size; i++)
        len += a->ptr[i].via.str.size + 1;
    char *s = calloc(1, len);
    for (uint32_t i = 0; s && a && i < a->size; i++) {
        if (a->ptr[i].type != MSGPACK_OBJECT_STR)
            continue;
        if (*s)
            strcat(s, "/");
        strncat(s, a->ptr[i].via.str.ptr, a->ptr[i].via.str.size);
    }
    return s;
}

static int cmd_fields(int argc, char **argv)
{
    opts o;
    reply rep;
    int rc;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            o.json = 1;
        else if (strcmp(argv[i], "--csv") == 0)
            o.csv = 1;
        else
            return cli_usage_error(_("fields: unexpected argument '%s'"), argv[i]);
    }
    if ((rc = fields_request(&rep)) == 0) {
        const msgpack_object_array *f = msg_get_array(rep.result, "fields");
        size_t n = f ? f->size : 0;
        if (o.json) {
            cli_print_json(rep.result);
        } else {
            /* titled by cli_print_rows (the "column" context) */
            static const char *const head[] = {"name",
                                               NC_("column", "type"),
                                               NC_("column", "label"),
                                               NC_("column", "aliases"),
                                               NC_("column", "private"),
                                               NC_("column", "declared")};
            char **cells = calloc(n * 6 + 1, sizeof *cells);
            for (size_t i = 0; cells && i < n; i++) {
                const msgpack_object *e = &f->ptr[i];
                char **c = cells + i * 6;
                c[0] = msg_get_str(e, "name");
                c[1] = msg_get_str(e, "type");
                c[2] = msg_get_str(e, "label");
                c[3] = words_joined(msg_get_array(e, "aliases"));
                /* a table says yes in the clerk's words; --csv keeps "yes" */
                const char *yes = o.csv ? "yes" : C_("fields cell", "yes");
                c[4] = strdup(msg_get_bool(e, "private", 0) ? yes : "");
                c[5] = strdup(msg_get_bool(e, "declared", 0) ? yes : "");
            }
            /* the first column is a field's name, not the field "name" */
            const char *titles[6];
            for (size_t k = 0; k < 6; k++)
                titles[k] = k == 0 ? C_("fields column", "name") : cli_column_title(head[k]);
            if (cells && o.csv)
                cli_print_rows(&o, head, 6, (const char *const *)cells, n);
            else if (cells)
                render_table(stdout, titles, 6, (const char *const *)cells, n);
            for (size_t i = 0; cells && i < n * 6; i++)
                free(cells[i]);
            free(cells);
        }
    }
    cli_reply_free(&rep);
    return rc;
}

/* ---- field add / field value add ------------------------------------------------- */

static int cmd_field_add(int argc, char **argv)
{
    static const struct option lo[] = {{"type", required_argument, 0, 't'},
                                       {"label", required_argument, 0, 'l'},
                                       {"private", no_argument, 0, 'p'},
                                       {0, 0, 0, 0}};
    const char *type = "text", *label = NULL;
    int priv = 0, ch;
    optind = 0; /* glibc: start over */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == 't')
            type = optarg;
        else if (ch == 'l')
            label = optarg;
        else if (ch == 'p')
            priv = 1;
        else
            return cli_usage_error(_("field add: unknown option '%s'"), argv[optind - 1]);
    }
    if (argc - optind != 1)
        return cli_usage_error(_("field add: usage: unionctl field add NAME [--type "
                                 "text|date|phone|id_number|set] [--label LABEL] [--private]"));
    reply rep;
    request r;
    cli_request_begin(&r, "field_add");
    msg_map_str(&r.map, "name", argv[optind]);
    msg_map_str(&r.map, "type", type);
    msg_map_bool(&r.map, "private", priv);
    if (label)
        msg_map_str(&r.map, "label", label);
    int rc = cli_request_send(&r, &rep);
    if (rc == 0)
        printf(msg_get_bool(rep.result, "changed", 0)
                   ? _("field %s (%s) declared\n")
                   : _("field %s (%s) was already declared so\n"),
               argv[optind], type);
    cli_reply_free(&rep);
    return rc;
}

static int cmd_field_value_add(int argc, char **argv)
{
    static const struct option lo[] = {
        {"alias", required_argument, 0, 'a'}, {"new-form", no_argument, 0, 'n'}, {0, 0, 0, 0}};
    const char *alias[VOCAB_ALIASES_MAX];
    int nal = 0, new_form = 0, ch;
    optind = 0; /* glibc: start over */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == 'a' && nal < VOCAB_ALIASES_MAX)
            alias[nal++] = optarg;
        else if (ch == 'n')
            new_form = 1;
        else
            return cli_usage_error(ch == 'a' ? _("field value add: at most %d aliases")
                                             : _("field value add: unknown option (%d)"),
                                   ch == 'a' ? VOCAB_ALIASES_MAX : ch);
    }
    if (argc - optind != 2)
        return cli_usage_error(_("field value add: usage: unionctl field value add category NAME "
                                 "[--alias A]... [--new-form]"));
    reply rep;
    request r;
    cli_request_begin(&r, "field_value_add");
    msg_map_str(&r.map, "field", argv[optind]);
    msg_map_str(&r.map, "value", argv[optind + 1]);
    msg_map_bool(&r.map, "new_form", new_form);
    msg_map_key(&r.map, "aliases");
    msgpack_pack_array(&r.pk, (size_t)nal);
    for (int i = 0; i < nal; i++)
        msg_pack_str(&r.pk, alias[i]);
    int rc = cli_request_send(&r, &rep);
    if (rc == 0)
        printf(msg_get_bool(rep.result, "changed", 0) ? _("%s: %s added\n")
                                                      : _("%s: %s was already there\n"),
               argv[optind], argv[optind + 1]);
    cli_reply_free(&rep);
    return rc;
}

/* The command word of a line (the first word that is not an option or
 * the value of -d/--data), or NULL. */
static const char *command_word(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--data") == 0) {
            i++;
            continue;
        }
        if (argv[i][0] != '-')
            return argv[i];
    }
    return NULL;
}

/* fields --help, field --help: as cli_help_command prints the table's
 * commands (usage, summary, options, example), each piece translated. */
static void schema_help(FILE *f, int fields)
{
    fprintf(f, "%sunionctl [-d DATA] ", _("usage: "));
    if (fields) {
        fprintf(f, "fields [--json|--csv]\n\n%s\n\n%s\n",
                _("the fields a record may have, with their labels and aliases"), _("options:"));
        fputs(_("  --json            JSON for scripts\n"), f);
        fputs(_("  --csv             CSV for scripts: a header row, then one row per item\n"), f);
    } else {
        fputs(
            "field add NAME [--type text|date|phone|id_number|set] [--label LABEL] [--private]\n"
            "       unionctl [-d DATA] field value add category NAME [--alias A]... [--new-form]\n",
            f);
        fprintf(f, "\n%s\n\n%s\n",
                _("declare a field of the office's own, or a new category value"), _("options:"));
        fputs(_("  --type T          the field's type (default: text)\n"), f);
        fputs(_("  --label LABEL     the field's Chinese label, shown as its column title\n"), f);
        fputs(_("  --private         masked like ID numbers unless --reveal\n"), f);
        fputs(_("  --alias A         another name the value may be written as (repeatable)\n"), f);
        fputs(_("  --new-form        a new form of employment (新就业形态), counted apart\n"), f);
    }
    fputs(_("  -d DATA           the node's data directory (default: $UNIOND_DATA)\n"), f);
    fputs(_("  -h, --help        this help\n"), f);
    fprintf(f, "\n%s\n  %s\n", _("example:"),
            fields ? "unionctl fields" : "unionctl field add shoe_size --type text --label 鞋码");
}

int cli_schema_line(int argc, char **argv)
{
    const char *w = command_word(argc, argv);
    if (!w || (strcmp(w, "field") != 0 && strcmp(w, "fields") != 0))
        return -1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            schema_help(stdout, strcmp(w, "fields") == 0);
            return EXIT_OK;
        }
    /* -d DATA may stand anywhere, as for every command */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n = 0, seen = 0;
    if (!rest)
        return EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--data") == 0) && i + 1 < argc) {
            cli_data_dir = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--data=", 7) == 0) {
            cli_data_dir = argv[i] + 7;
            continue;
        }
        if (!seen && argv[i] == w)
            seen = 1;
        if (seen)
            rest[n++] = argv[i];
    }
    int rc;
    if (!cli_data_dir || !*cli_data_dir)
        rc = cli_usage_error(_("no DATA directory: give -d DATA or set UNIOND_DATA"));
    else
        rc = cli_schema_main(n, rest);
    free(rest);
    return rc;
}

int cli_schema_main(int argc, char **argv)
{
    if (strcmp(argv[0], "fields") == 0)
        return cmd_fields(argc, argv);
    if (strcmp(argv[0], "field") != 0)
        return -1;
    if (argc >= 2 && strcmp(argv[1], "add") == 0)
        return cmd_field_add(argc - 1, argv + 1);
    if (argc >= 3 && strcmp(argv[1], "value") == 0 && strcmp(argv[2], "add") == 0)
        return cmd_field_value_add(argc - 2, argv + 2);
    return cli_usage_error(_("field: usage: unionctl field add NAME ... | field value add category "
                             "NAME ..."));
}
