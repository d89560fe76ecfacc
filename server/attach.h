/*
 * attach -- attachment files on the read server (docs/attachments.md).
 *
 *   GET/HEAD /attachments/<h0h1>/<sha256>     (the path the capability's base_url names)
 *
 * Files live in a content-addressed store (herald/castore.h): the read server either
 * shares the publisher's attachments_dir, or has its own directory and an origin (the
 * publisher's or another read server's base URL). The no-404 rule is fetch-on-miss: a
 * file that is not in the directory is fetched from the origin by its hash when first
 * asked for (streamed to a temporary file of the store while hashed, never held in
 * memory), its SHA-256 checked against the hash in the path before it is given its
 * name (atomically, castore.h), and only then served. A tampered or truncated file from
 * the origin is never stored nor served (502). The path is mapped to a file only when
 * it is exactly /attachments/ + 2 hex + '/' + 64 lowercase hex with the same first two
 * digits (herald_castore_url_hash), so no path can name anything else.
 *
 * A fetch never runs on the worker thread that took the request: a 50 MB miss must not
 * stall that worker's other clients. attach_serve starts it on a thread of its own (or
 * joins the one under way for the same hash: concurrent misses of one file make one
 * origin request) and hands the caller a reference (attach_body.pending); the caller
 * (conn.c) holds the request, as it holds a long-poll, and serves it again when the
 * fetch has ended (attach_on_fetched wakes the workers): the file, or 502 (origin
 * error, tampered or truncated file) / 504 (origin timeout) with a Kinto error. At most
 * ATTACH_MAX_FETCHES different files are fetched at once; a miss beyond that is
 * answered 503 at once, so that unknown hashes cannot make threads without bound. A
 * thread per fetch (not a libcurl multi loop) keeps the fetch a plain blocking
 * sequence (body, type, checked commit), and fetches are rare: a file is fetched once
 * per read server. On shutdown (attach_unconfigure) fetches under way are aborted.
 *
 * Responses: 200 / 206 with one byte range (RFC 9110 14), 416 for an unsatisfiable
 * one, 304 when If-None-Match holds the ETag (the hash), Cache-Control public,
 * max-age=31536000, immutable (a location never changes content), Accept-Ranges,
 * CORS.
 *
 *   GET/HEAD /attachments/bundles/<bid>--<cid>.zip   (publisher/bundle.h)
 *
 * A bundle is served from the directory only (never fetched: it has no hash to check),
 * with an ETag of its mtime and size and an hour of caching, since it is rebuilt in
 * place. The body is not copied: the caller (conn.c) sends it with sendfile(2) from the
 * descriptor this module opens.
 */
#ifndef HERALD_SERVER_ATTACH_H
#define HERALD_SERVER_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "herald/http_parse.h"
#include "out.h"

#define ATTACH_PREFIX "/attachments/"
#define ATTACH_MAX_FETCHES 32

typedef struct attach_opts {
    const char *dir;    /* NULL: attachments are not served (404) */
    const char *origin; /* base URL to fetch missing files from; NULL: none */
    /* Each request to the origin (attachment_fetch_timeout_seconds); 0: 300 s. */
    int fetch_timeout_ms;
} attach_opts;

/* Once at start, before the workers. Returns 0, or -1 with the reason logged. */
int attach_configure(const attach_opts *o);
void attach_unconfigure(void);

/* A fetch from the origin under way (or finished) for one file, shared by every request
 * waiting for that file: opaque, reference-counted. */
typedef struct attach_fetch attach_fetch;

/* A body to send after the head: 'len' bytes of 'fd' from 'off'; fd -1: none.
 * 'pending': set by attach_serve (which then answers nothing and returns 0) when the
 * file must first be fetched; the caller holds the request and, once
 * attach_fetch_done(pending), serves it again with 'pending' still set, which gives
 * that answer (the file, or 502/504) and releases it. */
typedef struct attach_body {
    int fd;
    int64_t off, len;
    attach_fetch *pending;
} attach_body;

/* 1 if 'req' is for an attachment path (ATTACH_PREFIX). */
int attach_is_path(const http_request *req);
/* Answers 'req' ('head' is its raw head, to read Range from): appends the response
 * head (and error bodies) to 'o' and fills 'body' (the caller sends it and closes the
 * fd). Returns the status. */
int attach_serve(out *o, const http_request *req, const char *head, size_t head_len, int keep_alive,
                 attach_body *body);

/* Whether the fetch 'f' has ended (the file is in place, or the fetch failed). Any
 * thread. */
int attach_fetch_done(attach_fetch *f);
/* Drops the caller's reference to 'f' (NULL-safe): a request that will not be answered
 * (its connection closed). */
void attach_fetch_release(attach_fetch *f);
/* 'hook' is called, on a fetch thread, after each fetch ends; it must only wake the
 * workers (which then look at attach_fetch_done). NULL: none; returns once no call of
 * the previous hook is in flight. */
void attach_on_fetched(void (*hook)(void));

/* Counters for /metrics. */
void attach_stats(int64_t *served, int64_t *fetched, int64_t *refused);

#endif
