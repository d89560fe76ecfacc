/*
 * client/http -- the client library's HTTP(S) GETs, on libcurl.
 *
 * One curl easy handle per client (connections are kept alive between the requests of a
 * sync); the caller serializes its use. A GET is retried on transient failures
 * (connection errors, timeouts, 5xx, 429 without Retry-After) up to 'max_retries'
 * times, each after a random wait in [0, base * 2^attempt) ("full jitter": many clients
 * failing together do not come back together). The Backoff and Retry-After headers are
 * returned to the caller, which decides when to come back; a Retry-After stops retries.
 */
#ifndef HERALD_CLIENT_HTTP_H
#define HERALD_CLIENT_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include "herald/mem.h"

typedef struct herald_chttp_opts {
    long connect_timeout_ms;
    long timeout_ms;
    int max_retries;
    long retry_base_ms;
    size_t max_body_bytes;
    const char *ca_file;
} herald_chttp_opts;

typedef struct herald_chttp herald_chttp;

typedef struct herald_chttp_resp {
    long status;           /* HTTP status of the last attempt, 0 if none got one */
    herald_buf body;       /* when no file was given */
    int64_t backoff_s;     /* Backoff header, -1 if absent */
    int64_t retry_after_s; /* Retry-After (seconds or HTTP date), -1 if absent */
    uint64_t requests;     /* attempts made */
    uint64_t bytes;        /* body bytes received over the wire, all attempts */
} herald_chttp_resp;

herald_chttp *herald_chttp_new(const herald_chttp_opts *o, char *err, size_t errlen);
void herald_chttp_free(herald_chttp *h);
void herald_chttp_resp_init(herald_chttp_resp *r);
void herald_chttp_resp_free(herald_chttp_resp *r);

/* GETs 'url' into r->body, or into 'file' when not NULL (truncated before each attempt).
 * Returns 0 when a response with status 200 (or 304) arrived, else -1 with the reason in
 * 'err' (r->status and the headers still say what the server answered). */
int herald_chttp_get(herald_chttp *h, const char *url, FILE *file, herald_chttp_resp *r, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

#endif
