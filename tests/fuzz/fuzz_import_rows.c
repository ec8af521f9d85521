/* fuzz_import_rows.c - fuzz target for the rows of an import request as
 * "rows_bin" (daemon/ctl/import_rows.c, docs/CONTROL.md): the bytes a
 * control client puts in the bin. The input is the bin's content; it is
 * wrapped in a request map {"rows_bin": <bin>} (and, to cover the other
 * form, the same bytes are tried as a whole request), opened with
 * import_rows_open, and every row is read with import_rows_get as
 * op_import does, its cells copied with msg_str_dup.
 *
 * Checks besides "no crash, no leak": a bin that opens is one well-formed
 * msgpack object (msg_check: its row count came from bytes msg_check
 * walked, so no count is a lie that msgpack-c would allocate for), and
 * nothing is read past the bin. Allocations over 64 MiB return
 * NULL as in fuzz_frame.c. */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctl/import_rows.h"
#include "proto/msg.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

/* Read every row as op_import does; returns how many were read. */
static uint32_t rows_walk(import_rows *r, uint32_t n)
{
    uint32_t got = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *row = import_rows_get(r, i);
        if (!row)
            break;
        got++;
        if (row->type == MSGPACK_OBJECT_ARRAY && row->via.array.size == 2 &&
            row->via.array.ptr[1].type == MSGPACK_OBJECT_ARRAY) {
            const msgpack_object_array *cells = &row->via.array.ptr[1].via.array;
            for (uint32_t k = 0; k < cells->size && k < 64; k++)
                free(msg_str_dup(&cells->ptr[k]));
        }
    }
    return got;
}

static void try_request(const char *req, size_t len, const char *bin, size_t binlen)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (msg_unpack(&u, req, len) == 0) {
        import_rows r = {0};
        uint32_t n = 0;
        if (import_rows_open(&r, &n, &u.data) == 0) {
            if (r.bin && msg_check(r.bin, r.binlen) != 0)
                abort();
            if (bin && r.bin && (r.bin != bin || r.binlen != binlen))
                abort();
            uint32_t got = rows_walk(&r, n);
            /* a row may still fail to unpack (nested deeper than msgpack-c
             * allows: op_import refuses the request then), but no read
             * goes past the bin */
            if (r.bin && (got > n || r.off > r.binlen))
                abort();
        }
        import_rows_free(&r);
    }
    msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msg_map m;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_map_open(&m, &pk);
    msg_map_key(&m, "rows_bin");
    msgpack_pack_bin(&pk, size);
    msgpack_pack_bin_body(&pk, data, size);
    msg_map_close(&m);
    /* the bin's body inside the request, where import_rows finds it */
    const char *body = sb.data + sb.size - size;
    try_request(sb.data, sb.size, body, size);
    msgpack_sbuffer_destroy(&sb);
    /* the same bytes as a whole request (a "rows" array, or anything) */
    char *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, data, size);
        try_request(copy, size, NULL, 0);
        free(copy);
    }
    return 0;
}
