/* ingest.c - THE take-in path, one for sync packs and bundles: quarantine
 * the pack, check every object it brings (objcheck.c) and the layout of
 * every new commit's tree, refuse a diverged branch, move in only what an
 * accepted head reaches, merge the new heads into the own branch, and only
 * then move the branch copies forward. Part of the store room.
 *
 * Nothing moves before everything is checked: a refusal (UERR_PEER) leaves
 * refs and the objects directory exactly as they were and names the first
 * bad object. Crash safety: objects are durable before any ref moves; the
 * own branch takes the new heads (durably) before their branch copies move,
 * so a crash can leave a copy behind (redone by the next take-in) but never
 * a copy ahead of what was merged. The own branch is never taken from
 * outside. */
#include "daemon/store/ingest_int.h"
#include "daemon/store/objcheck.h"
#include "daemon/store/quarantine.h"
#include "daemon/util/fsutil.h"
#include "daemon/util/log.h"

#include "proto/record.h"
#include "proto/schema_decl.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Values of the incoming map: the object type, and flags. */
/* ---- the layout of what accepted heads reach ------------------------------------ */

/* Trees kept as found in place across take-ins (placed_held below). */
#define PLACED_KEEP_MAX 65536

/* Where a tree sits: depth (0 root .. 3 leaf), top-level name, aa, bb. */
typedef struct {
    int depth, top, aa, bb;
} place;

static uint32_t place_code(const place *p)
{
    return 1u << 31 | (uint32_t)p->depth | (uint32_t)p->top << 2 | (uint32_t)p->aa << 8 |
           (uint32_t)p->bb << 16;
}

