/* store_int.h - what the store room's files share among themselves: the
 * store struct, the libgit2 error mapping, the tree walk, the pack writer
 * and the ingest step. Included only by the .c files of daemon/store/,
 * never by another room (they use daemon/store/store.h, which does not
 * include git2.h). */
#ifndef UNIOND_STORE_INT_H
#define UNIOND_STORE_INT_H

#include "daemon/store/recindex.h"
#include "daemon/store/store.h"

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

typedef struct {
    git_oid *v;
    size_t n, cap;
} store_oidvec;

/* A pack being built object by object (packwriter.c): whole objects,
 * each deflated as it is added, with what its .idx needs. */
typedef struct {
    git_oid id;
    uint32_t crc; /* CRC-32 of the entry's bytes */
    uint64_t off; /* where the entry starts in the pack */
} store_packent;

struct libdeflate_compressor;

typedef struct {
    unsigned char *buf; /* the 12-byte header first (its count set when written) */
    size_t len, cap;
    int oom;
    store_packent *ents;
    size_t n, ecap;
    struct libdeflate_compressor *zc; /* made at the first deflated object */
    int zlevel;                       /* zc's level */
} store_packacc;

/* Raw bodies of trees a group commit wrote (gctree.c): the next batch's
 * paths start from the last batch's trees (the root, members/, ...), and
 * reading them back through the odb meant finding them in the new pack,
 * inflating and hashing them again for every add. Keyed by id, so never
 * stale; bounded (STORE_TCACHE_*). */
typedef struct {
    git_oid id;
    unsigned char *body;
    size_t len;
} store_tcent;

typedef struct {
    store_tcent *v;
    size_t n, cap, bytes;
} store_tcache;

#define STORE_TCACHE_ENTRIES 512
#define STORE_TCACHE_BYTES (8u << 20)

/* Note that commit head was made at time (seconds) by who (its author's
 * email), for store_last_change (lastchange.c). */
void store_last_change_note(store *s, const git_oid *head, int64_t time, const char *who);

/* Free c's entries; c is empty and reusable after. */
void store_tcache_free(store_tcache *c);

struct store {
    git_repository *repo; /* loose writes, all reads */
    git_repository *bulk; /* same store, with a mempack backend on top */
    git_odb_backend *mempack;
    char *node;
    char ref[300]; /* refs/heads/<node> */
    git_oid head;
    git_oid tree;
    int has_head;
    store_limits limits; /* what one take-in may bring (store.h) */
    /* Group commit (gcommit.c): while batching, head/tree are the pending
     * tip (its objects only in the mempack of bulk) and durable_* what the
     * branch on disk holds; batch_commits commits are pending. */
    int batching;
    size_t batch_commits;
    store_packacc batch_pack; /* every object of the pending commits (gctree.c) */
    /* trees of the last durable batch (read first after the mempack), and
     * the pending batch's (they replace tc when it is durable) */
    store_tcache tc, tc_next;
    /* The last change's time and author, of commit lc_head (lastchange.c):
     * `status` asks after every job of the store queue; the group commit
     * fills it as it makes the commit, so no commit is read back for it. */
    git_oid lc_head;
    int64_t lc_time;
    char lc_who[320];
    int lc_ok;
    /* Packs this store wrote since the last join (packjoin.c): read on the
     * loop thread (store_packs_join_due), so atomic. packs_joined: packs
     * removed by joins since start (status). */
    atomic_uint packs_new;
    atomic_ulong packs_joined;
    git_oid durable_head, durable_tree;
    int durable_has_head;
    /* One thread at a time (store.h): a call sets this on entry, and a
     * second thread entering while it is set is a bug we assert on. */
    atomic_int busy;
    /* The group commits' write-ahead log (journal.c); NULL: none (the
     * pack and the branch fsynced in place). journal_dirty: it holds
     * entries since the last checkpoint (read on the loop thread:
     * store_checkpoint_due). */
    struct store_journal *journal;
    atomic_int journal_dirty;
    /* The index the take-ins update, write-locked while they do
     * (readview.h store_index_attach); NULL: none. Borrowed. */
    recindex *ix;
};

/* Mark the store entered / left by one public call (asserts that no other
 * call is running: the store queue runs one job at a time, and the store
 * calls itself only through the internal functions below, never through a
 * public store_* entry point). */
void store_enter(store *s);
void store_leave(store *s);

