/* recsnap_fmt.h - the byte form of the persisted record index
 * (daemon/store/recsnap.h): the compact index itself (names, value
 * dictionary, every record's stored bytes, daemon/store/reccompact.h) and
 * the schema records as blobs, keyed by the tree it reflects. Loading
 * copies the records' bytes into the arena and builds the table, the
 * secondary indexes and the tallies from them; nothing is decoded from
 * the store's text form. No git, no files: the decoder of the bytes, which
 * tests/fuzz/fuzz_recsnap.c feeds anything.
 *
 * Layout (integers little-endian):
 *   header   "uniondRX" | version u32 | tree id, 40 hex digits
 *   names    count u32 | per name: length u8 (1..64) | bytes
 *   values   count u32 | per value: length u32 | bytes
 *   records  count u64 | per record: kind u8 | length u32 | stored bytes
 *   blobs    count u32 | per blob: kind u8 | id length u8 | length u32 |
 *            id | bytes (the store's encoding, as git holds it)
 *   trailer  crc32 of all before it u32 | "RXok"
 * The whole image is checked (magic, version, crc, every length and count,
 * every stored record with reccompact_check) before anything is loaded, so
 * a damaged file is never half used. */
#ifndef UNIOND_RECSNAP_FMT_H
#define UNIOND_RECSNAP_FMT_H

#include "daemon/store/recindex.h"
#include "proto/kind.h"
#include "proto/uerr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RECSNAP_VERSION 2u

/* A record kept as its blob (the schema records, not in the index). */
typedef struct {
    record_kind kind;
    char *id;   /* malloc'd */
    char *blob; /* malloc'd, NUL-terminated */
    size_t len;
} recsnap_blob;

/* Whether a record of kind and id is to be left out (a stale snapshot's
 * changed records); 1 to skip. */
typedef int (*recsnap_skip_fn)(record_kind kind, const char *id, void *arg);
/* Where each blob goes (buffers borrowed for the call, NUL-terminated);
 * non-zero stops the load and is returned. */
typedef int (*recsnap_blob_fn)(record_kind kind, const char *id, const char *buf, size_t len,
                               void *arg);

/* Check the image [p, p+size): 1 when it is whole and of this version
 * (tree receives its tree id), else 0. Reads nothing outside it. */
int recsnap_fmt_check(char tree[41], const unsigned char *p, size_t size);

/* The tree id an image's header names (magic and version checked, nothing
 * else): 1 and tree set, else 0. For a writer asking whether the file on
 * disk is already of its tree; a reader checks the whole image first. */
int recsnap_fmt_header(char tree[41], const unsigned char *p, size_t size);

/* Load a checked image into ix, which holds no record and no names yet
 * (its secondary indexes and tallies may be on: they are filled): every
 * record but those skip says (skip may be NULL), every blob to blob_cb
 * (likewise skipped). UERR_OK; UERR_NOMEM; UERR_INVALID (the tables repeat
 * a name or value: not written by this code; ix then holds part of it and
 * must be freed); or blob_cb's value. */
uerr recsnap_fmt_load(recindex *ix, const unsigned char *p, size_t size, recsnap_skip_fn skip,
                      recsnap_blob_fn blob_cb, void *arg);

/* recsnap_fmt_load of an image the caller has just checked with
 * recsnap_fmt_check and holds unchanged (a private read-only mapping):
 * the same, without checking it again (the checksum pass over the whole
 * file is a tenth of a 1M start). */
uerr recsnap_fmt_load_checked(recindex *ix, const unsigned char *p, size_t size,
                              recsnap_skip_fn skip, recsnap_blob_fn blob_cb, void *arg);

/* Write the image of ix and blobs (reflecting tree, 40 hex) to f. 0, or
 * -1 when a write failed or something does not fit the format. */
int recsnap_fmt_write(FILE *f, const recindex *ix, const char *tree, const recsnap_blob *blobs,
                      size_t nblobs);

#endif
