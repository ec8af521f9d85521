/* dmsg.c - uniond's English messages shown in the clerk's language (see
 * dmsg.h): a scanf-like matcher over the daemon's own format strings, then
 * gettext on the format and the captured arguments put back in. Must never
 * change a message when no format matches it, nor touch anything in an
 * English locale. */
#include "cli/dmsg.h"
#include "cli/errtext.h"
#include "cli/i18n.h"
#include "proto/buf.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DMSG_MAX_ARGS 24      /* printf arguments of one format (stars count) */
#define DMSG_MAX_DEPTH 4      /* arguments that are messages, nested */
#define DMSG_MAX_STEPS 200000 /* backtracking budget of one match */

/* One conversion of a format: what it consumes and where. */
typedef struct {
    size_t len;      /* bytes of the directive after '%' */
    char conv;       /* conversion character ('%' for "%%") */
    int pos;         /* n of "%n$", 0 when sequential */
    int stars;       /* '*' arguments before the value (width, precision) */
    int star_pos[2]; /* their "*m$" positions, 0 when sequential */
} conv;

/* Parse the directive at p (just after '%'); 0 when it is not one. */
static size_t conv_parse(conv *c, const char *p)
{
    const char *s = p;
    memset(c, 0, sizeof *c);
    if (isdigit((unsigned char)*s)) {
        const char *d = s;
        int n = 0;
        while (isdigit((unsigned char)*d))
            n = n * 10 + (*d++ - '0');
        if (*d == '$') {
            c->pos = n;
            s = d + 1;
        }
    }
    while (*s && strchr("-+ #0'", *s))
        s++;
    for (int part = 0; part < 2; part++) { /* width, then precision */
        if (part == 1) {
            if (*s != '.')
                break;
            s++;
        }
        if (*s == '*') {
            s++;
            int n = 0;
            const char *d = s;
            while (isdigit((unsigned char)*d))
                n = n * 10 + (*d++ - '0');
            if (*d == '$' && d > s) {
                s = d + 1;
            } else {
                n = 0;
            }
            if (c->stars < 2)
                c->star_pos[c->stars] = n;
            c->stars++;
        } else {
            while (isdigit((unsigned char)*s))
                s++;
        }
    }
    while (*s && strchr("hlLqjzt", *s))
        s++;
    if (!*s || !strchr("sdiuxXocfgeEp%", *s))
        return 0;
    c->conv = *s++;
    c->len = (size_t)(s - p);
    return c->len;
}

/* What a match captured: each printf argument's text (stars: empty). */
typedef struct {
    const char *ptr[DMSG_MAX_ARGS];
    size_t len[DMSG_MAX_ARGS];
    char is_text[DMSG_MAX_ARGS]; /* a %s argument: may be a message */
    int nargs;
    long steps;
} caps;

/* Length of the text a non-%s conversion matches at m, -1 if none. */
static long conv_span(char cv, const char *m)
{
    const char *s = m;
    switch (cv) {
    case 'd':
    case 'i':
        if (*s == '-')
            s++;
        /* fall through */
    case 'u':
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s))
            s++;
        return s - m;
    case 'x':
    case 'X':
    case 'o':
    case 'p':
        while (isxdigit((unsigned char)*s) || (s == m + 1 && *s == 'x' && *m == '0'))
            s++;
        return s > m ? s - m : -1;
    case 'f':
    case 'g':
    case 'e':
    case 'E':
        while (*s && (isdigit((unsigned char)*s) || strchr("-+.eE", *s)))
            s++;
        return s > m ? s - m : -1;
    case 'c': {
        unsigned char b = (unsigned char)*s;
        if (!b)
            return -1;
        long k = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        for (long i = 1; i < k; i++)
            if (!s[i])
                return -1;
        return k;
    }
    default:
        return -1;
    }
}

/* 1 when the format t (from its argument number arg) matches the text m
 * to its end; captures in cp. Minimal %s first, backtracking. */
