/*
 * jsonschema -- a JSON Schema validator (Draft 7 and 2020-12) for collection schemas, as
 * Kinto validates records with python-jsonschema. docs/schema.md describes the dialect
 * choices, the regular expression engine (PCRE2) and what is refused.
 *
 * A schema is compiled once (herald_jsonschema_compile) into an immutable object that
 * the caller caches per schema version and may share between threads; validating an
 * instance allocates only its own scratch state. The dialect is chosen by the schema's
 * `$schema`; without one, the 'dialect' argument decides (Kinto validates records with
 * the newest draft, 2020-12, and checks a collection's schema against Draft 7's
 * meta-schema: herald_jsonschema_check).
 *
 * No reference is ever fetched: a `$ref` outside the schema document (other than the
 * Draft 7 meta-schema, which is built in) is refused at compile time.
 */
#ifndef HERALD_JSONSCHEMA_H
#define HERALD_JSONSCHEMA_H

#include <jansson.h>
#include <stddef.h>

typedef struct herald_jsonschema herald_jsonschema;

enum herald_jsonschema_dialect {
    HERALD_JSONSCHEMA_DEFAULT = 0, /* 2020-12, python-jsonschema's validator_for default */
    HERALD_JSONSCHEMA_DRAFT7,
    HERALD_JSONSCHEMA_DRAFT2020_12,
};

/* One validation error, in python-jsonschema's words. */
typedef struct herald_jsonschema_error {
    char *description; /* e.g. "'title' is a required property" */
    char *path;        /* JSON Pointer to the instance location, "" for the root */
    char *keyword;     /* the failing keyword, e.g. "required" */
    char *field;       /* the name Kinto reports (kinto/schema_validation.py): the last
                        * path element, else the last element of the keyword's value
                        * (an array's last item, a string's last character), else the
                        * keyword */
} herald_jsonschema_error;

typedef struct herald_jsonschema_errors {
    size_t n;
    herald_jsonschema_error *v;
} herald_jsonschema_errors;

#define HERALD_JSONSCHEMA_ERRORS_INIT                                                              \
    {                                                                                              \
        0, NULL                                                                                    \
    }

/* Compiles 'schema' (an object or a boolean; the compiled object keeps a reference to
 * it) into '*out'. 'dialect' applies when the schema has no `$schema`. Returns 0, or -1
 * with a one-line reason in 'err' (NUL-terminated, truncated to 'errlen') and '*out'
 * NULL: a keyword of the wrong type, an invalid regular expression, a remote or
 * unresolvable `$ref`, an unknown `$schema`, nesting deeper than 500 levels. */
int herald_jsonschema_compile(herald_jsonschema **out, const json_t *schema,
                              enum herald_jsonschema_dialect dialect, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Kinto's check of a collection's schema: 'schema' must validate against Draft 7's
 * meta-schema and compile. Returns 0, or -1 with the first problem in 'err', worded as
 * Kinto words it (the last path element glued to python-jsonschema's message:
 * "type'int' is not valid under any of the given schemas"), or the compiler's reason. */
int herald_jsonschema_check(const json_t *schema, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Validates 'instance'. Returns 0 if valid, -1 if not. When 'errors' is not NULL it gets
 * up to 'max_errors' errors (0 means no limit), the first being the one Kinto reports
 * (python-jsonschema's first error: keywords in schema order, depth first); the caller
 * frees them with herald_jsonschema_errors_free. An instance whose validation exceeds a
 * cost bound (recursion depth, evaluation steps, a regular expression's match limit) is
 * invalid, with an error saying so. */
int herald_jsonschema_validate(const herald_jsonschema *s, const json_t *instance,
                               herald_jsonschema_errors *errors, size_t max_errors)
    __attribute__((warn_unused_result));

/* The dialect the schema was compiled in (never HERALD_JSONSCHEMA_DEFAULT). */
enum herald_jsonschema_dialect herald_jsonschema_dialect(const herald_jsonschema *s);

void herald_jsonschema_errors_free(herald_jsonschema_errors *errors);
void herald_jsonschema_free(herald_jsonschema *s);

#endif
