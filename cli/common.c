/* common.c - what unionctl's command modules share (see cli.h): the
 * request/reply round trip with the daemon and rendering of record lists.
 * Nothing here reads the command line. */
#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/dmsg.h"
#include "cli/i18n.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "proto/msg.h"
#include "proto/schema.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_data_dir;

static const char *operator_name(void)
{
    const char *op = getenv("UNIOND_OPERATOR");
    if (op && *op)
        return op;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : "unknown";
}

void cli_request_begin(request *r, const char *op)
{
    msgpack_sbuffer_init(&r->buf);
    msgpack_packer_init(&r->pk, &r->buf, msgpack_sbuffer_write);
    msg_map_open(&r->map, &r->pk);
    if (op)
        msg_map_str(&r->map, "op", op);
    msg_map_str(&r->map, "operator", operator_name());
}

void cli_request_discard(request *r)
{
    msgpack_sbuffer_destroy(&r->buf);
}

/* Send the request; on success *rep holds the result. Returns an exit code;
 * on failure the message has been printed. */
int cli_request_send(request *r, reply *rep)
{
    char err[1024];
    msg_map_close(&r->map);
    msgpack_unpacked_init(&rep->u);
    rep->body = NULL;
    rep->result = NULL;
    int rc = ctl_call(&rep->u, &rep->body, cli_data_dir, r->buf.data, r->buf.size, err, sizeof err);
    cli_progress_stop_current(); /* the reply (or error) is printed on a clean line */
    msgpack_sbuffer_destroy(&r->buf);
    if (rc != CTL_OK) {
        fprintf(stderr, "unionctl: %s\n", err);
        return rc == CTL_UNREACHABLE ? EXIT_UNREACHABLE : EXIT_FAIL;
    }
    if (!msg_get_bool(&rep->u.data, "ok", 0)) {
        /* the daemon speaks English; the clerk reads it in the locale's language */
        char *raw = msg_get_str(&rep->u.data, "error"), *e = dmsg_translate(raw);
        fprintf(stderr, "unionctl: %s\n", e ? e : _("the daemon refused the request"));
        free(e);
        free(raw);
        const msgpack_object_array *errs = msg_get_array(&rep->u.data, "errors");
        for (uint32_t i = 0; errs && i < errs->size; i++) {
            char *f = msg_get_str(&errs->ptr[i], "field");
            char *reason = msg_get_str(&errs->ptr[i], "reason"),
                 *why = dmsg_translate_reason(f, reason);
            fprintf(stderr, _("  line %lld: %s: %s\n"),
                    (long long)msg_get_int(&errs->ptr[i], "line", 0), f ? f : "?", why ? why : "?");
            free(f);
            free(why);
            free(reason);
        }
        return EXIT_FAIL;
    }
    rep->result = msg_get(&rep->u.data, "result");
    return EXIT_OK;
}

void cli_reply_free(reply *rep)
{
    msgpack_unpacked_destroy(&rep->u);
    free(rep->body);
}

/* ---- rendering helpers ---------------------------------------------------- */

/* A record's displayed value for a field as text (sets joined by ';'). The
 * result is malloc'd. */
