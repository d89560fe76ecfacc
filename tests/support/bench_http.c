/*
 * bench_http -- see bench_http.h. Written once for the write benchmarks, which used to
 * carry a copy each.
 */
#include "bench_http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char bench_onecrl_schema[] =
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

void
bench_die(const char *what, const char *why)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, why);
    exit(1);
}

void
bench_basic_auth(char *out, size_t outlen, const char *user, const char *password)
{
    char cred[512], b64[700];
    snprintf(cred, sizeof(cred), "%s:%s", user, password);
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, outlen, "Basic %s", b64);
}

void
bench_conn_open(bench_conn *c, const char *url, const char *auth)
{
    char host[256], port[16] = "80";
    if (strncmp(url, "http://", 7) != 0)
        bench_die("arguments", "URLs are http://HOST:PORT");
    const char *hp = url + 7;
    size_t hl = strcspn(hp, ":/");
    snprintf(host, sizeof(host), "%.*s", (int)hl, hp);
    if (hp[hl] == ':')
        snprintf(port, sizeof(port), "%.*s", (int)strcspn(hp + hl + 1, "/"), hp + hl + 1);

    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        bench_die("resolve", host);
    c->fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) != 0)
        bench_die("connect", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    freeaddrinfo(res);
    snprintf(c->host, sizeof(c->host), "%s:%s", host, port);
    snprintf(c->auth, sizeof(c->auth), "%s", auth);
    herald_buf_init(&c->in);
}

int
bench_exchange(bench_conn *c, const char *method, const char *path, const char *body)
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
            bench_die("write", strerror(errno));
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
            bench_die("read", n == 0 ? "connection closed" : strerror(errno));
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
        bench_die("response", "not HTTP/1.1");
    return status;
}

void
bench_conn_close(bench_conn *c)
{
    close(c->fd);
    herald_buf_free(&c->in);
}
