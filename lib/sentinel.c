/*
 * sentinel -- see include/herald/sentinel.h.
 */
#include "herald/sentinel.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/backoff.h"
#include "herald/clock.h"
#include "herald/log.h"
#include "herald/mem.h"

/* snprintf into an error buffer: a reason cut short is still a reason. */
__attribute__((format(printf, 3, 4))) static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int
herald_sentinel_parse_list(herald_sentinel_conf *out, const char *list, size_t len)
{
    const char *p = list, *end = list + len;
    out->n = 0;
    if (len == 0)
        return -1;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        const char *colon = memchr(p, ':', (size_t)(item_end - p));
        const char *host_end = colon ? colon : item_end;
        size_t hlen = (size_t)(host_end - p);
        if (out->n == HERALD_SENTINEL_MAX || hlen == 0 || hlen >= sizeof(out->addr[0].host))
            return -1;
        herald_sentinel_addr *a = &out->addr[out->n];
        memcpy(a->host, p, hlen);
        a->host[hlen] = '\0';
        if (strpbrk(a->host, "/@ "))
            return -1;
        a->port = 26379;
        if (colon) {
            long port = 0;
            const char *d = colon + 1;
            if (d == item_end)
                return -1;
            for (; d < item_end; d++) {
                if (*d < '0' || *d > '9' || port > 65535)
                    return -1;
                port = port * 10 + (*d - '0');
            }
            if (port <= 0 || port > 65535)
                return -1;
            a->port = (int)port;
        }
        out->n++;
        if (!comma)
            break;
        p = comma + 1;
        if (p == end)
            return -1; /* a trailing comma */
    }
    return 0;
}

static redisContext *
connect_to(const char *host, int port, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
        return c;
    if (c)
        redisFree(c);
    return NULL;
}

int
herald_sentinel_check_role(redisContext *rc, const char *want, char *err, size_t errlen)
{
    redisReply *r = redisCommand(rc, "ROLE");
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
             r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, want) == 0;
    if (!ok)
        errf(err, errlen, "ROLE: %s (wanted %s)",
             !r                             ? rc->errstr
             : r->type == REDIS_REPLY_ERROR ? r->str
             : r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                     r->element[0]->type == REDIS_REPLY_STRING
                 ? r->element[0]->str
                 : "unexpected reply",
             want);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* The value of 'key' in a flat [k, v, k, v...] array, or NULL. */
