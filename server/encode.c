/*
 * encode -- see encode.h. The upgrader is one thread with two LIFO job lists under a
 * mutex ('fresh': no encoding yet; 'jobs': waiting for the best levels): newest bodies
 * first, because an older body is likely to be superseded (and then
 * skipped) before the thread gets to it. The upgrader reuses one zstd context during a
 * burst of jobs (a level-19 context is tens of MB; allocating it per job would churn)
 * and frees it once the queue has stayed empty for LINGER_MS, then hands freed memory
 * back to the system (glibc keeps large freed blocks otherwise): a server's memory
 * between versions is its snapshots. Not at once when a burst ends: under edits one at
 * a time every version is a burst of its own, and freeing and trimming after each made
 * the next version fault its buffers and the context back in (2-3 ms of a 10k-record
 * version's apply and build, and the context's tens of MB for the compressor). encode_hold() keeps
 * it from taking jobs (they queue) while a cold start loads: that work is what readiness waits for,
 * compression is not. A body is superseded when only its job holds it, not counting the
 * references of the borrowed bodies that slice it (only_queued()): those are held by
 * the same coll, so they go with it.
 */
#include "encode.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "herald/clock.h"
#include "herald/log.h"
#include "herald/thread.h"
#include "metrics.h"

/* ---- codecs ------------------------------------------------------------------------ */

int
encode_zstd(herald_buf *out, const void *p, size_t n, int level)
{
    size_t bound = ZSTD_compressBound(n);
    herald_buf_reserve(out, bound);
    size_t r = ZSTD_compress(out->data + out->len, bound, p, n, level);
    if (ZSTD_isError(r))
        return -1;
    out->len += r;
    return 0;
}

/*
 * The upgrader's compression: the same encodings, fed in slices so that encode_stop()
 * need not wait for a whole slow pass (zstd 19 on a 12 MB body takes ~10 s): between
 * slices it checks g_abort and gives up. It also gives up once the body it compresses
 * was superseded (only the job still holds it, see sweep_superseded): under a steady
 * stream of versions of a large collection, a best-level pass of a version that is no
 * longer served took a core for seconds, for nothing. Returns 0, or -1 on failure or
 * abort.
 */
#define SLICE (256 * 1024)
static atomic_int g_abort;

/* Whether only the upgrader's job still holds 'b': its version was superseded. The
 * bodies that borrow b's memory (payload_new_parts) hold references too, but they are
 * held only by their coll and by jobs, and a live coll holds 'b' itself: so 'b' is
 * superseded when its references are the job's and its borrowers'. 'borrowers' is read
 * first: while the coll lives it only grows (and a borrower counts in 'refs' before
 * it counts there), so a live body is never taken for superseded. */
static int
only_queued(const payload *b)
{
    int borrowers = atomic_load_explicit(&b->borrowers, memory_order_acquire);
    return atomic_load_explicit(&b->refs, memory_order_acquire) - borrowers == 1;
}

/* Whether the upgrader's pass over 'b' should stop (b NULL: not abortable). */
static int
give_up(const payload *b)
{
    return b && (atomic_load_explicit(&g_abort, memory_order_relaxed) || only_queued(b));
}

static size_t
parts_len(const body_part *parts, size_t np)
{
    size_t n = 0;
    for (size_t i = 0; i < np; i++)
        n += parts[i].n;
    return n;
}

/* Gzip of the concatenation of 'parts' appended to 'out', fed to zlib 'slice' bytes at
 * a time; with a body 'job', gives up between slices when give_up(job). Deflate's
 * output does not depend on how its input is cut: one slice of one part is the one-shot
 * encoding, and several parts give the bytes of their concatenation. */
