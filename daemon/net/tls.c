/* tls.c - the TLS 1.3 engine of peer sessions (see tls.h): OpenSSL driven
 * through memory BIOs, so the libuv loop owns the sockets, with certificate
 * chain verification replaced by key pinning.
 *
 * Trust model: certificates are self-signed and no CA exists, so a chain
 * says nothing. The only question is whether the leaf certificate's public
 * key is the one we pinned; TLS 1.3 itself proves (CertificateVerify) that
 * the peer holds the private key of that leaf. The verify callback therefore
 * answers every chain check with the pin verdict for the leaf, and refuses
 * an unpinned key inside the handshake, so the peer gets an alert before any
 * application data is accepted.
 *
 * All cryptography is OpenSSL's; this file only configures it and moves
 * bytes between buffers. */
#include "daemon/net/tls.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "daemon/net/identity.h"
#include "proto/names.h"

/* Largest certificate list we accept from a peer. A uniond certificate is
 * well under 1 KiB; OpenSSL's default (100 KiB) would let an unauthenticated
 * peer make us parse far more than any node sends. */
#define TLS_CERT_LIST_MAX (16 * 1024)
/* Decrypt in steps of one maximal TLS record. */
#define TLS_READ_CHUNK (16 * 1024)
/* Ciphertext left waiting after a feed: every feed is processed at once
 * (only an unfinished record stays), so more than this means a peer piling
 * up bytes we cannot use yet (e.g. during the handshake). */
#define TLS_RBIO_MAX (1024 * 1024)
#define TLS_ERR_MAX 512

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    tls_pin_cb pinned; /* may be NULL: refuse every incoming peer */
    void *arg;
    char fpr[IDENTITY_FINGERPRINT_LEN + 1]; /* ours, for messages */
};

struct tls_conn {
    tls_ctx *ctx;
    SSL *ssl;    /* owns rbio and wbio */
    BIO *rbio;   /* ciphertext from the socket, read by OpenSSL */
    BIO *wbio;   /* ciphertext for the socket, written by OpenSSL */
    BIO *plain;  /* decrypted application bytes not yet read */
    int hs_done; /* handshake complete and peer checked */
    int failed;  /* fatal: every later call fails */
    int peer_closed;
    int shut;     /* we sent (or gave up on) close_notify: no more writes */
    int got_data; /* some application data arrived (for alert hints) */
    int verdict;  /* pin check of the peer's leaf: 0 not yet, 1 pinned, -1 refused */
    int alert;    /* fatal alert received from the peer, or -1 */
    char expect[IDENTITY_FINGERPRINT_LEN + 1];    /* "" = ask the context's callback */
    char candidate[IDENTITY_FINGERPRINT_LEN + 1]; /* leaf presented in the handshake */
    char peer_fpr[IDENTITY_FINGERPRINT_LEN + 1];  /* public: set once established */
    char verify_err[TLS_ERR_MAX];                 /* why the pin check refused */
    char err[TLS_ERR_MAX];
};

/* A message only (the caller returns its own code): uerr_set, one copy. */
#define tls_errf(err, errlen, ...) ((void)uerr_set((err), (errlen), UERR_OK, __VA_ARGS__))

/* The reason of the earliest queued OpenSSL error (usually the root cause),
 * or fallback; clears the thread's queue so it cannot confuse later
 * SSL_get_error() calls. */
static const char *tls_ossl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : fallback;
}

/* Mark t failed with a message; the first failure is the one reported. */
static void tls_fail(tls_conn *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tls_fail(tls_conn *t, const char *fmt, ...)
{
    if (!t->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->err, sizeof t->err, fmt, ap);
        va_end(ap);
    }
    t->failed = 1;
}

/* Alerts by which a peer says it will not accept our certificate; in
 * practice: it has not pinned us, or pinned a different key for us. */
static int tls_alert_is_refusal(int desc)
{
    switch (desc) {
    case SSL_AD_HANDSHAKE_FAILURE:
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_CERTIFICATE_REQUIRED:
        return 1;
    default:
        return 0;
    }
}

