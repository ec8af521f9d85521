/* backup.c - whole-store backups and the store's format version. Part of
 * the store room (includes git2.h).
 *
 * A backup is one file that IS a standard git bundle (v2) of every branch,
 * plus one extra ref line naming what a restore needs:
 *   <own head> refs/uniond/backup/<office>/<node>
 * It adds no object (it points at the own head), so `git bundle verify`
 * accepts the file and plain git can clone it; our bundle reader skips
 * refs/uniond/ lines, so `unionctl bundle import` takes a backup too.
 * Restoring builds a new store from it through the one take-in path
 * (store_bundle_read): nothing in a backup file is trusted.
 *
 * The format version: `uniond.format` in store.git/config. A store
 * without it was made by the release before the marker (format 0): it is
 * migrated by writing the marker. A store of a newer format is refused
 * before anything in it is touched. docs/STORE.md "Format version". */
#include "daemon/store/store_int.h"

#include "daemon/util/log.h"
#include "proto/names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKUP_REF_PREFIX "refs/uniond/backup/"
#define RESTORE_TMP_NODE "uniond-restore-tmp"

/* ---- format version ------------------------------------------------------- */

uerr store_format_mark(git_repository *repo, char *err, size_t errlen)
{
    git_config *cfg = NULL;
    uerr rc = UERR_OK;
    if (git_repository_config(&cfg, repo) < 0 ||
        git_config_set_int32(cfg, "uniond.format", STORE_FORMAT) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "writing the store's format version");
    git_config_free(cfg);
    return rc;
}

uerr store_format_check(git_repository *repo, const char *gitdir, char *err, size_t errlen)
{
    git_config *cfg = NULL;
    int32_t v = 0;
    uerr rc = UERR_OK;
    if (git_repository_config(&cfg, repo) < 0)
        return store_git_err(err, errlen, UERR_IO, "reading the store's config");
    int e = git_config_get_int32(&v, cfg, "uniond.format");
    git_config_free(cfg);
    if (e == GIT_ENOTFOUND) {
        v = 0;
    } else if (e < 0) {
        return store_git_err(err, errlen, UERR_IO, "reading uniond.format in the store's config");
    }
    if (v > STORE_FORMAT)
        return uerr_set(err, errlen, UERR_CONFLICT,
                        "%s is in store format %d, newer than this uniond's %d: it was written "
                        "by a newer uniond; install that release (or newer) to open it",
                        gitdir, (int)v, STORE_FORMAT);
    if (v < 0)
        return uerr_set(err, errlen, UERR_IO, "%s: uniond.format %d is not a format", gitdir,
                        (int)v);
    if (v < STORE_FORMAT) {
        /* Format 0 -> 1: the layout did not change, only the marker is new. */
        rc = store_format_mark(repo, err, errlen);
        if (rc == UERR_OK)
            log_msg(LOG_INFO, "store migrated from format %d to %d", (int)v, STORE_FORMAT);
    }
    return rc;
}

/* ---- backup --------------------------------------------------------------- */

uerr store_backup_write(store *s, const char *path, const char *office, char *err, size_t errlen)
{
    char line[512], hex[41];
    if (!s->has_head)
        return uerr_set(err, errlen, UERR_NOTFOUND,
                        "the store is empty: there is nothing to back up yet");
    git_oid_tostr(hex, sizeof hex, &s->head);
    if ((size_t)snprintf(line, sizeof line, "%s " BACKUP_REF_PREFIX "%s/%s\n", hex, office,
                         s->node) >= sizeof line)
        return uerr_set(err, errlen, UERR_INVALID, "office or node name too long");
    return store_bundle_write_extra(s, path, line, err, errlen);
}

/* The value of the backup line "<hex> refs/uniond/backup/OFFICE/NODE",
 * checked; 1 when line is one, 0 when it is another line, -1 malformed. */
static int backup_line_parse(store_backup_info *info, const char *line)
{
    const char *ref = strchr(line, ' ');
    if (!ref || ref - line != 40 || strncmp(ref + 1, BACKUP_REF_PREFIX, strlen(BACKUP_REF_PREFIX)))
        return 0;
    const char *office = ref + 1 + strlen(BACKUP_REF_PREFIX), *slash = strchr(office, '/');
    char e[128];
    if (!slash || (size_t)(slash - office) >= sizeof info->office ||
        strlen(slash + 1) >= sizeof info->node)
        return -1;
    memcpy(info->head, line, 40);
    info->head[40] = 0;
    memcpy(info->office, office, (size_t)(slash - office));
    info->office[slash - office] = 0;
    snprintf(info->node, sizeof info->node, "%s", slash + 1);
    if (names_node_check(info->node, "the backup's node", e, sizeof e) != UERR_OK)
        return -1;
    return 1;
}

