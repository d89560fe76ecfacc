/*
 * reply -- see reply.h.
 *
 * The operator's Backoff (status.h) is added where every head ends (end_head for
 * versioned responses, whose prebuilt heads cannot know it; reply_end_headers for the
 * rest), so no response misses it and the prebuilt heads stay valid; when it is off the
 * cost is one relaxed load and a branch.
 */
#include "reply.h"

#include <string.h>

#include "herald/kerror.h"
#include "herald/mem.h"
#include "metrics.h"
#include "status.h"

#define COPY_MAX 8192 /* bodies up to this size are copied: one write() beats writev() */

#define ENC_HEADER_LEN (sizeof("Content-Encoding: gzip\r\n") - 1) /* zstd: same length */
static const char *const ENC_HEADER[ENC_COUNT] = {
    "",
    "Content-Encoding: gzip\r\n",
    "Content-Encoding: zstd\r\n",
};

static void
out_slice(out *o, const void *p, size_t n)
{
    if (n <= COPY_MAX)
        out_copy(o, p, n);
    else
        out_ref(o, p, n);
}

void
reply_status_line(out *o, int status)
{
    out_puts(o, "HTTP/1.1 ");
    out_i64(o, status);
    out_copy(o, " ", 1);
    out_puts(o, herald_kerror_reason(status));
    out_copy(o, "\r\n", 2);
}

void
reply_end_headers(out *o, int keep_alive)
{
    int backoff = status_backoff();
    if (backoff > 0) {
        /* Versioned heads expose Backoff with their other headers; these have no list. */
        out_puts(o, "Backoff: ");
        out_i64(o, backoff);
        out_puts(o, "\r\nAccess-Control-Expose-Headers: Backoff\r\n");
    }
    if (!keep_alive)
        out_puts(o, "Connection: close\r\n");
    else if (keep_alive == 2)
        out_puts(o, "Connection: keep-alive\r\n");
    out_copy(o, "\r\n", 2);
}

void
reply_content_length(out *o, size_t n)
{
    out_puts(o, "Content-Length: ");
    out_i64(o, (int64_t)n);
    out_copy(o, "\r\n", 2);
}

int
reply_error(out *o, int status, int errnum, const char *message, const json_t *details,
            int keep_alive, int head)
{
    herald_buf body = HERALD_BUF_INIT; /* errors are rare: an allocation is fine here */
    herald_kerror_body(&body, status, errnum, message, details);
    reply_status_line(o, status);
    out_puts(o, "Content-Type: application/json\r\n"
                "Access-Control-Allow-Origin: *\r\n"
                "Cache-Control: no-cache\r\n");
    if (status == 405)
        out_puts(o, "Allow: GET, HEAD, OPTIONS\r\n");
    reply_content_length(o, body.len);
    reply_end_headers(o, keep_alive);
    if (!head)
        out_copy(o, body.data, body.len);
    herald_buf_free(&body);
    return status;
}

int
reply_not_found(out *o, int keep_alive, int head, const char *resource, const char *id,
                size_t id_len)
{
    json_t *details = NULL;
    if (resource)
        details = json_pack("{s:s%,s:s}", "id", id, id_len, "resource_name", resource);
    reply_error(o, 404, HERALD_ERRNO_MISSING_RESOURCE,
                "The resource you are looking for could not be found.", details, keep_alive, head);
    json_decref(details);
    return 404;
}

