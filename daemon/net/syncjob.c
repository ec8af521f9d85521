/* syncjob.c - the store work of a sync session, run on the store queue:
 * taking in an announcement (plan: what do we lack? then the take-in of
 * the pack that answered our WANT) and building the pack that answers the
 * peer's WANT. The run functions are on a pool thread and touch only their
 * job and the store; the done functions apply the result on the loop.
 *
 * Whose fault a failure is decides what the peer hears: only its own bad
 * data is answered with "refused"; a local failure (disk, memory) is
 * logged as ours and the session just closes, to be retried. */
#include "daemon/util/log.h"
#include "daemon/net/net_internal.h"
#include "daemon/util/clock.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uerr take_begin(session *s, store_ref *refs, size_t n, uint32_t req, int round, char *push,
                       size_t pushlen);

void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int sync_blame_peer(uerr e)
{
    /* INVALID: the take-in's input is the peer's pack and heads; CONFLICT: a
     * branch that does not fast-forward. Both are the sender's doing. */
    return e == UERR_PEER || e == UERR_INVALID || e == UERR_CONFLICT;
}

/* ---- answering the peer's WANT -------------------------------------------------- */

void build_run(void *arg)
{
    build_job *j = arg;
    uint64_t t0 = clock_mono_ms();
    j->rc = (uerr)store_pack_build(&j->pack, &j->len, j->s->p->st, (const char *const *)j->want,
                                   j->nwant, (const char *const *)j->have, j->nhave, j->err,
                                   sizeof j->err);
    j->ms = clock_mono_ms() - t0;
}

/* The pack is built: send it in chunks, or say why not. */
static void build_apply(session *s, build_job *j)
{
    if (j->rc == UERR_OK) {
        free(s->out);
        s->out = j->pack;
        s->outlen = j->len;
        s->outoff = 0;
        s->out_id = j->id;
        j->pack = NULL;
        log_msg(LOG_DEBUG, "peer %s: sending a pack of %zu bytes (built in %llu ms)",
                s->ps->conf.name, j->len, (unsigned long long)j->ms);
        session_pack_pump(s);
    } else if (j->rc == UERR_PEER || j->rc == UERR_INVALID || j->rc == UERR_NOTFOUND) {
        /* it asked for a commit we do not have */
        log_msg(LOG_WARN, "peer %s: cannot answer a want: %s", s->ps->conf.name, j->err);
        sync_send_error(s, j->err);
        session_close(s, "bad want");
    } else {
        char why[200];
        log_msg(LOG_ERR, "peer %s: local error building a pack (%s): %s", s->ps->conf.name,
                uerr_name(j->rc), j->err);
        snprintf(why, sizeof why, "local error: %.180s", j->err);
        session_close(s, why);
    }
}

void build_done(void *arg, int cancelled)
{
    build_job *j = arg;
    session *s = j->s;
    assert(s->building);
    s->building = 0;
    if (!cancelled && s->state == S_LIVE)
        build_apply(s, j);
    free(j->pack);
    strv_free(j->want, j->nwant);
    strv_free(j->have, j->nhave);
    free(j);
    session_unref(s);
}

/* ---- taking in announced heads ---------------------------------------------------- */

/* Which announced commits we lack. Returns 1 if some (j->missing set). */
static int take_plan(take_job *j)
{
    peers *p = j->s->p;
    const char *own = p->cfg->node;
    j->missing = calloc(j->nrefs + 1, sizeof *j->missing);
    if (!j->missing) {
        j->rc = uerr_set(j->err, sizeof j->err, UERR_NOMEM, "out of memory");
        return 1;
    }
    for (size_t i = 0; i < j->nrefs; i++)
        if (strcmp(j->refs[i].name, own) != 0 && !store_has_object(p->st, j->refs[i].oid))
            j->missing[j->nmissing++] = strdup(j->refs[i].oid);
    if (!j->nmissing)
        return 0;
    if (j->pack)
        return 1; /* they came with the announcement: no WANT */
    j->planned_only = 1;
    store_heads(&j->heads, &j->nheads, p->st, j->err, sizeof j->err);
    return 1;
}

