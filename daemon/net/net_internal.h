/* net_internal.h - what the files of the net room share (never included
 * outside daemon/net/ except by its unit tests): the peers, the per-peer
 * state, the session, the limits of docs/PROTOCOL.md, and the functions
 * each file offers the others.
 *
 *   conn.c     listen, accept, resolve + dial, backoff with jitter, the
 *              peer list, start and close of the whole room
 *   session.c  one connection: TLS through memory BIOs, framing, keepalive
 *              and deadlines, write backpressure, close
 *   sync.c     the sync state machine: the message table and its handlers
 *   syncjob.c  the store work of a session: take-in and pack building
 *   push.c     the live path: our HEADS with the pack of what each peer lacks
 *   intake.c   what a session lets in: the pack spool with its byte
 *              budget, branch hygiene (which new branch names a peer may
 *              bring), ids and OIDs as the protocol spells them
 *   peerops.c  the control requests (peers, sync, peer add/remove) and the
 *              status snapshot
 *
 * Everything here lives on the loop thread, except the store jobs' run
 * functions (thread pool) and the status snapshot (under snap_lock). */
#ifndef UNIOND_NET_INTERNAL_H
#define UNIOND_NET_INTERNAL_H

#include "daemon/config/config.h"
#include "daemon/net/peers.h"
#include "daemon/net/tls.h"
#include "daemon/store/squeue.h"
#include "daemon/store/store.h"
#include "proto/uerr.h"

#include <msgpack.h>
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

/* Limits and timings; docs/PROTOCOL.md quotes each one. */
#define PROTO_VERSION 1
#define PEER_FRAME_MAX (1u << 20) /* one message */
#define PACK_CHUNK (256u << 10)   /* pack bytes per PACK message */
/* one incoming pack: the hard ceiling of [sync] max_pack_bytes (default
 * 4 GiB, CONFIG_MAX_PACK_BYTES_DEFAULT); spooled to DATA/tmp, never the heap */
#define PACK_MAX CONFIG_MAX_PACK_BYTES_MAX
/* the store's own defaults (a store used without a config) are the keys' */
_Static_assert(STORE_TAKEIN_BYTES_DEFAULT == CONFIG_MAX_PACK_BYTES_DEFAULT, "take-in bytes");
_Static_assert(STORE_TAKEIN_OBJECTS_DEFAULT == CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT,
               "take-in objects");
#define HEADS_MAX 10000             /* branches in one announcement */
#define SEND_HIGH_WATER (1u << 20)  /* stop queueing pack chunks above this */
#define SEND_QUEUE_MAX (16u << 20)  /* a peer that lets more pile up unread is dropped */
#define BRANCH_WINDOW_MS 3600000ull /* new branch names: [sync] new_branches_per_hour */
#define HANDSHAKE_MS 10000          /* TCP connect + TLS + HELLO */
#define PING_MS 10000               /* keepalive when idle */
#define RECENT_HEADS 32             /* older heads of ours the echo filter knows */
#define IDLE_MS 45000               /* nothing heard for this long: close */
/* A WANT's answer may take as long as it needs while it progresses; it is
 * given up after [sync] want_stall_seconds without progress (session.c). */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define SYNC_WAIT_MS 20000 /* unionctl sync gives up after this */
/* A pack of at most this many bytes rides in the HEADS that announces it
 * (PROTOCOL.md 5.4, "pushed pack"): one message instead of HEADS, WANT,
 * PACK. Larger changes are announced and asked for as before. */
#define PUSH_MAX PACK_CHUNK

/* Session states (PROTOCOL.md 6.1). Bit masks of them say where a message
 * is allowed (sync.c's table). */
typedef enum { S_CONNECTING, S_TLS, S_HELLO, S_LIVE, S_CLOSING } sstate;
#define SSTATE_BIT(s) (1u << (s))

/* Where a peer's part of a `unionctl sync` stands. */
typedef enum { SYNC_NONE, SYNC_PENDING, SYNC_OK, SYNC_FAILED } sync_phase;

