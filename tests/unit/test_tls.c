/* test_tls.c - unit tests for daemon/tls.c: two (or three) node identities
 * talk TLS 1.3 entirely in memory, bytes pumped between the engines by hand
 * as the libuv loop would: handshake and pinning (accepted, refused by the
 * server, wrong fingerprint expected by the client, unknown node), data both
 * ways including 1 MiB fed in odd-sized pieces, clean shutdown, garbage
 * input, a client without a certificate and a TLS 1.2 client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon/net/identity.h"
#include "daemon/net/tls.h"

/* Identities: A listens, B is its pinned peer, C is a stranger. */
enum { A, B, C, NODES };

/* What A's pin callback accepts, and what it was asked. */
typedef struct {
    const char *allow; /* NULL: refuse everyone */
    int calls;
    char last[65];
} pinset;

typedef struct {
    char dir[64];
    char key[NODES][128];
    char crt[NODES][128];
    char fpr[NODES][65];
    tls_ctx *ctx[NODES];
    pinset pins; /* A's */
} fixture;

static int pin_cb(const char *fingerprint, void *arg)
{
    pinset *p = arg;
    p->calls++;
    snprintf(p->last, sizeof p->last, "%s", fingerprint);
    return p->allow && strcmp(fingerprint, p->allow) == 0;
}

