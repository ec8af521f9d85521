/* period.c - the period report's accumulator (see period.h). Records come
 * in any order, so what ties two kinds together is kept until the end:
 * every member's office (a benefit counts under it), the benefits and the
 * surveyed enterprises of the period, and every union's enterprise link.
 * period_finish sorts them and matches by binary search. Offices and
 * categories are few (tens): linear lists. Pure: no I/O. */
#include "proto/period.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "proto/schema.h"
#include "proto/vocab.h"

typedef struct {
    char *id;
    size_t office; /* index into offices */
} member_office;

typedef struct {
    char *member;
    int64_t fen;
} benefit_row;

typedef struct {
    char *id, *uscc, *name;
    size_t office;
    int has_union;
} enterprise_row;

/* a growable array of fixed-size elements */
typedef struct {
    void *v;
    size_t n, cap, size;
} vec;

struct period_acc {
    char from[11], to[11];
    char *office; /* filter, or NULL */
    int failed;   /* out of memory at some point */
    vec offices;  /* period_office */
    vec cats;     /* period_category */
    vec members;  /* member_office, every member */
    vec benefits; /* benefit_row, in the period */
    vec ents;     /* enterprise_row, surveyed in the period */
    vec ulinks;   /* char *, every union's enterprise link */
};

static void *vec_push(vec *x)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        void *nv = realloc(x->v, cap * x->size);
        if (!nv)
            return NULL;
        x->v = nv;
        x->cap = cap;
    }
    void *slot = (char *)x->v + x->n * x->size;
    memset(slot, 0, x->size);
    x->n++;
    return slot;
}

static const char *val(period_get_fn get, const void *rec, const char *field)
{
    const char *v = get(rec, field);
    return v ? v : "";
}

static char *dup_s(const char *s)
{
    return strdup(s ? s : "");
}

/* The index of office o (created when new), or (size_t)-1 when out of
 * memory. */
static size_t office_index(period_acc *a, const char *o)
{
    if (!o || !*o)
        o = PERIOD_NO_OFFICE;
    period_office *v = a->offices.v;
    for (size_t i = 0; i < a->offices.n; i++)
        if (strcmp(v[i].office, o) == 0)
            return i;
    char *copy = strdup(o);
    period_office *slot = copy ? vec_push(&a->offices) : NULL;
    if (!slot) {
        free(copy);
        return (size_t)-1;
    }
    slot->office = copy;
    return a->offices.n - 1;
}

static period_figures *figures(period_acc *a, size_t idx)
{
    return &((period_office *)a->offices.v)[idx].f;
}

static period_category *category(period_acc *a, const char *c)
{
    if (!c || !*c)
        c = PERIOD_NO_CATEGORY;
    period_category *v = a->cats.v;
    for (size_t i = 0; i < a->cats.n; i++)
        if (strcmp(v[i].category, c) == 0)
            return &v[i];
    char *copy = strdup(c);
    period_category *slot = copy ? vec_push(&a->cats) : NULL;
    if (!slot) {
        free(copy);
        return NULL;
    }
    slot->category = copy;
    return slot;
}

static int in_period(const period_acc *a, const char *d)
{
    return schema_date_valid(d) && strcmp(d, a->from) >= 0 && strcmp(d, a->to) <= 0;
}

static int by_end(const period_acc *a, const char *d)
{
    return schema_date_valid(d) && strcmp(d, a->to) <= 0;
}

/* 1 if a record of office o counts under the filter. */
static int kept(const period_acc *a, const char *o)
{
    if (!a->office)
        return 1;
    return strcmp(a->office, o && *o ? o : PERIOD_NO_OFFICE) == 0;
}

