/* problem.h - the problems found in a batch of input (the rows of an
 * import, the fields of a record), every one of them kept so that a clerk
 * sees them all at once, and grouped for display: when one problem (same
 * field, same rule) hits many rows, one line with the count and the first
 * few line numbers instead of thousands of identical lines. The CLI and the
 * daemon print the groups. Pure: no I/O. */
#ifndef UNIOND_PROBLEM_H
#define UNIOND_PROBLEM_H

#include <stddef.h>

#include "proto/uerr.h"

/* Problems kept per list; beyond it they are only counted (dropped). */
#define PROBLEM_KEEP_MAX 1000000
/* Line numbers a group shows before "...". */
#define PROBLEM_GROUP_LINES 5

typedef struct {
    size_t line; /* 1-based line of the input, 0 = not tied to a line */
    char *field; /* field name (or the header as written), "" for the row as a whole */
    char *rule;  /* short stable rule id ("date", "unknown_field", ...) */
    char *msg;   /* the message: "field: what is wrong; what to do" */
} problem;

typedef struct {
    problem *v;
    size_t n, cap;
    size_t dropped; /* problems over PROBLEM_KEEP_MAX, counted only */
} problem_list;

void problem_list_init(problem_list *l);
/* Free everything l holds and make it empty again (safe twice). */
void problem_list_free(problem_list *l);

/* Add a problem (strings copied). UERR_OK, or UERR_NOMEM (l unchanged). */
uerr problem_add(problem_list *l, size_t line, const char *field, const char *rule,
                 const char *msg);

/* The total number of problems, kept and dropped. */
size_t problem_count(const problem_list *l);

typedef struct {
    const problem *first;              /* borrowed from the list: its field, rule and message */
    size_t count;                      /* how many problems share field and rule */
    size_t lines[PROBLEM_GROUP_LINES]; /* the first line numbers, in input order */
    size_t nlines;
} problem_group;

/* Group l's problems by (field, rule), groups in order of first
 * appearance. *out receives a malloc'd array of *n groups (caller frees
 * the array only; the groups borrow from l, which must outlive them).
 * UERR_OK or UERR_NOMEM. */
uerr problem_groups(problem_group **out, size_t *n, const problem_list *l);

/* One line for a group: the message alone for one problem on one line
 * ("line 7: joined: must be a date ..."), else the message with the count
 * and first lines ("joined: must be a date ... (3000 rows: lines 2, 3, 4,
 * 5, 6, ...)"). Written into buf (truncated safely); returns the length
 * the full line needs, as snprintf does. */
size_t problem_group_format(char *buf, size_t size, const problem_group *g);

#endif