void take_run(void *arg)
{
    take_job *j = arg;
    peers *p = j->s->p;
    uint64_t t0 = clock_mono_ms();
    if (j->plan && take_plan(j)) {
        if (!j->pack || j->rc != UERR_OK)
            return; /* we lack commits: ask for them */
        /* they came with the announcement (push): take them in */
    } else if (j->plan && j->pack) {
        /* a push of what we hold already (it crossed our announcement):
         * nothing to index, the heads alone are taken in */
        pack_map_free(j->pack, j->packlen);
        j->pack = NULL;
        j->packlen = 0;
    }
    j->rc = (uerr)store_sync_apply(p->st, j->pack, j->packlen, j->refs, j->nrefs, p->changed,
                                   p->changed_arg, &j->rep, j->err, sizeof j->err);
    /* the heads after, even after a refusal (nothing moved then) */
    size_t used = strlen(j->err);
    store_heads(&j->heads, &j->nheads, p->st, j->err + used, used ? 1 : sizeof j->err);
    j->ms = clock_mono_ms() - t0;
}

/* One take-in finished: answer a pending request, finish a sync round,
 * start the next announcement if one came meanwhile. */
static void take_finish(session *s)
{
    peer_state *ps = s->ps;
    s->busy = 0;
    free(s->want_refs);
    s->want_refs = NULL;
    s->nwant_refs = 0;
    if (s->ack_pending) {
        s->ack_pending = 0;
        sync_send_heads(s, 0, s->ack_req);
    }
    if (s->round) { /* the round's last step: their DONE taken in */
        s->round = 0;
        sync_peer_done(ps, NULL);
    }
    if (s->has_next && s->state == S_LIVE) {
        s->has_next = 0;
        store_ref *r = s->next_refs;
        size_t n = s->nnext_refs;
        s->next_refs = NULL;
        s->nnext_refs = 0;
        int round = s->next_round;
        uint32_t req = s->next_req;
        char *push = s->next_push;
        size_t pushlen = s->next_pushlen;
        s->next_round = 0;
        s->next_req = 0;
        s->next_push = NULL;
        s->next_pushlen = 0;
        (void)take_begin(s, r, n, req, round, push, pushlen); /* closes on failure */
    }
}

/* We lack commits: ask for them (the one WANT of ours in flight). */
static void take_want(session *s, take_job *j)
{
    assert(s->busy && s->want_id == 0);
    s->want_id = peers_id_next(s->p);
    pack_spool_drop(s);                 /* nothing received yet for this WANT */
    s->want_progress = clock_mono_ms(); /* the answer's stall clock starts now */
    s->ps->behind = j->nmissing;
    /* s->want_refs keeps the announcement until the pack is in */
    sync_send_want(s, s->want_id, j->missing, j->nmissing);
}

/* The take-in failed: refuse the peer's data only if it is at fault. */
static void take_failed(session *s, take_job *j)
{
    char why[200];
    s->busy = 0;
    if (sync_blame_peer(j->rc)) {
        log_msg(LOG_WARN, "peer %s: refused what it sent: %s", s->ps->conf.name, j->err);
        sync_send_error(s, "your data was refused; see the receiver's log");
        session_close(s, "refused data");
        return;
    }
    log_msg(LOG_ERR, "peer %s: local error while taking in its data (%s), not the peer's: %s",
            s->ps->conf.name, uerr_name(j->rc), j->err);
    snprintf(why, sizeof why, "local error: %.180s", j->err);
    session_close(s, why);
}

