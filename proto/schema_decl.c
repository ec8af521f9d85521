/* schema_decl.c - the declaration records (schema_decl.h): their byte
 * form, the check a received or written one must pass, and applying them
 * to the process-wide schema. Pure: no I/O, no logging. */
#include "proto/schema_decl.h"

#include "proto/utf8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int schema_decl_id_valid(const char *name, size_t len)
{
    return (len == strlen(SCHEMA_DECL_FIELDS_ID) &&
            memcmp(name, SCHEMA_DECL_FIELDS_ID, len) == 0) ||
           (len == strlen(SCHEMA_DECL_CATEGORY_ID) &&
            memcmp(name, SCHEMA_DECL_CATEGORY_ID, len) == 0);
}

void schema_decl_field_format(char *out, size_t outlen, schema_type t, int is_private,
                              const char *label)
{
    snprintf(out, outlen, "%s %d %s", schema_type_name(t), is_private ? 1 : 0, label ? label : "");
}

/* 1 if s[0..n) is in its stored form: valid UTF-8, NFKC, trimmed. */
static int stored_form(const char *s, size_t n)
{
    char *norm = NULL;
    if (!utf8_valid(s, n) || schema_text_normalize(&norm, s, n) != UERR_OK)
        return 0;
    int ok = strlen(norm) == n && memcmp(norm, s, n) == 0;
    free(norm);
    return ok;
}

uerr schema_decl_field_parse(schema_type *t, int *is_private, const char **label, const char *value,
                             char *err, size_t errlen)
{
    char word[32], why[128];
    const char *sp = strchr(value, ' ');
    size_t wl = sp ? (size_t)(sp - value) : 0;
    if (!sp || wl == 0 || wl >= sizeof word || (sp[1] != '0' && sp[1] != '1') || sp[2] != ' ')
        return uerr_set(err, errlen, UERR_INVALID,
                        "a field declaration is not \"TYPE PRIVATE LABEL\"");
    memcpy(word, value, wl);
    word[wl] = '\0';
    if (schema_type_parse(t, word, why, sizeof why) != UERR_OK)
        return uerr_set(err, errlen, UERR_INVALID, "a field declaration has an unknown type");
    *is_private = sp[1] == '1';
    *label = sp + 3;
    size_t ll = strlen(*label);
    if (ll > SCHEMA_LABEL_MAX || strchr(*label, '\n') || (ll && !stored_form(*label, ll)))
        return uerr_set(err, errlen, UERR_INVALID,
                        "a field declaration's label is not one normalised line of at most %d "
                        "bytes",
                        SCHEMA_LABEL_MAX);
    return UERR_OK;
}

/* 1 if w[0..n) may be a category word: non-empty, short, stored form, no
 * ';' and no control character. */
static int elem_word_ok(const char *w, size_t n)
{
    if (n == 0 || n > VOCAB_WORD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)w[i] < 0x20 || w[i] == 0x7f || w[i] == ';')
            return 0;
    return stored_form(w, n);
}

uerr schema_decl_elem_parse(schema_decl_elem *out, const char *elem, char *err, size_t errlen)
{
    size_t len = strlen(elem);
    memset(out, 0, sizeof *out);
    if (len >= sizeof out->buf || len < 3 || (elem[0] != '0' && elem[0] != '1') || elem[1] != ';')
        return uerr_set(err, errlen, UERR_INVALID,
                        "a category addition is not \"NEWFORM;VALUE;ALIAS;...\"");
    memcpy(out->buf, elem, len + 1);
    out->new_form = elem[0] == '1';
    char *p = out->buf + 2;
    for (;;) {
        char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        if (out->nwords == VOCAB_ALIASES_MAX + 1 || !elem_word_ok(p, n))
            return uerr_set(err, errlen, UERR_INVALID,
                            "a category addition has an empty, over-long or unnormalised word, "
                            "or more than %d aliases",
                            VOCAB_ALIASES_MAX);
        out->words[out->nwords++] = p;
        if (!semi)
            break;
        *semi = '\0';
        p = semi + 1;
    }
    return UERR_OK;
}

uerr schema_decl_record_check(const char *id, const record *r, char *err, size_t errlen)
{
    int fields = strcmp(id, SCHEMA_DECL_FIELDS_ID) == 0;
    if (!fields && strcmp(id, SCHEMA_DECL_CATEGORY_ID) != 0)
        return uerr_set(err, errlen, UERR_INVALID, "'%.64s' is not a declaration record", id);
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        char why[200];
        uerr rc;
        if (fields) {
            schema_type t;
            int priv;
            const char *label;
            if (!schema_name_valid(e->field))
                return uerr_set(err, errlen, UERR_INVALID, "%s: '%.32s' is not a field name", id,
                                e->field);
            rc = schema_decl_field_parse(&t, &priv, &label, e->value, why, sizeof why);
        } else {
            schema_decl_elem el;
            if (strcmp(e->field, SCHEMA_DECL_VALUES_FIELD) != 0)
                return uerr_set(err, errlen, UERR_INVALID, "%s holds only the field %s", id,
                                SCHEMA_DECL_VALUES_FIELD);
            rc = schema_decl_elem_parse(&el, e->value, why, sizeof why);
        }
        if (rc != UERR_OK)
            return uerr_set(err, errlen, UERR_INVALID, "%s: %s", id, why);
    }
    return UERR_OK;
}

size_t schema_decl_add(const record *fields, const record *category)
{
    size_t skipped = 0;
    char err[256];
    for (size_t i = 0; fields && i < fields->nentries; i++) {
        if (i > 0 && fields->entries[i].field == fields->entries[i - 1].field)
            continue; /* interned: equal names are equal pointers */
        const record_entry *w = record_field_winner(fields, fields->entries[i].field);
        schema_type t;
        int priv;
        const char *label;
        assert(w);
        if (schema_decl_field_parse(&t, &priv, &label, w->value, err, sizeof err) != UERR_OK ||
            schema_field_declare(w->field, t, *label ? label : NULL, priv, err, sizeof err) !=
                UERR_OK)
            skipped++;
    }
    size_t first,
        n = category ? record_field_entries(category, SCHEMA_DECL_VALUES_FIELD, &first) : 0;
    for (size_t i = 0; i < n; i++) {
        schema_decl_elem el;
        if (schema_decl_elem_parse(&el, category->entries[first + i].value, err, sizeof err) !=
                UERR_OK ||
            vocab_value_add("category", el.words[0], el.words + 1, el.nwords - 1, el.new_form, err,
                            sizeof err) != UERR_OK)
            skipped++;
    }
    return skipped;
}

size_t schema_decl_apply(const record *fields, const record *category)
{
    schema_declared_reset();
    vocab_reset();
    return schema_decl_add(fields, category);
}
