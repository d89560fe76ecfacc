/*
 * attach -- see attach.h for the design.
 */
#include "attach.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/castore.h"
#include "herald/clock.h"
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

/*
 * Media types of served files, by hash: without it each response opened the file's
 * ".type" sidecar (castore.h), or failed to, one more openat (and a read and a close)
 * per request. Direct-mapped, TYPE_SLOTS entries, one lock held for a copy. A recorded
 * type is written once and never changed, but it may appear after the file (the
 * publisher records it just after committing; a later upload of the same bytes may name
 * one where there was none) and it goes with the file when garbage collection removes
 * both (the same bytes uploaded again may carry another); so an entry is trusted for
 * TYPE_FOUND_MS when a type was found, TYPE_NONE_MS when none was, then looked up again:
 * a stale answer lasts that long at most, against the 30 days a file must be orphaned
 * before it can go.
 */
#define TYPE_SLOTS 256
#define TYPE_FOUND_MS 60000
#define TYPE_NONE_MS 1000

typedef struct type_slot {
    char hash[HERALD_CASTORE_HASH_LEN]; /* all zero: empty */
    int found;
    int64_t until_ms; /* looked up again from then on */
    char type[HERALD_CASTORE_TYPE_MAX + 1];
} type_slot;

static type_slot g_types[TYPE_SLOTS];
static pthread_mutex_t g_tmu = PTHREAD_MUTEX_INITIALIZER;

/* As herald_castore_get_type, through the cache: 0 with 'dst', or -1 (none recorded). */
static int
cached_type(const char *hash, char dst[HERALD_CASTORE_TYPE_MAX + 1])
{
    /* The hash is hex SHA-256: any of its bytes spread evenly; two hex digits a slot. */
    unsigned i = 0;
    for (int k = 2; k < 4; k++)
        i = i * 16 + (unsigned)(hash[k] <= '9' ? hash[k] - '0' : (hash[k] | 0x20) - 'a' + 10);
    type_slot *t = &g_types[i % TYPE_SLOTS];
    int64_t now = herald_clock_mono_ms();
    pthread_mutex_lock(&g_tmu);
    if (memcmp(t->hash, hash, HERALD_CASTORE_HASH_LEN) == 0 && now < t->until_ms) {
        int found = t->found;
        if (found)
            memcpy(dst, t->type, sizeof(t->type));
        pthread_mutex_unlock(&g_tmu);
        return found ? 0 : -1;
    }
    pthread_mutex_unlock(&g_tmu);
    int found = herald_castore_get_type(g_store, hash, dst) == 0;
    pthread_mutex_lock(&g_tmu);
    memcpy(t->hash, hash, HERALD_CASTORE_HASH_LEN);
    t->found = found;
    t->until_ms = now + (found ? TYPE_FOUND_MS : TYPE_NONE_MS);
    if (found)
        memcpy(t->type, dst, sizeof(t->type));
    pthread_mutex_unlock(&g_tmu);
    return found ? 0 : -1;
}

/* Fetch outcomes, as attach_fetch.state. */
enum { FETCH_RUNNING = 0, FETCH_OK = 200 }; /* else the status to answer: 502, 504 */

struct attach_fetch {
    char hash[HERALD_CASTORE_HASH_LEN + 1];
    int refs;                  /* the fetch thread's, and one per waiting request; under g_fmu */
    int state;                 /* FETCH_RUNNING, FETCH_OK or a status; under g_fmu */
    struct attach_fetch *next; /* in g_running while running */
};

/* Fetches under way, their count, the hook, and shutdown: all under g_fmu. */
static pthread_mutex_t g_fmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_fcond = PTHREAD_COND_INITIALIZER; /* a fetch thread ended */
static attach_fetch *g_running;
static int g_nrunning;
static void (*g_on_fetched)(void);
static atomic_int g_stopping; /* read by the transfers' progress callbacks */

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
    /* Fetches under way are aborted (progress callback) and waited for: they use the
     * store and the origin freed below. */
    atomic_store(&g_stopping, 1);
    pthread_mutex_lock(&g_fmu);
    while (g_nrunning > 0)
        pthread_cond_wait(&g_fcond, &g_fmu);
    pthread_mutex_unlock(&g_fmu);
    atomic_store(&g_stopping, 0);
    if (g_origin)
        curl_global_cleanup();
    herald_castore_close(g_store);
    g_store = NULL;
    pthread_mutex_lock(&g_tmu);
    memset(g_types, 0, sizeof(g_types));
    pthread_mutex_unlock(&g_tmu);
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

/* Aborts a transfer when the server stops. */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)arg;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return atomic_load(&g_stopping) ? 1 : 0;
}

/* Fetches 'hash' from the origin into the store, checked. The body is streamed into a
 * temporary file of the store while it is hashed (castore.h), never held in memory;
 * the file gets its name only if its SHA-256 is 'hash'. Runs on a fetch thread.
 * Returns FETCH_OK, 504 (the origin timed out) or 502 (any other failure; logged). */
