/* kindcmd.c - unionctl's commands for the kinds of record of issue 11:
 * `import --kind K FILE.csv` for kinds other than member (the header
 * resolved with that kind's fields and Chinese labels), `benefit give` /
 * `benefit list`, and `report` (table, --csv, --json with exactly the
 * issue's keys). The daemon checks every value; the CLI only reads the
 * file and shapes requests and replies. Never prints masked values
 * unmasked (benefits hold no personal field). */
#include "cli/errtext.h"
#include "cli/cli.h"
#include "cli/csvin.h"
#include "cli/dmsg.h"
#include "cli/i18n.h"
#include "cli/xlsx.h"

#include "proto/kind.h"
#include "proto/record.h"
#include "proto/schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- import --kind K ---------------------------------------------------------- */

/* The whole file at path, malloc'd (NUL-terminated). 0, or -1 with err. */
static int file_slurp(char **out, size_t *len, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    *out = NULL;
    if (!f || !buf) {
        snprintf(err, errlen, "%s", f ? _("out of memory") : errtext_strerror(errno));
        goto fail;
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = cap > CSVIN_FILE_MAX ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                snprintf(err, errlen, _("larger than %zu MiB"), CSVIN_FILE_MAX >> 20);
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s", errtext_strerror(errno));
        goto fail;
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
fail:
    if (f)
        fclose(f);
    free(buf);
    return -1;
}

int cli_kind_is_member(const char *word)
{
    record_kind k;
    char err[256];
    return kind_parse(&k, word, err, sizeof err) == UERR_OK && k == KIND_MEMBER;
}

int cli_kind_import_build(cli_call *c)
{
    record_kind k;
    char err[512], *buf = NULL;
    size_t len = 0;
    const char **names = NULL;
    csvin_doc doc;
    int rc = EXIT_FAIL;
    csvin_init(&doc);
    if (kind_parse(&k, c->o.kind, err, sizeof err) != UERR_OK) {
        dmsg_translate_buf(err, sizeof err);
        return cli_usage_error(_("--kind: %s"), err);
    }
    if (file_slurp(&buf, &len, c->args[0], err, sizeof err) != 0 ||
        csvin_parse(&doc, buf, len, err, sizeof err) != 0) {
        fprintf(stderr, _("unionctl: %s: %s; nothing imported\n"), c->args[0], err);
        goto cleanup;
    }
    names = calloc(doc.nheader + 1, sizeof *names);
    if (!names) {
        fprintf(stderr, _("unionctl: out of memory\n"));
        goto cleanup;
    }
    for (size_t i = 0; i < doc.nheader; i++) {
        const schema_field *f = NULL;
        if (strcmp(doc.header[i], "id") == 0) {
            names[i] = "id";
            continue;
        }
        if (schema_kind_field_resolve(&f, k, doc.header[i], err, sizeof err) != UERR_OK) {
            dmsg_translate_buf(err, sizeof err);
            fprintf(stderr, _("unionctl: %s: line 1: %s; nothing imported\n"), c->args[0], err);
            goto cleanup;
        }
        names[i] = f->name;
    }
    msgpack_packer *pk = &c->req.pk;
    msg_map_key(&c->req.map, "header");
    msgpack_pack_array(pk, doc.nheader);
    for (size_t i = 0; i < doc.nheader; i++)
        msg_pack_str(pk, names[i]);
    msg_map_bool(&c->req.map, "skip_invalid", c->o.skip_invalid);
    msg_map_key(&c->req.map, "rows");
    msgpack_pack_array(pk, doc.nrows);
    for (size_t i = 0; i < doc.nrows; i++) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, doc.rows[i].line);
        msgpack_pack_array(pk, doc.rows[i].ncells);
        for (size_t j = 0; j < doc.rows[i].ncells; j++)
            msg_pack_str(pk, doc.rows[i].cells[j] ? doc.rows[i].cells[j] : "");
    }
    rc = 0;
cleanup:
    free(names);
    free(buf);
    csvin_free(&doc);
    return rc;
}

