/*
 * blobz -- see blobz.h. The queue is FIFO with replacement; the finished list is FIFO.
 * 'busy' counts the job the thread holds, so that signer_blobz_pending() and
 * signer_blobz_wait() see it between the two lists.
 */
#include "blobz.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "herald/clock.h"
#include "herald/log.h"
#include "herald/snapshot.h"
#include "herald/thread.h"

#define BLOBZ_NICE 10

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a job queued, stopping, or (for waiters) one finished */
    pthread_t thread;
    int running, stopping, busy;
    const signer_blobz_job *current; /* the job under way (when 'busy') */
    signer_blobz_job *queue, *done;
} Z = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void
signer_blobz_job_free(signer_blobz_job *j)
{
    if (!j)
        return;
    free(j->member);
    free(j->snapkey);
    herald_buf_free(&j->in);
    herald_buf_free(&j->out);
    free(j);
}

static void
append(signer_blobz_job **list, signer_blobz_job *j)
{
    j->next = NULL;
    while (*list)
        list = &(*list)->next;
    *list = j;
}

/* The work on one job: 'out' and 'ok'. */
void
signer_blobz_run(signer_blobz_job *j)
{
    double t0 = (double)herald_clock_mono_ns() / 1e6;
    const char *src = j->in.data;
    size_t len = j->in.len;
    char *raw = NULL;
    if (j->kind == BLOBZ_RECOMPRESS) {
        unsigned long long size = ZSTD_getFrameContentSize(src, len);
        if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
            size > HERALD_SNAPSHOT_MAX_BLOB)
            return;
        raw = herald_mem_alloc((size_t)size + 1);
        size_t got = ZSTD_decompress(raw, (size_t)size, src, len);
        if (ZSTD_isError(got) || got != size) {
            free(raw);
            return;
        }
        src = raw;
        len = got;
    }
    size_t bound = ZSTD_compressBound(len);
    herald_buf_reserve(&j->out, bound);
    size_t z = ZSTD_compress(j->out.data, bound, src, len, j->level);
    free(raw);
    if (ZSTD_isError(z))
        return;
    j->out.len = z;
    j->ok = 1;
    j->zstd_ms = (double)herald_clock_mono_ns() / 1e6 - t0;
}

static void *
blobz_main(void *arg)
{
    (void)arg;
    herald_thread_background(BLOBZ_NICE, "blobz"); /* the main thread keeps its priority */
    pthread_mutex_lock(&Z.lock);
    for (;;) {
        while (!Z.queue && !Z.stopping)
            pthread_cond_wait(&Z.cond, &Z.lock);
        if (Z.stopping)
            break;
        signer_blobz_job *j = Z.queue;
        Z.queue = j->next;
        Z.busy = 1;
        Z.current = j;
        pthread_mutex_unlock(&Z.lock);
        signer_blobz_run(j);
        herald_buf_free(&j->in); /* the content's copy goes as soon as it is compressed */
        pthread_mutex_lock(&Z.lock);
        Z.busy = 0;
        Z.current = NULL;
        append(&Z.done, j);
        pthread_cond_broadcast(&Z.cond);
    }
    pthread_mutex_unlock(&Z.lock);
    return NULL;
}

int
signer_blobz_start(void)
{
    if (Z.running)
        return 0;
    Z.stopping = 0;
    if (pthread_create(&Z.thread, NULL, blobz_main, NULL) != 0)
        return -1;
    Z.running = 1;
    return 0;
}

int
signer_blobz_running(void)
{
    return Z.running;
}

static void
free_list(signer_blobz_job *j)
{
    while (j) {
        signer_blobz_job *next = j->next;
        signer_blobz_job_free(j);
        j = next;
    }
}

void
signer_blobz_stop(void)
{
    if (!Z.running)
        return;
    pthread_mutex_lock(&Z.lock);
    Z.stopping = 1;
    pthread_cond_broadcast(&Z.cond);
    pthread_mutex_unlock(&Z.lock);
    pthread_join(Z.thread, NULL);
    Z.running = 0;
    free_list(Z.queue);
    free_list(Z.done);
    Z.queue = Z.done = NULL;
}

void
signer_blobz_submit(signer_blobz_job *j)
{
    pthread_mutex_lock(&Z.lock);
    for (signer_blobz_job **p = &Z.queue; *p; p = &(*p)->next)
        if ((*p)->kind == j->kind && strcmp((*p)->member, j->member) == 0) {
            signer_blobz_job *old = *p;
            j->next = old->next;
            *p = j; /* in the older one's place: no collection waits longer for it */
            pthread_mutex_unlock(&Z.lock);
            herald_debug("blobz: %s version %lld replaces %lld before its compression", j->member,
                         (long long)j->version, (long long)old->version);
            signer_blobz_job_free(old);
            return;
        }
    append(&Z.queue, j);
    pthread_cond_broadcast(&Z.cond);
    pthread_mutex_unlock(&Z.lock);
}

signer_blobz_job *
signer_blobz_done(void)
{
    pthread_mutex_lock(&Z.lock);
    signer_blobz_job *j = Z.done;
    if (j) {
        Z.done = j->next;
        j->next = NULL;
    }
    pthread_mutex_unlock(&Z.lock);
    return j;
}

size_t
signer_blobz_pending(void)
{
    pthread_mutex_lock(&Z.lock);
    size_t n = (size_t)Z.busy;
    for (const signer_blobz_job *j = Z.queue; j; j = j->next)
        n++;
    pthread_mutex_unlock(&Z.lock);
    return n;
}

static int
has_member(const char *member, enum signer_blobz_kind kind)
{
    if (Z.busy && Z.current->kind == kind && strcmp(Z.current->member, member) == 0)
        return 1;
    for (const signer_blobz_job *j = Z.queue; j; j = j->next)
        if (j->kind == kind && strcmp(j->member, member) == 0)
            return 1;
    return 0;
}

void
signer_blobz_wait_member(const char *member, enum signer_blobz_kind kind)
{
    pthread_mutex_lock(&Z.lock);
    while (Z.running && has_member(member, kind))
        pthread_cond_wait(&Z.cond, &Z.lock);
    pthread_mutex_unlock(&Z.lock);
}

void
signer_blobz_wait(void)
{
    pthread_mutex_lock(&Z.lock);
    while (Z.running && (Z.queue || Z.busy))
        pthread_cond_wait(&Z.cond, &Z.lock);
    pthread_mutex_unlock(&Z.lock);
}
