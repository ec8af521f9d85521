/* ingest_int.h - what the take-in's two files share (ingest.c: the
 * path itself; ingcheck.c: checking every object a pack brings). Part of
 * the store room; nothing outside daemon/store/ingest*.c includes it. */
#ifndef UNIOND_INGEST_INT_H
#define UNIOND_INGEST_INT_H

#include "daemon/store/store_int.h"

#define IN_TYPE 0x0f
#define IN_PRESENT 0x10 /* already in the store before this take-in: not moved */
#define IN_REACHED 0x20 /* reached from an accepted head: moved in */
#define IN_AS_SHIFT 8   /* a received blob: its OBJCHECK_AS_* bits from here up */

typedef struct {
    store *s;
    git_odb *odb;        /* the quarantine view (or the store's odb) */
    git_repository *q;   /* the quarantine view (or the store) */
    store_oidmap in;     /* every object of the pack -> IN_* */
    store_oidmap placed; /* trees whose place in the layout was verified -> position code */
    size_t trees_read;   /* by the layout check (the -v log line: O(depth) for a live change) */
    char *err;
    size_t errlen;
} ingest_ctx;

static inline const char *type_name(git_object_t t)
{
    const char *n = git_object_type2string(t);
    return n && *n ? n : "unknown object";
}

/* Check every object of c->in (objs: the same ids, in pack-index order)
 * against the rules of objcheck.h, on two threads from a few thousand
 * objects up, and recheck the blobs that declarations the pack brings
 * make valid or invalid. disk is the store's own odb. UERR_OK, or the
 * first refusal in index order (UERR_PEER, c->err set), UERR_NOMEM. */
uerr ingest_check_all(ingest_ctx *c, const store_oidvec *objs, git_odb *disk);

#endif
