/* statuscmd.c - the operator's commands: `backup FILE` (the whole store in
 * one file, for `uniond restore`) and `status` (an aligned block about the
 * node, then one line per peer; `--check` for monitoring). Rows of
 * cli/table.c. Prints no record data: status counts, backup names a file. */
#include "cli/cli.h"
#include "cli/i18n.h"
#include "cli/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
