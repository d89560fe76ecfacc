/*
 * loader -- see loader.h. One mutex guards the queue and the finished list; the pipe
 * carries a byte per finished job (a burst of them is read, and delivered, in one wake-up).
 * Results are delivered in submission order: each job gets a sequence number, and a job
 * that finished early waits in 'held' (the loop's own list) until every earlier one has
 * been delivered. So the served set changes in the order the notifications came, as it
 * did when blobs were loaded one after another; only the work runs in parallel.
 */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herald/clock.h"
#include "herald/delta.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/snapshot.h"
#include "metrics.h"

#define MAX_THREADS 8

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t threads[MAX_THREADS];
    int nthreads;
    int stopping;
    load_job *queue, **queue_tail; /* FIFO: a resync's blobs in monitor order */
    load_job *finished;
    size_t running, queued;
    uint64_t next_seq;     /* given to the next submitted job (under the lock) */
    uint64_t next_deliver; /* the loop's: the sequence number due next */
    load_job *held;        /* the loop's: finished out of order, sorted by seq */
    int pipe[2];
    struct event *ev;
    const herald_pubkey *keys;
    size_t nkeys;
    void (*done)(load_job *j);
} L = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .pipe = {-1, -1}};

/* Whether a version at least as new as 'version' of the job's collection is served. */
static int
served_newer(const load_job *j, int64_t version)
{
    snapset *cur = snapset_acquire();
    const coll *old =
        cur ? snapset_find(cur, j->bid, strlen(j->bid), j->cid, strlen(j->cid)) : NULL;
    int stale = old && old->version >= version;
    snapset_release(cur);
    return stale;
}

/* From this many records on (server_parallel_verify_records; 0: never), a version built
 * from a delta is verified on a thread of its own while this one builds its bodies: at
 * 100k records (22 MB) the SHA-256 and the build take ~25 ms each (bench_delta_apply),
 * one after the other before. Below 10k the thread would cost about what it saves. */
static atomic_size_t g_parallel_verify = 10000;

void
loader_set_parallel_verify(size_t records)
{
    atomic_store_explicit(&g_parallel_verify, records, memory_order_relaxed);
}

typedef struct vjob {
    herald_state *st;
    int rc;
    char err[256];
} vjob;

static void *
verify_main(void *arg)
{
    vjob *v = arg;
    v->rc = herald_state_verify(v->st, L.keys, L.nkeys, v->err, sizeof(v->err));
    return NULL;
}

/* A delta job: the base's state plus the delta, verified, and its coll. Borrowing: the
 * base's records are read where the base's listing holds them (the job holds the base
 * until the coll has adopted the state, which points them at the new listing). Nothing
 * built is kept unless the verification passed. */
static void
run_delta(load_job *j)
{
    herald_state *st =
        herald_state_apply_unverified(j->base->state, j->blob, j->len, j->err, sizeof(j->err));
    free(j->blob);
    j->blob = NULL;
    if (!st) {
        j->verdict = LOAD_INVALID;
        goto out;
    }
    j->version = herald_state_timestamp(st);
    if (served_newer(j, j->version)) {
        j->verdict = LOAD_NOT_NEWER;
        herald_state_free(st);
        goto out;
    }
    vjob v = {.st = st, .rc = -1};
    pthread_t t;
    size_t from = atomic_load_explicit(&g_parallel_verify, memory_order_relaxed);
    int threaded = from > 0 && herald_state_count(st, 0) >= from &&
                   pthread_create(&t, NULL, verify_main, &v) == 0;
    if (!threaded)
        verify_main(&v);
    int64_t t0 = herald_clock_mono_ns();
    /* Only reads 'st', as the verification does; reuses the base's bodies. */
    coll *c = !threaded && v.rc < 0
                  ? NULL
                  : coll_build_state(st, j->base, herald_clock_wall_ms(), j->err, sizeof(j->err));
    int64_t build_ns = herald_clock_mono_ns() - t0;
    if (threaded)
        pthread_join(t, NULL);
    if (v.rc < 0) {
        snprintf(j->err, sizeof(j->err), "%s", v.err);
        coll_release(c);
        c = NULL;
    }
    int64_t apply_ns = 0, verify_ns = 0;
    herald_state_apply_timings(st, &apply_ns, &verify_ns);
    metrics_step_add(VS_APPLY, apply_ns);
    if (!c) {
        herald_state_free(st);
        j->verdict = LOAD_INVALID;
        goto out;
    }
    metrics_step_add(VS_VERIFY, verify_ns);
    coll_adopt_state(c, st);
    j->c = c;
    j->verdict = LOAD_OK;
    c->t_apply_ns = apply_ns;
    c->t_verify_ns = verify_ns;
    c->t_build_ns = build_ns;
    metrics_step_add(VS_BUILD, build_ns);
out:
    coll_release(j->base);
    j->base = NULL;
}

