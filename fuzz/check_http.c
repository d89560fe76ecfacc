/*
 * check_http -- the read server's request parser (lib/http_parse.c) on arbitrary bytes.
 *
 * The input is a byte stream from one client connection. It is parsed three ways, and
 * each must produce the same sequence of outcomes (every request head with its fields,
 * then the final incomplete or error state):
 *   - whole: the entire stream buffered, requests parsed one after the other
 *     (pipelining);
 *   - in random splits (sizes from a PRNG seeded with a hash of the input), the way
 *     partial reads arrive: after each read the unconsumed bytes are parsed again
 *     from their start, as server/conn.c does;
 *   - one byte at a time (inputs up to 300 bytes).
 * The bytes not yet "received" are poisoned under AddressSanitizer, so a read past the
 * buffered length is reported even though it stays inside the allocation.
 *
 * Each way runs with the default limits and with small ones (so that the 414 and 431
 * paths are reached with short inputs), and both again with the opt-in features of
 * http_limits (the publisher's configuration): a headers array (32 entries, 4 with the
 * small limits) and allow_chunked. For every request: the slices lie inside the
 * request's bytes, path and query partition the target, the flags are 0/1, an error is
 * one of the documented statuses. With the features on, every recorded header is one
 * line of the head, in order (nheaders <= max_headers, each name a non-empty token that
 * starts its line and ends at ':', each value inside that line without surrounding
 * whitespace), chunked is set exactly when one Transfer-Encoding header was recorded
 * (its value "chunked"), and then there is no Content-Length and the version is 1.1.
 * Every parse with the features is also compared with the same parse with each feature
 * alone and with neither: recording changes nothing but a 431 once more than
 * max_headers header lines were received; allow_chunked changes nothing unless the
 * parse without it refused a Transfer-Encoding (501). The header helpers
 * (If-None-Match, Accept-Encoding, Prefer's wait, query parameters, timestamps) run on the parsed
 * values and on the raw input, into exact-size buffers.
 */
#include "fuzz_checks.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* In libherald: include/ is on the path of the fuzz library and of the unit tests. */
#include "herald/http_parse.h"

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

#define MAX_OUTCOMES 64 /* requests compared per stream; more are parsed, not compared */
#define SLICE_ABSENT ((size_t)-1)

/* A slice as an offset from the start of the stream, so runs over different buffers
 * compare equal. */
struct rel {
    size_t off, len;
};

struct outcome {
    ssize_t rc;
    size_t at; /* stream offset of the request */
    int method, minor, keep_alive;
    int64_t content_length, prefer_wait;
    unsigned has_inm, has_ae, chunked;
    size_t nheaders;
    uint64_t headers_hash; /* of the recorded headers' offsets and lengths */
    struct rel method_name, target, path, query, inm, ae, connection, host;
};

struct run {
    struct outcome out[MAX_OUTCOMES];
    size_t n;       /* outcomes recorded (capped) */
    size_t total;   /* outcomes seen */
    size_t end_off; /* bytes consumed when the run stopped */
};

static struct rel
rel_of(http_slice s, const char *base)
{
    if (!s.p)
        return (struct rel){SLICE_ABSENT, s.len};
    return (struct rel){(size_t)(s.p - base), s.len};
}

/* A slice of a request must be absent or lie within [req, req + n). */
static int
slice_inside(http_slice s, const char *req, size_t n)
{
    if (!s.p)
        return s.len == 0;
    return s.p >= req && s.len <= n && (size_t)(s.p - req) <= n - s.len;
}

