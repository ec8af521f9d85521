/* test_merge_props.c - property tests of the record join (proto/record.c).
 *
 * Random histories over 3 to 5 replicas of one record: writes to
 * single-valued fields (with wall clocks that sometimes run backwards), set
 * adds and removes on "benefits", and pairwise joins (replica i := join(i, j)).
 * At every join step the join must be commutative and idempotent, with the
 * context the pointwise max; on a random third of the steps also absorbing
 * and associative, and on a quarter of them all of that byte-for-byte via
 * record_encode plus decode(encode(join)) == join. (Encoding is most of the
 * cost under ASan, hence the sampling; record_equal is checked everywhere.)
 * After a final all-to-all exchange every replica must encode to the same
 * bytes, and the surviving entries must be exactly the ones the ground-truth
 * log says: a write (field or set element, dot d) survives iff no other
 * write / add / remove of the same field (or element) was made at a replica
 * whose context then covered d. Conflicts and the value shown for them are
 * the same everywhere, and that value is the surviving write with the
 * greatest (time, node, counter). Sequential writes never conflict.
 *
 * The PRNG is deterministic: history k of a test uses seed BASE + k, and a
 * failure message names the seed. PROP_SEED=<n> re-runs just that history;
 * PROP_HISTORIES=<n> changes how many are run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/record.h"

#define T0 1795860000000LL /* 2026-11-28T10:00:00.000Z */
#define MAX_REPLICAS 5
#define MAX_STEPS 40
#define MAX_OPS (MAX_STEPS * 2)

static const char *const NODES[MAX_REPLICAS] = {"n0", "beijing-1", "a.2", "zz", "b"};
static const char *const FIELDS[] = {"name", "phone", "union"};
static const char *const VALUES[] = {"x", "y", "Li Wei", "", "a\nb\\c", "中华全国总工会"};
static const char *const ELEMS[] = {"welfare-2021", "heat-relief-2021", "legal-aid"};
#define SET_FIELD "benefits"
#define NFIELDS (sizeof FIELDS / sizeof *FIELDS)
#define NVALUES (sizeof VALUES / sizeof *VALUES)
#define NELEMS (sizeof ELEMS / sizeof *ELEMS)

/* ---- deterministic PRNG (splitmix64) ------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rnd(unsigned n)
{
    return (unsigned)(rng_next() % n);
}

/* What the histories exercised, printed after each test so a run shows it
 * is not vacuous. */
static struct {
    unsigned long histories, ops, joins, killed, conflicts, removes_hit, backwards;
} stats;

/* ---- one history ------------------------------------------------------- */

enum op_kind { OP_WRITE, OP_ADD, OP_REMOVE };

typedef struct {
    enum op_kind kind;
    int replica;
    const char *field;
    const char *value;           /* value written, or the set element */
    uint64_t counter;            /* the dot's counter (writes and adds) */
    int64_t time_ms;             /* writes and adds */
    uint64_t seen[MAX_REPLICAS]; /* the writer's context just before the op */
} op;

typedef struct {
    uint64_t seed;
    int step;
    int nrep;
    record rep[MAX_REPLICAS];
    int64_t clock[MAX_REPLICAS];
    op log[MAX_OPS];
    int nops;
    int sequential; /* every write of a field first sees the previous one */
    int last_writer[NFIELDS];
} history;

/* Failure message that says how to reproduce. */
#define CHECK(h, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            char why_[512];                                                                        \
            snprintf(why_, sizeof why_, __VA_ARGS__);                                              \
            fail_msg("seed %" PRIu64 " (PROP_SEED=%" PRIu64 "), step %d: %s", (h)->seed,           \
                     (h)->seed, (h)->step, why_);                                                  \
        }                                                                                          \
    } while (0)

static char *enc(history *h, const record *r, size_t *len)
{
    char *out = NULL;
    CHECK(h, record_encode(&out, len, r) == 0, "record_encode failed");
    return out;
}

static int same_bytes(history *h, const record *a, const record *b)
{
    size_t la, lb;
    char *ea = enc(h, a, &la), *eb = enc(h, b, &lb);
    int same = la == lb && memcmp(ea, eb, la) == 0;
    if (!same)
        fprintf(stderr, "--- a:\n%.*s--- b:\n%.*s", (int)la, ea, (int)lb, eb);
    free(ea);
    free(eb);
    return same;
}

