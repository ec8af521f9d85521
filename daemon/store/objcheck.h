/* objcheck.h - the checks every object taken in from outside (a peer's
 * pack, a bundle) must pass, on the object's raw bytes, before anything
 * moves into the store: trees in the store's layout, commits well-formed,
 * blobs canonical records that pass the schema. Part of the store room but
 * pure: no I/O, no libgit2 (so the fuzzer can drive it on any bytes, and
 * it can never touch the repository). docs/STORE.md "Taking data in"
 * states each rule; the limits are named here.
 *
 * Every check returns UERR_OK or UERR_PEER (the bytes are the sender's
 * fault; the message says why, never quoting a personal value) or
 * UERR_NOMEM. */
#ifndef UNIOND_STORE_OBJCHECK_H
#define UNIOND_STORE_OBJCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kind.h"
#include "proto/record.h"
#include "proto/uerr.h"

/* Largest object of any type taken in: a record blob is at most
 * RECORD_BLOB_MAX; trees and commits of the layout are far smaller. */
#define STORE_OBJECT_MAX RECORD_BLOB_MAX
/* Most parents a received commit may have: uniond writes one (a write) or
 * two (a merge, a tie); nothing in the format needs more. */
#define STORE_COMMIT_PARENTS_MAX 2
/* Latest commit time accepted (9999-12-31T23:59:59Z), as git fsck bounds
 * dates; earlier than 1970 is refused too. */
#define STORE_COMMIT_TIME_MAX 253402300799LL
/* Longest author/committer name or e-mail, in bytes. */
#define STORE_SIGNATURE_PART_MAX 256

/* The store's top level: the one table of names allowed at the root of a
 * commit's tree. Each kind folder holds <aa>/<bb>/<record-id>, aa/bb as
 * kind_path computes them; OBJCHECK_TOP_SCHEMA holds the declaration
 * records flat (schema/<id>, proto/schema_decl.h). NULL-terminated. */
extern const char *const store_toplevel_names[];

/* 1 if name[0..len) is in store_toplevel_names. */
int objcheck_toplevel_valid(const char *name, size_t len);

/* The top-level folder of the declaration records. */
#define OBJCHECK_TOP_SCHEMA "schema"

/* What a tree is, by its entries (every entry of a tree is of one kind). */
typedef enum {
    OBJCHECK_TREE_ROOT = 0, /* 040000 entries named from store_toplevel_names */
    OBJCHECK_TREE_FANOUT,   /* 040000 entries named by two lowercase hex digits */
    OBJCHECK_TREE_LEAF      /* 100644 entries named by record ids */
} objcheck_tree_kind;

/* Depth of the leaf trees in a kind folder (root = 0, the record blobs
 * at 4); the schema folder is a leaf tree at depth 1. */
#define OBJCHECK_DEPTH_LEAF 3
#define OBJCHECK_DEPTH_SCHEMA_LEAF 1

/* Check a raw tree object: entries "MODE SP NAME NUL <20-byte id>", mode
 * exactly 100644 or 40000, names non-empty without '/', in git's order
 * (trees compared as NAME/), no name twice, not empty, and all entries of
 * one kind (above). *kind receives the kind on success. */
uerr objcheck_tree(objcheck_tree_kind *kind, const unsigned char *buf, size_t len, char *err,
                   size_t errlen);

/* Iterate a tree that passed objcheck_tree: *pos starts at 0; each call
 * gives the next entry's name (not NUL-terminated: *namelen) and its raw
 * 20-byte id, and returns 1, or 0 at the end. */
int objcheck_tree_next(size_t *pos, const char **name, size_t *namelen, const unsigned char **id,
                       const unsigned char *buf, size_t len);

/* What a well-formed commit names. */
typedef struct {
    char tree[41];
    char parents[STORE_COMMIT_PARENTS_MAX][41];
    size_t nparents;
} objcheck_commit_info;

/* Check a raw commit object strictly: "tree HEX\n", at most
 * STORE_COMMIT_PARENTS_MAX "parent HEX\n", "author SIG\n",
 * "committer SIG\n", optionally "encoding UTF-8\n", a blank line, then a
 * UTF-8 message without NUL. SIG is "NAME <EMAIL> TIME +HHMM": NAME
 * non-empty UTF-8 without control characters, '<' or '>', not ending in a
 * space; EMAIL the same without spaces; TIME decimal without leading zeros,
 * 0..STORE_COMMIT_TIME_MAX; zone hours at most 14, minutes under 60. Lower
 * case hex only. No other header (no signatures, no mergetags). */
uerr objcheck_commit(objcheck_commit_info *out, const unsigned char *buf, size_t len, char *err,
                     size_t errlen);

/* Check a record blob exactly as a local write is checked: at most
 * STORE_OBJECT_MAX bytes, the canonical record text (record_decode, which
 * re-encodes and compares byte for byte), every field a field of the
 * schema, and every value in the one stored form the schema gives it
 * (schema_value_check, then compared byte for byte: invalid or overlong
 * UTF-8, a trailing space, a bad phone or id number are all refused). The
 * "not in the future" rule for dates is not applied: the receiver's clock
 * is not the writer's, and a refusal by clock skew would stall sync. */
uerr objcheck_record(const char *buf, size_t len, char *err, size_t errlen);

/* The schema half of objcheck_record for a record already decoded (and so
 * canonical and within its limits) that will be stored in kind k's folder:
 * every field a field of kind k, every value in its stored form. This is
 * exactly what a peer's take-in demands of a blob in that folder (the bit
 * OBJCHECK_AS_KIND(k) below), at one decode and one kind's check instead
 * of every kind's (the bulk commit's write check). UERR_OK, UERR_PEER
 * (the first refusal in err), UERR_NOMEM. r is borrowed. */
uerr objcheck_record_kind(const record *r, record_kind k, char *err, size_t errlen);

/* What a record blob may stand as, one bit each: a valid record of kind k
 * (OBJCHECK_AS_KIND(k), k a record_kind), a valid declaration record
 * schemafields or schemacategory. Fits in 8 bits. */
#define OBJCHECK_AS_KIND(k) (1u << (k))
#define OBJCHECK_AS_DECL_FIELDS (1u << KIND_COUNT)
#define OBJCHECK_AS_DECL_CATEGORY (1u << (KIND_COUNT + 1))
#define OBJCHECK_AS_BITS 8

/* objcheck_record's checks once per kind and once per declaration id:
 * *as receives every OBJCHECK_AS_* bit the blob passes. UERR_OK when at
 * least one does; else UERR_PEER (or UERR_NOMEM) with the member-kind
 * refusal in err (or the decoding one). The layout walk then requires the
 * bit of the folder the blob sits in (objcheck_as_wanted). */
uerr objcheck_record_as(uint32_t *as, const char *buf, size_t len, char *err, size_t errlen);

/* The OBJCHECK_AS_* bit a blob named name[0..n) needs under top-level
 * folder top: the kind of a kind folder, the declaration bit of a
 * declaration id under OBJCHECK_TOP_SCHEMA; 0 when nothing may sit there
 * (an unknown folder, any other name under schema/). */
uint32_t objcheck_as_wanted(const char *top, const char *name, size_t n);

/* 1 if a record with this id belongs in a leaf tree at <top>/aa/bb. */
int objcheck_record_at(const char *id, const char *aa, const char *bb);

#endif
