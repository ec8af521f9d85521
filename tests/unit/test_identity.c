/* test_identity.c - unit tests for daemon/identity.c: key and certificate
 * creation (modes, refusal to overwrite, certificate contents), the SPKI
 * fingerprint checked against the openssl command line, and loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "daemon/net/identity.h"

typedef struct {
    char dir[64];
    char key[128];
    char crt[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/uniond-test-identity.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->key, sizeof f->key, "%s/node.key", f->dir);
    snprintf(f->crt, sizeof f->crt, "%s/node.crt", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static X509 *crt_read(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    X509 *crt = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(crt);
    return crt;
}

static void test_create_modes(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    struct stat st;

    /* A permissive umask must not make the key readable by others. */
    mode_t old = umask(0);
    int rc = identity_create(f->key, f->crt, "yinzhou-01", err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(f->key, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(f->crt, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0644);
}

static void test_create_modes_strict_umask(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    struct stat st;

    mode_t old = umask(077);
    int rc = identity_create(f->key, f->crt, "yinzhou-01", err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(f->crt, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
}

static void test_fingerprint_matches_openssl_cli(void **state)
{
    fixture *f = *state;
    char err[256] = "", fp[65], cmd[512], line[256] = "";

    assert_int_equal(identity_create(f->key, f->crt, "haishu-01", err, sizeof err), 0);
    assert_int_equal(identity_fingerprint(fp, f->crt, err, sizeof err), 0);
    assert_int_equal(strlen(fp), 64);
    assert_true(identity_fingerprint_valid(fp));
    for (size_t i = 0; i < 64; i++)
        assert_true((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'));

    snprintf(cmd, sizeof cmd,
             "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin -outform DER | "
             "sha256sum",
             f->crt);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    assert_true(strlen(line) > 64);
    line[64] = '\0';
    assert_string_equal(fp, line);
}

static void test_fingerprint_x509_matches_file(void **state)
{
    fixture *f = *state;
    char err[256] = "", a[65], b[65];

    assert_int_equal(identity_create(f->key, f->crt, "haishu-01", err, sizeof err), 0);
    assert_int_equal(identity_fingerprint(a, f->crt, err, sizeof err), 0);
    X509 *crt = crt_read(f->crt);
    assert_int_equal(identity_fingerprint_x509(b, crt), 0);
    X509_free(crt);
    assert_string_equal(a, b);
    assert_int_equal(identity_fingerprint_x509(b, NULL), -1);
    assert_string_equal(b, "");
}

static void test_key_matches_cert(void **state)
{
    fixture *f = *state;
    char err[256] = "", cn[128] = "";

    assert_int_equal(identity_create(f->key, f->crt, "xiangshan-lt3", err, sizeof err), 0);

    FILE *fp = fopen(f->key, "r");
    assert_non_null(fp);
    EVP_PKEY *key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(key);
    assert_true(EVP_PKEY_is_a(key, "ED25519"));

    X509 *crt = crt_read(f->crt);
    assert_int_equal(X509_check_private_key(crt, key), 1);
    EVP_PKEY *pub = X509_get0_pubkey(crt);
    assert_non_null(pub);
    assert_int_equal(X509_verify(crt, pub), 1); /* self-signed */
    assert_int_equal(X509_get_version(crt), X509_VERSION_3);

    /* CN = node, issuer = subject */
    X509_NAME *subj = X509_get_subject_name(crt);
    assert_true(X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof cn) > 0);
    assert_string_equal(cn, "xiangshan-lt3");
    assert_int_equal(X509_NAME_cmp(subj, X509_get_issuer_name(crt)), 0);

    /* serial positive and not zero */
    const ASN1_INTEGER *ser = X509_get0_serialNumber(crt);
    BIGNUM *bn = ASN1_INTEGER_to_BN(ser, NULL);
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_false(BN_is_zero(bn));
    assert_true(BN_num_bits(bn) > 64);
    BN_free(bn);

    /* valid from about a day ago to about 100 years ahead */
    time_t now = time(NULL);
    time_t t = now - 23 * 3600;
    assert_true(X509_cmp_time(X509_get0_notBefore(crt), &t) < 0);
    t = now - 25 * 3600;
    assert_true(X509_cmp_time(X509_get0_notBefore(crt), &t) > 0);
    int pday = 0, psec = 0;
    assert_int_equal(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(crt)), 1);
    assert_true(pday >= 36500 && pday <= 36526);

    /* not a CA; for TLS clients and servers */
    assert_int_equal(X509_check_ca(crt), 0);
    assert_true(X509_get_extended_key_usage(crt) & XKU_SSL_SERVER);
    assert_true(X509_get_extended_key_usage(crt) & XKU_SSL_CLIENT);

    X509_free(crt);
    EVP_PKEY_free(key);
}

static void test_refuses_overwrite(void **state)
{
    fixture *f = *state;
    char err[512] = "", before[65], after[65];

    assert_int_equal(identity_create(f->key, f->crt, "yinzhou-01", err, sizeof err), 0);
    assert_int_equal(identity_fingerprint(before, f->crt, err, sizeof err), 0);
    err[0] = '\0';
    assert_int_equal(identity_create(f->key, f->crt, "yinzhou-01", err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, f->key));
    assert_non_null(strstr(err, "already exists"));
    assert_int_equal(identity_fingerprint(after, f->crt, err, sizeof err), 0);
    assert_string_equal(before, after);

    /* Only the certificate exists: the key made on the way is removed. */
    assert_int_equal(unlink(f->key), 0);
    err[0] = '\0';
    assert_int_equal(identity_create(f->key, f->crt, "yinzhou-01", err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, f->crt));
    assert_int_equal(access(f->key, F_OK), -1);
    assert_int_equal(identity_fingerprint(after, f->crt, err, sizeof err), 0);
    assert_string_equal(before, after);
}

static void test_second_identity_differs(void **state)
{
    fixture *f = *state;
    char err[256] = "", a[65], b[65], key2[160], crt2[160];

    snprintf(key2, sizeof key2, "%s/other.key", f->dir);
    snprintf(crt2, sizeof crt2, "%s/other.crt", f->dir);
    assert_int_equal(identity_create(f->key, f->crt, "yinzhou-01", err, sizeof err), 0);
    assert_int_equal(identity_create(key2, crt2, "yinzhou-01", err, sizeof err), 0);
    assert_int_equal(identity_fingerprint(a, f->crt, err, sizeof err), 0);
    assert_int_equal(identity_fingerprint(b, crt2, err, sizeof err), 0);
    assert_string_not_equal(a, b);

    X509 *c1 = crt_read(f->crt), *c2 = crt_read(crt2);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(c1), X509_get0_serialNumber(c2)),
                         0);
    X509_free(c1);
    X509_free(c2);
}

static void test_create_bad_arguments(void **state)
{
    fixture *f = *state;
    char err[256] = "", path[200];

    assert_int_equal(identity_create(f->key, f->crt, "", err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "node name"));
    assert_int_equal(identity_create(f->key, f->crt,
                                     "a123456789012345678901234567890123456789012345678901234567890"
                                     "1234",
                                     err, sizeof err),
                     -1);
    assert_int_equal(identity_create(f->key, f->crt, "bad\nname", err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "node name"));
    assert_null(strchr(err, '\n')); /* shown escaped, never raw */
    assert_int_equal(identity_create(f->key, f->crt, "a..b", err, sizeof err), UERR_INVALID);
    assert_int_equal(access(f->key, F_OK), -1);
    assert_int_equal(identity_create(f->key, f->key, "n", err, sizeof err), UERR_INVALID);
    assert_int_equal(access(f->key, F_OK), -1);

    snprintf(path, sizeof path, "%s/missing/node.key", f->dir);
    assert_int_equal(identity_create(path, f->crt, "n", err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, path));
    assert_int_equal(access(f->crt, F_OK), -1);
    /* a NULL or empty error buffer is fine */
    assert_int_equal(identity_create(path, f->crt, "n", NULL, 0), UERR_IO);
}

static void test_fingerprint_valid(void **state)
{
    (void)state;
    const char *lower = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const char *upper = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
    assert_true(identity_fingerprint_valid(lower));
    assert_true(identity_fingerprint_valid(upper));
    assert_false(identity_fingerprint_valid(NULL));
    assert_false(identity_fingerprint_valid(""));
    assert_false(identity_fingerprint_valid(
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde")); /* 63 */
    assert_false(identity_fingerprint_valid(
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0")); /* 65 */
    assert_false(identity_fingerprint_valid(
        "0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(identity_fingerprint_valid(
        "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab"));
    assert_false(identity_fingerprint_valid(
        " 123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
}

static void test_fingerprint_errors(void **state)
{
    fixture *f = *state;
    char err[512] = "", fp[65] = "x";

    assert_int_equal(identity_fingerprint(fp, f->crt, err, sizeof err), UERR_IO);
    assert_string_equal(fp, "");
    assert_non_null(strstr(err, f->crt));
    assert_non_null(strstr(err, "uniond init"));

    FILE *w = fopen(f->crt, "w");
    assert_non_null(w);
    fputs("not a certificate\n", w);
    fclose(w);
    assert_int_equal(identity_fingerprint(fp, f->crt, err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, "not a PEM certificate"));

    assert_int_equal(identity_fingerprint(fp, f->dir, err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_load(void **state)
{
    fixture *f = *state;
    char err[512] = "", key2[160], crt2[160], a[65], b[65];
    EVP_PKEY *key = (EVP_PKEY *)1;
    X509 *crt = (X509 *)1;

    assert_int_equal(identity_create(f->key, f->crt, "yinzhou-01", err, sizeof err), 0);
    assert_int_equal(identity_load(&key, &crt, f->key, f->crt, err, sizeof err), 0);
    assert_non_null(key);
    assert_non_null(crt);
    assert_int_equal(X509_check_private_key(crt, key), 1);
    assert_int_equal(identity_fingerprint_x509(a, crt), 0);
    assert_int_equal(identity_fingerprint(b, f->crt, err, sizeof err), 0);
    assert_string_equal(a, b);
    EVP_PKEY_free(key);
    X509_free(crt);

    /* a key others can read is refused, with the fix in the message */
    assert_int_equal(chmod(f->key, 0640), 0);
    assert_int_equal(identity_load(&key, &crt, f->key, f->crt, err, sizeof err), UERR_IO);
    assert_null(key);
    assert_null(crt);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(f->key, 0600), 0);

    /* a key and a certificate of different identities are refused */
    snprintf(key2, sizeof key2, "%s/other.key", f->dir);
    snprintf(crt2, sizeof crt2, "%s/other.crt", f->dir);
    assert_int_equal(identity_create(key2, crt2, "other", err, sizeof err), 0);
    assert_int_equal(identity_load(&key, &crt, f->key, crt2, err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, "does not belong"));
    assert_null(key);
    assert_null(crt);

    /* missing files */
    assert_int_equal(unlink(key2), 0);
    assert_int_equal(identity_load(&key, &crt, key2, crt2, err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, key2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_modes_strict_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_matches_openssl_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_x509_matches_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_matches_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_identity_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_bad_arguments, setup, teardown),
        cmocka_unit_test(test_fingerprint_valid),
        cmocka_unit_test_setup_teardown(test_fingerprint_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
