/* query.h - `--where FIELD OP VALUE` conditions: parsing (shared by the CLI,
 * which refuses bad syntax early, and the daemon) and matching against a
 * record's displayed values. Pure code. */
#ifndef UNIOND_QUERY_H
#define UNIOND_QUERY_H

#include "proto/record.h"

typedef enum { Q_EQ, Q_NE, Q_LT, Q_LE, Q_GT, Q_GE, Q_HAS } query_op;

typedef struct {
    char *field; /* "id" or the canonical field name (入会日期 -> joined) */
    query_op op;
    char *value; /* normalised as input is (M -> 男, 2021/1/1 -> 2021-01-01, 快递小哥 -> 快递员);
                  * for ~ only NFKC and trimmed */
} query_cond;

/* Parse "FIELD OP VALUE" (spaces around OP allowed). FIELD is a field
 * name, a column alias or label, or "id". On success returns 0 and fills
 * *c (caller frees with query_cond_free). On failure returns UERR_INVALID
 * (-1) and err says why: bad syntax; an unknown field, with the nearest
 * name ("unknown field 'catgory' (did you mean 'category'?)"); a value the
 * field can never hold (joined>=2021, category=快递). UERR_NOMEM. */
int query_cond_parse(query_cond *c, const char *expr, char *err, size_t errlen);
void query_cond_free(query_cond *c);
/* Text form of an operator ("=", "!=", ...). */
const char *query_op_str(query_op op);
/* Parse an operator token; -1 if unknown. */
int query_op_parse(query_op *op, const char *s);
/* 1 if "have OP want" holds for one displayed value: byte order (strcmp;
 * dates are YYYY-MM-DD, so it is date order), ~ case-insensitive
 * containment; else 0. Both borrowed. */
int query_op_holds(query_op op, const char *have, const char *want);

/* 1 if record r with id matches every condition (AND), else 0. A missing
 * field compares as the empty string. Set fields: = and ~ match when any
 * element matches, != when no element equals the value. */
int query_match(const query_cond *c, size_t n, const char *id, const record *r);

/* Displayed value of a single-valued field ("" when absent); for "id"
 * returns id. The pointer is borrowed from r. */
const char *query_display(const record *r, const char *id, const char *field);

#endif
