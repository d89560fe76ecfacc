/*
 * check_listing -- Kinto's plural GET logic (lib/listing.c) on an arbitrary query string.
 *
 * The input is the raw query string (no '?'). It is parsed with three option sets (the
 * defaults; a paginate_by of 2 with a field whitelist; a max fetch size of 3) and:
 *   - on error: the listing is NULL, the error is 400 errno 107 with NUL-terminated
 *     strings, and herald_listing_error_body() is strict I-JSON whose details name the
 *     location, name and description;
 *   - on success it is applied to a fixed record set (with tombstones) and checked
 *     against a reference built from the public pieces: herald_listing_match() picks
 *     the candidates, herald_listing_compare() orders them (and must be a strict total
 *     order on them), Total-Records counts the live ones. Starting without a token
 *     (the query with "&_token=" appended, the last one wins), the pages chained
 *     through herald_listing_next_url() and re-parsed must list exactly the reference,
 *     each page at most the limit; starting from the query's own token they must list
 *     a suffix of it. Every next-page URL must parse.
 *   - projection (_fields) keeps id and last_modified of every record.
 */
#include "fuzz_checks.h"

#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/listing.h"
#include "listing_fixture.h"

static const char fixture_records[] =
    "[" LISTING_FIXTURE_R1_R6 ","
    "{\"id\":\"r7\",\"last_modified\":60,\"title\":\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\","
    "\"n\":1e20,\"details\":{\"bug\":\"123\",\"who\":null,\"a\":{\"b\":{\"c\":[1]}}}},"
    "{\"id\":\"R8\",\"last_modified\":5,\"title\":\"hello\",\"n\":-0.5,\"flag\":true,"
    "\"tags\":[\"c\"],\"schema\":1727282210311,\"enabled\":false}"
    "]";
static const char fixture_tombstones[] = "["
                                         "{\"id\":\"t1\",\"last_modified\":25,\"deleted\":true},"
                                         "{\"id\":\"t2\",\"last_modified\":55,\"deleted\":true},"
                                         "{\"id\":\"r9\",\"last_modified\":70,\"deleted\":true}"
                                         "]";

static json_t *records, *tombstones;

static int
load_fixtures(void)
{
    if (records)
        return 0;
    records = herald_jcs_parse(fixture_records, sizeof(fixture_records) - 1, HERALD_JCS_STRICT, 0,
                               NULL, 0);
    tombstones = herald_jcs_parse(fixture_tombstones, sizeof(fixture_tombstones) - 1,
                                  HERALD_JCS_STRICT, 0, NULL, 0);
    return records && tombstones ? 0 : -1;
}

static const char *
check_error(const herald_listing *l, const herald_listing_error *err)
{
    if (l)
        return "listing: parse failed but returned a listing";
    if (err->status != 400 || err->errnum != 107)
        return "listing: error is not 400 errno 107";
    if (!memchr(err->location, '\0', sizeof(err->location)) ||
        !memchr(err->name, '\0', sizeof(err->name)) ||
        !memchr(err->description, '\0', sizeof(err->description)) ||
        !memchr(err->message, '\0', sizeof(err->message)))
        return "listing: error string not NUL-terminated";
    herald_buf b = HERALD_BUF_INIT;
    herald_listing_error_body(&b, err);
    const char *why = NULL;
    json_t *body = herald_jcs_parse(b.data, b.len, HERALD_JCS_STRICT, 0, NULL, 0);
    json_t *d = json_array_get(json_object_get(body, "details"), 0);
    if (!body)
        why = "listing: error body is not I-JSON";
    else if (!json_is_string(json_object_get(body, "message")) ||
             json_integer_value(json_object_get(body, "code")) != 400 ||
             json_integer_value(json_object_get(body, "errno")) != 107)
        why = "listing: error body lacks code, errno or message";
    else if (!json_is_string(json_object_get(d, "location")) ||
             !json_is_string(json_object_get(d, "description")) ||
             !(err->has_name ? json_is_string(json_object_get(d, "name"))
                             : json_is_null(json_object_get(d, "name"))))
        why = "listing: error details lack location, name or description";
    json_decref(body);
    herald_buf_free(&b);
    return why;
}

/* The reference: candidates by match(), sorted with compare() (insertion sort: few). */
static size_t
reference(const herald_listing *l, const json_t **out, size_t *live)
{
    size_t n = 0, i;
    const json_t *r;
    *live = 0;
    json_array_foreach(records, i, r)
    {
        if (herald_listing_match(l, r)) {
            out[n++] = r;
            (*live)++;
        }
    }
    if (herald_listing_include_deleted(l))
        json_array_foreach(tombstones, i, r)
        {
            if (herald_listing_match(l, r))
                out[n++] = r;
        }
    for (size_t a = 1; a < n; a++) {
        const json_t *x = out[a];
        size_t b = a;
        while (b > 0 && herald_listing_compare(l, out[b - 1], x) > 0) {
            out[b] = out[b - 1];
            b--;
        }
        out[b] = x;
    }
    return n;
}

static const char *
check_order(const herald_listing *l, const json_t *const *ref, size_t n)
{
    for (size_t a = 0; a < n; a++) {
        if (herald_listing_compare(l, ref[a], ref[a]) != 0)
            return "listing: compare(x, x) != 0";
        for (size_t b = a + 1; b < n; b++) {
            int ab = herald_listing_compare(l, ref[a], ref[b]);
            int ba = herald_listing_compare(l, ref[b], ref[a]);
            if (ab >= 0 || ba <= 0)
                return "listing: compare is not a strict total order on the records";
        }
    }
    return NULL;
}

#define MAX_ITEMS 32

