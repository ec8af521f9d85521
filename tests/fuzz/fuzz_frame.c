/* fuzz_frame.c - fuzz target for the framing (proto/frame.c) and the typed
 * msgpack lookups (proto/msg.c): the bytes a control client or a peer puts
 * on a socket. The input is a byte stream; frames are cut from it with a
 * small cap, exactly as a connection would, and every payload is unpacked
 * with msgpack_unpack_next and read with msg_get / msg_get_str /
 * msg_get_int / msg_get_bool / msg_get_array on the keys handlers use.
 *
 * Checks besides "no crash, no leak": frame_parse never claims more bytes
 * than it was given, reports the length its header announced, and asks for
 * more only when the frame is really incomplete; strings from msg_* are
 * NUL-free copies of the right length.
 *
 * msgpack-c allocates a container's element array as soon as it reads the
 * header, before it checks the bytes are there, so a 5-byte payload can ask
 * for up to 96 GiB. A release build gets NULL (msgpack reports NOMEM) or
 * untouched virtual memory; under ASan that aborts, or costs seconds and
 * GiBs of shadow per input. So this target has ASan return NULL for any
 * allocation over 64 MiB (a 4 KiB frame never needs that much; libFuzzer
 * itself allocates 20 MiB at start, so 16 was too low) and the
 * NOMEM path is what gets tested (see __asan_default_options below). */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/msg.h"

#define CAP 4096

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

static const char *const KEYS[] = {"op", "id", "fields", "where", "rows", "ok", "error"};

static void check_str(char *s, const msgpack_object *o)
{
    if (!s)
        return;
    /* msgpack-c may leave ptr NULL for an empty string: no memcmp then */
    if (!o || o->type != MSGPACK_OBJECT_STR || strlen(s) != o->via.str.size ||
        (o->via.str.size && memcmp(s, o->via.str.ptr, o->via.str.size) != 0))
        abort();
    free(s);
}

/* What a handler does with an array: strings, [field, op, value] triples,
 * row maps. */
static void walk_array(const msgpack_object_array *a)
{
    for (uint32_t i = 0; i < a->size; i++) {
        const msgpack_object *e = &a->ptr[i];
        check_str(msg_str_dup(e), e);
        if (e->type == MSGPACK_OBJECT_ARRAY) {
            for (uint32_t k = 0; k < e->via.array.size && k < 8; k++)
                check_str(msg_str_dup(&e->via.array.ptr[k]), &e->via.array.ptr[k]);
        } else if (e->type == MSGPACK_OBJECT_MAP) {
            for (size_t k = 0; k < sizeof KEYS / sizeof *KEYS; k++) {
                check_str(msg_get_str(e, KEYS[k]), msg_get(e, KEYS[k]));
                (void)msg_get_int(e, KEYS[k], 0);
            }
        }
    }
}

static void handle_payload(const uint8_t *p, size_t n)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    /* msg_unpack is what every receiver uses: msg_check first, so lying
     * container counts never reach msgpack-c's allocator. */
    int checked = msg_check((const char *)p, n);
    if (msg_unpack(&u, (const char *)p, n) == 0) {
        if (checked != 0)
            abort();
        const msgpack_object *o = &u.data;
        for (size_t k = 0; k < sizeof KEYS / sizeof *KEYS; k++) {
            const msgpack_object *v = msg_get(o, KEYS[k]);
            if (v && o->type != MSGPACK_OBJECT_MAP)
                abort();
            check_str(msg_get_str(o, KEYS[k]), v);
            int64_t i = msg_get_int(o, KEYS[k], -7);
            if (!v && i != -7)
                abort();
            int b = msg_get_bool(o, KEYS[k], 2);
            if (!v && b != 2)
                abort();
            const msgpack_object_array *a = msg_get_array(o, KEYS[k]);
            if (a) {
                if (!v || v->type != MSGPACK_OBJECT_ARRAY || a != &v->via.array)
                    abort();
                walk_array(a);
            }
        }
        if (o->type == MSGPACK_OBJECT_ARRAY)
            walk_array(&o->via.array);
    }
    msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    for (;;) {
        const uint8_t *payload = NULL;
        size_t plen = 0, consumed = 0, need = 12345;
        size_t left = size - pos;
        frame_status st = frame_parse(&payload, &plen, &consumed, &need, data + pos, left, CAP);
        if (st == FRAME_READY) {
            if (consumed != plen + FRAME_HEADER_LEN || consumed > left || plen == 0 || plen > CAP ||
                payload != data + pos + FRAME_HEADER_LEN || need != consumed)
                abort();
            uint8_t hdr[FRAME_HEADER_LEN];
            frame_header_put(hdr, (uint32_t)plen);
            if (memcmp(hdr, data + pos, FRAME_HEADER_LEN) != 0)
                abort();
            handle_payload(payload, plen);
            pos += consumed;
            continue;
        }
        if (st == FRAME_NEED_MORE) {
            if (left < FRAME_HEADER_LEN ? need != 0 : need <= left || need > CAP + FRAME_HEADER_LEN)
                abort();
        } else if (st == FRAME_TOO_BIG || st == FRAME_EMPTY) {
            if (left < FRAME_HEADER_LEN)
                abort();
        } else {
            abort();
        }
        break;
    }
    /* the same stream with a NULL need and the largest cap must agree on
     * the first frame */
    const uint8_t *p1 = NULL, *p2 = NULL;
    size_t l1 = 0, l2 = 0, c1 = 0, c2 = 0;
    frame_status a = frame_parse(&p1, &l1, &c1, NULL, data, size, CAP);
    frame_status b = frame_parse(&p2, &l2, &c2, NULL, data, size, FRAME_CONTROL_MAX);
    if (a == FRAME_READY && (b != FRAME_READY || p1 != p2 || l1 != l2 || c1 != c2))
        abort();
    if (a == FRAME_NEED_MORE && b != FRAME_NEED_MORE)
        abort();
    if (a == FRAME_EMPTY && b != FRAME_EMPTY)
        abort();
    return 0;
}
