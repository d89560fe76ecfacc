/*
 * bench_http -- the minimal HTTP/1.1 client and the OneCRL schema that the publisher's
 * write benchmarks (bench_publisher.c, bench_schema_put.c, bench_jsonschema.c) share.
 *
 * One keep-alive connection per bench_conn; a request is written whole and its response
 * read until Content-Length bytes of body have arrived (all the publisher sends), so the
 * numbers measure the publisher and Redis, not a client library. Every failure ends the
 * program with "PROGRAM: WHAT: WHY" on stderr and exit status 1: a benchmark has nothing
 * to recover.
 */
#ifndef HERALD_BENCH_HTTP_H
#define HERALD_BENCH_HTTP_H

#include <stddef.h>

#include "herald/mem.h"

/* A schema written for OneCRL records (the fields Remote Settings' OneCRL records carry),
 * with formats and patterns as a collection manager would write them. */
extern const char bench_onecrl_schema[];

typedef struct bench_conn {
    int fd;
    char host[300];
    char auth[800]; /* "Basic ..." */
    herald_buf in;  /* the last response, head and body, NUL-terminated */
} bench_conn;

/* Prints "PROGRAM: 'what': 'why'" and exits with status 1. */
_Noreturn void bench_die(const char *what, const char *why);

/* Writes "Basic BASE64(user:password)" to 'out'. Needs sodium_init() first. */
void bench_basic_auth(char *out, size_t outlen, const char *user, const char *password);

/* Connects 'c' to 'url' (http://HOST[:PORT][/...], port 80 if none) with TCP_NODELAY and
 * sends 'auth' as the Authorization header of every request. */
void bench_conn_open(bench_conn *c, const char *url, const char *auth);

/* Sends one request ('body' may be NULL) and reads its response into c->in; returns the
 * status. */
int bench_exchange(bench_conn *c, const char *method, const char *path, const char *body);

/* Closes the connection and frees its buffer. */
void bench_conn_close(bench_conn *c);

#endif
