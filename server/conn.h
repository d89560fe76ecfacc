/*
 * conn -- the read server's HTTP/1.1 engine: worker threads, listeners, connections.
 *
 * One event base per worker thread, each with its own SO_REUSEPORT listener on the same
 * address (the kernel spreads connections), so workers share nothing but the published
 * snapshot set. A connection is one struct with a read buffer, a reusable write buffer
 * and a queue of output segments, and two events (read, write) created once with
 * event_new(); requests are read with read(), parsed in place (http_parse.h), answered
 * (routes.h) and written with write()/writev(). Between keep-alive requests the
 * buffers are reset, not freed: the steady-state poll path does not allocate.
 *
 * Pipelined requests are answered in order: each read processes every complete request
 * in the buffer, appending responses to the queue, then flushes once. When the queue
 * is large (a client pipelining without reading) the connection stops reading until it
 * drains. Idle connections (no complete request, nothing written) are closed after the
 * idle timeout, through a libevent "common timeout" so 10k timers cost O(1) each.
 *
 * The snapshot set used for a request is the worker's current one, refreshed when the
 * published generation changes (one relaxed atomic load per read event). A connection
 * whose queue references set memory pins that set through a worker-local, non-atomic
 * use count; the worker drops its reference to a superseded set when the count falls
 * to zero, so no atomic reference counting happens per request.
 */
#ifndef HERALD_SERVER_CONN_H
#define HERALD_SERVER_CONN_H

typedef struct server_opts {
    const char *host; /* numeric or resolvable; loopback in tests */
    const char *port;
    int threads;
    int idle_timeout_ms;
    int max_conns; /* per process; beyond it new connections are closed at once */
} server_opts;

/* Binds the listeners and starts the workers. Returns 0 or -1 (logged). */
int server_start(const server_opts *o) __attribute__((warn_unused_result));
/* The port actually bound (useful with port 0). */
int server_port(void);
/* Stops the workers, closes every connection and frees everything. */
void server_stop(void);

#endif
