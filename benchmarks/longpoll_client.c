/*
 * longpoll_client -- the long-poll benchmark's load generator (bench_longpoll.sh): one
 * process, one libevent loop, N connections from one source address, each sending one
 * GET with If-None-Match and Prefer: wait, then waiting for its answer.
 *
 *   longpoll_client --port P --source 127.0.0.X --n N --path PATH --etag E
 *                   [--wait S] [--zstd] [--timeout S] [--out FILE]
 *
 * Connections are opened in batches (CONNECT_BATCH every CONNECT_EVERY_MS) so the
 * server's accept queue is never the bottleneck. For every response the time it was
 * complete (CLOCK_REALTIME, ns: the script compares it with the edit's acknowledgement
 * in the same clock), its status and its body bytes are written to FILE, one line
 * each, when every connection has been answered or the timeout ('--timeout', default
 * 120 s) passes. Progress lines go to stderr. The connection stays open after its answer
 * (closing 19,000 sockets at once would only add noise to the other clients' times).
 * No timer per connection: one for the batches, one for the overall timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_BATCH 250
#define CONNECT_EVERY_MS 20
#define HEAD_MAX 4096

typedef struct lconn {
    int fd;
    struct event *ev;
    int state; /* 0 connecting, 1 sent, 2 head read, 3 done, -1 failed */
    char head[HEAD_MAX];
    size_t hlen;
    long long clen, got;
    int status;
    int64_t done_ns;
} lconn;

static struct event_base *g_base;
static lconn *g_conns;
static int g_n, g_opened, g_finished, g_failed;
static struct sockaddr_in g_dst, g_src;
static char g_req[1024];
static size_t g_req_len;
static struct event *g_batch_ev;

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
finish(lconn *c, int failed)
{
    c->state = failed ? -1 : 3;
    c->done_ns = now_ns();
    event_del(c->ev);
    if (failed) {
        g_failed++;
        close(c->fd);
        c->fd = -1;
    }
    if (++g_finished == g_n)
        event_base_loopbreak(g_base);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
    lconn *c = arg;
    if (c->state == 0 && (what & EV_WRITE)) {
        int err = 0;
        socklen_t sl = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
        if (err || write(fd, g_req, g_req_len) != (ssize_t)g_req_len) {
            finish(c, 1);
            return;
        }
        c->state = 1;
        event_del(c->ev);
        event_assign(c->ev, g_base, fd, EV_READ | EV_PERSIST, on_io, c);
        event_add(c->ev, NULL);
        return;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            finish(c, 1);
            return;
        }
        size_t off = 0;
        if (c->state == 1) {
            size_t take = (size_t)n < HEAD_MAX - c->hlen ? (size_t)n : HEAD_MAX - c->hlen;
            memcpy(c->head + c->hlen, buf, take);
            size_t before = c->hlen;
            c->hlen += take;
            char *end = memmem(c->head, c->hlen, "\r\n\r\n", 4);
            if (!end) {
                if (c->hlen == HEAD_MAX)
                    finish(c, 1);
                continue;
            }
            size_t hsize = (size_t)(end - c->head) + 4;
            off = hsize - before;
            c->status = atoi(c->head + 9);
            c->clen = 0;
            for (char *p = c->head; p < end; p++) {
                if ((p == c->head || p[-1] == '\n') && !strncasecmp(p, "content-length:", 15)) {
                    c->clen = atoll(p + 15);
                    break;
                }
            }
            c->state = 2;
        }
        if (c->state == 2) {
            c->got += (long long)((size_t)n - off);
            if (c->got >= c->clen) {
                finish(c, 0);
                return;
            }
        }
    }
}

static void
open_one(lconn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (c->fd < 0)
        goto fail;
    setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(c->fd, (struct sockaddr *)&g_src, sizeof(g_src)) < 0)
        goto fail;
    if (connect(c->fd, (struct sockaddr *)&g_dst, sizeof(g_dst)) < 0 && errno != EINPROGRESS)
        goto fail;
    c->ev = event_new(g_base, c->fd, EV_WRITE, on_io, c);
    if (!c->ev || event_add(c->ev, NULL) < 0)
        goto fail;
    return;
fail:
    fprintf(stderr, "longpoll_client: connection %d: %s\n", (int)(c - g_conns), strerror(errno));
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = -1;
    g_failed++;
    if (++g_finished == g_n)
        event_base_loopbreak(g_base);
}

