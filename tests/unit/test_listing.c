/*
 * Kinto listing logic: query parsing (valid and invalid, table-driven), every filter
 * operator on one fixture (dotted fields, cross-type values), sorting, tombstone rules,
 * _fields projection, Next-Page URLs, pagination walks (with and without ties), and a
 * differential test of random records and queries against a deliberately naive
 * reference implemented below from Kinto's description, not from lib/listing.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/listing.h"
#include "listing_fixture.h"
#include "test_util.h"

/* "id1,id2,..." of an array of objects. */
static char *
ids_of(const json_t *arr)
{
    herald_buf b = HERALD_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i)
            herald_buf_putc(&b, ',');
        herald_buf_puts(&b, json_string_value(json_object_get(v, "id")));
    }
    herald_buf_cstr(&b);
    return herald_buf_steal(&b, NULL);
}

/* Parses 'query', applies it to the records (and tombstones), returns the ids of the
 * page; '*total' and '*next' (malloc'ed token or NULL) when not NULL. */
static char *
run(const char *query, const json_t *records, const json_t *tombs, const herald_listing_opts *opts,
    long long *total, char **next)
{
    herald_listing *l;
    herald_listing_error err;
    int rc = herald_listing_parse(&l, query, opts, &err);
    cr_assert_eq(rc, 0, "parse '%s': %s", query, err.message);
    herald_listing_page page;
    cr_assert_eq(herald_listing_apply(&page, l, records, tombs, HERALD_LISTING_PROJECT), 0);
    char *ids = ids_of(page.data);
    if (total)
        *total = page.total;
    if (next) {
        *next = page.next_token;
        page.next_token = NULL;
    }
    herald_listing_page_free(&page);
    herald_listing_free(l);
    return ids;
}

/* ---- parsing ---------------------------------------------------------------------- */

struct valid_case {
    const char *query;
    long long paginate_by;
    long long limit;
    int include_deleted;
    int has_since;
    long long since;
};

Test(listing_parse, valid)
{
    static const struct valid_case cases[] = {
        {"", 0, 10000, 0, 0, 0},
        {NULL, 25, 25, 0, 0, 0},
        {"_limit=10", 25, 10, 0, 0, 0},
        {"_limit=100", 25, 25, 0, 0, 0},
        {"_limit=0", 25, 10000, 0, 0, 0}, /* Kinto: 0 is falsy, so the max fetch size */
        {"_limit=", 25, 10000, 0, 0, 0},
        {"_limit=5.7", 0, 5, 0, 0, 0},     /* int(5.7) */
        {"_limit=%227%22", 0, 7, 0, 0, 0}, /* "7" */
        {"_limit=20000", 0, 10000, 0, 0, 0},
        {"_since=1", 0, 10000, 1, 1, 1},
        {"_since=%22123%22", 0, 10000, 1, 1, 123},
        {"_since=1&_since=5", 0, 10000, 1, 1, 5}, /* the last one wins */
        {"_before=5", 0, 10000, 1, 0, 0},
        {"_to=5", 0, 10000, 1, 0, 0},
        {"title=x", 0, 10000, 0, 0, 0},
        {"gt_last_modified=5", 0, 10000, 1, 0, 0},
        {"has_last_modified=true", 0, 10000, 1, 0, 0},
        {"last_modified=%225%22", 0, 10000, 1, 0, 0},
        {"_expected=abc&_=123&_foo=bar&_sort=-&_fields=", 0, 10000, 0, 0, 0},
        {"%5Fsince=3", 0, 10000, 1, 1, 3},     /* names are decoded */
        {"+_since=3", 0, 10000, 1, 1, 3},      /* and stripped */
        {"a=%zz&b=%&c=%4", 0, 10000, 0, 0, 0}, /* malformed escapes stay literal */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct valid_case *c = &cases[i];
        herald_listing_opts opts = {.paginate_by = c->paginate_by};
        herald_listing *l;
        herald_listing_error err;
        int rc = herald_listing_parse(&l, c->query, &opts, &err);
        cr_assert_eq(rc, 0, "'%s': %s", c->query, err.message);
        cr_expect_eq(herald_listing_limit(l), c->limit, "'%s' limit %lld", c->query,
                     herald_listing_limit(l));
        cr_expect_eq(herald_listing_include_deleted(l), c->include_deleted, "'%s'", c->query);
        long long since = -1;
        cr_expect_eq(herald_listing_since(l, &since), c->has_since, "'%s'", c->query);
        if (c->has_since)
            cr_expect_eq(since, c->since, "'%s' since %lld", c->query, since);
        herald_listing_free(l);
    }
}

struct invalid_case {
    const char *query;
    const char *name; /* NULL: null name */
    const char *description;
    const char *message;
};

/* Checks the name, description and message of 'err' against case 'c'. */
static void
expect_error(const herald_listing_error *err, const struct invalid_case *c)
{
    cr_expect_eq(err->has_name, c->name != NULL, "'%s'", c->query);
    if (c->name)
        cr_expect_str_eq(err->name, c->name, "'%s'", c->query);
    cr_expect_str_eq(err->description, c->description, "'%s'", c->query);
    if (c->message)
        cr_expect_str_eq(err->message, c->message, "'%s'", c->query);
}

static const char *const known[] = {"title", "details", NULL};

