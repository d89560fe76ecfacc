/*
 * sentinel -- finding the Redis primary (or a replica) through Redis Sentinel.
 *
 * hiredis 0.14 has no Sentinel client, so this is the client side of Sentinel's own
 * protocol ("Guidelines for Redis clients with support for Redis Sentinel"):
 *
 *   1. Ask the sentinels, in order, SENTINEL get-master-addr-by-name <master>; the first
 *      that answers gives the address (a sentinel that is down or does not know the
 *      master is skipped). For a replica: SENTINEL replicas <master>, the first replica
 *      whose flags are exactly "slave" (not s_down, not disconnected) and whose link to
 *      the primary is up; none -> the primary.
 *   2. The caller connects there and checks ROLE (herald_sentinel_check_role): a sentinel
 *      may still name a demoted primary for a moment after a failover.
 *   3. Any connection error, a -READONLY reply (we are talking to a demoted primary), or a
 *      +switch-master announcement (herald_sentinel_watch) means: drop the connection and
 *      start again at 1, after the program's bounded backoff (herald/backoff.h).
 *
 * Every step is blocking with a short timeout per sentinel: callers are the publisher's
 * and signer's blocking connects and the read server's sync thread, which serves no
 * request. A sentinel down answers "connection refused" at once on a live host; a host
 * that is gone costs the timeout.
 *
 * The watch: one blocking context SUBSCRIBEd to +switch-master on a sentinel, read
 * without blocking (poll with a zero timeout) whenever the owner asks. Programs that
 * block elsewhere (a synchronous request loop) ask before each use of their Redis
 * connection, the read server on every tick. A watch that lost its sentinel reconnects
 * (to the next sentinel) at most once per second, and reports a switch after it
 * resubscribes, because an announcement may have been missed meanwhile.
 */
#ifndef HERALD_SENTINEL_H
#define HERALD_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#define HERALD_SENTINEL_MAX 8

typedef struct herald_sentinel_addr {
    char host[256];
    int port;
} herald_sentinel_addr;

typedef struct herald_sentinel_conf {
    int n; /* 0: no Sentinel (a plain redis:// URL) */
    herald_sentinel_addr addr[HERALD_SENTINEL_MAX];
    char master[128];
} herald_sentinel_conf;

/* Parses "host:port[,host:port...]" (port defaults to 26379) into 'out->addr', 'out->n'
 * (out->master is left as it is). Returns 0, or -1 when empty, malformed or too many. */
int herald_sentinel_parse_list(herald_sentinel_conf *out, const char *list, size_t len)
    __attribute__((warn_unused_result));

/*
 * Asks the sentinels of 'c' where the primary is ('want_replica' 0) or a healthy replica
 * (1; the primary when there is none). Each sentinel gets 'timeout_ms' to connect and
 * answer. With 'probe', the node found is also connected to and its ROLE checked
 * ("master", or "slave" for a replica) before it is returned. Returns 0 with the address
 * in 'out', or -1 with the reason in 'err'.
 */
int herald_sentinel_resolve(herald_sentinel_addr *out, const herald_sentinel_conf *c,
                            int want_replica, int probe, int timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* ROLE on 'rc': returns 0 when the node's role is 'want' ("master" or "slave"), else -1
 * with the reason in 'err' (rc->err is set when the connection failed). */
int herald_sentinel_check_role(redisContext *rc, const char *want, char *err, size_t errlen)
    __attribute__((warn_unused_result));

typedef struct herald_sentinel_watch herald_sentinel_watch;

/* A watch for +switch-master of 'c->master' (c->n must be > 0). Connects lazily. */
herald_sentinel_watch *herald_sentinel_watch_new(const herald_sentinel_conf *c);
void herald_sentinel_watch_free(herald_sentinel_watch *w); /* NULL-safe */
/* Never blocks longer than one sentinel connect. Returns 1 when a +switch-master for our
 * master arrived since the last call (or the watch resubscribed after losing its
 * sentinel, when one may have been missed), else 0. */
int herald_sentinel_watch_poll(herald_sentinel_watch *w);

#endif
