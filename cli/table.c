/* table.c - THE table of unionctl's commands: name, usage, options, an
 * example, the control op and the build / print steps. `unionctl --help`,
 * `unionctl CMD --help`, the option and argument checks and the dispatch
 * (cli/cmdline.c) all read it; nothing else lists the commands.
 *
 * Rows are in the order `unionctl --help` shows them, grouped. `options`
 * letters: j --json, c --csv, r --reveal, n --count, s --skip-invalid,
 * S --sort, L --limit, w --where, B --by, F --since, U --until, f --force,
 * N --node, l --last;
 * every letter has a line in `help` (tests/unit/test_cli.c checks).
 *
 * Words for people are marked N_() for the catalogue (po/): group,
 * summary, and each option entry of `help` on its own (an entry is a line
 * starting "  WORD" and the deeper-indented lines under it; cmdline.c
 * translates entry by entry, so one N_() must hold exactly one entry).
 * Usages and examples are command syntax and stay as they are. */
#include "cli/cli.h"
#include "cli/i18n.h"

#include <limits.h>

#define OPT_JSON N_("  --json            JSON for scripts\n")
#define OPT_CSV N_("  --csv             CSV for scripts: a header row, then one row per item\n")
#define OPT_REVEAL                                                                                 \
    N_("  --reveal          full ID numbers and phones (the daemon notes the reveal in its\n"      \
       "                    log, without the values)\n")
#define OPT_WHERE                                                                                  \
    N_("  --where EXPR      only members matching EXPR: FIELD OP VALUE, OP one of\n"               \
       "                    = != < <= > >= ~ (contains); several are ANDed\n")

#define OPT_EXCEL                                                                                  \
    N_("  --excel           CSV for Excel and WPS: UTF-8 with a BOM, CRLF, ID numbers\n"           \
       "                    and phones as =\"...\" so they stay text\n")

#define OPT_KIND                                                                                   \
    N_("  --kind K          the kind of record: member (default), union, enterprise,\n"            \
       "                    station, benefit (or 工会, 企业, 服务站点, ...)\n")

/* clang-format off */
/* {name, group, summary, usage, help, example,
 *  options, min_args, max_args, op, flags, build, print} */
