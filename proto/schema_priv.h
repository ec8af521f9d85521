/* schema_priv.h - helpers shared by the files that implement schema.h
 * (schema.c, schema_fields.c, schema_kinds.c, schema_norm.c, schema_row.c,
 * schema_types.c) and kind.c; not for other
 * modules. */
#ifndef UNIOND_SCHEMA_PRIV_H
#define UNIOND_SCHEMA_PRIV_H

#include <stddef.h>

#include "proto/schema.h"

/* name made safe to print in a message: at most 40 characters, control
 * characters and invalid bytes shown as '?', "..." when cut. */
void schema_printable(char *buf, size_t size, const char *name);

/* 1 if y-m-d is a real calendar date. */
int schema_ymd_valid(int y, int m, int d);

/* 1 if v[0..n) is what Excel writes for a long number in a Number cell
 * ("3.30205E+17"): the digits are lost. */
int schema_excel_number(const char *v, size_t n);

/* The checks of the types of schema_types.c (SCHEMA_LINK, SCHEMA_YESNO,
 * SCHEMA_USCC, SCHEMA_COUNT, SCHEMA_AMOUNT) on a value already NFKC'd,
 * trimmed and non-empty (n bytes, chars code points). 0 with a malloc'd
 * canonical value in *out (NULL only when out of memory), or -1 with *rule
 * (static) and msg (the message after "field: ") set. */
int schema_check_more(char **out, const schema_field *f, const char *v, size_t n, long chars,
                      const char **rule, char *msg, size_t msglen);

/* The fixed field table of a kind other than KIND_MEMBER (schema_kinds.c;
 * the member table, with its declared fields, is schema_fields.c's), or
 * NULL with *n = 0. */
const schema_field *schema_kind_table(record_kind k, size_t *n);

/* 1 when s[0..len) is provably unchanged by schema_text_normalize (NFKC
 * and the trim): ASCII without NUL and CJK unified ideographs
 * (U+4E00..U+9FFF) only, no trim character at either end. Then callers
 * use s as it is, without utf8proc or a copy. 0 means "not shown", not
 * "changes": the full path decides. */
int schema_text_is_normal(const char *s, size_t len);

/* schema_text_is_normal, also giving what the checks after it need of
 * such a text: its length in code points, and 1 in *ctl when it holds an
 * ASCII control character (< 0x20 or 0x7F; no other control character
 * can be in it). Both set only when it returns 1. */
int schema_text_normal_scan(const char *s, size_t len, long *chars, int *ctl);

/* schema_text_normalize always through utf8proc (ASCII too): the path the
 * shortcuts must agree with (tests). */
uerr schema_text_normalize_nfkc(char **out, const char *s, size_t len);

/* 1 (default): schema_text_is_normal may say yes. Tests set 0 to compare
 * every normalisation with the path that has no shortcut for CJK text or
 * already normal values; never changed while other threads normalise. */
extern int schema_norm_fast;

#endif