uerr period_init(period_acc **out, const char *from, const char *to, const char *office, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (!from || !to || !schema_date_valid(from) || !schema_date_valid(to))
        return uerr_set(err, errlen, UERR_INVALID, "report: --from and --to must be YYYY-MM-DD");
    if (strcmp(from, to) > 0)
        return uerr_set(err, errlen, UERR_INVALID, "report: --from %s is after --to %s", from, to);
    period_acc *a = calloc(1, sizeof *a);
    if (!a)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    memcpy(a->from, from, 11);
    memcpy(a->to, to, 11);
    a->offices.size = sizeof(period_office);
    a->cats.size = sizeof(period_category);
    a->members.size = sizeof(member_office);
    a->benefits.size = sizeof(benefit_row);
    a->ents.size = sizeof(enterprise_row);
    a->ulinks.size = sizeof(char *);
    if (office && *office && !(a->office = strdup(office))) {
        free(a);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    *out = a;
    return UERR_OK;
}

static uerr add_member(period_acc *a, const char *id, period_get_fn get, const void *rec)
{
    const char *office = val(get, rec, "office");
    size_t oi = office_index(a, office);
    member_office *m = oi != (size_t)-1 ? vec_push(&a->members) : NULL;
    if (!m || !(m->id = strdup(id)))
        return UERR_NOMEM;
    m->office = oi;
    if (!kept(a, office))
        return UERR_OK;

    const char *joined = val(get, rec, "joined"), *status = val(get, rec, "status");
    const char *cat = val(get, rec, "category");
    int is_new =
        in_period(a, joined) && strcmp(status, "merged") != 0 && strcmp(status, "void") != 0;
    int active = strcmp(status, "active") == 0 && by_end(a, joined);
    if (!is_new && !active)
        return UERR_OK;
    period_figures *f = figures(a, oi);
    period_category *c = category(a, cat);
    if (!c)
        return UERR_NOMEM;
    if (is_new) {
        f->members_new++;
        c->new_members++;
        if (vocab_is_new_form("category", cat) == 1)
            f->members_new_form++;
    }
    if (active) {
        f->members_active++;
        c->active++;
    }
    return UERR_OK;
}

static uerr add_union(period_acc *a, period_get_fn get, const void *rec)
{
    const char *link = val(get, rec, "enterprise");
    if (*link) {
        char **slot = vec_push(&a->ulinks);
        if (!slot || !(*slot = strdup(link)))
            return UERR_NOMEM;
    }
    const char *office = val(get, rec, "office");
    if (!kept(a, office) || !in_period(a, val(get, rec, "founded")))
        return UERR_OK;
    size_t oi = office_index(a, office);
    if (oi == (size_t)-1)
        return UERR_NOMEM;
    figures(a, oi)->unions_new++;
    if (strcmp(val(get, rec, "new_form"), "yes") == 0)
        figures(a, oi)->unions_new_form++;
    return UERR_OK;
}

static uerr add_enterprise(period_acc *a, const char *id, period_get_fn get, const void *rec)
{
    const char *office = val(get, rec, "office");
    if (!kept(a, office) || !in_period(a, val(get, rec, "surveyed")))
        return UERR_OK;
    size_t oi = office_index(a, office);
    enterprise_row *e = oi != (size_t)-1 ? vec_push(&a->ents) : NULL;
    if (!e)
        return UERR_NOMEM;
    e->office = oi;
    e->has_union = *val(get, rec, "union") != '\0';
    e->id = dup_s(id);
    e->uscc = dup_s(val(get, rec, "uscc"));
    e->name = dup_s(val(get, rec, "name"));
    if (!e->id || !e->uscc || !e->name)
        return UERR_NOMEM;
    figures(a, oi)->enterprises_surveyed++;
    return UERR_OK;
}

static uerr add_station(period_acc *a, period_get_fn get, const void *rec)
{
    const char *office = val(get, rec, "office"), *opened = val(get, rec, "opened");
    if (!kept(a, office) || !by_end(a, opened))
        return UERR_OK;
    size_t oi = office_index(a, office);
    if (oi == (size_t)-1)
        return UERR_NOMEM;
    figures(a, oi)->stations_total++;
    if (in_period(a, opened))
        figures(a, oi)->stations_opened++;
    return UERR_OK;
}

static uerr add_benefit(period_acc *a, period_get_fn get, const void *rec)
{
    if (!in_period(a, val(get, rec, "date")))
        return UERR_OK;
    int64_t fen = 0;
    const char *amount = val(get, rec, "amount");
    if (*amount && schema_amount_fen(&fen, amount) != UERR_OK)
        fen = 0; /* stored values are valid; a bad one adds nothing */
    benefit_row *b = vec_push(&a->benefits);
    if (!b || !(b->member = strdup(val(get, rec, "member"))))
        return UERR_NOMEM;
    b->fen = fen;
    return UERR_OK;
}

uerr period_add_record(period_acc *a, record_kind k, const char *id, period_get_fn get,
                       const void *rec)
{
    uerr rc = UERR_OK;
    if (!a || !id || !get)
        return UERR_INVALID;
    switch (k) {
    case KIND_MEMBER:
        rc = add_member(a, id, get, rec);
        break;
    case KIND_UNION:
        rc = add_union(a, get, rec);
        break;
    case KIND_ENTERPRISE:
        rc = add_enterprise(a, id, get, rec);
        break;
    case KIND_STATION:
        rc = add_station(a, get, rec);
        break;
    case KIND_BENEFIT:
        rc = add_benefit(a, get, rec);
        break;
    default:
        return UERR_INVALID;
    }
    if (rc == UERR_NOMEM)
        a->failed = 1;
    return rc;
}

/* ---- finish ---- */

/* qsort and bsearch must not see a NULL array, even of no elements */
static void sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(v, n, size, cmp);
}

