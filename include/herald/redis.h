/*
 * redis -- connecting to Redis the same way in every program.
 *
 * URL form: redis://host[:port][/db] (default port 6379, db 0). Synchronous connections
 * get a connect and a command timeout (hiredis 0.14.1 supports these for blocking
 * contexts, not for async ones: async users bound calls with their own timers).
 *
 * Through Sentinel: redis+sentinel://host[:port][,host[:port]...]/master[/db] (sentinel
 * port default 26379). Each connect then asks the sentinels where the primary is (or a
 * replica, with 'prefer_replica') and checks ROLE on the node reached (sentinel.h); a
 * caller re-discovers simply by connecting again after any failure. 'host'/'port' then
 * name the Sentinel master ("sentinel:<master>", 0) for logs.
 *
 * Lua scripts are sent once (SCRIPT LOAD) after each connect and then run by SHA-1
 * (EVALSHA). Redis may lose its script cache behind our back (restart, SCRIPT FLUSH, a
 * failover to a replica that never saw the script): the one answer is then NOSCRIPT,
 * and EVAL with the text both runs the script and caches it again, in one round trip.
 */
#ifndef HERALD_REDIS_H
#define HERALD_REDIS_H

#include <hiredis/hiredis.h>

#include "herald/sentinel.h"

typedef struct herald_redis_url {
    char host[256];
    int port;
    int db;
    herald_sentinel_conf sentinel; /* sentinel.n == 0: a plain redis:// URL */
    int prefer_replica; /* through Sentinel: connect to a healthy replica when there is one */
} herald_redis_url;

int herald_redis_parse_url(herald_redis_url *out, const char *url)
    __attribute__((warn_unused_result));
/* Connects (through Sentinel: finds the node and checks its ROLE first), applies
 * 'timeout_ms' to connect and commands, SELECTs the db. Returns NULL on failure with
 * the reason in 'err'. */
redisContext *herald_redis_connect(const herald_redis_url *u, int timeout_ms, char *err,
                                   size_t errlen) __attribute__((warn_unused_result));

/* 1 when an error reply says this node can no longer take writes for us (READONLY: a
 * demoted primary; MASTERDOWN; NOREPLICAS: an isolated primary refusing writes under
 * min-replicas-to-write): through Sentinel, drop the connection and re-discover. */
int herald_redis_error_wants_rediscovery(const redisReply *r);

/* SCRIPT LOAD: the script's SHA-1 (40 hex digits and a NUL) into 'sha'. Returns 0, or
 * -1 with the reason in 'err'. */
int herald_redis_script_load(redisContext *c, const char *text, char sha[41], char *err,
                             size_t errlen) __attribute__((warn_unused_result));
/* EVALSHA 'sha' with argv[2..argc-1] (numkeys, keys, args; argv[0] and argv[1] are filled
 * here and may be anything on entry); on NOSCRIPT, EVAL 'text' with the same arguments.
 * 'argvlen' may be NULL (all strings). Returns the reply to free, or NULL when the
 * connection failed (c->err says why). */
redisReply *herald_redis_script_eval(redisContext *c, const char *sha, const char *text, int argc,
                                     const char **argv, size_t *argvlen);

#endif
