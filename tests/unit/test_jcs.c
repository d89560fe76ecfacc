/*
 * test_jcs -- canonical JSON (RFC 8785) and strict I-JSON parsing.
 *
 * Known-answer tables first: RFC 8785's own examples, its Appendix B IEEE-754 values,
 * and the powers of two whose shortest form is not printf's correctly rounded one (all
 * expected strings were confirmed against V8's Number.prototype.toString). Then strict
 * parsing: every I-JSON rule has a rejection case and a boundary acceptance case.
 *
 * Last, differential fuzzing in the style of rax's tests: random jansson trees (nested
 * containers, strings over the awkward parts of Unicode, doubles from random bit
 * patterns) are dumped, re-parsed and dumped again, and checked against deliberately
 * naive reference implementations (UTF-16 key order through an explicit conversion, a
 * one-character-at-a-time escaper, strtod for numbers). Fixed seeds keep failures
 * reproducible; the seed and iteration are in every failure message.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "test_util.h"

/* Canonical form of 'v' as a malloc'd string (free() it). */
static char *
dump(const json_t *v)
{
    herald_buf b = HERALD_BUF_INIT;
    cr_assert_eq(herald_jcs_dump(&b, v), 0);
    return herald_buf_steal(&b, NULL);
}

/* Parses 'text' ('flags') and returns its canonical form (free() it). */
static char *
canon(const char *text, int flags)
{
    char err[160];
    json_t *v = herald_jcs_parse(text, strlen(text), flags, 0, err, sizeof(err));
    cr_assert_not_null(v, "parse '%s': %s", text, err);
    char *s = dump(v);
    json_decref(v);
    return s;
}

/* Asserts that 'text' parsed with 'flags' has the canonical form 'want'. */
static void
assert_canon(const char *text, int flags, const char *want)
{
    char *got = canon(text, flags);
    cr_assert_str_eq(got, want);
    free(got);
}

static double
from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* ---- RFC 8785 examples --------------------------------------------------------------- */

Test(jcs, rfc8785_sample)
{
    /* Section 3.2.2, byte for byte. */
    const char *in = "{\n"
                     "  \"numbers\": [333333333.33333329, 1E30, 4.50,\n"
                     "                2e-3, 0.000000000000000000000000001],\n"
                     "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
                     "  \"literals\": [null, true, false]\n"
                     "}";
    const char *want = "{\"literals\":[null,true,false],"
                       "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
                       "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_canon(in, HERALD_JCS_STRICT, want);
    assert_canon(in, 0, want);
}

Test(jcs, rfc8785_key_sorting)
{
    /* Section 3.2.3. */
    const char *in = "{\n"
                     "  \"\\u20ac\": \"Euro Sign\",\n"
                     "  \"\\r\": \"Carriage Return\",\n"
                     "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
                     "  \"1\": \"One\",\n"
                     "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
                     "  \"\\u0080\": \"Control\",\n"
                     "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
                     "}";
    const char *want = "{\"\\r\":\"Carriage Return\","
                       "\"1\":\"One\","
                       "\"\xc2\x80\":\"Control\","
                       "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
                       "\"\xe2\x82\xac\":\"Euro Sign\","
                       "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
                       "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_canon(in, HERALD_JCS_STRICT, want);
}

Test(jcs, key_sorting_edges)
{
    /* Prefixes first; U+FFFF after every supplementary character; U+D7FF before them. */
    const char *in = "{\"ab\":1,\"a\":2,\"\":3,\"\\uffff\":4,\"\\udbff\\udfff\":5,"
                     "\"\\ud800\\udc00\":6,\"\\ud7ff\":7,\"\\ue000\":8,\"b\":9,\"B\":10}";
    const char *want = "{\"\":3,\"B\":10,\"a\":2,\"ab\":1,\"b\":9,"
                       "\"\xed\x9f\xbf\":7,\"\xf0\x90\x80\x80\":6,\"\xf4\x8f\xbf\xbf\":5,"
                       "\"\xee\x80\x80\":8,\"\xef\xbf\xbf\":4}";
    assert_canon(in, HERALD_JCS_STRICT, want);
}

/* ---- numbers ----------------------------------------------------------------------- */

