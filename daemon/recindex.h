/* recindex.h - the in-memory index of the head tree: record id -> decoded
 * record state. Queries read it instead of the store; it is updated from
 * the records a commit wrote (and, for merges, from tree diffs). Used only
 * from the store queue's thread. */
#ifndef UNIOND_RECINDEX_H
#define UNIOND_RECINDEX_H

#include "proto/record.h"

#include <stddef.h>

typedef struct {
    char *id;
    record rec;
} recindex_item;

typedef struct {
    recindex_item *slots; /* open addressing; id == NULL marks a free slot */
    size_t cap, count;
} recindex;

void recindex_init(recindex *ix);
void recindex_free(recindex *ix);
/* The record with this id, or NULL. Borrowed: valid until the next put. */
record *recindex_get(const recindex *ix, const char *id);
/* Insert or replace. Takes ownership of *r's contents (r is left empty).
 * Returns 0 or -1 on allocation failure (then *r is untouched). */
int recindex_put(recindex *ix, const char *id, record *r);

#endif
