/* query.c - --where conditions (see query.h). Values compare as UTF-8
 * strings, which orders ISO dates as dates; `~` is a case-insensitive
 * (ASCII) substring test. */
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

int query_cond_parse(query_cond *c, const char *expr, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const char *p = expr;
    while (*p == ' ')
        p++;
    const char *f = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
        p++;
    size_t flen = (size_t)(p - f);
    while (*p == ' ')
        p++;
    char opbuf[3] = {0};
    if (*p && strchr("=!<>~", *p)) {
        opbuf[0] = *p++;
        if (*p == '=' && opbuf[0] != '=' && opbuf[0] != '~') opbuf[1] = *p++;
    }
    query_op op;
    if (flen == 0 || query_op_parse(&op, opbuf) != 0) {
        snprintf(err, errlen,
                 "bad condition '%s': expected FIELD OP VALUE with OP one of = != < <= > >= ~",
                 expr);
        return -1;
    }
    char *field = strndup(f, flen);
    if (!field) return -1;
    if (strcmp(field, "id") != 0 && !schema_name_valid(field)) {
        snprintf(err, errlen, "bad condition: '%s' is not a field name", field);
        free(field);
        return -1;
    }
    while (*p == ' ')
        p++;
    char *value = strdup(p);
    if (!value) {
        free(field);
        return -1;
    }
    size_t vl = strlen(value);
    while (vl && value[vl - 1] == ' ')
        value[--vl] = 0;
    /* Normalise like stored values (M -> 男, ACTIVE -> active), so the
     * comparison sees what the store holds. Partial values stay as typed. */
    if (op != Q_HAS && *value) {
        char *norm = NULL, e2[8];
        if (schema_value_check(&norm, field, value, "9999-12-31", e2, sizeof e2) == 0) {
            free(value);
            value = norm;
        }
    }
    c->field = field;
    c->op = op;
    c->value = value;
    return 0;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return 1;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

static int cmp_ok(query_op op, const char *have, const char *want)
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
    if (strcmp(field, "id") == 0) return id;
    const record_entry *e = record_field_winner(r, field);
    return e ? e->value : "";
}

static int cond_match(const query_cond *c, const char *id, const record *r)
{
    if (strcmp(c->field, "id") != 0 && schema_field_is_set(c->field)) {
        size_t first, n = record_field_entries(r, c->field, &first);
        if (c->op == Q_NE) {
            for (size_t i = first; i < first + n; i++)
                if (strcmp(r->entries[i].value, c->value) == 0) return 0;
            return 1;
        }
        for (size_t i = first; i < first + n; i++)
            if (cmp_ok(c->op, r->entries[i].value, c->value)) return 1;
        return n == 0 && cmp_ok(c->op, "", c->value);
    }
    return cmp_ok(c->op, query_display(r, id, c->field), c->value);
}

int query_match(const query_cond *c, size_t n, const char *id, const record *r)
{
    for (size_t i = 0; i < n; i++)
        if (!cond_match(&c[i], id, r)) return 0;
    return 1;
}