static int group_setup(void **state)
{
    static const char *names[NODES] = {"node-a", "node-b", "node-c"};
    char err[512];
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/uniond-test-tls.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    /* A copy: GCC cannot tell that f->dir and f->key[i] do not overlap. */
    char dir[sizeof f->dir];
    memcpy(dir, f->dir, sizeof dir);
    for (int i = 0; i < NODES; i++) {
        snprintf(f->key[i], sizeof f->key[i], "%s/%s.key", dir, names[i]);
        snprintf(f->crt[i], sizeof f->crt[i], "%s/%s.crt", dir, names[i]);
        if (identity_create(f->key[i], f->crt[i], names[i], err, sizeof err) != 0 ||
            identity_fingerprint(f->fpr[i], f->crt[i], err, sizeof err) != 0) {
            fprintf(stderr, "setup: %s\n", err);
            return -1;
        }
        /* Only A accepts incoming peers; B and C only dial. */
        if (tls_ctx_new(&f->ctx[i], f->key[i], f->crt[i], i == A ? pin_cb : NULL,
                        i == A ? &f->pins : NULL, err, sizeof err) != 0) {
            fprintf(stderr, "setup: %s\n", err);
            return -1;
        }
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    for (int i = 0; i < NODES; i++)
        tls_ctx_free(f->ctx[i]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Each test starts with A pinning B only. */
static int setup(void **state)
{
    fixture *f = *state;
    memset(&f->pins, 0, sizeof f->pins);
    f->pins.allow = f->fpr[B];
    return 0;
}

/* Move all pending output of from into to, split into pieces of seg bytes
 * (0 = in one go), driving to's handshake after each piece like the loop
 * does. Returns the number of bytes moved. */
static size_t move(tls_conn *from, tls_conn *to, size_t seg)
{
    char *buf = NULL;
    size_t n = tls_conn_take_output(from, &buf);
    for (size_t off = 0; off < n;) {
        size_t k = seg && n - off > seg ? seg : n - off;
        if (tls_conn_feed(to, buf + off, k) == 0)
            (void)tls_conn_handshake(to);
        off += k;
    }
    free(buf);
    return n;
}

/* Pump both ways until nothing moves any more (established, failed or
 * waiting). */
static void pump_seg(tls_conn *cli, tls_conn *srv, size_t seg)
{
    (void)tls_conn_handshake(cli);
    for (int i = 0; i < 100; i++) {
        if (move(cli, srv, seg) + move(srv, cli, seg) == 0)
            return;
    }
    fail_msg("the TLS exchange did not settle after 100 rounds");
}

static void pump(tls_conn *cli, tls_conn *srv)
{
    pump_seg(cli, srv, 0);
}

/* A client from dialler to A, expecting fingerprint expect, and A's
 * server side; both handshakes pumped to the end. */
static void connect_pair(fixture *f, int dialler, const char *expect, tls_conn **cli,
                         tls_conn **srv)
{
    *cli = tls_conn_new(f->ctx[dialler], 0, expect);
    *srv = tls_conn_new(f->ctx[A], 1, NULL);
    assert_non_null(*cli);
    assert_non_null(*srv);
    assert_string_equal(tls_conn_peer_fingerprint(*cli), "");
    assert_string_equal(tls_conn_peer_fingerprint(*srv), "");
    pump(*cli, *srv);
}

/* Read everything t has now into buf (at most cap), in reads of step. */
static size_t read_all(tls_conn *t, char *buf, size_t cap, size_t step)
{
    size_t got = 0;
    for (;;) {
        size_t want = cap - got < step ? cap - got : step;
        long r = tls_conn_read(t, buf + got, want);
        assert_true(r >= 0);
        if (r == 0)
            return got;
        got += (size_t)r;
    }
}

static void test_handshake(void **state)
{
    fixture *f = *state;
    tls_conn *cli, *srv;
    char buf[64];

    connect_pair(f, B, f->fpr[A], &cli, &srv);
    assert_int_equal(tls_conn_handshake(cli), 1);
    assert_int_equal(tls_conn_handshake(srv), 1);
    assert_true(tls_conn_established(cli));
    assert_true(tls_conn_established(srv));
    assert_string_equal(tls_conn_error(cli), "");
    assert_string_equal(tls_conn_error(srv), "");
    /* Each side knows the other by its key. */
    assert_string_equal(tls_conn_peer_fingerprint(cli), f->fpr[A]);
    assert_string_equal(tls_conn_peer_fingerprint(srv), f->fpr[B]);
    assert_string_equal(tls_ctx_fingerprint(f->ctx[A]), f->fpr[A]);
    assert_string_equal(f->pins.last, f->fpr[B]);
    assert_true(f->pins.calls >= 1);
    assert_string_equal(tls_conn_version(cli), "TLSv1.3");
    assert_string_equal(tls_conn_version(srv), "TLSv1.3");

    /* Nothing to read yet; then a message each way. */
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), 0);
    assert_int_equal(tls_conn_write(cli, "hello A", 7), 0);
    assert_int_equal(tls_conn_write(srv, "hello B", 7), 0);
    pump(cli, srv);
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), 7);
    assert_memory_equal(buf, "hello A", 7);
    assert_int_equal(tls_conn_read(cli, buf, sizeof buf), 7);
    assert_memory_equal(buf, "hello B", 7);
    assert_int_equal(tls_conn_read(cli, buf, sizeof buf), 0);

    /* No session tickets or other post-handshake chatter is left over. */
    char *out = NULL;
    assert_int_equal(tls_conn_take_output(cli, &out), 0);
    assert_null(out);
    assert_int_equal(tls_conn_take_output(srv, &out), 0);
    tls_conn_free(cli);
    tls_conn_free(srv);
}

/* The expected fingerprint may come in upper case (config files, people). */
static void test_expect_upper_case(void **state)
{
    fixture *f = *state;
    tls_conn *cli, *srv;
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] =
            (char)(f->fpr[A][i] >= 'a' && f->fpr[A][i] <= 'f' ? f->fpr[A][i] - 32 : f->fpr[A][i]);
    connect_pair(f, B, upper, &cli, &srv);
    assert_true(tls_conn_established(cli));
    assert_true(tls_conn_established(srv));
    assert_string_equal(tls_conn_peer_fingerprint(cli), f->fpr[A]);
    tls_conn_free(cli);
    tls_conn_free(srv);
}

/* Send len bytes from one conn to the other: written in chunks of wchunk,
 * ciphertext moved in segments of seg after every few writes, read in steps
 * of rstep; returns what arrived (caller frees). */