typedef struct session session;
typedef struct peer_state peer_state;
typedef struct sync_wait sync_wait;

/* A sync request from unionctl, waiting for rounds with every peer. */
struct sync_wait {
    reply r;        /* answered exactly once, by sync_finish */
    size_t pending; /* peers whose round has not finished */
    uv_timer_t timer;
    peers *p;
    struct sync_wait *next;
    int closed;
};

struct peer_state {
    config_peer conf; /* copies of name, address, fingerprint */
    session *s;       /* the session we keep (live or on its way) */
    uv_timer_t retry;
    int retry_active;
    unsigned backoff_ms;
    uint64_t retry_at;  /* wall clock ms */
    uint64_t last_sync; /* wall clock ms, last completed take-in from this peer */
    uint64_t bytes_in, bytes_out;
    char office[64];
    char last_error[200];
    /* branch hygiene: the names of nodes this peer brought in during the
     * current hour (counted once each against new_branches_per_hour) */
    uint64_t branch_window; /* monotonic ms the window opened (0: none) */
    char **branch_new;
    size_t nbranch_new;
    size_t behind; /* heads announced that we lacked, last time */
    /* the live path, counted (unionctl peers --json): announcements that
     * came with their pack (taken in without a WANT), packs we pushed in
     * our HEADS, WANTs we sent */
    uint64_t pushes_in, pushes_out, wants_out;
    uint32_t sync_ack; /* waiting for DONE with this id (0: none) */
    sync_wait *waiter; /* the unionctl sync this peer is part of */
    sync_phase sync_state;
    char sync_error[200];
    int removed;
    peer_state *next;
};

/* A transport replacing TCP + TLS, for driving a session without sockets
 * (tests/unit/test_sync.c). send gets one whole frame (header + payload)
 * and returns 0, or non-zero to report a failed write (the session then
 * closes); closed is told once why the session closed; submit takes a
 * store job instead of the store queue (0: taken; the test later calls
 * done itself). */
typedef struct {
    int (*send)(void *arg, const void *frame, size_t len);
    void (*closed)(void *arg, const char *why);
    int (*submit)(void *arg, squeue_work_fn run, squeue_done_fn done, void *job);
} session_io;

struct session {
    peers *p;
    peer_state *ps;       /* set once the peer is known */
    const session_io *io; /* NULL: the real transport (tcp, timer, tls) */
    void *io_arg;
    uv_tcp_t tcp;
    uv_timer_t timer;
    tls_conn *tls;
    int outbound;
    sstate state;
    int write_failed; /* a write failed: later ciphertext is dropped, we are closing */
    int handles;      /* open handles (tcp, timer) */
    int refs;         /* handles + store jobs + writes in flight (+1 detached) */
    uint64_t started, last_rx, last_tx; /* monotonic ms */
    char *in;                           /* plaintext not yet framed */
    size_t inlen, incap;
    /* incoming: the take-in of one announcement */
    int busy;
    store_ref *want_refs; /* the announcement being taken in */
    size_t nwant_refs;
    uint32_t want_id; /* our WANT in flight (0: none); at most one */
    uint32_t ack_req;
    int ack_pending;
    uint64_t want_progress;     /* monotonic ms: our WANT was sent, or its answer last progressed */
    int pack_fd;                /* the spool of the pack being received (-1: none), unlinked */
    size_t packlen;             /* bytes in it so far, at most cfg->max_pack_bytes */
    unsigned char packhead[12]; /* its first bytes: the header with the object count */
    store_ref *next_refs;       /* a newer announcement waiting */
    size_t nnext_refs;
    int has_next;
    uint32_t next_req;
    int round, next_round; /* the take-in that ends a sync round */
    char *next_push;       /* the pack pushed with the waiting announcement */
    size_t next_pushlen;   /* (heap, at most one frame; NULL: none) */
    int pushed;            /* the take-in running came with a pushed pack */
    store_ref *echo_refs;  /* an announcement that only moves branch copies, */
    size_t necho_refs;     /* taken in at the next tick (take_echo_tick) */
    /* what the peer holds, as it last announced it (HELLO, HEADS, DONE):
     * the haves of a pack we push to it */
    store_ref *peer_heads;
    size_t npeer_heads;
    int peer_heads_known;
    store_ref *pushed_heads; /* the heads of our last push on this session (push.c) */
    size_t npushed_heads;
    /* outgoing push: a pack for our announcement is being built */
    int pushing;
    int push_again; /* our heads moved meanwhile: announce again after */
    /* outgoing pack: the answer to the peer's one WANT in flight */
    int building; /* a WANT's pack is being built on the store queue */
    char *out;
    size_t outlen, outoff;
    uint32_t out_id;
    session *next;
};