static int hexval(const char *s)
{
    int v = 0;
    for (int i = 0; i < 2; i++)
        v = v * 16 + (s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return v;
}

/* The type of id, from the pack or the store; 0 when it is in neither. */
static git_object_t object_type(ingest_ctx *c, const git_oid *id, uint32_t **flags)
{
    size_t size;
    git_object_t t;
    *flags = store_oidmap_get(&c->in, id);
    if (*flags)
        return (git_object_t)(**flags & IN_TYPE);
    return git_odb_read_header(&size, &t, c->odb, id) < 0 ? 0 : t;
}

static uerr verify_tree(ingest_ctx *c, const git_oid *id, place p, int sample, const git_oid *twin);

/* The twin of a received tree: the tree at the same place in the own head
 * (every tree of it was checked when it was made or taken in). An entry
 * of the received tree that is also in the twin, same name and same id,
 * is a subtree or record already checked in this very place: a live
 * change, which brings one new path, is then checked in O(depth) reads
 * instead of one read per sibling (256 folders per level at 100k). */
typedef struct {
    git_odb_object *o; /* NULL: no twin (new place, no head) */
    size_t pos;
} twin_tree;

static void twin_open(twin_tree *t, ingest_ctx *c, const git_oid *id)
{
    t->o = NULL;
    t->pos = 0;
    if (id &&
        (git_odb_read(&t->o, c->odb, id) < 0 || git_odb_object_type(t->o) != GIT_OBJECT_TREE)) {
        git_odb_object_free(t->o);
        t->o = NULL;
    }
}

/* The twin's entry named name: 1 and *out set, else 0. Both trees are
 * sorted alike, so the cursor only moves forward; a tree sorted otherwise
 * only finds fewer twins (each then checked in full). */
static int twin_find(git_oid *out, twin_tree *t, const char *name, size_t namelen)
{
    const unsigned char *buf = t->o ? git_odb_object_data(t->o) : NULL, *raw;
    size_t len = t->o ? git_odb_object_size(t->o) : 0, pos = t->pos, n;
    const char *tn;
    while (buf && objcheck_tree_next(&pos, &tn, &n, &raw, buf, len)) {
        int cmp = memcmp(tn, name, n < namelen ? n : namelen);
        if (cmp == 0 && n == namelen) {
            t->pos = pos;
            git_oid_fromraw(out, raw);
            return 1;
        }
        if (cmp > 0 || (cmp == 0 && n > namelen))
            return 0; /* past it: not in the twin */
        t->pos = pos;
    }
    return 0;
}

/* The blob named show[0..namelen) sits in folder top: it must be a blob,
 * and (when this take-in brings it) pass the check of that folder: a
 * record of the folder's kind, or under schema/ the declaration its name
 * says. A blob the store already had was checked where it was made. */
static uerr verify_placed_blob(ingest_ctx *c, const char *hex, const char *top, const char *show,
                               size_t namelen, git_object_t t, const uint32_t *flags)
{
    uint32_t want = objcheck_as_wanted(top, show, namelen);
    if (t != GIT_OBJECT_BLOB)
        return uerr_set(c->err, c->errlen, UERR_PEER,
                        "object %s (tree): record '%s' is a %s, not a record blob", hex, show,
                        type_name(t));
    if (want == 0)
        return uerr_set(c->err, c->errlen, UERR_PEER,
                        "object %s (tree): '%s' under %s/ is not a declaration record (only %s "
                        "and %s)",
                        hex, show, top, SCHEMA_DECL_FIELDS_ID, SCHEMA_DECL_CATEGORY_ID);
    if (flags && !(*flags & IN_PRESENT) && !((*flags >> IN_AS_SHIFT) & want))
        return uerr_set(c->err, c->errlen, UERR_PEER,
                        "object %s (tree): '%s' is not a valid %s for the folder %s/", hex, show,
                        strcmp(top, OBJCHECK_TOP_SCHEMA) == 0 ? "declaration" : "record", top);
    return UERR_OK;
}

/* One entry of a tree at place p: the right type, and a record where its
 * id's hash says it belongs. */
static uerr verify_entry(ingest_ctx *c, const char *hex, const place *p, const char *name,
                         size_t namelen, const git_oid *child, int sample, const git_oid *twin)
{
    uint32_t *flags;
    git_object_t t = object_type(c, child, &flags);
    char show[RECORD_ID_MAX + 1], chex[41];
    snprintf(show, sizeof show, "%.*s", (int)(namelen < RECORD_ID_MAX ? namelen : RECORD_ID_MAX),
             name);
    git_oid_tostr(chex, sizeof chex, child);
    if (t == 0)
        return uerr_set(c->err, c->errlen, UERR_PEER,
                        "object %s (tree): entry '%s' names %s, which is neither sent nor here",
                        hex, show, chex);
    if (flags && !(*flags & IN_PRESENT))
        *flags |= IN_REACHED;
    const char *top = p->depth > 0 ? store_toplevel_names[p->top] : NULL;
    int schema = top && strcmp(top, OBJCHECK_TOP_SCHEMA) == 0;
    if (schema && p->depth == OBJCHECK_DEPTH_SCHEMA_LEAF)
        return verify_placed_blob(c, hex, top, show, namelen, t, flags);
    if (p->depth == OBJCHECK_DEPTH_LEAF) {
        char aa[3], bb[3];
        snprintf(aa, sizeof aa, "%02x", p->aa);
        snprintf(bb, sizeof bb, "%02x", p->bb);
        if (t != GIT_OBJECT_BLOB)
            return uerr_set(c->err, c->errlen, UERR_PEER,
                            "object %s (tree): record '%s' is a %s, not a record blob", hex, show,
                            type_name(t));
        if (!objcheck_record_at(show, aa, bb))
            return uerr_set(c->err, c->errlen, UERR_PEER,
                            "object %s (tree): record '%s' is under %s/%s, not where its id "
                            "belongs",
                            hex, show, aa, bb);
        return verify_placed_blob(c, hex, top, show, namelen, t, flags);
    }
    if (t != GIT_OBJECT_TREE)
        return uerr_set(c->err, c->errlen, UERR_PEER,
                        "object %s (tree): '%s' is a %s where a folder belongs", hex, show,
                        type_name(t));
    place q = *p;
    q.depth++;
    if (p->depth == 0) {
        for (q.top = 0; store_toplevel_names[q.top]; q.top++)
            if (strcmp(store_toplevel_names[q.top], show) == 0)
                break;
    } else if (p->depth == 1)
        q.aa = hexval(name);
    else
        q.bb = hexval(name);
    /* below a tree the store already had, one path down proves its place */
    return verify_tree(c, child, q, sample || (flags && (*flags & IN_PRESENT)) || !flags, twin);
}

/* Trees found in their place by earlier take-ins, in a store that holds
 * them (so their children too) -> their place code. Whether a tree sits
 * where it belongs is a property of its bytes (trees never change), so a
 * live change, which brings one new path, need not read its unchanged
 * siblings (256 folders under each kind) again each time. A cache: bounded,
 * and out of memory only means reading the tree again; under a lock,
 * although only the store queue's one thread takes data in. */
static pthread_mutex_t placed_mu = PTHREAD_MUTEX_INITIALIZER;
static store_oidmap placed_held;

static int placed_known(const git_oid *id, uint32_t code)
{
    pthread_mutex_lock(&placed_mu);
    const uint32_t *v = store_oidmap_get(&placed_held, id);
    int known = v && *v == code;
    pthread_mutex_unlock(&placed_mu);
    return known;
}

static void placed_keep(const git_oid *id, uint32_t code)
{
    pthread_mutex_lock(&placed_mu);
    if (placed_held.n >= PLACED_KEEP_MAX)
        store_oidmap_free(&placed_held); /* start over */
    uint32_t *v = store_oidmap_get(&placed_held, id);
    if (v)
        *v = code;
    else
        (void)store_oidmap_put(&placed_held, id, code);
    pthread_mutex_unlock(&placed_mu);
}

/* Verify that tree id is of the kind its depth wants and that everything
 * below it is in place. A tree the store already had (sample) was valid
 * where it was made, so its first entry alone tells whether it sits where
 * it belongs; a received tree is checked entry by entry. */
static uerr verify_tree(ingest_ctx *c, const git_oid *id, place p, int sample,
                        const git_oid *twin_id)
{
    static const objcheck_tree_kind kind_want[] = {OBJCHECK_TREE_ROOT, OBJCHECK_TREE_FANOUT,
                                                   OBJCHECK_TREE_FANOUT, OBJCHECK_TREE_LEAF};
    /* schema/ holds its records flat: a leaf right below the root */
    int schema = p.depth > 0 && strcmp(store_toplevel_names[p.top], OBJCHECK_TOP_SCHEMA) == 0;
    assert(!schema || p.depth == OBJCHECK_DEPTH_SCHEMA_LEAF);
    objcheck_tree_kind want = schema ? OBJCHECK_TREE_LEAF : kind_want[p.depth];
    uint32_t code = place_code(&p), *seen = store_oidmap_get(&c->placed, id);
    git_odb_object *o = NULL;
    twin_tree twin = {0};
    objcheck_tree_kind kind;
    char hex[41], why[200];
    uerr rc;
    if (seen && *seen == code)
        return UERR_OK;
    /* A tree the store holds (so do its children) that an earlier take-in
     * found at this very place is there still: trees never change. */
    const uint32_t *inpack = store_oidmap_get(&c->in, id);
    int held = sample && (!inpack || (*inpack & IN_PRESENT));
    if (held && placed_known(id, code))
        return UERR_OK;
    git_oid_tostr(hex, sizeof hex, id);
    c->trees_read++;
    const uint32_t *at = c->trees ? store_oidmap_get(&c->treeat, id) : NULL;
    const unsigned char *buf;
    size_t len, pos = 0, namelen;
    git_object_t type = GIT_OBJECT_TREE;
    if (at) { /* inflated and checked by the fast path */
        buf = c->trees[*at];
        len = c->treelen[*at];
    } else {
        if (git_odb_read(&o, c->odb, id) < 0)
            return store_git_err(c->err, c->errlen, UERR_PEER, "reading a tree");
        buf = git_odb_object_data(o);
        len = git_odb_object_size(o);
        type = git_odb_object_type(o);
    }
    const char *name;
    const unsigned char *raw;
    if (type != GIT_OBJECT_TREE)
        rc = uerr_set(c->err, c->errlen, UERR_PEER, "object %s: a tree was expected", hex);
    else if ((rc = objcheck_tree(&kind, buf, len, why, sizeof why)) != UERR_OK)
        rc = uerr_set(c->err, c->errlen, rc, "object %s (tree): %s", hex, why);
    else if (kind != want)
        rc = uerr_set(c->err, c->errlen, UERR_PEER,
                      "object %s (tree): at depth %d of the layout it holds the wrong kind of "
                      "entries (expected %s)",
                      hex, p.depth,
                      p.depth == 0                 ? "the top-level folders"
                      : want == OBJCHECK_TREE_LEAF ? "100644 records"
                                                   : "two-hex-digit folders");
    if (rc == UERR_OK && !sample)
        twin_open(&twin, c, twin_id);
    while (rc == UERR_OK && objcheck_tree_next(&pos, &name, &namelen, &raw, buf, len)) {
        git_oid child, tw;
        git_oid_fromraw(&child, raw);
        int has_twin = !sample && twin_find(&tw, &twin, name, namelen);
        if (has_twin && git_oid_equal(&tw, &child))
            continue; /* held and checked in this place (twin_tree) */
        rc = verify_entry(c, hex, &p, name, namelen, &child, sample, has_twin ? &tw : NULL);
        if (sample)
            break;
    }
    git_odb_object_free(twin.o);
    git_odb_object_free(o);
    if (rc == UERR_OK && !seen && store_oidmap_put(&c->placed, id, code) < 0)
        rc = uerr_set(c->err, c->errlen, UERR_NOMEM, "out of memory checking trees");
    if (rc == UERR_OK && held)
        placed_keep(id, code);
    return rc;
}

static int hide_existing(git_revwalk *walk, git_repository *main_repo)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    if (git_reference_iterator_glob_new(&it, main_repo, "refs/heads/*") < 0)
        return -1;
    while (git_reference_next(&ref, it) == 0) {
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT)
            git_revwalk_hide(walk, git_reference_target(ref));
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    return 0;
}

