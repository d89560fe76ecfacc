/*
 * Unit tests for publisher/patch.c: Kinto's shallow merge, RFC 7396 merge-patch and
 * RFC 6902 JSON Patch (with the RFC's own examples where they apply).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "patch.h"

static json_t *
J(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    cr_assert_not_null(v, "bad test JSON %s: %s", s, e.text);
    return v;
}

static void
assert_json_eq(const json_t *got, const char *want)
{
    json_t *w = J(want);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    cr_assert(json_equal(got, w), "got %s, want %s", g, want);
    free(g);
    json_decref(w);
}

Test(publisher_patch, shallow)
{
    json_t *t = J("{\"a\":\"b\",\"o\":{\"x\":1}}");
    json_t *p = J("{\"a\":null,\"o\":{\"y\":2},\"n\":1}");
    pub_patch_shallow(t, p);
    assert_json_eq(t, "{\"a\":null,\"o\":{\"y\":2},\"n\":1}");
    json_decref(t);
    json_decref(p);
}

struct merge_case {
    char target[64];
    char patch[64];
    char want[64];
};

ParameterizedTestParameters(publisher_patch, merge)
{
    /* RFC 7396 appendix A. */
    static struct merge_case cases[] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    return cr_make_param_array(struct merge_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct merge_case *c, publisher_patch, merge)
{
    json_t *t = J(c->target), *p = J(c->patch);
    json_t *out = pub_patch_merge(t, p);
    assert_json_eq(out, c->want);
    json_decref(out);
    json_decref(t);
    json_decref(p);
}

struct jp_case {
    char doc[96];
    char ops[160];
    char want[96]; /* "" = must fail */
};

ParameterizedTestParameters(publisher_patch, json_patch)
{
    /* RFC 6902 appendix A, and the failures it lists. */
    static struct jp_case cases[] = {
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
         "{\"baz\":\"qux\",\"foo\":\"bar\"}"},
        {"{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
         "{\"foo\":[\"bar\",\"qux\",\"baz\"]}"},
        {"{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
         "{\"foo\":\"bar\"}"},
        {"{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
         "{\"foo\":[\"bar\",\"baz\"]}"},
        {"{\"baz\":\"qux\",\"foo\":\"bar\"}",
         "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
         "{\"baz\":\"boo\",\"foo\":\"bar\"}"},
        {"{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
         "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
         "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}"},
        {"{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
         "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
         "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}"},
        {"{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
         "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"}]",
         "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}"},
        {"{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]", ""},
        {"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]", ""},
        {"{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\"]}]",
         "{\"foo\":[\"bar\",[\"abc\"]]}"},
        {"{\"/\":1,\"~\":2}", "[{\"op\":\"copy\",\"from\":\"/~1\",\"path\":\"/~0x\"}]",
         "{\"/\":1,\"~\":2,\"~x\":1}"},
        {"{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]", ""},
        {"{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":2}]", ""},
        {"{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]", ""},
        {"{\"a\":1}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", ""},
    };
    return cr_make_param_array(struct jp_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct jp_case *c, publisher_patch, json_patch)
{
    json_t *doc = J(c->doc), *ops = J(c->ops);
    char err[256];
    int rc = pub_patch_json(&doc, ops, err, sizeof(err));
    if (c->want[0]) {
        cr_assert_eq(rc, 0, "%s: %s", c->ops, err);
        assert_json_eq(doc, c->want);
    } else {
        cr_assert_eq(rc, -1, "%s should fail", c->ops);
        cr_assert(strlen(err) > 0);
    }
    json_decref(doc);
    json_decref(ops);
}

Test(publisher_patch, kinto_permissions_shape)
{
    /* Kinto's permissions document: {perm: {principal: principal}}. */
    json_t *doc = J("{\"data\":{},\"permissions\":{\"read\":{},\"write\":{\"a\":\"a\"}}}");
    json_t *ops = J("[{\"op\":\"add\",\"path\":\"/permissions/read/system.Everyone\","
                    "\"value\":\"system.Everyone\"},{\"op\":\"remove\",\"path\":"
                    "\"/permissions/write/a\"}]");
    char err[256];
    cr_assert_eq(pub_patch_json(&doc, ops, err, sizeof(err)), 0, "%s", err);
    assert_json_eq(doc, "{\"data\":{},\"permissions\":{\"read\":{\"system.Everyone\":"
                        "\"system.Everyone\"},\"write\":{}}}");
    json_decref(doc);
    json_decref(ops);
}

/* Kinto's JSON Patch of a stored object: data and permissions patched together, the
 * stored values untouched, principals with '/' kept whole, names filled in empty. */
Test(publisher_patch, kinto_object)
{
    json_t *data = J("{\"id\":\"r1\",\"title\":\"old\",\"n\":1}");
    json_t *perms = J("{\"write\":{\"account:alice\":true}}");
    json_t *ops = J("[{\"op\":\"replace\",\"path\":\"/data/title\",\"value\":\"new\"},"
                    "{\"op\":\"remove\",\"path\":\"/data/n\"},"
                    "{\"op\":\"add\",\"path\":\"/permissions/read/"
                    "/buckets/b/groups/editors\"},"
                    "{\"op\":\"remove\",\"path\":\"/permissions/write/account:alice\"}]");
    static const char *const names[] = {"read", "write", NULL};
    json_t *dout = NULL, *pout = NULL;
    char err[256] = "";
    cr_assert_eq(pub_patch_kinto(&dout, &pout, data, perms, names, ops, err, sizeof(err)), 0, "%s",
                 err);
    assert_json_eq(dout, "{\"id\":\"r1\",\"title\":\"new\"}");
    assert_json_eq(pout, "{\"read\":[\"/buckets/b/groups/editors\"],\"write\":[]}");
    /* The inputs are not modified. */
    assert_json_eq(data, "{\"id\":\"r1\",\"title\":\"old\",\"n\":1}");
    assert_json_eq(perms, "{\"write\":{\"account:alice\":true}}");
    json_decref(dout);
    json_decref(pout);
    json_decref(ops);

    /* A failed operation is an error with a reason, and sets nothing. */
    ops = J("[{\"op\":\"test\",\"path\":\"/data/title\",\"value\":\"other\"}]");
    dout = pout = NULL;
    cr_assert_eq(pub_patch_kinto(&dout, &pout, data, perms, names, ops, err, sizeof(err)), -1);
    cr_assert(strlen(err) > 0);
    cr_assert_null(dout);
    cr_assert_null(pout);
    json_decref(ops);
    json_decref(data);
    json_decref(perms);
}
