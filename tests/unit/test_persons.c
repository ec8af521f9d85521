/* test_persons.c - the persons table (daemon/ctl/persons.c: key hash ->
 * row) answers as a brute-force search of the index does: random records
 * sharing ID numbers and name + phone pairs (several records per key, as
 * duplicates are), replaced (keys moved), merged away, removed from the
 * table and put back; after every step persons_find gives the smallest
 * live id holding the key, or none, for every key ever used. Enough rows
 * that the table grows and removals shift runs back.
 *
 * And ctl_lookup (what `show Q` runs), which finds ID numbers and phones
 * through the table and skips its walk for an id prefix no id can have,
 * answers as the walk of every record that it was does: for each
 * record's phone, ID number, id prefixes, ids not held, phones nobody has.
 * And ctl_kind_link_find (a union, employer, station or member named by a
 * record being shown or added), which looks at the linkable records and
 * the person keys instead of every record, answers as that walk does:
 * found, ambiguous, or the wrong kind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/ctl/common.h"
#include "daemon/ctl/kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREC 3000
#define NIDN 700 /* distinct ID numbers: about four records each */

static void make(record *r, int idn, int phone, int merged)
{
    char v[32];
    record_init(r);
    snprintf(v, sizeof v, "33010219900101%04d", idn);
    if (idn >= 0)
        assert_int_equal(record_write(r, "n", 1000, "id_number", v), 0);
    snprintf(v, sizeof v, "name%d", phone % 50);
    assert_int_equal(record_write(r, "n", 1000, "name", v), 0);
    snprintf(v, sizeof v, "138%08d", phone);
    assert_int_equal(record_write(r, "n", 1000, "phone", v), 0);
    if (merged)
        assert_int_equal(record_write(r, "n", 1000, "merged_into", "x"), 0);
}

/* The smallest live id holding key, by a scan of the index. */
static const char *brute(const ops_ctx *o, const char *key)
{
    const char *best = NULL;
    for (uint32_t row = 0; row < o->ix.count; row++) {
        const recindex_item *it = recindex_row(&o->ix, row);
        char k1[PERSON_KEY_MAX], k2[PERSON_KEY_MAX];
        persons_key_id(k1, recindex_item_shown(&o->ix, it, "id_number"));
        persons_key_np(k2, recindex_item_shown(&o->ix, it, "name"),
                       recindex_item_shown(&o->ix, it, "phone"));
        if ((strcmp(k1, key) == 0 || strcmp(k2, key) == 0) &&
            !*recindex_item_shown(&o->ix, it, "merged_into") && (!best || strcmp(it->id, best) < 0))
            best = it->id;
    }
    return best;
}

static void check_all(const ops_ctx *o)
{
    char key[PERSON_KEY_MAX], v[32];
    for (int i = 0; i < NIDN; i += 7) {
        snprintf(v, sizeof v, "33010219900101%04d", i);
        persons_key_id(key, v);
        const char *a = persons_find(o, key, NULL), *b = brute(o, key);
        assert_true((a == NULL) == (b == NULL));
        if (a)
            assert_string_equal(a, b);
    }
    for (int p = 0; p < 2 * NIDN; p += 11) {
        char name[32], phone[32];
        snprintf(name, sizeof name, "name%d", p % 50);
        snprintf(phone, sizeof phone, "138%08d", p);
        persons_key_np(key, name, phone);
        const char *a = persons_find(o, key, NULL), *b = brute(o, key);
        assert_true((a == NULL) == (b == NULL));
        if (a)
            assert_string_equal(a, b);
    }
}

/* Put record r as id the way ops_index_changed does. */
static void put(ops_ctx *o, const char *id, record *r)
{
    persons_remove(o, id);
    assert_int_equal(recindex_put(&o->ix, id, r), UERR_OK);
    assert_int_equal(persons_add(o, id), UERR_OK);
}

