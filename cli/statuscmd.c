/* statuscmd.c - the operator's commands: `backup FILE` (the whole store in
 * one file, for `uniond restore`) and `status` (an aligned block about the
 * node, then one line per peer; `--check` for monitoring). Rows of
 * cli/table.c. Prints no record data: status counts, backup names a file. */
#include "cli/cli.h"
#include "cli/i18n.h"
#include "cli/render.h"
#include "proto/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- backup ---------------------------------------------------------------- */

/* file made absolute (the daemon opens it); malloc'd, NULL when out of
 * memory or the working directory is gone. */
static char *path_absolute(const char *file)
{
    char cwd[4096];
    if (file[0] == '/')
        return strdup(file);
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    char *p = malloc(strlen(cwd) + strlen(file) + 2);
    if (p)
        sprintf(p, "%s/%s", cwd, file);
    return p;
}

int cli_backup_build(cli_call *c)
{
    struct stat st;
    char *path = path_absolute(c->args[0]);
    if (!path) {
        fputs(_("unionctl: out of memory\n"), stderr);
        return EXIT_FAIL;
    }
    if (!c->o.force && lstat(path, &st) == 0) {
        fprintf(stderr, _("unionctl: %s exists; use --force to overwrite it\n"), path);
        free(path);
        return EXIT_FAIL;
    }
    msg_map_str(&c->req.map, "path", path);
    c->state = path;
    return 0;
}

int cli_backup_print(cli_call *c)
{
    const msgpack_object *res = c->rep.result;
    char *tree = msg_get_str(res, "tree");
    printf(_("wrote %s: %lld records, tree %s\n"), (const char *)c->state,
           (long long)msg_get_int(res, "records", 0), tree ? tree : "");
    printf(_("restore it with: uniond restore -d DATA --node NEWNAME %s\n"),
           (const char *)c->state);
    free(tree);
    return EXIT_OK;
}

/* ---- status ---------------------------------------------------------------- */

#define STATUS_MAX_OFFLINE_DEFAULT 60 /* minutes */

int cli_status_build(cli_call *c)
{
    if (c->o.max_offline && !c->o.check)
        return cli_usage_error(_("--max-offline is for status --check"));
    if (c->o.max_offline) {
        char *end;
        long v = strtol(c->o.max_offline, &end, 10);
        if (*end || end == c->o.max_offline || v < 0 || v > 1000000)
            return cli_usage_error(_("--max-offline %s: a whole number of minutes (0: any)"),
                                   c->o.max_offline);
    }
    return 0;
}

/* "2026-11-30T21:40:36.123Z" -> seconds since the epoch; -1 if not one. */
static time_t utc_parse(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

/* A UTC time of the reply as local time, "YYYY-MM-DD HH:MM", into out;
 * "never" for none. */
static const char *local_time(char *out, size_t len, const char *utc)
{
    time_t t = utc_parse(utc);
    struct tm tm;
    if (t < 0 || !localtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, len, "%s", _("never"));
    return out;
}

static const char *bytes_text(char *out, size_t len, int64_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    if (u == 0)
        snprintf(out, len, "%lld B", (long long)n);
    else
        snprintf(out, len, "%.1f %s", v, unit[u]);
    return out;
}

static const char *uptime_text(char *out, size_t len, int64_t s)
{
    if (s >= 86400)
        snprintf(out, len, "%lldd %02lldh %02lldm", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600), (long long)(s % 3600 / 60));
    else if (s >= 3600)
        snprintf(out, len, "%lldh %02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, len, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
    return out;
}

/* One "title  value" line, titles padded to one column. */
static void line_put(const char *title, const char *value)
{
    size_t w = schema_display_width(title);
    printf("%s%*s %s\n", title, w < 14 ? (int)(14 - w) : 0, "", value);
}

/* A peer is unreachable while it has no session (backing off or idle). */
static int peer_unreachable(const char *state)
{
    return !state || strcmp(state, "backoff") == 0 || strcmp(state, "idle") == 0;
}

/* --check: exit 1 naming every pinned peer unreachable for longer than
 * --max-offline minutes (since its last sync, or since the node started
 * when it never synced); 0 and one line otherwise. */
static int status_check(const cli_call *c)
{
    const msgpack_object *res = c->rep.result;
    const msgpack_object_array *peers = msg_get_array(res, "peers");
    long max = c->o.max_offline ? strtol(c->o.max_offline, NULL, 10) : STATUS_MAX_OFFLINE_DEFAULT;
    time_t now = time(NULL), started = now - (time_t)msg_get_int(res, "uptime_s", 0);
    size_t bad = 0, n = peers ? peers->size : 0;
    for (size_t i = 0; i < n; i++) {
        char *name = msg_get_str(&peers->ptr[i], "name"),
             *state = msg_get_str(&peers->ptr[i], "state"),
             *last = msg_get_str(&peers->ptr[i], "last_sync");
        time_t since = utc_parse(last);
        if (since < 0)
            since = started;
        if (peer_unreachable(state) && now - since > max * 60) {
            bad++;
            printf(_("CRITICAL: peer %s unreachable for %lld minutes (state %s, last sync %s)\n"),
                   name ? name : "?", (long long)((now - since) / 60), state ? state : "?",
                   last ? last : _("never"));
        }
        free(name);
        free(state);
        free(last);
    }
    if (bad)
        return EXIT_FAIL;
    printf(_("OK: %zu peers, none unreachable for more than %ld minutes\n"), n, max);
    return EXIT_OK;
}

static void status_peers(const msgpack_object_array *peers)
{
    enum { NCOL = 7 };
    size_t n = peers ? peers->size : 0;
    if (n == 0) {
        fputs(_("no peers pinned\n"), stdout);
        return;
    }
    const char *titles[NCOL] = {C_("peer column", "name"),   C_("peer column", "address"),
                                C_("peer column", "state"),  C_("peer column", "last sync"),
                                C_("peer column", "behind"), C_("peer column", "in"),
                                C_("peer column", "out")};
    char **cells = calloc(n * NCOL, sizeof *cells);
    if (!cells)
        return;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *p = &peers->ptr[i];
        char buf[64], *last = msg_get_str(p, "last_sync");
        char **row = cells + i * NCOL;
        row[0] = msg_get_str(p, "name");
        row[1] = msg_get_str(p, "address");
        char *st = msg_get_str(p, "state"); /* in the clerk's words */
        row[2] = st ? strdup(cli_pgettext("peer state", st)) : NULL;
        free(st);
        row[3] = strdup(local_time(buf, sizeof buf, last));
        snprintf(buf, sizeof buf, "%lld", (long long)msg_get_int(p, "heads_behind", 0));
        row[4] = strdup(buf);
        row[5] = strdup(bytes_text(buf, sizeof buf, msg_get_int(p, "bytes_in", 0)));
        row[6] = strdup(bytes_text(buf, sizeof buf, msg_get_int(p, "bytes_out", 0)));
        free(last);
    }
    render_table(stdout, titles, NCOL, (const char *const *)cells, n);
    for (size_t i = 0; i < n * NCOL; i++)
        free(cells[i]);
    free(cells);
}

