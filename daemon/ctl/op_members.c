/* op_members.c - the membership work requests: duplicates (likely double
 * registrations), merge (fold a duplicate into the record kept) and
 * transfer (move a member to another office); docs/CONTROL.md. Runs on the
 * store queue's worker thread and reads the in-memory index; a merge or a
 * transfer is one commit. Never logs field values. */
#include "daemon/ctl/common.h"
#include "daemon/ctl/handlers.h"
#include "daemon/ctl/scan.h"

#include "daemon/util/log.h"
#include "daemon/util/clock.h"
#include "proto/schema.h"
#include "proto/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A phone number shared by more records than this is a placeholder (the
 * office's own number, 13800000000), not one person's: comparing every pair
 * of names in it would be quadratic and would only produce noise. */
#define DUP_PHONE_GROUP_MAX 1000
/* Names are at most 64 characters; longer values (custom imports) are
 * compared on their first this many code points. */
#define NAME_CP_MAX 256

/* ---- duplicates ------------------------------------------------------------- */

/* Decode UTF-8 into code points (at most max) with proto/utf8.h; an
 * invalid byte counts as one code point of its own value, so any bytes
 * compare sensibly (stored names are valid UTF-8 anyway). */
static size_t utf8_codepoints(uint32_t *out, size_t max, const char *s)
{
    size_t len = strlen(s), i = 0, n = 0;
    while (i < len && n < max) {
        uint32_t cp;
        size_t k = utf8_decode(&cp, s + i, len - i);
        if (k == 0) {
            cp = (unsigned char)s[i];
            k = 1;
        }
        out[n++] = cp;
        i += k;
    }
    return n;
}

/* 1 if the names are the same person's as a clerk would type them: equal,
 * one contains the other (王伟 / 王伟伟, a dropped character), or one
 * edit (substitution, insertion, deletion of one code point) apart. */
int members_names_similar(const char *a, const char *b)
{
    if (!*a || !*b)
        return 0;
    if (strstr(a, b) || strstr(b, a)) /* UTF-8 is self-synchronising */
        return 1;
    uint32_t x[NAME_CP_MAX], y[NAME_CP_MAX];
    size_t nx = utf8_codepoints(x, NAME_CP_MAX, a), ny = utf8_codepoints(y, NAME_CP_MAX, b);
    if (nx < ny) { /* x is the longer one */
        uint32_t t[NAME_CP_MAX];
        memcpy(t, x, nx * sizeof *t);
        memcpy(x, y, ny * sizeof *x);
        memcpy(y, t, nx * sizeof *y);
        size_t tn = nx;
        nx = ny;
        ny = tn;
    }
    if (nx - ny > 1)
        return 0;
    size_t i = 0;
    while (i < ny && x[i] == y[i])
        i++;
    if (nx == ny) { /* one substitution at i, the rest equal */
        for (size_t j = i + 1; j < nx; j++)
            if (x[j] != y[j])
                return 0;
        return 1;
    }
    for (size_t j = i; j < ny; j++) /* x has one extra code point at i */
        if (x[j + 1] != y[j])
            return 0;
    return 1;
}

typedef struct {
    const char *id;
    const recindex_item *it;
    const char *name, *idnum, *phone;
} dup_cand;

typedef struct {
    size_t keep, dup; /* indices into the candidates */
    int certain;      /* same id_number; otherwise same phone, similar name */
} dup_pair;

/* Certain pairs first, then by KEEP's id and DUP's id (qsort_r: arg is the
 * candidate array). */
static int dup_pair_cmp(const void *a, const void *b, void *arg)
{
    const dup_pair *x = a, *y = b;
    const dup_cand *cs = arg;
    if (x->certain != y->certain)
        return y->certain - x->certain;
    int c = strcmp(cs[x->keep].id, cs[y->keep].id);
    return c ? c : strcmp(cs[x->dup].id, cs[y->dup].id);
}