struct peers {
    uv_loop_t *loop;
    squeue *q;
    store *st; /* borrowed; used only inside store jobs (and before the loop runs) */
    store_record_cb changed;
    void *changed_arg;
    config *cfg;
    char cfg_path[4096];
    tls_ctx *tls;
    uv_tcp_t listener;
    int listening;
    char listen_addr[300];
    uv_timer_t anti_entropy;
    peer_state *peers;
    peer_state *graveyard; /* removed peers, freed at close (jobs may point at them) */
    session *sessions;
    store_ref *heads; /* our last known branches */
    size_t nheads;
    /* commits that were heads of ours lately (push.c: heads_recent), newest
     * written at recent_at: held and merged, as copies move only after */
    char recent[RECENT_HEADS][41];
    size_t nrecent, recent_at;
    char own_head[41];
    sync_wait *waits;
    uint32_t next_id;
    char spool_dir[4096]; /* DATA/tmp: incoming packs, spooled ("": $TMPDIR or /tmp) */
    int closing;
    int offline; /* started with --offline: no listener, no dialling */
    int open;    /* handles + sessions + waits not yet freed */
    void (*done)(void *);
    void *done_arg;
    pthread_mutex_t snap_lock;
    msgpack_sbuffer snap; /* peers_status snapshot */
};

/* ---- conn.c ---- */
/* A peers with its lock, snapshot and anti-entropy timer, nothing listening
 * and no peer; peers_start fills in the rest. Owned by the caller until
 * peers_close. UERR_NOMEM. */
uerr peers_new(peers **out, uv_loop_t *loop, squeue *q, store *st, store_record_cb changed,
               void *changed_arg, config *cfg, char *err, size_t errlen);
void peers_maybe_done(peers *p);
peer_state *peer_by_name(peers *p, const char *name);
peer_state *peer_by_fpr(peers *p, const char *fpr);
/* A new peer state (copies of cp's strings), linked into p; NULL: no memory. */
peer_state *peer_add_state(peers *p, const config_peer *cp);
void peer_drop(peers *p, peer_state *ps);
void peer_schedule(peer_state *ps, int immediately);
void peer_connect(peer_state *ps);
uint32_t peers_id_next(peers *p);

/* ---- session.c ---- */
/* A session on the real transport: tcp and timer initialised (not yet
 * connected). Linked into p->sessions. NULL when out of memory. */
session *session_new(peers *p, int outbound, peer_state *ps);
/* A session without handles, driven through io (tests). Starts in
 * S_HELLO (the handshake is the transport's business). Holds one
 * reference of its own, dropped by session_close. */
session *session_new_detached(peers *p, peer_state *ps, const session_io *io, void *io_arg);
/* Close: idempotent; the session is freed once its handles closed and its
 * jobs finished. After it the session is in S_CLOSING, never freed yet
 * inside the call (the caller may still read s->state). */
void session_close(session *s, const char *why);
void session_unref(session *s);
/* Close a detached session (if still open) and drop its own reference; it
 * is freed now unless store jobs still hold it. */
void session_release(session *s);
/* Connect the session's tcp to addr (TLS starts once connected). On an
 * error the session is closed. */
