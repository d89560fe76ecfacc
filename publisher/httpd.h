/*
 * httpd -- the publisher's HTTP/1.1 connections: accept, read, frame, write.
 *
 * Why not evhttp (which the publisher used first): libevent 2.1 answers every request
 * head it cannot parse (a NUL byte, a header without a colon, HTTP/2.0, a bad
 * Content-Length, an oversized body) with its own HTML page, has no hook to change
 * that, accepts unbounded request lines and header sections, and never answered a
 * request with two Content-Length headers. Kinto clients are owed Kinto's JSON error
 * format for all of these, so the publisher frames requests itself with the parser the
 * read server uses (herald/http_parse.h, fuzzed), which also gives both servers the
 * same view of what a valid request is.
 *
 * One connection handles one request at a time: while a request waits for its reply
 * (an argon2id check on a worker thread, a Redis script) the connection does not read,
 * so pipelined requests wait in the kernel and are answered in order. Bodies are framed
 * by Content-Length or decoded from chunked transfer coding, and limited to
 * max_body_bytes (413 as soon as that is known, without reading the rest).
 *
 * Protocol errors get a Kinto error (400/408/413/414/431/501/505; errno 113 for 413,
 * else 107 below 500 and 999 above) and close the connection. Timeouts: a request head must be
 * complete within header_timeout_ms of its first byte (408); a keep-alive connection without a
 * request, or a body that stops arriving, is closed after idle_timeout_ms.
 *
 * Shutdown (pub_httpd_drain): the listener closes, idle connections close, requests
 * being received or answered finish, every reply from then on says Connection: close.
 */
#ifndef HERALD_PUB_HTTPD_H
#define HERALD_PUB_HTTPD_H

#include <event2/event.h>

#include "http.h"

typedef struct pub_httpd pub_httpd;
/* A request waiting for its reply. Valid until pub_httpd_reply(). */
typedef struct pub_httpd_conn pub_httpd_conn;

/* Called with each complete request, with a sink that ends in pub_httpd_reply() (http.h). */
typedef pub_req_handler pub_httpd_handler;

/*
 * Streamed bodies (attachment uploads): for a request head 'open' accepts, the body is
 * not buffered but handed to 'data' piece by piece as it arrives, up to '*limit' bytes
 * (a Content-Length above it is answered 413 before anything is read, as is a chunked
 * body that grows past it). 'data' returns nonzero when the consumer wants no more
 * (an error it will report): the rest of the body is read and dropped. At the end of
 * the body, 'finish' stores the consumer's result into the request (pub_req.streamed),
 * at once or later from the loop (resume), and the request then goes to the handler
 * like any other; the connection reads nothing meanwhile; on a dropped connection or a protocol
 * error 'abort' frees the consumer instead.
 *
 * Authorization comes before the body: once 'open' accepts a head, a copy of the
 * request without its body (pub_req.precheck set) goes to the handler first, and the
 * connection reads nothing meanwhile. A reply with status 100 (never sent) means "go
 * on": the body is read (a request with "Expect: 100-continue" gets its interim 100
 * only then) and the complete request goes to the handler as above. Any other reply
 * (401, 403, 404...) is sent at once with Connection: close, the consumer is freed
 * without having seen a byte, and the connection lingers (reading and dropping what
 * the client still sends) so that the client reads the answer rather than a reset.
 * A client that waits for 100 Continue never sends its body at all.
 */
typedef void (*pub_httpd_resume_fn)(void *token);
typedef struct pub_httpd_stream {
    void *(*open)(void *arg, const pub_req *req, long long content_length, long long *limit);
    int (*data)(void *consumer, const char *p, size_t n);
    /* Returns 0 when 'req' is ready for the handler, or 1 when the consumer finishes
     * off the loop (an fsync on a worker thread) and will call resume(token) on the
     * loop thread ('base') once it has stored its result into 'req'. */
    int (*finish)(void *consumer, pub_req *req, struct event_base *base, pub_httpd_resume_fn resume,
                  void *token);
    void (*abort)(void *consumer);
    void *arg;
} pub_httpd_stream;

typedef struct pub_httpd_opts {
    long long max_body_bytes;
    int idle_timeout_ms;
    int header_timeout_ms;
    const pub_httpd_stream *stream; /* NULL: every body is buffered */
} pub_httpd_opts;

pub_httpd *pub_httpd_new(struct event_base *base, const pub_httpd_opts *o, pub_httpd_handler cb,
                         void *arg);
/* Binds and listens on host:port (TCP_NODELAY). Returns 0 or -1 (errno set). */
int pub_httpd_listen(pub_httpd *h, const char *host, int port);
/* Sends the reply to the request of 'c' (HEAD: the headers only, with the Content-Length
 * a GET would have). 'c' is not valid afterwards. */
void pub_httpd_reply(pub_httpd_conn *c, const pub_resp *resp, int head);
/* Graceful stop: see above. */
void pub_httpd_drain(pub_httpd *h);
/* Connections with a request being received, waiting for its reply, or being written. */
int pub_httpd_busy(const pub_httpd *h);
/* Closes every connection. NULL-safe. */
void pub_httpd_free(pub_httpd *h);

#endif
