/* save.c - writing DATA/uniond.conf and the edits behind `uniond init`
 * and `unionctl peer add/remove`. The text is our own (comments are not
 * kept); the file is replaced through fsutil_write_atomic, never written
 * in place. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config/config_internal.h"
#include "daemon/util/fsutil.h"
#include "proto/buf.h"

static const char config_header[] =
    "# uniond node configuration. Edit with care; `unionctl peer add/remove` rewrites it.\n";

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */

/* Everything config_parse_buffer checks, on an in-memory config. */
static uerr config_validate(const config *c, char *err, size_t errlen)
{
    char msg[512];
    size_t first = 0, dup = 0;

    if (names_node_check(c->node, "node name", msg, sizeof msg) != 0 ||
        config_office_check(c->office, "office", msg, sizeof msg) != 0 ||
        config_listen_check(c->listen, "listen", msg, sizeof msg) != 0 ||
        (c->office_name &&
         config_office_name_check(c->office_name, "office_name", msg, sizeof msg) != 0)) {
        return uerr_set(err, errlen, UERR_INVALID, "%s", msg);
    }
    if (c->log_level < LOG_ERR || c->log_level > LOG_DEBUG)
        return uerr_set(err, errlen, UERR_INVALID, "log level %d is not one of 0 to 3",
                        c->log_level);
    if (c->npeers && !c->peers) {
        return uerr_set(err, errlen, UERR_INVALID, "config has %zu peers but no peer array",
                        c->npeers);
    }
    for (size_t i = 0; i < c->npeers; i++) {
        const config_peer *peer = &c->peers[i];
        if (names_node_check(peer->name, "peer name", msg, sizeof msg) != 0 ||
            config_address_check(peer->address, "address", msg, sizeof msg) != 0 ||
            names_fingerprint_check(peer->fingerprint, "fingerprint", msg, sizeof msg) != 0) {
            return uerr_set(err, errlen, UERR_INVALID, "peer %zu: %s", i + 1, msg);
        }
        if (strcmp(peer->name, c->node) == 0) {
            return uerr_set(err, errlen, UERR_INVALID, "peer \"%s\" has this node's own name",
                            peer->name);
        }
    }
    int r = config_peers_dup_find(c->peers, c->npeers, 0, &first, &dup);
    if (r > 0) {
        return uerr_set(err, errlen, UERR_INVALID, "peer \"%s\" is listed twice",
                        c->peers[dup].name);
    }
    if (r == 0)
        r = config_peers_dup_find(c->peers, c->npeers, 1, &first, &dup);
    if (r > 0) {
        return uerr_set(err, errlen, UERR_INVALID,
                        "peers \"%s\" and \"%s\" have the same fingerprint", c->peers[first].name,
                        c->peers[dup].name);
    }
    if (r < 0) {
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    return UERR_OK;
}

uerr config_format(const config *c, char **out, size_t *outlen, char *err, size_t errlen)
{
    struct buf t = BUF_INIT;
    uerr e;

    *out = NULL;
    *outlen = 0;
    if (!c)
        return uerr_set(err, errlen, UERR_INVALID, "config_format: no config given");
    e = config_validate(c, err, errlen);
    if (e != UERR_OK)
        return e;
    e = buf_printf(&t, "%s[node]\nname = %s\noffice = %s\n", config_header, c->node, c->office);
    if (e == UERR_OK && c->office_name) /* only when set: files stay as before */
        e = buf_printf(&t, "office_name = %s\n", c->office_name);
    if (e == UERR_OK && c->listen && *c->listen)
        e = buf_printf(&t, "listen = %s\n", c->listen);
    if (e == UERR_OK)
        e = buf_printf(&t, "\n[store]\nformat = %d\n", CONFIG_FORMAT);
    /* [sync] only when it differs from the defaults: files stay as before */
    if (e == UERR_OK && (c->max_pack_bytes != CONFIG_MAX_PACK_BYTES_DEFAULT ||
                         c->new_branches_per_hour != CONFIG_NEW_BRANCHES_PER_HOUR_DEFAULT ||
                         c->max_take_in_objects != CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT ||
                         c->want_stall_seconds != CONFIG_WANT_STALL_SECONDS_DEFAULT))
        e = buf_printf(&t, "\n[sync]\nmax_pack_bytes = %llu\nnew_branches_per_hour = %u\n",
                       c->max_pack_bytes, c->new_branches_per_hour);
    /* the newer keys only when set, so files that never had them stay as before */
    if (e == UERR_OK && c->max_take_in_objects != CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT)
        e = buf_printf(&t, "max_take_in_objects = %llu\n", c->max_take_in_objects);
    if (e == UERR_OK && c->want_stall_seconds != CONFIG_WANT_STALL_SECONDS_DEFAULT)
        e = buf_printf(&t, "want_stall_seconds = %u\n", c->want_stall_seconds);
    /* [log] only when not the default, like [sync] */
    if (e == UERR_OK && c->log_level != LOG_INFO)
        e = buf_printf(&t, "\n[log]\nlevel = %s\n", log_level_name(c->log_level));
    for (size_t i = 0; e == UERR_OK && i < c->npeers; i++) {
        const config_peer *peer = &c->peers[i];
        char fp[NAMES_FINGERPRINT_LEN + 1];
        e = names_fingerprint_norm(fp, peer->fingerprint); /* valid: checked above */
        assert(e == UERR_OK);
        e = buf_printf(&t, "\n[peer \"%s\"]\naddress = %s\nfingerprint = %s\n", peer->name,
                       peer->address, fp);
    }
    if (e != UERR_OK) {
        buf_free(&t);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory formatting the config");
    }
    if (t.len > CONFIG_FILE_MAX) {
        buf_free(&t);
        return uerr_set(err, errlen, UERR_INVALID, "config would be over %d bytes; too many peers",
                        CONFIG_FILE_MAX);
    }
    *out = buf_detach(&t, outlen);
    if (!*out)
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory formatting the config");
    return UERR_OK;
}

uerr config_save(const config *c, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;

    if (!c || !path || !*path)
        return uerr_set(err, errlen, UERR_INVALID, "config_save: no config or no path given");
    uerr e = config_format(c, &text, &len, err, errlen);
    if (e != UERR_OK)
        return e;
    e = fsutil_write_atomic(path, text, len, 0644, err, errlen);
    free(text);
    return e;
}

/* ---------------------------------------------------------------------- */
/* Changes                                                                 */

uerr config_office_name_set(config *c, const char *name, char *err, size_t errlen)
{
    char *copy = NULL;
    if (!c)
        return uerr_set(err, errlen, UERR_INVALID, "config_office_name_set: no config given");
    if (name && *name) {
        uerr e = config_office_name_check(name, "office name", err, errlen);
        if (e != UERR_OK)
            return e;
        if (!(copy = strdup(name)))
            return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    free(c->office_name);
    c->office_name = copy;
    return UERR_OK;
}

uerr config_node_set(config *c, const char *node, const char *office, const char *listen, char *err,
                     size_t errlen)
{
    if (!c) {
        return uerr_set(err, errlen, UERR_INVALID, "config_node_set: no config given");
    }
    if (!listen)
        listen = "";
    if (names_node_check(node, "node name", err, errlen) != 0 ||
        config_office_check(office, "office", err, errlen) != 0 ||
        config_listen_check(listen, "listen address", err, errlen) != 0)
        return UERR_INVALID;
    if (config_peer_find(c, node)) {
        return uerr_set(err, errlen, UERR_CONFLICT,
                        "node name \"%s\" is already a peer's name; remove that peer "
                        "first or choose another name",
                        node);
    }
    char *n = strdup(node), *o = strdup(office), *l = strdup(listen);
    if (!n || !o || !l) {
        free(n);
        free(o);
        free(l);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    free(c->node);
    free(c->office);
    free(c->listen);
    c->node = n;
    c->office = o;
    c->listen = l;
    return UERR_OK;
}

uerr config_peer_add(config *c, const char *name, const char *address, const char *fingerprint,
                     char *err, size_t errlen)
{
    const config_peer *other;

    if (!c) {
        return uerr_set(err, errlen, UERR_INVALID, "config_peer_add: no config given");
    }
    if (names_node_check(name, "peer name", err, errlen) != 0 ||
        config_address_check(address, "peer address", err, errlen) != 0 ||
        names_fingerprint_check(fingerprint, "fingerprint", err, errlen) != 0)
        return UERR_INVALID;
    if (c->node && strcmp(c->node, name) == 0) {
        return uerr_set(err, errlen, UERR_INVALID,
                        "\"%s\" is this node's own name; a node does not peer with itself", name);
    }
    if (config_peer_find(c, name)) {
        return uerr_set(err, errlen, UERR_CONFLICT,
                        "peer \"%s\" is already configured; `unionctl peer remove %s` "
                        "first to change it",
                        name, name);
    }
    other = config_peer_find_fingerprint(c, fingerprint);
    if (other) {
        return uerr_set(err, errlen, UERR_CONFLICT,
                        "peer \"%s\" already has that fingerprint; each node has its "
                        "own key (check which node it belongs to)",
                        other->name);
    }
    if (c->npeers >= SIZE_MAX / sizeof(config_peer) - 1) {
        return uerr_set(err, errlen, UERR_INVALID, "too many peers");
    }
    config_peer p = {strdup(name), strdup(address), config_fingerprint_dup(fingerprint)};
    if (!p.name || !p.address || !p.fingerprint) {
        config_peer_clear(&p);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    config_peer *np = realloc(c->peers, (c->npeers + 1) * sizeof *np);
    if (!np) {
        config_peer_clear(&p);
        return uerr_set(err, errlen, UERR_NOMEM, "out of memory");
    }
    c->peers = np;
    c->peers[c->npeers++] = p;
    return UERR_OK;
}

uerr config_peer_remove(config *c, const char *name, char *err, size_t errlen)
{
    char show[96];
    const config_peer *peer = config_peer_find(c, name);
    if (!peer) {
        return uerr_set(err, errlen, UERR_NOTFOUND,
                        "no peer named \"%s\"; `unionctl peers` lists them",
                        name ? CONFIG_SHOW(show, name) : "");
    }
    size_t i = (size_t)(peer - c->peers);
    config_peer_clear(&c->peers[i]);
    memmove(&c->peers[i], &c->peers[i + 1], (c->npeers - i - 1) * sizeof c->peers[0]);
    c->npeers--;
    if (c->npeers == 0) {
        free(c->peers);
        c->peers = NULL;
    }
    return UERR_OK;
}
