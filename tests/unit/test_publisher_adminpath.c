/*
 * Unit tests for publisher/adminpath.c: which request paths name a file of the admin
 * page's directory, and with which Content-Type. Paths that could leave the directory
 * are refused by syntax (fuzz/check_attachpath.c checks the same properties on
 * arbitrary input).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "adminpath.h"

struct admin_case {
    char path[80];
    char file[80]; /* "" when refused */
    char type[40];
};

ParameterizedTestParameters(publisher_adminpath, resolve)
{
    static struct admin_case cases[] = {
        {"/v1/admin/", "/d/index.html", "text/html; charset=utf-8"},
        {"/v1/admin/app.js", "/d/app.js", "text/javascript; charset=utf-8"},
        {"/v1/admin/style.css", "/d/style.css", "text/css; charset=utf-8"},
        {"/v1/admin/img/logo.svg", "/d/img/logo.svg", "image/svg+xml"},
        {"/v1/admin/a.b-c_d.mjs", "/d/a.b-c_d.mjs", "text/javascript; charset=utf-8"},
        {"/v1/admin/a/b/c/d.png", "/d/a/b/c/d.png", "image/png"},
        {"/v1/admin/a/b/c/d/e.png", "", ""},  /* too deep */
        {"/v1/admin/../secret.html", "", ""}, /* dot-dot */
        {"/v1/admin/a/../../x.js", "", ""},
        {"/v1/admin/./index.html", "", ""}, /* dot */
        {"/v1/admin/.hidden.js", "", ""},   /* hidden */
        {"/v1/admin//index.html", "", ""},  /* empty segment */
        {"/v1/admin/dir/", "", ""},         /* directory */
        {"/v1/admin/%2e%2e/x.js", "", ""},  /* encoded dots */
        {"/v1/admin/a%2fb.js", "", ""},     /* encoded slash */
        {"/v1/admin/a\\b.js", "", ""},      /* backslash */
        {"/v1/admin/index", "", ""},        /* no extension */
        {"/v1/admin/run.sh", "", ""},       /* unknown extension */
        {"/v1/admin/x.JS", "", ""},         /* extensions are lowercase */
        {"/v1/adminx/index.html", "", ""},
        {"/v1/admin", "", ""}, /* redirected by the handler */
        {"/v1/buckets", "", ""},
    };
    return cr_make_param_array(struct admin_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct admin_case *c, publisher_adminpath, resolve)
{
    char out[128];
    const char *type = "unset";
    int rc = pub_adminpath_resolve(out, sizeof(out), &type, "/d", c->path, strlen(c->path));
    if (c->file[0]) {
        cr_assert_eq(rc, 0, "%s refused", c->path);
        cr_assert_str_eq(out, c->file);
        cr_assert_str_eq(type, c->type);
    } else {
        cr_assert_eq(rc, -1, "%s accepted as %s", c->path, out);
        cr_assert_str_eq(out, "");
        cr_assert_null(type);
    }
}

Test(publisher_adminpath, a_small_buffer_refuses_rather_than_truncates)
{
    char out[12];
    const char *type;
    const char *p = "/v1/admin/index.html";
    cr_assert_eq(pub_adminpath_resolve(out, sizeof(out), &type, "/dir", p, strlen(p)), -1);
    cr_assert_str_eq(out, "");
}

Test(publisher_adminpath, is_admin)
{
    cr_assert(pub_adminpath_is_admin("/v1/admin", 9));
    cr_assert(pub_adminpath_is_admin("/v1/admin/", 10));
    cr_assert(pub_adminpath_is_admin("/v1/admin/x", 11));
    cr_assert(!pub_adminpath_is_admin("/v1/adminx", 10));
    cr_assert(!pub_adminpath_is_admin("/v1/admi", 8));
    /* Only the first 'len' bytes count (the path is not NUL-terminated there). */
    cr_assert(!pub_adminpath_is_admin("/v1/admin/", 9 - 1));
}
