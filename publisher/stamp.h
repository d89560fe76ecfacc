/*
 * stamp -- the stored form of an object, with its timestamp still to be filled in.
 *
 * An object is stored as the JCS (RFC 8785) of its data, including "id" and
 * "last_modified". The timestamp is only known inside Redis, in the Lua script that
 * writes the object (ts = max(now_ms, previous + 1, published + 1), atomically with the
 * write). So the C side canonicalizes the data with a placeholder last_modified of 0 and
 * splits the output around that number:
 *
 *     {"id":"r1","last_modified":0,"title":"x"}
 *     '-------- prefix ----------' '- suffix -'
 *
 * and the script stores prefix .. string.format('%d', ts) .. suffix. This is still
 * canonical: JCS orders keys by name only, and an integer prints as its digits.
 * The placeholder is found by scanning the output for the top-level key (depth 1,
 * outside strings): a nested "last_modified" or one inside a string never matches.
 */
#ifndef HERALD_PUB_STAMP_H
#define HERALD_PUB_STAMP_H

#include <jansson.h>

#include "herald/mem.h"

/*
 * Sets data["id"] = 'id' and data["last_modified"] = 0 (replacing any value the client
 * sent: timestamps are always server-assigned), then appends the two halves of its
 * canonical form to 'prefix' and 'suffix'. 'data' must be an object; it is modified.
 * Returns 0, or -1 if the data cannot be represented canonically (then the halves may
 * hold partial output).
 */
int pub_stamp_split(herald_buf *prefix, herald_buf *suffix, json_t *data, const char *id)
    __attribute__((warn_unused_result));

/* Appends the stored form: prefix, decimal 'ts', suffix (what the Lua script builds). */
void pub_stamp_join(herald_buf *out, const char *prefix, size_t plen, long long ts,
                    const char *suffix, size_t slen);

/* Parses a stored object (canonical JSON, trusted). Returns a new reference, or NULL. */
json_t *pub_stamp_parse(const char *json, size_t len) __attribute__((warn_unused_result));

/* The top-level last_modified of a stored object (canonical JSON), or -1. */
long long pub_stamp_last_modified(const char *json, size_t len);

#endif