static const char *
check_request(const http_request *r, const char *req, size_t n)
{
    const http_slice all[] = {r->method_name,   r->target,          r->path,       r->query,
                              r->if_none_match, r->accept_encoding, r->connection, r->host};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!slice_inside(all[i], req, n))
            return "http: a slice points outside the request head";
    if (!r->method_name.p || r->method_name.len == 0)
        return "http: empty method";
    if (!r->target.p || r->target.len == 0)
        return "http: empty target";
    if (r->target.p[0] != '/' && !(r->target.len == 1 && r->target.p[0] == '*'))
        return "http: target is neither origin-form nor '*'";
    if (r->path.p != r->target.p)
        return "http: path does not start the target";
    if (r->path.len == r->target.len) {
        if (r->query.len != 0)
            return "http: query without '?'";
    } else if (r->path.len + 1 + r->query.len != r->target.len || r->target.p[r->path.len] != '?' ||
               r->query.p != r->target.p + r->path.len + 1) {
        return "http: path '?' query is not the target";
    }
    if (memchr(r->path.p, '?', r->path.len))
        return "http: path contains '?'";
    if (r->minor != 0 && r->minor != 1)
        return "http: minor version not 0 or 1";
    if (r->keep_alive != 0 && r->keep_alive != 1)
        return "http: keep_alive not 0 or 1";
    if (r->content_length < -1)
        return "http: negative content length";
    if (r->prefer_wait < -1 || r->prefer_wait > HTTP_PREFER_WAIT_MAX)
        return "http: prefer_wait outside -1 .. HTTP_PREFER_WAIT_MAX";
    if (r->wait_applied != 0)
        return "http: the parser set wait_applied";
    if (r->minor == 1 && !r->host.p)
        return "http: HTTP/1.1 request without Host accepted";
    if (r->has_if_none_match != (r->if_none_match.p != NULL))
        return "http: has_if_none_match disagrees with the slice";
    if (r->has_accept_encoding != (r->accept_encoding.p != NULL))
        return "http: has_accept_encoding disagrees with the slice";
    int want = HTTP_METHOD_OTHER;
    if (r->method_name.len == 3 && memcmp(r->method_name.p, "GET", 3) == 0)
        want = HTTP_METHOD_GET;
    else if (r->method_name.len == 4 && memcmp(r->method_name.p, "HEAD", 4) == 0)
        want = HTTP_METHOD_HEAD;
    else if (r->method_name.len == 7 && memcmp(r->method_name.p, "OPTIONS", 7) == 0)
        want = HTTP_METHOD_OPTIONS;
    if (r->method != want)
        return "http: method enum does not match the method name";
    return NULL;
}

/* ---- the opt-in features: recorded headers and Transfer-Encoding: chunked ---------- */

#define MAX_RECORDED 32
static http_header recorded[MAX_RECORDED];       /* the array of the configurations below */
static http_header recorded_alone[MAX_RECORDED]; /* for the parse with recording alone */

/* The number of header lines in req[0, n) as the parser splits them: after up to four
 * leading CR/LF and the request line, every complete line up to the first empty one
 * (LF or CR LF alone). Header lines never contain LF (a CTL). */
static size_t
count_header_lines(const char *req, size_t n)
{
    size_t i = 0, count = 0;
    while (i < n && i < 4 && (req[i] == '\r' || req[i] == '\n'))
        i++;
    const char *nl = memchr(req + i, '\n', n - i);
    if (!nl)
        return 0;
    i = (size_t)(nl - req) + 1;
    while (i < n && (nl = memchr(req + i, '\n', n - i)) != NULL) {
        size_t len = (size_t)(nl - (req + i));
        if (len == 0 || (len == 1 && req[i] == '\r'))
            break;
        count++;
        i += len + 1;
    }
    return count;
}

static int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The properties of a successful parse that recorded its headers in 'h' (at most 'max'):
 * see the top of this file. 'req' is the request's start, 'n' its head's length. */
