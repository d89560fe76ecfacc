/*
 * status -- the server's few process-wide gauges, in one place below everything that
 * sets or reads them.
 *
 * The connection layer counts open connections here, the Redis sync records whether
 * Redis is up, whether a full load has completed and when it last published; the
 * operational endpoints (__heartbeat__, /metrics) read one consistent-enough copy with
 * status_read(). Writers and readers are different threads: every value is an atomic, read
 * relaxed (each is meaningful alone; none orders other memory).
 */
#ifndef HERALD_SERVER_STATUS_H
#define HERALD_SERVER_STATUS_H

typedef struct server_status {
    int connections;          /* open client connections */
    int redis_ok;             /* both Redis connections up and the last resync finished */
    int loaded;               /* a full resync has completed since start */
    long long last_update_ms; /* ms since the epoch of the last set published; 0: none */
} server_status;

/* Counts a new connection; returns the count before it (any thread). */
int status_conn_open(void);
/* Counts a closed (or refused) connection. */
void status_conn_close(void);

void status_set_redis_ok(int ok);
void status_set_loaded(void);
void status_set_last_update(long long ms);

/* A copy of every gauge (any thread). */
void status_read(server_status *st);

#endif