/* Write "what: <libgit2's last message>" into err and return a code chosen
 * by libgit2's error class: an OS or filesystem error is UERR_IO, out of
 * memory UERR_NOMEM, anything else `otherwise` (UERR_PEER when reading
 * data that came from outside, UERR_IO for the store's own objects). */
uerr store_git_err(char *err, size_t errlen, uerr otherwise, const char *what);
/* A revwalk of the own head's history, newest first (topological, then
 * time), for log and history. *out is the caller's (git_revwalk_free). */
uerr store_walk_head(git_revwalk **out, store *s, char *err, size_t errlen);

/* Move the own branch (in repo: s->repo, or s->bulk whose odb also sees
 * the mempack) from the current head to `to`, expecting the current head;
 * fsynced. Does not update s->head. UERR_CONFLICT (it moved under us) or
 * UERR_IO. */
uerr store_branch_move(store *s, git_repository *repo, const git_oid *to, const char *why,
                       char *err, size_t errlen);
/* The journal's checkpoint (journal.c) for s, before anything else moves
 * the branch or removes a pack; journal_dirty follows. */
uerr store_checkpoint_in(store *s, char *err, size_t errlen);

/* The own branch's move staged beside a pack's flush (refstage.c): begin
 * takes git's lock "<ref>.lock" (O_EXCL) and writes and fsyncs `to` into
 * it on a thread of its own; commit waits for that, checks the branch is
 * still s->head (absent when !s->has_head), renames the lock over the ref
 * and fsyncs the refs folder; abort waits and removes the lock. begin:
 * UERR_OK (then exactly one of commit/abort follows), UERR_INVALID (a ref
 * name it does not handle) or UERR_IO (the lock is held or cannot be
 * made): then nothing was taken and store_branch_move is the way. commit:
 * UERR_OK, UERR_CONFLICT or UERR_IO with err set; the lock is gone either
 * way. Does not update s->head. st is the caller's, filled by begin. */
typedef struct {
    char path[4200], lock[4300];
    git_oid to;
    int fd, werr, threaded, nosync;
    pthread_t th;
} store_refstage;
/* sync 0: the lock is neither fsynced nor its folder after the rename
 * (the group commit's journal holds the move, journal.c). */
uerr store_refstage_begin(store_refstage *st, store *s, const git_oid *to, int sync);
uerr store_refstage_commit(store_refstage *st, store *s, char *err, size_t errlen);
void store_refstage_abort(store_refstage *st);
/* Write a ref's content, "<hex>\n" of oid, to the open lock file fd and
 * fsync it (git's lock protocol; the caller renames the lock over the ref
 * and closes fd). 0, or the errno of what failed. */
int store_ref_lock_fill(int fd, const git_oid *oid);
/* Open a file a user named (an earlier bundle, a backup) for reading,
 * refusing what is not a regular file without blocking on it
 * (fsutil_file_open_regular). UERR_OK with *f (the caller fcloses it);
 * UERR_INVALID, UERR_NOTFOUND or UERR_IO with the message in err. */
uerr store_user_file_open(FILE **f, const char *path, char *err, size_t errlen);

/* store_heads and store_has_object for callers inside the room. */
uerr store_heads_in(store_ref **out, size_t *n, store *s, char *err, size_t errlen);
int store_has_object_in(store *s, const char *hex);

/* ---- growable list of object ids (pack writer, pack builder) ------------ */

int store_oidvec_push(store_oidvec *o, const git_oid *id); /* 0 or -1 (out of memory) */

/* ---- map of object ids to a small value (repo.c) --------------------------- */

/* Open addressing; ids are hashes, so their first bytes index it. Zeroed
 * = empty; store_oidmap_free releases it. */
typedef struct {
    git_oid *k;
    uint32_t *v;
    unsigned char *used;
    size_t cap, n;
} store_oidmap;

/* Add id with value v: 1 added, 0 already there (value unchanged), -1 out
 * of memory. */
int store_oidmap_put(store_oidmap *m, const git_oid *id, uint32_t v);
/* The value of id (writable, valid until the next put), or NULL. */
uint32_t *store_oidmap_get(store_oidmap *m, const git_oid *id);
void store_oidmap_free(store_oidmap *m);

/* ---- pack writer (packwriter.c) ------------------------------------------ */

/* A version 2 pack of objs (read from odb), undeltified, with its SHA-1
 * trailer. *out malloc'd (caller frees). UERR_IO or UERR_NOMEM. */
