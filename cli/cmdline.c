/* cmdline.c - unionctl's command line, read once for every command: -d DATA
 * and the options may stand anywhere (before or after the command and its
 * arguments); the command word is looked up in THE table (cli/table.c),
 * its options and argument count are checked against its row, then one
 * request is built, sent and printed (cli_run). Also --help for all and
 * for one command, --version, and the "did you mean" of a mistyped command.
 * Starts the locale (cli/i18n.c) and, for long tables on a terminal, the
 * pager (cli/pager.c).
 *
 * Nothing here knows a particular command: a new command is one row in
 * table.c plus its build and print steps. */
#include "cli/errtext.h"
#include "cli/cli.h"
#include "proto/datadir.h"
#include "cli/schemacmd.h"
#include "cli/i18n.h"
#include "cli/pager.h"
#include "cli/render.h"
#include "proto/query.h"
#include "proto/version.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Every option unionctl knows, for the whole line. d, h, V and P are global;
 * the others are checked against the command's row after the command word
 * is known (it may come after them). */
/* clang-format off */
static const struct option cli_longopts[] = {
    {"json", no_argument, 0, 'j'},          {"csv", no_argument, 0, 'c'},
    {"reveal", no_argument, 0, 'r'},        {"count", no_argument, 0, 'n'},
    {"skip-invalid", no_argument, 0, 's'},  {"sort", required_argument, 0, 'S'},
    {"limit", required_argument, 0, 'L'},   {"where", required_argument, 0, 'w'},
    {"by", required_argument, 0, 'B'},      {"since", required_argument, 0, 'F'},
    {"until", required_argument, 0, 'U'},   {"force", no_argument, 0, 'f'},
    {"data", required_argument, 0, 'd'},    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},       {"no-pager", no_argument, 0, 'P'},
    {"kind", required_argument, 0, 'K'},    {"from", required_argument, 0, 'R'},
    {"to", required_argument, 0, 'T'},      {"office", required_argument, 0, 'O'},
    {"date", required_argument, 0, 'D'},    {"amount", required_argument, 0, 'A'},
    {"station", required_argument, 0, 'Q'}, {"encoding", required_argument, 0, 'E'},
    {"dry-run", no_argument, 0, 'Y'},       {"xlsx", required_argument, 0, 'X'},
    {"across", required_argument, 0, 'a'},  {"excel", no_argument, 0, 'e'},
    {"check", no_argument, 0, 'C'},         {"max-offline", required_argument, 0, 'M'},
    {"node", required_argument, 0, 'N'},    {"last", no_argument, 0, 'l'},
    {0, 0, 0, 0}};
/* clang-format on */

/* Where each command option lands in opts: a flag set to 1 or a string
 * kept (--limit and --where, which need more, are read by line_read). */
static const struct {
    char letter;
    size_t off;
    int takes_value;
} opts_fields[] = {
    {'j', offsetof(opts, json), 0},         {'c', offsetof(opts, csv), 0},
    {'r', offsetof(opts, reveal), 0},       {'n', offsetof(opts, count), 0},
    {'s', offsetof(opts, skip_invalid), 0}, {'f', offsetof(opts, force), 0},
    {'S', offsetof(opts, sort), 1},         {'B', offsetof(opts, by), 1},
    {'F', offsetof(opts, since), 1},        {'U', offsetof(opts, until), 1},
    {'K', offsetof(opts, kind), 1},         {'R', offsetof(opts, from), 1},
    {'T', offsetof(opts, to), 1},           {'O', offsetof(opts, office), 1},
    {'N', offsetof(opts, node), 1},         {'l', offsetof(opts, last), 0},
    {'D', offsetof(opts, date), 1},         {'A', offsetof(opts, amount), 1},
    {'Q', offsetof(opts, station), 1},      {'E', offsetof(opts, encoding), 1},
    {'Y', offsetof(opts, dry_run), 0},      {'X', offsetof(opts, xlsx), 1},
    {'a', offsetof(opts, across), 1},       {'e', offsetof(opts, excel), 0},
    {'C', offsetof(opts, check), 0},        {'M', offsetof(opts, max_offline), 1},
};