/* Walk every commit the accepted heads reach and the store's branches do
 * not: mark what they reach, and verify each new commit's tree. */
static uerr verify_heads(ingest_ctx *c, const store_bundle_ref *refs, size_t nrefs,
                         size_t *ncommits)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    uerr rc = UERR_OK;
    *ncommits = 0;
    if (git_revwalk_new(&walk, c->q) < 0 || hide_existing(walk, c->s->repo) != 0) {
        rc = store_git_err(c->err, c->errlen, UERR_IO, "walking the received history");
        goto cleanup;
    }
    for (size_t i = 0; i < nrefs; i++) {
        uint32_t *flags;
        if (object_type(c, &refs[i].oid, &flags) != GIT_OBJECT_COMMIT) {
            rc = uerr_set(c->err, c->errlen, UERR_PEER,
                          "branch %s points to a commit that was not sent", refs[i].name);
            goto cleanup;
        }
        if (git_revwalk_push(walk, &refs[i].oid) < 0) {
            rc = store_git_err(c->err, c->errlen, UERR_PEER, "walking the received history");
            goto cleanup;
        }
    }
    int e;
    while ((e = git_revwalk_next(&oid, walk)) == 0) {
        uint32_t *flags = store_oidmap_get(&c->in, &oid);
        git_commit *cm = NULL;
        if (!flags || (*flags & IN_PRESENT))
            continue; /* the store's own (an old take-in's leftover): checked then */
        *flags |= IN_REACHED;
        (*ncommits)++;
        if (git_commit_lookup(&cm, c->q, &oid) < 0) {
            rc = store_git_err(c->err, c->errlen, UERR_PEER, "reading a received commit");
            goto cleanup;
        }
        git_oid tree;
        git_oid_cpy(&tree, git_commit_tree_id(cm));
        git_commit_free(cm);
        uint32_t *tflags;
        char hex[41];
        git_oid_tostr(hex, sizeof hex, &oid);
        if (object_type(c, &tree, &tflags) != GIT_OBJECT_TREE) {
            rc = uerr_set(c->err, c->errlen, UERR_PEER, "object %s (commit): its tree is missing",
                          hex);
            goto cleanup;
        }
        if (tflags && !(*tflags & IN_PRESENT))
            *tflags |= IN_REACHED;
        place root = {0, 0, 0, 0};
        if ((rc = verify_tree(c, &tree, root, !tflags || (*tflags & IN_PRESENT),
                              c->s->has_head ? &c->s->tree : NULL)) != UERR_OK)
            goto cleanup;
    }
    if (e != GIT_ITEROVER)
        rc = store_git_err(c->err, c->errlen, UERR_PEER,
                           "the received history is incomplete (a parent is missing)");
