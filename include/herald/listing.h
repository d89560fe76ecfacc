/*
 * listing -- Kinto's plural GET logic: querystring filters, sorting, pagination,
 * `_fields` projection. Pure: no HTTP, no Redis. The publisher feeds it records read
 * from Redis, the read server records from an in-memory snapshot; both get the same
 * answers, and both answer errors with the same Kinto bodies.
 *
 * Use (one request):
 *
 *     herald_listing *l; herald_listing_error err;
 *     if (herald_listing_parse(&l, query, &opts, &err) < 0)
 *         -> 400: herald_listing_error_body(&buf, &err)     (errno 107, Kinto's details)
 *     fetch live records; also tombstones when herald_listing_include_deleted(l)
 *     (herald_listing_since()/_before() bound what is worth fetching)
 *     herald_listing_page page;
 *     herald_listing_apply(&page, l, records, tombstones, HERALD_LISTING_PROJECT);
 *     body {"data": page.data}; headers Total-Records/Total-Objects: page.total;
 *     if (page.next_token)
 *         herald_listing_next_url(&url, "http://host/v1/.../records", query, qlen,
 *                                 l, page.next_token)  -> Next-Page header
 *     herald_listing_page_free(&page); herald_listing_free(l);
 *
 * What Kinto does, and so what this does (kinto/core/resource/__init__.py, schema.py,
 * storage/memory.py):
 *  - The query string is form-decoded (percent escapes, '+' is a space), parameter
 *    names are stripped of surrounding blanks. Parameters starting with '_' other than
 *    _since, _before (and its deprecated alias _to), _sort, _limit, _fields and _token
 *    are ignored (e.g. _expected, or "_" cache busters).
 *  - Every other parameter is a filter: "<op>_<field>=<value>" with op one of eq, not,
 *    lt, gt, min, max, in, exclude, like, has, contains, contains_any, or "<field>=v"
 *    (eq). Field names are dotted paths into nested objects ("details.bug"); as in
 *    Kinto a key that itself contains dots wins (longest key first).
 *  - Values are "native": parsed as JSON when they are JSON (1, 1.5, true, null,
 *    "quoted string", [1,2]), otherwise the raw string. in_/exclude_ take a comma list
 *    of such values; contains_/contains_any_ a JSON array (a scalar means [scalar]).
 *  - _since=S / _before=S (S or "S") are last_modified > S / < S. Tombstones take part
 *    only when some filter targets last_modified (_since, _before, gt_last_modified,
 *    ...): Kinto's include_deleted rule.
 *  - _sort=a,-b: keys in order, '-' descending; unless "last_modified" is listed,
 *    -last_modified is appended (default: -last_modified alone).
 *  - Values of different types order as Kinto's memory backend orders them:
 *    null < string < number < boolean < array < object < missing field. Comparison
 *    filters use the same order, so gt_x=5 also matches records without x (Kinto).
 *  - _limit: capped by paginate_by and storage_max_fetch_size; absent means
 *    paginate_by (or the maximum); 0 or empty means the maximum.
 *  - Pagination is keyset: the token holds the sort values of the last object shown
 *    and the next page starts strictly after it (Kinto's pagination rules).
 *  - Total-Records counts the matching live objects (no tombstones), all pages.
 *  - Errors are 400 errno 107 with Kinto's details list
 *    [{"location":"querystring","name":"_since","description":"..."}].
 *
 * Deliberate differences from Kinto (each explained where it is implemented):
 *  - An implicit final sort key "id" ascending makes the order total, so paging
 *    through ties in the sort key returns every object exactly once (Kinto may skip
 *    or repeat them). Missing fields are kept as missing in the token.
 *  - The token is base64url (no padding) of {"last_object":{...},"offset":n}; no
 *    nonce (Kinto uses one only to stop replaying DELETE tokens).
 *  - Equality is type-strict everywhere (Python's in_ makes 1 == true); arrays and
 *    objects have a defined order instead of a 500; like_ matches strings only, '*'
 *    is the only wildcard, case folding is ASCII; contains_ needs an array field;
 *    has_ combines with the other filters (Kinto's memory backend let has_ override
 *    them); _since/_limit/... refuse true/false/null (colander takes true as 1);
 *    values that are not I-JSON (NaN, integers beyond 2^53) stay strings; a repeated
 *    parameter: the last one wins.
 *  - "contains_any_f" is contains_any on f (Kinto's regex alternation tries contains
 *    first and reads it as contains on "any_f").
 *
 * Thread-safety: a herald_listing is immutable after parsing; apply/match/compare only
 * read it and the records, so one may be shared by threads.
 */
