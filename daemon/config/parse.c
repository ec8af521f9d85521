/* parse.c - reading DATA/uniond.conf: libinih, plus strict validation
 * with line numbers. Never writes anything.
 *
 * libinih is fed through our own line reader so that we can (a) refuse NUL
 * bytes and lines longer than inih's fixed line buffer instead of having
 * them silently split, (b) strip indentation, so inih never treats a line
 * as a continuation of the previous value, (c) know the line number of
 * every key, and (d) parse section headers ourselves: inih truncates
 * section names to 49 bytes, shorter than a [peer "NAME"] header can be. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "daemon/config/config_internal.h"

/* ---------------------------------------------------------------------- */
/* Parsing                                                                 */

typedef enum {
    SECTION_NONE,
    SECTION_NODE,
    SECTION_PEER,
    SECTION_SYNC,
    SECTION_STORE,
    SECTION_LOG,
    SECTION_BAD
} config_section;

enum { KEY_NAME, KEY_OFFICE, KEY_LISTEN, KEY_OFFICE_NAME };
enum { KEY_SECTION, KEY_ADDRESS, KEY_FINGERPRINT };
enum { KEY_MAX_PACK, KEY_NEW_BRANCHES, KEY_MAX_OBJECTS, KEY_WANT_STALL, KEY_SYNC_N };

typedef struct {
    const char *buf;
    size_t len, pos;
    int lineno;
    int stop;   /* reader: report end of input */
    config cfg; /* being built */
    size_t peercap;
    int (*peer_lines)[3]; /* per peer: lines of header, address, fingerprint */
    config_section section;
    size_t peer; /* current peer when section == SECTION_PEER */
    int node_lines[4];
    int node_line; /* line of [node], 0 if none yet */
    int sync_lines[KEY_SYNC_N];
    int sync_line;   /* line of [sync], 0 if none yet */
    int store_line;  /* line of [store], 0 if none yet */
    int format_line; /* line of format =, 0 if none yet */
    int log_line;    /* line of [log], 0 if none yet */
    int level_line;  /* line of level =, 0 if none yet */
    int err_line;    /* line of the first error recorded, 0 if none */
    int failed;
    uerr code; /* of the first error: UERR_INVALID unless memory ran out */
    char *err;
    size_t errlen;
} config_parser;

