/* identity.c - the node's TLS identity: Ed25519 key and self-signed
 * certificate generation (`uniond init`), loading for the TLS context, and
 * the SHA-256 SubjectPublicKeyInfo fingerprint peers pin.
 *
 * All cryptography is OpenSSL 3's (EVP, X509, PEM); this file only
 * assembles standard pieces and takes care of file modes and durability. */
#include "daemon/net/identity.h"

#include "daemon/util/fsutil.h"
#include "proto/names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* Largest key or certificate file we read; ours are well under 2 KiB. */
#define IDENTITY_FILE_MAX (64 * 1024)
/* Validity: from one day ago (clock skew between nodes) for 100 years. */
#define IDENTITY_BACKDATE_SECONDS (24L * 60 * 60)
#define IDENTITY_VALID_DAYS (100 * 365 + 25)
/* X.509 ub-common-name: the CN (the node name) fits. */
_Static_assert(NAMES_NODE_MAX <= 64, "a node name fits a certificate's common name");

/* A message only (the caller returns its own code): uerr_set, one copy. */
#define identity_err(err, errlen, ...) ((void)uerr_set((err), (errlen), UERR_OK, __VA_ARGS__))

/* The reason of the most recent OpenSSL error, for messages; clears the
 * thread's OpenSSL error queue so it does not leak into later calls. */
static const char *identity_ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "unknown OpenSSL error";
}

/* A file read into memory; key files live in OpenSSL's secure heap (when
 * one is set up) and are wiped when freed. */
typedef struct {
    unsigned char *data; /* NUL-terminated */
    size_t len;
    size_t cap; /* bytes allocated */
    int secret;
} identity_file;

static void identity_file_free(identity_file *f)
{
    if (f->data) {
        if (f->secret)
            OPENSSL_secure_clear_free(f->data, f->cap);
        else
            OPENSSL_free(f->data);
    }
    f->data = NULL;
    f->len = f->cap = 0;
}

/* Read the whole regular file at path into f (owned by the caller: free it
 * with identity_file_free). A key file (secret) is refused when group or
 * others have any access to it, checked on the open descriptor. */