Test(listing_parse, invalid)
{
    static const struct invalid_case cases[] = {
        {"_since=abc", "_since", "\"abc\" is not a number",
         "_since in querystring: \"abc\" is not a number"},
        {"_since=", "_since", "Invalid value for _since", "Invalid value for _since"},
        {"_since=-1", "_since", "-1 is less than minimum value 0",
         "_since in querystring: -1 is less than minimum value 0"},
        {"_since=99999999999999999999", "_since",
         "99999999999999999999 is greater than maximum value 9223372036854775808", NULL},
        {"_before=true", "_before", "\"true\" is not a number", NULL},
        {"_since=%22abc%22", "_since", "\"abc\" is not a number", NULL},
        {"_limit=x", "_limit", "\"x\" is not a number",
         "_limit in querystring: \"x\" is not a number"},
        {"_limit=-5", "_limit", "-5 is less than minimum value 0", NULL},
        {"_token=garbage!!", NULL, "_token has invalid content",
         "querystring: _token has invalid content"},
        /* base64url of [] and of {"last_object":1,"offset":0} */
        {"_token=W10", NULL, "_token has invalid content", NULL},
        {"_token=eyJsYXN0X29iamVjdCI6MSwib2Zmc2V0IjowfQ", NULL, "_token has invalid content", NULL},
        /* {"last_object":{},"offset":-1} */
        {"_token=eyJsYXN0X29iamVjdCI6e30sIm9mZnNldCI6LTF9", NULL, "_token has invalid content",
         NULL},
        {"gt_last_modified=abc", "gt_last_modified", "Invalid value for gt_last_modified", NULL},
        {"last_modified=abc", "last_modified", "\"abc\" is not a number", NULL},
        {"in_id=1,2", "in_id", "Invalid value for in_id", NULL},
        {"in_last_modified=1,a", "in_last_modified", "Invalid value for in_last_modified", NULL},
        {"title=%00", "title", "Invalid character 0x00",
         "title in querystring: Invalid character 0x00"},
        {"ti%00tle=1", "ti", "Invalid character 0x00", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct invalid_case *c = &cases[i];
        herald_listing *l = (herald_listing *)1;
        herald_listing_error err;
        int rc = herald_listing_parse(&l, c->query, NULL, &err);
        cr_assert_eq(rc, -1, "'%s' should fail", c->query);
        cr_assert_null(l);
        cr_expect_eq(err.status, 400);
        cr_expect_eq(err.errnum, 107);
        cr_expect_str_eq(err.location, "querystring");
        expect_error(&err, c);
    }

    /* Unknown fields, when the resource has a fixed schema. */
    static const struct invalid_case schema_cases[] = {
        {"foo=1", "foo", "Unknown filter field 'foo'", "Unknown filter field 'foo'"},
        {"gt_foo.bar=1", "gt_foo.bar", "Unknown filter field 'gt_foo.bar'", NULL},
        {"_sort=title,-foo", NULL, "Unknown sort field 'foo'",
         "querystring: Unknown sort field 'foo'"},
        {"_fields=foo,title,bar.x", "Invalid _fields parameter", "Fields foo,bar do not exist",
         "Invalid _fields parameter in querystring: Fields foo,bar do not exist"},
    };
    herald_listing_opts opts = {.known_fields = known};
    for (size_t i = 0; i < sizeof(schema_cases) / sizeof(schema_cases[0]); i++) {
        const struct invalid_case *c = &schema_cases[i];
        herald_listing *l;
        herald_listing_error err;
        cr_assert_eq(herald_listing_parse(&l, c->query, &opts, &err), -1, "'%s'", c->query);
        expect_error(&err, c);
    }
    /* Known fields, dotted below a known root, and the built-in ones pass. */
    herald_listing *l;
    herald_listing_error err;
    cr_assert_eq(herald_listing_parse(&l,
                                      "title=1&details.bug=2&id=x&_sort=-last_modified,title"
                                      "&_fields=details.x,deleted",
                                      &opts, &err),
                 0, "%s", err.message);
    herald_listing_free(l);
}

Test(listing_parse, error_body)
{
    herald_listing *l;
    herald_listing_error err;
    cr_assert_eq(herald_listing_parse(&l, "_since=abc", NULL, &err), -1);
    herald_buf b = HERALD_BUF_INIT;
    herald_listing_error_body(&b, &err);
    json_t *body = test_json(herald_buf_cstr(&b));
    cr_expect_eq(json_integer_value(json_object_get(body, "code")), 400);
    cr_expect_eq(json_integer_value(json_object_get(body, "errno")), 107);
    cr_expect_str_eq(json_string_value(json_object_get(body, "error")), "Invalid parameters");
    cr_expect_str_eq(herald_buf_cstr(&b),
                     "{\"code\":400,\"details\":[{\"description\":\"\\\"abc\\\" is not a "
                     "number\",\"location\":\"querystring\",\"name\":\"_since\"}],\"errno\":107,"
                     "\"error\":\"Invalid parameters\",\"message\":\"_since in querystring: "
                     "\\\"abc\\\" is not a number\"}");
    cr_expect_str_eq(json_string_value(json_object_get(body, "message")),
                     "_since in querystring: \"abc\" is not a number");
    json_t *want = test_json("[{\"location\":\"querystring\",\"name\":\"_since\","
                             "\"description\":\"\\\"abc\\\" is not a number\"}]");
    cr_expect(json_equal(json_object_get(body, "details"), want));
    json_decref(want);
    json_decref(body);
    herald_buf_free(&b);

    /* 'err' may be NULL. */
    cr_expect_eq(herald_listing_parse(&l, "_limit=x", NULL, NULL), -1);
    cr_expect_null(l);
    cr_assert_eq(herald_listing_parse(&l, "_token=@", NULL, &err), -1);
    json_t *d = herald_listing_error_details(&err);
    cr_expect(json_is_null(json_object_get(json_array_get(d, 0), "name")));
    json_decref(d);
}

Test(listing_parse, long_and_invalid_utf8_values_stay_valid_utf8)
{
    /* A long non-ASCII value is cut in the error on a character boundary; invalid
     * UTF-8 becomes U+FFFD (parse_qsl's errors="replace"), so the body is valid JSON. */
    herald_buf q = HERALD_BUF_INIT;
    herald_buf_puts(&q, "_since=%FF");
    for (int i = 0; i < 300; i++)
        herald_buf_puts(&q, "%C3%A9");
    herald_listing *l;
    herald_listing_error err;
    cr_assert_eq(herald_listing_parse(&l, herald_buf_cstr(&q), NULL, &err), -1);
    herald_buf b = HERALD_BUF_INIT;
    herald_listing_error_body(&b, &err);
    json_error_t je;
    json_t *body = json_loads(herald_buf_cstr(&b), 0, &je);
    cr_assert_not_null(body, "%s", je.text);
    cr_expect(strncmp(err.description, "\"\xEF\xBF\xBD\xC3\xA9", 6) == 0);
    json_decref(body);
    herald_buf_free(&b);
    herald_buf_free(&q);
}

/* ---- operators ---------------------------------------------------------------------- */

static const char *fixture = "[" LISTING_FIXTURE_R1_R6 "]";

struct op_case {
    const char *query;
    const char *ids; /* sorted by id */
};

Test(listing_filters, every_operator)
{
    static const struct op_case cases[] = {
        {"", "r1,r2,r3,r4,r5,r6"},
        {"title=Other", "r3"},
        {"title=zzz&title=Other", "r3"}, /* the last one wins */
        {"title=%22Other%22", "r3"},
        {"title=Hello+World", "r1"},
        {"+title=Other", "r3"},
        {"eq_title=Other", "r3"},
        {"title=", "r6"},
        {"n=1", "r1"},
        {"n=1.0", "r1"},
        {"n=2", ""},
        {"n=%222%22", "r3"},
        {"n=null", "r4"},
        {"n=[1,2]", "r5"},
        {"n=%7B%22k%22%3A1%7D", "r6"},
        {"flag=1", "r6"},
        {"flag=true", "r1"},
        {"not_n=1", "r2,r3,r4,r5,r6"},
        {"not_title=Other", "r1,r2,r4,r5,r6"}, /* missing is "not equal" */
        /* null < string < number < bool < array < object < missing */
        {"lt_n=2", "r1,r3,r4"},
        {"gt_n=2", "r2,r5,r6"},
        {"min_n=2.5", "r2,r5,r6"},
        {"max_n=1", "r1,r3,r4"},
        {"gt_flag=false", "r1,r4,r5"},
        {"lt_title=a", "r1,r3,r6"}, /* bytes: "H" < "O" < "a" < "h" */
        {"in_n=1,%222%22,null", "r1,r3,r4"},
        {"in_n=", ""},
        {"in_n=1,,2.5", "r1,r2"},
        {"exclude_n=1,%222%22", "r2,r4,r5,r6"},
        {"in_id=r1,r2", "r1,r2"},
        {"exclude_id=r1,r2", "r3,r4,r5,r6"},
        {"in_last_modified=10,20", "r1,r2"},
        {"like_title=hello", "r1,r2"},
        {"like_title=*world", "r1"},
        {"like_title=HE*O*", "r1,r2"},
        {"like_title=a*b", "r5"},
        {"like_title=*", "r1,r2,r3,r5,r6"},
        {"like_title=%22other%22", "r3"},
        {"like_n=1", ""}, /* strings only */
        {"has_title=true", "r1,r2,r3,r5,r6"},
        {"has_title=false", "r4"},
        {"has_title=0", "r4"},
        {"has_title=true&like_title=o", "r1,r2,r3"}, /* has_ does not override others */
        {"has_flag=1", "r1,r2,r3,r6"},
        {"contains_tags=a", "r1,r4"},
        {"contains_tags=%5B%22a%22,%22b%22%5D", "r1"},
        {"contains_tags=[%7B%22x%22:1%7D]", "r4"},
        {"contains_tags=[]", "r1,r2,r3,r4"},
        {"contains_any_tags=[%22c%22,%22a%22]", "r1,r2,r4"},
        {"contains_any_tags=[]", ""},
        {"contains_any_tags=%22c%22", "r2"},
        {"details.bug=123", "r1"},
        {"details.bug=7", "r4"}, /* a key containing the dot wins */
        {"gt_details.bug=200", "r2,r3,r5,r6"},
        {"has_details.who=true", "r1"},
        {"details.who=alice&n=1", "r1"},
        {"_since=30", "r4,r5,r6"},
        {"_since=%2230%22", "r4,r5,r6"},
        {"_before=30", "r1,r2"},
        {"_to=20", "r1"},
        {"_since=10&_before=60", "r2,r3,r4,r5"},
        {"last_modified=40", "r4"},
        {"gt_last_modified=40", "r5,r6"},
        {"id=r2", "r2"},
        {"id=%22r2%22", "r2"},
        {"id=1", ""},
        {"_expected=abc&_=123&_foo=bar", "r1,r2,r3,r4,r5,r6"},
        {"gt_a-b=1", ""}, /* not an operator: eq on field "gt_a-b" */
    };
    json_t *records = test_json(fixture);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char q[512];
        snprintf(q, sizeof(q), "%s%s_sort=id", cases[i].query, cases[i].query[0] ? "&" : "");
        long long total;
        char *ids = run(q, records, NULL, NULL, &total, NULL);
        cr_expect_str_eq(ids, cases[i].ids, "'%s' gave '%s'", cases[i].query, ids);
        free(ids);
    }
    json_decref(records);
}

