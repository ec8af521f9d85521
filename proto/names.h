/* names.h - THE rules for the names nodes are known by: node names (which
 * are also git branch names) and key fingerprints (64 hex digits, kept in
 * lowercase). Config, records, the peer code and the CLI all call these;
 * never write the rule again elsewhere. Pure: no I/O. */
#ifndef UNIOND_NAMES_H
#define UNIOND_NAMES_H

#include <stddef.h>

#include "proto/uerr.h"

/* A node name is 1 to NAMES_NODE_MAX characters from a-z 0-9 . _ -,
 * starting with a letter or a digit, without "..", not ending in "." or
 * ".lock" (it names the branch refs/heads/<name>). */
#define NAMES_NODE_MAX 64
/* A fingerprint: SHA-256 of the SubjectPublicKeyInfo, 64 hex digits. */
#define NAMES_FINGERPRINT_LEN 64

/* 1 if name (NUL-terminated; NULL allowed) is a valid node name, else 0. */
int names_node_valid(const char *name);

/* The same rule for the n bytes at s, which need not be NUL-terminated (a
 * node name inside a record's text, a dot's node). 0 for n == 0. */
int names_node_valid_n(const char *s, size_t n);

/* The same check with a message for people: UERR_OK, or UERR_INVALID with
 * a message naming `what` ("peer name", "--node") and the rule. */
uerr names_node_check(const char *name, const char *what, char *err, size_t errlen);

/* 1 if s is exactly 64 hex digits (either case), else 0. NULL gives 0. */
int names_fingerprint_valid(const char *s);

/* The same check with a message naming `what` and the rule. */
uerr names_fingerprint_check(const char *s, const char *what, char *err, size_t errlen);

/* Normalise a fingerprint: out receives the 64 hex digits of in, lowercase,
 * NUL-terminated. UERR_INVALID (out set to "") if in is not a valid
 * fingerprint. */
uerr names_fingerprint_norm(char out[NAMES_FINGERPRINT_LEN + 1], const char *in);

/* A printable, bounded rendering of n bytes of s for error messages:
 * non-printable bytes and '\\' as \xNN, a long value cut with "...". out
 * (outlen >= 5 bytes, caller-owned) is returned. Used so a hostile name
 * can never put escape sequences on a terminal or in a log. */
const char *names_show(char *out, size_t outlen, const char *s, size_t n);

#endif