static char *transfer(tls_conn *from, tls_conn *to, const char *data, size_t len, size_t wchunk,
                      size_t seg, size_t rstep)
{
    char *got = malloc(len + 1);
    size_t n = 0;
    assert_non_null(got);
    for (size_t off = 0, i = 0; off < len; i++) {
        size_t k = len - off < wchunk ? len - off : wchunk;
        assert_int_equal(tls_conn_write(from, data + off, k), 0);
        off += k;
        if (i % 3 == 2 || off == len) {
            move(from, to, seg);
            n += read_all(to, got + n, len + 1 - n, rstep);
        }
    }
    move(from, to, seg);
    n += read_all(to, got + n, len + 1 - n, rstep);
    assert_int_equal(n, len);
    return got;
}

static void test_large_payload(void **state)
{
    fixture *f = *state;
    tls_conn *cli, *srv;
    const size_t len = 1024 * 1024;
    char *data = malloc(len);
    assert_non_null(data);
    /* Not all zeros, so a misplaced chunk shows. */
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (char)(x & 0xff);
    }

    /* The handshake itself in 1-byte pieces: records reassemble. */
    cli = tls_conn_new(f->ctx[B], 0, f->fpr[A]);
    srv = tls_conn_new(f->ctx[A], 1, NULL);
    assert_non_null(cli);
    assert_non_null(srv);
    pump_seg(cli, srv, 1);
    assert_true(tls_conn_established(cli));
    assert_true(tls_conn_established(srv));

    char *got = transfer(cli, srv, data, len, 7001, 1460, 4093);
    assert_memory_equal(got, data, len);
    free(got);
    got = transfer(srv, cli, data, len, 65536, 9000, 65536);
    assert_memory_equal(got, data, len);
    free(got);
    /* One write of the whole MiB, read in one go. */
    got = transfer(cli, srv, data, len, len, 0, len);
    assert_memory_equal(got, data, len);
    free(got);
    assert_true(tls_conn_established(cli));
    assert_true(tls_conn_established(srv));
    free(data);
    tls_conn_free(cli);
    tls_conn_free(srv);
}

/* After a refusal: both sides failed, nothing readable, no fingerprint. */
static void assert_both_failed(tls_conn *cli, tls_conn *srv)
{
    char buf[64];
    assert_false(tls_conn_established(cli));
    assert_false(tls_conn_established(srv));
    assert_int_equal(tls_conn_handshake(cli), -1);
    assert_int_equal(tls_conn_handshake(srv), -1);
    assert_int_equal(tls_conn_read(cli, buf, sizeof buf), -1);
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), -1);
    assert_int_equal(tls_conn_write(cli, "x", 1), UERR_IO);
    assert_int_equal(tls_conn_write(srv, "x", 1), UERR_IO);
    assert_int_equal(tls_conn_feed(srv, "x", 1), UERR_PEER);
    assert_string_equal(tls_conn_peer_fingerprint(srv), "");
    assert_true(strlen(tls_conn_error(cli)) > 0);
    assert_true(strlen(tls_conn_error(srv)) > 0);
}

static void test_server_refuses(void **state)
{
    fixture *f = *state;
    tls_conn *cli, *srv;
    char buf[64];

    f->pins.allow = NULL;
    cli = tls_conn_new(f->ctx[B], 0, f->fpr[A]);
    srv = tls_conn_new(f->ctx[A], 1, NULL);
    assert_non_null(cli);
    assert_non_null(srv);
    /* Step by step, so the client can try to send data as soon as its own
     * handshake completes (TLS 1.3: before the server has judged it). */
    assert_int_equal(tls_conn_handshake(cli), 0);
    move(cli, srv, 0); /* ClientHello */
    move(srv, cli, 0); /* ServerHello ... Finished */
    assert_int_equal(tls_conn_handshake(cli), 1);
    assert_int_equal(tls_conn_write(cli, "secret", 6), 0);
    move(cli, srv, 0); /* client Certificate ... Finished, then data */
    assert_int_equal(tls_conn_handshake(srv), -1);
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), -1);
    move(srv, cli, 0); /* the alert */
    pump(cli, srv);

    assert_int_equal(f->pins.calls, 1);
    assert_string_equal(f->pins.last, f->fpr[B]);
    assert_both_failed(cli, srv);
    assert_non_null(strstr(tls_conn_error(srv), "is not pinned"));
    assert_non_null(strstr(tls_conn_error(srv), f->fpr[B]));
    assert_non_null(strstr(tls_conn_error(srv), "unionctl peer add"));
    /* The client learns it was refused and what to do about it. */
    assert_non_null(strstr(tls_conn_error(cli), "refused"));
    assert_non_null(strstr(tls_conn_error(cli), f->fpr[B]));
    tls_conn_free(cli);
    tls_conn_free(srv);
}

