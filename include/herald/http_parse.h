/*
 * http_parse -- the zero-copy HTTP/1.x request parser of the read server and the
 * publisher (written for the read server's hot path, then shared so that both answer
 * malformed requests the same way, in Kinto's error format).
 *
 * The parser never allocates and never copies: every field of http_request is a slice
 * {p, len} pointing into the caller's read buffer, valid until the caller moves or
 * reuses those bytes. It reads the request line and records the headers the read server
 * acts on (If-None-Match, Accept-Encoding, Connection, Host, Content-Length,
 * Transfer-Encoding, and the wait preference of Prefer); every other header is syntax-checked and
 * skipped, unless the caller gives an array for all of them (http_limits.headers, the publisher).
 *
 * It is strict where leniency enables request smuggling or cache confusion (obs-fold,
 * whitespace before ':', control characters, duplicate Host or Content-Length, any
 * Transfer-Encoding), and lenient where RFC 9112 allows it (a bare LF as line end).
 *
 * http_parse_request() looks at the bytes buffered so far and returns:
 *   > 0   a complete request head: the number of bytes it spans (the caller consumes
 *         them; a request body, which the read server never accepts, is not included);
 *   0     incomplete: read more and call again with the whole buffer;
 *   < 0   the negated HTTP status to answer before closing: 400 malformed, 414 request
 *         line too long, 431 header section too large (or more headers than the
 *         caller's array holds), 505 unsupported version, 501 Transfer-Encoding (other
 *         than "chunked" alone when the caller allows it; 400 with Content-Length too).
 * Parsing is restarted from the beginning on each call: heads are small (limits below)
 * and a client trickling a head byte by byte is bounded by the slow-header timeout.
 */
#ifndef HERALD_HTTP_PARSE_H
#define HERALD_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct http_slice {
    const char *p;
    size_t len;
} http_slice;

enum http_method {
    HTTP_METHOD_OTHER = 0,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_OPTIONS,
};

typedef struct http_request {
    int method; /* enum http_method */
    http_slice method_name;
    http_slice target;      /* path and query, as sent */
    http_slice path;        /* target up to '?' */
    http_slice query;       /* after '?', empty when none */
    int minor;              /* HTTP/1.<minor>: 0 or 1 */
    int keep_alive;         /* 1 if the connection stays open after the response */
    int64_t content_length; /* -1 when absent */
    http_slice if_none_match;
    http_slice accept_encoding;
    http_slice connection;
    http_slice host;
    unsigned has_if_none_match : 1;
    unsigned has_accept_encoding : 1;
    unsigned chunked : 1; /* Transfer-Encoding: chunked (only with allow_chunked) */
    size_t nheaders;      /* headers recorded in http_limits.headers */
    int64_t prefer_wait;  /* Prefer: wait=N (RFC 7240), the first one: N seconds (at most
                             HTTP_PREFER_WAIT_MAX); -1 when absent or malformed */
    /* Not the parser's (always 0 from it): a server that held the request for its wait
     * preference sets the seconds it honoured, and the response announces them
     * (Preference-Applied). */
    int64_t wait_applied;
} http_request;

typedef struct http_header {
    http_slice name;  /* a token, as sent */
    http_slice value; /* without surrounding whitespace */
} http_header;

typedef struct http_limits {
    size_t max_request_line; /* longer: 414 */
    size_t max_head;         /* request line + headers longer: 431 */
    http_header *headers;    /* non-NULL: every header is recorded here, in order */
    size_t max_headers;      /* its size; more headers: 431 */
    int allow_chunked;       /* accept "Transfer-Encoding: chunked" (the caller decodes) */
} http_limits;

#define HTTP_DEFAULT_MAX_REQUEST_LINE 8192
#define HTTP_DEFAULT_MAX_HEAD 16384

ssize_t http_parse_request(http_request *req, const char *buf, size_t len, const http_limits *lim)
    __attribute__((warn_unused_result));

#define HTTP_PREFER_WAIT_MAX 999999999 /* larger wait values are read as this */

/*
 * The wait preference in the value of one Prefer header (RFC 7240: a comma-separated
 * list of token[=word] preferences, each with optional ';' parameters; names are
 * case-insensitive; a word is a token or a quoted string). Returns N >= 0 for the first
 * "wait" whose value is delta-seconds (digits, optionally quoted; capped at
 * HTTP_PREFER_WAIT_MAX), or -1 when there is none or its value is not a number.
 */
