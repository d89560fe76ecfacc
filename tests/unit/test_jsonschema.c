/*
 * test_jsonschema -- the validator's API and the behaviours Kinto depends on that the
 * official suite does not pin down: python-jsonschema's messages and first error, the
 * field Kinto names, Kinto's two dialects, refused remote references, the number rules
 * and the cost bounds. The suite itself is test_jsonschema_suite.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jsonschema.h"

static herald_jsonschema *
compile(const char *text, enum herald_jsonschema_dialect d)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert_not_null(j, "%s", je.text);
    char err[256];
    herald_jsonschema *s = NULL;
    cr_assert_eq(herald_jsonschema_compile(&s, j, d, err, sizeof(err)), 0, "%s: %s", text, err);
    json_decref(j);
    return s;
}

/* Validates 'inst' (JSON text); returns the verdict and the first error in 'e'. */
static int
run(const herald_jsonschema *s, const char *inst, herald_jsonschema_errors *e)
{
    json_t *j = json_loads(inst, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(j, "%s", inst);
    int rc = herald_jsonschema_validate(s, j, e, 1);
    json_decref(j);
    return rc;
}

static void
expect_error(const char *schema, const char *inst, const char *desc, const char *path,
             const char *field)
{
    herald_jsonschema *s = compile(schema, HERALD_JSONSCHEMA_DEFAULT);
    herald_jsonschema_errors e = HERALD_JSONSCHEMA_ERRORS_INIT;
    cr_assert_eq(run(s, inst, &e), -1, "%s should refuse %s", schema, inst);
    cr_assert_eq(e.n, 1);
    cr_expect_str_eq(e.v[0].description, desc);
    cr_expect_str_eq(e.v[0].path, path);
    cr_expect_str_eq(e.v[0].field, field);
    herald_jsonschema_errors_free(&e);
    herald_jsonschema_free(s);
}

static void
expect_refused(const char *schema, const char *needle)
{
    json_t *j = json_loads(schema, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(j);
    char err[256];
    herald_jsonschema *s = (herald_jsonschema *)1;
    cr_assert_eq(herald_jsonschema_compile(&s, j, HERALD_JSONSCHEMA_DEFAULT, err, sizeof(err)), -1,
                 "%s compiled", schema);
    cr_assert_null(s);
    cr_expect(strstr(err, needle) != NULL, "'%s' does not say '%s'", err, needle);
    json_decref(j);
}

Test(jsonschema, python_messages_and_kinto_field)
{
    expect_error("{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"}}}",
                 "{\"title\":12}", "12 is not of type 'string'", "/title", "title");
    /* Kinto's quirk: no path, so the last element of the keyword's value */
    expect_error("{\"required\":[\"a\",\"b\"]}", "{\"b\":1}", "'a' is a required property", "",
                 "b");
    expect_error("{\"properties\":{\"a\":{\"items\":{\"enum\":[1,\"x\",null,true]}}}}",
                 "{\"a\":[1,2.5]}", "2.5 is not one of [1, 'x', None, True]", "/a/1", "1");
    expect_error("{\"additionalProperties\":false,\"properties\":{\"a\":{}}}",
                 "{\"a\":1,\"b\":2,\"c\":3}",
                 "Additional properties are not allowed ('b', 'c' were unexpected)", "",
                 "additionalProperties");
    expect_error("{\"pattern\":\"^a\"}", "\"ba\"", "'ba' does not match '^a'", "", "a");
    expect_error("{\"maxLength\":2}", "\"\\u00e9t\\u00e9\"", "'été' is too long", "", "maxLength");
    expect_error("{\"exclusiveMinimum\":10}", "10", "10 is less than or equal to the minimum of 10",
                 "", "exclusiveMinimum");
    expect_error("{\"properties\":{\"d\":{\"const\":{\"a\":[1.5,false]}}}}", "{\"d\":1}",
                 "{'a': [1.5, False]} was expected", "/d", "d");
}

/* python-jsonschema yields errors keyword by keyword in schema order, depth first:
 * Kinto reports the first. */
