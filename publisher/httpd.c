/*
 * httpd -- see httpd.h for the design.
 *
 * A connection is a small state machine driven by read and write events:
 *
 *   HEAD ──head parsed──▶ BODY ──body complete──▶ WAIT ──pub_httpd_reply──▶ WRITE
 *     ▲                                                                      │
 *     └────────────── keep-alive: the next (maybe pipelined) request ───────┘
 *   any protocol error ──▶ WRITE (Kinto error, then close) ──▶ LINGER ──▶ closed
 *
 * LINGER: after an error answered before the request was read to its end (e.g. 413
 * for a declared Content-Length), closing at once would make the kernel send RST while
 * the client is still writing, and the client could lose our answer. So the write side
 * is shut down, and what still arrives is read and dropped for up to LINGER_MS.
 */
#include "httpd.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "herald/accept.h"
#include "herald/clock.h"
#include "herald/http_parse.h"
#include "herald/httpdate.h"
#include "herald/kerror.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "reply.h"

#define MAX_REQUEST_LINE 16384
#define MAX_HEAD 65536
#define MAX_HEADERS 128
#define READ_CHUNK 16384
#define STREAM_READ_CHUNK (256 * 1024)
#define MAX_CHUNK_LINE 1024 /* chunk size line with extensions, or a trailer line */
#define LINGER_MS 2000
#define ACCEPT_BATCH 64

enum state { S_HEAD, S_AUTH, S_BODY, S_WAIT, S_WRITE, S_LINGER };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct pub_httpd_conn {
    pub_httpd *h;
    int fd;
    char peer[64]; /* numeric address of the client (or of the proxy in front) */
    enum state state;
    struct event *rev, *wev, *tev;
    herald_buf in;       /* received, not consumed */
    int head_timer;      /* the header timeout runs (from a head's first byte) */
    pub_req *req;        /* being received */
    int keep_alive;      /* the request allows it */
    int close_after;     /* close once the reply is written */
    long long body_need; /* Content-Length: bytes still to come */
    int chunked;
    enum chunk_state ch;
    long long ch_left; /* bytes left in the current chunk */
    herald_buf body;
    void *stream;       /* the streamed body's consumer (httpd.h), or NULL */
    pub_req *pending;   /* waiting for its consumer's resume (httpd.h) */
    int stream_stopped; /* the consumer wants no more: the rest is dropped */
    long long stream_limit, stream_len;
    herald_buf out;
    size_t out_off;
    struct pub_httpd_conn *prev, *next;
};

struct pub_httpd {
    struct event_base *base;
    pub_httpd_opts o;
    pub_httpd_handler cb;
    void *arg;
    int lfd;
    struct event *lev;
    herald_acceptor acc; /* pauses 'lev' when out of file descriptors */
    int draining;
    pub_httpd_conn *conns;
};

typedef pub_httpd_conn conn;

static void advance(conn *c);
static void after_write(conn *c);

/* ---- connections ------------------------------------------------------------------- */

static void
stream_drop(conn *c)
{
    if (c->stream)
        c->h->o.stream->abort(c->stream);
    c->stream = NULL;
}

static void
conn_free(conn *c)
{
    pub_httpd *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->tev);
    close(c->fd);
    if (c->req) {
        pub_req_free(c->req);
        free(c->req);
    }
    stream_drop(c);
    if (c->pending) { /* shutdown: the consumer's thread still owns its result */
        pub_req_free(c->pending);
        free(c->pending);
    }
    herald_buf_free(&c->in);
    herald_buf_free(&c->body);
    herald_buf_free(&c->out);
    free(c);
}

static void
set_timer(conn *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(c->tev, &tv);
}

static void
consume(herald_buf *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* Writes what is queued. Returns 0 when all is written, 1 when the socket would block
 * (the write event is armed), -1 when the connection was freed. */
static int
flush(conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(c->wev, NULL);
            set_timer(c, c->h->o.idle_timeout_ms); /* a reader that stopped reading */
            return 1;
        }
        if (n <= 0) {
            conn_free(c);
            return -1;
        }
        c->out_off += (size_t)n;
    }
    herald_buf_reset(&c->out);
    c->out_off = 0;
    return 0;
}

