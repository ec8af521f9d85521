/* fuzz_schema.c - fuzz target for proto/schema.c. Values reach the schema
 * straight from CSV imports, the control socket and peers, so no input may
 * crash, leak or read out of bounds.
 *
 * Input: "FIELD\nVALUE". Without a newline the first byte picks a standard
 * field and the rest is the value, so the fuzzer reaches every type rule
 * even before it has learnt the field names. Besides "no crash", it checks
 * the properties the rest of the system relies on: an accepted value is
 * valid UTF-8 and re-checks to itself; a refusal always says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/schema.h"

#define TODAY "2026-11-28"

static void check_invariants(const char *field, const char *value)
{
    char err[256];
    char *out = NULL;
    int rc = schema_value_check(&out, field, value, TODAY, err, sizeof err);
    if (rc == 0) {
        if (!out || schema_utf8_len(out, strlen(out)) < 0) abort();
        char *again = NULL;
        if (schema_value_check(&again, field, out, TODAY, err, sizeof err) != 0 ||
            strcmp(again, out) != 0)
            abort(); /* normalisation must be idempotent */
        free(again);
    } else if (rc != -1 || out != NULL || err[0] == '\0') {
        abort();
    }
    free(out);

    /* masking never fails on readable input and never returns NULL except
     * for allocation failure */
    char *m = schema_value_mask(field, value);
    if (!m) abort();
    if (schema_field_is_masked(field) && strlen(m) > strlen(value)) abort();
    free(m);

    (void)schema_display_width(value);
    (void)schema_display_width(field);
    (void)schema_date_valid(value);
    (void)schema_name_valid(field);
    (void)schema_field_is_set(field);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the raw bytes, embedded NULs included */
    long n = schema_utf8_len((const char *)data, size);
    if (n > (long)size) abort();

    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    char *nl = memchr(buf, '\n', size);
    if (nl) {
        *nl = '\0';
        check_invariants(buf, nl + 1);
    } else if (size > 0) {
        size_t nf;
        const schema_field *f = schema_fields(&nf);
        check_invariants(f[data[0] % nf].name, buf + 1);
    }
    free(buf);
    return 0;
}
