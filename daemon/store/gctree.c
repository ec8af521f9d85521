/* gctree.c - one commit of a group-commit batch (gcommit.c), built in
 * memory: the record blobs, the trees on their paths and the commit are
 * serialised here, hashed once, and put straight into the mempack of
 * s->bulk (what reads during the batch see) and into s->batch_pack (what
 * store_batch_end writes). Part of the store room.
 *
 * The trees a batch writes are kept in memory once it is durable
 * (store_tcache): the next batch's paths start from them.
 *
 * Why not git_blob_create_from_buffer, git_tree_create_updated and
 * git_commit_create: libgit2 writes each object through git_odb_write,
 * which first asks every backend whether the object exists and, for a new
 * object, rescans the pack folder (git_odb_refresh: a readdir and a
 * string compare of every name against every loaded pack) before asking
 * again. An add writes five new objects, so that was five rescans per add,
 * growing with the packs the batches leave: 54% of the daemon's CPU with
 * 400 packs (perf, 100 adds in a row). The trees are the same bytes
 * git_tree_create_updated writes (entries in git's order, modes as stored,
 * the updated entries 100644 and 40000), so tree ids do not change
 * (tests/unit/test_gcommit.c compares them with libgit2's).
 *
 * It never moves the branch and never writes to disk. Store queue thread
 * only, inside a batch (s->batching). */
#include "daemon/store/store_int.h"
#include "daemon/store/writecheck.h"
#include "proto/kind.h"
#include "proto/record.h"

#include <openssl/evp.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* One object of the commit being built, kept until the commit is known to
 * be complete: nothing reaches the mempack (or the pack) from a commit
 * that fails half way. data holds "type size\0" then the body. */
typedef struct {
    git_oid id;
    git_object_t type;
    unsigned char *data;
    size_t hdr, len; /* header length, body length */
} staged;

typedef struct {
    staged *v;
    size_t n, cap;
} stage;

/* One change below the tree being built: the rest of its path. */
typedef struct {
    const char *path;
    git_oid blob;
} upd;

/* Where the trees on a path are read: the pending ones in the mempack,
 * then the last batch's (tc), the rest through the store's odb. */
typedef struct {
    git_odb_backend *mp;
    const store_tcache *tc;
    git_odb *odb;
} rdctx;

/* One entry of a tree being written. */
typedef struct {
    const char *name;
    size_t nlen;
    unsigned mode; /* octal as stored: 0100644, 040000 */
    git_oid id;
} tentry;

void store_tcache_free(store_tcache *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].body);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Keep a copy of tree id's body in c, unless c is full (then it is read
 * from the odb next time, as without the cache). */
static void tcache_add(store_tcache *c, const git_oid *id, const unsigned char *body, size_t len)
{
    if (c->n == STORE_TCACHE_ENTRIES || c->bytes + len > STORE_TCACHE_BYTES)
        return;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        store_tcent *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv)
            return;
        c->v = nv;
        c->cap = nc;
    }
    unsigned char *b = malloc(len ? len : 1);
    if (!b)
        return;
    memcpy(b, body, len);
    c->v[c->n].body = b;
    c->v[c->n].len = len;
    git_oid_cpy(&c->v[c->n].id, id);
    c->n++;
    c->bytes += len;
}

static const store_tcent *tcache_find(const store_tcache *c, const git_oid *id)
{
    /* newest first: the last commit's trees are the next one's base */
    for (size_t i = c->n; i-- > 0;)
        if (git_oid_equal(&c->v[i].id, id))
            return &c->v[i];
    return NULL;
}

static void stage_free(stage *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->v[i].data);
    free(st->v);
}

/* Hash "type size\0" + body into a staged object (body copied). 0 or -1
 * (out of memory, or the digest failed). */
