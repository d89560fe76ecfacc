/*
 * test_http_parse -- table-driven tests of the read server's request parser
 * (lib/http_parse.c): valid requests, every split point of a request across reads,
 * pipelined requests, malformed input, oversize request lines and heads, the opt-in
 * features of http_limits (every header recorded into the caller's array, up to
 * max_headers; "Transfer-Encoding: chunked" alone accepted with allow_chunked), and the
 * helpers for If-None-Match, Accept-Encoding, query parameters and _since values; plus
 * a differential test of the word-at-a-time validation of targets and header values
 * against a byte-by-byte reference on random input.
 *
 * Parameterized tests take an index into a static table (TEST_INDEXES, test_util.h says
 * why).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "herald/http_parse.h"
#include "test_util.h"

static const http_limits lim = {.max_request_line = HTTP_DEFAULT_MAX_REQUEST_LINE,
                                .max_head = HTTP_DEFAULT_MAX_HEAD};

static ssize_t
parse(http_request *r, const char *s)
{
    return http_parse_request(r, s, strlen(s), &lim);
}

static int
slice_is(http_slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- whole requests ----------------------------------------------------------------- */

struct parse_case {
    const char *in;
    ssize_t rc; /* > 0: expect the whole input consumed; else the exact return */
    int method;
    const char *path, *query;
    int minor, keep_alive;
    const char *inm; /* NULL: header absent */
};