Test(listing_filters, field_lookup)
{
    json_t *o = test_json("{\"a\":{\"b\":{\"c\":1}},\"a.b\":{\"c\":2},\"x\":{\"y.z\":3},\"p\":5}");
    cr_expect_eq(json_integer_value(herald_listing_field(o, "a.b.c")), 2);
    cr_expect_eq(json_integer_value(herald_listing_field(o, "x.y.z")), 3);
    cr_expect_null(herald_listing_field(o, "p.q"));
    cr_expect_null(herald_listing_field(o, "nope"));
    cr_expect_null(herald_listing_field(o, "a.b.d"));
    json_decref(o);
}

Test(listing_filters, cross_type_order)
{
    /* Each strictly below the next; the final NULL is a missing field. */
    static const char *const order[] = {
        "null",      "\"\"",
        "\"A\"",     "\"a\"",
        "\"ab\"",    "\"\\u00e9\"",
        "-1",        "0",
        "0.5",       "1",
        "1e20",      "false",
        "true",      "[]",
        "[null]",    "[1]",
        "[1,2]",     "[2]",
        "[true]",    "{}",
        "{\"a\":1}", "{\"a\":1,\"b\":0}",
        "{\"a\":2}", "{\"b\":0}",
        NULL,
    };
    size_t n = sizeof(order) / sizeof(order[0]);
    json_t *v[32];
    for (size_t i = 0; i < n; i++)
        v[i] = order[i] ? test_json(order[i]) : NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = herald_listing_value_cmp(v[i], v[j]);
            int want = (i > j) - (i < j);
            cr_expect_eq(c, want, "%s vs %s: %d", order[i] ? order[i] : "missing",
                         order[j] ? order[j] : "missing", c);
        }
    json_t *one = test_json("1"), *onef = test_json("1.0"),
           *o1 = test_json("{\"b\":[1],\"a\":null}"), *o2 = test_json("{\"a\":null,\"b\":[1.0]}");
    cr_expect_eq(herald_listing_value_cmp(one, onef), 0);
    cr_expect_eq(herald_listing_value_cmp(o1, o2), 0);
    json_decref(one);
    json_decref(onef);
    json_decref(o1);
    json_decref(o2);
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
}

/* ---- sorting ------------------------------------------------------------------------ */

