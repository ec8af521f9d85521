/* persons.c - one person, one record: an index from what identifies a
 * person (the ID number; failing that, name + phone) to the records that
 * hold it, so that add and import find a registered person without a scan
 * per row; and from the phone alone, so that `show PHONE` (and `show` of
 * an ID number) finds its records without a walk of the index
 * (ctl_lookup). Updated wherever the record index is (ops_index_changed,
 * ctl_commit_records). Store queue thread only; not thread-safe. Keys are
 * personal data: never logged.
 *
 * The table keeps no key and no id: a slot is a key's 32-bit hash and the
 * row of a record holding it (8 bytes; a million members with two keys
 * each take 32 MiB, where a map of strings took ~380 bytes a record). A
 * find recomputes each candidate row's keys from the record index, so a
 * hash collision never answers a wrong record. Open addressing, linear
 * probing, load under 3/4, removal by backward shift; several slots may
 * hold one key (a person registered twice: what duplicates finds). */
#include "daemon/ctl/common.h"
#include "daemon/ctl/scan.h"

#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* buf = tag, a, then (when b) 0x1f and b, cut at PERSON_KEY_MAX - 1 bytes
 * and NUL-terminated: what snprintf(buf, PERSON_KEY_MAX, ...) made, without
 * its format parsing (three keys a record on an import's index feed, two
 * a row in its checks: a tenth of those paths, round 11). */
static void key_put(char buf[PERSON_KEY_MAX], char tag, const char *a, const char *b)
{
    size_t at = 0, room = PERSON_KEY_MAX - 1;
    buf[at++] = tag;
    for (int part = 0; part < 2; part++) {
        const char *s = part ? b : a;
        if (!s)
            break;
        if (part && at < room)
            buf[at++] = '\x1f';
        size_t n = strlen(s);
        if (n > room - at)
            n = room - at;
        memcpy(buf + at, s, n);
        at += n;
    }
    buf[at] = 0;
}

void persons_key_id(char buf[PERSON_KEY_MAX], const char *id_number)
{
    buf[0] = 0;
    if (id_number && *id_number)
        key_put(buf, 'i', id_number, NULL);
}

void persons_key_np(char buf[PERSON_KEY_MAX], const char *name, const char *phone)
{
    buf[0] = 0;
    if (name && *name && phone && *phone)
        key_put(buf, 'p', name, phone);
}

void persons_key_phone(char buf[PERSON_KEY_MAX], const char *phone)
{
    buf[0] = 0;
    if (phone && *phone)
        key_put(buf, 't', phone, NULL);
}

#define NO_ROW UINT32_MAX

typedef struct {
    uint32_t h;   /* the key's hash */
    uint32_t row; /* the record's row in the index; NO_ROW: a free slot */
} person_slot;

struct persons_tab {
    person_slot *s;
    size_t cap, n; /* cap a power of two (or 0) */
};

static uint32_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* The record's keys (persons_key_id, persons_key_np, persons_key_phone)
 * into keys, its three fields read in one walk of its bytes. */
#define NKEYS 3
static void item_keys(char keys[NKEYS][PERSON_KEY_MAX], const recindex *ix, const recindex_item *it)
{
    static const char *const f[] = {"id_number", "name", "phone"}; /* sorted */
    const char *v[3];
    reccompact_winners(v, &ix->cr, it->id, f, 3);
    persons_key_id(keys[0], v[0] ? v[0] : "");
    persons_key_np(keys[1], v[1] ? v[1] : "", v[2] ? v[2] : "");
    persons_key_phone(keys[2], v[2] ? v[2] : "");
}

/* 1 if the record of it holds key (a hash match is checked, never
 * trusted). */
static int item_holds(const recindex *ix, const recindex_item *it, const char *key)
{
    char keys[NKEYS][PERSON_KEY_MAX];
    item_keys(keys, ix, it);
    for (int k = 0; k < NKEYS; k++)
        if (strcmp(keys[k], key) == 0)
            return 1;
    return 0;
}

/* Rehash into ncap slots (a power of two, more than t->n). */
static int tab_resize(struct persons_tab *t, size_t ncap)
{
    person_slot *ns = malloc(ncap * sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < ncap; i++)
        ns[i].row = NO_ROW;
    for (size_t i = 0; i < t->cap; i++)
        if (t->s[i].row != NO_ROW) {
            size_t j = t->s[i].h & (ncap - 1);
            while (ns[j].row != NO_ROW)
                j = (j + 1) & (ncap - 1);
            ns[j] = t->s[i];
        }
    free(t->s);
    t->s = ns;
    t->cap = ncap;
    return 0;
}

