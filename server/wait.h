/*
 * wait -- the long-poll waiters of one worker (RFC 7240 "Prefer: wait=N").
 *
 * A held request waits for the version its If-None-Match names to stop being the
 * current one, or for its deadline. This module only keeps the waiters, indexed both
 * ways, and knows nothing of connections, routes or snapshot sets:
 *
 *   by what they wait on   groups keyed by (route, bucket, collection, ETag), in a hash
 *                          table; each group a list of its waiters. When a new set is
 *                          published, the caller asks once per group whether its
 *                          version is stale (wait_take_stale), so the cost of a publish
 *                          is one lookup per distinct (collection, version) waited on,
 *                          plus one list step per waiter answered.
 *   by deadline            a timing wheel of WAIT_TICK_MS slots covering the longest
 *                          wait, advanced by the worker's existing sweep timer
 *                          (wait_take_expired): no timer per waiter, O(1) to add and
 *                          remove whatever the mix of wait values.
 *
 * A waiter is a struct the caller embeds in its own (the connection) and gets back from
 * the take functions as a detached list, so the caller may answer each, free it or
 * register it again while walking the list. A registry belongs to one thread. The
 * process-wide number of waiters (wait_held_total) is one relaxed atomic, read by
 * /metrics.
 */
#ifndef HERALD_SERVER_WAIT_H
#define HERALD_SERVER_WAIT_H

#include <stddef.h>
#include <stdint.h>

#define WAIT_TICK_MS 250 /* deadline resolution: the connection layer's sweep period */

/* What a request waits on: slices, copied by wait_add when a new group is made. */
typedef struct wait_key {
    int route;       /* the caller's route id */
    const char *bid; /* bucket and collection; both empty for the monitor */
    size_t bl;
    const char *cid;
    size_t cl;
    const char *etag; /* the opaque part of the current strong ETag */
    size_t etag_len;
    int compressed; /* the client accepts a compressed body (routes.c waits for it) */
} wait_key;

typedef struct wait_group wait_group;

typedef struct waiter {
    struct waiter *next, *prev;   /* in its group; 'next' links a taken list */
    struct waiter *tnext, *tprev; /* in its wheel slot */
    wait_group *g;                /* NULL when not registered */
    int64_t deadline_ms;
    size_t slot; /* its wheel slot */
} waiter;

typedef struct wait_reg wait_reg;

/* A registry for waits of at most 'max_wait_ms'. */
wait_reg *wait_reg_new(int64_t max_wait_ms);
/* Frees 'r' (NULL-safe); it must be empty (take everything first). */
void wait_reg_free(wait_reg *r);

/* Registers 'w' (not registered) as waiting on 'k' until 'deadline_ms' (capped at the
 * registry's longest wait from 'now_ms'). */
void wait_add(wait_reg *r, waiter *w, const wait_key *k, int64_t now_ms, int64_t deadline_ms);
/* Unregisters 'w' (no-op when it is not registered). */
void wait_remove(wait_reg *r, waiter *w);
/* Waiters registered in 'r'. */
size_t wait_count(const wait_reg *r);

/* Detaches every waiter whose group 'stale'(key, arg) says is no longer current and
 * returns them as a list linked by 'next' (NULL: none). */
waiter *wait_take_stale(wait_reg *r, int (*stale)(const wait_key *k, void *arg), void *arg);
/* Detaches and returns the waiters whose deadline is <= 'now_ms'. */
waiter *wait_take_expired(wait_reg *r, int64_t now_ms);
/* Detaches and returns every waiter. */
waiter *wait_take_all(wait_reg *r);

/* Requests held by every registry of the process (a gauge). */
int64_t wait_held_total(void);

#endif
