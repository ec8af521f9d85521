/* test_config.c - unit tests for daemon/config.c: save/load round trip and
 * the exact file format, line-numbered errors for bad files, peer
 * add/remove/find, atomic saving, address parsing and the value checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config/config.h"

#define FP_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FP_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define FP_B_UPPER "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210"

static const char example[] =
    "# uniond node configuration. Edit with care; `unionctl peer add/remove` rewrites it.\n"
    "[node]\n"
    "name = yinzhou-01\n"
    "office = yinzhou\n"
    "listen = 127.0.0.1:7420\n"
    "\n"
    "[store]\n"
    "format = 1\n"
    "\n"
    "[peer \"haishu-01\"]\n"
    "address = 127.0.0.1:7421\n"
    "fingerprint = " FP_A "\n";

typedef struct {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/uniond-test-config.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/uniond.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void file_write(const char *path, const char *text, size_t len)
{
    FILE *w = fopen(path, "wb");
    assert_non_null(w);
    assert_int_equal(fwrite(text, 1, len, w), len);
    assert_int_equal(fclose(w), 0);
}

static char *file_read(const char *path)
{
    FILE *r = fopen(path, "rb");
    assert_non_null(r);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, r);
    fclose(r);
    buf[n] = '\0';
    return buf;
}

/* parse text; expect failure with every fragment of want in the message */
static void parse_fails(const char *text, const char *want1, const char *want2)
{
    config c;
    char err[512] = "";
    config_init(&c);
    int rc = config_parse_buffer(&c, text, strlen(text), err, sizeof err);
    if (rc != -1 || !strstr(err, want1) || (want2 && !strstr(err, want2)))
        print_error("input:\n%s\nrc %d, message: %s\nwanted: %s / %s\n", text, rc, err, want1,
                    want2 ? want2 : "");
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, want1));
    if (want2)
        assert_non_null(strstr(err, want2));
    assert_null(c.node);
    assert_int_equal(c.npeers, 0);
}

static config parse_ok(const char *text)
{
    config c;
    char err[512] = "";
    config_init(&c);
    int rc = config_parse_buffer(&c, text, strlen(text), err, sizeof err);
    if (rc != 0)
        print_error("input:\n%s\nmessage: %s\n", text, err);
    assert_int_equal(rc, 0);
    return c;
}

static void test_parse_example(void **state)
{
    (void)state;
    config c = parse_ok(example);
    assert_string_equal(c.node, "yinzhou-01");
    assert_string_equal(c.office, "yinzhou");
    assert_string_equal(c.listen, "127.0.0.1:7420");
    assert_int_equal(c.npeers, 1);
    assert_string_equal(c.peers[0].name, "haishu-01");
    assert_string_equal(c.peers[0].address, "127.0.0.1:7421");
    assert_string_equal(c.peers[0].fingerprint, FP_A);
    config_free(&c);
    assert_null(c.node);
    assert_null(c.peers);
    config_free(&c); /* twice is fine */
}

/* [store] format: absent is 0 (an older file), a newer one is refused. */
static void test_store_format(void **state)
{
    (void)state;
    config c = parse_ok(example);
    assert_int_equal(c.format, CONFIG_FORMAT);
    config_free(&c);
    c = parse_ok("[node]\nname = a\noffice = b\n");
    assert_int_equal(c.format, 0);
    config_free(&c);
    parse_fails("[node]\nname = a\noffice = b\n[store]\nformat = 999\n", "line 5",
                "written by a newer uniond");
    parse_fails("[node]\nname = a\noffice = b\n[store]\nversion = 1\n", "line 5", "unknown key");
}

