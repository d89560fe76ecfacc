/*
 * store -- the publisher's one Redis connection: (re)connecting, the Lua scripts, and
 * transactions.
 *
 * Phase 1 uses a blocking hiredis context with a command timeout on the event loop
 * thread: writes are serialized anyway (each is one Lua script, and Redis runs one
 * script at a time), and with appendfsync always Redis replies only after the write is
 * on its append-only file, so the reply *is* the durability acknowledgement.
 *
 * Failure handling: any I/O error or timeout drops the context; the next request
 * reconnects. While Redis is down, a reconnect is tried at most once per second so that
 * requests fail fast (503) instead of each waiting out a connect timeout. A request
 * whose command timed out may or may not have been applied: the client gets a 503 and
 * retries (PUT and DELETE are idempotent in effect).
 *
 * Through Sentinel (herald/redis.h, herald/sentinel.h): every connect finds the primary
 * and checks its ROLE; a lost connection, a READONLY/NOREPLICAS/MASTERDOWN reply to a
 * script, or a +switch-master announcement (polled before each use) drops the connection
 * so the next request re-discovers. A script answered READONLY did not run; one whose
 * connection was lost is the usual "may or may not" (the deadline fence below still
 * holds on the new primary: the deadline is on the clock of the node measured at connect,
 * and a script queued on a dead or demoted node never runs, or runs before the deadline).
 *
 * On every connect the store checks CONFIG GET appendonly / appendfsync and logs a
 * warning unless they are "yes" / "always": without them an acknowledged write can be
 * lost when Redis crashes, which breaks Herald's promise. It is a warning, not a
 * refusal, because managed Redis services often disable CONFIG.
 */
#ifndef HERALD_PUB_STORE_H
#define HERALD_PUB_STORE_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "herald/mem.h"
#include "herald/redis.h"

/* Generated from lib/lua (cmake/embed_lua.cmake); put_object and delete_object are
 * declared in herald/schema.h, the publisher-only pub_*.lua here. */
extern const char herald_lua_pub_flush[];
extern const char herald_lua_review_apply[];

enum pub_script {
    PUB_SCRIPT_PUT_OBJECT,
    PUB_SCRIPT_DELETE_OBJECT,
    PUB_SCRIPT_FLUSH,
    PUB_SCRIPT_REVIEW_APPLY, /* review.h */
    PUB_SCRIPT_COUNT,
};

/* An argument vector for one Redis command; every argument is copied. */
typedef struct pub_args {
    int n;
    int cap;
    char **v;
    size_t *len;
} pub_args;

void pub_args_init(pub_args *a);
void pub_args_free(pub_args *a); /* NULL-safe; reusable afterwards */
void pub_args_add(pub_args *a, const void *p, size_t n);
void pub_args_adds(pub_args *a, const char *s);
void pub_args_addbuf(pub_args *a, const herald_buf *b);
void pub_args_addi(pub_args *a, long long v);

typedef struct pub_store pub_store;

/* The error a write script's reply is replaced with when WAIT did not confirm it. */
#define PUB_STORE_UNCONFIRMED "HERALD_UNCONFIRMED"

/* Does not connect yet (see pub_store_ready). 'timeout_ms' bounds connect and commands. */
pub_store *pub_store_new(const herald_redis_url *url, int timeout_ms);
void pub_store_free(pub_store *s); /* NULL-safe */
/* After each write script that did not fail, WAIT until 'min_replicas' replicas have it,
 * at most 'wait_timeout_ms' (below the command timeout); when they do not, the reply is
 * replaced by the error PUB_STORE_UNCONFIRMED (transient: 503). 0 replicas: no WAIT. */
void pub_store_set_replicas(pub_store *s, int min_replicas, int wait_timeout_ms);

/* Makes sure there is a connection with the scripts loaded. Returns 0, or -1 when
 * Redis is unreachable (the reason is logged; retried at most once a second). */
int pub_store_ready(pub_store *s) __attribute__((warn_unused_result));

/*
 * Runs 'script' with the first 'nkeys' of 'args' as KEYS and the rest as ARGV
 * (EVALSHA, and EVAL when Redis answers NOSCRIPT, e.g. after SCRIPT FLUSH or a
 * restart). Returns the reply (the caller frees it with freeReplyObject), which may be
 * an error reply, or NULL when the connection failed (it is dropped).
 */
redisReply *pub_store_eval(pub_store *s, enum pub_script script, int nkeys, const pub_args *args)
    __attribute__((warn_unused_result));

/*
 * Runs the 'ncmds' commands in 'cmds' as one MULTI/EXEC transaction, pipelined in one
 * round trip, so reads see one consistent state. Returns the EXEC reply (an array with
 * one element per command; the caller frees it), or NULL when the connection failed
 * or the transaction did not run.
 */
redisReply *pub_store_txn(pub_store *s, const pub_args *cmds, int ncmds)
    __attribute__((warn_unused_result));

/* 1 if an error reply means "Redis cannot serve now, retry" (LOADING, BUSY, MISCONF,
 * READONLY, OOM, ...), to be answered 503; 0 for anything else (a bug: 500). */
int pub_store_error_is_transient(const redisReply *r);

#endif