static int pair_push(dup_pair **p, size_t *n, size_t *cap, dup_pair v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        dup_pair *np = realloc(*p, nc * sizeof *np);
        if (!np)
            return -1;
        *p = np;
        *cap = nc;
    }
    (*p)[(*n)++] = v;
    return 0;
}

/* Chain the candidates by id_number or phone into map (key -> one index)
 * and next (index -> next index in the same chain, SIZE_MAX ends). Empty
 * values are not chained. */
static int dup_chain(smap *map, size_t *next, const dup_cand *cs, size_t n, int by_phone)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = by_phone ? cs[i].phone : cs[i].idnum;
        next[i] = SIZE_MAX;
        if (!*k)
            continue;
        size_t len = strlen(k);
        unsigned h = smap_hash(k, len);
        smap_item *it = smap_find(map, k, len, h);
        if (it) {
            next[i] = it->val;
            it->val = i;
        } else if (!smap_add(map, k, len, h, i)) {
            return -1;
        }
    }
    return 0;
}

static void pack_dup_side(msgpack_packer *pk, const recindex *ix, const dup_cand *c, int reveal)
{
    msg_map m;
    msg_map_open(&m, pk);
    msg_map_str(&m, "id", c->id);
    msg_map_str(&m, "name", c->name);
    msg_map_str(&m, "office", recindex_item_shown(ix, c->it, "office"));
    msg_map_str(&m, "joined", recindex_item_shown(ix, c->it, "joined"));
    msg_map_key(&m, "id_number");
    ctl_pack_value(pk, "id_number", c->idnum, reveal);
    msg_map_key(&m, "phone");
    ctl_pack_value(pk, "phone", c->phone, reveal);
    msg_map_close(&m);
}

/* {pairs: [{keep, dup, reason, certain}], skipped_phones} */
static void pack_dup_pairs(msgpack_packer *pk, const recindex *ix, const dup_cand *cs,
                           const dup_pair *pairs, size_t np, size_t skipped, int reveal)
{
    msg_map m;
    msg_arr a;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_key(&m, "pairs");
    msg_arr_open(&a, pk);
    for (size_t i = 0; i < np; i++) {
        msg_map pm;
        msg_arr_item(&a);
        msg_map_open(&pm, pk);
        msg_map_key(&pm, "keep");
        pack_dup_side(pk, ix, &cs[pairs[i].keep], reveal);
        msg_map_key(&pm, "dup");
        pack_dup_side(pk, ix, &cs[pairs[i].dup], reveal);
        msg_map_str(&pm, "reason",
                    pairs[i].certain ? "same id_number" : "same phone, similar name");
        msg_map_bool(&pm, "certain", pairs[i].certain);
        msg_map_close(&pm);
    }
    msg_arr_close(&a);
    msg_map_int(&m, "skipped_phones", (int64_t)skipped);
    msg_map_close(&m);
}

/* The candidates: every record whose displayed status is not merged, with
 * the values compared (pointing into the index's records). Returns how
 * many, or SIZE_MAX when out of memory. */
static size_t dup_collect(dup_cand *cs, const recindex *ix)
{
    static const char *const need[] = {"id_number", "name", "phone", "status"}; /* sorted */
    record_entry *proj_buf = NULL;
    size_t proj_cap = 0, n = 0;
    recindex_view v = RECINDEX_VIEW_INIT;
    for (size_t i = 0; i < ix->cap; i++) {
        scan_prefetch(ix->slots, i, ix->cap);
        const recindex_item *it = &ix->slots[i];
        record proj;
        if (!it->id || it->kind != KIND_MEMBER) /* duplicates are among members */
            continue;
        const record *r = recindex_view_item(&v, ix, it);
        if (!r || scan_project(&proj, &proj_buf, &proj_cap, r, need, 4) < 0) {
            free(proj_buf);
            recindex_view_free(&v);
            return SIZE_MAX;
        }
        if (strcmp(query_display(&proj, it->id, "status"), "merged") == 0)
            continue;
        /* the values point into the index's arena, not into proj_buf or v */
        cs[n++] = (dup_cand){it->id, it, query_display(&proj, it->id, "name"),
                             query_display(&proj, it->id, "id_number"),
                             query_display(&proj, it->id, "phone")};
    }
    free(proj_buf);
    recindex_view_free(&v);
    return n;
}

