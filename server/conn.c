/*
 * conn -- see conn.h for the design.
 *
 * Output queues (out.h): each worker has one, used for every connection in turn and
 * empty between callbacks; a connection gets a queue of its own only for output the
 * socket did not take. This file is the only one that writes a queue to a socket.
 */
#include "conn.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "herald/accept.h"
#include "herald/clock.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/http_parse.h"
#include "metrics.h"
#include "out.h"
#include "attach.h"
#include "routes.h"
#include "snapset.h"
#include "status.h"
#include "wait.h"

#define RBUF_MAX (HTTP_DEFAULT_MAX_HEAD + 1) /* one more byte than a head may have */
#define RBUF_MIN 2048                        /* a connection's own buffer, at first */
#define OUT_HIGH_BYTES (256 * 1024)          /* flush before answering more pipelined */
#define OUT_HIGH_SEGS 192
#define ACCEPT_BATCH 64
#define SWEEP_MS 250
#define FILE_CHUNK (2 << 20) /* bytes of an attachment body per sendfile(2) call */
#define FILE_TURN (8 << 20)  /* bytes of one body sent before the worker's other connections */

typedef struct held {
    snapset *set;
    unsigned users; /* connections whose unwritten output references this set */
    struct held *next;
} held;

typedef struct worker worker;

typedef struct conn {
    worker *w;
    int fd;
    unsigned close_after : 1; /* close once the output is written */
    unsigned reading : 1;     /* 'rev' is added */
    struct event *rev, *wev;  /* wev: created the first time a write would block */
    char *rbuf;               /* unanswered input (incomplete head); NULL when none */
    size_t rlen, rcap;
    out *q;                     /* output the socket did not take; NULL when none */
    held *pin;                  /* the set 'q' references */
    int64_t last_ms;            /* last read or write progress */
    int64_t head_ms;            /* when an incomplete head was first buffered; 0: none */
    struct conn *prev, *next;   /* worker's list, least recently active first */
    struct conn *hprev, *hnext; /* worker's list of connections with an incomplete head */
    waiter wt;                  /* long-poll: registered in the worker's 'waits' */
    int64_t wait_s;             /* the wait honoured (Preference-Applied) */
    unsigned waiting : 1;       /* held: rbuf starts with the request; not on the idle list */
    unsigned answer_due : 2;    /* woken while earlier output was still being written: WOKEN_* */
    attach_body file;           /* an attachment body to sendfile after 'q' (file.fd >= 0) */
    unsigned corked : 1;        /* TCP_CORK is on while 'file' is being sent */
    unsigned fetching : 1;      /* held for a fetch (attach.h): rbuf starts with the request */
    attach_fetch *fetch;        /* the fetch it waits for (its reference) */
    struct conn *fprev, *fnext; /* worker's list of connections held for a fetch */
} conn;

/* Why conn_serve() is answering a held request (the first in its buffer). */
enum { WOKEN_NONE = 0, WOKEN_POLL = 1, WOKEN_FETCH = 2 };

struct worker {
    pthread_t thread;
    struct event_base *base;
    int lfd;
    struct event *lev, *stop_ev, *sweep_ev, *deadline_ev;
    herald_acceptor acc; /* pauses 'lev' when out of file descriptors */
    metrics_shard *metrics;
    held *sets; /* newest first; sets[0] is current */
    uint64_t gen;
    conn *first, *last; /* by last activity */
    conn *heads;        /* connections with an incomplete head */
    conn *fetching;     /* connections held for a fetch from the origin (attach.h) */
    wait_reg *waits;    /* long-poll waiters */
    int efd;            /* eventfd: a new set was published (wakes the waiters) */
    struct event *notify_ev;
    out *out;   /* shared output queue, empty between callbacks */
    char *rbuf; /* shared read buffer, RBUF_MAX bytes */
    int started;
    int draining; /* shutting down: no keep-alive; 2: the loop ends with the last conn */
};