/* [node] office_name: a display name, kept on save, checked on read. */
static void test_office_name(void **state)
{
    (void)state;
    config c = parse_ok("[node]\nname = a\noffice = b\noffice_name = 鄞州区\n");
    assert_string_equal(c.office_name, "鄞州区");
    char *text = NULL;
    size_t len = 0;
    char err[512];
    assert_int_equal(config_format(&c, &text, &len, err, sizeof err), 0);
    assert_non_null(strstr(text, "\noffice_name = 鄞州区\n"));
    free(text);
    assert_int_equal(config_office_name_set(&c, NULL, err, sizeof err), 0);
    assert_null(c.office_name);
    assert_int_not_equal(config_office_name_set(&c, "a;b", err, sizeof err), 0);
    assert_int_not_equal(config_office_name_set(&c, "\xff", err, sizeof err), 0);
    assert_int_not_equal(
        config_office_name_set(&c,
                               "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三",
                               err, sizeof err),
        0);
    assert_null(c.office_name);
    config_free(&c);
    parse_fails("[node]\nname = a\noffice = b\noffice_name = x#y\n", "line 4", "office_name");
}

/* [sync]: the limits on what peers send; defaults when absent, kept on save. */
static void test_sync_section(void **state)
{
    (void)state;
    config c = parse_ok(example);
    assert_true(c.max_pack_bytes == CONFIG_MAX_PACK_BYTES_DEFAULT);
    assert_int_equal(c.new_branches_per_hour, CONFIG_NEW_BRANCHES_PER_HOUR_DEFAULT);
    char *text = NULL;
    size_t len = 0;
    char err[512];
    assert_int_equal(config_format(&c, &text, &len, err, sizeof err), 0);
    assert_string_equal(text, example); /* defaults: no [sync] written */
    free(text);
    config_free(&c);

    char buf[1024];
    snprintf(buf, sizeof buf, "%s\n[sync]\nmax_pack_bytes = 1048576\nnew_branches_per_hour = 0\n",
             example);
    c = parse_ok(buf);
    assert_true(c.max_pack_bytes == 1048576);
    assert_int_equal(c.new_branches_per_hour, 0);
    assert_int_equal(config_format(&c, &text, &len, err, sizeof err), 0);
    config_free(&c);
    c = parse_ok(text); /* what is written reads back the same */
    assert_true(c.max_pack_bytes == 1048576);
    assert_int_equal(c.new_branches_per_hour, 0);
    free(text);
    config_free(&c);

    parse_fails("[node]\nname = a\noffice = b\n[sync]\nmax_pack_bytes = 1024\n", "line 5",
                "from 1048576 (1 MiB)");
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nmax_pack_bytes = 2G\n", "line 5",
                "max_pack_bytes");
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nnew_branches_per_hour = -1\n", "line 5",
                "from 0 to 100000");
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nmax_pack = 1\n", "line 5",
                "expected max_pack_bytes, max_take_in_objects, want_stall_seconds or "
                "new_branches_per_hour");
    /* the take-in limits of a large store: defaults, a set value kept on save, ranges */
    c = parse_ok("[node]\nname = a\noffice = b\n");
    assert_true(c.max_pack_bytes == CONFIG_MAX_PACK_BYTES_DEFAULT);
    assert_true(c.max_take_in_objects == CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT);
    assert_int_equal(c.want_stall_seconds, CONFIG_WANT_STALL_SECONDS_DEFAULT);
    assert_true(CONFIG_MAX_TAKE_IN_OBJECTS_DEFAULT >= 8000000ull); /* a few million records */
    assert_true(CONFIG_MAX_PACK_BYTES_DEFAULT >= (4096ull << 20));
    config_free(&c);
    snprintf(buf, sizeof buf,
             "%s\n[sync]\nmax_take_in_objects = 50\nwant_stall_seconds = 2\n"
             "max_pack_bytes = 68719476736\n",
             example);
    c = parse_ok(buf);
    assert_true(c.max_take_in_objects == 50);
    assert_int_equal(c.want_stall_seconds, 2);
    assert_true(c.max_pack_bytes == (65536ull << 20));
    assert_int_equal(config_format(&c, &text, &len, err, sizeof err), 0);
    config_free(&c);
    c = parse_ok(text);
    assert_true(c.max_take_in_objects == 50);
    assert_int_equal(c.want_stall_seconds, 2);
    assert_true(c.max_pack_bytes == (65536ull << 20));
    free(text);
    config_free(&c);
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nmax_take_in_objects = 0\n", "line 5",
                "from 1 to 4294967295");
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nmax_take_in_objects = 4294967296\n",
                "line 5", "max_take_in_objects");
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nwant_stall_seconds = 0\n", "line 5",
                "from 1 to 86400");
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nmax_pack_bytes = 68719476737\n", "line 5",
                "64 GiB");
    parse_fails("[node]\nname = a\noffice = b\n[sync]\nwant_stall_seconds = 1\n"
                "want_stall_seconds = 2\n",
                "line 6", "set twice");
    parse_fails("[sync]\n[node]\nname = a\noffice = b\n[sync]\n", "line 5", "[sync] appears twice");
}