/* Same id_number: certain. Ids sort by creation time, so the smallest id is
 * the oldest record: the keeper for all the others. 0 or -1. */
static int dup_pairs_by_id(dup_pair **pairs, size_t *np, size_t *pcap, const dup_cand *cs,
                           const smap *by_id, const size_t *next_id)
{
    for (const smap_item *it = by_id->head; it; it = it->hh.next) {
        if (next_id[it->val] == SIZE_MAX)
            continue;
        size_t keep = it->val;
        for (size_t d = next_id[keep]; d != SIZE_MAX; d = next_id[d])
            if (strcmp(cs[d].id, cs[keep].id) < 0)
                keep = d;
        for (size_t d = it->val; d != SIZE_MAX; d = next_id[d])
            if (d != keep && pair_push(pairs, np, pcap, (dup_pair){keep, d, 1}) != 0)
                return -1;
    }
    return 0;
}

/* Same phone and similar names: likely. Similarity is not transitive, so
 * every pair in a group is compared; groups over DUP_PHONE_GROUP_MAX are
 * counted in *skipped. grp: room for every candidate. 0 or -1. */
static int dup_pairs_by_phone(dup_pair **pairs, size_t *np, size_t *pcap, size_t *skipped,
                              const dup_cand *cs, const smap *by_phone, const size_t *next_ph,
                              size_t *grp)
{
    for (const smap_item *it = by_phone->head; it; it = it->hh.next) {
        if (next_ph[it->val] == SIZE_MAX)
            continue;
        size_t ng = 0;
        for (size_t d = it->val; d != SIZE_MAX && ng <= DUP_PHONE_GROUP_MAX; d = next_ph[d])
            grp[ng++] = d;
        if (ng > DUP_PHONE_GROUP_MAX) {
            (*skipped)++;
            continue;
        }
        for (size_t a = 0; a < ng; a++)
            for (size_t b = a + 1; b < ng; b++) {
                const dup_cand *x = &cs[grp[a]], *y = &cs[grp[b]];
                if (*x->idnum && strcmp(x->idnum, y->idnum) == 0)
                    continue; /* already certain, by id_number */
                if (!members_names_similar(x->name, y->name))
                    continue;
                int older = strcmp(x->id, y->id) < 0; /* the keeper */
                dup_pair p = {older ? grp[a] : grp[b], older ? grp[b] : grp[a], 0};
                if (pair_push(pairs, np, pcap, p) != 0)
                    return -1;
            }
    }
    return 0;
}

