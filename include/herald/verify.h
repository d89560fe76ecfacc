/*
 * verify -- what a client does with a changeset it fetched from a read server.
 *
 * A full changeset ({"metadata":{..., "signatures":[...]}, "timestamp":V, "changes":[...]})
 * is the whole state; a delta (fetched with _since=S) is merged into a saved state: each
 * change replaces the record with its id, a tombstone ("deleted": true) removes it. The
 * merged state's records, sorted by id, must then verify with herald_snapshot_verify()
 * for the served bucket, collection and timestamp V, and V must not be older than the
 * saved state's timestamp.
 *
 * The saved state file is JSON: {"bucket","collection","timestamp":V,"records":[...]}.
 */
#ifndef HERALD_VERIFY_H
#define HERALD_VERIFY_H

#include <jansson.h>
#include <stdint.h>

#include "herald/crypto.h"

typedef struct herald_verify_opts {
    const herald_pubkey *keys;
    size_t nkeys;
    int64_t now_ms; /* for the expiry check; 0 skips it */
    const char *bucket;
    const char *collection;
} herald_verify_opts;

/*
 * Verifies 'changeset' (a parsed response body), merged into 'prev' when not NULL
 * (a state object as above, for the same bucket and collection). On success returns 0
 * and a new reference to the new state in '*state_out'. On failure returns -1, sets
 * '*state_out' to NULL and writes the reason into 'err'.
 */
int herald_verify_changeset(json_t **state_out, const json_t *changeset, const json_t *prev,
                            const herald_verify_opts *opts, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