static const char *
check_recorded(const http_request *r, const http_header *h, size_t max, const char *req, size_t n)
{
    if (r->nheaders > max)
        return "http: nheaders exceeds max_headers";
    if (r->nheaders != count_header_lines(req, n))
        return "http: nheaders is not the number of header lines";
    size_t te = 0;
    const char *prev_end = req;
    for (size_t i = 0; i < r->nheaders; i++) {
        http_slice name = h[i].name, value = h[i].value;
        if (!name.p || name.len == 0)
            return "http: a recorded header has an empty name";
        if (!value.p && value.len == 0)
            return "http: a recorded header value is absent, not empty";
        if (!slice_inside(name, req, n) || !slice_inside(value, req, n))
            return "http: a recorded header slice is outside the request head";
        if (name.p < prev_end || name.p == req || name.p[-1] != '\n')
            return "http: a recorded header name does not start a line, in order";
        if ((size_t)(name.p + name.len - req) >= n || name.p[name.len] != ':' ||
            memchr(name.p, ':', name.len))
            return "http: a recorded header name does not end at its ':'";
        for (size_t k = 0; k < name.len; k++) {
            unsigned char ch = (unsigned char)name.p[k];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch))))
                return "http: a recorded header name is not a token";
        }
        if (value.p < name.p + name.len + 1)
            return "http: a recorded header value starts before its name's ':'";
        const char *vend = value.p + value.len;
        for (const char *q = name.p + name.len + 1; q < value.p; q++)
            if (!is_ows(*q))
                return "http: a recorded header value skipped more than whitespace";
        if (value.len && (is_ows(value.p[0]) || is_ows(vend[-1])))
            return "http: a recorded header value keeps surrounding whitespace";
        if (memchr(value.p, '\n', value.len))
            return "http: a recorded header value spans lines";
        /* After the value: whitespace, then the line's end (CR LF or LF). */
        const char *q = vend, *end = req + n;
        while (q < end && is_ows(*q))
            q++;
        if (q < end && *q == '\r')
            q++;
        if (q >= end || *q != '\n')
            return "http: a recorded header value does not run to its line's end";
        prev_end = q;
        if (name.len == 17 && strncasecmp(name.p, "transfer-encoding", 17) == 0) {
            te++;
            if (value.len != 7 || strncasecmp(value.p, "chunked", 7) != 0)
                return "http: accepted a Transfer-Encoding other than chunked";
        }
    }
    if (te != r->chunked)
        return "http: chunked does not match the Transfer-Encoding headers recorded";
    if (r->chunked && r->content_length != -1)
        return "http: chunked with a Content-Length";
    if (r->chunked && r->minor != 1)
        return "http: chunked on HTTP/1.0";
    return NULL;
}

static int
slice_eq(http_slice a, http_slice b)
{
    return a.p == b.p && a.len == b.len;
}

/* Two parses of the same bytes found the same request (the fields besides the
 * features'). */
static int
same_request(const http_request *a, const http_request *b)
{
    return a->method == b->method && a->minor == b->minor && a->keep_alive == b->keep_alive &&
           a->content_length == b->content_length && a->has_if_none_match == b->has_if_none_match &&
           a->has_accept_encoding == b->has_accept_encoding &&
           slice_eq(a->method_name, b->method_name) && slice_eq(a->target, b->target) &&
           slice_eq(a->path, b->path) && slice_eq(a->query, b->query) &&
           slice_eq(a->if_none_match, b->if_none_match) &&
           slice_eq(a->accept_encoding, b->accept_encoding) &&
           slice_eq(a->connection, b->connection) && slice_eq(a->host, b->host);
}

/* 'rr' / 'rrc': the parse of req[0, n) with 'lim', which has both features on (its
 * array is 'recorded'). Parses the same bytes with each feature alone and with neither,
 * and checks that each feature makes only its documented difference. */
