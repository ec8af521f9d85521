/* store.h - the node's git store: the only module that includes git2.h.
 *
 * One bare repository, DATA/store.git, HEAD -> refs/heads/<node>. Records
 * are blobs at members/aa/bb/<id> (proto/record.h). A store is used from one
 * thread at a time (the daemon's store queue); nothing here is thread-safe.
 * docs/STORE.md describes the format. */
#ifndef UNIOND_STORE_H
#define UNIOND_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/record.h"

typedef struct store store;

typedef struct {
    const char *id;
    const char *buf; /* canonical record bytes */
    size_t len;
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

/* Called once per record; return non-zero to stop (store_foreach then
 * returns that value). Buffers are borrowed for the call only. */
typedef int (*store_record_cb)(const char *id, const char *buf, size_t len, void *arg);
/* Called per commit that changed a record, newest first. */
typedef int (*store_version_cb)(const store_version *v, void *arg);

/* Process-wide libgit2 setup (fsync on, strict object creation). Call once
 * before any other store function; returns 0 or -1. */
int store_global_init(void);
void store_global_shutdown(void);

/* Create a bare repository at gitdir with HEAD on refs/heads/<node>.
 * Refuses an existing directory. Returns 0 or -1 with err set. */
int store_create(const char *gitdir, const char *node, char *err, size_t errlen);

/* Open the store of `node` at gitdir. First clears stale *.lock files and
 * temporary pack files a crash may have left: the caller must hold the
 * DATA lock, so no other writer can own them. *out is owned by the caller
 * (store_free). Returns 0 or -1 with err set. */
int store_open(store **out, const char *gitdir, const char *node, char *err, size_t errlen);
void store_free(store *s);

/* Hex ids of the own head commit and its tree; both "" on an empty store. */
void store_head(const store *s, char commit[41], char tree[41]);

/* Every record of the own head tree. Returns 0, the callback's non-zero
 * value, or -1 with err set. */
int store_foreach(store *s, store_record_cb cb, void *arg, char *err, size_t errlen);

/* Read one record blob of the head tree. *buf is malloc'd (caller frees).
 * Returns 1 found, 0 absent, -1 error. */
int store_read(store *s, char **buf, size_t *len, const char *id, char *err, size_t errlen);

/* One commit on the own branch writing the given records. The objects and
 * the ref update are on disk (fsync) when this returns 0. bulk != 0 writes
 * the objects as a single pack instead of loose objects. operator names the
 * person (author "operator <operator@node>"); message is the commit message.
 * Returns 0 or -1 with err set (the branch is then unchanged). */
int store_commit(store *s, const store_change *ch, size_t n, int bulk, const char *operator,
                 const char * message, char *err, size_t errlen);

/* The history of one record, newest first: every commit whose version of
 * the record differs from all of its parents'. Returns 0, the callback's
 * non-zero value, or -1 with err set. */
int store_history(store *s, const char *id, store_version_cb cb, void *arg, char *err,
                  size_t errlen);

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
 * tree, both parents). `changed` is called for every record whose blob in
 * the own head changed (id, new bytes), so the caller can update its index. *outcome receives what happened. Returns 0,
 * or -1 with err set (the branch is then unchanged). */
int store_take_head(store *s, const char *peer_hex, const char *peer_node,
                    store_record_cb changed, void *arg, store_take *outcome, char *err,
                    size_t errlen);

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
 * newer objects). Returns 0 or -1 with err set. */
int store_bundle_write(store *s, const char *path, const char *since, char *err, size_t errlen);

/* Read a git bundle: check its header, size, prerequisites and every new
 * object (record paths, modes and canonical record blobs only; branch refs
 * only as refs/heads/<node>); index its pack into a quarantine and move it
 * in only when all checks pass; move other nodes' branch copies forward
 * (fast-forward only, never the own branch) and take in each new head.
 * `changed` as for store_take_head. On refusal the store is untouched.
 * Returns 0 or -1 with err set. */
int store_bundle_read(store *s, const char *path, store_record_cb changed, void *arg,
                      store_bundle_report *rep, char *err, size_t errlen);

/* A branch and its head, as listed or announced. */
typedef struct {
    char name[RECORD_NODE_MAX + 1];
    char oid[41];
} store_ref;

/* Every branch of the store (own and copies). *out malloc'd (caller frees).
 * Returns 0 or -1 with err set. */
int store_heads(store_ref **out, size_t *n, store *s, char *err, size_t errlen);

/* 1 if the object (hex id) is in the store. */
int store_has_object(store *s, const char *hex);

/* A pack of every object reachable from the wanted commits and not from the
 * asker's haves (those we know). *out malloc'd (caller frees). Returns 0 or
 * -1 with err set (e.g. a want that is not a commit here). */
int store_pack_build(char **out, size_t *len, store *s, const char *const *want, size_t nwant,
                     const char *const *have, size_t nhave, char *err, size_t errlen);

/* Take in what a peer sent: the pack (len 0: none, every object is already
 * here) is checked exactly like a bundle's and moved in; then every ref
 * (other nodes' branches, fast-forward only, never the own) is applied and
 * each moved head taken in. Returns 0 or -1 with err set; on refusal the
 * store is untouched. */
int store_sync_apply(store *s, const char *pack, size_t len, const store_ref *refs, size_t nrefs,
                     store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                     size_t errlen);

#endif