void cli_kind_records_print(const cli_call *c, const msgpack_object_array *recs, int csv)
{
    record_kind k;
    size_t nf, ncols = 0;
    char err[256];
    if (kind_parse(&k, c->o.kind, err, sizeof err) != UERR_OK)
        return;
    const schema_field *sf = schema_kind_fields(k, &nf);
    const char **head = calloc(nf + 2, sizeof *head);
    if (!head) {
        fprintf(stderr, _("unionctl: out of memory\n"));
        return;
    }
    head[ncols++] = "id";
    for (size_t i = 0; i < nf; i++)
        if (!sf[i].input_only)
            head[ncols++] = sf[i].name;
    char **cells = calloc(recs->size * ncols + 1, sizeof *cells);
    for (uint32_t r = 0; cells && r < recs->size; r++)
        for (size_t j = 0; j < ncols; j++) {
            char *linked = csv ? NULL : cli_link_cell(&recs->ptr[r], head[j], 1); /* records.c */
            cells[r * ncols + j] = linked ? linked : cli_record_cell(&recs->ptr[r], head[j]);
        }
    opts o = c->o;
    o.csv = csv;
    cli_print_rows_free(&o, head, ncols, cells, recs->size);
    free(head);
}

/* 1 if s is written like a resident ID number (15 or 18 digits, the
 * 18th may be X): benefit give then sends it as id_number. */
static int looks_like_id_number(const char *s)
{
    size_t n = strlen(s);
    if (n != 15 && n != 18)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= '0' && s[i] <= '9') && !(i == 17 && (s[i] == 'X' || s[i] == 'x')))
            return 0;
    return 1;
}

/* ---- benefit ------------------------------------------------------------------- */

/* One ["field", "=", value] of an add request. */
static void pack_assign(msgpack_packer *pk, const char *field, const char *value)
{
    msgpack_pack_array(pk, 3);
    msg_pack_str(pk, field);
    msg_pack_str(pk, "=");
    msg_pack_str(pk, value);
}

int cli_benefit_build(cli_call *c)
{
    const char *verb = c->args[0];
    if (strcmp(verb, "list") == 0) {
        if (c->nargs != 2 || c->o.date || c->o.amount || c->o.station)
            return cli_usage_of(c);
        cli_call_op(c, "benefit_list");
        msg_map_str(&c->req.map, "member", c->args[1]);
        return 0;
    }
    if (strcmp(verb, "give") != 0 || c->nargs != 3 || c->o.csv)
        return cli_usage_of(c);
    if (!c->o.date)
        return cli_usage_error(_("benefit give: --date D is required (the day of the hand-out)"));
    cli_call_op(c, "add");
    msg_map_str(&c->req.map, "kind", "benefit");
    msgpack_packer *pk = &c->req.pk;
    size_t n = 3 + (c->o.amount != NULL) + (c->o.station != NULL);
    msg_map_key(&c->req.map, "fields");
    msgpack_pack_array(pk, n);
    /* an ID number names the member by it; anything else is a record id */
    pack_assign(pk, looks_like_id_number(c->args[1]) ? "id_number" : "member", c->args[1]);
    pack_assign(pk, "kind", c->args[2]);
    pack_assign(pk, "date", c->o.date);
    if (c->o.amount)
        pack_assign(pk, "amount", c->o.amount);
    if (c->o.station)
        pack_assign(pk, "station", c->o.station);
    return 0;
}

int cli_benefit_print(cli_call *c)
{
    static const char *const head[] = {"date", "kind", "amount", "station", "id"};
    const msgpack_object *res = c->rep.result;
    if (strcmp(c->args[0], "give") == 0) {
        char *id = msg_get_str(res, "id");
        printf("%s%s\n", id ? id : "?",
               msg_get_int(res, "changed", 1) ? "" : _(" (unchanged: already recorded)"));
        free(id);
        return EXIT_OK;
    }
    const msgpack_object_array *recs = msg_get_array(res, "records");
    size_t n = recs ? recs->size : 0;
    char **cells = calloc(n * 5 + 1, sizeof *cells);
    for (size_t i = 0; cells && i < n; i++)
        for (size_t j = 0; j < 5; j++)
            cells[i * 5 + j] = cli_record_cell(&recs->ptr[i], head[j]);
    cli_print_rows_free(&c->o, head, 5, cells, n);
    return EXIT_OK;
}

/* ---- report --------------------------------------------------------------------- */

int cli_report_build(cli_call *c)
{
    if (!c->o.from || !c->o.to)
        return cli_usage_error(_("report: give --from D and --to D (YYYY-MM-DD)"));
    msg_map_str(&c->req.map, "from", c->o.from);
    msg_map_str(&c->req.map, "to", c->o.to);
    if (c->o.office)
        msg_map_str(&c->req.map, "office", c->o.office);
    return 0;
}

