/* ingcheck.c - the take-in's check of every object a pack brings,
 * reachable or not (objcheck.c's rules), on two threads when the pack is
 * large, and the recheck of records under the declarations the same pack
 * brings. Split from ingest.c, which calls ingest_check_all. Part of the
 * store room. */
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

static uerr check_one(ingest_ctx *c, const git_oid *id, git_odb *disk, uint32_t *flags)
{
    char hex[41], why[256];
    size_t size;
    git_object_t type;
    git_odb_object *o = NULL;
    uerr rc = UERR_OK;
    git_oid_tostr(hex, sizeof hex, id);
    /* What the store already holds was checked when it came (or written
     * here): it is not brought by this take-in and does not move. */
    if (git_odb_exists_ext(disk, id, GIT_ODB_LOOKUP_NO_REFRESH)) {
        if (git_odb_read_header(&size, &type, disk, id) < 0)
            return store_git_err(c->err, c->errlen, UERR_IO, "reading the store");
        *flags = (uint32_t)type | IN_PRESENT;
        return UERR_OK;
    }
    if (git_odb_read_header(&size, &type, c->odb, id) < 0)
        return store_git_err(c->err, c->errlen, UERR_PEER, "reading a received object");
    *flags = (uint32_t)type;
    if (size > STORE_OBJECT_MAX)
        return uerr_set(c->err, c->errlen, UERR_PEER,
                        "object %s: a %s of %zu bytes, over the %u-byte object limit", hex,
                        type_name(type), size, STORE_OBJECT_MAX);
    if (git_odb_read(&o, c->odb, id) < 0)
        return store_git_err(c->err, c->errlen, UERR_PEER, "reading a received object");
    const unsigned char *data = git_odb_object_data(o);
    size_t len = git_odb_object_size(o);
    objcheck_tree_kind kind;
    objcheck_commit_info ci;
    switch (type) {
    case GIT_OBJECT_BLOB: {
        uint32_t as = 0;
        rc = objcheck_record_as(&as, (const char *)data, len, why, sizeof why);
        *flags |= as << IN_AS_SHIFT;
        break;
    }
    case GIT_OBJECT_TREE:
        rc = objcheck_tree(&kind, data, len, why, sizeof why);
        break;
    case GIT_OBJECT_COMMIT:
        rc = objcheck_commit(&ci, data, len, why, sizeof why);
        break;
    default:
        rc = uerr_set(why, sizeof why, UERR_PEER, "only commits, trees and records are taken in");
    }
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

/* Check every object of the pack, in the order the pack index lists them
 * (by id), whether any head reaches it or not. A record refused by the
 * schema is checked again once every declaration of the pack is known. */
uerr ingest_check_all(ingest_ctx *c, const store_oidvec *objs, git_odb *disk)
{
    store_oidvec later = {0}, decls = {0};
    uerr rc = UERR_OK;
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
    free(pflags);
    free(prc);
    if (rc == UERR_OK && later.n)
        rc = recheck_with_decls(c, &later, &decls, disk);
    free(later.v);
    free(decls.v);
    return rc;
}