void op_duplicates(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    int reveal = msg_get_bool(req, "reveal", 0);
    dup_cand *cs = malloc((o->ix.count + 1) * sizeof *cs);
    size_t *next_id = malloc((o->ix.count + 1) * sizeof *next_id);
    size_t *next_ph = malloc((o->ix.count + 1) * sizeof *next_ph);
    size_t *grp = malloc((o->ix.count + 1) * sizeof *grp);
    dup_pair *pairs = NULL;
    size_t n = 0, np = 0, pcap = 0, skipped = 0;
    smap by_id = SMAP_INIT, by_phone = SMAP_INIT;
    if (!cs || !next_id || !next_ph || !grp || (n = dup_collect(cs, &o->ix)) == SIZE_MAX)
        goto oom;
    if (dup_chain(&by_id, next_id, cs, n, 0) != 0 || dup_chain(&by_phone, next_ph, cs, n, 1) != 0 ||
        dup_pairs_by_id(&pairs, &np, &pcap, cs, &by_id, next_id) != 0 ||
        dup_pairs_by_phone(&pairs, &np, &pcap, &skipped, cs, &by_phone, next_ph, grp) != 0)
        goto oom;
    if (skipped)
        log_msg(LOG_INFO,
                "duplicates: %zu phone numbers shared by more than %d records were not compared",
                skipped, DUP_PHONE_GROUP_MAX);
    if (np)
        qsort_r(pairs, np, sizeof *pairs, dup_pair_cmp, cs);
    if (reveal && np) {
        char opbuf[64];
        log_msg(LOG_INFO, "reveal: %s showed unmasked personal fields (duplicates, %zu pairs)",
                ctl_operator(req, opbuf, sizeof opbuf), np);
    }
    pack_dup_pairs(pk, &o->ix, cs, pairs, np, skipped, reveal);
    goto cleanup;
oom:
    ctl_reply_error(pk, UERR_NOMEM, "out of memory looking for duplicates");
cleanup:
    free(cs);
    free(next_id);
    free(next_ph);
    free(grp);
    free(pairs);
    smap_free(&by_id);
    smap_free(&by_phone);
}

/* ---- merge ------------------------------------------------------------------ */

/* 1 if r has an entry of field holding value. */
static int has_value(const record *r, const char *field, const char *value)
{
    size_t first, n = record_field_entries(r, field, &first);
    for (size_t i = first; i < first + n; i++)
        if (strcmp(r->entries[i].value, value) == 0)
            return 1;
    return 0;
}

/* 1 if every entry of field in r is empty (or there is none). */
static int lacks_field(const record *r, const char *field)
{
    size_t first, n = record_field_entries(r, field, &first);
    for (size_t i = first; i < first + n; i++)
        if (r->entries[i].value[0])
            return 0;
    return 1;
}

/* Append " field" to a space-separated list buffer. */
static void list_add(char *buf, size_t len, const char *field)
{
    size_t off = strlen(buf);
    if (off + strlen(field) + 2 < len)
        snprintf(buf + off, len - off, "%s%s", off ? " " : "", field);
}

/* Fold dup's values into keep as new writes of `node`: KEEP's values stay.
 *
 * Every value brought over gets a fresh dot of this node in KEEP's own
 * causal context. DUP's dots and context are NOT copied: counters are per
 * record, so DUP's (node, counter) pairs name unrelated writes in KEEP's
 * history. Joining DUP's context into KEEP would make KEEP "cover" its own
 * entries with equal counters (silently dropping KEEP's values on the next
 * join) and would mistake DUP's entries for KEEP's writes with the same dot.
 *
 * - a single-valued field KEEP lacks (absent or empty) is written with
 *   DUP's displayed value (taken);
 * - a single-valued field both have is left as KEEP has it; when DUP's
 *   displayed value differs it is named in `differ`, so the clerk can edit
 *   KEEP if DUP's was right. No conflict is ever created: a merge must not
 *   move the member's join date or office behind the clerk's back;
 * - set fields: DUP's elements KEEP lacks are added (union);
 * - merged_into and status are never carried over.
 * A taken value keeps the time of DUP's write.
 *
 * Two nodes doing the same merge concurrently add the same values under
 * different dots; the join keeps both, equal values count once, so the
 * result shows the same fields everywhere.
 *
 * taken, differ, added (space-separated field names) must hold at least
 * one char each and start empty. Returns the number of fields changed, or
 * -1 on allocation failure. */