Test(jsonschema, first_error_follows_schema_order)
{
    expect_error("{\"properties\":{\"b\":{\"type\":\"string\"},\"a\":{\"type\":\"string\"}},"
                 "\"required\":[\"z\"]}",
                 "{\"a\":1,\"b\":2}", "2 is not of type 'string'", "/b", "b");
    expect_error("{\"required\":[\"z\"],\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"a\":1}",
                 "'z' is a required property", "", "z");
    herald_jsonschema *s = compile("{\"type\":\"string\",\"minLength\":5,\"pattern\":\"^x\"}",
                                   HERALD_JSONSCHEMA_DEFAULT);
    json_t *j = json_string("ab");
    herald_jsonschema_errors e = HERALD_JSONSCHEMA_ERRORS_INIT;
    cr_assert_eq(herald_jsonschema_validate(s, j, &e, 0), -1);
    cr_assert_eq(e.n, 2);
    cr_expect_str_eq(e.v[0].keyword, "minLength");
    cr_expect_str_eq(e.v[1].keyword, "pattern");
    herald_jsonschema_errors_free(&e);
    cr_assert_eq(herald_jsonschema_validate(s, j, NULL, 0), -1);
    json_decref(j);
    herald_jsonschema_free(s);
}

/* Every error, in the order reported, for each keyword family: "[path] keyword field:
 * description" per error. Pins python-jsonschema's order (keywords in schema order,
 * depth first) and wording byte for byte; collecting one or two errors must give the
 * head of the same list. */
