/*
 * http_parse -- see http_parse.h.
 *
 * One pass over the buffered bytes with two small tables (token characters and field
 * value characters); no state is kept between calls. The request line is checked
 * first so that an over-long one is reported as 414 even before its end arrives, then
 * each header line is checked and, for the few headers we act on, recorded as a slice.
 * Header names are compared case-insensitively by length first, so the common headers
 * we skip (User-Agent, Accept, ...) cost one length comparison each.
 */
#include "herald/http_parse.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: "!#$%&'*+-.^_`|~" DIGIT ALPHA. */
static unsigned char tchar[256];
/* field-vchar / SP / HTAB / obs-text: everything but CTLs (HTAB allowed) and DEL. */
static unsigned char vchar[256];
/* request-target: visible ASCII (no SP, no CTL); obs-text refused in targets. */
static unsigned char tgtchar[256];

/* Filled before main() runs, so worker threads only ever read them. */
__attribute__((constructor)) static void
init_tables(void)
{
    for (int c = 0; c < 256; c++) {
        tchar[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        vchar[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
        tgtchar[c] = c > 0x20 && c < 0x7f;
    }
}

/* Finds the end of the line starting at 'p': returns the index of '\n' in [p, end) or
 * -1. '*eol' receives the length of the line without its CR LF or LF. */
static ssize_t
find_eol(const char *p, const char *end, size_t *eol)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return -1;
    size_t n = (size_t)(nl - p);
    *eol = (n > 0 && p[n - 1] == '\r') ? n - 1 : n;
    return (ssize_t)n;
}

#define NAME_IS(p, n, lit) name_is((p), (n), (lit), sizeof(lit) - 1)

/*
 * Eight bytes at a time (SWAR, "Bit Twiddling Hacks"): a word has a byte < n (n <= 128),
 * a byte > n (n <= 127), a byte equal to c. Used to validate request targets and header
 * values, the bulk of a request head, at about one instruction per byte.
 */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_LESS(x, n) (((x)-ONES * (n)) & ~(x)&HIGHS)
#define HAS_MORE(x, n) ((((x) + ONES * (127 - (n))) | (x)) & HIGHS)
#define HAS_BYTE(x, c) HAS_LESS((x) ^ (ONES * (c)), 1)

static uint64_t
load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* 'p' (a token) equals lowercase 'lit' ignoring ASCII case. c | 0x20 lowercases letters
 * and leaves '-' as is; no other token character maps onto a letter or '-' this way.
 * Eight bytes at a time: the names we look for are 4 to 17 bytes long. */
static int
name_is(const char *p, size_t n, const char *lit, size_t litlen)
{
    if (n != litlen)
        return 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        if ((load8(p + i) | ONES * 0x20) != load8(lit + i))
            return 0;
    if (n >= 8) /* the last 8 bytes, overlapping what was compared */
        return (load8(p + n - 8) | ONES * 0x20) == load8(lit + n - 8);
    for (; i < n; i++)
        if ((p[i] | 0x20) != lit[i])
            return 0;
    return 1;
}

/* Length of the prefix of p[0 .. n) made of request-target characters (visible ASCII). */
static size_t
target_span(const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = load8(p + i);
        if (HAS_LESS(x, 0x21) | HAS_MORE(x, 0x7e))
            break;
    }
    while (i < n && tgtchar[(unsigned char)p[i]])
        i++;
    return i;
}

/* 1 when p[0 .. n) holds only field-value characters (no CTL but HTAB, no DEL). */
static int
value_ok(const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = load8(p + i);
        if (HAS_LESS(x, 0x20) | HAS_BYTE(x, 0x7f))
            break; /* a tab, or a bad byte: look byte by byte */
    }
    for (; i < n; i++)
        if (!vchar[(unsigned char)p[i]])
            return 0;
    return 1;
}

