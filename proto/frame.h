/* frame.h - length-prefixed framing shared by the control socket and the
 * peer protocol: a 4-byte big-endian payload length, then one msgpack map.
 * The cap is checked on the header alone, before anything is allocated. */
#ifndef UNIOND_FRAME_H
#define UNIOND_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 4
/* Control socket frames carry whole imports and exports. */
#define FRAME_CONTROL_MAX (1024u << 20) /* 1 GiB: a million-record export is one reply */

typedef enum {
    FRAME_NEED_MORE = 0,
    FRAME_READY = 1,
    FRAME_TOO_BIG = -1,
    FRAME_EMPTY = -2
} frame_status;

/* Look at buf[0..len): if a whole frame is there, returns FRAME_READY with
 * *payload pointing into buf, *plen its length and *consumed the bytes the
 * frame took (header included). FRAME_NEED_MORE when incomplete; then
 * *need (if not NULL) is the total bytes the frame will take once the
 * header is known (0 before). FRAME_TOO_BIG when the announced length
 * exceeds cap, FRAME_EMPTY for a zero length: both are protocol errors. */
frame_status frame_parse(const uint8_t **payload, size_t *plen, size_t *consumed, size_t *need,
                         const uint8_t *buf, size_t len, size_t cap);

/* Write the 4-byte header for a payload of len bytes. */
void frame_header_put(uint8_t out[FRAME_HEADER_LEN], uint32_t len);

#endif