cleanup:
    git_revwalk_free(walk);
    return rc;
}

/* The objects to move in: those an accepted head reached. */
static uerr reached_list(store_oidvec *keep, ingest_ctx *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->in.cap; i++)
        if (c->in.used[i] && (c->in.v[i] & IN_REACHED) && !(c->in.v[i] & IN_PRESENT) &&
            store_oidvec_push(keep, &c->in.k[i]) != 0)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    return UERR_OK;
}

/* ---- branch copies ---------------------------------------------------------------- */

/* Our copy of the branch r names: 1 and *cur set if there is one, else 0. */
static int copy_head(git_oid *cur, store *s, const char *node)
{
    char name[300];
    git_reference *ref = NULL;
    snprintf(name, sizeof name, "refs/heads/%s", node);
    if (git_reference_lookup(&ref, s->repo, name) != 0)
        return 0;
    int ok = git_reference_type(ref) == GIT_REFERENCE_DIRECT;
    if (ok)
        git_oid_cpy(cur, git_reference_target(ref));
    git_reference_free(ref);
    return ok;
}

/* Would taking r move our copy of that branch forward (looked up in repo,
 * which sees the quarantine)? 1 forward, 0 same or older, UERR_PEER when
 * the two diverged. */
static int copy_state(store *s, git_repository *repo, const store_bundle_ref *r, char *err,
                      size_t errlen)
{
    git_oid cur;
    if (!copy_head(&cur, s, r->name))
        return 1;
    if (git_oid_equal(&cur, &r->oid) || git_graph_descendant_of(repo, &cur, &r->oid) == 1)
        return 0;
    if (git_graph_descendant_of(repo, &r->oid, &cur) != 1)
        return uerr_set(err, errlen, UERR_PEER,
                        "branch %s is not a fast-forward of ours (a node rewrote its history?)",
                        r->name);
    return 1;
}

