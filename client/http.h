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
    long status;            /* HTTP status of the last attempt, 0 if none got one */
    herald_buf body;        /* when no file was given */
    int64_t backoff_s;      /* Backoff header, -1 if absent */
    int64_t retry_after_s;  /* Retry-After (seconds or HTTP date), -1 if absent */
    uint64_t requests;      /* attempts made */
    uint64_t bytes;         /* body bytes received over the wire, all attempts */
    char etag[128];         /* ETag of the last answer ("" if absent or longer) */
    int preference_applied; /* the answer carried Preference-Applied (a held long-poll) */
} herald_chttp_resp;

/* Per-request options of herald_chttp_get_ex (all optional). */
typedef struct herald_chttp_req {
    const char *if_none_match; /* sent as If-None-Match (must hold no CR or LF) */
    int prefer_wait_s;         /* > 0: "Prefer: wait=N" (a long-poll, docs/server.md) */
    long timeout_ms;           /* > 0: this request's total timeout instead of the client's */
    int no_retry;              /* one attempt only: the caller paces its own retries */
    /* Polled during the transfer: when it returns nonzero the request is aborted (a watch
     * being stopped from another thread). */
    int (*cancelled)(void *arg);
    void *cancelled_arg;
} herald_chttp_req;

herald_chttp *herald_chttp_new(const herald_chttp_opts *o, char *err, size_t errlen);
void herald_chttp_free(herald_chttp *h);
void herald_chttp_resp_init(herald_chttp_resp *r);
void herald_chttp_resp_free(herald_chttp_resp *r);

/* GETs 'url' into r->body, or into 'file' when not NULL (truncated before each attempt).
 * Returns 0 when a response with status 200 (or 304) arrived, else -1 with the reason in
 * 'err' (r->status and the headers still say what the server answered). */
int herald_chttp_get(herald_chttp *h, const char *url, FILE *file, herald_chttp_resp *r, char *err,
                     size_t errlen) __attribute__((warn_unused_result));
/* herald_chttp_get with per-request options ('req' may be NULL). */
int herald_chttp_get_ex(herald_chttp *h, const char *url, FILE *file, const herald_chttp_req *req,
                        herald_chttp_resp *r, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Applies one raw response header line (as received, CRLF included or not; a status line
 * or a line without ':' is ignored) to 'r': Backoff, Retry-After (seconds or an HTTP
 * date), ETag and Preference-Applied. Exposed for the fuzz target (fuzz/check_client.c):
 * it reads bytes from the network. */
void herald_chttp_header_line(herald_chttp_resp *r, const char *line, size_t len);

#endif
