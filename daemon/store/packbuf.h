/* packbuf.h - the byte buffer of a pack being written, shared by the
 * pack writer (packwriter.c) and the pack pipe (packpipe.c). Part of the
 * store room; internal to it. */
#ifndef UNIOND_STORE_PACKBUF_H
#define UNIOND_STORE_PACKBUF_H

#include "daemon/store/packread.h"
#include "daemon/store/store_int.h"

#include <pthread.h>
#include <stddef.h>

/* Pack reuse pays when a pack for a peer holds at least 1/PACK_REUSE_SHARE
 * of the objects the store's packs hold. */
#define PACK_REUSE_SHARE 16

/* the byte part of a store_packacc, and its compressor */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int oom;
    struct libdeflate_compressor *zc;
    int zlevel;
    pthread_mutex_t *grow; /* held while buf moves (a pipe's hasher reads it) */
} packbuf;

/* Append n bytes (sets oom on failure). */
void pb_put(packbuf *p, const void *data, size_t n);
/* Append object id: copied whole from reuse (may be NULL) when a pack
 * there stores it undeflated and its CRC-32 holds, else read from odb and
 * deflated. *reused counts the copies, *damaged the entries refused. */
uerr pb_object_id(packbuf *p, git_odb *odb, const git_oid *id, const packread_set *reuse,
                  size_t *reused, int *damaged, char *err, size_t errlen);
/* Open the store's packs under objdir for reuse (a warning when they do
 * not read: then every object is deflated). */
void pb_reuse_open(packread_set *set, const char *objdir);
/* The warning for entries that failed their check, if any. */
void pb_damaged_warn(int damaged);

#endif
