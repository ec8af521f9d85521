/* i18n.c - unionctl in the clerk's language and time zone (see i18n.h):
 * the locale and the text domain, context lookups, field titles and status
 * words for tables, and local times. Used only for what people read:
 * nothing here may change what --json or --csv print. */
#include "cli/i18n.h"
#include "proto/record.h"
#include "proto/schema.h"
#include "proto/vocab.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/local/share/locale"
#endif
#define CLI_DOMAIN "unionctl"

/* 1 if path is a directory. */
static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where the catalogues are: $UNIOND_LOCALEDIR; else, run from the tree,
 * build/locale beside the binary (build/unionctl) or one up from it
 * (build/san/unionctl); else LOCALEDIR. buf has size bytes. */
static const char *locale_dir(char *buf, size_t size)
{
    const char *env = getenv("UNIOND_LOCALEDIR");
    if (env && *env)
        return env;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"locale", "../locale"};
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                if ((size_t)snprintf(buf, size, "%s/%s", exe, rel[i]) < size && is_dir(buf) &&
                    strstr(buf, "/build/") != NULL) /* the tree's build dir only */
                    return buf;
            }
        }
    }
    return LOCALEDIR;
}

/* Only the categories unionctl uses: characters (UTF-8 in and out,
 * display widths) and messages. LC_ALL loaded twelve files of the locale
 * at every start (each an open, a stat and a map), more than a third of
 * the system calls of `unionctl status`, which a clerk's script runs once
 * per record; numbers, dates and collation stay "C" (scripts and the JSON
 * writer want "1.5", dates are formatted as numbers). 1, or 0 when the
 * locale is not there. */
static int locale_use(const char *name)
{
    return setlocale(LC_CTYPE, name) && setlocale(LC_MESSAGES, name);
}

/* LANG=zh_CN.UTF-8 on a machine where that locale was never generated:
 * setlocale refuses it and gettext would stay English. Use C.UTF-8 (UTF-8
 * output) and ask gettext for the language through LANGUAGE, which it
 * reads in any locale but "C". */
static void locale_fallback(void)
{
    const char *want = NULL;
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !want; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            want = v;
    }
    if (!locale_use("C.UTF-8"))
        return;
    const char *language = getenv("LANGUAGE");
    if (!want || (language && *language) || strcmp(want, "C") == 0 || strcmp(want, "POSIX") == 0)
        return;
    char lang[64];
    size_t len = strcspn(want, ".@");
    if (len == 0 || len >= sizeof lang)
        return;
    memcpy(lang, want, len);
    lang[len] = '\0';
    setenv("LANGUAGE", lang, 1);
}

void cli_i18n_init(void)
{
    char buf[4200];
    if (!locale_use(""))
        locale_fallback();
    bindtextdomain(CLI_DOMAIN, locale_dir(buf, sizeof buf));
    /* unionctl's output is UTF-8 whatever the locale (names are) */
    bind_textdomain_codeset(CLI_DOMAIN, "UTF-8");
    textdomain(CLI_DOMAIN);
    tzset();
}

const char *cli_pgettext(const char *ctx, const char *id)
{
    char key[256];
    if ((size_t)snprintf(key, sizeof key, "%s\004%s", ctx, id) >= sizeof key)
        return id;
    const char *t = gettext(key);
    /* gettext returns its argument (our stack buffer) when untranslated */
    return t == key ? id : t;
}

int cli_i18n_chinese(void)
{
    /* TRANSLATORS: the language of this catalogue, as a locale name */
    const char *lang = C_("catalogue language", "en");
    return strncmp(lang, "zh", 2) == 0;
}

/* Titles of the fields that have no label in the schema. */
static const char *const untitled_fields[] = {
    NC_("field", "id"), NC_("field", "office"), NC_("field", "merged_into"),
    /* a benefit hand-out's fields (proto/kinds), in the office's log */
    NC_("field", "member"), NC_("field", "kind"), NC_("field", "date"), NC_("field", "amount"),
    NC_("field", "station")};

const char *cli_field_title(const char *field)
{
    if (!cli_i18n_chinese())
        return field;
    const schema_field *f = schema_field_find(field);
    if (f && f->label)
        return f->label;
    (void)untitled_fields;
    return cli_pgettext("field", field);
}

const char *cli_value_shown(const char *field, const char *value)
{
    if (!value || strcmp(field, "status") != 0 || !cli_i18n_chinese())
        return value;
    const vocab_value *v;
    size_t n = vocab_values("status", &v);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].value, value) == 0 && v[i].naliases > 0)
            return v[i].aliases[0];
    return value;
}

char *cli_time_local(const char *utc)
{
    int64_t ms;
    char full[32];
    if (!utc)
        return NULL;
    /* entries carry milliseconds, commits (log) whole seconds */
    size_t len = strlen(utc);
    if (len == 20 && utc[19] == 'Z')
        snprintf(full, sizeof full, "%.19s.000Z", utc);
    else
        snprintf(full, sizeof full, "%.31s", utc);
    if (record_time_parse(&ms, full, strlen(full)) != 0)
        return strdup(utc);
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    struct tm tm;
    char out[64];
    if (!localtime_r(&secs, &tm) || strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
        return strdup(utc);
    return strdup(out);
}
