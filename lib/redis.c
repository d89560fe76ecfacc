/*
 * redis -- see include/herald/redis.h.
 */
#include "herald/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int
herald_redis_parse_url(herald_redis_url *out, const char *url)
{
    const char *p = url;
    memset(out, 0, sizeof(*out));
    out->port = 6379;
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
    redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", u->host, u->port,
                 c ? c->errstr : "cannot allocate context");
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %s:%d: cannot set timeout", u->host, u->port);
        goto fail;
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
