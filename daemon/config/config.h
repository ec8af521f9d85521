/* config.h - the node configuration, DATA/uniond.conf: this node's name,
 * office and listen address, and the pinned peers (name, address, key
 * fingerprint). Read with libinih, validated strictly (every problem is
 * reported with its line number), written back atomically by our own writer
 * (`unionctl peer add/remove` rewrites the file; comments are not kept).
 *
 *   # uniond node configuration. Edit with care; ...
 *   [node]
 *   name = yinzhou-01
 *   office = yinzhou
 *   listen = 127.0.0.1:7420
 *
 *   [peer "haishu-01"]
 *   address = 127.0.0.1:7421
 *   fingerprint = <64 hex digits: identity_fingerprint() of the peer>
 *
 *   [store]
 *   format = 1                    (CONFIG_FORMAT; absent in older files = 0)
 *
 *   [sync]                        (optional; the defaults below)
 *   max_pack_bytes = 4294967296   one take-in's pack (a peer's or a bundle's), bytes
 *   max_take_in_objects = 8000000 objects in one take-in's pack
 *   want_stall_seconds = 60       a WANT's answer making no progress this long: given up
 *   new_branches_per_hour = 32    branches of unknown nodes per peer and hour
 *
 *   [log]                         (optional)
 *   level = info                  error, warn, info (default) or debug; applied
 *                                 at start and again on SIGHUP
 *
 * Limits: node and peer names [a-z0-9][a-z0-9._-]*, at most 64 bytes, and
 * usable as git branch names (no "..", not ending in "." or ".lock");
 * office [a-z][a-z0-9-]*, at most 32 bytes; addresses HOST:PORT with HOST a
 * name or IPv4 address or a bracketed IPv6 address ([::1]:7420), at most
 * CONFIG_HOST_MAX bytes; no value over CONFIG_VALUE_MAX bytes; no line
 * over the ini parser's line buffer (about 200 bytes); no file over
 * CONFIG_FILE_MAX bytes.
 *
 * The room: check.c (values, the object, look-ups), parse.c (reading and
 * validating a file), save.c (formatting, the atomic write, edits). Every
 * fallible function returns a uerr (proto/uerr.h) with the message in err:
 * UERR_INVALID for a bad value or file content, UERR_NOTFOUND for a missing
 * file or peer, UERR_CONFLICT for a name or key already taken, UERR_IO for
 * the disk, UERR_NOMEM. Uses only daemon/util and proto. */
#ifndef UNIOND_CONFIG_H
#define UNIOND_CONFIG_H

#include <stddef.h>

#include "daemon/util/log.h"
#include "proto/names.h"
#include "proto/uerr.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_VALUE_MAX 255
#define CONFIG_NAME_MAX NAMES_NODE_MAX
#define CONFIG_OFFICE_MAX 32
/* An office display name ([node] office_name): at most this many characters. */
#define CONFIG_OFFICE_NAME_MAX 32
/* Longest HOST of HOST:PORT; chosen so that every line we write fits the
 * ini parser's 200-byte line buffer. */
#define CONFIG_HOST_MAX 176

/* [sync] max_pack_bytes: the byte budget of one take-in's pack, a peer's
 * or a bundle's (a peer's is spooled to DATA/tmp, never held in memory; it
 * costs disk up to this, and over it the peer is refused). The default
 * holds a first replication of a few million records (a 1M-record store's
 * pack is about 380 MB, so 4 GiB is about 10M records). Settable from
 * 1 MiB to 64 GiB (the disk, not memory, is what it spends). */
#define CONFIG_MAX_PACK_BYTES_DEFAULT (4096ull << 20)
#define CONFIG_MAX_PACK_BYTES_MIN (1ull << 20)
#define CONFIG_MAX_PACK_BYTES_MAX (65536ull << 20)
/* [sync] max_take_in_objects: objects one take-in's pack may hold (refused
 * from the pack's header before any is read). Its own key and not derived
 * from max_pack_bytes, because it bounds memory, not disk: indexing a pack
 * costs libgit2 about 200 bytes of heap per object whatever the objects
 * size (docs/STORE.md "Limits"), while the bytes go to a spool on disk. A
 * record is about 1.07 objects (its blob, plus the folder trees and commits
 * around it), so the default takes a first replication of about 7M records
 * with at most about 1.6 GB of indexer memory. 1 to 4294967295 (the pack
 * header's 32-bit count). */
