/*
 * Unit tests for publisher/stamp.c: the stored JSON is split around the top-level
 * last_modified placeholder and re-joined with the timestamp the Lua script assigns;
 * the result must equal the JCS of the object with that timestamp.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "stamp.h"

struct stamp_case {
    /* Arrays, not pointers: Criterion runs each case in a new process. */
    char data[96]; /* request data object */
    char id[8];
    char want[160]; /* stored form with last_modified 1795394380859 */
};

ParameterizedTestParameters(publisher_stamp, split_join)
{
    static struct stamp_case cases[] = {
        {"{}", "r", "{\"id\":\"r\",\"last_modified\":1795394380859}"},
        {"{\"last_modified\":5,\"id\":\"r\"}", "r",
         "{\"id\":\"r\",\"last_modified\":1795394380859}"},
        {"{\"z\":1,\"a\":0.1}", "x",
         "{\"a\":0.1,\"id\":\"x\",\"last_modified\":1795394380859,\"z\":1}"},
        /* A nested last_modified and one inside a string must not be taken. */
        {"{\"a\":{\"last_modified\":0},\"b\":\"\\\"last_modified\\\":0\"}", "r",
         "{\"a\":{\"last_modified\":0},\"b\":\"\\\"last_modified\\\":0\",\"id\":\"r\","
         "\"last_modified\":1795394380859}"},
        {"{\"l\":[{\"last_modified\":0}],\"last_modifiee\":0}", "r",
         "{\"id\":\"r\",\"l\":[{\"last_modified\":0}],\"last_modified\":1795394380859,"
         "\"last_modifiee\":0}"},
        {"{\"t\":\"h\\u00e9llo \\u2713\"}", "r",
         "{\"id\":\"r\",\"last_modified\":1795394380859,\"t\":\"h\xc3\xa9llo \xe2\x9c\x93\"}"},
    };
    return cr_make_param_array(struct stamp_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct stamp_case *c, publisher_stamp, split_join)
{
    herald_buf prefix = HERALD_BUF_INIT, suffix = HERALD_BUF_INIT, out = HERALD_BUF_INIT;
    json_error_t e;
    json_t *data = json_loads(c->data, 0, &e);
    cr_assert_not_null(data, "%s", e.text);
    cr_assert_eq(pub_stamp_split(&prefix, &suffix, data, c->id), 0);
    pub_stamp_join(&out, prefix.data, prefix.len, 1795394380859LL, suffix.data, suffix.len);
    cr_assert_str_eq(herald_buf_cstr(&out), c->want);
    cr_assert_eq(pub_stamp_last_modified(out.data, out.len), 1795394380859LL);
    json_decref(data);
    herald_buf_free(&prefix);
    herald_buf_free(&suffix);
    herald_buf_free(&out);
}

Test(publisher_stamp, last_modified_absent)
{
    const char *s = "{\"a\":{\"last_modified\":3}}";
    cr_assert_eq(pub_stamp_last_modified(s, strlen(s)), -1);
}

Test(publisher_stamp, not_an_object)
{
    herald_buf prefix = HERALD_BUF_INIT, suffix = HERALD_BUF_INIT;
    json_t *a = json_array();
    cr_assert_eq(pub_stamp_split(&prefix, &suffix, a, "r"), -1);
    json_decref(a);
    herald_buf_free(&prefix);
    herald_buf_free(&suffix);
}