/* The figures in the order of the issue: group, key, the workbook's
 * Chinese title. */
static const char *const figures[][3] = {
    {"unions", "new", "新建工会"},
    {"unions", "new_form", "其中新就业形态工会"},
    {"members", "new", "新发展会员"},
    {"members", "new_form", "其中新就业形态会员"},
    {"members", "active", "在册会员"},
    {"enterprises", "surveyed", "摸排企业"},
    {"enterprises", "with_union", "其中已建会企业"},
    {"stations", "opened", "新建服务站点"},
    {"stations", "total", "服务站点总数"},
    {"benefits", "count", "福利发放次数"},
    {"benefits", "yuan", "福利发放金额（元）"},
    {"benefits", "members", "受惠会员"},
};
#define NFIG (sizeof figures / sizeof figures[0])

/* A figure of a figures map as text ("12", "1234.50"), malloc'd. */
static char *figure_text(const msgpack_object *fm, size_t i)
{
    const msgpack_object *v = msg_get(msg_get(fm, figures[i][0]), figures[i][1]);
    char buf[32];
    if (v && v->type == MSGPACK_OBJECT_STR)
        return msg_str_dup(v);
    snprintf(buf, sizeof buf, "%lld",
             v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (long long)v->via.u64 : 0LL);
    return strdup(buf);
}

static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* A figures map as JSON: {"unions": {...}, ...}; yuan as a number
 * written exactly as the daemon sent it. */
static void json_figures(const msgpack_object *fm, const char *indent)
{
    const char *group = NULL;
    printf("{");
    for (size_t i = 0; i < NFIG; i++) {
        if (!group || strcmp(group, figures[i][0]) != 0) {
            printf("%s\n%s  \"%s\": {", group ? "}," : "", indent, figures[i][0]);
            group = figures[i][0];
        } else {
            printf(", ");
        }
        char *t = figure_text(fm, i);
        printf("\"%s\": %s", figures[i][1], t ? t : "0");
        free(t);
    }
    printf("}\n%s}", indent);
}

/* Every pair of map key of the result, in the daemon's order. */
static void json_named_maps(const msgpack_object *m, int figures_inside)
{
    printf("{");
    for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        printf("%s\n    ", i ? "," : "");
        json_str(kv->key.via.str.ptr, kv->key.via.str.size);
        printf(": ");
        if (figures_inside) {
            json_figures(&kv->val, "    ");
        } else {
            printf("{\"new\": %lld, \"active\": %lld}", (long long)msg_get_int(&kv->val, "new", 0),
                   (long long)msg_get_int(&kv->val, "active", 0));
        }
    }
    printf("\n  }");
}

static void report_json(const msgpack_object *res)
{
    char *from = msg_get_str(res, "from"), *to = msg_get_str(res, "to");
    printf("{\n  \"from\": \"%s\",\n  \"to\": \"%s\",", from ? from : "", to ? to : "");
    free(from);
    free(to);
    /* the total's groups, then by_office and by_category */
    const char *group = NULL;
    for (size_t i = 0; i < NFIG; i++) {
        if (!group || strcmp(group, figures[i][0]) != 0) {
            printf("%s\n  \"%s\": {", group ? "}," : "", figures[i][0]);
            group = figures[i][0];
        } else {
            printf(", ");
        }
        char *t = figure_text(res, i);
        printf("\"%s\": %s", figures[i][1], t ? t : "0");
        free(t);
    }
    printf("},\n  \"by_office\": ");
    json_named_maps(msg_get(res, "by_office"), 1);
    printf(",\n  \"by_category\": ");
    json_named_maps(msg_get(res, "by_category"), 0);
    printf("\n}\n");
}

/* --csv: one row per office, then "total"; columns office and the figures
 * as group.key (docs/CONTROL.md "report"). */
