/* peercmd.c - unionctl's sync commands: peers, sync, peer add, peer remove
 * (see cli.h). The daemon answers these on its loop thread, where the peer
 * sessions live. */
#include "cli/cli.h"
#include "cli/render.h"
#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *fmt_bytes(int64_t n)
{
    char *b = malloc(32);
    if (!b)
        return NULL;
    if (n < 10 * 1024)
        snprintf(b, 32, "%lld B", (long long)n);
    else if (n < 10 * 1024 * 1024)
        snprintf(b, 32, "%lld KiB", (long long)(n / 1024));
    else
        snprintf(b, 32, "%lld MiB", (long long)(n / (1024 * 1024)));
    return b;
}

static int cmd_peers(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "jc");
    if (rc)
        goto out;
    if (optind != argc) {
        rc = cli_usage_error("peers: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    cli_request_begin(&r, "peers", 0);
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        const msgpack_object *a = rep.result;
        size_t n = a && a->type == MSGPACK_OBJECT_ARRAY ? a->via.array.size : 0;
        if (o.json) {
            cli_print_json(a);
        } else if (n == 0 && !o.csv) {
            printf("no peers pinned; add one with: unionctl peer add NAME HOST:PORT FINGERPRINT\n");
        } else {
            static const char *const head[] = {"name", "address", "office", "state", "last sync",
                                               "in",   "out",     "behind", "note"};
            char **cells = calloc(n * 9 + 1, sizeof *cells);
            for (size_t i = 0; cells && i < n; i++) {
                const msgpack_object *p = &a->via.array.ptr[i];
                char **c = cells + i * 9;
                c[0] = msg_get_str(p, "name");
                c[1] = msg_get_str(p, "address");
                c[2] = msg_get_str(p, "office");
                char *st = msg_get_str(p, "state"), *until = msg_get_str(p, "retry_at");
                if (st && until && strcmp(st, "backoff") == 0) {
                    char *m = malloc(strlen(until) + 32);
                    if (m)
                        sprintf(m, "backoff until %.19s", until);
                    free(st);
                    st = m;
                }
                free(until);
                c[3] = st;
                c[4] = msg_get_str(p, "last_sync");
                c[5] = fmt_bytes(msg_get_int(p, "bytes_in", 0));
                c[6] = fmt_bytes(msg_get_int(p, "bytes_out", 0));
                c[7] = malloc(24);
                if (c[7])
                    snprintf(c[7], 24, "%lld", (long long)msg_get_int(p, "heads_behind", 0));
                c[8] = msg_get_str(p, "last_error");
            }
            if (cells)
                cli_print_rows(&o, head, 9, (const char *const *)cells, n);
            for (size_t i = 0; cells && i < n * 9; i++)
                free(cells[i]);
            free(cells);
        }
    }
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_sync(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "j");
    if (rc)
        goto out;
    if (optind != argc) {
        rc = cli_usage_error("sync: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    cli_request_begin(&r, "sync", 0);
    if ((rc = cli_request_send(&r, &rep)) == 0) {
        const msgpack_object_array *a = msg_get_array(rep.result, "peers");
        size_t n = a ? a->size : 0, failed = 0;
        if (o.json) {
            cli_print_json(rep.result);
        }
        for (size_t i = 0; i < n; i++) {
            char *name = msg_get_str(&a->ptr[i], "name"), *e = msg_get_str(&a->ptr[i], "error");
            int ok = msg_get_bool(&a->ptr[i], "ok", 0);
            failed += !ok;
            if (!o.json) {
                if (ok)
                    printf("%s: in sync\n", name ? name : "?");
                else
                    fprintf(stderr, "%s: not synced: %s\n", name ? name : "?", e ? e : "?");
            }
            free(name);
            free(e);
        }
        if (n == 0 && !o.json)
            printf("no peers pinned: nothing to sync\n");
        if (failed)
            rc = EXIT_FAIL;
    }
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

static int cmd_peer(int argc, char **argv)
{
    opts o;
    reply rep;
    request r;
    int rc = cli_opts_parse(&o, argc, argv, "");
    if (rc)
        goto out;
    int npos = argc - optind;
    if (npos == 4 && strcmp(argv[optind], "add") == 0) {
        cli_request_begin(&r, "peer_add", 3);
        msg_pack_kv_str(&r.pk, "name", argv[optind + 1]);
        msg_pack_kv_str(&r.pk, "address", argv[optind + 2]);
        msg_pack_kv_str(&r.pk, "fingerprint", argv[optind + 3]);
    } else if (npos == 2 && strcmp(argv[optind], "remove") == 0) {
        cli_request_begin(&r, "peer_remove", 1);
        msg_pack_kv_str(&r.pk, "name", argv[optind + 1]);
    } else {
        rc = cli_usage_error(
            "peer: usage: unionctl peer add NAME HOST:PORT FINGERPRINT | peer remove NAME");
        goto out;
    }
    rc = cli_request_send(&r, &rep);
    cli_reply_free(&rep);
out:
    free(o.where);
    return rc;
}

int cli_peer_main(int argc, char **argv)
{
    if (strcmp(argv[0], "peers") == 0)
        return cmd_peers(argc, argv);
    if (strcmp(argv[0], "sync") == 0)
        return cmd_sync(argc, argv);
    if (strcmp(argv[0], "peer") == 0)
        return cmd_peer(argc, argv);
    return -1;
}
