/* journal.c - the write-ahead log of the group commits: one append and one
 * fdatasync make a batch of adds and edits durable; its pack and the branch
 * move are written after, unsynced, and made durable later, all at once,
 * at a checkpoint (store_int.h, store_journal_*). Part of the store room.
 *
 * Why: without a log a lone add cost five fsyncs in three rounds (pack,
 * .idx and ref lock; the pack folder; the refs folder: RELIABILITY.md),
 * each round a disk flush the clerk waits for. The log holds everything a
 * restart needs to redo the batch (the pack file, its .idx and the branch
 * move from -> to), so one flush of one file is enough before the reply.
 *
 * The file is <gitdir>/uniond-journal: an 8-byte magic, then entries
 *     u32 magic "UJE1", u32 flags (bit 0: the branch existed, `from` set),
 *     u64 seq (1, 2, ... since the last checkpoint),
 *     from[20], to[20], u32 pack length, u32 .idx length,
 *     the pack file, the .idx file, SHA-1 of all of the entry before it,
 * all big-endian. An entry is used only whole, with its checksum right,
 * its seq the next, its `from` the last entry's `to`, and a pack and .idx
 * that name each other; reading stops at the first that is not (the torn
 * tail of an append that was never acknowledged).
 *
 * Order, which is the whole point:
 * - append: the entry is written at the end and fdatasynced; only then
 *   are the pack, the .idx and the ref written (store_packfiles_write
 *   unsynced, refstage.c unsynced) and the write acknowledged;
 * - checkpoint: every pack and .idx the journal holds is fsynced, then
 *   the pack folder, the ref and the refs folder; only then is the
 *   journal cut back to its magic (ftruncate, fdatasync). It runs before
 *   anything else moves the branch or removes a pack (store_branch_move,
 *   packjoin.c), on the idle store queue, when the journal is large, and
 *   at close;
 * - replay (store_journal_open, before anything reads the store): each
 *   whole entry's pack and .idx are compared with the files and written
 *   again where missing or different; the branch is set to the last
 *   entry's `to` when it is missing, unreadable or at a commit of the
 *   chain; then a checkpoint. A branch at a commit outside the chain
 *   means the store was changed behind uniond's back: start-up stops and
 *   says so, nothing is written. */
#include "daemon/store/journal.h"

#include "daemon/util/clock.h"
#include "daemon/util/fsutil.h"
#include "daemon/util/log.h"

#include <openssl/evp.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define JOURNAL_MAGIC "UNIONDJ1"
#define JOURNAL_HDR 8
#define ENTRY_MAGIC 0x554a4531u /* "UJE1" */
#define ENTRY_HDR 64
#define ENTRY_SUM 20
#define SUM_LEN GIT_OID_RAWSZ
/* the smallest .idx: header, fan-out, the two checksums */
#define IDX_MIN (8 + 1024 + 2 * SUM_LEN)
/* A checkpoint after this many bytes or entries, whatever the load: the
 * replay after a crash stays short and the journal small. */
#define JOURNAL_CAP_BYTES (16u << 20)
#define JOURNAL_CAP_ENTRIES 512

struct store_journal {
    int fd;
    char path[PATH_MAX];
    char packdir[PATH_MAX];
    char ref[PATH_MAX];             /* the own branch's loose ref file */
    uint64_t end;                   /* where the next entry goes */
    uint64_t seq;                   /* entries since the last checkpoint */
    unsigned char (*sums)[SUM_LEN]; /* their packs, written unsynced */
    size_t nsums, capsums;
};

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* ---- reading: the decoder of the file's bytes (fuzz_journal.c) ------------- */

