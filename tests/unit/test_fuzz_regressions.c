/*
 * test_fuzz_regressions -- every input the fuzzers ever found (tests/fuzz-regressions/
 * <target>/) and every seed (fuzz/corpus/<target>/), run through the same checks as the
 * libFuzzer targets (fuzz/check_*.c), here built with the project's compiler and
 * sanitizers. One parameterized case per file, so a crash names its input.
 *
 * The checks (fuzz/check_*.c) are linked into this test (tests/CMakeLists.txt): they are
 * the fuzz targets' own code, so a regression input is judged exactly as when it was
 * found.
 * docs/fuzzing.md says how to add a file.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_checks.h"
#include "herald/listing.h"
#include "test_fixture.h"

static const struct {
    const char *name;
    const char *(*check)(const uint8_t *data, size_t size);
} targets[] = {
    {"http", herald_fuzz_check_http},
    {"listing", herald_fuzz_check_listing},
    {"jcs", herald_fuzz_check_jcs},
    {"snapshot", herald_fuzz_check_snapshot},
    {"changeset", herald_fuzz_check_changeset},
    {"jsonschema", herald_fuzz_check_jsonschema},
    {"multipart", herald_fuzz_check_multipart},
    {"attachpath", herald_fuzz_check_attachpath},
    {"monitor", herald_fuzz_check_monitor},
    {"delta", herald_fuzz_check_delta},
    {"jscan", herald_fuzz_check_jscan},
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

/* By value (fixed arrays): parameters are copied into each test's process. */
struct input {
    size_t target;
    char path[1024];
};

/* Appends the regular files of 'dir' (sorted, no dotfiles) to 'v' ('cap' grows). */
static void
add_dir(struct input **v, size_t *n, size_t *cap, size_t target, const char *dir)
{
    struct dirent **names = NULL;
    int k = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        if (names[i]->d_name[0] != '.') {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *v = realloc(*v, *cap * sizeof(**v));
            }
            (*v)[*n].target = target;
            snprintf((*v)[*n].path, sizeof((*v)[*n].path), "%s/%s", dir, names[i]->d_name);
            (*n)++;
        }
        free(names[i]);
    }
    free(names);
}

static void
free_inputs(struct criterion_test_params *p)
{
    cr_free(p->params);
}

ParameterizedTestParameters(fuzz_regressions, replay)
{
    char root[1024], dir[1200];
    struct input *v = NULL;
    size_t n = 0, cap = 0;
    fixture_source_dir(root, sizeof(root));
    for (size_t t = 0; t < NTARGETS; t++) {
        snprintf(dir, sizeof(dir), "%s/tests/fuzz-regressions/%s", root, targets[t].name);
        add_dir(&v, &n, &cap, t, dir);
        snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", root, targets[t].name);
        add_dir(&v, &n, &cap, t, dir);
    }
    struct input *params = cr_malloc((n ? n : 1) * sizeof(*params));
    if (n)
        memcpy(params, v, n * sizeof(*params));
    free(v);
    return cr_make_param_array(struct input, params, n, free_inputs);
}

ParameterizedTest(struct input *in, fuzz_regressions, replay)
{
    size_t len;
    char *text = fixture_read_file(in->path, &len);
    cr_assert_not_null(text, "cannot open %s", in->path);
    /* An exact-size copy, as libFuzzer passes it, so ASan sees any overread. */
    uint8_t *data = malloc(len ? len : 1);
    if (len)
        memcpy(data, text, len);
    const char *why = targets[in->target].check(data, len);
    free(data);
    free(text);
    cr_assert_null(why, "%s (%s): %s", in->path, targets[in->target].name, why);
}

/* The corpora and the regression directories are there: an empty parameter list would
 * pass silently. */
Test(fuzz_regressions, inputs_found)
{
    char root[1024], dir[1200];
    fixture_source_dir(root, sizeof(root));
    for (size_t t = 0; t < NTARGETS; t++) {
        struct input *v = NULL;
        size_t n = 0, cap = 0;
        snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", root, targets[t].name);
        add_dir(&v, &n, &cap, t, dir);
        free(v);
        cr_expect_gt(n, 0, "no seed corpus in %s", dir);
    }
}

/* fields-empty-root-leak: "_fields=.x" names the unknown root field "" (Kinto: "Fields
 * do not exist"); it was accepted, and the error buffer leaked. */
Test(fuzz_regressions, fields_with_an_empty_root_are_unknown)
{
    static const char *const known[] = {"title", NULL};
    const herald_listing_opts opts = {0, 0, known};
    herald_listing *l = NULL;
    herald_listing_error err;
    cr_assert_eq(herald_listing_parse(&l, "_fields=.ban,title", &opts, &err), -1);
    cr_assert_null(l);
    cr_assert_str_eq(err.description, "Fields  do not exist");
    cr_assert_eq(herald_listing_parse(&l, "_fields=title,.a,b.c", &opts, &err), -1);
    cr_assert_str_eq(err.description, "Fields ,b do not exist");
}
