/*
 * test_fixture -- the signed-snapshot fixtures that the unit tests, the benchmarks and
 * the fuzz corpus generator all build, and the benchmarks' latency arithmetic, written
 * once.
 *
 * Each of them needs the same few steps the signer takes: live records sorted by id and
 * written as canonical JSON (records_json), a head over them, an Ed25519 signature entry
 * by a key made from a fixed seed; plus reading a file whole and finding the source tree
 * from a test. Building them here keeps every fixture signed exactly as lib/snapshot.c
 * expects, so a change of format shows up in one place.
 *
 * No test framework: functions return NULL or -1 and the caller asserts, so the
 * benchmarks and the libFuzzer build link this too. Depends on libherald only (mem, jcs,
 * crypto, snapshot, clock).
 */
#ifndef HERALD_TEST_FIXTURE_H
#define HERALD_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "herald/crypto.h"
#include "herald/jcs.h"
#include "herald/mem.h"
#include "herald/snapshot.h"

/* The contents of 'path', malloc'd with a NUL after the last byte (free() it); '*len'
 * (if 'len' is not NULL) gets the length without that NUL. NULL if the file cannot be
 * opened. */
char *fixture_read_file(const char *path, size_t *len);

/* The source tree's root, without a trailing '/': $HERALD_SOURCE_DIR as ctest sets it,
 * else found around this file's own path (a test run straight from the build tree). */
void fixture_source_dir(char *out, size_t outlen);

/* A new array holding the records of 'records' (any order) sorted by "id" in byte order,
 * the order of a snapshot's records_json. */
json_t *fixture_sorted_by_id(const json_t *records);

/* Appends records_json for 'records' (any order) to 'out': sorted by id, canonical JSON.
 * Returns 0, or -1 if a record cannot be canonicalized. */
int fixture_records_json(herald_buf *out, const json_t *records);

/* Fills 'h' for the records_json 'rj' ('rlen' bytes, 'n' records): the given names and
 * times, the SHA-256 of 'rj'. */
void fixture_head(herald_head *h, const char *bucket, const char *collection, int64_t timestamp,
                  int64_t expires, const char *rj, size_t rlen, int64_t n);

/* A signing key from the seed 'first', 'first' + 'step', ... (32 bytes, wrapping):
 * (0, 1) is the golden key of tests/golden/snapshot-v1; (c, 0) fills the seed with c. */
herald_signkey *fixture_signkey(unsigned char first, unsigned char step);

/* The signature entry of key 'k' over 'records' (any order) in bucket/collection at
 * 'timestamp', valid until 'expires': fixture_records_json, fixture_head, then
 * herald_snapshot_sign_entry. If 'rj' is not NULL, records_json is left in it (reset
 * first). NULL if a record cannot be canonicalized. */
json_t *fixture_sign_records(const herald_signkey *k, const char *bucket, const char *collection,
                             const json_t *records, int64_t timestamp, int64_t expires,
                             herald_buf *rj);

/* The parts of decoded snapshot 's', to encode it again (decode, then encode, must give
 * the same blob). The pointers are borrowed from 's'. */
herald_snapshot_parts fixture_parts_of(const herald_snapshot *s);

/* Monotonic time in milliseconds, with sub-millisecond precision (latencies). */
double fixture_mono_ms(void);

/* Sorts the 'n' samples of 'v' in place, ascending (for fixture_percentile). */
void fixture_sort_samples(double *v, size_t n);

/* The 'p' quantile (0 .. 1, nearest rank) of the 'n' sorted samples; 0 if 'n' is 0. */
double fixture_percentile(const double *sorted, size_t n, double p);

#endif
