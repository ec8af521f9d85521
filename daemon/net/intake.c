/* intake.c - what a session lets in from a peer before the store sees it:
 * the pack being received goes to a spool file with a byte budget (never
 * into the heap: an endless PACK costs disk up to the budget, not memory)
 * and an object budget read from its header (the objects cost the
 * indexer's memory later, so too many are refused before any is spooled),
 * branch hygiene decides which new branch names a peer may bring, and ids
 * and OIDs are read exactly as docs/PROTOCOL.md spells them.
 *
 * Loop thread only. Never touches the store: the finished pack is handed
 * to the take-in job as a read-only mapping of the spool. */
#include "daemon/net/net_internal.h"
#include "daemon/util/clock.h"
#include "daemon/util/log.h"
#include "proto/msg.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_PREFIX "pack-"

/* ---- the pack spool ------------------------------------------------------------ */

uerr spool_dir_prepare(peers *p, const char *data_dir, char *err, size_t errlen)
{
    int n = snprintf(p->spool_dir, sizeof p->spool_dir, "%s/tmp", data_dir);
    if (n < 0 || (size_t)n >= sizeof p->spool_dir) {
        p->spool_dir[0] = '\0';
        return uerr_set(err, errlen, UERR_IO, "the path %s/tmp is too long", data_dir);
    }
    if (mkdir(p->spool_dir, 0700) != 0 && errno != EEXIST)
        return uerr_set(err, errlen, UERR_IO, "creating %s: %s", p->spool_dir, strerror(errno));
    if (chmod(p->spool_dir, 0700) != 0)
        return uerr_set(err, errlen, UERR_IO, "chmod 700 %s: %s", p->spool_dir, strerror(errno));
    /* spools are unlinked at once; a name is left only by a crash between
     * mkstemp and unlink */
    DIR *d = opendir(p->spool_dir);
    if (!d)
        return uerr_set(err, errlen, UERR_IO, "opening %s: %s", p->spool_dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, SPOOL_PREFIX, strlen(SPOOL_PREFIX)) != 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            log_msg(LOG_INFO, "removed a pack spool left by a crash: %s/%.64s", p->spool_dir,
                    e->d_name);
    }
    closedir(d);
    return UERR_OK;
}

/* A new unlinked spool file for s. */
static uerr pack_spool_open(session *s, char *err, size_t errlen)
{
    char path[4200];
    const char *dir = s->p->spool_dir;
    if (!dir[0]) {
        dir = getenv("TMPDIR");
        if (!dir || !dir[0])
            dir = "/tmp";
    }
    snprintf(path, sizeof path, "%s/" SPOOL_PREFIX "XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return uerr_set(err, errlen, UERR_IO, "creating a pack spool in %s: %s", dir,
                        strerror(errno));
    unlink(path); /* the data stays reachable through fd; no name to clean up */
    s->pack_fd = fd;
    return UERR_OK;
}

/* The object count of the header in s->packhead (complete) against
 * [sync] max_take_in_objects. A header that is not a pack's is left for the
 * take-in to refuse with the rest of the pack's checks. */
static uerr pack_head_check(session *s, char *err, size_t errlen)
{
    const unsigned char *b = s->packhead;
    unsigned long long limit = s->p->cfg->max_take_in_objects;
    if (memcmp(b, "PACK", 4) != 0)
        return UERR_OK;
    unsigned long long cnt = ((unsigned long long)b[8] << 24) | ((unsigned long long)b[9] << 16) |
                             ((unsigned long long)b[10] << 8) | b[11];
    if (cnt > limit)
        return uerr_set(err, errlen, UERR_PEER,
                        "the pack announces %llu objects, over the take-in limit of %llu "
                        "([sync] max_take_in_objects)",
                        cnt, limit);
    return UERR_OK;
}

uerr pack_spool_append(session *s, const char *data, size_t n, char *err, size_t errlen)
{
    uerr rc;
    unsigned long long budget = s->p->cfg->max_pack_bytes;
    if (budget > PACK_MAX)
        budget = PACK_MAX;
    if ((unsigned long long)s->packlen + n > budget)
        return uerr_set(err, errlen, UERR_PEER,
                        "pack larger than this node's budget of %llu bytes "
                        "([sync] max_pack_bytes)",
                        budget);
    if (s->packlen < sizeof s->packhead) {
        size_t h = sizeof s->packhead - s->packlen;
        memcpy(s->packhead + s->packlen, data, h < n ? h : n);
        if (s->packlen + n >= sizeof s->packhead &&
            (rc = pack_head_check(s, err, errlen)) != UERR_OK)
            return rc;
    }
    if (s->pack_fd < 0 && (rc = pack_spool_open(s, err, errlen)) != UERR_OK)
        return rc;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(s->pack_fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return uerr_set(err, errlen, UERR_IO, "writing the pack spool: %s",
                            w < 0 ? strerror(errno) : "nothing written");
        off += (size_t)w;
    }
    s->packlen += n;
    return UERR_OK;
}

