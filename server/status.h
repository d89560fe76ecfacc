/*
 * status -- the server's few process-wide gauges, in one place below everything that
 * sets or reads them.
 *
 * The connection layer counts open connections here, the Redis sync records whether
 * Redis is up, whether a full load has completed and when it last published; the
 * operational endpoints (__heartbeat__, /metrics) read one consistent-enough copy with
 * status_read(). Writers and readers are different threads: every value is an atomic, read
 * relaxed (each is meaningful alone; none orders other memory).
 *
 * The names of collections whose newest snapshot failed to verify are here too (a short
 * list under a mutex: written when a blob fails or a later one verifies, read by
 * __heartbeat__).
 *
 * The operator's Backoff (seconds; 0: off) is also here: the sync sets it from the setting
 * and the Redis key, and reply.c reads it for every response, so its reader is inline:
 * one relaxed load, no call, on the poll path.
 */
#ifndef HERALD_SERVER_STATUS_H
#define HERALD_SERVER_STATUS_H

#include <stdatomic.h>
#include <stddef.h>

#include "herald/mem.h"

typedef struct server_status {
    int connections;          /* open client connections */
    int redis_ok;             /* both Redis connections up and the last resync finished */
    int loaded;               /* a full resync has completed since start */
    long long last_update_ms; /* ms since the epoch of the last set published; 0: none */
    int backoff_seconds;      /* the Backoff header sent now; 0: none */
    long long resync_ms;      /* duration of the last full resync; -1: none finished yet */
    int invalid;              /* collections whose newest stored snapshot fails to verify */
} server_status;

/* Written only through status_set_backoff(); exposed for the inline reader below. */
extern atomic_int status_backoff_seconds_;

/* Counts a new connection; returns the count before it (any thread). */
int status_conn_open(void);
/* Counts a closed (or refused) connection. */
void status_conn_close(void);

void status_set_redis_ok(int ok);
void status_set_loaded(void);
void status_set_last_update(long long ms);
/* Sets the Backoff seconds every response carries from now on (0: none; negative is 0). */
void status_set_backoff(int seconds);

/* The Backoff seconds to send now, 0 for none (any thread; one relaxed load). */
static inline int
status_backoff(void)
{
    return atomic_load_explicit(&status_backoff_seconds_, memory_order_relaxed);
}

/* The last full resync took 'ms' milliseconds (from the ZRANGE to every blob verified). */
void status_set_resync_ms(long long ms);

/* Marks "bid/cid" as having (bad = 1) or no longer having (bad = 0) a newest stored
 * snapshot that cannot be served (undecodable, unverifiable). __heartbeat__ answers 503
 * and names them while any is marked. Any thread. */
void status_set_invalid(const char *bid, const char *cid, int bad);
/* Appends the marked names as JSON strings separated by ',' (ids need no escaping); returns
 * how many. Any thread. */
size_t status_invalid_list(herald_buf *out);

/* A copy of every gauge (any thread). */
void status_read(server_status *st);

#endif
