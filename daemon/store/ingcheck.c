/* ingcheck.c - the take-in's check of every object a pack brings,
 * reachable or not (objcheck.c's rules), on two threads when the pack is
 * large, and the recheck of records under the declarations the same pack
 * brings. Split from ingest.c, which calls ingest_check_all (objects read
 * through libgit2) or, for a pack parsed by packparse.c, ingest_check_fast
 * over what ingest_fast_batch found checking the inflated bytes in place.
 * Part of the store room. */
#include "daemon/store/ingest_int.h"
#include "daemon/store/objcheck.h"
#include "daemon/util/log.h"

#include "proto/record.h"
#include "proto/schema_decl.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- every object, reachable or not ------------------------------------------ */

/* The rules of objcheck.h on one object's bytes; why gets the reason. */
static uerr check_bytes(uint32_t *flags, git_object_t type, const unsigned char *data, size_t len,
                        char *why, size_t whylen)
{
    objcheck_tree_kind kind;
    objcheck_commit_info ci;
    switch (type) {
    case GIT_OBJECT_BLOB: {
        uint32_t as = 0;
        uerr rc = objcheck_record_as(&as, (const char *)data, len, why, whylen);
        *flags |= as << IN_AS_SHIFT;
        return rc;
    }
    case GIT_OBJECT_TREE:
        return objcheck_tree(&kind, data, len, why, whylen);
    case GIT_OBJECT_COMMIT:
        return objcheck_commit(&ci, data, len, why, whylen);
    default:
        return uerr_set(why, whylen, UERR_PEER, "only commits, trees and records are taken in");
    }
}

/* 1 (and *flags) when the store already holds id: what it holds was
 * checked when it came (or written here), is not brought by this take-in
 * and does not move; 0 when it does not; UERR_IO. */
static int check_present(uint32_t *flags, ingest_ctx *c, const git_oid *id, git_odb *disk)
{
    size_t size;
    git_object_t type;
    if (!git_odb_exists_ext(disk, id, GIT_ODB_LOOKUP_NO_REFRESH))
        return 0;
    if (git_odb_read_header(&size, &type, disk, id) < 0)
        return store_git_err(c->err, c->errlen, UERR_IO, "reading the store");
    *flags = (uint32_t)type | IN_PRESENT;
    return 1;
}

static uerr check_one(ingest_ctx *c, const git_oid *id, git_odb *disk, uint32_t *flags)
{
    char hex[41], why[256];
    size_t size;
    git_object_t type;
    git_odb_object *o = NULL;
    git_oid_tostr(hex, sizeof hex, id);
    int present = check_present(flags, c, id, disk);
    if (present != 0)
        return present > 0 ? UERR_OK : (uerr)present;
    if (git_odb_read_header(&size, &type, c->odb, id) < 0)
        return store_git_err(c->err, c->errlen, UERR_PEER, "reading a received object");
    *flags = (uint32_t)type;
    if (size > STORE_OBJECT_MAX)
        return uerr_set(c->err, c->errlen, UERR_PEER,
                        "object %s: a %s of %zu bytes, over the %u-byte object limit", hex,
                        type_name(type), size, STORE_OBJECT_MAX);
    if (git_odb_read(&o, c->odb, id) < 0)
        return store_git_err(c->err, c->errlen, UERR_PEER, "reading a received object");
    uerr rc =
        check_bytes(flags, type, git_odb_object_data(o), git_odb_object_size(o), why, sizeof why);
    git_odb_object_free(o);
    if (rc != UERR_OK)
        return uerr_set(c->err, c->errlen, rc, "object %s (%s): %s", hex, type_name(type), why);
    return UERR_OK;
}

/* ---- declarations the pack brings --------------------------------------------- */

/* Decode the blob id (of the pack or the store) into r; 0 or -1. */
static int blob_record(record *r, git_odb *odb, const git_oid *id)
{
    git_odb_object *o = NULL;
    char derr[160];
    record_init(r);
    if (git_odb_read(&o, odb, id) < 0)
        return -1;
    int rc = record_decode(r, git_odb_object_data(o), git_odb_object_size(o), derr, sizeof derr);
    git_odb_object_free(o);
    return rc;
}

