/*
 * throttle -- failed-login throttling: who may try a password now, and who must wait.
 *
 * Every attempt with Basic credentials (an account that exists or not, the admin) is
 * first checked here; a refused attempt is answered 429 with Retry-After and costs no
 * argon2id work. Failures are counted under three keys:
 *
 *   (account, address)  'failures' of one account from one client address
 *   address             'address_failures' from one address, whatever the accounts
 *   account             'account_failures' on one account, from every address
 *
 * Past its threshold a key is blocked for delay_ms, doubled per further failure (up to
 * max_delay_seconds); each key forgets one failure per decay_seconds. The account key
 * blocks nobody by itself, or an attacker could lock the real user out by failing on
 * purpose: when an account is under attack (its count past 'account_failures'), only
 * pairs that have failed on it recently get the threshold 1. A correct password from an
 * address that has not been failing still gets in, while an address hammering the
 * account waits.
 *
 * Attempts are charged when they start (pub_throttle_check) and settled when the
 * verification ends (pub_throttle_done), so concurrent guesses count too: below its
 * threshold a key has at most threshold attempts in flight, past it at most one.
 *
 * Unknown accounts are counted exactly like existing ones: a difference in throttling
 * would tell which accounts exist as well as a difference in time.
 *
 * Memory: one fixed table of 'entries' slots, allocated at start, 8-way set
 * associative. A key is a 16-byte SipHash of its parts under a random key (no account
 * name nor address is stored, and an attacker cannot aim at one set). A new key takes a
 * free slot of its set, else the slot worth least (fewest failures, not blocked, no
 * attempt in flight): an attacker with many addresses evicts idle entries first, and
 * to evict a blocked one needs entries with more failures, each costing a throttled
 * argon2id verification.
 *
 * The state lives in this process only: Redis would add a round trip to every login
 * and a dependency to the throttle; with several publishers each counts on its own, so
 * an attacker spread over N publishers gets N times the attempts (docs/publisher.md).
 *
 * Single-threaded (the event loop). Times are given by the caller (ms, monotonic), so
 * tests drive the clock.
 */
#ifndef HERALD_PUB_THROTTLE_H
#define HERALD_PUB_THROTTLE_H

#include <stddef.h>

#include "http.h"

typedef struct pub_throttle_opts {
    int failures;          /* login_throttle_failures */
    int address_failures;  /* login_throttle_address_failures */
    int account_failures;  /* login_throttle_account_failures */
    int delay_ms;          /* login_throttle_delay_ms */
    int max_delay_seconds; /* login_throttle_max_delay_seconds */
    int decay_seconds;     /* login_throttle_decay_seconds */
    int entries;           /* login_throttle_entries */
    int forwarded_depth;   /* trusted_forwarded_for_depth */
} pub_throttle_opts;

/*
 * The client address of 'req' into 'out' (at least 64 bytes): with 'depth' 0, the
 * connection's peer; with depth N, the N-th address from the right of the
 * X-Forwarded-For headers (all of them, in order), those the N trusted proxies
 * appended; the leftmost when there are fewer. A port and brackets around an IPv6
 * address are dropped; an entry that is still no IP address is counted as itself
 * ("xff:<entry>", at most 48 bytes of it), never as the proxy's address, which all
 * its clients share. IPv6 addresses are cut to their /64 (one subscriber's network),
 * written "2001:db8::/64".
 */
void pub_throttle_client(char *out, size_t len, const pub_req *req, int depth);

typedef struct pub_throttle pub_throttle;

/* Allocates the table. Returns NULL when 'o' is out of range. */
pub_throttle *pub_throttle_new(const pub_throttle_opts *o) __attribute__((warn_unused_result));
void pub_throttle_free(pub_throttle *t); /* NULL-safe */

/*
 * May 'account' be tried from 'addr' at 'now_ms'? Returns 0 and charges the attempt
 * (then call pub_throttle_done exactly once), or the seconds to wait (>= 1) for
 * Retry-After, without charging anything.
 */
int pub_throttle_check(pub_throttle *t, const char *account, const char *addr, long long now_ms);

/* What a settled failure did. */
typedef struct pub_throttle_result {
    int pair_failures;    /* failures of (account, address) now, rounded down */
    int address_failures; /* failures of the address now, rounded down */
    long long wait_ms;    /* > 0: the next attempt of this pair must wait this long */
} pub_throttle_result;

/* Settles an attempt charged by pub_throttle_check: 'ok' 1 when the password was
 * right (forgets the pair's failures), 0 when not, -1 when it could not be verified
 * (only the charge is released). 'out' may be NULL. */
void pub_throttle_done(pub_throttle *t, const char *account, const char *addr, int ok,
                       long long now_ms, pub_throttle_result *out);

/*
 * The log rate limit: 1 when a line may be written at 'now_ms' (at most one per
 * second), with *suppressed the number of lines not written since the last one; else 0
 * (the line is counted as suppressed).
 */
int pub_throttle_log_ok(pub_throttle *t, long long now_ms, long long *suppressed);

typedef struct pub_throttle_stats {
    long long entries;   /* slots in use */
    long long capacity;  /* slots */
    long long evictions; /* entries dropped for a new key while still counting */
} pub_throttle_stats;

void pub_throttle_stats_get(const pub_throttle *t, long long now_ms, pub_throttle_stats *out);

#endif
