/* merge.c - merge into head: the tree walk that finds changed records, and
 * taking another node's head into the own branch (fast-forward, nothing,
 * or a merge commit whose tree is the record-wise join). Part of the store
 * room. Never moves another node's branch copy (transfer.c does that) and
 * never rewrites the own history: the own branch only moves forward. */
#include "daemon/store/objcheck.h"
#include "daemon/store/readview.h"
#include "daemon/store/store_int.h"

#include "proto/record.h"
#include "proto/schema_decl.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

/* ---- tree comparison ------------------------------------------------------ */

static int tree_changes_at(git_repository *repo, git_tree *old, git_tree *new, char *path,
                           size_t plen, int depth, store_delta_cb cb, void *payload)
{
    size_t n = git_tree_entrycount(new);
    if (depth > STORE_TREE_DEPTH_MAX)
        return -2;
    for (size_t i = 0; i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(new, i);
        const char *name = git_tree_entry_name(e);
        const git_tree_entry *oe = old ? git_tree_entry_byname(old, name) : NULL;
        if (oe && git_oid_equal(git_tree_entry_id(oe), git_tree_entry_id(e)) &&
            git_tree_entry_filemode(oe) == git_tree_entry_filemode(e))
            continue; /* same object: nothing below it changed */
        size_t nlen = strlen(name);
        if (plen + nlen + 2 > 1024)
            return -2;
        memcpy(path + plen, name, nlen + 1);
        int rc;
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
            git_tree *sub = NULL, *osub = NULL;
            if (git_tree_lookup(&sub, repo, git_tree_entry_id(e)) < 0)
                return -1;
            if (oe && git_tree_entry_type(oe) == GIT_OBJECT_TREE &&
                git_tree_lookup(&osub, repo, git_tree_entry_id(oe)) < 0) {
                git_tree_free(sub);
                return -1;
            }
            path[plen + nlen] = '/';
            path[plen + nlen + 1] = 0;
            rc = tree_changes_at(repo, osub, sub, path, plen + nlen + 1, depth + 1, cb, payload);
            git_tree_free(sub);
            git_tree_free(osub);
        } else {
            git_diff_delta d;
            memset(&d, 0, sizeof d);
            int was_blob = oe && git_tree_entry_type(oe) == GIT_OBJECT_BLOB;
            d.status = was_blob ? GIT_DELTA_MODIFIED : GIT_DELTA_ADDED;
            d.nfiles = 2;
            if (was_blob)
                git_oid_cpy(&d.old_file.id, git_tree_entry_id(oe));
            git_oid_cpy(&d.new_file.id, git_tree_entry_id(e));
            d.old_file.path = d.new_file.path = path;
            d.new_file.mode = (uint16_t)git_tree_entry_filemode(e);
            d.old_file.mode = was_blob ? (uint16_t)git_tree_entry_filemode(oe) : 0;
            rc = cb(&d, 0, payload);
        }
        path[plen] = 0;
        if (rc)
            return rc;
    }
    return 0;
}

int store_tree_changes(git_repository *repo, git_tree *old, git_tree *new, store_delta_cb cb,
                       void *payload)
{
    char path[1100] = "";
    return tree_changes_at(repo, old, new, path, 0, 0, cb, payload);
}

/* ---- telling the caller what changed -------------------------------------- */

typedef struct {
    git_repository *repo;
    store_record_cb cb;
    void *arg;
    int rc;
} emit_ctx;