Test(jcs, number_values)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "0"},
        {1.0, "1"},
        {-1.0, "-1"},
        {1e21, "1e+21"},
        {1e-7, "1e-7"},
        {1e-6, "0.000001"},
        {1.5e-6, "0.0000015"},
        {0.1, "0.1"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {1.2345678901234568e20, "123456789012345680000"},
        {4.5, "4.5"},
        {-1.5e-9, "-1.5e-9"},
        {9007199254740991.0, "9007199254740991"},
        {9007199254740992.0, "9007199254740992"},
        {9007199254740994.0, "9007199254740994"},
        {1e20, "100000000000000000000"},
        {1e16, "10000000000000000"},
        {123e18, "123000000000000000000"},
        {1e23, "1e+23"},
        {-1e-300, "-1e-300"},
        {1.25e22, "1.25e+22"},
        {100.0, "100"},
        {1234.5678, "1234.5678"},
        {0.000123, "0.000123"},
        {2.5e-7, "2.5e-7"},
        {1.7976931348623157e308 / 1e308, "1.7976931348623157"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {1625097600000.0, "1625097600000"},
        {-9007199254740991.0, "-9007199254740991"},
        {333333333.33333329, "333333333.3333333"},
    };
    char out[32];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int n = herald_jcs_number(out, cases[i].d);
        cr_expect_str_eq(out, cases[i].want, "case %zu (%.17g)", i, cases[i].d);
        cr_expect_eq(n, (int)strlen(cases[i].want), "case %zu", i);
    }
}

Test(jcs, number_ieee_bits)
{
    /* RFC 8785 Appendix B, then powers of two where printf's correctly rounded
     * shortest-length digits do not round-trip and the neighbour on the other side
     * does. Every string confirmed against V8 (node -e 'String(x)'). */
    static const struct {
        uint64_t bits;
        const char *want;
    } cases[] = {
        {0x0000000000000000, "0"},
        {0x8000000000000000, "0"},
        {0x0000000000000001, "5e-324"},
        {0x8000000000000001, "-5e-324"},
        {0x7fefffffffffffff, "1.7976931348623157e+308"},
        {0xffefffffffffffff, "-1.7976931348623157e+308"},
        {0x4340000000000000, "9007199254740992"},
        {0xc340000000000000, "-9007199254740992"},
        {0x4430000000000000, "295147905179352830000"},
        {0x44b52d02c7e14af5, "9.999999999999997e+22"},
        {0x44b52d02c7e14af6, "1e+23"},
        {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
        {0x444b1ae4d6e2ef4e, "999999999999999700000"},
        {0x444b1ae4d6e2ef4f, "999999999999999900000"},
        {0x444b1ae4d6e2ef50, "1e+21"},
        {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
        {0x3eb0c6f7a0b5ed8d, "0.000001"},
        {0x41b3de4355555553, "333333333.3333332"},
        {0x41b3de4355555554, "333333333.33333325"},
        {0x41b3de4355555555, "333333333.3333333"},
        {0x41b3de4355555556, "333333333.3333334"},
        {0x41b3de4355555557, "333333333.33333343"},
        {0xbecbf647612f3696, "-0.0000033333333333333333"},
        {0x43143ff3c1cb0959, "1424953923781206.2"},
        /* neighbour cases */
        {0x0060000000000000, "7.120236347223045e-307"},
        {0x0100000000000000, "7.291122019556398e-304"},
        {0x2020000000000000, "5.966672584960166e-154"},
        {0x4580000000000000, "6.189700196426902e+26"},
        {0x4790000000000000, "5.316911983139664e+36"},
        {0x7cf0000000000000, "6.386688990511104e+293"},
    };
    char out[32];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        herald_jcs_number(out, from_bits(cases[i].bits));
        cr_expect_str_eq(out, cases[i].want, "bits %016llx", (unsigned long long)cases[i].bits);
    }
}

Test(jcs, number_non_finite)
{
    char out[32];
    cr_assert_eq(herald_jcs_number(out, NAN), -1);
    cr_assert_eq(herald_jcs_number(out, INFINITY), -1);
    cr_assert_eq(herald_jcs_number(out, -INFINITY), -1);
    cr_assert_eq(herald_jcs_number(out, from_bits(0x7ff0000000000001)), -1);
}

Test(jcs, number_longest_fits)
{
    /* The longest forms: 17 digits with a 3-digit exponent, and 0.00000ddd. */
    static const double cases[] = {-2.2250738585072014e-308, -1.2345678901234567e-300,
                                   -1.2345678901234567e-6, -1.2345678901234567e20,
                                   -9.999999999999999e20};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char out[32];
        memset(out, 'x', sizeof(out));
        int n = herald_jcs_number(out, cases[i]);
        cr_assert(n > 0 && n < 32 && out[n] == '\0', "%.17g: %d", cases[i], n);
        cr_assert_eq(strtod(out, NULL), cases[i], "%s", out);
    }
}

