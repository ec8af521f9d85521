/* datadir.h - where a node's DATA is when no -d is given: the one rule
 * uniond and unionctl share. Pure: the caller passes the environment and a
 * function that says whether a directory exists, so the rule is testable
 * and no copy of it can drift. */
#ifndef UNIOND_DATADIR_H
#define UNIOND_DATADIR_H

#include <stddef.h>

/* $UNIOND_DATA (env) when set; else /var/lib/uniond when it exists (the
 * system service's); else $XDG_DATA_HOME/uniond (xdg, absolute only), else
 * HOME/.local/share/uniond, written into buf (len bytes). NULL when there
 * is no home to put it in, the path does not fit, or (must_exist: running,
 * not init) that directory does not exist. Returns env, a static string or
 * buf; nothing to free. */
const char *datadir_default(char *buf, size_t len, const char *env, const char *xdg,
                            const char *home, int must_exist, int (*is_dir)(const char *path));

#endif
