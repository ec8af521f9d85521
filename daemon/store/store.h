/* store.h - the node's git store, the one public header of the store room
 * (daemon/store/: the only room that includes git2.h; this header does not).
 *
 * One bare repository, DATA/store.git, HEAD -> refs/heads/<node>. Records
 * are blobs at <kind folder>/aa/bb/<id> (proto/kind.h kind_path: members/,
 * unions/, enterprises/, stations/, benefits/; proto/record.h). A store is used from one
 * thread (the daemon's store queue runs one job at a time); nothing here is
 * thread-safe, and a store asserts it is not entered from two threads at
 * once. docs/STORE.md describes the format.
 *
 * Errors: every fallible call returns a uerr (proto/uerr.h) and writes a
 * message for people into err[0..errlen). The codes used here:
 *   UERR_OK        done;
 *   UERR_INVALID   the caller's argument is wrong (an empty commit, a
 *                  malformed id the caller chose);
 *   UERR_NOTFOUND  what was asked for is not here (a want that is not a
 *                  commit here, a record absent from the head, a file);
 *   UERR_PEER      data from outside (a peer's pack or refs, a bundle) is
 *                  refused: damaged, truncated, not the record layout, a
 *                  non-canonical record, a branch that is not a
 *                  fast-forward. The sender's fault: the store is untouched;
 *   UERR_CONFLICT  refused because of the store's state (an incremental
 *                  bundle whose prerequisites this store lacks, a branch
 *                  that moved under us, a path that already exists);
 *   UERR_IO        a local failure: writing, renaming or fsyncing in the
 *                  store or a bundle file failed (disk full, read-only,
 *                  file size limit), or the repository could not be read.
 *                  Never the peer's fault;
 *   UERR_NOMEM     out of memory;
 *   UERR_INTERNAL  an invariant did not hold (e.g. the index update after
 *                  a checked take-in failed). */
#ifndef UNIOND_STORE_H
#define UNIOND_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kind.h"
#include "proto/record.h"
#include "proto/uerr.h"

typedef struct store store;

typedef struct {
    const char *id;
    const char *buf; /* canonical record bytes */
    size_t len;
    record_kind kind; /* last, so {id, buf, len} still reads; KIND_NONE means member */
} store_change;

typedef struct {
    char commit[41];
    int64_t time;         /* commit time, seconds since the epoch */
    const char *node;     /* the writing node, from the author */
    const char *operator; /* the operator, from the author */
    const char *message;  /* commit message (summary and body) */
    int merge;            /* more than one parent */
    const char *old_buf;  /* the record in the first parent, or NULL */
    size_t old_len;
    const char *new_buf; /* the record in this commit, or NULL */
    size_t new_len;
} store_version;

/* Called once per record with its kind (the folder it sits in); return non-zero to stop
 * (store_foreach then returns that value unchanged: a positive value of the caller's own, or a
 * negative uerr). Buffers are borrowed for the call only. */
typedef int (*store_record_cb)(record_kind kind, const char *id, const char *buf, size_t len,
                               void *arg);
/* Called per commit that changed a record, newest first; non-zero stops
 * the walk as for store_record_cb. */
typedef int (*store_version_cb)(const store_version *v, void *arg);

/* What one take-in (a sync pack or a bundle) may bring. docs/STORE.md
 * "Limits". Objects over STORE_OBJECT_MAX (1 MiB, objcheck.h) are always
 * refused. */
#define STORE_TAKEIN_BYTES_DEFAULT (4096ull << 20) /* pack bytes per take-in */
#define STORE_TAKEIN_OBJECTS_DEFAULT 8000000u      /* objects per take-in */

typedef struct {
    uint64_t bytes;   /* pack bytes; more is refused (UERR_PEER) while streaming */
    uint64_t objects; /* objects in the pack; more is refused from its header */
} store_limits;

/* Set the take-in limits (a zero field keeps the default). Not fallible;
 * a store starts with the defaults. */
void store_limits_set(store *s, const store_limits *l);

/* Start-up is over (the index is built): stop the start-up read watchdog
 * that store_open started (a damaged object read before this ends the
 * process, named; after it, a read error is an ordinary error). */
void store_startup_done(store *s);

/* Tests only: with on != 0, store_commit skips its record check, so a unit
 * test can build a store holding a malformed record to send to another.
 * Process-wide; the daemon never calls it. */