static void find_equals_scan(void **state)
{
    (void)state;
    ops_ctx o;
    memset(&o, 0, sizeof o);
    recindex_init(&o.ix);
    srand(7);
    for (int i = 0; i < NREC; i++) {
        char id[32];
        record r;
        snprintf(id, sizeof id, "p%05d", i);
        make(&r, rand() % 8 ? rand() % NIDN : -1, rand() % (2 * NIDN), rand() % 10 == 0);
        put(&o, id, &r);
        if (i % 500 == 0)
            check_all(&o);
    }
    check_all(&o);
    /* replaced: keys move, some become merged, some lose their ID number */
    for (int i = 0; i < NREC; i += 3) {
        char id[32];
        record r;
        snprintf(id, sizeof id, "p%05d", i);
        make(&r, rand() % 3 ? rand() % NIDN : -1, rand() % (2 * NIDN), rand() % 5 == 0);
        put(&o, id, &r);
    }
    check_all(&o);
    /* noting a record twice changes nothing; skip leaves one id out */
    assert_int_equal(persons_add(&o, "p00001"), UERR_OK);
    check_all(&o);
    char key[PERSON_KEY_MAX];
    const recindex_item *it = recindex_find(&o.ix, "p00002");
    persons_key_np(key, recindex_item_shown(&o.ix, it, "name"),
                   recindex_item_shown(&o.ix, it, "phone"));
    const char *other = persons_find(&o, key, "p00002");
    assert_true(other == NULL || strcmp(other, "p00002") != 0);
    assert_null(persons_find(&o, "", NULL));
    persons_free(&o);
    assert_null(o.persons);
    recindex_free(&o.ix);
}

/* An ID number with its check character (GB 11643). */
static void idnum_make(char out[19], int n)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    snprintf(out, 19, "33020319850312%03d", n % 1000);
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * w[i];
    out[17] = "10X98765432"[sum % 11];
    out[18] = 0;
}

/* ctl_lookup's answer as the walk of every record finds it: the live
 * matches, else the merged-away ones (status merged); one is the answer, none NOTFOUND,
 * more CONFLICT. q is already in stored form (digits, upper-case X). */
static uerr lookup_brute(char *out, const ops_ctx *o, const char *q)
{
    size_t nlive = 0, ndead = 0, len = strlen(q);
    const char *live = NULL, *dead = NULL;
    if (recindex_has(&o->ix, q)) {
        strcpy(out, q);
        return UERR_OK;
    }
    int prefix = len >= CTL_ID_PREFIX_MIN && record_id_valid(q) && len < o->ix.id_max;
    for (uint32_t row = 0; row < o->ix.count; row++) {
        const recindex_item *it = recindex_row(&o->ix, row);
        if (!(prefix && strncmp(it->id, q, len) == 0) &&
            strcmp(recindex_item_shown(&o->ix, it, "id_number"), q) != 0 &&
            strcmp(recindex_item_shown(&o->ix, it, "phone"), q) != 0)
            continue;
        if (strcmp(recindex_item_shown(&o->ix, it, "status"), "merged") == 0) {
            ndead++;
            dead = it->id;
        } else {
            nlive++;
            live = it->id;
        }
    }
    size_t n = nlive ? nlive : ndead;
    if (n == 1)
        strcpy(out, nlive ? live : dead);
    return n == 1 ? UERR_OK : n == 0 ? UERR_NOTFOUND : UERR_CONFLICT;
}

static void lookup_check(ops_ctx *o, const char *q)
{
    char a[RECORD_ID_MAX + 1] = "", b[RECORD_ID_MAX + 1] = "", err[2048];
    uerr ea = ctl_lookup(a, o, q, err, sizeof err), eb = lookup_brute(b, o, q);
    if (ea != eb)
        fail_msg("lookup %s: %d, the walk says %d", q, (int)ea, (int)eb);
    if (ea == UERR_OK)
        assert_string_equal(a, b);
}

/* ctl_candidates for field = value: exactly the rows whose shown value it
 * is, each once. */
static void candidates_check(const ops_ctx *o, const char *field, const char *value)
{
    query_cond c = {.field = (char *)field, .op = Q_EQ, .value = (char *)value};
    uint32_t *rows = NULL;
    size_t n = 0, want = 0;
    assert_int_equal(ctl_candidates(&rows, &n, o, &c, 1), 1);
    for (uint32_t row = 0; row < o->ix.count; row++)
        if (strcmp(recindex_item_shown(&o->ix, recindex_row(&o->ix, row), field), value) == 0)
            want++;
    assert_int_equal(n, want);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(recindex_item_shown(&o->ix, recindex_row(&o->ix, rows[i]), field),
                            value);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(rows[i], rows[j]);
    }
    free(rows);
}

