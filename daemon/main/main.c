/* main.c - uniond: `uniond init` makes a node's DATA directory; `uniond -d
 * DATA` runs the node in the foreground. Owns the one libuv loop, the DATA
 * lock and the order of start-up and shutdown, and wires the rooms: the
 * control socket (ctl) and the peers (net) never include each other; they
 * meet here, as function pointers. */
#include "daemon/config/config.h"
#include "daemon/ctl/control.h"
#include "daemon/ctl/ops.h"
#include "daemon/net/identity.h"
#include "daemon/util/log.h"
#include "daemon/net/peers.h"
#include "daemon/store/squeue.h"
#include "daemon/store/store.h"
#include "daemon/util/clock.h"

#include <assert.h>
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

#define UNIOND_VERSION "0.1.0"
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

/* Every file of a node's DATA directory (see DESIGN.md). */
typedef struct {
    char conf[4096], key[4096], crt[4096], store[4096], sock[4096], pid[4096];
} node_paths;

/* dir/name into out; -1 (and a message on stderr) when it does not fit:
 * a cut path would name another file. */
static int path_join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        fprintf(stderr, "uniond: the path %s/%s is too long (at most %zu bytes)\n", dir, name,
                len - 1);
        return -1;
    }
    return 0;
}

/* All the paths of DATA. 0, or -1 with a message on stderr. */
static int node_paths_make(node_paths *p, const char *data)
{
    if (path_join(p->conf, sizeof p->conf, data, "uniond.conf") != 0 ||
        path_join(p->key, sizeof p->key, data, "node.key") != 0 ||
        path_join(p->crt, sizeof p->crt, data, "node.crt") != 0 ||
        path_join(p->store, sizeof p->store, data, "store.git") != 0 ||
        path_join(p->sock, sizeof p->sock, data, "uniond.sock") != 0 ||
        path_join(p->pid, sizeof p->pid, data, "uniond.pid") != 0)
        return -1;
    return 0;
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
    char err[512], fpr[65];
    node_paths np;
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
    if (node_paths_make(&np, data) != 0)
        return 2;
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
    if (access(np.conf, F_OK) == 0) {
        fprintf(stderr,
                "uniond init: %s already holds a node (%s exists); pick an empty directory\n", data,
                np.conf);
        config_free(&cfg);
        return 1;
    }
    int rc = 1;
    if (store_global_init() != 0) {
        fprintf(stderr, "uniond init: libgit2 failed to initialise\n");
        goto cleanup;
    }
    if (store_create(np.store, node, err, sizeof err) != 0 ||
        identity_create(np.key, np.crt, node, err, sizeof err) != 0 ||
        identity_fingerprint(fpr, np.crt, err, sizeof err) != 0) {
        fprintf(stderr, "uniond init: %s\n", err);
        goto cleanup;
    }
    /* The config is written last: its presence marks a complete node. */
    if (config_save(&cfg, np.conf, err, sizeof err) != 0) {
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
    int signals; /* the signal handles are initialised */
    control *ctl;
    squeue *q;
    peers *peers;
    int stopping;
} daemon_main;

static void signal_closed(uv_handle_t *h)
{
    (void)h;
}

/* Shutdown order: the control socket (its clients' jobs still finish), then
 * the peers, then the store queue, then the signal handles; the loop then
 * runs dry. Each step starts the next from its done callback; a part that
 * was never started (an error during start-up) is skipped. */
static void stop_next(daemon_main *d);

static void control_done(void *arg)
{
    daemon_main *d = arg;
    d->ctl = NULL;
    stop_next(d);
}

static void peers_done(void *arg)
{
    daemon_main *d = arg;
    d->peers = NULL;
    stop_next(d);
}

static void queue_drained(void *arg)
{
    daemon_main *d = arg;
    d->q = NULL;
    stop_next(d);
}

static void stop_next(daemon_main *d)
{
    assert(d->stopping);
    if (d->ctl) {
        control_close(d->ctl, control_done, d);
    } else if (d->peers) {
        peers_close(d->peers, peers_done, d);
    } else if (d->q) {
        squeue_close(d->q, queue_drained, d);
    } else if (d->signals) {
        d->signals = 0;
        uv_close((uv_handle_t *)&d->sigterm, signal_closed);
        uv_close((uv_handle_t *)&d->sigint, signal_closed);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_main *d = h->data;
    if (d->stopping)
        return;
    d->stopping = 1;
    log_msg(LOG_INFO, "%s: finishing the running request and stopping",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_next(d);
}

/* Exclusive lock on DATA for the life of the process: flock on the
 * directory itself, so no stale lock file can outlive a crash. */
static int data_lock(int *fd_out, const char *data, const char *pidpath)
{
    char buf[32];
    int fd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "uniond: cannot open %s: %s (create it with uniond init)\n", data,
                strerror(errno));
        return -1;
    }
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

/* Open what the loop does not own: config, store, identity, index. */
static int node_open(config *cfg, ops_ctx *ops, const node_paths *np)
{
    char err[512];
    if (config_load(cfg, np->conf, err, sizeof err) != 0 ||
        identity_fingerprint(ops->fingerprint, np->crt, err, sizeof err) != 0 ||
        store_open(&ops->st, np->store, cfg->node, err, sizeof err) != 0) {
        fprintf(stderr, "uniond: %s\n", err);
        return -1;
    }
    ops->node = cfg->node;
    ops->office = cfg->office;
    ops->listen = cfg->listen;
    ops->started_ms = clock_now_ms();
    if (ops_load(ops, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond: %s\n", err);
        return -1;
    }
    return 0;
}

/* Start the loop's parts in order: store queue, peers, control socket,
 * signals. On failure the parts already started are left in d for
 * stop_next to close. 0 or -1 (message on stderr). */
static int loop_parts_start(daemon_main *d, config *cfg, ops_ctx *ops, const node_paths *np,
                            const char *data, int offline)
{
    char err[512];
    const char *listen_addr = cfg->listen;
    if (squeue_new(&d->q, d->loop) != 0) {
        fprintf(stderr, "uniond: out of memory\n");
        return -1;
    }
    if (peers_start(&d->peers, d->loop, d->q, ops->st, ops_index_changed, ops, cfg, np->conf, data,
                    offline, &listen_addr, err, sizeof err) != 0) {
        fprintf(stderr, "uniond: %s\n", err);
        return -1;
    }
    ops->listen = (char *)listen_addr;
    ops->peers_status = peers_status;
    ops->peers_arg = d->peers;
    if (control_start(&d->ctl, d->loop, np->sock, d->q, ops, peers_request, d->peers, err,
                      sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond: %s\n", err);
        return -1;
    }
    control_after_job(d->ctl, peers_after_job, d->peers);
    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    d->signals = 1;
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    return 0;
}

static int cmd_run(const char *data, int offline)
{
    config cfg;
    ops_ctx ops;
    daemon_main d;
    node_paths np;
    int lockfd = -1, rc = 1;
    memset(&ops, 0, sizeof ops);
    memset(&d, 0, sizeof d);
    if (node_paths_make(&np, data) != 0)
        return 1;
    recindex_init(&ops.ix);
    config_init(&cfg);
    if (access(np.conf, F_OK) != 0) {
        fprintf(stderr,
                "uniond: %s is not a node directory (no uniond.conf); create one with\n"
                "  uniond init -d %s --node NAME --office CODE\n",
                data, data);
        return 1;
    }
    if (data_lock(&lockfd, data, np.pid) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    if (store_global_init() != 0) {
        fprintf(stderr, "uniond: libgit2 failed to initialise\n");
        goto cleanup;
    }
    if (node_open(&cfg, &ops, &np) != 0)
        goto cleanup;
    d.loop = uv_default_loop();
    if (loop_parts_start(&d, &cfg, &ops, &np, data, offline) != 0) {
        /* close what was started; the loop runs until its handles closed */
        d.stopping = 1;
        stop_next(&d);
        uv_run(d.loop, UV_RUN_DEFAULT);
        goto cleanup;
    }
    {
        char head[41], tree[41];
        store_head(ops.st, head, tree);
        log_msg(LOG_INFO, "uniond %s: node %s (office %s), %zu records, head %.12s, control %s",
                UNIOND_VERSION, cfg.node, cfg.office, ops.ix.count, head[0] ? head : "(empty)",
                np.sock);
    }
    uv_run(d.loop, UV_RUN_DEFAULT);
    log_msg(LOG_INFO, "stopped");
    rc = 0;
cleanup:
    if (d.loop) {
        int e = uv_loop_close(d.loop);
        assert(e == 0); /* every handle was closed before the loop */
        (void)e;
    }
    if (rc == 0)
        unlink(np.sock);
    ops_free(&ops);
    store_free(ops.st);
    store_global_shutdown();
    config_free(&cfg);
    if (lockfd >= 0) {
        unlink(np.pid);
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