static int
gzip_parts(herald_buf *out, const body_part *parts, size_t np, int level, size_t slice,
           const payload *job)
{
    size_t n = parts_len(parts, np);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip wrapper; memLevel 9: a little faster, same output. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&zs, (uLong)n);
    herald_buf_reserve(out, bound);
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    int rc = n == 0 ? deflate(&zs, Z_FINISH) : Z_OK;
    size_t fed = 0;
    for (size_t i = 0; i < np && rc == Z_OK; i++)
        for (size_t off = 0; off < parts[i].n && rc == Z_OK;) {
            if (give_up(job)) {
                rc = Z_STREAM_ERROR;
                break;
            }
            size_t k = parts[i].n - off < slice ? parts[i].n - off : slice;
            zs.next_in = (Bytef *)(uintptr_t)(parts[i].p + off);
            zs.avail_in = (uInt)k;
            off += k;
            fed += k;
            rc = deflate(&zs, fed == n ? Z_FINISH : Z_NO_FLUSH);
        }
    if (rc == Z_STREAM_END)
        out->len += bound - zs.avail_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -1;
}

int
encode_gzip(herald_buf *out, const void *p, size_t n, int level)
{
    body_part one = {p, n};
    return gzip_parts(out, &one, 1, level, n ? n : 1, NULL);
}

/* Zstd of the concatenation of 'parts' (n > 0 bytes in all) with the context 'cc', fed
 * SLICE bytes at a time, as gzip_parts(). The stream keeps its own window, so the parts
 * need not be contiguous; the frame is that of their concatenation. */
static int
zstd_parts(ZSTD_CCtx *cc, herald_buf *out, const body_part *parts, size_t np, int level,
           const payload *job)
{
    size_t n = parts_len(parts, np);
    size_t bound = ZSTD_compressBound(n);
    herald_buf_reserve(out, bound);
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    /* The pledged size puts the content size in the frame header, as one-shot does. */
    if (n == 0 || ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, n)))
        return -1;
    ZSTD_outBuffer ob = {out->data + out->len, bound, 0};
    size_t fed = 0;
    for (size_t i = 0; i < np; i++)
        for (size_t off = 0; off < parts[i].n;) {
            if (give_up(job))
                return -1;
            size_t k = parts[i].n - off < SLICE ? parts[i].n - off : SLICE;
            ZSTD_inBuffer ib = {parts[i].p + off, k, 0};
            off += k;
            fed += k;
            ZSTD_EndDirective end = fed == n ? ZSTD_e_end : ZSTD_e_continue;
            size_t r;
            do
                r = ZSTD_compressStream2(cc, &ob, &ib, end);
            while (!ZSTD_isError(r) && (ib.pos < ib.size || (end == ZSTD_e_end && r != 0)) &&
                   ob.pos < ob.size);
            if (ZSTD_isError(r) || ib.pos < ib.size || (end == ZSTD_e_end && r != 0))
                return -1;
            if (end == ZSTD_e_end) {
                out->len += ob.pos;
                return 0;
            }
        }
    return -1;
}

/* ---- bodies ------------------------------------------------------------------------ */

typedef struct job {
    payload *b;
    struct job *next;
    int64_t best_at; /* in 'jobs': not before this (herald_clock_mono_ms), see BEST_DELAY_MS */
    int64_t due;     /* in 'fresh': not before this (herald_clock_mono_ms), see LARGE_BODY */
} job;

/* A body of at least LARGE_BODY bytes gets its fast encodings only once it has been
 * queued for LARGE_DELAY_MS (unless a drain asks): at 100k records (22 MB) they take
 * ~150 ms of CPU (gzip 1 and zstd 1), and under edits one at a time a version is
 * superseded every ~70 ms, so every pass started only to give up, a core's worth of CPU
 * taken from the signer, the loader and the verification on a small host. Meanwhile the
 * body is served in identity, as any body is until compressed; the small ones (the
 * cached _since deltas clients poll with) are compressed at once. */
#define LARGE_BODY (4u << 20)
#define LARGE_DELAY_MS 250

#define SPARE_BODIES 2 /* a version has one or two large bodies: see body_free() */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*g_on_ready)(void); /* conn.c: wakes long-poll waiters; under g_lock */
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER, g_idle = PTHREAD_COND_INITIALIZER;