static int emit_file_cb(const git_diff_delta *d, float progress, void *payload)
{
    emit_ctx *e = payload;
    git_blob *b = NULL;
    (void)progress;
    if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED)
        return 0;
    char id[RECORD_ID_MAX + 1];
    record_kind kind;
    /* Only record paths reach here (take-in checks them); anything else
     * is not a record the index knows. The declarations (schema/<id>) are
     * reported as kind_path writes them: KIND_MEMBER with the schema id. */
    const char *sp = d->new_file.path;
    size_t tl = strlen(OBJCHECK_TOP_SCHEMA);
    if (strncmp(sp, OBJCHECK_TOP_SCHEMA "/", tl + 1) == 0 &&
        schema_decl_id_valid(sp + tl + 1, strlen(sp + tl + 1))) {
        kind = KIND_MEMBER;
        snprintf(id, sizeof id, "%s", sp + tl + 1);
    } else if (kind_path_parse(&kind, id, sizeof id, d->new_file.path) != UERR_OK)
        return 0;
    if (git_blob_lookup(&b, e->repo, &d->new_file.id) < 0) {
        e->rc = -1;
        return -1;
    }
    int rc = e->cb(kind, id, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), e->arg);
    git_blob_free(b);
    if (rc) {
        e->rc = rc;
        return -1;
    }
    return 0;
}

/* Call cb for every record that differs between two trees (old may be
 * NULL). The branch has already moved: a failure here is the index's, not
 * the store's, so it is UERR_INTERNAL (or UERR_IO when a tree is unreadable). */
static uerr emit_changes(git_repository *repo, const git_oid *old_tree, const git_oid *new_tree,
                         store_record_cb cb, void *arg, char *err, size_t errlen)
{
    git_tree *a = NULL, *b = NULL;
    emit_ctx e = {repo, cb, arg, 0};
    uerr rc = UERR_OK;
    if (!cb)
        return UERR_OK;
    if ((old_tree && git_tree_lookup(&a, repo, old_tree) < 0) ||
        git_tree_lookup(&b, repo, new_tree) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "comparing trees");
    else if (store_tree_changes(repo, a, b, emit_file_cb, &e) != 0 || e.rc)
        rc = uerr_set(err, errlen, UERR_INTERNAL, "updating the index from a tree change failed");
    git_tree_free(a);
    git_tree_free(b);
    return rc;
}

/* ---- the join of two trees -------------------------------------------------- */

typedef struct {
    git_repository *repo;
    git_tree_update *up;
    char (*paths)[RECORD_ID_MAX + 32];
    size_t n, cap;
    uerr rc;
    char *err;
    size_t errlen;
} join_ctx;

static int join_grow(join_ctx *j)
{
    size_t nc = j->cap ? j->cap * 2 : 64;
    git_tree_update *nu = realloc(j->up, nc * sizeof *nu);
    if (nu)
        j->up = nu;
    char(*np)[RECORD_ID_MAX + 32] = nu ? realloc(j->paths, nc * sizeof *np) : NULL;
    if (!nu || !np) {
        j->rc = uerr_set(j->err, j->errlen, UERR_NOMEM, "out of memory");
        return -1;
    }
    j->paths = np;
    j->cap = nc;
    return 0;
}

/* The blob of the join of the records in blobs a and b, into j->repo. Both
 * were checked as canonical records when they came in, so a failure is
 * ours: UERR_INTERNAL, or UERR_IO when writing the blob fails. */
static uerr join_blobs(git_oid *out, join_ctx *j, const git_oid *a_id, const git_oid *b_id,
                       const char *path)
{
    git_blob *ob = NULL, *nb = NULL;
    record a, b, out_rec;
    char *buf = NULL, derr[128];
    size_t len;
    uerr rc = UERR_OK;
    record_init(&a);
    record_init(&b);
    record_init(&out_rec);
    if (git_blob_lookup(&ob, j->repo, a_id) < 0 || git_blob_lookup(&nb, j->repo, b_id) < 0)
        rc = store_git_err(j->err, j->errlen, UERR_IO, "reading records to join");
    else if (record_decode(&a, git_blob_rawcontent(ob), (size_t)git_blob_rawsize(ob), derr,
                           sizeof derr) != 0 ||
             record_decode(&b, git_blob_rawcontent(nb), (size_t)git_blob_rawsize(nb), derr,
                           sizeof derr) != 0 ||
             record_join(&out_rec, &a, &b) != 0 || record_encode(&buf, &len, &out_rec) != 0)
        rc = uerr_set(j->err, j->errlen, UERR_INTERNAL, "joining %s failed", path);
    else if (git_blob_create_from_buffer(out, j->repo, buf, len) < 0)
        rc = store_git_err(j->err, j->errlen, UERR_IO, "writing a joined record");
    free(buf);
    record_free(&a);
    record_free(&b);
    record_free(&out_rec);
    git_blob_free(ob);
    git_blob_free(nb);
    return rc;
}

