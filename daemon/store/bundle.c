/* bundle.c - git bundles (v2) for offline transport: writing every branch
 * of the store (optionally only what is newer than an earlier bundle) and
 * reading one: the header is parsed here, the pack goes through the same
 * quarantine and checks as a peer's (store_ingest, ingest.c). Part of the
 * store room. A bundle is outside data: nothing in it is trusted, and a bad
 * bundle is UERR_PEER, never UERR_IO. */
#include "daemon/store/store_int.h"
#include "daemon/util/fsutil.h"

#include "proto/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUNDLE_MAX (4ull << 30)      /* 4 GiB */
#define BUNDLE_HEADER_MAX (1u << 20) /* header lines, all together */
#define BUNDLE_REFS_MAX 10000

static int push_heads(git_revwalk *walk, git_repository *repo)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    int rc = 0;
    if (git_reference_iterator_glob_new(&it, repo, "refs/heads/*") < 0)
        return -1;
    while (git_reference_next(&ref, it) == 0) {
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
            git_revwalk_push(walk, git_reference_target(ref)) < 0)
            rc = -1;
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    return rc;
}

/* One line of a bundle header, already stripped of its newline, into the
 * ref or prerequisite lists. lineno is 1-based for messages. */
static uerr header_line(store_bundle_ref **refs, size_t *nrefs, git_oid **prereq, size_t *nprereq,
                        const char *line, size_t lineno, char *err, size_t errlen)
{
    int is_prereq = line[0] == '-';
    const char *hex = line + is_prereq;
    git_oid oid;
    if (strlen(hex) < 40 || git_oid_fromstrn(&oid, hex, 40) < 0 || (hex[40] != ' ' && hex[40] != 0))
        return uerr_set(err, errlen, UERR_PEER, "bundle header line %zu: bad object id", lineno);
    if (is_prereq) {
        git_oid *np = realloc(*prereq, (*nprereq + 1) * sizeof *np);
        if (!np)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory reading a bundle");
        *prereq = np;
        git_oid_cpy(&np[(*nprereq)++], &oid);
        return UERR_OK;
    }
    const char *name = hex + 41;
    if (hex[40] != ' ')
        return uerr_set(err, errlen, UERR_PEER, "bundle header line %zu: ref without a name",
                        lineno);
    /* HEAD, and a backup's line naming its node (backup.c), add no branch */
    if (strcmp(name, "HEAD") == 0 || strncmp(name, "refs/uniond/", 12) == 0)
        return UERR_OK;
    if (strncmp(name, "refs/heads/", 11) != 0 || !record_node_valid(name + 11))
        return uerr_set(err, errlen, UERR_PEER,
                        "bundle header line %zu: '%.100s' is not a node branch (refs/heads/NODE)",
                        lineno, name);
    for (size_t i = 0; i < *nrefs; i++)
        if (strcmp((*refs)[i].name, name + 11) == 0)
            return uerr_set(err, errlen, UERR_PEER, "bundle lists branch %s twice", name + 11);
    store_bundle_ref *nr = realloc(*refs, (*nrefs + 1) * sizeof *nr);
    if (!nr)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory reading a bundle");
    *refs = nr;
    git_oid_cpy(&nr[*nrefs].oid, &oid);
    snprintf(nr[*nrefs].name, sizeof nr[*nrefs].name, "%s", name + 11);
    (*nrefs)++;
    return UERR_OK;
}

/* Parse "# v2 git bundle" header lines from f, leaving f at the pack.
 * *refs and *prereq malloc'd (caller frees, also on error). */