/* Everything below is protected by g_lock. */
static struct {
    pthread_t thread;
    int running, stopping, busy;
    int held;        /* encode_hold(1): queue, compress nothing (a cold start's loading) */
    job *fresh;      /* bodies with no encoding yet, newest first: served first */
    job *jobs;       /* bodies with fast encodings, waiting for the best levels */
    int pushed;      /* bodies queued since the last sweep (sweep_superseded) */
    int lingering;   /* a burst ended; its context and freed memory not handed back yet */
    int release_now; /* encode_drain() asks for that at once */
    int draining;    /* encode_drain() callers waiting: no BEST_DELAY_MS wait */
    struct timespec release_at; /* CLOCK_REALTIME, as g_cond's timed wait */
    unsigned long long upgraded, skipped;
    char *spare[SPARE_BODIES]; /* freed bodies' memory, oldest first (see SPARE_MIN) */
    size_t spare_len[SPARE_BODIES];
    unsigned long long spares_taken;
} U;

/* Unlinks, under g_lock, every queued job whose body only the queue still holds (its
 * version was superseded or dropped) and returns them as a list to release outside the
 * lock. The lists are LIFO, so under a steady stream of new versions the thread never
 * reaches the oldest jobs: without this sweep each of them kept its superseded body
 * alive until the stream ended (a read server under 10,000 edits of 700 KB collections
 * grew by ~20 MB/s to several GB). Run only after new bodies were queued: a body goes
 * alone only when a newer version replaces it, and that queues the newer one. */
static job *
sweep_superseded(void)
{
    job *gone = NULL;
    if (!U.pushed)
        return NULL;
    U.pushed = 0;
    job **lists[2] = {&U.fresh, &U.jobs};
    for (int i = 0; i < 2; i++)
        for (job **pp = lists[i]; *pp;) {
            job *j = *pp;
            if (only_queued(j->b)) {
                *pp = j->next;
                j->next = gone;
                gone = j;
                U.skipped++;
            } else {
                pp = &j->next;
            }
        }
    return gone;
}

static void
release_jobs(job *j)
{
    for (job *next; j; j = next) {
        next = j->next;
        payload_release(j->b);
        free(j);
    }
}

/* Compresses 'b' at 'level' with 'enc' and returns a new encoded, or NULL when that
 * fails or is not smaller than the identity body. 'cc': the upgrader's context (sliced,
 * abortable compression); NULL: one-shot, on the calling thread. */
static encoded *
make_encoded(const payload *b, int enc, int level, ZSTD_CCtx *cc)
{
    herald_buf out = HERALD_BUF_INIT;
    body_part own = {b->data, b->len};
    const body_part *parts = b->nparts ? b->part : &own;
    size_t np = b->nparts ? b->nparts : 1;
    int rc;
    if (b->len == 0)
        return NULL; /* never smaller */
    if (cc) {
        rc = enc == ENC_GZIP ? gzip_parts(&out, parts, np, level, SLICE, b)
                             : zstd_parts(cc, &out, parts, np, level, b);
    } else if (enc == ENC_GZIP) {
        rc = gzip_parts(&out, parts, np, level, b->len, NULL);
    } else if (!b->nparts) {
        rc = encode_zstd(&out, b->data, b->len, level);
    } else { /* a borrowed body without the upgrader: a context of its own */
        ZSTD_CCtx *tmp = ZSTD_createCCtx();
        rc = tmp ? zstd_parts(tmp, &out, parts, np, level, NULL) : -1;
        ZSTD_freeCCtx(tmp);
    }
    if (rc < 0 || out.len >= b->len) {
        if (rc < 0 && !(cc && give_up(b)))
            herald_warn("%s level %d failed on %zu bytes", enc == ENC_GZIP ? "gzip" : "zstd", level,
                        b->len);
        herald_buf_free(&out);
        return NULL;
    }
    encoded *e = herald_mem_alloc(sizeof(*e));
    e->len = out.len;
    e->level = level;
    /* The buffer was reserved at the worst-case bound: give back the rest (for a
     * compressible body, most of it) instead of keeping it for the body's life. */
    e->data = herald_mem_realloc(herald_buf_steal(&out, NULL), e->len);
    return e;
}

static void
encoded_free(encoded *e)
{
    if (e) {
        free(e->data);
        free(e);
    }
}