static void
on_batch(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    for (int i = 0; i < CONNECT_BATCH && g_opened < g_n; i++)
        open_one(&g_conns[g_opened++]);
    if (g_opened == g_n) {
        fprintf(stderr, "longpoll_client: %d connections opened (%d failed)\n", g_n, g_failed);
        event_del(g_batch_ev);
    }
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    fprintf(stderr, "longpoll_client: timeout with %d of %d answered\n", g_finished, g_n);
    event_base_loopbreak(g_base);
}

int
main(int argc, char **argv)
{
    const char *source = "127.0.0.1", *path = NULL, *etag = NULL, *out = NULL;
    int port = 0, wait = 60, zstd = 0, timeout = 120;
    g_n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--zstd")) {
            zstd = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "longpoll_client: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--source"))
            source = v;
        else if (!strcmp(a, "--n"))
            g_n = atoi(v);
        else if (!strcmp(a, "--path"))
            path = v;
        else if (!strcmp(a, "--etag"))
            etag = v;
        else if (!strcmp(a, "--wait"))
            wait = atoi(v);
        else if (!strcmp(a, "--timeout"))
            timeout = atoi(v);
        else if (!strcmp(a, "--out"))
            out = v;
        else {
            fprintf(stderr, "longpoll_client: unknown option %s\n", a);
            return 2;
        }
    }
    if (!port || g_n <= 0 || !path || !etag || g_n > 1000000) {
        fprintf(stderr, "usage: longpoll_client --port P --source IP --n N --path PATH --etag E "
                        "[--wait S] [--zstd] [--timeout S] [--out FILE]\n");
        return 2;
    }
    g_req_len = (size_t)snprintf(g_req, sizeof(g_req),
                                 "GET %s HTTP/1.1\r\nHost: bench\r\nIf-None-Match: \"%s\"\r\n"
                                 "Prefer: wait=%d\r\n%s\r\n",
                                 path, etag, wait, zstd ? "Accept-Encoding: zstd\r\n" : "");
    memset(&g_dst, 0, sizeof(g_dst));
    g_dst.sin_family = AF_INET;
    g_dst.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &g_dst.sin_addr);
    memset(&g_src, 0, sizeof(g_src));
    g_src.sin_family = AF_INET;
    if (inet_pton(AF_INET, source, &g_src.sin_addr) != 1) {
        fprintf(stderr, "longpoll_client: bad source address %s\n", source);
        return 2;
    }
    g_conns = calloc((size_t)g_n, sizeof(lconn));
    g_base = event_base_new();
    if (!g_conns || !g_base)
        return 1;
    for (int i = 0; i < g_n; i++)
        g_conns[i].fd = -1;
    struct timeval every = {0, CONNECT_EVERY_MS * 1000}, limit = {timeout, 0};
    g_batch_ev = event_new(g_base, -1, EV_PERSIST, on_batch, NULL);
    struct event *tev = event_new(g_base, -1, 0, on_timeout, NULL);
    event_add(g_batch_ev, &every);
    event_add(tev, &limit);
    event_base_dispatch(g_base);

    int ok200 = 0, n304 = 0, other = 0;
    FILE *f = out ? fopen(out, "w") : NULL;
    for (int i = 0; i < g_n; i++) {
        lconn *c = &g_conns[i];
        if (c->state == 3) {
            if (c->status == 200)
                ok200++;
            else if (c->status == 304)
                n304++;
            else
                other++;
            if (f)
                fprintf(f, "%lld %d %lld\n", (long long)c->done_ns, c->status, c->got);
        }
    }
    if (f)
        fclose(f);
    fprintf(stderr, "longpoll_client %s: %d answered: %d x 200, %d x 304, %d other; %d failed\n",
            source, g_finished - g_failed, ok200, n304, other, g_failed);
    for (int i = 0; i < g_n; i++) {
        if (g_conns[i].ev)
            event_free(g_conns[i].ev);
        if (g_conns[i].fd >= 0)
            close(g_conns[i].fd);
    }
    event_free(g_batch_ev);
    event_free(tev);
    event_base_free(g_base);
    free(g_conns);
    return g_finished == g_n && g_failed == 0 ? 0 : 1;
}