/* Serialises 'resp' into the output queue. */
static void
put_response(conn *c, const pub_resp *resp, int head)
{
    herald_buf *o = &c->out;
    char date[HERALD_HTTPDATE_LEN + 1];
    herald_httpdate_format(date, herald_clock_wall_ms() / 1000);
    herald_buf_printf(o, "HTTP/1.1 %d %s\r\n", resp->status, herald_kerror_reason(resp->status));
    for (int i = 0; i < resp->headers.n; i++)
        herald_buf_printf(o, "%s: %s\r\n", resp->headers.v[i].name, resp->headers.v[i].value);
    herald_buf_printf(o, "Date: %s\r\n", date);
    int bodyless = resp->status == 304 || resp->status == 204 || resp->status < 200;
    if (!bodyless)
        herald_buf_printf(o, "Content-Length: %zu\r\n", resp->has_body ? resp->body.len : 0);
    if (!c->keep_alive || c->h->draining)
        c->close_after = 1;
    herald_buf_puts(o, c->close_after ? "Connection: close\r\n\r\n" : "\r\n");
    if (!bodyless && !head && resp->has_body)
        herald_buf_append(o, resp->body.data, resp->body.len);
}

/* Answers a protocol error in Kinto's format and closes (after LINGER). */
static void
fail(conn *c, int status)
{
    pub_resp resp;
    pub_resp_init(&resp);
    pub_reply_error(&resp, status, herald_kerror_protocol_errno(status), http_error_message(status),
                    NULL);
    herald_debug("protocol error: %d %s", status, http_error_message(status));
    stream_drop(c);
    c->close_after = 1;
    c->keep_alive = 0;
    event_del(c->rev);
    c->state = S_WRITE;
    put_response(c, &resp, 0);
    pub_resp_free(&resp);
    if (flush(c) == 0)
        after_write(c);
}

static void
start_linger(conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = S_LINGER;
    herald_buf_reset(&c->in);
    event_add(c->rev, NULL);
    set_timer(c, LINGER_MS);
}

/* The reply is written: close, or go on with the next request. */
static void
after_write(conn *c)
{
    event_del(c->wev);
    if (c->close_after) {
        start_linger(c); /* the client may still be sending: do not RST our answer */
        return;
    }
    c->state = S_HEAD;
    c->head_timer = 0;
    event_add(c->rev, NULL);
    advance(c);
}

/* ---- request framing --------------------------------------------------------------- */

/* RFC 9110 10.1.1: a client waiting for "100 Continue" before it sends a large body
 * gets it once the body is known to be wanted (a best-effort write: a client that does
 * not receive it sends after its own timeout). */
static void
expect_continue(conn *c, const pub_req *r)
{
    const char *e = pub_req_header(r, "Expect");
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (e && strcasecmp(e, "100-continue") == 0 && c->in.len == 0) {
        ssize_t n = write(c->fd, cont, sizeof(cont) - 1);
        (void)n;
    }
}

/* Starts a request from a parsed head. Returns 0, or an HTTP status to fail with. */
static int
begin_request(conn *c, const http_request *hr, const http_header *hdrs)
{
    herald_buf tmp = HERALD_BUF_INIT;
    pub_req *r = herald_mem_calloc(1, sizeof(*r));
    pub_req_init(r);
    memcpy(r->peer, c->peer, sizeof(r->peer));
    c->req = r;
    herald_buf_append(&tmp, hr->method_name.p, hr->method_name.len);
    size_t mlen = tmp.len;
    herald_buf_putc(&tmp, '\0');
    herald_buf_append(&tmp, hr->target.p, hr->target.len);
    herald_buf_cstr(&tmp);
    pub_req_set_target(r, tmp.data, tmp.data + mlen + 1);
    for (size_t i = 0; i < hr->nheaders; i++) {
        herald_buf_reset(&tmp);
        herald_buf_append(&tmp, hdrs[i].name.p, hdrs[i].name.len);
        size_t nlen = tmp.len;
        herald_buf_putc(&tmp, '\0');
        herald_buf_append(&tmp, hdrs[i].value.p, hdrs[i].value.len);
        herald_buf_cstr(&tmp);
        pub_headers_add(&r->headers, tmp.data, tmp.data + nlen + 1);
    }
    herald_buf_free(&tmp);
    c->keep_alive = hr->keep_alive;
    c->chunked = hr->chunked;
    c->ch = CH_SIZE;
    c->body_need = hr->content_length > 0 ? hr->content_length : 0;
    herald_buf_reset(&c->body);
    const pub_httpd_stream *st = c->h->o.stream;
    c->stream_stopped = 0;
    c->stream_len = 0;
    if (st && (c->body_need > 0 || c->chunked)) {
        c->stream_limit = 0;
        c->stream = st->open(st->arg, r, c->chunked ? -1 : c->body_need, &c->stream_limit);
        if (c->stream) {
            if (c->body_need > c->stream_limit)
                return 413;
            return 0; /* 100 Continue after the precheck */
        }
    }
    if (c->body_need > c->h->o.max_body_bytes)
        return 413;
    return 0;
}