void take_done(void *arg, int cancelled)
{
    take_job *j = arg;
    session *s = j->s;
    peers *p = s->p;
    if (!cancelled && j->heads) {
        if (j->planned_only)
            free(j->heads); /* nothing moved: no gossip */
        else
            sync_heads_update(p, j->heads, j->nheads);
        j->heads = NULL;
    }
    if (cancelled || s->state == S_CLOSING)
        s->busy = 0;
    else if (j->rc != UERR_OK)
        take_failed(s, j);
    else if (j->planned_only)
        take_want(s, j);
    else {
        s->ps->last_sync = (uint64_t)clock_now_ms();
        s->ps->behind = 0;
        if (s->pushed)
            s->ps->pushes_in++;
        if (j->rep.updated)
            log_msg(LOG_INFO,
                    "peer %s: took in %zu branch(es), %zu commit(s): %zu merged, %zu forwarded "
                    "(%zu pack bytes, %llu ms)",
                    s->ps->conf.name, j->rep.updated, j->rep.commits, j->rep.merged,
                    j->rep.forwarded, j->packlen, (unsigned long long)j->ms);
        take_finish(s);
    }
    pack_map_free(j->pack, j->packlen);
    free(j->refs);
    strv_free(j->missing, j->nmissing);
    free(j->heads);
    free(j);
    peers_snapshot(p);
    session_unref(s);
}

void take_push(session *s, store_ref *refs, size_t n, char *pack, size_t packlen, int plan)
{
    take_job *j = calloc(1, sizeof *j);
    uerr rc = UERR_NOMEM;
    if (j) {
        j->s = s;
        j->refs = refs;
        j->nrefs = n;
        j->pack = pack;
        j->packlen = packlen;
        j->plan = plan;
        rc = session_submit(s, take_run, take_done, j);
        if (rc == UERR_OK)
            return;
    }
    free(refs);
    pack_map_free(pack, packlen);
    free(j);
    s->busy = 0;
    session_close(s, rc == UERR_NOMEM ? "out of memory" : "the store queue is closing");
}

/* Take in an announcement that came with its pack: spooled like a PACK's
 * (the same byte and object budgets), then one store job, no WANT. */
static uerr take_pushed(session *s, store_ref *refs, size_t n, char *push, size_t pushlen)
{
    char err[200], *pack = NULL;
    assert(s->pack_fd < 0 && s->packlen == 0);
    uerr rc = pack_spool_append(s, push, pushlen, err, sizeof err);
    free(push);
    if (rc == UERR_OK && (rc = pack_spool_map(&pack, s)) != UERR_OK)
        snprintf(err, sizeof err, "cannot map the pack spool");
    s->packlen = 0;
    if (rc != UERR_OK) {
        pack_spool_drop(s);
        free(refs);
        s->busy = 0;
        if (rc == UERR_PEER) {
            log_msg(LOG_WARN, "peer %s: %s: refused", s->ps->conf.name, err);
            sync_send_error(s, err);
            session_close(s, "pack over the take-in budget");
        } else {
            log_msg(LOG_ERR, "peer %s: local error receiving a pushed pack: %s", s->ps->conf.name,
                    err);
            session_close(s, "local error: cannot spool the pack");
        }
        return rc;
    }
    s->pushed = 1;
    log_msg(LOG_DEBUG, "peer %s: an announcement with its pack (%zu bytes): taken in at once",
            s->ps->conf.name, pushlen);
    take_push(s, refs, n, pack, pushlen, 1);
    return s->state == S_CLOSING ? UERR_NOMEM : UERR_OK;
}

/* ---- echoes ---------------------------------------------------------------------- */

/* Announcements are compared in memory only while both lists are short (a
 * peer may announce 10 000 heads: no quadratic scans on the loop thread). */
#define ECHO_SCAN_MAX 64

/* oid (hex) among our heads, now or lately: held, and merged into our
 * branch (a copy moves only after its head was merged). */
static int head_held(const peers *p, const char *oid)
{
    return heads_recent(p, oid);
}

/* What an announcement would change here, judged from our heads in
 * memory (p->heads: the store's branches after its last take-in or
 * write): ECHO_SAME when every branch it names (but ours, never taken
 * from outside) is at the same commit here: the take-in would do nothing;
 * ECHO_COPIES when the others are commits we hold as some branch head,
 * now or a few changes ago (heads_recent): only branch copies would move
 * (a change coming back from the peers it went to); else ECHO_NONE:
 * something to take in. */
