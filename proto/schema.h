/* schema.h - the member record schema: which fields exist (built in, or
 * declared by an office at run time), the names they answer to (Chinese
 * column headers, labels), how each value is normalised and validated, the
 * checks that tie fields of one record together, and how personal fields
 * are masked for display.
 *
 * Pure code: no I/O, no allocation except where a function says it returns
 * a malloc'd string. Used by the daemon (authoritative checks), the CLI
 * (early checks, rendering) and the tests. Threads: every function may run
 * concurrently with every other except schema_field_declare and
 * schema_declared_reset, which the daemon calls only on its loop thread
 * while no worker validates. */
#ifndef UNIOND_SCHEMA_H
#define UNIOND_SCHEMA_H

#include <stddef.h>

#include <stdint.h>

#include "proto/kind.h"
#include "proto/problem.h"
#include "proto/uerr.h"

typedef enum {
    SCHEMA_TEXT,   /* free text, UTF-8, single value */
    SCHEMA_GENDER, /* 男 / 女; accepts M/F/male/female (any case) on input */
    SCHEMA_IDNUM,  /* 18-char resident ID, MOD 11-2 check digit, real birth date */
    SCHEMA_PHONE,  /* 11-digit mainland mobile starting with 1 */
    SCHEMA_OFFICE, /* office code: [a-z][a-z0-9-]*, at most 32 chars */
    SCHEMA_DATE,   /* ISO YYYY-MM-DD, a real date, not after today */
    SCHEMA_STATUS, /* applicant, active, lapsed, transferred, merged, void */
    SCHEMA_SET,    /* set of short tokens (benefits) */
    SCHEMA_VOCAB,  /* a value of the field's controlled vocabulary (proto/vocab.h) */
    SCHEMA_LINK,   /* a link to a record of kind `link`: its id, or a name/code the daemon
                    * resolves (one line, at most 128 characters); "KIND:ID" accepted */
    SCHEMA_YESNO,  /* yes / no; accepts 是/否, y/n, true/false, 1/0 (any case) */
    SCHEMA_USCC,   /* 18-char unified social credit code, GB 32100-2015 check character */
    SCHEMA_COUNT,  /* a non-negative whole number, at most 9 digits */
    SCHEMA_AMOUNT  /* yuan: non-negative, at most 2 decimals; stored "180" or "180.50" */
} schema_type;

typedef struct {
    const char *name;
    schema_type type;
    int max_chars;              /* maximum length in characters (code points), 0 = default */
    const char *label;          /* Chinese label (listings; a header alias), or NULL */
    const char *const *aliases; /* other header names, NULL-terminated, or NULL */
    int is_private;             /* declared private: masked for display like phone */
    int declared;               /* 1: declared by an office at run time */
    record_kind link;           /* the kind a link points to (SCHEMA_LINK; for a member's
                                 * union and employer, text the daemon may resolve), or
                                 * KIND_NONE */
    const char *vocab;          /* SCHEMA_VOCAB: the vocabulary's name if not the field's */
    int required;               /* 1: a new record of its kind must have it (see
                                 * schema_kind_required_check) */
    int input_only;             /* 1: accepted on input, never stored: the daemon turns it
                                 * into another field (a benefit's id_number -> member) */
} schema_field;

/* Longest field name and longest value (bytes) the system accepts anywhere. */
#define SCHEMA_NAME_MAX 32
#define SCHEMA_VALUE_MAX 4096

/* Longest label of a declared field, in bytes; most declared fields. */
#define SCHEMA_LABEL_MAX 64
#define SCHEMA_DECLARED_MAX 96

/* Every field, built-in ones in display order then declared ones in the
 * order they were declared; *n receives the count. The array is owned by
 * the schema and never moves (a declaration appends in place), so pointers
 * into it stay valid; the caller does not free it. */
const schema_field *schema_fields(size_t *n);

/* The field whose name is exactly name (built in or declared), or NULL.
 * Labels and aliases are not names: see schema_field_resolve. */
const schema_field *schema_field_find(const char *name);