static int
parse_request_line(http_request *req, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && tchar[(unsigned char)p[i]])
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return -400;
    req->method_name = (http_slice){p, i};
    req->method = HTTP_METHOD_OTHER;
    if (i == 3 && memcmp(p, "GET", 3) == 0)
        req->method = HTTP_METHOD_GET;
    else if (i == 4 && memcmp(p, "HEAD", 4) == 0)
        req->method = HTTP_METHOD_HEAD;
    else if (i == 7 && memcmp(p, "OPTIONS", 7) == 0)
        req->method = HTTP_METHOD_OPTIONS;
    size_t t = ++i;
    i += target_span(p + i, n - i);
    if (i == t || i >= n || p[i] != ' ')
        return -400;
    req->target = (http_slice){p + t, i - t};
    /* origin-form only ("*" for OPTIONS): a read server is never a proxy. */
    if (p[t] != '/' && !(req->method == HTTP_METHOD_OPTIONS && i - t == 1 && p[t] == '*'))
        return -400;
    const char *q = memchr(p + t, '?', i - t);
    if (q) {
        req->path = (http_slice){p + t, (size_t)(q - (p + t))};
        req->query = (http_slice){q + 1, (size_t)(p + i - q - 1)};
    } else {
        req->path = req->target;
        req->query = (http_slice){p + i, 0};
    }
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 6] != '.')
        return -400;
    char major = p[i + 5], minor = p[i + 7];
    if (major < '0' || major > '9' || minor < '0' || minor > '9')
        return -400;
    if (major != '1')
        return -505;
    req->minor = minor == '0' ? 0 : 1; /* HTTP/1.2+ is treated as 1.1 (RFC 9110 2.5) */
    return 0;
}

/* Trims optional whitespace (SP / HTAB) at both ends. */
static http_slice
trim_ows(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (http_slice){p, n};
}

/* Case-insensitive search for token 'tok' in a comma-separated list. */
static int
list_has_token(http_slice v, const char *tok, size_t tl)
{
    /* An absent header is {NULL, 0}: NULL + 0 is undefined behaviour in C. */
    const char *p = v.p, *end = v.len ? v.p + v.len : v.p;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        http_slice item = trim_ows(p, (size_t)(e - p));
        if (item.len == tl && strncasecmp(item.p, tok, tl) == 0)
            return 1;
        p = e + 1;
    }
    return 0;
}

static int
parse_content_length(http_slice v, int64_t *out)
{
    if (v.len == 0 || v.len > 15)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        n = n * 10 + (v.p[i] - '0');
    }
    *out = n;
    return 0;
}

/* Skips a quoted string starting at p (at its opening quote); returns the position
 * after its closing quote, or 'end' when it is unterminated. */
static const char *
skip_quoted(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* delta-seconds in p[0 .. n), optionally quoted; capped. -1 when not digits. */
static int64_t
wait_seconds(const char *p, size_t n)
{
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
        p++, n -= 2;
    if (n == 0)
        return -1;
    int64_t s = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        if (s < HTTP_PREFER_WAIT_MAX)
            s = s * 10 + (p[i] - '0');
    }
    return s > HTTP_PREFER_WAIT_MAX ? HTTP_PREFER_WAIT_MAX : s;
}

int64_t
http_prefer_wait(http_slice v)
{
    const char *p = v.p, *end = v.len ? v.p + v.len : v.p;
    while (p < end) {
        /* One preference: OWS token [BWS "=" BWS word] *(OWS ";" ...) up to a ','
         * outside quotes. */
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *name = p;
        while (p < end && tchar[(unsigned char)*p])
            p++;
        size_t nlen = (size_t)(p - name);
        const char *val = NULL, *vend = NULL;
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < end && *q == '=') {
            q++;
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            val = q;
            if (q < end && *q == '"')
                q = skip_quoted(q, end);
            else
                while (q < end && tchar[(unsigned char)*q])
                    q++;
            vend = q;
        }
        if (nlen == 4 && strncasecmp(name, "wait", 4) == 0)
            return val ? wait_seconds(val, (size_t)(vend - val)) : -1;
        /* Skip the rest of this preference (parameters), quotes included. */
        while (q < end && *q != ',') {
            if (*q == '"')
                q = skip_quoted(q, end);
            else
                q++;
        }
        if (q == p && q < end && *q != ',')
            q++; /* not a token: never loop in place */
        p = q;
    }
    return -1;
}

