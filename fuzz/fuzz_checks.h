/*
 * fuzz_checks -- what each libFuzzer target checks, shared with the regression test.
 *
 * Every target is one function from an input to a verdict: NULL when every property
 * held, else a static one-line description of the property that failed. Crashes and
 * sanitizer reports are findings too; the functions never abort on their own, so the
 * regression test (tests/unit/test_fuzz_regressions.c, built with gcc and Criterion)
 * can report a failed property as an assertion, while the libFuzzer driver
 * (fuzz_target.c) aborts on it so that libFuzzer saves the input.
 *
 * Targets and their properties (details at the top of each check_*.c):
 *   http       lib/http_parse.c: fed whole, in random splits and byte by byte, and
 *              pipelined, it gives the same requests and the same error; slices stay
 *              inside the bytes received so far (the rest is poisoned under ASan);
 *              also with every header recorded and chunked allowed (the publisher's
 *              settings): the recorded headers are exactly the head's lines, and
 *              those options change no answer but the documented ones.
 *   listing    herald_listing_parse_len on the query string, then apply on a fixed
 *              record set: pages chained through herald_listing_next_url list every
 *              match exactly once, in the order herald_listing_compare gives; errors
 *              have a valid Kinto body.
 *   jcs        herald_jcs_parse strict and non-strict, dump, non-strict re-parse, dump
 *              again: byte-identical, same numbers; strict accepts a subset.
 *   snapshot   herald_snapshot_decode + herald_snapshot_verify_decoded (golden public
 *              key); a raw "HSB1" content is compressed first so the fuzzer reaches the
 *              section and JSON parsing; decode(encode(decode(x))) == decode(x).
 *   jsonschema lib/jsonschema*.c: schema NUL instance; compile, then validate with all,
 *              one and no errors: same verdict, same first error; check never crashes.
 *   multipart  publisher/multipart.c: fed whole, byte by byte and in random pieces, the
 *              same verdict and parts; a parsed body re-encoded parses the same; a
 *              boundary is accepted in Content-Type exactly when it is valid.
 *   attachpath herald_castore_url_hash: only the canonical /attachments/<h0h1>/<hash>
 *              of a 64-hex hash maps to a file; and pub_adminpath_resolve (the admin
 *              page's files): only names of [A-Za-z0-9._-] segments without a leading
 *              '.' under /v1/admin/ map to a file, inside the directory.
 *   changeset  herald_verify_changeset on a changeset, or on [changeset, saved state];
 *              an accepted state re-verifies as a full changeset and as its own delta.
 *   delta      herald_state_apply on a delta against a fixed signed base state: a reason
 *              for every refusal; an accepted state splits into its records, sorted by
 *              unique id, verifies again, keeps no tombstone below the cut-off and
 *              refuses the same delta a second time.
 *   jscan      lib/jscan.c on a records array text: whenever the scanner accepts, jansson
 *              accepts too, with the same elements, ids, last_modified and deleted, and
 *              each element's byte range parses to jansson's element.
 *   monitor    herald_monitor_verify on a served monitor changeset: a reason for every
 *              refusal; an accepted one survives reordering, and refuses rollback,
 *              expiry, a dropped entry and a moved version with the right status.
 *   client     the C client (client/): response header lines (Backoff, Retry-After,
 *              ETag, Preference-Applied) and its loading of a stored state, a packaged
 *              dump and client.json: only records that re-verify are handed over; an
 *              ETag never carries a byte that could inject a request header.
 *
 * All checks are deterministic and keep no state between calls beyond read-only
 * fixtures built on first use.
 */
#ifndef HERALD_FUZZ_CHECKS_H
#define HERALD_FUZZ_CHECKS_H

#include <stddef.h>
#include <stdint.h>

const char *herald_fuzz_check_http(const uint8_t *data, size_t size);
const char *herald_fuzz_check_listing(const uint8_t *data, size_t size);
const char *herald_fuzz_check_jcs(const uint8_t *data, size_t size);
const char *herald_fuzz_check_snapshot(const uint8_t *data, size_t size);
const char *herald_fuzz_check_changeset(const uint8_t *data, size_t size);
const char *herald_fuzz_check_jsonschema(const uint8_t *data, size_t size);
const char *herald_fuzz_check_multipart(const uint8_t *data, size_t size);
const char *herald_fuzz_check_attachpath(const uint8_t *data, size_t size);
const char *herald_fuzz_check_monitor(const uint8_t *data, size_t size);
const char *herald_fuzz_check_client(const uint8_t *data, size_t size);
const char *herald_fuzz_check_delta(const uint8_t *data, size_t size);
const char *herald_fuzz_check_jscan(const uint8_t *data, size_t size);
/* Seed 'which' (0..2) of the delta corpus: a valid delta from check_delta.c's base,
 * signed with the golden key (fuzz/gen_corpus.c writes them). Returns 0 or -1. */
#include "herald/mem.h"
int herald_fuzz_delta_seed(herald_buf *out, int which);

/* The public key of tests/golden/snapshot-v1 (seed 00 01 .. 1f): the snapshot and
 * changeset targets verify against it, and the corpus generator signs with its seed. */
#define HERALD_FUZZ_PUBKEY "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"

#endif