void store_test_unchecked_writes(int on);
/* Tests only: with on != 0, a take-in checks its objects on two threads
 * whatever its size (normally from 2,048 objects on), so the hostile cases'
 * small packs go through that path too. Process-wide. */
void store_test_parallel_check(int on);

/* Process-wide libgit2 setup (fsync on, strict object creation). Call once
 * before any other store function. UERR_OK or UERR_INTERNAL (libgit2 could
 * not start). */
uerr store_global_init(void);
void store_global_shutdown(void);

/* Create a bare repository at gitdir with HEAD on refs/heads/<node>.
 * Refuses an existing path (UERR_CONFLICT); UERR_IO when it cannot be
 * written. */
uerr store_create(const char *gitdir, const char *node, char *err, size_t errlen);

/* Open the store of `node` at gitdir. First clears stale *.lock files,
 * temporary pack files and quarantine directories (objects/incoming-*) a
 * crash may have left: the caller must hold the DATA lock, so no other
 * writer can own them. Then takes in every branch copy whose head the own
 * branch does not contain (a take-in cut short by a crash, a copy fetched
 * with plain git), best effort: a copy that cannot be taken in is left for
 * the next take-in that names it. *out is owned by the caller
 * (store_free); NULL on error. UERR_IO (cannot open or read), UERR_NOMEM. */
uerr store_open(store **out, const char *gitdir, const char *node, char *err, size_t errlen);
/* Frees s and everything it holds; s may be NULL. */
void store_free(store *s);

/* Joining the group commit's packs while the daemon runs (packjoin.c).
 * store_packs_join_due: SQUEUE_IDLE_QUIET (2) when enough packs were
 * written since the last join that the idle store queue should join them
 * once it is quiet, SQUEUE_IDLE_NOW (1) when so many that it should at the
 * next gap, else 0 (any thread: only reads a counter). store_packs_join (store queue, outside a
 * batch): join the small and the stored (undeflated) packs into one deflated pack, durable before
 * the joined ones are removed; UERR_OK (also when there was nothing to join) or UERR_IO/UERR_NOMEM
 * (err set; the store is whole). store_packs_joined: packs removed by joins since start. */
int store_packs_join_due(const store *s);
/* The group commits' journal (journal.c) made durable in place and
 * emptied: store_checkpoint_due is SQUEUE_IDLE_QUIET (2) when it holds
 * entries, else 0 (any thread); store_checkpoint (store queue, outside a
 * batch): UERR_OK, or UERR_IO with err set (the journal is kept). */
int store_checkpoint_due(const store *s);
uerr store_checkpoint(store *s, char *err, size_t errlen);
uerr store_packs_join(store *s, char *err, size_t errlen);
unsigned long store_packs_joined(const store *s);

/* Hex ids of the own head commit and its tree; both "" on an empty store.
 * Writes into the caller's buffers. */
void store_head(const store *s, char commit[41], char tree[41]);

/* Every record of every kind of the own head tree (each kind folder;
 * a store without the newer folders reads as before). Returns UERR_OK, the callback's
 * non-zero value unchanged, or UERR_IO/UERR_NOMEM with err set. */
uerr store_foreach(store *s, store_record_cb cb, void *arg, char *err, size_t errlen);

/* Read one record blob of the head tree, of whatever kind (ids are unique
 * across kinds: each kind folder is tried). *buf is malloc'd (caller frees;
 * NUL-terminated after len bytes). UERR_OK found, UERR_NOTFOUND absent
 * (*buf NULL), UERR_IO/UERR_NOMEM on error. */
uerr store_read(store *s, char **buf, size_t *len, const char *id, char *err, size_t errlen);

/* One commit on the own branch writing the given records (ch and its
 * buffers are borrowed for the call). The objects and the ref update are on
 * disk (fsync) when this returns UERR_OK. bulk != 0 writes the objects as a
 * single pack instead of loose objects. operator names the person (author
 * "operator <operator@node>"); message is the commit message.
 * UERR_INVALID (n == 0), UERR_IO (writing failed), UERR_CONFLICT (the
 * branch moved under us), UERR_NOMEM; the branch is then unchanged.
 * Every buffer must be a record the store's own decoder and every peer's
 * take-in check accept (record_decode, objcheck_record): a record past a
 * limit (values, bytes) is UERR_INVALID saying which, so nothing is
 * acknowledged that cannot be read back at start or replicated. */