static const void *find(const void *key, const void *v, size_t n, size_t size,
                        int (*cmp)(const void *, const void *))
{
    return n ? bsearch(key, v, n, size, cmp) : NULL;
}

static int cmp_member(const void *x, const void *y)
{
    return strcmp(((const member_office *)x)->id, ((const member_office *)y)->id);
}

static int cmp_benefit(const void *x, const void *y)
{
    return strcmp(((const benefit_row *)x)->member, ((const benefit_row *)y)->member);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int cmp_office(const void *x, const void *y)
{
    return strcmp(((const period_office *)x)->office, ((const period_office *)y)->office);
}

static int cmp_category(const void *x, const void *y)
{
    return strcmp(((const period_category *)x)->category, ((const period_category *)y)->category);
}

static int linked(const period_acc *a, const char *key)
{
    return *key && find(&key, a->ulinks.v, a->ulinks.n, sizeof(char *), cmp_str) != NULL;
}

static void finish_enterprises(period_acc *a)
{
    sort(a->ulinks.v, a->ulinks.n, sizeof(char *), cmp_str);
    enterprise_row *e = a->ents.v;
    for (size_t i = 0; i < a->ents.n; i++)
        if (e[i].has_union || linked(a, e[i].id) || linked(a, e[i].uscc) || linked(a, e[i].name))
            figures(a, e[i].office)->enterprises_with_union++;
}

/* Each benefit under its member's office; distinct members counted once,
 * in the office they belong to (a member has one office, so the offices'
 * counts add up to the total). */
static uerr finish_benefits(period_acc *a)
{
    sort(a->members.v, a->members.n, sizeof(member_office), cmp_member);
    sort(a->benefits.v, a->benefits.n, sizeof(benefit_row), cmp_benefit);
    benefit_row *b = a->benefits.v;
    for (size_t i = 0; i < a->benefits.n; i++) {
        member_office key = {b[i].member, 0};
        const member_office *m =
            find(&key, a->members.v, a->members.n, sizeof(member_office), cmp_member);
        const char *o = m ? ((period_office *)a->offices.v)[m->office].office : PERIOD_NO_OFFICE;
        if (!kept(a, o))
            continue;
        size_t oi = m ? m->office : office_index(a, PERIOD_NO_OFFICE);
        if (oi == (size_t)-1)
            return UERR_NOMEM;
        period_figures *f = figures(a, oi);
        f->benefits_count++;
        f->benefits_fen += b[i].fen;
        if (i == 0 || strcmp(b[i].member, b[i - 1].member) != 0)
            f->benefits_members++;
    }
    return UERR_OK;
}

static void figures_add(period_figures *t, const period_figures *f)
{
    t->unions_new += f->unions_new;
    t->unions_new_form += f->unions_new_form;
    t->members_new += f->members_new;
    t->members_new_form += f->members_new_form;
    t->members_active += f->members_active;
    t->enterprises_surveyed += f->enterprises_surveyed;
    t->enterprises_with_union += f->enterprises_with_union;
    t->stations_opened += f->stations_opened;
    t->stations_total += f->stations_total;
    t->benefits_count += f->benefits_count;
    t->benefits_members += f->benefits_members;
    t->benefits_fen += f->benefits_fen;
}

/* Moves the offices the filter keeps into the result, in order, and sums
 * them; the others are freed. */
static void finish_offices(period_result *out, period_acc *a)
{
    period_office *v = a->offices.v;
    size_t kept_n = 0;
    sort(v, a->offices.n, sizeof *v, cmp_office);
    for (size_t i = 0; i < a->offices.n; i++) {
        if (!kept(a, v[i].office)) {
            free(v[i].office);
            continue;
        }
        figures_add(&out->total, &v[i].f);
        v[kept_n++] = v[i];
    }
    out->offices = v;
    out->noffices = kept_n;
    a->offices.v = NULL;
    a->offices.n = 0;
    sort(a->cats.v, a->cats.n, sizeof(period_category), cmp_category);
    out->categories = a->cats.v;
    out->ncategories = a->cats.n;
    a->cats.v = NULL;
    a->cats.n = 0;
}

uerr period_finish(period_result *out, period_acc *a, char *err, size_t errlen)
{
    uerr rc = UERR_OK;
    memset(out, 0, sizeof *out);
    if (!a)
        return uerr_set(err, errlen, UERR_INTERNAL, "report: no accumulator");
    memcpy(out->from, a->from, 11);
    memcpy(out->to, a->to, 11);
    if (a->failed || finish_benefits(a) != UERR_OK) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "report: out of memory");
        goto cleanup;
    }
    finish_enterprises(a);
    finish_offices(out, a);