/* [log] level: info when absent (and then not written), kept on save,
 * strict about names. */
static void test_log_section(void **state)
{
    (void)state;
    config c = parse_ok(example);
    assert_int_equal(c.log_level, LOG_INFO);
    config_free(&c);
    char buf[1024], err[512], *text = NULL;
    size_t len = 0;
    snprintf(buf, sizeof buf, "%s\n[log]\nlevel = debug\n", example);
    c = parse_ok(buf);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_int_equal(config_format(&c, &text, &len, err, sizeof err), 0);
    assert_non_null(strstr(text, "[log]\nlevel = debug\n"));
    config_free(&c);
    c = parse_ok(text); /* a `peer add` rewrite keeps the level */
    assert_int_equal(c.log_level, LOG_DEBUG);
    free(text);
    config_free(&c);
    snprintf(buf, sizeof buf, "%s\n[log]\nlevel = warning\n", example);
    c = parse_ok(buf);
    assert_int_equal(c.log_level, LOG_WARN);
    config_free(&c);
    parse_fails("[node]\nname = a\noffice = b\n[log]\nlevel = loud\n", "line 5",
                "expected error, warn, info or debug");
    parse_fails("[node]\nname = a\noffice = b\n[log]\nlvl = info\n", "line 5", "expected level");
    parse_fails("[node]\nname = a\noffice = b\n[log]\nlevel = info\nlevel = error\n", "line 6",
                "set twice");
    parse_fails("[log]\n[node]\nname = a\noffice = b\n[log]\n", "line 5", "[log] appears twice");
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    config c, d;
    char err[512] = "";

    config_init(&c);
    assert_int_equal(
        config_node_set(&c, "yinzhou-01", "yinzhou", "127.0.0.1:7420", err, sizeof err), 0);
    assert_int_equal(config_peer_add(&c, "haishu-01", "127.0.0.1:7421", FP_A, err, sizeof err), 0);
    assert_int_equal(
        config_peer_add(&c, "xiangshan-lt3", "[::1]:7422", FP_B_UPPER, err, sizeof err), 0);
    assert_int_equal(config_save(&c, f->path, err, sizeof err), 0);

    /* the file is exactly the documented format */
    char want[1024];
    snprintf(want, sizeof want,
             "%s\n[peer \"xiangshan-lt3\"]\naddress = [::1]:7422\nfingerprint = %s\n", example,
             FP_B);
    assert_string_equal(file_read(f->path), want);

    config_init(&d);
    assert_int_equal(config_load(&d, f->path, err, sizeof err), 0);
    assert_string_equal(d.node, c.node);
    assert_string_equal(d.office, c.office);
    assert_string_equal(d.listen, c.listen);
    assert_int_equal(d.npeers, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(d.peers[i].name, c.peers[i].name);
        assert_string_equal(d.peers[i].address, c.peers[i].address);
        assert_string_equal(d.peers[i].fingerprint, c.peers[i].fingerprint);
    }
    assert_string_equal(d.peers[1].fingerprint, FP_B); /* stored lowercased */

    /* loading again replaces the old contents (no leak, no append) */
    assert_int_equal(config_load(&d, f->path, err, sizeof err), 0);
    assert_int_equal(d.npeers, 2);
    config_free(&c);
    config_free(&d);
}