enum { ECHO_NONE, ECHO_SAME, ECHO_COPIES };
static int heads_echo(const peers *p, const store_ref *refs, size_t n)
{
    int same = 1;
    if (n > ECHO_SCAN_MAX || p->nheads > ECHO_SCAN_MAX || !p->heads)
        return ECHO_NONE;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(refs[i].name, p->cfg->node) == 0)
            continue;
        const store_ref *ours = NULL;
        for (size_t k = 0; k < p->nheads && !ours; k++)
            if (strcmp(p->heads[k].name, refs[i].name) == 0)
                ours = &p->heads[k];
        if (ours && strcmp(ours->oid, refs[i].oid) == 0)
            continue;
        same = 0;
        if (!head_held(p, refs[i].oid))
            return ECHO_NONE;
    }
    return same ? ECHO_SAME : ECHO_COPIES;
}

static void echo_drop(session *s)
{
    free(s->echo_refs);
    s->echo_refs = NULL;
    s->necho_refs = 0;
}

/* Heads found in step with the peer's: what its take-in would have said
 * (`unionctl peers`: last sync now, nothing behind). */
static void echo_in_step(session *s)
{
    s->ps->last_sync = (uint64_t)clock_now_ms();
    s->ps->behind = 0;
    peers_snapshot(s->p);
}

void take_echo_tick(session *s)
{
    if (!s->echo_refs || s->busy || s->state != S_LIVE)
        return;
    store_ref *refs = s->echo_refs;
    size_t n = s->necho_refs;
    s->echo_refs = NULL;
    s->necho_refs = 0;
    if (heads_echo(s->p, refs, n) == ECHO_SAME) {
        free(refs); /* moved meanwhile by another take-in */
        echo_in_step(s);
        return;
    }
    log_msg(LOG_DEBUG, "peer %s: taking in the branch copies its announcement moved",
            s->ps->conf.name);
    (void)take_begin(s, refs, n, 0, 0, NULL, 0); /* closes on failure */
}

uerr take_start(session *s, store_ref *refs, size_t n, uint32_t req, int round, char *push,
                size_t pushlen)
{
    /* An echo is not worth a store job (and a copy's fsync) in front of
     * the next change: the same heads are dropped, and copies that only
     * catch up wait for the session's next tick (take_echo_tick, within a
     * second; a newer announcement replaces them). A copy behind is what
     * docs/RELIABILITY.md allows (never ahead of what was merged). A sync
     * round's HEADS (req) or DONE (round) is always taken in and answered. */
    int echo = req || round ? ECHO_NONE : heads_echo(s->p, refs, n);
    if (echo != ECHO_NONE) {
        free(push);
        echo_drop(s);
        if (echo == ECHO_SAME) {
            free(refs);
            echo_in_step(s);
            return UERR_OK;
        }
        s->echo_refs = refs;
        s->necho_refs = n;
        return UERR_OK;
    }
    echo_drop(s); /* this newer announcement names every branch again */
    return take_begin(s, refs, n, req, round, push, pushlen);
}

static uerr take_begin(session *s, store_ref *refs, size_t n, uint32_t req, int round, char *push,
                       size_t pushlen)
{
    if (s->busy) {
        /* only the newest announcement matters: heads only move forward
         * (its pack, if any, was built against what we announced, so it
         * holds whatever an older waiting one brought) */
        free(s->next_refs);
        free(s->next_push);
        s->next_refs = refs;
        s->nnext_refs = n;
        s->next_push = push;
        s->next_pushlen = pushlen;
        s->has_next = 1;
        if (req)
            s->next_req = req;
        s->next_round |= round;
        return UERR_OK;
    }
    assert(s->want_id == 0);
    s->busy = 1;
    s->pushed = 0;
    s->round = round;
    if (req) {
        s->ack_pending = 1;
        s->ack_req = req;
    }
    /* keep a copy: the plan job may send a WANT, the pack then needs it */
    free(s->want_refs);
    s->want_refs = malloc((n + 1) * sizeof *refs);
    if (s->want_refs)
        memcpy(s->want_refs, refs, n * sizeof *refs);
    s->nwant_refs = s->want_refs ? n : 0;
    if (push)
        return take_pushed(s, refs, n, push, pushlen);
    take_push(s, refs, n, NULL, 0, 1);
    return s->state == S_CLOSING ? UERR_NOMEM : UERR_OK;
}
