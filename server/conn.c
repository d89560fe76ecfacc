/*
 * conn -- see conn.h for the design.
 *
 * Output queue: an array of segments, each either a range of the connection's write
 * buffer (wbuf, by offset, since wbuf may move while responses are appended) or a
 * pointer into pinned set memory. Consecutive wbuf appends extend one segment, so a
 * typical response (headers + a body up to 8 KB, both copied) is one segment and one
 * write(). Segments are consumed front to back; when the queue empties everything is
 * reset for the next request.
 */
#include "conn.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "herald/log.h"
#include "herald/mem.h"
#include "http_parse.h"
#include "routes.h"
#include "snapset.h"

#define RBUF_INITIAL 2048
#define RBUF_MAX (HTTP_DEFAULT_MAX_HEAD + 1) /* one more byte than a head may have */
#define OUT_HIGH_BYTES (256 * 1024)          /* stop parsing pipelined requests above */
#define OUT_HIGH_SEGS 192
#define IOV_BATCH 64
#define ACCEPT_BATCH 64

typedef struct held {
    snapset *set;
    unsigned users; /* connections whose queue references this set */
    struct held *next;
} held;

typedef struct worker worker;

typedef struct seg {
    const char *ext; /* NULL: wbuf[off .. off + len) */
    size_t off;
    size_t len;
} seg;

struct out {
    herald_buf wbuf;
    seg *segs;
    size_t nsegs, segcap;
    size_t head;     /* first unwritten segment */
    size_t head_off; /* bytes of segs[head] already written */
    size_t pending;  /* bytes queued and not written */
    int uses_set;    /* an ext segment references the current set */
};

typedef struct conn {
    struct out o; /* first: routes' 'out *' is a conn */
    worker *w;
    int fd;
    struct event *rev, *wev;
    char *rbuf;
    size_t rlen, rcap;
    held *pin;
    int close_after; /* close once the queue is written */
    int read_paused; /* too much output queued */
    struct conn *prev, *next;
} conn;

struct worker {
    pthread_t thread;
    struct event_base *base;
    int lfd;
    struct event *lev, *stop_ev;
    const struct timeval *idle_tv;
    held *sets; /* newest first; sets[0] is current */
    uint64_t gen;
    conn *conns;
    int started;
};

static worker *g_workers;
static int g_nworkers;
static int g_stop_pipe[2] = {-1, -1};
static int g_port;
static server_opts g_opts;
static atomic_int g_nconns;

/* ---- output ------------------------------------------------------------------------ */

static seg *
push_seg(struct out *o)
{
    if (o->nsegs == o->segcap) {
        o->segcap = o->segcap ? o->segcap * 2 : 16;
        o->segs = herald_mem_realloc(o->segs, o->segcap * sizeof(seg));
    }
    return &o->segs[o->nsegs++];
}

void
out_copy(out *o, const void *p, size_t n)
{
    if (n == 0)
        return;
    seg *last = o->nsegs > o->head ? &o->segs[o->nsegs - 1] : NULL;
    if (!last || last->ext || last->off + last->len != o->wbuf.len) {
        last = push_seg(o);
        last->ext = NULL;
        last->off = o->wbuf.len;
        last->len = 0;
    }
    herald_buf_append(&o->wbuf, p, n);
    last->len += n;
    o->pending += n;
}

void
out_puts(out *o, const char *s)
{
    out_copy(o, s, strlen(s));
}