static void test_no_listen_round_trip(void **state)
{
    fixture *f = *state;
    config c, d;
    char err[512] = "";

    config_init(&c);
    assert_int_equal(config_node_set(&c, "laptop.3", "haishu", NULL, err, sizeof err), 0);
    assert_string_equal(c.listen, "");
    assert_int_equal(config_save(&c, f->path, err, sizeof err), 0);
    assert_null(strstr(file_read(f->path), "listen"));
    config_init(&d);
    assert_int_equal(config_load(&d, f->path, err, sizeof err), 0);
    assert_string_equal(d.listen, "");
    assert_int_equal(d.npeers, 0);
    config_free(&c);
    config_free(&d);

    /* "listen =" with an empty value also means: do not listen */
    c = parse_ok("[node]\nname = a\noffice = b\nlisten =\n");
    assert_string_equal(c.listen, "");
    config_free(&c);
}

static void test_lenient_syntax(void **state)
{
    (void)state;
    /* BOM, CRLF, comments, indentation, blank lines, peers before [node],
     * uppercase fingerprint, ':' separator, inline ';' comment */
    config c = parse_ok("\xef\xbb\xbf# comment\r\n"
                        "; another comment\r\n"
                        "[peer \"haishu-01\"]\r\n"
                        "  fingerprint = " FP_B_UPPER "\r\n"
                        "\taddress: host-1.example.org:7421 ; the office server\r\n"
                        "\r\n"
                        "[ node ]  # this node\r\n"
                        "    name = yinzhou-01\r\n"
                        "    office = yinzhou\r\n"
                        "    listen = [::]:0");
    assert_string_equal(c.node, "yinzhou-01");
    assert_string_equal(c.listen, "[::]:0");
    assert_int_equal(c.npeers, 1);
    assert_string_equal(c.peers[0].address, "host-1.example.org:7421");
    assert_string_equal(c.peers[0].fingerprint, FP_B);
    config_free(&c);

    /* the longest names and hosts fit in a line and round-trip */
    char text[1024], err[256];
    char name[65], host[CONFIG_HOST_MAX + 1];
    memset(name, 'n', 64);
    name[64] = '\0';
    memset(host, 'h', CONFIG_HOST_MAX);
    host[CONFIG_HOST_MAX] = '\0';
    snprintf(text, sizeof text,
             "[node]\nname = %s\noffice = abcdefghijklmnopqrstuvwxyz012345\nlisten = %s:65535\n"
             "[peer \"%s.x\"]\naddress = %s:65535\nfingerprint = %s\n",
             name, host, "p23456789012345678901234567890123456789012345678901234567890", host,
             FP_A);
    c = parse_ok(text);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(config_format(&c, &out, &len, err, sizeof err), 0);
    config d = parse_ok(out);
    assert_string_equal(d.peers[0].name,
                        "p23456789012345678901234567890123456789012345678901234567890.x");
    free(out);
    config_free(&c);
    config_free(&d);
}