static int join_file_cb(const git_diff_delta *d, float progress, void *payload)
{
    join_ctx *j = payload;
    (void)progress;
    if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED)
        return 0; /* a record the peer lacks stays as ours */
    if (j->n == j->cap && join_grow(j) != 0)
        return -1;
    /* pointers into paths are fixed up after the walk (realloc moves them) */
    snprintf(j->paths[j->n], sizeof j->paths[j->n], "%s", d->new_file.path);
    git_tree_update *u = &j->up[j->n];
    memset(u, 0, sizeof *u);
    u->action = GIT_TREE_UPDATE_UPSERT;
    u->filemode = GIT_FILEMODE_BLOB;
    if (d->status == GIT_DELTA_ADDED)
        git_oid_cpy(&u->id, &d->new_file.id);
    else if ((j->rc = join_blobs(&u->id, j, &d->old_file.id, &d->new_file.id, d->new_file.path)) !=
             UERR_OK)
        return -1;
    j->n++;
    return 0;
}

/* The tree joining own_tree and peer_tree, written into s->bulk's mempack;
 * *n_joined records taken from the peer side. */
static uerr join_trees(git_oid *tree_oid, size_t *n_joined, store *s, git_tree *own_tree,
                       git_tree *peer_tree, char *err, size_t errlen)
{
    join_ctx j = {0};
    uerr rc = UERR_OK;
    j.repo = s->bulk;
    j.err = err;
    j.errlen = errlen;
    if (store_tree_changes(s->bulk, own_tree, peer_tree, join_file_cb, &j) != 0 || j.rc) {
        rc = j.rc ? j.rc : store_git_err(err, errlen, UERR_IO, "comparing the two heads");
        goto cleanup;
    }
    for (size_t i = 0; i < j.n; i++)
        j.up[i].path = j.paths[i];
    git_oid_cpy(tree_oid, git_tree_id(own_tree));
    if (j.n && git_tree_create_updated(tree_oid, s->bulk, own_tree, j.n, j.up) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "building the merged tree");
    *n_joined = j.n;
cleanup:
    free(j.up);
    free(j.paths);
    return rc;
}

/* ---- taking in a head ---------------------------------------------------------- */

/* The own branch fast-forwards to the peer head pc. */
static uerr take_forward(store *s, git_commit *pc, store_record_cb changed, void *arg, char *err,
                         size_t errlen)
{
    git_oid old_tree;
    int had_head = s->has_head;
    git_oid_cpy(&old_tree, &s->tree);
    uerr rc = store_branch_move(s, s->repo, git_commit_id(pc), "fast-forward", err, errlen);
    if (rc != UERR_OK)
        return rc;
    git_oid_cpy(&s->head, git_commit_id(pc));
    git_oid_cpy(&s->tree, git_commit_tree_id(pc));
    s->has_head = 1;
    store_index_write_begin(s);
    rc = emit_changes(s->repo, had_head ? &old_tree : NULL, &s->tree, changed, arg, err, errlen);
    store_index_write_end(s);
    return rc;
}

/* Write the merge commit (own head, peer head) with tree tree_oid and move
 * the own branch to it. */
