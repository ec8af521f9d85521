/* faultproxy.c - a loopback TCP proxy that can cut a link on command: the
 * fallback of tests/faults/partition.sh where network namespaces are not
 * available. One process per directed link (node A dials node B through
 * it); it never looks at the bytes it forwards.
 *
 *   faultproxy TARGET_PORT [LISTEN_PORT]
 *
 * Listens on 127.0.0.1:LISTEN_PORT (0 or absent: any free port), prints
 * the bound port as one line on stdout, and forwards every connection to
 * 127.0.0.1:TARGET_PORT. Commands are signals, so a shell test needs no
 * control channel:
 *
 *   SIGUSR1  cut: close every open connection at once (both directions,
 *            mid-stream) and refuse new ones (accepted, then closed)
 *   SIGUSR2  heal: forward new connections again
 *   SIGTERM  exit
 *
 * Also (for the test's figures) SIGUSR1 counts the connections it broke
 * that had carried bytes: printed on stderr as "cut N (M mid-stream)".
 * Test tool only: single-threaded poll(2), at most MAXCONN connections,
 * no personal data ever passes through it but test records. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 64
#define BUFSZ 65536

typedef struct {
    int fd[2];     /* 0: accepted client side, 1: connection to the target */
    long moved;    /* bytes forwarded so far, both ways */
    int connected; /* the target connect finished */
} pair;

static volatile sig_atomic_t want_cut, want_heal, want_exit;

static void on_signal(int s)
{
    if (s == SIGUSR1)
        want_cut = 1;
    else if (s == SIGUSR2)
        want_heal = 1;
    else
        want_exit = 1;
}

static void pair_close(pair *p)
{
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] >= 0) {
            /* RST rather than FIN: a cut link does not say goodbye */
            struct linger l = {1, 0};
            setsockopt(p->fd[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
            close(p->fd[i]);
        }
        p->fd[i] = -1;
    }
    p->moved = 0;
    p->connected = 0;
}

static int target_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Move what is readable on p->fd[from] to p->fd[!from]. 0, or -1 when the
 * pair is done (EOF or error on either side). A short write blocks the
 * proxy briefly: fine for a test tool on loopback. */
static int pair_pump(pair *p, int from)
{
    char buf[BUFSZ];
    ssize_t n = read(p->fd[from], buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (n < 0)
        return 0;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(p->fd[!from], buf + off, (size_t)(n - off));
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {.fd = p->fd[!from], .events = POLLOUT};
            if (poll(&pf, 1, 1000) <= 0)
                return -1;
            continue;
        }
        if (w <= 0)
            return -1;
        off += w;
    }
    p->moved += n;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: faultproxy TARGET_PORT [LISTEN_PORT]\n");
        return 2;
    }
    int target = atoi(argv[1]), lport = argc > 2 ? atoi(argv[2]) : 0, cut = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("faultproxy: listen");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);

    pair pairs[MAXCONN];
    for (int i = 0; i < MAXCONN; i++)
        pairs[i].fd[0] = pairs[i].fd[1] = -1, pairs[i].moved = 0, pairs[i].connected = 0;
    while (!want_exit) {
        if (want_cut) {
            int n = 0, mid = 0;
            for (int i = 0; i < MAXCONN; i++)
                if (pairs[i].fd[0] >= 0) {
                    n++;
                    mid += pairs[i].moved > 0;
                    pair_close(&pairs[i]);
                }
            fprintf(stderr, "cut %d (%d mid-stream)\n", n, mid);
            want_cut = 0;
            cut = 1;
        }
        if (want_heal) {
            want_heal = 0;
            cut = 0;
        }
        struct pollfd pf[1 + 2 * MAXCONN];
        int map[1 + 2 * MAXCONN], np = 0;
        pf[np] = (struct pollfd){.fd = lfd, .events = POLLIN};
        map[np++] = -1;
        for (int i = 0; i < MAXCONN; i++) {
            if (pairs[i].fd[0] < 0)
                continue;
            /* the client's bytes wait until the target is connected */
            pf[np] =
                (struct pollfd){.fd = pairs[i].fd[0], .events = pairs[i].connected ? POLLIN : 0};
            map[np++] = 2 * i;
            pf[np] = (struct pollfd){.fd = pairs[i].fd[1],
                                     .events = pairs[i].connected ? POLLIN : POLLOUT};
            map[np++] = 2 * i + 1;
        }
        if (poll(pf, (nfds_t)np, 200) < 0) {
            if (errno == EINTR)
                continue;
            perror("faultproxy: poll");
            return 1;
        }
        for (int k = 1; k < np; k++) {
            if (!pf[k].revents)
                continue;
            pair *p = &pairs[map[k] / 2];
            int side = map[k] % 2;
            if (p->fd[0] < 0)
                continue; /* closed earlier in this round */
            if (side == 1 && !p->connected) {
                int e = 0;
                socklen_t el = sizeof e;
                getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &e, &el);
                if (e || (pf[k].revents & (POLLERR | POLLHUP)))
                    pair_close(p);
                else
                    p->connected = 1;
                continue;
            }
            if (pair_pump(p, side) != 0)
                pair_close(p);
        }
        if (pf[0].revents & POLLIN) {
            int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            if (c < 0)
                continue;
            int slot = -1;
            for (int i = 0; i < MAXCONN && slot < 0; i++)
                if (pairs[i].fd[0] < 0)
                    slot = i;
            int t = (cut || slot < 0) ? -1 : target_dial(target);
            if (t < 0) {
                struct linger l = {1, 0};
                setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                close(c); /* refused: the link is down */
                continue;
            }
            pairs[slot].fd[0] = c;
            pairs[slot].fd[1] = t;
            pairs[slot].moved = 0;
            pairs[slot].connected = 0;
        }
    }
    for (int i = 0; i < MAXCONN; i++)
        if (pairs[i].fd[0] >= 0)
            pair_close(&pairs[i]);
    close(lfd);
    return 0;
}
