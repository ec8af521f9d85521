/* recsnap.c - the persisted record index (see recsnap.h; the bytes:
 * recsnap_fmt.h).
 *
 * The snapshot is the compact index itself, so a start with a current one
 * copies records' bytes instead of decoding a million blobs. A snapshot of
 * another tree (the head moved since it was written) is brought up to the
 * head from git's diff of the two trees: its unchanged records are used,
 * the changed ones read from git, and the result written as the new
 * snapshot. When the old tree is gone (pruned), or the file is missing,
 * damaged or of another version, everything is read from git. The file is
 * written to a temporary name and renamed, without fsync: a torn file
 * after a crash fails its checksum and is rebuilt, which is all a cache
 * needs. A clean shutdown writes it too (store_save_index), so the start
 * after a bulk import or a day of changes copies the index instead of
 * reading every changed record from git. */
#include "daemon/store/recsnap.h"
#include "daemon/store/recsnap_fmt.h"
#include "daemon/store/store_int.h"
#include "daemon/util/log.h"
#include "proto/kind.h"
#include "proto/map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading ---------------------------------------------------------------- */

/* A checked snapshot, mapped. */
typedef struct {
    unsigned char *p;
    size_t size;
    char tree[41]; /* the tree it reflects, hex */
} snap_map;

/* Map and check the snapshot at path. 1, or 0 when there is no usable one
 * (then nothing is mapped). */
static int snap_open(snap_map *m, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    memset(m, 0, sizeof *m);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return 0;
    }
    m->size = (size_t)st.st_size;
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 0;
    madvise(p, m->size, MADV_SEQUENTIAL);
    m->p = p;
    if (!recsnap_fmt_check(m->tree, m->p, m->size)) {
        munmap(m->p, m->size);
        m->p = NULL;
        return 0;
    }
    return 1;
}

static void snap_close(snap_map *m)
{
    if (m->p)
        munmap(m->p, m->size);
    m->p = NULL;
}

/* The records a tree diff says changed: their snapshot entries are
 * skipped. Keyed by kind and id (skip_key), as a tree path is. */
typedef struct snap_skip {
    char key[RECORD_ID_MAX + 2];
    UT_hash_handle hh;
} snap_skip;

static void skip_key(char key[RECORD_ID_MAX + 2], record_kind kind, const char *id, size_t idlen)
{
    key[0] = (char)('A' + kind);
    memcpy(key + 1, id, idlen);
    key[idlen + 1] = 0;
}

/* Whether a tree entry of this mode is a blob (what store_foreach reads). */
static int is_blob_mode(uint32_t mode)
{
    return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE ||
           mode == GIT_FILEMODE_LINK;
}

/* ---- bringing a stale snapshot up to the head ---------------------------------- */

/* A record the head has and the snapshot's tree has not (or not so). */
typedef struct {
    record_kind kind;
    char id[RECORD_ID_MAX + 1];
    git_oid blob;
} snap_add;

typedef struct {
    snap_skip *skip; /* uthash head */
    snap_add *adds;
    size_t nadds;
} snap_delta;

static void delta_free(snap_delta *d)
{
    snap_skip *k, *tmp;
    HASH_ITER(hh, d->skip, k, tmp)
    {
        HASH_DEL(d->skip, k);
        free(k);
    }
    free(d->adds);
}

/* The records that differ between the snapshot's tree and the head, from
 * git's tree diff (it descends only into subtrees whose ids differ, so its
 * cost follows the changes, not the register). 0, or -1 when the diff
 * cannot be made (the old tree pruned, out of memory): then the caller
 * reads everything from git. */