/* The work of one job (a worker thread): decode, check the names, drop what is not
 * newer than the served version, verify, build. */
static void
run(load_job *j)
{
    if (j->base) {
        run_delta(j);
        return;
    }
    int64_t t0 = herald_clock_mono_ns();
    /* Indexed, not parsed: the records' ids and last_modified are all a state needs. */
    herald_snapshot *snap = herald_snapshot_decode_indexed(j->blob, j->len, j->err, sizeof(j->err));
    int64_t decode_ns = herald_clock_mono_ns() - t0;
    free(j->blob);
    j->blob = NULL;
    if (!snap) {
        j->verdict = LOAD_INVALID;
        return;
    }
    j->version = herald_snapshot_timestamp(snap);
    if (strcmp(herald_snapshot_bucket(snap), j->bid) ||
        strcmp(herald_snapshot_collection(snap), j->cid)) {
        snprintf(j->err, sizeof(j->err), "blob is for %.100s/%.100s", herald_snapshot_bucket(snap),
                 herald_snapshot_collection(snap));
        j->verdict = LOAD_INVALID;
        herald_snapshot_free(snap);
        return;
    }
    /* A burst of writes sends one notification per version and each GET answers the
     * newest blob: one already served is dropped before the verification and build. */
    if (served_newer(j, j->version)) {
        j->verdict = LOAD_NOT_NEWER;
        herald_snapshot_free(snap);
        return;
    }
    int64_t t1 = herald_clock_mono_ns();
    if (herald_snapshot_verify_decoded(snap, 0, L.keys, L.nkeys, j->err, sizeof(j->err)) < 0) {
        j->verdict = LOAD_INVALID;
        j->unverified = 1;
        herald_snapshot_free(snap);
        return;
    }
    int64_t t2 = herald_clock_mono_ns();
    /* The coll keeps a state (the records' signed bytes, indexed by id) so that the next
     * version can be built from a delta; it takes the decompressed blob as it is. */
    herald_state *st = herald_state_take_snapshot(snap, j->err, sizeof(j->err));
    if (!st) {
        j->verdict = LOAD_INVALID;
        return;
    }
    int64_t t3 = herald_clock_mono_ns();
    j->c =
        coll_new_state(st, NULL, herald_clock_wall_ms(), j->err, sizeof(j->err)); /* takes 'st' */
    j->verdict = j->c ? LOAD_OK : LOAD_INVALID;
    if (j->c) {
        /* Indexing the records into a state is part of reading the blob. */
        j->c->t_decode_ns = decode_ns + (t3 - t2);
        j->c->t_verify_ns = t2 - t1;
        j->c->t_build_ns = herald_clock_mono_ns() - t3;
        metrics_step_add(VS_DECODE, j->c->t_decode_ns);
        metrics_step_add(VS_VERIFY, j->c->t_verify_ns);
        metrics_step_add(VS_BUILD, j->c->t_build_ns);
    }
}

/* Moves 'j' to the finished list (lock held); wakes the loop if it was empty. */
static void
finish_locked(load_job *j)
{
    j->next = L.finished;
    L.finished = j;
    if (L.pipe[1] >= 0) {
        char b = 1;
        ssize_t w;
        do
            w = write(L.pipe[1], &b, 1);
        while (w < 0 && errno == EINTR);
        /* EAGAIN: a wake-up byte is already there, which is all that matters. */
    }
}