/* Resolve what a user wrote for a field: a field name, a Chinese column
 * header (姓名, 手机号码, ...) or a declared field's label, after NFKC and
 * trimming (ｐｈｏｎｅ = phone). On success *out is the field (borrowed).
 * An unknown name fails with UERR_INVALID and a message naming the nearest
 * known name when one is close: "unknown field 'phnoe' (did you mean
 * 'phone'?)". "id" (the record id) is refused: callers that accept it
 * (queries, the import's id column) test for it first. */
uerr schema_field_resolve(const schema_field **out, const char *name, char *err, size_t errlen);

/* Declare a field at run time (an office's own column). name must pass
 * schema_name_valid; type is one of SCHEMA_TEXT, SCHEMA_DATE, SCHEMA_PHONE,
 * SCHEMA_IDNUM, SCHEMA_SET; label (may be NULL) is at most
 * SCHEMA_LABEL_MAX bytes and then also resolves to the field; is_private
 * masks it for display. Declaring a name again with the same type updates
 * its label and private flag (a replicated declaration arriving twice is
 * harmless). Errors: UERR_INVALID (bad name, type or label), UERR_CONFLICT
 * (a built-in name, another type, a label or name another field answers
 * to), UERR_BUSY (SCHEMA_DECLARED_MAX reached). Strings are copied. */
uerr schema_field_declare(const char *name, schema_type type, const char *label, int is_private,
                          char *err, size_t errlen);

/* Forget every declared field (tests; a daemon reloading declarations).
 * Pointers to declared fields become invalid. */
void schema_declared_reset(void);

/* Parse a declarable type word (text, date, phone, id_number, set). */
uerr schema_type_parse(schema_type *out, const char *word, char *err, size_t errlen);

/* The word for a type ("text", "gender", "id_number", "phone", "office",
 * "date", "status", "set", "vocab", "link", "yes_no", "uscc", "count",
 * "amount"), static. */
const char *schema_type_name(schema_type t);

/* 1 if name is a valid field name: [a-z][a-z0-9_]*, at most SCHEMA_NAME_MAX
 * bytes, and not the reserved word "id". 0 otherwise. */
int schema_name_valid(const char *name);

/* 1 if the field holds a set (observed-remove set of elements), else 0. */
int schema_field_is_set(const char *name);

/* Validate and normalise one value of field `name`: schema_value_normalize
 * returning only the value; kept for the callers that need nothing else.
 * today: "YYYY-MM-DD", the day against which "not in the future" is checked.
 * On success returns 0 and stores a malloc'd normalised copy in *out (owned
 * by the caller; e.g. "M" -> "男", id number with lowercase x -> "X",
 * surrounding whitespace trimmed).
 * On failure returns -1, *out is NULL, and err (if errlen > 0) receives a
 * message naming the field and the rule, e.g.
 * "id_number: check digit is wrong (expected 7, got 3)". Never includes the
 * whole offending value for personal fields (id_number, phone).
 * For set fields this validates one element. Empty value is refused for
 * every field except that callers use an empty value to clear a text
 * field: schema_value_check accepts "" only for SCHEMA_TEXT fields other
 * than name. */
int schema_value_check(char **out, const char *name, const char *value, const char *today,
                       char *err, size_t errlen);

/* What schema_value_normalize did besides normalising, for the summary. */
#define SCHEMA_NORM_ID15 0x1u /* a 15-digit ID number was converted to 18 digits */

typedef struct {
    char *value;               /* the normalised value, malloc'd (caller frees), NULL on failure */
    const schema_field *field; /* the field name resolved to (borrowed), NULL if unknown */
    unsigned flags;            /* SCHEMA_NORM_* */
    const char *rule;          /* on failure: a short stable id of the rule broken, static
                                * ("unknown_field", "utf8", "date", "excel_number", ...), so
                                * that one problem hitting many rows can be counted once */
} schema_norm;

