/* fuzz_recsnap.c - fuzz target for the persisted record index's decoder
 * (daemon/store/recsnap_fmt.c). The snapshot is a file on the node's disk,
 * derived data that may be torn, damaged or anything: it must never crash,
 * leak or read out of bounds, and it is never used unless whole.
 *
 * Besides "no crash" it checks:
 * - an image recsnap_fmt_check accepts loads (or is refused for a repeated
 *   name or value only), and every record loaded decodes (through a view)
 *   and encodes with record_encode;
 * - an image it refuses is never loaded (recsnap_fmt_load refuses it too,
 *   and leaves the index empty);
 * - the input with its crc fixed (so the checks past the checksum are
 *   reached) is handled the same way, and an image loaded and written
 *   again loads again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "daemon/store/recsnap_fmt.h"

static int blob_cb(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    (void)kind;
    (void)arg;
    if (!id[0] || buf[len] != 0)
        abort();
    return 0;
}

static int skip_odd(record_kind kind, const char *id, void *arg)
{
    (void)kind;
    (void)arg;
    return strlen(id) % 2;
}

/* Load p into a fresh index and read every record back. Returns 1 if it
 * loaded. */
static int load_one(const uint8_t *p, size_t size, int rewrite)
{
    char tree[41];
    int ok = recsnap_fmt_check(tree, p, size);
    recindex ix;
    recindex_init(&ix);
    recindex_index_field(&ix, "office");
    recindex_index_field(&ix, "status");
    const char *tallied[] = {"office", "status"};
    recindex_tally_fields(&ix, tallied, 2);
    uerr e = recsnap_fmt_load(&ix, p, size, rewrite ? NULL : skip_odd, blob_cb, NULL);
    if (!ok && (e != UERR_INVALID || ix.count))
        abort();
    if (ok && e != UERR_OK && e != UERR_INVALID && e != UERR_NOMEM)
        abort();
    recindex_view v = RECINDEX_VIEW_INIT;
    for (uint32_t row = 0; ok && e == UERR_OK && row < ix.count; row++) {
        const recindex_item *it = recindex_row(&ix, row);
        const record *r = recindex_view_item(&v, &ix, it);
        char *enc;
        size_t len;
        if (!r || record_encode(&enc, &len, r) != 0)
            abort();
        free(enc);
        (void)recindex_item_shown(&ix, it, "office");
    }
    recindex_view_free(&v);
    if (ok && e == UERR_OK && rewrite) {
        /* written again (no blobs) and loaded again */
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&buf, &blen);
        if (!f)
            abort();
        int w = recsnap_fmt_write(f, &ix, tree, NULL, 0);
        fclose(f);
        if (w == 0) {
            recindex ix2;
            recindex_init(&ix2);
            if (recsnap_fmt_load(&ix2, (const uint8_t *)buf, blen, NULL, blob_cb, NULL) !=
                    UERR_OK ||
                ix2.count != ix.count)
                abort();
            recindex_free(&ix2);
            pthread_rwlock_destroy(&ix2.lock);
        }
        free(buf);
    }
    recindex_free(&ix);
    pthread_rwlock_destroy(&ix.lock);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_one(data, size, 1);
    /* the same bytes with the checksum made right */
    if (size >= 8 + 4 + 40 + 8) {
        uint8_t *p = malloc(size);
        if (!p)
            return 0;
        memcpy(p, data, size);
        uLong crc = crc32(crc32(0L, Z_NULL, 0), p, (uInt)(size - 8));
        for (int i = 0; i < 4; i++)
            p[size - 8 + i] = (uint8_t)(crc >> (8 * i));
        load_one(p, size, 0);
        load_one(p, size, 1);
        free(p);
    }
    return 0;
}