Test(listing_sort, multi_key_and_directions)
{
    json_t *records = test_json("["
                                "{\"id\":\"a\",\"last_modified\":1,\"g\":2,\"t\":\"x\"},"
                                "{\"id\":\"b\",\"last_modified\":2,\"g\":1,\"t\":\"y\"},"
                                "{\"id\":\"c\",\"last_modified\":3,\"g\":2,\"t\":\"y\"},"
                                "{\"id\":\"d\",\"last_modified\":4,\"g\":1,\"t\":\"x\"},"
                                "{\"id\":\"e\",\"last_modified\":5,\"t\":\"x\"},"
                                "{\"id\":\"f\",\"last_modified\":6,\"g\":null,\"t\":\"x\"},"
                                "{\"id\":\"g\",\"last_modified\":6,\"g\":\"s\"}"
                                "]");
    static const struct op_case cases[] = {
        {"", "f,g,e,d,c,b,a"}, /* -last_modified, then id for the tie */
        {"_sort=last_modified", "a,b,c,d,e,f,g"},
        {"_sort=-last_modified", "f,g,e,d,c,b,a"},
        {"_sort=g", "f,g,d,b,c,a,e"}, /* null, string, numbers, missing; -lm in ties */
        {"_sort=-g", "e,c,a,d,b,g,f"},
        {"_sort=g,-t", "f,g,b,d,c,a,e"},
        {"_sort=-t,g", "g,b,c,f,d,a,e"}, /* missing t first when descending */
        {"_sort=t,-g", "e,a,d,f,c,b,g"},
        {"_sort=%2Bt,id", "a,d,e,f,b,c,g"},
        {"_sort=-id", "g,f,e,d,c,b,a"},
        {"_sort=-,bad-field,,id", "a,b,c,d,e,f,g"}, /* invalid entries are ignored */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *ids = run(cases[i].query, records, NULL, NULL, NULL, NULL);
        cr_expect_str_eq(ids, cases[i].ids, "'%s' gave '%s'", cases[i].query, ids);
        free(ids);
    }
    herald_listing *l;
    herald_listing_error err;
    cr_assert_eq(herald_listing_parse(&l, "_sort=g,-t", NULL, &err), 0);
    cr_expect_lt(herald_listing_compare(l, json_array_get(records, 1), json_array_get(records, 0)),
                 0);
    cr_expect_gt(herald_listing_compare(l, json_array_get(records, 4), json_array_get(records, 0)),
                 0);
    cr_expect_eq(herald_listing_compare(l, json_array_get(records, 4), json_array_get(records, 4)),
                 0);
    herald_listing_free(l);
    json_decref(records);
}

/* ---- tombstones, totals ----------------------------------------------------------------- */

Test(listing_tombstones, included_only_when_a_filter_targets_last_modified)
{
    json_t *records = test_json(fixture);
    json_t *tombs = test_json("[{\"id\":\"t1\",\"last_modified\":25,\"deleted\":true},"
                              "{\"id\":\"t2\",\"last_modified\":55,\"deleted\":true}]");
    static const struct {
        const char *query;
        const char *ids;
        long long total;
    } cases[] = {
        {"_sort=id", "r1,r2,r3,r4,r5,r6", 6},
        {"_sort=id&_since=0", "r1,r2,r3,r4,r5,r6,t1,t2", 6},
        {"_since=30", "r6,t2,r5,r4", 3},
        {"_before=30", "t1,r2,r1", 2},
        {"_sort=id&gt_last_modified=20", "r3,r4,r5,r6,t1,t2", 4},
        {"_sort=id&last_modified=55", "t2", 0},
        {"_sort=id&has_last_modified=true", "r1,r2,r3,r4,r5,r6,t1,t2", 6},
        {"_sort=id&title=Other", "r3", 1},
        {"_sort=id&_since=0&has_title=false", "r4,t1,t2", 1},
        {"_sort=id&_since=0&deleted=true", "t1,t2", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long total;
        char *ids = run(cases[i].query, records, tombs, NULL, &total, NULL);
        cr_expect_str_eq(ids, cases[i].ids, "'%s' gave '%s'", cases[i].query, ids);
        cr_expect_eq(total, cases[i].total, "'%s' total %lld", cases[i].query, total);
        free(ids);
    }
    json_decref(tombs);
    json_decref(records);
}

Test(listing_apply, bad_input_and_non_objects)
{
    herald_listing *l;
    herald_listing_error err;
    cr_assert_eq(herald_listing_parse(&l, "", NULL, &err), 0);
    herald_listing_page page;
    json_t *obj = test_json("{}");
    cr_expect_eq(herald_listing_apply(&page, l, obj, NULL, 0), -1);
    cr_expect_null(page.data);
    json_t *arr = test_json("[1,{\"id\":\"a\",\"last_modified\":1},\"x\",null]");
    cr_expect_eq(herald_listing_apply(&page, l, arr, obj, 0), -1);
    cr_assert_eq(herald_listing_apply(&page, l, arr, NULL, 0), 0);
    cr_expect_eq(json_array_size(page.data), 1);
    cr_expect_eq(page.total, 1);
    cr_expect_null(page.next_token);
    /* Without HERALD_LISTING_PROJECT the page holds the records themselves. */
    cr_expect_eq(json_array_get(page.data, 0), json_array_get(arr, 1));
    herald_listing_page_free(&page);
    herald_listing_page_free(NULL);
    herald_listing_free(l);
    herald_listing_free(NULL);
    json_decref(obj);
    json_decref(arr);
}

/* ---- _fields ------------------------------------------------------------------------- */

Test(listing_fields, projection)
{
    json_t *rec = test_json("{\"id\":\"r\",\"last_modified\":5,\"title\":\"t\",\"n\":1,"
                            "\"a\":{\"b\":{\"c\":1,\"d\":2},\"e\":3},\"s\":\"str\"}");
    static const struct {
        const char *query;
        const char *want;
    } cases[] = {
        {"", NULL},
        {"_fields=", NULL},
        {"_fields=title", "{\"id\":\"r\",\"last_modified\":5,\"title\":\"t\"}"},
        {"_fields=nope", "{\"id\":\"r\",\"last_modified\":5}"},
        {"_fields=a.b.c", "{\"id\":\"r\",\"last_modified\":5,\"a\":{\"b\":{\"c\":1}}}"},
        {"_fields=a.b.c,a.e", "{\"id\":\"r\",\"last_modified\":5,\"a\":{\"b\":{\"c\":1},\"e\":3}}"},
        {"_fields=a.b.c,a.b.d",
         "{\"id\":\"r\",\"last_modified\":5,\"a\":{\"b\":{\"c\":1,\"d\":2}}}"},
        {"_fields=a,a.b.c",
         "{\"id\":\"r\",\"last_modified\":5,\"a\":{\"b\":{\"c\":1,\"d\":2},\"e\":3}}"},
        {"_fields=a.zz", "{\"id\":\"r\",\"last_modified\":5,\"a\":{}}"},
        {"_fields=s.x", "{\"id\":\"r\",\"last_modified\":5,\"s\":\"str\"}"},
        {"_fields=title,n", "{\"id\":\"r\",\"last_modified\":5,\"title\":\"t\",\"n\":1}"},
    };
    json_t *orig = json_deep_copy(rec);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        herald_listing *l;
        herald_listing_error err;
        cr_assert_eq(herald_listing_parse(&l, cases[i].query, NULL, &err), 0);
        json_t *p = herald_listing_project(l, rec);
        if (!cases[i].want) {
            cr_expect_eq(p, rec, "'%s'", cases[i].query);
            cr_expect_not(herald_listing_has_fields(l));
        } else {
            json_t *want = test_json(cases[i].want);
            char *got = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
            cr_expect(json_equal(p, want), "'%s' gave %s", cases[i].query, got);
            free(got);
            json_decref(want);
        }
        json_decref(p);
        herald_listing_free(l);
    }
    cr_expect(json_equal(rec, orig), "the record was modified");
    json_decref(orig);
    json_decref(rec);
}

