/* fsutil.c - atomic durable file replacement and path joining (see
 * fsutil.h). Must never include another daemon room's header. */
#include "daemon/util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsutil_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsutil_file_open_regular(FILE **out, struct stat *st, const char *path)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO for reading waits for a writer without it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        int e = errno ? errno : EIO;
        close(fd);
        return e;
    }
    *out = f;
    return 0;
}

uerr fsutil_dir_sync(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        uerr e =
            uerr_set(err, errlen, UERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
        free(dir);
        return e;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0 && saved != EINVAL) { /* EINVAL: the filesystem cannot sync directories */
        uerr e =
            uerr_set(err, errlen, UERR_IO, "cannot sync directory %s: %s", dir, strerror(saved));
        free(dir);
        return e;
    }
    free(dir);
    return UERR_OK;
}

/* Put the finished temp file in place: rename over path, or (no_replace)
 * a hard link that fails with EEXIST when path exists, so the check and the
 * creation are one atomic step; the temp name is then removed. */
static uerr fsutil_publish(const char *tmp, const char *path, int no_replace, char *err,
                           size_t errlen)
{
    if (!no_replace) {
        if (rename(tmp, path) != 0)
            return uerr_set(err, errlen, UERR_IO, "cannot rename %s to %s: %s", tmp, path,
                            strerror(errno));
        return UERR_OK;
    }
    if (link(tmp, path) != 0) {
        if (errno == EEXIST)
            return uerr_set(err, errlen, UERR_CONFLICT, "%s already exists", path);
        return uerr_set(err, errlen, UERR_IO, "cannot link %s to %s: %s", tmp, path,
                        strerror(errno));
    }
    unlink(tmp); /* a leftover name would only be replaced by the next write */
    return UERR_OK;
}

/* The one implementation behind fsutil_write_atomic and fsutil_write_new. */
static uerr fsutil_write_file(const char *path, const void *data, size_t len, mode_t mode,
                              int no_replace, char *err, size_t errlen)
{
    uerr e = UERR_OK;
    int fd = -1, made = 0;
    char *tmp = NULL;

    if (!path || !*path)
        return uerr_set(err, errlen, UERR_INVALID, "fsutil: no path given to write");
    size_t plen = strlen(path);
    tmp = malloc(plen + sizeof ".tmp");
    if (!tmp)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", sizeof ".tmp");
    /* O_TRUNC: a .tmp left by a crash is ours to replace. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        e = uerr_set(err, errlen, UERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    made = 1;
    /* The umask can only have removed bits; make the mode exact. */
    if (fchmod(fd, mode) != 0 || fsutil_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        e = uerr_set(err, errlen, UERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0) {
        e = uerr_set(err, errlen, UERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    e = fsutil_publish(tmp, path, no_replace, err, errlen);
    if (e != UERR_OK)
        goto cleanup;
    made = 0;
    char derr[256];
    if (fsutil_dir_sync(path, derr, sizeof derr) != UERR_OK) {
        e = uerr_set(err, errlen, UERR_IO, "wrote %s but %s", path, derr);
        goto cleanup;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    free(tmp);
    return e;
}

uerr fsutil_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                         size_t errlen)
{
    return fsutil_write_file(path, data, len, mode, 0, err, errlen);
}

uerr fsutil_write_new(const char *path, const void *data, size_t len, mode_t mode, char *err,
                      size_t errlen)
{
    return fsutil_write_file(path, data, len, mode, 1, err, errlen);
}

uerr fsutil_path_join(char *out, size_t outlen, const char *dir, const char *name, char *err,
                      size_t errlen)
{
    size_t dl = strlen(dir);
    const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";
    int n = snprintf(out, outlen, "%s%s%s", dir, sep, name);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen)
            out[0] = '\0';
        return uerr_set(err, errlen, UERR_INVALID, "path %s%s%s is too long (at most %zu bytes)",
                        dir, sep, name, outlen ? outlen - 1 : 0);
    }
    return UERR_OK;
}

uerr fsutil_file_sync(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        uerr rc = uerr_set(err, errlen, UERR_IO, "flushing %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    close(fd);
    return UERR_OK;
}
