/* objcheck.c - the byte-level checks on every object taken in from outside
 * (objcheck.h): trees in the store's layout, strict commits, records that
 * pass the same schema a local write passes. Pure: no I/O, no libgit2;
 * it must never touch the repository, only judge bytes. */
#include "daemon/store/objcheck.h"

#include "proto/schema.h"
#include "proto/schema_decl.h"
#include "proto/utf8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kind folders (proto/kind.h kind_dir) and the schema folder, in tree
 * order. */
const char *const store_toplevel_names[] = {
    "benefits", "enterprises", "members", "stations", OBJCHECK_TOP_SCHEMA, "unions", NULL};

int objcheck_toplevel_valid(const char *name, size_t len)
{
    for (size_t i = 0; store_toplevel_names[i]; i++)
        if (strlen(store_toplevel_names[i]) == len &&
            memcmp(store_toplevel_names[i], name, len) == 0)
            return 1;
    return 0;
}

/* ---- trees ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t namelen;
    int is_tree;
} tentry;

/* Parse the entry at *pos; 1 ok (pos advanced), 0 malformed. */
static int tree_entry_parse(tentry *e, const unsigned char **id, size_t *pos,
                            const unsigned char *buf, size_t len)
{
    size_t p = *pos;
    const unsigned char *sp = memchr(buf + p, ' ', len - p);
    if (!sp)
        return 0;
    size_t mlen = (size_t)(sp - (buf + p));
    if (mlen == 6 && memcmp(buf + p, "100644", 6) == 0)
        e->is_tree = 0;
    else if (mlen == 5 && memcmp(buf + p, "40000", 5) == 0)
        e->is_tree = 1;
    else
        return 0;
    p += mlen + 1;
    const unsigned char *nul = p < len ? memchr(buf + p, 0, len - p) : NULL;
    if (!nul)
        return 0;
    e->name = (const char *)buf + p;
    e->namelen = (size_t)(nul - (buf + p));
    p += e->namelen + 1;
    if (len - p < 20)
        return 0;
    *id = buf + p;
    *pos = p + 20;
    return 1;
}

/* git's tree order: names compared bytewise, a tree as if it ended in '/'. */
static int tree_order(const tentry *a, const tentry *b)
{
    size_t n = a->namelen < b->namelen ? a->namelen : b->namelen;
    int c = memcmp(a->name, b->name, n);
    if (c)
        return c;
    unsigned char ca = n < a->namelen ? (unsigned char)a->name[n] : a->is_tree ? '/' : 0;
    unsigned char cb = n < b->namelen ? (unsigned char)b->name[n] : b->is_tree ? '/' : 0;
    return (int)ca - (int)cb;
}