Test(jcs, parsed_numbers)
{
    /* Text in, canonical text out, both modes where the input is I-JSON. */
    static const struct {
        const char *in;
        const char *want;
        int strict_ok;
    } cases[] = {
        {"0", "0", 1},
        {"-0", "0", 1},
        {"-0.0", "0", 1},
        {"1E30", "1e+30", 1},
        {"4.50", "4.5", 1},
        {"2e-3", "0.002", 1},
        {"1e20", "100000000000000000000", 1},
        {"100000000000000000000", "100000000000000000000", 0},
        {"1e21", "1e+21", 1},
        {"1.0", "1", 1},
        {"9007199254740991", "9007199254740991", 1},
        {"-9007199254740991", "-9007199254740991", 1},
        {"9007199254740992", "9007199254740992", 0},
        {"9007199254740993", "9007199254740992", 0},
        {"9223372036854775807", "9223372036854776000", 0},
        {"123456789012345678901234567890", "1.2345678901234568e+29", 0},
        {"1e-400", "0", 1},
        {"[1,2.5,-3e2]", "[1,2.5,-300]", 1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *got = canon(cases[i].in, 0);
        cr_expect_str_eq(got, cases[i].want, "non-strict '%s'", cases[i].in);
        /* Idempotent through a non-strict re-parse. */
        char *again = canon(got, 0);
        cr_expect_str_eq(again, got, "re-parse of '%s'", got);
        free(again);
        free(got);
        char err[160];
        json_t *v = herald_jcs_parse(cases[i].in, strlen(cases[i].in), HERALD_JCS_STRICT, 0, err,
                                     sizeof(err));
        cr_expect_eq(v != NULL, cases[i].strict_ok, "strict '%s': %s", cases[i].in, err);
        if (v) {
            got = dump(v);
            cr_expect_str_eq(got, cases[i].want, "strict '%s'", cases[i].in);
            free(got);
        }
        json_decref(v);
    }
}

Test(jcs, integer_values)
{
    /* A json_integer beyond 2^53 prints as the double it rounds to, like ECMAScript. */
    static const struct {
        json_int_t i;
        const char *want;
    } cases[] = {
        {0, "0"},
        {-1, "-1"},
        {9007199254740991LL, "9007199254740991"},
        {-9007199254740991LL, "-9007199254740991"},
        {9007199254740993LL, "9007199254740992"},
        {INT64_MAX, "9223372036854776000"},
        {INT64_MIN, "-9223372036854776000"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_t *v = json_integer(cases[i].i);
        char *got = dump(v);
        cr_expect_str_eq(got, cases[i].want, "%lld", (long long)cases[i].i);
        free(got);
        json_decref(v);
    }
}

/* ---- strings ----------------------------------------------------------------------- */

Test(jcs, string_escapes)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"\x00", 1, "\"\\u0000\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""},
        {"\x0b\x1b", 2, "\"\\u000b\\u001b\""},
        {"\"\\/", 3, "\"\\\"\\\\/\""},
        {"\x7f", 1, "\"\x7f\""},
        {"\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\xe2\x80\xa8\xe2\x80\xa9\""},
        {"a\nb\"c", 5, "\"a\\nb\\\"c\""},
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        herald_buf b = HERALD_BUF_INIT;
        herald_jcs_string(&b, cases[i].in, cases[i].len);
        cr_expect_eq(b.len, strlen(cases[i].want), "case %zu", i);
        cr_expect_str_eq(herald_buf_cstr(&b), cases[i].want, "case %zu", i);
        herald_buf_free(&b);
    }
}

/* ---- strict parsing ---------------------------------------------------------------- */

