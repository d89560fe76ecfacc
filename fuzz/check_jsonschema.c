/*
 * check_jsonschema -- random schemas x random instances through lib/jsonschema*.c.
 *
 * The input is split at its first NUL byte: the JSON before it is the schema, the JSON
 * after it the instance (without a NUL, the input is both, so a schema also validates
 * itself). Either part may fail to parse: then a fixed instance is used, or the check
 * stops. Properties:
 *   - compiling never crashes; a refusal comes with a one-line reason;
 *   - a compiled schema gives the same verdict with every error collected, with only
 *     the first one, and without errors at all; the first error is the same in the
 *     first two; "invalid" always has at least one error, "valid" none;
 *   - every error has a description, a keyword, a field and a path that is a JSON
 *     Pointer ("" or starting with '/');
 *   - herald_jsonschema_check (the Draft 7 meta-schema) never crashes, and a schema it
 *     accepts compiles.
 * Time is bounded by the validator's own limits (depth, step budget, PCRE2 limits):
 * libFuzzer's -timeout reports any input that escapes them.
 */
#include "fuzz_checks.h"

#include <string.h>

#include "herald/jsonschema.h"

static const char *
check_errors(const herald_jsonschema_errors *e)
{
    for (size_t i = 0; i < e->n; i++) {
        const herald_jsonschema_error *er = &e->v[i];
        if (!er->description || !er->description[0] || !er->keyword || !er->keyword[0] ||
            !er->field || !er->path)
            return "jsonschema: an error lacks a description, keyword, field or path";
        if (er->path[0] && er->path[0] != '/')
            return "jsonschema: an error path is not a JSON Pointer";
    }
    return NULL;
}

static const char *
check_instance(const herald_jsonschema *s, const json_t *inst)
{
    herald_jsonschema_errors all = HERALD_JSONSCHEMA_ERRORS_INIT;
    herald_jsonschema_errors one = HERALD_JSONSCHEMA_ERRORS_INIT;
    const char *why = NULL;
    int a = herald_jsonschema_validate(s, inst, &all, 0);
    int b = herald_jsonschema_validate(s, inst, &one, 1);
    int c = herald_jsonschema_validate(s, inst, NULL, 0);
    if (a != b || a != c)
        why = "jsonschema: the verdict depends on how many errors are asked for";
    else if ((a == 0) != (all.n == 0) || (b == 0) != (one.n == 0))
        why = "jsonschema: a verdict and its errors disagree";
    else if (one.n > 1)
        why = "jsonschema: more errors than asked for";
    else if (one.n && strcmp(one.v[0].description, all.v[0].description))
        why = "jsonschema: the first error depends on how many errors are asked for";
    else if ((why = check_errors(&all)) == NULL)
        why = check_errors(&one);
    herald_jsonschema_errors_free(&all);
    herald_jsonschema_errors_free(&one);
    return why;
}

const char *
herald_fuzz_check_jsonschema(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nul = memchr(in, '\0', size);
    size_t slen = nul ? (size_t)(nul - in) : size;
    const char *why = NULL;
    json_t *schema = json_loadb(in, slen, JSON_DECODE_ANY, NULL);
    json_t *inst =
        nul ? json_loadb(nul + 1, size - slen - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
            : json_incref(schema);
    herald_jsonschema *s = NULL;
    char err[256];
    if (!schema)
        goto out;
    if (!inst)
        inst = json_pack("{s:s,s:i,s:[i,s]}", "id", "abc", "last_modified", 1, "x", 1, "y");
    for (int d = 0; d < 2; d++) {
        int rc = herald_jsonschema_compile(
            &s, schema, d ? HERALD_JSONSCHEMA_DRAFT7 : HERALD_JSONSCHEMA_DEFAULT, err, sizeof(err));
        if (rc < 0) {
            if (s || !err[0] || strchr(err, '\n')) {
                why = "jsonschema: a refused schema without a one-line reason";
                goto out;
            }
            continue;
        }
        why = check_instance(s, inst);
        herald_jsonschema_free(s);
        s = NULL;
        if (why)
            goto out;
    }
    if (size < 4096 && herald_jsonschema_check(schema, err, sizeof(err)) == 0) {
        if (herald_jsonschema_compile(&s, schema, HERALD_JSONSCHEMA_DEFAULT, err, sizeof(err)) < 0)
            why = "jsonschema: a schema the check accepted does not compile";
    }
out:
    herald_jsonschema_free(s);
    json_decref(schema);
    json_decref(inst);
    return why;
}
