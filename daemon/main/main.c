/* main.c - uniond: `uniond init` makes a node's DATA directory; `uniond -d
 * DATA` runs the node in the foreground. Owns the one libuv loop, the DATA
 * lock and the order of start-up and shutdown, and wires the rooms: the
 * control socket (ctl) and the peers (net) never include each other; they
 * meet here, as function pointers. */
#include "daemon/config/config.h"
#include "daemon/ctl/control.h"
#include "daemon/ctl/ops.h"
#include "daemon/main/restore.h"
#include "daemon/net/identity.h"
#include "daemon/util/log.h"
#include "daemon/net/peers.h"
#include "daemon/store/recsnap.h"
#include "daemon/store/squeue.h"
#include "daemon/store/store.h"
#include "daemon/util/clock.h"
#include "daemon/util/fsutil.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <uv.h>

#include "proto/names.h"

#include "proto/datadir.h"
#include "proto/version.h"
#define DEFAULT_LISTEN "0.0.0.0:7420"

static void usage(FILE *f)
{
    fprintf(f, "usage: uniond init [-d DATA] --office CODE [--node NAME] [--listen HOST:PORT]\n"
               "                  [--group GROUP] [--office-name NAME]\n"
               "       uniond restore [-d DATA] [--node NAME] [--office CODE]\n"
               "                  [--listen HOST:PORT] [--group GROUP] FILE\n"
               "       uniond restore [-d DATA] --same-identity --key KEYFILE --cert CERTFILE\n"
               "                  [--config OLD.conf] [--group GROUP] FILE\n"
               "                                       a node from `unionctl backup FILE`\n"
               "       uniond [-d DATA] [--verbose] [--offline]\n"
               "                                       run the node in the foreground;\n"
               "                                       --offline: no listening, no dialling\n"
               "       uniond --version | --help\n"
               "\n"
               "DATA defaults to $UNIOND_DATA, else /var/lib/uniond when it exists (the\n"
               "system service), else $XDG_DATA_HOME/uniond (~/.local/share/uniond).\n"
               "--office-name gives the office a display name (such as 鄞州区) shown\n"
               "beside its code. --node defaults to the host name. --group (default: uniond, when "
               "that group\n"
               "exists) makes DATA 0710 and the control socket 0660 with that group, so its\n"
               "members can use unionctl; --group '' keeps DATA private. init creates DATA with "
               "the config\n"
               "(uniond.conf), the git store (store.git), the node's TLS key and certificate,\n"
               "and prints the node's fingerprint for other offices to pin.\n"
               "Default listen address: " DEFAULT_LISTEN ".\n");
}

/* Every file of a node's DATA directory (see DESIGN.md). */
typedef struct {
    char conf[4096], key[4096], crt[4096], store[4096], sock[4096], pid[4096];
} node_paths;

/* dir/name into out with fsutil_path_join, which refuses (a cut path would
 * name another file); -1 and a message on stderr then. */
static int path_join(char *out, size_t len, const char *dir, const char *name)
{
    char err[512];
    if (fsutil_path_join(out, len, dir, name, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond: %s\n", err);
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

/* The default DATA (no -d): $UNIOND_DATA, else /var/lib/uniond when it
 * exists (the system service's), else $XDG_DATA_HOME/uniond, else
 * ~/.local/share/uniond. Written into buf (len bytes); NULL when there is
 * no home to put it in, or (must_exist: running, not init) when that
 * directory does not exist. The same rule as unionctl's (cli/cmdline.c). */
static int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *data_default(char *buf, size_t len, int must_exist)
{
    return datadir_default(buf, len, getenv("UNIOND_DATA"), getenv("XDG_DATA_HOME"), getenv("HOME"),
                           must_exist, dir_exists);
}

/* mkdir -p of DATA's parents (a fresh account has no ~/.local/share). */
static void parents_make(const char *data)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", data);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return;
        *s = '/';
    }
}

/* The host name as a node name: its first label, lower-cased, characters
 * outside a-z 0-9 . _ - as '-'. 0, or -1 with a message when the result is
 * still not a node name. */
static int node_from_host(char *out, size_t len)
{
    char host[256] = "", err[256];
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[strcspn(host, ".")] = '\0';
    size_t n = 0;
    for (const char *h = host; *h && n + 1 < len && n < NAMES_NODE_MAX; h++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*h);
        out[n++] = (isalnum(c) && c < 0x80) || c == '_' || c == '-' ? (char)c : '-';
    }
    out[n] = '\0';
    if (names_node_check(out, "the host name", err, sizeof err) != UERR_OK) {
        fprintf(stderr,
                "uniond init: the host name \"%s\" cannot name the node (%s);\n"
                "  give one with --node NAME\n",
                out, err);
        return -1;
    }
    return 0;
}

