/* pager.c - stdout through $PAGER for long tables on a terminal (see
 * pager.h). The pager is a child running `sh -c "$PAGER"` reading a pipe
 * that becomes unionctl's stdout; unionctl waits for it at the end so that
 * the shell prompt comes back after the pager, not under it. Never starts
 * a pager when stdout is not a terminal: scripts see plain output. */
#include "cli/pager.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGER_DEFAULT "less -FRX"

static pid_t pager_pid;

/* 1 if prog is an executable file in a directory of $PATH. */
static int on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (!path)
        path = "/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        if (len > 0 &&
            (size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, prog) < sizeof buf &&
            access(buf, X_OK) == 0)
            return 1;
        p += len;
        if (*p == ':')
            p++;
    }
    return 0;
}

void cli_pager_start(void)
{
    assert(pager_pid == 0); /* once per run */
    if (!isatty(STDOUT_FILENO))
        return;
    const char *pager = getenv("PAGER");
    if (!pager) {
        /* without less, the default would swallow the table */
        if (!on_path("less"))
            return;
        pager = PAGER_DEFAULT;
    }
    if (!*pager)
        return;
    int fd[2];
    fflush(stdout);
    if (pipe(fd) != 0)
        return; /* the table is still printed, without a pager */
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        dup2(fd[0], STDIN_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
        _exit(127);
    }
    close(fd[0]);
    if (dup2(fd[1], STDOUT_FILENO) < 0) {
        /* keep the terminal: the pager gets an empty pipe and ends */
        close(fd[1]);
        waitpid(pid, NULL, 0);
        return;
    }
    close(fd[1]);
    pager_pid = pid;
}

void cli_pager_end(void)
{
    if (pager_pid <= 0)
        return;
    fflush(stdout);
    close(STDOUT_FILENO);
    while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    pager_pid = 0;
}
