/* peercmd.c - unionctl's sync commands: peers, sync, peer add, peer remove
 * (their build and print steps; rows in cli/table.c). The daemon answers
 * these on its loop thread, where the peer sessions live. */
#include "cli/cli.h"
#include "cli/dmsg.h"
#include "cli/i18n.h"
#include "cli/render.h"
#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *fmt_bytes(int64_t n)
{
    char *b = malloc(32);
    if (!b)
        return NULL;
    if (n < 10 * 1024)
        snprintf(b, 32, "%lld B", (long long)n);
    else if (n < 10 * 1024 * 1024)
        snprintf(b, 32, "%lld KiB", (long long)(n / 1024));
    else
        snprintf(b, 32, "%lld MiB", (long long)(n / (1024 * 1024)));
    return b;
}

/* The states a peer is shown in (daemon/net), titled for people. */
static const char *const peer_states[] = {
    NC_("peer state", "connecting"), NC_("peer state", "handshake"), NC_("peer state", "hello"),
    NC_("peer state", "connected"),  NC_("peer state", "closing"),   NC_("peer state", "idle"),
    NC_("peer state", "backoff"),
};

/* One row per peer: name, address, office, state, last sync, in, out,
 * behind, note. Malloc'd, n * 9 cells. */
static char **peer_cells(const msgpack_object *a, size_t n, int csv)
{
    char **cells = calloc(n * 9 + 1, sizeof *cells);
    for (size_t i = 0; cells && i < n; i++) {
        const msgpack_object *p = &a->via.array.ptr[i];
        char **c = cells + i * 9;
        c[0] = msg_get_str(p, "name");
        c[1] = msg_get_str(p, "address");
        c[2] = msg_get_str(p, "office");
        char *st = msg_get_str(p, "state"), *until = msg_get_str(p, "retry_at");
        if (st && until && strcmp(st, "backoff") == 0 && csv) {
            char *m = malloc(strlen(until) + 32);
            if (m)
                sprintf(m, "backoff until %.19s", until);
            free(st);
            st = m;
        } else if (st && until && strcmp(st, "backoff") == 0) {
            char *local = cli_time_local(until);
            const char *fmt = _("backoff until %s");
            char *m = local ? malloc(strlen(local) + strlen(fmt) + 1) : NULL;
            if (m)
                sprintf(m, fmt, local);
            free(local);
            free(st);
            st = m;
        } else if (st && !csv) {
            char *word = strdup(cli_pgettext("peer state", st));
            free(st);
            st = word;
        }
        free(until);
        c[3] = st;
        char *last = msg_get_str(p, "last_sync");
        c[4] = last && !csv ? cli_time_local(last) : last;
        if (!csv)
            free(last);
        c[5] = fmt_bytes(msg_get_int(p, "bytes_in", 0));
        c[6] = fmt_bytes(msg_get_int(p, "bytes_out", 0));
        c[7] = malloc(24);
        if (c[7])
            snprintf(c[7], 24, "%lld", (long long)msg_get_int(p, "heads_behind", 0));
        /* the daemon's English, for people: in the table and in --csv
         * (clerks' spreadsheets); --json keeps it as it came */
        char *note = msg_get_str(p, "last_error");
        c[8] = note && *note ? dmsg_translate(note) : NULL;
        if (!c[8]) {
            c[8] = note;
            note = NULL;
        }
        free(note);
    }
    return cells;
}

int cli_peers_print(cli_call *c)
{
    const msgpack_object *a = c->rep.result;
    size_t n = a && a->type == MSGPACK_OBJECT_ARRAY ? a->via.array.size : 0;
    (void)peer_states;
    if (n == 0 && !c->o.csv) {
        fputs(_("no peers pinned; add one with: unionctl peer add NAME HOST:PORT FINGERPRINT\n"),
              stdout);
        return EXIT_OK;
    }
    static const char *const head[] = {
        NC_("peer column", "name"),  NC_("peer column", "address"),   NC_("peer column", "office"),
        NC_("peer column", "state"), NC_("peer column", "last sync"), NC_("peer column", "in"),
        NC_("peer column", "out"),   NC_("peer column", "behind"),    NC_("peer column", "note")};
    char **cells = peer_cells(a, n, c->o.csv);
    if (c->o.csv || !cells) {
        cli_print_rows_free(&c->o, head, 9, cells, n);
        return EXIT_OK;
    }
    /* Titled here, not by cli_column_title: "name" is the peer's, not a
     * member's (姓名), and "office" the node's. */
    const char *titles[9];
    for (size_t i = 0; i < 9; i++)
        titles[i] = cli_pgettext("peer column", head[i]);
    render_table(stdout, titles, 9, (const char *const *)cells, n);
    for (size_t i = 0; i < n * 9; i++)
        free(cells[i]);
    free(cells);
    return EXIT_OK;
}

/* Exit 1 when any peer failed; --json prints the reply and no lines. */
int cli_sync_print(cli_call *c)
{
    const msgpack_object_array *a = msg_get_array(c->rep.result, "peers");
    size_t n = a ? a->size : 0, failed = 0;
    if (c->o.json)
        cli_print_json(c->rep.result);
    for (size_t i = 0; i < n; i++) {
        char *name = msg_get_str(&a->ptr[i], "name"), *e = msg_get_str(&a->ptr[i], "error");
        int ok = msg_get_bool(&a->ptr[i], "ok", 0);
        failed += !ok;
        if (!c->o.json) {
            if (ok)
                printf(_("%s: in sync\n"), name ? name : "?");
            else {
                char *shown = dmsg_translate(e); /* the daemon's English, for people */
                fprintf(stderr, _("%s: not synced: %s\n"), name ? name : "?",
                        shown ? shown
                        : e   ? e
                              : "?");
                free(shown);
            }
        }
        free(name);
        free(e);
    }
    if (n == 0 && !c->o.json)
        fputs(_("no peers pinned: nothing to sync\n"), stdout);
    return failed ? EXIT_FAIL : EXIT_OK;
}

int cli_peer_build(cli_call *c)
{
    if (c->nargs == 4 && strcmp(c->args[0], "add") == 0) {
        cli_call_op(c, "peer_add");
        msg_map_str(&c->req.map, "name", c->args[1]);
        msg_map_str(&c->req.map, "address", c->args[2]);
        msg_map_str(&c->req.map, "fingerprint", c->args[3]);
        return 0;
    }
    if (c->nargs == 2 && strcmp(c->args[0], "remove") == 0) {
        cli_call_op(c, "peer_remove");
        msg_map_str(&c->req.map, "name", c->args[1]);
        return 0;
    }
    return cli_usage_of(c);
}