static worker *g_workers;
static int g_nworkers;
static int g_stop_pipe[2] = {-1, -1};
static int g_port;
static server_opts g_opts;
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

/* ---- connection lists -------------------------------------------------------------- */

static int64_t
now_ms(worker *w)
{
    struct timeval tv;
    event_base_gettimeofday_cached(w->base, &tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
lru_unlink(conn *c)
{
    worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->last = c->prev;
    c->prev = c->next = NULL;
}

static void
lru_append(conn *c)
{
    worker *w = c->w;
    c->prev = w->last;
    c->next = NULL;
    if (w->last)
        w->last->next = c;
    else
        w->first = c;
    w->last = c;
}

/* Activity: the connection moves to the tail of the idle order. */
static void
touch(conn *c)
{
    if (c->waiting || c->fetching)
        return; /* a held request is not idle: it is off the list */
    c->last_ms = now_ms(c->w);
    if (c->w->last != c) {
        lru_unlink(c);
        lru_append(c);
    }
}

static void
heads_unlink(conn *c)
{
    if (!c->head_ms)
        return;
    if (c->hprev)
        c->hprev->hnext = c->hnext;
    else
        c->w->heads = c->hnext;
    if (c->hnext)
        c->hnext->hprev = c->hprev;
    c->hprev = c->hnext = NULL;
    c->head_ms = 0;
}

static void
heads_add(conn *c)
{
    if (c->head_ms)
        return;
    c->head_ms = now_ms(c->w);
    c->hprev = NULL;
    c->hnext = c->w->heads;
    if (c->w->heads)
        c->w->heads->hprev = c;
    c->w->heads = c;
}

/* ---- connections ------------------------------------------------------------------- */

static void conn_serve(conn *c, char *buf, size_t len, int woken);

static void
fetching_unlink(conn *c)
{
    if (c->fprev)
        c->fprev->fnext = c->fnext;
    else
        c->w->fetching = c->fnext;
    if (c->fnext)
        c->fnext->fprev = c->fprev;
    c->fprev = c->fnext = NULL;
    c->fetching = 0;
}

static void
conn_free(conn *c)
{
    worker *w = c->w;
    unpin(c);
    if (c->waiting)
        wait_remove(w->waits, &c->wt); /* held requests are off the idle list */
    else if (c->fetching)
        fetching_unlink(c);
    else
        lru_unlink(c);
    attach_fetch_release(c->fetch); /* nobody to answer any more */
    attach_fetch_release(c->file.pending);
    heads_unlink(c);
    event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    close(c->fd);
    if (c->file.fd >= 0)
        close(c->file.fd);
    out_free(c->q);
    free(c->rbuf);
    free(c);
    status_conn_close();
    if (w->draining == 2 && !w->first && !w->fetching)
        event_base_loopbreak(w->base); /* the last connection is done */
}

/* While draining, a connection with nothing to write and no request begun is done.
 * Returns 1 when it was freed. */
static int
drain_idle(conn *c)
{
    if (!c->w->draining || c->q || c->rlen)
        return 0;
    conn_free(c);
    return 1;
}

static void
set_reading(conn *c, int on)
{
    if (on && !c->reading)
        event_add(c->rev, NULL);
    else if (!on && c->reading)
        event_del(c->rev);
    c->reading = on ? 1 : 0;
}

static void on_write(evutil_socket_t fd, short what, void *arg);

/*
 * TCP_CORK around a response with an attachment body, as nginx's tcp_nopush: on from
 * its head until the body's last byte is queued. Connections have TCP_NODELAY, and with
 * it (without the cork) the ACKs the socket processes while sendfile appends to it (its
 * backlog, at each of splice's 64 KB steps) send the partly filled segment at the tail
 * of the queue: a 1 MB body left in 30 data segments instead of 18, each one more pass
 * through the stack, both ends of it on loopback (MSG_MORE on the head only holds that
 * one call's tail, not the ACKs'). Uncorking sends the last partial segment at once.
 * Two setsockopt calls a file response (as nginx); none for the others.
 */
static void
set_cork(conn *c, int on)
{
    if (c->corked == (unsigned)on)
        return;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    c->corked = on ? 1 : 0;
}

/* Sends the pending attachment body (attach.h) with sendfile(2). Returns 0 when it is
 * all sent (or there is none), 1 when the rest waits for the socket, -1 on error.
 *
 * At most FILE_CHUNK bytes a call, as nginx's sendfile_max_chunk. A call that sends less
 * than asked met a full socket buffer: the rest waits for EPOLLOUT at once, without the
 * call that would only say EAGAIN (each one still reads a pipe's worth of the file's
 * pages before it fails). After FILE_TURN bytes the rest waits too, so that one large
 * body does not keep a worker from its other connections (EPOLLOUT is level-triggered:
 * the connection goes on at the loop's next turn). */
static int
send_file(conn *c)
{
    int64_t turn = 0;
    while (c->file.fd >= 0 && c->file.len > 0) {
        if (turn >= FILE_TURN)
            return 1;
        off_t off = (off_t)c->file.off;
        size_t n = c->file.len > FILE_CHUNK ? FILE_CHUNK : (size_t)c->file.len;
        ssize_t k = sendfile(c->fd, c->file.fd, &off, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (k <= 0)
            return -1;
        c->file.off += k;
        c->file.len -= k;
        turn += k;
        if ((size_t)k < n)
            return 1;
    }
    if (c->file.fd >= 0)
        close(c->file.fd);
    c->file.fd = -1;
    set_cork(c, 0); /* the body's last partial segment leaves now */
    return 0;
}

/* The worker's queue is written: now the attachment body, if any. Returns as
 * flush_shared. */
static int
flush_file(conn *c)
{
    int r = send_file(c);
    if (r == 0)
        return 0;
    if (r < 0) {
        conn_free(c);
        return -1;
    }
    c->q = out_new(c->w->metrics);
    if (!c->wev)
        c->wev = event_new(c->w->base, c->fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->wev) {
        conn_free(c);
        return -1;
    }
    event_add(c->wev, NULL);
    set_reading(c, 0);
    heads_unlink(c);
    return 1;
}

/*
 * Writes the worker's queue, filled for 'c'. Returns 0 when everything was written, 1
 * when the rest moved to the connection's own queue (the socket would block: reading
 * stops until it drained), -1 when the connection was freed (error, or closed after its
 * last response).
 */
static int
flush_shared(conn *c)
{
    worker *w = c->w;
    out *o = w->out;
    /* An attachment's head goes out with the start of its body, in full segments. */
    if (c->file.fd >= 0 && c->file.len > 0)
        set_cork(c, 1);
    int r = out_pending(o) ? out_write(o, c->fd) : 0;
    if (r == 0) {
        out_reset(o);
        int f = flush_file(c);
        if (f != 0)
            return f;
        if (c->close_after) {
            shutdown(c->fd, SHUT_WR);
            conn_free(c);
            return -1;
        }
        return 0;
    }
    if (r < 0) {
        out_reset(o);
        conn_free(c);
        return -1;
    }
    /* A slow reader: keep the rest (set memory stays referenced, pinned). */
    out *q = out_new(w->metrics);
    out_move(q, o);
    c->q = q;
    if (out_uses_set(q)) {
        c->pin = w->sets;
        c->pin->users++;
    }
    if (!c->wev)
        c->wev = event_new(w->base, c->fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->wev) {
        conn_free(c);
        return -1;
    }
    event_add(c->wev, NULL);
    set_reading(c, 0);
    heads_unlink(c); /* not reading: only the idle timeout applies */
    return 1;
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    size_t before = out_pending(c->q);
    int r = out_write(c->q, c->fd);
    if (r < 0) {
        conn_free(c);
        return;
    }
    if (out_pending(c->q) != before)
        touch(c);
    if (r > 0)
        return;
    if (c->file.fd >= 0) {
        int64_t left = c->file.len;
        int f = send_file(c);
        if (f < 0) {
            conn_free(c);
            return;
        }
        if (c->file.len != left)
            touch(c);
        if (f > 0)
            return;
    }
    out_free(c->q);
    c->q = NULL;
    unpin(c);
    event_del(c->wev);
    if (c->close_after) {
        shutdown(c->fd, SHUT_WR);
        conn_free(c);
        return;
    }
    set_reading(c, 1);
    if (c->waiting || c->fetching)
        return; /* the held request waits on; reading notices a disconnect */
    if (drain_idle(c))
        return;
    int woken = c->answer_due;
    c->answer_due = 0;
    if (c->rlen)
        conn_serve(c, c->rbuf, c->rlen, woken); /* requests that arrived meanwhile */
}

/* Keeps the unanswered bytes buf[used .. len) in the connection's own buffer (which
 * 'buf' may be), or drops that buffer when there are none. */
static void
keep_rest(conn *c, char *buf, size_t used, size_t len)
{
    size_t rest = len - used;
    if (rest == 0) {
        free(c->rbuf);
        c->rbuf = NULL;
        c->rlen = c->rcap = 0;
        return;
    }
    if (buf == c->rbuf) {
        if (used)
            memmove(c->rbuf, c->rbuf + used, rest);
    } else {
        if (c->rcap < rest) {
            c->rcap = rest > RBUF_MIN ? RBUF_MAX : RBUF_MIN;
            c->rbuf = herald_mem_realloc(c->rbuf, c->rcap);
        }
        memcpy(c->rbuf, buf + used, rest);
    }
    c->rlen = rest;
}

/* Keeps buf[start .. len) -- a held request and whatever follows it -- in the
 * connection's own buffer, sized exactly: a held connection costs its head's bytes. */
static void
keep_held(conn *c, char *buf, size_t start, size_t len)
{
    size_t rest = len - start;
    if (buf == c->rbuf) {
        memmove(c->rbuf, c->rbuf + start, rest);
        c->rbuf = herald_mem_realloc(c->rbuf, rest);
    } else {
        free(c->rbuf);
        c->rbuf = herald_mem_alloc(rest);
        memcpy(c->rbuf, buf + start, rest);
    }
    c->rlen = c->rcap = rest;
}

/*
 * Holds the request that starts at buf[start] (key 'k', wait 'wait_s' seconds asked):
 * registers it, keeps its bytes, takes the connection off the idle and header lists and
 * writes the answers to the requests before it. Reading goes on only to notice a
 * disconnect (on_read): later pipelined requests wait in the buffer, so answers stay in
 * order. May free 'c'.
 */
static void
hold(conn *c, const wait_key *k, int64_t wait_s, char *buf, size_t start, size_t len)
{
    worker *w = c->w;
    int64_t cap = g_opts.long_poll_max_ms / 1000;
    c->wait_s = wait_s < cap ? wait_s : cap;
    int64_t now = herald_clock_mono_ms();
    wait_add(w->waits, &c->wt, k, now, now + c->wait_s * 1000); /* copies 'k' first */
    keep_held(c, buf, start, len);
    heads_unlink(c);
    lru_unlink(c);
    c->waiting = 1;
    (void)flush_shared(c); /* blocked: on_write resumes reading, not serving */
}

/* Answers a held request whose version changed or whose wait ended (with what an
 * immediate request would get now, plus Preference-Applied). May free 'c'. */
static void
answer_held(conn *c)
{
    c->waiting = 0;
    c->last_ms = now_ms(c->w);
    lru_append(c);
    if (c->q) {
        c->answer_due = WOKEN_POLL; /* after the earlier answers (on_write) */
        return;
    }
    conn_serve(c, c->rbuf, c->rlen, WOKEN_POLL);
}

/*
 * Holds the attachment request that starts at buf[start] until the fetch of its file
 * (c->file.pending, attach.h) ends, as hold() holds a long-poll: its bytes (and those
 * of later pipelined requests) are kept, the connection leaves the idle and header
 * lists, reads only to notice a close, and the answers before it are written. May
 * free 'c'.
 */
static void
hold_fetch(conn *c, char *buf, size_t start, size_t len)
{
    worker *w = c->w;
    c->fetch = c->file.pending;
    c->file.pending = NULL;
    keep_held(c, buf, start, len);
    heads_unlink(c);
    lru_unlink(c);
    c->fetching = 1;
    c->fprev = NULL;
    c->fnext = w->fetching;
    if (w->fetching)
        w->fetching->fprev = c;
    w->fetching = c;
    (void)flush_shared(c);
}

/* A fetch ended (attach_on_fetched woke us): answers the connections whose fetch it was
 * (the file, or the error), with the request kept in their buffer. */
static void
answer_fetched(worker *w)
{
    conn *done = NULL, *next;
    for (conn *c = w->fetching; c; c = next) {
        next = c->fnext;
        if (!attach_fetch_done(c->fetch))
            continue;
        fetching_unlink(c);
        c->fnext = done; /* a list of its own: answering may hold others again */
        done = c;
    }
    for (conn *c = done; c; c = next) {
        next = c->fnext;
        c->fnext = NULL;
        c->last_ms = now_ms(w);
        lru_append(c);
        if (c->q) {
            c->answer_due = WOKEN_FETCH; /* after the earlier answers (on_write) */
            continue;
        }
        set_reading(c, 1); /* on_read_held stops reading when its buffer is full */
        conn_serve(c, c->rbuf, c->rlen, WOKEN_FETCH);
    }
}

static void
answer_list(waiter *list)
{
    while (list) {
        waiter *x = list;
        list = x->next;
        answer_held((conn *)((char *)x - offsetof(conn, wt)));
    }
}

/* Answers every complete request in buf[0 .. len) (the worker's read buffer or the
 * connection's own), writes the answers, keeps what is left; 'woken' (WOKEN_*): the
 * first is a held request being answered now. May free 'c'. */
static void
conn_serve(conn *c, char *buf, size_t len, int woken)
{
    static const http_limits lim = {.max_request_line = HTTP_DEFAULT_MAX_REQUEST_LINE,
                                    .max_head = HTTP_DEFAULT_MAX_HEAD};
    worker *w = c->w;
    out *o = w->out;
    size_t used = 0;
    refresh_set(w);
    if (woken == WOKEN_FETCH) { /* attach_serve answers it from the fetch's outcome */
        c->file.pending = c->fetch;
        c->fetch = NULL;
        woken = WOKEN_NONE;
    }
    while (!c->close_after && used < len) {
        if (out_pending(o) > OUT_HIGH_BYTES || out_segments(o) > OUT_HIGH_SEGS) {
            /* Many pipelined requests: write what is ready first. */
            keep_rest(c, buf, used, len);
            int r = flush_shared(c);
            if (r != 0)
                return;
            buf = c->rbuf;
            len = c->rlen;
            used = 0;
            if (!buf)
                break;
        }
        http_request req;
        size_t start = used;
        ssize_t r = http_parse_request(&req, buf + used, len - used, &lim);
        if (r == 0)
            break;
        if (r < 0) {
            route_error(o, (int)-r);
            c->close_after = 1;
            used = len;
            break;
        }
        used += (size_t)r;
        /* We never read bodies, so after one the stream cannot be resynchronised. While
         * draining, every answer is the connection's last (Connection: close). */
        int keep = req.keep_alive && req.content_length <= 0 && !w->draining;
        if (woken == WOKEN_POLL) {
            req.wait_applied = c->wait_s;
            woken = 0;
            route_request(o, &req, w->sets->set, keep);
        } else if (attach_is_path(&req)) {
            /* An attachment: its body is sent from the file after the head (sendfile),
             * so the requests after it wait until it is. */
            route_attachment(o, &req, buf + start, (size_t)r, keep, &c->file);
            if (c->file.pending) { /* to fetch first: answered when it is here */
                hold_fetch(c, buf, start, len);
                return;
            }
            if (!keep)
                c->close_after = 1;
            if (c->file.fd >= 0)
                break;
            continue;
        } else if (req.prefer_wait > 0 && g_opts.long_poll_max_ms >= 1000 && !w->draining) {
            wait_key k;
            if (route_request_or_hold(o, &req, w->sets->set, keep, &k)) {
                hold(c, &k, req.prefer_wait, buf, start, len);
                return;
            }
        } else {
            route_request(o, &req, w->sets->set, keep);
        }
        if (!keep)
            c->close_after = 1;
    }
    keep_rest(c, buf, c->close_after ? len : used, len);
    if (flush_shared(c) != 0)
        return;
    /* What is left is an incomplete head: the header timeout runs from its first
     * byte (a new head if this call answered requests). */
    if (used || !c->rlen)
        heads_unlink(c);
    if (c->rlen)
        heads_add(c);
}

/* A held connection's read: EOF frees it at once (the point of reading while held);
 * pipelined bytes are kept behind the held request, up to one head's worth. */
static void
on_read_held(conn *c)
{
    char *buf = c->w->rbuf;
    size_t room = RBUF_MAX - c->rlen;
    if (room == 0) {
        set_reading(c, 0); /* a full buffer: the answer comes at the deadline anyway */
        return;
    }
    ssize_t n = read(c->fd, buf, room);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free(c);
        return;
    }
    c->rbuf = herald_mem_realloc(c->rbuf, c->rlen + (size_t)n);
    memcpy(c->rbuf + c->rlen, buf, (size_t)n);
    c->rlen += (size_t)n;
    c->rcap = c->rlen;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    conn *c = arg;
    worker *w = c->w;
    char *buf = w->rbuf;
    size_t have = 0, cap = RBUF_MAX;
    if (c->waiting || c->fetching) {
        on_read_held(c);
        return;
    }
    if (c->rlen) { /* continue an incomplete head in the connection's own buffer */
        if (c->rlen == c->rcap) {
            if (c->rcap >= RBUF_MAX) { /* cannot happen: the parser answers 431 first */
                conn_free(c);
                return;
            }
            c->rcap = RBUF_MAX;
            c->rbuf = herald_mem_realloc(c->rbuf, c->rcap);
        }
        buf = c->rbuf;
        have = c->rlen;
        cap = c->rcap;
    }
    ssize_t n = read(fd, buf + have, cap - have);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free(c);
        return;
    }
    touch(c);
    conn_serve(c, buf, have + (size_t)n, 0);
}

/* Closes idle connections and answers 408 to incomplete heads past their time. */
static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    int64_t now = now_ms(w);
    conn *next;
    /* A connection with a request head under way is the header timeout's (a 408), even
     * when the idle timeout is the shorter one. */
    for (conn *c = w->first; c && now - c->last_ms >= g_opts.idle_timeout_ms; c = next) {
        next = c->next;
        if (c->head_ms)
            continue;
        metrics_add(&w->metrics->conn[CE_CLOSED_IDLE], 1);
        conn_free(c);
    }
    for (conn *c = w->heads; c; c = next) {
        next = c->hnext;
        if (now - c->head_ms < g_opts.header_timeout_ms)
            continue;
        /* A slow (or stalled) request head: say why before closing. */
        metrics_add(&w->metrics->conn[CE_CLOSED_HEADER_TIMEOUT], 1);
        heads_unlink(c);
        set_reading(c, 0);
        c->rlen = 0;
        c->close_after = 1;
        route_error(w->out, 408);
        (void)flush_shared(c);
    }
    if (wait_count(w->waits))
        answer_list(wait_take_expired(w->waits, herald_clock_mono_ms()));
}

