/* names.c - node names and fingerprints (see names.h). */
#include "proto/names.h"

#include <string.h>

const char *names_show(char *out, size_t outlen, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (outlen < 5) {
        if (outlen)
            out[0] = '\0';
        return out;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int plain = ch >= 0x20 && ch < 0x7f && ch != '\\';
        /* keep room for "..." and the NUL unless this is the last byte */
        if (o + (plain ? 1 : 4) + (i + 1 < n ? 3 : 0) + 1 > outlen) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
    return out;
}

static int names_node_char_ok(char ch, size_t pos)
{
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    return ok || (pos > 0 && (ch == '.' || ch == '_' || ch == '-'));
}

uerr names_node_check(const char *name, const char *what, char *err, size_t errlen)
{
    static const char rule[] = "a node name is 1 to 64 characters from a-z 0-9 . _ -, "
                               "starting with a letter or a digit";
    char show[96];

    if (!name || !*name)
        return uerr_set(err, errlen, UERR_INVALID, "%s is empty; %s", what, rule);
    size_t n = strlen(name);
    if (n > NAMES_NODE_MAX)
        return uerr_set(err, errlen, UERR_INVALID, "%s \"%s\" is %zu bytes long; %s", what,
                        names_show(show, sizeof show, name, n), n, rule);
    for (size_t i = 0; i < n; i++) {
        if (!names_node_char_ok(name[i], i)) {
            char c1[8];
            return uerr_set(err, errlen, UERR_INVALID, "%s \"%s\" has '%s' at position %zu; %s",
                            what, names_show(show, sizeof show, name, n),
                            names_show(c1, sizeof c1, name + i, 1), i + 1, rule);
        }
    }
    /* The name is also a git branch name (refs/heads/<name>). */
    if (strstr(name, "..") || name[n - 1] == '.' || (n >= 5 && strcmp(name + n - 5, ".lock") == 0))
        return uerr_set(err, errlen, UERR_INVALID,
                        "%s \"%s\" cannot contain \"..\" or end in \".\" or \".lock\" "
                        "(it names a git branch)",
                        what, name);
    return UERR_OK;
}

int names_node_valid(const char *name)
{
    return names_node_check(name, "node name", NULL, 0) == UERR_OK;
}

int names_node_valid_n(const char *s, size_t n)
{
    /* a copy on the stack (at most 65 bytes) keeps the rule in one place */
    char tmp[NAMES_NODE_MAX + 1];
    if (!s || n == 0 || n > NAMES_NODE_MAX || memchr(s, '\0', n))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return names_node_valid(tmp);
}

static int names_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

uerr names_fingerprint_check(const char *s, const char *what, char *err, size_t errlen)
{
    static const char rule[] = "a fingerprint is the 64 hex digits `unionctl id` prints on the "
                               "peer";
    char show[96];
    size_t n = s ? strlen(s) : 0;

    if (n != NAMES_FINGERPRINT_LEN)
        return uerr_set(err, errlen, UERR_INVALID, "%s \"%s\" is %zu characters long; %s", what,
                        s ? names_show(show, sizeof show, s, n) : "", n, rule);
    for (size_t i = 0; i < n; i++) {
        if (!names_hex(s[i])) {
            char c1[8];
            return uerr_set(err, errlen, UERR_INVALID, "%s has '%s' at position %zu; %s", what,
                            names_show(c1, sizeof c1, s + i, 1), i + 1, rule);
        }
    }
    return UERR_OK;
}

int names_fingerprint_valid(const char *s)
{
    return names_fingerprint_check(s, "fingerprint", NULL, 0) == UERR_OK;
}

uerr names_fingerprint_norm(char out[NAMES_FINGERPRINT_LEN + 1], const char *in)
{
    out[0] = '\0';
    if (!names_fingerprint_valid(in))
        return UERR_INVALID;
    for (size_t i = 0; i < NAMES_FINGERPRINT_LEN; i++) {
        char ch = in[i];
        out[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[NAMES_FINGERPRINT_LEN] = '\0';
    return UERR_OK;
}
