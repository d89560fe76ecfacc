/*
 * store -- see store.h.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/backoff.h"
#include "herald/clock.h"
#include "herald/log.h"
#include "herald/schema.h"

struct pub_store {
    herald_redis_url url;
    int timeout_ms;
    redisContext *c;
    char sha[PUB_SCRIPT_COUNT][41];
    herald_backoff hold_off;      /* after a failure, no new connection for a second */
    long long retry_at_ms;        /* monotonic; 0 = connect when asked */
    long long clock_offset_ms;    /* Redis TIME minus our wall clock, measured at connect */
    herald_sentinel_watch *watch; /* +switch-master, through Sentinel only */
    int min_replicas;             /* WAIT for this many after a write (0: no WAIT) */
    int wait_timeout_ms;
};

static const char *const script_names[PUB_SCRIPT_COUNT] = {"put_object", "delete_object",
                                                           "pub_flush", "review_apply"};

static const char *
script_text(enum pub_script s)
{
    switch (s) {
    case PUB_SCRIPT_PUT_OBJECT:
        return herald_lua_put_object;
    case PUB_SCRIPT_DELETE_OBJECT:
        return herald_lua_delete_object;
    case PUB_SCRIPT_REVIEW_APPLY:
        return herald_lua_review_apply;
    default:
        return herald_lua_pub_flush;
    }
}

void
pub_args_init(pub_args *a)
{
    memset(a, 0, sizeof(*a));
}

void
pub_args_free(pub_args *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    free(a->len);
    memset(a, 0, sizeof(*a));
}

void
pub_args_add(pub_args *a, const void *p, size_t n)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = herald_mem_realloc(a->v, (size_t)a->cap * sizeof(*a->v));
        a->len = herald_mem_realloc(a->len, (size_t)a->cap * sizeof(*a->len));
    }
    a->v[a->n] = herald_mem_alloc(n + 1);
    memcpy(a->v[a->n], p, n);
    a->v[a->n][n] = '\0';
    a->len[a->n] = n;
    a->n++;
}

void
pub_args_adds(pub_args *a, const char *s)
{
    pub_args_add(a, s, strlen(s));
}

void
pub_args_addbuf(pub_args *a, const herald_buf *b)
{
    pub_args_add(a, b->data ? b->data : "", b->len);
}

void
pub_args_addi(pub_args *a, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    pub_args_add(a, tmp, (size_t)n);
}

pub_store *
pub_store_new(const herald_redis_url *url, int timeout_ms)
{
    pub_store *s = herald_mem_calloc(1, sizeof(*s));
    s->url = *url;
    s->timeout_ms = timeout_ms;
    /* A fixed second: during an outage requests fail at once (503) instead of each one
     * waiting for a connect timeout. */
    s->hold_off = (herald_backoff){1000, 1000, 1000};
    if (url->sentinel.n)
        s->watch = herald_sentinel_watch_new(&url->sentinel);
    return s;
}

void
pub_store_set_replicas(pub_store *s, int min_replicas, int wait_timeout_ms)
{
    s->min_replicas = min_replicas;
    s->wait_timeout_ms = wait_timeout_ms;
}

static void
drop(pub_store *s)
{
    if (s->c) {
        herald_warn("redis %s:%d: connection lost: %s", s->url.host, s->url.port,
                    s->c->errstr[0] ? s->c->errstr : "protocol error");
        redisFree(s->c);
        s->c = NULL;
    }
    s->retry_at_ms = herald_clock_mono_ms() + herald_backoff_next(&s->hold_off);
}

void
pub_store_free(pub_store *s)
{
    if (!s)
        return;
    if (s->c)
        redisFree(s->c);
    herald_sentinel_watch_free(s->watch);
    free(s);
}

/* Logs a warning unless CONFIG GET 'name' answers 'want'. */
static void
check_setting(redisContext *c, const char *name, const char *want)
{
    redisReply *r = redisCommand(c, "CONFIG GET %s", name);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        if (strcmp(r->element[1]->str, want) != 0)
            herald_warn("redis %s is '%s', not '%s': acknowledged writes can be lost if "
                        "Redis crashes (run Redis with appendonly yes, appendfsync always)",
                        name, r->element[1]->str, want);
    } else {
        herald_warn("cannot check redis %s (CONFIG GET refused?): make sure Redis runs with "
                    "appendonly yes and appendfsync always",
                    name);
    }
    if (r)
        freeReplyObject(r);
}

/* With WAIT, the primary itself should refuse writes when it is cut off from its replicas
 * (docs/deploy.md); say so when it does not. */
