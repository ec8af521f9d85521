/* op_import.c - data in and out in bulk: import (CSV rows the CLI parsed),
 * bundle_export and bundle_import (docs/CONTROL.md). Runs on the store
 * queue's worker thread. An import checks every row first and writes
 * nothing when a row is refused (unless skip_invalid); what it writes goes
 * into one commit and one pack; dry_run computes the same counts and
 * writes nothing. One person, one record: a row is matched to the record
 * holding its ID number (failing that, its name + phone: persons.c) and
 * updates it; two rows of one file for one person are refused, naming
 * both lines. Never logs field values.
 *
 * Memory (docs/BENCHMARKS.md, round 6: 838 MiB at the peak of a 1M
 * import): the rows are unpacked one at a time (import_rows.c); a checked
 * row is kept only as its canonical encoding, given to the prewrite thread,
 * which keeps it deflated (or, without that thread, in blocks here); the
 * tables only the checks need are freed before the commit; the index is
 * fed after the commit from a second thread's decode of each record
 * (import_feed.c), the copies released as it goes. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/import_feed.h"
#include "daemon/ctl/import_phase.h"
#include "daemon/ctl/import_rows.h"
#include "daemon/ctl/kinds.h"
#include "daemon/ctl/optable.h"

#include "daemon/util/log.h"
#include "daemon/util/clock.h"
#include "proto/map.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_ERRORS_SHOWN 20

typedef struct {
    size_t line;
    char *field;
    char *reason;
} row_error;

/* A person (key, persons.c) or record id already met in this file, and
 * the line where. */
typedef struct {
    char *key;
    size_t line;
    UT_hash_handle hh;
} file_person;

/* Where the encoded records live until they are committed and fed to the
 * index: big blocks, filled in row order, instead of one allocation per
 * record. A million small allocations that live for the whole import,
 * interleaved with every row's short-lived ones, fragment the heap (about
 * half again their size at 1M rows); blocks do not, and each is freed as
 * soon as the index has taken its last record. */
typedef struct enc_block {
    struct enc_block *next; /* the next newer block */
    size_t used, size;
    size_t last; /* the highest record number kept in it */
    char data[];
} enc_block;

#define ENC_BLOCK (8u << 20)

/* One import request while it is checked and applied. */
typedef struct {
    ops_ctx *o;
    const msgpack_object_array *hdr; /* the request's: NULL once released */
    import_rows rows;                /* the request's: unused once released */
    uint32_t ncols, nrows;           /* hdr->size, rows->size */
    char **header;                   /* hdr->size column names */
    const schema_field **hfield;     /* their fields (NULL: the id column) */
    int idcol, namecol;
    char today[11];
    int64_t now;
    recindex seen;        /* ids written by this import, to refuse repeats */
    file_person *met;     /* persons and ids of earlier rows */
    import_block *metmem; /* where they and their keys are: two allocations a row were
                             two million frees before a 1M import's commit (0.36 s) */
    ctl_links links;      /* unions and enterprises a union/employer cell may name */
    row_error *errs;      /* the first IMPORT_ERRORS_SHOWN refused rows (the reply's) */
    size_t nerr;          /* every refused row */
    char **bufs; /* the records to commit, encoded (bufs[i], lens[i], in the blocks); ids[i] their
                    ids */
    enc_block *oldest, *newest; /* the blocks bufs point into */
    size_t *lens;
    char **ids;
    size_t nrec, nnew, nupd, nsame;
    store_prewrite *pre; /* the blobs deflated while the rows are checked */
    recindex_view view;  /* the record a row is about (import_match) */
    char *cell;          /* the current row's cells, NUL-terminated (import_cells_copy) */
    size_t cellcap;
    size_t *celloffs; /* hdr->size offsets into cell */
    import_timing t;
} import_job;

/* What only the row checks need (the persons and ids met in the file, the
 * links), freed before the commit: ~200 bytes a row, kept out of the
 * commit's peak. Safe to call twice. */
static void import_checks_free(import_job *j)
{
    recindex_free(&j->seen);
    ctl_links_free(&j->links);
    HASH_CLEAR(hh, j->met); /* the table; the entries are the blocks' */
    import_blocks_free(&j->metmem);
}

