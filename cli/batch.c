/* batch.c - unionctl batch [FILE]: many commands over one connection.
 *
 * Each line of FILE (or of standard input) is one unionctl command line
 * without the word "unionctl", split into words as a shell would for the
 * simple cases (quotes, backslash, # comments; no variables, no globbing),
 * and run by cli_run exactly as if it had been typed, against the batch's
 * DATA. The control connection is opened once and kept (cli/ctl.c), so a
 * script that adds a thousand members pays one process start and one
 * connect, not a thousand: that is what makes a clerk's script, or 50 of
 * them at once, cheap for the machine (issue 12's concurrent adds).
 *
 * Every line runs even when one fails (its own message says why, then
 * "line N failed"); the batch exits with the first failure's code. A daemon
 * that cannot be reached stops the batch: every later line would fail the
 * same way. */
#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/errtext.h"
#include "cli/i18n.h"
#include "cli/render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A line longer than this is refused (the daemon's frame limit is lower
 * for every request but an import, which names a file). */
#define BATCH_LINE_MAX (1u << 20)

/* Set while a batch runs: a batch line may not start another batch. */
static int batch_running;

int cli_batch_words(char ***out, int *nout, char *line, const char **why)
{
    /* words are written back into line itself (never longer than it),
     * each NUL-terminated; out points at them */
    size_t len = strlen(line);
    char **w = calloc(len / 2 + 2, sizeof *w);
    int n = 0;
    char *src = line, *dst = line;
    *out = NULL;
    *nout = 0;
    *why = NULL;
    if (!w) {
        *why = "out of memory";
        return -1;
    }
    for (;;) {
        while (*src == ' ' || *src == '\t' || *src == '\r' || *src == '\n')
            src++;
        if (!*src || *src == '#')
            break;
        w[n++] = dst;
        while (*src && *src != ' ' && *src != '\t' && *src != '\r' && *src != '\n') {
            if (*src == '\'') { /* '...': every byte as it is */
                char *end = strchr(src + 1, '\'');
                if (!end) {
                    *why = N_("a quote (') is not closed");
                    goto fail;
                }
                size_t k = (size_t)(end - src - 1);
                memmove(dst, src + 1, k);
                dst += k;
                src = end + 1;
            } else if (*src == '"') { /* "...": \" and \\ are escapes */
                src++;
                while (*src && *src != '"') {
                    if (*src == '\\' && (src[1] == '"' || src[1] == '\\'))
                        src++;
                    *dst++ = *src++;
                }
                if (*src != '"') {
                    *why = N_("a quote (\") is not closed");
                    goto fail;
                }
                src++;
            } else if (*src == '\\' && src[1]) { /* \x: x itself */
                *dst++ = src[1];
                src += 2;
            } else {
                *dst++ = *src++;
            }
        }
        /* the separator is overwritten only after it was read */
        char sep = *src;
        *dst++ = '\0';
        if (!sep)
            break;
        src++;
    }
    *out = w;
    *nout = n;
    return 0;
fail:
    free(w);
    return -1;
}

/* Read one line of f into *buf (grown as needed, at most BATCH_LINE_MAX
 * bytes). Returns 1 with a line, 0 at the end, -1 for a line too long (the
 * rest of it is skipped) or a read error (errno set). */
static int line_get(char **buf, size_t *cap, FILE *f)
{
    size_t n = 0;
    int ch, too_long = 0;
    while ((ch = getc_unlocked(f)) != EOF && ch != '\n') {
        if (too_long)
            continue;
        if (n + 1 >= BATCH_LINE_MAX) {
            too_long = 1;
            continue;
        }
        if (n + 2 > *cap) {
            size_t ncap = *cap ? *cap * 2 : 256;
            char *nb = realloc(*buf, ncap);
            if (!nb)
                return -1;
            *buf = nb;
            *cap = ncap;
        }
        (*buf)[n++] = (char)ch;
    }
    if (ferror(f))
        return -1;
    if (too_long) {
        errno = EFBIG;
        return -1;
    }
    if (ch == EOF && n == 0)
        return 0;
    if (!*buf) { /* an empty last line */
        if (!(*buf = malloc(*cap = 256)))
            return -1;
    }
    (*buf)[n] = '\0';
    return 1;
}