uerr store_backup_info_read(store_backup_info *info, const char *path, char *err, size_t errlen)
{
    char line[1024];
    uerr rc = UERR_OK;
    int found = 0;
    memset(info, 0, sizeof *info);
    FILE *f = NULL;
    rc = store_user_file_open(&f, path, err, errlen);
    if (rc != UERR_OK)
        return rc;
    if (!fgets(line, sizeof line, f) || strcmp(line, "# v2 git bundle\n") != 0) {
        rc = uerr_set(err, errlen, UERR_PEER, "%s is not a uniond backup (not a git bundle)", path);
        goto cleanup;
    }
    for (size_t lines = 0; lines < 100000; lines++) {
        if (!fgets(line, sizeof line, f) || line[strlen(line) - 1] != '\n') {
            rc = uerr_set(err, errlen, UERR_PEER, "%s: the bundle header is cut short", path);
            goto cleanup;
        }
        line[strlen(line) - 1] = 0;
        if (!line[0])
            break;
        if (line[0] == '-') {
            rc = uerr_set(err, errlen, UERR_PEER, "%s is an incremental bundle, not a whole backup",
                          path);
            goto cleanup;
        }
        int p = backup_line_parse(info, line);
        if (p < 0 || (p > 0 && found)) {
            rc = uerr_set(err, errlen, UERR_PEER, "%s: a bad backup line in its header", path);
            goto cleanup;
        }
        found += p;
        if (strncmp(line + 41, "refs/heads/", 11) == 0)
            info->branches++;
    }
    if (!found)
        rc = uerr_set(err, errlen, UERR_PEER,
                      "%s is a git bundle but not a uniond backup (no " BACKUP_REF_PREFIX
                      " line; take it in with unionctl bundle import)",
                      path);
cleanup:
    fclose(f);
    return rc;
}

/* ---- restore -------------------------------------------------------------- */

/* The restored store has no index yet: the daemon builds it on start. */
static int changed_ignore(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    (void)kind, (void)id, (void)buf, (void)len, (void)arg;
    return 0;
}

/* The own branch becomes `node` (the backup's own branch, taken in as a
 * copy): HEAD moves to it and the temporary branch goes. */
static uerr identity_take(const char *gitdir, const char *node, const char *head, char *err,
                          size_t errlen)
{
    git_repository *repo = NULL;
    git_reference *ref = NULL, *tmp = NULL;
    char name[300];
    uerr rc = UERR_OK;
    snprintf(name, sizeof name, "refs/heads/%s", node);
    if (git_repository_open_bare(&repo, gitdir) < 0)
        return store_git_err(err, errlen, UERR_IO, "opening the restored store");
    if (git_reference_lookup(&ref, repo, name) < 0) {
        rc = store_git_err(err, errlen, UERR_PEER, "the backup's own branch was not taken in");
        goto cleanup;
    }
    char hex[41];
    git_oid_tostr(hex, sizeof hex, git_reference_target(ref));
    if (strcmp(hex, head) != 0) {
        rc = uerr_set(err, errlen, UERR_PEER, "the backup's own branch is not at its head");
        goto cleanup;
    }
    if (git_repository_set_head(repo, name) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "moving HEAD to the restored branch");
        goto cleanup;
    }
    if (git_reference_lookup(&tmp, repo, "refs/heads/" RESTORE_TMP_NODE) == 0 &&
        git_reference_delete(tmp) < 0)
        rc = store_git_err(err, errlen, UERR_IO, "removing the temporary branch");
cleanup:
    git_reference_free(tmp);
    git_reference_free(ref);
    git_repository_free(repo);
    return rc;
}

uerr store_restore(const char *gitdir, const char *node, int same_identity, const char *path,
                   store_bundle_report *rep, char *err, size_t errlen)
{
    store_backup_info info;
    store *s = NULL;
    uerr rc = store_backup_info_read(&info, path, err, errlen);
    if (rc != UERR_OK)
        return rc;
    if (same_identity && strcmp(node, info.node) != 0)
        return uerr_set(err, errlen, UERR_INVALID,
                        "the backup is of node %s, not %s: --same-identity keeps the node's name",
                        info.node, node);
    if (!same_identity && strcmp(node, info.node) == 0)
        return uerr_set(err, errlen, UERR_INVALID,
                        "the backup is of node %s itself: give the new node another name "
                        "(--node) or restore it with --same-identity",
                        node);
    /* With the same identity the own branch is in the backup, and a take-in
     * never takes the own branch from outside: take everything in as a
     * temporary node, then make the backup's branch the own one. */
    const char *as = same_identity ? RESTORE_TMP_NODE : node;
    if ((rc = store_create(gitdir, as, err, errlen)) != UERR_OK ||
        (rc = store_open(&s, gitdir, as, err, errlen)) != UERR_OK)
        goto cleanup;
    rc = store_bundle_read(s, path, changed_ignore, NULL, rep, err, errlen);
    store_free(s);
    s = NULL;
    if (rc == UERR_OK && same_identity)
        rc = identity_take(gitdir, node, info.head, err, errlen);
cleanup:
    store_free(s);
    return rc;
}
