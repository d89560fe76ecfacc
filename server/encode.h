/*
 * encode -- precompressed response bodies: one immutable identity body, plus gzip and
 * zstd encodings computed when the body is built, upgraded in the background.
 *
 *   payload (refs) ──▶ identity bytes (owned)
 *                   ├─ enc[GZIP] ──▶ encoded {data, len, level}   atomic pointer, may be
 *                   └─ enc[ZSTD] ──▶ encoded {data, len, level}   NULL (not smaller)
 *                   old[GZIP], old[ZSTD]: encodings replaced by an upgrade, kept until
 *                   the payload is freed (a connection may still be writing them)
 *
 * Why two passes, both in the background: a 2 MB collection takes ~5 ms at zstd level 3
 * but ~0.6 s at level 19, and a new version must never wait for either (issue 13: edit to
 * served in milliseconds; issue 19: 350 collections ready in a second). payload_new()
 * returns an identity-only body, served at once, and queues it for the upgrader thread,
 * which first gives every new body its fast encodings (bodies up to BODY_SMALL bytes get
 * the best levels straight away: that costs less than a second pass), then, once no new
 * body waits, recompresses the larger ones at the best levels, swapping each pointer in
 * (release store; workers read with an acquire load, one per compressed response). Both
 * queues are newest first, and a body nobody references any more (its version was
 * superseded before the upgrader got there) is skipped, so a burst of N versions costs
 * the work of the newest, not a backlog of N. Without the upgrader (tests, tools),
 * payload_new() compresses at the fast levels on the calling thread.
 *
 * An encoding is kept only when it is smaller than the identity body: otherwise the
 * identity bytes are served (tiny bodies, e.g. an empty changeset).
 *
 * Borrowed bodies (payload_new_parts): a body whose identity bytes already exist as
 * slices of another body's memory (a cached _since delta is {"changes":[ + a prefix of
 * the coll's listing + its tail) keeps no copy of them: it owns only its compressed
 * forms, which the compressor builds by feeding the slices one after the other (deflate
 * and zstd streams give the bytes of the concatenation). It holds a reference to the
 * body it slices ('keep'): the upgrader's job may outlive the coll that built it, and
 * must not read freed memory. Its owner serves identity from the same slices.
 *
 * Threads: payload_new(), payload_ref() and payload_release() may be called from any thread;
 * payload_get() is lock-free.
 */
#ifndef HERALD_SERVER_ENCODE_H
#define HERALD_SERVER_ENCODE_H

#include <stdatomic.h>
#include <stddef.h>

#include "herald/mem.h"

enum body_enc {
    ENC_IDENTITY = 0,
    ENC_GZIP = 1, /* same values as http_parse.h's HTTP_ENC_* bits, as indices */
    ENC_ZSTD = 2,
    ENC_COUNT = 3,
};

#define BODY_SMALL (16 * 1024)
#define BODY_FAST_GZIP 6
#define BODY_FAST_ZSTD 3
#define BODY_BEST_GZIP 9
#define BODY_BEST_ZSTD 19

typedef struct encoded {
    char *data;
    size_t len;
    int level;
} encoded;

/* A slice of immutable memory: a borrowed body's identity is a list of them. */
typedef struct body_part {
    const char *p;
    size_t n;
} body_part;

#define PAYLOAD_PARTS 2

typedef struct payload {
    atomic_int refs;
    char *data; /* identity, NUL-terminated (not counted); NULL for a borrowed body */
    size_t len;
    /* A borrowed body (payload_new_parts): its identity bytes are part[0 .. nparts),
     * slices of 'keep''s memory, read by the compressor and never served from the
     * payload (its owner serves identity from the same slices). 'keep' is a reference:
     * a job of the upgrader may outlive the owner. */
    body_part part[PAYLOAD_PARTS];
    size_t nparts;
    struct payload *keep;
    atomic_int borrowers;              /* borrowed bodies keeping this one (see encode.c give_up) */
    _Atomic(encoded *) enc[ENC_COUNT]; /* [ENC_IDENTITY] unused */
    encoded *old[ENC_COUNT];           /* replaced by the upgrader; upgrader-owned field */
    atomic_int ready;                  /* 1 once its first compression pass is done (or
                                        * none is due): see payload_ready() */
} payload;