static int delta_make(snap_delta *d, store *s, const char *old_hex)
{
    git_oid old_id;
    git_tree *old = NULL, *cur = NULL;
    git_diff *diff = NULL;
    int rc = -1;
    memset(d, 0, sizeof *d);
    if (git_oid_fromstrn(&old_id, old_hex, 40) < 0 || git_tree_lookup(&old, s->repo, &old_id) < 0 ||
        git_tree_lookup(&cur, s->repo, &s->tree) < 0 ||
        git_diff_tree_to_tree(&diff, s->repo, old, cur, NULL) < 0)
        goto cleanup;
    size_t n = git_diff_num_deltas(diff);
    if (!(d->adds = calloc(n + 1, sizeof *d->adds)))
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        const git_diff_delta *dd = git_diff_get_delta(diff, i);
        record_kind kind;
        char id[RECORD_ID_MAX + 1];
        if (dd->status != GIT_DELTA_ADDED &&
            kind_path_parse(&kind, id, sizeof id, dd->old_file.path) == UERR_OK) {
            snap_skip *k = calloc(1, sizeof *k), *had = NULL;
            if (!k)
                goto cleanup;
            skip_key(k->key, kind, id, strlen(id));
            HASH_FIND_STR(d->skip, k->key, had);
            if (had) {
                free(k);
            } else {
                map_oom = 0;
                HASH_ADD_STR(d->skip, key, k);
                if (map_oom) {
                    free(k);
                    goto cleanup;
                }
            }
        }
        if (dd->status != GIT_DELTA_DELETED && is_blob_mode(dd->new_file.mode) &&
            kind_path_parse(&kind, id, sizeof id, dd->new_file.path) == UERR_OK) {
            snap_add *a = &d->adds[d->nadds++];
            a->kind = kind;
            memcpy(a->id, id, sizeof a->id);
            git_oid_cpy(&a->blob, &dd->new_file.id);
        }
    }
    rc = 0;
cleanup:
    git_diff_free(diff);
    git_tree_free(old);
    git_tree_free(cur);
    if (rc)
        delta_free(d);
    return rc;
}

/* ---- the load ----------------------------------------------------------------- */

/* What a load hands on and keeps for the new snapshot. */
typedef struct {
    store_record_cb cb;
    void *arg;
    snap_skip *skip;     /* a stale snapshot's changed records, or NULL */
    recsnap_blob *blobs; /* the schema records seen, for the new snapshot */
    size_t nblobs, blobcap;
    int nomem; /* a blob could not be kept: no new snapshot this time */
} snap_load;

static void load_free(snap_load *l)
{
    for (size_t i = 0; i < l->nblobs; i++) {
        free(l->blobs[i].id);
        free(l->blobs[i].blob);
    }
    free(l->blobs);
}

static int load_skip(record_kind kind, const char *id, void *arg)
{
    snap_load *l = arg;
    char key[RECORD_ID_MAX + 2];
    snap_skip *hit = NULL;
    if (!l->skip)
        return 0;
    skip_key(key, kind, id, strlen(id));
    HASH_FIND_STR(l->skip, key, hit);
    return hit != NULL;
}

/* Every record handed on goes through here: a schema record (kept as its
 * blob in the snapshot) is copied, then all go on to the caller's cb. */
static int load_pass(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    snap_load *l = arg;
    if (record_id_is_schema(id) && !l->nomem) {
        if (l->nblobs == l->blobcap) {
            size_t ncap = l->blobcap ? l->blobcap * 2 : 4;
            recsnap_blob *nb = realloc(l->blobs, ncap * sizeof *nb);
            if (nb) {
                l->blobs = nb;
                l->blobcap = ncap;
            }
        }
        recsnap_blob *b = l->nblobs < l->blobcap ? &l->blobs[l->nblobs] : NULL;
        if (b && (b->id = strdup(id)) != NULL && (b->blob = malloc(len + 1)) != NULL) {
            memcpy(b->blob, buf, len);
            b->blob[len] = 0;
            b->len = len;
            b->kind = kind;
            l->nblobs++;
        } else {
            if (b)
                free(b->id);
            l->nomem = 1;
        }
    }
    return l->cb(kind, id, buf, len, l->arg);
}

/* The records the diff says are new or changed, read from git, on to
 * load_pass. UERR_OK, cb's value, UERR_IO or UERR_NOMEM. */
static uerr load_adds(store *s, const snap_delta *d, snap_load *l, char *err, size_t errlen)
{
    uerr rc = UERR_OK;
    for (size_t i = 0; rc == UERR_OK && i < d->nadds; i++) {
        git_blob *b = NULL;
        if (git_blob_lookup(&b, s->repo, &d->adds[i].blob) < 0)
            return store_git_err(err, errlen, UERR_IO, "reading a record");
        size_t len = (size_t)git_blob_rawsize(b);
        char *buf = malloc(len + 1);
        if (!buf) {
            git_blob_free(b);
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory reading a record");
        }
        memcpy(buf, git_blob_rawcontent(b), len);
        buf[len] = 0;
        git_blob_free(b);
        rc = (uerr)load_pass(d->adds[i].kind, d->adds[i].id, buf, len, l);
        free(buf);
    }
    return rc;
}

/* Write the snapshot of ix (and the schema blobs) as the one of tree; a
 * failure is logged, never returned. */