static void import_job_free(import_job *j)
{
    store_prewrite_abort(j->pre); /* before the buffers it reads are freed */
    j->pre = NULL;
    for (size_t i = 0; j->header && i < j->ncols; i++)
        free(j->header[i]);
    free(j->header);
    free(j->hfield);
    for (size_t i = 0; j->errs && i < j->nerr && i < IMPORT_ERRORS_SHOWN; i++) {
        free(j->errs[i].field);
        free(j->errs[i].reason);
    }
    free(j->errs);
    for (size_t i = 0; j->ids && i <= j->nrows; i++)
        free(j->ids[i]);
    while (j->oldest) {
        enc_block *next = j->oldest->next;
        free(j->oldest);
        j->oldest = next;
    }
    free(j->bufs);
    free(j->lens);
    free(j->ids);
    recindex_view_free(&j->view);
    import_rows_free(&j->rows);
    import_checks_free(j);
    free(j->cell);
    free(j->celloffs);
}

/* Read and check the header. UERR_OK, or an error with err set. */
static uerr import_header_read(import_job *j, char *err, size_t errlen)
{
    j->header = calloc(j->hdr->size, sizeof *j->header);
    j->hfield = calloc(j->hdr->size, sizeof *j->hfield);
    if (!j->header || !j->hfield)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory during import; nothing imported");
    for (uint32_t i = 0; i < j->hdr->size; i++) {
        char *h = j->header[i] = msg_str_dup(&j->hdr->ptr[i]);
        if (!h)
            return uerr_set(err, errlen, UERR_INVALID, "malformed import request");
        const schema_field *sf = NULL;
        char why[CTL_ERRLEN / 2];
        if (strcmp(h, "id") != 0 && schema_field_resolve(&sf, h, why, sizeof why) != UERR_OK)
            return uerr_set(err, errlen, UERR_INVALID, "line 1: %s; nothing imported", why);
        j->hfield[i] = sf; /* kept for the cells' checks (NULL: the id column) */
        if (!sf) {
            j->idcol = (int)i;
        } else if (strcmp(sf->name, h) != 0) {
            if (!(j->header[i] = strdup(sf->name))) {
                free(h);
                return uerr_set(err, errlen, UERR_NOMEM, "out of memory; nothing imported");
            }
            free(h);
            h = j->header[i];
        }
        if (strcmp(h, "name") == 0)
            j->namecol = (int)i;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(h, j->header[k]) == 0)
                return uerr_set(err, errlen, UERR_INVALID,
                                "header: column '%s' appears twice; nothing imported", h);
    }
    return UERR_OK;
}

/* The row's text cells into j->cell, each NUL-terminated, at offs[ci]
 * (SIZE_MAX: not text, or holding a NUL); one buffer for the job, grown
 * to the longest row, instead of a copy of each cell. 0 or -1 (out of
 * memory). */
static int import_cells_copy(import_job *j, const msgpack_object_array *cells, size_t *offs)
{
    size_t need = 0;
    for (uint32_t ci = 0; ci < j->hdr->size; ci++)
        if (cells->ptr[ci].type == MSGPACK_OBJECT_STR)
            need += cells->ptr[ci].via.str.size + 1;
    if (need > j->cellcap) {
        char *nb = realloc(j->cell, need);
        if (!nb)
            return -1;
        j->cell = nb;
        j->cellcap = need;
    }
    size_t at = 0;
    for (uint32_t ci = 0; ci < j->hdr->size; ci++) {
        const msgpack_object *o = &cells->ptr[ci];
        offs[ci] = SIZE_MAX;
        if (o->type != MSGPACK_OBJECT_STR)
            continue;
        size_t n = o->via.str.size;
        /* msgpack-c may leave ptr NULL for "" */
        if (n && memchr(o->via.str.ptr, 0, n))
            continue;
        if (n)
            memcpy(j->cell + at, o->via.str.ptr, n);
        j->cell[at + n] = '\0';
        offs[ci] = at;
        at += n + 1;
    }
    return 0;
}

/* Read one row's cells into assignments (a: room for every column) and
 * its id (*rid, malloc'd). The field names, "=" and the raw values are
 * lent (the header's, a constant, j->cell's); each checked value is its
 * own. Returns the refused field (err set) or NULL. */
