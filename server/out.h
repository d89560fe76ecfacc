/*
 * out -- the output queue: the bottom layer every response is written into.
 *
 * Handlers and the reply module append to an 'out'; only the connection layer
 * (conn.c) writes a queue to a socket, with out_write(). out_copy() copies small
 * pieces (headers, short bodies) into the queue's reusable write buffer; out_ref()
 * queues a slice of set memory without copying (large precomputed bodies), which makes
 * the connection keep the set alive until those bytes are written. The whole response
 * for a poll is thus a few memcpy's of prebuilt header lines plus a reference to a
 * prebuilt body, written with one write()/writev().
 *
 * Layout: an array of segments, each either a range of the write buffer (by offset,
 * since the buffer may move while responses are appended) or a pointer into set
 * memory. Consecutive copies extend one segment, so a typical response (headers + a
 * body up to 8 KB, both copied) is one segment and one write().
 *
 * A queue is used by one thread (its worker's); it counts the bytes it writes in the
 * metrics shard it was given.
 */
#ifndef HERALD_SERVER_OUT_H
#define HERALD_SERVER_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

typedef struct out out;

/* A new, empty queue counting into 'm' (which must outlive it; NULL: not counted). */
out *out_new(metrics_shard *m);
/* Frees 'o' and what it holds (NULL-safe). */
void out_free(out *o);

void out_copy(out *o, const void *p, size_t n);
void out_puts(out *o, const char *s);
void out_i64(out *o, int64_t v);
/* Queues 'n' bytes at 'p', which must stay valid while the current set is pinned. */
void out_ref(out *o, const void *p, size_t n);
/* The metrics shard of the worker that owns 'o' (may be NULL). */
metrics_shard *out_metrics(const out *o);

/* Bytes queued and not yet written. */
size_t out_pending(const out *o);
/* Segments queued (written ones included, until out_reset()). */
size_t out_segments(const out *o);
/* Whether an out_ref() segment not yet written references set memory. */
int out_uses_set(const out *o);
/* Writes what 'o' holds to 'fd'. Returns 0 when all is written, 1 when the socket would
 * block (the rest stays queued), -1 on a write error (errno set). */
int out_write(out *o, int fd);
/* A position in a queue, to take back what was appended after it (a response built
 * and then not sent: a long-poll held instead of answered 304). */
typedef struct out_mark {
    size_t nsegs, last_len, wlen, pending;
    int uses_set;
} out_mark;
out_mark out_mark_get(const out *o);
/* Drops what was appended to 'o' since 'm'; nothing may have been written since. */
void out_truncate(out *o, const out_mark *m);
/* Empties 'o', keeping its buffers for reuse. */
void out_reset(out *o);
/* Moves the unwritten rest of 'src' to the end of 'dst' (references stay references)
 * and empties 'src'. */
void out_move(out *dst, out *src);

#endif
