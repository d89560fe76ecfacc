/*
 * test_config -- the settings table: file syntax (comments, "kinto." prefix, errors with
 * FILE:LINE), environment overrides, merge precedence, typed getters and their errors.
 * Each Criterion test runs in its own process, so setenv() does not leak between tests.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herald/config.h"

/* Writes 'text' to a fresh temporary file; returns its path (static storage). */
static const char *
write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/herald_test_config_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

Test(config, defaults_when_unset)
{
    herald_config *c = herald_config_new();
    int64_t i = 0;
    int b = -1;
    cr_assert_str_eq(herald_config_get(c, "x", "def"), "def");
    cr_assert_null(herald_config_get(c, "x", NULL));
    cr_assert_eq(herald_config_get_int(c, "x", 42, &i), 0);
    cr_assert_eq(i, 42);
    cr_assert_eq(herald_config_get_bool(c, "x", 1, &b), 0);
    cr_assert_eq(b, 1);
    herald_config_free(c);
    herald_config_free(NULL);
}

Test(config, set_replaces)
{
    herald_config *c = herald_config_new();
    herald_config_set(c, "a", "1");
    herald_config_set(c, "a", "2");
    cr_assert_str_eq(herald_config_get(c, "a", NULL), "2");
    /* Setting a value from the table's own storage must be safe. */
    herald_config_set(c, "a", herald_config_get(c, "a", NULL));
    cr_assert_str_eq(herald_config_get(c, "a", NULL), "2");
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%d", i);
        herald_config_set(c, name, name);
    }
    cr_assert_str_eq(herald_config_get(c, "k77", NULL), "k77");
    herald_config_free(c);
}