static void test_bad_lines(void **state)
{
    (void)state;
    parse_fails("[node]\nname = a\noffice = b\nport = 1\n", "line 4:", "unknown key \"port\"");
    parse_fails("name = a\n", "line 1:", "outside any section");
    parse_fails("# c\n[nodes]\n", "line 2:", "unknown section [nodes]");
    parse_fails("[node]\nname = a\noffice = b\n[peer haishu]\n", "line 4:", "unknown section");
    parse_fails("[node\nname = a\n", "line 1:", "no closing ']'");
    parse_fails("[node] x\n", "line 1:", "unexpected text after ']'");
    parse_fails("[node]\nname = a\nname = b\noffice = c\n",
                "line 3:", "set twice in [node] (first on line 2)");
    parse_fails("[node]\nname = a\noffice = b\n[node]\n", "line 4:", "[node] appears twice");
    parse_fails("[node]\nname = a\noffice = b\nthis is not a setting\n",
                "line 4:", "expected \"key = value\"");
    parse_fails("[node]\nname = Yinzhou\n", "line 2:", "name \"Yinzhou\" has 'Y' at position 1");
    parse_fails("[node]\nname = a..b\n", "line 2:", "git branch");
    parse_fails("[node]\nname = a\noffice = 9x\n", "line 3:", "office \"9x\"");
    parse_fails("[node]\nname = a\noffice = b\nlisten = 127.0.0.1\n", "line 4:", "has no port");
    parse_fails("[node]\nname = a\noffice = b\nlisten = 127.0.0.1:65536\n",
                "line 4:", "not a number from 0 to 65535");
    parse_fails("[node]\nname = a\noffice = b\n\n[peer \"c\"]\naddress = c:1\nfingerprint = "
                "0123\n",
                "line 7:", "fingerprint \"0123\" is 4 characters long");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"c\"]\naddress = c:1\nfingerprint = " FP_A
                "\n[peer \"c\"]\naddress = c:2\nfingerprint = " FP_B "\n",
                "line 7:", "[peer \"c\"] appears twice (first on line 4)");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"c\"]\naddress = c:1\nfingerprint = " FP_A
                "\n[peer \"d\"]\naddress = d:2\nfingerprint = " FP_A "\n",
                "line 9:", "same fingerprint as peer \"c\" (line 6)");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"c\"]\naddress = ::1:7420\n",
                "line 5:", "needs brackets");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"c\"]\naddress = c:0\n", "line 5:", "port 0");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"c\"]\nfingerprint = " FP_A "\n",
                "line 4:", "has no address");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"c\"]\naddress = c:1\n",
                "line 4:", "has no fingerprint");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"a\"]\naddress = c:1\nfingerprint = " FP_A
                "\n",
                "line 4:", "own name");
    parse_fails("[node]\nname = a\noffice = b\n[peer \"Bad\"]\n", "line 4:", "peer name \"Bad\"");
    parse_fails("# nothing\n", "no [node] section", NULL);
    parse_fails("", "no [node] section", NULL);
    parse_fails("[node]\noffice = b\n", "line 1:", "has no name");
    parse_fails("[node]\nname = a\n", "line 1:", "has no office");

    /* a long line is refused, not split into two */
    char text[600];
    snprintf(text, sizeof text, "[node]\nname = a\noffice = b\nlisten = %0300d:1\n", 0);
    parse_fails(text, "line 4:", "longer than");
    /* a peer header longer than inih's section buffer is still ours to judge */
    parse_fails("[node]\nname = a\noffice = b\n[peer \"p234567890123456789012345678901234567890"
                "12345678901234567890123456\"]\n",
                "line 4:", "is 66 bytes long");

    /* a NUL byte is refused with its line */
    config c;
    char err[256];
    config_init(&c);
    static const char nul[] = "[node]\nname = a\0b\noffice = b\n";
    assert_int_equal(config_parse_buffer(&c, nul, sizeof nul - 1, err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "line 2:"));
    assert_non_null(strstr(err, "NUL"));
}

static void test_parse_failure_keeps_config(void **state)
{
    (void)state;
    config c = parse_ok(example);
    char err[256];
    const char *bad = "[node]\nname = other\noffice = x\nbogus = 1\n";
    assert_int_equal(config_parse_buffer(&c, bad, strlen(bad), err, sizeof err), UERR_INVALID);
    assert_string_equal(c.node, "yinzhou-01");
    assert_int_equal(c.npeers, 1);
    config_free(&c);
}

static void test_load_errors(void **state)
{
    fixture *f = *state;
    config c;
    char err[512];

    config_init(&c);
    assert_int_equal(config_load(&c, f->path, err, sizeof err), UERR_NOTFOUND);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "uniond init"));

    assert_int_equal(config_load(&c, f->dir, err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "not a regular file"));

    /* the file name and the line number are both in the message */
    file_write(f->path, "[node]\nname = a\noffice = b\nfoo = 1\n", 33);
    assert_int_equal(config_load(&c, f->path, err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "line 4: unknown key \"foo\""));

    /* over 1 MiB is refused before reading it */
    FILE *w = fopen(f->path, "w");
    assert_non_null(w);
    fputs(example, w);
    for (int i = 0; i < 1024 * 1024 / 16 + 1; i++)
        fputs("# padding......\n", w);
    fclose(w);
    assert_int_equal(config_load(&c, f->path, err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "at most 1048576"));
    assert_null(c.node);
}