/* Compresses 'b' at the fast levels (the best ones for small bodies) into its empty
 * slots. Returns 1 when a best-level pass is still worth doing, else 0. */
static int
compress_first(payload *b, ZSTD_CCtx *cc)
{
    int small = b->len <= BODY_SMALL;
    atomic_store_explicit(&b->enc[ENC_GZIP],
                          make_encoded(b, ENC_GZIP, small ? BODY_BEST_GZIP : BODY_FAST_GZIP, cc),
                          memory_order_release);
    atomic_store_explicit(&b->enc[ENC_ZSTD],
                          make_encoded(b, ENC_ZSTD, small ? BODY_BEST_ZSTD : BODY_FAST_ZSTD, cc),
                          memory_order_release);
    atomic_store_explicit(&b->ready, 1, memory_order_release);
    return !small && b->enc[ENC_GZIP] != NULL;
}

void
encode_on_ready(void (*fn)(void))
{
    pthread_mutex_lock(&g_lock);
    g_on_ready = fn;
    pthread_mutex_unlock(&g_lock);
}

/* A new body, not yet compressed or queued. */
static payload *
payload_alloc(char *data, size_t len)
{
    payload *b = herald_mem_calloc(1, sizeof(*b));
    atomic_init(&b->refs, 1);
    atomic_init(&b->borrowers, 0);
    b->data = data;
    b->len = len;
    for (int i = 0; i < ENC_COUNT; i++)
        atomic_init(&b->enc[i], NULL);
    return b;
}

/* Compresses or queues 'b' (payload_new()). */
static payload *
payload_queue(payload *b, size_t len, int compress)
{
    atomic_init(&b->ready, !compress || len == 0);
    if (!compress || len == 0)
        return b;
    pthread_mutex_lock(&g_lock);
    if (U.running && !U.stopping) {
        /* Served in identity from now on; the upgrader compresses it soon. */
        job *j = herald_mem_alloc(sizeof(*j));
        payload_ref(b);
        j->b = b;
        j->best_at = 0;
        j->due = herald_clock_mono_ms() + (len >= LARGE_BODY ? LARGE_DELAY_MS : 0);
        j->next = U.fresh;
        U.fresh = j;
        U.pushed++;
        pthread_cond_signal(&g_cond);
        pthread_mutex_unlock(&g_lock);
        return b;
    }
    pthread_mutex_unlock(&g_lock);
    (void)compress_first(b, NULL); /* no upgrader (tests, tools): fast levels, at once */
    return b;
}

payload *
payload_new(char *data, size_t len, int compress)
{
    return payload_queue(payload_alloc(data, len), len, compress);
}

payload *
payload_new_parts(payload *keep, const body_part *parts, size_t nparts, int compress)
{
    payload *b = payload_alloc(NULL, 0);
    if (nparts > PAYLOAD_PARTS)
        nparts = PAYLOAD_PARTS; /* a caller's bug: cut rather than overrun */
    for (size_t i = 0; i < nparts; i++) {
        b->part[i] = parts[i];
        b->len += parts[i].n;
    }
    b->nparts = nparts;
    /* The reference first, then the count (only_queued() relies on that order). */
    payload_ref(keep);
    atomic_fetch_add_explicit(&keep->borrowers, 1, memory_order_release);
    b->keep = keep;
    return payload_queue(b, b->len, compress);
}

payload *
payload_from_buf(herald_buf *buf, int compress)
{
    size_t len;
    herald_buf_cstr(buf);
    char *data = herald_buf_steal(buf, &len);
    /* A buffer grows by doubling: keep only the bytes, for as long as the body lives. */
    return payload_new(herald_mem_realloc(data, len + 1), len, compress);
}