/* Put the process-wide declarations back to what the store's head holds
 * (what the ctl room applied from it): the take-in's own additions must
 * not outlive the check, whether it is accepted (the merge then reports
 * the new declarations to the ctl room, which applies them) or refused. */
static void decls_restore(ingest_ctx *c, git_odb *disk)
{
    record rec[2];
    int have[2] = {0, 0};
    const char *const ids[2] = {SCHEMA_DECL_FIELDS_ID, SCHEMA_DECL_CATEGORY_ID};
    git_tree *tree = NULL;
    if (c->s->has_head && git_tree_lookup(&tree, c->s->repo, &c->s->tree) == 0) {
        for (int i = 0; i < 2; i++) {
            char path[64];
            git_tree_entry *e = NULL;
            snprintf(path, sizeof path, "%s/%s", OBJCHECK_TOP_SCHEMA, ids[i]);
            if (git_tree_entry_bypath(&e, tree, path) == 0)
                have[i] = blob_record(&rec[i], disk, git_tree_entry_id(e)) == 0;
            git_tree_entry_free(e);
        }
    }
    git_tree_free(tree);
    schema_decl_apply(have[0] ? &rec[0] : NULL, have[1] ? &rec[1] : NULL);
    for (int i = 0; i < 2; i++)
        if (have[i])
            record_free(&rec[i]);
}

/* A record may use fields and category values that a declaration in the
 * same pack introduces (declared at the sender, not yet here). The blobs
 * that failed the first pass are checked again with every declaration of
 * the pack added to the process-wide ones (the store queue runs one job
 * at a time, so nothing else validates meanwhile), then the declarations
 * are put back as the head has them. The first still refused is named. */
static uerr recheck_with_decls(ingest_ctx *c, const store_oidvec *later, const store_oidvec *decls,
                               git_odb *disk)
{
    uerr rc = UERR_OK;
    for (size_t i = 0; i < decls->n; i++) {
        uint32_t *flags = store_oidmap_get(&c->in, &decls->v[i]);
        uint32_t as = flags ? *flags >> IN_AS_SHIFT : 0;
        record r;
        if (blob_record(&r, c->odb, &decls->v[i]) != 0)
            continue; /* it decoded in the first pass: only memory can fail */
        schema_decl_add(as & OBJCHECK_AS_DECL_FIELDS ? &r : NULL,
                        as & OBJCHECK_AS_DECL_CATEGORY ? &r : NULL);
        record_free(&r);
    }
    for (size_t i = 0; i < later->n && rc == UERR_OK; i++) {
        uint32_t flags = 0;
        rc = check_one(c, &later->v[i], disk, &flags);
        if (rc == UERR_OK && store_oidmap_put(&c->in, &later->v[i], flags) < 0)
            rc = uerr_set(c->err, c->errlen, UERR_NOMEM, "out of memory checking a pack");
    }
    if (decls->n)
        decls_restore(c, disk);
    return rc;
}

/* ---- every object, on two threads ------------------------------------------------ */

/* A pack this large is checked on two threads (a small one, live sync's,
 * is not worth a thread). */
#define CHECK_PARALLEL_MIN 2048

static size_t check_parallel_min = CHECK_PARALLEL_MIN;

void store_test_parallel_check(int on)
{
    check_parallel_min = on ? 1 : CHECK_PARALLEL_MIN;
}

/* One checking thread: objects k, k + 2, k + 4, ... of objs, each one's
 * flags and outcome kept by position. A thread stops at its first fatal
 * outcome (anything but a record the schema refused) or once another has
 * stopped at an earlier position: everything before the first fatal
 * position is then checked by both halves. */
typedef struct {
    ingest_ctx c; /* a copy with its own message buffer (only the buffer is written) */
    char why[256];
    const store_oidvec *objs;
    git_odb *disk;
    uint32_t *flags;
    signed char *rc;
    size_t first;
    _Atomic size_t *fatal; /* lowest fatal position so far; objs->n: none */
} check_part;

static int check_fatal(uerr rc, uint32_t flags)
{
    return rc != UERR_OK && !(rc == UERR_PEER && (flags & IN_TYPE) == GIT_OBJECT_BLOB);
}

