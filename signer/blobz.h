/*
 * blobz -- the signer's compressor thread: zstd of the full blobs that follow their
 * announcement (publish.c, "the full blob after the announcement") and of the idle
 * recompressions, off the thread that reads the change stream and signs.
 *
 * Why: at 100k records a blob's zstd takes 30-80 ms (level 1) and an idle recompression
 * (level 3) longer. Done inline, the next edit, arriving while the previous version's
 * blob was compressed, waited for it: at 100k records about 35 of the 80 ms from an
 * acknowledged write to its version being served (bench_edit_served.sh, the signer's
 * log lined up with BENCH_TRACE=1). Now the main thread builds the uncompressed content
 * (a copy: the collection's copy changes with the next version), queues it, and goes
 * back to the stream; it stores what is done between batches (hiredis is not shared
 * between threads).
 *
 * A job queued and not started yet is replaced by a newer one for the same member and
 * kind (only the newest blob is worth compressing). The thread runs at nice 10, below
 * the signer's main thread and the read servers on a shared host. One mutex guards the
 * two lists; the main thread polls for finished jobs (signer_blobz_done), there is no
 * wake-up of the main thread.
 */
#ifndef HERALD_SIGNER_BLOBZ_H
#define HERALD_SIGNER_BLOBZ_H

#include <stddef.h>
#include <stdint.h>

#include "herald/mem.h"

enum signer_blobz_kind {
    BLOBZ_LATER = 0,     /* 'in' is the snapshot content (herald_snapshot_encode_raw) */
    BLOBZ_RECOMPRESS = 1 /* 'in' is a stored zstd frame, decompressed first */
};

typedef struct signer_blobz_job {
    struct signer_blobz_job *next;
    enum signer_blobz_kind kind;
    char *member;  /* "bid/cid" */
    char *snapkey; /* its blob's key */
    int64_t version;
    int level;
    herald_buf in;
    herald_buf out; /* the zstd frame, when 'ok' */
    int ok;
    double zstd_ms; /* the thread's time on it */
} signer_blobz_job;

/* Starts the thread. Returns 0, or -1 (then signer_blobz_running() is 0: the caller
 * compresses inline). */
int signer_blobz_start(void);
int signer_blobz_running(void);
/* Waits for the job under way, frees the queued and finished ones, stops the thread. */
void signer_blobz_stop(void);
/* Compresses 'j' in the calling thread ('out', 'ok'): what the thread does with a job,
 * for a signer without it (signer_blobz_start failed). */
void signer_blobz_run(signer_blobz_job *j);
/* Queues 'j' (taken; 'out' empty): see above for the replacement of a queued job. */
void signer_blobz_submit(signer_blobz_job *j);
/* A finished job (the caller frees it with signer_blobz_job_free), oldest first; NULL
 * when none. */
signer_blobz_job *signer_blobz_done(void);
/* Jobs queued or under way (finished ones not counted). */
size_t signer_blobz_pending(void);
/* Until no job is queued or under way. */
void signer_blobz_wait(void);
/* Until no job of 'kind' for 'member' is queued or under way. */
void signer_blobz_wait_member(const char *member, enum signer_blobz_kind kind);
void signer_blobz_job_free(signer_blobz_job *j); /* NULL-safe */

#endif