/* THE normalisation and validation of one value, used by every path (add,
 * edit, import, queries; CLI and daemon alike). name is resolved as by
 * schema_field_resolve (so 手机号码 = phone). The value is made NFKC
 * (full-width digits, letters and spaces become ASCII), trimmed, then put
 * in its field's one stored form: dates in any accepted style (2021-8-1,
 * 2021/8/1, 2021.8.1, 20210801, 2021年8月1日) become YYYY-MM-DD; 15-digit ID
 * numbers become 18 digits (SCHEMA_NORM_ID15 set); vocabulary words become
 * their canonical value (在会 -> active, 快递小哥 -> 快递员); then checked.
 * Returns UERR_OK with out->value set, or UERR_INVALID (out->rule set, err
 * = "field: what is wrong; what to do") or UERR_NOMEM. The message never
 * holds a personal value (id_number, phone). out is always initialised;
 * release it with schema_norm_free. today is as for schema_value_check. */
uerr schema_value_normalize(schema_norm *out, const char *name, const char *value,
                            const char *today, char *err, size_t errlen);

/* Free what n holds and zero it. */
void schema_norm_free(schema_norm *n);

/* NFKC and trim (ASCII and Unicode spaces, a stray BOM) len bytes at s.
 * *out receives a malloc'd string (caller frees). UERR_INVALID if s is not
 * valid UTF-8 (strict: no overlongs, surrogates or NUL), UERR_NOMEM. */
uerr schema_text_normalize(char **out, const char *s, size_t len);

/* Put a date written in any accepted style into out as "YYYY-MM-DD" (NFKC
 * first, so full-width digits work). UERR_INVALID with err saying why
 * (not a date; not a real calendar date; an Excel date number) else OK.
 * Range checks (year, future) are schema_value_normalize's. */
uerr schema_date_normalize(char out[11], const char *s, char *err, size_t errlen);

/* The 18-digit form of a 15-digit ID number (all digits): "19" inserted
 * after the sixth digit and the ISO 7064 MOD 11-2 check character
 * appended. UERR_INVALID if in is not 15 digits. */
uerr schema_idnum_from15(char out[19], const char *in);

/* ---- checks across the fields of one record ---- */

/* The normalised values the cross-checks read; NULL or "" = absent. */
typedef struct {
    const char *gender;
    const char *id_number;
    const char *joined;
} schema_person;

/* The minimum age (whole years) of a member on the join date. */
#define SCHEMA_AGE_MIN 16

/* The rules that tie fields together: gender agrees with the ID number
 * (17th digit odd = 男, even = 女); a member is at least SCHEMA_AGE_MIN on
 * the join date (birth date from the ID number). Every broken rule is
 * added to pl (line as given; rules "gender_id", "age"). When gender is
 * absent and the ID number gives it, *gender_fill receives "男" or "女"
 * (static), else NULL. Returns the number of problems added, or
 * (size_t)-1 if pl could not grow (out of memory). */
size_t schema_cross_check(const char **gender_fill, const schema_person *p, size_t line,
                          problem_list *pl);

typedef struct {
    size_t id15;          /* 15-digit ID numbers converted to 18 */
    size_t gender_filled; /* empty genders filled from the ID number */
} schema_row_stats;

/* Normalise one row of an import (or the assignments of an add): fields[i]
 * is the canonical name of column i ("id" = the record id, copied as is),
 * in[i] its raw value ("" = not given). Each out[i] receives a malloc'd
 * normalised value ("" when not given; NULL when the value was refused);
 * the caller frees them. Every problem of the row (each refused value,
 * then the cross-checks over the values that passed) is added to pl under
 * line. An empty gender is filled from the ID number in its column, or,
 * when there is no gender column, *gender_fill (may be NULL) receives it.
 * Returns UERR_OK (no problem), UERR_INVALID (problems added) or
 * UERR_NOMEM. */
uerr schema_row_normalize(char **out, const char **gender_fill, schema_row_stats *st,
                          const char *const *fields, const char *const *in, size_t n,
                          const char *today, size_t line, problem_list *pl);

/* 1 if the field is personal data that is masked for display. */
int schema_field_is_masked(const char *name);

/* Mask a value for display: id_number keeps the first 6 and last 4
 * characters ("330203********1234"), phone the first 3 and last 4
 * ("138****5678"), a declared private field of another type shows only
 * '*'; other fields are copied unchanged. Values too short to
 * mask sensibly are replaced by all '*'. Returns a malloc'd string owned by
 * the caller, or NULL on allocation failure. */
char *schema_value_mask(const char *name, const char *value);

