/*
 * conn -- the read server's HTTP/1.1 engine: worker threads, listeners, connections.
 *
 * One event base per worker thread, each with its own SO_REUSEPORT listener on the same
 * address (the kernel spreads connections), so workers share nothing but the published
 * snapshot set. Requests are read with read(), parsed in place (http_parse.h), answered
 * (routes.h) into an output queue (out.h) and written with write()/writev(), with no
 * malloc on that path. Open connections are counted in status.h.
 *
 * Buffers belong to the worker, not to the connection: a read lands in the worker's
 * read buffer, every complete request in it is answered into the worker's output queue,
 * and the queue is written before the callback returns. Only what is left over moves to
 * the connection: the bytes of an incomplete request head (rare: clients send a head in
 * one segment), or output the socket did not take (a slow reader: the connection then
 * stops reading until it drained). So an idle keep-alive connection is a small struct
 * and one read event, whatever it fetched before (nginx's approach to keep-alive).
 *
 * Pipelined requests are answered in order: each read answers every complete request
 * in the buffer, then flushes once (early when the queue gets large).
 *
 * Shutdown drains (server_stop), like nginx's graceful stop: see on_stop() in conn.c.
 *
 * Long-poll (RFC 7240 Prefer: wait): a request the router says to hold (routes.h:
 * route_request_or_hold) keeps its bytes in the connection's own buffer, sized exactly,
 * and is registered in the worker's waiter registry (wait.h); the connection leaves the
 * idle list (a held request is not idle) and keeps reading only to notice a close
 * (EOF frees it at once). Pipelined requests behind it are buffered and answered after
 * it, in order: a held connection parses nothing further until it is answered. It is
 * answered, by parsing and routing its bytes again with the set current then (so the
 * answer is exactly an immediate one, plus Preference-Applied), when: a new set is
 * published (snapset_publish calls the hook this module registers, which writes to
 * every worker's eventfd; the worker refreshes its set and asks the registry for the
 * groups whose version changed); its deadline passes (the 250 ms sweep advances the
 * registry's timing wheel); or SIGTERM (all, at once, before the drain).
 *
 * An attachment the read server must first fetch from its origin (attach.h) is held
 * the same way (its bytes kept, off the idle list, reading only to notice a close) on
 * the worker's list of fetch waiters; the fetch thread wakes the workers through the
 * same eventfd when a fetch ends, and the request is parsed and routed again, which
 * then answers it from the stored file (or with the fetch's error). The worker never
 * waits for the origin.
 *
 * Timeouts cost nothing per request: events have no timeout; each worker keeps its
 * connections in a list ordered by last activity (a read, or write progress: moving a
 * connection to the tail is a few pointer writes) and a sweep every 250 ms closes those
 * idle longer than the idle timeout from the head of that list. Connections holding an
 * incomplete request head are also on a second list and get the (shorter) header
 * timeout, counted from the head's first byte however slowly the rest trickles in; they
 * are answered 408 and closed.
 *
 * The snapshot set used for a request is the worker's current one, refreshed when the
 * published generation changes (one relaxed atomic load per read event). Output that
 * references set memory and could not be written at once pins that set through a
 * worker-local, non-atomic use count; the worker drops its reference to a superseded
 * set when the count falls to zero, so no atomic reference counting happens per request.
 */
#ifndef HERALD_SERVER_CONN_H
#define HERALD_SERVER_CONN_H

#include <stdint.h>

typedef struct server_opts {
    const char *host; /* numeric or resolvable; loopback in tests */
    const char *port;
    int threads;
    int idle_timeout_ms;
    int header_timeout_ms;    /* a request head must be complete this long after it began */
    int max_conns;            /* per process; beyond it new connections are closed at once */
    int drain_timeout_ms;     /* server_stop(): the longest wait for unfinished connections */
    int64_t long_poll_max_ms; /* cap of Prefer: wait (long-poll); < 1000: never hold */
} server_opts;

/* Binds the listeners and starts the workers. Returns 0 or -1 (logged). */
int server_start(const server_opts *o) __attribute__((warn_unused_result));
/* The port actually bound (useful with port 0). */
int server_port(void);
/* Stops the workers after draining them: listeners close at once (new connections are
 * refused), idle connections close, responses being written and request heads being
 * received are finished, for at most drain_timeout_ms; then closes whatever is left and
 * frees everything. Blocks until done. */
void server_stop(void);

#endif