uerr session_dial(session *s, const struct sockaddr *addr);
/* Accept a connection from server into an inbound session and start
 * reading. On an error the session is closed. */
uerr session_accept(session *s, uv_stream_t *server);
/* Frame and send one finished message (a msgpack map). UERR_OK, or an
 * error when the session is closing (or closes because of the send). */
uerr session_send(session *s, const msgpack_sbuffer *msg);
/* Plaintext that arrived: appended, cut into frames, each dispatched to
 * the sync machine. Returns UERR_OK while the session stays open; once it
 * is closing: UERR_PEER when the peer was at fault (bad frame, protocol
 * error), UERR_BUSY when it was already closing or closed without fault
 * (a duplicate connection), another code for a local failure (UERR_IO: a
 * write failed, UERR_NOMEM). */
uerr session_input(session *s, const char *plain, size_t len);
/* A store job for this session (holds a reference until done ran). */
uerr session_submit(session *s, squeue_work_fn run, squeue_done_fn done, void *job);
/* Queue the next PACK chunks while the socket keeps up. */
void session_pack_pump(session *s);
/* 1 when the socket is below SEND_HIGH_WATER. */
int session_can_send(const session *s);
const char *session_state_name(sstate st);

/* ---- sync.c ---- */
/* One message (a frame's payload) through the table. UERR_OK: the session
 * is still open; otherwise it is closing (UERR_PEER: the peer's fault). */
uerr sync_on_message(session *s, const char *buf, size_t len);
void sync_send_hello(session *s);
void sync_send_heads(session *s, uint32_t req, uint32_t ack);
/* WANT {id, want, have: our heads}; the one WANT of ours in flight. */
uerr sync_send_want(session *s, uint32_t id, char *const *want, size_t nwant);
void sync_send_error(session *s, const char *msg);
uerr sync_send_simple(session *s, const char *type);
void sync_broadcast_heads(peers *p);
/* HEADS with a pushed pack (pack NULL: plain HEADS) of heads h. UERR_OK, or
 * the session is closing. */
uerr sync_send_push(session *s, const store_ref *h, size_t n, const char *pack, size_t len);
/* Replace the cached branch list (takes h); tell peers if anything moved. */
void sync_heads_update(peers *p, store_ref *h, size_t n);

/* ---- syncjob.c ---- */
typedef struct {
    session *s;
    uint32_t id;
    char **want, **have;
    size_t nwant, nhave;
    char *pack;
    size_t len;
    uerr rc;
    uint64_t ms; /* time spent building */
    char err[256];
} build_job;

typedef struct {
    session *s;
    store_ref *refs; /* announced */
    size_t nrefs;
    int plan;   /* find what we lack first; take in directly if nothing */
    char *pack; /* the pack that answered our WANT (plan == 0): a read-only
                   mapping of its spool file, unmapped by take_done */
    size_t packlen;
    int planned_only; /* result: we lack objects, want these */
    char **missing;
    size_t nmissing;
    store_ref *heads; /* result: our branches after */
    size_t nheads;
    store_bundle_report rep;
    uerr rc;
    uint64_t ms; /* time spent taking in */
    char err[256];
} take_job;

void build_run(void *arg);
void build_done(void *arg, int cancelled);
void take_run(void *arg);
void take_done(void *arg, int cancelled);
/* Take in an announcement (refs now owned by the session machinery);
 * push (malloc'd, taken; NULL: none) is the pack that came with it.
 * UERR_OK, or the session is closing: UERR_PEER when the pushed pack is
 * refused (over a budget), another code for a local failure. */
uerr take_start(session *s, store_ref *refs, size_t n, uint32_t req, int round, char *push,
                size_t pushlen);
/* The session's tick: take in the waiting announcement that only moves
 * branch copies (take_start keeps it), when no take-in runs. */
void take_echo_tick(session *s);
/* Submit the take-in of a finished pack for the current announcement
 * (takes refs and the mapping pack from pack_spool_map; NULL: none). */