static void *
worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&L.lock);
    for (;;) {
        while (!L.queue && !L.stopping)
            pthread_cond_wait(&L.cond, &L.lock);
        if (L.stopping)
            break;
        load_job *j = L.queue;
        L.queue = j->next;
        if (!L.queue)
            L.queue_tail = &L.queue;
        L.queued--;
        L.running++;
        pthread_mutex_unlock(&L.lock);
        run(j);
        pthread_mutex_lock(&L.lock);
        L.running--;
        finish_locked(j);
    }
    pthread_mutex_unlock(&L.lock);
    return NULL;
}

/* Hands the finished jobs that are due to 'done', in submission order, then done(NULL);
 * with 'all', every finished job whatever its turn (stopping). */
static void
deliver(int all)
{
    pthread_mutex_lock(&L.lock);
    load_job *list = L.finished;
    L.finished = NULL;
    pthread_mutex_unlock(&L.lock);
    while (list) { /* insert each into 'held', sorted by seq */
        load_job *j = list, **at = &L.held;
        list = list->next;
        while (*at && (*at)->seq < j->seq)
            at = &(*at)->next;
        j->next = *at;
        *at = j;
    }
    while (L.held && (all || L.held->seq == L.next_deliver)) {
        load_job *j = L.held;
        L.held = j->next;
        L.next_deliver = j->seq + 1;
        L.done(j);
    }
    L.done(NULL);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    deliver(0);
}

int
loader_start(struct event_base *base, int threads, const herald_pubkey *keys, size_t nkeys,
             void (*done)(load_job *j))
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    L.keys = keys;
    L.nkeys = nkeys;
    L.done = done;
    L.stopping = 0;
    L.queue = NULL;
    L.queue_tail = &L.queue;
    L.finished = NULL;
    L.queued = L.running = 0;
    L.next_seq = L.next_deliver = 0;
    L.held = NULL;
    if (pipe(L.pipe) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(L.pipe[i], F_SETFL, fcntl(L.pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(L.pipe[i], F_SETFD, FD_CLOEXEC);
    }
    L.ev = event_new(base, L.pipe[0], EV_READ | EV_PERSIST, on_wake, NULL);
    if (!L.ev || event_add(L.ev, NULL) < 0)
        goto fail;
    for (L.nthreads = 0; L.nthreads < threads; L.nthreads++)
        if (pthread_create(&L.threads[L.nthreads], NULL, worker_main, NULL) != 0)
            goto fail;
    return 0;
fail:
    loader_stop();
    return -1;
}

void
loader_submit(load_job *j)
{
    j->next = NULL;
    j->c = NULL;
    j->err[0] = '\0';
    j->version = 0;
    j->unverified = 0;
    pthread_mutex_lock(&L.lock);
    j->seq = L.next_seq++;
    if (L.stopping || L.nthreads == 0) {
        free(j->blob);
        j->blob = NULL;
        coll_release(j->base);
        j->base = NULL;
        j->verdict = LOAD_CANCELLED;
        finish_locked(j);
    } else {
        *L.queue_tail = j;
        L.queue_tail = &j->next;
        L.queued++;
        pthread_cond_signal(&L.cond);
    }
    pthread_mutex_unlock(&L.lock);
}

size_t
loader_pending(void)
{
    pthread_mutex_lock(&L.lock);
    size_t n = L.queued + L.running;
    pthread_mutex_unlock(&L.lock);
    return n;
}

void
loader_stop(void)
{
    pthread_mutex_lock(&L.lock);
    L.stopping = 1;
    pthread_cond_broadcast(&L.cond);
    pthread_mutex_unlock(&L.lock);
    for (int i = 0; i < L.nthreads; i++)
        pthread_join(L.threads[i], NULL);
    L.nthreads = 0;
    /* Whatever was never run is reported as cancelled, after what did run. */
    pthread_mutex_lock(&L.lock);
    while (L.queue) {
        load_job *j = L.queue;
        L.queue = j->next;
        free(j->blob);
        j->blob = NULL;
        coll_release(j->base);
        j->base = NULL;
        j->verdict = LOAD_CANCELLED;
        finish_locked(j);
    }
    L.queue_tail = &L.queue;
    L.queued = 0;
    pthread_mutex_unlock(&L.lock);
    if (L.done)
        deliver(1);
    if (L.ev)
        event_free(L.ev);
    L.ev = NULL;
    for (int i = 0; i < 2; i++) {
        if (L.pipe[i] >= 0)
            close(L.pipe[i]);
        L.pipe[i] = -1;
    }
}