static void config_fail(config_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error (later ones are consequences or noise). line 0:
 * the message concerns the whole file. */
static void config_fail(config_parser *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    p->code = UERR_INVALID;
    p->err_line = line;
    if (!p->err || p->errlen == 0)
        return;
    int off = 0;
    if (line > 0)
        off = snprintf(p->err, p->errlen, "line %d: ", line);
    if (off < 0 || (size_t)off >= p->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + off, p->errlen - (size_t)off, fmt, ap);
    va_end(ap);
}

/* Record that memory ran out (the first error, like config_fail). */
static void config_fail_oom(config_parser *p, int line)
{
    int first = !p->failed;
    config_fail(p, line, "out of memory");
    if (first)
        p->code = UERR_NOMEM;
}

static int config_peer_append(config_parser *p, const char *name, size_t nlen)
{
    if (p->cfg.npeers == p->peercap) {
        size_t cap = p->peercap ? p->peercap * 2 : 8;
        if (cap > SIZE_MAX / sizeof(config_peer) || cap > SIZE_MAX / sizeof(*p->peer_lines))
            return -1;
        config_peer *np = realloc(p->cfg.peers, cap * sizeof *np);
        if (!np)
            return -1;
        p->cfg.peers = np;
        int(*nl)[3] = realloc(p->peer_lines, cap * sizeof *nl);
        if (!nl)
            return -1;
        p->peer_lines = nl;
        p->peercap = cap;
    }
    char *s = strndup(name, nlen);
    if (!s)
        return -1;
    config_peer *peer = &p->cfg.peers[p->cfg.npeers];
    peer->name = s;
    peer->address = NULL;
    peer->fingerprint = NULL;
    p->peer_lines[p->cfg.npeers][KEY_SECTION] = p->lineno;
    p->peer_lines[p->cfg.npeers][KEY_ADDRESS] = 0;
    p->peer_lines[p->cfg.npeers][KEY_FINGERPRINT] = 0;
    p->cfg.npeers++;
    return 0;
}

static int config_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* A "[...]" line (s has no leading whitespace, ends at NUL). */
static void config_section_parse(config_parser *p, const char *s)
{
    char show[96];
    int line = p->lineno;
    const char *close = strchr(s, ']');

    p->section = SECTION_BAD;
    if (!close) {
        config_fail(p, line,
                    "section header has no closing ']'; expected [node], [store], [sync], [log] or "
                    "[peer \"NAME\"]");
        return;
    }
    const char *rest = close + 1;
    while (config_is_space(*rest) || *rest == '\n')
        rest++;
    if (*rest && *rest != ';' && *rest != '#') {
        config_fail(p, line, "unexpected text after ']': \"%s\"",
                    names_show(show, sizeof show, rest, strcspn(rest, "\r\n")));
        return;
    }
    const char *b = s + 1, *e = close;
    while (b < e && config_is_space(*b))
        b++;
    while (e > b && config_is_space(e[-1]))
        e--;
    size_t n = (size_t)(e - b);
    if (n == 4 && memcmp(b, "node", 4) == 0) {
        if (p->node_line) {
            config_fail(p, line, "[node] appears twice (first on line %d); keep one", p->node_line);
            return;
        }
        p->node_line = line;
        p->section = SECTION_NODE;
        return;
    }
    if (n == 4 && memcmp(b, "sync", 4) == 0) {
        if (p->sync_line) {
            config_fail(p, line, "[sync] appears twice (first on line %d); keep one", p->sync_line);
            return;
        }
        p->sync_line = line;
        p->section = SECTION_SYNC;
        return;
    }
    if (n == 5 && memcmp(b, "store", 5) == 0) {
        if (p->store_line) {
            config_fail(p, line, "[store] appears twice (first on line %d); keep one",
                        p->store_line);
            return;
        }
        p->store_line = line;
        p->section = SECTION_STORE;
        return;
    }
    if (n == 3 && memcmp(b, "log", 3) == 0) {
        if (p->log_line) {
            config_fail(p, line, "[log] appears twice (first on line %d); keep one", p->log_line);
            return;
        }
        p->log_line = line;
        p->section = SECTION_LOG;
        return;
    }
    if (n > 4 && memcmp(b, "peer", 4) == 0 && config_is_space(b[4])) {
        const char *q = b + 4;
        while (q < e && config_is_space(*q))
            q++;
        if (q < e && *q == '"' && e - q >= 2 && e[-1] == '"') {
            const char *nb = q + 1;
            size_t nlen = (size_t)(e - 1 - nb);
            char name[CONFIG_NAME_MAX + 1];
            char msg[512];
            if (nlen > CONFIG_NAME_MAX || memchr(nb, '"', nlen)) {
                /* too long or a stray quote: let the check explain */
                char tmp[CONFIG_NAME_MAX + 2];
                size_t k = nlen > CONFIG_NAME_MAX ? CONFIG_NAME_MAX + 1 : nlen;
                memcpy(tmp, nb, k);
                tmp[k] = '\0';
                if (nlen > CONFIG_NAME_MAX)
                    config_fail(p, line, "peer name \"%s\" is %zu bytes long; at most %d",
                                names_show(show, sizeof show, nb, nlen), nlen, CONFIG_NAME_MAX);
                else if (names_node_check(tmp, "peer name", msg, sizeof msg) != 0)
                    config_fail(p, line, "%s", msg);
                return;
            }
            memcpy(name, nb, nlen);
            name[nlen] = '\0';
            if (names_node_check(name, "peer name", msg, sizeof msg) != 0) {
                config_fail(p, line, "%s", msg);
                return;
            }
            if (config_peer_append(p, name, nlen) != 0) {
                config_fail_oom(p, line);
                return;
            }
            p->peer = p->cfg.npeers - 1;
            p->section = SECTION_PEER;
            return;
        }
    }
    config_fail(p, line,
                "unknown section [%s]; expected [node], [store], [sync], [log] or [peer "
                "\"NAME\"]",
                names_show(show, sizeof show, b, n));
}

/* inih line reader: hands inih one line at a time, without indentation,
 * and parses section headers itself (see the top of the file). */
static char *config_reader(char *str, int num, void *stream)
{
    config_parser *p = stream;
    if (p->stop || p->pos >= p->len || num < 2)
        return NULL;
    const char *line = p->buf + p->pos;
    size_t left = p->len - p->pos;
    const char *nl = memchr(line, '\n', left);
    size_t n = nl ? (size_t)(nl - line) + 1 : left;
    p->pos += n;
    p->lineno++;
    if (memchr(line, '\0', n)) {
        config_fail(p, p->lineno, "contains a NUL byte; the config must be plain text");
        p->stop = 1;
        return NULL;
    }
    size_t skip = 0;
    if (p->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
        skip = 3; /* UTF-8 byte order mark */
    while (skip < n && config_is_space(line[skip]))
        skip++;
    size_t body = n - skip;
    if (body > (size_t)num - 1) {
        config_fail(p, p->lineno, "line is longer than %d bytes; no setting needs that much",
                    num - 2);
        p->stop = 1;
        return NULL;
    }
    memcpy(str, line + skip, body);
    str[body] = '\0';
    if (str[0] == '[')
        config_section_parse(p, str);
    return str;
}

/* Store value (validated by the caller) in *slot, recording the line. */
static int config_set(config_parser *p, char **slot, int *slot_line, const char *key,
                      const char *section_name, const char *value, int lower)
{
    if (*slot_line) {
        config_fail(p, p->lineno, "%s is set twice in %s (first on line %d); keep one", key,
                    section_name, *slot_line);
        return 0;
    }
    char *s = lower ? config_fingerprint_dup(value) : strdup(value);
    if (!s) {
        config_fail_oom(p, p->lineno);
        return 0;
    }
    free(*slot);
    *slot = s;
    *slot_line = p->lineno;
    return 1;
}

/* A whole number from lo to hi, digits only. 0 or -1 (not one). */
static int config_number(unsigned long long *out, const char *value, unsigned long long lo,
                         unsigned long long hi)
{
    unsigned long long v = 0;
    if (!*value || strspn(value, "0123456789") != strlen(value) || strlen(value) > 12)
        return -1;
    for (const char *c = value; *c; c++)
        v = v * 10 + (unsigned long long)(*c - '0');
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The keys of [sync], in the order of the KEY_ enum, with their ranges. */
static const struct {
    const char *name;
    unsigned long long lo, hi;
} sync_keys[KEY_SYNC_N] = {
    [KEY_MAX_PACK] = {"max_pack_bytes", CONFIG_MAX_PACK_BYTES_MIN, CONFIG_MAX_PACK_BYTES_MAX},
    [KEY_NEW_BRANCHES] = {"new_branches_per_hour", 0, CONFIG_NEW_BRANCHES_PER_HOUR_MAX},
    [KEY_MAX_OBJECTS] = {"max_take_in_objects", 1, CONFIG_MAX_TAKE_IN_OBJECTS_MAX},
    [KEY_WANT_STALL] = {"want_stall_seconds", 1, CONFIG_WANT_STALL_SECONDS_MAX},
};

/* A [sync] value out of its key's range: one whole message per key, so
 * that unionctl can translate each. */
static void config_sync_range_fail(config_parser *p, int i, const char *value)
{
    char buf[96];
    const char *show = CONFIG_SHOW(buf, value);
    switch (i) {
    case KEY_MAX_PACK:
        config_fail(p, p->lineno,
                    "max_pack_bytes \"%s\" is not a number of bytes from %llu (1 MiB) to %llu "
                    "(64 GiB)",
                    show, CONFIG_MAX_PACK_BYTES_MIN, CONFIG_MAX_PACK_BYTES_MAX);
        break;
    case KEY_NEW_BRANCHES:
        config_fail(p, p->lineno, "new_branches_per_hour \"%s\" is not a whole number from 0 to %u",
                    show, CONFIG_NEW_BRANCHES_PER_HOUR_MAX);
        break;
    case KEY_MAX_OBJECTS:
        config_fail(p, p->lineno, "max_take_in_objects \"%s\" is not a whole number from 1 to %llu",
                    show, CONFIG_MAX_TAKE_IN_OBJECTS_MAX);
        break;
    default:
        config_fail(p, p->lineno,
                    "want_stall_seconds \"%s\" is not a number of seconds from 1 to %u", show,
                    CONFIG_WANT_STALL_SECONDS_MAX);
        break;
    }
}

/* A key of [sync]: the limits a node puts on what its peers send. */
static int config_sync_key(config_parser *p, const char *key, const char *value)
{
    char show[96];
    unsigned long long v;
    int i = 0;
    while (i < KEY_SYNC_N && strcmp(key, sync_keys[i].name) != 0)
        i++;
    if (i == KEY_SYNC_N) {
        config_fail(p, p->lineno,
                    "unknown key \"%s\" in [sync]; expected max_pack_bytes, "
                    "max_take_in_objects, want_stall_seconds or new_branches_per_hour",
                    CONFIG_SHOW(show, key));
        return 0;
    }
    if (p->sync_lines[i]) {
        config_fail(p, p->lineno, "%s is set twice in [sync] (first on line %d); keep one", key,
                    p->sync_lines[i]);
        return 0;
    }
    if (config_number(&v, value, sync_keys[i].lo, sync_keys[i].hi) != 0) {
        config_sync_range_fail(p, i, value);
        return 0;
    }
    switch (i) {
    case KEY_MAX_PACK:
        p->cfg.max_pack_bytes = v;
        break;
    case KEY_NEW_BRANCHES:
        p->cfg.new_branches_per_hour = (unsigned)v;
        break;
    case KEY_MAX_OBJECTS:
        p->cfg.max_take_in_objects = v;
        break;
    default:
        p->cfg.want_stall_seconds = (unsigned)v;
        break;
    }
    p->sync_lines[i] = p->lineno;
    return 1;
}

/* [store] format: which release's format the file is in. */
static int config_store_key(config_parser *p, const char *key, const char *value)
{
    char show[96];
    unsigned long long v;
    if (strcmp(key, "format") != 0) {
        config_fail(p, p->lineno, "unknown key \"%s\" in [store]; expected format",
                    CONFIG_SHOW(show, key));
        return 0;
    }
    if (p->format_line) {
        config_fail(p, p->lineno, "format is set twice in [store] (first on line %d); keep one",
                    p->format_line);
        return 0;
    }
    if (config_number(&v, value, 0, 1000000) != 0) {
        config_fail(p, p->lineno, "format \"%s\" is not a whole number", CONFIG_SHOW(show, value));
        return 0;
    }
    if (v > CONFIG_FORMAT) {
        config_fail(p, p->lineno,
                    "format %llu: this file was written by a newer uniond (this one reads "
                    "formats up to %d); install that release or newer",
                    v, CONFIG_FORMAT);
        return 0;
    }
    p->cfg.format = (int)v;
    p->format_line = p->lineno;
    return 1;
}

/* [log] level: how much the daemon logs (re-read on SIGHUP). */
static int config_log_key(config_parser *p, const char *key, const char *value)
{
    char show[96];
    if (strcmp(key, "level") != 0) {
        config_fail(p, p->lineno, "unknown key \"%s\" in [log]; expected level",
                    CONFIG_SHOW(show, key));
        return 0;
    }
    if (p->level_line) {
        config_fail(p, p->lineno, "level is set twice in [log] (first on line %d); keep one",
                    p->level_line);
        return 0;
    }
    int level = log_level_parse(value);
    if (level < 0) {
        config_fail(p, p->lineno,
                    "level \"%s\" is not a log level; expected error, warn, info "
                    "or debug",
                    CONFIG_SHOW(show, value));
        return 0;
    }
    p->cfg.log_level = level;
    p->level_line = p->lineno;
    return 1;
}

static int config_handler(void *user, const char *section, const char *key, const char *value)
{
    config_parser *p = user;
    int line = p->lineno;
    char show[96], msg[512];
    (void)section; /* ours is in p->section: inih truncates long names */

    if (p->failed)
        return 1; /* only the first error is reported */
    size_t vlen = strlen(value);
    if (vlen > CONFIG_VALUE_MAX) {
        config_fail(p, line, "value of %s is %zu bytes long; at most %d", CONFIG_SHOW(show, key),
                    vlen, CONFIG_VALUE_MAX);
        return 0;
    }
    switch (p->section) {
    case SECTION_NONE:
        config_fail(p, line,
                    "\"%s\" is outside any section; put it under [node] or [peer \"NAME\"]",
                    CONFIG_SHOW(show, key));
        return 0;
    case SECTION_BAD:
        return 0;
    case SECTION_NODE:
        if (strcmp(key, "name") == 0) {
            if (names_node_check(value, "name", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &p->cfg.node, &p->node_lines[KEY_NAME], key, "[node]", value, 0);
        }
        if (strcmp(key, "office") == 0) {
            if (config_office_check(value, "office", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &p->cfg.office, &p->node_lines[KEY_OFFICE], key, "[node]", value,
                              0);
        }
        if (strcmp(key, "office_name") == 0) {
            if (config_office_name_check(value, "office_name", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &p->cfg.office_name, &p->node_lines[KEY_OFFICE_NAME], key,
                              "[node]", value, 0);
        }
        if (strcmp(key, "listen") == 0) {
            if (config_listen_check(value, "listen", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &p->cfg.listen, &p->node_lines[KEY_LISTEN], key, "[node]", value,
                              0);
        }
        config_fail(p, line,
                    "unknown key \"%s\" in [node]; expected name, office, office_name or listen",
                    CONFIG_SHOW(show, key));
        return 0;
    case SECTION_SYNC:
        return config_sync_key(p, key, value);
    case SECTION_STORE:
        return config_store_key(p, key, value);
    case SECTION_LOG:
        return config_log_key(p, key, value);
    case SECTION_PEER: {
        config_peer *peer = &p->cfg.peers[p->peer];
        int *lines = p->peer_lines[p->peer];
        char sect[CONFIG_NAME_MAX + 16];
        snprintf(sect, sizeof sect, "[peer \"%s\"]", peer->name);
        if (strcmp(key, "address") == 0) {
            if (config_address_check(value, "address", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &peer->address, &lines[KEY_ADDRESS], key, sect, value, 0);
        }
        if (strcmp(key, "fingerprint") == 0) {
            if (names_fingerprint_check(value, "fingerprint", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &peer->fingerprint, &lines[KEY_FINGERPRINT], key, sect, value, 1);
        }
        config_fail(p, line, "unknown key \"%s\" in %s; expected address or fingerprint",
                    CONFIG_SHOW(show, key), sect);
        return 0;
    }
    }
    return 0;
invalid:
    config_fail(p, line, "%s", msg);
    return 0;
}

/* Whole-file checks after every line was read. */
static void config_parse_finish(config_parser *p)
{
    config *c = &p->cfg;
    size_t first = 0, dup = 0;

    if (!p->node_line) {
        config_fail(p, 0,
                    "no [node] section; the config needs [node] with name = NODE and "
                    "office = OFFICE (`uniond init` writes one)");
        return;
    }
    if (!c->node) {
        config_fail(p, p->node_line, "[node] has no name = NODE");
        return;
    }
    if (!c->office) {
        config_fail(p, p->node_line, "[node] has no office = OFFICE");
        return;
    }
    for (size_t i = 0; i < c->npeers; i++) {
        const config_peer *peer = &c->peers[i];
        int line = p->peer_lines[i][KEY_SECTION];
        if (strcmp(peer->name, c->node) == 0) {
            config_fail(p, line,
                        "[peer \"%s\"] has this node's own name; a node does not peer with itself",
                        peer->name);
            return;
        }
        if (!peer->address) {
            config_fail(p, line, "[peer \"%s\"] has no address = HOST:PORT", peer->name);
            return;
        }
        if (!peer->fingerprint) {
            config_fail(p, line,
                        "[peer \"%s\"] has no fingerprint = FINGERPRINT (the 64 hex "
                        "digits `unionctl id` prints on that peer)",
                        peer->name);
            return;
        }
    }
    int r = config_peers_dup_find(c->peers, c->npeers, 0, &first, &dup);
    if (r > 0) {
        config_fail(p, p->peer_lines[dup][KEY_SECTION],
                    "[peer \"%s\"] appears twice (first on line %d); keep one", c->peers[dup].name,
                    p->peer_lines[first][KEY_SECTION]);
        return;
    }
    if (r == 0)
        r = config_peers_dup_find(c->peers, c->npeers, 1, &first, &dup);
    if (r > 0) {
        config_fail(p, p->peer_lines[dup][KEY_FINGERPRINT],
                    "peer \"%s\" has the same fingerprint as peer \"%s\" (line %d); each node "
                    "has its own key",
                    c->peers[dup].name, c->peers[first].name,
                    p->peer_lines[first][KEY_FINGERPRINT]);
        return;
    }
    if (r < 0) {
        config_fail_oom(p, 0);
        return;
    }
    if (!c->listen) {
        c->listen = strdup("");
        if (!c->listen)
            config_fail_oom(p, 0);
    }
}

uerr config_parse_buffer(config *c, const char *buf, size_t len, char *err, size_t errlen)
{
    config_parser p;

    memset(&p, 0, sizeof p);
    config_init(&p.cfg);
    p.cfg.format = 0; /* no [store] format: a file of the release before the key */
    p.buf = buf;
    p.len = len;
    p.err = err;
    p.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!c || (!buf && len)) {
        return uerr_set(err, errlen, UERR_INVALID,
                        "config_parse_buffer: no config or no text given");
    }
    if (len > CONFIG_FILE_MAX) {
        return uerr_set(err, errlen, UERR_INVALID, "config is %zu bytes; at most %d", len,
                        CONFIG_FILE_MAX);
    }
    int rc = ini_parse_stream(config_reader, &p, config_handler, &p);
    if (rc == -2) {
        p.failed = 0; /* overrides whatever was recorded */
        config_fail_oom(&p, 0);
    } else if (rc > 0 && (!p.failed || rc < p.err_line)) {
        /* an error only inih saw: a line it could not parse */
        p.failed = 0;
        config_fail(&p, rc, "expected \"key = value\", a [section] or a # comment");
    }
    if (!p.failed)
        config_parse_finish(&p);
    free(p.peer_lines);
    if (p.failed) {
        config_free(&p.cfg);
        return p.code;
    }
    config_free(c);
    *c = p.cfg;
    return UERR_OK;
}

uerr config_load(config *c, const char *path, char *err, size_t errlen)
{
    uerr rc = UERR_IO;
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    char msg[768];
    int fd = -1;

    if (!c || !path) {
        return uerr_set(err, errlen, UERR_INVALID, "config_load: no config or no path given");
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = uerr_set(err, errlen, errno == ENOENT ? UERR_NOTFOUND : UERR_IO,
                      "cannot open config %s: %s%s", path, strerror(errno),
                      errno == ENOENT ? " (create it with `uniond init -d DATA --node NAME "
                                        "--office CODE`)"
                                      : "");
        goto cleanup;
    }
    if (fstat(fd, &st) != 0) {
        rc = uerr_set(err, errlen, UERR_IO, "cannot stat config %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = uerr_set(err, errlen, UERR_INVALID, "config %s is not a regular file", path);
        goto cleanup;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        rc = uerr_set(err, errlen, UERR_INVALID,
                      "config %s is %lld bytes; at most %d (is it the right file?)", path,
                      (long long)st.st_size, CONFIG_FILE_MAX);
        goto cleanup;
    }
    /* One spare byte to notice a file that grew since fstat. */
    size_t cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (!buf) {
        rc = uerr_set(err, errlen, UERR_NOMEM, "out of memory reading config %s", path);
        goto cleanup;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = uerr_set(err, errlen, UERR_IO, "cannot read config %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            rc = uerr_set(err, errlen, UERR_BUSY, "config %s changed while being read; try again",
                          path);
            goto cleanup;
        }
    }
    uerr pe = config_parse_buffer(c, buf, len, msg, sizeof msg);
    if (pe != UERR_OK) {
        rc = uerr_set(err, errlen, pe, "%s: %s", path, msg);
        goto cleanup;
    }
    rc = UERR_OK;
cleanup:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}