void
out_i64(out *o, int64_t v)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    out_copy(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

void
out_ref(out *o, const void *p, size_t n)
{
    if (n == 0)
        return;
    seg *s = push_seg(o);
    s->ext = p;
    s->off = 0;
    s->len = n;
    o->pending += n;
    o->uses_set = 1;
}

/* ---- sets -------------------------------------------------------------------------- */

static void
held_gc(worker *w)
{
    /* Superseded sets nobody references any more. */
    held **pp = &w->sets;
    if (*pp)
        pp = &(*pp)->next; /* never the current one */
    while (*pp) {
        held *h = *pp;
        if (h->users == 0) {
            *pp = h->next;
            snapset_release(h->set);
            free(h);
        } else {
            pp = &h->next;
        }
    }
}

static void
refresh_set(worker *w)
{
    uint64_t gen = snapset_generation();
    if (gen == w->gen && w->sets)
        return;
    snapset *s = snapset_acquire();
    if (!s)
        return;
    w->gen = gen;
    held *h = herald_mem_calloc(1, sizeof(*h));
    h->set = s;
    h->next = w->sets;
    w->sets = h;
    held_gc(w);
}

static void
unpin(conn *c)
{
    if (!c->pin)
        return;
    c->pin->users--;
    c->pin = NULL;
    if (c->w->sets && c->w->sets->next)
        held_gc(c->w);
}

/* ---- connections ------------------------------------------------------------------- */

static int conn_process(conn *c);

static void
conn_free(conn *c)
{
    worker *w = c->w;
    unpin(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->rev);
    event_free(c->wev);
    close(c->fd);
    herald_buf_free(&c->o.wbuf);
    free(c->o.segs);
    free(c->rbuf);
    free(c);
    atomic_fetch_sub_explicit(&g_nconns, 1, memory_order_relaxed);
}

/* Writes what is queued. Returns 0 (all written or waiting for EV_WRITE) or -1 when
 * the connection was freed. */
static int
conn_flush(conn *c)
{
    struct out *o = &c->o;
    while (o->head < o->nsegs) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        for (size_t i = o->head; i < o->nsegs && n < IOV_BATCH; i++, n++) {
            const seg *s = &o->segs[i];
            const char *base = s->ext ? s->ext : o->wbuf.data + s->off;
            size_t skip = i == o->head ? o->head_off : 0;
            iov[n].iov_base = (void *)(base + skip);
            iov[n].iov_len = s->len - skip;
        }
        ssize_t wr = n == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len) : writev(c->fd, iov, n);
        if (wr < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!event_pending(c->wev, EV_WRITE, NULL))
                    event_add(c->wev, c->w->idle_tv);
                return 0;
            }
            conn_free(c);
            return -1;
        }
        size_t left = (size_t)wr;
        o->pending -= left;
        while (left > 0) {
            seg *s = &o->segs[o->head];
            size_t rest = s->len - o->head_off;
            if (left < rest) {
                o->head_off += left;
                left = 0;
            } else {
                left -= rest;
                o->head++;
                o->head_off = 0;
            }
        }
    }
    /* Everything written: reset (not free) for the next requests. */
    herald_buf_reset(&o->wbuf);
    o->nsegs = o->head = o->head_off = o->pending = 0;
    unpin(c);
    if (event_pending(c->wev, EV_WRITE, NULL))
        event_del(c->wev);
    if (c->close_after) {
        shutdown(c->fd, SHUT_WR);
        conn_free(c);
        return -1;
    }
    if (c->read_paused) {
        c->read_paused = 0;
        event_add(c->rev, c->w->idle_tv);
        return conn_process(c); /* requests that arrived while paused */
    }
    return 0;
}

/* Answers every complete request in the read buffer, then flushes. Returns 0, or -1
 * when the connection was freed. */
static int
conn_process(conn *c)
{
    static const http_limits lim = {HTTP_DEFAULT_MAX_REQUEST_LINE, HTTP_DEFAULT_MAX_HEAD};
    worker *w = c->w;
    size_t used = 0;
    refresh_set(w);
    while (!c->close_after && used < c->rlen) {
        if (c->o.pending > OUT_HIGH_BYTES || c->o.nsegs > OUT_HIGH_SEGS) {
            c->read_paused = 1;
            event_del(c->rev);
            break;
        }
        http_request req;
        ssize_t r = http_parse_request(&req, c->rbuf + used, c->rlen - used, &lim);
        if (r == 0)
            break;
        if (r < 0) {
            route_error(&c->o, (int)-r);
            c->close_after = 1;
            used = c->rlen;
            break;
        }
        used += (size_t)r;
        /* We never read bodies, so after one the stream cannot be resynchronised. */
        int keep = req.keep_alive && req.content_length <= 0;
        /* A connection with queued set references keeps using that set until it
         * drains, so one pin covers all of its pipelined responses. */
        const snapset *set = c->pin ? c->pin->set : w->sets->set;
        c->o.uses_set = 0;
        route_request(&c->o, &req, set, keep);
        if (c->o.uses_set && !c->pin) {
            c->pin = w->sets;
            c->pin->users++;
        }
        if (!keep)
            c->close_after = 1;
    }
    if (used) {
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
        c->rlen -= used;
    }
    if (c->close_after)
        c->rlen = 0; /* ignore anything after the last answered request */
    return conn_flush(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    if (what & EV_TIMEOUT) {
        conn_free(c);
        return;
    }
    if (c->rlen == c->rcap) {
        if (c->rcap >= RBUF_MAX) { /* cannot happen: the parser answers 431 first */
            conn_free(c);
            return;
        }
        c->rcap = c->rcap * 2 > RBUF_MAX ? RBUF_MAX : c->rcap * 2;
        c->rbuf = herald_mem_realloc(c->rbuf, c->rcap);
    }
    ssize_t n = read(fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free(c);
        return;
    }
    c->rlen += (size_t)n;
    (void)conn_process(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    conn *c = arg;
    if (what & EV_TIMEOUT) {
        conn_free(c);
        return;
    }
    (void)conn_flush(c);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    worker *w = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                herald_warn("accept: %s", strerror(errno));
            return;
        }
        if (atomic_fetch_add_explicit(&g_nconns, 1, memory_order_relaxed) >= g_opts.max_conns) {
            atomic_fetch_sub_explicit(&g_nconns, 1, memory_order_relaxed);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn *c = herald_mem_calloc(1, sizeof(*c));
        c->w = w;
        c->fd = fd;
        c->rcap = RBUF_INITIAL;
        c->rbuf = herald_mem_alloc(c->rcap);
        c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, c);
        c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
        if (!c->rev || !c->wev) {
            herald_error("event_new failed");
            if (c->rev)
                event_free(c->rev);
            if (c->wev)
                event_free(c->wev);
            close(fd);
            free(c->rbuf);
            free(c);
            atomic_fetch_sub_explicit(&g_nconns, 1, memory_order_relaxed);
            continue;
        }
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        event_add(c->rev, w->idle_tv);
        /* With TCP_DEFER_ACCEPT the request is usually there already. */
        on_read(fd, EV_READ, c);
    }
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    event_base_loopbreak(w->base);
}