ssize_t
http_parse_request(http_request *req, const char *buf, size_t len, const http_limits *lim)
{
    const char *p = buf, *end = buf + len;
    size_t eol;
    int have_host = 0;

    memset(req, 0, sizeof(*req));
    req->content_length = -1;
    req->prefer_wait = -1;

    /* RFC 9112 2.2: ignore at least one empty line before the request line. */
    while (p < end && (*p == '\r' || *p == '\n') && p - buf < 4)
        p++;
    ssize_t nl = find_eol(p, end, &eol);
    if (nl < 0) {
        /* Incomplete line: a read may end between its CR and LF, and the CR is not part
         * of the line's length. */
        size_t have = (size_t)(end - p);
        if (have && end[-1] == '\r')
            have--;
        return have > lim->max_request_line ? -414 : 0;
    }
    if (eol > lim->max_request_line)
        return -414;
    int rc = parse_request_line(req, p, eol);
    if (rc < 0)
        return rc;
    p += nl + 1;

    for (;;) {
        nl = find_eol(p, end, &eol);
        if (nl < 0)
            return (size_t)(end - buf) > lim->max_head ? -431 : 0;
        if ((size_t)(p + nl + 1 - buf) > lim->max_head)
            return -431;
        if (eol == 0) { /* end of the header section */
            p += nl + 1;
            break;
        }
        size_t i = 0;
        while (i < eol && tchar[(unsigned char)p[i]])
            i++;
        /* No name, obs-fold (line starting with SP/HT), or whitespace before ':'. */
        if (i == 0 || i >= eol || p[i] != ':')
            return -400;
        if (!value_ok(p + i + 1, eol - i - 1))
            return -400;
        http_slice v = trim_ows(p + i + 1, eol - i - 1);
        if (lim->headers) {
            if (req->nheaders == lim->max_headers)
                return -431;
            lim->headers[req->nheaders++] = (http_header){{p, i}, v};
        }
        switch (i) {
        case 4:
            if (NAME_IS(p, i, "host")) {
                if (have_host)
                    return -400;
                have_host = 1;
                req->host = v;
            }
            break;
        case 6:
            /* Prefer may be repeated: the first wait preference counts (RFC 7240 2). */
            if (req->prefer_wait < 0 && NAME_IS(p, i, "prefer"))
                req->prefer_wait = http_prefer_wait(v);
            break;
        case 10:
            if (NAME_IS(p, i, "connection"))
                req->connection = v;
            break;
        case 13:
            if (NAME_IS(p, i, "if-none-match") && !req->has_if_none_match) {
                req->if_none_match = v;
                req->has_if_none_match = 1;
            }
            break;
        case 14:
            if (NAME_IS(p, i, "content-length")) {
                int64_t cl;
                if (req->content_length >= 0 || parse_content_length(v, &cl) < 0)
                    return -400;
                req->content_length = cl;
            }
            break;
        case 15:
            if (NAME_IS(p, i, "accept-encoding") && !req->has_accept_encoding) {
                req->accept_encoding = v;
                req->has_accept_encoding = 1;
            }
            break;
        case 17:
            /* The read server never reads request bodies, and a chunked one could not be
             * skipped safely; the publisher decodes "chunked" and nothing else. */
            if (NAME_IS(p, i, "transfer-encoding")) {
                if (!lim->allow_chunked || req->chunked || v.len != 7 ||
                    strncasecmp(v.p, "chunked", 7) != 0)
                    return -501;
                req->chunked = 1;
            }
            break;
        default:
            break;
        }
        p += nl + 1;
    }

    if (req->minor == 1 && !have_host)
        return -400; /* RFC 9112 3.2 */
    if (req->chunked && (req->content_length >= 0 || req->minor == 0))
        return -400; /* both framings: a smuggling attempt (RFC 9112 6.1) */
    if (req->minor == 1)
        req->keep_alive = !list_has_token(req->connection, "close", 5);
    else
        req->keep_alive = list_has_token(req->connection, "keep-alive", 10);
    return (ssize_t)(p - buf);
}