char *cli_record_cell(const msgpack_object *rec, const char *field)
{
    if (strcmp(field, "id") == 0)
        return msg_get_str(rec, "id");
    const msgpack_object *v = msg_get(msg_get(rec, "fields"), field);
    if (!v)
        return strdup("");
    if (v->type == MSGPACK_OBJECT_STR)
        return msg_str_dup(v);
    if (v->type == MSGPACK_OBJECT_ARRAY) {
        size_t len = 1;
        for (uint32_t i = 0; i < v->via.array.size; i++)
            len += v->via.array.ptr[i].via.str.size + 1;
        char *out = calloc(1, len);
        for (uint32_t i = 0; out && i < v->via.array.size; i++) {
            if (v->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
                continue;
            if (i)
                strcat(out, ";");
            strncat(out, v->via.array.ptr[i].via.str.ptr, v->via.array.ptr[i].via.str.size);
        }
        return out;
    }
    return strdup("");
}

int cli_in_conflict(const msgpack_object *rec, const char *field)
{
    return msg_get(msg_get(rec, "conflicts"), field) != NULL;
}

/* Field names present in any of the records, schema order first, then the
 * other fields sorted. Returns a malloc'd array of borrowed/static strings. */
size_t cli_columns_of(const char ***out, const msgpack_object_array *recs, int with_id)
{
    size_t ns, n = 0, cap = 16;
    const schema_field *sf = schema_fields(&ns);
    const char **cols = malloc(cap * sizeof *cols);
    if (!cols)
        return 0;
    if (with_id)
        cols[n++] = "id";
    for (size_t i = 0; i < ns; i++)
        for (uint32_t r = 0; r < recs->size; r++)
            if (msg_get(msg_get(&recs->ptr[r], "fields"), sf[i].name)) {
                if (n == cap)
                    cols = realloc(cols, (cap *= 2) * sizeof *cols);
                cols[n++] = sf[i].name;
                break;
            }
    /* custom fields: collect unique names */
    size_t first_custom = n;
    char **custom_store = NULL;
    size_t ncustom = 0;
    for (uint32_t r = 0; r < recs->size; r++) {
        const msgpack_object *f = msg_get(&recs->ptr[r], "fields");
        for (uint32_t k = 0; f && f->type == MSGPACK_OBJECT_MAP && k < f->via.map.size; k++) {
            char *name = msg_str_dup(&f->via.map.ptr[k].key);
            if (!name)
                continue;
            int seen = schema_field_find(name) != NULL;
            for (size_t j = 0; j < ncustom && !seen; j++)
                seen = strcmp(custom_store[j], name) == 0;
            if (seen) {
                free(name);
                continue;
            }
            custom_store = realloc(custom_store, (ncustom + 1) * sizeof *custom_store);
            custom_store[ncustom++] = name;
        }
    }
    for (size_t i = 0; i < ncustom; i++) {
        /* insertion into sorted position among customs */
        if (n == cap)
            cols = realloc(cols, (cap *= 2) * sizeof *cols);
        size_t pos = n;
        while (pos > first_custom && strcmp(cols[pos - 1], custom_store[i]) > 0)
            pos--;
        memmove(&cols[pos + 1], &cols[pos], (n - pos) * sizeof *cols);
        cols[pos] = custom_store[i]; /* leaked on purpose: lives until exit */
        n++;
    }
    free(custom_store);
    *out = cols;
    return n;
}

const msgpack_object_array *cli_result_records(const reply *rep)
{
    const msgpack_object *r = msg_get(rep->result, "records");
    static const msgpack_object_array empty = {0, NULL};
    return r && r->type == MSGPACK_OBJECT_ARRAY ? &r->via.array : &empty;
}

const char *cli_column_title(const char *column)
{
    if (schema_field_find(column))
        return cli_field_title(column);
    return cli_pgettext("column", column);
}

/* Column titles in the words of the column names marked below. */
static const char *const column_words[] = {
    NC_("column", "field"),   NC_("column", "value"),  NC_("column", "node"),
    NC_("column", "time"),    NC_("column", "count"),  NC_("column", "keep"),
    NC_("column", "dup"),     NC_("column", "reason"), NC_("column", "shared"),
    NC_("column", "date"),    NC_("column", "kind"),   NC_("column", "amount"),
    NC_("column", "station"), NC_("column", "id"),
};

void cli_print_rows(const opts *o, const char *const *head, size_t ncols, const char *const *cells,
                    size_t nrows)
{
    (void)column_words;
    if (!o->csv) {
        const char **titles = malloc((ncols + 1) * sizeof *titles);
        for (size_t i = 0; titles && i < ncols; i++)
            titles[i] = head[i] ? cli_column_title(head[i]) : NULL;
        render_table(stdout, titles ? titles : head, ncols, cells, nrows);
        free(titles);
        return;
    }
    render_csv_row(stdout, head, ncols);
    for (size_t i = 0; i < nrows; i++)
        render_csv_row(stdout, cells + i * ncols, ncols);
}

void cli_print_rows_free(const opts *o, const char *const *head, size_t ncols, char **cells,
                         size_t nrows)
{
    if (!cells) {
        fprintf(stderr, _("unionctl: out of memory\n"));
        return;
    }
    cli_print_rows(o, head, ncols, (const char *const *)cells, nrows);
    for (size_t i = 0; i < nrows * ncols; i++)
        free(cells[i]);
    free(cells);
}

void cli_print_json(const msgpack_object *o)
{
    if (o)
        render_json_msgpack(stdout, o, 1);
    else
        fputs("null", stdout);
    putchar('\n');
}

void cli_print_records_csv(const msgpack_object_array *recs)
{
    const char **cols = NULL;
    size_t nc = cli_columns_of(&cols, recs, 1);
    render_csv_row(stdout, cols, nc);
    char **cells = calloc(nc, sizeof *cells);
    for (uint32_t r = 0; cells && r < recs->size; r++) {
        for (size_t c = 0; c < nc; c++)
            cells[c] = cli_record_cell(&recs->ptr[r], cols[c]);
        render_csv_row(stdout, (const char *const *)cells, nc);
        for (size_t c = 0; c < nc; c++)
            free(cells[c]);
    }
    free(cells);
    free(cols);
}

static const char *const list_columns[] = {"id",       "name",   "gender", "id_number", "phone",
                                           "category", "office", "status", "joined"};

void cli_print_records_table(const msgpack_object_array *recs)
{
    size_t nc = sizeof list_columns / sizeof *list_columns;
    size_t ncells = (size_t)recs->size * nc;
    char **cells = calloc(ncells + 1, sizeof *cells);
    int any_conflict = 0;
    if (!cells)
        return;
    for (uint32_t r = 0; r < recs->size; r++)
        for (size_t c = 0; c < nc; c++) {
            char *v = cli_record_cell(&recs->ptr[r], list_columns[c]);
            const char *shown = v ? cli_value_shown(list_columns[c], v) : NULL;
            if (shown && shown != v) {
                free(v);
                v = strdup(shown);
            }
            if (v && cli_in_conflict(&recs->ptr[r], list_columns[c])) {
                char *m = malloc(strlen(v) + 2);
                if (m)
                    sprintf(m, "%s*", v);
                free(v);
                v = m;
                any_conflict = 1;
            }
            cells[(size_t)r * nc + c] = v;
        }
    const char *titles[sizeof list_columns / sizeof *list_columns];
    for (size_t c = 0; c < nc; c++)
        titles[c] = cli_field_title(list_columns[c]);
    render_table(stdout, titles, nc, (const char *const *)cells, recs->size);
    for (size_t i = 0; i < ncells; i++)
        free(cells[i]);
    free(cells);
    if (any_conflict)
        fputs(_("* field in conflict: unionctl show ID lists the values\n"), stdout);
}