/* The name of alert desc into buf. OpenSSL 3.0 names only the pre-TLS 1.3
 * alerts; certificate_required is the one a uniond peer may send. */
static const char *tls_alert_name(int desc, char *buf, size_t len)
{
    const char *s = SSL_alert_desc_string_long(desc);
    if (s && strcmp(s, "unknown") != 0)
        return s;
    if (desc == SSL_AD_CERTIFICATE_REQUIRED)
        return "certificate required";
    snprintf(buf, len, "number %d", desc);
    return buf;
}

/* An OpenSSL call on t->ssl returned ret: record why the session failed,
 * preferring what we know better than OpenSSL's reason string (our own pin
 * verdict, or the alert the peer sent). */
static void tls_ssl_failed(tls_conn *t, const char *op, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    unsigned long code = ERR_peek_error();

    if (t->verify_err[0]) {
        tls_fail(t, "%s", t->verify_err);
    } else if (t->alert >= 0) {
        char num[32];
        const char *desc = tls_alert_name(t->alert, num, sizeof num);
        if (tls_alert_is_refusal(t->alert) && !t->got_data)
            tls_fail(t,
                     "the peer refused the TLS session with alert \"%s\": it has not pinned "
                     "this node's fingerprint %s (pin it on the peer with `unionctl peer add "
                     "NAME HOST:PORT %s`, or correct the fingerprint it has for this node)",
                     desc, t->ctx->fpr, t->ctx->fpr);
        else
            tls_fail(t, "the peer aborted the TLS session with alert \"%s\"; see its log", desc);
    } else if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
               ERR_GET_REASON(code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        tls_fail(t, "the peer presented no certificate; every uniond node presents its own, "
                    "so this is not a uniond node (or not a correctly set up one)");
    } else if (e == SSL_ERROR_SSL) {
        tls_fail(t,
                 "TLS %s failed: %s (the peer is not a uniond node speaking TLS 1.3, or the "
                 "connection is corrupt; check that the address belongs to a uniond node)",
                 op, tls_ossl_reason("unknown OpenSSL error"));
    } else {
        /* Memory BIOs never block or hit EOF, so anything else is an
         * internal error rather than something the peer did. */
        tls_fail(t, "TLS %s failed: OpenSSL error %d (%s)", op, e, tls_ossl_reason("no detail"));
    }
    ERR_clear_error();
}

/* Pin verdict for the peer's leaf certificate crt: 1 accepted, -1 refused
 * (with verify_err saying why). */
static int tls_pin_check(tls_conn *t, X509 *crt)
{
    char fp[IDENTITY_FINGERPRINT_LEN + 1];

    if (!crt || identity_fingerprint_x509(fp, crt) != 0) {
        tls_errf(t->verify_err, sizeof t->verify_err,
                 "the peer's certificate has no usable public key; it is not a uniond node");
        return -1;
    }
    memcpy(t->candidate, fp, sizeof fp);
    if (t->expect[0]) {
        if (strcmp(fp, t->expect) == 0)
            return 1;
        tls_errf(t->verify_err, sizeof t->verify_err,
                 "peer certificate fingerprint %s does not match the pinned fingerprint %s: "
                 "another node or another key answers at this address; if the peer's key "
                 "really changed, check it with `unionctl id` there and pin the new one "
                 "(`unionctl peer remove`, then `unionctl peer add`)",
                 fp, t->expect);
        return -1;
    }
    if (t->ctx->pinned && t->ctx->pinned(fp, t->ctx->arg) == 1)
        return 1;
    tls_errf(t->verify_err, sizeof t->verify_err,
             "peer certificate fingerprint %s is not pinned; if you trust that node, pin it "
             "with `unionctl peer add NAME HOST:PORT %s`",
             fp, fp);
    return -1;
}

/* Replaces chain verification. OpenSSL calls this for each certificate of
 * the chain and for each problem found (self-signed, unknown issuer,
 * dates...). Every one of those is irrelevant for a pinned key, so every
 * call gets the same answer: the pin verdict for the leaf
 * (X509_STORE_CTX_get0_cert, the certificate whose key the peer proves to
 * hold), computed once. Refusing makes OpenSSL abort the handshake with an
 * alert to the peer. */