static int
stale(const wait_key *k, void *arg)
{
    return route_wait_stale(k, arg);
}

/* A set was published: answer the waiters whose version it changed. */
static void
on_notify(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    worker *w = arg;
    uint64_t v;
    ssize_t rd = read(fd, &v, sizeof(v)); /* resets the eventfd's counter */
    (void)rd;
    refresh_set(w);
    if (wait_count(w->waits))
        answer_list(wait_take_stale(w->waits, stale, w->sets->set));
    if (w->fetching)
        answer_fetched(w);
}

/* snapset_publish()'s hook, on the publishing thread, and attach_on_fetched()'s, on a
 * fetch thread: wakes every worker (on_notify). */
static void
on_publish(void)
{
    uint64_t one = 1;
    for (int i = 0; i < g_nworkers; i++) {
        ssize_t wr = write(g_workers[i].efd, &one, sizeof(one));
        (void)wr; /* EAGAIN: the counter is already non-zero, a wake-up is pending */
    }
}

/* encode_on_ready()'s hook, on the upgrader thread: a body got its compressed
 * encodings, which held requests of a new version may be waiting for (routes.h
 * route_wait_stale()). Nothing to do while nothing is held. */
static void
on_encoded(void)
{
    if (wait_held_total() > 0)
        on_publish();
}