/* The kinds of record (proto/kinds) as the records line names them. */
static const char *const record_kinds[] = {
    NC_("record kind", "member"),  NC_("record kind", "union"),   NC_("record kind", "enterprise"),
    NC_("record kind", "station"), NC_("record kind", "benefit"),
};

/* The records line: the total, then each kind that has any. */
static void status_records(const msgpack_object *res)
{
    char text[512];
    (void)record_kinds;
    int len = snprintf(text, sizeof text, "%lld", (long long)msg_get_int(res, "records", 0));
    const msgpack_object *k = msg_get(res, "records_by_kind");
    const char *sep = " (";
    for (uint32_t i = 0; k && k->type == MSGPACK_OBJECT_MAP && i < k->via.map.size; i++) {
        const msgpack_object_kv *kv = &k->via.map.ptr[i];
        if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER || kv->val.via.u64 == 0 ||
            kv->key.type != MSGPACK_OBJECT_STR || len < 0 || (size_t)len >= sizeof text)
            continue;
        char kind[32];
        snprintf(kind, sizeof kind, "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
        len += snprintf(text + len, sizeof text - (size_t)len, "%s%s %llu", sep,
                        cli_pgettext("record kind", kind), (unsigned long long)kv->val.via.u64);
        sep = ", ";
    }
    if (*sep == ',' && len > 0 && (size_t)len + 1 < sizeof text)
        strcat(text, ")");
    line_put(_("records"), text);
}

int cli_status_print(cli_call *c)
{
    const msgpack_object *res = c->rep.result;
    if (c->o.check)
        return status_check(c);
    if (c->o.json) {
        cli_print_json(res);
        return EXIT_OK;
    }
    char buf[512], t[64];
    const char *keys[] = {"node", "office", "version"};
    const char *titles[] = {_("node"), _("office"), _("version")};
    char *office_name = msg_get_str(res, "office_name");
    for (size_t i = 0; i < 3; i++) {
        char *v = msg_get_str(res, keys[i]);
        if (i == 1 && v && office_name && *office_name) { /* "yinzhou (鄞州区)" */
            snprintf(buf, sizeof buf, "%s (%s)", v, office_name);
            line_put(titles[i], buf);
        } else {
            line_put(titles[i], v ? v : "");
        }
        free(v);
    }
    free(office_name);
    line_put(_("uptime"), uptime_text(t, sizeof t, msg_get_int(res, "uptime_s", 0)));
    status_records(res);
    snprintf(buf, sizeof buf, _("%lld fields in %lld records (unionctl conflicts lists them)"),
             (long long)msg_get_int(res, "conflicts", 0),
             (long long)msg_get_int(res, "conflict_records", 0));
    line_put(_("in conflict"), buf);
    const msgpack_object *lc = msg_get(res, "last_change");
    char *when = msg_get_str(lc, "time"), *by = msg_get_str(lc, "by");
    if (when)
        snprintf(buf, sizeof buf, _("%s by %s"), local_time(t, sizeof t, when), by ? by : "?");
    else
        snprintf(buf, sizeof buf, "%s", _("none yet"));
    line_put(_("last change"), buf);
    free(when);
    free(by);
    const char *hk[] = {"head", "tree", "listen"};
    const char *ht[] = {_("head"), _("tree"), _("listen")};
    for (size_t i = 0; i < 3; i++) {
        char *v = msg_get_str(res, hk[i]);
        line_put(ht[i], v && *v ? v : i < 2 ? _("(empty)") : _("(not listening)"));
        free(v);
    }
    putchar('\n');
    status_peers(msg_get_array(res, "peers"));
    return EXIT_OK;
}