static int tls_verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    (void)preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_conn *t = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!t)
        return 0;
    if (t->verdict == 0)
        t->verdict = tls_pin_check(t, X509_STORE_CTX_get0_cert(xs));
    if (t->verdict < 0) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    return 1;
}

/* Remember a fatal alert from the peer: it explains a failure far better
 * than OpenSSL's generic "alert received" reason. close_notify is the clean
 * end, not a failure. */
static void tls_info_cb(const SSL *ssl, int where, int ret)
{
    /* SSL_CB_READ_ALERT and SSL_CB_WRITE_ALERT share the SSL_CB_ALERT bit:
     * test both bits, or the alerts we send would count as received. */
    if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_READ))
        return;
    tls_conn *t = SSL_get_app_data(ssl);
    int desc = ret & 0xff;
    if (t && desc != SSL_AD_CLOSE_NOTIFY && t->alert < 0)
        t->alert = desc;
}

uerr tls_ctx_new(tls_ctx **out, const char *key_path, const char *crt_path, tls_pin_cb pinned,
                 void *arg, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *crt = NULL;
    tls_ctx *c = NULL;
    uerr rc = UERR_IO;

    *out = NULL;
    if ((rc = identity_load(&key, &crt, key_path, crt_path, err, errlen)) != UERR_OK)
        goto cleanup;
    rc = UERR_IO;
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = UERR_NOMEM;
        tls_errf(err, errlen, "out of memory creating the TLS context");
        goto cleanup;
    }
    c->pinned = pinned;
    c->arg = arg;
    if (identity_fingerprint_x509(c->fpr, crt) != 0) {
        tls_errf(err, errlen,
                 "cannot compute the fingerprint of %s; restore the node identity from backup",
                 crt_path);
        goto cleanup;
    }
    c->ssl_ctx = SSL_CTX_new(TLS_method());
    if (!c->ssl_ctx || SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c->ssl_ctx, TLS1_3_VERSION) != 1) {
        tls_errf(err, errlen, "cannot set up a TLS 1.3 context: %s (is OpenSSL 3 installed?)",
                 tls_ossl_reason("unknown OpenSSL error"));
        goto cleanup;
    }
    /* No resumption of any kind: every session proves both keys afresh, so
     * the pin check can never be skipped. */
    SSL_CTX_set_options(c->ssl_ctx,
                        SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_num_tickets(c->ssl_ctx, 0);
    SSL_CTX_set_session_cache_mode(c->ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_max_cert_list(c->ssl_ctx, TLS_CERT_LIST_MAX);
    if (SSL_CTX_use_certificate(c->ssl_ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey(c->ssl_ctx, key) != 1 ||
        SSL_CTX_check_private_key(c->ssl_ctx) != 1) {
        tls_errf(err, errlen,
                 "cannot use key %s and certificate %s for TLS: %s; restore the node identity "
                 "from backup",
                 key_path, crt_path, tls_ossl_reason("unknown OpenSSL error"));
        goto cleanup;
    }
    /* Both sides ask for the other's certificate; a server refuses a client
     * that sends none (FAIL_IF_NO_PEER_CERT is ignored on the client, where
     * TLS 1.3 without resumption always has a server certificate). */
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       tls_verify_cb);
    SSL_CTX_set_info_callback(c->ssl_ctx, tls_info_cb);
    *out = c;
    c = NULL;
    rc = UERR_OK;
cleanup:
    tls_ctx_free(c);
    EVP_PKEY_free(key); /* the SSL_CTX holds its own references */
    X509_free(crt);
    ERR_clear_error();
    return rc;
}

void tls_ctx_free(tls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ssl_ctx);
    free(c);
}

const char *tls_ctx_fingerprint(const tls_ctx *c)
{
    return c->fpr;
}