int members_merge_fold(record *keep, const record *dup, const char *node, char *taken, char *differ,
                       char *added, size_t listlen)
{
    int changed = 0;
    for (size_t i = 0; i < dup->nentries; i++) {
        const char *f = dup->entries[i].field;
        if ((i > 0 && strcmp(dup->entries[i - 1].field, f) == 0) || strcmp(f, "merged_into") == 0 ||
            strcmp(f, "status") == 0)
            continue;
        size_t first, n = record_field_entries(dup, f, &first);
        if (schema_field_is_set(f)) {
            int any = 0;
            for (size_t e = first; e < first + n; e++) {
                const record_entry *de = &dup->entries[e];
                if (has_value(keep, f, de->value))
                    continue;
                if (record_set_add(keep, node, de->time_ms, f, de->value) != 0)
                    return -1;
                any = 1;
            }
            if (any) {
                list_add(added, listlen, f);
                changed++;
            }
            continue;
        }
        const record_entry *dw = record_field_winner(dup, f);
        if (!dw || !dw->value[0])
            continue;
        if (lacks_field(keep, f)) {
            if (record_write(keep, node, dw->time_ms, f, dw->value) != 0)
                return -1;
            list_add(taken, listlen, f);
            changed++;
            continue;
        }
        const record_entry *kw = record_field_winner(keep, f);
        if (!kw || strcmp(kw->value, dw->value) != 0)
            list_add(differ, listlen, f);
    }
    return changed;
}

/* The space-separated list as an array of strings. */
static void pack_field_list(msg_map *m, msgpack_packer *pk, const char *key, const char *list)
{
    msg_arr a;
    msg_map_key(m, key);
    msg_arr_open(&a, pk);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        msg_arr_item(&a);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, p, n);
        p += n;
        p += *p == ' ';
    }
    msg_arr_close(&a);
}

/* {keep, dup, taken: [FIELD], added: [FIELD], conflicts: [] (none, ever),
 * differ: [{field, keep, dup}]} with the values KEEP and DUP had before
 * the merge (masked unless reveal). */
static void pack_merge_result(msgpack_packer *pk, const char *keep_id, const char *dup_id,
                              const record *k, const record *d, const char *taken,
                              const char *differ, const char *added, int reveal)
{
    msg_map m;
    msg_arr a;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "keep", keep_id);
    msg_map_str(&m, "dup", dup_id);
    pack_field_list(&m, pk, "taken", taken);
    pack_field_list(&m, pk, "conflicts", "");
    pack_field_list(&m, pk, "added", added);
    msg_map_key(&m, "differ");
    msg_arr_open(&a, pk);
    for (const char *p = differ; *p;) {
        char f[SCHEMA_NAME_MAX + 1];
        size_t n = strcspn(p, " ");
        snprintf(f, sizeof f, "%.*s", (int)n, p);
        p += n;
        p += *p == ' ';
        msg_map dm;
        msg_arr_item(&a);
        msg_map_open(&dm, pk);
        msg_map_str(&dm, "field", f);
        msg_map_key(&dm, "keep");
        ctl_pack_value(pk, f, query_display(k, keep_id, f), reveal);
        msg_map_key(&dm, "dup");
        ctl_pack_value(pk, f, query_display(d, dup_id, f), reveal);
        msg_map_close(&dm);
    }
    msg_arr_close(&a);
    msg_map_close(&m);
}

/* The merge's two records, found as ctl_lookup finds them; refusals are
 * replied. 0 found (ids in keep_id, dup_id), -1 replied. */
static int merge_find(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk,
                      char keep_id[RECORD_ID_MAX + 1], char dup_id[RECORD_ID_MAX + 1])
{
    char *kq = msg_get_str(req, "keep"), *dq = msg_get_str(req, "dup");
    char err[CTL_ERRLEN * 4];
    int rc = -1;
    uerr e;
    if (!kq || !dq || !*kq || !*dq) {
        ctl_reply_error(pk, UERR_INVALID,
                        "merge: give two records, KEEP then DUP (unionctl duplicates lists "
                        "pairs)");
    } else if ((e = ctl_lookup(keep_id, o, kq, err, sizeof err)) != UERR_OK ||
               (e = ctl_lookup(dup_id, o, dq, err, sizeof err)) != UERR_OK) {
        ctl_reply_text(pk, e, err);
    } else if (strcmp(keep_id, dup_id) == 0) {
        ctl_reply_error(pk, UERR_INVALID,
                        "merge: KEEP and DUP are the same record (%s); give two different ids",
                        keep_id);
    } else {
        rc = 0;
    }
    free(kq);
    free(dq);
    return rc;
}

