/* problem.c - problem lists and their grouping (see problem.h). Grouping
 * is a linear scan over the groups found so far: the number of distinct
 * (field, rule) pairs is small (fields x rules), whatever the row count. */
#include "proto/problem.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void problem_list_init(problem_list *l)
{
    memset(l, 0, sizeof *l);
}

void problem_list_free(problem_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].field);
        free(l->v[i].rule);
        free(l->v[i].msg);
    }
    free(l->v);
    problem_list_init(l);
}

uerr problem_add(problem_list *l, size_t line, const char *field, const char *rule, const char *msg)
{
    if (l->n >= PROBLEM_KEEP_MAX) {
        l->dropped++;
        return UERR_OK;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        problem *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return UERR_NOMEM;
        l->v = nv;
        l->cap = cap;
    }
    problem *p = &l->v[l->n];
    p->line = line;
    p->field = strdup(field ? field : "");
    p->rule = strdup(rule ? rule : "");
    p->msg = strdup(msg ? msg : "");
    if (!p->field || !p->rule || !p->msg) {
        free(p->field);
        free(p->rule);
        free(p->msg);
        return UERR_NOMEM;
    }
    l->n++;
    return UERR_OK;
}

size_t problem_count(const problem_list *l)
{
    return l->n + l->dropped;
}

uerr problem_groups(problem_group **out, size_t *n, const problem_list *l)
{
    problem_group *g = NULL;
    size_t ng = 0, cap = 0;

    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const problem *p = &l->v[i];
        size_t k = 0;
        while (k < ng && !(strcmp(g[k].first->field, p->field) == 0 &&
                           strcmp(g[k].first->rule, p->rule) == 0))
            k++;
        if (k == ng) {
            if (ng == cap) {
                cap = cap ? cap * 2 : 8;
                problem_group *ngp = realloc(g, cap * sizeof *ngp);
                if (!ngp) {
                    free(g);
                    return UERR_NOMEM;
                }
                g = ngp;
            }
            memset(&g[ng], 0, sizeof g[ng]);
            g[ng].first = p;
            ng++;
        }
        g[k].count++;
        if (g[k].nlines < PROBLEM_GROUP_LINES && p->line &&
            (g[k].nlines == 0 || g[k].lines[g[k].nlines - 1] != p->line))
            g[k].lines[g[k].nlines++] = p->line;
    }
    *out = g;
    *n = ng;
    return UERR_OK;
}

size_t problem_group_format(char *buf, size_t size, const problem_group *g)
{
    char tail[160];
    size_t o = 0;
    int k;

    assert(g && g->first && g->count > 0);
    if (g->count == 1) {
        k = g->first->line ? snprintf(buf, size, "line %zu: %s", g->first->line, g->first->msg)
                           : snprintf(buf, size, "%s", g->first->msg);
        return k < 0 ? 0 : (size_t)k;
    }
    k = snprintf(tail, sizeof tail, " (%zu rows", g->count);
    o = k > 0 ? (size_t)k : 0;
    for (size_t i = 0; i < g->nlines && o < sizeof tail; i++) {
        k = snprintf(tail + o, sizeof tail - o, "%s%zu", i ? ", " : ": lines ", g->lines[i]);
        o += k > 0 ? (size_t)k : 0;
    }
    if (o < sizeof tail)
        snprintf(tail + o, sizeof tail - o, "%s)", g->count > g->nlines ? ", ..." : "");
    k = snprintf(buf, size, "%s%s", g->first->msg, tail);
    return k < 0 ? 0 : (size_t)k;
}