static void report_csv(const cli_call *c, const msgpack_object *res)
{
    const msgpack_object *offs = msg_get(res, "by_office");
    size_t noff = offs && offs->type == MSGPACK_OBJECT_MAP ? offs->via.map.size : 0;
    const char *head[NFIG + 1];
    char names[NFIG][40];
    head[0] = "office";
    for (size_t i = 0; i < NFIG; i++) {
        snprintf(names[i], sizeof names[i], "%s.%s", figures[i][0], figures[i][1]);
        head[i + 1] = names[i];
    }
    char **cells = calloc((noff + 1) * (NFIG + 1) + 1, sizeof *cells);
    for (size_t r = 0; cells && r <= noff; r++) {
        const msgpack_object *fm = r < noff ? &offs->via.map.ptr[r].val : res;
        cells[r * (NFIG + 1)] = r < noff ? msg_str_dup(&offs->via.map.ptr[r].key) : strdup("total");
        for (size_t i = 0; i < NFIG; i++)
            cells[r * (NFIG + 1) + 1 + i] = figure_text(fm, i);
    }
    cli_print_rows_free(&c->o, head, NFIG + 1, cells, noff + 1);
}

/* The table: one row per figure, columns the total and each office. */
static void report_table(const cli_call *c, const msgpack_object *res)
{
    const msgpack_object *offs = msg_get(res, "by_office");
    size_t noff = offs && offs->type == MSGPACK_OBJECT_MAP ? offs->via.map.size : 0;
    size_t ncols = noff + 2;
    const char **head = calloc(ncols, sizeof *head);
    char **offnames = calloc(noff + 1, sizeof *offnames);
    char **cells = calloc(NFIG * ncols + 1, sizeof *cells);
    char *from = msg_get_str(res, "from"), *to = msg_get_str(res, "to");
    char names[NFIG][40];
    if (!head || !offnames || !cells) {
        fprintf(stderr, _("unionctl: out of memory\n"));
        goto cleanup;
    }
    printf(_("report %s .. %s\n"), from ? from : "?", to ? to : "?");
    head[0] = NC_("column", "figure"); /* titled by cli_print_rows */
    head[1] = NC_("column", "total");
    for (size_t o = 0; o < noff; o++)
        head[o + 2] = offnames[o] = msg_str_dup(&offs->via.map.ptr[o].key);
    for (size_t i = 0; i < NFIG; i++) {
        snprintf(names[i], sizeof names[i], "%s.%s", figures[i][0], figures[i][1]);
        /* in Chinese the figure's name on the county's form */
        cells[i * ncols] = strdup(cli_i18n_chinese() ? figures[i][2] : names[i]);
        cells[i * ncols + 1] = figure_text(res, i);
        for (size_t o = 0; o < noff; o++)
            cells[i * ncols + 2 + o] = figure_text(&offs->via.map.ptr[o].val, i);
    }
    cli_print_rows_free(&c->o, head, ncols, cells, NFIG);
    cells = NULL;
    const msgpack_object *cats = msg_get(res, "by_category");
    size_t ncat = cats && cats->type == MSGPACK_OBJECT_MAP ? cats->via.map.size : 0;
    if (ncat) {
        static const char *const chead[] = {"category", NC_("column", "new"),
                                            NC_("column", "active")};
        char **cc = calloc(ncat * 3 + 1, sizeof *cc);
        for (size_t i = 0; cc && i < ncat; i++) {
            char buf[32];
            cc[i * 3] = msg_str_dup(&cats->via.map.ptr[i].key);
            if (cc[i * 3] && !c->o.csv) { /* a table: the clerk's words */
                const char *w = strcmp(cc[i * 3], "(none)") == 0
                                    ? _("(none)")
                                    : cli_value_shown("category", cc[i * 3]);
                char *shown = strdup(w);
                free(cc[i * 3]);
                cc[i * 3] = shown;
            }
            snprintf(buf, sizeof buf, "%lld",
                     (long long)msg_get_int(&cats->via.map.ptr[i].val, "new", 0));
            cc[i * 3 + 1] = strdup(buf);
            snprintf(buf, sizeof buf, "%lld",
                     (long long)msg_get_int(&cats->via.map.ptr[i].val, "active", 0));
            cc[i * 3 + 2] = strdup(buf);
        }
        putchar('\n');
        cli_print_rows_free(&c->o, chead, 3, cc, ncat);
    }
cleanup:
    for (size_t o = 0; offnames && o < noff; o++)
        free(offnames[o]);
    free(offnames);
    free(head);
    free(cells);
    free(from);
    free(to);
}

