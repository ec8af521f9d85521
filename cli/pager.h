/* pager.h - long tables for people through $PAGER when stdout is a
 * terminal (never for scripts: not a terminal, --json, --csv, --no-pager). */
#ifndef UNIOND_CLI_PAGER_H
#define UNIOND_CLI_PAGER_H

/* Send stdout through $PAGER (default "less -FRX", when less is on the
 * PATH; an empty PAGER: no pager) when stdout is a terminal. Call at most
 * once per run, before anything is printed; cli_pager_end waits for it. */
void cli_pager_start(void);
/* Flush stdout, close it so that the pager sees the end, wait for the
 * pager to exit. Does nothing when no pager was started. */
void cli_pager_end(void);

#endif
