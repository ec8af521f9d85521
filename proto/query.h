/* query.h - `--where FIELD OP VALUE` conditions: parsing (shared by the CLI,
 * which refuses bad syntax early, and the daemon) and matching against a
 * record's displayed values. Pure code. */
#ifndef UNIOND_QUERY_H
#define UNIOND_QUERY_H

#include "proto/record.h"

typedef enum { Q_EQ, Q_NE, Q_LT, Q_LE, Q_GT, Q_GE, Q_HAS } query_op;

typedef struct {
    char *field; /* "id" or a field name */
    query_op op;
    char *value; /* normalised when the schema can (M -> 男, Active -> active) */
} query_cond;

/* Parse "FIELD OP VALUE" (spaces around OP allowed). On success returns 0
 * and fills *c (caller frees with query_cond_free). On failure returns -1
 * and err says why. */
int query_cond_parse(query_cond *c, const char *expr, char *err, size_t errlen);
void query_cond_free(query_cond *c);
/* Text form of an operator ("=", "!=", ...). */
const char *query_op_str(query_op op);
/* Parse an operator token; -1 if unknown. */
int query_op_parse(query_op *op, const char *s);

/* 1 if record r with id matches every condition (AND), else 0. A missing
 * field compares as the empty string. Set fields: = and ~ match when any
 * element matches, != when no element equals the value. */
int query_match(const query_cond *c, size_t n, const char *id, const record *r);

/* Displayed value of a single-valued field ("" when absent); for "id"
 * returns id. The pointer is borrowed from r. */
const char *query_display(const record *r, const char *id, const char *field);

#endif
