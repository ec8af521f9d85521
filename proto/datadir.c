/* datadir.c - the default DATA directory rule (see datadir.h). */
#include "proto/datadir.h"

#include <stdio.h>

#define DATADIR_SYSTEM "/var/lib/uniond"

const char *datadir_default(char *buf, size_t len, const char *env, const char *xdg,
                            const char *home, int must_exist, int (*is_dir)(const char *path))
{
    int n;
    if (env && *env)
        return env;
    if (is_dir(DATADIR_SYSTEM))
        return DATADIR_SYSTEM;
    if (xdg && *xdg == '/')
        n = snprintf(buf, len, "%s/uniond", xdg);
    else if (home && *home)
        n = snprintf(buf, len, "%s/.local/share/uniond", home);
    else
        return NULL;
    if (n <= 0 || (size_t)n >= len)
        return NULL;
    if (must_exist && !is_dir(buf))
        return NULL;
    return buf;
}