static int
fetch(const char *hash)
{
    char url[4096];
    long status = 0;
    snprintf(url, sizeof(url), "%s%.2s/%s", g_origin, hash, hash);
    fetch_sink k = {.w = herald_castore_begin(g_store)};
    if (!k.w) {
        herald_error("attachment %s: cannot store: %s", hash, strerror(errno));
        return 502;
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
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
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
        return rc == CURLE_OPERATION_TIMEDOUT ? 504 : 502;
    }
    fetch_type(hash); /* before the file appears: never served without its type */
    if (herald_castore_commit_expect(k.w, hash) != 0) {
        if (errno == EBADMSG) {
            atomic_fetch_add(&g_refused, 1);
            herald_warn("attachment %s: the origin's file has another SHA-256: refused", hash);
        } else {
            herald_error("attachment %s: cannot store: %s", hash, strerror(errno));
        }
        return 502;
    }
    atomic_fetch_add(&g_fetched, 1);
    herald_info("attachment %s: fetched from the origin", hash);
    return FETCH_OK;
}

static void
fetch_unref_locked(attach_fetch *f)
{
    if (--f->refs == 0)
        free(f);
}

void
attach_fetch_release(attach_fetch *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&g_fmu);
    fetch_unref_locked(f);
    pthread_mutex_unlock(&g_fmu);
}

int
attach_fetch_done(attach_fetch *f)
{
    pthread_mutex_lock(&g_fmu);
    int done = f->state != FETCH_RUNNING;
    pthread_mutex_unlock(&g_fmu);
    return done;
}

void
attach_on_fetched(void (*hook)(void))
{
    pthread_mutex_lock(&g_fmu); /* the hook is called under it */
    g_on_fetched = hook;
    pthread_mutex_unlock(&g_fmu);
}

static void *
fetch_main(void *arg)
{
    attach_fetch *f = arg;
    int st = fetch(f->hash);
    pthread_mutex_lock(&g_fmu);
    f->state = st;
    attach_fetch **pp = &g_running;
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    g_nrunning--;
    fetch_unref_locked(f);
    if (g_on_fetched)
        g_on_fetched();
    pthread_cond_broadcast(&g_fcond);
    pthread_mutex_unlock(&g_fmu);
    return NULL;
}

/* The fetch of 'hash': the one under way, or a new one. Returns it with a reference for
 * the caller; NULL with *fd open when the file arrived meanwhile (a fetch ended between
 * the caller's miss and now); NULL with *fd -1 when no fetch can start (503). */
static attach_fetch *
fetch_join(const char *hash, int *fd, int64_t *size)
{
    attach_fetch *f;
    *fd = -1;
    pthread_mutex_lock(&g_fmu);
    for (f = g_running; f; f = f->next)
        if (memcmp(f->hash, hash, HERALD_CASTORE_HASH_LEN) == 0)
            break;
    if (f) {
        f->refs++;
        herald_info("attachment %s: waiting for the fetch under way", hash);
        goto out;
    }
    /* Under the lock, no fetch of it can end now: the file is there, or is to fetch. */
    *fd = herald_castore_open_file(g_store, hash, size);
    if (*fd >= 0 || g_nrunning >= ATTACH_MAX_FETCHES || atomic_load(&g_stopping))
        goto out;
    f = herald_mem_calloc(1, sizeof(*f));
    memcpy(f->hash, hash, HERALD_CASTORE_HASH_LEN);
    f->refs = 2;
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &at, fetch_main, f);
    pthread_attr_destroy(&at);
    if (err != 0) {
        herald_error("attachment %s: cannot start a fetch thread: %s", hash, strerror(err));
        free(f);
        f = NULL;
        goto out;
    }
    f->next = g_running;
    g_running = f;
    g_nrunning++;
    herald_info("attachment %s: not here: fetching it from the origin", hash);
out:
    pthread_mutex_unlock(&g_fmu);
    return f;
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
    attach_fetch *done = body->pending; /* a request held for a fetch, answered now */
    body->fd = -1;
    body->pending = NULL;
    if (done) {
        pthread_mutex_lock(&g_fmu);
        int st = done->state;
        fetch_unref_locked(done);
        pthread_mutex_unlock(&g_fmu);
        if (st != FETCH_OK)
            return reply_error(o, st, HERALD_ERRNO_UNDEFINED,
                               st == 504 ? "The origin did not send the attachment in time"
                                         : "The attachment could not be fetched from the origin",
                               NULL, keep_alive, is_head);
    }
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
    if (fd < 0 && errno == ENOENT && g_origin && !done) {
        body->pending = fetch_join(hash, &fd, &size);
        if (body->pending)
            return 0; /* held by the caller until the fetch ends */
        if (fd < 0)
            return reply_error(o, 503, HERALD_ERRNO_BACKEND,
                               "Too many attachments are being fetched from the origin", NULL,
                               keep_alive, is_head);
    }
    if (fd < 0 && done) /* fetched, then gone (collected meanwhile): as a failed fetch */
        return reply_error(o, 502, HERALD_ERRNO_UNDEFINED,
                           "The attachment could not be fetched from the origin", NULL, keep_alive,
                           is_head);
    if (fd < 0)
        return reply_not_found(o, keep_alive, is_head, NULL, NULL, 0);
    resource rs = {.cache_control = "public, max-age=31536000, immutable",
                   .type = cached_type(hash, type) == 0 ? type : "application/octet-stream"};
    snprintf(rs.etag, sizeof(rs.etag), "\"%s\"", hash);
    return serve_fd(o, req, head, head_len, keep_alive, body, fd, size, &rs);
}