/* --xlsx sheet 1, 合计: one row per figure: title, key, total. */
static int report_xlsx_totals(xlsx_book *b, const msgpack_object *res)
{
    static const char *const head[] = {"指标", "键", "合计"};
    static const unsigned char text[] = {1, 1, 0};
    char *cells[NFIG * 3];
    char keys[NFIG][40];
    for (size_t i = 0; i < NFIG; i++) {
        snprintf(keys[i], sizeof keys[i], "%s.%s", figures[i][0], figures[i][1]);
        cells[i * 3] = (char *)figures[i][2];
        cells[i * 3 + 1] = keys[i];
        cells[i * 3 + 2] = figure_text(res, i);
    }
    int rc = xlsx_sheet(b, "合计", head, 3, (const char *const *)cells, NFIG, text);
    for (size_t i = 0; i < NFIG; i++)
        free(cells[i * 3 + 2]);
    return rc;
}

/* --xlsx sheet 2, 按单位: one row per office (its code as text), one
 * column per figure titled in Chinese, in the order of sheet 1. */
static int report_xlsx_offices(xlsx_book *b, const msgpack_object *res)
{
    const msgpack_object *offs = msg_get(res, "by_office");
    size_t noff = offs && offs->type == MSGPACK_OBJECT_MAP ? offs->via.map.size : 0;
    const char *head[NFIG + 1];
    unsigned char text[NFIG + 1] = {1};
    char **cells = calloc(noff * (NFIG + 1) + 1, sizeof *cells);
    if (!cells)
        return -1;
    head[0] = "单位";
    for (size_t i = 0; i < NFIG; i++)
        head[i + 1] = figures[i][2];
    for (size_t r = 0; r < noff; r++) {
        cells[r * (NFIG + 1)] = msg_str_dup(&offs->via.map.ptr[r].key);
        for (size_t i = 0; i < NFIG; i++)
            cells[r * (NFIG + 1) + 1 + i] = figure_text(&offs->via.map.ptr[r].val, i);
    }
    int rc = xlsx_sheet(b, "按单位", head, NFIG + 1, (const char *const *)cells, noff, text);
    for (size_t i = 0; i < noff * (NFIG + 1); i++)
        free(cells[i]);
    free(cells);
    return rc;
}

/* --xlsx sheet 3, 按类别: category (text), new, active. */
static int report_xlsx_categories(xlsx_book *b, const msgpack_object *res)
{
    static const char *const head[] = {"类别", "新发展会员", "在册会员"};
    static const unsigned char text[] = {1, 0, 0};
    const msgpack_object *cats = msg_get(res, "by_category");
    size_t ncat = cats && cats->type == MSGPACK_OBJECT_MAP ? cats->via.map.size : 0;
    char **cells = calloc(ncat * 3 + 1, sizeof *cells);
    if (!cells)
        return -1;
    for (size_t i = 0; i < ncat; i++) {
        char buf[32];
        cells[i * 3] = msg_str_dup(&cats->via.map.ptr[i].key);
        snprintf(buf, sizeof buf, "%lld",
                 (long long)msg_get_int(&cats->via.map.ptr[i].val, "new", 0));
        cells[i * 3 + 1] = strdup(buf);
        snprintf(buf, sizeof buf, "%lld",
                 (long long)msg_get_int(&cats->via.map.ptr[i].val, "active", 0));
        cells[i * 3 + 2] = strdup(buf);
    }
    int rc = xlsx_sheet(b, "按类别", head, 3, (const char *const *)cells, ncat, text);
    for (size_t i = 0; i < ncat * 3; i++)
        free(cells[i]);
    free(cells);
    return rc;
}

/* --xlsx FILE: the workbook, one sheet per table; says where it went. */
static int report_xlsx(const cli_call *c, const msgpack_object *res)
{
    xlsx_book *b = xlsx_open(c->o.xlsx);
    if (!b)
        return EXIT_FAIL;
    int rc = report_xlsx_totals(b, res);
    rc |= report_xlsx_offices(b, res);
    rc |= report_xlsx_categories(b, res);
    rc |= xlsx_close(b);
    if (rc)
        return EXIT_FAIL;
    printf(_("report written to %s\n"), c->o.xlsx);
    return EXIT_OK;
}

int cli_report_print(cli_call *c)
{
    const msgpack_object *res = c->rep.result;
    if (!res || res->type != MSGPACK_OBJECT_MAP)
        return EXIT_FAIL;
    if (c->o.xlsx)
        return report_xlsx(c, res);
    if (c->o.json)
        report_json(res);
    else if (c->o.csv)
        report_csv(c, res);
    else
        report_table(c, res);
    return EXIT_OK;
}