size_t store_journal_scan(const unsigned char *buf, size_t len, store_journal_entry_cb cb,
                          void *arg)
{
    static const unsigned char idx_sig[8] = {0xff, 't', 'O', 'c', 0, 0, 0, 2};
    size_t at = JOURNAL_HDR;
    unsigned char last_to[SUM_LEN];
    uint64_t seq = 1;
    if (len < JOURNAL_HDR || memcmp(buf, JOURNAL_MAGIC, JOURNAL_HDR) != 0)
        return 0;
    while (len - at >= ENTRY_HDR + ENTRY_SUM) {
        const unsigned char *h = buf + at;
        store_journal_entry e;
        if (get32(h) != ENTRY_MAGIC || (get32(h + 4) & ~1u) || get64(h + 8) != seq)
            break;
        e.seq = seq;
        e.has_from = get32(h + 4) & 1u;
        memcpy(e.from, h + 16, SUM_LEN);
        memcpy(e.to, h + 36, SUM_LEN);
        e.packlen = get32(h + 56);
        e.idxlen = get32(h + 60);
        /* sizes first: every length is checked against what is there */
        size_t room = len - at - ENTRY_HDR - ENTRY_SUM;
        if (e.packlen < 12 + SUM_LEN || e.idxlen < IDX_MIN || e.packlen > room ||
            e.idxlen > room - e.packlen)
            break;
        size_t whole = ENTRY_HDR + e.packlen + e.idxlen;
        unsigned char sum[EVP_MAX_MD_SIZE];
        unsigned sl = 0;
        if (!EVP_Digest(h, whole, sum, &sl, EVP_sha1(), NULL) || sl != ENTRY_SUM ||
            memcmp(sum, h + whole, ENTRY_SUM) != 0)
            break;
        e.pack = h + ENTRY_HDR;
        e.idx = e.pack + e.packlen;
        /* a pack and the .idx that names it; a chain of branch moves */
        if (memcmp(e.pack, "PACK\0\0\0\2", 8) != 0 || memcmp(e.idx, idx_sig, 8) != 0 ||
            memcmp(e.idx + e.idxlen - 2 * SUM_LEN, e.pack + e.packlen - SUM_LEN, SUM_LEN) != 0)
            break;
        if (seq > 1 && (!e.has_from || memcmp(e.from, last_to, SUM_LEN) != 0))
            break;
        if (cb && cb(&e, arg) != 0)
            break;
        memcpy(last_to, e.to, SUM_LEN);
        at += whole + ENTRY_SUM;
        seq++;
    }
    return at;
}

/* ---- files ------------------------------------------------------------------- */

static void pack_path(char *out, size_t outlen, const store_journal *j, const unsigned char *sum,
                      const char *ext)
{
    git_oid id;
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_fromraw(&id, sum);
    git_oid_tostr(hex, sizeof hex, &id);
    snprintf(out, outlen, "%s/pack-%s.%s", j->packdir, hex, ext);
}

/* 1 when the file at path holds exactly data[0..len). */
static int file_same(const char *path, const unsigned char *data, size_t len)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int same = 0;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len) {
        unsigned char buf[65536];
        size_t at = 0;
        same = 1;
        while (same && at < len) {
            ssize_t n = read(fd, buf, len - at < sizeof buf ? len - at : sizeof buf);
            if (n <= 0 || memcmp(buf, data + at, (size_t)n) != 0)
                same = 0;
            else
                at += (size_t)n;
        }
    }
    close(fd);
    return same;
}

/* Room for one more pack in the list of those to flush at the checkpoint
 * (made before an append, so that noting its pack after cannot fail). */
static uerr sums_reserve(store_journal *j, char *err, size_t errlen)
{
    if (j->nsums == j->capsums) {
        size_t nc = j->capsums ? 2 * j->capsums : 64;
        void *p = realloc(j->sums, nc * sizeof *j->sums);
        if (!p)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        j->sums = p;
        j->capsums = nc;
    }
    return UERR_OK;
}

static uerr sums_add(store_journal *j, const unsigned char *sum, char *err, size_t errlen)
{
    for (size_t i = 0; i < j->nsums; i++)
        if (memcmp(j->sums[i], sum, SUM_LEN) == 0)
            return UERR_OK;
    uerr rc = sums_reserve(j, err, errlen);
    if (rc == UERR_OK)
        memcpy(j->sums[j->nsums++], sum, SUM_LEN);
    return rc;
}

/* The branch's ref file read as git writes it ("<hex>\n"). 1 with *id,
 * 0 when it is missing or holds anything else. */
