/* schema_row.c - the checks a clerk expects across the fields of one
 * record (gender against the ID number, the age on the join date) and the
 * normalisation of a whole row, collecting every problem at once. Pure:
 * no I/O. */
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/schema_priv.h"

static int present(const char *s)
{
    return s && *s;
}

/* The normalised ID's birth date as numbers; 0 if it has none. */
static int id_birth(const char *id, int *y, int *m, int *d)
{
    if (!present(id) || strlen(id) != 18)
        return 0;
    for (int i = 6; i < 14; i++)
        if (id[i] < '0' || id[i] > '9')
            return 0;
    *y = (id[6] - '0') * 1000 + (id[7] - '0') * 100 + (id[8] - '0') * 10 + (id[9] - '0');
    *m = (id[10] - '0') * 10 + (id[11] - '0');
    *d = (id[12] - '0') * 10 + (id[13] - '0');
    return schema_ymd_valid(*y, *m, *d);
}

static int add(problem_list *pl, size_t line, const char *field, const char *rule, const char *msg,
               size_t *count)
{
    if (problem_add(pl, line, field, rule, msg) != UERR_OK)
        return -1;
    (*count)++;
    return 0;
}

size_t schema_cross_check(const char **gender_fill, const schema_person *p, size_t line,
                          problem_list *pl)
{
    static const char male[] = "男", female[] = "女";
    size_t count = 0;
    int y, m, d;

    if (gender_fill)
        *gender_fill = NULL;
    const char *id = p->id_number;
    if (present(id) && strlen(id) == 18 && id[16] >= '0' && id[16] <= '9') {
        const char *by_id = (id[16] - '0') % 2 ? male : female;
        if (!present(p->gender)) {
            if (gender_fill)
                *gender_fill = by_id;
        } else if (strcmp(p->gender, by_id) != 0) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "gender: %s, but the ID number says %s (its 17th digit is %s); correct "
                     "one of them",
                     p->gender, by_id, by_id == male ? "odd" : "even");
            if (add(pl, line, "gender", "gender_id", msg, &count) != 0)
                return (size_t)-1;
        }
    }
    if (present(p->joined) && id_birth(id, &y, &m, &d) && strlen(p->joined) == 10) {
        int jy = atoi(p->joined), jm = atoi(p->joined + 5), jd = atoi(p->joined + 8);
        int age = jy - y - (jm < m || (jm == m && jd < d));
        if (age < SCHEMA_AGE_MIN) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "joined: the member was %d on the join date (by the ID number); a member "
                     "must be at least %d",
                     age < 0 ? 0 : age, SCHEMA_AGE_MIN);
            if (add(pl, line, "joined", "age", msg, &count) != 0)
                return (size_t)-1;
        }
    }
    return count;
}

/* schema_value_normalize for one cell; a set field's cell holds several
 * elements separated by ';' (benefits "a;b"), each normalised alone and
 * joined again. */
static uerr cell_normalize(schema_norm *nm, const char *field, const char *v, const char *today,
                           char *err, size_t errlen)
{
    const schema_field *sf = NULL;
    char why[8];
    if (schema_field_resolve(&sf, field, why, sizeof why) != UERR_OK)
        return schema_value_normalize(nm, field, v, today, err, errlen); /* its refusal */
    /* the field resolved once, not again for the value */
    if (sf->type != SCHEMA_SET || !strchr(v, ';'))
        return schema_field_value_normalize(nm, sf, v, today, err, errlen);
    size_t cap = strlen(v) * 4 + 2, len = 0;
    char *joined = malloc(cap), *copy = strdup(v), *save = NULL;
    uerr rc = UERR_OK;
    memset(nm, 0, sizeof *nm);
    if (!joined || !copy) {
        rc = UERR_NOMEM;
        goto cleanup;
    }
    joined[0] = 0;
    for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        schema_norm one;
        rc = schema_field_value_normalize(&one, sf, t, today, err, errlen);
        if (rc != UERR_OK) {
            *nm = one; /* its field and rule, no value */
            goto cleanup;
        }
        if (len + strlen(one.value) + 2 <= cap)
            len += (size_t)snprintf(joined + len, cap - len, "%s%s", len ? ";" : "", one.value);
        nm->field = one.field;
        schema_norm_free(&one);
    }
    nm->value = joined;
    joined = NULL;
cleanup:
    free(joined);
    free(copy);
    return rc;
}