static uerr merge_commit(store *s, git_commit *own, const git_oid *peer, git_commit *pc,
                         const git_oid *tree_oid, const char *peer_node, int tie, size_t n,
                         char *err, size_t errlen)
{
    git_commit *pcb = NULL;
    git_tree *merged = NULL;
    git_signature *sig = NULL;
    git_oid commit_oid;
    char msg[256], author[300], shortid[13];
    uerr rc = UERR_OK;
    git_oid_tostr(shortid, sizeof shortid, peer);
    const git_signature *pa = git_commit_author(pc);
    const char *at = pa && pa->email ? strchr(pa->email, '@') : NULL;
    if (tie)
        snprintf(msg, sizeof msg, "merge %s %s\n\nsame records: ties two merges together\n",
                 peer_node, shortid);
    else
        snprintf(msg, sizeof msg, "merge %s %s\n\nrecords joined: %zu\n", at ? at + 1 : "peer",
                 shortid, n);
    snprintf(author, sizeof author, "uniond@%s", s->node);
    /* Parents must belong to the repository object the commit is made in:
     * libgit2 silently drops a parent owned by another one. */
    if (git_commit_lookup(&pcb, s->bulk, peer) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "reading the peer head");
        goto cleanup;
    }
    const git_commit *parents[2] = {own, pcb};
    if (git_tree_lookup(&merged, s->bulk, tree_oid) < 0 ||
        git_signature_now(&sig, "uniond", author) < 0 ||
        git_commit_create(&commit_oid, s->bulk, NULL, sig, sig, "UTF-8", msg, merged, 2, parents) <
            0) {
        rc = store_git_err(err, errlen, UERR_IO, "creating the merge commit");
        git_mempack_reset(s->mempack);
        goto cleanup;
    }
    rc = store_mempack_flush(s, &commit_oid, err, errlen);
    if (rc == UERR_OK)
        rc = store_branch_move(s, s->repo, &commit_oid, msg, err, errlen);
    if (rc == UERR_OK) {
        git_oid_cpy(&s->head, &commit_oid);
        git_oid_cpy(&s->tree, tree_oid);
    }
cleanup:
    git_signature_free(sig);
    git_tree_free(merged);
    git_commit_free(pcb);
    return rc;
}

/* 1 if no branch in the store (other than the own one) has a name that
 * sorts before the own node's: this node is the least one it knows of,
 * the only one that ties equal trees together. With the pairwise rule
 * (tie when the own name sorts before the peer's) every node but the
 * greatest ties with someone, and with three or more such nodes each tie
 * is news to the others, who tie it again: the partition test
 * (tests/faults/partition.sh, five nodes) saw four nodes trade hundreds
 * of tie commits on one tree, never quiet. With one tie maker, the others
 * only fast-forward: once writes stop its head takes in every other head
 * and everyone fast-forwards to it. 0 on a read error (no tie: a missed
 * tie only leaves heads apart, never records). */
static int own_name_least(store *s)
{
    git_branch_iterator *it = NULL;
    git_reference *ref = NULL;
    git_branch_t type;
    int least = 1;
    if (git_branch_iterator_new(&it, s->repo, GIT_BRANCH_LOCAL) < 0)
        return 0;
    while (least && git_branch_next(&ref, &type, it) == 0) {
        const char *name = NULL;
        if (git_branch_name(&name, ref) < 0 || (name && strcmp(name, s->node) < 0))
            least = 0;
        git_reference_free(ref);
    }
    git_branch_iterator_free(it);
    return least;
}

