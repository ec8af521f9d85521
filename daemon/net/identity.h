/* identity.h - the node's TLS identity: an Ed25519 key (DATA/node.key) and a
 * self-signed certificate (DATA/node.crt) made once by `uniond init`, and the
 * fingerprint by which peers pin each other: the lowercase hex SHA-256 of
 * the DER SubjectPublicKeyInfo of the certificate's public key (so it names
 * the key, not the certificate, and survives re-issuing a certificate).
 *
 * The certificate is not a CA and is never verified against a trust store:
 * the TLS code accepts any chain in the handshake and then compares
 * identity_fingerprint_x509() of the peer's leaf certificate with the pinned
 * fingerprint from the config. */
#ifndef UNIOND_IDENTITY_H
#define UNIOND_IDENTITY_H

#include "proto/names.h"
#include "proto/uerr.h"

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Length of a fingerprint in hex characters (without the terminating NUL). */
#define IDENTITY_FINGERPRINT_LEN NAMES_FINGERPRINT_LEN

/* Generate a new Ed25519 key and a self-signed X.509 v3 certificate for
 * node (CN = node, random positive serial, valid from one day ago for 100
 * years, basicConstraints CA:FALSE, keyUsage digitalSignature, extended key
 * usage serverAuth + clientAuth).
 * The key is written as PKCS#8 PEM to key_path with mode 0600 (never
 * readable by others, whatever the umask); the certificate as PEM to
 * crt_path with mode 0644; both with fsutil_write_new, so each file and its
 * directory are fsync'd before returning and a crash never leaves a
 * partial file at either path.
 * Refuses to overwrite: if either path exists nothing is changed. On any
 * failure the files this call created are removed.
 * node: a valid node name (names_node_valid, proto/names.h).
 * Returns UERR_OK, UERR_INVALID for bad arguments (nothing touched), or
 * UERR_IO (files exist, cannot be written, crypto failure) with a message
 * in err (if errlen > 0).
 * The caller owns the paths and buffers; nothing is kept. */
uerr identity_create(const char *key_path, const char *crt_path, const char *node, char *err,
                     size_t errlen);

/* Fingerprint of the certificate in the PEM file crt_path, written to out
 * as 64 lowercase hex characters and a NUL.
 * Returns UERR_OK, UERR_INVALID (no path) or UERR_IO (missing, unreadable
 * or damaged file) with a message in err naming the file.
 * The caller owns out; nothing is kept. */
uerr identity_fingerprint(char out[65], const char *crt_path, char *err, size_t errlen);

/* Fingerprint of crt (e.g. the peer certificate of a TLS session), written
 * to out as 64 lowercase hex characters and a NUL. crt is only read; the
 * caller keeps ownership. Returns UERR_OK, or UERR_INVALID if crt is NULL
 * or has no encodable public key (out is then the empty string). */
uerr identity_fingerprint_x509(char out[65], X509 *crt);

/* 1 if s is a well-formed fingerprint: exactly 64 hex digits (either case;
 * callers store them lowercased), else 0. s may be NULL (gives 0). The
 * same as names_fingerprint_valid (the one rule), kept for its callers. */
int identity_fingerprint_valid(const char *s);

/* Load the node's key and certificate for the TLS context, after checking
 * that key_path is a regular file not readable or writable by group or
 * others (like ssh, a key others can read is refused) and that the key
 * belongs to the certificate.
 * On success returns UERR_OK and stores new references in *key and *crt,
 * owned by the caller (EVP_PKEY_free, X509_free). On failure returns
 * UERR_INVALID (no paths) or UERR_IO (files missing, readable by others,
 * damaged, not a pair), *key and *crt are NULL, and err says what is wrong
 * and how to fix it. */
uerr identity_load(EVP_PKEY **key, X509 **crt, const char *key_path, const char *crt_path,
                   char *err, size_t errlen);

#endif /* UNIOND_IDENTITY_H */
