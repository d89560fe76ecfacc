/*
 * multipart -- a streaming multipart/form-data parser (RFC 7578, RFC 2046 section 5.1)
 * written for untrusted input.
 *
 * The body is fed in pieces of any size as they arrive from the socket; the parser
 * calls back at the start of each part (with its parsed headers), with each run of the
 * part's content, and at its end. Nothing but one part's header section is ever held:
 * a part's content goes straight to the callback, so an upload of any size is parsed
 * in constant memory.
 *
 * Delimiter search: the delimiter is CRLF "--" boundary; the stream is treated as if
 * it began with CRLF, so a body that opens with the first boundary line (the usual
 * case, no preamble) matches. The search is Knuth-Morris-Pratt over the stream: after
 * each piece, the bytes that may still begin a delimiter are exactly the delimiter's
 * first 'mi' bytes, so they need no copy (they are re-emitted from the delimiter
 * itself when the match fails). Content is therefore delivered in at most one or two
 * runs per piece, whatever the piece boundaries: fed whole, split, or byte by byte, the
 * parser reports the same parts with the same bytes (the fuzz target checks this).
 *
 * Limits (untrusted input): a part's header section at most PUB_MP_MAX_HEAD bytes and
 * PUB_MP_MAX_HEADERS lines; a name or filename at most PUB_MP_MAX_NAME bytes; a part
 * Content-Type at most PUB_MP_MAX_TYPE bytes; header lines end in CRLF; parameter
 * values may not hold CR, LF or NUL. The preamble and the epilogue are skipped, as RFC
 * 2046 says.
 */
#ifndef HERALD_PUB_MULTIPART_H
#define HERALD_PUB_MULTIPART_H

#include <stddef.h>

#define PUB_MP_MAX_BOUNDARY 70
#define PUB_MP_MAX_HEAD 8192
#define PUB_MP_MAX_HEADERS 16
#define PUB_MP_MAX_NAME 1024
#define PUB_MP_MAX_TYPE 256

enum pub_mp_status {
    PUB_MP_OK = 0,
    PUB_MP_BAD,      /* malformed multipart body */
    PUB_MP_LIMIT,    /* a header section, name or type over its limit */
    PUB_MP_STOPPED,  /* a callback returned nonzero */
    PUB_MP_TRUNCATED /* pub_mp_finish: the closing delimiter never came */
};

/* One part's headers, valid during the part_begin callback only. */
typedef struct pub_mp_part {
    const char *name; /* Content-Disposition name ("" when absent) */
    int has_name;
    const char *filename;     /* filename (or filename*, which wins), NULL when absent */
    size_t filename_len;      /* it may hold NUL-free arbitrary bytes */
    const char *content_type; /* the part's Content-Type, NULL when absent */
    int form_data;            /* Content-Disposition was form-data */
} pub_mp_part;

/* Callbacks: return 0 to go on, anything else to stop (pub_mp_feed returns
 * PUB_MP_STOPPED and the parser accepts no more input). */
typedef struct pub_mp_callbacks {
    int (*part_begin)(void *arg, const pub_mp_part *part);
    int (*part_data)(void *arg, const char *data, size_t len);
    int (*part_end)(void *arg);
} pub_mp_callbacks;

typedef struct pub_mp pub_mp;

/* Parses a request Content-Type. Returns 0 with the boundary in 'out' (NUL-terminated,
 * 'outlen' > PUB_MP_MAX_BOUNDARY), 1 if the type is not multipart/form-data, 2 if the
 * boundary is missing or invalid (then 'out' holds what was found, maybe truncated). */
int pub_mp_content_type(const char *content_type, char *out, size_t outlen);

/* A parser for 'boundary' (1..70 characters). */
pub_mp *pub_mp_new(const char *boundary, const pub_mp_callbacks *cb, void *arg);
/* Parses the next 'len' bytes. Returns PUB_MP_OK or the first error (sticky). */
enum pub_mp_status pub_mp_feed(pub_mp *m, const char *data, size_t len);
/* The body is over: PUB_MP_OK if the closing delimiter was seen, else the error. */
enum pub_mp_status pub_mp_finish(pub_mp *m);
void pub_mp_free(pub_mp *m); /* NULL-safe */

#endif
