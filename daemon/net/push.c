/* push.c - the live path of one change (docs/PROTOCOL.md 5.4 and 7.4): when
 * our branches move, each connected peer gets one HEADS that carries the
 * pack of what it lacks, built against the heads it last announced, so it
 * takes the change in without a WANT and a PACK (one message instead of
 * three, and no store job on its side before the take-in). A change whose
 * pack is over PUSH_MAX, or a peer that announced nothing yet, gets a plain
 * HEADS and asks as before; a peer that ignores the pack (it MAY) asks too.
 *
 * Loop thread, except push_run (a store job: store_pack_build only). Never
 * moves a ref and never decides what a receiver accepts (the take-in checks
 * a pushed pack exactly as a PACK's). */
#include "daemon/net/net_internal.h"
#include "daemon/util/clock.h"
#include "daemon/util/log.h"
#include "proto/msg.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    session *s;
    store_ref *heads; /* our branches when the job was made: what the push announces */
    size_t nheads;
    char **want, **have;
    size_t nwant, nhave;
    char *pack;
    size_t len;
    uerr rc;
    uint64_t ms;
    char err[256];
} push_job;

static void push_job_free(push_job *j)
{
    free(j->heads);
    strv_free(j->want, j->nwant);
    strv_free(j->have, j->nhave);
    free(j->pack);
    free(j);
}

uerr push_peer_heads_set(session *s, const store_ref *refs, size_t n)
{
    store_ref *v = malloc((n + 1) * sizeof *v);
    if (!v)
        return UERR_NOMEM;
    if (n)
        memcpy(v, refs, n * sizeof *v);
    free(s->peer_heads);
    s->peer_heads = v;
    s->npeer_heads = n;
    s->peer_heads_known = 1;
    return UERR_OK;
}

uerr push_read(char **out, size_t *len, const msgpack_object *m)
{
    const msgpack_object *d = msg_get(m, "pack");
    *out = NULL;
    *len = 0;
    if (!d)
        return UERR_OK;
    /* the bytes are inside the frame already (at most PEER_FRAME_MAX): the
     * copy is bounded by it; a pack is at least a header and a checksum */
    if (d->type != MSGPACK_OBJECT_BIN || d->via.bin.size < 32 || d->via.bin.size > PEER_FRAME_MAX)
        return UERR_PEER;
    char *c = malloc(d->via.bin.size);
    if (!c)
        return UERR_NOMEM;
    memcpy(c, d->via.bin.ptr, d->via.bin.size);
    *out = c;
    *len = d->via.bin.size;
    return UERR_OK;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* oid among the n sorted strings of v (a peer may announce 10 000 heads:
 * no quadratic scans on the loop thread). */
static int oid_listed(char *const *v, size_t n, const char *oid)
{
    return n && bsearch(&oid, v, n, sizeof *v, strp_cmp) != NULL;
}

/* 1 when oid is among the heads of our last push on this session. */
static int oid_pushed(const session *s, const char *oid)
{
    for (size_t i = 0; i < s->npushed_heads; i++)
        if (strcmp(s->pushed_heads[i].oid, oid) == 0)
            return 1;
    return 0;
}

/* The heads of ours the peer does not hold (by what it announced), except
 * its own branch, which it never takes from anyone; and its heads as the
 * haves. Returns 1 when there is something to push (j->want non-empty)
 * that our last push on this session did not already carry: our branch
 * copy catching up to a change just pushed (the peer not yet announcing
 * it) built and sent the same pack again. Then a plain HEADS goes: if the
 * peer dropped that push (a newer announcement replaces one waiting
 * behind a take-in), it asks with a WANT. The pushed heads are never
 * taken as haves: a pack is complete against what the peer announced
 * (taking them as haves, a peer that had dropped the push refused the
 * next pack as incomplete: seen in the partition test). */
static int push_plan(push_job *j, session *s)
{
    peers *p = s->p;
    int fresh = 0;
    j->want = calloc(p->nheads + 1, sizeof *j->want);
    j->have = calloc(s->npeer_heads + 1, sizeof *j->have);
    if (!j->want || !j->have)
        return 0;
    for (size_t i = 0; i < s->npeer_heads; i++) {
        if (!(j->have[j->nhave] = strdup(s->peer_heads[i].oid)))
            return 0;
        j->nhave++;
    }
    qsort(j->have, j->nhave, sizeof *j->have, strp_cmp);
    for (size_t i = 0; i < p->nheads; i++) {
        const char *oid = p->heads[i].oid;
        int dup = 0;
        for (size_t k = 0; k < j->nwant && !dup; k++) /* our own heads: a few */
            dup = strcmp(j->want[k], oid) == 0;
        if (dup || strcmp(p->heads[i].name, s->ps->conf.name) == 0 ||
            oid_listed(j->have, j->nhave, oid))
            continue;
        if (!(j->want[j->nwant] = strdup(oid)))
            return 0;
        j->nwant++;
        fresh |= !oid_pushed(s, oid);
    }
    if (!j->nwant || !fresh)
        return 0;
    j->heads = malloc((p->nheads + 1) * sizeof *j->heads);
    if (!j->heads)
        return 0;
    memcpy(j->heads, p->heads, p->nheads * sizeof *j->heads);
    j->nheads = p->nheads;
    return 1;
}

static void push_run(void *arg)
{
    push_job *j = arg;
    uint64_t t0 = clock_mono_ms();
    j->rc = (uerr)store_pack_build(&j->pack, &j->len, j->s->p->st, (const char *const *)j->want,
                                   j->nwant, (const char *const *)j->have, j->nhave, j->err,
                                   sizeof j->err);
    j->ms = clock_mono_ms() - t0;
}

/* 1 when a and b list the same branches at the same commits, in order. */
static int heads_same(const store_ref *a, size_t na, const store_ref *b, size_t nb)
{
    if (na != nb || !a)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].oid, b[i].oid) != 0)
            return 0;
    return 1;
}

