/*
 * out -- see out.h. Appending never calls the allocator once the write buffer and the
 * segment array have grown to a worker's usual burst: both are reset, not freed,
 * between callbacks.
 */
#include "out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "herald/mem.h"

#define IOV_BATCH 64

typedef struct seg {
    const char *ext; /* NULL: wbuf[off .. off + len) */
    size_t off;
    size_t len;
} seg;

struct out {
    metrics_shard *m;
    herald_buf wbuf;
    seg *segs;
    size_t nsegs, segcap;
    size_t head;     /* first unwritten segment */
    size_t head_off; /* bytes of segs[head] already written */
    size_t pending;  /* bytes queued and not written */
    int uses_set;    /* an ext segment references set memory */
};

out *
out_new(metrics_shard *m)
{
    out *o = herald_mem_calloc(1, sizeof(*o));
    o->m = m;
    return o;
}

void
out_free(out *o)
{
    if (!o)
        return;
    herald_buf_free(&o->wbuf);
    free(o->segs);
    free(o);
}

metrics_shard *
out_metrics(const out *o)
{
    return o->m;
}

size_t
out_pending(const out *o)
{
    return o->pending;
}

size_t
out_segments(const out *o)
{
    return o->nsegs;
}

int
out_uses_set(const out *o)
{
    return o->uses_set;
}

static seg *
push_seg(out *o)
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
    if (o->wbuf.cap - o->wbuf.len > n) { /* the common case: no growth, no call */
        memcpy(o->wbuf.data + o->wbuf.len, p, n);
        o->wbuf.len += n;
    } else {
        herald_buf_append(&o->wbuf, p, n);
    }
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

out_mark
out_mark_get(const out *o)
{
    out_mark m = {o->nsegs, o->nsegs ? o->segs[o->nsegs - 1].len : 0, o->wbuf.len, o->pending,
                  o->uses_set};
    return m;
}

void
out_truncate(out *o, const out_mark *m)
{
    o->nsegs = m->nsegs;
    if (m->nsegs)
        o->segs[m->nsegs - 1].len = m->last_len; /* a copy may have extended it */
    o->wbuf.len = m->wlen;
    o->pending = m->pending;
    o->uses_set = m->uses_set;
}

void
out_reset(out *o)
{
    herald_buf_reset(&o->wbuf);
    o->nsegs = o->head = o->head_off = o->pending = 0;
    o->uses_set = 0;
}

/* Marks 'n' written bytes as done. */
static void
advance(out *o, size_t n)
{
    o->pending -= n;
    if (o->m)
        metrics_add(&o->m->bytes_out, n);
    while (n > 0) {
        seg *s = &o->segs[o->head];
        size_t rest = s->len - o->head_off;
        if (n < rest) {
            o->head_off += n;
            n = 0;
        } else {
            n -= rest;
            o->head++;
            o->head_off = 0;
        }
    }
}

int
out_write(out *o, int fd)
{
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
        ssize_t wr = n == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len) : writev(fd, iov, n);
        if (wr < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        }
        advance(o, (size_t)wr);
    }
    return 0;
}

void
out_move(out *dst, out *src)
{
    for (size_t i = src->head; i < src->nsegs; i++) {
        const seg *s = &src->segs[i];
        size_t skip = i == src->head ? src->head_off : 0;
        if (s->ext)
            out_ref(dst, s->ext + skip, s->len - skip);
        else
            out_copy(dst, src->wbuf.data + s->off + skip, s->len - skip);
    }
    out_reset(src);
}