static uerr bundle_header_read(FILE *f, store_bundle_ref **refs, size_t *nrefs, git_oid **prereq,
                               size_t *nprereq, char *err, size_t errlen)
{
    char line[1024];
    size_t total = 0, lineno = 1;
    *refs = NULL;
    *prereq = NULL;
    *nrefs = *nprereq = 0;
    if (!fgets(line, sizeof line, f) || strcmp(line, "# v2 git bundle\n") != 0) {
        if (ferror(f))
            return uerr_set(err, errlen, UERR_IO, "reading the bundle: %s", strerror(errno));
        return uerr_set(err, errlen, UERR_PEER,
                        "not a git bundle (v2): the first line must be '# v2 git bundle'");
    }
    for (;;) {
        lineno++;
        if (!fgets(line, sizeof line, f)) {
            if (ferror(f))
                return uerr_set(err, errlen, UERR_IO, "reading the bundle: %s", strerror(errno));
            return uerr_set(err, errlen, UERR_PEER, "bundle header is cut short (truncated file?)");
        }
        size_t n = strlen(line);
        total += n;
        if (n == 0 || line[n - 1] != '\n' || total > BUNDLE_HEADER_MAX)
            return uerr_set(err, errlen, UERR_PEER,
                            "bundle header line %zu is too long or cut short", lineno);
        line[--n] = 0;
        if (n == 0)
            return UERR_OK;
        if (*nrefs + *nprereq >= BUNDLE_REFS_MAX)
            return uerr_set(err, errlen, UERR_PEER, "bundle lists more than %d refs",
                            BUNDLE_REFS_MAX);
        uerr rc = header_line(refs, nrefs, prereq, nprereq, line, lineno, err, errlen);
        if (rc != UERR_OK)
            return rc;
    }
}

uerr store_user_file_open(FILE **f, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int e = fsutil_file_open_regular(f, &st, path);
    if (e < 0)
        return uerr_set(err, errlen, UERR_INVALID, "%s is not a regular file", path);
    if (e > 0)
        return uerr_set(err, errlen, e == ENOENT ? UERR_NOTFOUND : UERR_IO, "cannot open %s: %s",
                        path, strerror(e));
    return UERR_OK;
}

/* The branch heads of the earlier bundle `since`, each checked to be a
 * commit here: they become the new bundle's prerequisites. */
static uerr since_read(store_bundle_ref **old, size_t *nold, store *s, const char *since, char *err,
                       size_t errlen)
{
    git_oid *oldpre = NULL;
    size_t noldpre = 0;
    FILE *sf = NULL;
    uerr rc = store_user_file_open(&sf, since, err, errlen);
    if (rc != UERR_OK)
        return rc;
    rc = bundle_header_read(sf, old, nold, &oldpre, &noldpre, err, errlen);
    fclose(sf);
    free(oldpre);
    for (size_t i = 0; rc == UERR_OK && i < *nold; i++) {
        git_commit *c = NULL;
        if (git_commit_lookup(&c, s->repo, &(*old)[i].oid) < 0)
            rc = uerr_set(err, errlen, UERR_CONFLICT,
                          "%s names a commit this store does not have; export a full "
                          "bundle instead",
                          since);
        git_commit_free(c);
    }
    return rc;
}

