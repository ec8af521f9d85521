/* report.c - unionctl's membership work commands: stats, duplicates, merge,
 * transfer (see cli.h). */
#include "cli/cli.h"

int cli_report_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return -1;
}
