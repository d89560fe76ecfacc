/*
 * test_util -- small helpers for the Criterion unit tests.
 *
 * Table-driven tests take an index into a static table rather than a copy of the entry:
 * Criterion may run each case in a freshly started process, where pointers from the
 * parent (string literals under PIE/ASLR) would be invalid, but the static tables are
 * the same. TEST_INDEXES writes the parameter function that hands out those indexes.
 */
#ifndef HERALD_TEST_UTIL_H
#define HERALD_TEST_UTIL_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>
#include <stddef.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Parameters of ParameterizedTest(size_t *i, suite, name): 0 .. ARRAY_LEN(table) - 1. */
#define TEST_INDEXES(suite, name, table)                                                           \
    ParameterizedTestParameters(suite, name)                                                       \
    {                                                                                              \
        static size_t idx[ARRAY_LEN(table)];                                                       \
        for (size_t i = 0; i < ARRAY_LEN(idx); i++)                                                \
            idx[i] = i;                                                                            \
        return cr_make_param_array(size_t, idx, ARRAY_LEN(idx));                                   \
    }

/* 'text' parsed as JSON (any value, not only a container); fails the test on bad JSON. */
static inline json_t *
test_json(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert_not_null(v, "bad JSON in test: %s (%s)", text, e.text);
    return v;
}

#endif