uerr store_commit(store *s, const store_change *ch, size_t n, int bulk, const char *operator,
                  const char * message, char *err, size_t errlen);

/* An import's blobs written while its rows are still being checked: each
 * encoded record handed to store_prewrite_add or _give is hashed and
 * deflated into a temporary pack file by a thread of its own (deflate is a
 * third of an import's CPU; on two cores it runs beside the row checks),
 * and store_commit_prewritten then adds the trees and the commit to that
 * pack. Nothing is visible before that commit; store_prewrite_abort (or a
 * crash: store_open removes the temporary file) drops it all. */
typedef struct store_prewrite store_prewrite;
/* Start one (NULL when it cannot: the import then commits without it).
 * The caller's, freed by store_prewrite_abort (after the commit too).
 * Touches only the store's pack folder, never its objects or refs. */
store_prewrite *store_prewrite_start(store *s);
/* Queue record id's bytes buf[0..len), to be stored in kind's folder (id
 * and buf borrowed: unchanged until p is freed). The record's write
 * check (writecheck.h; pure) runs here, on the caller's thread. Never
 * fails: a failure is kept and turns the commit into an ordinary one. */
void store_prewrite_add(store_prewrite *p, const char *id, record_kind kind, const char *buf,
                        size_t len);
/* As store_prewrite_add, but buf (malloc'd) becomes p's: once the thread
 * has written it, p keeps only its deflated copy (about half the bytes)
 * and frees buf; store_prewrite_record gives the bytes back. For an import
 * of a million rows this is the difference between holding every encoded
 * record and holding half of it. 0, or -1 (out of memory: nothing queued,
 * buf is still the caller's). id borrowed as for store_prewrite_add. */
int store_prewrite_give(store_prewrite *p, const char *id, record_kind kind, char *buf, size_t len);
/* store_commit(s, ch, n, bulk = 1, ...) using what p wrote, when ch[i]'s
 * id, kind and len are exactly what was added, in that order, and ch[i].buf
 * the buffer given to store_prewrite_add (NULL for one given to
 * store_prewrite_give: p has its bytes). The write checks are made again
 * here unless the thread passed them all. Otherwise (or when p failed) an
 * ordinary bulk commit of the same bytes; p NULL: store_commit, every
 * ch[i].buf given. p is NOT freed: store_prewrite_record still works. */
uerr store_commit_prewritten(store *s, store_prewrite *p, const store_change *ch, size_t n,
                             const char *operator, const char * message, char *err, size_t errlen);
/* The bytes of the i-th record added to p (0-based), once p was given to
 * store_commit_prewritten: *buf borrowed, valid until the next call or
 * until p is freed (a deflated copy is inflated into p's buffer). UERR_OK,
 * UERR_NOMEM, UERR_INTERNAL (no such record, or a copy that does not
 * inflate: a bug). */
uerr store_prewrite_record(store_prewrite *p, size_t i, const char **buf, size_t *len, char *err,
                           size_t errlen);
/* After store_commit_prewritten succeeded: records before upto will not
 * be asked for again (store_prewrite_record refuses them), so their
 * copies and the pack writer's tables are freed (the import's index feed,
 * in order: the peak falls as the index grows). */
void store_prewrite_release(store_prewrite *p, size_t upto);
/* Stop the thread, remove what p wrote unless a commit took it, and free
 * p. NULL is a no-op. */
void store_prewrite_abort(store_prewrite *p);

/* Group commit (issue 12). After store_batch_begin, each store_commit
 * makes its own commit (its own author, time and message, as when run
 * alone), built on the one before, but keeps the objects in memory and
 * does not move the branch: the reads of the store see the pending head.
 * store_batch_end then writes the new objects of every pending commit as
 * one pack (fsynced), and only then moves the branch once, from the head
 * before the batch to the last commit (fsynced): a batch costs the
 * fsyncs of one write. UERR_OK: every pending commit is durable. An error
 * (UERR_IO, UERR_NOMEM, UERR_CONFLICT) drops them all: the head is the one
 * before the batch, and the caller must forget what it derived from them.
 * Nothing else than store_commit, store_read and store_head may run
 * between the two calls. */
void store_batch_begin(store *s);
/* Commits made since store_batch_begin (0 when not batching). */
size_t store_batch_pending(const store *s);
uerr store_batch_end(store *s, char *err, size_t errlen);

/* The history of one record, newest first: every commit whose version of
 * the record differs from all of its parents'. Returns UERR_OK, the
 * callback's non-zero value unchanged, or UERR_IO/UERR_NOMEM with err set. */
