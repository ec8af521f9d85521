/* config.c - DATA/uniond.conf: parsing (libinih, plus strict validation
 * with line numbers), the writer (our own, atomic), and the peer list
 * operations behind `unionctl peer add/remove`. See config.h for the
 * format and limits.
 *
 * libinih is fed through our own line reader so that we can (a) refuse NUL
 * bytes and lines longer than inih's fixed line buffer instead of having
 * them silently split, (b) strip indentation, so inih never treats a line
 * as a continuation of the previous value, (c) know the line number of
 * every key, and (d) parse section headers ourselves: inih truncates
 * section names to 49 bytes, shorter than a [peer "NAME"] header can be. */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#define CONFIG_FINGERPRINT_LEN 64

static const char config_header[] =
    "# uniond node configuration. Edit with care; `unionctl peer add/remove` rewrites it.\n";

static void config_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A printable, bounded rendering of n bytes of s for error messages:
 * non-printable bytes as \xNN, long values cut with "...". */
static const char *config_show(char *out, size_t outlen, const char *s, size_t n)
{
    size_t o = 0;
    if (outlen < 5) {
        if (outlen)
            out[0] = '\0';
        return out;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int plain = ch >= 0x20 && ch < 0x7f && ch != '\\';
        /* keep room for "..." and the NUL unless this is the last byte */
        if (o + (plain ? 1 : 4) + (i + 1 < n ? 3 : 0) + 1 > outlen) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            out[o++] = (char)ch;
        } else {
            snprintf(out + o, outlen - o, "\\x%02x", ch);
            o += 4;
        }
    }
    out[o] = '\0';
    return out;
}

#define CONFIG_SHOW(buf, s) config_show((buf), sizeof(buf), (s), strlen(s))

/* ---------------------------------------------------------------------- */
/* Validation                                                              */

int config_node_name_check(const char *name, const char *what, char *err, size_t errlen)
{
    static const char rule[] = "a node name is 1 to 64 characters from a-z 0-9 . _ -, "
                               "starting with a letter or a digit";
    char show[96];
    if (!name || !*name) {
        config_err(err, errlen, "%s is empty; %s", what, rule);
        return -1;
    }
    size_t n = strlen(name);
    if (n > CONFIG_NAME_MAX) {
        config_err(err, errlen, "%s \"%s\" is %zu bytes long; %s", what, CONFIG_SHOW(show, name), n,
                   rule);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (i > 0)
            ok = ok || ch == '.' || ch == '_' || ch == '-';
        if (!ok) {
            char c1[8];
            config_err(err, errlen, "%s \"%s\" has '%s' at position %zu; %s", what,
                       CONFIG_SHOW(show, name), config_show(c1, sizeof c1, name + i, 1), i + 1,
                       rule);
            return -1;
        }
    }
    /* The name is also a git branch name (refs/heads/<name>). */
    if (strstr(name, "..") || name[n - 1] == '.' ||
        (n >= 5 && strcmp(name + n - 5, ".lock") == 0)) {
        config_err(err, errlen,
                   "%s \"%s\" cannot contain \"..\" or end in \".\" or \".lock\" "
                   "(it names a git branch)",
                   what, name);
        return -1;
    }
    return 0;
}

int config_office_check(const char *office, const char *what, char *err, size_t errlen)
{
    static const char rule[] = "an office code is 1 to 32 characters from a-z 0-9 -, "
                               "starting with a letter";
    char show[96];
    if (!office || !*office) {
        config_err(err, errlen, "%s is empty; %s", what, rule);
        return -1;
    }
    size_t n = strlen(office);
    if (n > CONFIG_OFFICE_MAX) {
        config_err(err, errlen, "%s \"%s\" is %zu bytes long; %s", what, CONFIG_SHOW(show, office),
                   n, rule);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = office[i];
        int ok = (ch >= 'a' && ch <= 'z');
        if (i > 0)
            ok = ok || (ch >= '0' && ch <= '9') || ch == '-';
        if (!ok) {
            char c1[8];
            config_err(err, errlen, "%s \"%s\" has '%s' at position %zu; %s", what,
                       CONFIG_SHOW(show, office), config_show(c1, sizeof c1, office + i, 1), i + 1,
                       rule);
            return -1;
        }
    }
    return 0;
}

