/*
 * attach -- see attach.h for the design.
 */
#include "attach.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/castore.h"
#include "herald/httpc.h"
#include "herald/httpdate.h"
#include "herald/kerror.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "reply.h"

static herald_castore *g_store;
static char *g_origin;
static int g_timeout_ms;
static atomic_llong g_served, g_fetched, g_refused;

int
attach_configure(const attach_opts *o)
{
    char err[512];
    if (!o->dir || !*o->dir)
        return 0;
    g_store = herald_castore_open(o->dir, err, sizeof(err));
    if (!g_store) {
        herald_error("attachments_dir: %s", err);
        return -1;
    }
    if (o->origin && *o->origin) {
        size_t n = strlen(o->origin);
        g_origin = herald_mem_alloc(n + 2);
        snprintf(g_origin, n + 2, "%s%s", o->origin, o->origin[n - 1] == '/' ? "" : "/");
    }
    g_timeout_ms = o->fetch_timeout_ms > 0 ? o->fetch_timeout_ms : 300000;
    /* Once, before the workers start (curl_global_init is not thread-safe). */
    if (g_origin && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        herald_error("attachment_origin: cannot initialize libcurl");
        return -1;
    }
    return 0;
}

void
attach_unconfigure(void)
{
    if (g_origin)
        curl_global_cleanup();
    herald_castore_close(g_store);
    g_store = NULL;
    free(g_origin);
    g_origin = NULL;
}

void
attach_stats(int64_t *served, int64_t *fetched, int64_t *refused)
{
    *served = atomic_load(&g_served);
    *fetched = atomic_load(&g_fetched);
    *refused = atomic_load(&g_refused);
}

int
attach_is_path(const http_request *req)
{
    size_t n = sizeof(ATTACH_PREFIX) - 1;
    return req->path.len >= n && memcmp(req->path.p, ATTACH_PREFIX, n) == 0;
}

/* The value of header 'name' in the raw head, or NULL ('*len' set). */
static const char *
find_header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        const char *l = eol + 1;
        const char *le = memchr(l, '\n', (size_t)(end - l));
        if (!le)
            le = end;
        if ((size_t)(le - l) > nl && l[nl] == ':' && strncasecmp(l, name, nl) == 0) {
            const char *v = l + nl + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

static int
parse_u64(const char *p, const char *end, int64_t *v)
{
    if (p == end)
        return -1;
    int64_t x = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || x > (INT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (*p - '0');
    }
    *v = x;
    return 0;
}

/* RFC 9110 14.1.2, one range of "bytes=". Returns 1 with [*from, *to] (inclusive), 0
 * when the header is to be ignored (absent, malformed, several ranges), -1 when
 * unsatisfiable. */
static int
parse_range(const char *v, size_t n, int64_t size, int64_t *from, int64_t *to)
{
    if (!v || n < 7 || strncasecmp(v, "bytes=", 6) != 0 || memchr(v, ',', n))
        return 0;
    const char *p = v + 6, *end = v + n;
    const char *dash = memchr(p, '-', (size_t)(end - p));
    if (!dash)
        return 0;
    int64_t a, b;
    if (dash == p) { /* suffix: the last b bytes */
        if (parse_u64(dash + 1, end, &b) != 0)
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (parse_u64(p, dash, &a) != 0)
        return 0;
    if (dash + 1 == end)
        b = size - 1;
    else if (parse_u64(dash + 1, end, &b) != 0 || b < a)
        return 0;
    if (a >= size)
        return -1;
    *from = a;
    *to = b >= size ? size - 1 : b;
    return 1;
}

/* The media type of 'hash' at the origin ("<hash>.type", see attach_serve), recorded
 * when it has one: best effort, a file without it is served as octet-stream. */
static void
fetch_type(const char *hash)
{
    char url[4096], err[256];
    int status = 0;
    herald_buf body = HERALD_BUF_INIT;
    snprintf(url, sizeof(url), "%s%.2s/%s.type", g_origin, hash, hash);
    if (herald_httpc_get(url, g_timeout_ms, &status, &body, err, sizeof(err)) == 0 &&
        status == 200 && herald_castore_valid_type(body.data ? body.data : "", body.len)) {
        herald_buf_putc(&body, '\0');
        if (herald_castore_set_type(g_store, hash, body.data) != 0)
            herald_warn("attachment %s: cannot record its type: %s", hash, strerror(errno));
    }
    herald_buf_free(&body);
}

/* The transfer of one fetch: the body goes to the store's writer as it arrives. */
typedef struct fetch_sink {
    herald_castore_writer *w;
    int failed; /* a write to the store failed (errno in 'err') */
    int err;
} fetch_sink;

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    fetch_sink *k = arg;
    size_t len = size * n;
    if (herald_castore_size(k->w) + (int64_t)len > (int64_t)HERALD_HTTPC_MAX_BODY ||
        herald_castore_write(k->w, p, len) != 0) {
        k->failed = 1;
        k->err = errno;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return len;
}

/* Fetches 'hash' from the origin into the store, checked. The body is streamed into a
 * temporary file of the store while it is hashed (castore.h), never held in memory;
 * the file gets its name only if its SHA-256 is 'hash'. Returns 0, or -1 (logged). */
static int
fetch(const char *hash)
{
    char url[4096];
    long status = 0;
    snprintf(url, sizeof(url), "%s%.2s/%s", g_origin, hash, hash);
    fetch_sink k = {.w = herald_castore_begin(g_store)};
    if (!k.w) {
        herald_error("attachment %s: cannot store: %s", hash, strerror(errno));
        return -1;
    }
    CURL *c = curl_easy_init();
    CURLcode rc = CURLE_FAILED_INIT;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)g_timeout_ms);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
    }
    if (rc != CURLE_OK || status != 200) {
        if (k.failed)
            herald_error("attachment %s: cannot store: %s", hash,
                         k.err ? strerror(k.err) : "too large");
        else
            herald_warn("attachment %s: origin %s: %s", hash, url,
                        rc != CURLE_OK ? curl_easy_strerror(rc) : "not 200");
        herald_castore_abort(k.w);
        return -1;
    }
    fetch_type(hash); /* before the file appears: never served without its type */
    if (herald_castore_commit_expect(k.w, hash) != 0) {
        if (errno == EBADMSG) {
            atomic_fetch_add(&g_refused, 1);
            herald_warn("attachment %s: the origin's file has another SHA-256: refused", hash);
        } else {
            herald_error("attachment %s: cannot store: %s", hash, strerror(errno));
        }
        return -1;
    }
    atomic_fetch_add(&g_fetched, 1);
    herald_info("attachment %s: fetched from the origin", hash);
    return 0;
}