const cli_cmd cli_commands[] = {
    {"add", N_("records"), N_("add a member (or union, enterprise, station); prints its id"),
     "add [--kind K] FIELD=VALUE...",
     N_("  FIELD=VALUE       a field's value; name is required; office, joined and\n"
        "                    status default to the node's office, today and active;\n"
        "                    benefits+=VALUE adds one element to the set\n") OPT_KIND,
     "unionctl add name=陈诚 gender=M phone=13812345678 benefits+=heat-relief-2021",
     "K", 1, INT_MAX, "add", 0, cli_add_build, cli_add_print},
    {"show", N_("records"), N_("one member: every field, the values of a field in conflict"),
     "show ID [--json|--csv] [--reveal]",
     OPT_JSON OPT_CSV OPT_REVEAL,
     "unionctl show 01m8x2k4q9w3e5r7 --reveal",
     "jcr", 1, 1, "show", CLI_PAGED, cli_record_build, cli_show_print},
    {"edit", N_("records"), N_("change fields (FIELD+=V / FIELD-=V for benefits)"),
     "edit ID FIELD=VALUE...",
     N_("  FIELD=VALUE       the new value (empty clears the field);\n"
        "                    FIELD+=V / FIELD-=V add / remove one element of a set\n"),
     "unionctl edit 01m8x2k4q9w3e5r7 phone=13900001234 benefits-=heat-relief-2021",
     "", 2, INT_MAX, "edit", 0, cli_edit_build, cli_edit_print},
    {"list", N_("records"), N_("find members: filter, sort, count"),
     "list [--kind K] [--where EXPR]... [--sort F] [--limit N] [--json|--csv] [--count] [--reveal]",
     OPT_WHERE
     N_("  --sort F          order by field F\n")
     N_("  --limit N         at most N members\n")
     N_("  --count           only the number of members found\n") OPT_JSON OPT_CSV OPT_REVEAL OPT_KIND
     OPT_EXCEL,
     "unionctl list --where office=yinzhou --where 'joined>=2024-01-01' --count",
     "jcrnSLwKe", 0, 0, "list", CLI_OWN_JSON | CLI_PAGED, cli_list_build, cli_list_print},
    {"log", N_("records"), N_("what changed, when, by whom: the office, or one member"),
     "log [ID] [--since D] [--until D] [--by USER] [--node NODE] [--limit N] [--json|--csv] [--reveal]",
     N_("  ID                one member's history (a record id, ID number or phone);\n"
        "                    without it, every change of the office, newest first\n")
     N_("  --since D         changes on or after day D (YYYY-MM-DD, today, yesterday)\n")
     N_("  --until D         changes on or before day D\n")
     N_("  --by USER         only the changes of that clerk (operator)\n")
     N_("  --node NODE       only the changes made on that node\n")
     N_("  --limit N         at most N changes\n")
     OPT_JSON N_("  --csv             CSV: one row per changed field\n") OPT_REVEAL,
     "unionctl log --since today",
     "jcrFUBNL", 0, 1, NULL, CLI_PAGED, cli_log_build, cli_log_print}, /* op: log or history */
    {"revert", N_("records"), N_("undo a change (from unionctl log) with one new change"),
     "revert CHANGE|--last [--force] [--json]",
     N_("  CHANGE            the change id unionctl log shows (6+ hex digits)\n")
     N_("  --last            the last change made on this node\n")
     N_("  --force           put back the older values even where a later change wrote\n"
        "                    the field again\n") OPT_JSON,
     "unionctl revert --last",
     "lfj", 0, 1, "revert", 0, cli_revert_build, cli_revert_print},
    {"import", N_("records"), N_("add or update members from a CSV file (all rows or none)"),
     "import [--kind K] FILE.csv [--encoding E] [--dry-run] [--skip-invalid] [--json]",
     N_("  FILE.csv          header row = field names or Chinese column names (an id\n"
        "                    column updates those records; else a row updates the member\n"
        "                    with its ID number, or name + phone); every row is checked\n"
        "                    before anything is written\n")
     N_("  --encoding E      utf-8 or gb18030 (gbk); default: detected\n")
     N_("  --dry-run         say what would be imported; write nothing\n")
     N_("  --skip-invalid    import the good rows, list the bad ones\n") OPT_JSON
     N_("  --kind K          the kind of record: member (default), union, enterprise,\n"
        "                    station, benefit (or 工会, 企业, 服务站点, ...)\n"
        "                    (benefit columns: id_number,kind,date,amount,station)\n"),
     "unionctl import members.csv --dry-run",
     "sjKEY", 1, 1, "import", 0, cli_import_build, cli_import_print},
    {"export", N_("records"), N_("every record, never masked: a full backup (CSV unless --json)"),
     "export [--kind K] [--csv|--json|--excel]",
     N_("  --csv             CSV (the default); import reads it back\n") OPT_JSON OPT_KIND
     OPT_EXCEL,
     "unionctl export > backup.csv",
     "jcKe", 0, 0, "list", CLI_OWN_JSON, cli_list_build, cli_list_print},
    {"benefit", N_("records"), N_("welfare hand-outs: give one (dated, in yuan), list a member's"),
     "benefit give MEMBER KIND --date D --amount YUAN [--station S]\nbenefit list MEMBER [--json|--csv]",
     N_("  MEMBER            a member's record id or ID number\n")
     N_("  --date D          the day of the hand-out (YYYY-MM-DD)\n")
     N_("  --amount YUAN     how much, in yuan (180, 180.50)\n")
     N_("  --station S       the service station (its id or name)\n") OPT_JSON OPT_CSV,
     "unionctl benefit give 330212196001060006 heat-relief-2021 --date 2021-07-19 --amount 180",
     "DAQjc", 2, 3, NULL, 0, cli_benefit_build, cli_benefit_print}, /* op: add or benefit_list */
    {"conflicts", N_("merge"), N_("fields edited concurrently on two nodes"),
     "conflicts [--json|--csv] [--reveal]",
     OPT_JSON OPT_CSV OPT_REVEAL,
     "unionctl conflicts",
     "jcr", 0, 0, "conflicts", CLI_PAGED, cli_conflicts_build, cli_conflicts_print},
    {"resolve", N_("merge"), N_("settle a conflict (default: the value every node shows)"),
     "resolve ID FIELD [VALUE]",
     NULL,
     "unionctl resolve 01m8x2k4q9w3e5r7 phone 13900001234",
     "", 2, 3, "resolve", 0, cli_resolve_build, cli_resolve_print},
    {"bundle", N_("merge"), N_("offline sync: write or take in a git bundle (a USB stick)"),
     "bundle export [--since OLD.bundle] FILE|DIR [--force]\nbundle import FILE",
     N_("  FILE|DIR          the bundle to write; in a directory DIR it is named\n"
        "                    NODE-YYYYMMDD.bundle\n")
     N_("  --since OLD       export only what is newer than the earlier bundle OLD\n")
     N_("  --force           overwrite an existing bundle\n") OPT_JSON,
     "unionctl bundle export --since /media/usb/last.bundle /media/usb/new.bundle",
     "jFf", 2, 2, NULL, 0, cli_bundle_build, cli_bundle_print}, /* op: bundle_export or bundle_import */
    {"stats", N_("membership work"), N_("counts of active members, grouped (joined in a period)"),
     "stats [--kind K] [--by F,...] [--across F] [--since D] [--until D] [--where EXPR]...\n"
     "      [--csv|--json|--excel|--xlsx FILE]",
     N_("  --by F,...        one row per combination of these fields' values\n")
     N_("  --across F        a grid: a row per --by value, a column per value of F,\n"
        "                    with row and column totals\n")
     N_("  --since D         joined on or after D (YYYY-MM-DD)\n")
     N_("  --until D         joined on or before D (YYYY-MM-DD)\n") OPT_WHERE OPT_CSV OPT_JSON
     OPT_EXCEL
     N_("  --xlsx FILE       the table (or grid) as a workbook\n") OPT_KIND,
     "unionctl stats --by category --across office --since 2024-01-01",
     "BFUwjcaeXK", 0, 0, "stats", CLI_OWN_JSON | CLI_PAGED, cli_stats_build, cli_stats_print},
    {"report", N_("membership work"), N_("the period report: unions, members, enterprises, ..."),
     "report --from D --to D [--office O] [--json|--csv|--excel|--xlsx FILE]",
     N_("  --from D          first day of the period (YYYY-MM-DD)\n")
     N_("  --to D            last day of the period (included)\n")
     N_("  --office O        only the records of office O\n")
     N_("  --json            the report as one JSON object\n")
     N_("  --csv             one row per office, then a row \"total\"\n")
     OPT_EXCEL
     N_("  --xlsx FILE       a workbook: sheets 合计 (totals), 按单位 (by office),\n"
        "                    按类别 (by category)\n"),
     "unionctl report --from 2021-01-01 --to 2021-09-30 --json",
     "RTOjceX", 0, 0, "report", CLI_OWN_JSON | CLI_PAGED, cli_report_build, cli_report_print},
    {"duplicates", N_("membership work"), N_("likely duplicates: same ID number, or phone + name"),
     "duplicates [--json|--csv] [--reveal]",
     OPT_JSON OPT_CSV OPT_REVEAL,
     "unionctl duplicates",
     "jcr", 0, 0, "duplicates", CLI_PAGED, cli_duplicates_build, cli_duplicates_print},
    {"merge", N_("membership work"), N_("fold a duplicate into the record to keep"),
     "merge KEEP DUP [--json] [--reveal]",
     N_("  KEEP              the record kept: its values stay; empty fields are\n"
        "                    filled from DUP, benefits united (no conflicts)\n")
     N_("  DUP               the duplicate: becomes status=merged, merged_into=KEEP\n")
     OPT_JSON OPT_REVEAL,
     "unionctl merge 01m8x2k4q9w3e5r7 01m9a7c2d4e6f8g0",
     "jr", 2, 2, "merge", 0, cli_merge_build, cli_merge_print},
    {"transfer", N_("membership work"), N_("move a member to another office"),
     "transfer ID OFFICE [--force] [--json]",
     N_("  --force           move to an office no node or record names yet\n") OPT_JSON,
     "unionctl transfer 01m8x2k4q9w3e5r7 haishu",
     "fj", 2, 2, "transfer", 0, cli_transfer_build, cli_transfer_print},
    {"peers", N_("sync"), N_("pinned peers: state, last sync, bytes, heads behind"),
     "peers [--json|--csv]",
     OPT_JSON OPT_CSV,
     "unionctl peers",
     "jc", 0, 0, "peers", CLI_PAGED, NULL, cli_peers_print},
    {"peer", N_("sync"), N_("pin a peer (unionctl id shows a fingerprint) or unpin one"),
     "peer add NAME HOST:PORT FINGERPRINT\npeer remove NAME",
     NULL,
     "unionctl peer add haishu-01 10.0.0.7:7420 "
     "3f1c0b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a190817263",
     "", 2, 4, NULL, 0, cli_peer_build, NULL}, /* op: peer_add or peer_remove */
    {"sync", N_("sync"), N_("exchange with every peer now and wait"),
     "sync [--json]",
     OPT_JSON,
     "unionctl sync",
     "j", 0, 0, "sync", CLI_OWN_JSON, NULL, cli_sync_print},
    {"id", N_("node"), N_("node name, office, fingerprint, listen address"),
     "id [--json]",
     OPT_JSON,
     "unionctl id",
     "j", 0, 0, "id", 0, NULL, cli_node_print},
    {"status", N_("node"), N_("the node, its records and conflicts, a line per peer"),
     "status [--json]\nstatus --check [--max-offline MINUTES]",
     N_("  --check           for monitoring: exit 1 (naming the peer) when a pinned\n"
        "                    peer has been unreachable too long, else 0\n")
     N_("  --max-offline M   how long is too long, in minutes (default 60)\n") OPT_JSON,
     "unionctl status --check --max-offline 120",
     "jCM", 0, 0, "status", CLI_OWN_JSON, cli_status_build, cli_status_print},
    {"backup", N_("node"), N_("the whole store in one file, for uniond restore"),
     "backup FILE [--force]",
     N_("  FILE              the backup to write (a git bundle of every branch)\n")
     N_("  --force           overwrite an existing file\n") OPT_JSON,
     "unionctl backup /media/usb/yinzhou-01.backup",
     "fj", 1, 1, "backup", 0, cli_backup_build, cli_backup_print},
    {"batch", N_("node"), N_("run many commands, one per line, over one connection"),
     "batch [FILE]",
     N_("  FILE              the commands, one per line, each as after 'unionctl'\n"
        "                    (quotes and # comments as in a shell); default: standard\n"
        "                    input. Every line runs; the exit code is the first failed\n"
        "                    line's, and a daemon that does not answer stops the batch\n"),
     "unionctl batch new-members.txt",
     "", 0, 1, NULL, CLI_SELF, NULL, cli_batch_print},
    {"help", N_("node"), N_("this list, or a command's usage, options and an example"),
     "help [COMMAND]",
     NULL,
     "unionctl help list",
     "", 0, 1, NULL, CLI_LOCAL, NULL, cli_help_print},
};
/* clang-format on */

const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];