#ifndef HERALD_LISTING_H
#define HERALD_LISTING_H

#include <jansson.h>
#include <stddef.h>

#include "herald/mem.h"

/* Kinto's defaults: paginate_by None (no page size), storage_max_fetch_size 10000. */
#define HERALD_LISTING_DEFAULT_MAX_FETCH 10000

typedef struct herald_listing_opts {
    /* Kinto's paginate_by: default and maximum page size; 0 = none. */
    long long paginate_by;
    /* Kinto's storage_max_fetch_size: hard cap on a page; 0 = the default above. */
    long long max_fetch_size;
    /* NULL-terminated list of field names filters, _sort and _fields may use (first
     * path component, Kinto's is_known_field for schemas without preserve_unknown);
     * NULL = every field (records, buckets, collections: Kinto's preserve_unknown). */
    const char *const *known_fields;
} herald_listing_opts;

/* A 400 errno 107 "Invalid parameters", as Kinto's json_error_handler builds it:
 * message is "<description>" when it mentions the name, else "<name> in querystring:
 * <description>" (or "querystring: <description>" without a name). Strings are
 * truncated to fit (never mid UTF-8 sequence), always NUL-terminated. */
typedef struct herald_listing_error {
    int status;            /* 400 */
    int errnum;            /* HERALD_ERRNO_INVALID_PARAMETERS (107) */
    int has_name;          /* 0: "name" is null in the details */
    char location[16];     /* "querystring" */
    char name[128];        /* the parameter, e.g. "_since" */
    char description[256]; /* e.g. "\"abc\" is not a number" */
    char message[512];
} herald_listing_error;

/* Appends the Kinto error body for 'err', canonical JSON: {"code":400,"details":[...],
 * "errno":107,"error":"Invalid parameters","message":...}. */
void herald_listing_error_body(herald_buf *out, const herald_listing_error *err);
/* A new reference: [{"location","name","description"}] (Kinto's "details"). */
json_t *herald_listing_error_details(const herald_listing_error *err)
    __attribute__((warn_unused_result));

typedef struct herald_listing herald_listing;

/*
 * Parses the raw query string 'query' ('len' bytes, without the '?'; NULL or empty for
 * none; need not be NUL-terminated) into a new listing in '*out'. 'opts' may be NULL
 * (defaults). Returns 0, or -1 with '*out' NULL and 'err' (may be NULL) filled: every
 * failure is a client error (bad numbers, bad _token, unknown fields, NUL bytes);
 * invalid UTF-8 is replaced by U+FFFD as Python's form decoding does.
 * The query string is untrusted input; allocation failure aborts (herald_mem).
 */
int herald_listing_parse_len(herald_listing **out, const char *query, size_t len,
                             const herald_listing_opts *opts, herald_listing_error *err)
    __attribute__((warn_unused_result));
/* Same, for a NUL-terminated 'query_string' (may be NULL). */
int herald_listing_parse(herald_listing **out, const char *query_string,
                         const herald_listing_opts *opts, herald_listing_error *err)
    __attribute__((warn_unused_result));
/* NULL-safe. */
void herald_listing_free(herald_listing *l);

