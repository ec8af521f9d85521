/* packwriter.c - does the store's own pack writer (daemon/store/packwriter.c)
 * beat libgit2's git_packbuilder on the same data? Reads a genmembers CSV,
 * makes one canonical record per row, and writes them as one bulk commit
 * (what `unionctl import` does) into two fresh stores: once flushed by the
 * own writer (store_mempack_flush), once by git_packbuilder (the same
 * mempack objects, packed and written the way git_mempack_dump does). Both
 * runs do the same blob/tree/commit work; only the pack writing differs.
 * A measurement tool, not a daemon room: it includes the store room's
 * internal header. Run by tests/bench/packwriter.sh. */
#include "daemon/store/store_int.h"

#include "proto/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    char id[24];
    char *buf;
    size_t len;
} rec;

/* One record per CSV row (genmembers output: no quoting, no commas in values). */
static size_t records_read(rec **out, const char *csv)
{
    FILE *f = fopen(csv, "r");
    char line[4096], *fields[32], *names[32];
    size_t n = 0, cap = 1024, nf = 0;
    rec *v = malloc(cap * sizeof *v);
    if (!f || !v || !fgets(line, sizeof line, f))
        exit(2);
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = strtok(line, ","); p && nf < 32; p = strtok(NULL, ","))
        names[nf++] = strdup(p);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        size_t k = 0;
        char *p = line;
        for (; k < nf; k++) {
            fields[k] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = 0;
            p = c + 1;
        }
        record r;
        record_init(&r);
        for (size_t i = 0; i < nf && i <= k; i++) {
            if (!*fields[i])
                continue;
            if (strcmp(names[i], "benefits") == 0)
                record_set_add(&r, "bench", 1795860000000LL, names[i], fields[i]);
            else
                record_write(&r, "bench", 1795860000000LL, names[i], fields[i]);
        }
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        snprintf(v[n].id, sizeof v[n].id, "b%015zu", n);
        if (!v || record_encode(&v[n].buf, &v[n].len, &r) != 0)
            exit(2);
        record_free(&r);
        n++;
    }
    fclose(f);
    for (size_t i = 0; i < nf; i++)
        free(names[i]);
    *out = v;
    return n;
}

/* libgit2's packbuilder over the commit tip and everything it reaches
 * (an initial import: every object is new), written into the store. */
static uerr flush_packbuilder(store *s, const git_oid *tip, char *err, size_t errlen)
{
    git_packbuilder *pb = NULL;
    git_buf buf = {0};
    git_odb *disk = NULL;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = {0};
    uerr rc = UERR_OK;
    if (git_packbuilder_new(&pb, s->bulk) < 0 || git_packbuilder_insert_commit(pb, tip) < 0 ||
        git_packbuilder_write_buf(&buf, pb) < 0 || git_repository_odb(&disk, s->repo) < 0 ||
        git_odb_write_pack(&wp, disk, NULL, NULL) < 0 ||
        wp->append(wp, buf.ptr, buf.size, &stats) < 0 || wp->commit(wp, &stats) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "packbuilder");
    if (wp)
        wp->free(wp);
    git_odb_free(disk);
    git_buf_dispose(&buf);
    git_packbuilder_free(pb);
    git_mempack_reset(s->mempack);
    return rc;
}

/* One bulk commit of every record, as store_commit(bulk=1) makes it; the
 * pack is written by the own writer (own=1) or by git_packbuilder. Returns
 * seconds for the whole commit; *flush_s the pack writing alone. */
static double import(const char *dir, const rec *v, size_t n, int own, double *flush_s)
{
    store *s = NULL;
    char err[512];
    if (store_create(dir, "bench", err, sizeof err) != UERR_OK ||
        store_open(&s, dir, "bench", err, sizeof err) != UERR_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    git_tree_update *up = calloc(n, sizeof *up);
    char(*paths)[RECORD_ID_MAX + 32] = calloc(n, sizeof *paths);
    git_oid tree_oid, commit_oid;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        record_path(paths[i], sizeof paths[i], v[i].id);
        if (git_blob_create_from_buffer(&up[i].id, s->bulk, v[i].buf, v[i].len) < 0)
            exit(1);
        up[i].action = GIT_TREE_UPDATE_UPSERT;
        up[i].filemode = GIT_FILEMODE_BLOB;
        up[i].path = paths[i];
    }
    if (git_tree_create_updated(&tree_oid, s->bulk, NULL, n, up) < 0 ||
        git_tree_lookup(&tree, s->bulk, &tree_oid) < 0 ||
        git_signature_now(&sig, "bench", "bench@bench") < 0 ||
        git_commit_create(&commit_oid, s->bulk, NULL, sig, sig, "UTF-8", "import\n", tree, 0,
                          NULL) < 0)
        exit(1);
    double t1 = now();
    uerr e = own ? store_mempack_flush(s, &commit_oid, err, sizeof err)
                 : flush_packbuilder(s, &commit_oid, err, sizeof err);
    if (e != UERR_OK || store_branch_move(s, s->repo, &commit_oid, "import", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    double t2 = now();
    *flush_s = t2 - t1;
    git_signature_free(sig);
    git_tree_free(tree);
    free(up);
    free(paths);
    store_free(s);
    return t2 - t0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MEMBERS.csv WORKDIR ROUNDS\n", argv[0]);
        return 2;
    }
    rec *v;
    size_t n = records_read(&v, argv[1]);
    int rounds = atoi(argv[3]);
    double best[2] = {1e9, 1e9}, bestf[2] = {1e9, 1e9};
    store_global_init();
    for (int r = 0; r < rounds; r++)
        for (int own = 1; own >= 0; own--) {
            char dir[4096];
            double f;
            snprintf(dir, sizeof dir, "%s/%s-%d.git", argv[2], own ? "own" : "packbuilder", r);
            double t = import(dir, v, n, own, &f);
            if (t < best[own])
                best[own] = t;
            if (f < bestf[own])
                bestf[own] = f;
            char cmd[4200];
            snprintf(cmd, sizeof cmd, "du -sk %s/objects/pack | cut -f1 > %s/size", dir, argv[2]);
            if (system(cmd) == 0 && r == 0) {
                snprintf(cmd, sizeof cmd, "%s/size", argv[2]);
                FILE *sf = fopen(cmd, "r");
                long kb = 0;
                if (sf && fscanf(sf, "%ld", &kb) == 1)
                    printf("%-12s pack size %ld KiB\n", own ? "own" : "packbuilder", kb);
                if (sf)
                    fclose(sf);
            }
        }
    printf("records %zu, best of %d rounds\n", n, rounds);
    printf("own writer:   import %.3f s (pack writing %.3f s)\n", best[1], bestf[1]);
    printf("packbuilder:  import %.3f s (pack writing %.3f s)\n", best[0], bestf[0]);
    printf("ratio packbuilder/own: import %.2fx, pack writing %.2fx\n", best[0] / best[1],
           bestf[0] / bestf[1]);
    for (size_t i = 0; i < n; i++)
        free(v[i].buf);
    free(v);
    store_global_shutdown();
    return 0;
}