uerr store_pack_encode(unsigned char **out, size_t *len, git_odb *odb, const store_oidvec *objs,
                       char *err, size_t errlen);
/* store_pack_encode, copying each object that a pack under objdir/pack
 * stores whole (CRC-32 checked, packread.h) instead of deflating it again;
 * *reused = how many were copied. */
uerr store_pack_encode_reuse(unsigned char **out, size_t *len, git_odb *odb,
                             const store_oidvec *objs, const char *objdir, size_t *reused,
                             char *err, size_t errlen);

/* A pack for a peer encoded on a thread of its own while the caller
 * still collects its objects (packpipe.c): the same bytes as
 * store_pack_encode_reuse of the same objects. Start it once the caller
 * has store_packpipe_threshold(objdir) objects (from there on the store's
 * packs are reused), give it the ids in pack order, then finish with the
 * count given (or abort). start: UERR_NOMEM when no thread could be made
 * (build the pack without a pipe then); give: 0 or -1 (out of memory);
 * finish: store_pack_encode_reuse's results, *out malloc'd. odb is read
 * from the pipe's thread (libgit2's odb is safe to share). */
typedef struct store_packpipe store_packpipe;
size_t store_packpipe_threshold(const char *objdir);
uerr store_packpipe_start(store_packpipe **pp, git_odb *odb, const char *objdir);
int store_packpipe_give(store_packpipe *pp, const git_oid *ids, size_t n);
uerr store_packpipe_finish(store_packpipe *pp, unsigned char **out, size_t *len, size_t count,
                           size_t *reused, char *err, size_t errlen);
void store_packpipe_abort(store_packpipe *pp); /* NULL: nothing */
/* Test hooks: a pipe from min objects on (default 8192), ids handed in
 * blocks of block (1..4096); how many packs were built through a pipe. */
void store_test_pack_pipe(size_t min, size_t block);
size_t store_test_pack_pipe_builds(void);

/* Write commit `tip` and every new object it needs, queued in the mempack
 * of s->bulk, as one pack into the real object store; the mempack is empty
 * afterwards whatever happens. UERR_IO or UERR_NOMEM. */
uerr store_mempack_flush(store *s, const git_oid *tip, char *err, size_t errlen);
/* Encode objs (borrowed; read through s->bulk, so the mempack's objects
 * too; each once) as one pack and write it into the store with its .idx
 * (store_packacc_write). UERR_OK, or UERR_IO with err set. */
uerr store_pack_write_new(store *s, const store_oidvec *objs, char *err, size_t errlen);

/* Add object id (type, data[0..len): its body) to the pack a, deflated at
 * zlib level (0: stored, for the group commit's packs, see gctree.c).
 * The caller adds each id once. 0, or -1 out of memory (a unchanged). */
int store_packacc_add(store_packacc *a, const git_oid *id, git_object_t type, const void *data,
                      size_t len, int level);
/* Write a's objects (at least one) as a pack and its .idx into the store:
 * both fsynced under temporary names, renamed, then the pack folder
 * fsynced once. a is left as it was. UERR_OK, UERR_IO or UERR_NOMEM. */
uerr store_packacc_write(store *s, store_packacc *a, char *err, size_t errlen);
/* store_packacc_write into the pack folder dir (borrowed), counting
 * nothing: for the joiner (packjoin.c), which may run without a store.
 * hex (NULL or GIT_OID_HEXSZ + 1 bytes, the caller's): the pack's name
 * checksum. */
uerr store_packacc_write_dir(const char *dir, store_packacc *a, char *hex, char *err,
                             size_t errlen);
void store_packacc_free(store_packacc *a);
/* A finished pack in memory: the pack file's bytes (trailer included),
 * its .idx, and the pack's checksum (its name). Owned; store_packfiles_free. */
typedef struct {
    unsigned char *pack, *idx;
    size_t packlen, idxlen;
    unsigned char sum[GIT_OID_RAWSZ];
} store_packfiles;
/* Finish a (at least one object; its count is set in its header, a is
 * otherwise unchanged) into *out, the caller's. UERR_OK or UERR_NOMEM. */
uerr store_packacc_finish(store_packfiles *out, store_packacc *a, char *err, size_t errlen);
/* Write f (borrowed) into the pack folder dir as pack-<sum>.pack/.idx:
 * under temporary names, renamed (.pack first). sync: each file fsynced
 * before its rename and the folder after; 0: none of it (the journal,
 * journal.c, holds the bytes until its checkpoint). */
