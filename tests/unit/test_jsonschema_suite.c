/*
 * test_jsonschema_suite -- the official JSON-Schema-Test-Suite against lib/jsonschema.c.
 *
 * Every file of tests/<draft>/ is a list of cases {description, schema, tests: [{description,
 * data, valid}]}. Each case's schema is compiled (in the draft's dialect when it has no
 * "$schema") and each test's data validated; the verdict must equal "valid". A line per
 * file reports passed / failed / skipped, then a total per draft. Required tests (the
 * draft's top directory) must all pass unless listed in 'skips' below with the reason;
 * optional ones (optional/, optional/format/) are reported, not required.
 *
 * Each draft is run from every copy of the suite that has it: the directory named by
 * HERALD_JSON_SCHEMA_SUITE (a checkout of the upstream repository), the folder
 * json-schema-test-suite in the shared/ folder beside the repository, Debian's
 * json-schema-test-suite (/usr/share/json-schema-test-suite; Debian 12's 2.0.0 predates
 * draft2020-12) and the copy of the suite that Debian's
 * libtest-json-schema-acceptance-perl ships (1.019: draft7 and draft2020-12, among
 * others); scripts/install-deps.sh installs both packages. A draft that no copy has
 * fails the test.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "herald/jsonschema.h"

/* Cases not run, each with its reason. 'file' is relative to tests/<draft>/; a NULL
 * 'test' skips the whole case. */
static const struct skip {
    const char *draft, *file, *kase, *test, *why;
} skips[] = {
    {"*", "refRemote.json", NULL, NULL,
     "remote references are refused on purpose: nothing is ever fetched"},
    {"draft2020-12", "vocabulary.json", NULL, NULL,
     "custom meta-schemas ($vocabulary) need the meta-schema fetched by URI; refused as "
     "remote"},
    {"draft7", "optional/cross-draft.json", NULL, NULL, "references to another draft's remote"},
    {"draft2020-12", "optional/cross-draft.json", NULL, NULL,
     "references to another draft's remote"},
    /* These cases reference the suite's remotes/ (served at localhost:1234 by its
     * harness): remote documents, refused on purpose. */
    {"draft2020-12", "dynamicRef.json", "strict-tree schema, guards against misspelled properties",
     NULL, "references http://localhost:1234/draft2020-12/tree.json, a remote"},
    {"draft2020-12", "dynamicRef.json",
     "tests for implementation dynamic anchor and reference link", NULL,
     "references extendible-dynamic-ref.json, a remote"},
    {"draft2020-12", "dynamicRef.json",
     "$ref and $dynamicAnchor are independent of order - $defs first", NULL,
     "references extendible-dynamic-ref.json, a remote"},
    {"draft2020-12", "dynamicRef.json",
     "$ref and $dynamicAnchor are independent of order - $ref first", NULL,
     "references extendible-dynamic-ref.json, a remote"},
    {"draft2020-12", "dynamicRef.json", "$ref to $dynamicRef finds detached $dynamicAnchor", NULL,
     "references detached-dynamicref.json, a remote"},
    {NULL, NULL, NULL, NULL, NULL},
};

static const char *
skip_reason(const char *draft, const char *file, const char *kase, const char *test)
{
    for (const struct skip *s = skips; s->file; s++) {
        if (strcmp(s->draft, "*") && strcmp(s->draft, draft))
            continue;
        if (strcmp(s->file, file))
            continue;
        if (s->kase && strcmp(s->kase, kase))
            continue;
        if (s->test && strcmp(s->test, test))
            continue;
        return s->why;
    }
    return NULL;
}

struct tally {
    int passed, failed, skipped;
};

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one file; adds to 't'. Prints failures when 'loud'. */
static void
run_file(const char *draft, const char *dir, const char *rel, struct tally *t, bool loud,
         enum herald_jsonschema_dialect dialect)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    json_error_t jerr;
    json_t *cases = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!cases) /* optional/bignum.json: integers past int64 are read as doubles */
        cases = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    cr_assert_not_null(cases, "%s: %s", path, jerr.text);
    struct tally ft = {0, 0, 0};
    size_t ci;
    json_t *kase;
    json_array_foreach(cases, ci, kase)
    {
        const char *kdesc = json_string_value(json_object_get(kase, "description"));
        json_t *tests = json_object_get(kase, "tests");
        const char *why = skip_reason(draft, rel, kdesc, NULL);
        if (why) {
            ft.skipped += (int)json_array_size(tests);
            continue;
        }
        char err[512];
        herald_jsonschema *s = NULL;
        int rc = herald_jsonschema_compile(&s, json_object_get(kase, "schema"), dialect, err,
                                           sizeof(err));
        size_t ti;
        json_t *test;
        json_array_foreach(tests, ti, test)
        {
            const char *tdesc = json_string_value(json_object_get(test, "description"));
            if (skip_reason(draft, rel, kdesc, tdesc)) {
                ft.skipped++;
                continue;
            }
            if (rc < 0) {
                ft.failed++;
                if (loud)
                    printf("  FAIL %s/%s: %s / %s: schema refused: %s\n", draft, rel, kdesc, tdesc,
                           err);
                continue;
            }
            bool want = json_is_true(json_object_get(test, "valid"));
            herald_jsonschema_errors errs = HERALD_JSONSCHEMA_ERRORS_INIT;
            bool got = herald_jsonschema_validate(s, json_object_get(test, "data"), &errs, 0) == 0;
            if (got == want) {
                ft.passed++;
            } else {
                ft.failed++;
                if (loud)
                    printf("  FAIL %s/%s: %s / %s: expected %s%s%s\n", draft, rel, kdesc, tdesc,
                           want ? "valid" : "invalid", errs.n ? ", got: " : "",
                           errs.n ? errs.v[0].description : "");
            }
            /* an invalid verdict always comes with an error, a valid one with none */
            cr_expect_eq(got, errs.n == 0, "%s/%s: %s / %s: verdict and errors disagree", draft,
                         rel, kdesc, tdesc);
            herald_jsonschema_errors_free(&errs);
        }
        herald_jsonschema_free(s);
    }
    json_decref(cases);
    printf("%-14s %-45s passed %3d failed %3d skipped %3d\n", draft, rel, ft.passed, ft.failed,
           ft.skipped);
    t->passed += ft.passed;
    t->failed += ft.failed;
    t->skipped += ft.skipped;
}

