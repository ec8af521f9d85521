/* schema_priv.h - helpers shared by the files that implement schema.h
 * (schema.c, schema_fields.c, schema_norm.c, schema_row.c); not for other
 * modules. */
#ifndef UNIOND_SCHEMA_PRIV_H
#define UNIOND_SCHEMA_PRIV_H

#include <stddef.h>

/* name made safe to print in a message: at most 40 characters, control
 * characters and invalid bytes shown as '?', "..." when cut. */
void schema_printable(char *buf, size_t size, const char *name);

/* 1 if y-m-d is a real calendar date. */
int schema_ymd_valid(int y, int m, int d);

#endif