void op_merge(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char keep_id[RECORD_ID_MAX + 1], dup_id[RECORD_ID_MAX + 1];
    char err[CTL_ERRLEN], opbuf[64], msg[1536];
    char taken[400] = "", differ[400] = "", added[400] = "";
    int reveal = msg_get_bool(req, "reveal", 0);
    record recs[2], before[2];
    recindex_view kv = RECINDEX_VIEW_INIT, dv = RECINDEX_VIEW_INIT;
    for (int i = 0; i < 2; i++) {
        record_init(&recs[i]);
        record_init(&before[i]);
    }
    if (merge_find(o, req, pk, keep_id, dup_id) != 0)
        goto cleanup;
    /* two records at once: two views */
    const record *k = recindex_view_get(&kv, &o->ix, keep_id),
                 *d = recindex_view_get(&dv, &o->ix, dup_id);
    if (!k || !d)
        goto oom;
    if (strcmp(query_display(d, dup_id, "status"), "merged") == 0) {
        const char *into = query_display(d, dup_id, "merged_into");
        ctl_reply_error(pk, UERR_CONFLICT, "merge: %s was already merged into %s; nothing to do",
                        dup_id, *into ? into : "another record");
        goto cleanup;
    }
    if (strcmp(query_display(k, keep_id, "status"), "merged") == 0) {
        const char *into = query_display(k, keep_id, "merged_into");
        ctl_reply_error(pk, UERR_CONFLICT,
                        "merge: %s was itself merged into %s; merge into %s instead", keep_id,
                        *into ? into : "another record", *into ? into : "that record");
        goto cleanup;
    }
    /* before[]: the values to report; the index entries move on commit */
    if (record_copy(&recs[0], k) != 0 || record_copy(&recs[1], d) != 0 ||
        record_copy(&before[0], k) != 0 || record_copy(&before[1], d) != 0)
        goto oom;
    int64_t now = clock_now_ms();
    if (members_merge_fold(&recs[0], d, o->node, taken, differ, added, sizeof taken) < 0)
        goto oom;
    /* DUP stays, marked, so its history and every reference to its id still
     * lead somewhere: show DUP points to KEEP. */
    if (record_write(&recs[1], o->node, now, "status", "merged") != 0 ||
        record_write(&recs[1], o->node, now, "merged_into", keep_id) != 0)
        goto oom;
    /* field names only: commit messages travel further than the data */
    snprintf(msg, sizeof msg,
             "merge %s into %s\n\nfields taken: %s\nfields that differ (kept): %s\nset elements "
             "added: %s\n",
             dup_id, keep_id, *taken ? taken : "-", *differ ? differ : "-", *added ? added : "-");
    char *ids[2] = {keep_id, dup_id};
    /* Both records in one commit: nobody ever sees DUP merged but KEEP not
     * yet holding its values, or the other way round. */
    uerr e = ctl_commit_records(o, ids, recs, 2, 1, ctl_operator(req, opbuf, sizeof opbuf), msg,
                                err, sizeof err);
    if (e != UERR_OK) {
        ctl_reply_error(pk, e, "%s", err);
        goto cleanup;
    }
    if (reveal && *differ)
        ctl_note_reveal(req, "merge", 2);
    pack_merge_result(pk, keep_id, dup_id, &before[0], &before[1], taken, differ, added, reveal);
    goto cleanup;
oom:
    ctl_reply_error(pk, UERR_NOMEM, "out of memory; nothing merged");
cleanup:
    recindex_view_free(&kv);
    recindex_view_free(&dv);
    for (int i = 0; i < 2; i++) {
        record_free(&recs[i]);
        record_free(&before[i]);
    }
}

