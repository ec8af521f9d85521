/* tls.h - the TLS 1.3 engine of peer sessions: mutually authenticated TLS
 * between two nodes, each presenting its self-signed certificate from
 * `uniond init`, each accepting the other only if the SHA-256 fingerprint of
 * its public key is pinned (identity.h; the Syncthing model).
 *
 * The engine never touches a socket: it is driven through memory buffers so
 * that the libuv loop does all I/O. Bytes read from the socket go in with
 * tls_conn_feed(); bytes to write to the socket come out of
 * tls_conn_take_output(), which must be called after every other tls_conn_*
 * call (any of them may produce output: handshake messages, alerts,
 * close_notify, records). A typical read callback:
 *
 *     if (tls_conn_feed(t, buf, n) != 0 || tls_conn_handshake(t) < 0)
 *         -> flush tls_conn_take_output(), log tls_conn_error(t), close
 *     while ((r = tls_conn_read(t, plain, sizeof plain)) > 0) ... consume
 *     r == -2: the peer closed cleanly; r == -1: error
 *     flush tls_conn_take_output()
 *
 * Only TLS 1.3; no session resumption, no renegotiation, no compression, no
 * plaintext mode. A peer that is not pinned (or, when we dial, is not the
 * one we expect) is refused during the handshake: it gets a TLS alert and
 * no application data flows in either direction.
 *
 * Single-threaded: a tls_ctx and its conns belong to one thread (the loop). */
#ifndef UNIOND_TLS_H
#define UNIOND_TLS_H

#include "proto/uerr.h"

#include <stddef.h>

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

/* Is this fingerprint (64 lowercase hex) pinned? Called during the handshake
 * on the server side (any pinned peer may connect). Return 1 to accept.
 * Called from inside tls_conn_feed()/tls_conn_handshake(): it must not free
 * the connection or the context. fingerprint is only valid during the call. */
typedef int (*tls_pin_cb)(const char *fingerprint, void *arg);

/* A context holding this node's identity: loads key_path and crt_path with
 * identity_load() (which refuses a key others can read). pinned(fp, arg)
 * decides which peers may connect to us; pinned may be NULL (then every
 * incoming peer is refused). arg is kept, not owned, and must outlive the
 * context. On success returns UERR_OK and *out is a new context owned by
 * the caller (tls_ctx_free); on failure returns identity_load's code,
 * UERR_NOMEM or UERR_IO, *out is NULL and err (if errlen > 0) says what is
 * wrong and what to do. */
uerr tls_ctx_new(tls_ctx **out, const char *key_path, const char *crt_path, tls_pin_cb pinned,
                 void *arg, char *err, size_t errlen);

/* Free a context. Every conn made from it must have been freed first.
 * NULL is allowed. */
void tls_ctx_free(tls_ctx *c);

/* This node's own fingerprint (64 lowercase hex), owned by c. */
const char *tls_ctx_fingerprint(const tls_ctx *c);

/* A new connection using c (which must outlive it). is_server: 1 if the peer
 * connected to us, 0 if we dialled it. expect_fpr: for a client, the exact
 * fingerprint (64 hex digits, either case; copied) the peer must present;
 * for a server NULL, and then the context's pin callback decides (if given
 * for a server, it is the exact requirement instead of the callback).
 * A client without a valid expect_fpr gets a connection that has already
 * failed (tls_conn_error() says why), so the mistake is reported, not
 * crashed on. Returns a conn owned by the caller (tls_conn_free), or NULL
 * if out of memory. */
tls_conn *tls_conn_new(tls_ctx *c, int is_server, const char *expect_fpr);

/* Free a connection and everything it holds; pending output is discarded.
 * NULL is allowed. */
void tls_conn_free(tls_conn *t);

/* Ciphertext received from the socket (copied; the caller keeps data).
 * The bytes are processed at once: the handshake advances and records are
 * decrypted into an internal buffer that tls_conn_read() drains.
 * Returns UERR_OK, UERR_PEER on a TLS error / refused peer (then
 * tls_conn_error() says why, e.g. "peer certificate fingerprint abcd... is
 * not pinned"), UERR_NOMEM if the bytes cannot be buffered; outgoing
 * ciphertext (e.g. an alert) may still be pending and should be flushed
 * before closing. Once a conn has failed every later call fails too; bytes
 * after the peer's close_notify are ignored (returns UERR_OK). */
uerr tls_conn_feed(tls_conn *t, const void *data, size_t len);

/* Drive the handshake (call after creating a client conn, and after each
 * feed). Returns 1 when the handshake is complete, 0 in progress, -1 error.
 * Note for the client side: TLS 1.3 completes the client's handshake before
 * the server has checked the client's certificate, so a server refusing us
 * shows up as UERR_PEER from a later tls_conn_feed() or -1 from tls_conn_read(). */
int tls_conn_handshake(tls_conn *t);

/* 1 if the handshake completed and the connection has not failed, else 0. */
int tls_conn_established(const tls_conn *t);

/* Decrypted application bytes: copies up to len into buf; returns count, 0
 * if none available now, -1 on error, -2 when the peer closed cleanly
 * (close_notify) and everything it sent before has been read. A failed
 * connection gives -1 even if some decrypted bytes were left unread: after a
 * fatal error nothing from the session is trusted. */
long tls_conn_read(tls_conn *t, void *buf, size_t len);

/* Encrypt application bytes (only after the handshake; data is copied into
 * the output). Returns UERR_OK, UERR_BUSY (not established yet, or shut
 * down) or UERR_IO (the connection failed); tls_conn_error() says which. */
uerr tls_conn_write(tls_conn *t, const void *data, size_t len);

/* Ciphertext waiting to go out: copy it into a fresh malloc'd buffer *out
 * (caller frees) and return its length (0 = nothing, *out is then NULL).
 * Works on failed connections too (an alert may be waiting). If the copy
 * cannot be allocated, returns 0 and the bytes stay queued. */
size_t tls_conn_take_output(tls_conn *t, char **out);

/* Start a clean shutdown (close_notify goes to the output). Later writes
 * fail; reading what the peer still sends remains possible. Does nothing on
 * a failed connection or one whose handshake is not complete (there is no
 * session to close: just close the socket). */
void tls_conn_shutdown(tls_conn *t);

/* The peer's fingerprint (64 lowercase hex), owned by t; "" until the
 * handshake has completed with a pinned peer, so a non-empty value always
 * names an authenticated peer. */
const char *tls_conn_peer_fingerprint(const tls_conn *t);

/* Why the connection failed (or the last refused call), owned by t; "" if
 * nothing went wrong. */
const char *tls_conn_error(const tls_conn *t);

/* The negotiated protocol version, e.g. "TLSv1.3" (SSL_get_version); a
 * static string. */
const char *tls_conn_version(const tls_conn *t);

#endif /* UNIOND_TLS_H */