#define CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT 8000000ull
#define CONFIG_MAX_TAKE_IN_OBJECTS_MAX 4294967295ull
/* [sync] want_stall_seconds: a WANT this node sent is given up (the session
 * closed, asked again later) when its answer makes no progress for this
 * long: no PACK chunk, nor (while the sender builds the pack) its
 * keepalive PING. The whole answer may take as long as it needs while it
 * progresses. 1 to 86400. */
#define CONFIG_WANT_STALL_SECONDS_DEFAULT 60u
#define CONFIG_WANT_STALL_SECONDS_MAX 86400u
/* [sync] new_branches_per_hour: how many branches named after nodes this
 * node does not know yet (neither pinned nor already held as a copy) one
 * peer may bring in per hour (docs/PROTOCOL.md 7.1); 0 to 100000. */
#define CONFIG_NEW_BRANCHES_PER_HOUR_DEFAULT 32u
#define CONFIG_NEW_BRANCHES_PER_HOUR_MAX 100000u
/* [store] format: the version of the config and store formats this uniond
 * writes. A file without it is format 0 (the release before the key) and
 * reads as before; a file of a newer format is refused (UERR_INVALID with
 * "written by a newer uniond"). config_format always writes this one. */
#define CONFIG_FORMAT 1

typedef struct {
    char *name;        /* peer node name */
    char *address;     /* HOST:PORT to connect to (port 1-65535) */
    char *fingerprint; /* 64 lowercase hex digits */
} config_peer;

typedef struct {
    char *node;         /* this node's name */
    char *office;       /* this node's office code */
    char *office_name;  /* [node] office_name: the office's display name (UTF-8,
                           e.g. 鄞州区, shown beside the code), or NULL */
    char *listen;       /* HOST:PORT to listen on (port 0 = any free port), or ""
                           for a node that does not listen; never NULL after a
                           successful config_load / config_parse_buffer */
    config_peer *peers; /* in file order */
    size_t npeers;
    unsigned long long max_pack_bytes;      /* [sync]; default CONFIG_MAX_PACK_BYTES_DEFAULT */
    unsigned long long max_take_in_objects; /* [sync]; default CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT */
    unsigned want_stall_seconds;            /* [sync]; default CONFIG_WANT_STALL_SECONDS_DEFAULT */
    unsigned new_branches_per_hour; /* [sync]; default CONFIG_NEW_BRANCHES_PER_HOUR_DEFAULT */
    int log_level; /* [log] level: LOG_ERR..LOG_DEBUG (daemon/util/log.h); default LOG_INFO */
    int format;    /* [store] format as read; 0 when absent (an older file), CONFIG_FORMAT when
                      made by config_init / config_node_set */
} config;

/* Make c an empty configuration (all NULL, no peers, the [sync] and [log]
 * defaults). No allocation. */
void config_init(config *c);

/* Free every string and the peer array of c and leave it empty, as after
 * config_init. c itself is the caller's. Safe on an empty config. */
void config_free(config *c);

/* Read and validate the config file at path (at most CONFIG_FILE_MAX
 * bytes). c must have been config_init'ed (or loaded before). On success
 * returns UERR_OK and replaces the contents of c (the old ones are freed);
 * every string is malloc'd and owned by c. On failure returns UERR_NOTFOUND
 * (no such file), UERR_IO (cannot read it), UERR_INVALID (bad content) or
 * UERR_NOMEM, leaves c as it was, and err names the file, the line and the problem, e.g.
 * "DATA/uniond.conf: line 7: unknown key "adress" in [peer "haishu-01"];
 * expected address or fingerprint". */
uerr config_load(config *c, const char *path, char *err, size_t errlen);