tls_conn *tls_conn_new(tls_ctx *c, int is_server, const char *expect_fpr)
{
    tls_conn *t = calloc(1, sizeof *t);
    BIO *rbio = NULL, *wbio = NULL;

    if (!t)
        return NULL;
    t->ctx = c;
    t->alert = -1;
    t->ssl = SSL_new(c->ssl_ctx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    t->plain = BIO_new(BIO_s_mem());
    if (!t->ssl || !rbio || !wbio || !t->plain)
        goto fail;
    SSL_set_bio(t->ssl, rbio, wbio); /* the SSL owns both from here */
    t->rbio = rbio;
    t->wbio = wbio;
    rbio = wbio = NULL;
    if (SSL_set_app_data(t->ssl, t) != 1)
        goto fail;
    if (is_server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    ERR_clear_error();

    /* A bad fingerprint is a config or caller mistake: report it through
     * the connection like any other failure rather than return NULL, which
     * means out of memory. */
    if (expect_fpr) {
        if (names_fingerprint_norm(t->expect, expect_fpr) != UERR_OK) {
            tls_fail(t,
                     "the pinned fingerprint \"%.80s\" for this peer is not 64 hex digits; "
                     "correct it in the config (`unionctl peer remove`, then `unionctl peer add`)",
                     expect_fpr);
            return t;
        }
    } else if (!is_server) {
        tls_fail(t, "internal error: dialling a peer needs its pinned fingerprint; "
                    "please report this bug");
    }
    return t;
fail:
    BIO_free(rbio);
    BIO_free(wbio);
    tls_conn_free(t);
    ERR_clear_error();
    return NULL;
}

void tls_conn_free(tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    BIO_free(t->plain);
    free(t);
}

/* After SSL_do_handshake succeeded: make sure the peer we are now talking
 * to is the one the verify callback accepted. OpenSSL guarantees this when
 * it called the callback; checking again costs one hash and turns any
 * surprise (a path that skipped verification) into a refusal instead of an
 * unauthenticated session. */
static int tls_handshake_check(tls_conn *t)
{
    char fp[IDENTITY_FINGERPRINT_LEN + 1];
    X509 *peer = SSL_get0_peer_certificate(t->ssl);

    if (t->verdict != 1 || !peer || identity_fingerprint_x509(fp, peer) != 0 ||
        strcmp(fp, t->candidate) != 0) {
        tls_fail(t, "the TLS handshake completed without an accepted peer certificate; "
                    "refusing the connection (a bug in uniond or OpenSSL: please report it)");
        return -1;
    }
    if (SSL_version(t->ssl) != TLS1_3_VERSION) {
        tls_fail(t, "the TLS handshake negotiated %s instead of TLS 1.3; refusing the connection",
                 SSL_get_version(t->ssl));
        return -1;
    }
    memcpy(t->peer_fpr, fp, sizeof fp);
    return 0;
}

/* Decrypt every complete record waiting in rbio into t->plain. */
static int tls_read_records(tls_conn *t)
{
    unsigned char buf[TLS_READ_CHUNK];

    while (!t->peer_closed) {
        size_t n = 0, w = 0;
        ERR_clear_error();
        int r = SSL_read_ex(t->ssl, buf, sizeof buf, &n);
        if (r == 1) {
            if (BIO_write_ex(t->plain, buf, n, &w) != 1 || w != n) {
                tls_fail(t, "out of memory buffering %zu decrypted bytes", n);
                ERR_clear_error();
                return -1;
            }
            t->got_data = 1;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            ERR_clear_error();
            t->peer_closed = 1;
            break;
        }
        tls_ssl_failed(t, "read", r);
        return -1;
    }
    return 0;
}

/* Process whatever ciphertext is waiting: advance the handshake, then
 * decrypt records. Returns 0 or -1 (t failed). */
static int tls_pump(tls_conn *t)
{
    if (t->failed)
        return -1;
    if (!t->hs_done) {
        ERR_clear_error();
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);
            /* WANT_READ: needs more bytes from the peer. WANT_WRITE cannot
             * happen with a memory wbio (it grows), but waiting is right. */
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                return 0;
            }
            tls_ssl_failed(t, "handshake", r);
            return -1;
        }
        if (tls_handshake_check(t) != 0)
            return -1;
        t->hs_done = 1;
    }
    /* Records may have arrived with the last handshake flight (or an alert
     * refusing our certificate after our side finished). */
    return tls_read_records(t);
}

