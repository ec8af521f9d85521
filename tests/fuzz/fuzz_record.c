/* fuzz_record.c - fuzz target for the record decoder (proto/record.c).
 * Record blobs come from git objects that peers push, so any bytes may
 * reach record_decode: it must never crash, leak or read out of bounds.
 *
 * Besides "no crash" it checks the properties the store relies on:
 * - a refusal always says why and leaves the record empty;
 * - an accepted input is canonical: record_encode gives back the very same
 *   bytes (one state, one byte form);
 * - the join is idempotent (join(r, r) == r) and the empty state is its
 *   identity; copies compare equal;
 * - when the input holds a NUL byte, the two halves are decoded as two
 *   states and join(a, b) must equal join(b, a) byte-for-byte, decode back
 *   to itself and absorb a (join(join(a, b), a) == join(a, b)). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/record.h"

static int decode(record *r, const uint8_t *data, size_t size)
{
    char err[256];
    err[0] = '\0';
    if (record_decode(r, (const char *)data, size, err, sizeof err) != 0) {
        if (err[0] == '\0' || r->nentries || r->nctx || r->entries || r->ctx)
            abort();
        return -1;
    }
    return 0;
}

static void encode_or_abort(char **out, size_t *len, const record *r)
{
    if (record_encode(out, len, r) != 0)
        abort();
}

static void join_or_abort(record *out, const record *a, const record *b)
{
    if (record_join(out, a, b) != 0)
        abort();
}

/* Properties of one accepted state. */
static void check_one(const record *r, const uint8_t *data, size_t size)
{
    char *enc;
    size_t len;
    encode_or_abort(&enc, &len, r);
    if (len != size || memcmp(enc, data, size) != 0)
        abort();
    free(enc);

    record self, empty, with_empty, copy;
    join_or_abort(&self, r, r);
    if (!record_equal(&self, r))
        abort();
    record_init(&empty);
    join_or_abort(&with_empty, &empty, r);
    if (!record_equal(&with_empty, r))
        abort();
    if (record_copy(&copy, r) != 0)
        abort();
    if (!record_equal(&copy, r))
        abort();

    for (size_t i = 0; i < r->nentries; i++) {
        size_t first, n = record_field_entries(r, r->entries[i].field, &first);
        if (n == 0 || first > i || i >= first + n)
            abort();
        const record_entry *w = record_field_winner(r, r->entries[i].field);
        if (!w || strcmp(w->field, r->entries[i].field) != 0)
            abort();
        if (w->time_ms < r->entries[i].time_ms)
            abort();
        if (record_ctx_get(r, r->entries[i].node) < r->entries[i].counter)
            abort();
    }
    record_free(&self);
    record_free(&with_empty);
    record_free(&copy);
}

/* Properties of the join of two accepted states. */
static void check_two(const record *a, const record *b)
{
    record ab, ba, aba;
    join_or_abort(&ab, a, b);
    join_or_abort(&ba, b, a);
    char *e1, *e2;
    size_t l1, l2;
    encode_or_abort(&e1, &l1, &ab);
    encode_or_abort(&e2, &l2, &ba);
    if (l1 != l2 || memcmp(e1, e2, l1) != 0)
        abort();
    /* the join of two valid states is a valid state */
    record back;
    char err[256];
    if (record_decode(&back, e1, l1, err, sizeof err) != 0)
        abort();
    if (!record_equal(&back, &ab))
        abort();
    join_or_abort(&aba, &ab, a);
    if (!record_equal(&aba, &ab))
        abort();
    free(e1);
    free(e2);
    record_free(&back);
    record_free(&ab);
    record_free(&ba);
    record_free(&aba);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    record r;
    if (decode(&r, data, size) == 0) {
        check_one(&r, data, size);
        record_free(&r);
    }

    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        size_t la = (size_t)(nul - data);
        record a, b;
        if (decode(&a, data, la) == 0) {
            if (decode(&b, nul + 1, size - la - 1) == 0) {
                check_one(&b, nul + 1, size - la - 1);
                check_two(&a, &b);
                record_free(&b);
            }
            record_free(&a);
        }
    }
    return 0;
}
