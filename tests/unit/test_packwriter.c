/* test_packwriter.c - the store's pack writer's object encodings
 * (daemon/store/packwriter.c, store_packacc_add): objects stored (level 0,
 * the zlib stored blocks written by hand, one block per 65535 bytes) and
 * deflated (level 1, libdeflate) at the sizes around the block limit, in
 * one pack written into a bare repository and read back by plain git:
 * `git verify-pack` and every object's bytes by `git cat-file`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/unit_sh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon/store/store_int.h"

static char root[64];

/* size bytes of a pattern that deflate can shrink but not to nothing */
static unsigned char *pattern(size_t size, unsigned seed)
{
    unsigned char *p = malloc(size ? size : 1);
    assert_non_null(p);
    for (size_t i = 0; i < size; i++)
        p[i] = (unsigned char)("abcdefgh"[(i * 7 + seed) % 8] ^ (i % 251 == 0 ? seed : 0));
    return p;
}

static void stored_and_deflated_read_back_by_git(void **state)
{
    (void)state;
    /* (one empty object: two would be one object twice) */
    static const size_t sizes[] = {0, 1, 100, 65534, 65535, 65536, 131070, 131071, 200000};
    const size_t nsizes = sizeof sizes / sizeof *sizes;
    char dir[128], packdir[160], err[256], hex[GIT_OID_HEXSZ + 1];
    git_oid ids[2 * 9];
    unsigned char *data[2 * 9];
    store_packacc a = {0};
    snprintf(dir, sizeof dir, "%s/r.git", root);
    assert_int_equal(unit_sh("git init -q --bare %s", dir), 0);
    snprintf(packdir, sizeof packdir, "%s/objects/pack", dir);
    for (size_t i = 0; i < 2 * nsizes; i++) {
        size_t size = i == nsizes ? 3 : sizes[i % nsizes];
        data[i] = pattern(size, (unsigned)i);
        assert_int_equal(git_odb_hash(&ids[i], data[i], size, GIT_OBJECT_BLOB), 0);
        /* the first half stored, the second deflated */
        assert_int_equal(
            store_packacc_add(&a, &ids[i], GIT_OBJECT_BLOB, data[i], size, i < nsizes ? 0 : 1), 0);
    }
    uerr rc = store_packacc_write_dir(packdir, &a, hex, err, sizeof err);
    if (rc != UERR_OK)
        fail_msg("store_packacc_write_dir: %s", err);
    assert_int_equal(unit_sh("git --git-dir=%s verify-pack %s/pack-%s.idx", dir, packdir, hex), 0);
    for (size_t i = 0; i < 2 * nsizes; i++) {
        char id[GIT_OID_HEXSZ + 1], path[256];
        git_oid_tostr(id, sizeof id, &ids[i]);
        snprintf(path, sizeof path, "%s/obj", root);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        size_t size = i == nsizes ? 3 : sizes[i % nsizes];
        assert_int_equal(fwrite(data[i], 1, size, f), size);
        fclose(f);
        assert_int_equal(unit_sh("git --git-dir=%s cat-file blob %s | cmp -s - %s", dir, id, path),
                         0);
        free(data[i]);
    }
    store_packacc_free(&a);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/test_packwriter.XXXXXX");
    return mkdtemp(root) && store_global_init() == UERR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    store_global_shutdown();
    return getenv("KEEP") ? 0 : unit_sh("rm -rf %s", root) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stored_and_deflated_read_back_by_git),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
