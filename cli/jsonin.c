/* jsonin.c - reading the file of `unionctl export --json` back for
 * `unionctl import`: [{"id": ..., "fields": {FIELD: VALUE, ...},
 * "conflicts": {...}}, ...]. The records become the CSV document the import
 * already reads (csvin.h): a header of "id" then every field any record
 * has, a row per record, so every rule of a CSV import (checks, all or
 * nothing, --skip-invalid, --dry-run) holds unchanged. "conflicts" is not
 * read: concurrent values and history travel in `unionctl backup`, not in
 * an export. Never prints a value. */
#include "cli/jsonin.h"
#include "cli/i18n.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jsonin_is_json(const char *path)
{
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0)
        return 1;
    FILE *f = fopen(path, "rb");
    int c = ' ';
    while (f && (c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\r' || c == '\t'))
        ;
    if (f)
        fclose(f);
    return c == '[';
}

/* One CSV cell, quoted. */
static void cell_put(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* The header: "id", then each field name in first-seen order. */
static json_t *header_of(json_t *arr)
{
    json_t *names = json_array(), *seen = json_object(), *rec;
    size_t i;
    json_array_foreach(arr, i, rec)
    {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(rec, "fields"), k, v)
        {
            if (!json_object_get(seen, k)) {
                json_object_set_new(seen, k, json_true());
                json_array_append_new(names, json_string(k));
            }
        }
    }
    json_decref(seen);
    return names;
}

/* The records as CSV text into out. 0, or -1 with err. */
static int csv_write(FILE *out, json_t *arr, char *err, size_t errlen)
{
    json_t *names = header_of(arr), *rec;
    size_t i, j;
    int rc = 0;
    fputs("\"id\"", out);
    for (j = 0; j < json_array_size(names); j++)
        fputc(',', out), cell_put(out, json_string_value(json_array_get(names, j)));
    fputs("\r\n", out);
    json_array_foreach(arr, i, rec)
    {
        json_t *id = json_object_get(rec, "id"), *fields = json_object_get(rec, "fields");
        if (!json_is_string(id) || !json_is_object(fields)) {
            snprintf(err, errlen, _("record %zu: not {\"id\": ..., \"fields\": {...}}"), i + 1);
            rc = -1;
            break;
        }
        cell_put(out, json_string_value(id));
        for (j = 0; j < json_array_size(names); j++) {
            json_t *v = json_object_get(fields, json_string_value(json_array_get(names, j)));
            if (v && !json_is_string(v)) {
                snprintf(err, errlen, _("record %zu: a field value is not a string"), i + 1);
                rc = -1;
                break;
            }
            fputc(',', out);
            cell_put(out, v ? json_string_value(v) : "");
        }
        if (rc)
            break;
        fputs("\r\n", out);
    }
    json_decref(names);
    return rc;
}

int jsonin_read_file(csvin_doc *d, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    char *buf = NULL;
    size_t len = 0;
    int rc = -1;
    json_t *arr = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!arr) {
        snprintf(err, errlen, "line %d: %s", je.line, je.text);
        return -1;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        snprintf(err, errlen, _("not the output of export --json (an array of records)"));
        goto cleanup;
    }
    FILE *out = open_memstream(&buf, &len);
    if (!out) {
        snprintf(err, errlen, _("out of memory"));
        goto cleanup;
    }
    int w = csv_write(out, arr, err, errlen);
    if (fclose(out) != 0 || w != 0)
        goto cleanup;
    if (csvin_parse_enc(d, buf, len, CSVIN_ENC_UTF8, err, errlen) != 0)
        goto cleanup;
    if (csvin_header_resolve(d, err, errlen) != 0) {
        csvin_free(d);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(buf);
    json_decref(arr);
    return rc;
}