/* Split addr into host and port, with a message on failure (err may be
 * NULL). host may be NULL to only check. */
static int config_addr_split(char *host, size_t hostlen, int *port, const char *addr,
                             const char *what, char *err, size_t errlen)
{
    static const char expect[] = "expected HOST:PORT such as 127.0.0.1:7420, localhost:7420 "
                                 "or [::1]:7420";
    char show[96];
    const char *h, *colon;
    size_t hlen;

    if (!addr || !*addr) {
        config_err(err, errlen, "%s is empty; %s", what, expect);
        return -1;
    }
    size_t n = strlen(addr);
    if (n > CONFIG_VALUE_MAX) {
        config_err(err, errlen, "%s is %zu bytes long; at most %d", what, n, CONFIG_VALUE_MAX);
        return -1;
    }
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') {
            config_err(err, errlen,
                       "%s \"%s\": a bracketed IPv6 address must be followed by ]:PORT; %s", what,
                       CONFIG_SHOW(show, addr), expect);
            return -1;
        }
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        char v6[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        if (hlen == 0 || hlen >= sizeof v6) {
            config_err(err, errlen, "%s \"%s\": \"%.*s\" is not an IPv6 address; %s", what,
                       CONFIG_SHOW(show, addr), (int)(hlen < 64 ? hlen : 64), h, expect);
            return -1;
        }
        memcpy(v6, h, hlen);
        v6[hlen] = '\0';
        if (inet_pton(AF_INET6, v6, &a6) != 1) {
            config_err(err, errlen, "%s \"%s\": \"%s\" is not an IPv6 address; %s", what,
                       CONFIG_SHOW(show, addr), v6, expect);
            return -1;
        }
    } else {
        colon = strrchr(addr, ':');
        if (!colon) {
            config_err(err, errlen, "%s \"%s\" has no port; %s", what, CONFIG_SHOW(show, addr),
                       expect);
            return -1;
        }
        h = addr;
        hlen = (size_t)(colon - addr);
        if (memchr(h, ':', hlen)) {
            config_err(err, errlen, "%s \"%s\": an IPv6 address needs brackets, as in [::1]:7420",
                       what, CONFIG_SHOW(show, addr));
            return -1;
        }
        if (hlen == 0) {
            config_err(err, errlen,
                       "%s \"%s\" has no host; %s (0.0.0.0 or [::] for every interface)", what,
                       CONFIG_SHOW(show, addr), expect);
            return -1;
        }
        if (hlen > CONFIG_HOST_MAX) {
            config_err(err, errlen, "%s: host is %zu bytes long; at most %d", what, hlen,
                       CONFIG_HOST_MAX);
            return -1;
        }
        for (size_t i = 0; i < hlen; i++) {
            char ch = h[i];
            int alnum =
                (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
            if (!alnum && (i == 0 || (ch != '.' && ch != '-' && ch != '_'))) {
                char c1[8];
                config_err(err, errlen,
                           "%s \"%s\": host has '%s' at position %zu; a host is a name or "
                           "IPv4 address (letters, digits, . - _, starting with a letter or "
                           "digit) or a bracketed IPv6 address",
                           what, CONFIG_SHOW(show, addr), config_show(c1, sizeof c1, h + i, 1),
                           i + 1);
                return -1;
            }
        }
    }
    /* PORT: 1 to 5 decimal digits, 0-65535 */
    const char *ps = colon + 1;
    size_t plen = strlen(ps);
    long pv = 0;
    int pok = plen >= 1 && plen <= 5;
    for (size_t i = 0; pok && i < plen; i++) {
        if (ps[i] < '0' || ps[i] > '9')
            pok = 0;
        else
            pv = pv * 10 + (ps[i] - '0');
    }
    if (!pok || pv > 65535) {
        char pshow[24];
        config_err(err, errlen, "%s \"%s\": port \"%s\" is not a number from 0 to 65535", what,
                   CONFIG_SHOW(show, addr), config_show(pshow, sizeof pshow, ps, plen));
        return -1;
    }
    if (host) {
        if (hlen + 1 > hostlen) {
            config_err(err, errlen, "%s: host does not fit in %zu bytes", what, hostlen);
            return -1;
        }
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    if (port)
        *port = (int)pv;
    return 0;
}

int config_addr_parse(char *host, size_t hostlen, int *port, const char *addr)
{
    if (!host || !port)
        return -1;
    return config_addr_split(host, hostlen, port, addr, "address", NULL, 0);
}

int config_listen_check(const char *listen, const char *what, char *err, size_t errlen)
{
    if (!listen || !*listen)
        return 0;
    return config_addr_split(NULL, 0, NULL, listen, what, err, errlen);
}

int config_address_check(const char *address, const char *what, char *err, size_t errlen)
{
    int port = 0;
    if (config_addr_split(NULL, 0, &port, address, what, err, errlen) != 0)
        return -1;
    if (port == 0) {
        config_err(err, errlen,
                   "%s \"%s\": port 0 cannot be connected to; give the port the peer listens on",
                   what, address);
        return -1;
    }
    return 0;
}

static int config_fingerprint_check(const char *fp, const char *what, char *err, size_t errlen)
{
    static const char rule[] = "a fingerprint is the 64 hex digits `unionctl id` prints on the "
                               "peer";
    char show[96];
    size_t n = fp ? strlen(fp) : 0;
    if (n != CONFIG_FINGERPRINT_LEN) {
        config_err(err, errlen, "%s \"%s\" is %zu characters long; %s", what,
                   fp ? CONFIG_SHOW(show, fp) : "", n, rule);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = fp[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))) {
            char c1[8];
            config_err(err, errlen, "%s has '%s' at position %zu; %s", what,
                       config_show(c1, sizeof c1, fp + i, 1), i + 1, rule);
            return -1;
        }
    }
    return 0;
}