static void *
worker_main(void *arg)
{
    worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

/* ---- listeners --------------------------------------------------------------------- */

static int
open_listener(const struct addrinfo *ai, const char *port)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (g_port && strcmp(port, "0") == 0) {
        /* Port 0: every worker binds the port the first one got. */
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)g_port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)g_port);
    }
    int defer = 5;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!g_port) {
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            g_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                   : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

int
server_port(void)
{
    return g_port;
}

int
server_start(const server_opts *o)
{
    struct addrinfo hints, *ai = NULL;
    g_opts = *o;
    g_nworkers = o->threads > 0 ? o->threads : 1;
    g_workers = herald_mem_calloc((size_t)g_nworkers, sizeof(worker));
    for (int i = 0; i < g_nworkers; i++)
        g_workers[i].lfd = -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(o->host, o->port, &hints, &ai);
    if (gai != 0) {
        herald_error("listen %s:%s: %s", o->host, o->port, gai_strerror(gai));
        goto fail;
    }
    if (pipe2(g_stop_pipe, O_CLOEXEC) < 0) {
        herald_error("pipe: %s", strerror(errno));
        goto fail;
    }
    struct timeval idle = {o->idle_timeout_ms / 1000, (o->idle_timeout_ms % 1000) * 1000};
    for (int i = 0; i < g_nworkers; i++) {
        worker *w = &g_workers[i];
        w->lfd = open_listener(ai, o->port);
        if (w->lfd < 0) {
            herald_error("listen %s:%s: %s", o->host, o->port, strerror(errno));
            goto fail;
        }
        w->base = event_base_new();
        if (!w->base)
            goto fail;
        w->idle_tv = event_base_init_common_timeout(w->base, &idle);
        w->lev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, on_accept, w);
        w->stop_ev = event_new(w->base, g_stop_pipe[0], EV_READ, on_stop, w);
        if (!w->idle_tv || !w->lev || !w->stop_ev || event_add(w->lev, NULL) < 0 ||
            event_add(w->stop_ev, NULL) < 0)
            goto fail;
        refresh_set(w);
        if (!w->sets) {
            herald_error("no snapshot set published before starting the workers");
            goto fail;
        }
    }
    freeaddrinfo(ai);
    ai = NULL;
    for (int i = 0; i < g_nworkers; i++) {
        if (pthread_create(&g_workers[i].thread, NULL, worker_main, &g_workers[i]) != 0) {
            herald_error("cannot start worker thread %d", i);
            goto fail;
        }
        g_workers[i].started = 1;
    }
    herald_info("listening on %s:%d with %d worker thread(s)", o->host, g_port, g_nworkers);
    return 0;
fail:
    if (ai)
        freeaddrinfo(ai);
    server_stop();
    return -1;
}

void
server_stop(void)
{
    if (g_stop_pipe[1] >= 0) {
        ssize_t wr = write(g_stop_pipe[1], "x", 1); /* level-triggered: wakes every worker */
        (void)wr;
    }
    for (int i = 0; i < g_nworkers; i++) {
        worker *w = &g_workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        while (w->conns)
            conn_free(w->conns);
        while (w->sets) {
            held *h = w->sets;
            w->sets = h->next;
            snapset_release(h->set);
            free(h);
        }
        if (w->lev)
            event_free(w->lev);
        if (w->stop_ev)
            event_free(w->stop_ev);
        if (w->lfd >= 0)
            close(w->lfd);
        if (w->base)
            event_base_free(w->base);
    }
    free(g_workers);
    g_workers = NULL;
    g_nworkers = 0;
    for (int i = 0; i < 2; i++) {
        if (g_stop_pipe[i] >= 0)
            close(g_stop_pipe[i]);
        g_stop_pipe[i] = -1;
    }
}