#ifndef NDEBUG
    uint64_t cat_new = 0;
    for (size_t i = 0; i < out->ncategories; i++)
        cat_new += out->categories[i].new_members;
    assert(cat_new == out->total.members_new); /* one category per member */
#endif
cleanup:
    period_acc_free(a);
    return rc;
}

void period_acc_free(period_acc *a)
{
    if (!a)
        return;
    period_office *o = a->offices.v;
    for (size_t i = 0; i < a->offices.n; i++)
        free(o[i].office);
    period_category *c = a->cats.v;
    for (size_t i = 0; i < a->cats.n; i++)
        free(c[i].category);
    member_office *m = a->members.v;
    for (size_t i = 0; i < a->members.n; i++)
        free(m[i].id);
    benefit_row *b = a->benefits.v;
    for (size_t i = 0; i < a->benefits.n; i++)
        free(b[i].member);
    enterprise_row *e = a->ents.v;
    for (size_t i = 0; i < a->ents.n; i++) {
        free(e[i].id);
        free(e[i].uscc);
        free(e[i].name);
    }
    char **u = a->ulinks.v;
    for (size_t i = 0; i < a->ulinks.n; i++)
        free(u[i]);
    free(a->offices.v);
    free(a->cats.v);
    free(a->members.v);
    free(a->benefits.v);
    free(a->ents.v);
    free(a->ulinks.v);
    free(a->office);
    free(a);
}

void period_result_free(period_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->noffices; i++)
        free(r->offices[i].office);
    for (size_t i = 0; i < r->ncategories; i++)
        free(r->categories[i].category);
    free(r->offices);
    free(r->categories);
    memset(r, 0, sizeof *r);
}
