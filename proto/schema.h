/* schema.h - the member record schema: which fields exist, how each one is
 * validated and normalised, and how personal fields are masked for display.
 *
 * Pure code: no I/O, no allocation except where a function says it returns
 * a malloc'd string. Used by the daemon (authoritative checks), the CLI
 * (early checks, rendering) and the tests. */
#ifndef UNIOND_SCHEMA_H
#define UNIOND_SCHEMA_H

#include <stddef.h>

typedef enum {
    SCHEMA_TEXT,   /* free text, UTF-8, single value */
    SCHEMA_GENDER, /* 男 / 女; accepts M/F/male/female (any case) on input */
    SCHEMA_IDNUM,  /* 18-char resident ID, MOD 11-2 check digit, real birth date */
    SCHEMA_PHONE,  /* 11-digit mainland mobile starting with 1 */
    SCHEMA_OFFICE, /* office code: [a-z][a-z0-9-]*, at most 32 chars */
    SCHEMA_DATE,   /* ISO YYYY-MM-DD, a real date, not after today */
    SCHEMA_STATUS, /* applicant, active, lapsed, transferred, merged */
    SCHEMA_SET     /* set of short tokens (benefits) */
} schema_type;

typedef struct {
    const char *name;
    schema_type type;
    int max_chars; /* maximum length in characters (code points), 0 = default */
} schema_field;

/* Longest field name and longest value (bytes) the system accepts anywhere. */
#define SCHEMA_NAME_MAX 32
#define SCHEMA_VALUE_MAX 4096

/* The table of standard fields, in display order; *n receives the count.
 * The array is static: the caller does not free it. */
const schema_field *schema_fields(size_t *n);

/* The standard field called name, or NULL if it is not a standard field (it
 * may still be a valid custom text field: see schema_name_valid). */
const schema_field *schema_field_find(const char *name);

/* 1 if name is a valid field name: [a-z][a-z0-9_]*, at most SCHEMA_NAME_MAX
 * bytes, and not the reserved word "id". 0 otherwise. */
int schema_name_valid(const char *name);

/* 1 if the field holds a set (observed-remove set of elements), else 0. */
int schema_field_is_set(const char *name);

/* Validate and normalise one value of field `name`.
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

/* 1 if the field is personal data that is masked for display. */
int schema_field_is_masked(const char *name);

/* Mask a value for display: id_number keeps the first 6 and last 4
 * characters ("330203********1234"), phone the first 3 and last 4
 * ("138****5678"); other fields are copied unchanged. Values too short to
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

#endif