/* Writes the decimal digits of 'v' at 'p'; returns the end. */
static char *
put_u64(char *p, uint64_t v)
{
    char tmp[24], *t = tmp + sizeof(tmp);
    do {
        *--t = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(p, t, (size_t)(tmp + sizeof(tmp) - t));
    return p + (tmp + sizeof(tmp) - t);
}

/* The end of a head: Content-Length (unless 'len' is (size_t)-1), Backoff when set,
 * Preference-Applied when the request was held for its wait preference, the Connection
 * line 'keep_alive' asks for, the empty line; one copy (at most 16 + 20 + 2, 9 + 10 + 2,
 * 25 + 20 + 2 + 51, 24 and 2 bytes). */
static void
end_head(out *o, const http_request *req, size_t len, int keep_alive)
{
    char buf[256], *p = buf;
    if (len != (size_t)-1) {
        memcpy(p, "Content-Length: ", 16);
        p = put_u64(p + 16, len);
        *p++ = '\r';
        *p++ = '\n';
    }
    int backoff = status_backoff();
    if (backoff > 0) {
        memcpy(p, "Backoff: ", 9);
        p = put_u64(p + 9, (uint64_t)backoff);
        *p++ = '\r';
        *p++ = '\n';
    }
    if (req->wait_applied > 0) {
        /* RFC 7240 3; a separate Expose line adds to the prebuilt head's list. */
        memcpy(p, "Preference-Applied: wait=", 25);
        p = put_u64(p + 25, (uint64_t)req->wait_applied);
        memcpy(p, "\r\nAccess-Control-Expose-Headers: Preference-Applied\r\n", 53);
        p += 53;
    }
    if (!keep_alive) {
        memcpy(p, "Connection: close\r\n", 19);
        p += 19;
    } else if (keep_alive == 2) {
        memcpy(p, "Connection: keep-alive\r\n", 24);
        p += 24;
    }
    *p++ = '\r';
    *p++ = '\n';
    out_copy(o, buf, (size_t)(p - buf));
}

static int
not_modified(out *o, const http_request *req, const vhdr *hdr, int keep_alive)
{
    if (!req->has_if_none_match ||
        !http_etag_match_tag(req->if_none_match, hdr->etag, hdr->etag_len))
        return 0;
    out_copy(o, hdr->b.data, hdr->split);
    end_head(o, req, (size_t)-1, keep_alive);
    return 1;
}

int
reply_body(out *o, const http_request *req, const vhdr *hdr, const payload *b, int keep_alive)
{
    if (not_modified(o, req, hdr, keep_alive))
        return 304;
    const char *data = b->data;
    size_t len = b->len;
    int enc = ENC_IDENTITY;
    if (req->has_accept_encoding) {
        const encoded *gz = payload_get(b, ENC_GZIP), *zs = payload_get(b, ENC_ZSTD);
        unsigned avail = (gz ? HTTP_ENC_GZIP : 0) | (zs ? HTTP_ENC_ZSTD : 0);
        if (avail) {
            int pick = http_accept_pick(req->accept_encoding, avail);
            const encoded *e = pick == HTTP_ENC_ZSTD ? zs : pick == HTTP_ENC_GZIP ? gz : NULL;
            if (e) {
                enc = pick == HTTP_ENC_ZSTD ? ENC_ZSTD : ENC_GZIP;
                data = e->data;
                len = e->len;
            }
        }
    }
    out_copy(o, hdr->b.data + hdr->split, hdr->b.len - hdr->split);
    if (enc != ENC_IDENTITY)
        out_copy(o, ENC_HEADER[enc], ENC_HEADER_LEN);
    end_head(o, req, len, keep_alive);
    if (req->method != HTTP_METHOD_HEAD) {
        out_slice(o, data, len);
        metrics_add(&out_metrics(o)->enc[enc], 1);
    }
    return 200;
}

int
reply_slices(out *o, const http_request *req, const vhdr *hdr, const char *a, size_t alen,
             const char *b, size_t blen, const char *c, size_t clen, int keep_alive)
{
    if (not_modified(o, req, hdr, keep_alive))
        return 304;
    out_copy(o, hdr->b.data + hdr->split, hdr->b.len - hdr->split);
    end_head(o, req, alen + blen + clen, keep_alive);
    if (req->method == HTTP_METHOD_HEAD)
        return 200;
    out_slice(o, a, alen);
    out_slice(o, b, blen);
    out_slice(o, c, clen);
    metrics_add(&out_metrics(o)->enc[ENC_IDENTITY], 1);
    return 200;
}

int
reply_bytes(out *o, const http_request *req, const vhdr *hdr, const char *extra, const char *data,
            size_t len, int keep_alive)
{
    if (not_modified(o, req, hdr, keep_alive))
        return 304;
    out_copy(o, hdr->b.data + hdr->split, hdr->b.len - hdr->split);
    if (extra)
        out_puts(o, extra);
    end_head(o, req, len, keep_alive);
    if (req->method != HTTP_METHOD_HEAD) {
        out_copy(o, data, len); /* computed for this request: it does not outlive it */
        metrics_add(&out_metrics(o)->enc[ENC_IDENTITY], 1);
    }
    return 200;
}

int
reply_plain(out *o, const http_request *req, int status, const char *type, const char *body,
            size_t len, int keep_alive)
{
    reply_status_line(o, status);
    out_puts(o, "Content-Type: ");
    out_puts(o, type);
    out_puts(o, "\r\nCache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n");
    reply_content_length(o, len);
    reply_end_headers(o, keep_alive);
    if (req->method != HTTP_METHOD_HEAD)
        out_copy(o, body, len);
    return status;
}

int
reply_preflight(out *o, int keep_alive)
{
    out_puts(o, "HTTP/1.1 200 OK\r\n"
                "Access-Control-Allow-Origin: *\r\n"
                "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
                "Access-Control-Allow-Headers: If-None-Match, Content-Type, Prefer\r\n"
                "Access-Control-Max-Age: 86400\r\n"
                "Content-Length: 0\r\n");
    reply_end_headers(o, keep_alive);
    return 200;
}
