/* query.c - --where conditions (see query.h). Field names and values go
 * through the same resolution and normalisation as input (schema.h), so a
 * condition means what the same words would mean in an import. Values
 * compare as UTF-8 strings, which orders the stored YYYY-MM-DD dates as
 * dates; `~` is a case-insensitive (ASCII) substring test. */
#include "proto/query.h"

#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const opnames[] = {"=", "!=", "<", "<=", ">", ">=", "~"};

const char *query_op_str(query_op op)
{
    return opnames[op];
}

int query_op_parse(query_op *op, const char *s)
{
    for (int i = 0; i < 7; i++)
        if (strcmp(s, opnames[i]) == 0) {
            *op = (query_op)i;
            return 0;
        }
    return -1;
}

void query_cond_free(query_cond *c)
{
    free(c->field);
    free(c->value);
    c->field = c->value = NULL;
}

/* The value of a condition on field f, normalised by the rules of input
 * (2021/1/1 -> 2021-01-01, 快递小哥 -> 快递员, ０１ -> 01), so it compares
 * with what the store holds. `~` is a substring test: its value is only
 * made NFKC and trimmed. A value that can never be stored (a partial phone
 * with =, a date that is not one) is refused rather than matching nothing
 * in silence. "" (field absent) is kept. */
static uerr cond_value(char **out, const schema_field *f, query_op op, const char *raw, char *err,
                       size_t errlen)
{
    schema_norm n;
    uerr rc;
    *out = NULL;
    if (!f || op == Q_HAS) {
        rc = schema_text_normalize(out, raw, strlen(raw));
        if (rc == UERR_INVALID)
            return uerr_set(err, errlen, rc, "bad condition: the value is not valid UTF-8");
        return rc == UERR_NOMEM ? uerr_set(err, errlen, rc, "out of memory") : rc;
    }
    rc = schema_text_normalize(out, raw, strlen(raw));
    if (rc != UERR_OK || **out == '\0') {
        if (rc == UERR_INVALID)
            return uerr_set(err, errlen, rc, "bad condition: the value is not valid UTF-8");
        return rc == UERR_NOMEM ? uerr_set(err, errlen, rc, "out of memory") : rc;
    }
    free(*out);
    *out = NULL;
    /* far future: a condition may name any date */
    char why[400];
    rc = schema_value_normalize(&n, f->name, raw, "9999-12-31", why, sizeof why);
    if (rc != UERR_OK)
        return uerr_set(err, errlen, rc, "bad condition: %s", why);
    *out = n.value;
    return UERR_OK;
}

int query_cond_parse(query_cond *c, const char *expr, char *err, size_t errlen)
{
    const schema_field *sf = NULL;
    char *field = NULL, *value = NULL;
    uerr rc;

    memset(c, 0, sizeof *c);
    /* FIELD is everything before the operator: a field name, or a Chinese
     * column name (入会日期>=2021/1/1); it cannot hold an operator char */
    const char *f = expr, *p = expr;
    while (*p && !strchr("=!<>~", *p))
        p++;
    const char *fend = p;
    while (fend > f && fend[-1] == ' ')
        fend--;
    while (f < fend && *f == ' ')
        f++;
    size_t flen = (size_t)(fend - f);
    char opbuf[3] = {0};
    if (*p) {
        opbuf[0] = *p++;
        if (*p == '=' && opbuf[0] != '=' && opbuf[0] != '~')
            opbuf[1] = *p++;
    }
    query_op op;
    if (flen == 0 || query_op_parse(&op, opbuf) != 0) {
        snprintf(err, errlen,
                 "bad condition '%s': expected FIELD OP VALUE with OP one of = != < <= > >= ~",
                 expr);
        return -1;
    }
    if (!(field = strndup(f, flen)))
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    if (strcmp(field, "id") != 0) {
        char why[400];
        if (schema_field_resolve(&sf, field, why, sizeof why) != UERR_OK) {
            rc = uerr_set(err, errlen, UERR_INVALID, "bad condition: %s", why);
            goto fail;
        }
        free(field);
        if (!(field = strdup(sf->name))) {
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    while (*p == ' ')
        p++;
    if ((rc = cond_value(&value, sf, op, p, err, errlen)) != UERR_OK)
        goto fail;
    c->field = field;
    c->op = op;
    c->value = value;
    return 0;
fail:
    free(field);
    free(value);
    return rc;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

int query_op_holds(query_op op, const char *have, const char *want)
{
    int c = strcmp(have, want);
    switch (op) {
    case Q_EQ:
        return c == 0;
    case Q_NE:
        return c != 0;
    case Q_LT:
        return c < 0;
    case Q_LE:
        return c <= 0;
    case Q_GT:
        return c > 0;
    case Q_GE:
        return c >= 0;
    case Q_HAS:
        return contains_ci(have, want);
    }
    return 0;
}

const char *query_display(const record *r, const char *id, const char *field)
{
    if (strcmp(field, "id") == 0)
        return id;
    const record_entry *e = record_field_winner(r, field);
    return e ? e->value : "";
}

static int cond_match(const query_cond *c, const char *id, const record *r)
{
    if (strcmp(c->field, "id") != 0 && schema_field_is_set(c->field)) {
        size_t first, n = record_field_entries(r, c->field, &first);
        if (c->op == Q_NE) {
            for (size_t i = first; i < first + n; i++)
                if (strcmp(r->entries[i].value, c->value) == 0)
                    return 0;
            return 1;
        }
        for (size_t i = first; i < first + n; i++)
            if (query_op_holds(c->op, r->entries[i].value, c->value))
                return 1;
        return n == 0 && query_op_holds(c->op, "", c->value);
    }
    return query_op_holds(c->op, query_display(r, id, c->field), c->value);
}

int query_match(const query_cond *c, size_t n, const char *id, const record *r)
{
    for (size_t i = 0; i < n; i++)
        if (!cond_match(&c[i], id, r))
            return 0;
    return 1;
}