static void lookup_equals_walk(void **state)
{
    (void)state;
    ops_ctx o;
    char ids[600][RECORD_ID_MAX + 1], v[32];
    memset(&o, 0, sizeof o);
    recindex_init(&o.ix);
    srand(11);
    for (int round = 0; round < 2; round++) {
        for (int i = round * 300; i < (round + 1) * 300; i++) {
            record r;
            /* ids as uniond makes them (time, then random), a day apart in
             * two rounds: the second round widens the range of ids */
            record_id_make(ids[i], 1764547200000LL + round * 86400000LL + i, (uint64_t)rand());
            record_init(&r);
            if (rand() % 4) {
                idnum_make(v, rand() % 200); /* shared: duplicates */
                assert_int_equal(record_write(&r, "n", 1000, "id_number", v), 0);
            }
            snprintf(v, sizeof v, "138%08d", rand() % 400);
            assert_int_equal(record_write(&r, "n", 1000, "phone", v), 0);
            assert_int_equal(record_write(&r, "n", 1000, "name", "x"), 0);
            if (rand() % 6 == 0) { /* as a merge leaves a duplicate */
                assert_int_equal(record_write(&r, "n", 1000, "merged_into", "y"), 0);
                assert_int_equal(record_write(&r, "n", 1000, "status", "merged"), 0);
            }
            put(&o, ids[i], &r);
        }
        for (int i = 0; i < (round + 1) * 300; i += 3) {
            const recindex_item *it = recindex_find(&o.ix, ids[i]);
            lookup_check(&o, recindex_item_shown(&o.ix, it, "phone"));
            candidates_check(&o, "phone", recindex_item_shown(&o.ix, it, "phone"));
            if (*recindex_item_shown(&o.ix, it, "id_number")) {
                lookup_check(&o, recindex_item_shown(&o.ix, it, "id_number"));
                candidates_check(&o, "id_number", recindex_item_shown(&o.ix, it, "id_number"));
            }
            char pre[RECORD_ID_MAX + 1];
            snprintf(pre, sizeof pre, "%.*s", 6 + i % 8, ids[i]);
            lookup_check(&o, pre);
        }
        /* not held: a whole id of another time, prefixes before and after
         * every id, a phone and an ID number nobody has, an id's prefix
         * with its last character changed */
        record_id_make(v, 1900000000000LL, 5);
        lookup_check(&o, v);
        lookup_check(&o, "000000");
        lookup_check(&o, "zzzzzzzz");
        lookup_check(&o, "13999999999");
        candidates_check(&o, "phone", "13999999999");
        idnum_make(v, 999);
        lookup_check(&o, v);
        snprintf(v, sizeof v, "%.9s", ids[7]);
        v[8] = v[8] == 'z' ? '0' : 'z';
        lookup_check(&o, v);
    }
    persons_free(&o);
    recindex_free(&o.ix);
}

/* The walk ctl_kind_link_find replaced: every record naming value as its
 * own kind does (a member by ID number, a union or station by name, an
 * enterprise by USCC or name); one of kind k is the answer, several none,
 * none of k but some of another kind: wrong. */
static const char *link_brute(const ops_ctx *o, record_kind k, const char *value, int *wrong)
{
    static const char *const keys[][3] = {
        [KIND_MEMBER] = {"id_number", NULL, NULL},  [KIND_UNION] = {"name", NULL, NULL},
        [KIND_ENTERPRISE] = {"uscc", "name", NULL}, [KIND_STATION] = {"name", NULL, NULL},
        [KIND_BENEFIT] = {NULL, NULL, NULL},
    };
    const char *found = NULL;
    int other = 0;
    *wrong = 0;
    if (recindex_has(&o->ix, value)) {
        record_kind have = recindex_kind(&o->ix, value);
        *wrong = have != k;
        return have == k ? value : NULL;
    }
    for (uint32_t row = 0; row < o->ix.count; row++) {
        const recindex_item *it = recindex_row(&o->ix, row);
        int names = 0;
        for (size_t i = 0; keys[it->kind][i]; i++)
            names |= strcmp(recindex_item_shown(&o->ix, it, keys[it->kind][i]), value) == 0;
        if (!names)
            continue;
        if (it->kind != k) {
            other = 1;
            continue;
        }
        if (found)
            return NULL;
        found = it->id;
    }
    *wrong = !found && other;
    return found;
}

