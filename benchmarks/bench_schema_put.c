/*
 * bench_schema_put -- the publisher's PUT latency with collection schema validation on
 * and off, in the same run.
 *
 *   bench_schema_put --off http://HOST:PORT --on http://HOST:PORT --user U --password P
 *                    [--puts N] [--rounds R]
 *
 * Needs two publishers on the same Redis (benchmarks/bench_schema_put.sh starts them):
 * --off without experimental_collection_schema_validation, --on with it. Each gets a
 * bucket whose collection holds the same OneCRL schema (bench_onecrl_schema, as
 * bench_jsonschema.c), so the stored data is the same and only the validation differs. The PUTs
 * alternate in R rounds of N/R per publisher so that drift (Redis' append-only file growing, the
 * machine's load) affects both alike. Each PUT is a OneCRL-like record, timed from the
 * first byte sent to the last byte received on one keep-alive connection per
 * publisher. Prints p50, p99 and max for each; asserts nothing.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_http.h"
#include "herald/mem.h"
#include "test_fixture.h"

static void
setup(bench_conn *c, const char *url, const char *auth, const char *bucket)
{
    char path[256];
    bench_conn_open(c, url, auth);
    /* Untimed: the first request also warms the credential cache. */
    snprintf(path, sizeof(path), "/v1/buckets/%s", bucket);
    int st = bench_exchange(c, "PUT", path, "{\"data\":{}}");
    if (st != 200 && st != 201)
        bench_die("create bucket", c->in.data);
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_printf(&b, "{\"data\":{\"schema\":%s}}", bench_onecrl_schema);
    snprintf(path, sizeof(path), "/v1/buckets/%s/collections/onecrl", bucket);
    st = bench_exchange(c, "PUT", path, herald_buf_cstr(&b));
    herald_buf_free(&b);
    if (st != 200 && st != 201)
        bench_die("create collection", c->in.data);
}

/* One timed PUT of record 'i' in 'bucket'. Returns milliseconds. */
static double
put_one(bench_conn *c, const char *bucket, long i)
{
    char path[256], body[1024];
    snprintf(path, sizeof(path), "/v1/buckets/%s/collections/onecrl/records/r%ld", bucket, i);
    snprintf(body, sizeof(body),
             "{\"data\":{\"enabled\":true,\"issuerName\":"
             "\"MIGFMQswCQYDVQQGEwJVUzEXMBUGA1UEChMOVmVyaVNpZ24sIEluYy4xHzAdBgNVBAsTFlZlcmlTaWdu"
             "IFRydXN0IE5ldHdvcms=\",\"serialNumber\":\"AM%08ldVg==\",\"details\":{\"bug\":"
             "\"https://bugzilla.mozilla.org/show_bug.cgi?id=%ld\",\"who\":\"\",\"why\":\"\","
             "\"name\":\"record %ld\",\"created\":\"2024-01-01T00:00:00Z\"}}}",
             i, 1000000 + i, i);
    double t0 = fixture_mono_ms();
    int st = bench_exchange(c, "PUT", path, body);
    double ms = fixture_mono_ms() - t0;
    if (st != 201 && st != 200)
        bench_die("PUT", c->in.data);
    return ms;
}

static void
report(const char *what, double *lat, long n)
{
    fixture_sort_samples(lat, (size_t)n);
    printf("  %-14s p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", what,
           fixture_percentile(lat, (size_t)n, 0.50), fixture_percentile(lat, (size_t)n, 0.99),
           lat[n - 1]);
}

int
main(int argc, char **argv)
{
    const char *off = NULL, *on = NULL, *user = NULL, *password = NULL;
    long puts_n = 2000, rounds = 10;
    static const struct option opts[] = {
        {"off", required_argument, NULL, 'f'},
        {"on", required_argument, NULL, 'o'},
        {"user", required_argument, NULL, 'U'},
        {"password", required_argument, NULL, 'P'},
        {"puts", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            off = optarg;
            break;
        case 'o':
            on = optarg;
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
        case 'r':
            rounds = strtol(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: bench_schema_put --off URL --on URL --user U --password P "
                            "[--puts N] [--rounds R]\n");
            return 2;
        }
    }
    if (!off || !on || !user || !password || rounds < 1 || puts_n < rounds)
        bench_die("arguments", "need --off URL, --on URL, --user, --password (see the source)");
    if (sodium_init() < 0)
        bench_die("libsodium", "cannot initialize");
    char auth[800];
    bench_basic_auth(auth, sizeof(auth), user, password);

    bench_conn coff, con;
    setup(&coff, off, auth, "bench-off");
    setup(&con, on, auth, "bench-on");
    long per = puts_n / rounds, n = per * rounds;
    double *loff = herald_mem_alloc((size_t)n * sizeof(double));
    double *lon = herald_mem_alloc((size_t)n * sizeof(double));
    for (long r = 0; r < rounds; r++)
        for (long k = 0; k < per; k++) {
            long i = r * per + k;
            loff[i] = put_one(&coff, "bench-off", i);
            lon[i] = put_one(&con, "bench-on", i);
        }
    printf("single PUT of a OneCRL record, %ld per publisher, alternating, one connection "
           "each:\n",
           n);
    report("validation off", loff, n);
    report("validation on", lon, n);
    printf("  p50 difference %+.3f ms\n",
           fixture_percentile(lon, (size_t)n, 0.50) - fixture_percentile(loff, (size_t)n, 0.50));
    free(loff);
    free(lon);
    bench_conn_close(&coff);
    bench_conn_close(&con);
    return 0;
}