uerr schema_row_normalize(char **out, const char **gender_fill, schema_row_stats *st,
                          const char *const *fields, const char *const *in, size_t n,
                          const char *today, size_t line, problem_list *pl)
{
    return schema_kind_row_normalize(out, gender_fill, st, KIND_MEMBER, fields, in, n, today, line,
                                     pl);
}

uerr schema_kind_row_normalize(char **out, const char **gender_fill, schema_row_stats *st,
                               record_kind k, const char *const *fields, const char *const *in,
                               size_t n, const char *today, size_t line, problem_list *pl)
{
    schema_person person = {0};
    long gcol = -1;
    size_t before = problem_count(pl);
    char err[512];

    if (gender_fill)
        *gender_fill = NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        schema_norm nm;
        const char *v = in[i] ? in[i] : "";
        if (strcmp(fields[i], "id") == 0 || *v == '\0') {
            if (!(out[i] = strdup(v)))
                goto oom;
            if (strcmp(fields[i], "gender") == 0)
                gcol = (long)i;
            continue;
        }
        uerr rc = k == KIND_MEMBER
                      ? cell_normalize(&nm, fields[i], v, today, err, sizeof err)
                      : schema_kind_value_normalize(&nm, k, fields[i], v, today, err, sizeof err);
        if (rc == UERR_NOMEM)
            goto oom;
        if (rc != UERR_OK) {
            if (problem_add(pl, line, nm.field ? nm.field->name : fields[i], nm.rule, err) !=
                UERR_OK)
                goto oom;
            continue;
        }
        out[i] = nm.value;
        if (st && (nm.flags & SCHEMA_NORM_ID15))
            st->id15++;
        const char *f = nm.field->name;
        if (strcmp(f, "gender") == 0)
            gcol = (long)i, person.gender = out[i];
        else if (strcmp(f, "id_number") == 0)
            person.id_number = out[i];
        else if (strcmp(f, "joined") == 0)
            person.joined = out[i];
    }
    /* the cross-checks are the member's; other kinds have none */
    if (k != KIND_MEMBER)
        return problem_count(pl) > before ? UERR_INVALID : UERR_OK;
    /* a refused gender is already a problem: no second one, no filling */
    int gender_refused = 0;
    for (size_t i = 0; i < n; i++)
        if (!out[i] && strcmp(fields[i], "gender") == 0)
            gender_refused = 1;
    if (!gender_refused) {
        const char *fill = NULL;
        if (schema_cross_check(&fill, &person, line, pl) == (size_t)-1)
            goto oom;
        if (fill && gcol >= 0) {
            char *g = strdup(fill);
            if (!g)
                goto oom;
            free(out[gcol]);
            out[gcol] = g;
        } else if (fill && gender_fill) {
            *gender_fill = fill;
        }
        if (fill && st)
            st->gender_filled++;
    }
    return problem_count(pl) > before ? UERR_INVALID : UERR_OK;

oom:
    for (size_t i = 0; i < n; i++) {
        free(out[i]);
        out[i] = NULL;
    }
    return UERR_NOMEM;
}

/* The value given for field name among fields[0..n): "" if absent, NULL if
 * given but refused. */
static const char *given(const char *name, const char *const *fields, const char *const *values,
                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i], name) == 0)
            return values[i];
    return "";
}

size_t schema_kind_required_check(record_kind k, const char *const *fields,
                                  const char *const *values, size_t n, size_t line,
                                  problem_list *pl)
{
    size_t nf, count = 0;
    const schema_field *t = schema_kind_fields(k, &nf);
    for (size_t i = 0; i < nf; i++) {
        if (!t[i].required)
            continue;
        const char *v = given(t[i].name, fields, values, n);
        if (!v || *v)
            continue;
        char msg[200];
        if (k == KIND_BENEFIT && strcmp(t[i].name, "member") == 0) {
            /* an import names the member by ID number */
            const char *id = given("id_number", fields, values, n);
            if (!id || *id)
                continue;
            snprintf(msg, sizeof msg,
                     "member: a benefit needs its member (a member id, or the id_number column)");
        } else {
            snprintf(msg, sizeof msg, "%s: required for a new %s (%s)", t[i].name, kind_name(k),
                     t[i].label ? t[i].label : t[i].name);
        }
        if (add(pl, line, t[i].name, "required", msg, &count) != 0)
            return (size_t)-1;
    }
    return count;
}