static void *check_part_run(void *arg)
{
    check_part *p = arg;
    for (size_t i = p->first; i < p->objs->n && i < atomic_load(p->fatal); i += 2) {
        p->flags[i] = 0;
        uerr rc = check_one(&p->c, &p->objs->v[i], p->disk, &p->flags[i]);
        p->rc[i] = (signed char)rc;
        if (check_fatal(rc, p->flags[i])) {
            size_t f = atomic_load(p->fatal);
            while (i < f && !atomic_compare_exchange_weak(p->fatal, &f, i))
                ;
            break;
        }
    }
    return NULL;
}

/* check_one over every object, on two threads (the odb is thread-safe;
 * the checks are pure and read the schema, which no one changes while
 * the store queue runs this job). flags[i] and rc[i] the outcome of object
 * i; *fatal the first position whose outcome stops the take-in (objs->n:
 * none). Its message is made again by the caller, on its own thread, so
 * the refusal names the same object and reason as a check in one thread.
 * -1 when no thread could be started (the caller checks in order). */
static int check_parallel(ingest_ctx *c, const store_oidvec *objs, git_odb *disk, uint32_t *flags,
                          signed char *rc, size_t *fatal)
{
    _Atomic size_t lowest = objs->n;
    check_part part[2];
    pthread_t t;
    for (int k = 0; k < 2; k++) {
        part[k] = (check_part){*c, "", objs, disk, flags, rc, (size_t)k, &lowest};
        part[k].c.err = part[k].why;
        part[k].c.errlen = sizeof part[k].why;
    }
    if (pthread_create(&t, NULL, check_part_run, &part[1]) != 0)
        return -1;
    check_part_run(&part[0]);
    pthread_join(t, NULL);
    *fatal = atomic_load(&lowest);
    return 0;
}

/* The verdict over every object of objs in order, from the outcomes
 * pflags/prc already computed (NULL: none), except at position fatal,
 * which check_one makes again here so that its message is this thread's.
 * A record refused by the schema is checked again once every declaration
 * of the pack is known. */
static uerr check_verdict(ingest_ctx *c, const store_oidvec *objs, git_odb *disk,
                          const uint32_t *pflags, const signed char *prc, size_t fatal)
{
    store_oidvec later = {0}, decls = {0};
    uerr rc = UERR_OK;
    for (size_t i = 0; i < objs->n && rc == UERR_OK; i++) {
        uint32_t flags = 0;
        if (pflags && i != fatal) {
            flags = pflags[i];
            rc = (uerr)prc[i];
        } else
            rc = check_one(c, &objs->v[i], disk, &flags);
        if (rc == UERR_PEER && (flags & IN_TYPE) == GIT_OBJECT_BLOB) {
            /* the schema refused it: its message is made again by the
             * recheck, which names it if it still fails */
            rc = store_oidvec_push(&later, &objs->v[i]) == 0
                     ? UERR_OK
                     : uerr_set(c->err, c->errlen, UERR_NOMEM, "out of memory checking a pack");
            continue;
        }
        if (rc != UERR_OK)
            break;
        uint32_t as = flags >> IN_AS_SHIFT;
        if (!(flags & IN_PRESENT) && (as & (OBJCHECK_AS_DECL_FIELDS | OBJCHECK_AS_DECL_CATEGORY)) &&
            store_oidvec_push(&decls, &objs->v[i]) != 0)
            rc = uerr_set(c->err, c->errlen, UERR_NOMEM, "out of memory checking a pack");
        else if (store_oidmap_put(&c->in, &objs->v[i], flags) < 0)
            rc = uerr_set(c->err, c->errlen, UERR_NOMEM, "out of memory checking a pack");
    }
    if (rc == UERR_OK && later.n)
        rc = recheck_with_decls(c, &later, &decls, disk);
    free(later.v);
    free(decls.v);
    return rc;
}

/* Check every object of the pack, in the order the pack index lists them
 * (by id), whether any head reaches it or not. */
uerr ingest_check_all(ingest_ctx *c, const store_oidvec *objs, git_odb *disk)
{
    uint32_t *pflags = NULL;
    signed char *prc = NULL;
    size_t fatal = objs->n;
    if (objs->n >= check_parallel_min) {
        pflags = malloc(objs->n * sizeof *pflags);
        prc = malloc(objs->n);
        if (!pflags || !prc || check_parallel(c, objs, disk, pflags, prc, &fatal) != 0) {
            free(pflags); /* no memory or no thread: in order, here */
            pflags = NULL;
            fatal = objs->n;
        }
    }
    uerr rc = check_verdict(c, objs, disk, pflags, prc, fatal);
    free(pflags);
    free(prc);
    return rc;
}