/* Parse and validate config text buf of len bytes (need not be
 * NUL-terminated; a NUL byte inside is an error). Ownership and the
 * meaning of the result as for config_load; messages start with "line N: "
 * when they concern one line. */
uerr config_parse_buffer(config *c, const char *buf, size_t len, char *err, size_t errlen);

/* Render c in the file format. On success returns 0 and stores a malloc'd
 * NUL-terminated text in *out (owned by the caller) and its length in
 * *outlen. Refuses (-1, message in err, *out NULL) a config that
 * config_parse_buffer would refuse, so what is written can be read back. */
uerr config_format(const config *c, char **out, size_t *outlen, char *err, size_t errlen);

/* Write c to path atomically: the text goes to "<path>.tmp" (mode 0644),
 * is fsync'd and renamed over path, and the directory is fsync'd; on
 * failure the .tmp file is removed and path is untouched. Refuses an
 * invalid config like config_format. c and path stay the caller's.
 * Returns 0 or -1 with a message in err. */
uerr config_save(const config *c, const char *path, char *err, size_t errlen);

/* Set this node's name, office and listen address (listen may be NULL or ""
 * for a node that does not listen) after validating them; for
 * `uniond init`. Copies the strings. Refuses a name that equals a
 * configured peer's. On failure returns -1 and c is unchanged. */
uerr config_node_set(config *c, const char *node, const char *office, const char *listen, char *err,
                     size_t errlen);

/* Set (a copy of) this node's office display name after checking it
 * (config_office_name_check); NULL or "" removes it. On failure c is
 * unchanged. */
uerr config_office_name_set(config *c, const char *name, char *err, size_t errlen);

/* Add a peer after validating it: a valid node name that is neither this
 * node's nor an existing peer's, an address HOST:PORT with port 1-65535,
 * and a fingerprint of 64 hex digits (stored lowercased) no other peer
 * has. Copies the strings. Returns 0, or -1 with c unchanged and a
 * message in err. */
uerr config_peer_add(config *c, const char *name, const char *address, const char *fingerprint,
                     char *err, size_t errlen);

/* Remove the peer called name (the others keep their order). Returns 0, or
 * -1 with a message if there is no such peer. */
uerr config_peer_remove(config *c, const char *name, char *err, size_t errlen);

/* The peer called name, or NULL. The pointer is into c->peers: valid until
 * c is next changed; the caller does not free it. */
const config_peer *config_peer_find(const config *c, const char *name);

/* The peer whose pinned fingerprint is fingerprint (compared without
 * regard to case), or NULL: who is this TLS peer? Ownership as for
 * config_peer_find. */
const config_peer *config_peer_find_fingerprint(const config *c, const char *fingerprint);

/* Split addr ("127.0.0.1:7420", "[::1]:7420", "localhost:7420") into host
 * (brackets removed; NUL-terminated, at most hostlen bytes with the NUL)
 * and port (0-65535). Returns 0, or -1 if addr is malformed or host does
 * not fit (host and port are then unspecified). Writes only into the
 * caller's buffers. */
uerr config_addr_parse(char *host, size_t hostlen, int *port, const char *addr);

/* Checks with a message saying what is wrong and what is allowed; each
 * returns UERR_OK if the value is valid, else UERR_INVALID (message in
 * err). what names the value in the message (e.g. "--office"). Node names
 * are checked by names_node_check (proto/names.h). */
uerr config_office_check(const char *office, const char *what, char *err, size_t errlen);
/* An office's display name: valid UTF-8, 1 to CONFIG_OFFICE_NAME_MAX
 * characters, no control characters, no ';' or '#' (comments in the file),
 * no space at either end (the file reader would strip it). */
uerr config_office_name_check(const char *name, const char *what, char *err, size_t errlen);
/* listen: HOST:PORT (port 0-65535) or "" (do not listen). */
uerr config_listen_check(const char *listen, const char *what, char *err, size_t errlen);
/* a peer's address: HOST:PORT with port 1-65535. */
uerr config_address_check(const char *address, const char *what, char *err, size_t errlen);

#endif /* UNIOND_CONFIG_H */