/* What a response names: its validator and caching. */
typedef struct resource {
    char etag[80]; /* with its quotes */
    const char *cache_control;
    const char *type;
    char last_modified[HERALD_HTTPDATE_LEN + 1]; /* "" when not sent */
} resource;

static void
common_headers(out *o, const resource *rs)
{
    out_puts(o, "ETag: ");
    out_puts(o, rs->etag);
    out_puts(o, "\r\nCache-Control: ");
    out_puts(o, rs->cache_control);
    out_puts(o, "\r\nAccept-Ranges: bytes\r\nAccess-Control-Allow-Origin: *\r\n");
    if (rs->last_modified[0]) {
        out_puts(o, "Last-Modified: ");
        out_puts(o, rs->last_modified);
        out_puts(o, "\r\n");
    }
}

/* Answers 'req' from the open file 'fd' of 'size' bytes (takes 'fd'). */
static int
serve_fd(out *o, const http_request *req, const char *head, size_t head_len, int keep_alive,
         attach_body *body, int fd, int64_t size, const resource *rs)
{
    int is_head = req->method == HTTP_METHOD_HEAD;
    size_t el = strlen(rs->etag);
    if (req->has_if_none_match) {
        const char *v = req->if_none_match.p;
        size_t n = req->if_none_match.len;
        if ((n == 1 && v[0] == '*') || (n >= el && memmem(v, n, rs->etag, el))) {
            close(fd);
            reply_status_line(o, 304);
            common_headers(o, rs);
            reply_end_headers(o, keep_alive);
            return 304;
        }
    }
    size_t rl = 0, il = 0;
    const char *rv = find_header(head, head_len, "Range", &rl);
    const char *iv = find_header(head, head_len, "If-Range", &il);
    if (iv && !(il == el && memcmp(iv, rs->etag, el) == 0))
        rv = NULL; /* If-Range names another version: the whole file */
    int64_t from = 0, to = size - 1;
    int r = parse_range(rv, rl, size, &from, &to);
    if (r < 0) {
        close(fd);
        reply_status_line(o, 416);
        common_headers(o, rs);
        out_puts(o, "Content-Range: bytes */");
        out_i64(o, size);
        out_puts(o, "\r\n");
        reply_content_length(o, 0);
        reply_end_headers(o, keep_alive);
        return 416;
    }
    int status = r > 0 ? 206 : 200;
    reply_status_line(o, status);
    common_headers(o, rs);
    out_puts(o, "Content-Type: ");
    out_puts(o, rs->type);
    out_puts(o, "\r\n");
    if (r > 0) {
        out_puts(o, "Content-Range: bytes ");
        out_i64(o, from);
        out_puts(o, "-");
        out_i64(o, to);
        out_puts(o, "/");
        out_i64(o, size);
        out_puts(o, "\r\n");
    }
    int64_t len = size ? to - from + 1 : 0;
    reply_content_length(o, (size_t)len);
    reply_end_headers(o, keep_alive);
    atomic_fetch_add(&g_served, 1);
    if (is_head || len == 0) {
        close(fd);
        return status;
    }
    body->fd = fd;
    body->off = from;
    body->len = len;
    return status;
}

