/* peers.h - the net room seen from outside: peer-to-peer sync over TLS 1.3
 * (listener, dials with backoff, one session per pinned peer, the protocol
 * of docs/PROTOCOL.md, gossip of head changes, anti-entropy) and the peer
 * requests of the control socket (peers, sync, peer add/remove).
 *
 * Lives on the loop thread; store work goes through the store queue. Never
 * includes the control room (daemon/ctl, control.h, ops.h): main wires the
 * two, requests arrive with a reply handle (daemon/reply.h). */
#ifndef UNIOND_PEERS_H
#define UNIOND_PEERS_H

#include "daemon/config/config.h"
#include "daemon/reply.h"
#include "daemon/store/squeue.h"
#include "daemon/store/store.h"
#include "proto/uerr.h"

#include <msgpack.h>
#include <uv.h>

typedef struct peers peers;

/* Start listening (if cfg->listen is set) and dialling every configured
 * peer; offline != 0 does neither (a laptop at a service station: its
 * writes wait for the next start without it).
 *
 * st, q, cfg and changed_arg are borrowed and must outlive the peers; st is
 * used only from store-queue jobs after this call returns. changed(id,
 * buf, len, changed_arg) runs on the store queue's thread for every record
 * whose blob a take-in changed (so the caller's index follows). cfg is
 * modified and saved to cfg_path by peer add/remove. The actual listen
 * address (port 0 = any free port) is written to *listen_out (storage
 * inside peers, valid until peers_close).
 *
 * Returns UERR_OK with *out owned by the caller (peers_close), or an error
 * (UERR_IO: keys, store or socket; UERR_INVALID: listen address; UERR_NOMEM)
 * with err set; then *out is NULL and nothing is left open: any handle
 * opened was closed and the caller's loop run frees it. */
uerr peers_start(peers **out, uv_loop_t *loop, squeue *q, store *st, store_record_cb changed,
                 void *changed_arg, config *cfg, const char *cfg_path, const char *data_dir,
                 int offline, const char **listen_out, char *err, size_t errlen);

/* The control socket's peer requests: "peers", "sync", "peer_add",
 * "peer_remove" (arg = the peers). Returns 1 if op is one of them: then
 * reply_send(r) is called exactly once, now or later (sync answers when
 * its rounds finish; at the latest at peers_close). Returns 0 otherwise and
 * r is not touched. req is borrowed for the call only. Loop thread. */
int peers_request(void *arg, const char *op, const msgpack_object *req, reply r);

/* Called on the loop thread after every store job of the control socket:
 * if the own head moved, connected peers are told at once (arg = peers). */
void peers_after_job(void *arg);

/* Apply a re-read config (SIGHUP): peers no longer in newcfg are dropped
 * (their sessions close), new ones are pinned and dialled, a peer whose
 * address or fingerprint changed is re-pinned; every other session stays
 * up. The running config (the one peers_start borrowed) is updated in
 * memory, not saved (the file is where it came from). Settings that need
 * a restart (node, office, listen) are logged when they differ. newcfg is
 * borrowed. Loop thread. UERR_OK, or UERR_NOMEM with err (what was applied
 * stays applied). */
uerr peers_reload(peers *p, const config *newcfg, char *err, size_t errlen);

/* Close every session and handle, answer pending syncs; frees p once all
 * handles closed, then calls done(arg). */
void peers_close(peers *p, void (*done)(void *), void *arg);

/* The peers' state for `status --json` / `peers`: packs one msgpack array
 * into pk (arg = the peers). Thread-safe: reads a snapshot under a lock,
 * so a store-queue job may call it. Type matches ops_ctx.peers_status. */
void peers_status(void *arg, msgpack_packer *pk);

#endif