static void test_client_expects_other(void **state)
{
    fixture *f = *state;
    tls_conn *cli, *srv;

    /* B dials A but has C's fingerprint pinned for that address. */
    connect_pair(f, B, f->fpr[C], &cli, &srv);
    assert_both_failed(cli, srv);
    assert_string_equal(tls_conn_peer_fingerprint(cli), "");
    assert_non_null(strstr(tls_conn_error(cli), "does not match"));
    assert_non_null(strstr(tls_conn_error(cli), f->fpr[A]));
    assert_non_null(strstr(tls_conn_error(cli), f->fpr[C]));
    /* The client gave up before sending its certificate. */
    assert_int_equal(f->pins.calls, 0);
    assert_non_null(strstr(tls_conn_error(srv), "alert"));
    tls_conn_free(cli);
    tls_conn_free(srv);
}

static void test_stranger_refused(void **state)
{
    fixture *f = *state;
    tls_conn *cli, *srv;

    /* C knows A's fingerprint, but A has not pinned C. */
    connect_pair(f, C, f->fpr[A], &cli, &srv);
    assert_both_failed(cli, srv);
    assert_string_equal(f->pins.last, f->fpr[C]);
    assert_non_null(strstr(tls_conn_error(srv), "is not pinned"));
    assert_non_null(strstr(tls_conn_error(srv), f->fpr[C]));
    tls_conn_free(cli);
    tls_conn_free(srv);

    /* And B still gets in. */
    connect_pair(f, B, f->fpr[A], &cli, &srv);
    assert_true(tls_conn_established(cli));
    assert_true(tls_conn_established(srv));
    tls_conn_free(cli);
    tls_conn_free(srv);
}

static void test_shutdown(void **state)
{
    fixture *f = *state;
    tls_conn *cli, *srv;
    char buf[64];

    connect_pair(f, B, f->fpr[A], &cli, &srv);
    assert_int_equal(tls_conn_write(cli, "bye", 3), 0);
    tls_conn_shutdown(cli);
    assert_int_equal(tls_conn_write(cli, "more", 4), UERR_BUSY);
    assert_non_null(strstr(tls_conn_error(cli), "after the TLS shutdown"));
    pump(cli, srv);
    /* Data sent before close_notify is delivered first. */
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), 3);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), -2);
    /* Bytes after close_notify are ignored, not an error. */
    assert_int_equal(tls_conn_feed(srv, "junk", 4), 0);
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), -2);
    /* Half-close: the server may still answer, then closes too. */
    assert_int_equal(tls_conn_write(srv, "ok", 2), 0);
    tls_conn_shutdown(srv);
    pump(cli, srv);
    assert_int_equal(tls_conn_read(cli, buf, sizeof buf), 2);
    assert_memory_equal(buf, "ok", 2);
    assert_int_equal(tls_conn_read(cli, buf, sizeof buf), -2);
    tls_conn_free(cli);
    tls_conn_free(srv);
}