static const char *
check_features(const http_limits *lim, const char *req, size_t n, const http_request *rr,
               ssize_t rrc)
{
    const http_limits none = {.max_request_line = lim->max_request_line, .max_head = lim->max_head};
    http_limits rec = none, chk = none;
    rec.headers = recorded_alone;
    rec.max_headers = lim->max_headers;
    chk.allow_chunked = 1;
    http_request b, h, c;
    ssize_t brc = http_parse_request(&b, req, n, &none);
    ssize_t hrc = http_parse_request(&h, req, n, &rec);
    ssize_t crc = http_parse_request(&c, req, n, &chk);
    int too_many = count_header_lines(req, n) > lim->max_headers;
    const char *why;

    if ((brc > 0 && b.chunked) || (hrc > 0 && h.chunked))
        return "http: chunked set without allow_chunked";
    /* Recording alone: the same, but 431 for too many headers. */
    if (hrc != brc && !(hrc == -431 && too_many))
        return "http: recording headers changed the result (other than 431 for too many)";
    if (hrc == brc && hrc > 0 && !same_request(&h, &b))
        return "http: recording headers changed the request parsed";
    if (hrc > 0 &&
        (why = check_recorded(&h, recorded_alone, lim->max_headers, req, (size_t)hrc)) != NULL)
        return why;
    if (brc > 0 && b.nheaders != 0)
        return "http: nheaders set without a headers array";

    /* allow_chunked alone: the same unless the Transfer-Encoding was refused. */
    if (brc != -501) {
        if (crc != brc || (crc > 0 && (!same_request(&c, &b) || c.chunked)))
            return "http: allow_chunked changed a parse without Transfer-Encoding";
    } else if (crc != -400 && crc != -431 && crc != -501 && crc < 0) {
        return "http: allow_chunked gave an unexpected error for a Transfer-Encoding";
    } else if (crc > 0 && !c.chunked) {
        return "http: allow_chunked accepted a Transfer-Encoding without setting chunked";
    }
    if (crc > 0 && (c.nheaders != 0 || (c.chunked && (c.content_length != -1 || c.minor != 1))))
        return "http: chunked with a Content-Length or on HTTP/1.0, or nheaders without array";

    /* Both: as recording alone until a Transfer-Encoding, as allow_chunked alone until
     * more headers than the array holds. */
    if (hrc != -501) {
        if (rrc != hrc)
            return "http: allow_chunked changed the result without Transfer-Encoding";
        if (rrc > 0) {
            if (!same_request(rr, &h) || rr->chunked || rr->nheaders != h.nheaders)
                return "http: allow_chunked changed a parse without Transfer-Encoding";
            for (size_t i = 0; i < rr->nheaders; i++)
                if (!slice_eq(recorded[i].name, recorded_alone[i].name) ||
                    !slice_eq(recorded[i].value, recorded_alone[i].value))
                    return "http: allow_chunked changed the headers recorded";
        }
    }
    if (rrc != -431) {
        if (rrc != crc || (rrc > 0 && (!same_request(rr, &c) || rr->chunked != c.chunked)))
            return "http: recording headers changed a chunked parse";
    } else if (crc != -431 && !too_many) {
        return "http: 431 with both features, but not too many headers nor too large";
    }
    if (rrc > 0)
        return check_recorded(rr, recorded, lim->max_headers, req, (size_t)rrc);
    return NULL;
}

/* FNV-1a over the recorded headers' positions, for comparing runs. */
static uint64_t
headers_hash(const http_request *r, const http_header *h, const char *base)
{
    uint64_t x = 14695981039346656037ULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        const size_t v[] = {(size_t)(h[i].name.p - base), h[i].name.len,
                            (size_t)(h[i].value.p - base), h[i].value.len};
        for (size_t k = 0; k < 4; k++)
            x = (x ^ v[k]) * 1099511628211ULL;
    }
    return x;
}

static int
valid_error(ssize_t rc)
{
    return rc == -400 || rc == -414 || rc == -431 || rc == -501 || rc == -505;
}

/* Copies 's' into an exact-size heap buffer (so ASan sees any overread). */
static char *
exact_copy(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (n)
        memcpy(c, p, n);
    return c;
}

static const char *
check_query_param(http_slice q, const char *name, size_t outmax)
{
    char *out = malloc(outmax);
    size_t outlen = 12345;
    const char *why = NULL;
    int rc = http_query_param(q, name, out, outmax, &outlen);
    if (rc < -1 || rc > 1) {
        why = "http: http_query_param returned outside -1..1";
    } else if (rc == 1) {
        if (outlen >= outmax || out[outlen] != '\0' || strlen(out) != outlen)
            why = "http: http_query_param value not NUL-terminated within outmax";
        int64_t ts = -1;
        if (!why && http_parse_timestamp(out, outlen, &ts) == 0 && ts < 0)
            why = "http: http_parse_timestamp gave a negative value";
    }
    free(out);
    return why;
}