static int hex2(const char *s, size_t n)
{
    if (n != 2)
        return 0;
    for (size_t i = 0; i < 2; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int record_name_ok(const char *s, size_t n)
{
    char id[RECORD_ID_MAX + 1];
    if (n == 0 || n > RECORD_ID_MAX)
        return 0;
    memcpy(id, s, n);
    id[n] = 0;
    return record_id_valid(id);
}

/* The kind the entry e belongs to, or -1 if it fits none. */
static int entry_kind(const tentry *e)
{
    if (!e->is_tree)
        return record_name_ok(e->name, e->namelen) ? OBJCHECK_TREE_LEAF : -1;
    if (objcheck_toplevel_valid(e->name, e->namelen))
        return OBJCHECK_TREE_ROOT;
    if (hex2(e->name, e->namelen))
        return OBJCHECK_TREE_FANOUT;
    return -1;
}

int objcheck_tree_next(size_t *pos, const char **name, size_t *namelen, const unsigned char **id,
                       const unsigned char *buf, size_t len)
{
    tentry e;
    if (*pos >= len || !tree_entry_parse(&e, id, pos, buf, len))
        return 0;
    *name = e.name;
    *namelen = e.namelen;
    return 1;
}

/* The first 32 bytes of a name, made printable, for messages. */
static void name_show(char out[40], const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n && w < 32; i++)
        out[w++] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[w] = 0;
}

uerr objcheck_tree(objcheck_tree_kind *kind, const unsigned char *buf, size_t len, char *err,
                   size_t errlen)
{
    tentry prev = {0}, e;
    const unsigned char *id;
    size_t pos = 0, n = 0;
    int k0 = -1;
    char show[40];
    if (len > STORE_OBJECT_MAX)
        return uerr_set(err, errlen, UERR_PEER, "tree larger than %u bytes", STORE_OBJECT_MAX);
    if (len == 0)
        return uerr_set(err, errlen, UERR_PEER, "empty tree (a record or folder expected)");
    while (pos < len) {
        if (!tree_entry_parse(&e, &id, &pos, buf, len)) {
            const unsigned char *sp = memchr(buf + pos, ' ', len - pos < 8 ? len - pos : 8);
            for (const unsigned char *q = buf + pos; sp && q < sp; q++)
                if (*q < '0' || *q > '7')
                    sp = NULL; /* not an octal mode: not quoted into a message */
            if (sp)
                return uerr_set(err, errlen, UERR_PEER,
                                "tree entry %zu has mode %.*s (only 100644 records and 40000 "
                                "folders)",
                                n + 1, (int)(sp - (buf + pos)), (const char *)buf + pos);
            return uerr_set(err, errlen, UERR_PEER, "malformed tree entry %zu", n + 1);
        }
        name_show(show, e.name, e.namelen);
        if (e.namelen == 0 || memchr(e.name, '/', e.namelen))
            return uerr_set(err, errlen, UERR_PEER, "tree entry %zu has a bad name", n + 1);
        if (n > 0) {
            if (prev.namelen == e.namelen && memcmp(prev.name, e.name, e.namelen) == 0)
                return uerr_set(err, errlen, UERR_PEER, "duplicate tree entry '%s'", show);
            if (tree_order(&prev, &e) >= 0)
                return uerr_set(err, errlen, UERR_PEER, "tree entries not sorted at '%s'", show);
        }
        int k = entry_kind(&e);
        if (k < 0)
            return uerr_set(err, errlen, UERR_PEER, "'%s' (mode %s) is outside the record layout",
                            show, e.is_tree ? "40000" : "100644");
        if (n > 0 && k != k0)
            return uerr_set(err, errlen, UERR_PEER, "tree mixes kinds of entries at '%s'", show);
        k0 = k;
        prev = e;
        n++;
    }
    *kind = (objcheck_tree_kind)k0;
    return UERR_OK;
}

/* ---- commits ------------------------------------------------------------- */

/* "KEY HEX40\n" at *p; copies the hex into out. */
static int hex_line(char out[41], const char *key, const char **p, const char *end)
{
    size_t kl = strlen(key);
    if ((size_t)(end - *p) < kl + 42 || memcmp(*p, key, kl) != 0 || (*p)[kl] != ' ' ||
        (*p)[kl + 41] != '\n')
        return 0;
    const char *h = *p + kl + 1;
    for (int i = 0; i < 40; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    memcpy(out, h, 40);
    out[40] = 0;
    *p += kl + 42;
    return 1;
}

static int sig_text_ok(const char *s, size_t n, int spaces)
{
    if (n == 0 || n > STORE_SIGNATURE_PART_MAX || !utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || (!spaces && c == ' '))
            return 0;
    }
    return s[0] != ' ' && s[n - 1] != ' ';
}

/* "KEY NAME <EMAIL> TIME +HHMM\n" at *p. */
static int sig_line(const char *key, const char **p, const char *end)
{
    size_t kl = strlen(key);
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) < kl + 1 || memcmp(*p, key, kl) != 0 || (*p)[kl] != ' ')
        return 0;
    const char *s = *p + kl + 1;
    const char *lt = memchr(s, '<', (size_t)(nl - s));
    const char *gt = lt ? memchr(lt, '>', (size_t)(nl - lt)) : NULL;
    if (!lt || !gt || lt == s || lt[-1] != ' ' || !sig_text_ok(s, (size_t)(lt - 1 - s), 1) ||
        !sig_text_ok(lt + 1, (size_t)(gt - lt - 1), 0) || gt + 1 >= nl || gt[1] != ' ')
        return 0;
    const char *t = gt + 2, *sp = memchr(t, ' ', (size_t)(nl - t));
    if (!sp || sp == t || (sp - t > 1 && t[0] == '0') || sp - t > 12)
        return 0;
    long long tv = 0;
    for (const char *q = t; q < sp; q++) {
        if (*q < '0' || *q > '9')
            return 0;
        tv = tv * 10 + (*q - '0');
    }
    const char *z = sp + 1;
    if (tv > STORE_COMMIT_TIME_MAX || nl - z != 5 || (z[0] != '+' && z[0] != '-'))
        return 0;
    for (int i = 1; i < 5; i++)
        if (z[i] < '0' || z[i] > '9')
            return 0;
    int hh = (z[1] - '0') * 10 + (z[2] - '0'), mm = (z[3] - '0') * 10 + (z[4] - '0');
    if (hh > 14 || mm > 59)
        return 0;
    *p = nl + 1;
    return 1;
}