/* The page size after Kinto's capping (always >= 1). */
long long herald_listing_limit(const herald_listing *l);
/* 1 when tombstones must be listed too (a filter targets last_modified), else 0. */
int herald_listing_include_deleted(const herald_listing *l);
/* 1 and '*ts' set when _since (resp. _before/_to) was given, else 0. Lets a caller
 * fetch only last_modified > since (< before); match() checks them anyway. */
int herald_listing_since(const herald_listing *l, long long *ts);
int herald_listing_before(const herald_listing *l, long long *ts);
/* 1 when _fields was given (herald_listing_project() then returns a subset). */
int herald_listing_has_fields(const herald_listing *l);

/* 1 when 'record' passes every filter (incl. _since/_before), else 0. Does not look
 * at "deleted": whether tombstones are candidates is the caller's (or apply's) call. */
int herald_listing_match(const herald_listing *l, const json_t *record);

/* Orders two objects by the listing's sort keys (then the implicit id): <0, 0, >0. */
int herald_listing_compare(const herald_listing *l, const json_t *a, const json_t *b);

/* Kinto's cross-type order of two values; NULL means a missing field (the greatest).
 * null < string < number < boolean < array < object < missing. 0 = equal (type-strict,
 * deep for containers; numbers by value, 1 == 1.0). */
int herald_listing_value_cmp(const json_t *a, const json_t *b);

/* Kinto's find_nested_value: the value at dotted 'path' in object 'obj' (borrowed), or
 * NULL when absent. A key containing dots is tried before descending. */
const json_t *herald_listing_field(const json_t *obj, const char *path);

/* A new reference: 'record' reduced to the _fields (plus id and last_modified), nested
 * dotted fields as Kinto's dict_subset; without _fields, a new reference to 'record'
 * itself (never modified). */
json_t *herald_listing_project(const herald_listing *l, const json_t *record)
    __attribute__((warn_unused_result));

enum herald_listing_flags {
    HERALD_LISTING_PROJECT = 1, /* page.data holds projected objects (GET), not the
                                   records themselves (e.g. for a plural DELETE) */
};

typedef struct herald_listing_page {
    json_t *data;     /* new array: the page, in order (references or projections) */
    long long total;  /* matching live objects over all pages (Total-Records) */
    long long offset; /* objects returned by this and the previous pages */
    char *next_token; /* malloc'ed _token of the next page; NULL on the last page */
} herald_listing_page;

/*
 * Filters, sorts and paginates. 'records' is an array of live objects, 'tombstones' an
 * array of {"id","last_modified","deleted":true} or NULL; tombstones are used only
 * when herald_listing_include_deleted(). Elements that are not objects are skipped.
 * Neither array is modified; page.data keeps references into them. Returns 0, or -1
 * when 'records' (or a non-NULL 'tombstones') is not an array ('*page' is then
 * zeroed). Cost: O(n) filter + O(m log m) sort of the m candidates after the token.
 */
int herald_listing_apply(herald_listing_page *page, const herald_listing *l, const json_t *records,
                         const json_t *tombstones, int flags) __attribute__((warn_unused_result));
/* Same over C arrays of object pointers (e.g. a snapshot's parsed records). */
int herald_listing_apply_v(herald_listing_page *page, const herald_listing *l,
                           const json_t *const *records, size_t nrecords,
                           const json_t *const *tombstones, size_t ntombstones, int flags)
    __attribute__((warn_unused_result));
/* Frees what the page owns; NULL-safe, the page is zeroed. */
void herald_listing_page_free(herald_listing_page *page);

/*
 * Appends the Next-Page URL: 'url' (absolute, without query, e.g.
 * "http://host:8888/v1/buckets/b/collections/c/records"), then '?' and the request's
 * 'query' ('qlen' bytes) with _limit set to herald_listing_limit(l) and _token to
 * 'token' (replaced in place where present, else appended; other parameters keep
 * their original bytes and order), as Kinto's _next_page_url.
 */
void herald_listing_next_url(herald_buf *out, const char *url, const char *query, size_t qlen,
                             const herald_listing *l, const char *token);

#endif