/*
 * Spare bodies. A version built from the previous one (snapset.c) writes a new body as
 * large as the collection's listing, 22 MB at 100k records, and with the server's mmap
 * threshold (main.c) every such buffer is a fresh mapping whose pages are faulted in and
 * zeroed as it is written: 8 of the 17 ms of a 100k-record build in bench_delta_apply.
 * So while versions keep coming (the upgrader has work: each version queues its bodies)
 * the last SPARE_BODIES freed bodies of at least SPARE_MIN bytes are kept (a collection
 * with tombstones has two: the changes with them, the records without), and the next
 * build writes into them (payload_spare_take). Only during a burst: they go back with
 * the rest of the freed memory when the burst's linger ends (linger_or_release), or at
 * encode_stop(); a body freed outside a burst is freed at once.
 */
#define SPARE_MIN (256 * 1024) /* main.c's mmap threshold: smaller blocks are reused anyway */

/* Takes the spares out, under g_lock, into 'out' (to free outside the lock). */
static void
spares_take_all(char *out[SPARE_BODIES])
{
    for (int i = 0; i < SPARE_BODIES; i++) {
        out[i] = U.spare[i];
        U.spare[i] = NULL;
    }
}

static void
body_free(char *data, size_t len)
{
    if (data && len >= SPARE_MIN) {
        pthread_mutex_lock(&g_lock);
        if (U.running && !U.stopping && (U.busy || U.fresh || U.jobs)) {
            char *oldest = U.spare[0];
            for (int i = 0; i + 1 < SPARE_BODIES; i++) {
                U.spare[i] = U.spare[i + 1];
                U.spare_len[i] = U.spare_len[i + 1];
            }
            U.spare[SPARE_BODIES - 1] = data;
            U.spare_len[SPARE_BODIES - 1] = len;
            data = oldest;
        }
        pthread_mutex_unlock(&g_lock);
    }
    free(data);
}

