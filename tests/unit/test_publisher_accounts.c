/*
 * Unit tests for publisher/accounts.c: argon2id jobs run on the worker threads and come
 * back on the event loop thread; the credential cache is keyed by (user, password),
 * expires, and forgets a user at once.
 */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <sodium.h>
#include <string.h>

#include "accounts.h"

struct result {
    struct event_base *base;
    int done;
    int ok;
    char hash[crypto_pwhash_STRBYTES];
};

static void
on_done(pub_job *job, void *arg)
{
    struct result *r = arg;
    r->done++;
    r->ok = job->ok;
    if (job->kind == PUB_JOB_HASH && job->hash)
        snprintf(r->hash, sizeof(r->hash), "%s", job->hash);
    pub_job_free(job);
    event_base_loopbreak(r->base);
}

static void
run_until_done(struct result *r, int want)
{
    while (r->done < want)
        event_base_loop(r->base, EVLOOP_ONCE);
}

static void
setup(void)
{
    cr_assert(sodium_init() >= 0);
}

TestSuite(publisher_accounts, .init = setup);

Test(publisher_accounts, hash_then_verify_on_workers)
{
    struct result r;
    memset(&r, 0, sizeof(r));
    r.base = event_base_new();
    pub_accounts *a = pub_accounts_new(r.base, 2, 30, 8);
    cr_assert_not_null(a);

    cr_assert_eq(pub_accounts_submit(a, pub_job_new(PUB_JOB_HASH, "s3cret", 6, NULL, on_done, &r)),
                 0);
    run_until_done(&r, 1);
    cr_assert(r.ok);
    cr_assert_eq(strncmp(r.hash, "$argon2id$", 10), 0, "%s", r.hash);

    cr_assert_eq(
        pub_accounts_submit(a, pub_job_new(PUB_JOB_VERIFY, "s3cret", 6, r.hash, on_done, &r)), 0);
    run_until_done(&r, 2);
    cr_assert(r.ok);
    cr_assert_eq(
        pub_accounts_submit(a, pub_job_new(PUB_JOB_VERIFY, "s3cre", 5, r.hash, on_done, &r)), 0);
    run_until_done(&r, 3);
    cr_assert_not(r.ok);
    /* A password with a NUL byte is not the same password. */
    cr_assert_eq(
        pub_accounts_submit(a, pub_job_new(PUB_JOB_VERIFY, "s3cret\0x", 8, r.hash, on_done, &r)),
        0);
    run_until_done(&r, 4);
    cr_assert_not(r.ok);
    pub_accounts_free(a);
    event_base_free(r.base);
}

Test(publisher_accounts, many_jobs_all_come_back)
{
    struct result r;
    memset(&r, 0, sizeof(r));
    r.base = event_base_new();
    pub_accounts *a = pub_accounts_new(r.base, 2, 30, 8);
    char *hash = pub_accounts_hash_now("pw", 2);
    cr_assert_not_null(hash);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(
            pub_accounts_submit(a, pub_job_new(PUB_JOB_VERIFY, "pw", 2, hash, on_done, &r)), 0);
    run_until_done(&r, 6);
    cr_assert_eq(r.done, 6);
    free(hash);
    pub_accounts_free(a);
    event_base_free(r.base);
}

Test(publisher_accounts, cache)
{
    struct event_base *base = event_base_new();
    pub_accounts *a = pub_accounts_new(base, 1, 30, 2);
    cr_assert_not(pub_accounts_cache_check(a, "alice", "pw", 2));
    pub_accounts_cache_add(a, "alice", "pw", 2);
    cr_assert(pub_accounts_cache_check(a, "alice", "pw", 2));
    cr_assert_not(pub_accounts_cache_check(a, "alice", "pw2", 3));
    cr_assert_not(pub_accounts_cache_check(a, "alic", "epw", 3), "user/password boundary");
    pub_accounts_cache_add(a, "bob", "x", 1);
    cr_assert(pub_accounts_cache_check(a, "bob", "x", 1));
    pub_accounts_cache_forget(a, "alice");
    cr_assert_not(pub_accounts_cache_check(a, "alice", "pw", 2));
    cr_assert(pub_accounts_cache_check(a, "bob", "x", 1));
    /* Full (2 slots): a third entry replaces one, never overflows. */
    pub_accounts_cache_add(a, "carol", "c", 1);
    pub_accounts_cache_add(a, "dave", "d", 1);
    cr_assert(pub_accounts_cache_check(a, "dave", "d", 1));
    pub_accounts_cache_forget(a, NULL);
    cr_assert_not(pub_accounts_cache_check(a, "dave", "d", 1));
    pub_accounts_free(a);
    event_base_free(base);
}

Test(publisher_accounts, ttl_zero_disables_the_cache)
{
    struct event_base *base = event_base_new();
    pub_accounts *a = pub_accounts_new(base, 1, 0, 4);
    pub_accounts_cache_add(a, "alice", "pw", 2);
    cr_assert_not(pub_accounts_cache_check(a, "alice", "pw", 2));
    pub_accounts_free(a);
    pub_accounts_free(NULL);
    event_base_free(base);
}

/* Issue 18's timing promise without a clock: a login for an unknown account verifies
 * against the dummy hash, so that hash must cost exactly what an account's hash costs --
 * the same algorithm and the same memory, time and lane parameters (the "$argon2id$v=..$
 * m=..,t=..,p=..$" prefix up to the salt). A cheaper dummy would answer unknown accounts
 * faster and tell who has one. */
static size_t
params_len(const char *h)
{
    /* "$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>": everything before the salt */
    int dollars = 0;
    for (size_t i = 0; h[i]; i++)
        if (h[i] == '$' && ++dollars == 4)
            return i + 1;
    return 0;
}

Test(publisher_accounts, dummy_hash_costs_what_an_account_hash_costs)
{
    struct event_base *base = event_base_new();
    pub_accounts *a = pub_accounts_new(base, 1, 30, 8);
    cr_assert_not_null(a);
    const char *dummy = pub_accounts_dummy_hash(a);
    char *real = pub_accounts_hash_now("alice-pw", 8);
    cr_assert_not_null(dummy);
    cr_assert_not_null(real);
    size_t n = params_len(real);
    cr_assert_gt(n, 10, "%s", real);
    cr_assert_eq(params_len(dummy), n, "dummy %s vs account %s", dummy, real);
    cr_assert_eq(strncmp(dummy, real, n), 0, "dummy %s vs account %s", dummy, real);
    /* and both are what a new account gets today, so neither would be re-hashed */
    cr_assert_eq(crypto_pwhash_str_needs_rehash(dummy, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                crypto_pwhash_MEMLIMIT_INTERACTIVE),
                 0);
    /* the dummy's password is random and forgotten: nothing verifies against it */
    cr_assert_neq(crypto_pwhash_str_verify(dummy, "alice-pw", 8), 0);
    cr_assert_neq(strcmp(dummy, real), 0);
    free(real);
    pub_accounts_free(a);
    event_base_free(base);
}
