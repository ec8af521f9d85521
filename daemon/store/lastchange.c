/* lastchange.c - when the own head last moved and who moved it, for
 * `unionctl status`. Part of the store room (includes git2.h); reads only
 * the head commit's author, never a record. */
#include "daemon/store/store_int.h"

#include <stdio.h>

uerr store_last_change(store *s, int64_t *time, char *who, size_t wholen, char *err, size_t errlen)
{
    git_commit *c = NULL;
    *time = 0;
    if (wholen)
        who[0] = 0;
    if (!s->has_head)
        return UERR_OK;
    store_enter(s);
    uerr rc = UERR_OK;
    if (git_commit_lookup(&c, s->repo, &s->head) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "reading the head commit");
    } else {
        const git_signature *au = git_commit_author(c);
        *time = (int64_t)git_commit_time(c);
        snprintf(who, wholen, "%s", au && au->email ? au->email : "");
    }
    git_commit_free(c);
    store_leave(s);
    return rc;
}
