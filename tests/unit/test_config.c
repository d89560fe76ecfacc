/*
 * test_config -- the settings table: file syntax (comments, "kinto." prefix, errors with
 * FILE:LINE), environment overrides, merge precedence, typed getters and their errors.
 * Each Criterion test runs in its own process, so setenv() does not leak between tests.
 */
#include <criterion/criterion.h>
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