/* Appends the gzip (RFC 1952) or zstd (RFC 8878) encoding of 'p' at 'level'. Returns 0
 * or -1 (library failure). */
int encode_gzip(herald_buf *out, const void *p, size_t n, int level)
    __attribute__((warn_unused_result));
int encode_zstd(herald_buf *out, const void *p, size_t n, int level)
    __attribute__((warn_unused_result));

/* A body owning 'data' ('len' bytes, from malloc; NUL-terminated or not): identity only
 * and queued for the upgrader when encode_start() ran, else compressed now at the fast
 * levels ('compress' 0: identity only, e.g. bodies never served compressed). Never
 * NULL. */
payload *payload_new(char *data, size_t len, int compress);
/* A borrowed body: the concatenation of 'parts' (at most PAYLOAD_PARTS, in memory that
 * lives as long as 'keep', which gets a reference), compressed as payload_new() does,
 * without a copy of its identity bytes. Its 'data' is NULL: serve identity from the
 * slices. Never NULL. */
payload *payload_new_parts(payload *keep, const body_part *parts, size_t nparts, int compress);
/* Takes over 'b''s storage (the buffer is empty afterwards). */
payload *payload_from_buf(herald_buf *b, int compress);
void payload_ref(payload *b);
void payload_release(payload *b); /* NULL-safe */
/* Memory for a new body of about 'size' bytes: a body freed during the current burst of
 * versions (see encode.c, the spare body), whose pages are already mapped, when one of a
 * similar size is there; its length goes to '*len' (the caller owns it: free(), or
 * herald_buf_adopt() and payload_from_buf()). NULL: none, allocate as usual. */
char *payload_spare_take(size_t size, size_t *len);
/* How many times payload_spare_take() returned memory, since the process started. */
unsigned long long encode_spares_taken(void);

/* The encoded representation, or NULL when there is none (serve identity). */
static inline const encoded *
payload_get(const payload *b, int enc)
{
    return atomic_load_explicit((_Atomic(encoded *) *)&b->enc[enc], memory_order_acquire);
}

/* 1 when 'b' is as it will be served to a client that accepts compression for the next
 * moments: its fast encodings are in (or it is never compressed). A long-poll answer
 * waits for this (conn.c): thousands of clients woken by one version would otherwise
 * all get the identity body that is served only until the upgrader gets to it. */
static inline int
payload_ready(const payload *b)
{
    return atomic_load_explicit((atomic_int *)&b->ready, memory_order_acquire);
}

/* Registers the one function called (on the upgrader thread) each time a body becomes
 * ready; NULL: none. */
void encode_on_ready(void (*fn)(void));

/* Starts the upgrader thread (once). Returns 0 or -1. Without it, bodies keep their
 * fast encodings (tests, tools). */
int encode_start(void) __attribute__((warn_unused_result));
/* Stops it, dropping queued jobs. */
void encode_stop(void);
/* With 1, the upgrader takes no new job (bodies queue, served in identity) until called
 * with 0: a cold start holds it so that the cores go to loading and verifying, which
 * __heartbeat__ waits for, and compresses once everything is served. */
void encode_hold(int on);
/* Waits until the upgrader has no queued or running job (tests); ends a hold. */
void encode_drain(void);
/* Statistics for /metrics: bodies done (compressed as far as they go), bodies skipped
 * (superseded), bodies queued or being compressed now. */
void encode_stats(unsigned long long *upgraded, unsigned long long *skipped,
                  unsigned long long *pending);

#endif
