/*
 * httpc -- see include/herald/httpc.h.
 *
 * A non-blocking socket driven by poll() against one deadline for the whole exchange, so
 * a server that trickles bytes cannot hold the caller longer than 'timeout_ms'. The
 * response is read through a 64 KiB window: status line and headers are parsed from it
 * line by line (a header block that does not fit is refused), and body bytes are copied
 * straight from it into the caller's buffer, so a large body is held once, not twice.
 */
#include "herald/httpc.h"
#include "herald/clock.h"
#include "herald/err.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define WINDOW (64 * 1024)
#define MAX_HEADER_BYTES (64 * 1024)

struct conn {
    int fd;
    int64_t deadline; /* CLOCK_MONOTONIC ms */
    size_t start, end;
    size_t header_bytes;
    char *err;
    size_t errlen;
    char buf[WINDOW];
};

/* Waits for 'events' on c->fd until the deadline. Returns 0, or -1 (timeout, error). */
static int
wait_fd(struct conn *c, short events)
{
    for (;;) {
        int64_t left = c->deadline - herald_clock_mono_ms();
        if (left <= 0) {
            herald_err_set(c->err, c->errlen, "timed out");
            return -1;
        }
        struct pollfd p = {.fd = c->fd, .events = events};
        int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            herald_err_set(c->err, c->errlen, "poll: %s", strerror(errno));
            return -1;
        }
        if (r > 0)
            return 0;
    }
}

/* Reads more bytes into the window. Returns the number read, 0 at end of stream, -1 on
 * error or timeout. */
static ssize_t
fill(struct conn *c)
{
    if (c->start == c->end) {
        c->start = c->end = 0;
    } else if (c->end == sizeof(c->buf) && c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == sizeof(c->buf)) {
        herald_err_set(c->err, c->errlen, "response line too long");
        return -1;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->end, sizeof(c->buf) - c->end, 0);
        if (n >= 0) {
            c->end += (size_t)n;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            herald_err_set(c->err, c->errlen, "recv: %s", strerror(errno));
            return -1;
        }
        if (wait_fd(c, POLLIN) < 0)
            return -1;
    }
}

/* Returns the next line (CRLF or LF stripped, NUL-terminated in place) or NULL. Lines are
 * part of the header budget when 'header' is set. */
static char *
read_line(struct conn *c, int header)
{
    for (;;) {
        char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
        if (nl) {
            char *line = c->buf + c->start;
            size_t n = (size_t)(nl - line) + 1;
            c->start += n;
            if (header && (c->header_bytes += n) > MAX_HEADER_BYTES) {
                herald_err_set(c->err, c->errlen, "response headers too large");
                return NULL;
            }
            *nl = '\0';
            if (nl > line && nl[-1] == '\r')
                nl[-1] = '\0';
            return line;
        }
        ssize_t r = fill(c);
        if (r <= 0) {
            if (r == 0)
                herald_err_set(c->err, c->errlen, "connection closed in the response head");
            return NULL;
        }
    }
}

/* Moves up to 'n' body bytes (all until close when n == SIZE_MAX) into 'body'. */
static int
read_body(struct conn *c, herald_buf *body, size_t n, size_t *total)
{
    int until_close = n == SIZE_MAX;
    while (n > 0) {
        if (c->start == c->end) {
            ssize_t r = fill(c);
            if (r < 0)
                return -1;
            if (r == 0) {
                if (until_close)
                    return 0;
                herald_err_set(c->err, c->errlen, "connection closed in the body");
                return -1;
            }
        }
        size_t take = c->end - c->start;
        if (take > n)
            take = n;
        if (take > HERALD_HTTPC_MAX_BODY - *total) {
            herald_err_set(c->err, c->errlen, "response body above %u bytes",
                           HERALD_HTTPC_MAX_BODY);
            return -1;
        }
        herald_buf_append(body, c->buf + c->start, take);
        c->start += take;
        *total += take;
        if (!until_close)
            n -= take;
    }
    return 0;
}

/* Strict unsigned decimal (Content-Length) or hex (chunk size) with an upper bound. */
static int
parse_size(size_t *out, const char *s, int base, size_t max)
{
    size_t v = 0;
    int any = 0;
    for (; *s; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        if (v > (max - (size_t)d) / (size_t)base)
            return -1;
        v = v * (size_t)base + (size_t)d;
        any = 1;
    }
    if (!any)
        return -1;
    *out = v;
    return 0;
}