/* Accepts up to ACCEPT_BATCH connections and serves what they sent. Returns 1 when
 * more may be waiting, 0 when the queue is empty (or accept fails). */
static int
accept_batch(worker *w)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = herald_accept(&w->acc, w->lfd);
        if (fd < 0)
            return 0; /* nothing more now, or paused (out of file descriptors) */
        if (status_conn_open() >= g_opts.max_conns) {
            status_conn_close();
            metrics_add(&w->metrics->conn[CE_REJECTED_CAP], 1);
            close(fd);
            continue;
        }
        metrics_add(&w->metrics->conn[CE_ACCEPTED], 1);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn *c = herald_mem_calloc(1, sizeof(*c));
        c->file.fd = -1;
        c->w = w;
        c->fd = fd;
        c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, c);
        if (!c->rev) {
            herald_error("event_new failed");
            close(fd);
            free(c);
            status_conn_close();
            continue;
        }
        c->last_ms = now_ms(w);
        lru_append(c);
        set_reading(c, 1);
        /* With TCP_DEFER_ACCEPT the request is usually there already. */
        on_read(fd, EV_READ, c);
    }
    return 1;
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)lfd;
    (void)what;
    (void)accept_batch(arg);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    event_base_loopbreak(w->base);
}

/*
 * Graceful shutdown (SIGTERM), as nginx does it: take what the kernel already accepted
 * (with TCP_DEFER_ACCEPT those connections have sent their request), close the
 * listener so new connections are refused, close idle keep-alive connections, and let
 * the others finish: a response being written is written to the end, a request head
 * being received is answered (with Connection: close, like every answer from now on).
 * The worker's loop ends when its last connection closes, or at the drain deadline,
 * after which server_stop() closes whatever is left.
 */
