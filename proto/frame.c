/* frame.c - 4-byte big-endian length + payload framing (see frame.h). */
#include "proto/frame.h"

frame_status frame_parse(const uint8_t **payload, size_t *plen, size_t *consumed, size_t *need,
                         const uint8_t *buf, size_t len, size_t cap)
{
    if (need)
        *need = 0;
    if (len < FRAME_HEADER_LEN)
        return FRAME_NEED_MORE;
    uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    if (n == 0)
        return FRAME_EMPTY;
    if (n > cap)
        return FRAME_TOO_BIG;
    if (need)
        *need = FRAME_HEADER_LEN + (size_t)n;
    if (len - FRAME_HEADER_LEN < n)
        return FRAME_NEED_MORE;
    *payload = buf + FRAME_HEADER_LEN;
    *plen = n;
    *consumed = FRAME_HEADER_LEN + (size_t)n;
    return FRAME_READY;
}

void frame_header_put(uint8_t out[FRAME_HEADER_LEN], uint32_t len)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}