static struct parse_case parse_cases[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_METHOD_GET, "/", "", 1, 1, NULL},
    {"HEAD /v1/x?_since=1&b=2 HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_METHOD_HEAD, "/v1/x",
     "_since=1&b=2", 1, 1, NULL},
    {"GET /a HTTP/1.0\r\n\r\n", 1, HTTP_METHOD_GET, "/a", "", 0, 0, NULL},
    {"GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1, HTTP_METHOD_GET, "/a", "", 0, 1, NULL},
    {"GET /a HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", 1, HTTP_METHOD_GET, "/a", "",
     1, 0, NULL},
    {"GET /a HTTP/1.1\r\nhost:a\r\nIF-NONE-MATCH:  \"12\" \t\r\n\r\n", 1, HTTP_METHOD_GET, "/a", "",
     1, 1, "\"12\""},
    {"GET /a HTTP/1.1\nHost: a\n\n", 1, HTTP_METHOD_GET, "/a", "", 1, 1, NULL}, /* bare LF */
    {"\r\nGET /a HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_METHOD_GET, "/a", "", 1, 1, NULL},
    {"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1, HTTP_METHOD_OTHER, "/a", "", 1,
     1, NULL},
    {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_METHOD_OPTIONS, "*", "", 1, 1, NULL},
    {"GET /a HTTP/1.2\r\nHost: a\r\n\r\n", 1, HTTP_METHOD_GET, "/a", "", 1, 1, NULL},
    /* incomplete */
    {"", 0, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\nHost: a\r\n", 0, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1", 0, 0, NULL, NULL, 0, 0, NULL},
    /* malformed */
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL}, /* no Host */
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", -400, 0, NULL,
     NULL, 0, 0, NULL},
    {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", -501, 0, NULL, NULL, 0, 0,
     NULL},
    {"GET / HTTP/2.0\r\n\r\n", -505, 0, NULL, NULL, 0, 0, NULL},
    {"GET / FTP/1.1\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"G(T / HTTP/1.1\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
    {"GET /\x7f HTTP/1.1\r\n\r\n", -400, 0, NULL, NULL, 0, 0, NULL},
};

TEST_INDEXES(http_parse, table, parse_cases)

ParameterizedTest(size_t *i, http_parse, table)
{
    const struct parse_case *c = &parse_cases[*i];
    http_request r;
    ssize_t rc = parse(&r, c->in);
    if (c->rc <= 0) {
        cr_assert_eq(rc, c->rc, "'%s': got %zd want %zd", c->in, rc, c->rc);
        return;
    }
    cr_assert_eq(rc, (ssize_t)strlen(c->in), "'%s': got %zd", c->in, rc);
    cr_assert_eq(r.method, c->method);
    cr_assert(slice_is(r.path, c->path), "path of '%s'", c->in);
    cr_assert(slice_is(r.query, c->query), "query of '%s'", c->in);
    cr_assert_eq(r.minor, c->minor);
    cr_assert_eq(r.keep_alive, c->keep_alive, "keep-alive of '%s'", c->in);
    cr_assert_eq(r.has_if_none_match, c->inm != NULL);
    if (c->inm)
        cr_assert(slice_is(r.if_none_match, c->inm));
}

/* ---- split across reads, pipelining, limits ---------------------------------------- */

Test(http_parse, every_split_point_is_incomplete_then_complete)
{
    const char *req = "GET /v1/buckets/b/collections/c/changeset?_since=%2212%22 HTTP/1.1\r\n"
                      "Host: h\r\nAccept-Encoding: gzip\r\nIf-None-Match: \"5\"\r\n\r\n";
    size_t n = strlen(req);
    http_request r;
    for (size_t cut = 0; cut < n; cut++)
        cr_assert_eq(http_parse_request(&r, req, cut, &lim), 0, "prefix of %zu bytes", cut);
    cr_assert_eq(http_parse_request(&r, req, n, &lim), (ssize_t)n);
    cr_assert(slice_is(r.accept_encoding, "gzip"));
    cr_assert(slice_is(r.query, "_since=%2212%22"));
}

Test(http_parse, pipelined_requests_parse_one_at_a_time)
{
    const char *a = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *b = "HEAD /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    char buf[256];
    snprintf(buf, sizeof(buf), "%s%sGET /3 HT", a, b);
    size_t len = strlen(buf), off = 0;
    http_request r;
    ssize_t rc = http_parse_request(&r, buf, len, &lim);
    cr_assert_eq(rc, (ssize_t)strlen(a));
    cr_assert(slice_is(r.path, "/1"));
    off += (size_t)rc;
    rc = http_parse_request(&r, buf + off, len - off, &lim);
    cr_assert_eq(rc, (ssize_t)strlen(b));
    cr_assert(slice_is(r.path, "/2"));
    cr_assert_eq(r.method, HTTP_METHOD_HEAD);
    cr_assert_eq(r.keep_alive, 0);
    off += (size_t)rc;
    cr_assert_eq(http_parse_request(&r, buf + off, len - off, &lim), 0);
}

Test(http_parse, oversize_request_line_is_414_even_before_its_end)
{
    static char buf[HTTP_DEFAULT_MAX_REQUEST_LINE + 64];
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', sizeof(buf) - 5);
    http_request r;
    cr_assert_eq(http_parse_request(&r, buf, sizeof(buf), &lim), -414);
    /* Exactly at the limit (line complete) is accepted. */
    static char ok[HTTP_DEFAULT_MAX_REQUEST_LINE + 64];
    size_t line = HTTP_DEFAULT_MAX_REQUEST_LINE;
    memcpy(ok, "GET /", 5);
    memset(ok + 5, 'a', line - 5 - 9);
    memcpy(ok + line - 9, " HTTP/1.1\r\nHost: h\r\n\r\n", 23);
    cr_assert_gt(http_parse_request(&r, ok, line + 2 + 9 + 2, &lim), 0);
}

Test(http_parse, oversize_head_is_431)
{
    static char buf[HTTP_DEFAULT_MAX_HEAD + 256];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
    while (n + 20 < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Pad: aaaaaaaaaa\r\n");
    http_request r;
    cr_assert_eq(http_parse_request(&r, buf, n, &lim), -431); /* no end yet, too long */
}

/* ---- recorded headers (http_limits.headers) ------------------------------------------ */

/* A header array of 'n' entries, each set to a marker, and limits that record into it. */
#define MARK ((const char *)&marker)
static const char marker = 0;

static http_limits
recording(http_header *h, size_t cap, size_t max_headers, int allow_chunked)
{
    for (size_t i = 0; i < cap; i++)
        h[i] = (http_header){{MARK, 99}, {MARK, 99}};
    return (http_limits){HTTP_DEFAULT_MAX_REQUEST_LINE, HTTP_DEFAULT_MAX_HEAD, h, max_headers,
                         allow_chunked};
}

static int
untouched(const http_header *h)
{
    return h->name.p == MARK && h->name.len == 99 && h->value.p == MARK && h->value.len == 99;
}

Test(http_parse, headers_are_recorded_in_order_as_slices_of_the_input)
{
    static const char req[] = "GET /a HTTP/1.1\r\n"
                              "Host: h\r\n"
                              "X-One:   a  b \t\r\n" /* OWS trimmed at both ends, not inside */
                              "x-empty:\r\n"
                              "X-Tab:\tv\n" /* bare LF */
                              "Content-Length: 3\r\n"
                              "X-One: again\r\n" /* repeated names are all recorded */
                              "\r\n";
    static const struct {
        const char *line, *name, *value;
    } want[] = {
        {"Host: h\r", "Host", "h"},
        {"X-One:   a  b \t\r", "X-One", "a  b"},
        {"x-empty:\r", "x-empty", ""},
        {"X-Tab:\tv\n", "X-Tab", "v"},
        {"Content-Length: 3\r", "Content-Length", "3"},
        {"X-One: again\r", "X-One", "again"},
    };
    size_t nwant = sizeof(want) / sizeof(want[0]);
    http_header h[8];
    http_limits l = recording(h, 8, 8, 0);
    http_request r;
    ssize_t rc = http_parse_request(&r, req, strlen(req), &l);
    cr_assert_eq(rc, (ssize_t)strlen(req));
    cr_assert_eq(r.nheaders, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const char *line = strstr(req, want[i].line);
        cr_assert_not_null(line);
        /* The name starts the line; the value is where it is in the line, not a copy. */
        cr_assert_eq(h[i].name.p, line, "header %zu: name at %td", i, h[i].name.p - req);
        cr_assert(slice_is(h[i].name, want[i].name), "header %zu: name '%.*s'", i,
                  (int)h[i].name.len, h[i].name.p);
        cr_assert(slice_is(h[i].value, want[i].value), "header %zu: value '%.*s'", i,
                  (int)h[i].value.len, h[i].value.p);
        const char *colon = line + strlen(want[i].name);
        cr_assert_geq(h[i].value.p, colon + 1, "header %zu: value before the ':'", i);
        cr_assert_leq(h[i].value.p + h[i].value.len, line + strlen(want[i].line),
                      "header %zu: value past its line", i);
        if (want[i].value[0])
            cr_assert_eq(h[i].value.p, strstr(colon, want[i].value), "header %zu", i);
    }
    cr_assert(untouched(&h[nwant]), "an entry past nheaders was written");
    /* The headers the parser acts on are still parsed, from the same bytes. */
    cr_assert_eq(r.host.p, h[0].value.p);
    cr_assert(slice_is(r.host, "h"));
    cr_assert_eq(r.content_length, 3);
}

Test(http_parse, max_headers_exactly_reached_is_accepted_one_more_is_431)
{
    http_header h[4];
    http_limits l = recording(h, 4, 3, 0);
    http_request r;
    const char *three = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    cr_assert_eq(http_parse_request(&r, three, strlen(three), &l), (ssize_t)strlen(three));
    cr_assert_eq(r.nheaders, 3);
    cr_assert(slice_is(h[2].name, "B") && slice_is(h[2].value, "2"));
    cr_assert(untouched(&h[3]), "entry past max_headers written");

    const char *four = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    cr_assert_eq(http_parse_request(&r, four, strlen(four), &l), -431);
    cr_assert(untouched(&h[3]), "entry past max_headers written");
    /* Known as soon as the extra line is complete, before the end of the head. */
    cr_assert_eq(http_parse_request(&r, four, strlen(four) - 2, &l), -431);
    /* ... but not before. */
    cr_assert_eq(http_parse_request(&r, four, strlen(four) - 3, &l), 0);

    /* An empty array: a request without headers only. */
    l = recording(h, 4, 0, 0);
    const char *none = "GET /a HTTP/1.0\r\n\r\n";
    cr_assert_eq(http_parse_request(&r, none, strlen(none), &l), (ssize_t)strlen(none));
    cr_assert_eq(r.nheaders, 0);
    const char *one = "GET /a HTTP/1.0\r\nX: y\r\n\r\n";
    cr_assert_eq(http_parse_request(&r, one, strlen(one), &l), -431);
    cr_assert(untouched(&h[0]));
}

Test(http_parse, without_a_headers_array_nothing_is_recorded)
{
    /* max_headers means nothing without the array: three headers, limit 1, accepted. */
    const http_limits l = {HTTP_DEFAULT_MAX_REQUEST_LINE, HTTP_DEFAULT_MAX_HEAD, NULL, 1, 0};
    const char *req = "GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nIf-None-Match: \"3\"\r\n\r\n";
    http_request r;
    cr_assert_eq(http_parse_request(&r, req, strlen(req), &l), (ssize_t)strlen(req));
    cr_assert_eq(r.nheaders, 0);
    cr_assert(slice_is(r.host, "h"));
    cr_assert(slice_is(r.if_none_match, "\"3\""));
    cr_assert_eq(parse(&r, req), (ssize_t)strlen(req)); /* the file's default limits */
    cr_assert_eq(r.nheaders, 0);
}

Test(http_parse, every_split_point_with_recorded_headers_and_chunked)
{
    const char *req = "POST /v1/batch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                      "Authorization: Basic eDp5\r\n\r\n";
    size_t n = strlen(req);
    http_header h[3];
    http_limits l = recording(h, 3, 3, 1);
    http_request r;
    for (size_t cut = 0; cut < n; cut++)
        cr_assert_eq(http_parse_request(&r, req, cut, &l), 0, "prefix of %zu bytes", cut);
    cr_assert_eq(http_parse_request(&r, req, n, &l), (ssize_t)n);
    cr_assert_eq(r.chunked, 1);
    cr_assert_eq(r.content_length, -1);
    cr_assert_eq(r.nheaders, 3);
    cr_assert(slice_is(h[1].name, "Transfer-Encoding") && slice_is(h[1].value, "chunked"));
    cr_assert(slice_is(h[2].name, "Authorization") && slice_is(h[2].value, "Basic eDp5"));
}

/* ---- Transfer-Encoding: chunked (http_limits.allow_chunked) --------------------------- */

struct te_case {
    const char *in;
    int allow_chunked;
    ssize_t rc; /* > 0: expect the whole input consumed, chunked set; else the exact return */
};

#define TE_REQ(headers) "POST /a HTTP/1.1\r\nHost: h\r\n" headers "\r\n"

static struct te_case te_cases[] = {
    {TE_REQ("Transfer-Encoding: chunked\r\n"), 1, 1},
    {TE_REQ("transfer-encoding: CHUNKED\r\n"), 1, 1},
    {TE_REQ("Transfer-Encoding: Chunked\r\n"), 1, 1},
    {TE_REQ("Transfer-Encoding:  chunked \t\r\n"), 1, 1}, /* OWS is not part of the value */
    {TE_REQ("Transfer-Encoding:chunked\r\n"), 1, 1},
    /* refused without allow_chunked, as before */
    {TE_REQ("Transfer-Encoding: chunked\r\n"), 0, -501},
    {TE_REQ("Transfer-Encoding: CHUNKED\r\n"), 0, -501},
    {TE_REQ("Transfer-Encoding: gzip\r\n"), 0, -501},
    /* anything but "chunked" alone */
    {TE_REQ("Transfer-Encoding: gzip, chunked\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: chunked, chunked\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: chunked;x=1\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: gzip\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: identity\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: chunke\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: chunkedx\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: \"chunked\"\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding:\r\n"), 1, -501},
    /* a second Transfer-Encoding header, whatever it says */
    {TE_REQ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: chunked\r\ntransfer-encoding: gzip\r\n"), 1, -501},
    {TE_REQ("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 1, -501},
    /* both framings (either order, even a zero length), or chunked on HTTP/1.0 */
    {TE_REQ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 1, -400},
    {TE_REQ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 1, -400},
    {TE_REQ("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"), 1, -400},
    {"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 1, -400},
    {"POST /a HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 1, -400},
    /* the other checks still apply */
    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1, -400}, /* no Host */
    {TE_REQ("Transfer-Encoding : chunked\r\n"), 1, -400},
};

TEST_INDEXES(http_parse, chunked, te_cases)

ParameterizedTest(size_t *i, http_parse, chunked)
{
    const struct te_case *c = &te_cases[*i];
    const http_limits l = {HTTP_DEFAULT_MAX_REQUEST_LINE, HTTP_DEFAULT_MAX_HEAD, NULL, 0,
                           c->allow_chunked};
    http_request r;
    ssize_t rc = http_parse_request(&r, c->in, strlen(c->in), &l);
    if (c->rc <= 0) {
        cr_assert_eq(rc, c->rc, "'%s' (allow %d): got %zd want %zd", c->in, c->allow_chunked, rc,
                     c->rc);
        return;
    }
    cr_assert_eq(rc, (ssize_t)strlen(c->in), "'%s': got %zd", c->in, rc);
    cr_assert_eq(r.chunked, 1, "'%s'", c->in);
    cr_assert_eq(r.content_length, -1);
    cr_assert_eq(r.minor, 1);
}

Test(http_parse, allow_chunked_without_transfer_encoding_changes_nothing)
{
    const http_limits l = {HTTP_DEFAULT_MAX_REQUEST_LINE, HTTP_DEFAULT_MAX_HEAD, NULL, 0, 1};
    const char *req = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n";
    http_request r;
    cr_assert_eq(http_parse_request(&r, req, strlen(req), &l), (ssize_t)strlen(req));
    cr_assert_eq(r.chunked, 0);
    cr_assert_eq(r.content_length, 12);
    cr_assert_eq(r.keep_alive, 1);
}

/* ---- If-None-Match ------------------------------------------------------------------ */

struct inm_case {
    const char *header;
    long long v;
    int match;
};

static struct inm_case inm_cases[] = {
    {"\"42\"", 42, 1},
    {"W/\"42\"", 42, 1},
    {"\"1\", W/\"42\"", 42, 1},
    {"\"1\",\"2\"", 42, 0},
    {"*", 42, 1},
    {" * ", 7, 1},
    {"\"420\"", 42, 0},
    {"\"4\"", 42, 0},
    {"42", 42, 0},
    {"\"42", 42, 0},
    {"w/\"42\"", 42, 0},
    {"", 42, 0},
    {"\"0\"", 0, 1},
    {"\"1\" \"42\"", 42, 0}, /* missing comma: malformed */
    /* tags are compared as strings: no leading zeros, no overflow, non-numeric skipped */
    {"\"042\"", 42, 0},
    {"\"00\"", 0, 0},
    {"\"999999999999999999\"", 999999999999999999LL, 1},
    {"\"9999999999999999999\"", 999999999999999999LL, 0},
    {"\"abc\", \"42\"", 42, 1},
    {"W/\"x\",W/\"42\"", 42, 1},
    {"\"42x\", \"7\"", 42, 0},
    {"\"\"", 0, 0},
    {"\"42\",", 42, 1},
    {"\"4\"2\"", 42, 0},
};

TEST_INDEXES(http_parse, etag, inm_cases)

ParameterizedTest(size_t *i, http_parse, etag)
{
    const struct inm_case *c = &inm_cases[*i];
    http_slice s = {c->header, strlen(c->header)};
    cr_assert_eq(http_etag_match(s, c->v), c->match, "'%s' vs %lld", c->header, c->v);
}

/* ---- Accept-Encoding ---------------------------------------------------------------- */

struct ae_case {
    const char *header;
    unsigned want;
};

static struct ae_case ae_cases[] = {
    {"", 0},
    {"gzip", HTTP_ENC_GZIP},
    {"gzip, deflate, br, zstd", HTTP_ENC_GZIP | HTTP_ENC_ZSTD},
    {"GZIP;q=0.5", HTTP_ENC_GZIP},
    {"gzip;q=0", 0},
    {"gzip; q=0.000", 0},
    {"gzip;q=0.001", HTTP_ENC_GZIP},
    {"*", HTTP_ENC_GZIP | HTTP_ENC_ZSTD},
    {"*, zstd;q=0", HTTP_ENC_GZIP},
    {"identity", 0},
    {"br", 0},
};

TEST_INDEXES(http_parse, accept_encoding, ae_cases)

ParameterizedTest(size_t *i, http_parse, accept_encoding)
{
    const struct ae_case *c = &ae_cases[*i];
    http_slice s = {c->header, strlen(c->header)};
    cr_assert_eq(http_accept_encodings(s), c->want, "'%s'", c->header);
}

/* ---- query parameters and timestamps ------------------------------------------------ */

Test(http_parse, query_params)
{
    const char *q = "_since=%22123%22&_expected=0&bucket=a+b&flag&x=%zz";
    http_slice s = {q, strlen(q)};
    char v[64];
    size_t n;
    cr_assert_eq(http_query_param(s, "_since", v, sizeof(v), &n), 1);
    cr_assert_str_eq(v, "\"123\"");
    cr_assert_eq(http_query_param(s, "_expected", v, sizeof(v), &n), 1);
    cr_assert_str_eq(v, "0");
    cr_assert_eq(http_query_param(s, "bucket", v, sizeof(v), &n), 1);
    cr_assert_str_eq(v, "a b");
    cr_assert_eq(http_query_param(s, "flag", v, sizeof(v), &n), 1);
    cr_assert_eq(n, 0);
    cr_assert_eq(http_query_param(s, "x", v, sizeof(v), &n), -1);
    cr_assert_eq(http_query_param(s, "_since_", v, sizeof(v), &n), 0);
    cr_assert_eq(http_query_param(s, "_sinc", v, sizeof(v), &n), 0);
    const char *nul = "a=%00";
    cr_assert_eq(http_query_param((http_slice){nul, strlen(nul)}, "a", v, sizeof(v), &n), -1);
    cr_assert_eq(http_query_param(s, "_since", v, 3, &n), -1); /* too long for 'out' */
}

struct ts_case {
    const char *in;
    int rc;
    long long v;
};

static struct ts_case ts_cases[] = {
    {"0", 0, 0},
    {"1700000000000", 0, 1700000000000LL},
    {"\"1700000000000\"", 0, 1700000000000LL},
    {"999999999999999999", 0, 999999999999999999LL},
    {"9999999999999999999", -1, 0},
    {"", -1, 0},
    {"\"\"", -1, 0},
    {"-1", -1, 0},
    {"12a", -1, 0},
    {"\"12", -1, 0},
    {" 12", -1, 0},
    {"1.5", -1, 0},
};

TEST_INDEXES(http_parse, timestamp, ts_cases)

ParameterizedTest(size_t *i, http_parse, timestamp)
{
    const struct ts_case *c = &ts_cases[*i];
    int64_t v = -7;
    cr_assert_eq(http_parse_timestamp(c->in, strlen(c->in), &v), c->rc, "'%s'", c->in);
    if (c->rc == 0)
        cr_assert_eq(v, c->v);
}

/* ---- query iteration ------------------------------------------------------------- */

Test(http_parse, query_next_and_decode)
{
    const char *q = "a=1&&b&c=%41+x&a=2&=v&d=%zz";
    http_slice rest = {q, strlen(q)}, k, v;
    static const char *const names[] = {"a", "b", "c", "a", "", "d"};
    static const char *const values[] = {"1", "", "%41+x", "2", "v", "%zz"};
    size_t i = 0;
    while (http_query_next(&rest, &k, &v)) {
        cr_assert_lt(i, 6);
        cr_assert_eq(k.len, strlen(names[i]));
        cr_assert_eq(memcmp(k.p, names[i], k.len), 0);
        cr_assert_eq(v.len, strlen(values[i]), "value %zu", i);
        cr_assert_eq(memcmp(v.p, values[i], v.len), 0);
        i++;
    }
    cr_assert_eq(i, 6);
    char out[8];
    size_t n;
    cr_assert_eq(http_query_decode((http_slice){"%41+x", 5}, out, sizeof(out), &n), 0);
    cr_assert_str_eq(out, "A x");
    cr_assert_eq(http_query_decode((http_slice){"%zz", 3}, out, sizeof(out), &n), -1);
    cr_assert_eq(http_query_decode((http_slice){"%00", 3}, out, sizeof(out), &n), -1);
    cr_assert_eq(http_query_decode((http_slice){"12345678", 8}, out, sizeof(out), &n), -1);
    cr_assert_eq(http_query_decode((http_slice){"1234567", 7}, out, sizeof(out), &n), 0);
    rest = (http_slice){"", 0};
    cr_assert_eq(http_query_next(&rest, &k, &v), 0);
}

/* ---- differential: the word-at-a-time validation against a byte-by-byte reference -- */

Test(http_parse, random_targets_and_values_match_a_reference)
{
    unsigned seed = 7;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
    char req[512], target[128], value[128];
    for (int round = 0; round < 20000; round++) {
        size_t tl = 1 + RND() % 60, vl = RND() % 60;
        int want_ok = 1;
        target[0] = '/';
        for (size_t i = 1; i < tl; i++)
            target[i] = (char)(0x21 + RND() % 94);
        for (size_t i = 0; i < vl; i++) {
            int r = RND() % 100;
            unsigned c = RND();
            value[i] = r < 5 ? '\t' : r < 30 ? (char)(0x80 + c % 128) : (char)(0x21 + c % 94);
        }
        if (RND() % 3 == 0) { /* one bad byte somewhere */
            static const unsigned char bad_t[] = {0x00, 0x01, 0x09, 0x1f, 0x20, 0x7f, 0x80, 0xff};
            static const unsigned char bad_v[] = {0x00, 0x01, 0x08, 0x0b, 0x1f, 0x7f};
            unsigned which = RND(), pos = RND(), b = RND();
            if (which % 2 && tl > 1)
                target[1 + pos % (tl - 1)] = (char)bad_t[b % sizeof(bad_t)];
            else if (vl > 2)
                value[1 + pos % (vl - 2)] = (char)bad_v[b % sizeof(bad_v)];
            else
                continue;
            want_ok = 0;
        }
        /* Built with memcpy: the bytes may include NUL. */
        size_t n = 0;
#define PUT(p, len) (memcpy(req + n, (p), (len)), n += (len))
        PUT("GET ", 4);
        PUT(target, tl);
        PUT(" HTTP/1.1\r\nHost: a\r\nX-V: ", 25);
        PUT(value, vl);
        PUT("\r\n\r\n", 4);
#undef PUT
        http_request r;
        ssize_t rc = http_parse_request(&r, req, n, &lim);
        cr_assert_eq(rc > 0, want_ok, "round %d: rc %zd", round, rc);
        if (want_ok)
            cr_assert_eq(r.target.len, tl);
    }
#undef RND
}

/* Prefer: wait (RFC 7240), as the read server's long-poll reads it. */
static int64_t
pw(const char *v)
{
    return http_prefer_wait((http_slice){v, strlen(v)});
}

Test(http_parse, prefer_wait_values)
{
    cr_assert_eq(pw("wait=10"), 10);
    cr_assert_eq(pw("WAIT=10"), 10);
    cr_assert_eq(pw("wait = 10"), 10);
    cr_assert_eq(pw("wait=\"7\""), 7);
    cr_assert_eq(pw("respond-async, wait=30"), 30);
    cr_assert_eq(pw("respond-async;x=1,wait=5;y"), 5);
    cr_assert_eq(pw("wait=0"), 0);
    cr_assert_eq(pw("wait=99999999999999999999"), HTTP_PREFER_WAIT_MAX);
    /* The first wait counts, even when malformed. */
    cr_assert_eq(pw("wait=x, wait=3"), -1);
    cr_assert_eq(pw("wait=3, wait=4"), 3);
    /* Not a wait: other names, quoted text, missing or bad values. */
    cr_assert_eq(pw("handling=lenient"), -1);
    cr_assert_eq(pw("foo=\"wait=3, x\""), -1);
    cr_assert_eq(pw("foo=\"a\\\"b, wait=3\""), -1);
    cr_assert_eq(pw("waits=3"), -1);
    cr_assert_eq(pw("wait"), -1);
    cr_assert_eq(pw("wait="), -1);
    cr_assert_eq(pw("wait=-1"), -1);
    cr_assert_eq(pw("wait=1.5"), -1);
    cr_assert_eq(pw(""), -1);
    cr_assert_eq(pw(",;=\""), -1);
}

Test(http_parse, prefer_header_first_wait_counts)
{
    const char *r1 = "GET / HTTP/1.1\r\nHost: a\r\nPrefer: respond-async\r\nprefer: wait=9\r\n"
                     "Prefer: wait=4\r\n\r\n";
    http_request req;
    cr_assert_gt(http_parse_request(&req, r1, strlen(r1), &lim), 0);
    cr_assert_eq(req.prefer_wait, 9);
    cr_assert_eq(req.wait_applied, 0);
    const char *r2 = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    cr_assert_gt(http_parse_request(&req, r2, strlen(r2), &lim), 0);
    cr_assert_eq(req.prefer_wait, -1);
}