uerr objcheck_commit(objcheck_commit_info *out, const unsigned char *buf, size_t len, char *err,
                     size_t errlen)
{
    const char *p = (const char *)buf, *end = p + len;
    char extra[41];
    memset(out, 0, sizeof *out);
    if (len > STORE_OBJECT_MAX)
        return uerr_set(err, errlen, UERR_PEER, "commit larger than %u bytes", STORE_OBJECT_MAX);
    if (!hex_line(out->tree, "tree", &p, end))
        return uerr_set(err, errlen, UERR_PEER, "commit does not start with a tree line");
    while (out->nparents < STORE_COMMIT_PARENTS_MAX &&
           hex_line(out->parents[out->nparents], "parent", &p, end))
        out->nparents++;
    if (hex_line(extra, "parent", &p, end))
        return uerr_set(err, errlen, UERR_PEER, "commit has more than %d parents",
                        STORE_COMMIT_PARENTS_MAX);
    if (!sig_line("author", &p, end))
        return uerr_set(err, errlen, UERR_PEER, "commit author line is malformed");
    if (!sig_line("committer", &p, end))
        return uerr_set(err, errlen, UERR_PEER, "commit committer line is malformed");
    if ((size_t)(end - p) >= 15 && memcmp(p, "encoding UTF-8\n", 15) == 0)
        p += 15;
    if (p >= end || *p != '\n')
        return uerr_set(err, errlen, UERR_PEER,
                        "commit has an unexpected header (only tree, parent, author, committer, "
                        "encoding UTF-8)");
    p++;
    size_t mlen = (size_t)(end - p);
    if (memchr(p, 0, mlen) || !utf8_valid(p, mlen))
        return uerr_set(err, errlen, UERR_PEER, "commit message is not UTF-8 text");
    return UERR_OK;
}

/* ---- records ---------------------------------------------------------------- */

/* A date far enough ahead that "not in the future" never refuses (the
 * writer's clock, not ours, dated the value: see objcheck.h). */
#define NO_FUTURE_LIMIT "9999-12-31"

/* Check every entry of r against the schema of kind k: UERR_OK, or the
 * first refusal (UERR_PEER) in err. */
static uerr record_check_kind(const record *r, record_kind k, char *err, size_t errlen)
{
    char derr[160];
    for (size_t i = 0; i < r->nentries; i++) {
        const record_entry *e = &r->entries[i];
        char *norm = NULL;
        if (!schema_kind_field_find(k, e->field))
            return uerr_set(err, errlen, UERR_PEER,
                            "damaged record: a field not in the schema: %.32s", e->field);
        int v = schema_kind_value_check(&norm, k, e->field, e->value, NO_FUTURE_LIMIT, derr,
                                        sizeof derr);
        uerr rc = UERR_OK;
        if (v == UERR_NOMEM)
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory checking a record");
        else if (v != 0)
            rc = uerr_set(err, errlen, UERR_PEER, "damaged record: %s", derr);
        else if (strcmp(norm, e->value) != 0)
            rc = uerr_set(err, errlen, UERR_PEER,
                          "damaged record: the value of %.32s is not in its stored form "
                          "(untrimmed, not NFKC or not normalised)",
                          e->field);
        free(norm);
        if (rc != UERR_OK)
            return rc;
    }
    return UERR_OK;
}

