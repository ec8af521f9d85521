/* utf8.c - the one strict UTF-8 decoder (see utf8.h). Table-free: the lead
 * byte gives the length and the smallest value that length may encode, so
 * an overlong form is caught by comparing against that minimum. */
#include "proto/utf8.h"

#include <assert.h>

size_t utf8_decode(uint32_t *cp, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n;
    uint32_t v, min;

    assert(cp && (s || len == 0));
    if (len == 0)
        return 0;
    unsigned char c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) { /* 0xC0, 0xC1 only start overlong forms */
        n = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) { /* above 0xF4 is beyond U+10FFFF */
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (u[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

long utf8_len(const char *s, size_t len)
{
    long count = 0;
    size_t i = 0;
    uint32_t cp;

    while (i < len) {
        size_t k = utf8_decode(&cp, s + i, len - i);
        if (k == 0)
            return -1;
        i += k;
        count++;
    }
    return count;
}

int utf8_valid(const char *s, size_t len)
{
    return utf8_len(s, len) >= 0;
}

size_t utf8_encode(char out[UTF8_SEQ_MAX], uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF)
        return 0;
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