void take_push(session *s, store_ref *refs, size_t n, char *pack, size_t packlen, int plan);
/* Whose fault a failed take-in is: 1 the peer's (its data was refused), 0
 * ours (disk, memory, a bug: the peer is not told). */
int sync_blame_peer(uerr e);
void strv_free(char **v, size_t n);

/* ---- session.c: the WANT's progress deadline ---- */
/* 1 when our WANT in flight has made no progress (session.c, sync.c: a PACK
 * chunk of its answer, or a PING before the first chunk) for more than
 * cfg->want_stall_seconds at monotonic time now; 0 otherwise (also with no
 * WANT in flight). However long the whole answer has taken does not count.
 * The session timer closes the session on 1. */
int session_want_stalled(const session *s, uint64_t now);

/* ---- push.c ---- */
/* Our branches moved (a local write, a take-in): tell every connected peer,
 * each with the pack of what it lacks when that is small (push), else a
 * plain HEADS. */
void sync_announce(peers *p);
/* 1 when oid (hex) is one of our heads now or was one lately (the last
 * RECENT_HEADS distinct ones sync_announce saw): a commit we hold, merged. */
int heads_recent(const peers *p, const char *oid);
/* Remember what the peer announced (copies refs). UERR_NOMEM. */
uerr push_peer_heads_set(session *s, const store_ref *refs, size_t n);
/* The "pack" of a HEADS: UERR_OK with *out NULL (none) or a malloc'd copy
 * (*len bytes, 32 to PEER_FRAME_MAX); UERR_PEER when it is not bin or too
 * short to be a pack; UERR_NOMEM. */
uerr push_read(char **out, size_t *len, const msgpack_object *m);

/* ---- intake.c ---- */
/* Make dir (DATA/tmp, mode 0700) the spool directory of p and remove what
 * a crash left in it. UERR_IO when it cannot be made. */
uerr spool_dir_prepare(peers *p, const char *data_dir, char *err, size_t errlen);
/* Append n bytes to the session's pack spool (made on the first chunk, an
 * unlinked file in the spool directory, so nothing is left behind
 * whatever happens). UERR_PEER (message in err for the peer) when the
 * pack would exceed cfg->max_pack_bytes, or its header announces more
 * than cfg->max_take_in_objects objects (refused from the first 12 bytes,
 * before the rest is spooled); UERR_IO when the disk fails. */
uerr pack_spool_append(session *s, const char *data, size_t n, char *err, size_t errlen);
/* The finished spool as a read-only mapping of s->packlen bytes (*out;
 * the caller unmaps it with pack_map_free); the spool is closed either
 * way. The pages are the file's, not the heap's. UERR_IO on failure. */
uerr pack_spool_map(char **out, session *s);
void pack_map_free(char *map, size_t len);
/* Forget the pack being received (closes the spool). Idempotent. */
void pack_spool_drop(session *s);
/* Branch hygiene (PROTOCOL.md 7.1): may this peer bring the branches of an
 * announcement? A name is known if it is this node's, a pinned peer's, or
 * already held as a branch copy; other names count against
 * cfg->new_branches_per_hour per peer per hour. UERR_OK (the new names are
 * counted), or UERR_PEER with the ERROR text naming the rule in msg. */
uerr heads_admit(session *s, const store_ref *refs, size_t n, char *msg, size_t msglen);
void branch_window_free(peer_state *ps);
/* An id (`id`, `req`, `ack`) at key: absent -> *out 0; else it must be an
 * unsigned integer up to 2^32-1. 0, or -1 (malformed: a protocol error). */
int msg_id_read(uint32_t *out, const msgpack_object *m, const char *key);
/* 1 if s is an OID as the protocol spells it: 40 lowercase hex digits. */
int oid_valid(const char *s);

/* ---- peerops.c ---- */
void peers_snapshot(peers *p);
/* One peer's round of a sync finished (error NULL: it worked). */
void sync_peer_done(peer_state *ps, const char *error);
void sync_finish(sync_wait *w);

#endif