static int stage_put(stage *st, git_oid *out, git_object_t type, const void *body, size_t len)
{
    char hdr[64];
    int h = snprintf(hdr, sizeof hdr, "%s %zu", git_object_type2string(type), len) + 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (st->n == st->cap) {
        size_t nc = st->cap ? st->cap * 2 : 8;
        staged *nv = realloc(st->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        st->v = nv;
        st->cap = nc;
    }
    unsigned char *d = malloc((size_t)h + len);
    if (!d)
        return -1;
    memcpy(d, hdr, (size_t)h); /* the NUL included */
    if (len)
        memcpy(d + h, body, len);
    if (!EVP_Digest(d, (size_t)h + len, md, &mdlen, EVP_sha1(), NULL) || mdlen != GIT_OID_RAWSZ) {
        free(d);
        return -1;
    }
    staged *s = &st->v[st->n++];
    git_oid_fromraw(&s->id, md);
    s->type = type;
    s->data = d;
    s->hdr = (size_t)h;
    s->len = len;
    git_oid_cpy(out, &s->id);
    return 0;
}

/* git's order of tree entries: names compared bytewise, a tree's as if it
 * ended in '/'. */
static int entry_cmp(const char *a, size_t al, unsigned am, const char *b, size_t bl, unsigned bm)
{
    size_t l = al < bl ? al : bl;
    int c = memcmp(a, b, l);
    if (c)
        return c;
    unsigned ca = al > l ? (unsigned char)a[l] : ((am & 0170000) == 040000 ? '/' : 0);
    unsigned cb = bl > l ? (unsigned char)b[l] : ((bm & 0170000) == 040000 ? '/' : 0);
    return (int)ca - (int)cb;
}

static int tentry_qcmp(const void *x, const void *y)
{
    const tentry *a = x, *b = y;
    return entry_cmp(a->name, a->nlen, a->mode, b->name, b->nlen, b->mode);
}

/* Parse the tree entry at *p (before end): 1 and *p moved past it, 0 at
 * the end, -1 if malformed. */
static int raw_next(const unsigned char **p, const unsigned char *end, tentry *e)
{
    const unsigned char *q = *p;
    if (q == end)
        return 0;
    unsigned mode = 0;
    while (q < end && *q >= '0' && *q <= '7')
        mode = mode * 8 + (unsigned)(*q++ - '0');
    if (q == *p || q >= end || *q++ != ' ')
        return -1;
    const unsigned char *nul = memchr(q, 0, (size_t)(end - q));
    if (!nul || nul == q || (size_t)(end - nul) < 1 + GIT_OID_RAWSZ)
        return -1;
    e->name = (const char *)q;
    e->nlen = (size_t)(nul - q);
    e->mode = mode;
    git_oid_fromraw(&e->id, nul + 1);
    *p = nul + 1 + GIT_OID_RAWSZ;
    return 1;
}

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int oom;
} obuf;

static void ob_put(obuf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n)
            nc *= 2;
        unsigned char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void ob_entry(obuf *b, const tentry *e)
{
    char m[16];
    int ml = snprintf(m, sizeof m, "%o ", e->mode);
    ob_put(b, m, (size_t)ml);
    ob_put(b, e->name, e->nlen);
    ob_put(b, "", 1);
    ob_put(b, e->id.id, GIT_OID_RAWSZ);
}

/* The raw body of tree id, or an empty body when id is NULL: a pending
 * tree from the mempack (the bytes made here; *mp set, freed with
 * git_odb_backend_data_free), else through odb (*o, git_odb_object_free),
 * which checks the hash of what it reads from disk. */
static uerr tree_raw(git_odb_object **o, void **mp, const unsigned char **p, size_t *len,
                     const rdctx *rd, const git_oid *id, char *err, size_t errlen)
{
    git_object_t type;
    const store_tcent *hit;
    git_odb *odb = rd->odb;
    *o = NULL;
    *mp = NULL;
    *p = NULL;
    *len = 0;
    if (!id)
        return UERR_OK;
    if (rd->mp->read(mp, len, &type, rd->mp, id) == 0) {
        *p = *mp;
    } else if ((hit = tcache_find(rd->tc, id)) != NULL) {
        /* the bytes this process hashed when it wrote them */
        *p = hit->body;
        *len = hit->len;
        type = GIT_OBJECT_TREE;
    } else {
        if (git_odb_read(o, odb, id) < 0)
            return store_git_err(err, errlen, UERR_IO, "reading a tree on the record's path");
        type = git_odb_object_type(*o);
        *p = git_odb_object_data(*o);
        *len = git_odb_object_size(*o);
    }
    if (type != GIT_OBJECT_TREE)
        return uerr_set(err, errlen, UERR_IO, "a tree on the record's path is not a tree");
    return UERR_OK;
}