/* ---- transfer --------------------------------------------------------------- */

/* 1 if some node or record names office: our own office, or any value (also
 * a conflicting one) of any record's office field. */
static int office_known(const ops_ctx *o, const char *office)
{
    if (strcmp(o->office, office) == 0)
        return 1;
    /* the displayed values first: the index has them */
    const recindex_field *f = recindex_field_find(&o->ix, "office");
    const recindex_value *v = f ? recindex_value_find(f, office) : NULL;
    if (v && v->n > 0)
        return 1;
    recindex_view view = RECINDEX_VIEW_INIT;
    int known = 0;
    for (size_t i = 0; i < o->ix.cap && !known; i++) {
        const record *r =
            o->ix.slots[i].id ? recindex_view_item(&view, &o->ix, &o->ix.slots[i]) : NULL;
        known = r && has_value(r, "office", office);
    }
    recindex_view_free(&view);
    return known;
}

void op_transfer(ops_ctx *o, const msgpack_object *req, msgpack_packer *pk)
{
    char *id = NULL, *office = msg_get_str(req, "office"), *norm = NULL;
    char err[CTL_ERRLEN], today[11], msg[256];
    int force = msg_get_bool(req, "force", 0);
    record r;
    recindex_view cv = RECINDEX_VIEW_INIT;
    record_init(&r);
    clock_today(today);
    const record *cur = ctl_find_record(o, &cv, req, &id, pk);
    if (!cur)
        goto cleanup;
    if (!office) {
        ctl_reply_error(pk, UERR_INVALID, "transfer: give the office to move %s to", id);
        goto cleanup;
    }
    if (schema_value_check(&norm, "office", office, today, err, sizeof err) != 0) {
        ctl_reply_error(pk, UERR_INVALID, "%s", err);
        goto cleanup;
    }
    if (strcmp(query_display(cur, id, "status"), "merged") == 0) {
        const char *into = query_display(cur, id, "merged_into");
        ctl_reply_error(pk, UERR_CONFLICT, "transfer: %s was merged into %s; transfer %s instead",
                        id, *into ? into : "another record", *into ? into : "that record");
        goto cleanup;
    }
    if (!force && !office_known(o, norm)) {
        ctl_reply_error(pk, UERR_INVALID,
                        "office '%s' is unknown: no node or record names it; check the spelling "
                        "or use --force",
                        norm);
        goto cleanup;
    }
    size_t first, n = record_field_entries(cur, "office", &first);
    char from[64];
    snprintf(from, sizeof from, "%s", query_display(cur, id, "office"));
    int changed = !(n == 1 && strcmp(from, norm) == 0);
    if (changed) {
        if (record_copy(&r, cur) != 0 ||
            record_write(&r, o->node, clock_now_ms(), "office", norm)) {
            ctl_reply_error(pk, UERR_NOMEM, "out of memory; nothing written");
            goto cleanup;
        }
        snprintf(msg, sizeof msg, "transfer %s\n\nfields: office\n", id);
        if (ctl_commit_one(o, req, id, &r, msg, pk) != UERR_OK)
            goto cleanup;
        if (force)
            log_msg(LOG_INFO, "transfer of %s to office %s forced (--force)", id, norm);
    }
    msg_map m;
    ctl_reply_ok(pk);
    msg_map_open(&m, pk);
    msg_map_str(&m, "id", id);
    msg_map_str(&m, "from", from);
    msg_map_str(&m, "office", norm);
    msg_map_int(&m, "changed", changed);
    msg_map_close(&m);
cleanup:
    recindex_view_free(&cv);
    record_free(&r);
    free(id);
    free(office);
    free(norm);
}
