/* map.h - THE hash map of uniond is uthash (<uthash.h>, Debian uthash-dev):
 * every hash table in the tree uses it; do not write another one.
 *
 * Include this header instead of <uthash.h> so every table gets the same
 * out-of-memory rule: uthash's default exit()s on a failed allocation;
 * here a failed HASH_ADD leaves the table as it was and sets the caller's
 * flag, so the caller can return UERR_NOMEM:
 *
 *     typedef struct { char *key; int value; UT_hash_handle hh; } item;
 *     item *table = NULL;             (the head; NULL is the empty map)
 *     map_oom = 0;
 *     HASH_ADD_KEYPTR(hh, table, it->key, strlen(it->key), it);
 *     if (map_oom) { free(it); return UERR_NOMEM; }
 *     HASH_FIND_STR(table, "name", found);
 *     HASH_ITER(hh, table, it, tmp) { HASH_DEL(table, it); free(it); }
 *
 * map_oom is thread-local, so tables in different threads do not share it.
 * A table itself is not thread-safe: one owner, or a lock around it. */
#ifndef UNIOND_MAP_H
#define UNIOND_MAP_H

extern _Thread_local int map_oom;

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (map_oom = 1)

#include <uthash.h>

#endif
