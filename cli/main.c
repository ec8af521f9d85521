/* main.c - unionctl: the command line is read and one command run by
 * cli_run (cli/cmdline.c, from THE table in cli/table.c). Kept apart so
 * that unit tests link every other cli file. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_run(argc, argv);
}
