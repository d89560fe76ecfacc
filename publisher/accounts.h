/*
 * accounts -- argon2id off the event loop, and the cache of verified credentials.
 *
 * Accounts live in Redis as objects of the list ("", "account") whose data holds the
 * argon2id hash (libsodium crypto_pwhash_str, "$argon2id$..."), as Kinto's accounts
 * plugin keeps a bcrypt hash there. One verification costs ~80-100 ms and 64 MiB, so
 * it never runs on the event loop thread: a small pool of worker threads runs hash and
 * verify jobs, and hands finished jobs back through a pipe watched by the event loop,
 * where the job's callback runs. Nothing but the job itself is shared with a worker.
 *
 * Verified credentials are cached, as Kinto does with account_cache_ttl_seconds: the
 * key is a keyed BLAKE2b hash of "user\0password" under a random key in sodium_malloc
 * memory (so the cache holds no password and no unkeyed digest that could be
 * brute-forced offline), the value the account id and an expiry. Changing an account's
 * password or deleting it forgets its entries at once (in this process; another
 * publisher sees the change after the TTL at most).
 *
 * A wrong password for an account that does not exist must cost what it costs for one
 * that does, or the answer time tells who has an account: at start a dummy hash of a
 * random password is made with the same parameters as every new hash, and the pipeline
 * verifies unknown accounts against it (the result is always "wrong"). A flood of
 * unknown accounts therefore costs argon2id work like a flood of wrong passwords; the
 * login throttle (throttle.h) and the bounded queue (503 past QUEUE_MAX) bound both.
 */
#ifndef HERALD_PUB_ACCOUNTS_H
#define HERALD_PUB_ACCOUNTS_H

#include <event2/event.h>
#include <stddef.h>

typedef struct pub_accounts pub_accounts;
typedef struct pub_job pub_job;

/* Runs on the event loop thread when the job is done; the callback owns the job and
 * frees it with pub_job_free. */
typedef void (*pub_job_done)(pub_job *job, void *arg);

enum pub_job_kind {
    PUB_JOB_VERIFY, /* password against hash -> ok */
    PUB_JOB_HASH,   /* password -> hash */
};

struct pub_job {
    enum pub_job_kind kind;
    char *password; /* wiped and freed by pub_job_free */
    size_t pwlen;
    char *hash; /* VERIFY: input; HASH: output (NULL on failure) */
    int ok;     /* VERIFY: 1 when the password matches */
    pub_job_done done;
    void *arg;
    pub_job *next;
    /* Monotonic microseconds: queued (submit), started and finished (the worker). */
    long long queued_us, started_us, finished_us;
};

pub_job *pub_job_new(enum pub_job_kind kind, const char *password, size_t pwlen, const char *hash,
                     pub_job_done done, void *arg);
void pub_job_free(pub_job *job); /* NULL-safe */

/* Starts 'threads' workers. Returns NULL on failure (threads, pipe, guarded memory). */
pub_accounts *pub_accounts_new(struct event_base *base, int threads, int ttl_seconds,
                               size_t cache_max) __attribute__((warn_unused_result));
/* Stops the workers (pending jobs are dropped without their callbacks). NULL-safe. */
void pub_accounts_free(pub_accounts *a);

/* The dummy "$argon2id$..." hash made at start (see above). */
const char *pub_accounts_dummy_hash(const pub_accounts *a);
/* Jobs queued or running. */
int pub_accounts_depth(pub_accounts *a);

/* Queues a job; returns 0, or -1 when the queue is full (answer 503). */
int pub_accounts_submit(pub_accounts *a, pub_job *job) __attribute__((warn_unused_result));

/* 1 if (user, password) were verified less than the TTL ago, else 0. */
int pub_accounts_cache_check(pub_accounts *a, const char *user, const char *password, size_t pwlen);
void pub_accounts_cache_add(pub_accounts *a, const char *user, const char *password, size_t pwlen);
/* Forgets every entry of 'user' (NULL: every entry). */
void pub_accounts_cache_forget(pub_accounts *a, const char *user);

/* Hashes synchronously (for tools and tests, never on the event loop). Returns a
 * malloc'ed "$argon2id$..." string or NULL. */
char *pub_accounts_hash_now(const char *password, size_t pwlen);

#endif
