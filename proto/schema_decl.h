/* schema_decl.h - the two declaration records an office keeps in the
 * store (schema/schemafields, schema/schemacategory): their ids, the one
 * byte form of each entry, the check a record must pass to be a
 * declaration (used by the ctl room when it writes one and by the store's
 * take-in when a peer sends one), and applying them to the process-wide
 * schema (proto/schema.h) and category list (proto/vocab.h).
 *
 * Pure: no I/O, no logging. The check functions may run on any thread; the
 * apply functions change process-wide state and carry its rule (one
 * thread at a time, no validation meanwhile: daemon/ctl/op_schema.c).
 * docs/STORE.md "The schema folder" is the normative description. */
#ifndef UNIOND_SCHEMA_DECL_H
#define UNIOND_SCHEMA_DECL_H

#include <stddef.h>

#include "proto/record.h"
#include "proto/schema.h"
#include "proto/uerr.h"
#include "proto/vocab.h"

/* The only two declaration records (ids passing record_id_is_schema). */
#define SCHEMA_DECL_FIELDS_ID "schemafields"
#define SCHEMA_DECL_CATEGORY_ID "schemacategory"
/* The set field of schemacategory. */
#define SCHEMA_DECL_VALUES_FIELD "values"

/* Longest entry value of either record, in bytes. */
#define SCHEMA_DECL_ELEM_MAX ((VOCAB_WORD_MAX + 1) * (VOCAB_ALIASES_MAX + 1) + 4)

/* 1 if name[0..len) is exactly SCHEMA_DECL_FIELDS_ID or
 * SCHEMA_DECL_CATEGORY_ID, else 0. */
int schema_decl_id_valid(const char *name, size_t len);

/* The stored value of one declared field: "TYPE PRIVATE LABEL", e.g.
 * "date 0 入职日期" (label may be empty: "text 1 "). Written into out
 * (outlen >= SCHEMA_LABEL_MAX + 48 always suffices). */
void schema_decl_field_format(char *out, size_t outlen, schema_type t, int is_private,
                              const char *label);

/* Parse a stored field declaration strictly: a declarable type word, one
 * space, 0 or 1, one space, then the label (possibly empty: at most
 * SCHEMA_LABEL_MAX bytes, one line, NFKC-normalised and trimmed). *label
 * points into value (borrowed). UERR_OK or UERR_INVALID with err. */
uerr schema_decl_field_parse(schema_type *t, int *is_private, const char **label, const char *value,
                             char *err, size_t errlen);

/* One category addition "NEWFORM;VALUE;ALIAS;...": NEWFORM 0 or 1, then
 * the value and at most VOCAB_ALIASES_MAX aliases, each non-empty, at most
 * VOCAB_WORD_MAX bytes, normalised (NFKC, trimmed), without ';' or a
 * control character. */
typedef struct {
    char buf[SCHEMA_DECL_ELEM_MAX];
    const char *words[VOCAB_ALIASES_MAX + 1]; /* [0] the value, then aliases; point into buf */
    size_t nwords;
    int new_form;
} schema_decl_elem;

/* Split and check a stored category addition (above) into *out. UERR_OK
 * or UERR_INVALID with err. */
uerr schema_decl_elem_parse(schema_decl_elem *out, const char *elem, char *err, size_t errlen);

/* 1 if record r is a well-formed declaration record of id: for
 * SCHEMA_DECL_FIELDS_ID every field a valid field name (schema_name_valid)
 * whose every entry parses with schema_decl_field_parse; for
 * SCHEMA_DECL_CATEGORY_ID only the field "values", every entry parsing
 * with schema_decl_elem_parse. UERR_OK, or UERR_INVALID (another id, a
 * bad entry) with err; never quotes a label or value. */
uerr schema_decl_record_check(const char *id, const record *r, char *err, size_t errlen);

/* Declare what the two records hold (either may be NULL), on top of the
 * current declarations: each field of fields by its winning entry
 * (record_field_winner), then every category addition in stored order.
 * A declaration that the current schema refuses (a name that is now built
 * in, another type, a label already taken) is skipped and counted: the
 * return value. Nothing is owned or kept from the records. */
size_t schema_decl_add(const record *fields, const record *category);

/* Make the process-wide declarations exactly what the two records say:
 * forget every run-time declaration (schema_declared_reset, vocab_reset),
 * then schema_decl_add. Returns the number skipped. */
size_t schema_decl_apply(const record *fields, const record *category);

#endif
