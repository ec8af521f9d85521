/* jsonin.h - `unionctl import` of an `export --json` file (jsonin.c). */
#ifndef UNIOND_CLI_JSONIN_H
#define UNIOND_CLI_JSONIN_H

#include "cli/csvin.h"

/* 1 if path names a JSON file (ends in .json, or its first non-blank byte
 * is '['), else 0. Not fallible: an unreadable file is left to the read. */
int jsonin_is_json(const char *path);

/* Read the records of an `export --json` file at path into d (as
 * csvin_read_file does: parsed, header resolved; d is the caller's, freed
 * with csvin_free). 0, or -1 with d empty and err holding the reason
 * without the path. */
int jsonin_read_file(csvin_doc *d, const char *path, char *err, size_t errlen);

#endif