static const char *import_cells(import_job *j, assignment *a, size_t *na, char **rid,
                                const msgpack_object_array *cells, char *err, size_t errlen)
{
    size_t *offs = j->celloffs;
    if (import_cells_copy(j, cells, offs) != 0) {
        snprintf(err, errlen, "out of memory");
        return "";
    }
    for (uint32_t ci = 0; ci < j->hdr->size; ci++) {
        if (offs[ci] == SIZE_MAX) {
            snprintf(err, errlen, "%s: not text", j->header[ci]);
            return j->header[ci];
        }
        char *v = j->cell + offs[ci];
        if ((int)ci == j->idcol) {
            if (!(*rid = strdup(v))) {
                snprintf(err, errlen, "out of memory");
                return "";
            }
            if (*v && (!record_id_valid(v) || record_id_is_schema(v))) {
                snprintf(err, errlen, "id: ids are lowercase letters and digits");
                return "id";
            }
            continue;
        }
        if (!*v) /* empty cell: field not given */
            continue;
        /* the header holds the field's own name and its field, resolved
         * once (import_header_read) */
        a[*na] = (assignment){j->header[ci], (char *)"=", v,
                              CTL_LENT_FIELD | CTL_LENT_OP | CTL_LENT_VALUE};
        (*na)++;
        /* a union or employer naming one record is stored as its id */
        if (ctl_assignment_check_field(&a[*na - 1], j->hfield[ci], j->today, err, errlen) !=
                UERR_OK ||
            ctl_member_link_check(&a[*na - 1], j->o, &j->links, err, errlen) != UERR_OK)
            return j->header[ci];
    }
    return NULL;
}

/* Note a refused row ("field: reason" -> reason alone, the field has its
 * own column); only the first IMPORT_ERRORS_SHOWN are kept, for the
 * reply. 0 or -1 (out of memory). */
static int import_refuse_row(import_job *j, size_t line, const char *field, const char *err)
{
    const char *colon = strstr(err, ": ");
    if (j->nerr >= IMPORT_ERRORS_SHOWN) {
        j->nerr++;
        return 0;
    }
    row_error *re = &j->errs[j->nerr++];
    re->line = line;
    re->field = strdup(field);
    re->reason = strdup(colon ? colon + 2 : err);
    return re->field && re->reason ? 0 : -1;
}

/* Keep r as its canonical encoding: given to the prewrite thread, which
 * keeps it deflated (bufs[nrec] NULL: store_prewrite_record gives it
 * back), or, without one, copied into the newest block (NUL-terminated)
 * as bufs[nrec]. 0 or -1 (out of memory). */
static int import_keep_encoded(import_job *j, const record *r)
{
    char *buf = NULL;
    size_t len;
    if (record_encode(&buf, &len, r) != 0)
        return -1;
    j->lens[j->nrec] = len;
    if (j->pre) {
        record_kind k = recindex_kind(&j->o->ix, j->ids[j->nrec]);
        j->bufs[j->nrec] = NULL;
        if (store_prewrite_give(j->pre, j->ids[j->nrec], k ? k : KIND_MEMBER, buf, len) != 0) {
            free(buf);
            return -1;
        }
        return 0;
    }
    enc_block *b = j->newest;
    if (!b || b->size - b->used < len + 1) {
        size_t size = len + 1 > ENC_BLOCK ? len + 1 : ENC_BLOCK;
        if (!(b = malloc(sizeof *b + size))) {
            free(buf);
            return -1;
        }
        *b = (enc_block){NULL, 0, size, 0};
        if (j->newest)
            j->newest->next = b;
        else
            j->oldest = b;
        j->newest = b;
    }
    memcpy(b->data + b->used, buf, len);
    b->data[b->used + len] = 0; /* NUL-terminated, as record_encode's */
    free(buf);
    j->bufs[j->nrec] = b->data + b->used;
    b->used += len + 1;
    b->last = j->nrec;
    return 0;
}

/* Apply a checked row to a copy of the current record (or a new one) and
 * keep the result encoded. 0 or -1 (out of memory). */
