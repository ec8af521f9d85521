/* test_cli.c - unit tests of unionctl's command table and command line
 * (cli/table.c, cli/cmdline.c): every row complete and consistent (each
 * option it takes explained in its help, an example of itself), the edit
 * distance and the "did you mean" choice, and cli_run's exit codes for
 * --version, a mistyped command and -d after the command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The long name of each command option letter (cli.h, opts). */
static const char *long_name(char letter)
{
    static const struct {
        char letter;
        const char *name;
    } names[] = {
        {'j', "--json"},         {'c', "--csv"},         {'r', "--reveal"},  {'n', "--count"},
        {'s', "--skip-invalid"}, {'S', "--sort"},        {'L', "--limit"},   {'w', "--where"},
        {'B', "--by"},           {'F', "--since"},       {'U', "--until"},   {'f', "--force"},
        {'K', "--kind"},         {'R', "--from"},        {'T', "--to"},      {'O', "--office"},
        {'D', "--date"},         {'A', "--amount"},      {'Q', "--station"}, {'E', "--encoding"},
        {'Y', "--dry-run"},      {'X', "--xlsx"},        {'a', "--across"},  {'e', "--excel"},
        {'C', "--check"},        {'M', "--max-offline"}, {'N', "--node"},    {'l', "--last"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].letter == letter)
            return names[i].name;
    return NULL;
}

static void test_rows_complete(void **state)
{
    (void)state;
    assert_true(cli_ncommands >= 20);
    for (size_t i = 0; i < cli_ncommands; i++) {
        const cli_cmd *c = &cli_commands[i];
        char prefix[64];
        assert_non_null(c->name);
        assert_non_null(c->group);
        assert_non_null(c->summary);
        assert_true(strlen(c->summary) < 64); /* one line in --help */
        assert_non_null(c->usage);
        assert_non_null(c->options);
        /* the usage and the example are of this command */
        snprintf(prefix, sizeof prefix, "unionctl %s", c->name);
        assert_int_equal(strncmp(c->example, prefix, strlen(prefix)), 0);
        assert_int_equal(strncmp(c->usage, c->name, strlen(c->name)), 0);
        assert_true(c->min_args >= 0 && c->min_args <= c->max_args);
        /* something runs: a request (op given here or by build), or local */
        if (c->flags & (CLI_LOCAL | CLI_SELF))
            assert_non_null(c->print);
        else
            assert_true(c->op != NULL || c->build != NULL);
        /* every option it takes is explained in its help */
        for (const char *o = c->options; *o; o++) {
            const char *name = long_name(*o);
            assert_non_null(name);
            assert_non_null(c->help);
            if (!strstr(c->help, name))
                fail_msg("%s takes %s but its help does not say what it does", c->name, name);
        }
        /* names are unique, so lookup finds this row */
        assert_ptr_equal(cli_command_find(c->name), c);
    }
    assert_null(cli_command_find("lsit"));
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(cli_edit_distance("list", "list"), 0);
    assert_int_equal(cli_edit_distance("lsit", "list"), 1); /* a swap is one slip */
    assert_int_equal(cli_edit_distance("", "abc"), 3);
    assert_int_equal(cli_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(cli_edit_distance("LIST", "list"), 0);
    assert_int_equal(cli_edit_distance("stat", "stats"), 1);
}

static void test_nearest(void **state)
{
    (void)state;
    assert_string_equal(cli_command_nearest("lsit")->name, "list");
    assert_string_equal(cli_command_nearest("stat")->name, "stats");
    assert_string_equal(cli_command_nearest("shwo")->name, "show");
    assert_string_equal(cli_command_nearest("dup")->name, "duplicates"); /* a unique start */
    assert_string_equal(cli_command_nearest("transfr")->name, "transfer");
    assert_null(cli_command_nearest("frobnicate"));
    assert_null(cli_command_nearest("x")); /* not taken for "id" */
}

/* cli_run on a NULL-terminated list of words (argv[0] first). */
static int run(const char *const *words)
{
    char *argv[16];
    int argc = 0;
    for (; words[argc]; argc++)
        argv[argc] = (char *)words[argc];
    argv[argc] = NULL;
    return cli_run(argc, argv);
}

static void test_run_exit_codes(void **state)
{
    (void)state;
    const char *version[] = {"unionctl", "--version", NULL};
    const char *lsit[] = {"unionctl", "lsit", NULL};
    const char *help[] = {"unionctl", "stats", "--help", NULL};
    const char *late_d[] = {"unionctl", "list", "--count", "-d", "/nonexistent/uniond", NULL};
    const char *no_data[] = {"unionctl", "list", "--count", NULL};
    const char *misplaced[] = {"unionctl", "add", "--json", "name=x", "-d", "/nonexistent", NULL};
    unsetenv("UNIOND_DATA");
    assert_int_equal(run(version), EXIT_OK);
    assert_int_equal(run(lsit), EXIT_USAGE);
    assert_int_equal(run(help), EXIT_OK);
    /* -d after the command is read: the socket is looked for there */
    assert_int_equal(run(late_d), EXIT_UNREACHABLE);
    assert_int_equal(run(no_data), EXIT_USAGE);
    assert_int_equal(run(misplaced), EXIT_USAGE);
}

/* unionctl batch's words: what a shell would make of the simple cases */
static void words_expect(const char *text, int n, const char *const *want)
{
    char *line = strdup(text), **w;
    int got;
    const char *why;
    assert_non_null(line);
    assert_int_equal(cli_batch_words(&w, &got, line, &why), 0);
    assert_int_equal(got, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(w[i], want[i]);
    free(w);
    free(line);
}

static void test_batch_words(void **state)
{
    (void)state;
    words_expect("", 0, NULL);
    words_expect("   # a comment 'unclosed", 0, NULL);
    words_expect("add name=甲", 2, (const char *const[]){"add", "name=甲"});
    words_expect(" add  \t name='陈 诚' \r", 2, (const char *const[]){"add", "name=陈 诚"});
    words_expect("edit x \"note=a \\\"b\\\" \\c\" phone=", 4,
                 (const char *const[]){"edit", "x", "note=a \"b\" \\c", "phone="});
    words_expect("a\\ b '' \"\" c#d # e", 4, (const char *const[]){"a b", "", "", "c#d"});
    char bad1[] = "add name='x", bad2[] = "add \"name=x", **w = NULL;
    int n = 0;
    const char *why = NULL;
    assert_int_equal(cli_batch_words(&w, &n, bad1, &why), -1);
    assert_non_null(why);
    assert_null(w);
    assert_int_equal(cli_batch_words(&w, &n, bad2, &why), -1);
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_complete), cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_nearest),       cmocka_unit_test(test_run_exit_codes),
        cmocka_unit_test(test_batch_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