uerr store_history(store *s, const char *id, store_version_cb cb, void *arg, char *err,
                   size_t errlen);

/* One record a change wrote, against the change's first parent (history.c). */
#define STORE_OID_RAW 20
typedef struct {
    char id[RECORD_ID_MAX + 1];
    record_kind kind;
    int has_old;                          /* the record existed before */
    unsigned char old_oid[STORE_OID_RAW]; /* blob ids, raw */
    unsigned char new_oid[STORE_OID_RAW];
    const char *old_buf; /* the bytes, or NULL (not read, or new) */
    size_t old_len;
    const char *new_buf; /* NULL when not read */
    size_t new_len;
} store_delta;

/* One change (commit) of the own branch. */
typedef struct {
    char commit[41];
    int64_t time;         /* seconds since the epoch */
    const char *node;     /* the writing node, from the author */
    const char *operator; /* the operator, from the author */
    const char *message;
    unsigned parents;          /* > 1: a sync merge (its deltas are not listed) */
    const store_delta *deltas; /* the records written (not schema/) */
    size_t ndeltas;
} store_change_info;

/* Called per change, newest first; everything is borrowed for the call.
 * Non-zero stops the walk as for store_record_cb. */
typedef int (*store_change_cb)(const store_change_info *c, void *arg);

/* Every change reachable from the own head, newest first (topological,
 * then by time). A change of one parent lists the records it wrote with
 * their bytes before and after when it wrote at most bufs_max records
 * (more: ids and kinds only; SIZE_MAX: always). A merge commit lists none.
 * UERR_OK, the callback's value unchanged, UERR_IO or UERR_NOMEM. */
uerr store_log(store *s, size_t bufs_max, store_change_cb cb, void *arg, char *err, size_t errlen);

/* Outcome of taking in another node's head. */
typedef enum {
    STORE_TAKE_NOTHING = 0, /* the own head already contains it */
    STORE_TAKE_FORWARD,     /* the own branch fast-forwarded to it */
    STORE_TAKE_MERGED,      /* a merge commit joined the two trees */
    STORE_TAKE_SAME_TREE    /* concurrent, but the join equals the own tree: no commit */
} store_take;

/* Take in commit `peer_hex` (already in the object store): fast-forward,
 * nothing, or merge as DESIGN.md "The store" says. peer_node names the
 * branch the head came from: when the join equals the own tree but the
 * heads differ, the node whose name sorts first makes a tie commit (same
 * tree, both parents). `changed` (may be NULL) is called for every record
 * whose blob in the own head changed (id, new bytes), so the caller can
 * update its index. *outcome receives what happened.
 * UERR_NOTFOUND (peer_hex is not a commit here), UERR_IO (writing the
 * merge or moving the branch failed), UERR_CONFLICT (the branch moved under
 * us), UERR_NOMEM, UERR_INTERNAL (a record in the store does not join, or
 * `changed` failed); on error before the branch moved it is unchanged. */
uerr store_take_head(store *s, const char *peer_hex, const char *peer_node, store_record_cb changed,
                     void *arg, store_take *outcome, char *err, size_t errlen);

typedef struct {
    size_t refs;        /* branch refs in the bundle */
    size_t updated;     /* copies of other nodes' branches moved forward */
    size_t stale;       /* refs we already had (or had newer) */
    size_t own_skipped; /* refs naming our own branch: never taken from outside */
    size_t merged;      /* heads that led to a merge commit */
    size_t forwarded;   /* heads the own branch fast-forwarded to */
    size_t commits;     /* new commits checked */
} store_bundle_report;

/* Write a standard git bundle (v2) of every branch in the store to path
 * (atomically: temp file, fsync, rename). since: NULL, or an earlier bundle
 * whose branch heads become prerequisites (an incremental bundle: only
 * newer objects). UERR_IO (path cannot be written), UERR_NOTFOUND (since
 * cannot be opened), UERR_PEER (since is not a bundle), UERR_CONFLICT
 * (since names commits this store lacks), UERR_NOMEM. */
uerr store_bundle_write(store *s, const char *path, const char *since, char *err, size_t errlen);

