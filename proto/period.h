/* period.h - the figures of the period report (`unionctl report --from D
 * --to D [--office O]`, issue 11) computed from the records of every kind:
 * new unions (and of them new-employment-form ones), new and active
 * members, enterprises surveyed (and of them linked to a union), service
 * stations, benefit hand-outs and their sum, overall, per office and per
 * member category.
 *
 * An accumulator: the daemon walks its index once, feeding every record of
 * every kind in any order (period_add_record), and period_finish resolves
 * what needs records of another kind (a benefit counts under its member's
 * office; an enterprise is linked to a union from either side). Pure: no
 * I/O, no clock. Amounts are summed in integer fen, never in floating
 * point. One accumulator is used by one thread at a time.
 *
 * The definitions (a period includes both ends; dates are compared as
 * YYYY-MM-DD; a record without a valid date of the kind is not counted):
 *   unions.new          union.founded in the period
 *   unions.new_form     ... and union.new_form = yes
 *   members.new         member.joined in the period, status not merged/void
 *   members.new_form    ... and category flagged new_form (proto/vocab.h)
 *   members.active      status active and joined on or before the end
 *   enterprises.surveyed  enterprise.surveyed in the period
 *   enterprises.with_union  ... and its union field is not empty, or some
 *                       union's enterprise field holds its id, USCC or name
 *   stations.opened     station.opened in the period
 *   stations.total      station.opened on or before the end
 *   benefits.count      benefit.date in the period (valid amount or none)
 *   benefits.yuan       their amounts summed (fen; schema_amount_format)
 *   benefits.members    distinct benefit.member among them
 * A record counts under its own office (a benefit under its member's; a
 * benefit whose member is unknown, or a record without office, under
 * PERIOD_NO_OFFICE). by_category counts members.new and members.active
 * per category (PERIOD_NO_CATEGORY when empty). With an office filter
 * only records of that office count, everywhere. */
#ifndef UNIOND_PERIOD_H
#define UNIOND_PERIOD_H

#include <stddef.h>
#include <stdint.h>

#include "proto/kind.h"
#include "proto/uerr.h"

#define PERIOD_NO_OFFICE "(none)"
#define PERIOD_NO_CATEGORY "(none)"

/* The value of field of rec ("" or NULL when absent). For a member the
 * fields read are office, joined, status, category; union: office,
 * founded, new_form, enterprise; enterprise: office, surveyed, union,
 * uscc, name; station: office, opened; benefit: member, date, amount.
 * Values are the stored (normalised) ones. The pointer must stay valid
 * only until the next call of the accessor. */
typedef const char *(*period_get_fn)(const void *rec, const char *field);

/* One row of the report: the JSON keys unions.new ... benefits.members. */
typedef struct {
    uint64_t unions_new, unions_new_form;
    uint64_t members_new, members_new_form, members_active;
    uint64_t enterprises_surveyed, enterprises_with_union;
    uint64_t stations_opened, stations_total;
    uint64_t benefits_count, benefits_members;
    int64_t benefits_fen; /* benefits.yuan in fen */
} period_figures;

typedef struct {
    char *office; /* owned by the result */
    period_figures f;
} period_office;

typedef struct {
    char *category; /* owned by the result */
    uint64_t new_members, active;
} period_category;

typedef struct {
    char from[11], to[11];
    period_figures total;   /* the sum of the offices kept */
    period_office *offices; /* by_office, sorted by office (byte order) */
    size_t noffices;
    period_category *categories; /* by_category, sorted by category (byte order) */
    size_t ncategories;
} period_result;

typedef struct period_acc period_acc;

/* A new accumulator for the period from..to (YYYY-MM-DD, from <= to) and,
 * when office is not NULL or "", that office only. *out receives it (the
 * caller ends it with period_finish or period_acc_free). UERR_INVALID (bad
 * dates, from after to), UERR_NOMEM. */
uerr period_init(period_acc **out, const char *from, const char *to, const char *office, char *err,
                 size_t errlen);

/* Feed one record of kind k with id (its record id) whose fields get reads
 * from rec (borrowed for this call only). Records of a kind the report
 * does not count are ignored. UERR_OK, UERR_INVALID (bad kind or id
 * NULL), UERR_NOMEM (the accumulator then fails at period_finish). */
uerr period_add_record(period_acc *a, record_kind k, const char *id, period_get_fn get,
                       const void *rec);

/* The figures: *out is filled (the caller frees it with
 * period_result_free) and a is freed, in every case. UERR_OK or
 * UERR_NOMEM (out is then empty). */
uerr period_finish(period_result *out, period_acc *a, char *err, size_t errlen);

/* Free an accumulator without finishing (safe with NULL). */
void period_acc_free(period_acc *a);

/* Free what r holds and zero it (safe twice). */
void period_result_free(period_result *r);

#endif