static void opts_set(opts *o, int letter, const char *value)
{
    for (size_t i = 0; i < sizeof opts_fields / sizeof opts_fields[0]; i++) {
        if (opts_fields[i].letter != letter)
            continue;
        char *at = (char *)o + opts_fields[i].off;
        if (opts_fields[i].takes_value)
            *(const char **)at = value;
        else
            *(int *)at = 1;
        return;
    }
    assert(!"an option in cli_longopts without a place in opts");
}

/* The command line as read, before the command word is looked up. */
typedef struct {
    int help, version, no_pager;
    const char *limit; /* --limit's text, checked once the command is known */
    char **pos;        /* positional words, command word first (malloc'd array) */
    int npos;
    int *letters;       /* the command options given, in order (malloc'd) */
    const char **texts; /* and how each was written (borrowed from argv) */
    int nletters;
    const char *bad;     /* the first option unionctl does not know */
    int bad_needs_value; /* ... or that lacks its value */
} line;

/* The command being run, for the hint under a usage error. */
static const char *hint_command;

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("unionctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (hint_command)
        fprintf(stderr, _("(unionctl %s --help shows its usage, options and an example)\n"),
                hint_command);
    else
        fputs(_("(unionctl --help lists the commands)\n"), stderr);
    return EXIT_USAGE;
}

int cli_usage_of(const cli_call *c)
{
    const char *u = c->cmd->usage;
    /* TRANSLATORS: as wide as the 7 columns of "usage: " */
    const char *usage = _("usage: ");
    fprintf(stderr, "unionctl: %s: %sunionctl ", c->cmd->name, usage);
    for (; *u; u++) {
        if (*u == '\n')
            fputs("\n       unionctl ", stderr);
        else
            fputc(*u, stderr);
    }
    fputc('\n', stderr);
    fprintf(stderr, _("(unionctl %s --help shows its options and an example)\n"), c->cmd->name);
    return EXIT_USAGE;
}

void cli_call_op(cli_call *c, const char *op)
{
    assert(c->cmd->op == NULL && !c->op_given);
    msg_map_str(&c->req.map, "op", op);
    c->op_given = 1;
}

int cli_pack_where(cli_call *c)
{
    /* bad syntax: usage (2); an unknown field or a value the field can
     * never hold: refused (1), with the nearest name (cli/schemacmd.c) */
    int rc = cli_where_check((const char *const *)c->o.where, c->o.nwhere);
    if (rc)
        return rc;
    msg_map_key(&c->req.map, "where");
    msgpack_pack_array(&c->req.pk, (size_t)c->o.nwhere);
    for (int i = 0; i < c->o.nwhere; i++)
        msg_pack_str(&c->req.pk, c->o.where[i]);
    return 0;
}

/* ---- reading the line ------------------------------------------------------ */

static void line_free(line *l)
{
    free(l->pos);
    free(l->letters);
    free(l->texts);
}

/* Read every word of argv (options anywhere; "--" ends the options). Stores
 * global options in l and cli_data_dir, command options in o; what is wrong
 * is kept in l->bad, reported once the command is known. Returns 0, or -1
 * when out of memory. */
static int line_read(line *l, opts *o, int argc, char **argv)
{
    memset(l, 0, sizeof *l);
    memset(o, 0, sizeof *o);
    o->limit = -1;
    l->pos = calloc((size_t)argc + 1, sizeof *l->pos);
    l->letters = calloc((size_t)argc + 1, sizeof *l->letters);
    l->texts = calloc((size_t)argc + 1, sizeof *l->texts);
    o->where = calloc((size_t)argc + 1, sizeof *o->where);
    if (!l->pos || !l->letters || !l->texts || !o->where)
        return -1;
    optind = 0; /* full re-initialisation of GNU getopt */
    opterr = 0;
    /* "-": every word comes back in order, positionals as 1, so the
     * command and its arguments may stand between options whatever
     * POSIXLY_CORRECT says; ":": a missing value is told apart. */
    for (;;) {
        int at = optind ? optind : 1;
        int ch = getopt_long(argc, argv, "-:d:hV", cli_longopts, NULL);
        if (ch == -1)
            break;
        const char *text = at < argc ? argv[at] : "";
        switch (ch) {
        case 1:
            l->pos[l->npos++] = optarg;
            break;
        case 'd':
            cli_data_dir = optarg;
            break;
        case 'h':
            l->help = 1;
            break;
        case 'V':
            l->version = 1;
            break;
        case 'P':
            l->no_pager = 1;
            break;
        case '?':
        case ':':
            if (!l->bad) {
                l->bad = text;
                l->bad_needs_value = ch == ':';
            }
            break;
        default:
            l->letters[l->nletters] = ch;
            l->texts[l->nletters++] = text;
            if (ch == 'L')
                l->limit = optarg;
            else if (ch == 'w')
                o->where[o->nwhere++] = optarg;
            else
                opts_set(o, ch, optarg);
        }
    }
    for (int i = optind; i < argc; i++) /* the words after "--" */
        l->pos[l->npos++] = argv[i];
    return 0;
}