/* Body bytes: to the streamed body's consumer, else into c->body. Returns 0, or 413
 * when a streamed body grows past its limit. */
static int
body_append(conn *c, const char *p, size_t n)
{
    if (!c->stream) {
        herald_buf_append(&c->body, p, n);
        return 0;
    }
    c->stream_len += (long long)n;
    if (c->stream_len > c->stream_limit)
        return 413;
    if (!c->stream_stopped && n && c->h->o.stream->data(c->stream, p, n))
        c->stream_stopped = 1;
    return 0;
}

/* Decodes chunked data from c->in into c->body. Returns 1 when the body is complete,
 * 0 when more input is needed, or an HTTP status to fail with. RFC 9112 7.1. */
static int
dechunk(conn *c)
{
    for (;;) {
        if (c->ch == CH_DATA) {
            size_t k = c->in.len < (size_t)c->ch_left ? c->in.len : (size_t)c->ch_left;
            if (body_append(c, c->in.data, k))
                return 413;
            consume(&c->in, k);
            c->ch_left -= (long long)k;
            if (c->ch_left)
                return 0;
            c->ch = CH_DATA_END;
            continue;
        }
        char *nl = memchr(c->in.data, '\n', c->in.len);
        if (!nl)
            return c->in.len > MAX_CHUNK_LINE ? 400 : 0;
        size_t len = (size_t)(nl - c->in.data), used = len + 1;
        if (len && c->in.data[len - 1] == '\r')
            len--;
        if (len > MAX_CHUNK_LINE)
            return 400;
        const char *p = c->in.data;
        switch (c->ch) {
        case CH_DATA_END:
            if (len != 0)
                return 400;
            c->ch = CH_SIZE;
            break;
        case CH_SIZE: {
            long long size = 0;
            size_t i = 0;
            for (; i < len; i++) {
                int d = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
                        : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
                        : p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
                                                     : -1;
                if (d < 0)
                    break;
                if (size > (1LL << 40))
                    return 413;
                size = size * 16 + d;
            }
            /* Digits, then nothing, whitespace or a chunk extension (ignored). */
            if (i == 0 || (i < len && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
                return 400;
            for (size_t j = i; j < len; j++)
                if ((unsigned char)p[j] < 0x20 && p[j] != '\t')
                    return 400;
            if (c->stream ? c->stream_len + size > c->stream_limit
                          : (long long)c->body.len + size > c->h->o.max_body_bytes)
                return 413;
            c->ch_left = size;
            c->ch = size ? CH_DATA : CH_TRAILER;
            break;
        }
        case CH_TRAILER:
            /* Trailer fields are read and dropped; an empty line ends the message. */
            if (len == 0) {
                consume(&c->in, used);
                return 1;
            }
            if (!memchr(p, ':', len))
                return 400;
            break;
        default:
            return 400;
        }
        consume(&c->in, used);
    }
}

/* The reply sink handed to the handler (http.h), so that it never names this file. */
static void
reply_sink(void *c, const pub_resp *resp, int head)
{
    pub_httpd_reply(c, resp, head);
}

static void
handle(conn *c, pub_req *r)
{
    pub_reply_sink sink = {reply_sink, c};
    c->h->cb(sink, r, c->h->arg);
}

/* A streamed body's consumer finished off the loop (httpd.h). */
static void
resume(void *token)
{
    conn *c = token;
    pub_req *r = c->pending;
    c->pending = NULL;
    handle(c, r);
}

static void
dispatch(conn *c)
{
    pub_req *r = c->req;
    c->req = NULL;
    pub_req_set_body(r, c->body.len ? c->body.data : "", c->body.len);
    herald_buf_reset(&c->body);
    c->state = S_WAIT;
    c->head_timer = 0;
    event_del(c->rev);
    event_del(c->tev);
    if (c->stream) {
        void *consumer = c->stream;
        c->stream = NULL;
        c->pending = r;
        if (c->h->o.stream->finish(consumer, r, c->h->base, resume, c))
            return;
        c->pending = NULL;
    }
    handle(c, r);
}

/* Sends the head of the request being received, without its body, to the handler
 * (httpd.h: authorization before a streamed body); its reply comes to
 * pub_httpd_reply in state S_AUTH. Nothing is read meanwhile. */
static void
precheck(conn *c)
{
    const pub_req *o = c->req;
    pub_req *r = herald_mem_calloc(1, sizeof(*r));
    herald_buf target = HERALD_BUF_INIT;
    pub_req_init(r);
    herald_buf_puts(&target, o->path);
    if (o->query) {
        herald_buf_putc(&target, '?');
        herald_buf_puts(&target, o->query);
    }
    pub_req_set_target(r, o->method_name, herald_buf_cstr(&target));
    herald_buf_free(&target);
    for (int i = 0; i < o->headers.n; i++)
        pub_headers_add(&r->headers, o->headers.v[i].name, o->headers.v[i].value);
    memcpy(r->peer, o->peer, sizeof(r->peer));
    pub_req_set_body(r, "", 0);
    r->precheck = 1;
    c->state = S_AUTH;
    event_del(c->rev);
    event_del(c->tev);
    pub_reply_sink sink = {reply_sink, c};
    c->h->cb(sink, r, c->h->arg); /* may reply (and free 'c') before returning */
}

/* Moves the connection forward with what it has received. */
static void
advance(conn *c)
{
    pub_httpd *h = c->h;
    static __thread http_header hdrs[MAX_HEADERS];
    const http_limits lim = {MAX_REQUEST_LINE, MAX_HEAD, hdrs, MAX_HEADERS, 1};
    for (;;) {
        if (c->state == S_HEAD) {
            if (c->in.len == 0) {
                if (h->draining) {
                    conn_free(c);
                    return;
                }
                set_timer(c, h->o.idle_timeout_ms);
                return;
            }
            http_request hr;
            ssize_t r = http_parse_request(&hr, c->in.data, c->in.len, &lim);
            if (r == 0) {
                if (!c->head_timer) {
                    c->head_timer = 1;
                    set_timer(c, h->o.header_timeout_ms);
                }
                return;
            }
            if (r < 0) {
                fail(c, (int)-r);
                return;
            }
            int st = begin_request(c, &hr, hdrs);
            consume(&c->in, (size_t)r);
            if (st) {
                fail(c, st);
                return;
            }
            if (c->stream) {
                precheck(c);
                return;
            }
            c->state = S_BODY;
            continue;
        }
        if (c->state != S_BODY)
            return;
        if (c->chunked) {
            int st = dechunk(c);
            if (st == 0) {
                set_timer(c, h->o.idle_timeout_ms);
                return;
            }
            if (st != 1) {
                fail(c, st);
                return;
            }
            c->chunked = 0;
        } else if (c->body_need) {
            size_t k = c->in.len < (size_t)c->body_need ? c->in.len : (size_t)c->body_need;
            body_append(c, c->in.data, k); /* within the limit: Content-Length was checked */
            consume(&c->in, k);
            c->body_need -= (long long)k;
            if (c->body_need) {
                set_timer(c, h->o.idle_timeout_ms);
                return;
            }
        }
        dispatch(c);
        return;
    }
}

/* ---- events ------------------------------------------------------------------------ */

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    conn *c = arg;
    if (c->state == S_LINGER) {
        char drop[READ_CHUNK];
        ssize_t n = read(fd, drop, sizeof(drop));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_free(c);
        return;
    }
    /* A streamed body (an upload) is read in larger pieces: fewer system calls and
     * callbacks per megabyte, and it goes straight to its consumer. */
    size_t want = c->stream && c->state == S_BODY ? STREAM_READ_CHUNK : READ_CHUNK;
    herald_buf_reserve(&c->in, want);
    ssize_t n = read(fd, c->in.data + c->in.len, want);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free(c);
        return;
    }
    c->in.len += (size_t)n;
    advance(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    if (flush(c) == 0)
        after_write(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    if (c->state == S_HEAD && c->head_timer) {
        fail(c, 408);
        return;
    }
    conn_free(c); /* idle, a stalled body or reader, or the end of a linger */
}

/* The numeric address of 'sa' ("" for other families); an IPv4-mapped IPv6 address is
 * written as IPv4, so one client has one name whatever the listening socket. */
static void
peer_name(char *out, size_t len, const struct sockaddr_storage *sa)
{
    out[0] = '\0';
    if (sa->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    } else if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)len);
        else
            inet_ntop(AF_INET6, a6, out, (socklen_t)len);
    }
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    pub_httpd *h = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage sa;
        socklen_t salen = sizeof(sa);
        int fd = herald_accept_from(&h->acc, lfd, (struct sockaddr *)&sa, &salen);
        if (fd < 0)
            return; /* nothing more now, or paused (out of file descriptors) */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn *c = herald_mem_calloc(1, sizeof(*c));
        c->h = h;
        c->fd = fd;
        peer_name(c->peer, sizeof(c->peer), &sa);
        c->rev = event_new(h->base, fd, EV_READ | EV_PERSIST, on_read, c);
        c->wev = event_new(h->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
        c->tev = evtimer_new(h->base, on_timer, c);
        c->next = h->conns;
        if (h->conns)
            h->conns->prev = c;
        h->conns = c;
        if (!c->rev || !c->wev || !c->tev) {
            herald_error("event_new failed");
            conn_free(c);
            continue;
        }
        event_add(c->rev, NULL);
        set_timer(c, h->o.idle_timeout_ms);
    }
}

