/* peer.h - peer-to-peer sync: the TCP listener, outgoing dials with backoff,
 * one TLS 1.3 session per pinned peer, the sync protocol of
 * docs/PROTOCOL.md (HELLO, HEADS, WANT, PACK, DONE, PING), gossip of head
 * changes and periodic anti-entropy. Lives on the loop thread; store work
 * goes through the store queue. */
#ifndef UNIOND_PEER_H
#define UNIOND_PEER_H

#include "daemon/config/config.h"
#include "daemon/reply.h"
#include "daemon/store/squeue.h"
#include "daemon/store/store.h"

#include <uv.h>

typedef struct peers peers;

/* Start listening (if cfg->listen is set) and dialling every configured
 * peer; offline != 0 does neither (a laptop at a service station: its
 * writes wait for the next start without it). cfg, st and q are borrowed
 * and must outlive the peers; index_cb(index_arg) is called on the store
 * queue for every record a take-in changed (main wires the control room's
 * index update here). cfg is
 * modified and saved to cfg_path by peer add/remove. The actual listen
 * address (port 0 = any free port) is written to *listen_out (borrowed
 * storage inside peers, valid until peers_close). Returns 0 or -1. */
int peers_start(peers **out, uv_loop_t *loop, squeue *q, store *st, store_record_cb index_cb,
                void *index_arg, config *cfg,
                const char *cfg_path, const char *data_dir, int offline, const char **listen_out,
                char *err, size_t errlen);

/* The control loop handler for "peers", "sync", "peer_add", "peer_remove". */
int peers_control(void *arg, const char *op, const msgpack_object *req, reply r);

/* Called on the loop thread after every store job of the control socket:
 * if the own head moved, connected peers are told at once. */
void peers_after_job(void *arg);

/* Close every session and handle; frees p, then calls done(arg). */
void peers_close(peers *p, void (*done)(void *), void *arg);

/* Snapshot of the peers' state for `status --json` (msgpack array packed
 * into out); thread-safe. */
void peers_status_pack(peers *p, msgpack_packer *pk);

#endif
