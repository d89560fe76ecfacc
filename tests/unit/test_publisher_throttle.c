/*
 * Unit tests for publisher/throttle.c with a driven clock: thresholds per (account,
 * address) and per address, the delay doubling per further failure, decay, attempts in
 * flight, the real user getting in while another address hammers the account, the
 * bounded table, the trusted X-Forwarded-For depth, and the log rate limit.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "settings.h"
#include "throttle.h"

static pub_throttle_opts O;

/* The throttle's options as the publisher's settings table (settings.c) reads them from
 * 'c'. Returns 0, or -1 with the reason in 'err'. */
static int
load_opts(pub_throttle_opts *o, const herald_config *c, char *err, size_t errlen)
{
    pub_settings s;
    int rc = pub_settings_load(&s, c, err, errlen);
    if (rc == 0)
        *o = s.throttle;
    pub_settings_free(&s);
    return rc;
}

static void
setup(void)
{
    char err[256];
    cr_assert(sodium_init() >= 0);
    herald_config *c = herald_config_new();
    cr_assert_eq(load_opts(&O, c, err, sizeof(err)), 0, "%s", err);
    herald_config_free(c);
}

TestSuite(throttle, .init = setup);

/* One failed attempt (checked, then settled wrong); returns what check said. */
static int
fail_once(pub_throttle *t, const char *acct, const char *addr, long long now)
{
    int w = pub_throttle_check(t, acct, addr, now);
    if (w == 0)
        pub_throttle_done(t, acct, addr, 0, now, NULL);
    return w;
}

