/* vocab.h - controlled vocabularies of the enum-like fields (status,
 * category): the canonical values, the words people write for them
 * (aliases: 在会 -> active, 快递小哥 -> 快递员) and per-value flags (new_form:
 * a new-employment-form occupation, which the federation's reports count).
 * Built-in values are always there; an office extends a vocabulary at run
 * time with vocab_value_add (the daemon loads the extensions from the store).
 * Also the nearest-name search every "did you mean" message uses.
 *
 * Pure: no I/O. Lookups compare text exactly, except ASCII letters, which
 * compare without case (Active = active); callers normalise input (NFKC,
 * trimmed) first. Threads: lookups may run concurrently with each other;
 * vocab_value_add and vocab_reset must not run concurrently with anything
 * else (the daemon changes vocabularies only on its loop thread while no
 * worker is validating). */
#ifndef UNIOND_VOCAB_H
#define UNIOND_VOCAB_H

#include <stddef.h>

#include "proto/uerr.h"

/* A value or alias is at most this many bytes; a value has at most
 * VOCAB_ALIASES_MAX aliases. */
#define VOCAB_WORD_MAX 64
#define VOCAB_ALIASES_MAX 16

typedef struct {
    char *value;    /* canonical form, what the store holds */
    char **aliases; /* naliases other spellings that mean value */
    size_t naliases;
    int new_form; /* 1: a new-employment-form occupation */
    int builtin;  /* 1: part of the built-in list, 0: added at run time */
} vocab_value;

/* 1 if field has a controlled vocabulary ("status", "category"), else 0. */
int vocab_has(const char *field);

/* The canonical value that input (a value or an alias) stands for in the
 * vocabulary of field, or NULL if none. The pointer is owned by the
 * vocabulary and stays valid until vocab_reset. */
const char *vocab_resolve(const char *field, const char *input);

/* The canonical value nearest to input (by vocab_distance over values and
 * aliases, ties broken by the longer common prefix), or NULL if field has
 * no vocabulary. Always answers for a non-empty vocabulary: a controlled
 * list is short, so the nearest is always worth showing. Borrowed pointer,
 * as for vocab_resolve. */
const char *vocab_suggest(const char *field, const char *input);

/* 1 if value (canonical or alias) of field is flagged new_form, 0 if it is
 * known and not flagged, -1 if it is not in the vocabulary. */
int vocab_is_new_form(const char *field, const char *value);

/* Add value to the vocabulary of field (which must be vocab_has), with
 * naliases aliases and the new_form flag. Adding a value that exists adds
 * the aliases that are new and sets new_form if asked (a flag is never
 * removed by an extension). Strings are copied; the caller keeps its own.
 * Errors: UERR_INVALID (no vocabulary, empty or over-long word, too many
 * aliases, a word with a control character or ';'), UERR_CONFLICT (an
 * alias or the value already stands for a different value), UERR_NOMEM.
 * Words must already be normalised (NFKC, trimmed): the caller runs
 * schema_text_normalize on what a user typed. */
uerr vocab_value_add(const char *field, const char *value, const char *const *aliases,
                     size_t naliases, int new_form, char *err, size_t errlen);

/* The values of field's vocabulary in order (built-ins first, then
 * additions in the order they were made); *out receives a borrowed array
 * valid until the next vocab_value_add or vocab_reset. Returns the count
 * (0 for a field without vocabulary). */
size_t vocab_values(const char *field, const vocab_value **out);

/* Drop every run-time addition (tests; a daemon reloading extensions). */
void vocab_reset(void);

/* Edit distance between two UTF-8 strings counted in code points
 * (Damerau's optimal string alignment: insert, delete, substitute, swap
 * two neighbours). Strings longer than 64 code points, or not valid UTF-8,
 * are at distance (size_t)-1 from everything. */
size_t vocab_distance(const char *a, const char *b);

/* The candidate nearest to input, or NULL if none is near enough to be a
 * plausible typo: distance at most max(1, length/3) code points (2 for
 * words of 5 or more), or else the longest common prefix of at least 3
 * code points ("join_date" -> "joined"). Returns an element of cands. */
const char *vocab_nearest(const char *input, const char *const *cands, size_t n);

#endif
