/* config_internal.h - what the files of the config room share and nobody
 * else may use. */
#ifndef UNIOND_CONFIG_INTERNAL_H
#define UNIOND_CONFIG_INTERNAL_H

#include <string.h>

#include "daemon/config/config.h"
#include "proto/names.h"
#include "proto/uerr.h"

/* A printable rendering of the NUL-terminated s into the array buf. */
#define CONFIG_SHOW(buf, s) names_show((buf), sizeof(buf), (s), strlen(s))

/* Split addr into host and port, with a message on failure (err may be
 * NULL). host may be NULL to only check; port may be NULL. */
uerr config_addr_split(char *host, size_t hostlen, int *port, const char *addr, const char *what,
                       char *err, size_t errlen);

/* A malloc'd lowercase copy of fingerprint fp (caller frees), or NULL if
 * fp is not a valid fingerprint or memory ran out. */
char *config_fingerprint_dup(const char *fp);

/* Free the strings of p and set them to NULL; p itself is the caller's. */
void config_peer_clear(config_peer *p);

/* Duplicate detection over the peers in O(n log n): by name, or by
 * fingerprint (without regard to case). Stores in *dup the later index of
 * the duplicate with the smallest such index, and in *first the earliest
 * peer with the same key. Returns 1 if there is a duplicate, 0 if none,
 * -1 if out of memory. */
int config_peers_dup_find(const config_peer *peers, size_t n, int by_fingerprint, size_t *first,
                          size_t *dup);

#endif
