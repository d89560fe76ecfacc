/*
 * publisher/schema.c: the compiled-schema cache (bounded, one entry per version) and
 * Kinto's handling of id, last_modified and schema, without HTTP.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "http.h"
#include "schema.h"

static const char COLL_V1[] = "{\"id\":\"c\",\"last_modified\":100,\"schema\":{\"type\":\"object\","
                              "\"required\":[\"title\",\"id\",\"schema\"],\"properties\":"
                              "{\"title\":{\"type\":\"string\"}},\"additionalProperties\":false}}";
static const char BUCKET[] = "{\"id\":\"b\",\"last_modified\":50}";

static int
validate(pub_schema *s, pub_resp *r, const char *coll, const char *cid, const char *record)
{
    pub_schema_parents par = {"b", BUCKET, strlen(BUCKET), cid, coll, strlen(coll)};
    json_t *data = json_loads(record, 0, NULL);
    cr_assert(data);
    pub_resp_reset(r);
    int rc = pub_schema_validate(s, r, PUB_RES_RECORD, &par, data);
    if (rc == 0 && json_object_get(data, "schema"))
        cr_assert_eq(json_integer_value(json_object_get(data, "schema")), 100);
    json_decref(data);
    return rc;
}

Test(publisher_schema, off_validates_nothing)
{
    pub_schema *s = pub_schema_new(NULL);
    pub_resp r;
    pub_resp_init(&r);
    cr_assert_eq(validate(s, &r, COLL_V1, "c", "{\"x\":1}"), 0);
    cr_assert_eq(pub_schema_cached(s), 0);
    pub_resp_free(&r);
    pub_schema_free(s);
}

Test(publisher_schema, ignored_fields_and_error_body)
{
    pub_schema_opts o = {1, 4};
    pub_schema *s = pub_schema_new(&o);
    pub_resp r;
    pub_resp_init(&r);
    cr_assert_eq(validate(s, &r, COLL_V1, "c",
                          "{\"id\":\"r\",\"last_modified\":3,\"schema\":1,\"title\":\"t\"}"),
                 0);
    cr_assert_eq(validate(s, &r, COLL_V1, "c", "{\"title\":5}"), -1);
    cr_assert_eq(r.status, 400);
    json_t *body = json_loadb(r.body.data, r.body.len, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(body, "message")),
                     "title in body: 5 is not of type 'string'");
    cr_assert_str_eq(json_string_value(json_object_get(body, "error")), "Invalid parameters");
    json_decref(body);
    pub_resp_free(&r);
    pub_schema_free(s);
}

Test(publisher_schema, cache_is_bounded_and_versions_replace)
{
    pub_schema_opts o = {1, 3};
    pub_schema *s = pub_schema_new(&o);
    pub_resp r;
    pub_resp_init(&r);
    char cid[16];
    for (int i = 0; i < 10; i++) {
        snprintf(cid, sizeof(cid), "c%d", i);
        cr_assert_eq(validate(s, &r, COLL_V1, cid, "{\"title\":\"t\"}"), 0);
        cr_assert_leq(pub_schema_cached(s), 3);
    }
    /* New versions of one collection replace its entry. */
    pub_schema_free(s);
    s = pub_schema_new(&o);
    char coll[512];
    for (int v = 100; v < 110; v++) {
        snprintf(coll, sizeof(coll), "{\"id\":\"c\",\"last_modified\":%d,\"schema\":{}}", v);
        pub_schema_parents par = {"b", BUCKET, strlen(BUCKET), "c", coll, strlen(coll)};
        json_t *data = json_object();
        cr_assert_eq(pub_schema_validate(s, &r, PUB_RES_RECORD, &par, data), 0);
        cr_assert_eq(json_integer_value(json_object_get(data, "schema")), v);
        json_decref(data);
    }
    cr_assert_eq(pub_schema_cached(s), 1);
    pub_resp_free(&r);
    pub_schema_free(s);
}