static void
check_min_replicas(redisContext *c, int want)
{
    redisReply *r = redisCommand(c, "CONFIG GET min-replicas-to-write");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING && atoi(r->element[1]->str) < 1)
        herald_warn("redis min-replicas-to-write is %s while redis_min_replicas is %d: an "
                    "isolated old primary would still take writes (see docs/deploy.md)",
                    r->element[1]->str, want);
    if (r)
        freeReplyObject(r);
}

/* The write deadline (pub_store_eval) is checked by the scripts against Redis TIME, so
 * it must be expressed on Redis's clock: offset = TIME - the middle of our round trip. */
static int
measure_clock_offset(pub_store *s)
{
    long long before = herald_clock_wall_ms();
    redisReply *r = redisCommand(s->c, "TIME");
    long long after = herald_clock_wall_ms();
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
    if (ok) {
        long long redis_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                             strtoll(r->element[1]->str, NULL, 10) / 1000;
        s->clock_offset_ms = redis_ms - (before + after) / 2;
    } else {
        herald_warn("redis TIME: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : s->c->errstr);
    }
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

int
pub_store_ready(pub_store *s)
{
    char err[512];
    if (s->watch && herald_sentinel_watch_poll(s->watch) && s->c) {
        /* A new primary: the one we hold is being demoted (or is gone). */
        herald_info("redis: sentinel announced a new primary; reconnecting");
        redisFree(s->c);
        s->c = NULL;
        s->retry_at_ms = 0;
    }
    if (s->c)
        return 0;
    if (s->retry_at_ms && herald_clock_mono_ms() < s->retry_at_ms)
        return -1;
    s->c = herald_redis_connect(&s->url, s->timeout_ms, err, sizeof(err));
    if (!s->c) {
        herald_warn("%s", err);
        goto fail;
    }
    if (measure_clock_offset(s) != 0)
        goto fail;
    check_setting(s->c, "appendonly", "yes");
    check_setting(s->c, "appendfsync", "always");
    if (s->c->err)
        goto fail;
    for (int i = 0; i < PUB_SCRIPT_COUNT; i++) {
        if (herald_redis_script_load(s->c, script_text((enum pub_script)i), s->sha[i], err,
                                     sizeof(err)) != 0) {
            herald_error("redis %s (%s)", err, script_names[i]);
            goto fail;
        }
    }
    herald_info("connected to redis %s:%d db %d", s->url.host, s->url.port, s->url.db);
    if (s->min_replicas > 0)
        check_min_replicas(s->c, s->min_replicas);
    s->retry_at_ms = 0;
    herald_backoff_reset(&s->hold_off);
    return 0;
fail:
    drop(s);
    return -1;
}

/* A reply of our own making, freed by freeReplyObject like hiredis's (it uses malloc). */
static redisReply *
unconfirmed_reply(void)
{
    static const char msg[] = PUB_STORE_UNCONFIRMED " fewer replicas than redis_min_replicas "
                                                    "confirmed the write in time";
    redisReply *r = herald_mem_calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ERROR;
    r->len = sizeof(msg) - 1;
    r->str = herald_mem_alloc(sizeof(msg));
    memcpy(r->str, msg, sizeof(msg));
    return r;
}

/*
 * WAIT min_replicas wait_timeout_ms after a write script: 1 when enough replicas have
 * everything this connection wrote, 0 otherwise (too few in time, or the connection
 * failed: it is dropped). WAIT returns when the count is reached or at the timeout, and
 * the write itself stays on the primary either way: it may still reach the replicas, or
 * be lost with the primary. Hence the caller's 503 "may or may not be kept".
 */
static int
replicas_confirm(pub_store *s)
{
    redisReply *w = redisCommand(s->c, "WAIT %d %d", s->min_replicas, s->wait_timeout_ms);
    int ok = w && w->type == REDIS_REPLY_INTEGER && w->integer >= s->min_replicas;
    if (!ok)
        herald_warn("redis WAIT %d %d: %s", s->min_replicas, s->wait_timeout_ms,
                    !w                               ? s->c->errstr
                    : w->type == REDIS_REPLY_INTEGER ? "too few replicas confirmed in time"
                    : w->type == REDIS_REPLY_ERROR   ? w->str
                                                     : "unexpected reply");
    if (w)
        freeReplyObject(w);
    else
        drop(s);
    return ok;
}

/*
 * Every write script gets one more argument, last: a deadline on Redis's clock, half our
 * command timeout from now. The script refuses to run after it
 * (the deadline fence at the top of each publisher script in lib/lua). Without it, a write we
 * answered with 503 after a timeout could still run later: when Redis is frozen (SIGSTOP, a long
 * fork, a stalled disk), the command waits in its socket buffer and runs when Redis resumes, even
 * after we closed the connection. The other half of the timeout is left for the script, the fsync
 * and the reply, so a write that started in time is answered in time unless Redis stalls for longer
 * than that after starting it.
 */
redisReply *
pub_store_eval(pub_store *s, enum pub_script script, int nkeys, const pub_args *args)
{
    int argc = args->n + 4;
    const char **argv = herald_mem_alloc((size_t)argc * sizeof(*argv));
    size_t *argvlen = herald_mem_alloc((size_t)argc * sizeof(*argvlen));
    char nk[16];
    redisReply *r = NULL;

    if (pub_store_ready(s) != 0)
        goto done;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[2] = nk;
    argvlen[2] = strlen(nk);
    for (int i = 0; i < args->n; i++) {
        argv[i + 3] = args->v[i];
        argvlen[i + 3] = args->len[i];
    }
    char deadline[24];
    snprintf(deadline, sizeof(deadline), "%lld",
             herald_clock_wall_ms() + s->clock_offset_ms + s->timeout_ms / 2);
    argv[argc - 1] = deadline;
    argvlen[argc - 1] = strlen(deadline);
    /* EVALSHA; EVAL when Redis lost its script cache (restart, SCRIPT FLUSH). */
    r = herald_redis_script_eval(s->c, s->sha[script], script_text(script), argc, argv, argvlen);
    if (!r) {
        drop(s);
    } else if (herald_redis_error_wants_rediscovery(r)) {
        /* A demoted or isolated primary: the write did not run; find the new one. */
        herald_warn("redis: %s", r->str);
        drop(s);
    } else if (r->type != REDIS_REPLY_ERROR && s->min_replicas > 0 && !replicas_confirm(s)) {
        freeReplyObject(r);
        r = unconfirmed_reply();
    }
done:
    free(argv);
    free(argvlen);
    return r;
}

/* One attempt of pub_store_txn. Sets *io_error when the connection failed. */
static redisReply *
txn_once(pub_store *s, const pub_args *cmds, int ncmds, int *io_error)
{
    redisReply *exec = NULL;
    void *reply;
    int ok = 1;

    *io_error = 0;
    /* Pipelined: everything is queued in hiredis's output buffer and written at the
     * first redisGetReply, one round trip for the whole transaction. */
    redisAppendCommand(s->c, "MULTI");
    for (int i = 0; i < ncmds; i++)
        redisAppendCommandArgv(s->c, cmds[i].n, (const char **)cmds[i].v, cmds[i].len);
    redisAppendCommand(s->c, "EXEC");
    for (int i = 0; i < ncmds + 2; i++) {
        if (redisGetReply(s->c, &reply) != REDIS_OK) {
            if (exec)
                freeReplyObject(exec);
            drop(s);
            *io_error = 1;
            return NULL;
        }
        redisReply *r = reply;
        if (i == ncmds + 1) {
            exec = r;
        } else {
            if (r->type == REDIS_REPLY_ERROR) {
                herald_error("redis transaction: %s", r->str);
                ok = 0;
            }
            freeReplyObject(r);
        }
    }
    if (!ok || exec->type != REDIS_REPLY_ARRAY) {
        if (exec->type == REDIS_REPLY_ERROR)
            herald_error("redis EXEC: %s", exec->str);
        freeReplyObject(exec);
        return NULL;
    }
    return exec;
}

redisReply *
pub_store_txn(pub_store *s, const pub_args *cmds, int ncmds)
{
    int had_connection = s->c != NULL, io_error;
    if (pub_store_ready(s) != 0)
        return NULL;
    redisReply *exec = txn_once(s, cmds, ncmds, &io_error);
    /* A connection that was idle may have been closed by a Redis restart: reads are
     * safe to repeat, so try once more on a fresh connection before answering 503.
     * (Scripts are not retried: a lost reply does not say whether the write ran.) */
    if (!exec && io_error && had_connection) {
        s->retry_at_ms = 0;
        if (pub_store_ready(s) != 0)
            return NULL;
        exec = txn_once(s, cmds, ncmds, &io_error);
    }
    return exec;
}

int
pub_store_error_is_transient(const redisReply *r)
{
    static const char *const transient[] = {
        "LOADING",    "BUSY",       "MISCONF",  "READONLY",        "OOM",
        "NOREPLICAS", "MASTERDOWN", "TRYAGAIN", "HERALD_DEADLINE", PUB_STORE_UNCONFIRMED};
    if (!r || r->type != REDIS_REPLY_ERROR)
        return 0;
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        if (strncmp(r->str, transient[i], strlen(transient[i])) == 0)
            return 1;
    return 0;
}