/* ---- the fast path: objects checked as the parse inflates them ---------------- */

/* One half of a batch: objects k, k + 2, ... of o. */
typedef struct {
    ingest_fast *f;
    packparse_obj *o;
    size_t first, n, k;
    char why[256]; /* a failure's reason, for the debug log */
    int failed;
} fast_half;

static const git_object_t fast_types[] = {0, GIT_OBJECT_COMMIT, GIT_OBJECT_TREE, GIT_OBJECT_BLOB};

static void *fast_half_run(void *arg)
{
    fast_half *h = arg;
    ingest_ctx c = *h->f->c; /* a copy writing only its own message buffer */
    c.err = h->why;
    c.errlen = sizeof h->why;
    for (size_t i = h->k; i < h->n && !h->failed; i += 2) {
        packparse_obj *o = &h->o[i];
        size_t at = h->first + i;
        git_object_t type = fast_types[o->type];
        git_oid id;
        uint32_t flags = 0;
        uerr rc;
        /* the id as libgit2 computes it (collision-detecting SHA-1) */
        if (git_odb_hash(&id, o->data, o->len, type) < 0) {
            h->failed = 1;
            snprintf(h->why, sizeof h->why, "hashing an object failed");
            break;
        }
        memcpy(o->e->id, id.id, PACKFILE_OID);
        int present = check_present(&flags, &c, &id, h->f->disk);
        if (present < 0)
            rc = (uerr)present;
        else if (present > 0)
            rc = UERR_OK;
        else {
            flags = (uint32_t)type;
            rc = check_bytes(&flags, type, o->data, o->len, h->why, sizeof h->why);
        }
        h->f->flags[at] = flags;
        h->f->rc[at] = (signed char)rc;
        if (rc == UERR_OK && !present && type == GIT_OBJECT_TREE) {
            /* kept for the layout walk; without memory it reads the pack */
            h->f->trees[at] = malloc(o->len ? o->len : 1);
            if (h->f->trees[at])
                memcpy(h->f->trees[at], o->data, o->len);
            h->f->treelen[at] = (uint32_t)o->len;
        }
        if (check_fatal(rc, flags))
            h->failed = 1; /* libgit2's path makes the verdict and its words */
    }
    return NULL;
}

/* The batch being checked: its two halves, each on a thread of its own
 * while the parser inflates the next batch. */
typedef struct {
    fast_half h[2];
    pthread_t t[2];
    int threaded[2];
} fast_run;

/* Wait for the batch in flight; nonzero (and why) if it would refuse. */
static int fast_wait(ingest_fast *f, char *why, size_t whylen)
{
    fast_run *r = f->run;
    int bad = 0;
    if (!r || !f->running)
        return 0;
    for (int k = 0; k < 2; k++)
        if (r->threaded[k])
            pthread_join(r->t[k], NULL);
    f->running = 0;
    for (int k = 0; k < 2 && !bad; k++)
        if (r->h[k].failed) {
            snprintf(why, whylen, "%s", r->h[k].why);
            bad = 1;
        }
    return bad;
}

int ingest_fast_batch(void *arg, packparse_obj *o, size_t first, size_t n, char *why, size_t whylen)
{
    ingest_fast *f = arg;
    if (fast_wait(f, why, whylen) != 0)
        return -1;
    if (n == 0) { /* the parser is done: nothing in flight any more */
        free(f->run);
        f->run = NULL;
        return 0;
    }
    if (first + n > f->cap) {
        size_t cap = f->cap ? f->cap : 8192;
        while (cap < first + n)
            cap *= 2;
        uint32_t *fl = realloc(f->flags, cap * sizeof *fl);
        if (fl)
            f->flags = fl;
        signed char *rc = realloc(f->rc, cap);
        if (rc)
            f->rc = rc;
        unsigned char **tr = realloc(f->trees, cap * sizeof *tr);
        if (tr)
            f->trees = tr;
        uint32_t *tl = realloc(f->treelen, cap * sizeof *tl);
        if (tl)
            f->treelen = tl;
        if (!fl || !rc || !tr || !tl) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        f->cap = cap;
    }
    if (!f->run && !(f->run = calloc(1, sizeof(fast_run)))) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    fast_run *r = f->run;
    memset(f->trees + first, 0, n * sizeof *f->trees);
    f->handed = first + n;
    for (int k = 0; k < 2; k++) {
        r->h[k] = (fast_half){f, o, first, n, (size_t)k, "", 0};
        r->threaded[k] = pthread_create(&r->t[k], NULL, fast_half_run, &r->h[k]) == 0;
        if (!r->threaded[k])
            fast_half_run(&r->h[k]); /* no thread: here, now */
    }
    f->running = 1;
    return 0;
}

