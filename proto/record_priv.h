/* record_priv.h - what record.c (the state, the join) and record_codec.c
 * (the canonical text) share inside proto/; not for other rooms, which use
 * proto/record.h. */
#ifndef UNIOND_RECORD_PRIV_H
#define UNIOND_RECORD_PRIV_H

#include "proto/record.h"

/* The canonical order of entries: by field, then node, then counter. <0, 0
 * or >0 like strcmp. */
int record_entry_cmp(const record_entry *a, const record_entry *b);

/* 1 if r's context covers e's dot (ctx[e->node] >= e->counter), else 0. */
int record_entry_covered(const record *r, const record_entry *e);

/* record_intern through a per-thread cache (the same pointer, fewer locks
 * and hashes): for the calls made per entry. */
const char *record_intern_cached(const char *s, size_t len);

#endif