uerr store_packfiles_write(const char *dir, const store_packfiles *f, int sync, char *err,
                           size_t errlen);
void store_packfiles_free(store_packfiles *f);

/* ---- the bulk commit (bulktree.c) ---------------------------------------- */

/* store_commit with bulk != 0 outside a batch: one commit of ch[0..n)
 * (borrowed), its blobs, new trees and commit streamed into one pack
 * (fsynced), then the branch moved. Each changed tree is written once,
 * merged from the sorted updates and the old tree's entries; the tree ids
 * are those git_tree_create_updated gives. Codes as for store_commit; on
 * failure nothing is visible and the head is unchanged. */
uerr store_bulk_commit(store *s, const store_change *ch, size_t n, const char *operator,
                       const char * message, char *err, size_t errlen);

/* ---- an import's blobs, written ahead (prewrite.c) ------------------------- */

#include "daemon/store/packfile.h"
#include <pthread.h>

typedef struct {
    const char *id;
    record_kind kind;
    const char *buf; /* owned: p's until the thread has taken it */
    size_t len;
    int owned;
} prewrite_item;

/* Where item k's bytes are once the thread has taken it: a deflated copy
 * (zlen > 0, in one of p's blocks), or the bytes themselves (zlen 0: the
 * caller's buffer, or an owned one kept whole, freed with p). */
typedef struct {
    const unsigned char *data;
    uint32_t len, zlen;
    int owned; /* zlen 0 and data is p's to free */
} prewrite_copy;

typedef struct prewrite_block prewrite_block;

struct store_prewrite {
    packfile_out pack; /* open-ended; the thread's until finish */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t room; /* an adder waits on it while too much is queued */
    size_t queued;       /* under mu: bytes of given records not yet taken */
    int exited;          /* under mu: the thread takes nothing more */
    /* under mu: the thread waits on cv, an adder on room. A wake is a
     * futex call (a few us) on the adder's thread, the import's critical
     * path: each side signals only a waiting peer, and only once enough
     * work or room has piled up (prewrite.c PREWRITE_WAKE_*). */
    int sleeping, adder_waits;
    prewrite_item *items; /* under mu: what was added */
    size_t nitems, cap, next;
    int done;      /* under mu: nothing more comes */
    int failed;    /* under mu: an add could not be queued */
    int stopped;   /* the thread was joined */
    git_oid *oids; /* the thread's: oids[i] is item i's blob id */
    size_t noids, oidcap;
    prewrite_copy *copies; /* the thread's: copies[i] for each item taken */
    size_t ncopies, copycap;
    prewrite_block *blocks, *newest; /* the thread's: the deflated copies, oldest first */
    size_t released;                 /* copies before it were freed (store_prewrite_release) */
    store_oidmap seen;               /* the thread's: blobs already in the pack (value: item + 1) */
    int unchecked; /* the adder's (read after the join): a write check refused (or was not run) */
    record_decode_mem checkmem; /* the adder's: its write checks decode into it */
    EVP_MD_CTX *hash;
    struct libdeflate_decompressor *inflater; /* store_prewrite_record's */
    char *scratch;                            /* its output */
    size_t scratchcap;
};

/* Stop the thread after it has written every item, then check the items
 * are exactly ch[0..n) (ids, kinds and lengths in order; ch[i].buf the
 * buffer given to store_prewrite_add, or NULL for one given to
 * store_prewrite_give) and the pack has no failure: 0, and pack and oids
 * are the caller's to use, and *checked is 1 when every record passed its
 * write check on the thread; -1 otherwise (the thread is stopped too). */
int store_prewrite_finish(store_prewrite *p, const store_change *ch, size_t n, int *checked);
/* Stop the thread (idempotent). */
void store_prewrite_stop(store_prewrite *p);
/* How many items the stopped thread took (store_prewrite_record's range). */
size_t store_prewrite_count(const store_prewrite *p);

/* ---- trees (merge.c) ------------------------------------------------------ */

#define STORE_TREE_DEPTH_MAX 8 /* members/aa/bb/id is 4 deep; anything deeper is refused */

typedef int (*store_delta_cb)(const git_diff_delta *d, float progress, void *payload);

