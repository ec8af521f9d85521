/* import_feed.h - an import's committed records decoded on a thread of
 * their own, in order, while the store queue's thread puts each into the
 * index (op_import.c). Part of the ctl room.
 *
 * Why: after the bulk commit the import feeds the index one record at a
 * time; inflating the record (the prewrite thread keeps it deflated) and
 * decoding it is about half of that and needs nothing but the bytes, so on
 * two cores it runs beside the index's part. The thread touches only the
 * records' bytes (store_prewrite_record: it is that call's only user
 * meanwhile) and its own slots; never the index, the store or the schema. */
#ifndef UNIOND_IMPORT_FEED_H
#define UNIOND_IMPORT_FEED_H

#include "daemon/store/store.h"
#include "proto/record.h"

#include <stddef.h>

typedef struct import_feed import_feed;

/* Start decoding records 0..n-1, in order: record i is bufs[i][0..lens[i])
 * when bufs[i] is not NULL, else store_prewrite_record(pre, i) (pre
 * committed; its copies are released as they are decoded:
 * store_prewrite_release). bufs, lens and pre are borrowed until
 * import_feed_free; a bufs[i] may be freed once record i was taken.
 * NULL when out of memory or no thread can be started. */
import_feed *import_feed_start(store_prewrite *pre, char *const *bufs, const size_t *lens,
                               size_t n);

/* The next record (0, 1, ... in order) in *r, lent: the feed's until the
 * next call or import_feed_free (it lives in memory the feed's thread
 * reuses: record_decode_trusted_mem; never record_free it). 0, or -1 with why set (out of memory,
 * or bytes that do not decode: the store accepted them, so a bug) and *r empty. Called at most n
 * times. */
int import_feed_next(import_feed *f, const record **r, char *why, size_t whylen);

/* Stop the thread and free what it decoded and was not taken. NULL is a
 * no-op. */
void import_feed_free(import_feed *f);

#endif