static int ref_read(git_oid *id, const char *path)
{
    char buf[GIT_OID_HEXSZ + 2];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != GIT_OID_HEXSZ + 1 || buf[GIT_OID_HEXSZ] != '\n')
        return 0;
    buf[GIT_OID_HEXSZ] = 0;
    return git_oid_fromstr(id, buf) == 0;
}

/* Set the branch to id by git's lock protocol, durably. */
static uerr ref_write(const store_journal *j, const git_oid *id, char *err, size_t errlen)
{
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s.lock", j->ref);
    int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return uerr_set(err, errlen, UERR_IO, "writing %s: %s", lock, strerror(errno));
    int e = store_ref_lock_fill(fd, id);
    if (close(fd) != 0 && !e)
        e = errno;
    if (e || rename(lock, j->ref) != 0) {
        uerr rc = uerr_set(err, errlen, UERR_IO, "writing %s: %s", j->ref, strerror(e ? e : errno));
        unlink(lock);
        return rc;
    }
    return fsutil_dir_sync(j->ref, err, errlen);
}

/* ---- checkpoint ---------------------------------------------------------------- */

/* 1 when the journal, the pack folder and the refs folder are on one
 * file system (the usual store; objects/ may be a mount or a link of its
 * own). */
static int one_fs(const store_journal *j)
{
    struct stat a, b, c;
    char refs[PATH_MAX];
    snprintf(refs, sizeof refs, "%s", j->ref);
    char *slash = strrchr(refs, '/');
    if (slash)
        *slash = 0;
    return fstat(j->fd, &a) == 0 && stat(j->packdir, &b) == 0 && stat(refs, &c) == 0 &&
           a.st_dev == b.st_dev && a.st_dev == c.st_dev;
}

/* Flush what the entries wrote unsynced: on one file system a syncfs,
 * one flush of the disk for them all (and for whatever else was dirty on
 * it), where fsyncing each file and folder was 2k + 3 flushes in a row for
 * k entries (13 ms for 16 on the Xeon, BENCHMARKS "Write-ahead journal");
 * across file systems, each. */
static uerr checkpoint_flush(store_journal *j, char *err, size_t errlen)
{
    char path[PATH_MAX + 64];
    uerr rc;
    if (one_fs(j)) {
        if (syncfs(j->fd) != 0)
            return uerr_set(err, errlen, UERR_IO, "flushing %s: %s", j->packdir, strerror(errno));
        return UERR_OK;
    }
    for (size_t i = 0; i < j->nsums; i++) {
        pack_path(path, sizeof path, j, j->sums[i], "pack");
        if ((rc = fsutil_file_sync(path, err, errlen)) != UERR_OK)
            return rc;
        pack_path(path, sizeof path, j, j->sums[i], "idx");
        if ((rc = fsutil_file_sync(path, err, errlen)) != UERR_OK)
            return rc;
    }
    snprintf(path, sizeof path, "%s/x", j->packdir);
    if ((rc = fsutil_dir_sync(path, err, errlen)) != UERR_OK ||
        (rc = fsutil_file_sync(j->ref, err, errlen)) != UERR_OK ||
        (rc = fsutil_dir_sync(j->ref, err, errlen)) != UERR_OK)
        return rc;
    return UERR_OK;
}

uerr store_journal_checkpoint(store_journal *j, char *err, size_t errlen)
{
    uerr rc;
    if (!j || j->seq == 0)
        return UERR_OK;
    uint64_t t0 = clock_mono_ms();
    if ((rc = checkpoint_flush(j, err, errlen)) != UERR_OK)
        return rc;
    /* everything the entries hold is where it belongs: forget them */
    if (ftruncate(j->fd, JOURNAL_HDR) != 0 || fdatasync(j->fd) != 0)
        return uerr_set(err, errlen, UERR_IO, "emptying %s: %s", j->path, strerror(errno));
    log_msg(LOG_DEBUG, "journal: checkpoint of %llu entries (%zu packs) in %llu ms",
            (unsigned long long)j->seq, j->nsums, (unsigned long long)(clock_mono_ms() - t0));
    j->end = JOURNAL_HDR;
    j->seq = 0;
    j->nsums = 0;
    return UERR_OK;
}

