/* fuzz_ingest.c - the object checks of the take-in path (objcheck.h) on
 * arbitrary bytes: the first byte picks the check (0 tree, 1 commit, 2
 * record blob, by value mod 3), the rest is the object's raw content.
 * Nothing may crash or leak, every refusal must say why, and what a check
 * accepts must hold together: an accepted tree iterates to its last byte
 * in strictly increasing names, an accepted record decodes, an accepted
 * commit names a tree in lowercase hex. Pure: no store is opened. */
#include "daemon/store/objcheck.h"

#include "proto/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void tree_case(const unsigned char *b, size_t n)
{
    objcheck_tree_kind kind;
    char err[256] = "";
    if (objcheck_tree(&kind, b, n, err, sizeof err) != UERR_OK) {
        if (!err[0])
            abort();
        return;
    }
    size_t pos = 0, cnt = 0, namelen, prevlen = 0;
    const char *name, *prev = NULL;
    const unsigned char *id;
    while (objcheck_tree_next(&pos, &name, &namelen, &id, b, n)) {
        if (namelen == 0 || memchr(name, '/', namelen))
            abort();
        if (prev && prevlen == namelen && memcmp(prev, name, namelen) == 0)
            abort(); /* a duplicate got through */
        if (kind == OBJCHECK_TREE_ROOT && !objcheck_toplevel_valid(name, namelen))
            abort();
        prev = name;
        prevlen = namelen;
        cnt++;
    }
    if (pos != n || cnt == 0)
        abort();
}

static void commit_case(const unsigned char *b, size_t n)
{
    objcheck_commit_info ci;
    char err[256] = "";
    if (objcheck_commit(&ci, b, n, err, sizeof err) != UERR_OK) {
        if (!err[0])
            abort();
        return;
    }
    if (strlen(ci.tree) != 40 || strspn(ci.tree, "0123456789abcdef") != 40 ||
        ci.nparents > STORE_COMMIT_PARENTS_MAX)
        abort();
}

static void record_case(const unsigned char *b, size_t n)
{
    char err[256] = "", derr[128];
    record r;
    if (objcheck_record((const char *)b, n, err, sizeof err) != UERR_OK) {
        if (!err[0])
            abort();
        return;
    }
    if (record_decode(&r, (const char *)b, n, derr, sizeof derr) != 0)
        abort(); /* accepted but not canonical */
    record_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const unsigned char *b = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        tree_case(b, n);
        break;
    case 1:
        commit_case(b, n);
        break;
    default:
        record_case(b, n);
    }
    return 0;
}