/* ---- Next-Page -------------------------------------------------------------------------- */

Test(listing_next_url, replaces_and_appends)
{
    static const struct {
        const char *query;
        long long paginate_by;
        const char *want;
    } cases[] = {
        {"a=1&_limit=5&_token=&b=2", 0, "http://h/r?a=1&_limit=5&_token=TOK&b=2"},
        {"", 0, "http://h/r?_limit=10000&_token=TOK"},
        {"_token=&c=%20&_token=&_limit=2", 0, "http://h/r?_token=TOK&c=%20&_limit=2"},
        {"_limit=100&x=%C3%A9", 10, "http://h/r?_limit=10&x=%C3%A9&_token=TOK"},
        {"&&a=1&", 3, "http://h/r?a=1&_limit=3&_token=TOK"},
        {"%5Flimit=4", 0, "http://h/r?_limit=4&_token=TOK"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        herald_listing_opts opts = {.paginate_by = cases[i].paginate_by};
        herald_listing *l;
        herald_listing_error err;
        cr_assert_eq(herald_listing_parse(&l, cases[i].query, &opts, &err), 0, "%s", err.message);
        herald_buf b = HERALD_BUF_INIT;
        herald_listing_next_url(&b, "http://h/r", cases[i].query, strlen(cases[i].query), l, "TOK");
        cr_expect_str_eq(herald_buf_cstr(&b), cases[i].want, "'%s'", cases[i].query);
        herald_buf_free(&b);
        herald_listing_free(l);
    }
}

/* ---- pagination walks --------------------------------------------------------------- */

/* Follows Next-Page URLs from 'query' until the last page; returns the ids joined and
 * checks totals stay the same on every page. */
static char *
walk(const char *query, const json_t *records, const json_t *tombs, const herald_listing_opts *opts,
     long long *total, int *pages)
{
    herald_buf all = HERALD_BUF_INIT;
    char *q = herald_mem_strdup(query);
    long long first_total = -1;
    *pages = 0;
    for (;;) {
        cr_assert_lt(*pages, 1000, "pagination does not end");
        long long t;
        char *next = NULL;
        char *ids = run(q, records, tombs, opts, &t, &next);
        if (first_total < 0)
            first_total = t;
        cr_expect_eq(t, first_total, "total changed between pages");
        if (*ids) {
            if (all.len)
                herald_buf_putc(&all, ',');
            herald_buf_puts(&all, ids);
        }
        free(ids);
        (*pages)++;
        if (!next)
            break;
        herald_listing *l;
        herald_listing_error err;
        cr_assert_eq(herald_listing_parse(&l, q, opts, &err), 0);
        herald_buf url = HERALD_BUF_INIT;
        herald_listing_next_url(&url, "http://h/v1/r", q, strlen(q), l, next);
        herald_listing_free(l);
        free(next);
        free(q);
        const char *qm = strchr(herald_buf_cstr(&url), '?');
        cr_assert_not_null(qm);
        q = herald_mem_strdup(qm + 1);
        herald_buf_free(&url);
    }
    free(q);
    *total = first_total;
    herald_buf_cstr(&all);
    return herald_buf_steal(&all, NULL);
}

/* Each id of the comma list appears once. */
static int
all_distinct(const char *ids)
{
    json_t *seen = json_object();
    int ok = 1;
    char *copy = herald_mem_strdup(ids);
    for (char *s = strtok(copy, ","); s; s = strtok(NULL, ","))
        if (json_object_get(seen, s))
            ok = 0;
        else
            json_object_set_new(seen, s, json_true());
    free(copy);
    json_decref(seen);
    return ok;
}

static size_t
count_ids(const char *ids)
{
    if (!*ids)
        return 0;
    size_t n = 1;
    for (; *ids; ids++)
        n += *ids == ',';
    return n;
}

static json_t *
make_records(int n, int same_timestamp)
{
    json_t *arr = json_array();
    /* Inserted in a scrambled order so input order is not the answer. */
    for (int k = 0; k < n; k++) {
        int i = (k * 37) % n;
        char id[16];
        snprintf(id, sizeof(id), "r%03d", i);
        json_t *r = json_object();
        json_object_set_new(r, "id", json_string(id));
        json_object_set_new(r, "last_modified",
                            json_integer(same_timestamp ? 1000 : 1000 + (i * 53) % n));
        if (i % 11 == 0)
            ; /* no "group": missing sorts last */
        else if (i % 13 == 0)
            json_object_set_new(r, "group", json_null());
        else
            json_object_set_new(r, "group", json_integer(i % 7));
        json_object_set_new(r, "title", json_string(i % 2 ? "odd" : "even"));
        json_array_append_new(arr, r);
    }
    return arr;
}

Test(listing_pagination, walk_103_records)
{
    json_t *unique = make_records(103, 0);
    json_t *ties = make_records(103, 1);
    json_t *tombs = json_array();
    for (int i = 0; i < 9; i++) {
        char id[16];
        snprintf(id, sizeof(id), "t%02d", i);
        json_t *t = json_pack("{s:s,s:I,s:b}", "id", id, "last_modified", (json_int_t)(2000 + i),
                              "deleted", 1);
        json_array_append_new(tombs, t);
    }
    static const struct {
        const char *query;
        int ties;
        size_t count;
    } cases[] = {
        {"_limit=10", 0, 103},
        {"_limit=10", 1, 103},
        {"_limit=10&_sort=group", 0, 103},
        {"_limit=10&_sort=-group,title", 1, 103},
        {"_limit=10&_sort=title", 1, 103},
        {"_limit=10&_sort=-title,-group", 0, 103},
        {"_limit=10&gt_group=2", 0, 0},
        {"_limit=10&_since=0", 0, 112},
        {"_limit=10&_since=0&_sort=group", 1, 112},
        {"_limit=1&_sort=-group", 1, 103},
        {"_limit=103", 0, 103},
        {"_limit=102", 0, 103},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const json_t *recs = cases[i].ties ? ties : unique;
        char full_q[256];
        snprintf(full_q, sizeof(full_q), "%s&_limit=100000", cases[i].query);
        long long full_total;
        char *want = run(full_q, recs, tombs, NULL, &full_total, NULL);
        long long total;
        int pages;
        char *got = walk(cases[i].query, recs, tombs, NULL, &total, &pages);
        cr_expect_str_eq(got, want, "'%s' (ties %d): walk differs", cases[i].query, cases[i].ties);
        cr_expect(all_distinct(got), "'%s': repeated ids", cases[i].query);
        if (cases[i].count)
            cr_expect_eq(count_ids(got), cases[i].count, "'%s': %zu ids", cases[i].query,
                         count_ids(got));
        cr_expect_eq(total, full_total);
        long long limit = atoll(cases[i].query + strlen("_limit="));
        size_t n = count_ids(want);
        size_t want_pages = n == 0 ? 1 : (n + (size_t)limit - 1) / (size_t)limit;
        cr_expect_eq((size_t)pages, want_pages, "'%s': %d pages", cases[i].query, pages);
        free(want);
        free(got);
    }
    /* paginate_by caps a larger _limit on every page. */
    herald_listing_opts opts = {.paginate_by = 7};
    long long total;
    int pages;
    char *got = walk("_limit=50&_sort=group", unique, NULL, &opts, &total, &pages);
    cr_expect_eq(count_ids(got), 103);
    cr_expect_eq(pages, 15);
    cr_expect_eq(total, 103);
    free(got);
    json_decref(unique);
    json_decref(ties);
    json_decref(tombs);
}

Test(listing_pagination, token_offset_and_opacity)
{
    json_t *recs = make_records(25, 0);
    char *next = NULL;
    char *ids = run("_limit=10", recs, NULL, NULL, NULL, &next);
    cr_assert_not_null(next);
    for (const char *s = next; *s; s++)
        cr_expect(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *s),
                  "token is not base64url: %s", next);
    char q[1024];
    snprintf(q, sizeof(q), "_limit=10&_token=%s", next);
    herald_listing *l;
    herald_listing_error err;
    cr_assert_eq(herald_listing_parse(&l, q, NULL, &err), 0);
    herald_listing_page page;
    cr_assert_eq(herald_listing_apply(&page, l, recs, NULL, 0), 0);
    cr_expect_eq(page.offset, 20);
    herald_listing_page_free(&page);
    herald_listing_free(l);
    /* A truncated token is a 400, not a crash. */
    next[strlen(next) / 2] = '\0';
    snprintf(q, sizeof(q), "_token=%s", next);
    cr_expect_eq(herald_listing_parse(&l, q, NULL, &err), -1);
    cr_expect_str_eq(err.description, "_token has invalid content");
    free(next);
    free(ids);
    json_decref(recs);
}

