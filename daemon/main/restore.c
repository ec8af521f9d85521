/* restore.c - the steps of `uniond restore` that are not main's (main.c
 * keeps the DATA directory, the group and the order): reading its
 * arguments, the restored node's config, and its key and certificate (new,
 * or the dead server's copied in and checked to be a pair). The store part
 * is store_restore (daemon/store/backup.c). Prints its messages on stderr;
 * never prints a key. */
#include "daemon/main/restore.h"

#include "daemon/net/identity.h"
#include "daemon/util/fsutil.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* A small file (key, certificate) into DATA, written atomically with mode.
 * 0, or -1 with a message. */
static int file_copy(const char *to, const char *from, mode_t mode)
{
    char buf[65536], err[512];
    FILE *f = fopen(from, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    int bad = !f || ferror(f) || !feof(f);
    if (f)
        fclose(f);
    if (bad) {
        fprintf(stderr, "uniond restore: cannot read %s (a key or certificate file)\n", from);
        return -1;
    }
    if (fsutil_write_new(to, buf, n, mode, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond restore: %s\n", err);
        return -1;
    }
    return 0;
}

/* The node's key and certificate: new ones, or (--same-identity) the dead
 * server's, checked to be a pair. Its fingerprint into fpr. 0 or -1. */
int restore_identity(const restore_args *a, const char *key_path, const char *crt_path,
                     const char *node, char fpr[65])
{
    char err[512];
    if (a->same) {
        EVP_PKEY *key = NULL;
        X509 *crt = NULL;
        if (file_copy(key_path, a->key, 0600) != 0 || file_copy(crt_path, a->cert, 0644) != 0)
            return -1;
        if (identity_load(&key, &crt, key_path, crt_path, err, sizeof err) != UERR_OK) {
            fprintf(stderr, "uniond restore: %s\n", err);
            return -1;
        }
        EVP_PKEY_free(key);
        X509_free(crt);
    } else if (identity_create(key_path, crt_path, node, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond restore: %s\n", err);
        return -1;
    }
    if (identity_fingerprint(fpr, crt_path, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond restore: %s\n", err);
        return -1;
    }
    return 0;
}

/* The restored node's config: the old one (--config, same identity: its
 * peers come back) or a new one from the backup's office. 0 or -1. */
int restore_config(config *cfg, const restore_args *a, const char *node, const char *office)
{
    char err[512];
    if (a->conf) {
        if (config_load(cfg, a->conf, err, sizeof err) != UERR_OK) {
            fprintf(stderr, "uniond restore: %s\n", err);
            return -1;
        }
        if (strcmp(cfg->node, node) != 0) {
            fprintf(stderr, "uniond restore: %s is node %s's config, not %s's\n", a->conf,
                    cfg->node, node);
            return -1;
        }
        return 0;
    }
    if (config_node_set(cfg, node, office, a->listen, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond restore: %s\n", err);
        return -1;
    }
    return 0;
}

int restore_args_parse(restore_args *a, int argc, char **argv, const char *data, const char *listen)
{
    static const struct option longopts[] = {{"data", required_argument, 0, 'd'},
                                             {"node", required_argument, 0, 'n'},
                                             {"office", required_argument, 0, 'o'},
                                             {"listen", required_argument, 0, 'l'},
                                             {"group", required_argument, 0, 'g'},
                                             {"same-identity", no_argument, 0, 's'},
                                             {"key", required_argument, 0, 'k'},
                                             {"cert", required_argument, 0, 'c'},
                                             {"config", required_argument, 0, 'C'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int ch;
    memset(a, 0, sizeof *a);
    a->data = data;
    a->listen = listen;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        const char **slot[] = {
            ['d'] = &a->data,  ['n'] = &a->node, ['o'] = &a->office, ['l'] = &a->listen,
            ['g'] = &a->group, ['k'] = &a->key,  ['c'] = &a->cert,   ['C'] = &a->conf};
        if (ch == 's') {
            a->same = 1;
        } else if (ch == 'h') {
            fputs(RESTORE_USAGE, stdout);
            return 0;
        } else if (ch > 0 && (size_t)ch < sizeof slot / sizeof slot[0] && slot[ch]) {
            *slot[ch] = optarg;
        } else {
            fputs(RESTORE_USAGE, stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || !a->data) {
        fprintf(stderr, "uniond restore: give the backup FILE (and -d DATA without a home)\n");
        fputs(RESTORE_USAGE, stderr);
        return 2;
    }
    a->file = argv[optind];
    if (a->same != (a->key != NULL) || a->same != (a->cert != NULL) || (a->conf && !a->same)) {
        fprintf(stderr, "uniond restore: --same-identity needs --key KEYFILE and --cert CERTFILE "
                        "(the dead server's; --config its uniond.conf), and they need it\n");
        return 2;
    }
    return -1;
}
