/* check.c - the config's values and object: the checks every value passes
 * (office codes, addresses; node names and fingerprints are proto/names),
 * config_init/free and the peer look-ups. Used by parse.c (reading the
 * file) and save.c (writing it, peer add/remove). No I/O here. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/config/config_internal.h"
#include "proto/utf8.h"

/* ---------------------------------------------------------------------- */
/* Validation                                                              */

uerr config_office_check(const char *office, const char *what, char *err, size_t errlen)
{
    static const char rule[] = "an office code is 1 to 32 characters from a-z 0-9 -, "
                               "starting with a letter";
    char show[96];
    if (!office || !*office) {
        return uerr_set(err, errlen, UERR_INVALID, "%s is empty; %s", what, rule);
    }
    size_t n = strlen(office);
    if (n > CONFIG_OFFICE_MAX) {
        return uerr_set(err, errlen, UERR_INVALID, "%s \"%s\" is %zu bytes long; %s", what,
                        CONFIG_SHOW(show, office), n, rule);
    }
    for (size_t i = 0; i < n; i++) {
        char ch = office[i];
        int ok = (ch >= 'a' && ch <= 'z');
        if (i > 0)
            ok = ok || (ch >= '0' && ch <= '9') || ch == '-';
        if (!ok) {
            char c1[8];
            return uerr_set(err, errlen, UERR_INVALID, "%s \"%s\" has '%s' at position %zu; %s",
                            what, CONFIG_SHOW(show, office),
                            names_show(c1, sizeof c1, office + i, 1), i + 1, rule);
        }
    }
    return UERR_OK;
}

uerr config_office_name_check(const char *name, const char *what, char *err, size_t errlen)
{
    static const char rule[] = "an office name is 1 to 32 characters of UTF-8 text (such as "
                               "鄞州区), without control characters, ';' or '#'";
    if (!name || !*name)
        return uerr_set(err, errlen, UERR_INVALID, "%s is empty; %s", what, rule);
    size_t n = strlen(name);
    long chars = utf8_valid(name, n) ? utf8_len(name, n) : -1;
    if (chars < 0)
        return uerr_set(err, errlen, UERR_INVALID, "%s is not valid UTF-8; %s", what, rule);
    if (chars > CONFIG_OFFICE_NAME_MAX)
        return uerr_set(err, errlen, UERR_INVALID, "%s is %ld characters long; %s", what, chars,
                        rule);
    if (name[0] == ' ' || name[n - 1] == ' ')
        return uerr_set(err, errlen, UERR_INVALID, "%s starts or ends with a space; %s", what,
                        rule);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || ch == ';' || ch == '#')
            return uerr_set(err, errlen, UERR_INVALID,
                            "%s has a forbidden character at byte %zu; %s", what, i + 1, rule);
    }
    return UERR_OK;
}

/* Split addr into host and port, with a message on failure (err may be
 * NULL). host may be NULL to only check. */