static int import_apply_row(import_job *j, const record *cur, const char *rid, const assignment *a,
                            size_t na)
{
    ops_ctx *o = j->o;
    record rec, *r = &rec;
    char idbuf[RECORD_ID_LEN + 1];
    int rc = -1;
    record_init(r);
    if (cur && record_copy(r, cur) != 0)
        goto cleanup;
    if (!rid || !*rid) {
        do
            ctl_new_id(idbuf, &o->ix, j->now);
        while (recindex_has(&j->seen, idbuf));
    }
    j->ids[j->nrec] = strdup(rid && *rid ? rid : idbuf);
    record tmp;
    record_init(&tmp);
    double t0 = import_clock(&j->t);
    int changed = j->ids[j->nrec] ? ctl_assignments_apply(r, a, na, o->node, j->now) : -1;
    if (changed < 0 || (!cur && ctl_record_defaults(r, o, j->now, j->today) != 0) ||
        recindex_put(&j->seen, j->ids[j->nrec], &tmp) != 0)
        goto cleanup;
    import_part(&j->t, PH_APPLY, &t0);
    if (!cur || changed) {
        if (import_keep_encoded(j, r) != 0)
            goto cleanup;
        import_part(&j->t, PH_KEEP, &t0);
        j->nnew += !cur;
        j->nupd += cur != NULL;
        j->nrec++;
    } else {
        j->nsame++;
        free(j->ids[j->nrec]);
        j->ids[j->nrec] = NULL;
    }
    rc = 0;
cleanup:
    record_free(r);
    return rc;
}

/* The record a row is about: the one its id column names, else the one
 * holding its ID number, else (no ID number) its name + phone. *cur_id
 * receives the record's id (borrowed) or NULL. */
static const record *import_match(import_job *j, const char *rid, const assignment *a, size_t na,
                                  const char **cur_id)
{
    char key[PERSON_KEY_MAX];
    const char *idn = import_row_value(a, na, "id_number");
    *cur_id = NULL;
    if (rid && *rid) {
        const record *r = recindex_view_get(&j->view, &j->o->ix, rid);
        *cur_id = r ? rid : NULL;
        return r;
    }
    if (*idn)
        persons_key_id(key, idn);
    else
        persons_key_np(key, import_row_value(a, na, "name"), import_row_value(a, na, "phone"));
    *cur_id = persons_find(j->o, key, NULL);
    return *cur_id ? recindex_view_get(&j->view, &j->o->ix, *cur_id) : NULL;
}

/* Note key as met on line; *earlier receives the line where it was met
 * before (0: first time). 0, or -1 when out of memory. */
static int import_met(import_job *j, const char *key, size_t line, size_t *earlier)
{
    file_person *p = NULL;
    *earlier = 0;
    if (!key[0])
        return 0;
    HASH_FIND_STR(j->met, key, p);
    if (p) {
        *earlier = p->line;
        return 0;
    }
    size_t klen = strlen(key);
    if (!(p = import_block_alloc(&j->metmem, sizeof *p + klen + 1)))
        return -1;
    memset(p, 0, sizeof *p);
    p->key = (char *)(p + 1);
    memcpy(p->key, key, klen + 1);
    p->line = line;
    map_oom = 0;
    HASH_ADD_KEYPTR(hh, j->met, p->key, klen, p);
    if (map_oom)
        return -1; /* its room stays the block's */
    return 0;
}

/* Refuse a row that is the person of an earlier row of the file (same
 * record, same ID number, or, without one, same name + phone). Returns the
 * refused field (why set), NULL, or "" when out of memory. */
static const char *import_same_person(import_job *j, const char *cur_id, const assignment *a,
                                      size_t na, size_t line, char *why, size_t whylen)
{
    char keys[2][PERSON_KEY_MAX];
    const char *idn = import_row_value(a, na, "id_number");
    static const char *const field[] = {"id", "id_number", "name"};
    snprintf(keys[0], sizeof keys[0], "r%s", cur_id ? cur_id : "");
    if (!cur_id)
        keys[0][0] = 0;
    if (*idn)
        persons_key_id(keys[1], idn);
    else
        persons_key_np(keys[1], import_row_value(a, na, "name"), import_row_value(a, na, "phone"));
    for (int k = 0; k < 2; k++) {
        size_t earlier;
        if (import_met(j, keys[k], line, &earlier) != 0)
            return "";
        if (earlier) {
            const char *f = k == 0 ? field[0] : *idn ? field[1] : field[2];
            snprintf(why, whylen,
                     "%s: the same person as line %zu (%s); one person has one record: keep one "
                     "of the two rows",
                     f, earlier,
                     k == 0 ? "the same record"
                     : *idn ? "same ID number"
                            : "same name and phone");
            return f;
        }
    }
    return NULL;
}