uerr objcheck_record_kind(const record *r, record_kind k, char *err, size_t errlen)
{
    return record_check_kind(r, k, err, errlen);
}

/* 1 when every field of r is a field of kind k: the first test of
 * record_check_kind, without the message a refusal formats (a member's
 * record is checked as every other kind too, and fails there at once). */
static int kind_fields_known(const record *r, record_kind k)
{
    for (size_t i = 0; i < r->nentries; i++)
        if (!schema_kind_field_find(k, r->entries[i].field))
            return 0;
    return 1;
}

/* A blob is checked before the layout walk knows its folder, so it is
 * checked as every kind and as both declarations; the walk then demands
 * the bit of its folder. The member refusal is the one reported. */
uerr objcheck_record_as(uint32_t *as, const char *buf, size_t len, char *err, size_t errlen)
{
    record r;
    char derr[160];
    uerr rc;
    *as = 0;
    if (len > STORE_OBJECT_MAX)
        return uerr_set(err, errlen, UERR_PEER, "record larger than %u bytes", STORE_OBJECT_MAX);
    if (record_decode(&r, buf, len, derr, sizeof derr) != 0)
        return uerr_set(err, errlen, strcmp(derr, "out of memory") == 0 ? UERR_NOMEM : UERR_PEER,
                        "damaged record (not canonical): %s", derr);
    rc = record_check_kind(&r, KIND_MEMBER, err, errlen);
    if (rc == UERR_OK)
        *as |= OBJCHECK_AS_KIND(KIND_MEMBER);
    for (int k = KIND_MEMBER + 1; k < KIND_COUNT && rc != UERR_NOMEM; k++) {
        if (!kind_fields_known(&r, (record_kind)k))
            continue; /* refused as record_check_kind would, without its message */
        uerr kr = record_check_kind(&r, (record_kind)k, derr, sizeof derr);
        if (kr == UERR_NOMEM)
            rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory checking a record");
        else if (kr == UERR_OK)
            *as |= OBJCHECK_AS_KIND(k);
    }
    if (schema_decl_record_check(SCHEMA_DECL_FIELDS_ID, &r, derr, sizeof derr) == UERR_OK)
        *as |= OBJCHECK_AS_DECL_FIELDS;
    if (schema_decl_record_check(SCHEMA_DECL_CATEGORY_ID, &r, derr, sizeof derr) == UERR_OK)
        *as |= OBJCHECK_AS_DECL_CATEGORY;
    record_free(&r);
    if (rc == UERR_NOMEM) {
        *as = 0;
        return rc;
    }
    return *as ? UERR_OK : rc;
}

uerr objcheck_record(const char *buf, size_t len, char *err, size_t errlen)
{
    uint32_t as;
    return objcheck_record_as(&as, buf, len, err, errlen);
}

uint32_t objcheck_as_wanted(const char *top, const char *name, size_t n)
{
    if (strcmp(top, OBJCHECK_TOP_SCHEMA) == 0) {
        if (!schema_decl_id_valid(name, n))
            return 0;
        return n == strlen(SCHEMA_DECL_FIELDS_ID) ? OBJCHECK_AS_DECL_FIELDS
                                                  : OBJCHECK_AS_DECL_CATEGORY;
    }
    for (int k = KIND_MEMBER; k < KIND_COUNT; k++)
        if (strcmp(top, kind_dir((record_kind)k)) == 0)
            return OBJCHECK_AS_KIND(k);
    return 0;
}

int objcheck_record_at(const char *id, const char *aa, const char *bb)
{
    char path[RECORD_ID_MAX + 32], want[8];
    record_path(path, sizeof path, id);
    /* record_path gives "members/aa/bb/id": the hash part follows the
     * first '/', whatever the top-level name is. */
    const char *h = strchr(path, '/');
    assert(h);
    snprintf(want, sizeof want, "%.2s/%.2s", aa, bb);
    return strncmp(h + 1, want, 5) == 0;
}