static int identity_file_read(identity_file *f, const char *path, int secret, char *err,
                              size_t errlen)
{
    int rc = -1;
    struct stat st;
    const char *what = secret ? "key" : "certificate";

    memset(f, 0, sizeof *f);
    f->secret = secret;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        identity_err(err, errlen, "cannot open %s %s: %s%s", what, path, strerror(errno),
                     errno == ENOENT ? " (create the node identity with `uniond init`)" : "");
        goto cleanup;
    }
    if (fstat(fd, &st) != 0) {
        identity_err(err, errlen, "cannot stat %s %s: %s", what, path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        identity_err(err, errlen, "%s %s is not a regular file", what, path);
        goto cleanup;
    }
    if (secret && (st.st_mode & 077) != 0) {
        identity_err(err, errlen,
                     "key %s has mode %04o: group or others may read or write it; "
                     "run `chmod 600 %s` (and consider the key exposed if others could read it)",
                     path, (unsigned)(st.st_mode & 07777), path);
        goto cleanup;
    }
    if (st.st_size < 0 || st.st_size > IDENTITY_FILE_MAX) {
        identity_err(err, errlen, "%s %s is %lld bytes, more than the %d a %s can be", what, path,
                     (long long)st.st_size, IDENTITY_FILE_MAX, what);
        goto cleanup;
    }
    /* One spare byte: the NUL, and a way to notice a file that grew. */
    f->cap = (size_t)st.st_size + 1;
    f->data = secret ? OPENSSL_secure_malloc(f->cap) : OPENSSL_malloc(f->cap);
    if (!f->data) {
        identity_err(err, errlen, "out of memory reading %s %s", what, path);
        goto cleanup;
    }
    for (;;) {
        ssize_t n = read(fd, f->data + f->len, f->cap - f->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            identity_err(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        f->len += (size_t)n;
        if (f->len == f->cap) {
            identity_err(err, errlen, "%s %s changed while being read; try again", what, path);
            goto cleanup;
        }
    }
    f->data[f->len] = '\0';
    rc = 0;
cleanup:
    if (rc != 0)
        identity_file_free(f);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int identity_ext_add(X509 *crt, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(crt, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A new self-signed certificate for key, CN = node; NULL on failure. */
static X509 *identity_cert_make(EVP_PKEY *key, const char *node, char *err, size_t errlen)
{
    X509 *crt = NULL;
    BIGNUM *bn = NULL;
    X509V3_CTX v3;
    X509_NAME *name;
    unsigned char rnd[16];
    int ok = 0;

    crt = X509_new();
    if (!crt || !X509_set_version(crt, X509_VERSION_3))
        goto cleanup;
    /* Random positive serial of 16 bytes (126 random bits). */
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        goto cleanup;
    rnd[0] = (unsigned char)((rnd[0] & 0x3f) | 0x40);
    bn = BN_bin2bn(rnd, sizeof rnd, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)))
        goto cleanup;
    if (!X509_gmtime_adj(X509_getm_notBefore(crt), -IDENTITY_BACKDATE_SECONDS) ||
        !X509_time_adj_ex(X509_getm_notAfter(crt), IDENTITY_VALID_DAYS, 0, NULL))
        goto cleanup;
    name = X509_get_subject_name(crt);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)node, -1, -1,
                                    0) ||
        !X509_set_issuer_name(crt, name) || !X509_set_pubkey(crt, key))
        goto cleanup;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, crt, crt, NULL, NULL, 0);
    if (identity_ext_add(crt, &v3, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        identity_ext_add(crt, &v3, NID_key_usage, "critical,digitalSignature") != 0 ||
        identity_ext_add(crt, &v3, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
        identity_ext_add(crt, &v3, NID_subject_key_identifier, "hash") != 0)
        goto cleanup;
    /* Ed25519 signs the message itself: no separate digest. */
    if (X509_sign(crt, key, NULL) <= 0)
        goto cleanup;
    ok = 1;
cleanup:
    OPENSSL_cleanse(rnd, sizeof rnd);
    BN_free(bn);
    if (!ok) {
        identity_err(err, errlen, "cannot make the certificate for node \"%s\": %s", node,
                     identity_ossl_reason());
        X509_free(crt);
        crt = NULL;
    }
    return crt;
}

/* Write the contents of a memory BIO to path, a new file with exactly mode,
 * durably (file and directory fsynced) and never over an existing file:
 * fsutil_write_new, so a crash leaves either no file or a whole one, never
 * a half-written key that a second `uniond init` would refuse to replace.
 * The bytes are written from the BIO itself (for the key, secure memory). */
static uerr identity_file_write(const char *path, BIO *bio, mode_t mode, const char *what,
                                char *err, size_t errlen)
{
    char *data = NULL, msg[512];
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0) {
        identity_err(err, errlen, "cannot write %s %s: nothing to write", what, path);
        return UERR_INTERNAL;
    }
    uerr e = fsutil_write_new(path, data, (size_t)n, mode, msg, sizeof msg);
    if (e == UERR_CONFLICT) {
        identity_err(err, errlen,
                     "%s %s already exists; refusing to overwrite a node identity "
                     "(move the old files away first if you really mean to replace it)",
                     what, path);
        return UERR_IO;
    }
    if (e != UERR_OK)
        identity_err(err, errlen, "cannot create %s %s: %s", what, path, msg);
    return e;
}

uerr identity_create(const char *key_path, const char *crt_path, const char *node, char *err,
                     size_t errlen)
{
    uerr rc = UERR_IO;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *key = NULL;
    X509 *crt = NULL;
    BIO *kbio = NULL, *cbio = NULL;
    int key_made = 0;

    if (!key_path || !crt_path || !node || !*key_path || !*crt_path) {
        identity_err(err, errlen,
                     "identity_create: key path, certificate path and node name are required");
        return UERR_INVALID;
    }
    if (strcmp(key_path, crt_path) == 0) {
        identity_err(err, errlen, "key and certificate must be different files (both are %s)",
                     key_path);
        return UERR_INVALID;
    }
    /* the one node-name rule (it also fits X.509's 64-character CN) */
    uerr e = names_node_check(node, "node name", err, errlen);
    if (e != UERR_OK)
        return e;

    /* Make everything in memory first: a failure here leaves no files. */
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
    if (!pctx || EVP_PKEY_keygen_init(pctx) <= 0 || EVP_PKEY_generate(pctx, &key) <= 0) {
        identity_err(err, errlen, "cannot generate an Ed25519 key: %s", identity_ossl_reason());
        goto cleanup;
    }
    crt = identity_cert_make(key, node, err, errlen);
    if (!crt)
        goto cleanup;
    /* secmem: the PEM text of the key is wiped when the BIO is freed. */
    kbio = BIO_new(BIO_s_secmem());
    cbio = BIO_new(BIO_s_mem());
    if (!kbio || !cbio || !PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cbio, crt)) {
        identity_err(err, errlen, "cannot encode the key and certificate as PEM: %s",
                     identity_ossl_reason());
        goto cleanup;
    }

    rc = identity_file_write(key_path, kbio, 0600, "key", err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
    key_made = 1;
    rc = identity_file_write(crt_path, cbio, 0644, "certificate", err, errlen);
    if (rc != UERR_OK)
        goto cleanup;
cleanup:
    if (rc != UERR_OK && key_made) {
        /* the pair is made together or not at all */
        unlink(key_path);
        fsutil_dir_sync(key_path, NULL, 0);
    }
    BIO_free(kbio);
    BIO_free(cbio);
    X509_free(crt);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(pctx);
    ERR_clear_error();
    return rc;
}