static uerr tree_build(git_oid *out, stage *st, const rdctx *rd, const git_oid *base, upd *u,
                       size_t n, int depth, char *err, size_t errlen);

/* The entry of name (nlen bytes) in the raw tree [p, end), if any. */
static int raw_find(tentry *found, const unsigned char *p, const unsigned char *end,
                    const char *name, size_t nlen)
{
    tentry e;
    while (raw_next(&p, end, &e) == 1)
        if (e.nlen == nlen && memcmp(e.name, name, nlen) == 0) {
            *found = e;
            return 1;
        }
    return 0;
}

/* The new entries of the tree [p, end) for updates u[0..n) (sorted by
 * path): one per first path component, subtrees built first. */
static uerr new_entries(tentry *ne, size_t *nne, stage *st, const rdctx *rd, const unsigned char *p,
                        const unsigned char *end, upd *u, size_t n, int depth, char *err,
                        size_t errlen)
{
    *nne = 0;
    for (size_t i = 0; i < n;) {
        const char *slash = strchr(u[i].path, '/');
        size_t nl = slash ? (size_t)(slash - u[i].path) : strlen(u[i].path);
        size_t j = i + 1;
        while (j < n && strncmp(u[j].path, u[i].path, nl) == 0 &&
               (u[j].path[nl] == '/' || u[j].path[nl] == 0))
            j++;
        if (nl == 0)
            return uerr_set(err, errlen, UERR_INVALID, "an empty name in a record's path");
        tentry *e = &ne[(*nne)++];
        e->name = u[i].path;
        e->nlen = nl;
        if (!slash) {
            /* a record's blob; the same path twice: the last one */
            for (size_t k = i; k < j; k++)
                if (u[k].path[nl] != 0)
                    return uerr_set(err, errlen, UERR_INVALID, "a record's path is a folder");
            e->mode = 0100644;
            git_oid_cpy(&e->id, &u[j - 1].blob);
        } else {
            for (size_t k = i; k < j; k++) {
                if (u[k].path[nl] != '/')
                    return uerr_set(err, errlen, UERR_INVALID, "a record's path is a folder");
                u[k].path += nl + 1;
            }
            tentry old;
            int have = raw_find(&old, p, end, e->name, nl);
            if (have && (old.mode & 0170000) != 040000)
                return uerr_set(err, errlen, UERR_IO, "a folder on a record's path is a file");
            e->mode = 040000;
            uerr rc = tree_build(&e->id, st, rd, have ? &old.id : NULL, u + i, j - i, depth + 1,
                                 err, errlen);
            if (rc != UERR_OK)
                return rc;
        }
        i = j;
    }
    qsort(ne, *nne, sizeof *ne, tentry_qcmp);
    return UERR_OK;
}

/* The tree base (NULL: none) with the updates u[0..n) (paths relative to
 * it, sorted, each path's components advanced as subtrees are built),
 * staged; its id in *out. Entries not updated keep their bytes. */
