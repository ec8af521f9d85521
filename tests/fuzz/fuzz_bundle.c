/* fuzz_bundle.c - bundle import (header, prerequisites, pack indexing into
 * the quarantine, object checks) on arbitrary bytes. Whatever the input,
 * nothing may crash or leak, and a refused bundle must leave the store's
 * refs exactly as they were. One store is made per process. */
#include "daemon/store/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

static store *st;
static char dir[64];

static int nothing(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    (void)kind;
    (void)id;
    (void)buf;
    (void)len;
    (void)arg;
    return 0;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The store lives in /tmp for the life of the process; every replay of the
 * corpus makes one, so it is removed on the way out, or each `make test`
 * would leave a directory behind. */
static void teardown(void)
{
    store_free(st);
    st = NULL;
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    char path[128], err[256];
    snprintf(dir, sizeof dir, "/tmp/fuzz-bundle-XXXXXX");
    if (!mkdtemp(dir) || store_global_init() != 0)
        abort();
    snprintf(path, sizeof path, "%s/store.git", dir);
    if (store_create(path, "fuzz-node", err, sizeof err) != 0 ||
        store_open(&st, path, "fuzz-node", err, sizeof err) != 0)
        abort();
    atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], err[512], before[41], tree[41], after[41];
    store_bundle_report rep;
    if (!st)
        setup();
    snprintf(path, sizeof path, "%s/in.bundle", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    store_head(st, before, tree);
    if (store_bundle_read(st, path, nothing, NULL, &rep, err, sizeof err) != 0) {
        store_head(st, after, tree);
        if (strcmp(before, after) != 0 || err[0] == 0)
            abort(); /* a refusal must explain itself and change nothing */
    }
    unlink(path);
    return 0;
}
