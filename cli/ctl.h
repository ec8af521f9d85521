/* ctl.h - unionctl's blocking client for the daemon's control socket:
 * connect to DATA/uniond.sock, send one framed msgpack request, read one
 * framed reply. */
#ifndef UNIOND_CTL_H
#define UNIOND_CTL_H

#include <msgpack.h>
#include <stddef.h>

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_UNREACHABLE = 3 };

/* Send req to the daemon of DATA and unpack its reply into *reply (which
 * the caller initialised and later destroys). Returns CTL_OK,
 * CTL_UNREACHABLE (no daemon: err says how to start one) or CTL_FAILED
 * (err says why). The reply's strings point into *body (malloc'd; the
 * caller frees it once done with the reply). */
int ctl_call(msgpack_unpacked *reply, char **body, const char *data, const char *req, size_t reqlen,
             char *err, size_t errlen);

/* on = 1: keep the connection of a request that was answered and use it
 * for the next request to the same DATA (unionctl batch); on = 0: close it,
 * and one connection per request again. */
void ctl_keep(int on);

#endif
