/* errtext.c - the common system error texts, translated by unionctl's own
 * catalogue (see errtext.h). The English texts are glibc's strerror and
 * libuv's uv_strerror wording, as uniond writes them into its messages;
 * a text not in the table is never changed. */
#include "cli/errtext.h"
#include "cli/i18n.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* One error text; errnum 0 for libuv's words that glibc words otherwise. */
typedef struct {
    int errnum;
    const char *text;
} errtext;

/* TRANSLATORS: the system's error texts, as in glibc's own Chinese catalogue */
static const errtext errtexts[] = {
    {ENOENT, NC_("system error", "No such file or directory")},
    {EACCES, NC_("system error", "Permission denied")},
    {EPERM, NC_("system error", "Operation not permitted")},
    {EEXIST, NC_("system error", "File exists")},
    {ENOTDIR, NC_("system error", "Not a directory")},
    {EISDIR, NC_("system error", "Is a directory")},
    {ENOTEMPTY, NC_("system error", "Directory not empty")},
    {ENOSPC, NC_("system error", "No space left on device")},
    {EDQUOT, NC_("system error", "Disk quota exceeded")},
    {EROFS, NC_("system error", "Read-only file system")},
    {EIO, NC_("system error", "Input/output error")},
    {EXDEV, NC_("system error", "Invalid cross-device link")},
    {ENAMETOOLONG, NC_("system error", "File name too long")},
    {ELOOP, NC_("system error", "Too many levels of symbolic links")},
    {EFBIG, NC_("system error", "File too large")},
    {EMFILE, NC_("system error", "Too many open files")},
    {ENFILE, NC_("system error", "Too many open files in system")},
    {ENOMEM, NC_("system error", "Cannot allocate memory")},
    {EBUSY, NC_("system error", "Device or resource busy")},
    {ETXTBSY, NC_("system error", "Text file busy")},
    {EAGAIN, NC_("system error", "Resource temporarily unavailable")},
    {EINVAL, NC_("system error", "Invalid argument")},
    {EBADF, NC_("system error", "Bad file descriptor")},
    {EINTR, NC_("system error", "Interrupted system call")},
    {ENODEV, NC_("system error", "No such device")},
    {ENXIO, NC_("system error", "No such device or address")},
    {EILSEQ, NC_("system error", "Invalid or incomplete multibyte or wide character")},
    {EPIPE, NC_("system error", "Broken pipe")},
    {ECONNREFUSED, NC_("system error", "Connection refused")},
    {ETIMEDOUT, NC_("system error", "Connection timed out")},
    {ECONNRESET, NC_("system error", "Connection reset by peer")},
    {ECONNABORTED, NC_("system error", "Software caused connection abort")},
    {EHOSTUNREACH, NC_("system error", "No route to host")},
    {EHOSTDOWN, NC_("system error", "Host is down")},
    {ENETUNREACH, NC_("system error", "Network is unreachable")},
    {ENETDOWN, NC_("system error", "Network is down")},
    {EADDRINUSE, NC_("system error", "Address already in use")},
    {EADDRNOTAVAIL, NC_("system error", "Cannot assign requested address")},
    {ENOTSOCK, NC_("system error", "Socket operation on non-socket")},
    /* libuv's wording where glibc's differs (lowercase matches above) */
    {0, NC_("system error", "host is unreachable")},
    {0, NC_("system error", "address not available")},
    {0, NC_("system error", "end of file")},
    {0, NC_("system error", "operation canceled")},
    {0, NC_("system error", "unknown node or service")},
    {0, NC_("system error", "temporary failure")},
    {0, NC_("system error", "too many open files in system")},
};

const char *errtext_strerror(int errnum)
{
    for (size_t i = 0; errnum != 0 && i < sizeof errtexts / sizeof errtexts[0]; i++)
        if (errtexts[i].errnum == errnum)
            return cli_pgettext("system error", errtexts[i].text);
    return strerror(errnum);
}

const char *errtext_translate_n(const char *text, size_t len)
{
    if (!text || len == 0)
        return NULL;
    for (size_t i = 0; i < sizeof errtexts / sizeof errtexts[0]; i++) {
        const char *t = errtexts[i].text;
        if (strlen(t) == len && strncasecmp(t, text, len) == 0)
            return cli_pgettext("system error", t);
    }
    return NULL;
}

const char *errtext_translate(const char *text)
{
    return text ? errtext_translate_n(text, strlen(text)) : NULL;
}