static int match(caps *cp, const char *t, const char *m, int arg)
{
    while (*t) {
        if (++cp->steps > DMSG_MAX_STEPS)
            return 0;
        if (*t != '%') {
            if (*t != *m)
                return 0;
            t++, m++;
            continue;
        }
        conv c;
        if (!conv_parse(&c, t + 1))
            return 0; /* not a format we understand: never matches */
        if (c.conv == '%') {
            if (*m != '%')
                return 0;
            t += 1 + c.len, m++;
            continue;
        }
        int slot = arg + c.stars;
        if (c.pos || slot >= DMSG_MAX_ARGS)
            return 0; /* the daemon's formats are sequential */
        for (int i = arg; i < slot; i++) {
            cp->ptr[i] = "", cp->len[i] = 0, cp->is_text[i] = 0;
        }
        const char *rest = t + 1 + c.len;
        if (c.conv == 's') {
            size_t avail = strlen(m);
            for (size_t k = 0; k <= avail; k++) {
                cp->ptr[slot] = m, cp->len[slot] = k, cp->is_text[slot] = 1;
                /* a literal after %s: jump to where it can match */
                if (*rest && *rest != '%' && m[k] != *rest)
                    continue;
                if (match(cp, rest, m + k, slot + 1))
                    return 1;
                if (cp->steps > DMSG_MAX_STEPS)
                    return 0;
            }
            return 0;
        }
        long k = conv_span(c.conv, m);
        if (k < 0)
            return 0;
        cp->ptr[slot] = m, cp->len[slot] = (size_t)k, cp->is_text[slot] = 0;
        t = rest, m += k, arg = slot + 1;
        if (arg > cp->nargs)
            cp->nargs = arg;
    }
    if (arg > cp->nargs)
        cp->nargs = arg;
    return *m == '\0';
}

/* Literal bytes of a format ("%%" counts one). */
static size_t literal_count(const char *t)
{
    size_t n = 0;
    while (*t) {
        conv c;
        if (*t == '%' && conv_parse(&c, t + 1)) {
            n += c.conv == '%';
            t += 1 + c.len;
        } else {
            n++, t++;
        }
    }
    return n;
}

/* The index of the format that matches msg whole with the most literal
 * characters (the first of equals), its captures in *best_caps; -1 if
 * none. */
static long best_template(caps *best_caps, const char *msg, const char *const *templates, size_t n)
{
    long best = -1;
    size_t best_lit = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = templates[i];
        /* quick refusal: a leading literal must be the message's start */
        if (*t != '%' && *t != *msg)
            continue;
        size_t lit = literal_count(t);
        if (best >= 0 && lit <= best_lit)
            continue;
        caps c;
        memset(&c, 0, sizeof c);
        if (match(&c, t, msg, 0)) {
            best = (long)i, best_lit = lit;
            *best_caps = c;
        }
    }
    return best;
}

static char *translate(const char *msg, const char *const *templates, size_t n, dmsg_tr_fn tr,
                       int depth);

/* Put the captured arguments into the translated format tf: "%n$" by
 * position, else in order; an argument that is a message is translated
 * first. Returns UERR_OK or UERR_NOMEM. */
static uerr substitute(struct buf *out, const char *tf, const caps *c, const char *const *templates,
                       size_t n, dmsg_tr_fn tr, int depth)
{
    int next = 0; /* the next sequential argument */
    for (const char *t = tf; *t;) {
        conv cv;
        if (*t != '%' || !conv_parse(&cv, t + 1)) {
            const char *pct = strchr(t + 1, '%');
            size_t k = pct ? (size_t)(pct - t) : strlen(t);
            if (buf_append(out, t, k) != UERR_OK)
                return UERR_NOMEM;
            t += k;
            continue;
        }
        t += 1 + cv.len;
        if (cv.conv == '%') {
            if (buf_append(out, "%", 1) != UERR_OK)
                return UERR_NOMEM;
            continue;
        }
        int slot = cv.pos ? cv.pos - 1 : next + cv.stars;
        next = slot + 1;
        if (slot < 0 || slot >= c->nargs || slot >= DMSG_MAX_ARGS)
            continue; /* a translation asking for more than was captured */
        uerr rc = UERR_OK;
        if (c->is_text[slot] && c->len[slot] > 0 && depth < DMSG_MAX_DEPTH) {
            char *arg = strndup(c->ptr[slot], c->len[slot]);
            char *shown = arg ? translate(arg, templates, n, tr, depth + 1) : NULL;
            rc = shown ? buf_puts(out, shown) : UERR_NOMEM;
            free(shown);
            free(arg);
        } else {
            rc = buf_append(out, c->ptr[slot], c->len[slot]);
        }
        if (rc != UERR_OK)
            return UERR_NOMEM;
    }
    return UERR_OK;
}