/* pwritev until all n vectors are written at off. 0, or -1 with errno. */
static int pwritev_all(int fd, struct iovec *v, int n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwritev(fd, v, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += w;
        while (n > 0 && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* ---- append ------------------------------------------------------------------- */

uerr store_journal_append(store_journal *j, const git_oid *from, const git_oid *to,
                          const store_packfiles *f, char *err, size_t errlen)
{
    unsigned char h[ENTRY_HDR], sum[EVP_MAX_MD_SIZE];
    unsigned sl = 0;
    uerr rc;
    if (f->packlen > UINT32_MAX || f->idxlen > UINT32_MAX)
        return uerr_set(err, errlen, UERR_INVALID, "a batch too large for the journal");
    if ((rc = sums_reserve(j, err, errlen)) != UERR_OK)
        return rc;
    put32(h, ENTRY_MAGIC);
    put32(h + 4, from ? 1u : 0u);
    put64(h + 8, j->seq + 1);
    memset(h + 16, 0, SUM_LEN);
    if (from)
        memcpy(h + 16, from->id, SUM_LEN);
    memcpy(h + 36, to->id, SUM_LEN);
    put32(h + 56, (uint32_t)f->packlen);
    put32(h + 60, (uint32_t)f->idxlen);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) && EVP_DigestUpdate(md, h, sizeof h) &&
             EVP_DigestUpdate(md, f->pack, f->packlen) && EVP_DigestUpdate(md, f->idx, f->idxlen) &&
             EVP_DigestFinal_ex(md, sum, &sl) && sl == ENTRY_SUM;
    EVP_MD_CTX_free(md);
    if (!ok)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory writing the journal");
    struct iovec v[4] = {
        {h, sizeof h}, {f->pack, f->packlen}, {f->idx, f->idxlen}, {sum, ENTRY_SUM}};
    size_t whole = sizeof h + f->packlen + f->idxlen + ENTRY_SUM;
    /* written at the known end (not O_APPEND): a torn earlier try is
     * written over */
    if (pwritev_all(j->fd, v, 4, (off_t)j->end) != 0 || fdatasync(j->fd) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "writing %s: %s", j->path, strerror(errno));
        (void)ftruncate(j->fd, (off_t)j->end);
        return rc;
    }
    j->end += whole;
    j->seq++;
    return sums_add(j, f->sum, err, errlen); /* room was made: cannot fail */
}

uerr store_journal_unappend(store_journal *j, const store_journal_pos *at, char *err, size_t errlen)
{
    if (ftruncate(j->fd, (off_t)at->end) != 0 || fdatasync(j->fd) != 0)
        return uerr_set(err, errlen, UERR_IO, "taking a batch back out of %s: %s", j->path,
                        strerror(errno));
    j->end = at->end;
    j->seq = at->seq;
    j->nsums = at->nsums; /* its pack is not there to flush */
    return UERR_OK;
}

void store_journal_mark(store_journal_pos *out, const store_journal *j)
{
    out->end = j->end;
    out->seq = j->seq;
    out->nsums = j->nsums;
}

int store_journal_full(const store_journal *j)
{
    return j->end >= JOURNAL_CAP_BYTES || j->seq >= JOURNAL_CAP_ENTRIES;
}

/* ---- open and replay ------------------------------------------------------------ */

typedef struct {
    store_journal *j;
    git_oid last;
    int have_ref, ref_in_chain, n;
    git_oid ref;
    uerr rc;
    char *err;
    size_t errlen;
} replay_ctx;

/* Put one file of an entry in place, unless it is there already. */
static uerr replay_file(store_journal *j, const unsigned char *sum, const char *ext,
                        const unsigned char *data, size_t len, char *err, size_t errlen)
{
    char path[PATH_MAX + 64];
    pack_path(path, sizeof path, j, sum, ext);
    if (file_same(path, data, len))
        return UERR_OK;
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/pack_git2_uniond_XXXXXX", j->packdir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return uerr_set(err, errlen, UERR_IO, "creating %s: %s", tmp, strerror(errno));
    int bad = fchmod(fd, 0444) != 0 || fsutil_write_all(fd, data, len) != 0;
    if (close(fd) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        uerr rc = uerr_set(err, errlen, UERR_IO, "writing %s: %s", path, strerror(errno));
        unlink(tmp);
        return rc;
    }
    return UERR_OK;
}

static int replay_entry(const store_journal_entry *e, void *arg)
{
    replay_ctx *c = arg;
    const unsigned char *sum = e->pack + e->packlen - SUM_LEN;
    if (c->have_ref && ((e->has_from && memcmp(c->ref.id, e->from, SUM_LEN) == 0) ||
                        memcmp(c->ref.id, e->to, SUM_LEN) == 0))
        c->ref_in_chain = 1;
    if ((c->rc = replay_file(c->j, sum, "pack", e->pack, e->packlen, c->err, c->errlen)) !=
            UERR_OK ||
        (c->rc = replay_file(c->j, sum, "idx", e->idx, e->idxlen, c->err, c->errlen)) != UERR_OK ||
        (c->rc = sums_add(c->j, sum, c->err, c->errlen)) != UERR_OK)
        return -1;
    git_oid_fromraw(&c->last, e->to);
    c->n++;
    return 0;
}

/* Start the journal over: its magic alone, durably. */
static uerr journal_reset(store_journal *j, char *err, size_t errlen)
{
    if (ftruncate(j->fd, 0) != 0 || pwrite(j->fd, JOURNAL_MAGIC, JOURNAL_HDR, 0) != JOURNAL_HDR ||
        fdatasync(j->fd) != 0)
        return uerr_set(err, errlen, UERR_IO, "writing %s: %s", j->path, strerror(errno));
    return UERR_OK;
}

/* Redo the entries of the journal image buf[0..len) (len > its magic). */
static uerr journal_redo(store_journal *j, const unsigned char *buf, size_t len, char *err,
                         size_t errlen)
{
    replay_ctx c = {.j = j, .err = err, .errlen = errlen};
    if (memcmp(buf, JOURNAL_MAGIC, JOURNAL_HDR) != 0)
        return uerr_set(err, errlen, UERR_IO,
                        "%s is not uniond's journal (it does not start with %s); move it aside "
                        "to start without it",
                        j->path, JOURNAL_MAGIC);
    c.have_ref = ref_read(&c.ref, j->ref);
    size_t used = store_journal_scan(buf, len, replay_entry, &c);
    if (c.rc != UERR_OK)
        return c.rc;
    if (used < len)
        log_msg(LOG_WARN,
                "journal: %zu bytes after its last whole entry ignored (a write that was never "
                "acknowledged)",
                len - used);
    if (c.n == 0)
        return journal_reset(j, err, errlen);
    if (c.have_ref && !c.ref_in_chain) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, &c.ref);
        return uerr_set(err, errlen, UERR_IO,
                        "the branch %s is at %s, which the journal %s does not lead to: was the "
                        "store changed while uniond was stopped? Nothing was written; move the "
                        "journal aside to start without its %d writes",
                        j->ref, hex, j->path, c.n);
    }
    uerr rc;
    if ((!c.have_ref || !git_oid_equal(&c.ref, &c.last)) &&
        (rc = ref_write(j, &c.last, err, errlen)) != UERR_OK)
        return rc;
    log_msg(LOG_INFO, "journal: %d group commits redone after an unclean stop", c.n);
    j->seq = (uint64_t)c.n; /* what the checkpoint makes durable, then forgets */
    j->end = used;
    return store_journal_checkpoint(j, err, errlen);
}

