/*
 * check_jscan -- the records scanner (lib/jscan.c) against jansson.
 *
 * The input is taken as a records array text. The scanner is run over it; whenever it
 * accepts (the iteration ends with 0), jansson's non-strict parse (what lib/delta.c and
 * lib/snapshot.c fall back to) must accept it too, as an array with as many elements,
 * and for each element: the same top-level "id" (decoded bytes), "last_modified" (its
 * presence and value), "deleted" being true; and the element's byte range parses on its
 * own to a value equal to jansson's element. herald_jscan_count agrees with the
 * iteration. Whenever the scanner refuses, only the absence of crashes is checked: the
 * fallback decides.
 */
#include "fuzz_checks.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/jscan.h"

/* Compares one scanned element with jansson's element 'r' of the same text. */
static const char *
same_elem(const char *text, const herald_jscan_elem *e, const json_t *r)
{
    if (!json_is_object(r))
        return "jscan: accepted an element jansson does not read as an object";
    const json_t *id = json_object_get(r, "id");
    if (!e->id != !id)
        return "jscan: id presence differs from jansson";
    if (id) {
        if (!json_is_string(id))
            return "jscan: accepted a non-string id";
        char *dec = malloc(e->idlen + 1);
        size_t n = herald_jscan_unescape(dec, e->id, e->idlen);
        int same = n == json_string_length(id) && memcmp(dec, json_string_value(id), n) == 0;
        free(dec);
        if (!same)
            return "jscan: id differs from jansson's";
        if (!e->id_escaped && memchr(e->id, '\\', e->idlen))
            return "jscan: an id with a backslash not marked escaped";
    }
    const json_t *lm = json_object_get(r, "last_modified");
    if (!e->has_lm != !lm)
        return "jscan: last_modified presence differs from jansson";
    if (lm && (!json_is_number(lm) || json_number_value(lm) != (double)e->lm))
        return "jscan: last_modified differs from jansson's";
    if (!lm && e->lm != 0)
        return "jscan: last_modified without the key";
    if (e->deleted != json_is_true(json_object_get(r, "deleted")))
        return "jscan: deleted differs from jansson's";
    json_t *alone = herald_jcs_parse(text + e->off, e->len, 0, 0, NULL, 0);
    int eq = alone && json_equal(alone, r);
    json_decref(alone);
    return eq ? NULL : "jscan: an element's byte range is not jansson's element";
}

const char *
herald_fuzz_check_jscan(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    herald_jscan it;
    herald_jscan_elem e;
    size_t cap = 16, n = 0;
    herald_jscan_elem *v = malloc(cap * sizeof(*v));
    const char *why = NULL;
    int rc;
    json_t *arr = NULL;

    herald_jscan_init(&it, text, size);
    while ((rc = herald_jscan_next(&it, &e)) == 1) {
        if (e.off >= size || e.len > size - e.off || e.len < 2)
            return "jscan: an element's range is outside the text";
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
        v[n++] = e;
    }
    if (herald_jscan_next(&it, &e) != rc) {
        why = "jscan: the iterator changed its verdict after the end";
        goto out;
    }
    long long count = herald_jscan_count(text, size);
    if (rc < 0) {
        if (count != -1)
            why = "jscan: count accepts what the iteration refused";
        goto out;
    }
    if (count != (long long)n) {
        why = "jscan: count differs from the iteration";
        goto out;
    }
    arr = herald_jcs_parse(text, size, 0, 0, NULL, 0);
    if (!arr || !json_is_array(arr)) {
        why = "jscan: accepted what jansson refuses (or not as an array)";
        goto out;
    }
    if (json_array_size(arr) != n) {
        why = "jscan: element count differs from jansson's";
        goto out;
    }
    for (size_t i = 0; i < n && !why; i++)
        why = same_elem(text, &v[i], json_array_get(arr, i));
out:
    json_decref(arr);
    free(v);
    return why;
}
