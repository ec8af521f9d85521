/* fuzz_journal.c - the group commits' journal decoder (journal.h,
 * store_journal_scan) on arbitrary bytes. The journal is a file on the
 * node's disk that a crash may leave torn and a disk may damage; a start
 * redoes what it reads from it, so it must never crash, leak or read out
 * of bounds, and what it accepts must hold together:
 * - every entry lies inside the input, in order, with seq 1, 2, ...;
 * - its pack starts "PACK" v2 and its .idx names that pack;
 * - each entry's `from` is the last one's `to`;
 * - the scan of the accepted prefix alone accepts the same prefix (a
 *   journal cut after a whole entry loses nothing before it). */
#include "daemon/store/journal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const unsigned char *buf;
    size_t len;
    uint64_t seq;
    unsigned char last_to[GIT_OID_RAWSZ];
    const unsigned char *last_end;
} fz;

static int check_entry(const store_journal_entry *e, void *arg)
{
    fz *f = arg;
    const unsigned char *end = f->buf + f->len;
    if (e->seq != f->seq + 1 || e->pack < f->buf + 8 || e->pack < f->last_end ||
        e->packlen > (size_t)(end - e->pack) || e->idx != e->pack + e->packlen ||
        e->idxlen > (size_t)(end - e->idx))
        abort();
    if (memcmp(e->pack, "PACK", 4) != 0 || e->packlen < 32 || e->idxlen < 1072 ||
        memcmp(e->idx + e->idxlen - 40, e->pack + e->packlen - 20, 20) != 0)
        abort();
    if (f->seq > 0 && (!e->has_from || memcmp(e->from, f->last_to, GIT_OID_RAWSZ) != 0))
        abort();
    memcpy(f->last_to, e->to, GIT_OID_RAWSZ);
    f->last_end = e->idx + e->idxlen;
    f->seq = e->seq;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    fz f = {buf, size, 0, {0}, buf};
    size_t used = store_journal_scan(buf, size, check_entry, &f);
    if (used > size || (used != 0 && used < 8))
        abort();
    if (used) {
        fz g = {buf, used, 0, {0}, buf};
        if (store_journal_scan(buf, used, check_entry, &g) != used || g.seq != f.seq)
            abort();
    }
    free(buf);
    return 0;
}
