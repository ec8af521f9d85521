/* kind.h - the kinds of record the store keeps (member, union, enterprise,
 * station, benefit): their names (English words used on the command line
 * and in the protocol, Chinese names for people), where each kind lives in
 * the tree (members/, unions/, ... with the same aa/bb hashing), parsing a
 * tree path back into (kind, id), and the derived id of a benefit (one
 * dated hand-out), so that the same hand-out always has the same id.
 *
 * Pure: no I/O. Every function may run concurrently with every other.
 * docs/STORE.md "Kinds of record" is the normative description. */
#ifndef UNIOND_KIND_H
#define UNIOND_KIND_H

#include <stddef.h>

#include "proto/uerr.h"

/* KIND_NONE (0) is "not a kind": a zeroed schema_field links nowhere. */
typedef enum {
    KIND_NONE = 0,
    KIND_MEMBER,
    KIND_UNION,
    KIND_ENTERPRISE,
    KIND_STATION,
    KIND_BENEFIT,
    KIND_COUNT /* one past the last kind */
} record_kind;

/* The English word of a kind ("member", "union", "enterprise", "station",
 * "benefit"), static; "?" for KIND_NONE or out of range. */
const char *kind_name(record_kind k);

/* The Chinese name of a kind (会员, 工会, 企业, 服务站点, 福利发放), static;
 * "?" for KIND_NONE or out of range. */
const char *kind_name_zh(record_kind k);

/* The tree folder of a kind without a slash ("members", "unions",
 * "enterprises", "stations", "benefits"), static; NULL for KIND_NONE. */
const char *kind_dir(record_kind k);

/* The kind a user wrote: the English word (any ASCII case), its plural
 * (the tree folder) or the Chinese name. UERR_INVALID with a message
 * listing the kinds otherwise. */
uerr kind_parse(record_kind *out, const char *word, char *err, size_t errlen);

/* Tree path of record id of kind k: "<dir>/aa/bb/<id>", aa/bb the first
 * two bytes of the id's FNV-1a 32 hash (exactly record_path's rule, so
 * kind_path(KIND_MEMBER, id) == record_path(id)). out must hold at least
 * RECORD_ID_MAX + 24 bytes; the path is cut to outlen otherwise. */
void kind_path(char *out, size_t outlen, record_kind k, const char *id);

/* The kind and id of a tree path: the inverse of kind_path. UERR_OK with
 * *kind and id (at most RECORD_ID_MAX + 1 bytes written to idbuf, which
 * must hold that many) when path is exactly kind_path(kind, id) for a
 * valid id; UERR_INVALID otherwise (any other folder, wrong aa/bb, bad id,
 * extra components), *kind = KIND_NONE and idbuf = "". */
uerr kind_path_parse(record_kind *kind, char *idbuf, size_t idlen, const char *path);

/* The id of a benefit (one hand-out): "the same member, kind and date is
 * the same hand-out". 16 characters of the record id alphabet (lowercase
 * Crockford base32) from the first 80 bits of SHA-256 over
 * "benefit\n<member_id>\n<kind>\n<date>". The inputs must be normalised
 * first (member_id a record id, kind as schema_value_normalize gives it,
 * date YYYY-MM-DD), so re-importing the same row gives the same id and
 * two rows of one file describing the same hand-out collide. out must
 * hold RECORD_ID_LEN + 1 bytes. UERR_INVALID (out = "") when member_id is
 * not a record id, kind is empty or has a newline, or date is not a real
 * ISO date. */
uerr kind_benefit_id(char *out, const char *member_id, const char *kind, const char *date,
                     char *err, size_t errlen);

#endif