static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    w->draining = 1;
    /* Held long-polls are answered now (304 unless their version just changed), with
     * Connection: close, then drain like any other answer being written. */
    answer_list(wait_take_all(w->waits));
    if (w->lfd >= 0) {
        while (accept_batch(w))
            ;
        herald_accept_free(&w->acc); /* a pause must not put the closed listener back */
        event_del(w->lev);
        close(w->lfd);
        w->lfd = -1;
    }
    conn *next;
    for (conn *c = w->first; c; c = next) {
        next = c->next;
        (void)drain_idle(c);
    }
    w->draining = 2;
    if (!w->first && !w->fetching) {
        event_base_loopbreak(w->base);
        return;
    }
    struct timeval tv = {g_opts.drain_timeout_ms / 1000, (g_opts.drain_timeout_ms % 1000) * 1000};
    w->deadline_ev = event_new(w->base, -1, 0, on_deadline, w);
    if (!w->deadline_ev || event_add(w->deadline_ev, &tv) < 0)
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
        g_workers[i].lfd = g_workers[i].efd = -1;
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
    struct timeval sweep = {0, SWEEP_MS * 1000};
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
        w->metrics = metrics_shard_new();
        w->out = out_new(w->metrics);
        w->rbuf = herald_mem_alloc(RBUF_MAX);
        w->lev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, on_accept, w);
        w->stop_ev = event_new(w->base, g_stop_pipe[0], EV_READ, on_stop, w);
        w->sweep_ev = event_new(w->base, -1, EV_PERSIST, on_sweep, w);
        w->waits = wait_reg_new(o->long_poll_max_ms);
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->notify_ev =
            w->efd >= 0 ? event_new(w->base, w->efd, EV_READ | EV_PERSIST, on_notify, w) : NULL;
        if (!w->lev || !w->stop_ev || !w->sweep_ev || !w->notify_ev ||
            event_add(w->notify_ev, NULL) < 0 || herald_accept_init(&w->acc, w->base, w->lev) < 0 ||
            event_add(w->lev, NULL) < 0 || event_add(w->stop_ev, NULL) < 0 ||
            event_add(w->sweep_ev, &sweep) < 0)
            goto fail;
        refresh_set(w);
        if (!w->sets) {
            herald_error("no snapshot set published before starting the workers");
            goto fail;
        }
    }
    freeaddrinfo(ai);
    ai = NULL;
    snapset_on_publish(on_publish);
    encode_on_ready(on_encoded);
    attach_on_fetched(on_publish);
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
    snapset_on_publish(NULL); /* same thread as the publisher: no wake-up after this */
    encode_on_ready(NULL);    /* returns once no call is in flight */
    if (g_stop_pipe[1] >= 0) {
        ssize_t wr = write(g_stop_pipe[1], "x", 1); /* level-triggered: wakes every worker */
        (void)wr;
    }
    /* Fetches that end while the workers drain still wake them: the hook goes after. */
    for (int i = 0; i < g_nworkers; i++) {
        if (g_workers[i].started)
            pthread_join(g_workers[i].thread, NULL);
        g_workers[i].started = 0;
    }
    attach_on_fetched(NULL); /* returns once no call is in flight */
    for (int i = 0; i < g_nworkers; i++) {
        worker *w = &g_workers[i];
        int cut = 0;
        for (conn *c = w->first; c; c = c->next)
            cut++;
        for (conn *c = w->fetching; c; c = c->fnext)
            cut++;
        if (cut)
            herald_warn("worker %d: drain deadline passed: closing %d unfinished connection(s)", i,
                        cut);
        w->draining = 0; /* no loopbreak from conn_free: the loop has ended */
        for (waiter *x = w->waits ? wait_take_all(w->waits) : NULL, *next; x; x = next) {
            next = x->next;
            conn *c = (conn *)((char *)x - offsetof(conn, wt));
            c->waiting = 0;
            lru_append(c); /* freed with the others below */
        }
        while (w->fetching) {
            conn *c = w->fetching;
            fetching_unlink(c);
            lru_append(c); /* freed with the others below */
        }
        while (w->first)
            conn_free(w->first);
        wait_reg_free(w->waits);
        if (w->notify_ev)
            event_free(w->notify_ev);
        if (w->efd >= 0)
            close(w->efd);
        while (w->sets) {
            held *h = w->sets;
            w->sets = h->next;
            snapset_release(h->set);
            free(h);
        }
        herald_accept_free(&w->acc);
        if (w->lev)
            event_free(w->lev);
        if (w->stop_ev)
            event_free(w->stop_ev);
        if (w->sweep_ev)
            event_free(w->sweep_ev);
        if (w->deadline_ev)
            event_free(w->deadline_ev);
        out_free(w->out);
        free(w->rbuf);
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
