/*
 * fuzz_target -- the libFuzzer entry point, compiled once per target with
 * -DHERALD_FUZZ_CHECK=herald_fuzz_check_<target> (see fuzz/CMakeLists.txt).
 *
 * A failed property is printed and turned into an abort(), which libFuzzer reports as
 * a crash and saves as crash-<sha1>; sanitizer reports stop the run the same way
 * (-fno-sanitize-recover=all).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_checks.h"

#ifndef HERALD_FUZZ_CHECK
#error "define HERALD_FUZZ_CHECK to one of the herald_fuzz_check_* functions"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = HERALD_FUZZ_CHECK(data, size);
    if (why) {
        fprintf(stderr, "==herald-fuzz== property failed: %s\n", why);
        abort();
    }
    return 0;
}
