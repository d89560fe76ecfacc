/*
 * redis -- connecting to Redis the same way in every program.
 *
 * URL form: redis://host[:port][/db] (default port 6379, db 0). Synchronous connections
 * get a connect and a command timeout (hiredis 0.14.1 supports these for blocking
 * contexts, not for async ones: async users bound calls with their own timers).
 */
#ifndef HERALD_REDIS_H
#define HERALD_REDIS_H

#include <hiredis/hiredis.h>

typedef struct herald_redis_url {
    char host[256];
    int port;
    int db;
} herald_redis_url;

int herald_redis_parse_url(herald_redis_url *out, const char *url)
    __attribute__((warn_unused_result));
/* Connects, applies 'timeout_ms' to connect and commands, SELECTs the db.
 * Returns NULL on failure with the reason in 'err'. */
redisContext *herald_redis_connect(const herald_redis_url *u, int timeout_ms, char *err,
                                   size_t errlen) __attribute__((warn_unused_result));

#endif
