/* restore.h - `uniond restore`'s steps outside main.c (restore.c). */
#ifndef UNIOND_MAIN_RESTORE_H
#define UNIOND_MAIN_RESTORE_H

#include "daemon/config/config.h"

#define RESTORE_USAGE                                                                              \
    "usage: uniond restore [-d DATA] [--node NAME] [--office CODE] [--listen HOST:PORT]\n"         \
    "                      [--group GROUP] FILE\n"                                                 \
    "       uniond restore [-d DATA] --same-identity --key KEYFILE --cert CERTFILE\n"              \
    "                      [--config OLD.conf] [--group GROUP] FILE\n"

/* What the command line asked (strings borrowed from argv or the caller). */
typedef struct {
    const char *data, *node, *office, *listen, *group, *key, *cert, *conf, *file;
    int same; /* --same-identity */
} restore_args;

/* Read `restore`'s arguments into *a (data and listen: the defaults).
 * Returns -1 to go on, or an exit code (0 after --help, 2 on a usage
 * error, with a message). */
int restore_args_parse(restore_args *a, int argc, char **argv, const char *data,
                       const char *listen);

/* The restored node's config into cfg (config_init'ed by the caller, who
 * frees it): the old file (--config; its node must be node) or a new one
 * with node, office and a->listen. 0, or -1 with a message. */
int restore_config(config *cfg, const restore_args *a, const char *node, const char *office);

/* The node's key and certificate at key_path and crt_path: new ones, or
 * (a->same) copies of a->key and a->cert, checked to be a pair. Its
 * fingerprint into fpr. 0, or -1 with a message. */
int restore_identity(const restore_args *a, const char *key_path, const char *crt_path,
                     const char *node, char fpr[65]);

#endif
