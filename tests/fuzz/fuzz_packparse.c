/* fuzz_packparse.c - the take-in's own pack parser (packparse.h) on
 * arbitrary bytes, the whole input being the pack (copied into its own
 * allocation, so any read outside it is an ASan report). Nothing may crash
 * or leak; a refusal must say why and keep nothing; what is accepted must
 * hold together: every object handed over once, in pack order, its bytes
 * within the size limit, its entry's offset increasing from the header,
 * its CRC-32 that of the bytes up to the next entry (or the trailer), and
 * the .idx made of the entries (packfile_idx_build) either built or
 * refused for an object twice. A callback refusal (an object whose bytes
 * start with "STOP") must stop the parse. Inputs of even length get a
 * right SHA-1 trailer (below). */
#include "daemon/store/packparse.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SIZE_MAX 65536

typedef struct {
    size_t seen;
    EVP_MD_CTX *ctx;
} fuzz_state;

static int on_batch(void *arg, packparse_obj *o, size_t first, size_t n, char *why, size_t whylen)
{
    fuzz_state *st = arg;
    if (n == 0)
        return o != NULL; /* the last call */
    if (first != st->seen || n > PACKPARSE_BATCH_OBJECTS)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (o[i].len > FUZZ_SIZE_MAX || o[i].type < PACKFILE_COMMIT || o[i].type > PACKFILE_BLOB)
            abort();
        if (packfile_hash(o[i].e->id, st->ctx, o[i].type, o[i].data, o[i].len) != 0)
            abort();
        if (o[i].len >= 4 && memcmp(o[i].data, "STOP", 4) == 0) {
            snprintf(why, whylen, "stopped");
            return 1;
        }
        st->seen++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *pack = malloc(size ? size : 1), sum[PACKFILE_OID];
    if (!pack)
        abort();
    memcpy(pack, data, size);
    /* an input of even length gets the trailer its bytes need, so that
     * mutations reach the entries instead of dying at the checksum (odd
     * lengths keep theirs: the checksum's refusal is fuzzed too) */
    unsigned mdlen = 0;
    if (size >= 32 && size % 2 == 0 &&
        !EVP_Digest(pack, size - PACKFILE_OID, pack + size - PACKFILE_OID, &mdlen, EVP_sha1(),
                    NULL))
        abort();
    fuzz_state st = {0, EVP_MD_CTX_new()};
    if (!st.ctx)
        abort();
    packfile_entry *e = NULL;
    size_t n = 0;
    char err[256] = "";
    packparse_limits lim = {1u << 20, FUZZ_SIZE_MAX};
    uerr rc = packparse_run(&e, &n, sum, pack, size, &lim, on_batch, &st, err, sizeof err);
    if (rc != UERR_OK) {
        if (!err[0] || e || n)
            abort();
    } else {
        if (n != st.seen || memcmp(sum, pack + size - PACKFILE_OID, PACKFILE_OID) != 0)
            abort();
        for (size_t i = 0; i < n; i++) {
            uint64_t end = i + 1 < n ? e[i + 1].off : size - PACKFILE_OID;
            if ((i == 0 && e[i].off != 12) || end <= e[i].off)
                abort();
            if (e[i].crc != (uint32_t)crc32(0, pack + e[i].off, (uInt)(end - e[i].off)))
                abort();
        }
        unsigned char *idx = NULL;
        size_t idxlen = 0;
        rc = packfile_idx_build(&idx, &idxlen, e, n, sum, err, sizeof err);
        if (rc != UERR_OK && rc != UERR_INTERNAL)
            abort();
        free(idx);
    }
    free(e);
    EVP_MD_CTX_free(st.ctx);
    free(pack);
    return 0;
}
