/* main.c - uniond: `uniond init` makes a node's DATA directory; `uniond -d
 * DATA` runs the node in the foreground. Owns the one libuv loop, the DATA
 * lock and the order of start-up and shutdown. */
#include "daemon/config/config.h"
#include "daemon/control.h"
#include "daemon/identity.h"
#include "daemon/util/log.h"
#include "daemon/ops.h"
#include "daemon/peer.h"
#include "daemon/squeue.h"
#include "daemon/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "proto/version.h"
#define DEFAULT_LISTEN "0.0.0.0:7420"

static void usage(FILE *f)
{
    fprintf(f, "usage: uniond init -d DATA --node NAME --office CODE [--listen HOST:PORT]\n"
               "       uniond -d DATA [--verbose] [--offline]\n"
               "                                       run the node in the foreground;\n"
               "                                       --offline: no listening, no dialling\n"
               "       uniond --version | --help\n"
               "\n"
               "DATA may also come from UNIOND_DATA. init creates DATA with the config\n"
               "(uniond.conf), the git store (store.git), the node's TLS key and certificate,\n"
               "and prints the node's fingerprint for other offices to pin.\n"
               "Default listen address: " DEFAULT_LISTEN ".\n");
}

static void path_join(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static int cmd_init(int argc, char **argv)
{
    const char *data = getenv("UNIOND_DATA"), *node = NULL, *office = NULL;
    const char *listen = DEFAULT_LISTEN;
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},   {"node", required_argument, 0, 'n'},
        {"office", required_argument, 0, 'o'}, {"listen", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int ch;
    char err[512], path[4096], key[4096], crt[4096], fpr[65];
    config cfg;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            data = optarg;
            break;
        case 'n':
            node = optarg;
            break;
        case 'o':
            office = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!data || !node || !office || optind != argc) {
        fprintf(stderr, "uniond init: -d DATA, --node NAME and --office CODE are required\n");
        usage(stderr);
        return 2;
    }
    config_init(&cfg);
    if (config_node_set(&cfg, node, office, listen, err, sizeof err) != 0) {
        fprintf(stderr, "uniond init: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (mkdir(data, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "uniond init: cannot create %s: %s\n", data, strerror(errno));
        config_free(&cfg);
        return 1;
    }
    path_join(path, sizeof path, data, "uniond.conf");
    if (access(path, F_OK) == 0) {
        fprintf(stderr,
                "uniond init: %s already holds a node (%s exists); pick an empty directory\n", data,
                path);
        config_free(&cfg);
        return 1;
    }
    int rc = 1;
    path_join(key, sizeof key, data, "node.key");
    path_join(crt, sizeof crt, data, "node.crt");
    if (store_global_init() != 0) {
        fprintf(stderr, "uniond init: libgit2 failed to initialise\n");
        goto cleanup;
    }
    path_join(path, sizeof path, data, "store.git");
    if (store_create(path, node, err, sizeof err) != 0 ||
        identity_create(key, crt, node, err, sizeof err) != 0 ||
        identity_fingerprint(fpr, crt, err, sizeof err) != 0) {
        fprintf(stderr, "uniond init: %s\n", err);
        goto cleanup;
    }
    /* The config is written last: its presence marks a complete node. */
    path_join(path, sizeof path, data, "uniond.conf");
    if (config_save(&cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "uniond init: %s\n", err);
        goto cleanup;
    }
    printf("initialised node %s (office %s) in %s\n", node, office, data);
    printf("listen      %s\n", listen);
    printf("fingerprint %s\n", fpr);
    printf("start it with: uniond -d %s\n", data);
    rc = 0;
cleanup:
    config_free(&cfg);
    store_global_shutdown();
    return rc;
}

typedef struct {
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint;
    control *ctl;
    squeue *q;
    peers *peers;
    int stopping;
} daemon_main;

static void signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void queue_drained(void *arg)
{
    daemon_main *d = arg;
    d->q = NULL;
    uv_close((uv_handle_t *)&d->sigterm, signal_closed);
    uv_close((uv_handle_t *)&d->sigint, signal_closed);
}

/* Shutdown order: the control socket (its clients' jobs still finish), then
 * the store queue, then the signal handles; the loop then runs dry. */
static void peers_done(void *arg)
{
    daemon_main *d = arg;
    d->peers = NULL;
    squeue_close(d->q, queue_drained, d);
}

static void control_done(void *arg)
{
    daemon_main *d = arg;
    d->ctl = NULL;
    peers_close(d->peers, peers_done, d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_main *d = h->data;
    if (d->stopping)
        return;
    d->stopping = 1;
    log_msg(LOG_INFO, "%s: finishing the running request and stopping",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    control_close(d->ctl, control_done, d);
}

/* Exclusive lock on DATA for the life of the process: flock on the
 * directory itself, so no stale lock file can outlive a crash. */
static int data_lock(int *fd_out, const char *data)
{
    char pidpath[4096], buf[32];
    int fd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "uniond: cannot open %s: %s (create it with uniond init)\n", data,
                strerror(errno));
        return -1;
    }
    path_join(pidpath, sizeof pidpath, data, "uniond.pid");
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        FILE *f = fopen(pidpath, "r");
        long pid = 0;
        if (f) {
            if (fscanf(f, "%ld", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (pid > 0)
            fprintf(stderr, "uniond: another uniond (pid %ld) is already running on %s\n", pid,
                    data);
        else
            fprintf(stderr, "uniond: another uniond is already running on %s\n", data);
        close(fd);
        return -1;
    }
    int pf = open(pidpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (pf >= 0) {
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (write(pf, buf, (size_t)n) != n)
            log_msg(LOG_WARN, "cannot write %s", pidpath);
        close(pf);
    }
    *fd_out = fd;
    return 0;
}

static int cmd_run(const char *data, int offline)
{
    char err[512], path[4096];
    config cfg;
    ops_ctx ops;
    daemon_main d;
    int lockfd = -1, rc = 1;
    memset(&ops, 0, sizeof ops);
    memset(&d, 0, sizeof d);
    recindex_init(&ops.ix);
    config_init(&cfg);
    path_join(path, sizeof path, data, "uniond.conf");
    if (access(path, F_OK) != 0) {
        fprintf(stderr,
                "uniond: %s is not a node directory (no uniond.conf); create one with\n"
                "  uniond init -d %s --node NAME --office CODE\n",
                data, data);
        return 1;
    }
    if (data_lock(&lockfd, data) != 0)
        return 1;
    if (config_load(&cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "uniond: %s\n", err);
        goto cleanup;
    }
    signal(SIGPIPE, SIG_IGN);
    if (store_global_init() != 0) {
        fprintf(stderr, "uniond: libgit2 failed to initialise\n");
        goto cleanup;
    }
    path_join(path, sizeof path, data, "node.crt");
    if (identity_fingerprint(ops.fingerprint, path, err, sizeof err) != 0) {
        fprintf(stderr, "uniond: %s\n", err);
        goto cleanup;
    }
    path_join(path, sizeof path, data, "store.git");
    if (store_open(&ops.st, path, cfg.node, err, sizeof err) != 0) {
        fprintf(stderr, "uniond: %s\n", err);
        goto cleanup;
    }
    ops.node = cfg.node;
    ops.office = cfg.office;
    ops.listen = cfg.listen;
    ops.started_ms = ops_now_ms();
    if (ops_load(&ops, err, sizeof err) != 0) {
        fprintf(stderr, "uniond: %s\n", err);
        goto cleanup;
    }
    d.loop = uv_default_loop();
    path_join(path, sizeof path, data, "uniond.sock");
    char cfgpath[4096];
    path_join(cfgpath, sizeof cfgpath, data, "uniond.conf");
    const char *listen_addr = cfg.listen;
    if (squeue_new(&d.q, d.loop) != 0 ||
        peers_start(&d.peers, d.loop, d.q, &ops, &cfg, cfgpath, data, offline, &listen_addr, err,
                    sizeof err) != 0) {
        fprintf(stderr, "uniond: %s\n", err);
        goto cleanup;
    }
    ops.listen = (char *)listen_addr;
    ops.peers_status = (void (*)(void *, msgpack_packer *))peers_status_pack;
    ops.peers_arg = d.peers;
    if (control_start(&d.ctl, d.loop, path, d.q, &ops, peers_control, d.peers, err, sizeof err) !=
        0) {
        fprintf(stderr, "uniond: %s\n", err);
        goto cleanup;
    }
    control_after_job(d.ctl, peers_after_job, d.peers);
    uv_signal_init(d.loop, &d.sigterm);
    uv_signal_init(d.loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    {
        char head[41], tree[41];
        store_head(ops.st, head, tree);
        log_msg(LOG_INFO, "uniond %s: node %s (office %s), %zu records, head %.12s, control %s",
                UNIOND_VERSION, cfg.node, cfg.office, ops.ix.count, head[0] ? head : "(empty)",
                path);
    }
    uv_run(d.loop, UV_RUN_DEFAULT);
    log_msg(LOG_INFO, "stopped");
    rc = 0;
cleanup:
    if (d.loop)
        uv_loop_close(d.loop);
    path_join(path, sizeof path, data, "uniond.sock");
    if (rc == 0)
        unlink(path);
    recindex_free(&ops.ix);
    store_free(ops.st);
    store_global_shutdown();
    config_free(&cfg);
    if (lockfd >= 0) {
        path_join(path, sizeof path, data, "uniond.pid");
        unlink(path);
        close(lockfd);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    const char *data = getenv("UNIOND_DATA");
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'}, {"verbose", no_argument, 0, 'v'},
        {"offline", no_argument, 0, 'O'},    {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},    {0, 0, 0, 0}};
    int ch, offline = 0;
    while ((ch = getopt_long(argc, argv, "d:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            data = optarg;
            break;
        case 'v':
            log_level_set(LOG_DEBUG);
            break;
        case 'O':
            offline = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("uniond %s\n", UNIOND_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "uniond: unknown command '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!data) {
        fprintf(stderr, "uniond: no DATA directory: give -d DATA or set UNIOND_DATA\n");
        usage(stderr);
        return 2;
    }
    return cmd_run(data, offline);
}
