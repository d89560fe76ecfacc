/*
 * loader -- turns stored blobs into servable collections on a small pool of threads.
 *
 * A blob becomes a coll in three costly steps: decompress and parse it, verify its
 * signature against the pinned keys (a SHA-256 over records_json and an Ed25519 check),
 * and build the response bodies (snapset.h). At Remote Settings' scale (350 collections,
 * 33 MB) doing that one blob after another on the event loop took 14 s before the first
 * __heartbeat__ 200 (issue 19); here each blob is one job, and the pool runs as many at
 * once as there are cores. Compression is not part of a job: bodies are compressed in
 * the background (encode.h), so a job ends as soon as the identity bodies exist.
 *
 *   sync (event loop) ── loader_submit(job) ──▶ queue ──▶ worker threads (1 per core)
 *        ▲                                                   │ decode, verify, build
 *        └── done(job) ... done(NULL), on the loop ◀── pipe ◀┘ finished list
 *
 * A job may instead carry a delta and the coll it applies to (docs/incremental.md): the
 * worker builds the next version from the base's state and the delta, verifies it, and
 * builds its coll; no blob is decompressed or parsed. A failed delta job is LOAD_INVALID
 * like a bad blob, and the caller then fetches the full blob.
 *
 * The event loop stays on its thread: workers never touch hiredis, the set being served
 * or sync's state. They only read the published set (snapset_acquire) to drop a blob that
 * is not newer than what is served before building it; the caller checks again when it
 * applies the result. Finished jobs go back to the loop through a pipe, in the order they
 * were submitted (a job that finishes early waits for the earlier ones), all that are
 * due at once: 'done' is called for each, then once with NULL, so the caller can
 * publish one new set per wake-up instead of one per job.
 */
#ifndef HERALD_SERVER_LOADER_H
#define HERALD_SERVER_LOADER_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/crypto.h"
#include "snapset.h"

enum load_verdict {
    LOAD_OK = 0,    /* 'c' is a verified coll, newer than what was served */
    LOAD_NOT_NEWER, /* a version at least as new was served: nothing to do */
    LOAD_INVALID,   /* undecodable, for another collection, unverifiable or unbuildable */
    LOAD_CANCELLED, /* the loader stopped before running it */
};

typedef struct load_job {
    /* Set by the caller. */
    char bid[256], cid[256];
    char *blob; /* malloc'd; freed by the loader */
    size_t len;
    /* A delta job (docs/incremental.md): 'blob' is the delta to apply to base->state
     * (a reference, released by the loader). NULL: 'blob' is a full blob. */
    coll *base;
    int kind;     /* the caller's: what to do with the result */
    void *owner;  /* the caller's */
    size_t index; /* the caller's */
    int64_t want; /* the caller's: the version announced when the blob was asked for */
    int tries;    /* the caller's: full GETs of this blob so far while catching up */
    uint64_t epoch;
    /* Set by the loader. */
    enum load_verdict verdict;
    coll *c;         /* LOAD_OK: one reference, the caller's */
    int64_t version; /* the blob's version, when it could be decoded */
    char err[256];   /* LOAD_INVALID: why */
    int unverified;  /* LOAD_INVALID: decoded, but the signature check failed */
    uint64_t seq;    /* submission order */
    struct load_job *next;
} load_job;

/* Starts 'threads' workers (0: one per core, at most 8) that verify against 'keys' (kept
 * by reference), reporting on 'base' through 'done' (see above). Returns 0 or -1. */
/* Versions built from a delta with at least 'records' records (0: none) are verified on
 * a thread of their own while their bodies are built (server_parallel_verify_records);
 * nothing built is kept unless the verification passed. Any time. */
void loader_set_parallel_verify(size_t records);
int loader_start(struct event_base *base, int threads, const herald_pubkey *keys, size_t nkeys,
                 void (*done)(load_job *j)) __attribute__((warn_unused_result));
/* Queues 'j' (taken over; the caller frees it in 'done'). */
void loader_submit(load_job *j);
/* Jobs queued or running now. */
size_t loader_pending(void);
/* Stops the workers; every job not yet reported goes to 'done' now (queued ones as
 * LOAD_CANCELLED), then done(NULL). Call from the base's thread. */
void loader_stop(void);

#endif
