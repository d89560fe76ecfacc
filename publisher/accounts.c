/*
 * accounts -- see accounts.h.
 *
 * Queue: a singly linked FIFO under one mutex, with a condition variable for the
 * workers. Finished jobs go to a second list under the same mutex, and one byte is
 * written to a pipe per finished job; the event loop drains the pipe and the list.
 */
#include "accounts.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "herald/clock.h"
#include "herald/log.h"
#include "herald/mem.h"

#define DIGEST_BYTES 32
#define QUEUE_MAX 256
#define USER_MAX 256

struct cache_entry {
    unsigned char digest[DIGEST_BYTES];
    char user[USER_MAX];
    long long expires_ms; /* 0: free slot */
};

struct pub_accounts {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t *threads;
    int nthreads;
    int stopping;
    pub_job *todo, *todo_tail, *done;
    int queued;
    int pipe_fd[2];
    struct event *ev;
    unsigned char *key; /* sodium_malloc */
    struct cache_entry *cache;
    size_t cache_max;
    long long ttl_ms;
    char *dummy_hash;
};

pub_job *
pub_job_new(enum pub_job_kind kind, const char *password, size_t pwlen, const char *hash,
            pub_job_done done, void *arg)
{
    pub_job *j = herald_mem_calloc(1, sizeof(*j));
    j->kind = kind;
    j->password = herald_mem_alloc(pwlen + 1);
    memcpy(j->password, password, pwlen);
    j->password[pwlen] = '\0';
    j->pwlen = pwlen;
    j->hash = hash ? herald_mem_strdup(hash) : NULL;
    j->done = done;
    j->arg = arg;
    return j;
}

void
pub_job_free(pub_job *j)
{
    if (!j)
        return;
    if (j->password) {
        sodium_memzero(j->password, j->pwlen);
        free(j->password);
    }
    free(j->hash);
    free(j);
}

char *
pub_accounts_hash_now(const char *password, size_t pwlen)
{
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password, pwlen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return NULL;
    return herald_mem_strdup(out);
}

static void
run_job(pub_job *j)
{
    j->started_us = herald_clock_mono_ns() / 1000;
    if (j->kind == PUB_JOB_HASH) {
        j->hash = pub_accounts_hash_now(j->password, j->pwlen);
        j->ok = j->hash != NULL;
    } else {
        j->ok = j->hash && crypto_pwhash_str_verify(j->hash, j->password, j->pwlen) == 0;
    }
    j->finished_us = herald_clock_mono_ns() / 1000;
}

static void *
worker(void *arg)
{
    pub_accounts *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->stopping && !a->todo)
            pthread_cond_wait(&a->cond, &a->lock);
        if (a->stopping)
            break;
        pub_job *j = a->todo;
        a->todo = j->next;
        if (!a->todo)
            a->todo_tail = NULL;
        pthread_mutex_unlock(&a->lock);
        run_job(j);
        pthread_mutex_lock(&a->lock);
        j->next = a->done;
        a->done = j;
        a->queued--;
        /* A full pipe only means the loop has wake-ups pending: it drains the whole
         * list on each one. */
        char one = 1;
        ssize_t w = write(a->pipe_fd[1], &one, 1);
        (void)w;
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static void
on_wakeup(evutil_socket_t fd, short what, void *arg)
{
    pub_accounts *a = arg;
    char buf[256];
    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&a->lock);
    pub_job *list = a->done;
    a->done = NULL;
    pthread_mutex_unlock(&a->lock);
    /* The list is newest first; run callbacks oldest first. */
    pub_job *rev = NULL;
    while (list) {
        pub_job *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        pub_job *next = rev->next;
        rev->next = NULL;
        rev->done(rev, rev->arg);
        rev = next;
    }
}

pub_accounts *
pub_accounts_new(struct event_base *base, int threads, int ttl_seconds, size_t cache_max)
{
    pub_accounts *a = herald_mem_calloc(1, sizeof(*a));
    a->pipe_fd[0] = a->pipe_fd[1] = -1;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    a->ttl_ms = (long long)ttl_seconds * 1000;
    a->cache_max = cache_max ? cache_max : 1;
    a->cache = herald_mem_calloc(a->cache_max, sizeof(*a->cache));
    a->key = sodium_malloc(crypto_generichash_KEYBYTES);
    if (!a->key)
        goto fail;
    randombytes_buf(a->key, crypto_generichash_KEYBYTES);
    {
        unsigned char pw[32];
        randombytes_buf(pw, sizeof(pw));
        a->dummy_hash = pub_accounts_hash_now((const char *)pw, sizeof(pw));
        sodium_memzero(pw, sizeof(pw));
        if (!a->dummy_hash)
            goto fail;
    }
    if (pipe(a->pipe_fd) != 0 || fcntl(a->pipe_fd[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(a->pipe_fd[1], F_SETFL, O_NONBLOCK) != 0)
        goto fail;
    a->ev = event_new(base, a->pipe_fd[0], EV_READ | EV_PERSIST, on_wakeup, a);
    if (!a->ev || event_add(a->ev, NULL) != 0)
        goto fail;
    a->threads = herald_mem_calloc((size_t)threads, sizeof(pthread_t));
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&a->threads[i], NULL, worker, a) != 0)
            goto fail;
        a->nthreads++;
    }
    return a;
