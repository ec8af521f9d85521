/* reccompact.h - the compact in-memory form of the record index's records
 * (daemon/store/recindex.h): every record is one byte string in a big
 * arena instead of an entries array and one allocation per value.
 *
 * A stored record is: the id, NUL; a varint n (the length of the rest);
 * then the context (varint count; per node: varint name, varint counter)
 * and the entries (varint count; per entry: varint field name, the value,
 * varint node name, varint counter, zigzag varint time minus the previous
 * entry's time). A name is a number in the table of field and node names
 * (interned pointers, record_intern). A value is a varint tag: 0 and then
 * its bytes and a NUL, or 1 + its number in the value dictionary (short
 * values of fields with few distinct values: office, category, status...;
 * each field adds at most RECCOMPACT_DICT_PER_FIELD values to it).
 *
 * The bytes are trusted (made here, never read from outside): decoding
 * checks nothing. Pure memory; no I/O; never frees a name or a dictionary
 * value before reccompact_free, so strings borrowed from a decoded record
 * stay valid while the record's bytes do. */
#ifndef UNIOND_RECCOMPACT_H
#define UNIOND_RECCOMPACT_H

#include "proto/record.h"
#include "proto/uerr.h"

#include <stddef.h>
#include <stdint.h>

#define RECCOMPACT_DICT_PER_FIELD 1024
#define RECCOMPACT_DICT_VALUE_MAX 48

typedef struct rc_block rc_block;
typedef struct rc_name_item rc_name_item;
typedef struct rc_value_item rc_value_item;

typedef struct {
    /* field and node names: number -> interned pointer, pointer -> number */
    const char **names;
    size_t nnames, namecap;
    rc_name_item *namemap;
    uint32_t *dict_made; /* per name: dictionary values the field made */
    /* the value dictionary: number -> value, value -> number */
    char **vals;
    size_t nvals, valcap;
    rc_value_item *valmap;
    /* the arena: blocks that never move, newest first */
    rc_block *blocks;
    size_t used;    /* bytes of records stored (live and dead) */
    size_t garbage; /* bytes of records replaced (dead) */
    /* scratch for encoding (the writer's) */
    uint8_t *tmp;
    size_t tmpcap;
    /* the writer's: name -> number for the last names met, by pointer
     * (32 slots, direct-mapped; an empty slot is NULL; reccompact.c).
     * A record names a dozen fields and one node: most encodings look
     * every name up here instead of in namemap. */
    const char *ncache_key[32];
    uint32_t ncache_num[32];
} reccompact;

/* Empty; allocates nothing. */
void reccompact_init(reccompact *c);
/* Frees the names table, dictionary and arena; c is empty afterwards. */
void reccompact_free(reccompact *c);

/* Stores id (NUL-terminated, at most RECORD_ID_MAX bytes) and record r.
 * *stored receives the stored id (the record's handle): valid until
 * reccompact_free or reccompact_arena_swap. UERR_OK or UERR_NOMEM. */
uerr reccompact_add(const char **stored, reccompact *c, const char *id, const record *r);
/* Counts the stored record as garbage (it was replaced). */
void reccompact_dead(reccompact *c, const char *stored);
/* The bytes the stored record takes in the arena. */
size_t reccompact_size(const char *stored);

/* Decodes the stored record into *out: out->entries and out->ctx are the
 * caller's buffers (*ecap, *ccap their sizes, grown with realloc as
 * needed; the caller frees them), the strings borrowed from c. Never
 * record_free out. 0, or -1 when out of memory (*out then empty). */
int reccompact_decode(record *out, record_entry **ebuf, size_t *ecap, record_ctx **cbuf,
                      size_t *ccap, const reccompact *c, const char *stored);

/* The value every node displays for the single-valued field of the stored
 * record (record_field_winner's entry), or NULL when it has none. Borrowed
 * from c. Reads the bytes, decodes nothing. */
const char *reccompact_winner(const reccompact *c, const char *stored, const char *field);

/* reccompact_winner of each of the n fields (sorted by strcmp, distinct)
 * in one walk: out[i] the value of fields[i] or NULL. Returns 1 if some
 * field of the record (any field) has more than one entry, else 0 (then
 * no field can be in conflict: a caller may skip decoding it). */
int reccompact_winners(const char **out, const reccompact *c, const char *stored,
                       const char *const *fields, size_t n);

/* Whether the dead bytes are worth a repack (more than the live ones, and
 * more than a few MiB). */
int reccompact_wants_repack(const reccompact *c);
/* Copies the live records into a new arena and frees the old one: the n
 * handles at handle, handle + stride bytes, ... (NULL ones skipped) are
 * updated to their new place. UERR_OK, or UERR_NOMEM with c unchanged. */
uerr reccompact_repack(reccompact *c, const char **handle, size_t n, size_t stride);

/* ---- a snapshot's load (daemon/store/recsnap_fmt.c) ---- */

/* The next name / dictionary value (len bytes, no NUL inside) of the
 * tables, in their stored order, so that the stored records' numbers mean
 * what they meant when written. UERR_OK, UERR_NOMEM, or UERR_INVALID
 * (already there: not a table this code wrote). */
uerr reccompact_name_push(reccompact *c, const char *s, size_t len);
uerr reccompact_value_push(reccompact *c, const char *s, size_t len);
/* 1 if [bytes, bytes+len) is one whole stored record whose numbers fit
 * tables of nnames names and nvals values: a valid id, every varint,
 * string and count inside its bounds. The check of untrusted bytes that
 * decoding skips; 0 otherwise. */
int reccompact_check(size_t nnames, size_t nvals, const char *bytes, size_t len);
/* Copies a checked stored record into the arena. UERR_OK or UERR_NOMEM. */
uerr reccompact_add_raw(const char **stored, reccompact *c, const char *bytes, size_t len);

#endif
