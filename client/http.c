/*
 * client/http -- see http.h. libcurl does TLS, redirects are not followed (a read server
 * never redirects a changeset; following one would let a network attacker pick the
 * host), and the body is capped at max_body_bytes in the write callback, so a hostile
 * server cannot make the client buffer without bound. Content-Encoding is negotiated by
 * curl (CURLOPT_ACCEPT_ENCODING ""): every encoding this libcurl decodes.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "herald/err.h"

struct herald_chttp {
    CURL *curl;
    herald_chttp_opts o;
    char *ca_file;
};

typedef struct sink {
    herald_chttp_resp *r;
    FILE *file;
    size_t got;
    size_t max;
    int too_big;
    int write_failed;
} sink;

herald_chttp *
herald_chttp_new(const herald_chttp_opts *o, char *err, size_t errlen)
{
    herald_chttp *h = herald_mem_calloc(1, sizeof(*h));
    h->o = *o;
    h->curl = curl_easy_init();
    if (!h->curl) {
        herald_err_set(err, errlen, "curl_easy_init failed");
        free(h);
        return NULL;
    }
    if (o->ca_file)
        h->ca_file = herald_mem_strdup(o->ca_file);
    return h;
}

void
herald_chttp_free(herald_chttp *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h->ca_file);
    free(h);
}

void
herald_chttp_resp_init(herald_chttp_resp *r)
{
    memset(r, 0, sizeof(*r));
    herald_buf_init(&r->body);
    r->backoff_s = -1;
    r->retry_after_s = -1;
}

void
herald_chttp_resp_free(herald_chttp_resp *r)
{
    herald_buf_free(&r->body);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    if (s->got + len > s->max) {
        s->too_big = 1;
        return 0;
    }
    s->got += len;
    if (s->file) {
        if (fwrite(p, 1, len, s->file) != len) {
            s->write_failed = 1;
            return 0;
        }
    } else {
        herald_buf_append(&s->r->body, p, len);
    }
    return len;
}

/* A non-negative integer header value, or -1. */
static int64_t
header_seconds(const char *v, size_t len)
{
    int64_t n = 0;
    size_t i = 0;
    if (len == 0)
        return -1;
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
        if (n > 100000000)
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return i == len ? n : -1;
}

void
herald_chttp_header_line(herald_chttp_resp *r, const char *p, size_t len)
{
    size_t k;
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return;
    k = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = len - k - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    if (k == 7 && strncasecmp(p, "Backoff", 7) == 0) {
        r->backoff_s = header_seconds(v, vlen);
    } else if (k == 11 && strncasecmp(p, "Retry-After", 11) == 0) {
        int64_t secs = header_seconds(v, vlen);
        if (secs < 0 && vlen < 64 && !memchr(v, '\0', vlen)) {
            char date[64];
            memcpy(date, v, vlen);
            date[vlen] = '\0';
            time_t t = curl_getdate(date, NULL);
            if (t > 0)
                secs = t > time(NULL) ? (int64_t)(t - time(NULL)) : 0;
        }
        r->retry_after_s = secs;
    } else if (k == 4 && strncasecmp(p, "ETag", 4) == 0) {
        /* Sent back verbatim in If-None-Match: only printable ASCII, no CR/LF/NUL, so a
         * server cannot inject a header line into the next request. */
        size_t i = 0;
        for (; i < vlen; i++)
            if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
                break;
        if (i == vlen && vlen < sizeof(r->etag)) {
            memcpy(r->etag, v, vlen);
            r->etag[vlen] = '\0';
        } else {
            r->etag[0] = '\0';
        }
    } else if (k == 18 && strncasecmp(p, "Preference-Applied", 18) == 0) {
        r->preference_applied = vlen > 0;
    }
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    /* A new response head (after a 100 Continue, say) starts from a clean slate. */
    if (size * n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        s->r->backoff_s = -1;
        s->r->retry_after_s = -1;
        s->r->etag[0] = '\0';
        s->r->preference_applied = 0;
    }
    herald_chttp_header_line(s->r, p, size * n);
    return size * n;
}

static int
on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    const herald_chttp_req *req = arg;
    (void)dlt, (void)dln, (void)ult, (void)uln;
    return req->cancelled(req->cancelled_arg) ? 1 : 0;
}

static void
jitter_sleep(long base_ms, int attempt)
{
    uint32_t rnd = 0;
    long cap = base_ms << (attempt < 10 ? attempt : 10);
    if (cap > 30000)
        cap = 30000;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)rand();
    long ms = cap > 0 ? (long)(rnd % (uint32_t)cap) : 0;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int
herald_chttp_get(herald_chttp *h, const char *url, FILE *file, herald_chttp_resp *r, char *err,
                 size_t errlen)
{
    return herald_chttp_get_ex(h, url, file, NULL, r, err, errlen);
}

int
herald_chttp_get_ex(herald_chttp *h, const char *url, FILE *file, const herald_chttp_req *req,
                    herald_chttp_resp *r, char *err, size_t errlen)
{
    char cerr[CURL_ERROR_SIZE];
    static const herald_chttp_req none = {0};
    if (!req)
        req = &none;
    for (int attempt = 0;; attempt++) {
        sink s = {.r = r, .file = file, .max = h->o.max_body_bytes};
        CURL *c = h->curl;
        CURLcode cc;
        curl_off_t dl = 0;
        int transient = 0;

        herald_buf_reset(&r->body);
        r->status = 0;
        r->backoff_s = -1;
        r->retry_after_s = -1;
        r->etag[0] = '\0';
        r->preference_applied = 0;
        if (file &&
            (fflush(file) != 0 || ftruncate(fileno(file), 0) < 0 || fseek(file, 0, SEEK_SET) < 0)) {
            herald_err_set(err, errlen, "cannot truncate the download file");
            return -1;
        }
        curl_easy_reset(c);
        cerr[0] = '\0';
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                         req->timeout_ms > 0 ? req->timeout_ms : h->o.timeout_ms);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_USERAGENT, "herald-client/" HERALD_VERSION);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        if (h->ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        struct curl_slist *hdrs = NULL;
        char line[200];
        if (req->if_none_match && strlen(req->if_none_match) < 128 &&
            !strpbrk(req->if_none_match, "\r\n")) {
            snprintf(line, sizeof(line), "If-None-Match: %s", req->if_none_match);
            hdrs = curl_slist_append(hdrs, line);
        }
        if (req->prefer_wait_s > 0) {
            snprintf(line, sizeof(line), "Prefer: wait=%d", req->prefer_wait_s);
            hdrs = curl_slist_append(hdrs, line);
        }
        if (hdrs)
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        if (req->cancelled) {
            curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
            curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req);
        }
        cc = curl_easy_perform(c);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(hdrs);
        r->requests++;
        if (curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &dl) == CURLE_OK && dl > 0)
            r->bytes += (uint64_t)dl;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        if (s.too_big) {
            herald_err_set(err, errlen, "response larger than %zu bytes", h->o.max_body_bytes);
            return -1;
        }
        if (s.write_failed) {
            herald_err_set(err, errlen, "cannot write the download file");
            return -1;
        }
        if (cc != CURLE_OK) {
            herald_err_set(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
            transient = 1;
        } else if (r->status == 200 || r->status == 304) {
            return 0;
        } else {
            herald_err_set(err, errlen, "HTTP status %ld from %s", r->status, url);
            transient = (r->status >= 500 || r->status == 429) && r->retry_after_s < 0;
        }
        if (!transient || req->no_retry || attempt >= h->o.max_retries || r->backoff_s > 0)
            return -1;
        jitter_sleep(h->o.retry_base_ms, attempt);
    }
}
