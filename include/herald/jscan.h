/*
 * jscan -- one pass over a JSON array of objects (a snapshot's records_json or a
 * tombstones array), yielding for each element its byte range and its top-level "id",
 * "last_modified" and "deleted", without building a tree (no allocation at all).
 *
 * The read server needs nothing else of a record to index it (lib/delta.c): its bytes
 * are served as they are. Parsing them with jansson only to find these three fields
 * cost most of a cold start (a tree per record, built and freed).
 *
 * The scanner accepts a subset of what jansson accepts (herald_jcs_parse, non-strict):
 * whenever it accepts, jansson parses the same text and finds the same elements and
 * values (tests/unit/test_jscan.c compares them on random records, fuzz/check_jscan.c
 * on anything). Anything else is refused, and the caller falls back to jansson, which
 * then gives its own answer and error. Refused although jansson may accept (not worth a
 * fast path; never written by Herald's JCS):
 *  - any whitespace; escapes \uXXXX of a surrogate or of NUL; nesting deeper than
 *    HERALD_JSCAN_MAX_DEPTH; numbers that could overflow a double (digits before the
 *    point plus the exponent above 300);
 *  - an element that is not an object; a top-level "id" that is not a string; a
 *    top-level "last_modified" that is not an integer in [0, 2^53-1] written in digits;
 *    any of the three keys twice in one element (jansson keeps the last one).
 * An element without "id" is yielded (id NULL): the caller decides.
 */
#ifndef HERALD_JSCAN_H
#define HERALD_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#define HERALD_JSCAN_MAX_DEPTH 64

typedef struct herald_jscan_elem {
    size_t off, len; /* the element's bytes in the array text */
    const char *id;  /* the top-level "id" string's raw bytes (between the quotes), NULL:
                      * none; decode with herald_jscan_unescape when 'id_escaped' */
    size_t idlen;
    int id_escaped;
    int has_lm; /* 0: no top-level "last_modified" ('lm' is 0) */
    int64_t lm;
    int deleted; /* 1: top-level "deleted" is true */
} herald_jscan_elem;

typedef struct herald_jscan {
    const char *p;
    size_t len, pos;
    int state; /* 0: before '[', 1: inside, 2: done, -1: refused */
} herald_jscan;

void herald_jscan_init(herald_jscan *it, const char *json, size_t len);
/* 1: the next element is in '*e'; 0: the array ended and the whole text was read;
 * -1: refused (see above). After 0 or -1, every later call answers the same. */
int herald_jscan_next(herald_jscan *it, herald_jscan_elem *e);
/* The number of elements, or -1 when the scanner refuses the text. */
long long herald_jscan_count(const char *json, size_t len);
/* Writes the decoded bytes of a string's raw text 'raw' (as yielded: accepted by the
 * scanner) to 'out', which has room for 'rawlen' bytes (decoding never grows it);
 * returns the decoded length. */
size_t herald_jscan_unescape(char *out, const char *raw, size_t rawlen);

#endif
