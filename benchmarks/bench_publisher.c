/*
 * bench_publisher -- write latency and throughput of a running herald-publisher.
 *
 *   bench_publisher --url http://127.0.0.1:8889 --user U --password P
 *                   [--puts N] [--batches M] [--batch-size K] [--bucket B]
 *
 * Needs (starts nothing itself): a publisher at URL whose Redis runs as in production
 * (append-only file, fsync on every write), and an account U that may create buckets.
 * The wrapper benchmarks/bench_publisher.sh starts Redis and a publisher on free
 * loopback ports and creates the account.
 *
 * 1. Single PUT latency: one keep-alive connection, N sequential
 *    PUT /v1/buckets/B/collections/c/records/rI, each timed from the first byte sent to
 *    the last byte of the response. The first request (not timed) authenticates U with
 *    argon2id; every timed one hits the credential cache, which is what an editor's
 *    session sees. Reported: p50, p99, max.
 * 2. Batch throughput: M sequential POST /v1/batch of K record PUTs each (K at most the
 *    server's batch_max_requests), reported as records per second.
 *
 * The HTTP client is tests/support/bench_http.c, a minimal HTTP/1.1 one, so the numbers
 * measure the publisher and Redis, not a client library.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_http.h"
#include "herald/mem.h"
#include "test_fixture.h"

int
main(int argc, char **argv)
{
    const char *url = NULL, *user = NULL, *password = NULL, *bucket = "bench";
    long puts_n = 2000, batches = 200, batch_size = 25;
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},      {"user", required_argument, NULL, 'U'},
        {"password", required_argument, NULL, 'P'}, {"puts", required_argument, NULL, 'n'},
        {"batches", required_argument, NULL, 'm'},  {"batch-size", required_argument, NULL, 'k'},
        {"bucket", required_argument, NULL, 'b'},   {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'u':
            url = optarg;
            break;
        case 'U':
            user = optarg;
            break;
        case 'P':
            password = optarg;
            break;
        case 'n':
            puts_n = strtol(optarg, NULL, 10);
            break;
        case 'm':
            batches = strtol(optarg, NULL, 10);
            break;
        case 'k':
            batch_size = strtol(optarg, NULL, 10);
            break;
        case 'b':
            bucket = optarg;
            break;
        default:
            fprintf(stderr, "usage: bench_publisher --url http://HOST:PORT --user U --password P "
                            "[--puts N] [--batches M] [--batch-size K] [--bucket B]\n");
            return 2;
        }
    }
    if (!url || !user || !password || strncmp(url, "http://", 7) != 0 || puts_n < 1 ||
        batches < 0 || batch_size < 1)
        bench_die("arguments", "need --url http://HOST:PORT, --user, --password (see the source)");
    if (sodium_init() < 0)
        bench_die("libsodium", "cannot initialize");

    char auth[800];
    bench_basic_auth(auth, sizeof(auth), user, password);
    bench_conn c;
    bench_conn_open(&c, url, auth);

    char path[512], body[512];
    /* Setup (untimed): the first request also warms the credential cache. */
    snprintf(path, sizeof(path), "/v1/buckets/%s", bucket);
    int st = bench_exchange(&c, "PUT", path, "{\"data\":{}}");
    if (st != 200 && st != 201)
        bench_die("create bucket", c.in.data);
    snprintf(path, sizeof(path), "/v1/buckets/%s/collections/c", bucket);
    if ((st = bench_exchange(&c, "PUT", path, "{\"data\":{}}")) != 200 && st != 201)
        bench_die("create collection", c.in.data);

    double *lat = herald_mem_alloc((size_t)puts_n * sizeof(double));
    double t_all = fixture_mono_ms();
    for (long i = 0; i < puts_n; i++) {
        snprintf(path, sizeof(path), "/v1/buckets/%s/collections/c/records/r%ld", bucket, i);
        snprintf(body, sizeof(body),
                 "{\"data\":{\"title\":\"record %ld\",\"n\":%ld,\"tags\":[\"a\",\"b\"]}}", i, i);
        double t0 = fixture_mono_ms();
        st = bench_exchange(&c, "PUT", path, body);
        lat[i] = fixture_mono_ms() - t0;
        if (st != 201 && st != 200)
            bench_die("PUT", c.in.data);
    }
    t_all = fixture_mono_ms() - t_all;
    fixture_sort_samples(lat, (size_t)puts_n);
    printf("single PUT (credential cache warm, %ld sequential on one connection):\n", puts_n);
    printf("  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%.0f PUT/s)\n",
           fixture_percentile(lat, (size_t)puts_n, 0.50),
           fixture_percentile(lat, (size_t)puts_n, 0.99), lat[puts_n - 1],
           (double)puts_n / (t_all / 1000.0));
    free(lat);

    if (batches > 0) {
        herald_buf b = HERALD_BUF_INIT;
        double t0 = fixture_mono_ms();
        for (long m = 0; m < batches; m++) {
            herald_buf_reset(&b);
            herald_buf_printf(&b, "{\"defaults\":{\"method\":\"PUT\"},\"requests\":[");
            for (long k = 0; k < batch_size; k++)
                herald_buf_printf(&b,
                                  "%s{\"path\":\"/buckets/%s/collections/c/records/b%ld-%ld\","
                                  "\"body\":{\"data\":{\"n\":%ld,\"title\":\"batch\"}}}",
                                  k ? "," : "", bucket, m, k, k);
            herald_buf_puts(&b, "]}");
            st = bench_exchange(&c, "POST", "/v1/batch", herald_buf_cstr(&b));
            if (st != 200 || strstr(c.in.data, "\"status\":4") || strstr(c.in.data, "\"status\":5"))
                bench_die("batch", c.in.data);
        }
        double secs = (fixture_mono_ms() - t0) / 1000.0;
        printf("batch (%ld x POST /v1/batch of %ld PUTs):\n", batches, batch_size);
        printf("  %.0f records/s  (%.2f ms per batch)\n", (double)(batches * batch_size) / secs,
               secs * 1000.0 / (double)batches);
        herald_buf_free(&b);
    }
    bench_conn_close(&c);
    return 0;
}
