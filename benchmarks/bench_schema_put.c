/*
 * bench_schema_put -- the publisher's PUT latency with collection schema validation on
 * and off, in the same run.
 *
 *   bench_schema_put --off http://HOST:PORT --on http://HOST:PORT --user U --password P
 *                    [--puts N] [--rounds R]
 *
 * Needs two publishers on the same Redis (benchmarks/bench_schema_put.sh starts them):
 * --off without experimental_collection_schema_validation, --on with it. Each gets a
 * bucket whose collection holds the same OneCRL schema (that of bench_jsonschema.c), so
 * the stored data is the same and only the validation differs. The PUTs alternate in R
 * rounds of N/R per publisher so that drift (Redis' append-only file growing, the
 * machine's load) affects both alike. Each PUT is a OneCRL-like record, timed from the
 * first byte sent to the last byte received on one keep-alive connection per
 * publisher. Prints p50, p99 and max for each; asserts nothing.
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

#include "herald/clock.h"
#include "herald/mem.h"

static const char SCHEMA[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"enabled\",\"details\"],"
    "\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"last_modified\":{\"type\":\"integer\"},"
    "\"schema\":{\"type\":\"integer\"},"
    "\"enabled\":{\"type\":\"boolean\",\"default\":true},"
    "\"issuerName\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9+/"
    "]+={0,2}$\",\"maxLength\":4096},"
    "\"serialNumber\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9+/"
    "]+={0,2}$\",\"maxLength\":256},"
    "\"subject\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9+/]+={0,2}$\"},"
    "\"pubKeyHash\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9+/]{43}=$\"},"
    "\"details\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"bug\":{\"type\":\"string\"},\"who\":{\"type\":\"string\"},"
    "\"why\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    "\"created\":{\"type\":\"string\"}}}},"
    "\"oneOf\":[{\"required\":[\"issuerName\",\"serialNumber\"]},"
    "{\"required\":[\"subject\",\"pubKeyHash\"]}]}";

static void
die(const char *what, const char *why)
{
    fprintf(stderr, "bench_schema_put: %s: %s\n", what, why);
    exit(1);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
percentile(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
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

static void
setup(conn *c, const char *url, const char *auth, const char *bucket)
{
    char host[256], port[16] = "80", path[256];
    if (strncmp(url, "http://", 7) != 0)
        die("arguments", "URLs are http://HOST:PORT");
    const char *hp = url + 7;
    size_t hl = strcspn(hp, ":/");
    snprintf(host, sizeof(host), "%.*s", (int)hl, hp);
    if (hp[hl] == ':')
        snprintf(port, sizeof(port), "%.*s", (int)strcspn(hp + hl + 1, "/"), hp + hl + 1);
    conn_open(c, host, port);
    snprintf(c->auth, sizeof(c->auth), "%s", auth);
    /* Untimed: the first request also warms the credential cache. */
    snprintf(path, sizeof(path), "/v1/buckets/%s", bucket);
    int st = exchange(c, "PUT", path, "{\"data\":{}}");
    if (st != 200 && st != 201)
        die("create bucket", c->in.data);
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_printf(&b, "{\"data\":{\"schema\":%s}}", SCHEMA);
    snprintf(path, sizeof(path), "/v1/buckets/%s/collections/onecrl", bucket);
    st = exchange(c, "PUT", path, herald_buf_cstr(&b));
    herald_buf_free(&b);
    if (st != 200 && st != 201)
        die("create collection", c->in.data);
}

/* One timed PUT of record 'i' in 'bucket'. Returns milliseconds. */
static double
put_one(conn *c, const char *bucket, long i)
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
    double t0 = ((double)herald_clock_mono_ns() / 1e6);
    int st = exchange(c, "PUT", path, body);
    double ms = ((double)herald_clock_mono_ns() / 1e6) - t0;
    if (st != 201 && st != 200)
        die("PUT", c->in.data);
    return ms;
}

static void
report(const char *what, double *lat, long n)
{
    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    printf("  %-14s p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", what,
           percentile(lat, (size_t)n, 0.50), percentile(lat, (size_t)n, 0.99), lat[n - 1]);
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
        die("arguments", "need --off URL, --on URL, --user, --password (see the source)");
    if (sodium_init() < 0)
        die("libsodium", "cannot initialize");
    char cred[512], b64[700], auth[800];
    snprintf(cred, sizeof(cred), "%s:%s", user, password);
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(auth, sizeof(auth), "Basic %s", b64);

    conn coff, con;
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
           percentile(lon, (size_t)n, 0.50) - percentile(loff, (size_t)n, 0.50));
    free(loff);
    free(lon);
    close(coff.fd);
    close(con.fd);
    herald_buf_free(&coff.in);
    herald_buf_free(&con.in);
    return 0;
}