static void test_garbage(void **state)
{
    fixture *f = *state;
    static const char http[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    char buf[64];
    char *out = NULL;

    /* Before the handshake: something that is not TLS at all. */
    tls_conn *srv = tls_conn_new(f->ctx[A], 1, NULL);
    assert_non_null(srv);
    assert_int_equal(tls_conn_feed(srv, http, sizeof http - 1), UERR_PEER);
    assert_true(strlen(tls_conn_error(srv)) > 0);
    assert_non_null(strstr(tls_conn_error(srv), "not a uniond node"));
    assert_int_equal(tls_conn_handshake(srv), -1);
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), -1);
    tls_conn_free(srv);

    /* A client fed garbage in answer to its ClientHello. */
    tls_conn *cli = tls_conn_new(f->ctx[B], 0, f->fpr[A]);
    assert_non_null(cli);
    assert_int_equal(tls_conn_handshake(cli), 0);
    assert_true(tls_conn_take_output(cli, &out) > 0);
    free(out);
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 151 + 7);
    assert_int_equal(tls_conn_feed(cli, junk, sizeof junk), UERR_PEER);
    assert_true(strlen(tls_conn_error(cli)) > 0);
    assert_int_equal(tls_conn_handshake(cli), -1);
    tls_conn_free(cli);

    /* After the handshake: a well-formed record header around bytes that
     * do not decrypt. The server fails and tells the client with an alert. */
    connect_pair(f, B, f->fpr[A], &cli, &srv);
    assert_true(tls_conn_established(srv));
    unsigned char rec[5 + 64] = {0x17, 0x03, 0x03, 0x00, 64};
    memcpy(rec + 5, junk, 64);
    assert_int_equal(tls_conn_feed(srv, rec, sizeof rec), UERR_PEER);
    assert_true(strlen(tls_conn_error(srv)) > 0);
    assert_false(tls_conn_established(srv));
    assert_int_equal(tls_conn_read(srv, buf, sizeof buf), -1);
    pump(cli, srv);
    assert_int_equal(tls_conn_read(cli, buf, sizeof buf), -1);
    assert_non_null(strstr(tls_conn_error(cli), "alert"));
    tls_conn_free(cli);
    tls_conn_free(srv);
}

/* A client built from plain OpenSSL, to act as peers our API cannot
 * produce: one without a certificate, one limited to TLS 1.2. Pumps with
 * srv until nothing moves. */