uerr identity_fingerprint_x509(char out[65], X509 *crt)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char *der = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    uerr rc = UERR_INVALID;

    out[0] = '\0';
    if (!crt)
        return UERR_INVALID;
    X509_PUBKEY *pk = X509_get_X509_PUBKEY(crt);
    if (!pk)
        goto cleanup;
    int n = i2d_X509_PUBKEY(pk, &der);
    if (n <= 0)
        goto cleanup;
    if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        goto cleanup;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[2 * mdlen] = '\0';
    rc = UERR_OK;
cleanup:
    OPENSSL_free(der);
    if (rc != 0)
        ERR_clear_error();
    return rc;
}

/* Parse a PEM certificate from buf; message names path on failure. */
static X509 *identity_cert_parse(const unsigned char *buf, size_t len, const char *path, char *err,
                                 size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    X509 *crt = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (!crt)
        identity_err(err, errlen, "%s is not a PEM certificate (%s); restore it from backup", path,
                     identity_ossl_reason());
    BIO_free(bio);
    return crt;
}

uerr identity_fingerprint(char out[65], const char *crt_path, char *err, size_t errlen)
{
    identity_file f = {0};
    X509 *crt = NULL;
    uerr rc = UERR_IO;

    out[0] = '\0';
    if (!crt_path) {
        identity_err(err, errlen, "identity_fingerprint: no certificate path given");
        return UERR_INVALID;
    }
    if (identity_file_read(&f, crt_path, 0, err, errlen) != 0)
        goto cleanup;
    crt = identity_cert_parse(f.data, f.len, crt_path, err, errlen);
    if (!crt)
        goto cleanup;
    if (identity_fingerprint_x509(out, crt) != 0) {
        identity_err(err, errlen,
                     "cannot compute the fingerprint of %s: its public key "
                     "cannot be encoded; restore the file from backup",
                     crt_path);
        goto cleanup;
    }
    rc = UERR_OK;
cleanup:
    X509_free(crt);
    identity_file_free(&f);
    return rc;
}

int identity_fingerprint_valid(const char *s)
{
    return names_fingerprint_valid(s); /* the one rule: proto/names.h */
}

/* pem_password_cb that refuses: an encrypted key cannot be used unattended,
 * and OpenSSL's default callback would prompt on the terminal. */
static int identity_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

uerr identity_load(EVP_PKEY **key, X509 **crt, const char *key_path, const char *crt_path,
                   char *err, size_t errlen)
{
    identity_file kf = {0}, cf = {0};
    BIO *bio = NULL;
    EVP_PKEY *k = NULL;
    X509 *c = NULL;
    uerr rc = UERR_IO;

    *key = NULL;
    *crt = NULL;
    if (!key_path || !crt_path) {
        identity_err(err, errlen, "identity_load: key and certificate paths are required");
        return UERR_INVALID;
    }
    if (identity_file_read(&kf, key_path, 1, err, errlen) != 0)
        goto cleanup;
    bio = BIO_new_mem_buf(kf.data, (int)kf.len);
    k = bio ? PEM_read_bio_PrivateKey(bio, NULL, identity_no_passphrase, NULL) : NULL;
    if (!k) {
        identity_err(err, errlen,
                     "%s is not an unencrypted PEM private key (%s); restore it from backup",
                     key_path, identity_ossl_reason());
        goto cleanup;
    }
    if (identity_file_read(&cf, crt_path, 0, err, errlen) != 0)
        goto cleanup;
    c = identity_cert_parse(cf.data, cf.len, crt_path, err, errlen);
    if (!c)
        goto cleanup;
    if (X509_check_private_key(c, k) != 1) {
        identity_err(err, errlen,
                     "key %s does not belong to certificate %s; restore the matching pair "
                     "from backup",
                     key_path, crt_path);
        goto cleanup;
    }
    *key = k;
    *crt = c;
    k = NULL;
    c = NULL;
    rc = UERR_OK;
cleanup:
    BIO_free(bio);
    EVP_PKEY_free(k);
    X509_free(c);
    identity_file_free(&kf);
    identity_file_free(&cf);
    ERR_clear_error();
    return rc;
}
