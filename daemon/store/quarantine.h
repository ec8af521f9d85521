/* quarantine.h - the quarantine of one take-in (quarantine.c), shared by
 * ingest.c only. Internal to the store room: includes git2.h. */
#ifndef UNIOND_STORE_QUARANTINE_H
#define UNIOND_STORE_QUARANTINE_H

#include "daemon/store/packparse.h"
#include "daemon/store/store_int.h"

/* A pack being taken in: its quarantine directory, and a repository view
 * (q) that sees the quarantined pack and, through an alternate, the store. */
typedef struct {
    char objdir[4200];
    char qdir[4400]; /* "" until made */
    char packname[GIT_OID_HEXSZ + 1];
    git_indexer_progress stats;
    git_odb *qodb;
    git_odb_backend *qpack; /* borrowed: owned by qodb */
    git_repository *q;
    int unsynced;         /* indexed without fsyncs (small): never moved in as is */
    int fast;             /* taken in by packparse (below), not libgit2's indexer */
    packfile_entry *ents; /* fast: every object, in pack order (ids set) */
    size_t nents;
} quarantine;

/* The take-in's fast path: each batch of inflated objects is handed to fn
 * (which hashes and checks them, packparse_batch_fn); nonzero sends the
 * pack to libgit2's indexer instead, whose verdict stands. */
typedef struct {
    packparse_batch_fn fn;
    void *arg;
} quarantine_fast;

/* Index the pack read from f into a fresh objects/incoming-XXXXXX within
 * lim (the announced object count is refused from the pack header, the
 * bytes while streaming). Bad bytes are UERR_PEER; failing to make or
 * write the quarantine is UERR_IO. qt->objdir must be set.
 * With fast (may be NULL), a pack of more than 100 objects is first
 * spooled into the quarantine and parsed by packparse (each object
 * inflated once, given to fast->fn, the .idx written from what the parse
 * learnt: qt->fast set, qt->ents the objects); whatever it refuses goes
 * to libgit2's indexer from the spooled bytes, as before. */
uerr quarantine_index(quarantine *qt, git_odb *main_odb, FILE *f, const store_limits *lim,
                      const quarantine_fast *fast, char *err, size_t errlen);
/* Open the view qt->q over the indexed pack plus the store. */
uerr quarantine_open(quarantine *qt, char *err, size_t errlen);
/* Every object id of the quarantined pack, appended to out. */
uerr quarantine_list(store_oidvec *out, quarantine *qt, char *err, size_t errlen);
/* Move the objects in keep (checked, reachable; total = how many the
 * pack holds) into the store: a new pack when few, the pack itself when all
 * are kept, else a new pack of only those. UERR_IO on a local failure. */
uerr quarantine_move_in(quarantine *qt, const store_oidvec *keep, size_t total, git_odb *disk,
                        char *err, size_t errlen);
/* Remove the quarantine directory and close the view. qt may be unused. */
void quarantine_free(quarantine *qt);

#endif
