/*
 * jcs -- JSON input checking (I-JSON, RFC 7493) and canonical output (JCS, RFC 8785).
 *
 * Parsing is jansson's; Herald adds what jansson does not do:
 *  - herald_jcs_parse() with HERALD_JCS_STRICT rejects input that is not I-JSON: invalid
 *    UTF-8, "\u0000" (jansson rejects both without JSON_ALLOW_NUL), duplicate object keys
 *    (JSON_REJECT_DUPLICATES), integers outside +-(2^53-1), non-finite numbers, nesting
 *    deeper than 'max_depth'. This is for untrusted input (publisher request bodies).
 *  - Without HERALD_JCS_STRICT it parses data Herald itself stored (already canonical),
 *    with JSON_DECODE_INT_AS_REAL: canonical output may contain integers above 2^63
 *    (1e20 prints as 100000000000000000000), which jansson's integer parser refuses.
 *    Therefore: a number from a non-strict parse may be a json_real holding an integral
 *    value. Always read numbers with json_number_value(), never json_integer_value().
 *  - herald_jcs_dump() writes RFC 8785 canonical JSON: keys sorted by UTF-16 code units,
 *    no whitespace, minimal string escapes, numbers as ECMAScript Number.toString.
 *    jansson prints reals with %.17g (0.1 -> 0.10000000000000001), so number output is
 *    our own (herald_jcs_number).
 */
#ifndef HERALD_JCS_H
#define HERALD_JCS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/mem.h"

enum herald_jcs_flags {
    HERALD_JCS_STRICT = 1, /* untrusted input: enforce I-JSON */
};

#define HERALD_JCS_DEFAULT_MAX_DEPTH 64

/*
 * Parses 'len' bytes at 'data' (need not be NUL-terminated) into a new reference.
 * Returns NULL on error and writes a one-line human reason into 'err' (always
 * NUL-terminated when errlen > 0), e.g. "duplicate object key 'id' at line 1 column 17".
 * 'max_depth' counts containers (a top-level object is depth 1); 0 means the default.
 */
json_t *herald_jcs_parse(const char *data, size_t len, int flags, int max_depth, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

/*
 * Appends the canonical form of 'v' to 'out'. Returns 0, or -1 when 'v' cannot be
 * represented (a non-finite real, an integer json_t beyond +-(2^53-1) is printed as the
 * double it rounds to, as ECMAScript would); on -1 'out' may hold a partial value.
 */
int herald_jcs_dump(herald_buf *out, const json_t *v) __attribute__((warn_unused_result));

/* Writes the ECMAScript Number.prototype.toString form of finite 'd' into 'out'
 * (at least 32 bytes), NUL-terminated; returns the length, or -1 if not finite. */
int herald_jcs_number(char *out, double d);

/* Appends 's' ('len' bytes of valid UTF-8) as a JCS string literal, quotes included. */
void herald_jcs_string(herald_buf *out, const char *s, size_t len);

/* Reads an integral number in [0, 2^53-1] into 'out': an integer, or a real holding one
 * (as a non-strict herald_jcs_parse produces). Returns 0, or -1 for anything else. */
int herald_jcs_get_uint53(int64_t *out, const json_t *v) __attribute__((warn_unused_result));

/* The value of string 'v' when it holds no NUL byte (jansson can hold them), so that C
 * string compares of it are exact; NULL for any other value. */
const char *herald_jcs_get_cstring(const json_t *v);

#endif