/* Check and apply one row. UERR_OK (also for a refused row, which is
 * noted), UERR_INVALID (malformed request) or UERR_NOMEM, with err. */
static uerr import_row(import_job *j, uint32_t ri, char *err, size_t errlen)
{
    double t0 = import_clock(&j->t);
    const msgpack_object *row = import_rows_get(&j->rows, ri);
    if (!row || row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 2 ||
        row->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        row->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY ||
        row->via.array.ptr[1].via.array.size != j->hdr->size)
        return uerr_set(err, errlen, UERR_INVALID, "malformed import request (row %u)", ri);
    size_t line = (size_t)row->via.array.ptr[0].via.u64;
    const msgpack_object_array *cells = &row->via.array.ptr[1].via.array;
    assignment *a = calloc(j->hdr->size, sizeof *a);
    size_t na = 0;
    char *rid = NULL, why[CTL_ERRLEN] = "", fbuf[SCHEMA_NAME_MAX + 2];
    const char *cur_id = NULL;
    const record *cur = NULL;
    uerr e = UERR_OK;
    if (!a)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory during import; nothing imported");
    const char *bad = import_cells(j, a, &na, &rid, cells, why, sizeof why);
    if (!bad)
        cur = import_match(j, rid, a, na, &cur_id);
    if (bad && !*bad) {
        e = UERR_NOMEM;
    } else if (!bad && !cur && !*import_row_value(a, na, "name")) {
        bad = "name";
        snprintf(why, sizeof why, "name: a new member needs a name");
    } else if (!bad && (bad = import_same_person(j, cur_id, a, na, line, why, sizeof why))) {
        if (!*bad)
            e = UERR_NOMEM;
    } else if (!bad && rid && *rid && recindex_has(&j->seen, rid)) {
        bad = "id";
        snprintf(why, sizeof why, "id: appears on an earlier line of this file");
    } else if (!bad) {
        uerr pe = ctl_person_check(j->o, cur_id ? cur_id : rid, cur, &a, &na, why, sizeof why);
        if (pe == UERR_NOMEM)
            e = UERR_NOMEM;
        else if (pe != UERR_OK)
            bad = import_message_field(fbuf, sizeof fbuf, why);
    }
    if (e == UERR_OK && bad && import_refuse_row(j, line, bad, why) != 0)
        e = UERR_NOMEM;
    if (e == UERR_OK && !bad && import_apply_row(j, cur, cur_id ? cur_id : rid, a, na) != 0)
        e = UERR_NOMEM;
    if (e == UERR_NOMEM)
        uerr_set(err, errlen, UERR_NOMEM, "out of memory during import; nothing imported");
    free(rid);
    ctl_assignments_free(a, na);
    import_part(&j->t, PH_CHECK, &t0);
    return e;
}

/* Record i as committed, decoded (import_feed's work, on this thread):
 * record_encode's bytes, so record_decode_trusted (not re-encoded to be
 * checked again); a record the prewrite thread holds deflated is inflated
 * again, and the copies before it released. 0 or -1 with why. */
static int import_record_decode(import_job *j, size_t i, record *r, char *why, size_t whylen)
{
    const char *buf = j->bufs[i];
    size_t len = j->lens[i];
    if (!buf && store_prewrite_record(j->pre, i, &buf, &len, why, whylen) != UERR_OK) {
        record_init(r);
        return -1;
    }
    int rc = record_decode_trusted(r, buf, len, why, whylen);
    if (j->pre && !j->bufs[i] && ((i + 1) % 4096 == 0 || i + 1 == j->nrec))
        store_prewrite_release(j->pre, i + 1);
    return rc;
}

/* Write the encoded records as one bulk commit (store_commit: one pack),
 * then feed the index and the persons' keys, decoding each record once
 * more, one at a time (ctl_commit_kind does the same from decoded records;
 * it is not used here so that no decoded copy of every row is held while
 * the pack is written). A record already indexed keeps its kind; a new one
 * is a member. UERR_OK, or the store's error with err set (nothing
 * written, the index unchanged). */