/* ---- differential: random records and queries against a naive reference ------------- */

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static unsigned
rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* Value literals: how they appear in a query, and the value Kinto's native_value gives. */
static const struct {
    const char *query;
    const char *json;
} literals[] = {
    {"1", "1"},
    {"2", "2"},
    {"-1", "-1"},
    {"0.5", "0.5"},
    {"0", "0"},
    {"true", "true"},
    {"false", "false"},
    {"null", "null"},
    {"a", "\"a\""},
    {"%22a%22", "\"a\""},
    {"b", "\"b\""},
    {"ab", "\"ab\""},
    {"%222%22", "\"2\""},
    {"", "\"\""},
    {"[1,2]", "[1,2]"},
    {"[]", "[]"},
    {"%5B%22a%22%5D", "[\"a\"]"},
    {"%7B%22c%22:1%7D", "{\"c\":1}"},
    {"A", "\"A\""},
};
#define NLITERALS (sizeof(literals) / sizeof(literals[0]))
/* Scalars only, for comma lists. */
static const unsigned scalar_literals[] = {0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 18};

static json_t *
rand_scalar(void)
{
    switch (rnd(6)) {
    case 0:
        return json_null();
    case 1:
        return json_integer((json_int_t)rnd(4) - 1);
    case 2:
        return json_real(rnd(2) ? 0.5 : 2.0);
    case 3:
        return json_boolean(rnd(2));
    default: {
        static const char *const s[] = {"", "a", "b", "ab", "A", "Ab", "ba", "2", "a*b"};
        return json_string(s[rnd(9)]);
    }
    }
}

static json_t *
rand_value(int depth)
{
    unsigned k = rnd(depth ? 8 : 6);
    if (k < 5)
        return rand_scalar();
    if (k == 5 || k == 6) {
        json_t *a = json_array();
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++)
            json_array_append_new(a, depth ? rand_scalar() : rand_value(1));
        return a;
    }
    json_t *o = json_object();
    if (rnd(3))
        json_object_set_new(o, "c", rand_scalar());
    return o;
}

static json_t *
rand_records(unsigned n, int tombstones)
{
    json_t *arr = json_array();
    for (unsigned i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), tombstones ? "y%02u" : "x%02u", i);
        json_t *r = json_object();
        json_object_set_new(r, "id", json_string(id));
        json_object_set_new(r, "last_modified", json_integer(1 + rnd(30)));
        if (tombstones) {
            json_object_set_new(r, "deleted", json_true());
        } else {
            if (rnd(5))
                json_object_set_new(r, "a", rand_value(0));
            if (rnd(3))
                json_object_set_new(r, "b", rand_value(0));
            if (rnd(4))
                json_object_set_new(
                    r, "o", rnd(4) ? json_pack("{s:o}", "c", rand_value(1)) : rand_value(0));
            if (rnd(3))
                json_object_set_new(r, "t", rand_value(0));
        }
        json_array_append_new(arr, r);
    }
    return arr;
}