static int tab_grow(struct persons_tab *t)
{
    return tab_resize(t, t->cap ? t->cap * 2 : 1024);
}

uerr persons_reserve(ops_ctx *o, size_t nkeys)
{
    if (!o->persons && !(o->persons = calloc(1, sizeof *o->persons)))
        return UERR_NOMEM;
    struct persons_tab *t = o->persons;
    size_t ncap = t->cap ? t->cap : 1024;
    while ((t->n + nkeys) * 4 > ncap * 3)
        ncap *= 2;
    return ncap == t->cap || tab_resize(t, ncap) == 0 ? UERR_OK : UERR_NOMEM;
}

/* Take slot i out, moving later slots of its run back (backward shift), so
 * no probe ever stops early at a hole. */
static void tab_delete(struct persons_tab *t, size_t i)
{
    size_t mask = t->cap - 1, j = i;
    t->s[i].row = NO_ROW;
    t->n--;
    for (;;) {
        j = (j + 1) & mask;
        if (t->s[j].row == NO_ROW)
            return;
        size_t home = t->s[j].h & mask;
        /* slot j may move to the hole i when its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->s[i] = t->s[j];
            t->s[j].row = NO_ROW;
            i = j;
        }
    }
}

void persons_remove(ops_ctx *o, const char *id)
{
    char keys[NKEYS][PERSON_KEY_MAX];
    struct persons_tab *t = o->persons;
    const recindex_item *it = recindex_find(&o->ix, id);
    if (!it || !t || !t->cap)
        return;
    item_keys(keys, &o->ix, it);
    for (int k = 0; k < NKEYS; k++) {
        if (!keys[k][0])
            continue;
        uint32_t h = key_hash(keys[k]);
        for (size_t i = h & (t->cap - 1); t->s[i].row != NO_ROW; i = (i + 1) & (t->cap - 1))
            if (t->s[i].h == h && t->s[i].row == it->row) {
                tab_delete(t, i);
                break;
            }
    }
}

uerr persons_add(ops_ctx *o, const char *id)
{
    const recindex_item *it = recindex_find(&o->ix, id);
    return it ? persons_add_item(o, it) : UERR_OK;
}

uerr persons_add_item(ops_ctx *o, const recindex_item *it)
{
    char keys[NKEYS][PERSON_KEY_MAX];
    if (!o->persons && !(o->persons = calloc(1, sizeof *o->persons)))
        return UERR_NOMEM;
    struct persons_tab *t = o->persons;
    item_keys(keys, &o->ix, it);
    for (int k = 0; k < NKEYS; k++) {
        if (!keys[k][0])
            continue;
        if ((t->n + 1) * 4 > t->cap * 3 && tab_grow(t) != 0)
            return UERR_NOMEM;
        uint32_t h = key_hash(keys[k]);
        size_t i = h & (t->cap - 1);
        for (; t->s[i].row != NO_ROW; i = (i + 1) & (t->cap - 1))
            if (t->s[i].h == h && t->s[i].row == it->row)
                break; /* noted already */
        if (t->s[i].row == NO_ROW) {
            t->s[i] = (person_slot){h, it->row};
            t->n++;
        }
    }
    return UERR_OK;
}

/* persons_each's callback for persons_find: the least live id but skip. */
typedef struct {
    const recindex *ix;
    const char *skip, *best;
} find_best;

static void find_take(void *arg, const recindex_item *it)
{
    find_best *f = arg;
    /* a duplicate folded into another record is not the person */
    if (*recindex_item_shown(f->ix, it, "merged_into") || (f->skip && strcmp(it->id, f->skip) == 0))
        return;
    if (!f->best || strcmp(it->id, f->best) < 0)
        f->best = it->id;
}

const char *persons_find(const ops_ctx *o, const char *key, const char *skip)
{
    find_best f = {&o->ix, skip, NULL};
    persons_each(o, key, find_take, &f);
    return f.best;
}