Test(config, file_parsing)
{
    const char *path = write_tmp("# a comment\n"
                                 "\n"
                                 "   # indented comment\n"
                                 "kinto.paginate_by = 100\n"
                                 "redis_url=redis://localhost:6379/1\n"
                                 "  spaced   =   value with spaces  \r\n"
                                 "password = se#cret\n"
                                 "empty =\n"
                                 "kinto.bucket_create_principals = system.Authenticated\n"
                                 "dup = first\n"
                                 "dup = second\n"
                                 "last = no newline");
    herald_config *c = herald_config_new();
    char err[256] = "";
    cr_assert_eq(herald_config_load_file(c, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(herald_config_get(c, "paginate_by", NULL), "100");
    cr_assert_null(herald_config_get(c, "kinto.paginate_by", NULL));
    cr_assert_str_eq(herald_config_get(c, "redis_url", NULL), "redis://localhost:6379/1");
    cr_assert_str_eq(herald_config_get(c, "spaced", NULL), "value with spaces");
    cr_assert_str_eq(herald_config_get(c, "password", NULL), "se#cret");
    cr_assert_str_eq(herald_config_get(c, "empty", "x"), "");
    cr_assert_str_eq(herald_config_get(c, "bucket_create_principals", NULL),
                     "system.Authenticated");
    cr_assert_str_eq(herald_config_get(c, "dup", NULL), "second");
    cr_assert_str_eq(herald_config_get(c, "last", NULL), "no newline");
    int64_t n;
    cr_assert_eq(herald_config_get_int(c, "paginate_by", 0, &n), 0);
    cr_assert_eq(n, 100);
    herald_config_free(c);
    unlink(path);
}

static void
expect_file_error(const char *text, const char *reason)
{
    const char *path = write_tmp(text);
    herald_config *c = herald_config_new();
    char err[256] = "";
    char want[128];
    cr_assert_eq(herald_config_load_file(c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:%s", path, reason);
    cr_assert_str_eq(err, want);
    herald_config_free(c);
    unlink(path);
}

Test(config, file_errors)
{
    expect_file_error("a = 1\nno equals sign\n", "2: expected 'name = value'");
    expect_file_error("[app:main]\n", "1: expected 'name = value'");
    expect_file_error("# c\n\n = value\n", "3: invalid setting name ''");
    expect_file_error("bad name = 1\n", "1: invalid setting name 'bad name'");
    expect_file_error("kinto. = 1\n", "1: invalid setting name ''");
}

Test(config, missing_file)
{
    herald_config *c = herald_config_new();
    char err[256] = "";
    cr_assert_eq(herald_config_load_file(c, "/nonexistent/herald.ini", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "/nonexistent/herald.ini: No such file or directory");
    /* A tiny error buffer is truncated, never overrun. */
    char small[8];
    cr_assert_eq(herald_config_load_file(c, "/nonexistent/herald.ini", small, sizeof(small)), -1);
    cr_assert_str_eq(small, "/nonexi");
    herald_config_free(c);
}

Test(config, env_override)
{
    herald_config *c = herald_config_new();
    herald_config_set(c, "paginate_by", "10");
    herald_config_set(c, "redis_url", "redis://file/0");
    setenv("HERALD_PAGINATE_BY", "25", 1);
    setenv("HERALD_PUBLISHER_LISTEN", "127.0.0.1:9000", 1);
    setenv("HERALD_ADMIN_PASSWORD", "", 1);
    unsetenv("HERALD_REDIS_URL");
    static const char *const names[] = {"paginate_by", "redis_url", "publisher.listen",
                                        "admin-password", NULL};
    herald_config_load_env(c, names);
    cr_assert_str_eq(herald_config_get(c, "paginate_by", NULL), "25");
    cr_assert_str_eq(herald_config_get(c, "redis_url", NULL), "redis://file/0");
    cr_assert_str_eq(herald_config_get(c, "publisher.listen", NULL), "127.0.0.1:9000");
    /* Set but empty is still set. */
    cr_assert_str_eq(herald_config_get(c, "admin-password", "x"), "");
    herald_config_free(c);
}

Test(config, precedence)
{
    /* defaults < file < environment < flags */
    const char *path = write_tmp("a = file\nb = file\nc = file\n");
    herald_config *c = herald_config_new();
    herald_config *flags = herald_config_new();
    char err[256];
    herald_config_set(c, "a", "default");
    herald_config_set(c, "b", "default");
    herald_config_set(c, "c", "default");
    herald_config_set(c, "d", "default");
    cr_assert_eq(herald_config_load_file(c, path, err, sizeof(err)), 0, "%s", err);
    setenv("HERALD_B", "env", 1);
    setenv("HERALD_C", "env", 1);
    static const char *const names[] = {"a", "b", "c", "d", NULL};
    herald_config_load_env(c, names);
    herald_config_set(flags, "c", "flag");
    herald_config_merge(c, flags);
    cr_assert_str_eq(herald_config_get(c, "a", NULL), "file");
    cr_assert_str_eq(herald_config_get(c, "b", NULL), "env");
    cr_assert_str_eq(herald_config_get(c, "c", NULL), "flag");
    cr_assert_str_eq(herald_config_get(c, "d", NULL), "default");
    /* merge copies: the source can go away. */
    herald_config_free(flags);
    cr_assert_str_eq(herald_config_get(c, "c", NULL), "flag");
    herald_config_free(c);
    unlink(path);
}

Test(config, get_int)
{
    static const struct {
        const char *s;
        int rc;
        int64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"42", 0, 42},
        {"-7", 0, -7},
        {"+7", 0, 7},
        {"9223372036854775807", 0, INT64_MAX},
        {"-9223372036854775808", 0, INT64_MIN},
        {"9223372036854775808", -1, 0},
        {"", -1, 0},
        {"-", -1, 0},
        {"12abc", -1, 0},
        {"1.5", -1, 0},
        {" 1", -1, 0},
        {"0x10", -1, 0},
        {"abc", -1, 0},
    };
    herald_config *c = herald_config_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t out = 12345;
        herald_config_set(c, "n", cases[i].s);
        cr_assert_eq(herald_config_get_int(c, "n", 99, &out), cases[i].rc, "'%s'", cases[i].s);
        cr_assert_eq(out, cases[i].rc == 0 ? cases[i].v : 12345, "'%s'", cases[i].s);
    }
    herald_config_free(c);
}

Test(config, get_bool)
{
    static const struct {
        const char *s;
        int rc;
        int v;
    } cases[] = {
        {"true", 0, 1},  {"TRUE", 0, 1}, {"yes", 0, 1},   {"On", 0, 1},     {"1", 0, 1},
        {"false", 0, 0}, {"No", 0, 0},   {"off", 0, 0},   {"0", 0, 0},      {"", -1, 0},
        {"2", -1, 0},    {"t", -1, 0},   {"yes!", -1, 0}, {"truex", -1, 0},
    };
    herald_config *c = herald_config_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int out = 7;
        herald_config_set(c, "b", cases[i].s);
        cr_assert_eq(herald_config_get_bool(c, "b", 0, &out), cases[i].rc, "'%s'", cases[i].s);
        cr_assert_eq(out, cases[i].rc == 0 ? cases[i].v : 7, "'%s'", cases[i].s);
    }
    herald_config_free(c);
}

/* --- settings tables ------------------------------------------------------------------ */

struct demo {
    herald_listen listen;
    char *url;
    char *keys;
    int64_t big;
    int small;
    int flag;
    int level;
    char *only;
};

#define D(m) HERALD_FIELD(struct demo, m)
static const herald_setting demo_table[] = {
    {"server_listen", HERALD_SETTING_LISTEN, "127.0.0.1:8888", 0, 0, "listen", "where", D(listen)},
    {"redis_url", HERALD_SETTING_STR, "redis://x", 0, 0, "redis", "url", D(url)},
    {"public_keys", HERALD_SETTING_LIST, "", 0, 0, "public-key", "keys", D(keys)},
    {"big_number", HERALD_SETTING_INT, "5000000000", 0, INT64_MAX, NULL, "big", D(big)},
    {"small_number", HERALD_SETTING_INT, "7", 1, 10, "small", "small", D(small)},
    {"monitor.changes.flag", HERALD_SETTING_BOOL, "true", 0, 0, NULL, "flag", D(flag)},
    {"log_level", HERALD_SETTING_LOG_LEVEL, "info", 0, 0, NULL, "level", D(level)},
    {"only", HERALD_SETTING_STR, NULL, 0, 0, "solo", "flag only", D(only),
     HERALD_SETTING_FLAG_ONLY},
    {"not_stored", HERALD_SETTING_STR, "abc", 0, 0, NULL, "no field", HERALD_NO_FIELD},
};
static const herald_settings_spec demo = {
    .program = "demo",
    .synopsis = "usage: demo\n",
    .table = demo_table,
    .n = sizeof(demo_table) / sizeof(demo_table[0]),
};

Test(settings, unknown_key_in_file_names_the_closest_setting)
{
    herald_config *c = herald_config_new();
    char err[256];
    const char *path =
        write_tmp("# comment\nredis_url = redis://y\nserver_listn = 127.0.0.1:9999\n");
    cr_assert_eq(herald_settings_load_file(&demo, c, path, err, sizeof(err)), -1);
    char want[320];
    snprintf(want, sizeof(want),
             "%s:3: unknown setting 'server_listn' (did you mean 'server_listen'?)", path);
    cr_assert_str_eq(err, want);
    unlink(path);
    /* The "kinto." prefix is stripped before the check. */
    path = write_tmp("kinto.small_numbr = 3\n");
    cr_assert_eq(herald_settings_load_file(&demo, c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:1: unknown setting 'small_numbr' (did you mean 'small_number'?)", path);
    cr_assert_str_eq(err, want);
    unlink(path);
    herald_config_free(c);
}

Test(settings, unknown_key_far_from_every_name_has_no_guess)
{
    herald_config *c = herald_config_new();
    char err[256];
    const char *path = write_tmp("zzz = 1\n");
    cr_assert_eq(herald_settings_load_file(&demo, c, path, err, sizeof(err)), -1);
    cr_assert(strstr(err, ":1: unknown setting 'zzz'"), "%s", err);
    cr_assert_null(strstr(err, "did you mean"), "%s", err);
    unlink(path);
    /* A flag-only setting is no file key, and no suggestion either. */
    path = write_tmp("only = x\n");
    cr_assert_eq(herald_settings_load_file(&demo, c, path, err, sizeof(err)), -1);
    cr_assert(strstr(err, "unknown setting 'only'"), "%s", err);
    unlink(path);
    herald_config_free(c);
}

Test(settings, known_keys_load)
{
    herald_config *c = herald_config_new();
    char err[256];
    const char *path = write_tmp("kinto.small_number = 3\nmonitor.changes.flag = off\n");
    cr_assert_eq(herald_settings_load_file(&demo, c, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(herald_config_get(c, "small_number", NULL), "3");
    cr_assert_str_eq(herald_config_get(c, "monitor.changes.flag", NULL), "off");
    unlink(path);
    herald_config_free(c);
}

Test(settings, unknown_env_is_counted_and_warned, .init = cr_redirect_stderr)
{
    char *env[] = {"HERALD_REDIS_URL=redis://env",
                   "HERALD_SERVER_LISTN=1.2.3.4:5",
                   "HERALD_MONITOR_CHANGES_FLAG=no",
                   "HERALD_ONLY=x",
                   "HERALD_PASSWORD=p",
                   "PATH=/bin",
                   "HERALDX=1",
                   NULL};
    const char *ignore[] = {"HERALD_PASSWORD", NULL};
    herald_config *c = herald_config_new();
    cr_assert_eq(herald_settings_load_env(&demo, c, env, ignore), 2);
    cr_assert_str_eq(herald_config_get(c, "redis_url", NULL), "redis://env");
    cr_assert_str_eq(herald_config_get(c, "monitor.changes.flag", NULL), "no");
    cr_assert_null(herald_config_get(c, "only", NULL), "a flag-only setting has no variable");
    cr_assert_null(herald_config_get(c, "server_listen", NULL));
    fflush(stderr);
    cr_assert_stderr_neq_str("");
    herald_config_free(c);
}

Test(settings, unknown_env_warning_text, .init = cr_redirect_stderr)
{
    char *env[] = {"HERALD_SERVER_LISTN=1.2.3.4:5", NULL};
    herald_config *c = herald_config_new();
    cr_assert_eq(herald_settings_load_env(&demo, c, env, NULL), 1);
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    char line[512] = "";
    cr_assert_not_null(fgets(line, sizeof(line), f));
    cr_assert(strstr(line, "WARN demo: unknown environment variable HERALD_SERVER_LISTN ignored "
                           "(did you mean HERALD_SERVER_LISTEN?)"),
              "%s", line);
    herald_config_free(c);
}

Test(settings, defaults_come_from_the_table)
{
    herald_config *c = herald_config_new();
    struct demo d = {.only = NULL};
    char err[256];
    cr_assert_eq(herald_settings_store(&demo, c, &d, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(d.listen.host, "127.0.0.1");
    cr_assert_eq(d.listen.port, 8888);
    cr_assert_str_eq(d.listen.text, "127.0.0.1:8888");
    cr_assert_str_eq(d.url, "redis://x");
    cr_assert_null(d.keys, "an empty string is no value");
    cr_assert_eq(d.big, 5000000000LL);
    cr_assert_eq(d.small, 7);
    cr_assert_eq(d.flag, 1);
    cr_assert_eq(d.level, 1);
    cr_assert_null(d.only);
    cr_assert_str_eq(herald_settings_get(&demo, c, "not_stored"), "abc");
    cr_assert_null(herald_settings_get(&demo, c, "nothing"));
    herald_settings_free(&demo, &d);
    cr_assert_null(d.url);
    herald_config_free(c);
}

Test(settings, invalid_values_name_the_setting)
{
    static const char *const cases[][2] = {
        {"small_number", "0"},
        {"small_number", "11"},
        {"small_number", "3x"},
        {"big_number", "-1"},
        {"monitor.changes.flag", "maybe"},
        {"log_level", "loud"},
        {"server_listen", "8888"},
        {"server_listen", "::1:8888"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        herald_config *c = herald_config_new();
        herald_config_set(c, cases[i][0], cases[i][1]);
        struct demo d = {.only = NULL};
        char err[256] = "";
        cr_assert_eq(herald_settings_store(&demo, c, &d, err, sizeof(err)), -1, "%s = %s accepted",
                     cases[i][0], cases[i][1]);
        cr_assert(strncmp(err, cases[i][0], strlen(cases[i][0])) == 0, "%s", err);
        cr_assert(strstr(err, cases[i][1]), "the error shows the value: %s", err);
        herald_settings_free(&demo, &d);
        herald_config_free(c);
    }
}

Test(settings, listen_addresses)
{
    herald_listen l;
    cr_assert_eq(herald_config_parse_listen(&l, "127.0.0.1:80"), 0);
    cr_assert_str_eq(l.host, "127.0.0.1");
    cr_assert_eq(l.port, 80);
    cr_assert_eq(herald_config_parse_listen(&l, "[::1]:65535"), 0);
    cr_assert_str_eq(l.host, "::1");
    cr_assert_eq(l.port, 65535);
    cr_assert_str_eq(l.text, "[::1]:65535");
    cr_assert_eq(herald_config_parse_listen(&l, "localhost:8888"), 0);
    static const char *const bad[] = {
        "",    "80",      ":80",   "[]:80", "[::1]80", "[::1:80",  "::1:80",    "h:",
        "h:0", "h:65536", "h:+80", "h: 80", "h:80x",   "h:000080", "[::1]]:80", "a]:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(herald_config_parse_listen(&l, bad[i]), -1, "'%s' accepted", bad[i]);
}

Test(settings, command_line)
{
    char *argv[] = {"demo", "--listen",  "[::1]:9",  "--public-key", "A",       "--pub",
                    "B",    "--small=4", "--config", "f.conf",       "--redis", "--not-an-option",
                    NULL};
    herald_config *flags = herald_config_new();
    const char *file = NULL;
    char err[256];
    cr_assert_eq(herald_settings_parse_args(&demo, flags, &file, 12, argv, err, sizeof(err)),
                 HERALD_SETTINGS_OK, "%s", err);
    cr_assert_str_eq(herald_config_get(flags, "server_listen", NULL), "[::1]:9");
    cr_assert_str_eq(herald_config_get(flags, "public_keys", NULL), "A B", "a list flag repeats");
    cr_assert_str_eq(herald_config_get(flags, "small_number", NULL), "4");
    cr_assert_str_eq(herald_config_get(flags, "redis_url", NULL), "--not-an-option");
    cr_assert_str_eq(file, "f.conf");
    herald_config_free(flags);

    static const struct {
        int argc;
        char *argv[3];
        enum herald_settings_rc rc;
    } cases[] = {
        {2, {"demo", "--help"}, HERALD_SETTINGS_HELP},
        {2, {"demo", "-h"}, HERALD_SETTINGS_HELP},
        {2, {"demo", "--listen"}, HERALD_SETTINGS_USAGE},
        {3, {"demo", "--big-number", "1"}, HERALD_SETTINGS_USAGE}, /* no flag, no any_flag */
        {3, {"demo", "--s", "1"}, HERALD_SETTINGS_USAGE},          /* ambiguous: small, solo */
        {2, {"demo", "positional"}, HERALD_SETTINGS_USAGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flags = herald_config_new();
        cr_assert_eq(herald_settings_parse_args(&demo, flags, &file, cases[i].argc,
                                                (char **)cases[i].argv, err, sizeof(err)),
                     cases[i].rc, "case %zu", i);
        herald_config_free(flags);
    }
}

Test(settings, any_flag_takes_every_name)
{
    herald_settings_spec any = demo;
    any.any_flag = 1;
    char *argv[] = {"demo", "--big-number", "9", "--monitor.changes.flag", "off", NULL};
    herald_config *flags = herald_config_new();
    const char *file = NULL;
    char err[256];
    cr_assert_eq(herald_settings_parse_args(&any, flags, &file, 5, argv, err, sizeof(err)),
                 HERALD_SETTINGS_OK, "%s", err);
    cr_assert_str_eq(herald_config_get(flags, "big_number", NULL), "9");
    cr_assert_str_eq(herald_config_get(flags, "monitor.changes.flag", NULL), "off");
    herald_config_free(flags);
}

Test(settings, read_keeps_the_precedence)
{
    /* defaults < file < environment < flags */
    const char *path = write_tmp("small_number = 2\nredis_url = redis://file\nbig_number = 1\n");
    setenv("HERALD_SMALL_NUMBER", "3", 1);
    setenv("HERALD_REDIS_URL", "redis://env", 1);
    char *argv[] = {"demo", "--config", (char *)path, "--small", "4", NULL};
    struct demo d = {.only = NULL};
    cr_assert_eq(herald_settings_read(&demo, 5, argv, NULL, &d, NULL), HERALD_SETTINGS_OK);
    cr_assert_eq(d.small, 4);
    cr_assert_str_eq(d.url, "redis://env");
    cr_assert_eq(d.big, 1);
    cr_assert_eq(d.listen.port, 8888);
    herald_settings_free(&demo, &d);
    unlink(path);
}

Test(config, list_items_split_on_spaces_and_commas)
{
    const char *l = " a,b  , ,cc,", *it;
    size_t n;
    const char *want[] = {"a", "b", "cc"};
    size_t k = 0;
    while ((it = herald_config_list_next(&l, &n))) {
        cr_assert_lt(k, 3);
        cr_assert_eq(n, strlen(want[k]));
        cr_assert_eq(memcmp(it, want[k], n), 0);
        k++;
    }
    cr_assert_eq(k, 3);
    const char *none = NULL;
    cr_assert_null(herald_config_list_next(&none, &n));
    cr_assert(herald_config_list_has("x, /buckets/b /buckets/bb", "/buckets/b"));
    cr_assert_not(herald_config_list_has("/buckets/bb", "/buckets/b"));
    cr_assert_not(herald_config_list_has("/buckets/b", "/buckets/bb"));
    cr_assert_not(herald_config_list_has(NULL, "a"));
    cr_assert_not(herald_config_list_has(" , ", ""));
}
