/*
 * bench_jsonschema -- validation of OneCRL records against a schema written for them
 * (the fields Remote Settings' OneCRL records carry), in ns per validation.
 *
 *   bench_jsonschema [onecrl.json] [iterations]
 *
 * Defaults: ../shared/data/onecrl.json (as bench_signer), else /work/shared/data/onecrl.json,
 * and 200000 validations. Every record of the file is validated in turn (round robin), with
 * errors not collected (the publisher's fast path) and with the first error collected;
 * the compile time of the schema is printed too. Not run by CI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/clock.h"
#include "herald/jsonschema.h"

#include "bench_http.h"

int
main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "../shared/data/onecrl.json";
    FILE *probe = fopen(path, "r");
    if (probe)
        fclose(probe);
    else if (argc <= 1)
        path = "/work/shared/data/onecrl.json";
    long iters = argc > 2 ? atol(argv[2]) : 200000;
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        fprintf(stderr, "bench_jsonschema: %s: %s\n", path, je.text);
        return 1;
    }
    json_t *records = json_object_get(doc, "data");
    size_t n = json_array_size(records);
    if (!n) {
        fprintf(stderr, "bench_jsonschema: no records in %s\n", path);
        return 1;
    }
    json_t *schema = json_loads(bench_onecrl_schema, 0, &je);
    if (!schema) {
        fprintf(stderr, "bench_jsonschema: schema: %s\n", je.text);
        return 1;
    }
    char err[256];
    herald_jsonschema *s = NULL;
    double t0 = (double)herald_clock_mono_ns();
    for (int i = 0; i < 1000; i++) {
        herald_jsonschema_free(s);
        s = NULL;
        if (herald_jsonschema_compile(&s, schema, HERALD_JSONSCHEMA_DEFAULT, err, sizeof(err)) <
            0) {
            fprintf(stderr, "bench_jsonschema: %s\n", err);
            return 1;
        }
    }
    double compile_ns = ((double)herald_clock_mono_ns() - t0) / 1000;
    size_t invalid = 0;
    for (size_t i = 0; i < n; i++)
        invalid += herald_jsonschema_validate(s, json_array_get(records, i), NULL, 0) != 0;

    double t1 = (double)herald_clock_mono_ns();
    for (long i = 0; i < iters; i++)
        if (herald_jsonschema_validate(s, json_array_get(records, (size_t)i % n), NULL, 0) != 0)
            invalid += 0;
    double fast = ((double)herald_clock_mono_ns() - t1) / (double)iters;

    double t2 = (double)herald_clock_mono_ns();
    for (long i = 0; i < iters; i++) {
        herald_jsonschema_errors e = HERALD_JSONSCHEMA_ERRORS_INIT;
        if (herald_jsonschema_validate(s, json_array_get(records, (size_t)i % n), &e, 1) != 0)
            invalid += 0;
        herald_jsonschema_errors_free(&e);
    }
    double first = ((double)herald_clock_mono_ns() - t2) / (double)iters;

    printf("OneCRL records: %zu (%zu invalid against the schema), %ld validations each\n", n,
           invalid, iters);
    printf("| %-36s | %12s |\n", "what", "per call");
    printf("| %-36s | %9.2f us |\n", "compile the schema", compile_ns / 1000);
    printf("| %-36s | %9.0f ns |\n", "validate, verdict only", fast);
    printf("| %-36s | %9.0f ns |\n", "validate, first error collected", first);
    printf("target: <= 20 us per validation: %s\n", fast <= 20000 ? "met" : "NOT met");
    herald_jsonschema_free(s);
    json_decref(schema);
    json_decref(doc);
    return 0;
}