size_t persons_each(const ops_ctx *o, const char *key,
                    void (*fn)(void *arg, const recindex_item *it), void *arg)
{
    const struct persons_tab *t = o->persons;
    size_t n = 0;
    if (!key[0] || !t || !t->cap)
        return 0;
    uint32_t h = key_hash(key);
    for (size_t i = h & (t->cap - 1); t->s[i].row != NO_ROW; i = (i + 1) & (t->cap - 1)) {
        if (t->s[i].h != h)
            continue;
        const recindex_item *it = recindex_row(&o->ix, t->s[i].row);
        if (!item_holds(&o->ix, it, key))
            continue;
        fn(arg, it);
        n++;
    }
    return n;
}

/* persons_each's callback for ctl_candidates: the row, once. */
typedef struct {
    uint32_t *rows;
    size_t n, cap;
    int oom;
} row_list;

static void row_take(void *arg, const recindex_item *it)
{
    row_list *l = arg;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 16;
        uint32_t *nr = realloc(l->rows, ncap * sizeof *nr);
        if (!nr) {
            l->oom = 1;
            return;
        }
        l->rows = nr;
        l->cap = ncap;
    }
    l->rows[l->n++] = it->row;
}

int ctl_candidates(uint32_t **rows, size_t *n, const ops_ctx *o, const query_cond *c, size_t nc)
{
    for (size_t i = 0; i < nc; i++) {
        char key[PERSON_KEY_MAX];
        if (c[i].op != Q_EQ || !c[i].value[0])
            continue;
        if (strcmp(c[i].field, "id_number") == 0)
            persons_key_id(key, c[i].value);
        else if (strcmp(c[i].field, "phone") == 0)
            persons_key_phone(key, c[i].value);
        else
            continue;
        /* the records whose winning value it is (the value query_match
         * compares), each once: a slot per key and row */
        row_list l = {0};
        persons_each(o, key, row_take, &l);
        if (l.oom) {
            free(l.rows);
            return -1;
        }
        if (!l.rows && !(l.rows = malloc(sizeof *l.rows)))
            return -1;
        *rows = l.rows;
        *n = l.n;
        return 1;
    }
    return scan_candidates(rows, n, &o->ix, c, nc);
}

void persons_free(ops_ctx *o)
{
    if (o->persons)
        free(o->persons->s);
    free(o->persons);
    o->persons = NULL;
}

static const char *winner(const record *r, const char *field)
{
    const record_entry *e = record_field_winner(r, field);
    return e ? e->value : "";
}

/* The value field will have after the assignments: the last "=" to it,
 * else the record's. */
static const char *merged_value(const record *cur, const assignment *a, size_t n, const char *field)
{
    for (size_t i = n; i-- > 0;)
        if (strcmp(a[i].field, field) == 0 && strcmp(a[i].op, "=") == 0)
            return a[i].value;
    return cur ? winner(cur, field) : "";
}

uerr ctl_person_check(ops_ctx *o, const char *self, const record *cur, assignment **a, size_t *n,
                      char *err, size_t errlen)
{
    schema_person p = {merged_value(cur, *a, *n, "gender"), merged_value(cur, *a, *n, "id_number"),
                       merged_value(cur, *a, *n, "joined")};
    const char *fill = NULL;
    /* first who the person is: a registered ID number says more than a
     * disagreement with a field of the other record */
    char key[PERSON_KEY_MAX];
    persons_key_id(key, p.id_number);
    const char *other = persons_find(o, key, self);
    if (other && (!cur || strcmp(p.id_number, winner(cur, "id_number")) != 0))
        return uerr_set(err, errlen, UERR_CONFLICT,
                        "id_number: this ID number is already registered as record %s; one "
                        "person has one record (unionctl show %s; change it with unionctl edit %s)",
                        other, other, other);
    problem_list pl;
    problem_list_init(&pl);
    size_t np = schema_cross_check(&fill, &p, 0, &pl);
    uerr e = UERR_OK;
    if (np == (size_t)-1) {
        e = uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    } else if (np > 0) {
        size_t off = 0;
        for (size_t i = 0; i < pl.n && off < errlen; i++)
            off += (size_t)snprintf(err + off, errlen - off, "%s%s", i ? "; " : "", pl.v[i].msg);
        e = UERR_INVALID;
    }
    problem_list_free(&pl);
    if (e != UERR_OK)
        return e;
    if (fill && !*p.gender) {
        assignment *na = realloc(*a, (*n + 1) * sizeof *na);
        if (!na)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
        *a = na;
        na[*n] = (assignment){strdup("gender"), strdup("="), strdup(fill), 0};
        (*n)++;
        if (!na[*n - 1].field || !na[*n - 1].op || !na[*n - 1].value)
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    return UERR_OK;
}