const char *
http_error_message(int status)
{
    switch (status) {
    case 408:
        return "Request header not received in time";
    case 413:
        return "Request body too large";
    case 414:
        return "Request line too long";
    case 431:
        return "Request header fields too large";
    case 501:
        return "Transfer-Encoding is not supported";
    case 505:
        return "HTTP version not supported";
    default:
        return "Malformed request";
    }
}

int
http_etag_match_tag(http_slice inm, const char *tag, size_t taglen)
{
    const char *p = inm.p, *end = inm.len ? inm.p + inm.len : inm.p; /* absent: {NULL, 0} */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '*') { /* "*" alone matches anything; in a list it is malformed */
        http_slice all = trim_ows(p, (size_t)(end - p));
        return all.len == 1;
    }
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p >= end)
            break;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if (p >= end || *p != '"')
            return 0;
        p++;
        if ((size_t)(end - p) > taglen && p[taglen] == '"' && memcmp(p, tag, taglen) == 0)
            return 1;
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return 0;
        p = q + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != ',')
            return 0;
    }
    return 0;
}

int
http_etag_match(http_slice inm, int64_t v)
{
    char tmp[24], *t = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 : (uint64_t)v;
    do {
        *--t = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return http_etag_match_tag(inm, t, (size_t)(tmp + sizeof(tmp) - t));
}

/* Parses ";q=..." parameters of one Accept-Encoding item; returns 1 if q > 0. */
static int
q_positive(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            return 1;
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            /* q=0, q=0.0, q=0.000 mean "not acceptable"; anything else is positive. */
            if (p < end && *p == '0') {
                p++;
                if (p < end && *p == '.')
                    p++;
                while (p < end && *p == '0')
                    p++;
                return p < end && *p >= '1' && *p <= '9';
            }
            return 1;
        }
    }
    return 1;
}

unsigned
http_accept_encodings(http_slice ae)
{
    unsigned yes = 0, no = 0, star = 0, star_set = 0;
    const char *p = ae.p, *end = ae.len ? ae.p + ae.len : ae.p; /* absent: {NULL, 0} */
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        http_slice item = trim_ows(p, (size_t)(e - p));
        const char *semi = memchr(item.p, ';', item.len);
        http_slice name = trim_ows(item.p, semi ? (size_t)(semi - item.p) : item.len);
        int pos = q_positive(item.p, item.p + item.len);
        unsigned bit = 0;
        if (name.len == 4 && strncasecmp(name.p, "gzip", 4) == 0)
            bit = HTTP_ENC_GZIP;
        else if (name.len == 4 && strncasecmp(name.p, "zstd", 4) == 0)
            bit = HTTP_ENC_ZSTD;
        else if (name.len == 1 && name.p[0] == '*') {
            star = pos;
            star_set = 1;
        }
        if (bit)
            *(pos ? &yes : &no) |= bit;
        p = e + 1;
    }
    if (star_set && star)
        yes |= (HTTP_ENC_GZIP | HTTP_ENC_ZSTD) & ~no;
    return yes & ~no;
}

/* The q-value of one Accept-Encoding item's parameters, in thousandths (1000 when
 * absent). A malformed q counts as 0: a client that garbles it gets identity. */
static int
item_q(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            return 1000;
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
            continue;
        p += 2;
        const char *e = memchr(p, ';', (size_t)(end - p));
        http_slice v = trim_ows(p, (size_t)((e ? e : end) - p));
        if (v.len == 0 || (v.p[0] != '0' && v.p[0] != '1'))
            return 0;
        int q = (v.p[0] - '0') * 1000, scale = 100;
        if (v.len > 1) {
            if (v.p[1] != '.' || v.len > 5)
                return 0;
            for (size_t i = 2; i < v.len; i++, scale /= 10) {
                if (v.p[i] < '0' || v.p[i] > '9')
                    return 0;
                q += (v.p[i] - '0') * scale;
            }
        }
        return q > 1000 ? 1000 : q;
    }
    return 1000;
}