static void raw_client_vs(tls_conn *srv, X509 *crt, EVP_PKEY *key, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    if (crt) {
        assert_int_equal(SSL_CTX_use_certificate(ctx, crt), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    }
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    SSL_set_connect_state(ssl);
    for (int i = 0; i < 100; i++) {
        (void)SSL_do_handshake(ssl);
        char tmp[16384];
        int moved = 0, n;
        while ((n = BIO_read(wb, tmp, sizeof tmp)) > 0) {
            moved += n;
            if (tls_conn_feed(srv, tmp, (size_t)n) == 0)
                (void)tls_conn_handshake(srv);
        }
        char *out = NULL;
        size_t k = tls_conn_take_output(srv, &out);
        if (k > 0)
            assert_int_equal(BIO_write(rb, out, (int)k), (int)k);
        free(out);
        moved += (int)k;
        if (moved == 0)
            break;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
}

static void test_client_without_certificate(void **state)
{
    fixture *f = *state;
    tls_conn *srv = tls_conn_new(f->ctx[A], 1, NULL);
    assert_non_null(srv);
    raw_client_vs(srv, NULL, NULL, TLS1_3_VERSION);
    assert_false(tls_conn_established(srv));
    assert_int_equal(tls_conn_handshake(srv), -1);
    assert_non_null(strstr(tls_conn_error(srv), "presented no certificate"));
    assert_int_equal(f->pins.calls, 0);
    tls_conn_free(srv);
}

static void test_tls12_refused(void **state)
{
    fixture *f = *state;
    EVP_PKEY *key = NULL;
    X509 *crt = NULL;
    char err[512];
    /* Even B, which is pinned, cannot get in with TLS 1.2. */
    assert_int_equal(identity_load(&key, &crt, f->key[B], f->crt[B], err, sizeof err), 0);
    tls_conn *srv = tls_conn_new(f->ctx[A], 1, NULL);
    assert_non_null(srv);
    raw_client_vs(srv, crt, key, TLS1_2_VERSION);
    assert_false(tls_conn_established(srv));
    assert_int_equal(tls_conn_handshake(srv), -1);
    assert_true(strlen(tls_conn_error(srv)) > 0);
    assert_int_equal(f->pins.calls, 0);
    tls_conn_free(srv);
    EVP_PKEY_free(key);
    X509_free(crt);
}

static void test_misuse(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    tls_ctx *ctx = NULL;
    char buf[8];

    /* A missing identity says how to make one. */
    char key[160], crt[160];
    snprintf(key, sizeof key, "%s/missing.key", f->dir);
    snprintf(crt, sizeof crt, "%s/missing.crt", f->dir);
    assert_int_equal(tls_ctx_new(&ctx, key, crt, NULL, NULL, err, sizeof err), UERR_IO);
    assert_null(ctx);
    assert_non_null(strstr(err, "uniond init"));

    /* A key others can read is refused (identity_load's rule). */
    assert_int_equal(chmod(f->key[C], 0644), 0);
    err[0] = '\0';
    assert_int_equal(tls_ctx_new(&ctx, f->key[C], f->crt[C], NULL, NULL, err, sizeof err), UERR_IO);
    assert_null(ctx);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(f->key[C], 0600), 0);

    /* A client with a malformed or missing fingerprint fails at once. */
    tls_conn *t = tls_conn_new(f->ctx[B], 0, "abc");
    assert_non_null(t);
    assert_int_equal(tls_conn_handshake(t), -1);
    assert_non_null(strstr(tls_conn_error(t), "not 64 hex digits"));
    char *out = NULL;
    assert_int_equal(tls_conn_take_output(t, &out), 0);
    tls_conn_free(t);
    t = tls_conn_new(f->ctx[B], 0, NULL);
    assert_non_null(t);
    assert_int_equal(tls_conn_handshake(t), -1);
    assert_true(strlen(tls_conn_error(t)) > 0);
    tls_conn_free(t);

    /* Writing before the handshake is refused without killing the conn;
     * a shutdown then has nothing to close. */
    t = tls_conn_new(f->ctx[B], 0, f->fpr[A]);
    assert_non_null(t);
    assert_int_equal(tls_conn_write(t, "x", 1), UERR_BUSY);
    assert_non_null(strstr(tls_conn_error(t), "before the TLS handshake"));
    assert_int_equal(tls_conn_handshake(t), 0);
    assert_int_equal(tls_conn_read(t, buf, sizeof buf), 0);
    tls_conn_shutdown(t);
    tls_conn_free(t);

    /* A server without a pin callback refuses everyone. */
    tls_conn *cli = tls_conn_new(f->ctx[A], 0, f->fpr[B]);
    tls_conn *srv = tls_conn_new(f->ctx[B], 1, NULL);
    assert_non_null(cli);
    assert_non_null(srv);
    pump(cli, srv);
    assert_both_failed(cli, srv);
    assert_non_null(strstr(tls_conn_error(srv), "is not pinned"));
    tls_conn_free(cli);
    tls_conn_free(srv);

    tls_conn_free(NULL);
    tls_ctx_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_handshake, setup),
        cmocka_unit_test_setup(test_expect_upper_case, setup),
        cmocka_unit_test_setup(test_large_payload, setup),
        cmocka_unit_test_setup(test_server_refuses, setup),
        cmocka_unit_test_setup(test_client_expects_other, setup),
        cmocka_unit_test_setup(test_stranger_refused, setup),
        cmocka_unit_test_setup(test_shutdown, setup),
        cmocka_unit_test_setup(test_garbage, setup),
        cmocka_unit_test_setup(test_client_without_certificate, setup),
        cmocka_unit_test_setup(test_tls12_refused, setup),
        cmocka_unit_test_setup(test_misuse, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
