/* ingest_int.h - what the take-in's two files share (ingest.c: the
 * path itself; ingcheck.c: checking every object a pack brings). Part of
 * the store room; nothing outside daemon/store/ingest*.c includes it. */
#ifndef UNIOND_INGEST_INT_H
#define UNIOND_INGEST_INT_H

#include "daemon/store/packparse.h"
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
    /* The fast path's received trees, already inflated (so the layout walk
     * does not inflate them again): id -> index into trees/treelen, which
     * are borrowed from the ingest_fast. Empty on libgit2's path. */
    store_oidmap treeat;
    unsigned char *const *trees;
    const uint32_t *treelen;
    size_t trees_read; /* by the layout check (the -v log line: O(depth) for a live change) */
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

/* The fast path's outcomes (quarantine.h, quarantine_fast): per object of
 * the pack, in pack order, its IN_* flags and check_one's code (the
 * reasons are not kept: a fatal one sends the pack to libgit2's path,
 * whose check words it). flags and rc are malloc'd as batches come;
 * the caller frees them. */
typedef struct {
    ingest_ctx *c;
    git_odb *disk;
    uint32_t *flags;
    signed char *rc;
    size_t cap;
    unsigned char **trees; /* by pack position: a received tree's bytes (malloc'd), else NULL */
    size_t handed;         /* positions given so far (trees[0..handed) are set) */
    uint32_t *treelen;
    void *run;   /* the batch being checked (ingcheck.c), until the parser's last call */
    int running; /* its threads are running */
} ingest_fast;

/* The packparse_batch_fn of the take-in (arg: an ingest_fast): each
 * object hashed as libgit2 hashes (its id into its entry), then, unless
 * the store holds it, checked in place; on two threads, which run while
 * the parser inflates the next batch (each call first waits for the
 * previous batch). Nonzero at the first outcome that would refuse the
 * pack (not a record the schema refused: those are rechecked as
 * ingest_check_all does). */
int ingest_fast_batch(void *arg, packparse_obj *o, size_t first, size_t n, char *why,
                      size_t whylen);

/* ingest_check_all's verdict from the fast path's outcomes: objs the ids
 * of the quarantined pack in the order libgit2 lists them (the order
 * ingest_check_all checks in), ents[0..n) the parse's entries in pack
 * order. Also lends f's tree bytes to c (c->treeat, for
 * the layout walk): f must outlive that use. */
uerr ingest_check_fast(ingest_ctx *c, const store_oidvec *objs, const packfile_entry *ents,
                       size_t n, const ingest_fast *f, git_odb *disk);

/* Free what f holds (the batch state, outcomes, tree bytes). */
void ingest_fast_free(ingest_fast *f);

#endif