/* Run one line's words as `unionctl -d DATA --no-pager WORDS...`. */
static int batch_line_run(char **words, int nwords, const char *data)
{
    char **argv = calloc((size_t)nwords + 5, sizeof *argv);
    if (!argv) {
        fprintf(stderr, _("unionctl: out of memory\n"));
        return EXIT_FAIL;
    }
    argv[0] = "unionctl";
    argv[1] = "-d";
    argv[2] = (char *)data;
    argv[3] = "--no-pager";
    memcpy(argv + 4, words, (size_t)nwords * sizeof *words);
    render_csv_excel(0); /* --excel of an earlier line is not this one's */
    int rc = cli_run(nwords + 4, argv);
    free(argv);
    return rc;
}

int cli_batch_print(cli_call *c)
{
    const char *path = c->nargs ? c->args[0] : "-";
    FILE *f = stdin;
    char *buf = NULL, *data = NULL;
    size_t cap = 0;
    int rc = EXIT_OK, first_bad = 0, nbad = 0, nrun = 0, lineno = 0;
    if (batch_running)
        return cli_usage_error(_("batch: a batch line cannot run another batch"));
    if (strcmp(path, "-") != 0 && !(f = fopen(path, "r"))) {
        fprintf(stderr, _("unionctl: batch: cannot open %s: %s\n"), path, errtext_strerror(errno));
        return EXIT_FAIL;
    }
    /* cli_run of each line sets cli_data_dir again: keep our own copy */
    if (!(data = strdup(cli_data_dir))) {
        fprintf(stderr, _("unionctl: out of memory\n"));
        rc = EXIT_FAIL;
        goto cleanup;
    }
    batch_running = 1;
    ctl_keep(1);
    for (;;) {
        int got = line_get(&buf, &cap, f);
        if (got == 0)
            break;
        lineno++;
        if (got < 0) {
            int e = errno;
            if (e == EFBIG) {
                fprintf(stderr, _("unionctl: batch: line %d is longer than %u bytes; not run\n"),
                        lineno, BATCH_LINE_MAX);
                nbad++;
                nrun++;
                if (!first_bad) {
                    first_bad = lineno;
                    rc = EXIT_USAGE;
                }
                continue;
            }
            fprintf(stderr, _("unionctl: batch: reading %s: %s\n"),
                    f == stdin ? _("standard input") : path, errtext_strerror(e));
            if (!first_bad)
                rc = EXIT_FAIL;
            break;
        }
        char **words;
        int nwords;
        const char *why;
        int lrc;
        if (cli_batch_words(&words, &nwords, buf, &why) != 0) {
            fprintf(stderr, _("unionctl: batch: line %d: %s\n"), lineno, _(why));
            lrc = EXIT_USAGE;
        } else if (nwords == 0) {
            free(words);
            continue; /* blank or a comment */
        } else {
            lrc = batch_line_run(words, nwords, data);
            free(words);
        }
        nrun++;
        fflush(stdout); /* each line's output before the next line's messages */
        if (lrc == EXIT_OK)
            continue;
        nbad++;
        if (!first_bad) {
            first_bad = lineno;
            rc = lrc;
        }
        fprintf(stderr, _("unionctl: batch: line %d failed (exit %d)\n"), lineno, lrc);
        if (lrc == EXIT_UNREACHABLE) {
            fprintf(stderr,
                    _("unionctl: batch: stopped at line %d: uniond did not answer; the "
                      "lines after it were not run\n"),
                    lineno);
            break;
        }
    }
    if (nbad)
        fprintf(stderr, _("unionctl: batch: %d of %d commands failed; the first on line %d\n"),
                nbad, nrun, first_bad);
cleanup:
    ctl_keep(0);
    batch_running = 0;
    free(data);
    free(buf);
    if (f && f != stdin)
        fclose(f);
    return rc;
}