uerr pack_spool_map(char **out, session *s)
{
    *out = NULL;
    if (s->pack_fd < 0 || s->packlen == 0)
        return UERR_IO;
    void *m = mmap(NULL, s->packlen, PROT_READ, MAP_PRIVATE, s->pack_fd, 0);
    close(s->pack_fd);
    s->pack_fd = -1;
    if (m == MAP_FAILED)
        return UERR_IO;
    *out = m;
    return UERR_OK;
}

void pack_map_free(char *map, size_t len)
{
    if (map)
        munmap(map, len);
}

void pack_spool_drop(session *s)
{
    if (s->pack_fd >= 0)
        close(s->pack_fd);
    s->pack_fd = -1;
    s->packlen = 0;
    memset(s->packhead, 0, sizeof s->packhead);
}

/* ---- branch hygiene -------------------------------------------------------------- */

void branch_window_free(peer_state *ps)
{
    strv_free(ps->branch_new, ps->nbranch_new);
    ps->branch_new = NULL;
    ps->nbranch_new = 0;
}

/* A name this node knows without anyone's word: its own, a pinned peer's,
 * a branch copy it already holds (a pinned peer vouched for it by merging
 * it), or one this peer brought in during the current window. */
static int branch_known(peers *p, peer_state *ps, const char *name)
{
    if (strcmp(name, p->cfg->node) == 0)
        return 1;
    for (peer_state *q = p->peers; q; q = q->next)
        if (!q->removed && strcmp(q->conf.name, name) == 0)
            return 1;
    for (size_t i = 0; i < p->nheads; i++)
        if (strcmp(p->heads[i].name, name) == 0)
            return 1;
    for (size_t i = 0; i < ps->nbranch_new; i++)
        if (strcmp(ps->branch_new[i], name) == 0)
            return 1;
    return 0;
}

uerr heads_admit(session *s, const store_ref *refs, size_t n, char *msg, size_t msglen)
{
    peers *p = s->p;
    peer_state *ps = s->ps;
    size_t limit = p->cfg->new_branches_per_hour, fresh = 0, first = 0;
    uint64_t now = clock_mono_ms();
    assert(ps);
    if (ps->branch_window && now - ps->branch_window >= BRANCH_WINDOW_MS) {
        branch_window_free(ps); /* a new hour */
        ps->branch_window = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!branch_known(p, ps, refs[i].name) && fresh++ == 0)
            first = i;
    if (fresh == 0)
        return UERR_OK;
    if (ps->nbranch_new + fresh > limit) {
        char show[LOG_SAFE_SIZE];
        log_msg(LOG_WARN,
                "peer %s: announced %zu branch(es) of unknown nodes (first: %s); %zu already "
                "this hour, at most %zu: refused",
                ps->conf.name, fresh, log_safe(show, sizeof show, refs[first].name),
                ps->nbranch_new, limit);
        snprintf(msg, msglen,
                 "too many new branches: this node takes branches of nodes it does not know "
                 "(not pinned, no copy held) from one peer at most %zu per hour",
                 limit);
        return UERR_PEER;
    }
    char **v = realloc(ps->branch_new, (ps->nbranch_new + fresh) * sizeof *v);
    if (!v) {
        snprintf(msg, msglen, "out of memory");
        return UERR_NOMEM;
    }
    ps->branch_new = v;
    for (size_t i = 0; i < n; i++)
        if (!branch_known(p, ps, refs[i].name)) {
            char *name = strdup(refs[i].name);
            if (!name) {
                snprintf(msg, msglen, "out of memory");
                return UERR_NOMEM;
            }
            ps->branch_new[ps->nbranch_new++] = name;
        }
    if (!ps->branch_window)
        ps->branch_window = now ? now : 1;
    return UERR_OK;
}

/* ---- protocol values ---------------------------------------------------------------- */

int msg_id_read(uint32_t *out, const msgpack_object *m, const char *key)
{
    const msgpack_object *v = msg_get(m, key);
    *out = 0;
    if (!v)
        return 0;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > UINT32_MAX)
        return -1; /* negative, too large, or not an integer */
    *out = (uint32_t)v->via.u64;
    return 0;
}

int oid_valid(const char *s)
{
    return s && strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}