static uerr tree_build(git_oid *out, stage *st, const rdctx *rd, const git_oid *base, upd *u,
                       size_t n, int depth, char *err, size_t errlen)
{
    git_odb_object *o = NULL;
    void *mpdata = NULL;
    const unsigned char *p, *end;
    size_t len;
    obuf b = {0};
    tentry *ne = NULL;
    size_t nne = 0;
    uerr rc;
    if (depth > STORE_TREE_DEPTH_MAX)
        return uerr_set(err, errlen, UERR_INVALID, "a record's path is too deep");
    if ((rc = tree_raw(&o, &mpdata, &p, &len, rd, base, err, errlen)) != UERR_OK)
        goto cleanup;
    end = p ? p + len : NULL;
    if (!(ne = malloc(n * sizeof *ne))) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory building a tree");
        goto cleanup;
    }
    if ((rc = new_entries(ne, &nne, st, rd, p, end, u, n, depth, err, errlen)) != UERR_OK)
        goto cleanup;
    /* merge the old entries (in git's order) with the new ones */
    size_t j = 0;
    tentry e;
    int r;
    const unsigned char *q = p;
    while (p && (r = raw_next(&q, end, &e)) == 1) {
        while (j < nne &&
               entry_cmp(ne[j].name, ne[j].nlen, ne[j].mode, e.name, e.nlen, e.mode) < 0 &&
               !(ne[j].nlen == e.nlen && memcmp(ne[j].name, e.name, e.nlen) == 0))
            ob_entry(&b, &ne[j++]);
        if (j < nne && ne[j].nlen == e.nlen && memcmp(ne[j].name, e.name, e.nlen) == 0)
            ob_entry(&b, &ne[j++]); /* replaced */
        else
            ob_put(&b, p, (size_t)(q - p)); /* kept as it was */
        p = q;
    }
    if (p && r < 0) {
        rc = uerr_set(err, errlen, UERR_IO, "a tree on the record's path is damaged");
        goto cleanup;
    }
    while (j < nne)
        ob_entry(&b, &ne[j++]);
    if (b.oom || stage_put(st, out, GIT_OBJECT_TREE, b.p, b.len) != 0)
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory building a tree");
cleanup:
    git_odb_object_free(o);
    if (mpdata)
        git_odb_backend_data_free(rd->mp, mpdata);
    free(ne);
    free(b.p);
    return rc;
}

static int upd_qcmp(const void *x, const void *y)
{
    return strcmp(((const upd *)x)->path, ((const upd *)y)->path);
}

/* Move the staged objects into the mempack (for the reads of the batch)
 * and into the batch's pack, each once (one already in the mempack is in
 * the pack). The pack stores them without compression (zlib level 0):
 * deflating every object of every add, the trees on its path included
 * (about 10-20 KB per add at 100k records), was 47% of the daemon's CPU
 * with 50 clients adding (perf). The packs are written once; small ones
 * are joined (deflated) at start (gcommit.c), and `git repack` compacts
 * the rest. */
static uerr stage_commit(store *s, stage *st, char *err, size_t errlen)
{
    for (size_t i = 0; i < st->n; i++) {
        staged *o = &st->v[i];
        if (s->mempack->exists(s->mempack, &o->id))
            continue;
        if (store_packacc_add(&s->batch_pack, &o->id, o->type, o->data + o->hdr, o->len, 0) != 0)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        if (s->mempack->write(s->mempack, &o->id, o->data + o->hdr, o->len, o->type) < 0) {
            /* take it out of the pack again: its entry is the last one */
            s->batch_pack.len = (size_t)s->batch_pack.ents[--s->batch_pack.n].off;
            return store_git_err(err, errlen, UERR_NOMEM, "keeping a new object");
        }
        if (o->type == GIT_OBJECT_TREE)
            tcache_add(&s->tc_next, &o->id, o->data + o->hdr, o->len);
    }
    return UERR_OK;
}

/* "author NAME <EMAIL> TIME +HHMM\n": git_signature__writebuf's form. */
static void sig_line(obuf *b, const char *what, const git_signature *sig)
{
    char tail[64];
    int off = sig->when.offset;
    char sign = (off < 0 || sig->when.sign == '-') ? '-' : '+';
    if (off < 0)
        off = -off;
    ob_put(b, what, strlen(what));
    ob_put(b, sig->name, strlen(sig->name));
    ob_put(b, " <", 2);
    ob_put(b, sig->email, strlen(sig->email));
    int tl = snprintf(tail, sizeof tail, "> %u %c%02d%02d\n", (unsigned)sig->when.time, sign,
                      off / 60, off % 60);
    ob_put(b, tail, (size_t)tl);
}

/* The commit of tree root on the pending head, by sig with message,
 * staged into st: the bytes git_commit_create_buffer makes (tree, parent,
 * author, committer, encoding, blank line, message), formatted here
 * because libgit2 wants the tree as an object it can read, and this
 * commit's trees are not readable until the commit is complete. */