/* malloc'd lowercase copy of a (valid) fingerprint. */
static char *config_fingerprint_dup(const char *fp)
{
    char *s = strdup(fp);
    for (char *p = s; p && *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return s;
}

/* ---------------------------------------------------------------------- */
/* The config object                                                       */

void config_init(config *c)
{
    c->node = NULL;
    c->office = NULL;
    c->listen = NULL;
    c->peers = NULL;
    c->npeers = 0;
}

static void config_peer_clear(config_peer *p)
{
    free(p->name);
    free(p->address);
    free(p->fingerprint);
    p->name = p->address = p->fingerprint = NULL;
}

void config_free(config *c)
{
    if (!c)
        return;
    free(c->node);
    free(c->office);
    free(c->listen);
    for (size_t i = 0; i < c->npeers; i++)
        config_peer_clear(&c->peers[i]);
    free(c->peers);
    config_init(c);
}

const config_peer *config_peer_find(const config *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->npeers; i++)
        if (c->peers[i].name && strcmp(c->peers[i].name, name) == 0)
            return &c->peers[i];
    return NULL;
}

const config_peer *config_peer_find_fingerprint(const config *c, const char *fingerprint)
{
    if (!c || !fingerprint)
        return NULL;
    for (size_t i = 0; i < c->npeers; i++)
        if (c->peers[i].fingerprint && strcasecmp(c->peers[i].fingerprint, fingerprint) == 0)
            return &c->peers[i];
    return NULL;
}

/* Duplicate detection over the peers in O(n log n): sort (key, index)
 * pairs and look at neighbours. Stores in *dup the later index of the
 * duplicate with the smallest such index, and in *first the earliest peer
 * with the same key. Returns 1 if there is a duplicate, 0 if none, -1 if
 * out of memory. */