/* The header lines of the new bundle: prerequisites, then every branch. */
static uerr header_write(FILE *f, store *s, const store_bundle_ref *old, size_t nold,
                         const char *extra, char *err, size_t errlen)
{
    git_reference_iterator *it = NULL;
    git_reference *ref;
    fputs("# v2 git bundle\n", f);
    for (size_t i = 0; i < nold; i++) {
        char hex[41];
        git_oid_tostr(hex, sizeof hex, &old[i].oid);
        fprintf(f, "-%s %s\n", hex, old[i].name);
    }
    if (git_reference_iterator_glob_new(&it, s->repo, "refs/heads/*") < 0)
        return store_git_err(err, errlen, UERR_IO, "listing branches");
    while (git_reference_next(&ref, it) == 0) {
        char hex[41];
        if (git_reference_type(ref) == GIT_REFERENCE_DIRECT) {
            git_oid_tostr(hex, sizeof hex, git_reference_target(ref));
            fprintf(f, "%s %s\n", hex, git_reference_name(ref));
        }
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    if (extra)
        fputs(extra, f);
    fputs("\n", f);
    return UERR_OK;
}

static uerr bundle_write_run(store *s, const char *path, const char *since, const char *extra,
                             char *err, size_t errlen)
{
    git_packbuilder *pb = NULL;
    git_revwalk *walk = NULL;
    git_buf pack = {0};
    store_bundle_ref *old = NULL;
    size_t nold = 0;
    char tmp[4096];
    FILE *f = NULL;
    uerr rc = UERR_OK;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return uerr_set(err, errlen, UERR_INVALID, "bundle path too long");
    /* Incremental: what the earlier bundle carried becomes this one's
     * prerequisites, so only newer objects are packed. */
    if (since && (rc = since_read(&old, &nold, s, since, err, errlen)) != UERR_OK)
        goto cleanup;
    if (git_packbuilder_new(&pb, s->repo) < 0 || git_revwalk_new(&walk, s->repo) < 0 ||
        push_heads(walk, s->repo) != 0) {
        rc = store_git_err(err, errlen, UERR_IO, "building the bundle's pack");
        goto cleanup;
    }
    for (size_t i = 0; i < nold; i++)
        git_revwalk_hide(walk, &old[i].oid);
    if (git_packbuilder_insert_walk(pb, walk) < 0 || git_packbuilder_write_buf(&pack, pb) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "building the bundle's pack");
        goto cleanup;
    }
    f = fopen(tmp, "wbx");
    if (!f) {
        rc = uerr_set(err, errlen, UERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if ((rc = header_write(f, s, old, nold, extra, err, errlen)) != UERR_OK)
        goto cleanup;
    if (fwrite(pack.ptr, 1, pack.size, f) != pack.size || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "writing %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int closed = fclose(f);
    f = NULL;
    if (closed != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "writing %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (rename(tmp, path) != 0)
        rc = uerr_set(err, errlen, UERR_IO, "renaming %s: %s", tmp, strerror(errno));
cleanup:
    if (f)
        fclose(f);
    if (rc != UERR_OK && rc != UERR_INVALID)
        unlink(tmp);
    git_buf_dispose(&pack);
    git_revwalk_free(walk);
    git_packbuilder_free(pb);
    free(old);
    return rc;
}

uerr store_bundle_write(store *s, const char *path, const char *since, char *err, size_t errlen)
{
    store_enter(s);
    uerr rc = bundle_write_run(s, path, since, NULL, err, errlen);
    store_leave(s);
    return rc;
}

uerr store_bundle_write_extra(store *s, const char *path, const char *extra, char *err,
                              size_t errlen)
{
    store_enter(s);
    uerr rc = bundle_write_run(s, path, NULL, extra, err, errlen);
    store_leave(s);
    return rc;
}

static uerr bundle_read_run(store *s, const char *path, store_record_cb changed, void *arg,
                            store_bundle_report *rep, char *err, size_t errlen)
{
    FILE *f = NULL;
    store_bundle_ref *refs = NULL;
    git_oid *prereq = NULL;
    git_odb *odb = NULL;
    size_t nrefs = 0, nprereq = 0;
    uerr rc = UERR_OK;
    struct stat st;
    int e = fsutil_file_open_regular(&f, &st, path);
    if (e > 0) {
        rc = uerr_set(err, errlen, e == ENOENT ? UERR_NOTFOUND : UERR_IO, "cannot open %s: %s",
                      path, strerror(e));
        goto cleanup;
    }
    if (e < 0 || (unsigned long long)st.st_size > BUNDLE_MAX) {
        rc = uerr_set(err, errlen, UERR_PEER, "%s is not a regular file under 4 GiB", path);
        goto cleanup;
    }
    rc = bundle_header_read(f, &refs, &nrefs, &prereq, &nprereq, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    rep->refs = nrefs;
    if (git_repository_odb(&odb, s->repo) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the object store");
        goto cleanup;
    }
    for (size_t i = 0; i < nprereq; i++)
        if (!git_odb_exists(odb, &prereq[i])) {
            char hex[41];
            git_oid_tostr(hex, sizeof hex, &prereq[i]);
            rc = uerr_set(err, errlen, UERR_CONFLICT,
                          "bundle needs commit %.12s that this store lacks (import the earlier "
                          "bundle first)",
                          hex);
            goto cleanup;
        }
    rc = store_ingest(s, f, refs, nrefs, changed, arg, rep, err, errlen);
cleanup:
    git_odb_free(odb);
    free(refs);
    free(prereq);
    if (f)
        fclose(f);
    return rc;
}

uerr store_bundle_read(store *s, const char *path, store_record_cb changed, void *arg,
                       store_bundle_report *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    store_enter(s);
    uerr rc = bundle_read_run(s, path, changed, arg, rep, err, errlen);
    store_leave(s);
    return rc;
}
