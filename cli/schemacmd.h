/* schemacmd.h - unionctl and the office's own schema: fetching the fields
 * and category values the daemon knows (so that the CLI's early checks
 * know them too), checking --where against them, and the commands fields,
 * field add, field value add (cli/schemacmd.c). */
#ifndef UNIOND_CLI_SCHEMACMD_H
#define UNIOND_CLI_SCHEMACMD_H

/* Ask the daemon for every field and category value and declare the
 * office's own ones in this process (schema_field_declare,
 * vocab_value_add). Returns an exit code (the message was printed). */
int cli_schema_fetch(void);

/* Check --where conditions before sending them: bad syntax is a usage
 * error (EXIT_USAGE); an unknown field (with the nearest name) or a value
 * the field can never hold is a refusal (EXIT_FAIL). Fetches the schema
 * first when there is a condition. Returns 0 or the exit code (printed). */
int cli_where_check(const char *const *where, int n);

/* fields, field add, field value add. Returns the exit code, or -1 when
 * argv[0] is not one of these commands. */
int cli_schema_main(int argc, char **argv);

/* A whole unionctl line whose command is field or fields (-d anywhere):
 * runs it and returns the exit code; -1 when the line is another command. */
int cli_schema_line(int argc, char **argv);

#endif