/* Write refs/heads/<r->name> = r->oid as git does (the lock file
 * "<ref>.lock", made O_EXCL, holds "<hex>\n", is fsynced and renamed over
 * the ref), without the folder fsync that would make the rename itself
 * durable: a branch copy is what we know a peer holds, and the promise is
 * only that it is never AHEAD of what was merged and made durable (its
 * head is in the own branch, fsynced, before this runs). A power cut may
 * undo the rename: the copy is then behind, whole (the old file, or none),
 * and the next take-in or the merge at start moves it again. It becomes
 * durable with the next fsync of refs/heads (the own branch's next move,
 * the next copy written by libgit2). One fsync per copy instead of two.
 * Not fsutil_write_atomic: a ref is git's file, locked by git's "<ref>.lock"
 * protocol (as libgit2 writes it), and its folder fsync is what we skip. */
static uerr copy_ref_write(store *s, const store_bundle_ref *r, const git_oid *expect, char *err,
                           size_t errlen)
{
    char path[4600], lock[4700];
    uerr rc = UERR_OK;
    snprintf(path, sizeof path, "%srefs/heads/%s", git_repository_path(s->repo), r->name);
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return uerr_set(err, errlen, errno == EEXIST ? UERR_CONFLICT : UERR_IO,
                        "updating a branch copy: %s", strerror(errno));
    /* under the lock: the copy is still where copy_forward read it */
    git_oid cur;
    int had = copy_head(&cur, s, r->name);
    if (had != (expect != NULL) || (expect && !git_oid_equal(&cur, expect))) {
        rc = uerr_set(err, errlen, UERR_CONFLICT, "a branch copy moved during a take-in");
        goto fail;
    }
    int werr = store_ref_lock_fill(fd, &r->oid);
    if (werr != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "updating a branch copy: %s", strerror(werr));
        goto fail;
    }
    int closed = close(fd);
    fd = -1;
    if (closed != 0 || rename(lock, path) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "updating a branch copy: %s", strerror(errno));
        goto fail;
    }
    return UERR_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(lock);
    return rc;
}

/* Move our copy of branch r forward to r->oid (it was checked to be a
 * fast-forward; the expected old value guards against a change since).
 * A name git would refuse, or one whose folder is not there yet (a copy
 * in a subfolder), goes through libgit2 (ref and folder fsynced). */