/* Read the journal (fd open on it) and redo what it holds; it is left
 * holding its magic alone. */
static uerr journal_replay(store_journal *j, char *err, size_t errlen)
{
    struct stat st;
    uerr rc;
    if (fstat(j->fd, &st) != 0)
        return uerr_set(err, errlen, UERR_IO, "reading %s: %s", j->path, strerror(errno));
    if ((uint64_t)st.st_size > SIZE_MAX / 2)
        return uerr_set(err, errlen, UERR_IO, "%s is too large to be uniond's journal", j->path);
    size_t len = (size_t)st.st_size;
    j->end = JOURNAL_HDR;
    j->seq = 0;
    if (len <= JOURNAL_HDR) /* new, empty, or torn while it was made */
        return len == JOURNAL_HDR ? UERR_OK : journal_reset(j, err, errlen);
    unsigned char *buf = malloc(len);
    if (!buf)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory reading %s (%zu bytes)", j->path,
                        len);
    if (pread(j->fd, buf, len, 0) != (ssize_t)len)
        rc = uerr_set(err, errlen, UERR_IO, "reading %s: %s", j->path, strerror(errno));
    else
        rc = journal_redo(j, buf, len, err, errlen);
    free(buf);
    return rc;
}

uerr store_journal_open(store_journal **out, const char *gitdir, const char *node, char *err,
                        size_t errlen)
{
    store_journal *j = calloc(1, sizeof *j);
    uerr rc;
    *out = NULL;
    if (!j)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    j->fd = -1;
    size_t gl = strlen(gitdir);
    const char *sep = gl && gitdir[gl - 1] == '/' ? "" : "/";
    int n1 = snprintf(j->path, sizeof j->path, "%s%suniond-journal", gitdir, sep);
    int n2 = snprintf(j->packdir, sizeof j->packdir, "%s%sobjects/pack", gitdir, sep);
    int n3 = snprintf(j->ref, sizeof j->ref, "%s%srefs/heads/%s", gitdir, sep, node);
    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof j->path ||
        (size_t)n2 >= sizeof j->packdir || (size_t)n3 >= sizeof j->ref) {
        rc = uerr_set(err, errlen, UERR_INVALID, "the store's path is too long");
        goto fail;
    }
    int created = 0;
    j->fd = open(j->path, O_RDWR | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT) {
        j->fd = open(j->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        created = j->fd >= 0;
    }
    if (j->fd < 0) {
        rc = uerr_set(err, errlen, UERR_IO, "opening %s: %s", j->path, strerror(errno));
        goto fail;
    }
    if ((rc = journal_replay(j, err, errlen)) != UERR_OK)
        goto fail;
    /* a new journal's name must be durable before an entry counts on it */
    if (created && (rc = fsutil_dir_sync(j->path, err, errlen)) != UERR_OK)
        goto fail;
    *out = j;
    return UERR_OK;
fail:
    store_journal_free(j);
    return rc;
}