static int ent_cmp(const void *a, const void *b)
{
    return memcmp(((const packfile_entry *)a)->id, ((const packfile_entry *)b)->id, PACKFILE_OID);
}

/* pos[i] = the pack position of objs[i]: i when objs is in pack order
 * (libgit2 1.5 lists a pack's objects so), else by searching the entries
 * sorted here by id. 0, or -1 when objs and ents do not hold the same
 * ids (or no memory). */
static int positions(uint32_t *pos, const store_oidvec *objs, const packfile_entry *ents, size_t n)
{
    size_t i = 0;
    if (objs->n != n)
        return -1;
    for (; i < n && memcmp(objs->v[i].id, ents[i].id, PACKFILE_OID) == 0; i++)
        pos[i] = (uint32_t)i;
    if (i == n)
        return 0;
    packfile_entry *byid = malloc((n ? n : 1) * sizeof *byid);
    if (!byid)
        return -1;
    for (size_t k = 0; k < n; k++) {
        byid[k] = ents[k];
        byid[k].crc = (uint32_t)k; /* carries the pack position */
    }
    qsort(byid, n, sizeof *byid, ent_cmp);
    for (i = 0; i < n; i++) {
        packfile_entry key;
        memcpy(key.id, objs->v[i].id, PACKFILE_OID);
        const packfile_entry *e = bsearch(&key, byid, n, sizeof *byid, ent_cmp);
        if (!e)
            break;
        pos[i] = e->crc;
    }
    free(byid);
    return i == n ? 0 : -1;
}

uerr ingest_check_fast(ingest_ctx *c, const store_oidvec *objs, const packfile_entry *ents,
                       size_t n, const ingest_fast *f, git_odb *disk)
{
    /* the outcomes by pack position, put in the order of objs (the pack
     * index's, as libgit2 lists it) */
    uint32_t *pflags = malloc((objs->n ? objs->n : 1) * sizeof *pflags);
    uint32_t *pos = malloc((objs->n ? objs->n : 1) * sizeof *pos);
    signed char *prc = malloc(objs->n ? objs->n : 1);
    uerr rc = UERR_OK;
    if (!pos || !pflags || !prc) {
        rc = uerr_set(c->err, c->errlen, UERR_NOMEM, "out of memory checking a pack");
        goto cleanup;
    }
    if (positions(pos, objs, ents, n) != 0) {
        rc = uerr_set(c->err, c->errlen, UERR_INTERNAL, "the pack's index and its parse disagree");
        goto cleanup;
    }
    for (size_t i = 0; i < objs->n; i++) {
        pflags[i] = f->flags[pos[i]];
        prc[i] = f->rc[pos[i]];
        if (f->trees[pos[i]] && store_oidmap_put(&c->treeat, &objs->v[i], pos[i]) < 0) {
            rc = uerr_set(c->err, c->errlen, UERR_NOMEM, "out of memory checking a pack");
            goto cleanup;
        }
    }
    c->trees = f->trees;
    c->treelen = f->treelen;
    rc = check_verdict(c, objs, disk, pflags, prc, objs->n);
cleanup:
    free(pos);
    free(pflags);
    free(prc);
    return rc;
}

void ingest_fast_free(ingest_fast *f)
{
    assert(!f->running);
    for (size_t i = 0; f->trees && i < f->handed; i++)
        free(f->trees[i]);
    free(f->trees);
    free(f->treelen);
    free(f->run);
    free(f->flags);
    free(f->rc);
    memset(f, 0, sizeof *f);
}