/* Call cb for every file added or changed from old (may be NULL) to new,
 * descending only into subtrees whose ids differ: a change of one record
 * costs a few tree reads whatever the store's size. (libgit2's tree diff
 * walks every tree of both sides.) Deletions are not reported: records are
 * never deleted. Returns 0, the callback's non-zero value, -1 on a read
 * error (libgit2's error is set), -2 for trees deeper than the layout
 * allows or paths too long. */
int store_tree_changes(git_repository *repo, git_tree *old, git_tree *new, store_delta_cb cb,
                       void *payload);

/* The body of store_take_head, for callers inside the room (ingest) that
 * have already entered the store. */
uerr store_take_head_in(store *s, const char *peer_hex, const char *peer_node,
                        store_record_cb changed, void *arg, store_take *outcome, char *err,
                        size_t errlen);

/* ---- taking in (transfer.c) ----------------------------------------------- */

typedef struct {
    git_oid oid;
    char name[RECORD_NODE_MAX + 1];
} store_bundle_ref;

/* THE take-in path, for sync packs and bundles alike (ingest.c): index
 * the pack (f positioned at its first byte; NULL when every object is
 * already here) into a quarantine within s->limits, check every object it
 * holds (objcheck.h) and the layout of every new commit's tree, refuse a
 * branch that diverged, move in only the objects reachable from accepted
 * heads, merge each new head into the own branch (durable), and only then
 * move the branch copies forward. Codes as for store_sync_apply: UERR_PEER
 * for the data (nothing moved, nothing kept), UERR_IO for local failures
 * (the branch copies lag behind at worst, and the next take-in redoes the
 * merge). */
uerr store_ingest(store *s, FILE *f, const store_bundle_ref *all, size_t nall,
                  store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                  size_t errlen);

/* Remove quarantine directories a crash left behind (objects/incoming-*).
 * Called by store_open, under the DATA lock. */
void store_quarantine_clear(const char *gitdir);

/* Take in (merge into the own branch) every branch copy whose head the own
 * head does not contain: a take-in interrupted after the copy moved, or a
 * copy fetched with plain git. Best effort: a copy that cannot be taken in
 * is left for the next take-in that names it. Returns how many heads led
 * to a change of the own branch. */
size_t store_copies_reconcile(store *s);

/* ---- group commit (gcommit.c) ----------------------------------------------- */

/* Join the many small packs the batches left (more than a few dozen), and
 * any pack stored without deflate, into one deflated pack, durably, then
 * remove them (packjoin.c). Best effort (a failure is logged): called by
 * store_open, under the DATA lock, before the store is opened. */
void store_small_packs_join(const char *gitdir);

/* Which of n packs a running join rewrites (pick[i] = 1; returns how
 * many): every one stored without deflate, then the others smallest first
 * while each is at most twice the bytes picked before it. A joined pack
 * is so rewritten only once about as many new bytes came after it (a
 * geometric series: each object is rewritten O(log) times, and the packs
 * stay O(log) many), not at every join until it passes JOIN_PACK_BYTES:
 * re-deflating it was the cost of a join that a live change could wait
 * behind. Pure; the arrays are borrowed. */
size_t store_packjoin_pick(int *pick, const uint64_t *size, const int *stored, size_t n);

/* store_commit inside a batch (gctree.c): the commit of ch[0..n)
 * (borrowed) on the pending head, its blobs, trees and commit built in
 * memory and kept in the mempack of s->bulk (and added to s->batch_pack) until
 * store_batch_end; the pending head moves to it. Nothing is kept from a
 * commit that fails. Codes as for store_commit. */
uerr store_batch_commit(store *s, const store_change *ch, size_t n, const char *operator,
                        const char * message, char *err, size_t errlen);

/* ---- backups and the format version (backup.c, bundle.c) ------------------ */

/* Write STORE_FORMAT as uniond.format in repo's config. UERR_IO. */
uerr store_format_mark(git_repository *repo, char *err, size_t errlen);
/* Check repo's format: migrate an older one (logged), refuse a newer one
 * (UERR_CONFLICT, the message names gitdir). */
uerr store_format_check(git_repository *repo, const char *gitdir, char *err, size_t errlen);
/* store_bundle_write of every branch with extra header lines (each ending
 * in a newline) before the blank line; the pack is the same. */
uerr store_bundle_write_extra(store *s, const char *path, const char *extra, char *err,
                              size_t errlen);

#endif