/* Number of Unicode code points in a UTF-8 string, or -1 if the string is
 * not valid UTF-8 (overlongs, surrogates and > U+10FFFF are invalid). */
long schema_utf8_len(const char *s, size_t len);

/* Display width of a UTF-8 string in terminal columns: East Asian wide and
 * fullwidth characters count 2, combining marks 0, others 1. Invalid bytes
 * count 1 each. */
size_t schema_display_width(const char *s);

/* 1 if s is a valid ISO date YYYY-MM-DD (real calendar date), else 0. */
int schema_date_valid(const char *s);

/* ---- every kind of record (proto/kind.h) ----
 *
 * The functions above are the member case (KIND_MEMBER) of the ones below
 * and keep their meaning. The other kinds have fixed field tables (no
 * declared fields); a field name, label or alias is looked up only in the
 * table of the kind given, so 名称 or notes mean the field of that kind. */

/* The fields of kind k in display order (for KIND_MEMBER: schema_fields);
 * *n receives the count (0 and NULL for a bad kind). Borrowed, never moves. */
const schema_field *schema_kind_fields(record_kind k, size_t *n);

/* The field of kind k named exactly name, or NULL. */
const schema_field *schema_kind_field_find(record_kind k, const char *name);

/* schema_field_resolve over the fields of kind k. */
uerr schema_kind_field_resolve(const schema_field **out, record_kind k, const char *name, char *err,
                               size_t errlen);

/* schema_value_normalize for a field of kind k (the same NFKC, trimming,
 * date styles, messages and rule ids; plus the rules of the link, yes/no,
 * USCC, count and amount types). */
uerr schema_kind_value_normalize(schema_norm *out, record_kind k, const char *name,
                                 const char *value, const char *today, char *err, size_t errlen);

/* schema_kind_value_normalize for a field already resolved (f: from
 * schema_kind_field_resolve or schema_fields, borrowed): the same results
 * without resolving its name again (an import resolves each cell's field
 * once). */
uerr schema_field_value_normalize(schema_norm *out, const schema_field *f, const char *value,
                                  const char *today, char *err, size_t errlen);

/* schema_value_check for a field of kind k. */
int schema_kind_value_check(char **out, record_kind k, const char *name, const char *value,
                            const char *today, char *err, size_t errlen);

/* schema_row_normalize for a row of kind k: the member cross-checks run
 * only for KIND_MEMBER (other kinds have none); fields[i] are canonical
 * names of kind k. */
uerr schema_kind_row_normalize(char **out, const char **gender_fill, schema_row_stats *st,
                               record_kind k, const char *const *fields, const char *const *in,
                               size_t n, const char *today, size_t line, problem_list *pl);

/* The fields a NEW record of kind k must have (an add, an import row that
 * creates a record; not an edit): one problem (rule "required", field the
 * missing one) per required field that is not among fields[0..n) or whose
 * value is "" (a NULL value was refused already and is not reported
 * again). A benefit's member may be given as id_number instead. Returns
 * the number of problems added, or (size_t)-1 when pl could not grow. */
size_t schema_kind_required_check(record_kind k, const char *const *fields,
                                  const char *const *values, size_t n, size_t line,
                                  problem_list *pl);

/* A link value as stored (after normalisation) names a record by id when
 * it is id-shaped (record_id_valid); the daemon looks ids up first, then
 * names (a union's or station's name, an enterprise's USCC or name).
 * 1 if value is id-shaped, else 0. */
int schema_link_is_id(const char *value);

/* The amount in fen (1/100 yuan) of a value schema_value_normalize accepts
 * for an amount field (canonical or not: "180", "180.5", "¥180.50",
 * "180元"). UERR_INVALID for anything else, negative amounts included. */
uerr schema_amount_fen(int64_t *fen, const char *amount);

/* The canonical text of an amount of fen: "180" when whole yuan, else two
 * decimals ("180.50"); "-" first when negative. Returns out. */
char *schema_amount_format(char out[32], int64_t fen);

/* 1 if s is 18 characters of the GB 32100-2015 alphabet (0-9 and the
 * capitals without I, O, S, V, Z), characters 3-8 digits (the division
 * code), and the last is the check character of the first 17. */
int schema_uscc_valid(const char *s);

#endif
