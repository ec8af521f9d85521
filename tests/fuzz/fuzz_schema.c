/* fuzz_schema.c - fuzz target for proto/schema.c. Values reach the schema
 * straight from CSV imports, the control socket and peers, so no input may
 * crash, leak or read out of bounds.
 *
 * Input: "FIELD\nVALUE". Without a newline the first byte picks a standard
 * field and the rest is the value, so the fuzzer reaches every type rule
 * even before it has learnt the field names. Besides "no crash", it checks
 * the properties the rest of the system relies on: an accepted value is
 * valid UTF-8 and re-checks to itself (NFKC, date styles, 15-digit IDs and
 * vocabulary aliases included); a refusal always says why and names its
 * rule; every accepted date style gives a real ISO date. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/kind.h"
#include "proto/record.h"
#include "proto/schema.h"
#include "proto/vocab.h"

#define TODAY "2026-11-28"

static void check_invariants(const char *field, const char *value)
{
    char err[256];
    char *out = NULL;
    int rc = schema_value_check(&out, field, value, TODAY, err, sizeof err);
    if (rc == 0) {
        if (!out || schema_utf8_len(out, strlen(out)) < 0)
            abort();
        char *again = NULL;
        if (schema_value_check(&again, field, out, TODAY, err, sizeof err) != 0 ||
            strcmp(again, out) != 0)
            abort(); /* normalisation must be idempotent */
        free(again);
    } else if ((rc != -1 && rc != UERR_NOMEM) || out != NULL || err[0] == '\0') {
        abort();
    }
    free(out);

    /* the full form: a refusal names its rule; the flags only on success */
    schema_norm nm;
    rc = schema_value_normalize(&nm, field, value, TODAY, err, sizeof err);
    if (rc == UERR_OK && (!nm.value || !nm.field || nm.rule))
        abort();
    if (rc != UERR_OK && (nm.value || !nm.rule || nm.flags))
        abort();
    if (rc == UERR_OK && strcmp(nm.field->name, "id_number") == 0) {
        /* cross-checks over a valid ID never fail to run */
        problem_list pl;
        problem_list_init(&pl);
        schema_person p = {value, nm.value, value};
        const char *fill;
        (void)schema_cross_check(&fill, &p, 1, &pl);
        problem_list_free(&pl);
    }
    schema_norm_free(&nm);

    char iso[11];
    if (schema_date_normalize(iso, value, err, sizeof err) == UERR_OK && !schema_date_valid(iso))
        abort(); /* every accepted style becomes a real ISO date */
    (void)vocab_distance(field, value);
    (void)vocab_suggest("category", value);

    /* masking never fails on readable input and never returns NULL except
     * for allocation failure */
    char *m = schema_value_mask(field, value);
    if (!m)
        abort();
    if (schema_field_is_masked(field) && strlen(m) > strlen(value))
        abort();
    free(m);

    (void)schema_display_width(value);
    (void)schema_display_width(field);
    (void)schema_date_valid(value);
    (void)schema_name_valid(field);
    (void)schema_field_is_set(field);
}

/* "KIND.FIELD\nVALUE" (union.uscc, benefit.amount, ...): the same
 * properties for the fields of the other kinds, and a link or amount that
 * was accepted keeps its promises (id-shaped links are ids, amounts parse
 * to the fen that format back to the stored text). */
static void check_kind(const char *kind, const char *field, const char *value)
{
    record_kind k;
    char err[256], *out = NULL;
    if (kind_parse(&k, kind, NULL, 0) != UERR_OK)
        return;
    int rc = schema_kind_value_check(&out, k, field, value, TODAY, err, sizeof err);
    if (rc != 0) {
        if (out || err[0] == '\0')
            abort();
        return;
    }
    char *again = NULL;
    if (schema_kind_value_check(&again, k, field, out, TODAY, err, sizeof err) != 0 ||
        strcmp(again, out) != 0)
        abort(); /* idempotent */
    const schema_field *f = schema_kind_field_find(k, field);
    if (!f)
        (void)schema_kind_field_resolve(&f, k, field, err, sizeof err);
    if (f && f->type == SCHEMA_AMOUNT) {
        int64_t fen;
        char buf[32];
        if (schema_amount_fen(&fen, out) != UERR_OK || fen < 0 ||
            strcmp(schema_amount_format(buf, fen), out) != 0)
            abort();
    }
    if (f && f->type == SCHEMA_USCC && !schema_uscc_valid(out))
        abort();
    if (f && f->type == SCHEMA_YESNO && strcmp(out, "yes") != 0 && strcmp(out, "no") != 0)
        abort();
    if (f && f->type == SCHEMA_LINK && *out) {
        char id[RECORD_ID_LEN + 1];
        if (schema_link_is_id(out) && kind_benefit_id(id, out, "k", TODAY, NULL, 0) != UERR_OK)
            abort();
    }
    free(again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the raw bytes, embedded NULs included */
    long n = schema_utf8_len((const char *)data, size);
    if (n > (long)size)
        abort();

    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    char *nl = memchr(buf, '\n', size);
    if (nl) {
        *nl = '\0';
        char *dot = strchr(buf, '.');
        if (dot) {
            *dot = '\0';
            check_kind(buf, dot + 1, nl + 1);
            *dot = '.';
        }
        check_invariants(buf, nl + 1);
    } else if (size > 0) {
        size_t nf;
        const schema_field *f = schema_fields(&nf);
        check_invariants(f[data[0] % nf].name, buf + 1);
    }
    free(buf);
    return 0;
}