static int
read_chunked(struct conn *c, herald_buf *body, size_t *total)
{
    for (;;) {
        char *line = read_line(c, 0);
        if (!line)
            return -1;
        size_t n;
        /* Chunk extensions (";name=value") are allowed and ignored. */
        line[strcspn(line, "; \t")] = '\0';
        if (parse_size(&n, line, 16, HERALD_HTTPC_MAX_BODY) < 0) {
            herald_err_set(c->err, c->errlen, "bad chunk size");
            return -1;
        }
        if (n == 0)
            break;
        if (read_body(c, body, n, total) < 0)
            return -1;
        line = read_line(c, 0);
        if (!line)
            return -1;
        if (*line) {
            herald_err_set(c->err, c->errlen, "chunk not followed by CRLF");
            return -1;
        }
    }
    /* Trailers, up to the empty line; they count against the header budget. */
    for (;;) {
        char *line = read_line(c, 1);
        if (!line)
            return -1;
        if (!*line)
            return 0;
    }
}

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Splits 'url' into host, port and target (path and query). Returns 0 or -1. */
static int
parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
          const char **target, const char **authority, size_t *authlen)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return -1;
    const char *a = url + 7;
    size_t alen = strcspn(a, "/?#");
    if (alen == 0)
        return -1;
    *authority = a;
    *authlen = alen;
    *target = a + alen;
    if (memchr(a, '@', alen))
        return -1; /* userinfo: never sent in clear by us */
    const char *hp = a, *pp = NULL;
    size_t hl;
    if (*a == '[') {
        const char *close = memchr(a, ']', alen);
        if (!close)
            return -1;
        hp = a + 1;
        hl = (size_t)(close - hp);
        if (close + 1 < a + alen) {
            if (close[1] != ':')
                return -1;
            pp = close + 2;
        }
    } else {
        const char *colon = memchr(a, ':', alen);
        hl = colon ? (size_t)(colon - a) : alen;
        if (colon)
            pp = colon + 1;
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    if (pp) {
        size_t pl = (size_t)(a + alen - pp);
        if (pl == 0 || pl >= portlen || pl > 5 || strspn(pp, "0123456789") < pl)
            return -1;
        memcpy(port, pp, pl);
        port[pl] = '\0';
    } else {
        snprintf(port, portlen, "80");
    }
    return 0;
}

static int
connect_to(struct conn *c, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        herald_err_set(c->err, c->errlen, "%s: %s", host, gai_strerror(g));
        return -1;
    }
    int rc = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        c->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (c->fd < 0) {
            herald_err_set(c->err, c->errlen, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            rc = 0;
            break;
        }
        if (errno == EINPROGRESS && wait_fd(c, POLLOUT) == 0) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
                rc = 0;
                break;
            }
            herald_err_set(c->err, c->errlen, "connect %s:%s: %s", host, port, strerror(soerr));
        } else if (errno != EINPROGRESS) {
            herald_err_set(c->err, c->errlen, "connect %s:%s: %s", host, port, strerror(errno));
        }
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    return rc;
}

static int
send_all(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, POLLOUT) < 0)
                return -1;
            continue;
        }
        herald_err_set(c->err, c->errlen, "send: %s", w < 0 ? strerror(errno) : "no progress");
        return -1;
    }
    return 0;
}

/* Connects to the server of 'url' and sends the GET. Returns 0 or -1 (c->err set). */
static int
send_request(struct conn *c, const char *url)
{
    herald_buf req = HERALD_BUF_INIT;
    char host[256], port[8];
    const char *target, *authority;
    size_t authlen;
    int rc = -1;
    if (parse_url(url, host, sizeof(host), port, sizeof(port), &target, &authority, &authlen) < 0) {
        herald_err_set(c->err, c->errlen, "bad URL (want http://host[:port]/path): %s", url);
        return -1;
    }
    /* The request target must not smuggle a second line into the request. */
    size_t tlen = strcspn(target, "#");
    if (strcspn(target, "\r\n \t") < tlen) {
        herald_err_set(c->err, c->errlen, "bad URL: whitespace in path");
        return -1;
    }
    if (connect_to(c, host, port) < 0)
        return -1;
    herald_buf_puts(&req, "GET ");
    if (tlen == 0 || target[0] != '/')
        herald_buf_putc(&req, '/');
    herald_buf_append(&req, target, tlen);
    herald_buf_puts(&req, " HTTP/1.1\r\nHost: ");
    herald_buf_append(&req, authority, authlen);
    herald_buf_puts(&req, "\r\nUser-Agent: herald-httpc/" HERALD_VERSION
                          "\r\nAccept: application/json\r\nAccept-Encoding: identity\r\n"
                          "Connection: close\r\n\r\n");
    rc = send_all(c, req.data, req.len);
    herald_buf_free(&req);
    return rc;
}