Test(throttle, defaults_and_ranges)
{
    char err[256];
    cr_expect_eq(O.failures, 5);
    cr_expect_eq(O.address_failures, 20);
    cr_expect_eq(O.account_failures, 20);
    cr_expect_eq(O.delay_ms, 1000);
    cr_expect_eq(O.max_delay_seconds, 900);
    cr_expect_eq(O.decay_seconds, 60);
    cr_expect_eq(O.entries, 65536);
    cr_expect_eq(O.forwarded_depth, 0);

    static const struct {
        const char *name, *value;
        int ok;
    } cases[] = {
        {"login_throttle_failures", "3", 1},      {"login_throttle_failures", "0", 0},
        {"login_throttle_failures", "3x", 0},     {"trusted_forwarded_for_depth", "16", 1},
        {"trusted_forwarded_for_depth", "17", 0}, {"login_throttle_entries", "63", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        herald_config *c = herald_config_new();
        pub_throttle_opts o = O;
        herald_config_set(c, cases[i].name, cases[i].value);
        int rc = load_opts(&o, c, err, sizeof(err));
        cr_expect_eq(rc, cases[i].ok ? 0 : -1, "%s = %s", cases[i].name, cases[i].value);
        if (!cases[i].ok)
            cr_expect(strstr(err, cases[i].name) != NULL, "the error names the setting: %s", err);
        herald_config_free(c);
    }
    herald_config *c = herald_config_new();
    herald_config_set(c, "login_throttle_failures", "3");
    cr_expect_eq(load_opts(&O, c, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(O.failures, 3);
    herald_config_free(c);
    O.entries = 1;
    cr_expect_null(pub_throttle_new(&O));
}

Test(throttle, env)
{
    char err[256];
    char *envp[] = {"HERALD_LOGIN_THROTTLE_DECAY_SECONDS=2", NULL};
    herald_config *c = herald_config_new();
    herald_settings_load_env(&pub_settings_spec, c, envp, NULL);
    cr_expect_eq(load_opts(&O, c, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(O.decay_seconds, 2);
    herald_config_free(c);
    char *bad[] = {"HERALD_LOGIN_THROTTLE_DECAY_SECONDS=0", NULL};
    c = herald_config_new();
    herald_settings_load_env(&pub_settings_spec, c, bad, NULL);
    cr_expect_eq(load_opts(&O, c, err, sizeof(err)), -1);
    herald_config_free(c);
}

Test(throttle, pair_threshold_and_growing_delay)
{
    pub_throttle *t = pub_throttle_new(&O);
    long long now = 1000000;
    pub_throttle_result r;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fail_once(t, "alice", "10.0.0.1", now), 0, "attempt %d", i + 1);
    cr_assert_eq(pub_throttle_check(t, "alice", "10.0.0.1", now), 0);
    pub_throttle_done(t, "alice", "10.0.0.1", 0, now, &r);
    cr_expect_eq(r.pair_failures, 5);
    cr_expect_eq(r.wait_ms, 1000, "first delay: delay_ms");
    cr_expect_eq(pub_throttle_check(t, "alice", "10.0.0.1", now), 1, "Retry-After 1 s");
    cr_expect_eq(pub_throttle_check(t, "alice", "10.0.0.1", now + 999), 1);
    /* After the delay one more attempt; its failure doubles the delay. */
    now += 1000;
    cr_assert_eq(pub_throttle_check(t, "alice", "10.0.0.1", now), 0);
    pub_throttle_done(t, "alice", "10.0.0.1", 0, now, &r);
    cr_expect_eq(r.wait_ms, 2000);
    cr_expect_eq(pub_throttle_check(t, "alice", "10.0.0.1", now + 1500), 1);
    now += 2000;
    cr_assert_eq(pub_throttle_check(t, "alice", "10.0.0.1", now), 0);
    pub_throttle_done(t, "alice", "10.0.0.1", 0, now, &r);
    cr_expect_eq(r.wait_ms, 4000);
    cr_expect_eq(pub_throttle_check(t, "alice", "10.0.0.1", now), 4);
    /* Another account from the same address, and the same account from another
     * address, are not blocked by this pair. */
    cr_expect_eq(pub_throttle_check(t, "bob", "10.0.0.1", now), 0);
    pub_throttle_done(t, "bob", "10.0.0.1", 1, now, NULL);
    cr_expect_eq(pub_throttle_check(t, "alice", "10.0.0.2", now), 0);
    pub_throttle_done(t, "alice", "10.0.0.2", 1, now, NULL);
    pub_throttle_free(t);
}

Test(throttle, max_delay)
{
    O.max_delay_seconds = 5;
    O.failures = 1;
    O.decay_seconds = 86400;
    O.address_failures = 1000;
    pub_throttle *t = pub_throttle_new(&O);
    long long now = 1;
    pub_throttle_result r = {0, 0, 0};
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(pub_throttle_check(t, "a", "1.1.1.1", now), 0);
        pub_throttle_done(t, "a", "1.1.1.1", 0, now, &r);
        now += r.wait_ms;
    }
    cr_expect_eq(r.wait_ms, 5000);
    pub_throttle_free(t);
}

Test(throttle, decay)
{
    O.decay_seconds = 10;
    pub_throttle *t = pub_throttle_new(&O);
    long long now = 5000;
    for (int i = 0; i < 5; i++)
        cr_assert_eq(fail_once(t, "alice", "10.0.0.1", now), 0);
    cr_expect_gt(pub_throttle_check(t, "alice", "10.0.0.1", now), 0);
    /* 50 s later all five failures are forgotten: five more before the next delay. */
    now += 50 * 1000;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fail_once(t, "alice", "10.0.0.1", now), 0, "attempt %d after decay", i);
    cr_expect_eq(pub_throttle_check(t, "alice", "10.0.0.1", now), 0);
    pub_throttle_done(t, "alice", "10.0.0.1", 0, now, NULL);
    cr_expect_gt(pub_throttle_check(t, "alice", "10.0.0.1", now), 0);
    pub_throttle_free(t);
}

Test(throttle, success_forgets_the_pair)
{
    pub_throttle *t = pub_throttle_new(&O);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fail_once(t, "alice", "10.0.0.1", 10), 0);
    cr_assert_eq(pub_throttle_check(t, "alice", "10.0.0.1", 10), 0);
    pub_throttle_done(t, "alice", "10.0.0.1", 1, 10, NULL);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fail_once(t, "alice", "10.0.0.1", 10), 0, "the count starts over");
    pub_throttle_free(t);
}