fail:
    herald_error("accounts: cannot start the password workers: %s", strerror(errno));
    pub_accounts_free(a);
    return NULL;
}

void
pub_accounts_free(pub_accounts *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = 1;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    for (int i = 0; i < a->nthreads; i++)
        pthread_join(a->threads[i], NULL);
    free(a->threads);
    for (pub_job *lists[2] = {a->todo, a->done}, **l = lists; l < lists + 2; l++)
        while (*l) {
            pub_job *next = (*l)->next;
            pub_job_free(*l);
            *l = next;
        }
    if (a->ev)
        event_free(a->ev);
    for (int i = 0; i < 2; i++)
        if (a->pipe_fd[i] >= 0)
            close(a->pipe_fd[i]);
    sodium_free(a->key);
    free(a->dummy_hash);
    if (a->cache)
        sodium_memzero(a->cache, a->cache_max * sizeof(*a->cache));
    free(a->cache);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    free(a);
}

const char *
pub_accounts_dummy_hash(const pub_accounts *a)
{
    return a->dummy_hash;
}

int
pub_accounts_depth(pub_accounts *a)
{
    pthread_mutex_lock(&a->lock);
    int n = a->queued;
    pthread_mutex_unlock(&a->lock);
    return n;
}

int
pub_accounts_submit(pub_accounts *a, pub_job *job)
{
    int rc = -1;
    job->queued_us = herald_clock_mono_ns() / 1000;
    pthread_mutex_lock(&a->lock);
    if (a->queued < QUEUE_MAX) {
        job->next = NULL;
        if (a->todo_tail)
            a->todo_tail->next = job;
        else
            a->todo = job;
        a->todo_tail = job;
        a->queued++;
        pthread_cond_signal(&a->cond);
        rc = 0;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

static void
digest_of(unsigned char *out, const pub_accounts *a, const char *user, const char *pw, size_t pwlen)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, a->key, crypto_generichash_KEYBYTES, DIGEST_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&st, (const unsigned char *)pw, pwlen);
    crypto_generichash_final(&st, out, DIGEST_BYTES);
    sodium_memzero(&st, sizeof(st));
}

int
pub_accounts_cache_check(pub_accounts *a, const char *user, const char *password, size_t pwlen)
{
    unsigned char d[DIGEST_BYTES];
    long long now = herald_clock_mono_ms();
    int hit = 0;
    if (a->ttl_ms <= 0)
        return 0;
    digest_of(d, a, user, password, pwlen);
    for (size_t i = 0; i < a->cache_max; i++) {
        struct cache_entry *e = &a->cache[i];
        if (e->expires_ms > now && sodium_memcmp(e->digest, d, DIGEST_BYTES) == 0) {
            hit = 1;
            break;
        }
    }
    sodium_memzero(d, sizeof(d));
    return hit;
}

void
pub_accounts_cache_add(pub_accounts *a, const char *user, const char *password, size_t pwlen)
{
    long long now = herald_clock_mono_ms();
    struct cache_entry *slot = &a->cache[0];
    if (a->ttl_ms <= 0 || strlen(user) >= USER_MAX)
        return;
    /* A free or expired slot, else the one closest to expiry. */
    for (size_t i = 0; i < a->cache_max; i++) {
        struct cache_entry *e = &a->cache[i];
        if (e->expires_ms <= now) {
            slot = e;
            break;
        }
        if (e->expires_ms < slot->expires_ms)
            slot = e;
    }
    digest_of(slot->digest, a, user, password, pwlen);
    snprintf(slot->user, sizeof(slot->user), "%s", user);
    slot->expires_ms = now + a->ttl_ms;
}

void
pub_accounts_cache_forget(pub_accounts *a, const char *user)
{
    for (size_t i = 0; i < a->cache_max; i++)
        if (!user || strcmp(a->cache[i].user, user) == 0)
            memset(&a->cache[i], 0, sizeof(a->cache[i]));
}
