/* cli.h - what unionctl's command modules share (cli/main.c, cli/report.c):
 * option parsing, building and sending a request, reading the reply,
 * rendering records. */
#ifndef UNIOND_CLI_H
#define UNIOND_CLI_H

#include <msgpack.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

/* DATA, from -d or UNIOND_DATA. */
extern const char *cli_data_dir;
/* unionctl --help */
extern const char cli_usage_text[];

/* A request being built: a msgpack map with a known number of pairs. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} request;

typedef struct {
    msgpack_unpacked u;
    char *body;
    const msgpack_object *result; /* the reply's "result" (borrowed) */
} reply;

typedef struct {
    int json, csv, reveal, count, skip_invalid, force;
    const char *sort, *by, *since, *until;
    long limit;
    const char **where; /* malloc'd array; the caller frees it */
    int nwhere;
} opts;

/* Print "unionctl: <message>" and a hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start a request map {"op", "operator", + extra_pairs more pairs}. */
void cli_request_begin(request *r, const char *op, size_t extra_pairs);
/* Send r (freed), wait for the reply. Returns an exit code; on failure the
 * message was printed. Call cli_reply_free(rep) in every case. */
int cli_request_send(request *r, reply *rep);
void cli_reply_free(reply *rep);
/* Parse a command's options; `allowed` lists the option letters it takes:
 * j --json, c --csv, r --reveal, n --count, s --skip-invalid, S --sort,
 * L --limit, w --where, B --by, F --since, U --until, f --force.
 * Positional args are left in argv[optind..]. Returns 0 or EXIT_USAGE. */
int cli_opts_parse(opts *o, int argc, char **argv, const char *allowed);
/* A record object's displayed value of field as text (sets joined by ';').
 * Malloc'd. */
char *cli_record_cell(const msgpack_object *rec, const char *field);
/* Rows for people (a table) or, with --csv, for scripts (header + rows). */
void cli_print_rows(const opts *o, const char *const *head, size_t ncols, const char *const *cells,
                    size_t nrows);
/* Pretty JSON of a reply value, then a newline. */
void cli_print_json(const msgpack_object *o);
void cli_print_records_csv(const msgpack_object_array *recs);
void cli_print_records_table(const msgpack_object_array *recs);
/* 1 if the record object lists field among its conflicts. */
int cli_in_conflict(const msgpack_object *rec, const char *field);
/* Field names present in any record, schema order first; *out malloc'd. */
size_t cli_columns_of(const char ***out, const msgpack_object_array *recs, int with_id);
/* The "records" array of a list reply (an empty one if absent). */
const msgpack_object_array *cli_result_records(const reply *rep);

/* cli/report.c: stats, duplicates, merge, transfer. Returns the exit code,
 * or -1 when argv[0] is not one of its commands. */
int cli_report_main(int argc, char **argv);

/* cli/peercmd.c: peers, sync, peer add/remove; -1 if not its command. */
int cli_peer_main(int argc, char **argv);

#endif