/* Runs the helpers on one value (copied to an exact-size buffer). */
static const char *
check_helpers(const char *p, size_t n)
{
    const char *why = NULL;
    char *c = exact_copy(p, n);
    http_slice s = {c, n};
    static const int64_t versions[] = {0, 1, 12, 1700000000000, INT64_MAX, -1};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        int m = http_etag_match(s, versions[i]);
        if (m != 0 && m != 1) {
            why = "http: http_etag_match returned neither 0 nor 1";
            goto out;
        }
        /* A match needs the version's digits inside the header (or "*"). */
        if (m && !memchr(c, '*', n) && !memchr(c, '"', n)) {
            why = "http: http_etag_match matched without a tag";
            goto out;
        }
    }
    if (http_accept_encodings(s) & ~(unsigned)(HTTP_ENC_GZIP | HTTP_ENC_ZSTD)) {
        why = "http: http_accept_encodings set unknown bits";
        goto out;
    }
    int64_t wait = http_prefer_wait(s);
    if (wait < -1 || wait > HTTP_PREFER_WAIT_MAX) {
        why = "http: http_prefer_wait outside -1 .. HTTP_PREFER_WAIT_MAX";
        goto out;
    }
    if (wait >= 0 && !memchr(c, '=', n)) {
        why = "http: http_prefer_wait found a value without '='";
        goto out;
    }
    static const char *const names[] = {"_since", "_expected", "_limit", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !why; i++) {
        why = check_query_param(s, names[i], 1);
        if (!why)
            why = check_query_param(s, names[i], 8);
        if (!why)
            why = check_query_param(s, names[i], 64);
    }
    int64_t ts = -1;
    if (!why && http_parse_timestamp(c, n, &ts) == 0 && ts < 0)
        why = "http: http_parse_timestamp gave a negative value";
out:
    free(c);
    return why;
}

/* Parses the requests in buf[*off, avail), recording outcomes. Returns 1 when the run
 * is over (an error), 0 when it needs more bytes, or sets '*why'. */
static int
parse_available(struct run *run, const char *buf, size_t *off, size_t avail, const http_limits *lim,
                const char **why)
{
    for (;;) {
        http_request r;
        const char *req = buf + *off;
        ssize_t rc = http_parse_request(&r, req, avail - *off, lim);
        if (lim->headers && (*why = check_features(lim, req, avail - *off, &r, rc)) != NULL)
            return 1;
        if (rc == 0)
            return 0; /* incomplete: the run's end_off tells where it stopped */
        struct outcome *o = run->n < MAX_OUTCOMES ? &run->out[run->n] : NULL;
        run->total++;
        if (o) {
            memset(o, 0, sizeof(*o));
            o->rc = rc;
            o->at = *off;
            run->n++;
        }
        if (rc < 0) {
            if (!valid_error(rc))
                *why = "http: error status outside 400/414/431/501/505";
            return 1;
        }
        if ((size_t)rc > avail - *off) {
            *why = "http: consumed more than the buffered bytes";
            return 1;
        }
        if ((*why = check_request(&r, req, (size_t)rc)) != NULL)
            return 1;
        if (o) {
            o->method = r.method;
            o->minor = r.minor;
            o->keep_alive = r.keep_alive;
            o->content_length = r.content_length;
            o->prefer_wait = r.prefer_wait;
            o->has_inm = r.has_if_none_match;
            o->has_ae = r.has_accept_encoding;
            o->chunked = r.chunked;
            o->nheaders = r.nheaders;
            o->headers_hash = lim->headers ? headers_hash(&r, lim->headers, buf) : 0;
            o->method_name = rel_of(r.method_name, buf);
            o->target = rel_of(r.target, buf);
            o->path = rel_of(r.path, buf);
            o->query = rel_of(r.query, buf);
            o->inm = rel_of(r.if_none_match, buf);
            o->ae = rel_of(r.accept_encoding, buf);
            o->connection = rel_of(r.connection, buf);
            o->host = rel_of(r.host, buf);
        }
        *off += (size_t)rc;
    }
}

/* xorshift64*, seeded from the input: split points follow the bytes, so they are
 * reproducible and the fuzzer can steer them. */
static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

enum split_mode { WHOLE, RANDOM, BYTEWISE };

/* Feeds 'data' into a buffer in chunks per 'mode' and parses after each chunk. */
static const char *
run_stream(struct run *run, const uint8_t *data, size_t size, const http_limits *lim,
           enum split_mode mode, uint64_t seed)
{
    const char *why = NULL;
    char *buf = exact_copy((const char *)data, size);
    size_t avail = 0, off = 0;
    memset(run, 0, sizeof(*run));
    ASAN_POISON_MEMORY_REGION(buf, size);
    while (avail < size) {
        size_t chunk = size - avail;
        if (mode == BYTEWISE)
            chunk = 1;
        else if (mode == RANDOM)
            chunk = 1 + (size_t)(next_rand(&seed) % (next_rand(&seed) % 4 == 0 ? 4 : 64));
        if (chunk > size - avail)
            chunk = size - avail;
        ASAN_UNPOISON_MEMORY_REGION(buf + avail, chunk);
        avail += chunk;
        if (parse_available(run, buf, &off, avail, lim, &why) || why)
            break;
    }
    run->end_off = off;
    ASAN_UNPOISON_MEMORY_REGION(buf, size);
    free(buf);
    return why;
}