void store_journal_free(store_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->sums);
    free(j);
}

/* ---- the store's use of it ------------------------------------------------------- */

uerr store_checkpoint_in(store *s, char *err, size_t errlen)
{
    if (!s->journal || !atomic_load(&s->journal_dirty))
        return UERR_OK;
    uerr rc = store_journal_checkpoint(s->journal, err, errlen);
    if (rc == UERR_OK)
        atomic_store(&s->journal_dirty, 0);
    else
        log_msg(LOG_WARN, "journal: checkpoint failed, kept: %s", err);
    return rc;
}

/* Entries before the idle store queue checkpoints. Not after every
 * write: a checkpoint is two flushes (a syncfs and the journal's
 * truncation; 2k + 4 for k entries when the store spans file systems),
 * and a syncfs also flushes whatever else is dirty on the disk; the
 * kernel writes the files back meanwhile, and the next start redoes
 * whatever it did not. The pack join (every 16 packs) checkpoints too. */
#define JOURNAL_IDLE_ENTRIES 16

int store_checkpoint_due(const store *s)
{
    return atomic_load(&s->journal_dirty) >= JOURNAL_IDLE_ENTRIES ? 2 : 0;
}

uerr store_checkpoint(store *s, char *err, size_t errlen)
{
    store_enter(s);
    assert(!s->batching && "no checkpoint inside a batch");
    uerr rc = store_checkpoint_in(s, err, errlen);
    store_leave(s);
    return rc;
}