/* Concurrent work: join only the records whose blobs differ. */
static uerr take_concurrent(store *s, git_commit *pc, const char *peer_node,
                            store_record_cb changed, void *arg, store_take *outcome, char *err,
                            size_t errlen)
{
    git_commit *own = NULL;
    git_tree *own_tree = NULL, *peer_tree = NULL;
    git_oid old_tree, tree_oid;
    size_t n = 0;
    uerr rc;
    git_oid_cpy(&old_tree, &s->tree);
    if (git_commit_lookup(&own, s->bulk, &s->head) < 0 || git_commit_tree(&own_tree, own) < 0 ||
        git_tree_lookup(&peer_tree, s->bulk, git_commit_tree_id(pc)) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "comparing the two heads");
        goto cleanup;
    }
    rc = join_trees(&tree_oid, &n, s, own_tree, peer_tree, err, errlen);
    if (rc != UERR_OK) {
        git_mempack_reset(s->mempack);
        goto cleanup;
    }
    int tie = 0;
    if (!n || git_oid_equal(&tree_oid, &s->tree)) {
        /* The own tree already holds the join. Two nodes that merged each
         * other at once hold equal trees on different commits; if both
         * merged again they would trade merges forever. So only the node
         * whose name sorts first of all the nodes it holds branches of
         * ties the two commits together (same tree), and the others
         * fast-forward to that: a quiet network ends with every branch on
         * one commit (own_name_least says why not pairwise). */
        git_mempack_reset(s->mempack);
        *outcome = STORE_TAKE_SAME_TREE;
        if (!peer_node || strcmp(s->node, peer_node) >= 0 || !own_name_least(s))
            goto cleanup;
        git_oid_cpy(&tree_oid, &s->tree);
        tie = 1;
    }
    rc = merge_commit(s, own, git_commit_id(pc), pc, &tree_oid, peer_node, tie, n, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    *outcome = STORE_TAKE_MERGED;
    if (!tie) {
        store_index_write_begin(s);
        rc = emit_changes(s->repo, &old_tree, &s->tree, changed, arg, err, errlen);
        store_index_write_end(s);
    }
cleanup:
    git_tree_free(own_tree);
    git_tree_free(peer_tree);
    git_commit_free(own);
    return rc;
}

/* 1 when head is a parent of c: the usual live change (one commit on top
 * of what we hold), known a fast-forward without git_graph_descendant_of's
 * walk (5% of a receiver's CPU per change). */
static int head_is_parent(const git_commit *c, const git_oid *head)
{
    unsigned int n = git_commit_parentcount(c);
    for (unsigned int i = 0; i < n; i++)
        if (git_oid_equal(git_commit_parent_id(c, i), head))
            return 1;
    return 0;
}

uerr store_take_head_in(store *s, const char *peer_hex, const char *peer_node,
                        store_record_cb changed, void *arg, store_take *outcome, char *err,
                        size_t errlen)
{
    git_oid peer;
    git_commit *pc = NULL;
    uerr rc = UERR_OK;
    *outcome = STORE_TAKE_NOTHING;
    if (git_oid_fromstr(&peer, peer_hex) < 0 || git_commit_lookup(&pc, s->repo, &peer) < 0)
        return uerr_set(err, errlen, UERR_NOTFOUND, "head %.40s is not a commit in the store",
                        peer_hex);
    if (s->has_head && git_oid_equal(&peer, &s->head))
        goto cleanup;
    if (!s->has_head || head_is_parent(pc, &s->head) ||
        git_graph_descendant_of(s->repo, &peer, &s->head) == 1) {
        rc = take_forward(s, pc, changed, arg, err, errlen);
        /* the branch may have moved even if the index update failed */
        if (s->has_head && git_oid_equal(&s->head, &peer))
            *outcome = STORE_TAKE_FORWARD;
        goto cleanup;
    }
    if (git_graph_descendant_of(s->repo, &s->head, &peer) == 1)
        goto cleanup;
    rc = take_concurrent(s, pc, peer_node, changed, arg, outcome, err, errlen);
cleanup:
    git_commit_free(pc);
    return rc;
}

uerr store_take_head(store *s, const char *peer_hex, const char *peer_node, store_record_cb changed,
                     void *arg, store_take *outcome, char *err, size_t errlen)
{
    store_enter(s);
    uerr rc = store_take_head_in(s, peer_hex, peer_node, changed, arg, outcome, err, errlen);
    store_leave(s);
    return rc;
}
