/* import_rows.c - the rows of an import request, one at a time
 * (import_rows.h), and two helpers for a row once read. Part of the ctl
 * room; reads only the request. */
#include "daemon/ctl/import_rows.h"

#include "proto/msg.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The request's rows: "rows" (an array) or "rows_bin" (a bin holding an
 * array's msgpack bytes, checked whole by msg_check before any row is
 * unpacked, so no count in it can make msgpack-c allocate for objects
 * that are not there). *n receives the number of rows. 0, or -1 when
 * neither is there or they are malformed. */
int import_rows_open(import_rows *r, uint32_t *n, const msgpack_object *req)
{
    const msgpack_object *bin = msg_get(req, "rows_bin");
    msgpack_unpacked_init(&r->cur);
    if (!bin) {
        r->arr = msg_get_array(req, "rows");
        *n = r->arr ? r->arr->size : 0;
        return r->arr ? 0 : -1;
    }
    if (bin->type != MSGPACK_OBJECT_BIN || msg_check(bin->via.bin.ptr, bin->via.bin.size) != 0)
        return -1;
    const unsigned char *b = (const unsigned char *)bin->via.bin.ptr;
    size_t len = bin->via.bin.size;
    /* the array's header: fixarray, array16 or array32 */
    if (b[0] >= 0x90 && b[0] <= 0x9f) {
        *n = b[0] & 0x0f;
        r->off = 1;
    } else if (b[0] == 0xdc && len >= 3) {
        *n = (uint32_t)b[1] << 8 | b[2];
        r->off = 3;
    } else if (b[0] == 0xdd && len >= 5) {
        *n = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
        r->off = 5;
    } else {
        return -1;
    }
    r->bin = bin->via.bin.ptr;
    r->binlen = len;
    return 0;
}

/* Give the pages of the bin that hold rows already read back to the
 * system (madvise MADV_DONTNEED: they read as zeros if touched again,
 * and nothing reads them again: a row's cells are copied out of it while
 * it is checked, and the bin lies wholly inside the request's buffer,
 * away from the allocator's own words at its ends). The request is held
 * until every row is checked; without this its rows would be too (~120
 * bytes a row). Every 4 MiB read at most once. */
static void import_rows_drop(import_rows *r)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!r->dropped)
        r->dropped = r->bin;
    uintptr_t from = ((uintptr_t)r->dropped + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)r->bin + r->off) & ~(page - 1);
    if (to <= from || to - from < (4u << 20))
        return;
    assert(from >= (uintptr_t)r->bin && to <= (uintptr_t)r->bin + r->binlen);
    if (madvise((void *)from, to - from, MADV_DONTNEED) == 0)
        r->dropped = (const char *)to;
}

/* Row ri of the request (rows are taken in order, each once), or NULL
 * when it cannot be read. Borrowed: valid until the next call. */
const msgpack_object *import_rows_get(import_rows *r, uint32_t ri)
{
    if (r->arr)
        return &r->arr->ptr[ri];
    import_rows_drop(r); /* the rows before this one: read */
    /* msg_check passed over the whole array: each row is one object */
    if (r->off >= r->binlen ||
        msgpack_unpack_next(&r->cur, r->bin, r->binlen, &r->off) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    return &r->cur.data;
}

void import_rows_free(import_rows *r)
{
    msgpack_unpacked_destroy(&r->cur);
}

const char *import_row_value(const assignment *a, size_t na, const char *field)
{
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].field, field) == 0)
            return a[i].value;
    return "";
}

const char *import_message_field(char *buf, size_t len, const char *msg)
{
    const char *c = strchr(msg, ':');
    snprintf(buf, len, "%.*s", c ? (int)(c - msg) : 0, msg);
    return buf;
}

/* ---- blocks ----------------------------------------------------------------- */

#define IMPORT_BLOCK (1u << 20)

struct import_block {
    import_block *next; /* the older block */
    size_t used, size;
    _Alignas(16) char data[];
};

void *import_block_alloc(import_block **head, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    import_block *b = *head;
    if (need < n)
        return NULL;
    if (!b || b->size - b->used < need) {
        size_t size = need > IMPORT_BLOCK ? need : IMPORT_BLOCK;
        if (size > SIZE_MAX - sizeof *b || !(b = malloc(sizeof *b + size)))
            return NULL;
        *b = (import_block){*head, 0, size};
        *head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

void import_blocks_free(import_block **head)
{
    while (*head) {
        import_block *next = (*head)->next;
        free(*head);
        *head = next;
    }
}