Test(throttle, concurrent_attempts_are_charged)
{
    pub_throttle *t = pub_throttle_new(&O);
    /* 300 guesses at once: only 'failures' get to a verification. */
    int allowed = 0;
    for (int i = 0; i < 300; i++)
        allowed += pub_throttle_check(t, "alice", "10.0.0.1", 10) == 0;
    cr_expect_eq(allowed, 5);
    /* Unverified attempts (queue full) release their charge and count nothing. */
    for (int i = 0; i < 5; i++)
        pub_throttle_done(t, "alice", "10.0.0.1", -1, 10, NULL);
    allowed = 0;
    for (int i = 0; i < 300; i++)
        allowed += pub_throttle_check(t, "alice", "10.0.0.1", 10) == 0;
    cr_expect_eq(allowed, 5);
    pub_throttle_free(t);
}

Test(throttle, address_threshold_bounds_unknown_accounts)
{
    pub_throttle *t = pub_throttle_new(&O);
    char name[32];
    int verified = 0;
    /* A flood of distinct (unknown) accounts from one address. */
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "nobody%d", i);
        verified += fail_once(t, name, "10.0.0.9", 100) == 0;
    }
    cr_expect_eq(verified, 20);
    /* Even the right password of a real account waits on this address. */
    cr_expect_gt(pub_throttle_check(t, "alice", "10.0.0.9", 100), 0);
    cr_expect_eq(pub_throttle_check(t, "alice", "10.0.0.10", 100), 0);
    pub_throttle_free(t);
}

Test(throttle, real_user_gets_in_while_the_account_is_attacked)
{
    pub_throttle *t = pub_throttle_new(&O);
    char addr[32];
    long long now = 1000;
    /* 200 addresses fail twice each on alice: the account is hot. */
    for (int i = 0; i < 200; i++) {
        snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 250, i % 250);
        fail_once(t, "alice", addr, now);
        fail_once(t, "alice", addr, now);
    }
    /* An address that failed on the hot account is delayed at its next failure... */
    cr_assert_eq(pub_throttle_check(t, "alice", "10.1.0.7", now), 0);
    pub_throttle_done(t, "alice", "10.1.0.7", 0, now, NULL);
    cr_expect_gt(pub_throttle_check(t, "alice", "10.1.0.7", now), 0);
    /* ... while the real user from a fresh address gets to the verification, and in. */
    cr_assert_eq(pub_throttle_check(t, "alice", "192.0.2.1", now), 0);
    pub_throttle_done(t, "alice", "192.0.2.1", 1, now, NULL);
    cr_expect_eq(pub_throttle_check(t, "alice", "192.0.2.1", now), 0);
    pub_throttle_done(t, "alice", "192.0.2.1", 1, now, NULL);
    pub_throttle_free(t);
}

Test(throttle, table_is_bounded_and_keeps_blocked_entries)
{
    O.entries = 64;
    pub_throttle *t = pub_throttle_new(&O);
    pub_throttle_stats st;
    char addr[32];
    for (int i = 0; i < 5; i++)
        fail_once(t, "alice", "10.0.0.1", 10);
    cr_assert_gt(pub_throttle_check(t, "alice", "10.0.0.1", 10), 0);
    /* 20000 addresses with one failure each cannot grow the table nor free the
     * blocked pair. */
    for (int i = 0; i < 20000; i++) {
        snprintf(addr, sizeof(addr), "172.16.%d.%d", i / 250, i % 250);
        fail_once(t, "alice", addr, 10);
    }
    pub_throttle_stats_get(t, 10, &st);
    cr_expect_eq(st.capacity, 64);
    cr_expect_leq(st.entries, 64);
    cr_expect_gt(st.evictions, 0);
    cr_expect_gt(pub_throttle_check(t, "alice", "10.0.0.1", 10), 0, "still blocked");
    pub_throttle_free(t);
}