/*
 * Walks the pages from listing 'l' (parsed from 'query'), re-parsing each Next-Page URL
 * with 'opts'. Fills 'got' with the objects shown, in order. Returns NULL or the failed
 * property. 'l' stays owned by the caller.
 */
static const char *
walk_pages(herald_listing *l, const char *query, size_t qlen, const herald_listing_opts *opts,
           long long want_total, const json_t **got, size_t *ngot)
{
    const char *why = NULL;
    herald_listing *cur = l;
    char *q = NULL; /* the current query: may hold NUL bytes, copied from the input */
    size_t q_len = 0, pages = 0;
    *ngot = 0;
    for (;;) {
        herald_listing_page page;
        if (herald_listing_apply(&page, cur, records, tombstones, 0) != 0) {
            why = "listing: apply failed on arrays";
            break;
        }
        size_t n = json_array_size(page.data);
        if ((long long)n > herald_listing_limit(cur))
            why = "listing: page longer than the limit";
        else if (page.total != want_total)
            why = "listing: Total-Records is not the number of matching live records";
        else if (page.next_token && n == 0)
            why = "listing: empty page with a next token";
        else if (*ngot + n > MAX_ITEMS)
            why = "listing: pages repeat objects (more than the record set)";
        for (size_t i = 0; !why && i < n; i++)
            got[(*ngot)++] = json_array_get(page.data, i);
        if (why || !page.next_token || ++pages > MAX_ITEMS) {
            if (!why && page.next_token)
                why = "listing: pagination does not end";
            herald_listing_page_free(&page);
            break;
        }
        herald_buf url = HERALD_BUF_INIT;
        herald_listing_next_url(&url, "http://h/r", q ? q : query, q ? q_len : qlen, cur,
                                page.next_token);
        herald_listing_page_free(&page);
        if (url.len < 11 || memcmp(url.data, "http://h/r?", 11) != 0) {
            why = "listing: Next-Page does not start with the URL and '?'";
            herald_buf_free(&url);
            break;
        }
        free(q);
        q_len = url.len - 11;
        q = herald_mem_alloc(q_len + 1);
        memcpy(q, url.data + 11, q_len);
        herald_buf_free(&url);
        if (cur != l)
            herald_listing_free(cur);
        cur = NULL;
        herald_listing_error err;
        if (herald_listing_parse_len(&cur, q, q_len, opts, &err) != 0) {
            why = "listing: the Next-Page query does not parse";
            break;
        }
    }
    if (cur != l)
        herald_listing_free(cur);
    free(q);
    return why;
}

static const char *
check_projection(const herald_listing *l)
{
    herald_listing_page page;
    const char *why = NULL;
    if (herald_listing_apply(&page, l, records, tombstones, HERALD_LISTING_PROJECT) != 0)
        return "listing: apply failed on arrays";
    size_t i;
    const json_t *o;
    json_array_foreach(page.data, i, o)
    {
        const json_t *id = json_object_get(o, "id");
        if (!json_is_string(id) || !json_is_number(json_object_get(o, "last_modified")))
            why = "listing: a projection lost id or last_modified";
    }
    herald_listing_page_free(&page);
    return why;
}

static const char *
check_query(const char *q, size_t len, const herald_listing_opts *opts)
{
    herald_listing *l = NULL, *l0 = NULL;
    herald_listing_error err;
    const json_t *ref[MAX_ITEMS], *got[MAX_ITEMS];
    size_t nref, live, ngot;
    const char *why = NULL;
    char *q0 = NULL;

    if (herald_listing_parse_len(&l, q, len, opts, &err) != 0)
        return check_error(l, &err);
    if (herald_listing_limit(l) < 1) {
        why = "listing: limit below 1";
        goto out;
    }
    nref = reference(l, ref, &live);
    if ((why = check_order(l, ref, nref)) != NULL)
        goto out;
    if ((why = check_projection(l)) != NULL)
        goto out;

    /* From the query's own token (if any): a suffix of the reference. */
    if ((why = walk_pages(l, q, len, opts, (long long)live, got, &ngot)) != NULL)
        goto out;
    if (ngot > nref || memcmp(got, ref + (nref - ngot), ngot * sizeof(*got)) != 0) {
        why = "listing: pages are not a suffix of the sorted matches";
        goto out;
    }

    /* Without a token: exactly the reference. */
    q0 = herald_mem_alloc(len + sizeof("&_token="));
    memcpy(q0, q, len);
    memcpy(q0 + len, "&_token=", sizeof("&_token="));
    if (herald_listing_parse_len(&l0, q0, len + 8, opts, &err) != 0) {
        why = "listing: the query with '&_token=' appended does not parse";
        goto out;
    }
    if ((why = walk_pages(l0, q0, len + 8, opts, (long long)live, got, &ngot)) != NULL)
        goto out;
    if (ngot != nref || memcmp(got, ref, ngot * sizeof(*got)) != 0)
        why = "listing: pages do not list every match exactly once in order";
out:
    herald_listing_free(l);
    herald_listing_free(l0);
    free(q0);
    return why;
}

const char *
herald_fuzz_check_listing(const uint8_t *data, size_t size)
{
    static const char *const known[] = {"id",   "last_modified", "title",   "n",           "flag",
                                        "tags", "details",       "deleted", "details.bug", NULL};
    const herald_listing_opts paged = {2, 0, known};
    const herald_listing_opts small = {0, 3, NULL};
    const char *why;
    if (load_fixtures() < 0)
        return "listing: fixtures do not parse";
    if (size > 4096)
        return NULL; /* keeps the per-input cost bounded */
    if ((why = check_query((const char *)data, size, NULL)) != NULL)
        return why;
    if ((why = check_query((const char *)data, size, &paged)) != NULL)
        return why;
    return check_query((const char *)data, size, &small);
}
