/* journal.h - the group commits' write-ahead log (journal.c): one append
 * and one fdatasync per batch before the reply; its packs and the branch
 * move are made durable later at a checkpoint, and redone at start after
 * a crash. Part of the store room. */
#ifndef UNIOND_STORE_JOURNAL_H
#define UNIOND_STORE_JOURNAL_H

#include "daemon/store/store_int.h"

#include <stdint.h>

typedef struct store_journal store_journal;

/* One whole, checked entry of a journal image (pointers into it). */
typedef struct {
    uint64_t seq;
    int has_from;
    unsigned char from[GIT_OID_RAWSZ], to[GIT_OID_RAWSZ]; /* the branch move */
    const unsigned char *pack, *idx;                      /* the two files */
    size_t packlen, idxlen;
} store_journal_entry;

/* Nonzero stops the scan before e (e is then not counted). */
typedef int (*store_journal_entry_cb)(const store_journal_entry *e, void *arg);

/* The decoder of a journal's bytes buf[0..len) (borrowed): cb (may be
 * NULL) for each entry in order while each is whole and right (magic,
 * sizes within len, seq, checksum, a pack and the .idx naming it, `from`
 * the last `to`). Returns the bytes read up to the end of the last entry
 * taken (the magic alone: 8), 0 when buf is not a journal. */
size_t store_journal_scan(const unsigned char *buf, size_t len, store_journal_entry_cb cb,
                          void *arg);

/* Open <gitdir>/uniond-journal (made when missing) for the branch
 * refs/heads/<node> and redo what a crash left in it (the packs, the
 * branch, then a checkpoint). Runs before anything reads the store. *out
 * is the caller's (store_journal_free). UERR_IO (a damaged journal or one
 * that does not lead from the branch: nothing written, the message says
 * what to do), UERR_NOMEM, UERR_INVALID. */
uerr store_journal_open(store_journal **out, const char *gitdir, const char *node, char *err,
                        size_t errlen);
void store_journal_free(store_journal *j); /* NULL: nothing */

/* Append the batch that moves the branch from `from` (NULL: it did not
 * exist) to `to` with the pack f (borrowed), and fdatasync: when this
 * returns UERR_OK the batch survives a crash. Then the caller writes f
 * and the ref unsynced. UERR_IO or UERR_NOMEM: nothing appended. */
uerr store_journal_append(store_journal *j, const git_oid *from, const git_oid *to,
                          const store_packfiles *f, char *err, size_t errlen);
/* Where the journal ends now (before an append), and cutting it back
 * there when the batch's files could not be written after all. */
typedef struct {
    uint64_t end, seq;
    size_t nsums;
} store_journal_pos;
void store_journal_mark(store_journal_pos *out, const store_journal *j);
uerr store_journal_unappend(store_journal *j, const store_journal_pos *at, char *err,
                            size_t errlen);

/* Make every pack the journal holds and the branch durable where they
 * are, then empty it. j NULL or empty: nothing. UERR_IO (the journal is
 * kept: a later checkpoint or the next start does it). */
uerr store_journal_checkpoint(store_journal *j, char *err, size_t errlen);
/* 1 when it is past its size or count bound (checkpoint now). */
int store_journal_full(const store_journal *j);

#endif