static uerr import_commit(import_job *j, const char *operator, const char * message, char *err,
                          size_t errlen)
{
    ops_ctx *o = j->o;
    store_change *ch = calloc(j->nrec, sizeof *ch);
    if (!ch)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory during import; nothing imported");
    for (size_t i = 0; i < j->nrec; i++) {
        record_kind k = recindex_kind(&o->ix, j->ids[i]);
        ch[i] = (store_change){
            .id = j->ids[i], .buf = j->bufs[i], .len = j->lens[i], .kind = k ? k : KIND_MEMBER};
    }
    phase_mark pm = {0};
    import_phase(j->t.on, &pm, "commit start", 0); /* the first mark: not logged */
    int rc = store_commit_prewritten(o->st, j->pre, ch, j->nrec, operator, message, err, errlen);
    if (rc != 0) {
        free(ch);
        return rc < 0 ? (uerr)rc : UERR_INTERNAL;
    }
    import_phase(j->t.on, &pm, "commit (prewrite finish, trees, .idx, branch)", j->nrec);
    /* the records decoded on a second thread while this one indexes them
     * (import_feed.h); without it, here */
    import_feed *feed = import_feed_start(j->pre, j->bufs, j->lens, j->nrec);
    /* Readers (show, list, stats on the read queue) wait while the index
     * takes the import: under the read lock they would see part of it (a
     * count no commit ever had) and walk a table being grown. The commit
     * is durable already; only the index step is held. */
    recindex_write_lock(&o->ix);
    /* sized once (not doubled ~10 times at 1M, each a rehash of all); a
     * failure only leaves the growth to the puts */
    (void)recindex_reserve(&o->ix, j->nnew);
    (void)persons_reserve(o, 3 * j->nnew);
    for (size_t i = 0; i < j->nrec; i++) {
        record own;
        const record *r = &own;
        char why[128];
        /* the store accepted exactly these bytes after decoding them, so
         * only memory can fail here; the feed's record is lent (freed on
         * its thread), this thread's own decode freed here */
        double t0 = import_clock(&j->t);
        int ok = (feed ? import_feed_next(feed, &r, why, sizeof why)
                       : import_record_decode(j, i, &own, why, sizeof why)) == 0;
        import_part(&j->t, PH_FEEDWAIT, &t0);
        if (ok) {
            persons_remove(o, j->ids[i]);
            ok = recindex_put_kind_lent(&o->ix, ch[i].kind, j->ids[i], r) == UERR_OK;
            if (!feed)
                record_free(&own);
            import_part(&j->t, PH_INDEX, &t0);
            ok = ok && persons_add(o, j->ids[i]) == UERR_OK;
            import_part(&j->t, PH_PERSONS, &t0);
        }
        if (!ok) {
            /* The store has it; the index is now stale. Refuse to go on
             * with a wrong view rather than answer queries from it. */
            log_msg(LOG_ERR, "out of memory updating the index after an import; exiting");
            abort();
        }
        /* a block whose records are all fed: the peak falls as the index grows */
        while (j->oldest && j->oldest->last <= i && j->oldest != j->newest) {
            enc_block *next = j->oldest->next;
            free(j->oldest);
            j->oldest = next;
        }
    }
    recindex_unlock(&o->ix);
    import_phase(j->t.on, &pm, "index feed", j->nrec);
    import_parts_log(&j->t, 1);
    import_feed_free(feed);
    free(ch);
    return UERR_OK;
}

static void import_pack_errors(msg_map *m, const import_job *j)
{
    msg_arr a;
    msg_map_key(m, "errors");
    msg_arr_open(&a, m->pk);
    for (size_t i = 0; i < j->nerr && i < IMPORT_ERRORS_SHOWN; i++) {
        msg_map em;
        msg_arr_item(&a);
        msg_map_open(&em, m->pk);
        msg_map_int(&em, "line", (int64_t)j->errs[i].line);
        msg_map_str(&em, "field", j->errs[i].field);
        msg_map_str(&em, "reason", j->errs[i].reason);
        msg_map_close(&em);
    }
    msg_arr_close(&a);
}

