/* lastchange.c - when the own head last moved and who moved it, for
 * `unionctl status`. Part of the store room (includes git2.h); reads only
 * the head commit's author, never a record; the answer for one head is
 * kept (the group commit gives it as it makes the commit). */
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
    if (s->lc_ok && git_oid_equal(&s->lc_head, &s->head)) {
        *time = s->lc_time;
        snprintf(who, wholen, "%s", s->lc_who);
    } else if (git_commit_lookup(&c, s->repo, &s->head) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "reading the head commit");
    } else {
        const git_signature *au = git_commit_author(c);
        *time = (int64_t)git_commit_time(c);
        snprintf(who, wholen, "%s", au && au->email ? au->email : "");
        store_last_change_note(s, &s->head, *time, who);
    }
    git_commit_free(c);
    store_leave(s);
    return rc;
}

void store_last_change_note(store *s, const git_oid *head, int64_t time, const char *who)
{
    git_oid_cpy(&s->lc_head, head);
    s->lc_time = time;
    snprintf(s->lc_who, sizeof s->lc_who, "%s", who);
    s->lc_ok = 1;
}
