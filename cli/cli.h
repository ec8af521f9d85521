/* cli.h - what unionctl's parts share: THE command table (cli/table.c), the
 * command line read once for every command (cli/cmdline.c), the request /
 * reply round trip and the rendering helpers (cli/common.c).
 *
 * A command is one row of the table: a build step that adds its pairs to
 * the request and a print step that renders the reply. Option parsing,
 * argument counts, --help, --json, sending and freeing are done once, by
 * cli_run; a command never parses argv or talks to the socket itself. */
#ifndef UNIOND_CLI_H
#define UNIOND_CLI_H

#include "proto/msg.h"

#include <msgpack.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

/* DATA, from -d or UNIOND_DATA (borrowed from argv or the environment). */
extern const char *cli_data_dir;

/* A request being built: a msgpack map that counts its own pairs. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msg_map map;
} request;

typedef struct {
    msgpack_unpacked u;
    char *body;
    const msgpack_object *result; /* the reply's "result" (borrowed) */
} reply;

/* Options of the whole line; which a command takes is its row's
 * `options` letters (see CLI_OPT_* in cmdline.c): j --json, c --csv,
 * r --reveal, n --count, s --skip-invalid, S --sort, L --limit, w --where,
 * B --by, F --since, U --until, f --force, K --kind, R --from, T --to,
 * O --office, D --date, A --amount, P --station, X --xlsx, a --across,
 * e --excel, N --node, l --last. Strings are borrowed from argv. */
typedef struct {
    int json, csv, reveal, count, skip_invalid, force;
    int dry_run;             /* Y --dry-run (import) */
    const char *encoding;    /* E --encoding (import) */
    int check;               /* C --check (status) */
    const char *max_offline; /* M --max-offline MINUTES (status --check) */
    const char *sort, *by, *since, *until;
    /* K --kind, R --from, T --to, O --office, D --date, A --amount,
     * P --station (issue 11: kinds, benefits, the report) */
    const char *kind, *from, *to, *office, *date, *amount, *station;
    /* X --xlsx FILE (report, stats), a --across F (stats), e --excel */
    const char *xlsx, *across;
    int excel;
    const char *node;   /* N --node (log) */
    int last;           /* l --last (revert) */
    long limit;         /* -1: none */
    const char **where; /* malloc'd array (owned by the cli_call) */
    int nwhere;
} opts;

typedef struct cli_cmd cli_cmd;

/* One run of one command: what the build and print steps get. */
typedef struct {
    const cli_cmd *cmd;
    opts o;
    char **args; /* positional arguments after the command word (borrowed) */
    int nargs;
    request req;  /* open while build runs */
    int op_given; /* set by cli_call_op */
    reply rep;    /* the daemon's answer while print runs */
    void *state;  /* malloc'd by build for print if it needs to; freed by cli_run */
} cli_call;

enum {
    CLI_OWN_JSON = 1, /* print renders --json itself (else cli_run prints the result) */
    CLI_LOCAL = 2,    /* no request: print runs alone, without DATA */
    CLI_PAGED = 4,    /* a table that may be long: through $PAGER on a terminal */
    CLI_SELF = 8,     /* no request of its own: print runs alone, with DATA (batch) */
};

/* A row of the command table. */
struct cli_cmd {
    const char *name;
    const char *group;   /* heading in `unionctl --help` */
    const char *summary; /* the one line in `unionctl --help` */
    const char *usage;   /* "show ID [--json|--csv] [--reveal]"; '\n' between forms */
    const char *help;    /* option lines ("  --json  ...\n"), or NULL */
    const char *example; /* one command line, "unionctl ..." */
    const char *options; /* option letters it takes (see opts) */
    int min_args, max_args;
    const char *op; /* the control op; NULL: build names it (cli_call_op) */
    int flags;      /* CLI_OWN_JSON, CLI_LOCAL, CLI_PAGED */
    /* Add the command's pairs to c->req.map. Returns 0, or an exit code
     * after printing why (nothing is sent). May be NULL. */
    int (*build)(cli_call *c);
    /* Render c->rep.result (or, CLI_LOCAL, do the work). Returns an exit
     * code. May be NULL (prints nothing). */
    int (*print)(cli_call *c);
};

/* THE table (cli/table.c), cli_ncommands rows. */
extern const cli_cmd cli_commands[];
extern const size_t cli_ncommands;

/* unionctl's whole run: reads argv, runs one command, returns the exit
 * code. argv stays owned by the caller and must outlive the call. */
int cli_run(int argc, char **argv);

/* The row named name, or NULL. */
const cli_cmd *cli_command_find(const char *name);
/* The row whose name is nearest to name (edit distance, a swap of two
 * neighbours counting one), or NULL when none is near enough to be a
 * likely typo. */
const cli_cmd *cli_command_nearest(const char *name);
/* Optimal string alignment distance between a and b (bytes). */
size_t cli_edit_distance(const char *a, const char *b);
/* `unionctl --help` and `unionctl CMD --help` texts, written to f. */
void cli_help_all(FILE *f);
void cli_help_command(FILE *f, const cli_cmd *cmd);