static int
rel_eq(struct rel a, struct rel b)
{
    return a.off == b.off && a.len == b.len;
}

static const char *
compare_runs(const struct run *a, const struct run *b)
{
    if (a->total != b->total || a->n != b->n)
        return "http: split reads gave a different number of requests or errors than one read";
    if (a->end_off != b->end_off)
        return "http: split reads consumed a different number of bytes than one read";
    for (size_t i = 0; i < a->n; i++) {
        const struct outcome *x = &a->out[i], *y = &b->out[i];
        if (x->rc != y->rc)
            return "http: split reads gave a different result than one read";
        if (x->at != y->at || x->method != y->method || x->minor != y->minor ||
            x->keep_alive != y->keep_alive || x->content_length != y->content_length ||
            x->prefer_wait != y->prefer_wait || x->has_inm != y->has_inm ||
            x->has_ae != y->has_ae || x->chunked != y->chunked || x->nheaders != y->nheaders ||
            x->headers_hash != y->headers_hash || !rel_eq(x->method_name, y->method_name) ||
            !rel_eq(x->target, y->target) || !rel_eq(x->path, y->path) ||
            !rel_eq(x->query, y->query) || !rel_eq(x->inm, y->inm) || !rel_eq(x->ae, y->ae) ||
            !rel_eq(x->connection, y->connection) || !rel_eq(x->host, y->host))
            return "http: split reads parsed a request differently than one read";
    }
    return NULL;
}

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h | 1; /* xorshift needs a non-zero state */
}

static const char *
check_with_limits(const uint8_t *data, size_t size, const http_limits *lim)
{
    static struct run whole, split;
    const char *why = run_stream(&whole, data, size, lim, WHOLE, 0);
    if (why)
        return why;
    /* Helpers on each parsed value, from the same whole buffer. */
    for (size_t i = 0; i < whole.n; i++) {
        const struct outcome *o = &whole.out[i];
        if (o->rc <= 0)
            continue;
        const struct rel vals[] = {o->inm, o->ae, o->query};
        for (size_t k = 0; k < 3; k++)
            if (vals[k].off != SLICE_ABSENT &&
                (why = check_helpers((const char *)data + vals[k].off, vals[k].len)) != NULL)
                return why;
    }
    uint64_t seed = fnv1a(data, size);
    for (int round = 0; round < 2; round++) {
        if ((why = run_stream(&split, data, size, lim, RANDOM, seed + (uint64_t)round)) != NULL)
            return why;
        if ((why = compare_runs(&whole, &split)) != NULL)
            return why;
    }
    if (size <= 300) {
        if ((why = run_stream(&split, data, size, lim, BYTEWISE, 0)) != NULL)
            return why;
        if ((why = compare_runs(&whole, &split)) != NULL)
            return why;
    }
    return NULL;
}

const char *
herald_fuzz_check_http(const uint8_t *data, size_t size)
{
    static const http_limits def = {.max_request_line = HTTP_DEFAULT_MAX_REQUEST_LINE,
                                    .max_head = HTTP_DEFAULT_MAX_HEAD};
    static const http_limits small = {.max_request_line = 40, .max_head = 120};
    /* The publisher's configuration: every header recorded, chunked bodies accepted. */
    static const http_limits def_rec = {HTTP_DEFAULT_MAX_REQUEST_LINE, HTTP_DEFAULT_MAX_HEAD,
                                        recorded, MAX_RECORDED, 1};
    static const http_limits small_rec = {40, 120, recorded, 4, 1};
    const char *why = check_with_limits(data, size, &def);
    if (!why)
        why = check_with_limits(data, size, &small);
    if (!why)
        why = check_with_limits(data, size, &def_rec);
    if (!why)
        why = check_with_limits(data, size, &small_rec);
    if (!why)
        why = check_helpers((const char *)data, size);
    return why;
}