/* Reads status lines up to the final (non-1xx) one, skipping interim responses. Returns
 * its status code, or -1. */
static int
read_status(struct conn *c)
{
    for (;;) {
        char *line = read_line(c, 1);
        if (!line)
            return -1;
        if (strncmp(line, "HTTP/1.", 7) != 0 || !(line[7] == '0' || line[7] == '1') ||
            line[8] != ' ' || !(line[9] >= '1' && line[9] <= '5') ||
            !(line[10] >= '0' && line[10] <= '9') || !(line[11] >= '0' && line[11] <= '9') ||
            (line[12] != ' ' && line[12] != '\0')) {
            herald_err_set(c->err, c->errlen, "malformed status line");
            return -1;
        }
        int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        if (code >= 200)
            return code;
        /* Interim 1xx response: skip its headers, read the real one. */
        do {
            line = read_line(c, 1);
            if (!line)
                return -1;
        } while (*line);
    }
}

/* How the body is framed, from the headers. */
typedef struct framing {
    int chunked;
    int have_length;
    size_t length;
} framing;

/* Reads the header lines up to the empty one. Returns 0 or -1. */
static int
read_headers(struct conn *c, framing *f)
{
    memset(f, 0, sizeof(*f));
    for (;;) {
        char *line = read_line(c, 1);
        if (!line)
            return -1;
        if (!*line)
            return 0;
        char *colon = strchr(line, ':');
        if (!colon || colon == line) {
            herald_err_set(c->err, c->errlen, "malformed header line");
            return -1;
        }
        *colon = '\0';
        char *value = trim(colon + 1);
        if (strcasecmp(line, "Transfer-Encoding") == 0) {
            /* The final coding decides the framing; we asked for identity content. */
            const char *last = strrchr(value, ',');
            last = trim((char *)(last ? last + 1 : value));
            if (strcasecmp(last, "chunked") != 0) {
                herald_err_set(c->err, c->errlen, "unsupported Transfer-Encoding: %s", value);
                return -1;
            }
            f->chunked = 1;
        } else if (strcasecmp(line, "Content-Length") == 0) {
            size_t v;
            if (parse_size(&v, value, 10, SIZE_MAX) < 0 || value[strspn(value, "0123456789")]) {
                herald_err_set(c->err, c->errlen, "bad Content-Length");
                return -1;
            }
            if (f->have_length && v != f->length) {
                herald_err_set(c->err, c->errlen, "conflicting Content-Length headers");
                return -1;
            }
            if (v > HERALD_HTTPC_MAX_BODY) {
                herald_err_set(c->err, c->errlen, "response body above %u bytes",
                               HERALD_HTTPC_MAX_BODY);
                return -1;
            }
            f->have_length = 1;
            f->length = v;
        } else if (strcasecmp(line, "Content-Encoding") == 0 && strcasecmp(value, "identity")) {
            herald_err_set(c->err, c->errlen, "unexpected Content-Encoding: %s", value);
            return -1;
        }
    }
}

int
herald_httpc_get(const char *url, int timeout_ms, int *status, herald_buf *body, char *err,
                 size_t errlen)
{
    struct conn *c = herald_mem_calloc(1, sizeof(*c));
    size_t total = 0;
    framing f;
    int rc = -1;

    c->fd = -1;
    c->err = err;
    c->errlen = errlen;
    c->deadline = herald_clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
    *status = 0;
    if (send_request(c, url) < 0)
        goto out;
    int code = read_status(c);
    if (code < 0 || read_headers(c, &f) < 0)
        goto out;
    if (code == 204 || code == 304) {
        /* No body by definition. */
    } else if (f.chunked) {
        if (read_chunked(c, body, &total) < 0)
            goto out;
    } else if (read_body(c, body, f.have_length ? f.length : SIZE_MAX, &total) < 0) {
        goto out;
    }
    *status = code;
    rc = 0;
out:
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return rc;
}