static uerr commit_object(git_oid *out, stage *st, const store *s, const git_oid *root,
                          const git_signature *sig, const char *message, char *err, size_t errlen)
{
    obuf b = {0};
    char hex[GIT_OID_HEXSZ + 1];
    ob_put(&b, "tree ", 5);
    ob_put(&b, git_oid_tostr(hex, sizeof hex, root), GIT_OID_HEXSZ);
    if (s->has_head) {
        ob_put(&b, "\nparent ", 8);
        ob_put(&b, git_oid_tostr(hex, sizeof hex, &s->head), GIT_OID_HEXSZ);
    }
    ob_put(&b, "\n", 1);
    sig_line(&b, "author ", sig);
    sig_line(&b, "committer ", sig);
    ob_put(&b, "encoding UTF-8\n\n", 16);
    ob_put(&b, message, strlen(message));
    uerr rc = UERR_OK;
    if (b.oom || stage_put(st, out, GIT_OBJECT_COMMIT, b.p, b.len) != 0)
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory creating the commit");
    free(b.p);
    return rc;
}

uerr store_batch_commit(store *s, const store_change *ch, size_t n, const char *operator,
                        const char * message, char *err, size_t errlen)
{
    stage st = {0};
    upd *u = NULL;
    char(*paths)[RECORD_ID_MAX + 32] = NULL;
    git_signature *sig = NULL;
    git_odb *odb = NULL;
    git_oid root, commit;
    char email[256];
    uerr rc;
    assert(s->batching && "store_batch_commit runs inside a batch");
    if (n == 0)
        return uerr_set(err, errlen, UERR_INVALID, "nothing to commit");
    u = calloc(n, sizeof *u);
    paths = calloc(n, sizeof *paths);
    if (!u || !paths) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        goto cleanup;
    }
    /* everything that can refuse the write first, before any object */
    snprintf(email, sizeof email, "%s@%s", operator, s->node);
    if (git_signature_now(&sig, operator, email) < 0) {
        rc = store_git_err(err, errlen, UERR_INVALID, "making the commit signature");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (!record_id_valid(ch[i].id)) {
            rc = uerr_set(err, errlen, UERR_INVALID, "bad record id %.64s", ch[i].id);
            goto cleanup;
        }
        if ((rc = store_write_check(ch[i].id, ch[i].buf, ch[i].len, err, errlen)) != UERR_OK)
            goto cleanup;
        kind_path(paths[i], sizeof paths[i], ch[i].kind ? ch[i].kind : KIND_MEMBER, ch[i].id);
        u[i].path = paths[i];
        if (stage_put(&st, &u[i].blob, GIT_OBJECT_BLOB, ch[i].buf, ch[i].len) != 0) {
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory writing a record");
            goto cleanup;
        }
    }
    /* stable: of two changes of one path the later wins, as with
     * git_tree_create_updated */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && upd_qcmp(&u[k - 1], &u[k]) > 0; k--) {
            upd t = u[k];
            u[k] = u[k - 1];
            u[k - 1] = t;
        }
    if (git_repository_odb(&odb, s->bulk) < 0) {
        rc = store_git_err(err, errlen, UERR_IO, "opening the object store");
        goto cleanup;
    }
    rdctx rd = {s->mempack, &s->tc, odb};
    rc = tree_build(&root, &st, &rd, s->has_head ? &s->tree : NULL, u, n, 0, err, errlen);
    if (rc == UERR_OK)
        rc = commit_object(&commit, &st, s, &root, sig, message, err, errlen);
    /* only a complete commit's objects reach the mempack and the pack */
    if (rc == UERR_OK)
        rc = stage_commit(s, &st, err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    s->batch_commits++; /* durable at store_batch_end */
    store_last_change_note(s, &commit, (int64_t)sig->when.time, sig->email);
    git_oid_cpy(&s->head, &commit);
    git_oid_cpy(&s->tree, &root);
    s->has_head = 1;
cleanup:
    git_odb_free(odb);
    git_signature_free(sig);
    stage_free(&st);
    free(u);
    free(paths);
    return rc;
}