/* The options given, checked against the command's row. Returns 0 or
 * EXIT_USAGE (message printed). */
static int line_check_options(const line *l, opts *o, const cli_cmd *cmd)
{
    if (l->bad && l->bad_needs_value)
        return cli_usage_error(_("%s: option '%s' needs a value"), cmd->name, l->bad);
    if (l->bad)
        return cli_usage_error(_("%s: unknown or misplaced option '%s'"), cmd->name, l->bad);
    for (int i = 0; i < l->nletters; i++)
        if (!strchr(cmd->options, l->letters[i]))
            return cli_usage_error(_("%s: unknown or misplaced option '%s'"), cmd->name,
                                   l->texts[i]);
    if (l->limit) {
        char *end;
        errno = 0;
        o->limit = strtol(l->limit, &end, 10);
        if (!*l->limit || *end || o->limit < 0 || errno)
            return cli_usage_error(_("--limit wants a number >= 0, not '%s'"), l->limit);
    }
    if (o->json && o->csv)
        return cli_usage_error(_("--json and --csv exclude each other"));
    if (o->excel && o->json)
        return cli_usage_error(_("--json and --excel exclude each other"));
    if (o->excel) { /* CSV for Excel: the CSV output, written for it */
        o->csv = 1;
        render_csv_excel(1);
    }
    return 0;
}

/* ---- finding the command ---------------------------------------------------- */

const cli_cmd *cli_command_find(const char *name)
{
    for (size_t i = 0; i < cli_ncommands; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

size_t cli_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *d = malloc((la + 1) * (lb + 1) * sizeof *d);
    if (!d)
        return (size_t)-1;
#define D(i, j) d[(i) * (lb + 1) + (j)]
    for (size_t i = 0; i <= la; i++)
        D(i, 0) = i;
    for (size_t j = 0; j <= lb; j++)
        D(0, j) = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = D(i - 1, j) + 1;
            if (D(i, j - 1) + 1 < best)
                best = D(i, j - 1) + 1;
            if (D(i - 1, j - 1) + cost < best)
                best = D(i - 1, j - 1) + cost;
            /* "lsit": two neighbours swapped is one slip, not two */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                D(i - 2, j - 2) + 1 < best)
                best = D(i - 2, j - 2) + 1;
            D(i, j) = best;
        }
    size_t out = D(la, lb);
#undef D
    free(d);
    return out;
}

const cli_cmd *cli_command_nearest(const char *name)
{
    size_t len = strlen(name), best = (size_t)-1;
    const cli_cmd *near = NULL, *prefix = NULL;
    int nprefix = 0;
    for (size_t i = 0; i < cli_ncommands; i++) {
        size_t dist = cli_edit_distance(name, cli_commands[i].name);
        if (dist < best) {
            best = dist;
            near = &cli_commands[i];
        }
        if (len >= 3 && strncmp(cli_commands[i].name, name, len) == 0) {
            prefix = &cli_commands[i];
            nprefix++;
        }
    }
    /* At most two slips, and fewer than the word has letters (so "x" is not
     * taken for "id"); else a unique start of a name ("dup"). */
    if (near && best <= 2 && best < len)
        return near;
    return nprefix == 1 ? prefix : NULL;
}

/* ---- help ---------------------------------------------------------------------- */

