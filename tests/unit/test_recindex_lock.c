/* test_recindex_lock.c - the record index's lock (recindex.h "Threads"):
 * one writer thread applies "commits" of two records at a time under the
 * write lock (growing the table and the secondary index as it goes) while
 * reader threads, under the read lock, walk every slot as the scans do and
 * look records up. A reader must only ever see whole commits: both records
 * of a pair or neither, counts that agree with the slots, a secondary
 * index that agrees with the records. Without the lock the walk reads a
 * table the writer is freeing (the sanitizer build reports it) or sees
 * half a commit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/store/recindex.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAIRS 3000 /* the table grows from 1024 slots several times */
#define READERS 2

typedef struct {
    recindex ix;
    atomic_int done;
    atomic_long reads; /* consistent reads made */
    atomic_int bad;    /* inconsistent reads seen */
} shared;

static void record_make(record *r, const char *name, const char *office)
{
    record_init(r);
    assert_int_equal(record_write(r, "n1", 1700000000000, "name", name), 0);
    assert_int_equal(record_write(r, "n1", 1700000000000, "office", office), 0);
}

static void *writer_main(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < PAIRS; i++) {
        char ida[32], idb[32], name[32];
        record a, b;
        snprintf(ida, sizeof ida, "a%05d", i);
        snprintf(idb, sizeof idb, "b%05d", i);
        snprintf(name, sizeof name, "p%d", i);
        record_make(&a, name, "nb01");
        record_make(&b, name, "nb01");
        /* one commit applied: both records, or neither, for a reader */
        recindex_write_lock(&s->ix);
        int ea = recindex_put(&s->ix, ida, &a), eb = recindex_put(&s->ix, idb, &b);
        recindex_unlock(&s->ix);
        if (ea || eb)
            atomic_store(&s->bad, 1000);
    }
    atomic_store(&s->done, 1);
    return NULL;
}

/* One read under the lock: 1 if what it saw is one whole state. */
static int read_once(recindex *ix)
{
    int ok = 1;
    recindex_read_lock(ix);
    size_t n = 0;
    for (size_t i = 0; i < ix->cap; i++) {
        const recindex_item *it = &ix->slots[i];
        if (!it->id)
            continue;
        n++;
        /* the other record of its pair is there too */
        char other[32];
        snprintf(other, sizeof other, "%c%s", it->id[0] == 'a' ? 'b' : 'a', it->id + 1);
        if (!recindex_has(ix, other))
            ok = 0;
    }
    if (n != ix->count || n % 2 != 0 || ix->by_kind[KIND_MEMBER] != n)
        ok = 0;
    /* the secondary index holds every record under its office */
    const recindex_field *f = recindex_field_find(ix, "office");
    const recindex_value *v = f ? recindex_value_find(f, "nb01") : NULL;
    if (!f || (n > 0 && (!v || v->n != n)))
        ok = 0;
    for (size_t r = 0; v && r < v->n; r++)
        if (recindex_row(ix, v->rows[r])->id == NULL)
            ok = 0;
    recindex_unlock(ix);
    return ok;
}

static void *reader_main(void *arg)
{
    shared *s = arg;
    while (!atomic_load(&s->done)) {
        if (read_once(&s->ix))
            atomic_fetch_add(&s->reads, 1);
        else
            atomic_fetch_add(&s->bad, 1);
    }
    return NULL;
}

static void readers_see_whole_commits(void **state)
{
    (void)state;
    static shared s;
    pthread_t w, r[READERS];
    recindex_init(&s.ix);
    assert_int_equal(recindex_index_field(&s.ix, "office"), UERR_OK);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&r[i], NULL, reader_main, &s), 0);
    assert_int_equal(pthread_create(&w, NULL, writer_main, &s), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    assert_int_equal(atomic_load(&s.bad), 0);
    assert_true(atomic_load(&s.reads) > 0); /* the readers did run */
    assert_int_equal(s.ix.count, 2 * PAIRS);
    assert_int_equal(read_once(&s.ix), 1);
    recindex_free(&s.ix);
}

/* recindex_free empties the index and keeps its lock usable. */
static void free_keeps_the_lock(void **state)
{
    (void)state;
    recindex ix;
    record a;
    recindex_init(&ix);
    record_make(&a, "x", "nb01");
    recindex_write_lock(&ix);
    assert_int_equal(recindex_put(&ix, "a1", &a), 0);
    recindex_unlock(&ix);
    recindex_free(&ix);
    assert_int_equal(ix.count, 0);
    recindex_read_lock(&ix);
    assert_int_not_equal(pthread_rwlock_trywrlock(&ix.lock), 0); /* a reader holds it */
    assert_int_equal(pthread_rwlock_tryrdlock(&ix.lock), 0);     /* readers share it */
    recindex_unlock(&ix);
    recindex_unlock(&ix);
    assert_int_equal(pthread_rwlock_trywrlock(&ix.lock), 0);
    recindex_unlock(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readers_see_whole_commits),
        cmocka_unit_test(free_keeps_the_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