static const char *
field(const redisReply *kv, const char *key)
{
    if (kv->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (kv->element[i]->type == REDIS_REPLY_STRING &&
            kv->element[i + 1]->type == REDIS_REPLY_STRING && !strcmp(kv->element[i]->str, key))
            return kv->element[i + 1]->str;
    return NULL;
}

static int
set_addr(herald_sentinel_addr *out, const char *host, const char *port)
{
    long p = port ? strtol(port, NULL, 10) : 0;
    if (!host || strlen(host) >= sizeof(out->host) || p <= 0 || p > 65535)
        return -1;
    snprintf(out->host, sizeof(out->host), "%s", host);
    out->port = (int)p;
    return 0;
}

/* One sentinel's answer: the primary, or the first healthy replica. 0 or -1 ('err'). */
static int
ask(herald_sentinel_addr *out, redisContext *sc, const char *master, int want_replica, char *err,
    size_t errlen)
{
    int rc = -1;
    redisReply *r;
    if (want_replica) {
        r = redisCommand(sc, "SENTINEL replicas %s", master);
        if (r && r->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < r->elements && rc < 0; i++) {
                const redisReply *kv = r->element[i];
                const char *flags = field(kv, "flags"), *link = field(kv, "master-link-status");
                if (flags && !strcmp(flags, "slave") && link && !strcmp(link, "ok"))
                    rc = set_addr(out, field(kv, "ip"), field(kv, "port"));
            }
            if (rc < 0)
                errf(err, errlen, "no healthy replica of %s", master);
        } else {
            errf(err, errlen, "SENTINEL replicas: %s",
                 !r                             ? sc->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "unexpected reply");
        }
    } else {
        r = redisCommand(sc, "SENTINEL get-master-addr-by-name %s", master);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING)
            rc = set_addr(out, r->element[0]->str, r->element[1]->str);
        if (rc < 0)
            errf(err, errlen, "SENTINEL get-master-addr-by-name %s: %s", master,
                 !r                             ? sc->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                 : r->type == REDIS_REPLY_NIL   ? "unknown master"
                                                : "unexpected reply");
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Connects to 'a' and checks its ROLE. 0 or -1 ('err'). */
static int
probe_role(const herald_sentinel_addr *a, const char *want, int timeout_ms, char *err,
           size_t errlen)
{
    redisContext *c = connect_to(a->host, a->port, timeout_ms);
    if (!c) {
        errf(err, errlen, "%s:%d: cannot connect", a->host, a->port);
        return -1;
    }
    int rc = herald_sentinel_check_role(c, want, err, errlen);
    redisFree(c);
    return rc;
}

int
herald_sentinel_resolve(herald_sentinel_addr *out, const herald_sentinel_conf *c, int want_replica,
                        int probe, int timeout_ms, char *err, size_t errlen)
{
    char why[256] = "no sentinel configured";
    for (int pass = want_replica ? 0 : 1; pass < 2; pass++) {
        int replica = pass == 0; /* a replica first when wanted, then the primary */
        for (int i = 0; i < c->n; i++) {
            redisContext *sc = connect_to(c->addr[i].host, c->addr[i].port, timeout_ms);
            if (!sc) {
                errf(why, sizeof(why), "sentinel %s:%d: cannot connect", c->addr[i].host,
                     c->addr[i].port);
                continue;
            }
            int rc = ask(out, sc, c->master, replica, why, sizeof(why));
            redisFree(sc);
            if (rc == 0 && probe &&
                probe_role(out, replica ? "slave" : "master", timeout_ms, why, sizeof(why)) < 0)
                rc = -1;
            if (rc == 0)
                return 0;
        }
    }
    errf(err, errlen, "sentinel: %s", why);
    return -1;
}

/* ---- the +switch-master watch ---------------------------------------------------- */

struct herald_sentinel_watch {
    herald_sentinel_conf conf;
    redisContext *c;
    int next;     /* the sentinel to try next */
    int lost;     /* a subscription existed and was lost: report once resubscribed */
    int switched; /* to report */
    long long retry_at_ms;
};

herald_sentinel_watch *
herald_sentinel_watch_new(const herald_sentinel_conf *c)
{
    herald_sentinel_watch *w = herald_mem_calloc(1, sizeof(*w));
    w->conf = *c;
    return w;
}

void
herald_sentinel_watch_free(herald_sentinel_watch *w)
{
    if (!w)
        return;
    if (w->c)
        redisFree(w->c);
    free(w);
}

static void
watch_drop(herald_sentinel_watch *w)
{
    if (w->c) {
        redisFree(w->c);
        w->c = NULL;
        w->lost = 1;
    }
    w->retry_at_ms = herald_clock_mono_ms() + 1000;
}

static void
watch_connect(herald_sentinel_watch *w)
{
    for (int tries = 0; tries < w->conf.n && !w->c; tries++) {
        const herald_sentinel_addr *a = &w->conf.addr[w->next];
        w->next = (w->next + 1) % w->conf.n;
        redisContext *c = connect_to(a->host, a->port, 500);
        if (!c)
            continue;
        redisReply *r = redisCommand(c, "SUBSCRIBE +switch-master");
        int ok = r && r->type == REDIS_REPLY_ARRAY;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            continue;
        }
        w->c = c;
        herald_debug("sentinel %s:%d: watching +switch-master", a->host, a->port);
        if (w->lost)
            w->switched = 1; /* an announcement may have come while we were away */
        w->lost = 0;
    }
    if (!w->c)
        w->retry_at_ms = herald_clock_mono_ms() + 1000;
}

/* Handles one pub/sub message: a switch of our master sets 'switched'. */
static void
watch_message(herald_sentinel_watch *w, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    /* "<master name> <old ip> <old port> <new ip> <new port>" */
    const char *m = r->element[2]->str;
    size_t ml = strlen(w->conf.master);
    if (!strncmp(m, w->conf.master, ml) && m[ml] == ' ') {
        herald_info("sentinel: +switch-master %s", m);
        w->switched = 1;
    }
}

int
herald_sentinel_watch_poll(herald_sentinel_watch *w)
{
    if (!w->c && herald_clock_mono_ms() >= w->retry_at_ms)
        watch_connect(w);
    while (w->c) {
        void *reply = NULL;
        if (redisGetReplyFromReader(w->c, &reply) != REDIS_OK) {
            watch_drop(w);
            break;
        }
        if (reply) {
            watch_message(w, reply);
            freeReplyObject(reply);
            continue;
        }
        struct pollfd pfd = {w->c->fd, POLLIN, 0};
        if (poll(&pfd, 1, 0) <= 0)
            break;
        if (redisBufferRead(w->c) != REDIS_OK)
            watch_drop(w); /* closed or failed: the loop ends */
    }
    int s = w->switched;
    w->switched = 0;
    return s;
}