void cli_help_all(FILE *f)
{
    const char *group = NULL;
    fputs(_("usage: unionctl [-d DATA] COMMAND [ARGS] [OPTIONS]\n"
            "       unionctl COMMAND --help     its usage, options and an example\n"
            "       unionctl --version\n"),
          f);
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *c = &cli_commands[i];
        if (!group || strcmp(group, c->group) != 0) {
            /* TRANSLATORS: a group heading of unionctl --help ("records:") */
            fputc('\n', f);
            fprintf(f, _("%s:\n"), _(group = c->group));
        }
        fprintf(f, "  %-12s %s\n", c->name, _(c->summary));
    }
    fputs(_("\n"
            "-d DATA and the options may stand anywhere on the line; DATA may also\n"
            "come from UNIOND_DATA. ID numbers and phones are masked unless --reveal.\n"
            "Long tables on a terminal go through $PAGER (less -FRX); --no-pager not.\n"
            "Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 daemon unreachable.\n"),
          f);
}

/* A command's option lines, each entry through the catalogue. An entry is
 * a line starting with two spaces and a word, with the lines under it that
 * start with more spaces: table.c marks each entry with N_() exactly so. */
static void help_options_print(FILE *f, const char *help)
{
    while (*help) {
        const char *end = help;
        do {
            const char *nl = strchr(end, '\n');
            end = nl ? nl + 1 : end + strlen(end);
        } while (strncmp(end, "   ", 3) == 0);
        char *entry = strndup(help, (size_t)(end - help));
        fputs(entry ? _(entry) : help, f);
        if (!entry)
            return;
        free(entry);
        help = end;
    }
}

void cli_help_command(FILE *f, const cli_cmd *cmd)
{
    const char *dash_d = cmd->flags & CLI_LOCAL ? "" : "[-d DATA] ";
    const char *usage = _("usage: ");
    fprintf(f, "%sunionctl %s", usage, dash_d);
    for (const char *u = cmd->usage; *u; u++) {
        if (*u == '\n')
            fprintf(f, "\n       unionctl %s", dash_d);
        else
            fputc(*u, f);
    }
    fprintf(f, "\n\n%s\n\n%s\n", _(cmd->summary), _("options:"));
    if (cmd->help)
        help_options_print(f, cmd->help);
    if (!(cmd->flags & CLI_LOCAL))
        fputs(_("  -d DATA           the node's data directory (default: $UNIOND_DATA)\n"), f);
    if (cmd->flags & CLI_PAGED)
        fputs(_("  --no-pager        not through $PAGER, even on a terminal\n"), f);
    fputs(_("  -h, --help        this help\n"), f);
    fprintf(f, "\n%s\n  %s\n", _("example:"), cmd->example);
}

/* unionctl help [COMMAND] */
int cli_help_print(cli_call *c)
{
    if (c->nargs == 0) {
        cli_help_all(stdout);
        return EXIT_OK;
    }
    const cli_cmd *cmd = cli_command_find(c->args[0]);
    if (!cmd) {
        const cli_cmd *near = cli_command_nearest(c->args[0]);
        hint_command = NULL;
        if (near)
            return cli_usage_error(_("help: no command '%s'; did you mean '%s'?"), c->args[0],
                                   near->name);
        return cli_usage_error(_("help: no command '%s'"), c->args[0]);
    }
    cli_help_command(stdout, cmd);
    return EXIT_OK;
}

/* ---- running one command --------------------------------------------------------- */

/* Build, send, print (a long table for people through the pager, once
 * the daemon has answered). Returns the exit code. */
static int call_remote(cli_call *c, int no_pager)
{
    int rc = 0;
    cli_request_begin(&c->req, c->cmd->op);
    if (c->o.kind) /* --kind: the request's "kind" (docs/CONTROL.md) */
        msg_map_str(&c->req.map, "kind", c->o.kind);
    if (c->cmd->build && (rc = c->cmd->build(c)) != 0) {
        cli_request_discard(&c->req);
        return rc;
    }
    assert(c->cmd->op != NULL || c->op_given); /* a row without op names it in build */
    rc = cli_request_send(&c->req, &c->rep);
    if (rc == EXIT_OK) {
        if ((c->cmd->flags & CLI_PAGED) && !c->o.json && !c->o.csv && !no_pager)
            cli_pager_start();
        if (c->o.json && !(c->cmd->flags & CLI_OWN_JSON))
            cli_print_json(c->rep.result);
        else if (c->cmd->print)
            rc = c->cmd->print(c);
    }
    cli_reply_free(&c->rep);
    return rc;
}