void op_import(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    import_job j = {.o = o, .idcol = -1, .namecol = -1};
    int skip_invalid = msg_get_bool(req, "skip_invalid", 0);
    int dry_run = msg_get_bool(req, "dry_run", 0); /* the counts, nothing written */
    char err[CTL_ERRLEN], opbuf[64], msg[256];
    uerr e;
    msg_map m;
    phase_mark pm = {0};
    import_timing_init(&j.t);
    import_phase(j.t.on, &pm, "start", 0);
    j.hdr = msg_get_array(req, "header");
    recindex_init(&j.seen);
    clock_today(j.today);
    j.now = clock_now_ms();
    if (import_rows_open(&j.rows, &j.nrows, req) != 0 || !j.hdr || j.hdr->size == 0) {
        ctl_reply_error(pk, UERR_INVALID, "malformed import request");
        goto cleanup;
    }
    j.ncols = j.hdr->size;
    /* collected once: the index does not change while the rows are checked */
    ctl_links_init(&j.links, o);
    if ((e = import_header_read(&j, err, sizeof err)) != UERR_OK)
        goto refuse;
    j.errs = calloc(IMPORT_ERRORS_SHOWN, sizeof *j.errs);
    j.bufs = calloc(j.nrows + 1, sizeof *j.bufs);
    j.lens = calloc(j.nrows + 1, sizeof *j.lens);
    j.ids = calloc(j.nrows + 1, sizeof *j.ids);
    j.celloffs = calloc(j.ncols, sizeof *j.celloffs);
    if (!j.errs || !j.bufs || !j.lens || !j.ids || !j.celloffs) {
        e = uerr_set(err, sizeof err, UERR_NOMEM, "out of memory during import; nothing imported");
        goto refuse;
    }
    (void)recindex_reserve(&j.seen, j.nrows); /* the ids met, sized once */
    if (!dry_run)
        j.pre = store_prewrite_start(o->st); /* NULL: commit without it */
    for (uint32_t ri = 0; ri < j.nrows; ri++)
        if ((e = import_row(&j, ri, err, sizeof err)) != UERR_OK)
            goto refuse;
    import_phase(j.t.on, &pm, "row checks", j.nrows);
    import_parts_log(&j.t, 0);
    if (j.rows.bin && j.rows.off != j.rows.binlen) {
        e = uerr_set(err, sizeof err, UERR_INVALID, "malformed import request (after the rows)");
        goto refuse;
    }
    if (j.nerr && !skip_invalid) {
        msg_map_open(&m, pk);
        msg_map_bool(&m, "ok", 0);
        snprintf(err, sizeof err,
                 "%zu of %u rows are invalid; nothing was imported (fix them, or use "
                 "--skip-invalid to import the valid rows)",
                 j.nerr, j.nrows);
        msg_map_str(&m, "error", err);
        msg_map_str(&m, "code", uerr_name(UERR_INVALID));
        import_pack_errors(&m, &j);
        msg_map_close(&m);
        goto cleanup;
    }
    if (j.nrec && !dry_run) {
        snprintf(msg, sizeof msg, "import %zu records (%zu new, %zu updated)\n", j.nrec, j.nnew,
                 j.nupd);
        const char *opname = ctl_operator(req, opbuf, sizeof opbuf);
        /* Every row is checked and kept encoded: the request (the whole
         * CSV as bytes and as unpacked objects, ~0.4 KB a row) is not
         * held through the commit. Nothing below reads req or j.hdr/rows. */
        j.hdr = NULL;
        j.rows = (import_rows){.cur = j.rows.cur};
        ctl_request_release();
        req = NULL;
        import_checks_free(&j);
        import_phase(j.t.on, &pm, "request and check tables freed", j.nrows);
        e = import_commit(&j, opname, msg, err, sizeof err);
        import_phase(j.t.on, &pm, "commit and index feed", j.nrec);
        if (e != UERR_OK)
            goto refuse;
    }
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_int(&m, "imported", (int64_t)j.nnew);
    msg_map_int(&m, "updated", (int64_t)j.nupd);
    msg_map_int(&m, "unchanged", (int64_t)j.nsame);
    msg_map_int(&m, "skipped", (int64_t)j.nerr);
    msg_map_bool(&m, "dry_run", dry_run);
    import_pack_errors(&m, &j);
    msg_map_close(&m);
    goto cleanup;
refuse:
    ctl_reply_error(pk, e, "%s", err);
cleanup:
    import_job_free(&j);
    import_phase(j.t.on, &pm, "reply and free", j.nrows);
}