int
http_accept_pick(http_slice ae, unsigned avail)
{
    int qg = -1, qz = -1, qi = -1, qstar = -1;
    const char *p = ae.p, *end = ae.len ? ae.p + ae.len : ae.p; /* absent: {NULL, 0} */
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        http_slice item = trim_ows(p, (size_t)(e - p));
        const char *semi = memchr(item.p, ';', item.len);
        http_slice name = trim_ows(item.p, semi ? (size_t)(semi - item.p) : item.len);
        int q = semi ? item_q(semi, item.p + item.len) : 1000;
        if (name.len == 4 && strncasecmp(name.p, "gzip", 4) == 0)
            qg = q;
        else if (name.len == 6 && strncasecmp(name.p, "x-gzip", 6) == 0)
            qg = qg < 0 ? q : qg;
        else if (name.len == 4 && strncasecmp(name.p, "zstd", 4) == 0)
            qz = q;
        else if (name.len == 8 && strncasecmp(name.p, "identity", 8) == 0)
            qi = q;
        else if (name.len == 1 && name.p[0] == '*')
            qstar = q;
        p = e + 1;
    }
    if (qg < 0)
        qg = qstar > 0 ? qstar : 0;
    if (qz < 0)
        qz = qstar > 0 ? qstar : 0;
    /* Identity not listed is acceptable but least preferred (RFC 9110 12.5.3 gives it
     * no q): "gzip;q=0.5" asks for gzip. */
    if (qi < 0)
        qi = qstar >= 0 ? qstar : 1;
    if (!(avail & HTTP_ENC_GZIP))
        qg = 0;
    if (!(avail & HTTP_ENC_ZSTD))
        qz = 0;
    if (qz > 0 && qz >= qg && qz >= qi)
        return HTTP_ENC_ZSTD;
    if (qg > 0 && qg >= qi)
        return HTTP_ENC_GZIP;
    return 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
http_query_next(http_slice *rest, http_slice *name, http_slice *value)
{
    while (rest->len) {
        const char *p = rest->p, *end = rest->p + rest->len;
        const char *amp = memchr(p, '&', rest->len);
        const char *e = amp ? amp : end;
        rest->p = amp ? amp + 1 : end;
        rest->len = (size_t)(end - rest->p);
        if (e == p)
            continue; /* "a=1&&b=2" */
        const char *eq = memchr(p, '=', (size_t)(e - p));
        *name = (http_slice){p, (size_t)((eq ? eq : e) - p)};
        *value = eq ? (http_slice){eq + 1, (size_t)(e - eq - 1)} : (http_slice){e, 0};
        return 1;
    }
    return 0;
}

int
http_query_decode_mode(http_slice value, enum http_query_mode mode, char *out, size_t outmax,
                       size_t *outlen)
{
    const char *v = value.p, *e = value.len ? value.p + value.len : value.p; /* {NULL, 0} */
    int strict = mode == HTTP_QUERY_STRICT;
    size_t o = 0;
    while (v < e) {
        int ch = (unsigned char)*v, hi, lo;
        if (ch == '%' && e - v >= 3 && (hi = hexval(v[1])) >= 0 && (lo = hexval(v[2])) >= 0) {
            ch = hi * 16 + lo;
            v += 3;
        } else if (ch == '%' && strict) {
            return -1;
        } else {
            if (ch == '+')
                ch = ' ';
            v++;
        }
        if ((ch == 0 && strict) || o + 1 >= outmax)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

int
http_query_decode(http_slice value, char *out, size_t outmax, size_t *outlen)
{
    return http_query_decode_mode(value, HTTP_QUERY_STRICT, out, outmax, outlen);
}

int
http_query_param(http_slice query, const char *name, char *out, size_t outmax, size_t *outlen)
{
    size_t nl = strlen(name);
    http_slice k, v;
    while (http_query_next(&query, &k, &v))
        if (k.len == nl && memcmp(k.p, name, nl) == 0)
            return http_query_decode(v, out, outmax, outlen) < 0 ? -1 : 1;
    return 0;
}

int
http_parse_timestamp(const char *s, size_t len, int64_t *out)
{
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (len == 0 || len > 18) /* 18 digits cannot overflow int64 */
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    *out = n;
    return 0;
}