char *
payload_spare_take(size_t size, size_t *len)
{
    char *p = NULL;
    pthread_mutex_lock(&g_lock);
    /* Newest first. Not a body of a much smaller collection (it would shrink it, and the
     * next version of the large one would fault it all in again), nor of a much larger
     * one. */
    for (int i = SPARE_BODIES - 1; i >= 0 && !p; i--) {
        if (U.spare[i] && U.spare_len[i] >= size / 2 && U.spare_len[i] / 2 <= size) {
            p = U.spare[i];
            *len = U.spare_len[i];
            U.spare[i] = NULL;
            U.spares_taken++;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return p;
}

void
payload_ref(payload *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void
payload_release(payload *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < ENC_COUNT; i++) {
        encoded_free(atomic_load_explicit(&b->enc[i], memory_order_relaxed));
        encoded_free(b->old[i]);
    }
    body_free(b->data, b->len);
    if (b->keep) {
        /* The count first, then the reference (see only_queued()). */
        atomic_fetch_sub_explicit(&b->keep->borrowers, 1, memory_order_release);
        payload_release(b->keep);
    }
    free(b);
}

/* ---- upgrader ---------------------------------------------------------------------- */

static void
upgrade(payload *b, ZSTD_CCtx *cc)
{
    static const int best[ENC_COUNT] = {0, BODY_BEST_GZIP, BODY_BEST_ZSTD};
    for (int i = ENC_GZIP; i < ENC_COUNT; i++) {
        const encoded *cur = payload_get(b, i);
        if (cur && cur->level >= best[i])
            continue;
        encoded *e = make_encoded(b, i, best[i], cc);
        if (!e)
            continue;
        if (cur && e->len >= cur->len) { /* no gain: keep the fast one */
            encoded_free(e);
            continue;
        }
        /* The old encoding may be in a connection's output queue right now: it is
         * freed with the body, never here. */
        b->old[i] = atomic_exchange_explicit(&b->enc[i], e, memory_order_acq_rel);
    }
}

/* Called with g_lock held when the lists may be empty (after the last job, or after a
 * sweep that dropped the rest): if they are, the burst is over. 'busy' is cleared and
 * encode_drain() woken (without this after a sweep, encode_drain() could wait forever);
 * the context and the freed memory go back LINGER_MS later if no job comes meanwhile
 * (linger_or_release). */
#define LINGER_MS 1000
static void
burst_end(void)
{
    if (U.jobs || U.fresh)
        return;
    U.busy = 0;
    U.lingering = 1;
    clock_gettime(CLOCK_REALTIME, &U.release_at);
    U.release_at.tv_sec += LINGER_MS / 1000;
    U.release_at.tv_nsec += (long)(LINGER_MS % 1000) * 1000000L;
    if (U.release_at.tv_nsec >= 1000000000L) {
        U.release_at.tv_sec++;
        U.release_at.tv_nsec -= 1000000000L;
    }
    pthread_cond_broadcast(&g_idle);
}

/* Waits, under g_lock, for a job or the end of the linger; at the end (or at once when
 * encode_drain() asks) frees the context and trims, outside the lock. */
static void
linger_or_release(ZSTD_CCtx **cc)
{
    if (!U.lingering) {
        pthread_cond_wait(&g_cond, &g_lock);
        return;
    }
    if (!U.release_now && pthread_cond_timedwait(&g_cond, &g_lock, &U.release_at) != ETIMEDOUT)
        return; /* a job, a stop, or a drain: the caller looks again */
    char *spare[SPARE_BODIES];
    spares_take_all(spare);
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < SPARE_BODIES; i++)
        free(spare[i]);
    ZSTD_freeCCtx(*cc);
    *cc = NULL;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    pthread_mutex_lock(&g_lock);
    U.lingering = U.release_now = 0;
    pthread_cond_broadcast(&g_idle);
}

/* The best levels (gzip 9, zstd 19: ~1 s of CPU for a 1.7 MB body) start only once the
 * newest queued body has had its fast encodings for BEST_DELAY_MS: under a stream of
 * versions (an import, a burst, edits one at a time in a loop) almost every body is
 * superseded within that time, and a pass that starts only to give up at its next slice
 * still took a core's worth of CPU from the versions being built and served (~30 ms per
 * version at 1,000 records). A lone edit's body gets its best levels 250 ms later. */
#define BEST_DELAY_MS 250

/* Waits, under g_lock, up to 'ms' for something to change. Returns 0 at once when 'ms'
 * is not positive, else 1 after waiting. */
static int
wait_for_best(int64_t ms)
{
    if (ms <= 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* g_cond's clock */
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g_cond, &g_lock, &ts);
    return 1;
}

/* Compression is never what a new version waits for: at 100k records a body takes the
 * upgrader ~120 ms of CPU per version, and at the same priority it delayed the loader
 * building the next version and the signer signing it (herald/thread.h). */
#define UPGRADER_NICE 10

static void *
upgrader_main(void *arg)
{
    (void)arg;
    herald_thread_background(UPGRADER_NICE, "encode");
    ZSTD_CCtx *cc = NULL;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        while ((U.held || (!U.fresh && !U.jobs)) && !U.stopping)
            linger_or_release(&cc);
        if (U.stopping)
            break;
        if (!U.fresh && U.jobs && !U.draining && !U.pushed &&
            wait_for_best(U.jobs->best_at - herald_clock_mono_ms()))
            continue; /* waited: a new body, a drain, a stop, or time to start */
        job *gone = sweep_superseded();
        if (gone) {
            pthread_mutex_unlock(&g_lock);
            release_jobs(gone);
            pthread_mutex_lock(&g_lock);
            burst_end(); /* the sweep may have ended the burst */
            continue;    /* the lists may be empty now, or stopping set */
        }
        /* The newest fresh body that is due (a large one waits, see LARGE_BODY); none:
         * wait for the first to be. */
        job **pp = &U.fresh;
        if (U.fresh && !U.draining) {
            int64_t now = herald_clock_mono_ms(), soonest = INT64_MAX;
            for (; *pp && (*pp)->due > now; pp = &(*pp)->next)
                soonest = (*pp)->due < soonest ? (*pp)->due : soonest;
            if (!*pp) {
                (void)wait_for_best(soonest - now);
                continue; /* due now, or a new body, a drain, a stop */
            }
        }
        int first = U.fresh != NULL;
        job *j = first ? *pp : U.jobs;
        if (first)
            *pp = j->next;
        else
            U.jobs = j->next;
        U.busy = 1;
        pthread_mutex_unlock(&g_lock);
        /* Only our reference left: the version is gone, skip the work. */
        int alone = only_queued(j->b);
        int again = 0;
        if (!alone) {
            int64_t t0 = herald_clock_mono_ns();
            if (!cc)
                cc = ZSTD_createCCtx(); /* NULL: make_encoded() falls back to its own */
            if (first)
                again = compress_first(j->b, cc);
            else
                upgrade(j->b, cc);
            metrics_step_add(VS_COMPRESS, herald_clock_mono_ns() - t0);
        }
        pthread_mutex_lock(&g_lock);
        /* Called under the lock, so that once encode_on_ready(NULL) returns no call is
         * in flight (the workers it wakes may be going away). */
        if (first && !alone && g_on_ready)
            g_on_ready();
        if (again && !U.stopping) {
            /* The best levels once every new body has its fast encodings. */
            j->best_at = herald_clock_mono_ms() + BEST_DELAY_MS;
            j->next = U.jobs;
            U.jobs = j;
        } else {
            pthread_mutex_unlock(&g_lock);
            payload_release(j->b);
            free(j);
            pthread_mutex_lock(&g_lock);
            if (alone)
                U.skipped++;
            else
                U.upgraded++;
        }
        burst_end();
    }
    pthread_mutex_unlock(&g_lock);
    ZSTD_freeCCtx(cc);
    return NULL;
}

