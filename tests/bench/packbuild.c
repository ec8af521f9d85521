/* packbuild.c - store_pack_build of a store's own head (a first
 * replication's pack for a peer), built without and with the pipe
 * (packwriter.c: objects copied on a thread of their own while the walk
 * lists them), interleaved ROUNDS times: wall and process CPU of each.
 * Run by tests/bench/packbuild.sh. */
#include "daemon/store/store_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    store *s = NULL;
    store_ref *h = NULL;
    size_t nh = 0;
    char err[512];
    const char *want[1] = {NULL};
    if (argc != 4) {
        fprintf(stderr, "usage: packbuild GITDIR NODE ROUNDS\n");
        return 2;
    }
    git_libgit2_init();
    if (store_open(&s, argv[1], argv[2], err, sizeof err) != UERR_OK ||
        store_heads(&h, &nh, s, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (size_t i = 0; i < nh; i++)
        if (strcmp(h[i].name, argv[2]) == 0)
            want[0] = h[i].oid;
    if (!want[0]) {
        fprintf(stderr, "no branch %s\n", argv[2]);
        return 1;
    }
    double sum[2] = {0, 0};
    int rounds = atoi(argv[3]);
    for (int r = 0; r < rounds; r++)
        for (int pipe = 0; pipe < 2; pipe++) {
            char *pk = NULL;
            size_t len = 0;
            store_test_pack_pipe(pipe ? 8192 : SIZE_MAX, 4096);
            double t = clock_s(CLOCK_MONOTONIC), c = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            if (store_pack_build(&pk, &len, s, want, 1, NULL, 0, err, sizeof err) != UERR_OK) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            double w = clock_s(CLOCK_MONOTONIC) - t;
            printf("%-10s wall %6.1f ms  CPU %6.1f ms  %zu bytes\n", pipe ? "pipe" : "sequential",
                   w * 1e3, (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c) * 1e3, len);
            if (r > 0) /* the first round warms the caches */
                sum[pipe] += w;
            free(pk);
        }
    if (rounds > 1)
        printf("mean of rounds 2..%d: sequential %.1f ms, pipe %.1f ms\n", rounds,
               sum[0] / (rounds - 1) * 1e3, sum[1] / (rounds - 1) * 1e3);
    free(h);
    store_free(s);
    return 0;
}