/* msg translated (see dmsg_translate_using); depth counts the arguments
 * we are inside. Malloc'd; NULL when out of memory. */
static char *translate(const char *msg, const char *const *templates, size_t n, dmsg_tr_fn tr,
                       int depth)
{
    caps c = {.nargs = 0};
    struct buf out = BUF_INIT;
    /* a system error text (strerror's, libuv's), whole or as an argument */
    const char *sys = errtext_translate(msg);
    if (sys)
        return strdup(sys);
    long i = best_template(&c, msg, templates, n);
    if (i < 0) {
        const char *nl = strchr(msg, '\n');
        if (!nl || nl == msg)
            return strdup(msg);
        /* a message with a list after it: its first line alone */
        char *head = strndup(msg, (size_t)(nl - msg));
        char *shown = head ? translate(head, templates, n, tr, depth) : NULL;
        free(head);
        if (!shown || buf_puts(&out, shown) != UERR_OK || buf_puts(&out, nl) != UERR_OK) {
            free(shown);
            buf_free(&out);
            return NULL;
        }
        free(shown);
        return buf_detach(&out, NULL);
    }
    const char *tf = tr(templates[i]);
    assert(tf != NULL);
    if (substitute(&out, tf, &c, templates, n, tr, depth) != UERR_OK) {
        buf_free(&out);
        return NULL;
    }
    return buf_detach(&out, NULL);
}

char *dmsg_translate_using(const char *msg, const char *const *templates, size_t n, dmsg_tr_fn tr)
{
    if (!msg)
        return NULL;
    return translate(msg, templates, n, tr, 0);
}

static const char *dmsg_gettext(const char *fmt)
{
    return gettext(fmt);
}

char *dmsg_translate(const char *msg)
{
    if (!msg)
        return NULL;
    /* English messages: nothing to translate, nothing to match */
    if (strcmp(C_("catalogue language", "en"), "en") == 0)
        return strdup(msg);
    return translate(msg, dmsg_templates, dmsg_ntemplates, dmsg_gettext, 0);
}

char *dmsg_translate_reason(const char *field, const char *reason)
{
    if (!reason || !field || !*field || strcmp(C_("catalogue language", "en"), "en") == 0)
        return dmsg_translate(reason);
    size_t fl = strlen(field);
    char *whole = malloc(fl + 2 + strlen(reason) + 1);
    if (!whole)
        return NULL;
    sprintf(whole, "%s: %s", field, reason);
    char *t = dmsg_translate(whole);
    free(whole);
    if (!t)
        return NULL;
    /* the field where the translation put it first, as in the message */
    static const char *const seps[] = {"\xef\xbc\x9a" /* full-width colon */, ": "};
    for (size_t i = 0; i < sizeof seps / sizeof seps[0]; i++) {
        size_t sl = strlen(seps[i]);
        if (strncmp(t, field, fl) == 0 && strncmp(t + fl, seps[i], sl) == 0) {
            memmove(t, t + fl + sl, strlen(t + fl + sl) + 1);
            return t;
        }
    }
    free(t);
    return dmsg_translate(reason);
}

void dmsg_translate_buf(char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    char *t = dmsg_translate(buf);
    if (!t)
        return;
    size_t n = strlen(t);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
            n--; /* never half a character */
    }
    memcpy(buf, t, n);
    buf[n] = '\0';
    free(t);
}