/* A bundle (castore.h): served from this server's directory only, never fetched from
 * the origin (docs/attachments.md). It is replaced in place when rebuilt, so its ETag
 * is its mtime and size, and it is cached for an hour, not forever. */
static int
serve_bundle(out *o, const http_request *req, const char *head, size_t head_len, int keep_alive,
             attach_body *body, const char *name)
{
    char path[4400];
    struct stat st;
    int is_head = req->method == HTTP_METHOD_HEAD;
    int fd = herald_castore_bundle_path(g_store, name, path, sizeof(path)) == 0
                 ? open(path, O_RDONLY | O_CLOEXEC)
                 : -1;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_not_found(o, keep_alive, is_head, NULL, NULL, 0);
    }
    resource rs = {.cache_control = "public, max-age=3600", .type = "application/zip"};
    snprintf(rs.etag, sizeof(rs.etag), "\"%llx-%llx\"",
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st.st_mtim.tv_nsec,
             (unsigned long long)st.st_size);
    herald_httpdate_format(rs.last_modified, (int64_t)st.st_mtim.tv_sec);
    return serve_fd(o, req, head, head_len, keep_alive, body, fd, (int64_t)st.st_size, &rs);
}

int
attach_serve(out *o, const http_request *req, const char *head, size_t head_len, int keep_alive,
             attach_body *body)
{
    char hash[HERALD_CASTORE_HASH_LEN + 1];
    char type[HERALD_CASTORE_TYPE_MAX + 1];
    char bname[HERALD_CASTORE_BUNDLE_NAME_MAX + 1];
    int is_head = req->method == HTTP_METHOD_HEAD;
    size_t tl = sizeof(".type") - 1;
    body->fd = -1;
    if (g_store && req->path.len > tl &&
        memcmp(req->path.p + req->path.len - tl, ".type", tl) == 0 &&
        herald_castore_url_hash(req->path.p, req->path.len - tl, ATTACH_PREFIX, hash) == 0) {
        /* The recorded media type, for read servers fetching from this one. */
        if (herald_castore_get_type(g_store, hash, type) != 0)
            return reply_not_found(o, keep_alive, is_head, NULL, NULL, 0);
        return reply_plain(o, req, 200, "text/plain", type, strlen(type), keep_alive);
    }
    if (g_store && herald_castore_url_bundle(req->path.p, req->path.len, ATTACH_PREFIX, bname) == 0)
        return serve_bundle(o, req, head, head_len, keep_alive, body, bname);
    if (!g_store || herald_castore_url_hash(req->path.p, req->path.len, ATTACH_PREFIX, hash) != 0)
        return reply_not_found(o, keep_alive, is_head, NULL, NULL, 0);
    int64_t size = 0;
    int fd = herald_castore_open_file(g_store, hash, &size);
    if (fd < 0 && errno == ENOENT && g_origin) {
        if (fetch(hash) != 0)
            return reply_error(o, 502, HERALD_ERRNO_UNDEFINED,
                               "The attachment could not be fetched from the origin", NULL,
                               keep_alive, is_head);
        fd = herald_castore_open_file(g_store, hash, &size);
    }
    if (fd < 0)
        return reply_not_found(o, keep_alive, is_head, NULL, NULL, 0);
    resource rs = {.cache_control = "public, max-age=31536000, immutable",
                   .type = herald_castore_get_type(g_store, hash, type) == 0
                               ? type
                               : "application/octet-stream"};
    snprintf(rs.etag, sizeof(rs.etag), "\"%s\"", hash);
    return serve_fd(o, req, head, head_len, keep_alive, body, fd, size, &rs);
}