enum ref_op { R_EQ, R_NOT, R_LT, R_GT, R_MIN, R_MAX, R_IN, R_EXCL, R_LIKE, R_HAS, R_CONT, R_ANY };
static const char *const ref_op_names[] = {"",      "not_", "lt_",       "gt_",
                                           "min_",  "max_", "in_",       "exclude_",
                                           "like_", "has_", "contains_", "contains_any_"};

struct ref_filter {
    enum ref_op op;
    const char *field;
    json_t *value; /* list for in/exclude/contains */
    char pattern[16];
};

/* Naive find_nested_value: try every split of the path, longest root first. */
static const json_t *
ref_get(const json_t *d, const char *path)
{
    if (!json_is_object(d))
        return NULL;
    if (json_object_get(d, path))
        return json_object_get(d, path);
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", path);
    for (int cut = (int)strlen(buf) - 1; cut > 0; cut--) {
        if (buf[cut] != '.')
            continue;
        buf[cut] = '\0';
        const json_t *root = json_object_get(d, buf);
        buf[cut] = '.';
        if (root)
            return json_is_object(root) ? ref_get(root, path + cut + 1) : NULL;
    }
    return NULL;
}

static int
ref_type(const json_t *v)
{
    static const char order[] = "nsdbaom"; /* null string number bool array object missing */
    char t = !v                   ? 'm'
             : json_is_null(v)    ? 'n'
             : json_is_string(v)  ? 's'
             : json_is_number(v)  ? 'd'
             : json_is_boolean(v) ? 'b'
             : json_is_array(v)   ? 'a'
                                  : 'o';
    return (int)(strchr(order, t) - order);
}

static int
ref_cmp(const json_t *a, const json_t *b)
{
    int ta = ref_type(a), tb = ref_type(b);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    if (ta == 1) {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return (c > 0) - (c < 0);
    }
    if (ta == 2)
        return (json_number_value(a) > json_number_value(b)) -
               (json_number_value(a) < json_number_value(b));
    if (ta == 3)
        return json_is_true(a) - json_is_true(b);
    if (ta == 4) {
        for (size_t i = 0;; i++) {
            if (i == json_array_size(a) || i == json_array_size(b))
                return (json_array_size(a) > i) - (json_array_size(b) > i);
            int c = ref_cmp(json_array_get(a, i), json_array_get(b, i));
            if (c)
                return c;
        }
    }
    if (ta == 5) {
        /* Only key "c" is ever generated. */
        const json_t *ca = json_object_get(a, "c"), *cb = json_object_get(b, "c");
        if (!ca || !cb)
            return (ca != NULL) - (cb != NULL);
        return ref_cmp(ca, cb);
    }
    return 0;
}

static int
ref_glob(const char *p, const char *s)
{
    if (!*p)
        return !*s;
    if (*p == '*')
        return ref_glob(p + 1, s) || (*s && ref_glob(p, s + 1));
    char a = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
    char b = *s >= 'A' && *s <= 'Z' ? (char)(*s + 32) : *s;
    return *s && a == b && ref_glob(p + 1, s + 1);
}

static int
ref_in(const json_t *list, const json_t *v)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (ref_cmp(json_array_get(list, i), v) == 0)
            return 1;
    return 0;
}

static int
ref_match(const struct ref_filter *f, const json_t *rec)
{
    const json_t *left = ref_get(rec, f->field);
    int c = ref_cmp(left, f->value);
    switch (f->op) {
    case R_EQ:
        return c == 0;
    case R_NOT:
        return c != 0;
    case R_LT:
        return c < 0;
    case R_GT:
        return c > 0;
    case R_MIN:
        return c >= 0;
    case R_MAX:
        return c <= 0;
    case R_IN:
        return left && ref_in(f->value, left);
    case R_EXCL:
        return !(left && ref_in(f->value, left));
    case R_LIKE: {
        if (!json_is_string(left))
            return 0;
        char pat[40];
        if (strchr(f->pattern, '*'))
            snprintf(pat, sizeof(pat), "%s", f->pattern);
        else
            snprintf(pat, sizeof(pat), "*%s*", f->pattern);
        return ref_glob(pat, json_string_value(left));
    }
    case R_HAS: {
        int want = !(json_is_false(f->value) || json_is_null(f->value) ||
                     (json_is_number(f->value) && json_number_value(f->value) == 0) ||
                     (json_is_string(f->value) && !*json_string_value(f->value)) ||
                     (json_is_array(f->value) && !json_array_size(f->value)) ||
                     (json_is_object(f->value) && !json_object_size(f->value)));
        return want == (left != NULL);
    }
    case R_CONT:
    case R_ANY: {
        if (!json_is_array(left))
            return 0;
        size_t hits = 0;
        for (size_t i = 0; i < json_array_size(f->value); i++)
            hits += (size_t)ref_in(left, json_array_get(f->value, i));
        return f->op == R_CONT ? hits == json_array_size(f->value) : hits > 0;
    }
    }
    return 0;
}

struct ref_sort {
    const char *field;
    int desc;
};

static int
ref_order(const struct ref_sort *keys, size_t nk, const json_t *a, const json_t *b)
{
    for (size_t k = 0; k < nk; k++) {
        int c = ref_cmp(ref_get(a, keys[k].field), ref_get(b, keys[k].field));
        if (c)
            return keys[k].desc ? -c : c;
    }
    return 0;
}

static void
append_literal_value(herald_buf *q, json_t **value, unsigned lit)
{
    herald_buf_puts(q, literals[lit].query);
    *value = test_json(literals[lit].json);
}