static int dir_has_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp"))
            found = 1;
    closedir(d);
    return found;
}

static void test_save_atomic(void **state)
{
    fixture *f = *state;
    config c;
    char err[512], path[200];
    struct stat st;

    config_init(&c);
    assert_int_equal(
        config_node_set(&c, "yinzhou-01", "yinzhou", "127.0.0.1:7420", err, sizeof err), 0);
    assert_int_equal(config_save(&c, f->path, err, sizeof err), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_false(dir_has_tmp(f->dir));

    /* a stale .tmp from a crash is replaced, and gone afterwards */
    snprintf(path, sizeof path, "%s.tmp", f->path);
    file_write(path, "garbage", 7);
    assert_int_equal(config_peer_add(&c, "haishu-01", "127.0.0.1:7421", FP_A, err, sizeof err), 0);
    assert_int_equal(config_save(&c, f->path, err, sizeof err), 0);
    assert_false(dir_has_tmp(f->dir));
    assert_non_null(strstr(file_read(f->path), "[peer \"haishu-01\"]"));

    /* an invalid config is not written: the old file stays */
    free(c.office);
    c.office = strdup("Not Valid");
    assert_int_equal(config_save(&c, f->path, err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "office"));
    assert_non_null(strstr(file_read(f->path), "office = yinzhou"));
    assert_false(dir_has_tmp(f->dir));

    /* a directory that does not exist */
    free(c.office);
    c.office = strdup("yinzhou");
    snprintf(path, sizeof path, "%s/missing/uniond.conf", f->dir);
    assert_int_equal(config_save(&c, path, err, sizeof err), UERR_IO);
    assert_non_null(strstr(err, "missing/uniond.conf.tmp"));

    /* an empty config cannot be saved */
    config e;
    config_init(&e);
    assert_int_equal(config_save(&e, f->path, err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "node name is empty"));
    config_free(&c);
}

static void test_peer_add_remove(void **state)
{
    (void)state;
    config c = parse_ok(example);
    char err[512];

    assert_int_equal(config_peer_add(&c, "beilun-02", "10.0.0.2:7420", FP_B_UPPER, err, sizeof err),
                     0);
    assert_int_equal(c.npeers, 2);
    const config_peer *p = config_peer_find(&c, "beilun-02");
    assert_non_null(p);
    assert_string_equal(p->fingerprint, FP_B);
    assert_ptr_equal(config_peer_find_fingerprint(&c, FP_B_UPPER), p);
    assert_null(config_peer_find(&c, "beilun"));
    assert_null(config_peer_find(&c, NULL));

    /* refused: duplicate name, own name, duplicate key, bad values */
    assert_int_equal(config_peer_add(&c, "beilun-02", "10.0.0.3:7420", FP_A, err, sizeof err),
                     UERR_CONFLICT);
    assert_non_null(strstr(err, "already configured"));
    assert_int_equal(
        config_peer_add(&c, "yinzhou-01", "10.0.0.3:7420",
                        "1111111111111111111111111111111111111111111111111111111111111111", err,
                        sizeof err),
        UERR_INVALID);
    assert_non_null(strstr(err, "own name"));
    assert_int_equal(config_peer_add(&c, "other", "10.0.0.3:7420", FP_A, err, sizeof err),
                     UERR_CONFLICT);
    assert_non_null(strstr(err, "\"haishu-01\" already has that fingerprint"));
    assert_int_equal(config_peer_add(&c, "other", "10.0.0.3:7420", "abc", err, sizeof err),
                     UERR_INVALID);
    assert_non_null(strstr(err, "fingerprint"));
    assert_int_equal(
        config_peer_add(&c, "other", "10.0.0.3:7420",
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX", err,
                        sizeof err),
        UERR_INVALID);
    assert_non_null(strstr(err, "'X' at position 64"));
    assert_int_equal(config_peer_add(&c, "other", "10.0.0.3", FP_B, err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "no port"));
    assert_int_equal(config_peer_add(&c, "other", "10.0.0.3:99999", FP_B, err, sizeof err),
                     UERR_INVALID);
    assert_int_equal(config_peer_add(&c, "other", "10.0.0.3:0", FP_B, err, sizeof err),
                     UERR_INVALID);
    assert_int_equal(config_peer_add(&c, "", "10.0.0.3:1", FP_B, err, sizeof err), UERR_INVALID);
    assert_int_equal(config_peer_add(&c, "x y", "10.0.0.3:1", FP_B, err, sizeof err), UERR_INVALID);
    assert_int_equal(config_peer_add(&c, "other", NULL, FP_B, err, sizeof err), UERR_INVALID);
    assert_int_equal(c.npeers, 2);

    /* remove: the others keep their order */
    assert_int_equal(
        config_peer_add(&c, "zhenhai-01", "10.0.0.4:7420",
                        "2222222222222222222222222222222222222222222222222222222222222222", err,
                        sizeof err),
        0);
    assert_int_equal(config_peer_remove(&c, "beilun-02", err, sizeof err), 0);
    assert_int_equal(c.npeers, 2);
    assert_string_equal(c.peers[0].name, "haishu-01");
    assert_string_equal(c.peers[1].name, "zhenhai-01");
    assert_int_equal(config_peer_remove(&c, "beilun-02", err, sizeof err), UERR_NOTFOUND);
    assert_non_null(strstr(err, "no peer named \"beilun-02\""));
    assert_int_equal(config_peer_remove(&c, "haishu-01", err, sizeof err), 0);
    assert_int_equal(config_peer_remove(&c, "zhenhai-01", err, sizeof err), 0);
    assert_int_equal(c.npeers, 0);
    assert_null(c.peers);
    /* a removed name and key can be added again */
    assert_int_equal(config_peer_add(&c, "haishu-01", "127.0.0.1:7421", FP_A, err, sizeof err), 0);
    config_free(&c);
}

static void test_node_set(void **state)
{
    (void)state;
    config c = parse_ok(example);
    char err[512];
    assert_int_equal(config_node_set(&c, "haishu-01", "haishu", "", err, sizeof err),
                     UERR_CONFLICT);
    assert_non_null(strstr(err, "already a peer's name"));
    assert_int_equal(config_node_set(&c, "n", "Haishu", "", err, sizeof err), UERR_INVALID);
    assert_int_equal(config_node_set(&c, "n", "haishu", "nohost", err, sizeof err), UERR_INVALID);
    assert_string_equal(c.node, "yinzhou-01");
    assert_int_equal(config_node_set(&c, "n", "haishu", "0.0.0.0:0", err, sizeof err), 0);
    assert_string_equal(c.node, "n");
    assert_string_equal(c.listen, "0.0.0.0:0");
    config_free(&c);
}

static void test_addr_parse(void **state)
{
    (void)state;
    char host[64];
    int port = -1;

    assert_int_equal(config_addr_parse(host, sizeof host, &port, "127.0.0.1:7420"), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7420);
    assert_int_equal(config_addr_parse(host, sizeof host, &port, "[::1]:7421"), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7421);
    assert_int_equal(config_addr_parse(host, sizeof host, &port, "localhost:0"), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 0);
    assert_int_equal(config_addr_parse(host, sizeof host, &port, "[2001:db8::7]:65535"), 0);
    assert_string_equal(host, "2001:db8::7");
    assert_int_equal(port, 65535);

    static const char *const bad[] = {
        "",           ":7420",       "host",          "host:",      "host:-1",   "host:+1",
        "host:65536", "host:123456", "host:7420 ",    " host:7420", "[::1]7420", "[::1",
        "[]:1",       "[zz]:1",      "[127.0.0.1]:1", "::1:7420",   "ho st:1",   "-host:1",
        "host:0x10",  "[::1]:",      "h\xe4:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (config_addr_parse(host, sizeof host, &port, bad[i]) != -1)
            print_error("accepted \"%s\"\n", bad[i]);
        assert_int_equal(config_addr_parse(host, sizeof host, &port, bad[i]), -1);
    }
    assert_int_equal(config_addr_parse(host, sizeof host, &port, NULL), -1);
    /* host must fit the buffer */
    char small[9];
    assert_int_equal(config_addr_parse(small, sizeof small, &port, "localhost:1"), -1);
    assert_int_equal(config_addr_parse(small, sizeof small, &port, "localhos:1"), 0);
    /* too long a host */
    char big[CONFIG_HOST_MAX + 16], hbuf[CONFIG_HOST_MAX + 16];
    memset(big, 'a', CONFIG_HOST_MAX + 1);
    strcpy(big + CONFIG_HOST_MAX + 1, ":1");
    assert_int_equal(config_addr_parse(hbuf, sizeof hbuf, &port, big), -1);
}

static void test_checks(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(names_node_check("yinzhou-01", "--node", err, sizeof err), 0);
    assert_int_equal(names_node_check("0a._-z", "--node", err, sizeof err), 0);
    assert_int_equal(names_node_check("-a", "--node", err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "--node \"-a\""));
    assert_int_equal(names_node_check(".a", "--node", err, sizeof err), UERR_INVALID);
    assert_int_equal(names_node_check("a.", "--node", err, sizeof err), UERR_INVALID);
    assert_int_equal(names_node_check("a.lock", "--node", err, sizeof err), UERR_INVALID);
    assert_int_equal(names_node_check("a/b", "--node", err, sizeof err), UERR_INVALID);
    assert_int_equal(names_node_check(NULL, "--node", err, sizeof err), UERR_INVALID);
    char n65[66];
    memset(n65, 'a', 65);
    n65[65] = '\0';
    assert_int_equal(names_node_check(n65, "--node", err, sizeof err), UERR_INVALID);
    n65[64] = '\0';
    assert_int_equal(names_node_check(n65, "--node", err, sizeof err), 0);

    assert_int_equal(config_office_check("yinzhou", "--office", err, sizeof err), 0);
    assert_int_equal(config_office_check("a-1", "--office", err, sizeof err), 0);
    assert_int_equal(config_office_check("1a", "--office", err, sizeof err), UERR_INVALID);
    assert_int_equal(config_office_check("a_b", "--office", err, sizeof err), UERR_INVALID);
    assert_int_equal(
        config_office_check("abcdefghijklmnopqrstuvwxyz0123456", "--office", err, sizeof err),
        UERR_INVALID);
    assert_non_null(strstr(err, "33 bytes"));

    assert_int_equal(config_listen_check("", "--listen", err, sizeof err), 0);
    assert_int_equal(config_listen_check(NULL, "--listen", err, sizeof err), 0);
    assert_int_equal(config_listen_check("127.0.0.1:0", "--listen", err, sizeof err), 0);
    assert_int_equal(config_address_check("127.0.0.1:0", "address", err, sizeof err), UERR_INVALID);
    assert_int_equal(config_listen_check("127.0.0.1", "--listen", err, sizeof err), UERR_INVALID);
    assert_non_null(strstr(err, "--listen \"127.0.0.1\" has no port"));
    /* control characters never reach a message raw */
    assert_int_equal(names_node_check("a\x1b[2Jb", "--node", err, sizeof err), UERR_INVALID);
    assert_null(strchr(err, '\x1b'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_example),
        cmocka_unit_test(test_sync_section),
        cmocka_unit_test(test_store_format),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_listen_round_trip, setup, teardown),
        cmocka_unit_test(test_lenient_syntax),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_parse_failure_keeps_config),
        cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_atomic, setup, teardown),
        cmocka_unit_test(test_peer_add_remove),
        cmocka_unit_test(test_node_set),
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_office_name),
        cmocka_unit_test(test_log_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
