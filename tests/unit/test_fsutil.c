/* test_fsutil.c - atomic file replacement (content, exact mode, no temp
 * left, a failure leaves the old file) and a path join that refuses to
 * truncate. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/util/fsutil.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char data[4096];
    size_t n = fread(data, 1, sizeof data - 1, f);
    fclose(f);
    data[n] = '\0';
    return data;
}

static void test_write_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_fsutil.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], tmp[300], err[256];
    assert_int_equal(fsutil_path_join(path, sizeof path, dir, "a.conf", err, sizeof err), UERR_OK);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    assert_int_equal(fsutil_write_atomic(path, "one\n", 4, 0600, err, sizeof err), UERR_OK);
    assert_string_equal(slurp(path), "one\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(access(tmp, F_OK), -1); /* no temp file left */

    assert_int_equal(fsutil_write_atomic(path, "two\n", 4, 0644, err, sizeof err), UERR_OK);
    assert_string_equal(slurp(path), "two\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);

    /* a symlink where the temp file goes is refused; the file is unchanged */
    assert_int_equal(symlink("/tmp/nowhere-fsutil", tmp), 0);
    assert_int_equal(fsutil_write_atomic(path, "three\n", 6, 0644, err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, "cannot create"));
    assert_string_equal(slurp(path), "two\n");
    unlink(tmp);

    /* a missing directory is a local I/O error */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such", dir);
    assert_int_equal(fsutil_write_atomic(missing, "x", 1, 0644, err, sizeof err), UERR_IO);
    assert_int_equal(fsutil_write_atomic("", "x", 1, 0644, err, sizeof err), UERR_INVALID);
    assert_int_equal(fsutil_dir_sync(path, err, sizeof err), UERR_OK);

    unlink(path);
    rmdir(dir);
}

/* write_new never replaces: the existing file keeps its bytes, no temp file
 * is left, and a new path gets the exact mode. */
static void test_write_new(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_fsutil.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], tmp[300], err[256];
    assert_int_equal(fsutil_path_join(path, sizeof path, dir, "node.key", err, sizeof err),
                     UERR_OK);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    mode_t old = umask(077);
    assert_int_equal(fsutil_write_new(path, "key\n", 4, 0600, err, sizeof err), UERR_OK);
    umask(old);
    assert_string_equal(slurp(path), "key\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_nlink, 1); /* the temp name is gone */
    assert_int_equal(access(tmp, F_OK), -1);

    err[0] = '\0';
    assert_int_equal(fsutil_write_new(path, "other\n", 6, 0600, err, sizeof err), UERR_CONFLICT);
    assert_non_null(strstr(err, "already exists"));
    assert_string_equal(slurp(path), "key\n");
    assert_int_equal(access(tmp, F_OK), -1);

    unlink(path);
    rmdir(dir);
}

static void test_path_join(void **state)
{
    (void)state;
    char out[16], err[256];
    assert_int_equal(fsutil_path_join(out, sizeof out, "/data", "x.sock", err, sizeof err),
                     UERR_OK);
    assert_string_equal(out, "/data/x.sock");
    assert_int_equal(fsutil_path_join(out, sizeof out, "/data/", "x", err, sizeof err), UERR_OK);
    assert_string_equal(out, "/data/x");
    /* exactly fits: 15 bytes + NUL */
    assert_int_equal(fsutil_path_join(out, sizeof out, "/abcdefgh", "12345", err, sizeof err),
                     UERR_OK);
    assert_int_equal(fsutil_path_join(out, sizeof out, "/abcdefgh", "123456", err, sizeof err),
                     UERR_INVALID);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_write_new),
        cmocka_unit_test(test_path_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