/* Builds one random filter as query text and as a reference filter. */
static void
rand_filter(herald_buf *q, struct ref_filter *f)
{
    static const char *const fields[] = {"a", "b", "o.c", "t", "o", "last_modified", "id"};
    f->field = fields[rnd(7)];
    f->op = (enum ref_op)rnd(12);
    int is_lm = strcmp(f->field, "last_modified") == 0, is_id = strcmp(f->field, "id") == 0;
    if (q->len)
        herald_buf_putc(q, '&');
    herald_buf_puts(q, ref_op_names[f->op]);
    herald_buf_puts(q, f->field);
    herald_buf_putc(q, '=');
    f->value = NULL;
    f->pattern[0] = '\0';
    if (is_lm && f->op != R_LIKE && f->op != R_HAS && f->op != R_CONT && f->op != R_ANY) {
        /* Timestamps must be integers (else 400); lists of integers. */
        unsigned n = f->op == R_IN || f->op == R_EXCL ? 1 + rnd(3) : 1;
        json_t *list = json_array();
        for (unsigned i = 0; i < n; i++) {
            int ts = 1 + (int)rnd(30);
            herald_buf_printf(q, "%s%d", i ? "," : "", ts);
            json_array_append_new(list, json_integer(ts));
        }
        if (f->op == R_IN || f->op == R_EXCL)
            f->value = list;
        else {
            f->value = json_incref(json_array_get(list, 0));
            json_decref(list);
        }
        return;
    }
    switch (f->op) {
    case R_IN:
    case R_EXCL: {
        json_t *list = json_array();
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                herald_buf_putc(q, ',');
            if (is_id) {
                char id[8];
                snprintf(id, sizeof(id), "x%02u", rnd(20));
                herald_buf_puts(q, id);
                json_array_append_new(list, json_string(id));
            } else {
                json_t *v;
                unsigned lit = scalar_literals[rnd(sizeof(scalar_literals) / sizeof(unsigned))];
                append_literal_value(q, &v, lit);
                if (json_is_string(v) && !*json_string_value(v)) {
                    json_decref(v); /* empty items are dropped */
                    continue;
                }
                json_array_append_new(list, v);
            }
        }
        f->value = list;
        return;
    }
    case R_LIKE: {
        static const char *const pats[] = {"a", "*a", "a*", "A*B", "*", "b", "ab", "*b*a*", "2"};
        snprintf(f->pattern, sizeof(f->pattern), "%s", pats[rnd(9)]);
        herald_buf_puts(q, f->pattern);
        f->value = json_string(f->pattern);
        return;
    }
    case R_CONT:
    case R_ANY: {
        append_literal_value(q, &f->value, (unsigned)rnd(NLITERALS));
        if (!json_is_array(f->value)) {
            json_t *list = json_array();
            json_array_append_new(list, f->value);
            f->value = list;
        }
        return;
    }
    default:
        if (is_id) {
            char id[8];
            snprintf(id, sizeof(id), "x%02u", rnd(20));
            herald_buf_puts(q, id);
            f->value = json_string(id);
            return;
        }
        append_literal_value(q, &f->value, (unsigned)rnd(NLITERALS));
        return;
    }
}

Test(listing_differential, random_queries_against_reference)
{
    static const struct ref_sort sort_choices[] = {
        {"a", 0},
        {"a", 1},
        {"b", 0},
        {"b", 1},
        {"o.c", 0},
        {"o.c", 1},
        {"t", 0},
        {"last_modified", 0},
        {"last_modified", 1},
        {"id", 1},
    };
    int checked = 0;
    for (int round = 0; round < 400; round++) {
        json_t *records = rand_records(5 + rnd(40), 0);
        json_t *tombs = rand_records(rnd(8), 1);
        herald_buf q = HERALD_BUF_INIT;
        struct ref_filter filters[4];
        unsigned nf = rnd(4);
        for (unsigned i = 0; i < nf; i++)
            rand_filter(&q, &filters[i]);
        int since = -1;
        if (rnd(4) == 0) {
            since = (int)rnd(30);
            herald_buf_printf(&q, "%s_since=%d", q.len ? "&" : "", since);
        }
        struct ref_sort keys[8];
        size_t nk = 0;
        unsigned ns = rnd(3);
        int lm_listed = 0, id_listed = 0;
        if (ns) {
            herald_buf_puts(&q, q.len ? "&_sort=" : "_sort=");
            for (unsigned i = 0; i < ns; i++) {
                struct ref_sort s = sort_choices[rnd(10)];
                herald_buf_printf(&q, "%s%s%s", i ? "," : "", s.desc ? "-" : "", s.field);
                keys[nk++] = s;
                lm_listed |= strcmp(s.field, "last_modified") == 0 && !s.desc;
                id_listed |= strcmp(s.field, "id") == 0;
            }
        }
        if (!lm_listed)
            keys[nk++] = (struct ref_sort){"last_modified", 1};
        if (!id_listed)
            keys[nk++] = (struct ref_sort){"id", 0};

        /* Reference: filter, include tombstones when last_modified is targeted,
         * insertion sort. */
        int include_deleted = since >= 0;
        for (unsigned i = 0; i < nf; i++)
            include_deleted |= strcmp(filters[i].field, "last_modified") == 0;
        const json_t *cand[64];
        size_t n = 0;
        long long want_total = 0;
        for (int pass = 0; pass < 2; pass++) {
            const json_t *src = pass ? tombs : records;
            if (pass && !include_deleted)
                break;
            for (size_t i = 0; i < json_array_size(src); i++) {
                const json_t *r = json_array_get(src, i);
                int ok =
                    since < 0 || json_integer_value(json_object_get(r, "last_modified")) > since;
                for (unsigned k = 0; k < nf && ok; k++)
                    ok = ref_match(&filters[k], r);
                if (!ok)
                    continue;
                want_total += !pass;
                size_t j = n++;
                while (j > 0 && ref_order(keys, nk, cand[j - 1], r) > 0) {
                    cand[j] = cand[j - 1];
                    j--;
                }
                cand[j] = r;
            }
        }
        json_t *want_arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(want_arr, (json_t *)cand[i]);
        char *want = ids_of(want_arr);
        json_decref(want_arr);

        const char *query = herald_buf_cstr(&q);
        long long total;
        char *got = run(query, records, tombs, NULL, &total, NULL);
        cr_expect_str_eq(got, want, "round %d, query '%s'", round, query);
        cr_expect_eq(total, want_total, "round %d, query '%s'", round, query);
        free(got);

        /* The same through pages of a random size. */
        herald_buf pq = HERALD_BUF_INIT;
        herald_buf_printf(&pq, "%s%s_limit=%u", query, q.len ? "&" : "", 1 + rnd(7));
        int pages;
        got = walk(herald_buf_cstr(&pq), records, tombs, NULL, &total, &pages);
        cr_expect_str_eq(got, want, "round %d, paged query '%s'", round, pq.data);
        free(got);
        herald_buf_free(&pq);

        checked += n > 0;
        free(want);
        for (unsigned i = 0; i < nf; i++)
            json_decref(filters[i].value);
        herald_buf_free(&q);
        json_decref(records);
        json_decref(tombs);
    }
    /* The generator must produce non-trivial results, or the test proves little. */
    cr_expect_gt(checked, 200, "only %d rounds had results", checked);
}