/* Read a git bundle: check its header, size and prerequisites, then take
 * its pack in through the one take-in path (docs/STORE.md "Taking data
 * in"): every object checked in a quarantine within the store's limits,
 * only what accepted heads reach moved in, each head merged into the own
 * branch before the other nodes' branch copies move forward (never the own
 * branch; a copy present but not merged is merged too). `changed` as for
 * store_take_head; *rep is filled in (borrowed).
 * UERR_PEER: the bundle is bad (the store is untouched; err names the
 * first bad object); UERR_CONFLICT: its prerequisites are missing here;
 * UERR_NOTFOUND: no such file; UERR_IO: a local read/write/rename/fsync
 * failed (at worst branch copies lag behind what was merged; the next
 * take-in redoes it); UERR_NOMEM. */
uerr store_bundle_read(store *s, const char *path, store_record_cb changed, void *arg,
                       store_bundle_report *rep, char *err, size_t errlen);

/* A branch and its head, as listed or announced. */
typedef struct {
    char name[RECORD_NODE_MAX + 1];
    char oid[41];
} store_ref;

/* Every branch of the store (own and copies). *out malloc'd (caller frees).
 * UERR_IO or UERR_NOMEM with err set (then *out NULL, *n 0). */
uerr store_heads(store_ref **out, size_t *n, store *s, char *err, size_t errlen);

/* 1 if the object (hex id) is in the store, else 0 (not fallible). */
int store_has_object(store *s, const char *hex);

/* A pack of every object reachable from the wanted commits and not from the
 * asker's haves (those we know). *out malloc'd (caller frees).
 * UERR_NOTFOUND (a want that is not a commit here), UERR_IO, UERR_NOMEM. */
uerr store_pack_build(char **out, size_t *len, store *s, const char *const *want, size_t nwant,
                      const char *const *have, size_t nhave, char *err, size_t errlen);

/* Take in what a peer sent: the pack (borrowed; len 0: none, every object
 * is already here; over the byte budget: refused unread) goes through the
 * same take-in path as a bundle's (store_bundle_read). UERR_PEER: the pack
 * or a ref is bad, the store is untouched (tell the peer "refused");
 * UERR_IO, UERR_NOMEM, UERR_INTERNAL: a local failure, not the peer's
 * fault. */
uerr store_sync_apply(store *s, const char *pack, size_t len, const store_ref *refs, size_t nrefs,
                      store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                      size_t errlen);

/* When the own head last moved (commit time, seconds since the epoch) and
 * who wrote that commit ("operator@node", into the caller's who). An empty
 * store: *time 0 and who "". UERR_IO with err set. (lastchange.c) */
uerr store_last_change(store *s, int64_t *time, char *who, size_t wholen, char *err, size_t errlen);

/* ---- backups and the format version (backup.c) ----------------------------- */

/* The store format this uniond writes and reads: `uniond.format` in
 * store.git/config. store_create writes it; store_open migrates an older
 * store (none = 0: the release before the marker) by writing it and
 * refuses a newer one with UERR_CONFLICT. docs/STORE.md "Format version". */
#define STORE_FORMAT 1

/* What a backup's header names: the node, its office, its own head, and
 * how many branches it holds. */
typedef struct {
    char node[RECORD_NODE_MAX + 1];
    char office[64];
    char head[41];
    size_t branches;
} store_backup_info;

/* Write a whole-store backup to path (atomically): a git bundle of every
 * branch plus the line `<head> refs/uniond/backup/<office>/<node>`.
 * UERR_NOTFOUND (the store is empty), UERR_IO, UERR_NOMEM. */
uerr store_backup_write(store *s, const char *path, const char *office, char *err, size_t errlen);

/* Read the header of a backup file into *info (the caller's).
 * UERR_NOTFOUND (no file), UERR_IO, UERR_PEER (not a whole uniond backup). */
uerr store_backup_info_read(store_backup_info *info, const char *path, char *err, size_t errlen);

/* Build a new store at gitdir (which must not exist) from the backup at
 * path, through the take-in checks. same_identity == 0: the store is node
 * `node`'s, a name the backup's node must not have, whose own branch takes
 * in every branch (so its tree equals the backup's). same_identity != 0:
 * node must be the backup's node; its own branch is the backup's. *rep is
 * filled in. Codes as store_bundle_read, plus UERR_INVALID (node name) and
 * UERR_CONFLICT (gitdir exists). On error gitdir may be left half made:
 * the caller removes it. */
uerr store_restore(const char *gitdir, const char *node, int same_identity, const char *path,
                   store_bundle_report *rep, char *err, size_t errlen);

#endif