static uerr copy_forward(store *s, const store_bundle_ref *r, char *err, size_t errlen)
{
    char name[300];
    git_reference *out = NULL;
    git_oid cur;
    int e, valid = 0, had = copy_head(&cur, s, r->name);
    snprintf(name, sizeof name, "refs/heads/%s", r->name);
    if (git_reference_name_is_valid(&valid, name) == 0 && valid && !strchr(r->name, '/'))
        return copy_ref_write(s, r, had ? &cur : NULL, err, errlen);
    if (had)
        e = git_reference_create_matching(&out, s->repo, name, &r->oid, 1, &cur, "take in");
    else
        e = git_reference_create(&out, s->repo, name, &r->oid, 0, "take in");
    git_reference_free(out);
    if (e < 0)
        return store_git_err(err, errlen, UERR_IO, "updating a branch copy");
    return UERR_OK;
}

/* Take head oid (from branch node) into the own branch and count it. */
static uerr take_one(store *s, const git_oid *oid, const char *node, store_record_cb changed,
                     void *arg, store_bundle_report *rep, char *err, size_t errlen)
{
    char hex[41];
    store_take t;
    git_oid_tostr(hex, sizeof hex, oid);
    uerr rc = store_take_head_in(s, hex, node, changed, arg, &t, err, errlen);
    if (rc == UERR_OK && rep) {
        rep->merged += t == STORE_TAKE_MERGED;
        rep->forwarded += t == STORE_TAKE_FORWARD;
    }
    return rc;
}

/* First every head into the own branch (fsynced: merge commits, the
 * branch move), then the branch copies. A head the node already had as a
 * copy but never merged (an earlier take-in cut short, a copy fetched with
 * plain git) is merged too. */
static uerr refs_apply(store *s, const store_bundle_ref *refs, size_t nrefs, const int *fwd,
                       store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < nrefs; i++) {
        git_oid target;
        if (fwd[i])
            git_oid_cpy(&target, &refs[i].oid);
        else if (!copy_head(&target, s, refs[i].name))
            continue;
        uerr rc = take_one(s, &target, refs[i].name, changed, arg, rep, err, errlen);
        if (rc != UERR_OK)
            return rc;
    }
    for (size_t i = 0; i < nrefs; i++) {
        if (!fwd[i]) {
            rep->stale++;
            continue;
        }
        uerr rc = copy_forward(s, &refs[i], err, errlen);
        if (rc != UERR_OK)
            return rc;
        rep->updated++;
    }
    return UERR_OK;
}

size_t store_copies_reconcile(store *s)
{
    store_ref *heads = NULL;
    size_t n = 0, moved = 0;
    char err[256];
    if (store_heads_in(&heads, &n, s, err, sizeof err) != UERR_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        git_oid oid, before;
        if (strcmp(heads[i].name, s->node) == 0 || git_oid_fromstr(&oid, heads[i].oid) < 0)
            continue;
        git_oid_cpy(&before, &s->head);
        int had = s->has_head;
        if (take_one(s, &oid, heads[i].name, NULL, NULL, NULL, err, sizeof err) == UERR_OK &&
            (!had || !git_oid_equal(&before, &s->head)))
            moved++;
    }
    free(heads);
    return moved;
}

/* CPU time of this thread in ms, for the debug lines of the take-in's
 * phases: on a busy machine wall time says little about our own cost. */
static uint64_t cpu_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the take-in ---------------------------------------------------------------------- */

/* Quarantine, check everything, and decide per ref: fwd[i] = 1 when the
 * copy moves forward. Nothing in the store changes here. */
