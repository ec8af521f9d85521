/* readview.c - the readers' store handle and the take-in's index lock
 * (readview.h). Part of the store room (includes git2.h). A reader store
 * is a struct store with only `repo` open: no bulk repository, no
 * mempack, so nothing here can write objects; store_free frees it like
 * any store. */
#include "daemon/store/readview.h"

#include "daemon/store/store_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uerr store_reader_open(store **out, const store *w, char *err, size_t errlen)
{
    store *r = calloc(1, sizeof *r);
    uerr rc;
    *out = NULL;
    if (!r || !(r->node = strdup(w->node))) {
        free(r);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    snprintf(r->ref, sizeof r->ref, "%s", w->ref);
    r->limits = w->limits;
    if (git_repository_open_bare(&r->repo, git_repository_path(w->repo)) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the git store for reading");
        goto fail;
    }
    if ((rc = store_reader_refresh(r, err, errlen)) != UERR_OK)
        goto fail;
    *out = r;
    return UERR_OK;
fail:
    store_free(r);
    return rc;
}

uerr store_reader_refresh(store *r, char *err, size_t errlen)
{
    git_oid head;
    git_commit *c = NULL;
    uerr rc = UERR_OK;
    assert(!r->bulk && "only a reader store is refreshed");
    store_enter(r);
    int e = git_reference_name_to_id(&head, r->repo, r->ref);
    if (e == GIT_ENOTFOUND) {
        r->has_head = 0; /* a new node: nothing written yet */
    } else if (e < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "reading the own branch");
    } else if (r->has_head && git_oid_equal(&head, &r->head)) {
        /* unchanged: the tree is the one read before */
    } else if (git_commit_lookup(&c, r->repo, &head) < 0) {
        /* the ref moves only after its objects are in: a miss is ours */
        rc = store_git_err(err, errlen, UERR_IO, "reading the head commit");
    } else {
        git_oid_cpy(&r->head, &head);
        git_oid_cpy(&r->tree, git_commit_tree_id(c));
        r->has_head = 1;
    }
    git_commit_free(c);
    store_leave(r);
    return rc;
}

void store_index_attach(store *s, recindex *ix)
{
    s->ix = ix;
}

void store_index_write_begin(store *s)
{
    if (s->ix)
        recindex_write_lock(s->ix);
}

void store_index_write_end(store *s)
{
    if (s->ix)
        recindex_unlock(s->ix);
}