uerr config_addr_split(char *host, size_t hostlen, int *port, const char *addr, const char *what,
                       char *err, size_t errlen)
{
    static const char expect[] = "expected HOST:PORT such as 127.0.0.1:7420, localhost:7420 "
                                 "or [::1]:7420";
    char show[96];
    const char *h, *colon;
    size_t hlen;

    if (!addr || !*addr) {
        return uerr_set(err, errlen, UERR_INVALID, "%s is empty; %s", what, expect);
    }
    size_t n = strlen(addr);
    if (n > CONFIG_VALUE_MAX) {
        return uerr_set(err, errlen, UERR_INVALID, "%s is %zu bytes long; at most %d", what, n,
                        CONFIG_VALUE_MAX);
    }
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') {
            return uerr_set(err, errlen, UERR_INVALID,
                            "%s \"%s\": a bracketed IPv6 address must be followed by ]:PORT; %s",
                            what, CONFIG_SHOW(show, addr), expect);
        }
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        char v6[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        if (hlen == 0 || hlen >= sizeof v6) {
            return uerr_set(err, errlen, UERR_INVALID,
                            "%s \"%s\": \"%.*s\" is not an IPv6 address; %s", what,
                            CONFIG_SHOW(show, addr), (int)(hlen < 64 ? hlen : 64), h, expect);
        }
        memcpy(v6, h, hlen);
        v6[hlen] = '\0';
        if (inet_pton(AF_INET6, v6, &a6) != 1) {
            return uerr_set(err, errlen, UERR_INVALID,
                            "%s \"%s\": \"%s\" is not an IPv6 address; %s", what,
                            CONFIG_SHOW(show, addr), v6, expect);
        }
    } else {
        colon = strrchr(addr, ':');
        if (!colon) {
            return uerr_set(err, errlen, UERR_INVALID, "%s \"%s\" has no port; %s", what,
                            CONFIG_SHOW(show, addr), expect);
        }
        h = addr;
        hlen = (size_t)(colon - addr);
        if (memchr(h, ':', hlen)) {
            return uerr_set(err, errlen, UERR_INVALID,
                            "%s \"%s\": an IPv6 address needs brackets, as in [::1]:7420", what,
                            CONFIG_SHOW(show, addr));
        }
        if (hlen == 0) {
            return uerr_set(err, errlen, UERR_INVALID,
                            "%s \"%s\" has no host; %s (0.0.0.0 or [::] for every interface)", what,
                            CONFIG_SHOW(show, addr), expect);
        }
        if (hlen > CONFIG_HOST_MAX) {
            return uerr_set(err, errlen, UERR_INVALID, "%s: host is %zu bytes long; at most %d",
                            what, hlen, CONFIG_HOST_MAX);
        }
        for (size_t i = 0; i < hlen; i++) {
            char ch = h[i];
            int alnum =
                (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
            if (!alnum && (i == 0 || (ch != '.' && ch != '-' && ch != '_'))) {
                char c1[8];
                return uerr_set(err, errlen, UERR_INVALID,
                                "%s \"%s\": host has '%s' at position %zu; a host is a name or "
                                "IPv4 address (letters, digits, . - _, starting with a letter or "
                                "digit) or a bracketed IPv6 address",
                                what, CONFIG_SHOW(show, addr), names_show(c1, sizeof c1, h + i, 1),
                                i + 1);
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
        return uerr_set(err, errlen, UERR_INVALID,
                        "%s \"%s\": port \"%s\" is not a number from 0 to 65535", what,
                        CONFIG_SHOW(show, addr), names_show(pshow, sizeof pshow, ps, plen));
    }
    if (host) {
        if (hlen + 1 > hostlen) {
            return uerr_set(err, errlen, UERR_INVALID, "%s: host does not fit in %zu bytes", what,
                            hostlen);
        }
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    if (port)
        *port = (int)pv;
    return UERR_OK;
}

uerr config_addr_parse(char *host, size_t hostlen, int *port, const char *addr)
{
    if (!host || !port)
        return UERR_INVALID;
    return config_addr_split(host, hostlen, port, addr, "address", NULL, 0);
}

uerr config_listen_check(const char *listen, const char *what, char *err, size_t errlen)
{
    if (!listen || !*listen)
        return 0;
    return config_addr_split(NULL, 0, NULL, listen, what, err, errlen);
}

uerr config_address_check(const char *address, const char *what, char *err, size_t errlen)
{
    int port = 0;
    uerr e = config_addr_split(NULL, 0, &port, address, what, err, errlen);
    if (e != UERR_OK)
        return e;
    if (port == 0) {
        return uerr_set(
            err, errlen, UERR_INVALID,
            "%s \"%s\": port 0 cannot be connected to; give the port the peer listens on", what,
            address);
    }
    return UERR_OK;
}

char *config_fingerprint_dup(const char *fp)
{
    char norm[NAMES_FINGERPRINT_LEN + 1];
    if (names_fingerprint_norm(norm, fp) != UERR_OK)
        return NULL;
    return strdup(norm);
}

/* ---------------------------------------------------------------------- */
/* The config object                                                       */

void config_init(config *c)
{
    c->node = NULL;
    c->office = NULL;
    c->office_name = NULL;
    c->listen = NULL;
    c->peers = NULL;
    c->npeers = 0;
    c->max_pack_bytes = CONFIG_MAX_PACK_BYTES_DEFAULT;
    c->max_take_in_objects = CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT;
    c->want_stall_seconds = CONFIG_WANT_STALL_SECONDS_DEFAULT;
    c->new_branches_per_hour = CONFIG_NEW_BRANCHES_PER_HOUR_DEFAULT;
    c->log_level = LOG_INFO;
    c->format = CONFIG_FORMAT;
}

void config_peer_clear(config_peer *p)
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
    free(c->office_name);
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

int config_peers_dup_find(const config_peer *peers, size_t n, int by_fingerprint, size_t *first,
                          size_t *dup)
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
