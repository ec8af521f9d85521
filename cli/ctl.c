/* ctl.c - blocking control-socket client (see ctl.h). One connection per
 * request, or, while ctl_keep is on (unionctl batch), one kept for every
 * request to the same DATA: the daemon answers requests on a connection
 * one after the other (docs/CONTROL.md). */
#include "cli/errtext.h"
#include "cli/ctl.h"
#include "cli/i18n.h"

#include "proto/frame.h"
#include "proto/msg.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The kept connection (ctl_keep): its socket and the path it reached. */
static struct {
    int on, fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} kept = {0, -1, ""};

void ctl_keep(int on)
{
    kept.on = on;
    if (!on && kept.fd >= 0) {
        close(kept.fd);
        kept.fd = -1;
    }
}

/* Move all len bytes through fd: written when out is 1, read when 0
 * (retrying after signals and short transfers). 0, or -1 on an error or
 * end of file. Writes never raise SIGPIPE: a daemon gone is an error. */
static int io_full(int fd, void *buf, size_t len, int out)
{
    char *p = buf;
    while (len) {
        ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The caller's login name for a hint ("$USER" when unknown). */
static const char *cli_login_name(void)
{
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : "$USER";
}

int ctl_call(msgpack_unpacked *reply, char **bodyp, const char *data, const char *req,
             size_t reqlen, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    uint8_t hdr[FRAME_HEADER_LEN];
    char *body = NULL;
    int fd = -1, rc = CTL_FAILED;
    *bodyp = NULL;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/uniond.sock", data) >=
        sizeof sa.sun_path) {
        snprintf(err, errlen,
                 _("the path %s/uniond.sock is too long for a socket; use a shorter DATA"), data);
        return CTL_FAILED;
    }
    if (kept.fd >= 0) {
        /* reuse it unless it leads elsewhere or the daemon closed it
         * meanwhile (stopped, restarted): then a new one, as without keep */
        struct pollfd p = {.fd = kept.fd, .events = POLLIN};
        if (strcmp(kept.path, sa.sun_path) == 0 && poll(&p, 1, 0) == 0) {
            fd = kept.fd;
            kept.fd = -1;
            goto connected;
        }
        close(kept.fd);
        kept.fd = -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, _("socket: %s"), errtext_strerror(errno));
        return CTL_FAILED;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (e == ENOENT || e == ECONNREFUSED) {
            snprintf(err, errlen,
                     _("uniond is not running on %s (no answer on %s); start it with:\n"
                       "  uniond -d %s"),
                     data, sa.sun_path, data);
            rc = CTL_UNREACHABLE;
        } else if (e == EACCES) {
            /* the socket is 0660 for the service's group (uniond init --group) */
            snprintf(err, errlen,
                     _("cannot reach uniond on %s: %s.\n"
                       "  Only members of the node's group may use it; ask the administrator "
                       "to add you\n"
                       "  (sudo adduser %s uniond), then log in again"),
                     sa.sun_path, errtext_strerror(e), cli_login_name());
            rc = CTL_FAILED;
        } else {
            snprintf(err, errlen, _("cannot reach uniond on %s: %s"), sa.sun_path,
                     errtext_strerror(e));
            rc = e == EACCES ? CTL_FAILED : CTL_UNREACHABLE;
        }
        goto cleanup;
    }
connected:
    if (reqlen > FRAME_CONTROL_MAX) {
        snprintf(err, errlen, _("request too large (%zu bytes, the limit is %u)"), reqlen,
                 FRAME_CONTROL_MAX);
        goto cleanup;
    }
    frame_header_put(hdr, (uint32_t)reqlen);
    if (io_full(fd, hdr, sizeof hdr, 1) != 0 || io_full(fd, (void *)req, reqlen, 1) != 0) {
        snprintf(err, errlen, _("uniond closed the connection while we sent the request"));
        rc = CTL_UNREACHABLE;
        goto cleanup;
    }
    if (io_full(fd, hdr, sizeof hdr, 0) != 0) {
        snprintf(err, errlen, _("uniond closed the connection before answering (is it stopping?)"));
        rc = CTL_UNREACHABLE;
        goto cleanup;
    }
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n == 0 || n > FRAME_CONTROL_MAX) {
        snprintf(err, errlen, _("uniond sent a bad frame (length %u)"), n);
        goto cleanup;
    }
    body = malloc(n);
    if (!body || io_full(fd, body, n, 0) != 0) {
        snprintf(err, errlen, _("reply from uniond was cut short"));
        goto cleanup;
    }
    if (msg_unpack(reply, body, n) != 0 || reply->data.type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errlen, _("uniond sent a reply that is not a msgpack map"));
        goto cleanup;
    }
    rc = CTL_OK;
    *bodyp = body; /* msgpack-c unpacks strings in place: keep the bytes */
    body = NULL;
    if (kept.on) { /* a whole answer read: the connection is ready for the next */
        kept.fd = fd;
        memcpy(kept.path, sa.sun_path, sizeof kept.path);
        fd = -1;
    }
cleanup:
    free(body);
    if (fd >= 0)
        close(fd);
    return rc;
}