/* Print "unionctl: <message>" and a hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage error for c's command: "CMD: usage: unionctl ..." */
int cli_usage_of(const cli_call *c);
/* Name the request's op (rows whose op is NULL: bundle, peer). */
void cli_call_op(cli_call *c, const char *op);
/* Pack "where": the --where conditions, each checked first (a usage error
 * names the bad one). Returns 0 or EXIT_USAGE. */
int cli_pack_where(cli_call *c);

/* Start a request map {"op" (if op), "operator"}; the caller adds pairs
 * with msg_map_* on r->map, then cli_request_send (which closes it). */
void cli_request_begin(request *r, const char *op);
/* Drop a request that will not be sent. */
void cli_request_discard(request *r);
/* Send r (freed), wait for the reply. Returns an exit code; on failure the
 * message was printed. Call cli_reply_free(rep) in every case. */
int cli_request_send(request *r, reply *rep);
void cli_reply_free(reply *rep);

/* A record object's displayed value of field as text (sets joined by ';').
 * Malloc'd. */
char *cli_record_cell(const msgpack_object *rec, const char *field);
/* The cell of link field `field` (a member's union or employer, an
 * enterprise's union ...) from the record's "links": the linked record's
 * name when it resolves, else the stored text, followed by " (unresolved)"
 * (未关联) when mark is set. NULL when rec has no link for field (show the
 * value as it is). Malloc'd. */
char *cli_link_cell(const msgpack_object *rec, const char *field, int mark);
/* The title a table shows for a column named column (a record field's
 * label, or a word of the catalogue in the locale's language). Static. */
const char *cli_column_title(const char *column);
/* Rows for people (a table, titled by cli_column_title) or, with --csv,
 * for scripts (the header as given + rows). */
void cli_print_rows(const opts *o, const char *const *head, size_t ncols, const char *const *cells,
                    size_t nrows);
/* The same, then frees the nrows * ncols cells and the array (taken over;
 * NULL cells print "out of memory"). */
void cli_print_rows_free(const opts *o, const char *const *head, size_t ncols, char **cells,
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

/* The build and print steps the table names, by module. */
/* cli/records.c */
int cli_add_build(cli_call *c);
int cli_add_print(cli_call *c);
int cli_edit_build(cli_call *c);
int cli_edit_print(cli_call *c);
int cli_record_build(cli_call *c); /* show, log */
int cli_show_print(cli_call *c);
int cli_list_build(cli_call *c);
int cli_list_print(cli_call *c);
int cli_log_print(cli_call *c);
int cli_log_build(cli_call *c);
int cli_revert_build(cli_call *c);
int cli_revert_print(cli_call *c);
int cli_import_build(cli_call *c);
int cli_import_print(cli_call *c);
int cli_conflicts_build(cli_call *c);
int cli_conflicts_print(cli_call *c);
int cli_resolve_build(cli_call *c);
int cli_resolve_print(cli_call *c);
int cli_bundle_build(cli_call *c);
int cli_bundle_print(cli_call *c);
int cli_node_print(cli_call *c);
/* cli/batch.c: unionctl batch [FILE] */
int cli_batch_print(cli_call *c);
/* Split a batch line into words in place (quotes '...' and "..." with \"
 * and \\, a backslash before any other byte, # comments). *out: malloc'd
 * array of pointers into line (the caller frees the array), *nout words.
 * Returns 0, or -1 with *why (a catalogue id) for an unclosed quote. */
int cli_batch_words(char ***out, int *nout, char *line, const char **why);
int cli_backup_build(cli_call *c); /* statuscmd.c */
int cli_backup_print(cli_call *c);
int cli_status_build(cli_call *c); /* statuscmd.c */
int cli_status_print(cli_call *c);
/* cli/report.c */
int cli_stats_build(cli_call *c);
int cli_stats_print(cli_call *c);
int cli_duplicates_build(cli_call *c);
int cli_duplicates_print(cli_call *c);
int cli_merge_build(cli_call *c);
int cli_merge_print(cli_call *c);
int cli_transfer_build(cli_call *c);
int cli_transfer_print(cli_call *c);
/* cli/peercmd.c */
int cli_peers_print(cli_call *c);
int cli_sync_print(cli_call *c);
int cli_peer_build(cli_call *c);
/* cli/cmdline.c */
int cli_help_print(cli_call *c);
/* cli/kindcmd.c (issue 11) */
int cli_kind_import_build(cli_call *c);   /* import --kind K (not member) */
int cli_kind_is_member(const char *word); /* 1 if --kind names members */
/* list / export of another kind: id and the kind's fields in schema
 * order, as a table or (csv) CSV that import --kind reads back. */
void cli_kind_records_print(const cli_call *c, const msgpack_object_array *recs, int csv);
int cli_benefit_build(cli_call *c);
int cli_benefit_print(cli_call *c);
int cli_report_build(cli_call *c);
int cli_report_print(cli_call *c);

#endif