uerr tls_conn_feed(tls_conn *t, const void *data, size_t len)
{
    if (t->failed)
        return UERR_PEER;
    /* Nothing after close_notify belongs to the session (RFC 8446 6.1);
     * dropping it also keeps a peer from piling up bytes we never read. */
    if (t->peer_closed)
        return 0;
    if (len > 0) {
        size_t w = 0;
        /* what earlier feeds left unprocessed (the caller's own feed
         * size bounds the rest: 64 KiB reads in session.c) */
        if (BIO_ctrl_pending(t->rbio) > TLS_RBIO_MAX) {
            tls_fail(t, "more than %d bytes of unprocessed TLS data from the peer", TLS_RBIO_MAX);
            return UERR_PEER;
        }
        if (BIO_write_ex(t->rbio, data, len, &w) != 1 || w != len) {
            tls_fail(t, "out of memory buffering %zu received bytes", len);
            ERR_clear_error();
            return UERR_NOMEM;
        }
    }
    return tls_pump(t) == 0 ? UERR_OK : UERR_PEER;
}

int tls_conn_handshake(tls_conn *t)
{
    if (tls_pump(t) != 0)
        return -1;
    return t->hs_done ? 1 : 0;
}

int tls_conn_established(const tls_conn *t)
{
    return t->hs_done && !t->failed;
}

long tls_conn_read(tls_conn *t, void *buf, size_t len)
{
    if (tls_pump(t) != 0)
        return -1;
    if (len == 0)
        return 0;
    if (len > LONG_MAX)
        len = LONG_MAX;
    if (BIO_ctrl_pending(t->plain) > 0) {
        size_t n = 0;
        if (BIO_read_ex(t->plain, buf, len, &n) != 1) {
            ERR_clear_error();
            return 0;
        }
        return (long)n;
    }
    return t->peer_closed ? -2 : 0;
}

uerr tls_conn_write(tls_conn *t, const void *data, size_t len)
{
    size_t written = 0;

    if (t->failed)
        return UERR_IO;
    if (!t->hs_done) {
        snprintf(t->err, sizeof t->err,
                 "cannot send application data before the TLS handshake is complete");
        return UERR_BUSY;
    }
    if (t->shut) {
        snprintf(t->err, sizeof t->err, "cannot send application data after the TLS shutdown");
        return UERR_BUSY;
    }
    if (len == 0)
        return UERR_OK;
    ERR_clear_error();
    /* The memory wbio grows as needed, so without partial-write mode
     * SSL_write_ex either takes everything or fails for good. */
    int r = SSL_write_ex(t->ssl, data, len, &written);
    if (r != 1 || written != len) {
        tls_ssl_failed(t, "write", r);
        return UERR_IO;
    }
    return UERR_OK;
}

size_t tls_conn_take_output(tls_conn *t, char **out)
{
    *out = NULL;
    size_t n = BIO_ctrl_pending(t->wbio);
    if (n == 0)
        return 0;
    char *buf = malloc(n);
    if (!buf)
        return 0; /* the bytes stay queued for the next call */
    size_t got = 0;
    if (BIO_read_ex(t->wbio, buf, n, &got) != 1 || got == 0) {
        free(buf);
        ERR_clear_error();
        return 0;
    }
    *out = buf;
    return got;
}

void tls_conn_shutdown(tls_conn *t)
{
    if (t->shut)
        return;
    t->shut = 1;
    /* After a fatal error OpenSSL must not be asked to shut down (the
     * session is unusable and the alert already went out); before the
     * handshake there is no session to close. */
    if (t->failed || !t->hs_done)
        return;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl); /* 0 or 1: close_notify is in wbio either way */
    ERR_clear_error();
}

const char *tls_conn_peer_fingerprint(const tls_conn *t)
{
    return t->peer_fpr;
}

const char *tls_conn_error(const tls_conn *t)
{
    return t->err;
}

const char *tls_conn_version(const tls_conn *t)
{
    return SSL_get_version(t->ssl);
}