typedef struct {
    const char *key;
    size_t index;
} config_sort_item;

static int config_item_cmp_name(const void *a, const void *b)
{
    const config_sort_item *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    return r ? r : (x->index < y->index ? -1 : x->index > y->index);
}

static int config_item_cmp_fingerprint(const void *a, const void *b)
{
    const config_sort_item *x = a, *y = b;
    int r = strcasecmp(x->key, y->key);
    return r ? r : (x->index < y->index ? -1 : x->index > y->index);
}

static int config_peers_dup_find(const config_peer *peers, size_t n, int by_fingerprint,
                                 size_t *first, size_t *dup)
{
    if (n < 2)
        return 0;
    config_sort_item *items = calloc(n, sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        items[i].key = by_fingerprint ? peers[i].fingerprint : peers[i].name;
        items[i].index = i;
    }
    int (*cmp)(const void *, const void *) =
        by_fingerprint ? config_item_cmp_fingerprint : config_item_cmp_name;
    qsort(items, n, sizeof *items, cmp);
    int found = 0;
    size_t run = 0; /* start of the current run of equal keys */
    for (size_t k = 1; k < n; k++) {
        int same = by_fingerprint ? strcasecmp(items[k - 1].key, items[k].key) == 0
                                  : strcmp(items[k - 1].key, items[k].key) == 0;
        if (!same) {
            run = k;
            continue;
        }
        /* a run is sorted by index: its first item is the earliest */
        if (!found || items[k].index < *dup) {
            *first = items[run].index;
            *dup = items[k].index;
            found = 1;
        }
    }
    free(items);
    return found;
}

/* ---------------------------------------------------------------------- */
/* Parsing                                                                 */

typedef enum { SECTION_NONE, SECTION_NODE, SECTION_PEER, SECTION_BAD } config_section;

enum { KEY_NAME, KEY_OFFICE, KEY_LISTEN };
enum { KEY_SECTION, KEY_ADDRESS, KEY_FINGERPRINT };

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
    int node_lines[3];
    int node_line; /* line of [node], 0 if none yet */
    int err_line;  /* line of the first error recorded, 0 if none */
    int failed;
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
                    "section header has no closing ']'; expected [node] or [peer \"NAME\"]");
        return;
    }
    const char *rest = close + 1;
    while (config_is_space(*rest) || *rest == '\n')
        rest++;
    if (*rest && *rest != ';' && *rest != '#') {
        config_fail(p, line, "unexpected text after ']': \"%s\"",
                    config_show(show, sizeof show, rest, strcspn(rest, "\r\n")));
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
                                config_show(show, sizeof show, nb, nlen), nlen, CONFIG_NAME_MAX);
                else if (config_node_name_check(tmp, "peer name", msg, sizeof msg) != 0)
                    config_fail(p, line, "%s", msg);
                return;
            }
            memcpy(name, nb, nlen);
            name[nlen] = '\0';
            if (config_node_name_check(name, "peer name", msg, sizeof msg) != 0) {
                config_fail(p, line, "%s", msg);
                return;
            }
            if (config_peer_append(p, name, nlen) != 0) {
                config_fail(p, line, "out of memory");
                return;
            }
            p->peer = p->cfg.npeers - 1;
            p->section = SECTION_PEER;
            return;
        }
    }
    config_fail(p, line, "unknown section [%s]; expected [node] or [peer \"NAME\"]",
                config_show(show, sizeof show, b, n));
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
        config_fail(p, p->lineno, "out of memory");
        return 0;
    }
    free(*slot);
    *slot = s;
    *slot_line = p->lineno;
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
            if (config_node_name_check(value, "name", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &p->cfg.node, &p->node_lines[KEY_NAME], key, "[node]", value, 0);
        }
        if (strcmp(key, "office") == 0) {
            if (config_office_check(value, "office", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &p->cfg.office, &p->node_lines[KEY_OFFICE], key, "[node]", value,
                              0);
        }
        if (strcmp(key, "listen") == 0) {
            if (config_listen_check(value, "listen", msg, sizeof msg) != 0)
                goto invalid;
            return config_set(p, &p->cfg.listen, &p->node_lines[KEY_LISTEN], key, "[node]", value,
                              0);
        }
        config_fail(p, line, "unknown key \"%s\" in [node]; expected name, office or listen",
                    CONFIG_SHOW(show, key));
        return 0;
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
            if (config_fingerprint_check(value, "fingerprint", msg, sizeof msg) != 0)
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
        config_fail(p, 0, "out of memory");
        return;
    }
    if (!c->listen) {
        c->listen = strdup("");
        if (!c->listen)
            config_fail(p, 0, "out of memory");
    }
}

