/* utf8.h - THE UTF-8 decoder: one strict reading of UTF-8 for every room
 * (schema validation, CLI rendering, reports). Strict means RFC 3629:
 * overlong forms, UTF-16 surrogates (U+D800..U+DFFF), code points above
 * U+10FFFF and truncated sequences are all invalid. Pure: no I/O, no
 * allocation. Never add a second decoder; call this one. */
#ifndef UNIOND_UTF8_H
#define UNIOND_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The largest number of bytes one code point takes. */
#define UTF8_SEQ_MAX 4

/* Decode the one sequence at s (len bytes available; len may be 0).
 * Returns its length in bytes (1..4) and stores the code point in *cp, or
 * returns 0 (and leaves *cp untouched) when the bytes at s do not start a
 * valid sequence. The caller owns s; nothing is kept. */
size_t utf8_decode(uint32_t *cp, const char *s, size_t len);

/* 1 if s[0..len) is entirely valid UTF-8 (NUL bytes count as valid), else 0. */
int utf8_valid(const char *s, size_t len);

/* Number of code points in s[0..len), or -1 if it is not valid UTF-8. */
long utf8_len(const char *s, size_t len);

/* Encode cp as UTF-8 into out (room for UTF8_SEQ_MAX bytes, not
 * NUL-terminated). Returns the number of bytes, or 0 if cp is a surrogate
 * or above U+10FFFF. */
size_t utf8_encode(char out[UTF8_SEQ_MAX], uint32_t cp);

#endif