Test(jcs, strict_rejections)
{
    static const struct {
        const char *in;
        size_t len;         /* 0: strlen */
        const char *reason; /* a substring of the error */
    } cases[] = {
        {"{\"id\":1,\"id\":2}", 0, "duplicate object key"},
        {"{\"a\":{\"b\":1,\"b\":1}}", 0, "duplicate object key"},
        {"\"a\\u0000b\"", 0, "\\u0000 is not allowed"},
        {"{\"\\u0000\":1}", 0, "NUL byte in object key"},
        {"9007199254740992", 0, "integer 9007199254740992 outside +-(2^53-1) at ''"},
        {"-9007199254740992", 0, "integer -9007199254740992 outside"},
        {"{\"a\":[0,{\"b/c~\":9007199254740992}]}", 0, "at '/a/1/b~1c~0'"},
        {"99999999999999999999", 0, "too big integer"},
        {"1e400", 0, "real number overflow"},
        {"-1e400", 0, "real number overflow"},
        {"\"\xff\"", 0, "unable to decode byte"},
        {"\"\xc0\xaf\"", 0, "unable to decode byte"},
        {"\"\xed\xa0\x80\"", 0, "unable to decode byte"},
        {"\"\xf4\x90\x80\x80\"", 0, "unable to decode byte"},
        {"\"\\ud800\"", 0, "invalid Unicode"},
        {"\"\\udc00\"", 0, "invalid Unicode"},
        {"\"\\ud800\\u0041\"", 0, "invalid Unicode"},
        {"{\"\xff\":1}", 0, "unable to decode byte"},
        {"{} x", 0, "end of file expected"},
        {"[1]]", 0, "end of file expected"},
        {"1 2", 0, "end of file expected"},
        {"", 0, "end of file"},
        {"NaN", 0, "invalid token"},
        {"Infinity", 0, "invalid token"},
        {"[1,]", 0, "unexpected token"},
        {"\"a\tb\"", 0, "control character"},
        {"[1]\0", 4, "end of file expected"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[160] = "unset";
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        json_t *v = herald_jcs_parse(cases[i].in, len, HERALD_JCS_STRICT, 0, err, sizeof(err));
        cr_expect_null(v, "case %zu accepted", i);
        json_decref(v);
        cr_expect(strstr(err, cases[i].reason) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                  cases[i].reason);
        cr_expect(strchr(err, '\n') == NULL, "case %zu: '%s'", i, err);
    }
}

Test(jcs, error_position)
{
    char err[160];
    const char *in = "{\"id\": 1, \"id\": 2}";
    json_t *v = herald_jcs_parse(in, strlen(in), HERALD_JCS_STRICT, 0, err, sizeof(err));
    cr_assert_null(v);
    cr_assert_str_eq(err, "duplicate object key near '\"id\"' at line 1 column 14");
    /* Truncated, NUL-terminated, and errlen 0 is allowed. */
    char small[8];
    v = herald_jcs_parse(in, strlen(in), HERALD_JCS_STRICT, 0, small, sizeof(small));
    cr_assert_null(v);
    cr_assert_eq(strlen(small), sizeof(small) - 1);
    v = herald_jcs_parse(in, strlen(in), HERALD_JCS_STRICT, 0, NULL, 0);
    cr_assert_null(v);
    /* A raw newline in jansson's excerpt does not break the one-line promise. */
    v = herald_jcs_parse("\"a\nb\"", 5, HERALD_JCS_STRICT, 0, err, sizeof(err));
    cr_assert_null(v);
    cr_assert(strchr(err, '\n') == NULL, "%s", err);
}

/* Builds 'depth' nested arrays (or objects) around 0. */
static char *
nested(int depth, int objects)
{
    herald_buf b = HERALD_BUF_INIT;
    for (int i = 0; i < depth; i++)
        herald_buf_puts(&b, objects ? "{\"k\":" : "[");
    herald_buf_putc(&b, '0');
    for (int i = 0; i < depth; i++)
        herald_buf_putc(&b, objects ? '}' : ']');
    return herald_buf_steal(&b, NULL);
}

Test(jcs, strict_depth)
{
    static const struct {
        int depth, max_depth, objects, ok;
    } cases[] = {
        {64, 0, 0, 1}, {65, 0, 0, 0},     {64, 0, 1, 1},      {65, 0, 1, 0},
        {1, 1, 0, 1},  {2, 1, 1, 0},      {3, 3, 0, 1},       {4, 3, 0, 0},
        {0, 1, 0, 1},  {500, 1000, 0, 1}, {3000, 5000, 0, 0}, /* jansson's own limit is 2048 */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[160] = "";
        char *text = nested(cases[i].depth, cases[i].objects);
        json_t *v = herald_jcs_parse(text, strlen(text), HERALD_JCS_STRICT, cases[i].max_depth, err,
                                     sizeof(err));
        cr_expect_eq(v != NULL, cases[i].ok, "case %zu: %s", i, err);
        if (!cases[i].ok && cases[i].depth < 2048)
            cr_expect(strstr(err, "nesting deeper than") != NULL, "case %zu: %s", i, err);
        json_decref(v);
        free(text);
    }
    /* Non-strict parsing (Herald's own stored data) has no depth check of its own. */
    char *text = nested(100, 0);
    json_t *v = herald_jcs_parse(text, strlen(text), 0, 0, NULL, 0);
    cr_expect_not_null(v);
    json_decref(v);
    free(text);
}

Test(jcs, strict_accepts)
{
    static const char *const cases[] = {
        "null",
        "true",
        "\"\"",
        "[]",
        "{}",
        "{\"\":\"\"}",
        "[9007199254740991,-9007199254740991,1.5e300,-0]",
        "\"\\ud83d\\ude00\xf0\x9f\x98\x80\"",
        " \r\n\t{ \"a\" : [ ] } \n",
        "{\"a\":1,\"A\":2}",
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[160] = "";
        json_t *v =
            herald_jcs_parse(cases[i], strlen(cases[i]), HERALD_JCS_STRICT, 0, err, sizeof(err));
        cr_expect_not_null(v, "'%s': %s", cases[i], err);
        json_decref(v);
    }
    /* Not NUL-terminated: only 'len' bytes are read. */
    json_t *v = herald_jcs_parse("[1]garbage", 3, HERALD_JCS_STRICT, 0, NULL, 0);
    cr_expect_not_null(v);
    json_decref(v);
}

Test(jcs, non_strict_mode)
{
    /* Non-strict reads every number as a real; duplicates are not checked. */
    json_t *v = herald_jcs_parse("{\"n\":5,\"big\":100000000000000000000}", 35, 0, 0, NULL, 0);
    cr_assert_not_null(v);
    cr_assert(json_is_real(json_object_get(v, "n")));
    cr_assert_eq(json_number_value(json_object_get(v, "n")), 5.0);
    cr_assert_eq(json_number_value(json_object_get(v, "big")), 1e20);
    json_decref(v);
    /* Still refuses what no Herald dump produces. */
    cr_assert_null(herald_jcs_parse("\"\\u0000\"", 8, 0, 0, NULL, 0));
    cr_assert_null(herald_jcs_parse("\"\xff\"", 3, 0, 0, NULL, 0));
    cr_assert_null(herald_jcs_parse("1e400", 5, 0, 0, NULL, 0));
}

Test(jcs, dump_errors)
{
    herald_buf b = HERALD_BUF_INIT;
    cr_assert_eq(herald_jcs_dump(&b, NULL), -1);
    /* jansson refuses to build non-finite reals, so that -1 cannot be reached through
     * its API: json_real(NAN) is NULL. */
    cr_assert_null(json_real(NAN));
    herald_buf_free(&b);
}

/* ---- kerror (its body is written with jcs) ----------------------------------------- */

Test(kerror, body)
{
    herald_buf b = HERALD_BUF_INIT;
    herald_kerror_body(&b, 404, HERALD_ERRNO_MISSING_RESOURCE, "The resource was not found", NULL);
    cr_assert_str_eq(herald_buf_cstr(&b), "{\"code\":404,\"errno\":111,\"error\":\"Not Found\","
                                          "\"message\":\"The resource was not found\"}");
    herald_buf_reset(&b);
    json_t *details = json_pack("{s:s,s:s}", "location", "body", "name", "data");
    herald_kerror_body(&b, 400, HERALD_ERRNO_INVALID_PARAMETERS, "data is \"missing\"", details);
    cr_assert_str_eq(herald_buf_cstr(&b),
                     "{\"code\":400,\"details\":{\"location\":\"body\",\"name\":\"data\"},"
                     "\"errno\":107,\"error\":\"Bad Request\",\"message\":\"data is "
                     "\\\"missing\\\"\"}");
    cr_assert_eq(details->refcount, 1);
    json_decref(details);
    herald_buf_reset(&b);
    herald_kerror_body(&b, 599, HERALD_ERRNO_UNDEFINED, NULL, NULL);
    cr_assert_str_eq(herald_buf_cstr(&b), "{\"code\":599,\"errno\":999,\"error\":\"Unknown\","
                                          "\"message\":\"Unknown\"}");
    /* Bodies are I-JSON and already canonical. */
    char err[160];
    json_t *v = herald_jcs_parse(b.data, b.len, HERALD_JCS_STRICT, 0, err, sizeof(err));
    cr_assert_not_null(v, "%s", err);
    char *again = dump(v);
    cr_assert_str_eq(again, herald_buf_cstr(&b));
    free(again);
    json_decref(v);
    herald_buf_free(&b);
}

Test(kerror, reasons)
{
    static const struct {
        int status;
        const char *reason;
    } cases[] = {
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {409, "Conflict"},
        {410, "Gone"},
        {412, "Precondition Failed"},
        {413, "Request Entity Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
        {0, "Unknown"},
        {299, "Unknown"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        cr_expect_str_eq(herald_kerror_reason(cases[i].status), cases[i].reason, "%d",
                         cases[i].status);
}

/* ---- differential fuzzing ---------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
    /* xorshift64*: fast, good enough, reproducible from the seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint32_t
rnd(uint32_t n)
{
    return (uint32_t)(rng() % n);
}

/* A code point from the awkward parts of Unicode (never NUL: no Herald data has it). */
static uint32_t
random_code_point(void)
{
    static const uint32_t edges[] = {0x01,   0x08,   0x09,    0x0a,    0x0c,     0x0d,
                                     0x1f,   0x20,   '"',     '\\',    '/',      0x7f,
                                     0x80,   0x7ff,  0x800,   0xd7ff,  0xe000,   0xfb33,
                                     0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff, 0x2028};
    uint32_t cp;
    switch (rnd(6)) {
    case 0:
        return edges[rnd(ARRAY_LEN(edges))];
    case 1:
        return 1 + rnd(0x7f);
    case 2:
        return 'a' + rnd(3); /* few letters: shared prefixes in keys */
    case 3:
        return 0x80 + rnd(0x800 - 0x80);
    case 4:
        do
            cp = 0x800 + rnd(0x10000 - 0x800);
        while (cp >= 0xd800 && cp <= 0xdfff);
        return cp;
    default:
        return 0x10000 + rnd(0x110000 - 0x10000);
    }
}

static size_t
utf8_put(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xe0 | cp >> 12);
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (char)(0xf0 | cp >> 18);
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    p[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Random valid UTF-8 of up to 'max' code points into 'buf' (>= 4*max bytes). */
static size_t
random_utf8(char *buf, uint32_t max)
{
    size_t len = 0;
    uint32_t n = rnd(max + 1);
    for (uint32_t i = 0; i < n; i++)
        len += utf8_put(buf + len, random_code_point());
    return len;
}

static double
random_double(void)
{
    double d;
    switch (rnd(4)) {
    case 0:
        do
            d = from_bits(rng());
        while (!isfinite(d));
        return d;
    case 1: /* integral, sometimes beyond 2^53 and beyond 1e21 */
        return (double)(int64_t)(rng() >> rnd(64)) * (rnd(4) ? 1 : 1e10);
    case 2: /* short decimals */
        return ((double)rnd(2000001) - 1e6) / pow(10, rnd(12));
    default:
        return ldexp((double)rnd(1u << 20), (int)rnd(200) - 100);
    }
}

static json_t *
random_value(int depth)
{
    char buf[4 * 16];
    int kind = (int)rnd(depth > 0 ? 10 : 7);
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd(2));
    case 2:
    case 3: {
        size_t len = random_utf8(buf, 16);
        return json_stringn(buf, len);
    }
    case 4:
        return json_real(random_double());
    case 5:
        return json_integer((json_int_t)(rng() >> rnd(64)) * (rnd(2) ? 1 : -1));
    case 6:
        return json_integer((json_int_t)rnd(100000));
    case 7: {
        json_t *a = json_array();
        for (uint32_t n = rnd(6); n > 0; n--)
            json_array_append_new(a, random_value(depth - 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t n = rnd(8); n > 0; n--) {
            size_t len = random_utf8(buf, 3);
            json_object_setn_new(o, buf, len, random_value(depth - 1));
        }
        return o;
    }
    }
}

/* Reference key order: convert to UTF-16 code units, compare lexicographically. */
static size_t
to_utf16(const char *s, size_t len, uint16_t *out)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        if (p[i] < 0x80) {
            cp = p[i];
            i += 1;
        } else if (p[i] < 0xe0) {
            cp = (uint32_t)(p[i] & 0x1f) << 6 | (p[i + 1] & 0x3f);
            i += 2;
        } else if (p[i] < 0xf0) {
            cp = (uint32_t)(p[i] & 0x0f) << 12 | (uint32_t)(p[i + 1] & 0x3f) << 6 |
                 (p[i + 2] & 0x3f);
            i += 3;
        } else {
            cp = (uint32_t)(p[i] & 0x07) << 18 | (uint32_t)(p[i + 1] & 0x3f) << 12 |
                 (uint32_t)(p[i + 2] & 0x3f) << 6 | (p[i + 3] & 0x3f);
            i += 4;
        }
        if (cp >= 0x10000) {
            out[n++] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
            out[n++] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
            out[n++] = (uint16_t)cp;
        }
    }
    return n;
}

static int
ref_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    uint16_t ua[64], ub[64];
    size_t na = to_utf16(a, alen, ua), nb = to_utf16(b, blen, ub);
    for (size_t i = 0; i < na && i < nb; i++)
        if (ua[i] != ub[i])
            return ua[i] < ub[i] ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

/* Reference escaper: one character at a time, no cleverness. */
static void
ref_string(herald_buf *out, const char *s, size_t len)
{
    herald_buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            herald_buf_puts(out, "\\\"");
        else if (c == '\\')
            herald_buf_puts(out, "\\\\");
        else if (c == '\b')
            herald_buf_puts(out, "\\b");
        else if (c == '\f')
            herald_buf_puts(out, "\\f");
        else if (c == '\n')
            herald_buf_puts(out, "\\n");
        else if (c == '\r')
            herald_buf_puts(out, "\\r");
        else if (c == '\t')
            herald_buf_puts(out, "\\t");
        else if (c < 0x20)
            herald_buf_printf(out, "\\u%04x", c);
        else
            herald_buf_putc(out, (char)c);
    }
    herald_buf_putc(out, '"');
}

/* Checks that 'parsed' (re-read from the canonical text) equals 'orig' with numbers
 * compared as doubles, and that its keys appear in reference UTF-16 order. Strings and
 * keys are also compared against the reference escaper. Returns a reason or NULL. */
static const char *
check_tree(const json_t *orig, const json_t *parsed)
{
    if (json_is_number(orig)) {
        if (!json_is_number(parsed))
            return "number type";
        double want = json_number_value(orig);
        if (json_is_integer(orig))
            want = (double)json_integer_value(orig);
        char num[32];
        herald_jcs_number(num, want);
        if (strtod(num, NULL) != want)
            return "number does not strtod back";
        return json_number_value(parsed) == want ? NULL : "number value";
    }
    if (json_typeof(orig) != json_typeof(parsed))
        return "type";
    if (json_is_string(orig)) {
        herald_buf a = HERALD_BUF_INIT, b = HERALD_BUF_INIT;
        herald_jcs_string(&a, json_string_value(orig), json_string_length(orig));
        ref_string(&b, json_string_value(orig), json_string_length(orig));
        int same = a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        herald_buf_free(&a);
        herald_buf_free(&b);
        if (!same)
            return "escaping differs from reference";
        return json_equal(orig, parsed) ? NULL : "string value";
    }
    if (json_is_array(orig)) {
        if (json_array_size(orig) != json_array_size(parsed))
            return "array size";
        for (size_t i = 0; i < json_array_size(orig); i++) {
            const char *r = check_tree(json_array_get(orig, i), json_array_get(parsed, i));
            if (r)
                return r;
        }
        return NULL;
    }
    if (json_is_object(orig)) {
        if (json_object_size(orig) != json_object_size(parsed))
            return "object size";
        const char *prev = NULL;
        size_t prev_len = 0;
        /* jansson keeps keys in document order: the canonical order. */
        for (void *it = json_object_iter((json_t *)parsed); it;
             it = json_object_iter_next((json_t *)parsed, it)) {
            const char *k = json_object_iter_key(it);
            size_t klen = json_object_iter_key_len(it);
            if (prev && ref_key_cmp(prev, prev_len, k, klen) >= 0)
                return "key order";
            prev = k;
            prev_len = klen;
            const char *r = check_tree(json_object_getn(orig, k, klen), json_object_iter_value(it));
            if (r)
                return r;
        }
        return NULL;
    }
    return NULL; /* null, true, false: the type said it all */
}

Test(jcs_fuzz, dump_reparse_roundtrip, .timeout = 120)
{
    const uint64_t seed = 0x4845524c4430ULL;
    rng_state = seed;
    for (int iter = 0; iter < 20000; iter++) {
        json_t *orig = random_value((int)rnd(5));
        char *a = dump(orig);
        char err[160] = "";
        json_t *parsed = herald_jcs_parse(a, strlen(a), 0, 0, err, sizeof(err));
        cr_assert_not_null(parsed, "seed %llx iter %d: '%s': %s", (unsigned long long)seed, iter, a,
                           err);
        char *b = dump(parsed);
        cr_assert_str_eq(b, a, "seed %llx iter %d: not idempotent", (unsigned long long)seed, iter);
        const char *why = check_tree(orig, parsed);
        cr_assert_null(why, "seed %llx iter %d: %s in '%s'", (unsigned long long)seed, iter, why,
                       a);
        free(a);
        free(b);
        json_decref(orig);
        json_decref(parsed);
    }
}

Test(jcs_fuzz, numbers_shortest_roundtrip, .timeout = 120)
{
    const uint64_t seed = 0x6e756d62657273ULL;
    rng_state = seed;
    for (int iter = 0; iter < 200000; iter++) {
        double d = random_double();
        char out[32], shorter[40];
        int n = herald_jcs_number(out, d);
        cr_assert(n > 0 && n < 32, "%.17g", d);
        cr_assert_eq(strtod(out, NULL), d == 0 ? 0 : d, "%.17g -> %s", d, out);
        /* Count significant digits; the correctly rounded form with one fewer must not
         * round-trip (a necessary condition for "shortest"). */
        int digits = 0, seen = 0, zeros = 0;
        for (const char *p = out; *p && *p != 'e'; p++) {
            if (*p < '0' || *p > '9')
                continue;
            if (*p == '0' && !seen)
                continue;
            seen = 1;
            digits++;
            zeros = *p == '0' ? zeros + 1 : 0;
        }
        /* Trailing zeros of an integer form ("1e20" prints 21 digits) are not significant. */
        if (!strchr(out, '.') && !strchr(out, 'e'))
            digits -= zeros;
        if (digits > 1) {
            snprintf(shorter, sizeof(shorter), "%.*e", digits - 2, d);
            cr_assert_neq(strtod(shorter, NULL), d, "%s is not shortest (%s)", out, shorter);
        }
    }
}

Test(jcs_fuzz, strict_parse_mutations, .timeout = 120)
{
    /* Corrupted canonical text through the strict parser: no crash, no leak, and
     * whatever it accepts dumps and re-parses to the same canonical bytes. */
    const uint64_t seed = 0x6d7574617465ULL;
    static const char noise[] = "{}[]\",:\\0123456789eE+-.ntfu \xff\xc0\xed\xf0\x80\xbf";
    rng_state = seed;
    for (int iter = 0; iter < 20000; iter++) {
        json_t *orig = random_value(3);
        char *text = dump(orig);
        size_t len = strlen(text);
        for (uint32_t m = 1 + rnd(3); m > 0 && len > 0; m--)
            text[rnd((uint32_t)len)] = noise[rnd(sizeof(noise) - 1)];
        char err[160];
        json_t *v = herald_jcs_parse(text, len, HERALD_JCS_STRICT, 4, err, sizeof(err));
        if (v) {
            char *a = dump(v);
            json_t *w = herald_jcs_parse(a, strlen(a), 0, 0, err, sizeof(err));
            cr_assert_not_null(w, "iter %d: '%s': %s", iter, a, err);
            char *b = dump(w);
            cr_assert_str_eq(a, b, "iter %d", iter);
            free(a);
            free(b);
            json_decref(w);
        } else {
            cr_assert(err[0] != '\0' && strchr(err, '\n') == NULL, "iter %d", iter);
        }
        json_decref(v);
        free(text);
        json_decref(orig);
    }
}