static const struct {
    enum herald_jsonschema_dialect dialect;
    const char *schema, *inst, *errors;
} every_error[] = {
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"type\":[\"string\",\"null\"],\"enum\":[1,\"a\"],\"const\":{\"k\":[true]}}", "2.5",
     "[] type null: 2.5 is not of type 'string', 'null'\n"
     "[] enum a: 2.5 is not one of [1, 'a']\n"
     "[] const const: {'k': [True]} was expected\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"multipleOf\":0.5,\"maximum\":1,\"exclusiveMaximum\":1,\"minimum\":5,\"exclusiveMinimum\":"
     "5}",
     "3.25",
     "[] multipleOf multipleOf: 3.25 is not a multiple of 0.5\n"
     "[] maximum maximum: 3.25 is greater than the maximum of 1\n"
     "[] exclusiveMaximum exclusiveMaximum: 3.25 is greater than or equal to the maximum of 1\n"
     "[] minimum minimum: 3.25 is less than the minimum of 5\n"
     "[] exclusiveMinimum exclusiveMinimum: 3.25 is less than or equal to the minimum of 5\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12, "{\"minLength\":3,\"maxLength\":1,\"pattern\":\"^z\"}",
     "\"ab\"",
     "[] minLength minLength: 'ab' is too short\n"
     "[] maxLength maxLength: 'ab' is too long\n"
     "[] pattern z: 'ab' does not match '^z'\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"maxItems\":1,\"minItems\":5,\"uniqueItems\":true,\"items\":{\"type\":\"string\"}}",
     "[1,\"a\",1]",
     "[] maxItems maxItems: [1, 'a', 1] is too long\n"
     "[] minItems minItems: [1, 'a', 1] is too short\n"
     "[] uniqueItems uniqueItems: [1, 'a', 1] has non-unique elements\n"
     "[/0] type 0: 1 is not of type 'string'\n"
     "[/2] type 2: 1 is not of type 'string'\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12, "{\"prefixItems\":[{\"type\":\"integer\"}],\"items\":false}",
     "[\"x\",2,\"y\"]",
     "[/0] type 0: 'x' is not of type 'integer'\n"
     "[] items items: Expected at most 1 items, but found 3\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12, "{\"items\":false}", "[1,2]",
     "[] items items: Additional items are not allowed (1, 2 were unexpected)\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"contains\":{\"type\":\"string\"},\"minContains\":2,\"maxContains\":3}", "[1,\"a\"]",
     "[] minContains minContains: Too few items match the given schema (expected at least 2 but "
     "only 1 matched)\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12, "{\"contains\":{\"type\":\"string\"},\"maxContains\":1}",
     "[\"a\",\"b\",1]",
     "[] maxContains maxContains: Too many items match the given schema (expected at most 1)\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12, "{\"contains\":{\"type\":\"string\"}}", "[1,2]",
     "[] contains contains: [1, 2] does not contain items matching the given schema\n"},
    {HERALD_JSONSCHEMA_DRAFT7, "{\"contains\":{\"type\":\"string\"}}", "[1,2]",
     "[] contains contains: None of [1, 2] are valid under the given schema\n"},
    {HERALD_JSONSCHEMA_DRAFT7,
     "{\"items\":[{\"type\":\"integer\"},{\"type\":\"string\"}],\"additionalItems\":false}",
     "[\"a\",1,true,null]",
     "[/0] type 0: 'a' is not of type 'integer'\n"
     "[/1] type 1: 1 is not of type 'string'\n"
     "[] additionalItems additionalItems: Additional items are not allowed (True, None were "
     "unexpected)\n"},
    {HERALD_JSONSCHEMA_DRAFT7,
     "{\"items\":[{\"type\":\"integer\"}],\"additionalItems\":{\"type\":\"string\"}}",
     "[1,2,\"x\",3]",
     "[/1] type 1: 2 is not of type 'string'\n"
     "[/3] type 3: 3 is not of type 'string'\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"maxProperties\":1,\"minProperties\":4,\"required\":[\"x\",\"y\",\"a\"]}",
     "{\"a\":1,\"b\":2}",
     "[] maxProperties maxProperties: {'a': 1, 'b': 2} has too many properties\n"
     "[] minProperties minProperties: {'a': 1, 'b': 2} does not have enough properties\n"
     "[] required a: 'x' is a required property\n"
     "[] required a: 'y' is a required property\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"dependentRequired\":{\"a\":[\"b\",\"c\"],\"d\":[\"e\"]},\"dependentSchemas\":{\"a\":{"
     "\"required\":[\"z\"]}}}",
     "{\"a\":1,\"d\":2}",
     "[] dependentRequired dependentRequired: 'b' is a dependency of 'a'\n"
     "[] dependentRequired dependentRequired: 'c' is a dependency of 'a'\n"
     "[] dependentRequired dependentRequired: 'e' is a dependency of 'd'\n"
     "[] required z: 'z' is a required property\n"},
    {HERALD_JSONSCHEMA_DRAFT7,
     "{\"dependencies\":{\"a\":[\"b\"],\"c\":{\"properties\":{\"a\":{\"type\":\"string\"}}}}}",
     "{\"a\":1,\"c\":2}",
     "[] dependencies dependencies: 'b' is a dependency of 'a'\n"
     "[/a] type a: 1 is not of type 'string'\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":5}],\"oneOf\":[{\"minimum\":0},{\"maximum\":"
     "10},{\"type\":\"integer\"}],\"not\":{\"type\":\"integer\"}}",
     "3",
     "[] anyOf {'minimum': 5}: 3 is not valid under any of the given schemas\n"
     "[] oneOf {'type': 'integer'}: 3 is valid under each of {'minimum': 0}, {'maximum': 10}\n"
     "[] not not: 3 should not be valid under {'type': 'integer'}\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12, "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "3",
     "[] oneOf {'type': 'null'}: 3 is not valid under any of the given schemas\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"if\":{\"minimum\":0},\"then\":{\"multipleOf\":2},\"else\":{\"const\":-1}}", "3",
     "[] multipleOf multipleOf: 3 is not a multiple of 2\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"if\":{\"minimum\":0},\"then\":{\"multipleOf\":2},\"else\":{\"const\":-1}}", "-3",
     "[] const const: -1 was expected\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"properties\":{\"a/"
     "b\":{\"type\":\"string\"},\"c~d\":{\"items\":{\"type\":\"integer\"}}},\"patternProperties\":{"
     "\"^x\":{\"maximum\":0},\"^c\":{\"type\":\"array\"}},\"additionalProperties\":false}",
     "{\"c~d\":[1,\"z\"],\"a/b\":1,\"x1\":5,\"zz\":1,\"yy\":2}",
     "[/a~1b] type a/b: 1 is not of type 'string'\n"
     "[/c~0d/1] type 1: 'z' is not of type 'integer'\n"
     "[/x1] maximum x1: 5 is greater than the maximum of 0\n"
     "[] additionalProperties additionalProperties: 'yy', 'zz' do not match any of the regexes: "
     "'^c', '^x'\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"properties\":{\"a\":true},\"patternProperties\":{\"^x\":true,\"^b\":true},"
     "\"additionalProperties\":false}",
     "{\"a\":1,\"zz\":1,\"yy\":2}",
     "[] additionalProperties additionalProperties: 'yy', 'zz' do not match any of the regexes: "
     "'^b', '^x'\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"propertyNames\":{\"maxLength\":2,\"pattern\":\"^a\"},\"additionalProperties\":{\"type\":"
     "\"integer\"}}",
     "{\"abc\":1,\"b\":\"x\"}",
     "[] maxLength maxLength: 'abc' is too long\n"
     "[] pattern a: 'b' does not match '^a'\n"
     "[/b] type b: 'x' is not of type 'integer'\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12, "{\"prefixItems\":[true],\"unevaluatedItems\":false}",
     "[1,2,3]",
     "[] unevaluatedItems unevaluatedItems: Unevaluated items are not allowed (2, 3 were "
     "unexpected)\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"prefixItems\":[true],\"unevaluatedItems\":{\"type\":\"string\"}}", "[1,2,\"x\",3]",
     "[] unevaluatedItems unevaluatedItems: Unevaluated items are not valid under the given schema "
     "(2, 3 were unexpected)\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"properties\":{\"a\":true},\"unevaluatedProperties\":{\"type\":\"string\"}}",
     "{\"a\":1,\"b\":2,\"c\":\"x\"}",
     "[] unevaluatedProperties unevaluatedProperties: Unevaluated properties are not valid under "
     "the given schema ('b' was unexpected)\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"properties\":{\"a\":false,\"b\":{\"$ref\":\"#/$defs/"
     "d\"}},\"$defs\":{\"d\":{\"type\":\"object\",\"required\":[\"q\"]}}}",
     "{\"a\":1,\"b\":{}}",
     "[/a] false a: False schema does not allow 1\n"
     "[/b] required b: 'q' is a required property\n"},
    {HERALD_JSONSCHEMA_DRAFT2020_12,
     "{\"allOf\":[{\"type\":\"object\"},{\"required\":[\"a\"]},{\"properties\":{\"b\":{\"enum\":[{"
     "\"x\":null}]}}}]}",
     "{\"b\":[1.0,\"\\u00e9\"]}",
     "[] required a: 'a' is a required property\n"
     "[/b] enum b: [1.0, 'é'] is not one of [{'x': None}]\n"},
};

static char *
render_errors(const herald_jsonschema_errors *e)
{
    size_t cap = 64;
    for (size_t i = 0; i < e->n; i++)
        cap += strlen(e->v[i].path) + strlen(e->v[i].keyword) + strlen(e->v[i].field) +
               strlen(e->v[i].description) + 8;
    char *out = malloc(cap);
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < e->n; i++)
        n += (size_t)snprintf(out + n, cap - n, "[%s] %s %s: %s\n", e->v[i].path, e->v[i].keyword,
                              e->v[i].field, e->v[i].description);
    return out;
}

Test(jsonschema, every_error_in_order)
{
    for (size_t t = 0; t < sizeof(every_error) / sizeof(every_error[0]); t++) {
        herald_jsonschema *s = compile(every_error[t].schema, every_error[t].dialect);
        herald_jsonschema_errors e = HERALD_JSONSCHEMA_ERRORS_INIT;
        json_t *j = json_loads(every_error[t].inst, JSON_DECODE_ANY, NULL);
        cr_assert_not_null(j, "%s", every_error[t].inst);
        cr_expect_eq(herald_jsonschema_validate(s, j, &e, 0), -1, "%s", every_error[t].schema);
        char *all = render_errors(&e);
        cr_expect_str_eq(all, every_error[t].errors, "%s against %s", every_error[t].inst,
                         every_error[t].schema);
        herald_jsonschema_errors_free(&e);
        for (size_t max = 1; max <= 2; max++) {
            cr_expect_eq(herald_jsonschema_validate(s, j, &e, max), -1);
            char *head = render_errors(&e);
            size_t want = 0;
            for (size_t k = 0, lines = 0; all[k] && lines < max; k++)
                if (all[k] == '\n')
                    want = k + 1, lines++;
            cr_expect(strlen(head) == want && !strncmp(head, all, want),
                      "%s against %s, %zu error(s): %s", every_error[t].inst, every_error[t].schema,
                      max, head);
            free(head);
            herald_jsonschema_errors_free(&e);
        }
        cr_expect_eq(herald_jsonschema_validate(s, j, NULL, 0), -1);
        free(all);
        json_decref(j);
        herald_jsonschema_free(s);
    }
}

/* Kinto: records validated with validator_for's default (2020-12), the collection's
 * schema checked with Draft 7's meta-schema. */
Test(jsonschema, dialects)
{
    const char *text = "{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}";
    herald_jsonschema *s = compile(text, HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(herald_jsonschema_dialect(s), HERALD_JSONSCHEMA_DRAFT2020_12);
    cr_expect_eq(run(s, "[\"a\",1]", NULL), -1);
    herald_jsonschema_free(s);
    s = compile(text, HERALD_JSONSCHEMA_DRAFT7); /* prefixItems unknown in Draft 7 */
    cr_expect_eq(run(s, "[\"a\",1]", NULL), -1);
    cr_expect_eq(run(s, "[]", NULL), 0);
    herald_jsonschema_free(s);
    s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"items\":[{\"type\":"
                "\"string\"}]}",
                HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(herald_jsonschema_dialect(s), HERALD_JSONSCHEMA_DRAFT7);
    cr_expect_eq(run(s, "[\"a\",1]", NULL), 0);
    cr_expect_eq(run(s, "[1]", NULL), -1);
    herald_jsonschema_free(s);

    char err[256];
    json_t *good =
        json_loads("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}", 0, NULL);
    cr_expect_eq(herald_jsonschema_check(good, err, sizeof(err)), 0, "%s", err);
    json_t *bad =
        json_loads("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"int\"}}}", 0, NULL);
    cr_expect_eq(herald_jsonschema_check(bad, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "type'int' is not valid under any of the given schemas");
    json_t *badre = json_loads("{\"pattern\":\"(\"}", 0, NULL);
    cr_expect_eq(herald_jsonschema_check(badre, err, sizeof(err)), -1);
    json_decref(good);
    json_decref(bad);
    json_decref(badre);
}

Test(jsonschema, refused_schemas)
{
    expect_refused("{\"$ref\":\"http://example.com/other.json\"}", "remote references");
    expect_refused("{\"$ref\":\"other.json#/a\"}", "remote references");
    expect_refused("{\"$ref\":\"#/$defs/missing\"}", "no such location");
    expect_refused("{\"$ref\":\"#nope\"}", "no anchor");
    expect_refused("{\"pattern\":\"a(\"}", "not a valid regular expression");
    expect_refused("{\"$schema\":\"http://json-schema.org/draft-04/schema#\"}", "not supported");
    expect_refused("{\"minLength\":-1}", "non-negative integer");
    expect_refused("{\"multipleOf\":0}", "greater than 0");
    expect_refused("[]", "object or a boolean");
    /* deep nesting is refused, not a stack overflow */
    char *deep = malloc(20000);
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(deep + n, "{\"not\":");
    n += (size_t)sprintf(deep + n, "{}");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '}';
    deep[n] = '\0';
    expect_refused(deep, "nested deeper");
    free(deep);
}

Test(jsonschema, refs_ids_and_anchors)
{
    herald_jsonschema *s = compile(
        "{\"$id\":\"https://example.com/root.json\",\"$defs\":{\"pos\":{\"$id\":\"pos.json\","
        "\"minimum\":0},\"tag\":{\"$anchor\":\"tag\",\"type\":\"string\"}},"
        "\"properties\":{\"n\":{\"$ref\":\"pos.json\"},\"t\":{\"$ref\":\"#tag\"},"
        "\"p\":{\"$ref\":\"#/$defs/pos\"},\"self\":{\"$ref\":\"#\"}}}",
        HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "{\"n\":1,\"t\":\"x\",\"p\":0,\"self\":{\"n\":2}}", NULL), 0);
    cr_expect_eq(run(s, "{\"self\":{\"self\":{\"n\":-1}}}", NULL), -1);
    cr_expect_eq(run(s, "{\"t\":1}", NULL), -1);
    herald_jsonschema_free(s);
}

/* python-jsonschema: a float divisor divides in floating point, the quotient must be
 * integral; an integer divisor uses %. */
Test(jsonschema, numbers)
{
    herald_jsonschema *s = compile("{\"multipleOf\":0.01}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "19.99", NULL), -1); /* 1998.9999999999998: python says no too */
    cr_expect_eq(run(s, "0.07", NULL), -1);  /* 7.000000000000001 */
    cr_expect_eq(run(s, "0.5", NULL), 0);
    herald_jsonschema_free(s);
    s = compile("{\"multipleOf\":0.1}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "0.3", NULL), -1); /* 0.3 / 0.1 == 2.9999999999999996 */
    cr_expect_eq(run(s, "0.5", NULL), 0);
    cr_expect_eq(run(s, "1e308", NULL), -1); /* overflow: decided exactly, as Fraction */
    herald_jsonschema_free(s);
    s = compile("{\"multipleOf\":3}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "9223372036854775806", NULL), 0);
    cr_expect_eq(run(s, "9223372036854775807", NULL), -1);
    cr_expect_eq(run(s, "4.5", NULL), -1);
    cr_expect_eq(run(s, "6.0", NULL), 0);
    herald_jsonschema_free(s);
    /* integers compared exactly, not through doubles */
    s = compile("{\"maximum\":9007199254740992}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "9007199254740993", NULL), -1);
    cr_expect_eq(run(s, "9007199254740992.0", NULL), 0);
    herald_jsonschema_free(s);
    s = compile("{\"type\":\"integer\",\"const\":1}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "1.0", NULL), 0);
    cr_expect_eq(run(s, "true", NULL), -1);
    herald_jsonschema_free(s);
}

Test(jsonschema, strings_and_regexes)
{
    herald_jsonschema *s = compile("{\"minLength\":2,\"maxLength\":2}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "\"\\ud83d\\udca9\\u00e9\"", NULL), 0); /* 2 code points, 6 bytes */
    cr_expect_eq(run(s, "\"\\ud83d\\udca9\"", NULL), -1);
    herald_jsonschema_free(s);
    /* ECMA-262: \d is ASCII, \s includes U+00A0 and U+FEFF, $ only at the very end */
    s = compile("{\"pattern\":\"^\\\\d\\\\s$\"}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "\"1\\u00a0\"", NULL), 0);
    cr_expect_eq(run(s, "\"1\\ufeff\"", NULL), 0);
    cr_expect_eq(run(s, "\"\\u0661 \"", NULL), -1);
    cr_expect_eq(run(s, "\"1 \\n\"", NULL), -1);
    herald_jsonschema_free(s);
    s = compile("{\"pattern\":\"\\\\u00e9\\\\p{Letter}\"}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "\"x\\u00e9\\u00e0\"", NULL), 0);
    herald_jsonschema_free(s);
}

/* Validating 'inst' against 'schema' is stopped by a bound: one error, saying 'why'. */
static void
expect_aborted(const char *schema, const char *inst, const char *why)
{
    herald_jsonschema *s = compile(schema, HERALD_JSONSCHEMA_DEFAULT);
    herald_jsonschema_errors e = HERALD_JSONSCHEMA_ERRORS_INIT;
    cr_expect_eq(run(s, inst, &e), -1);
    cr_assert_eq(e.n, 1);
    cr_expect(strstr(e.v[0].description, why) != NULL, "%s", e.v[0].description);
    herald_jsonschema_errors_free(&e);
    herald_jsonschema_free(s);
}

/* A catastrophic regular expression and exponential applicators end as errors. */
Test(jsonschema, bounded_cost, .timeout = 20)
{
    char inst[128];
    memset(inst, 'a', sizeof(inst));
    inst[0] = '"';
    inst[100] = '!';
    inst[101] = '"';
    inst[102] = '\0';
    expect_aborted("{\"pattern\":\"^(a+)+$\"}", inst, "match limit");

    /* 2^40 paths through anyOf: stopped by the step budget */
    char text[4096];
    size_t n = (size_t)sprintf(text, "{\"$defs\":{");
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(text + n,
                             "\"d%d\":{\"anyOf\":[{\"$ref\":\"#/$defs/d%d\"},{\"$ref\":"
                             "\"#/$defs/d%d\"}]},",
                             i, i + 1, i + 1);
    n += (size_t)sprintf(text + n, "\"d40\":false},\"$ref\":\"#/$defs/d0\"}");
    expect_aborted(text, "1", "budget");

    /* infinite recursion on the same instance */
    expect_aborted("{\"$ref\":\"#\"}", "1", "recursion");
    /* not cannot turn an abort into success */
    herald_jsonschema *s = compile("{\"not\":{\"$ref\":\"#\"}}", HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "1", NULL), -1);
    herald_jsonschema_free(s);
}

/* Many successful matches each just under PCRE2's per-match limit (the first alternative
 * backtracks 2^18 times before the second matches) are stopped by the validation's regex
 * budget; as many cheap matches still validate. Matches must succeed: a failing item would
 * end the walk at the first error. */
Test(jsonschema, regex_budget, .timeout = 60)
{
    enum { N = 2000 };
    const char *costly = "\"aaaaaaaaaaaaaaaaaab\""; /* 18 a's */
    const char *cheap = "\"aaaaaaaaaaaaaaaaaaa\"";
    const char *schema = "{\"items\":{\"pattern\":\"^(?:(a+)+$|a+b$)\"}}";
    size_t len = strlen(costly) + 1;
    char *inst = malloc(N * len + 3);
    cr_assert(inst);
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        inst[n++] = '[';
        for (int i = 0; i < N; i++) {
            memcpy(inst + n, pass ? cheap : costly, len - 1);
            n += len - 1;
            inst[n++] = i + 1 < N ? ',' : ']';
        }
        inst[n] = '\0';
        if (pass == 0) {
            expect_aborted(schema, inst, "match limit");
        } else {
            herald_jsonschema *s = compile(schema, HERALD_JSONSCHEMA_DEFAULT);
            cr_expect_eq(run(s, inst, NULL), 0);
            herald_jsonschema_free(s);
        }
    }
    free(inst);
}

Test(jsonschema, unevaluated_and_dynamic)
{
    herald_jsonschema *s =
        compile("{\"properties\":{\"a\":true},\"anyOf\":[{\"properties\":{\"b\":true}},"
                "{\"properties\":{\"c\":true}}],\"unevaluatedProperties\":false}",
                HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "{\"a\":1,\"b\":2,\"c\":3}", NULL), 0);
    herald_jsonschema_errors e = HERALD_JSONSCHEMA_ERRORS_INIT;
    cr_expect_eq(run(s, "{\"a\":1,\"d\":2}", &e), -1);
    cr_assert_eq(e.n, 1);
    cr_expect_str_eq(e.v[0].description,
                     "Unevaluated properties are not allowed ('d' was unexpected)");
    herald_jsonschema_errors_free(&e);
    herald_jsonschema_free(s);
    s = compile("{\"$id\":\"https://example.com/list\",\"$dynamicAnchor\":\"item\","
                "\"$defs\":{\"strict\":{\"$id\":\"strict\",\"$dynamicAnchor\":\"item\",\"type\":"
                "\"string\"}},\"type\":\"array\",\"items\":{\"$dynamicRef\":\"#item\"}}",
                HERALD_JSONSCHEMA_DEFAULT);
    cr_expect_eq(run(s, "[[[]]]", NULL), 0);
    cr_expect_eq(run(s, "[1]", NULL), -1);
    herald_jsonschema_free(s);
}

/* The compiled object is immutable: validations on it may run side by side. */
Test(jsonschema, free_null)
{
    herald_jsonschema_free(NULL);
    herald_jsonschema_errors_free(NULL);
}