int
encode_start(void)
{
    pthread_mutex_lock(&g_lock);
    int rc = 0;
    if (!U.running) {
        U.stopping = 0;
        U.lingering = U.release_now = 0; /* a stopped thread freed its context */
        atomic_store(&g_abort, 0);
        if (pthread_create(&U.thread, NULL, upgrader_main, NULL) != 0)
            rc = -1;
        else
            U.running = 1;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void
encode_stop(void)
{
    pthread_mutex_lock(&g_lock);
    if (!U.running) {
        pthread_mutex_unlock(&g_lock);
        return;
    }
    U.stopping = 1;
    atomic_store(&g_abort, 1); /* the pass under way gives up at its next slice */
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    pthread_join(U.thread, NULL);
    pthread_mutex_lock(&g_lock);
    job *lists[2] = {U.fresh, U.jobs};
    U.fresh = U.jobs = NULL;
    U.running = 0;
    char *spare[SPARE_BODIES];
    spares_take_all(spare);
    pthread_cond_broadcast(&g_idle);
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < SPARE_BODIES; i++)
        free(spare[i]);
    for (int i = 0; i < 2; i++)
        release_jobs(lists[i]);
}

void
encode_hold(int on)
{
    pthread_mutex_lock(&g_lock);
    U.held = on;
    if (!on)
        pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

void
encode_drain(void)
{
    pthread_mutex_lock(&g_lock);
    if (U.held) { /* waiting on held work would never end */
        U.held = 0;
        pthread_cond_broadcast(&g_cond);
    }
    /* Until the memory is back too, as before the linger: a drained server's memory is
     * its snapshots. */
    U.draining++;
    pthread_cond_broadcast(&g_cond); /* no BEST_DELAY_MS wait for a drain */
    while (U.running && (U.fresh || U.jobs || U.busy || U.lingering)) {
        if (U.lingering && !U.release_now) {
            U.release_now = 1;
            pthread_cond_broadcast(&g_cond);
        }
        pthread_cond_wait(&g_idle, &g_lock);
    }
    U.draining--;
    pthread_mutex_unlock(&g_lock);
}

unsigned long long
encode_spares_taken(void)
{
    pthread_mutex_lock(&g_lock);
    unsigned long long n = U.spares_taken;
    pthread_mutex_unlock(&g_lock);
    return n;
}

void
encode_stats(unsigned long long *upgraded, unsigned long long *skipped, unsigned long long *pending)
{
    pthread_mutex_lock(&g_lock);
    *upgraded = U.upgraded;
    *skipped = U.skipped;
    *pending = (unsigned long long)U.busy;
    for (const job *j = U.jobs; j; j = j->next)
        (*pending)++;
    for (const job *j = U.fresh; j; j = j->next)
        (*pending)++;
    pthread_mutex_unlock(&g_lock);
}
