/* fsutil.h - THE way the daemon writes a file that must survive a crash,
 * and joins paths. Every room that replaces a file (config, bundles) calls
 * fsutil_write_atomic, one that creates a file that must not exist yet
 * (identity keys) fsutil_write_new; nothing else may write a temp file
 * and rename it by hand. Uses no other daemon room. */
#ifndef UNIOND_FSUTIL_H
#define UNIOND_FSUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "proto/uerr.h"

/* Replace path with data[0..len), atomically and durably: the bytes are
 * written to "<path>.tmp" in the same directory (created with mode, made
 * exactly mode whatever the umask; a stale .tmp left by a crash is
 * replaced; a symlink there is refused), fsynced, renamed over path, and
 * the directory is fsynced so the rename itself survives a power cut.
 * After a failure path is untouched and the temp file removed. Returns
 * UERR_OK, UERR_INVALID (no path), UERR_NOMEM, or UERR_IO with the step
 * and errno in err. data stays the caller's. */
uerr fsutil_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                         size_t errlen);

/* The same durable write for a file that must not exist yet (a node's key):
 * like fsutil_write_atomic, but the temp file is hard-linked to path, so
 * an existing path is never replaced (UERR_CONFLICT, "<path> already
 * exists", nothing changed) even when two writers race. path never holds a
 * partial file, even after a crash. data stays the caller's. */
uerr fsutil_write_new(const char *path, const void *data, size_t len, mode_t mode, char *err,
                      size_t errlen);

/* fsync the directory that holds path ("." when path has no '/'), so a
 * newly created or renamed entry in it is durable. A filesystem that
 * cannot sync directories (EINVAL) counts as success. UERR_IO or
 * UERR_NOMEM on failure. */
uerr fsutil_dir_sync(const char *path, char *err, size_t errlen);
/* fsync the file at path (written earlier without it). UERR_OK, or UERR_IO
 * with err naming the file. */
uerr fsutil_file_sync(const char *path, char *err, size_t errlen);

/* Open path (a file a user named: a bundle, a backup) for reading without
 * blocking on what is not a file: a FIFO would hold the store queue until
 * something wrote to it. 0 with *out (the caller fcloses it) and *st;
 * -1 when path is not a regular file (nothing left open); else the errno
 * of the open. */
int fsutil_file_open_regular(FILE **out, struct stat *st, const char *path);

/* Write all len bytes to fd, retrying short writes and EINTR. 0, or -1
 * with errno set. */
int fsutil_write_all(int fd, const void *data, size_t len);

/* out = dir + "/" + name (no '/' doubled when dir ends in one). Never
 * truncates: UERR_INVALID with a message when the result does not fit in
 * outlen bytes (out is then ""). */
uerr fsutil_path_join(char *out, size_t outlen, const char *dir, const char *name, char *err,
                      size_t errlen);

#endif
