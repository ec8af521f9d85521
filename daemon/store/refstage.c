/* refstage.c - the own branch moved by git's lock protocol, with the lock
 * file written and fsynced while the batch's pack is still being flushed.
 *
 * A group commit (gcommit.c) makes its pack durable, then moves the
 * branch. Through libgit2 that is four flushes in a row: pack and index
 * (side by side), the pack folder, the lock file, the refs folder. The lock
 * file holds only the new head's id, known before the pack is written, so
 * it can be written and fsynced beside the pack and index: three files
 * flushed at once cost the disk about what two do. What must stay in
 * order does: the lock is renamed over the ref only after the pack folder
 * is fsynced, and the refs folder is fsynced before the write is
 * acknowledged. A crash before the rename leaves the old branch and a
 * stale "<ref>.lock", which store_open removes (repo.c, unlink_stale).
 * Part of the store room. */
#include "daemon/store/store_int.h"
#include "daemon/util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The lock's bytes, unsynced (the journal holds the move). */
static int ref_lock_put(int fd, const git_oid *oid)
{
    char line[GIT_OID_HEXSZ + 2];
    git_oid_tostr(line, sizeof line, oid);
    line[GIT_OID_HEXSZ] = '\n';
    errno = 0;
    if (fsutil_write_all(fd, line, GIT_OID_HEXSZ + 1) != 0)
        return errno ? errno : EIO;
    return 0;
}

int store_ref_lock_fill(int fd, const git_oid *oid)
{
    int e = ref_lock_put(fd, oid);
    if (!e && fsync(fd) != 0)
        e = errno ? errno : EIO;
    return e;
}

static void *stage_write(void *arg)
{
    store_refstage *st = arg;
    st->werr = st->nosync ? ref_lock_put(st->fd, &st->to) : store_ref_lock_fill(st->fd, &st->to);
    if (close(st->fd) != 0 && !st->werr)
        st->werr = errno;
    st->fd = -1;
    return NULL;
}

uerr store_refstage_begin(store_refstage *st, store *s, const git_oid *to, int sync)
{
    int valid = 0;
    memset(st, 0, sizeof *st);
    st->fd = -1;
    /* a name git would read another way (a folder in it): libgit2 moves it */
    if (git_reference_name_is_valid(&valid, s->ref) < 0 || !valid ||
        strncmp(s->ref, "refs/heads/", 11) != 0 || strchr(s->ref + 11, '/'))
        return UERR_INVALID;
    int n = snprintf(st->path, sizeof st->path, "%s%s", git_repository_path(s->repo), s->ref);
    if (n < 0 || (size_t)n >= sizeof st->path)
        return UERR_INVALID;
    snprintf(st->lock, sizeof st->lock, "%s.lock", st->path);
    git_oid_cpy(&st->to, to);
    st->nosync = !sync;
    /* O_EXCL: git's lock; another writer (plain git) holds it -> libgit2's
     * path, which names the lock in its error */
    st->fd = open(st->lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (st->fd < 0)
        return UERR_IO;
    /* unsynced, a write of 41 bytes is not worth a thread */
    st->threaded = sync && pthread_create(&st->th, NULL, stage_write, st) == 0;
    if (!st->threaded)
        stage_write(st); /* no thread to be had: the same work, in order */
    return UERR_OK;
}

/* Wait for the lock file's flush. */
static void stage_join(store_refstage *st)
{
    if (st->threaded) {
        pthread_join(st->th, NULL);
        st->threaded = 0;
    }
}

void store_refstage_abort(store_refstage *st)
{
    stage_join(st);
    unlink(st->lock);
}

uerr store_refstage_commit(store_refstage *st, store *s, char *err, size_t errlen)
{
    git_oid cur;
    uerr rc;
    stage_join(st);
    if (st->werr) {
        rc = uerr_set(err, errlen, UERR_IO, "moving the branch: writing %s: %s", st->lock,
                      strerror(st->werr));
        goto fail;
    }
    /* under the lock: the branch is still the head we built on (nobody
     * else writes it, but a mismatch is never papered over) */
    int e = git_reference_name_to_id(&cur, s->repo, s->ref);
    if (e < 0 && e != GIT_ENOTFOUND) {
        rc = store_git_err(err, errlen, UERR_IO, "moving the branch");
        goto fail;
    }
    if ((e == 0) != (s->has_head != 0) || (e == 0 && !git_oid_equal(&cur, &s->head))) {
        rc = uerr_set(err, errlen, UERR_CONFLICT, "moving the branch: it moved under us");
        goto fail;
    }
    if (rename(st->lock, st->path) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "moving the branch: renaming %s: %s", st->lock,
                      strerror(errno));
        goto fail;
    }
    return st->nosync ? UERR_OK : fsutil_dir_sync(st->path, err, errlen);
fail:
    unlink(st->lock);
    return rc;
}