/* Runs every .json of 'dir'/'sub' (sorted), recursing into subdirectories. */
static void
run_dir(const char *draft, const char *root, const char *sub, struct tally *t, bool loud,
        enum herald_jsonschema_dialect dialect)
{
    char dir[2048];
    snprintf(dir, sizeof(dir), "%s%s%s", root, sub[0] ? "/" : "", sub);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char rel[1024], full[4096];
        snprintf(rel, sizeof(rel), "%s%s%s", sub, sub[0] ? "/" : "", names[i]);
        snprintf(full, sizeof(full), "%s/%s", root, rel);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (sub[0] || strcmp(names[i], "optional")) /* optional/ is run by the caller */
                run_dir(draft, root, rel, t, loud, dialect);
        } else if (strlen(names[i]) > 5 && !strcmp(names[i] + strlen(names[i]) - 5, ".json")) {
            run_file(draft, root, rel, t, loud, dialect);
        }
        free(names[i]);
    }
    free(names);
}

/* Where a suite may be (see the top of the file), in order; NULL entries are unset. */
static void
suite_roots(const char *roots[4])
{
    static char shared[1024];
    const char *src = getenv("HERALD_SOURCE_DIR");
    shared[0] = '\0';
    if (src && *src)
        snprintf(shared, sizeof(shared), "%s/../shared/json-schema-test-suite", src);
    roots[0] = getenv("HERALD_JSON_SCHEMA_SUITE");
    roots[1] = shared;
    roots[2] = "/usr/share/json-schema-test-suite";
    roots[3] = "/usr/share/perl5/auto/share/dist/Test-JSON-Schema-Acceptance";
}

/* Runs tests/'draft' of the suite at 'root'. */
static void
run_suite(const char *root, const char *draft, enum herald_jsonschema_dialect dialect)
{
    char dir[1200], odir[1300];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s/tests/%s", root, draft);
    printf("%s: from %s\n", draft, root);
    struct tally req = {0, 0, 0}, opt = {0, 0, 0};
    run_dir(draft, dir, "", &req, true, dialect);
    snprintf(odir, sizeof(odir), "%s/optional", dir);
    if (stat(odir, &st) == 0)
        run_dir(draft, dir, "optional", &opt, false, dialect);
    printf("== %s required: passed %d, failed %d, skipped %d\n", draft, req.passed, req.failed,
           req.skipped);
    printf("== %s optional (not required): passed %d, failed %d, skipped %d\n", draft, opt.passed,
           opt.failed, opt.skipped);
    fflush(stdout);
    cr_expect_eq(req.failed, 0, "%s (%s): %d required test(s) failed", draft, root, req.failed);
    cr_expect_gt(req.passed, 100, "%s (%s): too few tests ran", draft, root);
}

/* Runs 'draft' from every suite that has it; at least one must. */
static void
run_draft(const char *draft, enum herald_jsonschema_dialect dialect)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *roots[4];
    int ran = 0;
    suite_roots(roots);
    for (int i = 0; i < 4; i++) {
        char dir[1200];
        struct stat st;
        if (!roots[i] || !*roots[i])
            continue;
        snprintf(dir, sizeof(dir), "%s/tests/%s", roots[i], draft);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            run_suite(roots[i], draft, dialect);
            ran++;
        }
    }
    cr_assert_gt(ran, 0,
                 "no suite has tests/%s: install json-schema-test-suite and "
                 "libtest-json-schema-acceptance-perl (scripts/install-deps.sh) or set "
                 "HERALD_JSON_SCHEMA_SUITE",
                 draft);
}

Test(jsonschema_suite, draft7, .timeout = 120)
{
    run_draft("draft7", HERALD_JSONSCHEMA_DRAFT7);
}

Test(jsonschema_suite, draft2020_12, .timeout = 120)
{
    run_draft("draft2020-12", HERALD_JSONSCHEMA_DEFAULT);
}