/* Everything after the command word is known. */
static int call_run(cli_call *c, const line *l)
{
    int rc = line_check_options(l, &c->o, c->cmd);
    if (rc)
        return rc;
    if (c->nargs < c->cmd->min_args || c->nargs > c->cmd->max_args) {
        if (c->cmd->max_args == 0)
            return cli_usage_error(_("%s: unexpected argument '%s'"), c->cmd->name, c->args[0]);
        return cli_usage_of(c);
    }
    if (c->cmd->flags & CLI_LOCAL)
        return c->cmd->print(c);
    if (!cli_data_dir || !*cli_data_dir)
        return cli_usage_error(_("no DATA directory: give -d DATA or set UNIOND_DATA"));
    if (c->cmd->flags & CLI_SELF)
        return c->cmd->print(c);
    return call_remote(c, l->no_pager);
}

/* The DATA used without -d: $UNIOND_DATA, else /var/lib/uniond when it
 * exists (the system service's), else $XDG_DATA_HOME/uniond, else
 * ~/.local/share/uniond when that exists; NULL otherwise (then the
 * "no DATA directory" usage error says how to give one). The same rule as
 * uniond's (daemon/main/main.c). Returns env or a static buffer. */
static int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *cli_data_default(void)
{
    static char buf[4096];
    return datadir_default(buf, sizeof buf, getenv("UNIOND_DATA"), getenv("XDG_DATA_HOME"),
                           getenv("HOME"), 1, dir_exists);
}

/* What is printed when the line has no command word. */
static int run_without_command(const line *l)
{
    if (l->help) {
        cli_help_all(stdout);
        return EXIT_OK;
    }
    if (l->bad)
        return cli_usage_error(l->bad_needs_value ? _("a value is missing after '%s'")
                                                  : _("unknown option '%s'"),
                               l->bad);
    cli_help_all(stderr);
    return EXIT_USAGE;
}

/* stdout is checked once, at the end: a full disk shows up here. */
static int output_check(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, _("unionctl: writing the output: %s\n"), errtext_strerror(errno));
        return rc ? rc : EXIT_FAIL;
    }
    return rc;
}

int cli_run(int argc, char **argv)
{
    line l;
    cli_call c;
    int rc;
    memset(&c, 0, sizeof c);
    cli_i18n_init();
    hint_command = NULL;
    cli_data_dir = cli_data_default();
    if ((rc = cli_schema_line(argc, argv)) >= 0) /* field, fields: cli/schemacmd.c */
        return output_check(rc);
    if (line_read(&l, &c.o, argc, argv) != 0) {
        fprintf(stderr, _("unionctl: out of memory\n"));
        rc = EXIT_FAIL;
        goto cleanup;
    }
    if (l.version) {
        printf("unionctl %s\n", UNIOND_VERSION);
        rc = EXIT_OK;
        goto cleanup;
    }
    if (l.npos == 0) {
        rc = run_without_command(&l);
        goto cleanup;
    }
    c.cmd = cli_command_find(l.pos[0]);
    if (!c.cmd) {
        const cli_cmd *near = cli_command_nearest(l.pos[0]);
        if (near)
            rc = cli_usage_error(_("unknown command '%s'; did you mean '%s'?"), l.pos[0],
                                 near->name);
        else
            rc = cli_usage_error(_("unknown command '%s'"), l.pos[0]);
        goto cleanup;
    }
    hint_command = c.cmd->name;
    if (l.help) {
        cli_help_command(stdout, c.cmd);
        rc = EXIT_OK;
        goto cleanup;
    }
    c.args = l.pos + 1;
    c.nargs = l.npos - 1;
    rc = call_run(&c, &l);
cleanup:
    free(c.state);
    free(c.o.where);
    line_free(&l);
    rc = output_check(rc);
    cli_pager_end();
    return rc;
}
