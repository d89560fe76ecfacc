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
 * The HTTP client is a minimal HTTP/1.1 one (Content-Length bodies, which is all the
 * publisher sends), so the numbers measure the publisher and Redis, not a client library.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "herald/mem.h"
#include "test_fixture.h"

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "bench_publisher: %s: %s\n", what, why);
    exit(1);
}

typedef struct conn {
    int fd;
    char host[300];
    char auth[800]; /* "Basic ..." */
    herald_buf in;
} conn;

static void
conn_open(conn *c, const char *host, const char *port)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        die("resolve", host);
    c->fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) != 0)
        die("connect", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    freeaddrinfo(res);
    snprintf(c->host, sizeof(c->host), "%s:%s", host, port);
    herald_buf_init(&c->in);
}

/* Sends one request and reads its response; returns the status. */
static int
exchange(conn *c, const char *method, const char *path, const char *body)
{
    herald_buf out = HERALD_BUF_INIT;
    size_t blen = body ? strlen(body) : 0;
    herald_buf_printf(&out,
                      "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, c->host, c->auth, blen);
    if (blen)
        herald_buf_append(&out, body, blen);
    for (size_t off = 0; off < out.len;) {
        ssize_t n = write(c->fd, out.data + off, out.len - off);
        if (n <= 0)
            die("write", strerror(errno));
        off += (size_t)n;
    }
    herald_buf_free(&out);
    herald_buf_reset(&c->in);
    size_t need = 0, head = 0;
    for (;;) {
        char buf[65536];
        if (head && c->in.len >= head + need)
            break;
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n <= 0)
            die("read", n == 0 ? "connection closed" : strerror(errno));
        herald_buf_append(&c->in, buf, (size_t)n);
        if (!head) {
            char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
            if (!end)
                continue;
            head = (size_t)(end - c->in.data) + 4;
            herald_buf_cstr(&c->in);
            char *cl = strcasestr(c->in.data, "\r\nContent-Length:");
            need = cl && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
        }
    }
    int status = 0;
    if (sscanf(c->in.data, "HTTP/1.1 %d", &status) != 1)
        die("response", "not HTTP/1.1");
    return status;
}

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
        die("arguments", "need --url http://HOST:PORT, --user, --password (see the source)");
    if (sodium_init() < 0)
        die("libsodium", "cannot initialize");

    char host[256], port[16] = "80";
    const char *hp = url + 7;
    size_t hl = strcspn(hp, ":/");
    snprintf(host, sizeof(host), "%.*s", (int)hl, hp);
    if (hp[hl] == ':')
        snprintf(port, sizeof(port), "%.*s", (int)strcspn(hp + hl + 1, "/"), hp + hl + 1);

    conn c;
    conn_open(&c, host, port);
    char cred[512], b64[700];
    snprintf(cred, sizeof(cred), "%s:%s", user, password);
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(c.auth, sizeof(c.auth), "Basic %s", b64);

    char path[512], body[512];
    /* Setup (untimed): the first request also warms the credential cache. */
    snprintf(path, sizeof(path), "/v1/buckets/%s", bucket);
    int st = exchange(&c, "PUT", path, "{\"data\":{}}");
    if (st != 200 && st != 201)
        die("create bucket", c.in.data);
    snprintf(path, sizeof(path), "/v1/buckets/%s/collections/c", bucket);
    if ((st = exchange(&c, "PUT", path, "{\"data\":{}}")) != 200 && st != 201)
        die("create collection", c.in.data);

    double *lat = herald_mem_alloc((size_t)puts_n * sizeof(double));
    double t_all = fixture_mono_ms();
    for (long i = 0; i < puts_n; i++) {
        snprintf(path, sizeof(path), "/v1/buckets/%s/collections/c/records/r%ld", bucket, i);
        snprintf(body, sizeof(body),
                 "{\"data\":{\"title\":\"record %ld\",\"n\":%ld,\"tags\":[\"a\",\"b\"]}}", i, i);
        double t0 = fixture_mono_ms();
        st = exchange(&c, "PUT", path, body);
        lat[i] = fixture_mono_ms() - t0;
        if (st != 201 && st != 200)
            die("PUT", c.in.data);
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
            st = exchange(&c, "POST", "/v1/batch", herald_buf_cstr(&b));
            if (st != 200 || strstr(c.in.data, "\"status\":4") || strstr(c.in.data, "\"status\":5"))
                die("batch", c.in.data);
        }
        double secs = (fixture_mono_ms() - t0) / 1000.0;
        printf("batch (%ld x POST /v1/batch of %ld PUTs):\n", batches, batch_size);
        printf("  %.0f records/s  (%.2f ms per batch)\n", (double)(batches * batch_size) / secs,
               secs * 1000.0 / (double)batches);
        herald_buf_free(&b);
    }
    close(c.fd);
    herald_buf_free(&c.in);
    return 0;
}