int config_parse_buffer(config *c, const char *buf, size_t len, char *err, size_t errlen)
{
    config_parser p;

    memset(&p, 0, sizeof p);
    config_init(&p.cfg);
    p.buf = buf;
    p.len = len;
    p.err = err;
    p.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!c || (!buf && len)) {
        config_err(err, errlen, "config_parse_buffer: no config or no text given");
        return -1;
    }
    if (len > CONFIG_FILE_MAX) {
        config_err(err, errlen, "config is %zu bytes; at most %d", len, CONFIG_FILE_MAX);
        return -1;
    }
    int rc = ini_parse_stream(config_reader, &p, config_handler, &p);
    if (rc == -2) {
        p.failed = 0; /* overrides whatever was recorded */
        config_fail(&p, 0, "out of memory");
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
        return -1;
    }
    config_free(c);
    *c = p.cfg;
    return 0;
}

int config_load(config *c, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    char msg[768];
    int fd = -1;

    if (!c || !path) {
        config_err(err, errlen, "config_load: no config or no path given");
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        config_err(err, errlen, "cannot open config %s: %s%s", path, strerror(errno),
                   errno == ENOENT ? " (create it with `uniond init -d DATA --node NAME "
                                     "--office CODE`)"
                                   : "");
        goto cleanup;
    }
    if (fstat(fd, &st) != 0) {
        config_err(err, errlen, "cannot stat config %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        config_err(err, errlen, "config %s is not a regular file", path);
        goto cleanup;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        config_err(err, errlen, "config %s is %lld bytes; at most %d (is it the right file?)", path,
                   (long long)st.st_size, CONFIG_FILE_MAX);
        goto cleanup;
    }
    /* One spare byte to notice a file that grew since fstat. */
    size_t cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (!buf) {
        config_err(err, errlen, "out of memory reading config %s", path);
        goto cleanup;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            config_err(err, errlen, "cannot read config %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            config_err(err, errlen, "config %s changed while being read; try again", path);
            goto cleanup;
        }
    }
    if (config_parse_buffer(c, buf, len, msg, sizeof msg) != 0) {
        config_err(err, errlen, "%s: %s", path, msg);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */

typedef struct {
    char *data;
    size_t len, cap;
    int oom;
} config_text;

static void config_text_add(config_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void config_text_add(config_text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > SIZE_MAX / 2 - t->len - 1) {
        t->oom = 1;
        return;
    }
    size_t need = t->len + (size_t)n + 1;
    if (need > t->cap) {
        size_t cap = t->cap ? t->cap : 512;
        while (cap < need)
            cap *= 2;
        char *nd = realloc(t->data, cap);
        if (!nd) {
            t->oom = 1;
            return;
        }
        t->data = nd;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* Everything config_parse_buffer checks, on an in-memory config. */
static int config_validate(const config *c, char *err, size_t errlen)
{
    char msg[512];
    size_t first = 0, dup = 0;

    if (config_node_name_check(c->node, "node name", msg, sizeof msg) != 0 ||
        config_office_check(c->office, "office", msg, sizeof msg) != 0 ||
        config_listen_check(c->listen, "listen", msg, sizeof msg) != 0) {
        config_err(err, errlen, "%s", msg);
        return -1;
    }
    if (c->npeers && !c->peers) {
        config_err(err, errlen, "config has %zu peers but no peer array", c->npeers);
        return -1;
    }
    for (size_t i = 0; i < c->npeers; i++) {
        const config_peer *peer = &c->peers[i];
        if (config_node_name_check(peer->name, "peer name", msg, sizeof msg) != 0 ||
            config_address_check(peer->address, "address", msg, sizeof msg) != 0 ||
            config_fingerprint_check(peer->fingerprint, "fingerprint", msg, sizeof msg) != 0) {
            config_err(err, errlen, "peer %zu: %s", i + 1, msg);
            return -1;
        }
        if (strcmp(peer->name, c->node) == 0) {
            config_err(err, errlen, "peer \"%s\" has this node's own name", peer->name);
            return -1;
        }
    }
    int r = config_peers_dup_find(c->peers, c->npeers, 0, &first, &dup);
    if (r > 0) {
        config_err(err, errlen, "peer \"%s\" is listed twice", c->peers[dup].name);
        return -1;
    }
    if (r == 0)
        r = config_peers_dup_find(c->peers, c->npeers, 1, &first, &dup);
    if (r > 0) {
        config_err(err, errlen, "peers \"%s\" and \"%s\" have the same fingerprint",
                   c->peers[first].name, c->peers[dup].name);
        return -1;
    }
    if (r < 0) {
        config_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int config_format(const config *c, char **out, size_t *outlen, char *err, size_t errlen)
{
    config_text t = {0};

    *out = NULL;
    *outlen = 0;
    if (!c) {
        config_err(err, errlen, "config_format: no config given");
        return -1;
    }
    if (config_validate(c, err, errlen) != 0)
        return -1;
    config_text_add(&t, "%s[node]\nname = %s\noffice = %s\n", config_header, c->node, c->office);
    if (c->listen && *c->listen)
        config_text_add(&t, "listen = %s\n", c->listen);
    for (size_t i = 0; i < c->npeers; i++) {
        const config_peer *peer = &c->peers[i];
        char fp[CONFIG_FINGERPRINT_LEN + 1];
        for (size_t k = 0; k <= CONFIG_FINGERPRINT_LEN; k++) {
            char ch = peer->fingerprint[k];
            fp[k] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
        }
        config_text_add(&t, "\n[peer \"%s\"]\naddress = %s\nfingerprint = %s\n", peer->name,
                        peer->address, fp);
    }
    if (t.oom) {
        free(t.data);
        config_err(err, errlen, "out of memory formatting the config");
        return -1;
    }
    if (t.len > CONFIG_FILE_MAX) {
        free(t.data);
        config_err(err, errlen, "config would be over %d bytes; too many peers", CONFIG_FILE_MAX);
        return -1;
    }
    *out = t.data;
    *outlen = t.len;
    return 0;
}

static int config_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the directory holding path, so a rename in it is durable. */
static int config_dir_sync(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0 && saved == EINVAL) /* filesystem cannot sync directories */
        rc = 0;
    errno = saved;
    return rc;
}

int config_save(const config *c, const char *path, char *err, size_t errlen)
{
    int rc = -1, fd = -1, made = 0;
    char *text = NULL, *tmp = NULL;
    size_t len = 0;

    if (!c || !path || !*path) {
        config_err(err, errlen, "config_save: no config or no path given");
        return -1;
    }
    if (config_format(c, &text, &len, err, errlen) != 0)
        goto cleanup;
    size_t plen = strlen(path);
    tmp = malloc(plen + 5);
    if (!tmp) {
        config_err(err, errlen, "out of memory");
        goto cleanup;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    /* O_TRUNC: a .tmp left by a crash is ours to replace. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        config_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    made = 1;
    if (config_write_all(fd, text, len) != 0 || fsync(fd) != 0) {
        config_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0) {
        config_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (rename(tmp, path) != 0) {
        config_err(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto cleanup;
    }
    made = 0;
    if (config_dir_sync(path) != 0) {
        config_err(err, errlen, "wrote %s but cannot sync its directory: %s", path,
                   strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    free(tmp);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Changes                                                                 */

int config_node_set(config *c, const char *node, const char *office, const char *listen, char *err,
                    size_t errlen)
{
    if (!c) {
        config_err(err, errlen, "config_node_set: no config given");
        return -1;
    }
    if (!listen)
        listen = "";
    if (config_node_name_check(node, "node name", err, errlen) != 0 ||
        config_office_check(office, "office", err, errlen) != 0 ||
        config_listen_check(listen, "listen address", err, errlen) != 0)
        return -1;
    if (config_peer_find(c, node)) {
        config_err(err, errlen,
                   "node name \"%s\" is already a peer's name; remove that peer "
                   "first or choose another name",
                   node);
        return -1;
    }
    char *n = strdup(node), *o = strdup(office), *l = strdup(listen);
    if (!n || !o || !l) {
        free(n);
        free(o);
        free(l);
        config_err(err, errlen, "out of memory");
        return -1;
    }
    free(c->node);
    free(c->office);
    free(c->listen);
    c->node = n;
    c->office = o;
    c->listen = l;
    return 0;
}

int config_peer_add(config *c, const char *name, const char *address, const char *fingerprint,
                    char *err, size_t errlen)
{
    const config_peer *other;

    if (!c) {
        config_err(err, errlen, "config_peer_add: no config given");
        return -1;
    }
    if (config_node_name_check(name, "peer name", err, errlen) != 0 ||
        config_address_check(address, "peer address", err, errlen) != 0 ||
        config_fingerprint_check(fingerprint, "fingerprint", err, errlen) != 0)
        return -1;
    if (c->node && strcmp(c->node, name) == 0) {
        config_err(err, errlen, "\"%s\" is this node's own name; a node does not peer with itself",
                   name);
        return -1;
    }
    if (config_peer_find(c, name)) {
        config_err(err, errlen,
                   "peer \"%s\" is already configured; `unionctl peer remove %s` "
                   "first to change it",
                   name, name);
        return -1;
    }
    other = config_peer_find_fingerprint(c, fingerprint);
    if (other) {
        config_err(err, errlen,
                   "peer \"%s\" already has that fingerprint; each node has its "
                   "own key (check which node it belongs to)",
                   other->name);
        return -1;
    }
    if (c->npeers >= SIZE_MAX / sizeof(config_peer) - 1) {
        config_err(err, errlen, "too many peers");
        return -1;
    }
    config_peer p = {strdup(name), strdup(address), config_fingerprint_dup(fingerprint)};
    if (!p.name || !p.address || !p.fingerprint) {
        config_peer_clear(&p);
        config_err(err, errlen, "out of memory");
        return -1;
    }
    config_peer *np = realloc(c->peers, (c->npeers + 1) * sizeof *np);
    if (!np) {
        config_peer_clear(&p);
        config_err(err, errlen, "out of memory");
        return -1;
    }
    c->peers = np;
    c->peers[c->npeers++] = p;
    return 0;
}

int config_peer_remove(config *c, const char *name, char *err, size_t errlen)
{
    char show[96];
    const config_peer *peer = config_peer_find(c, name);
    if (!peer) {
        config_err(err, errlen, "no peer named \"%s\"; `unionctl peers` lists them",
                   name ? CONFIG_SHOW(show, name) : "");
        return -1;
    }
    size_t i = (size_t)(peer - c->peers);
    config_peer_clear(&c->peers[i]);
    memmove(&c->peers[i], &c->peers[i + 1], (c->npeers - i - 1) * sizeof c->peers[0]);
    c->npeers--;
    if (c->npeers == 0) {
        free(c->peers);
        c->peers = NULL;
    }
    return 0;
}
