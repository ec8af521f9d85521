/* errtext.h - the system's error texts ("No such file or directory") in the
 * clerk's language without depending on glibc's own catalogue (libc.mo is
 * often not installed, and uniond formats them in English with strerror
 * inside its messages anyway): a small table of the common texts, glibc's
 * and libuv's wording, translated in unionctl's catalogue (context
 * "system error"). Never used on --json output. */
#ifndef UNIOND_CLI_ERRTEXT_H
#define UNIOND_CLI_ERRTEXT_H

#include <stddef.h>

/* strerror(errnum) for people: the table's text in the messages' language
 * when errnum is in it, else strerror(errnum) (which the C library may
 * itself have translated). Static; never NULL. */
const char *errtext_strerror(int errnum);

/* The translation of text when it is one of the table's error texts
 * (compared without ASCII case: libuv writes "connection refused", glibc
 * "Connection refused"); NULL when it is not one. Static. */
const char *errtext_translate(const char *text);

/* The same for text of len bytes (not NUL-terminated). */
const char *errtext_translate_n(const char *text, size_t len);

#endif