static uerr ingest_check(ingest_ctx *c, quarantine *qt, git_odb *disk, FILE *f,
                         const store_bundle_ref *refs, size_t nrefs, int *fwd,
                         store_bundle_report *rep)
{
    store_oidvec objs = {0};
    uerr rc = UERR_OK;
    uint64_t t0 = cpu_ms(), t1 = t0, t2 = t0;
    ingest_fast fast = {.c = c, .disk = disk};
    quarantine_fast qf = {ingest_fast_batch, &fast};
    if (f) {
        if ((rc = quarantine_index(qt, disk, f, &c->s->limits, &qf, c->err, c->errlen)) !=
                UERR_OK ||
            (rc = quarantine_open(qt, c->err, c->errlen)) != UERR_OK ||
            (rc = quarantine_list(&objs, qt, c->err, c->errlen)) != UERR_OK)
            goto cleanup;
        c->odb = qt->qodb;
        c->q = qt->q;
        t1 = cpu_ms();
        rc = qt->fast ? ingest_check_fast(c, &objs, qt->ents, qt->nents, &fast, disk)
                      : ingest_check_all(c, &objs, disk);
        if (rc != UERR_OK)
            goto cleanup;
        t2 = cpu_ms();
    }
    if ((rc = verify_heads(c, refs, nrefs, &rep->commits)) != UERR_OK)
        goto cleanup;
    log_msg(LOG_DEBUG,
            "take-in: %zu objects%s: CPU ms: indexed %llu, checked %llu, layout %llu (%zu trees "
            "read)",
            objs.n, qt->fast ? " (parsed and checked at once)" : "", (unsigned long long)(t1 - t0),
            (unsigned long long)(t2 - t1), (unsigned long long)(cpu_ms() - t2), c->trees_read);
    /* Refuse a diverged branch before anything moves: all or nothing. */
    for (size_t i = 0; i < nrefs; i++) {
        int st = copy_state(c->s, c->q, &refs[i], c->err, c->errlen);
        if (st < 0) {
            rc = (uerr)st;
            goto cleanup;
        }
        fwd[i] = st;
    }
cleanup:
    free(objs.v);
    store_oidmap_free(&c->treeat);
    c->trees = NULL;
    c->treelen = NULL;
    ingest_fast_free(&fast);
    return rc;
}

uerr store_ingest(store *s, FILE *f, const store_bundle_ref *all, size_t nall,
                  store_record_cb changed, void *arg, store_bundle_report *rep, char *err,
                  size_t errlen)
{
    /* Our own branch is never taken from outside, not even looked at (and
     * what only it reaches is dropped): a node restored from an old backup
     * must still take in everyone else. */
    store_bundle_ref *refs = calloc(nall + 1, sizeof *refs);
    int *fwd = calloc(nall + 1, sizeof *fwd);
    size_t nrefs = 0;
    quarantine qt = {0};
    store_oidvec keep = {0};
    git_odb *disk = NULL;
    ingest_ctx c = {0};
    uerr rc;
    if (!refs || !fwd) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < nall; i++) {
        if (strcmp(all[i].name, s->node) == 0)
            rep->own_skipped++;
        else
            refs[nrefs++] = all[i];
    }
    if (git_repository_odb(&disk, s->repo) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the object store");
        goto cleanup;
    }
    {
        /* git_repository_path ends in '/': without it the alternate's
         * path is the one the store's odb has, and libgit2 shares its
         * open packs and their caches instead of opening them again */
        const char *gp = git_repository_path(s->repo);
        size_t gl = strlen(gp);
        while (gl > 1 && gp[gl - 1] == '/')
            gl--;
        snprintf(qt.objdir, sizeof qt.objdir, "%.*s/objects", (int)gl, gp);
    }
    c.s = s;
    c.odb = disk;
    c.q = s->repo;
    c.err = err;
    c.errlen = errlen;
    rc = ingest_check(&c, &qt, disk, f, refs, nrefs, fwd, rep);
    if (rc != UERR_OK)
        goto cleanup;
    if (f) {
        if ((rc = reached_list(&keep, &c, err, errlen)) != UERR_OK ||
            (rc = quarantine_move_in(&qt, &keep, qt.stats.indexed_objects, disk, err, errlen)) !=
                UERR_OK)
            goto cleanup;
        if (keep.n)
            atomic_fetch_add(&s->packs_new, 1); /* one more pack to join (packjoin.c) */
        git_odb *bodb = NULL;
        if (git_repository_odb(&bodb, s->bulk) == 0)
            git_odb_refresh(bodb);
        git_odb_free(bodb);
    }
    uint64_t tm = cpu_ms();
    rc = refs_apply(s, refs, nrefs, fwd, changed, arg, rep, err, errlen);
    log_msg(LOG_DEBUG, "take-in: CPU ms: heads taken in (merge, index) %llu",
            (unsigned long long)(cpu_ms() - tm));
cleanup:
    quarantine_free(&qt);
    store_oidmap_free(&c.in);
    store_oidmap_free(&c.placed);
    free(keep.v);
    git_odb_free(disk);
    free(refs);
    free(fwd);
    return rc;
}