/* The group of a shared DATA: explicit (--group; "" for none), else
 * "uniond" when that group exists. *gid_out = (gid_t)-1 for none.
 * 0, or -1 with a message for a named group that does not exist. */
static int group_pick(gid_t *gid_out, int *explicit_out, const char *group)
{
    *gid_out = (gid_t)-1;
    *explicit_out = group != NULL;
    if (group && !*group)
        return 0;
    struct group *gr = getgrnam(group ? group : "uniond");
    if (gr) {
        *gid_out = gr->gr_gid;
        return 0;
    }
    if (!group)
        return 0;
    fprintf(stderr, "uniond init: there is no group \"%s\" (create it with: sudo addgroup %s)\n",
            group, group);
    return -1;
}

/* DATA shared with a group (0710 + the group: its members reach the
 * socket), or private (0700). The key and the store stay the service
 * user's alone either way. A default group the caller may not give away
 * (not a member) leaves DATA private with a note; an explicit one fails. */
static int data_modes_set(const char *data, const node_paths *np, gid_t gid, int explicit_group)
{
    mode_t mode = 0700;
    if (gid != (gid_t)-1) {
        if (chown(data, (uid_t)-1, gid) == 0) {
            mode = 0710;
        } else if (explicit_group) {
            fprintf(stderr, "uniond init: cannot give %s to the group (gid %lu): %s\n", data,
                    (unsigned long)gid, strerror(errno));
            return -1;
        } else {
            fprintf(stderr, "uniond init: note: %s stays private (not a member of group uniond)\n",
                    data);
        }
    }
    if (chmod(data, mode) != 0 || chmod(np->store, 0700) != 0 || chmod(np->key, 0600) != 0) {
        fprintf(stderr, "uniond init: cannot set the modes of %s: %s\n", data, strerror(errno));
        return -1;
    }
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    char databuf[4096], hostnode[NAMES_NODE_MAX + 1];
    const char *data = data_default(databuf, sizeof databuf, 0), *node = NULL, *office = NULL;
    const char *group = NULL, *office_name = NULL;
    gid_t gid;
    int explicit_group;
    const char *listen = DEFAULT_LISTEN;
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},   {"node", required_argument, 0, 'n'},
        {"office", required_argument, 0, 'o'}, {"listen", required_argument, 0, 'l'},
        {"group", required_argument, 0, 'g'},  {"office-name", required_argument, 0, 'O'},
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
        case 'g':
            group = optarg;
            break;
        case 'O':
            office_name = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!data || !office || optind != argc) {
        fprintf(stderr, "uniond init: --office CODE is required (and -d DATA without a home)\n");
        usage(stderr);
        return 2;
    }
    if (!node) {
        if (node_from_host(hostnode, sizeof hostnode) != 0)
            return 2;
        node = hostnode;
    }
    if (group_pick(&gid, &explicit_group, group) != 0)
        return 2;
    if (node_paths_make(&np, data) != 0)
        return 2;
    config_init(&cfg);
    if (config_node_set(&cfg, node, office, listen, err, sizeof err) != 0 ||
        config_office_name_set(&cfg, office_name, err, sizeof err) != 0) {
        fprintf(stderr, "uniond init: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    parents_make(data);
    if (mkdir(data, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "uniond init: cannot create %s: %s\n", data, strerror(errno));
        config_free(&cfg);
        return 1;
    }
    /* private by construction, even in a directory that existed (0755) */
    if (chmod(data, 0700) != 0) {
        fprintf(stderr, "uniond init: cannot make %s private (chmod 700): %s\n", data,
                strerror(errno));
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
    if (data_modes_set(data, &np, gid, explicit_group) != 0)
        goto cleanup;
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

/* ---- uniond restore (the steps: restore.c) ---------------------------------- */

/* uniond restore [-d DATA] [--node NAME] ... FILE: a node from a backup. */
static int cmd_restore(int argc, char **argv)
{
    char databuf[4096], hostnode[NAMES_NODE_MAX + 1], err[512], fpr[65];
    restore_args a;
    store_backup_info info;
    store_bundle_report rep;
    node_paths np;
    config cfg;
    gid_t gid;
    int explicit_group,
        rc = restore_args_parse(&a, argc, argv, data_default(databuf, sizeof databuf, 0),
                                DEFAULT_LISTEN);
    if (rc >= 0)
        return rc;
    if (store_backup_info_read(&info, a.file, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond restore: %s\n", err);
        return 1;
    }
    const char *node = a.same ? info.node : a.node;
    if (!node) {
        if (node_from_host(hostnode, sizeof hostnode) != 0)
            return 2;
        node = hostnode;
    }
    if (group_pick(&gid, &explicit_group, a.group) != 0 || node_paths_make(&np, a.data) != 0)
        return 2;
    config_init(&cfg);
    rc = 1;
    if (restore_config(&cfg, &a, node, a.office ? a.office : info.office) != 0)
        goto cleanup;
    parents_make(a.data);
    if ((mkdir(a.data, 0700) != 0 && errno != EEXIST) || chmod(a.data, 0700) != 0) {
        fprintf(stderr, "uniond restore: cannot create %s: %s\n", a.data, strerror(errno));
        goto cleanup;
    }
    if (access(np.conf, F_OK) == 0 || access(np.store, F_OK) == 0) {
        fprintf(stderr, "uniond restore: %s already holds a node; pick an empty directory\n",
                a.data);
        goto cleanup;
    }
    if (store_global_init() != 0) {
        fprintf(stderr, "uniond restore: libgit2 failed to initialise\n");
        goto cleanup;
    }
    if (store_restore(np.store, node, a.same, a.file, &rep, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond restore: %s\n  (remove %s before trying again)\n", err, np.store);
        goto shutdown;
    }
    if (restore_identity(&a, np.key, np.crt, node, fpr) != 0 ||
        data_modes_set(a.data, &np, gid, explicit_group) != 0)
        goto shutdown;
    /* The config is written last: its presence marks a complete node. */
    if (config_save(&cfg, np.conf, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond restore: %s\n", err);
        goto shutdown;
    }
    printf("restored node %s (office %s) in %s from %s\n", node, cfg.office, a.data, a.file);
    printf("backup of   %s, %zu branches\n", info.node, info.branches);
    printf("identity    %s\n", a.same ? "the same (key and certificate given)" : "new");
    printf("fingerprint %s\n", fpr);
    if (!a.same)
        printf("the peers must pin this fingerprint: unionctl peer add %s HOST:PORT %s\n", node,
               fpr);
    printf("start it with: uniond -d %s\n", a.data);
    rc = 0;
shutdown:
    store_global_shutdown();
cleanup:
    config_free(&cfg);
    return rc;
}

typedef struct {
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint, sighup;
    int signals;           /* the signal handles are initialised */
    const char *conf_path; /* re-read on SIGHUP */
    config *cfg;           /* the running config (peers keep a pointer to it too) */
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

/* How long SIGTERM waits for the running requests to be answered:
 * UNIOND_STOP_TIMEOUT_MS, default 60 s (under systemd's 90 s stop timeout,
 * so the answer is lost only when the write itself is that slow). */
static uint64_t stop_timeout_ms(void)
{
    const char *v = getenv("UNIOND_STOP_TIMEOUT_MS");
    char *end = NULL;
    unsigned long long ms = v ? strtoull(v, &end, 10) : 0;
    return v && *v && end && !*end ? (uint64_t)ms : 60000;
}

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
        control_close(d->ctl, stop_timeout_ms(), control_done, d);
    } else if (d->peers) {
        peers_close(d->peers, peers_done, d);
    } else if (d->q) {
        squeue_close(d->q, queue_drained, d);
    } else if (d->signals) {
        d->signals = 0;
        uv_close((uv_handle_t *)&d->sigterm, signal_closed);
        uv_close((uv_handle_t *)&d->sigint, signal_closed);
        uv_close((uv_handle_t *)&d->sighup, signal_closed);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_main *d = h->data;
    if (d->stopping)
        return;
    d->stopping = 1;
    sd_notify(0, "STOPPING=1");
    log_msg(LOG_INFO, "%s: finishing the running request and stopping",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_next(d);
}

/* `uniond -v`: debug whatever [log] level says, at start and after SIGHUP. */
static int verbose_flag;

/* Apply [log] level (or debug under -v). The line is written at info
 * before the level drops and after it rises, so it is always seen. */
static void log_level_apply(int level, int announce)
{
    if (verbose_flag)
        level = LOG_DEBUG;
    int old = log_level_get();
    if (level == old)
        return;
    if (announce && level < LOG_INFO)
        log_msg(LOG_INFO, "log level now %s", log_level_name(level));
    log_level_set(level);
    if (announce && level >= LOG_INFO)
        log_msg(LOG_INFO, "log level now %s", log_level_name(level));
}

/* SIGHUP: re-read the config and apply what can change live (the peers,
 * the log level) without dropping the sessions of peers that stay. A
 * config that does not load is logged and the running one kept. */
static void on_sighup(uv_signal_t *h, int signum)
{
    daemon_main *d = h->data;
    config n;
    char err[512];
    (void)signum;
    if (d->stopping || !d->peers)
        return;
    config_init(&n);
    if (config_load(&n, d->conf_path, err, sizeof err) != UERR_OK)
        log_msg(LOG_ERR, "SIGHUP: config not reloaded, the running one is kept: %s", err);
    else {
        /* the running config keeps the level, so a later `peer add`
         * (which rewrites the file from it) writes the level back */
        d->cfg->log_level = n.log_level;
        log_level_apply(n.log_level, 1);
        if (peers_reload(d->peers, &n, err, sizeof err) != UERR_OK)
            log_msg(LOG_ERR, "SIGHUP: config reload incomplete: %s", err);
        else
            log_msg(LOG_INFO, "SIGHUP: config %s reloaded", d->conf_path);
    }
    config_free(&n);
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

/* DATA and the store hold ID numbers: refuse to run while other users may
 * read, write or enter them (mode & 007). Group bits are left to the
 * administrator (a service group). 0, or -1 with a message saying how to
 * fix it. */
static int data_private_check(const char *data, const node_paths *np)
{
    const char *const dirs[] = {data, np->store};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        struct stat st;
        if (stat(dirs[i], &st) != 0) {
            fprintf(stderr, "uniond: cannot stat %s: %s\n", dirs[i], strerror(errno));
            return -1;
        }
        if (st.st_mode & 007) {
            fprintf(stderr,
                    "uniond: %s is open to other users (mode %03o): it holds member records.\n"
                    "  make it private first: chmod 700 %s\n",
                    dirs[i], (unsigned)(st.st_mode & 0777), dirs[i]);
            return -1;
        }
    }
    return 0;
}

/* A config of an older format (no [store] format: the release before the
 * key) is rewritten in this one; the store migrates itself in store_open.
 * 0, or -1 with a message. */
static int config_migrate(config *cfg, const char *path)
{
    char err[512];
    if (cfg->format >= CONFIG_FORMAT)
        return 0;
    if (config_save(cfg, path, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond: migrating the config: %s\n", err);
        return -1;
    }
    log_msg(LOG_INFO, "config migrated from format %d to %d", cfg->format, CONFIG_FORMAT);
    cfg->format = CONFIG_FORMAT;
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
    if (config_migrate(cfg, np->conf) != 0)
        return -1;
    ops->node = cfg->node;
    ops->office = cfg->office;
    ops->office_name = cfg->office_name;
    ops->listen = cfg->listen;
    ops->started_ms = clock_now_ms();
    if (ops_load(ops, err, sizeof err) != UERR_OK) {
        fprintf(stderr, "uniond: %s\n", err);
        return -1;
    }
    store_startup_done(ops->st);
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
    uv_signal_init(d->loop, &d->sighup);
    d->signals = 1;
    d->sigterm.data = d->sigint.data = d->sighup.data = d;
    d->conf_path = np->conf;
    d->cfg = cfg;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sighup, on_sighup, SIGHUP);
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
                "  uniond init -d %s --office CODE\n",
                data, data);
        return 1;
    }
    if (data_private_check(data, &np) != 0)
        return 1;
    if (data_lock(&lockfd, data, np.pid) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* until the loop handles it: reload, never die */
    if (store_global_init() != 0) {
        fprintf(stderr, "uniond: libgit2 failed to initialise\n");
        goto cleanup;
    }
    if (node_open(&cfg, &ops, &np) != 0)
        goto cleanup;
    log_init(cfg.node);
    log_level_apply(cfg.log_level, 1);
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
    /* the control socket listens: systemd may start what needs the node */
    sd_notify(0, "READY=1");
    uv_run(d.loop, UV_RUN_DEFAULT);
    /* every job has run and the index is the head's: keep it for the next
     * start (after an import of a million, 22 s of reading git saved) */
    store_save_index(ops.st, &ops.ix);
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
    if (argc >= 2 && strcmp(argv[1], "restore") == 0)
        return cmd_restore(argc - 1, argv + 1);
    char databuf[4096];
    const char *data = data_default(databuf, sizeof databuf, 1);
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
            verbose_flag = 1;
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
        fprintf(stderr, "uniond: no DATA directory: give -d DATA or set UNIOND_DATA (no HOME)\n");
        usage(stderr);
        return 2;
    }
    return cmd_run(data, offline);
}