static void join_or_fail(history *h, record *out, const record *a, const record *b)
{
    CHECK(h, record_join(out, a, b) == 0, "record_join failed");
}

/* The encoding of r decodes (so it is canonical: sorted, every dot covered)
 * back to r. */
static void check_canonical(history *h, const record *r, const char *what)
{
    size_t n;
    char *bytes = enc(h, r, &n);
    record d;
    char err[200] = "";
    int rc = record_decode(&d, bytes, n, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%.*s", (int)n, bytes);
    free(bytes);
    CHECK(h, rc == 0, "%s: own encoding refused: %s", what, err);
    int eq = record_equal(&d, r);
    record_free(&d);
    CHECK(h, eq, "%s: decode(encode(s)) != s", what);
}

/* The context of a join is the pointwise max of the two contexts. */
static void check_ctx_max(history *h, const record *j, const record *a, const record *b)
{
    for (int k = 0; k < h->nrep; k++) {
        uint64_t ca = record_ctx_get(a, NODES[k]), cb = record_ctx_get(b, NODES[k]);
        CHECK(h, record_ctx_get(j, NODES[k]) == (ca > cb ? ca : cb), "join context not max");
    }
}

/* Equal states; with bytes set, also equal encodings (encoding is the
 * costly part under ASan, so only a sample of the steps compares bytes). */
static int same(history *h, const record *a, const record *b, int bytes)
{
    return record_equal(a, b) && (!bytes || same_bytes(h, a, b));
}

/* Joins replica j into replica i, checking the join laws on the way (unless
 * full is negative):
 * commutative, idempotent, context = pointwise max and, on a sample of the
 * steps, absorbing and associative (with a random third replica). With full
 * set the results are also compared byte-for-byte and the join result must
 * decode back to itself (canonical order, every dot covered). */
static void do_join(history *h, int i, int j, int full)
{
    record *a = &h->rep[i], *b = &h->rep[j];
    record ab, ba, aa;
    join_or_fail(h, &ab, a, b);
    stats.joins++;
    if (full < 0) { /* no checks: most of the final exchange */
        record_free(a);
        *a = ab;
        return;
    }
    join_or_fail(h, &ba, b, a);
    join_or_fail(h, &aa, a, a);
    CHECK(h, same(h, &ab, &ba, full), "join(%d,%d) != join(%d,%d)", i, j, j, i);
    CHECK(h, same(h, &aa, a, full), "join(%d,%d) != %d", i, i, i);
    check_ctx_max(h, &ab, a, b);
    if (full)
        check_canonical(h, &ab, "join result");
    record_free(&ba);
    record_free(&aa);

    if (rnd(3) == 0) {
        /* absorbing: joining a part of the result in again changes nothing */
        record aba;
        join_or_fail(h, &aba, &ab, b);
        CHECK(h, same(h, &aba, &ab, 0), "join(join(a,b),b) != join(a,b)");
        record_free(&aba);

        int k = (int)rnd((unsigned)h->nrep);
        record *c = &h->rep[k];
        record ab_c, bc, a_bc;
        join_or_fail(h, &ab_c, &ab, c);
        join_or_fail(h, &bc, b, c);
        join_or_fail(h, &a_bc, a, &bc);
        CHECK(h, same(h, &ab_c, &a_bc, full), "join not associative over %d,%d,%d", i, j, k);
        record_free(&ab_c);
        record_free(&bc);
        record_free(&a_bc);
    }
    record_free(a);
    *a = ab;
}

static op *log_op(history *h, enum op_kind kind, int i, const char *field, const char *value)
{
    CHECK(h, h->nops < MAX_OPS, "log full");
    stats.ops++;
    op *o = &h->log[h->nops++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->replica = i;
    o->field = field;
    o->value = value;
    for (int k = 0; k < h->nrep; k++)
        o->seen[k] = record_ctx_get(&h->rep[i], NODES[k]);
    return o;
}

/* Wall clock of replica i for its next operation: mostly forward, often
 * backwards (a wrong or reset clock), sometimes the same millisecond, and
 * sometimes a whole second so that different replicas tie. */
static int64_t tick(history *h, int i)
{
    unsigned r = rnd(10);
    if (r < 3) {
        h->clock[i] -= 1 + rnd(h->sequential ? 100000 : 5000);
        stats.backwards++;
    } else if (r < 4)
        ; /* same millisecond */
    else if (r < 5)
        h->clock[i] = (h->clock[i] / 1000 + 1) * 1000;
    else
        h->clock[i] += 1 + rnd(3000);
    return h->clock[i];
}

static void write_fv(history *h, int i, unsigned f, const char *value)
{
    const char *field = FIELDS[f];
    if (h->sequential && h->last_writer[f] >= 0 && h->last_writer[f] != i) {
        /* see the previous write of this field before writing it again */
        record out;
        join_or_fail(h, &out, &h->rep[i], &h->rep[h->last_writer[f]]);
        record_free(&h->rep[i]);
        h->rep[i] = out;
    }
    op *o = log_op(h, OP_WRITE, i, field, value);
    o->time_ms = tick(h, i);
    o->counter = o->seen[i] + 1;
    CHECK(h, record_write(&h->rep[i], NODES[i], o->time_ms, field, value) == 0, "write failed");
    h->last_writer[f] = i;

    /* a write leaves exactly its own entry, whatever the clock said */
    size_t first, n = record_field_entries(&h->rep[i], field, &first);
    CHECK(h, n == 1, "write to %s left %zu entries", field, n);
    const record_entry *e = &h->rep[i].entries[first];
    CHECK(h,
          strcmp(e->value, value) == 0 && strcmp(e->node, NODES[i]) == 0 &&
              e->counter == o->counter && e->time_ms == o->time_ms,
          "write entry wrong");
    CHECK(h, record_ctx_get(&h->rep[i], NODES[i]) == o->counter, "write did not bump context");
    const record_entry *w = record_field_winner(&h->rep[i], field);
    CHECK(h, w == e, "the only entry is not the winner");
}

static void do_write(history *h, int i)
{
    unsigned f = rnd(NFIELDS);
    write_fv(h, i, f, VALUES[rnd(NVALUES)]);
}

static void do_add(history *h, int i)
{
    const char *elem = ELEMS[rnd(NELEMS)];
    op *o = log_op(h, OP_ADD, i, SET_FIELD, elem);
    o->time_ms = tick(h, i);
    o->counter = o->seen[i] + 1;
    size_t first, before = record_field_entries(&h->rep[i], SET_FIELD, &first), same = 0;
    for (size_t k = first; k < first + before; k++)
        same += strcmp(h->rep[i].entries[k].value, elem) == 0;
    CHECK(h, record_set_add(&h->rep[i], NODES[i], o->time_ms, SET_FIELD, elem) == 0, "add failed");
    size_t after = record_field_entries(&h->rep[i], SET_FIELD, &first), now = 0;
    for (size_t k = first; k < first + after; k++) {
        const record_entry *e = &h->rep[i].entries[k];
        if (strcmp(e->value, elem) != 0)
            continue;
        now++;
        CHECK(h, strcmp(e->node, NODES[i]) == 0 && e->counter == o->counter, "add entry wrong");
    }
    CHECK(h, now == 1, "add left %zu entries of %s", now, elem);
    CHECK(h, after == before - same + 1, "add touched other elements");
}

static void do_remove(history *h, int i)
{
    const char *elem = ELEMS[rnd(NELEMS)];
    op *o = log_op(h, OP_REMOVE, i, SET_FIELD, elem);
    o->time_ms = tick(h, i);
    size_t first, before = record_field_entries(&h->rep[i], SET_FIELD, &first), same = 0;
    for (size_t k = first; k < first + before; k++)
        same += strcmp(h->rep[i].entries[k].value, elem) == 0;
    int rc = record_set_remove(&h->rep[i], NODES[i], o->time_ms, SET_FIELD, elem);
    CHECK(h, rc == (same > 0), "remove returned %d with %zu entries of the element", rc, same);
    /* a remove that did something bumps the counter (no entry has the dot) */
    uint64_t now = record_ctx_get(&h->rep[i], NODES[i]);
    CHECK(h, now == o->seen[i] + (rc == 1), "remove: context %" PRIu64 " after %" PRIu64, now,
          o->seen[i]);
    o->counter = rc == 1 ? now : 0;
    stats.removes_hit += rc == 1;
    size_t after = record_field_entries(&h->rep[i], SET_FIELD, &first);
    CHECK(h, after == before - same, "remove left the wrong entries");
}

/* Is entry (field, dot) of op w overwritten by some op that saw it? */
static int killed(const history *h, int w)
{
    const op *x = &h->log[w];
    for (int k = 0; k < h->nops; k++) {
        const op *o = &h->log[k];
        if (k == w || strcmp(o->field, x->field) != 0)
            continue;
        if (x->kind == OP_ADD && strcmp(o->value, x->value) != 0)
            continue;
        if (o->seen[x->replica] >= x->counter)
            return 1;
    }
    return 0;
}

/* Compares the converged state r with the ground-truth log. Returns 0, or
 * -1 with the reason in why. */
static int ground_truth_error(const history *h, const record *r, char *why, size_t whylen)
{
    size_t alive = 0;
    size_t per_field[NFIELDS] = {0};
    for (int w = 0; w < h->nops; w++) {
        const op *x = &h->log[w];
        if (x->kind == OP_REMOVE)
            continue;
        int want = !killed(h, w);
        int found = 0;
        size_t first, n = record_field_entries(r, x->field, &first);
        for (size_t k = first; k < first + n; k++) {
            const record_entry *e = &r->entries[k];
            if (strcmp(e->node, NODES[x->replica]) != 0 || e->counter != x->counter)
                continue;
            found = 1;
            if (strcmp(e->value, x->value) != 0 || e->time_ms != x->time_ms) {
                snprintf(why, whylen, "entry %s (%s,%" PRIu64 ") has the wrong value or time",
                         x->field, NODES[x->replica], x->counter);
                return -1;
            }
        }
        if (found != want) {
            snprintf(why, whylen, "%s write (%s,%" PRIu64 ") of \"%s\": %s", x->field,
                     NODES[x->replica], x->counter, x->value,
                     want ? "lost although nothing that saw it overwrote it"
                          : "survived although overwritten by a write that saw it");
            return -1;
        }
        alive += (size_t)want;
        stats.killed += (size_t)!want;
        for (size_t f = 0; f < NFIELDS; f++)
            if (want && strcmp(x->field, FIELDS[f]) == 0)
                per_field[f]++;
    }
    if (r->nentries != alive) {
        snprintf(why, whylen, "%zu entries, ground truth says %zu", r->nentries, alive);
        return -1;
    }
    /* a field is in conflict exactly when concurrent writes survive, and
     * the value shown is the surviving write with the greatest
     * (time, node, counter) */
    for (size_t f = 0; f < NFIELDS; f++) {
        size_t first;
        if (record_field_entries(r, FIELDS[f], &first) != per_field[f]) {
            snprintf(why, whylen, "conflict size of %s differs from ground truth", FIELDS[f]);
            return -1;
        }
        const op *best = NULL;
        for (int w = 0; w < h->nops; w++) {
            const op *x = &h->log[w];
            if (x->kind != OP_WRITE || strcmp(x->field, FIELDS[f]) != 0 || killed(h, w))
                continue;
            int c = !best                         ? 1
                    : x->time_ms != best->time_ms ? (x->time_ms > best->time_ms ? 1 : -1)
                                                  : strcmp(NODES[x->replica], NODES[best->replica]);
            if (c > 0 || (c == 0 && x->counter > best->counter))
                best = x;
        }
        const record_entry *win = record_field_winner(r, FIELDS[f]);
        if ((best == NULL) != (win == NULL) ||
            (best &&
             (strcmp(win->node, NODES[best->replica]) != 0 || win->counter != best->counter))) {
            snprintf(why, whylen, "winner of %s is not the greatest (time, node, counter)",
                     FIELDS[f]);
            return -1;
        }
    }
    /* the context counts every dot made (removes that removed included) */
    for (int k = 0; k < h->nrep; k++) {
        uint64_t made = 0;
        for (int o = 0; o < h->nops; o++)
            if (h->log[o].replica == k && h->log[o].counter > made)
                made = h->log[o].counter;
        if (record_ctx_get(r, NODES[k]) != made) {
            snprintf(why, whylen, "context of %s is %" PRIu64 ", want %" PRIu64, NODES[k],
                     record_ctx_get(r, NODES[k]), made);
            return -1;
        }
    }
    return 0;
}

static void check_ground_truth(history *h, const record *r)
{
    char why[300] = "";
    int rc = ground_truth_error(h, r, why, sizeof why);
    CHECK(h, rc == 0, "%s", why);
}

static void run_history(uint64_t seed, int sequential)
{
    history *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->seed = seed;
    h->sequential = sequential;
    rng_state = seed;
    h->nrep = 3 + (int)rnd(3);
    for (int i = 0; i < h->nrep; i++) {
        record_init(&h->rep[i]);
        h->clock[i] = T0 + (int64_t)rnd(20000) - 10000;
    }
    for (size_t f = 0; f < NFIELDS; f++)
        h->last_writer[f] = -1;

    int steps = 5 + (int)rnd(MAX_STEPS - 5);
    for (h->step = 0; h->step < steps; h->step++) {
        int i = (int)rnd((unsigned)h->nrep);
        unsigned kind = rnd(100);
        if (kind < 40) {
            do_write(h, i);
        } else if (kind < 55) {
            do_add(h, i);
        } else if (kind < 65) {
            do_remove(h, i);
        } else {
            int j = (int)rnd((unsigned)h->nrep - 1);
            do_join(h, i, j >= i ? j + 1 : j, rnd(4) == 0);
        }
    }

    /* final all-to-all exchange: every replica joins every other one, in a
     * random order; each j keeps its own history, so one pass is enough */
    int pairs[MAX_REPLICAS * MAX_REPLICAS][2], np = 0;
    for (int i = 0; i < h->nrep; i++)
        for (int j = 0; j < h->nrep; j++)
            if (i != j) {
                pairs[np][0] = i;
                pairs[np++][1] = j;
            }
    for (int k = np - 1; k > 0; k--) {
        int m = (int)rnd((unsigned)k + 1), t0 = pairs[k][0], t1 = pairs[k][1];
        pairs[k][0] = pairs[m][0];
        pairs[k][1] = pairs[m][1];
        pairs[m][0] = t0;
        pairs[m][1] = t1;
    }
    h->step = -1; /* the exchange */
    for (int k = 0; k < np; k++)
        do_join(h, pairs[k][0], pairs[k][1], (int)rnd(6) - 4); /* 4 of 6 unchecked */

    size_t len0;
    char *e0 = enc(h, &h->rep[0], &len0);
    for (int i = 1; i < h->nrep; i++) {
        size_t len;
        char *e = enc(h, &h->rep[i], &len);
        int same = len == len0 && memcmp(e, e0, len) == 0;
        if (!same)
            fprintf(stderr, "--- replica 0:\n%.*s--- replica %d:\n%.*s", (int)len0, e0, i, (int)len,
                    e);
        free(e);
        CHECK(h, same, "replica %d differs from replica 0 after the exchange", i);
        CHECK(h, record_equal(&h->rep[i], &h->rep[0]), "record_equal disagrees with the bytes");
        /* conflicts, and the value shown for them, are the same everywhere */
        for (size_t f = 0; f < NFIELDS; f++) {
            size_t f0, fi;
            size_t n0 = record_field_entries(&h->rep[0], FIELDS[f], &f0);
            size_t ni = record_field_entries(&h->rep[i], FIELDS[f], &fi);
            CHECK(h, n0 == ni, "conflict sizes differ for %s", FIELDS[f]);
            const record_entry *w0 = record_field_winner(&h->rep[0], FIELDS[f]);
            const record_entry *wi = record_field_winner(&h->rep[i], FIELDS[f]);
            CHECK(h, (w0 == NULL) == (wi == NULL), "winner presence differs");
            if (w0)
                CHECK(h,
                      strcmp(w0->value, wi->value) == 0 && strcmp(w0->node, wi->node) == 0 &&
                          w0->counter == wi->counter,
                      "winner of %s differs", FIELDS[f]);
        }
    }
    free(e0);
    check_canonical(h, &h->rep[0], "converged state");
    check_ground_truth(h, &h->rep[0]);
    for (size_t f = 0; f < NFIELDS; f++) {
        size_t first;
        stats.conflicts += record_field_entries(&h->rep[0], FIELDS[f], &first) > 1;
    }
    stats.histories++;
    if (sequential)
        for (size_t f = 0; f < NFIELDS; f++) {
            size_t first;
            CHECK(h, record_field_entries(&h->rep[0], FIELDS[f], &first) <= 1,
                  "sequential writes to %s ended in a conflict", FIELDS[f]);
        }

    for (int i = 0; i < h->nrep; i++)
        record_free(&h->rep[i]);
    free(h);
}

static void run_many(uint64_t base, long histories, int sequential)
{
    const char *one = getenv("PROP_SEED");
    if (one && *one) {
        run_history(strtoull(one, NULL, 10), sequential);
        return;
    }
    const char *nh = getenv("PROP_HISTORIES");
    long n = nh && *nh ? strtol(nh, NULL, 10) : histories;
    memset(&stats, 0, sizeof stats);
    for (long k = 0; k < n; k++)
        run_history(base + (uint64_t)k, sequential);
    printf("  %lu histories (seeds %" PRIu64 "..%" PRIu64 "): %lu ops, %lu joins, %lu clock steps "
           "back, %lu overwritten entries, %lu removes that removed, %lu conflicts at the end\n",
           stats.histories, base, base + (uint64_t)n - 1, stats.ops, stats.joins, stats.backwards,
           stats.killed, stats.removes_hit, stats.conflicts);
}

/* Any mix of concurrent writes, adds, removes and joins. */
static void test_random_histories(void **state)
{
    (void)state;
    run_many(1000000, 10000, 0);
}

/* Each write of a field first sees the previous write of that field (so the
 * writes of a field form one causal chain) and clocks jump back by up to
 * 100 s: no field may end up in conflict. */
static void test_sequential_histories(void **state)
{
    (void)state;
    run_many(2000000, 1000, 1);
}

/* The ground-truth checker itself must catch a lost write and a resurrected
 * one, otherwise the properties above prove nothing. */
static void test_checker_catches_bugs(void **state)
{
    (void)state;
    history *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->nrep = 2;
    record_init(&h->rep[0]);
    record_init(&h->rep[1]);
    h->seed = 42;
    rng_state = 42;
    h->clock[0] = h->clock[1] = T0;
    char why[300];

    /* two concurrent writes of name: a conflict of two, both alive */
    write_fv(h, 0, 0, "x");
    write_fv(h, 1, 0, "y");
    do_join(h, 0, 1, 1);
    do_join(h, 1, 0, 1);
    assert_int_equal(ground_truth_error(h, &h->rep[0], why, sizeof why), 0);
    assert_int_equal(h->rep[0].nentries, 2);
    record conflict;
    assert_int_equal(record_copy(&conflict, &h->rep[0]), 0);

    /* drop one of them: reported as lost */
    record lost;
    assert_int_equal(record_copy(&lost, &conflict), 0);
    record_entry gone = lost.entries[0];
    lost.entries[0] = lost.entries[1];
    lost.nentries = 1;
    assert_int_equal(ground_truth_error(h, &lost, why, sizeof why), -1);
    assert_non_null(strstr(why, "lost although"));
    lost.nentries = 2;
    lost.entries[1] = gone;
    record_free(&lost);

    /* a write at 0 that saw both: the old state would resurrect them */
    write_fv(h, 0, 0, "z");
    do_join(h, 1, 0, 1);
    assert_int_equal(ground_truth_error(h, &h->rep[1], why, sizeof why), 0);
    assert_int_equal(h->rep[1].nentries, 1);
    record stale;
    assert_int_equal(record_join(&stale, &conflict, &h->rep[1]), 0);
    assert_true(record_equal(&stale, &h->rep[1])); /* the real join drops them */
    record_free(&stale);
    assert_int_equal(ground_truth_error(h, &conflict, why, sizeof why), -1);
    assert_non_null(strstr(why, "survived although"));

    /* a wrong value on a live dot is caught too */
    free(h->rep[1].entries[0].value);
    h->rep[1].entries[0].value = strdup("not z");
    assert_non_null(h->rep[1].entries[0].value);
    assert_int_equal(ground_truth_error(h, &h->rep[1], why, sizeof why), -1);
    assert_non_null(strstr(why, "wrong value"));

    record_free(&conflict);
    record_free(&h->rep[0]);
    record_free(&h->rep[1]);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_catches_bugs),
        cmocka_unit_test(test_random_histories),
        cmocka_unit_test(test_sequential_histories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