/* ---- server ------------------------------------------------------------------------ */

pub_httpd *
pub_httpd_new(struct event_base *base, const pub_httpd_opts *o, pub_httpd_handler cb, void *arg)
{
    pub_httpd *h = herald_mem_calloc(1, sizeof(*h));
    h->base = base;
    h->o = *o;
    h->cb = cb;
    h->arg = arg;
    h->lfd = -1;
    return h;
}

int
pub_httpd_listen(pub_httpd *h, const char *host, int port)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        errno = e;
        return -1;
    }
    freeaddrinfo(ai);
    h->lev = event_new(h->base, fd, EV_READ | EV_PERSIST, on_accept, h);
    if (!h->lev || herald_accept_init(&h->acc, h->base, h->lev) < 0 ||
        event_add(h->lev, NULL) < 0) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    h->lfd = fd;
    return 0;
}

void
pub_httpd_reply(pub_httpd_conn *c, const pub_resp *resp, int head)
{
    if (c->state == S_AUTH) {
        if (resp->status == 100) { /* the body is wanted */
            c->state = S_BODY;
            expect_continue(c, c->req);
            event_add(c->rev, NULL);
            advance(c);
            return;
        }
        /* Refused before its body was read: the answer, then close (after_write). */
        stream_drop(c);
        pub_req_free(c->req);
        free(c->req);
        c->req = NULL;
        c->keep_alive = 0;
        c->close_after = 1;
    }
    c->state = S_WRITE;
    put_response(c, resp, head);
    if (flush(c) == 0)
        after_write(c);
}

void
pub_httpd_drain(pub_httpd *h)
{
    h->draining = 1;
    herald_accept_free(&h->acc); /* a pause must not put the freed listener back */
    if (h->lev) {
        event_free(h->lev);
        h->lev = NULL;
    }
    if (h->lfd >= 0) {
        close(h->lfd);
        h->lfd = -1;
    }
    conn *next;
    for (conn *c = h->conns; c; c = next) {
        next = c->next;
        if (c->state == S_HEAD && c->in.len == 0)
            conn_free(c);
    }
}

int
pub_httpd_busy(const pub_httpd *h)
{
    int n = 0;
    for (const conn *c = h->conns; c; c = c->next)
        n += !(c->state == S_HEAD && c->in.len == 0);
    return n;
}

void
pub_httpd_free(pub_httpd *h)
{
    if (!h)
        return;
    while (h->conns)
        conn_free(h->conns);
    herald_accept_free(&h->acc);
    if (h->lev)
        event_free(h->lev);
    if (h->lfd >= 0)
        close(h->lfd);
    free(h);
}
