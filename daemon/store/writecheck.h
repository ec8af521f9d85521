/* writecheck.h - the write-time half of "every acknowledged write can be
 * read back and replicated" (docs/RELIABILITY.md): store_commit passes
 * every record it is about to store through store_write_check. Part of the
 * store room; pure (no libgit2, no I/O). */
#ifndef UNIOND_STORE_WRITECHECK_H
#define UNIOND_STORE_WRITECHECK_H

#include "proto/kind.h"
#include "proto/record.h"
#include "proto/uerr.h"

#include <stddef.h>

/* The exact bytes buf[0..len) of record id must pass the decoder every node
 * runs at start (record_decode: size, values, context) and the check every
 * peer runs on take-in (objcheck_record). UERR_OK; UERR_INVALID for a
 * record past a limit (the message names the limit: the user's to fix);
 * UERR_INTERNAL when our own encoder made bytes a peer would refuse;
 * UERR_NOMEM. Always UERR_OK while store_test_unchecked_writes is on. */
uerr store_write_check(const char *id, const char *buf, size_t len, char *err, size_t errlen);

/* store_write_check for a record stored in kind's folder, at one decode:
 * the take-in check applied is the one a peer demands of a blob in that
 * folder (objcheck_record_kind), not "any kind". Same codes and messages.
 * For the bulk commit, where the check is a sixth of the import's CPU. */
uerr store_write_check_kind(const char *id, record_kind kind, const char *buf, size_t len,
                            char *err, size_t errlen);

/* store_write_check_kind decoding into m (record_decode_checked_mem),
 * memory kept from one call to the next by a caller that checks many
 * records on one thread (the import's prewrite queue): no malloc a record.
 * Same checks, codes and messages. */
uerr store_write_check_kind_mem(const char *id, record_kind kind, const char *buf, size_t len,
                                record_decode_mem *m, char *err, size_t errlen);

#endif