int64_t http_prefer_wait(http_slice v);

/* The message of a Kinto error answering a parser status (400, 408, 413, 414, 431, 501,
 * 505), shared by both servers so that they word protocol errors the same way. */
const char *http_error_message(int status);

/*
 * If-None-Match against version 'v' (the strong ETag "v"): returns 1 when 'inm' is "*"
 * or lists "v" or W/"v" (weak comparison, RFC 9110 13.1.2), else 0. Malformed entries
 * never match.
 */
int http_etag_match(http_slice inm, int64_t v);
/* The same against the opaque part 'tag' (without quotes) of a strong ETag. */
int http_etag_match_tag(http_slice inm, const char *tag, size_t taglen);

enum http_encoding {
    HTTP_ENC_GZIP = 1,
    HTTP_ENC_ZSTD = 2,
};

/* Accept-Encoding: a bit mask of the encodings above that are acceptable (q > 0),
 * "*" included. 0 when the header is empty or accepts neither. */
unsigned http_accept_encodings(http_slice ae);

/*
 * Chooses the content coding for a response to a request with Accept-Encoding 'ae',
 * among 'avail' (a mask of HTTP_ENC_*; identity is always available). RFC 9110 12.5.3:
 * the available coding with the highest q-value wins; a coding not listed takes the
 * q of "*" if present, else is not acceptable -- except identity, acceptable (with the
 * lowest preference) unless refused ("identity;q=0", or "*;q=0" without identity).
 * Ties go to the smaller
 * representation: zstd, then gzip, then identity. Returns HTTP_ENC_ZSTD, HTTP_ENC_GZIP,
 * or 0 for identity (also when nothing is acceptable: we never answer 406, identity
 * is what a client without the header gets anyway).
 */
int http_accept_pick(http_slice ae, unsigned avail);

/*
 * Finds query parameter 'name' in 'query' (a=b&c=d, no leading '?'). On success
 * percent-decodes its value ('+' as space) into 'out' (at most 'outmax' bytes,
 * NUL-terminated), sets *outlen and returns 1; returns 0 if absent, -1 if the value is
 * malformed (bad escape, NUL) or too long. A parameter without '=' has an empty value.
 */
int http_query_param(http_slice query, const char *name, char *out, size_t outmax, size_t *outlen);

/* Iterates over the parameters of a query string: takes the next one off '*rest', sets
 * 'name' and 'value' (raw slices, not decoded; the value is empty without '=') and
 * returns 1, or returns 0 at the end. Empty parameters ("&&") are skipped. */
int http_query_next(http_slice *rest, http_slice *name, http_slice *value);
/*
 * The one query-string decoder: percent escapes and '+' as a space, into 'out' (at most
 * 'outmax' bytes with the NUL). The two modes exist because the two read endpoints
 * answer differently on the wire, and both must keep doing so:
 *   HTTP_QUERY_STRICT   /changeset (Remote Settings' changes endpoint, served from
 *                       memory): a malformed escape or a NUL byte is an error (-1), so
 *                       "_since=%zz" is a 400 there;
 *   HTTP_QUERY_LENIENT  /records and the other plural endpoints (Kinto's listing, which
 *                       follows Python's parse_qsl): a malformed escape stays literal and
 *                       %00 decodes to a NUL (the caller gets the length); the listing
 *                       then reports Kinto's own message about the value.
 * The _since value itself is also read under each endpoint's own rule afterwards
 * (http_parse_timestamp: digits, optionally quoted; listing.c: Kinto's integer, which
 * takes "5.7" as 5), which is wire behaviour clients see and is kept.
 * Returns 0, or -1 if malformed (STRICT only) or longer than 'outmax' - 1.
 */
enum http_query_mode { HTTP_QUERY_STRICT, HTTP_QUERY_LENIENT };
int http_query_decode_mode(http_slice value, enum http_query_mode mode, char *out, size_t outmax,
                           size_t *outlen);
/* http_query_decode_mode(STRICT). */
int http_query_decode(http_slice value, char *out, size_t outmax, size_t *outlen);

/* Parses a _since/_before style timestamp: decimal digits, optionally in double quotes
 * (Remote Settings clients send "123"). Returns 0 or -1. */
int http_parse_timestamp(const char *s, size_t len, int64_t *out);

#endif