static void link_check(const ops_ctx *o, record_kind k, const char *value)
{
    int wa = -1, wb = -1;
    const char *a = ctl_kind_link_find(o, k, value, &wa), *b = link_brute(o, k, value, &wb);
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0) || wa != wb)
        fail_msg("link %s as %s: %s (wrong %d), the walk says %s (wrong %d)", value, kind_name(k),
                 a ? a : "none", wa, b ? b : "none", wb);
}

static void link_equals_walk(void **state)
{
    (void)state;
    static const record_kind kinds[] = {KIND_MEMBER,  KIND_UNION,   KIND_ENTERPRISE,
                                        KIND_STATION, KIND_BENEFIT, KIND_MEMBER};
    static const char *const names[] = {"骑手工会", "美团",        "京东",
                                        "服务站",   "12345678901", "快递工会"};
    ops_ctx o;
    char v[64];
    memset(&o, 0, sizeof o);
    recindex_init(&o.ix);
    srand(13);
    for (int i = 0; i < 400; i++) {
        char id[RECORD_ID_MAX + 1];
        record r;
        record_kind k = kinds[rand() % 6];
        record_id_make(id, 1764547200000LL + i, (uint64_t)rand());
        record_init(&r);
        /* names shared across kinds and within one: ambiguous, wrong kind */
        assert_int_equal(record_write(&r, "n", 1000, "name", names[rand() % 6]), 0);
        if (k == KIND_MEMBER || rand() % 10 == 0) { /* an ID number, on other kinds too */
            idnum_make(v, rand() % 150);
            assert_int_equal(record_write(&r, "n", 1000, "id_number", v), 0);
        }
        if (k == KIND_ENTERPRISE || rand() % 10 == 0) {
            snprintf(v, sizeof v, "91330200MA2%07d", rand() % 60);
            assert_int_equal(record_write(&r, "n", 1000, "uscc", v), 0);
        }
        persons_remove(&o, id);
        assert_int_equal(recindex_put_kind(&o.ix, k, id, &r), UERR_OK);
        assert_int_equal(persons_add(&o, id), UERR_OK);
        if (i % 50 != 49)
            continue;
        /* every value any record holds, as every kind; ids; none */
        for (record_kind lk = KIND_MEMBER; lk < KIND_COUNT; lk++) {
            if (lk == KIND_BENEFIT)
                continue;
            for (size_t n = 0; n < 6; n++)
                link_check(&o, lk, names[n]);
            for (int d = 0; d < 150; d += 7) {
                idnum_make(v, d);
                link_check(&o, lk, v);
            }
            for (int d = 0; d < 60; d += 5) {
                snprintf(v, sizeof v, "91330200MA2%07d", d);
                link_check(&o, lk, v);
            }
            link_check(&o, lk, id);
            link_check(&o, lk, "无此单位");
        }
    }
    persons_free(&o);
    free(o.link_rows);
    recindex_free(&o.ix);
}

/* The keys are what the snprintf formats made (they were, before round
 * 11): short, empty and cut at PERSON_KEY_MAX - 1 bytes. */
static void keys_as_formatted(void **state)
{
    (void)state;
    static char lng[3 * PERSON_KEY_MAX];
    memset(lng, 'x', sizeof lng - 1);
    const char *vals[] = {"", "3302", "张三", lng + PERSON_KEY_MAX + 5, lng + 3, lng + 2, lng};
    size_t nv = sizeof vals / sizeof *vals;
    for (size_t a = 0; a < nv; a++) {
        char got[PERSON_KEY_MAX], want[PERSON_KEY_MAX];
        persons_key_id(got, vals[a]);
        want[0] = 0;
        if (*vals[a])
            snprintf(want, sizeof want, "i%s", vals[a]);
        assert_string_equal(got, want);
        persons_key_phone(got, vals[a]);
        want[0] = 0;
        if (*vals[a])
            snprintf(want, sizeof want, "t%s", vals[a]);
        assert_string_equal(got, want);
        for (size_t b = 0; b < nv; b++) {
            persons_key_np(got, vals[a], vals[b]);
            want[0] = 0;
            if (*vals[a] && *vals[b])
                snprintf(want, sizeof want, "p%s\x1f%s", vals[a], vals[b]);
            assert_string_equal(got, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(find_equals_scan),
        cmocka_unit_test(lookup_equals_walk),
        cmocka_unit_test(link_equals_walk),
        cmocka_unit_test(keys_as_formatted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