/* ---- bundles -------------------------------------------------------------------- */

void op_bundle_export(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char err[CTL_ERRLEN], *path = msg_get_str(req, "path"), *since = msg_get_str(req, "since");
    int rc;
    if (!path || path[0] != '/' || (since && since[0] != '/')) {
        ctl_reply_error(pk, UERR_INVALID, "bundle export: the paths must be absolute");
    } else if ((rc = store_bundle_write(o->st, path, since, err, sizeof err)) != 0) {
        ctl_reply_error(pk, rc < 0 ? (uerr)rc : UERR_INTERNAL, "%s", err);
    } else {
        char head[41], tree[41];
        msg_map m;
        store_head(o->st, head, tree);
        log_msg(LOG_INFO, "bundle exported (head %.12s)", head);
        ctl_reply_ok(pk);
        msg_map_open(&m, pk);
        msg_map_str(&m, "head", head);
        msg_map_close(&m);
    }
    free(path);
    free(since);
}

/* What a take-in did to the members, counted from the index before and
 * after each record's update. */
typedef struct {
    ops_ctx *o;
    int64_t added, changed, conflicts;
    recindex_view view;
} takein_count;

static int takein_changed(record_kind kind, const char *id, const char *buf, size_t len, void *arg)
{
    takein_count *tc = arg;
    const record *before = recindex_view_get(&tc->view, &tc->o->ix, id);
    int existed = before != NULL;
    size_t conf_before = before ? ctl_conflict_count(before) : 0;
    int rc = ops_index_changed(kind, id, buf, len, tc->o);
    const record *after = recindex_view_get(&tc->view, &tc->o->ix, id);
    if (rc == 0 && after && (kind == KIND_MEMBER || kind == KIND_NONE) &&
        !record_id_is_schema(id)) {
        if (existed)
            tc->changed++;
        else
            tc->added++;
        tc->conflicts += ctl_conflict_count(after) > 0 && conf_before == 0;
    }
    return rc;
}

void op_bundle_import(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    takein_count tc = {o, 0, 0, 0, RECINDEX_VIEW_INIT};
    char err[CTL_ERRLEN], *path = msg_get_str(req, "path");
    store_bundle_report rep;
    int rc;
    if (!path || path[0] != '/') {
        ctl_reply_error(pk, UERR_INVALID, "bundle import: the path must be absolute");
    } else if ((rc = store_bundle_read(o->st, path, takein_changed, &tc, &rep, err, sizeof err)) !=
               0) {
        log_msg(LOG_WARN, "bundle refused: %s", err);
        ctl_reply_error(pk, rc < 0 ? (uerr)rc : UERR_INTERNAL, "bundle refused: %s", err);
    } else {
        char head[41], tree[41];
        msg_map m;
        store_head(o->st, head, tree);
        log_msg(LOG_INFO,
                "bundle imported: %zu refs, %zu updated, %zu commits, %zu merged, %zu forwarded",
                rep.refs, rep.updated, rep.commits, rep.merged, rep.forwarded);
        ctl_reply_ok(pk);
        msg_map_open(&m, pk);
        msg_map_int(&m, "refs", (int64_t)rep.refs);
        msg_map_int(&m, "updated", (int64_t)rep.updated);
        msg_map_int(&m, "stale", (int64_t)rep.stale);
        msg_map_int(&m, "own_skipped", (int64_t)rep.own_skipped);
        msg_map_int(&m, "commits", (int64_t)rep.commits);
        msg_map_int(&m, "merged", (int64_t)rep.merged);
        msg_map_int(&m, "forwarded", (int64_t)rep.forwarded);
        msg_map_str(&m, "head", head);
        msg_map_int(&m, "members_added", tc.added);
        msg_map_int(&m, "members_changed", tc.changed);
        msg_map_int(&m, "members_in_conflict", tc.conflicts);
        msg_map_close(&m);
    }
    recindex_view_free(&tc.view);
    free(path);
}
