/* i18n.h - unionctl's words in the clerk's language (GNU gettext, text
 * domain "unionctl", catalogues po/LANG.po), times in the clerk's time
 * zone.
 *
 * Only what people read goes through here: --json and --csv keep their
 * canonical keys, values and UTC times, whatever the locale says, so that
 * scripts never depend on it. English (the msgids) stays the default. */
#ifndef UNIOND_CLI_I18N_H
#define UNIOND_CLI_I18N_H

#include <libintl.h>

/* The translation of a message for people. */
#define _(s) gettext(s)
/* Marks a string for the catalogue where it is defined (tables, arrays);
 * it is translated with _() where it is printed. */
#define N_(s) s
/* The translation of s in the context ctx, for short words that mean
 * different things in different places (xgettext --keyword=C_:1c,2). */
#define C_(ctx, s) cli_pgettext(ctx, s)
/* Marks s in the context ctx where it is defined; cli_pgettext(ctx, s)
 * where it is printed (xgettext --keyword=NC_:1c,2). */
#define NC_(ctx, s) s

/* Set the locale from the environment (LANGUAGE, LC_ALL, LC_MESSAGES,
 * LANG; numbers stay in the C locale) and bind the text domain to the
 * catalogues: $UNIOND_LOCALEDIR if set, else build/locale when run from
 * the source tree, else the LOCALEDIR unionctl was built for. Call once,
 * first thing. */
void cli_i18n_init(void);

/* The translation of id in the context ctx, or id itself. Returns a
 * static string (the catalogue's or id); never NULL for a non-NULL id. */
const char *cli_pgettext(const char *ctx, const char *id);

/* 1 when the messages are Chinese (the catalogue in use says so). Field
 * labels and status words follow the messages' language. */
int cli_i18n_chinese(void);

/* The column title of a record field for a table: its Chinese label
 * (proto/schema) in Chinese, else the field's name. Static or borrowed
 * from the schema; never NULL for a non-NULL field. */
const char *cli_field_title(const char *field);

/* A record field's value as a table shows it: a status value as its
 * Chinese word (proto/vocab) in Chinese, else value itself. Borrowed. */
const char *cli_value_shown(const char *field, const char *value);

/* A stored UTC time ("2026-11-29T00:02:06.123Z", or without the
 * milliseconds) as the clerk's local time,
 * "2026-11-29 08:02:06 +0800" (TZ, else the system's zone); text that is
 * not such a time is returned as it is. Malloc'd (NULL when out of memory
 * or utc is NULL). */
char *cli_time_local(const char *utc);

#endif
