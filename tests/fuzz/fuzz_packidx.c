/* fuzz_packidx.c - the bounded pack reader of pack reuse (packread.h) on
 * arbitrary bytes. Input: a 4-byte big-endian length L, then L bytes of
 * .idx, then the .pack (L is cut to what is there). Each part is copied
 * into its own allocation, so that any read outside it is an ASan report.
 * Nothing may crash or leak; a refusal must say why; what is accepted
 * must hold together: every id is found at its own position, every entry
 * lies inside the pack and starts with a header that fits it. */
#include "daemon/store/packread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t il = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
    if (il > size - 4)
        il = size - 4;
    size_t pl = size - 4 - il;
    unsigned char *idx = malloc(il ? il : 1), *pack = malloc(pl ? pl : 1);
    if (!idx || !pack)
        abort();
    memcpy(idx, data + 4, il);
    memcpy(pack, data + 4 + il, pl);
    packread p = {0};
    char err[256] = "";
    if (packread_init(&p, idx, il, pack, pl, err, sizeof err) != UERR_OK) {
        if (!err[0] || p.n != 0)
            abort();
    } else {
        for (uint32_t i = 0; i < p.n; i++) {
            packread_entry e;
            if (packread_find(&p, p.oids + (size_t)i * 20) != (long)i)
                abort();
            err[0] = 0;
            if (packread_entry_at(&e, &p, i, err, sizeof err) != UERR_OK) {
                if (!err[0])
                    abort();
                continue;
            }
            if (e.off < 12 || e.len == 0 || e.off + e.len > pl - 20 || e.hdrlen >= e.len)
                abort();
            const unsigned char *b = packread_entry_bytes(&p, &e);
            if (b && b != pack + e.off)
                abort();
        }
    }
    packread_free(&p);
    free(idx);
    free(pack);
    return 0;
}