static void
req_with(pub_req *r, const char *peer, const char *xff1, const char *xff2)
{
    pub_req_init(r);
    snprintf(r->peer, sizeof(r->peer), "%s", peer);
    if (xff1)
        pub_headers_add(&r->headers, "X-Forwarded-For", xff1);
    if (xff2)
        pub_headers_add(&r->headers, "x-forwarded-for", xff2);
}

Test(throttle, client_address)
{
    pub_req r;
    char out[64];
    req_with(&r, "127.0.0.1", "1.1.1.1, 2.2.2.2", NULL);
    pub_throttle_client(out, sizeof(out), &r, 0);
    cr_expect_str_eq(out, "127.0.0.1", "depth 0: the peer, X-Forwarded-For ignored");
    pub_throttle_client(out, sizeof(out), &r, 1);
    cr_expect_str_eq(out, "2.2.2.2");
    pub_throttle_client(out, sizeof(out), &r, 2);
    cr_expect_str_eq(out, "1.1.1.1");
    pub_throttle_client(out, sizeof(out), &r, 5);
    cr_expect_str_eq(out, "1.1.1.1", "fewer entries than the depth: the leftmost");
    pub_req_free(&r);

    req_with(&r, "127.0.0.1", "9.9.9.9, 3.3.3.3", "4.4.4.4");
    pub_throttle_client(out, sizeof(out), &r, 1);
    cr_expect_str_eq(out, "4.4.4.4", "headers read in order, the last entry last");
    pub_throttle_client(out, sizeof(out), &r, 2);
    cr_expect_str_eq(out, "3.3.3.3");
    pub_req_free(&r);

    /* Not an address: counted as itself (printable, as it is logged), never as the
     * proxy's address that every client behind it shares. */
    req_with(&r, "127.0.0.1", "evil\nname", NULL);
    pub_throttle_client(out, sizeof(out), &r, 1);
    cr_expect_str_eq(out, "xff:evil?name");
    pub_req_free(&r);
    req_with(&r, "127.0.0.1", "unknown", NULL);
    pub_throttle_client(out, sizeof(out), &r, 1);
    cr_expect_str_eq(out, "xff:unknown");
    pub_throttle_client(out, sizeof(out), &r, 0);
    cr_expect_str_eq(out, "127.0.0.1", "depth 0: the peer");
    pub_req_free(&r);

    /* Ports and brackets, as some proxies write them. */
    req_with(&r, "127.0.0.1", "1.2.3.4:5678, [2001:db8::1]:443, [2001:db8:0:1::2]", NULL);
    pub_throttle_client(out, sizeof(out), &r, 1);
    cr_expect_str_eq(out, "2001:db8:0:1::/64");
    pub_throttle_client(out, sizeof(out), &r, 2);
    cr_expect_str_eq(out, "2001:db8::/64");
    pub_throttle_client(out, sizeof(out), &r, 3);
    cr_expect_str_eq(out, "1.2.3.4");
    pub_req_free(&r);

    req_with(&r, "::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", NULL);
    pub_throttle_client(out, sizeof(out), &r, 1);
    cr_expect_str_eq(out, "2001:db8:1:2::/64", "IPv6: one /64");
    pub_throttle_client(out, sizeof(out), &r, 0);
    cr_expect_str_eq(out, "::/64");
    pub_req_free(&r);

    req_with(&r, "127.0.0.1", "::ffff:5.6.7.8", NULL);
    pub_throttle_client(out, sizeof(out), &r, 1);
    cr_expect_str_eq(out, "5.6.7.8", "IPv4-mapped: IPv4");
    pub_req_free(&r);
}

Test(throttle, log_rate_limit)
{
    pub_throttle *t = pub_throttle_new(&O);
    long long sup = -1;
    cr_expect_eq(pub_throttle_log_ok(t, 1000, &sup), 1);
    cr_expect_eq(sup, 0);
    cr_expect_eq(pub_throttle_log_ok(t, 1200, &sup), 0);
    cr_expect_eq(pub_throttle_log_ok(t, 1999, &sup), 0);
    cr_expect_eq(pub_throttle_log_ok(t, 2000, &sup), 1);
    cr_expect_eq(sup, 2);
    pub_throttle_free(t);
}