static void push_or_heads(session *s);

static void push_done(void *arg, int cancelled)
{
    push_job *j = arg;
    session *s = j->s;
    assert(s->pushing);
    s->pushing = 0;
    if (!cancelled && s->state == S_LIVE) {
        if (j->rc == UERR_OK && j->len <= PUSH_MAX) {
            log_msg(LOG_DEBUG,
                    "peer %s: pushing a pack of %zu bytes with our heads (built in %llu ms)",
                    s->ps->conf.name, j->len, (unsigned long long)j->ms);
            if (sync_send_push(s, j->heads, j->nheads, j->pack, j->len) == UERR_OK) {
                s->ps->pushes_out++;
                /* the newest push names every branch */
                store_ref *v = malloc((j->nheads + 1) * sizeof *v);
                if (v) {
                    memcpy(v, j->heads, j->nheads * sizeof *v);
                    free(s->pushed_heads);
                    s->pushed_heads = v;
                    s->npushed_heads = j->nheads;
                }
            }
        } else {
            if (j->rc != UERR_OK)
                log_msg(LOG_DEBUG, "peer %s: no pack to push (%s): announcing only",
                        s->ps->conf.name, j->err);
            /* too big for one message, or not buildable: it asks */
            sync_send_heads(s, 0, 0);
        }
        /* asked again while this one was built: announce again only when
         * our branches moved since (an echo of the same change asked the
         * same push twice: the same pack built and sent for nothing) */
        if (s->push_again && s->state == S_LIVE) {
            s->push_again = 0;
            if (!heads_same(j->heads, j->nheads, s->p->heads, s->p->nheads))
                push_or_heads(s);
        }
    }
    peers_snapshot(s->p);
    push_job_free(j);
    session_unref(s);
}

/* Announce our heads to s: with a pushed pack when it lacks something. */
static void push_or_heads(session *s)
{
    if (s->pushing) {
        s->push_again = 1; /* announced once the pack in the making is sent */
        return;
    }
    push_job *j = s->peer_heads_known ? calloc(1, sizeof *j) : NULL;
    if (!j || !push_plan(j, s)) {
        if (j)
            push_job_free(j);
        sync_send_heads(s, 0, 0);
        return;
    }
    j->s = s;
    s->pushing = 1;
    if (session_submit(s, push_run, push_done, j) != UERR_OK) {
        s->pushing = 0;
        push_job_free(j);
        sync_send_heads(s, 0, 0);
    }
}

int heads_recent(const peers *p, const char *oid)
{
    for (size_t i = 0; i < p->nheads; i++)
        if (strcmp(p->heads[i].oid, oid) == 0)
            return 1;
    for (size_t i = 0; i < p->nrecent; i++)
        if (strcmp(p->recent[i], oid) == 0)
            return 1;
    return 0;
}

/* Remember our heads as they are now. A peer's copies lag ours: its
 * announcement, or a push of an empty pack (the commit is an ancestor of
 * what we announced), often names a commit that was our head a change
 * ago; judged against our current heads only, each such echo was a store
 * job with a copy's fsync at once (8 per 62 changes on the bench's A). */
static void heads_remember(peers *p)
{
    for (size_t i = 0; i < p->nheads; i++) {
        int known = 0;
        for (size_t k = 0; k < p->nrecent && !known; k++)
            known = strcmp(p->recent[k], p->heads[i].oid) == 0;
        if (known)
            continue;
        snprintf(p->recent[p->recent_at], sizeof p->recent[0], "%s", p->heads[i].oid);
        p->recent_at = (p->recent_at + 1) % RECENT_HEADS;
        if (p->nrecent < RECENT_HEADS)
            p->nrecent++;
    }
}

void sync_announce(peers *p)
{
    heads_remember(p);
    for (session *s = p->sessions; s; s = s->next)
        if (s->state == S_LIVE && s->ps)
            push_or_heads(s);
}
