/* history.c - the office's history: every change (commit) of the own
 * branch, newest first, with the records it wrote compared with its first
 * parent (store_log), and one change found by its id prefix
 * (store_change_find). Reads only: never writes the repository. Used by
 * `unionctl log` without an id and by `unionctl revert`. Store thread
 * only, like every store call. */
#include "daemon/store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* The deltas of one commit, gathered by store_tree_changes. */
typedef struct {
    store_delta *v;
    size_t n, cap;
    int failed; /* out of memory */
} delta_acc;

static int delta_collect(const git_diff_delta *d, float progress, void *payload)
{
    (void)progress;
    delta_acc *acc = payload;
    record_kind kind;
    char id[RECORD_ID_MAX + 1];
    if (kind_path_parse(&kind, id, sizeof id, d->new_file.path) != UERR_OK)
        return 0; /* schema/ and anything not a record: not a member's change */
    if (acc->n == acc->cap) {
        size_t nc = acc->cap ? acc->cap * 2 : 16;
        store_delta *nv = realloc(acc->v, nc * sizeof *nv);
        if (!nv) {
            acc->failed = 1;
            return 1;
        }
        acc->v = nv;
        acc->cap = nc;
    }
    store_delta *x = &acc->v[acc->n];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", id);
    x->kind = kind;
    memcpy(x->new_oid, d->new_file.id.id, sizeof x->new_oid);
    x->has_old = !git_oid_is_zero(&d->old_file.id);
    if (x->has_old)
        memcpy(x->old_oid, d->old_file.id.id, sizeof x->old_oid);
    acc->n++;
    return 0;
}

static void deltas_free(delta_acc *acc)
{
    for (size_t i = 0; i < acc->n; i++) {
        free((char *)acc->v[i].old_buf);
        free((char *)acc->v[i].new_buf);
    }
    free(acc->v);
    memset(acc, 0, sizeof *acc);
}

static uerr blob_copy(git_repository *repo, const unsigned char raw[STORE_OID_RAW],
                      const char **buf, size_t *len, char *err, size_t errlen)
{
    git_blob *b = NULL;
    git_oid oid;
    git_oid_fromraw(&oid, raw);
    if (git_blob_lookup(&b, repo, &oid) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading a record");
    *len = (size_t)git_blob_rawsize(b);
    char *c = malloc(*len + 1);
    if (c) {
        memcpy(c, git_blob_rawcontent(b), *len);
        c[*len] = 0;
    }
    git_blob_free(b);
    *buf = c;
    return c ? UERR_OK : uerr_set(err, errlen, UERR_NOMEM, "out of memory reading a record");
}

/* Fill info for commit c: author, message, and (for a commit of one
 * parent or none) the records it wrote with their bytes when there are at
 * most bufs_max of them. */
static uerr change_build(store *s, git_commit *c, const git_oid *oid, size_t bufs_max,
                         store_change_info *info, delta_acc *acc, char **node, char *err,
                         size_t errlen)
{
    const git_signature *au = git_commit_author(c);
    git_tree *t = NULL, *pt = NULL;
    git_commit *p = NULL;
    uerr rc = UERR_OK;
    memset(info, 0, sizeof *info);
    *node = strdup(au->email ? au->email : "");
    if (!*node)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    char *at = strchr(*node, '@');
    git_oid_tostr(info->commit, sizeof info->commit, oid);
    info->time = (int64_t)git_commit_time(c);
    info->operator= au->name ? au->name : "";
    info->node = at ? at + 1 : "";
    info->message = git_commit_message(c) ? git_commit_message(c) : "";
    info->parents = git_commit_parentcount(c);
    if (info->parents > 1)
        return UERR_OK; /* a sync merge: its changes are the other nodes' commits */
    if (git_commit_tree(&t, c) < 0 ||
        (info->parents == 1 && (git_commit_parent(&p, c, 0) < 0 || git_commit_tree(&pt, p) < 0))) {
        rc = store_git_err(err, errlen, UERR_IO, "reading a commit");
        goto cleanup;
    }
    int trc = store_tree_changes(s->repo, pt, t, delta_collect, acc);
    if (acc->failed) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (trc != 0) {
        rc = store_git_err(err, errlen, UERR_IO, "comparing trees");
        goto cleanup;
    }
    for (size_t i = 0; acc->n <= bufs_max && i < acc->n && rc == UERR_OK; i++) {
        store_delta *x = &acc->v[i];
        rc = blob_copy(s->repo, x->new_oid, &x->new_buf, &x->new_len, err, errlen);
        if (rc == UERR_OK && x->has_old)
            rc = blob_copy(s->repo, x->old_oid, &x->old_buf, &x->old_len, err, errlen);
    }
    info->deltas = acc->v;
    info->ndeltas = acc->n;
cleanup:
    git_tree_free(t);
    git_tree_free(pt);
    git_commit_free(p);
    return rc;
}

static uerr log_run(store *s, size_t bufs_max, store_change_cb cb, void *arg, char *err,
                    size_t errlen)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    uerr rc = UERR_OK;
    if (!s->has_head)
        return UERR_OK;
    if ((rc = store_walk_head(&walk, s, err, errlen)) != UERR_OK)
        return rc;
    while (rc == UERR_OK && git_revwalk_next(&oid, walk) == 0) {
        git_commit *c = NULL;
        delta_acc acc = {0};
        store_change_info info;
        char *node = NULL;
        if (git_commit_lookup(&c, s->repo, &oid) < 0) {
            rc = store_git_err(err, errlen, UERR_IO, "reading a commit");
            break;
        }
        rc = change_build(s, c, &oid, bufs_max, &info, &acc, &node, err, errlen);
        if (rc == UERR_OK)
            rc = (uerr)cb(&info, arg); /* the callback's own value, passed through */
        deltas_free(&acc);
        free(node);
        git_commit_free(c);
    }
    git_revwalk_free(walk);
    return rc;
}

uerr store_log(store *s, size_t bufs_max, store_change_cb cb, void *arg, char *err, size_t errlen)
{
    store_enter(s);
    uerr rc = log_run(s, bufs_max, cb, arg, err, errlen);
    store_leave(s);
    return rc;
}