static void snap_write(const recindex *ix, const snap_load *l, const char *tree, const char *tmp,
                       const char *path)
{
    if (l->nomem)
        return;
    /* personal data, like the store's objects: readable by the node only */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    int bad = !f || recsnap_fmt_write(f, ix, tree, l->blobs, l->nblobs) != 0;
    if (f)
        bad |= fclose(f) != 0;
    if (!bad && rename(tmp, path) == 0)
        return;
    log_msg(LOG_WARN, "record index: could not write %s: %s", path, strerror(errno));
    unlink(tmp);
}

/* ---- the entry point -------------------------------------------------------- */

uerr store_load_index(store *s, recindex *ix, store_record_cb cb, void *arg, int *from_snap,
                      char *err, size_t errlen)
{
    char commit[41], tree[41], path[4096], tmp[4200];
    snap_map m;
    snap_load l = {cb, arg, NULL, NULL, 0, 0, 0};
    uerr rc;
    *from_snap = 0;
    store_head(s, commit, tree);
    int n = snprintf(path, sizeof path, "%s%s", git_repository_path(s->repo), RECSNAP_NAME);
    if (!tree[0] || n < 0 || (size_t)n >= sizeof path)
        return store_foreach(s, cb, arg, err, errlen); /* empty store: nothing to keep */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (snap_open(&m, path)) {
        if (strcmp(m.tree, tree) == 0) {
            rc = recsnap_fmt_load_checked(ix, m.p, m.size, NULL, load_pass, &l);
            if (rc == UERR_NOMEM)
                uerr_set(err, errlen, rc, "out of memory loading the record index");
            else if (rc == UERR_INVALID)
                uerr_set(err, errlen, UERR_IO,
                         "the record index snapshot %s repeats a name; "
                         "remove it",
                         path);
            log_msg(LOG_INFO, "record index: %zu records from the snapshot of tree %.12s",
                    ix->count, tree);
            snap_close(&m);
            load_free(&l);
            *from_snap = 1;
            return rc == UERR_INVALID ? UERR_IO : rc;
        }
        snap_delta d;
        store_enter(s);
        if (delta_make(&d, s, m.tree) == 0) {
            l.skip = d.skip;
            rc = recsnap_fmt_load_checked(ix, m.p, m.size, load_skip, load_pass, &l);
            if (rc == UERR_NOMEM)
                uerr_set(err, errlen, rc, "out of memory loading the record index");
            else if (rc == UERR_INVALID)
                rc = uerr_set(err, errlen, UERR_IO,
                              "the record index snapshot %s repeats a name; remove it", path);
            if (rc == UERR_OK)
                rc = load_adds(s, &d, &l, err, errlen);
            if (rc == UERR_OK)
                snap_write(ix, &l, tree, tmp, path);
            log_msg(LOG_INFO,
                    "record index: snapshot of tree %.12s brought to %.12s (%zu records "
                    "changed)",
                    m.tree, tree, d.nadds);
            delta_free(&d);
            store_leave(s);
            snap_close(&m);
            load_free(&l);
            *from_snap = 1;
            return rc;
        }
        store_leave(s);
        snap_close(&m);
    }
    log_msg(LOG_INFO, "record index: no usable snapshot (missing, damaged, of another version or "
                      "its tree is gone); reading the records from git");
    rc = store_foreach(s, load_pass, &l, err, errlen);
    if (rc == UERR_OK)
        snap_write(ix, &l, tree, tmp, path);
    load_free(&l);
    return rc;
}

void store_save_index(store *s, const recindex *ix)
{
    char commit[41], tree[41], have[41], path[4096], tmp[4200];
    unsigned char head[64];
    snap_load none = {NULL, NULL, NULL, NULL, 0, 0, 0};
    store_head(s, commit, tree);
    int n = snprintf(path, sizeof path, "%s%s", git_repository_path(s->repo), RECSNAP_NAME);
    if (!tree[0] || n < 0 || (size_t)n >= sizeof path)
        return;
    /* already of this tree: the start after a restart without changes
     * writes nothing (a file damaged past its header is found at start) */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, head, sizeof head);
        close(fd);
        if (got > 0 && recsnap_fmt_header(have, head, (size_t)got) && strcmp(have, tree) == 0)
            return;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* the schema records are not in the snapshot's blobs: store_foreach,
     * whose records a start keeps, never hands them on (they are read by
     * id, schema_records_load), so a start writes none either */
    snap_write(ix, &none, tree, tmp, path);
    log_msg(LOG_INFO, "record index: snapshot of tree %.12s written at shutdown (%zu records)",
            tree, ix->count);
}
