/*
 * redis -- see include/herald/redis.h.
 */
#include "herald/redis.h"

#include "herald/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* The db part of a URL: "", "/", or "/<db>". Returns 0 or -1. */
static int
parse_db(herald_redis_url *out, const char *p)
{
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 1000000)
            return -1;
        out->db = (int)db;
    } else if (*p && strcmp(p, "/") != 0) {
        return -1;
    }
    return 0;
}

/* redis+sentinel://host[:port][,host[:port]...]/master[/db] */
static int
parse_sentinel_url(herald_redis_url *out, const char *p)
{
    size_t slen = strcspn(p, "/");
    if (strchr(p, '@') || p[slen] != '/' ||
        herald_sentinel_parse_list(&out->sentinel, p, slen) != 0)
        return -1;
    p += slen + 1;
    size_t mlen = strcspn(p, "/");
    if (mlen == 0 || mlen >= sizeof(out->sentinel.master))
        return -1;
    for (size_t i = 0; i < mlen; i++)
        if ((unsigned char)p[i] <= ' ' || p[i] == ',')
            return -1;
    memcpy(out->sentinel.master, p, mlen);
    out->sentinel.master[mlen] = '\0';
    snprintf(out->host, sizeof(out->host), "sentinel:%s", out->sentinel.master);
    out->port = 0;
    return parse_db(out, p + mlen);
}

int
herald_redis_parse_url(herald_redis_url *out, const char *url)
{
    const char *p = url;
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(p, "redis+sentinel://", 17) == 0) {
        int rc = parse_sentinel_url(out, p + 17);
        if (rc != 0)
            memset(out, 0, sizeof(*out));
        return rc;
    }
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    const char *at = strchr(p, '@'); /* credentials are not supported yet: refuse */
    if (at)
        return -1;
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0 || hlen >= sizeof(out->host))
        return -1;
    memcpy(out->host, p, hlen);
    out->host[hlen] = '\0';
    p += hlen;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port <= 0 || port > 65535)
            return -1;
        out->port = (int)port;
        p = end;
    }
    return parse_db(out, p);
}

int
herald_redis_error_wants_rediscovery(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           (!strncmp(r->str, "READONLY", 8) || !strncmp(r->str, "MASTERDOWN", 10) ||
            !strncmp(r->str, "NOREPLICAS", 10));
}

int
herald_redis_script_load(redisContext *c, const char *text, char sha[41], char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, "SCRIPT LOAD %s", text);
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok)
        memcpy(sha, r->str, 41);
    else
        snprintf(err, errlen, "SCRIPT LOAD: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

redisReply *
herald_redis_script_eval(redisContext *c, const char *sha, const char *text, int argc,
                         const char **argv, size_t *argvlen)
{
    size_t l0 = argvlen ? argvlen[0] : 0, l1 = argvlen ? argvlen[1] : 0;
    argv[0] = "EVALSHA";
    argv[1] = sha;
    if (argvlen) {
        argvlen[0] = 7;
        argvlen[1] = strlen(sha);
    }
    redisReply *r = redisCommandArgv(c, argc, argv, argvlen);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = text;
        if (argvlen) {
            argvlen[0] = 4;
            argvlen[1] = strlen(text);
        }
        r = redisCommandArgv(c, argc, argv, argvlen);
    }
    if (argvlen) {
        argvlen[0] = l0;
        argvlen[1] = l1;
    }
    return r;
}

redisContext *
herald_redis_connect(const herald_redis_url *u, int timeout_ms, char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    const char *host = u->host;
    int port = u->port;
    herald_sentinel_addr node;
    redisContext *c = NULL;
    if (u->sentinel.n) {
        /* Each sentinel gets a short part of the timeout: a dead one must not use it up. */
        int per = timeout_ms / 4 > 1000 ? 1000 : timeout_ms / 4 + 1;
        if (herald_sentinel_resolve(&node, &u->sentinel, u->prefer_replica, 0, per, err, errlen) !=
            0)
            return NULL;
        host = node.host;
        port = node.port;
    }
    c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port,
                 c ? c->errstr : "cannot allocate context");
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %s:%d: cannot set timeout", host, port);
        goto fail;
    }
    if (u->sentinel.n) {
        /* A sentinel may name a demoted primary for a moment after a failover; a replica
         * being promoted answers "master" only once it takes writes. With prefer_replica
         * the node may be either (resolve falls back to the primary). */
        char why[256];
        if (!u->prefer_replica && herald_sentinel_check_role(c, "master", why, sizeof(why)) != 0) {
            snprintf(err, errlen, "redis %s:%d (%s): %s", host, port, u->host, why);
            goto fail;
        }
        herald_debug("redis: %s is %s:%d", u->host, host, port);
    }
    if (u->db) {
        redisReply *r = redisCommand(c, "SELECT %d", u->db);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        if (!ok)
            snprintf(err, errlen, "redis SELECT %d: %s", u->db,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
        if (r)
            freeReplyObject(r);
        if (!ok)
            goto fail;
    }
    return c;
fail:
    if (c)
        redisFree(c);
    return NULL;
}
