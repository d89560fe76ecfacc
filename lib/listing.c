/*
 * listing -- see include/herald/listing.h for the contract and the list of differences
 * from Kinto.
 *
 * How it works:
 *
 *   query string --form-decode--> [(name, value)] --last wins--> herald_listing
 *                                                                  filters[]  (op, dotted field,
 * native value) sort[]     (field, desc) + implicit keys fields[]   (_fields + id, last_modified)
 *                                                                  limit, token (last_object,
 * offset)
 *
 *   apply: records (+ tombstones) --match--> candidates --keys--> [rec, key values...]
 *          --after token--> --merge sort--> first 'limit' = page; next token from the
 *          last one shown when more remain.
 *
 * Sort key values are looked up once per candidate (a Schwartzian transform, as
 * Kinto's memory backend does), so sorting 10k records costs no dotted-path walks.
 * The sort is a stable merge sort over indexes (Python's sorted() is stable); with the
 * implicit trailing "id" key the order is total anyway, which is what makes keyset
 * pagination exact: the next page is "every candidate strictly after the last object
 * shown", a single comparison against the token's values instead of Kinto's OR of
 * per-prefix rules (equivalent for a total order).
 *
 * Everything parsed from the query is validated here, at parse time, so apply() cannot
 * fail on client input: a bad _token is a 400 before any record is read.
 */
#include "herald/listing.h"

#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/http_parse.h"
#include "herald/jcs.h"
#include "herald/kerror.h"

#define ID_FIELD "id"
#define MODIFIED_FIELD "last_modified"
#define DELETED_FIELD "deleted"

enum op {
    OP_EQ,
    OP_NOT,
    OP_LT,
    OP_GT,
    OP_MIN,
    OP_MAX,
    OP_IN,
    OP_EXCLUDE,
    OP_LIKE,
    OP_HAS,
    OP_CONTAINS,
    OP_CONTAINS_ANY,
};

/* Longest keyword first: "contains_any_tags" is contains_any on "tags". Kinto builds its
 * regex alternation in enum order (contains before contains_any), which reads it as
 * contains on "any_tags"; the documented meaning is the one implemented here. */
static const struct {
    const char *kw;
    size_t len;
    enum op op;
} keywords[] = {
    {"contains_any", 12, OP_CONTAINS_ANY},
    {"contains", 8, OP_CONTAINS},
    {"exclude", 7, OP_EXCLUDE},
    {"like", 4, OP_LIKE},
    {"has", 3, OP_HAS},
    {"min", 3, OP_MIN},
    {"max", 3, OP_MAX},
    {"not", 3, OP_NOT},
    {"lt", 2, OP_LT},
    {"gt", 2, OP_GT},
    {"in", 2, OP_IN},
    {"eq", 2, OP_EQ},
};

struct filter {
    enum op op;
    char *field;
    json_t *value; /* scalar ops: the native value; in/exclude/contains*: an array */
    char *pattern; /* like_: the pattern, ASCII lower-cased */
    size_t pattern_len;
    int truthy; /* has_ */
};

struct sortkey {
    char *field;
    int desc;
};

struct herald_listing {
    struct filter *filters;
    size_t nfilters;
    struct sortkey *sort;
    size_t nsort;
    char **fields; /* NULL without _fields */
    size_t nfields;
    long long limit;
    int include_deleted;
    int has_since, has_before;
    long long since, before;
    json_t *token_last; /* the token's last_object, or NULL */
    long long token_offset;
};

struct param {
    char *name;
    size_t name_len;
    char *value;
    size_t value_len;
};

/* ---- errors ---------------------------------------------------------------------- */

/* Copies 'src' into 'dst' (capacity 'cap'), cutting before a character that does not
 * fit so the result stays valid UTF-8 for the JSON error body. */
static void
copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Fills 'err' as Kinto's json_error_handler would for one cornice error; 'name' NULL
 * gives a null "name". Returns -1 so callers can 'return fail(...)'. */
__attribute__((format(printf, 3, 4))) static int
fail(herald_listing_error *err, const char *name, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);

    memset(err, 0, sizeof(*err));
    err->status = 400;
    err->errnum = HERALD_ERRNO_INVALID_PARAMETERS;
    copy_trunc(err->location, sizeof(err->location), "querystring");
    copy_trunc(err->description, sizeof(err->description), tmp);
    if (name) {
        err->has_name = 1;
        copy_trunc(err->name, sizeof(err->name), name);
    }
    if (name && strstr(err->description, err->name))
        snprintf(tmp, sizeof(tmp), "%s", err->description);
    else if (name)
        snprintf(tmp, sizeof(tmp), "%s in %s: %s", err->name, err->location, err->description);
    else
        snprintf(tmp, sizeof(tmp), "%s: %s", err->location, err->description);
    copy_trunc(err->message, sizeof(err->message), tmp);
    return -1;
}

json_t *
herald_listing_error_details(const herald_listing_error *err)
{
    json_t *e = json_object();
    json_object_set_new(e, "location", json_string(err->location));
    json_object_set_new(e, "name", err->has_name ? json_string(err->name) : json_null());
    json_object_set_new(e, "description", json_string(err->description));
    json_t *list = json_array();
    json_array_append_new(list, e);
    return list;
}

/* Not herald_kerror_body(): Kinto's "error" here is "Invalid parameters", not the
 * reason phrase. Same canonical (JCS) form as every other error body. */
void
herald_listing_error_body(herald_buf *out, const herald_listing_error *err)
{
    json_t *body = json_object();
    json_object_set_new(body, "code", json_integer(err->status));
    json_object_set_new(body, "details", herald_listing_error_details(err));
    json_object_set_new(body, "errno", json_integer(err->errnum));
    json_object_set_new(body, "error", json_string("Invalid parameters"));
    json_object_set_new(body, "message", json_string(err->message));
    size_t mark = out->len;
    /* Only strings and integers: cannot fail; never leave half a body. */
    if (herald_jcs_dump(out, body) < 0) {
        out->len = mark;
        herald_kerror_body(out, err->status, err->errnum, err->message, NULL);
    }
    json_decref(body);
}

/* ---- query string decoding ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at 's' (n bytes available), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Form-decodes 'n' bytes with the one query decoder (http_parse.h, lenient mode: a
 * malformed escape stays literal) and replaces invalid UTF-8 with U+FFFD, as Python's
 * parse_qsl (errors="replace") under WebOb does. Returns a NUL-terminated heap string; it may
 * contain NUL bytes (from %00), hence '*outlen'. */
static char *
form_decode(const char *s, size_t n, size_t *outlen)
{
    unsigned char *raw = herald_mem_alloc(n + 1);
    size_t r = 0;
    /* Decoding never grows the input, so n + 1 bytes always suffice. */
    (void)http_query_decode_mode((http_slice){s, n}, HTTP_QUERY_LENIENT, (char *)raw, n + 1, &r);
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_reserve(&b, r + 1);
    for (size_t i = 0; i < r;) {
        size_t k = utf8_seq(raw + i, r - i);
        if (k == 0) {
            herald_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            herald_buf_append(&b, raw + i, k);
            i += k;
        }
    }
    free(raw);
    herald_buf_cstr(&b);
    return herald_buf_steal(&b, outlen);
}

static int
is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Splits the query into parameters. A segment without '=' has an empty value (parse_qsl
 * with keep_blank_values); empty segments are skipped. Names are stripped of blanks
 * (Kinto strips them before matching). */
static struct param *
split_query(const char *q, size_t len, size_t *count)
{
    struct param *ps = NULL;
    size_t n = 0, cap = 0;
    size_t i = 0;
    while (q && i < len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(q + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (q + i)) : j - i;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                ps = herald_mem_realloc(ps, cap * sizeof(*ps));
            }
            struct param *p = &ps[n++];
            p->name = form_decode(q + i, nlen, &p->name_len);
            if (eq)
                p->value = form_decode(eq + 1, (size_t)(q + j - (eq + 1)), &p->value_len);
            else
                p->value = form_decode("", 0, &p->value_len);
            size_t a = 0, z = p->name_len;
            while (a < z && is_space((unsigned char)p->name[a]))
                a++;
            while (z > a && is_space((unsigned char)p->name[z - 1]))
                z--;
            memmove(p->name, p->name + a, z - a);
            p->name[z - a] = '\0';
            p->name_len = z - a;
        }
        i = j + 1;
    }
    *count = n;
    return ps;
}

static void
free_params(struct param *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ps[i].name);
        free(ps[i].value);
    }
    free(ps);
}

static int
has_nul(const char *s, size_t len)
{
    return memchr(s, '\0', len) != NULL;
}

/* Kinto's native_value: the JSON value when 'raw' is JSON, else the string itself.
 * Strict I-JSON parsing: NaN, Infinity and integers beyond 2^53 stay strings, where
 * Python's json.loads would make numbers of them. */
static json_t *
native_value(const char *raw, size_t len)
{
    char ebuf[8];
    json_t *v = herald_jcs_parse(raw, len, HERALD_JCS_STRICT, 0, ebuf, sizeof(ebuf));
    if (v)
        return v;
    return json_stringn(raw, len);
}

/* Python's int(str): blanks around, optional sign, decimal digits. Returns 0, -1 if not
 * a number, -2 on overflow. */
static int
py_int(const char *s, long long *out)
{
    while (is_space((unsigned char)*s))
        s++;
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = 0;
    int over = 0;
    while (*s >= '0' && *s <= '9') {
        if (v > (ULLONG_MAX - 9) / 10)
            over = 1;
        else
            v = v * 10 + (unsigned)(*s - '0');
        s++;
    }
    while (is_space((unsigned char)*s))
        s++;
    if (*s)
        return -1;
    if (over || v > (unsigned long long)LLONG_MAX)
        return neg ? -3 : -2;
    *out = neg ? -(long long)v : (long long)v;
    return 0;
}

/* A querystring integer as Kinto's schema reads _limit, _since, _before and
 * last_modified: QueryField(colander.Integer(), validator=Range(0, 2**63)) over the
 * native value, so 5, "5" and 5.7 (truncated, as int() does) are accepted. Booleans
 * and null are refused (colander would take true as 1). */
static int
kinto_int(const char *name, const char *raw, size_t len, long long *out, herald_listing_error *err)
{
    json_t *v = native_value(raw, len);
    int rc = -1;
    long long n = 0;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 9223372036854775808.0) {
            fail(err, name, "%.0f is greater than maximum value 9223372036854775808", trunc(d));
            goto out;
        }
        if (d <= -1.0) {
            fail(err, name, "%.0f is less than minimum value 0", trunc(d));
            goto out;
        }
        n = (long long)d;
    } else if (json_is_string(v)) {
        int r = py_int(json_string_value(v), &n);
        if (r == -2) {
            fail(err, name, "%s is greater than maximum value 9223372036854775808",
                 json_string_value(v));
            goto out;
        }
        if (r < 0 && r != -3) {
            fail(err, name, "\"%s\" is not a number", json_string_value(v));
            goto out;
        }
        if (r == -3) {
            fail(err, name, "%s is less than minimum value 0", json_string_value(v));
            goto out;
        }
    } else {
        fail(err, name, "\"%.*s\" is not a number", (int)(len > 200 ? 200 : len), raw);
        goto out;
    }
    if (n < 0) {
        fail(err, name, "%lld is less than minimum value 0", n);
        goto out;
    }
    *out = n;
    rc = 0;
out:
    json_decref(v);
    return rc;
}

/* Python's \w for field names (ASCII letters, digits, '_'; any non-ASCII byte stands
 * for Unicode word characters) plus '.'. */
static int
is_field_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c >= 0x80;
}

static int
all_field_chars(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_field_char((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Kinto's is_known_field: the first path component must be a known field. */
static int
is_known(const herald_listing_opts *opts, const char *field)
{
    if (!opts || !opts->known_fields)
        return 1;
    size_t n = strcspn(field, ".");
    static const char *const builtin[] = {ID_FIELD, MODIFIED_FIELD, DELETED_FIELD};
    for (size_t i = 0; i < 3; i++)
        if (strlen(builtin[i]) == n && memcmp(builtin[i], field, n) == 0)
            return 1;
    for (const char *const *k = opts->known_fields; *k; k++)
        if (strlen(*k) == n && memcmp(*k, field, n) == 0)
            return 1;
    return 0;
}

/* Python truthiness of a native value (has_ takes any value: has_x=0 means "missing"). */
static int
truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return 0;
    case JSON_TRUE:
        return 1;
    case JSON_INTEGER:
    case JSON_REAL:
        return json_number_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    case JSON_OBJECT:
        return json_object_size(v) != 0;
    }
    return 0;
}

static struct filter *
add_filter(herald_listing *l, enum op op, const char *field, size_t field_len)
{
    l->filters = herald_mem_realloc(l->filters, (l->nfilters + 1) * sizeof(*l->filters));
    struct filter *f = &l->filters[l->nfilters++];
    memset(f, 0, sizeof(*f));
    f->op = op;
    f->field = herald_mem_strndup(field, field_len);
    if (strcmp(f->field, MODIFIED_FIELD) == 0)
        l->include_deleted = 1; /* Kinto: modified_field in filter_fields */
    return f;
}

/* _since, _before, _to: last_modified > S / < S. Empty is Kinto's "Invalid value". */
static int
parse_bound(herald_listing *l, const struct param *p, herald_listing_error *err)
{
    long long ts;
    if (p->value_len == 0)
        return fail(err, p->name, "Invalid value for %s", p->name);
    if (kinto_int(p->name, p->value, p->value_len, &ts, err) < 0)
        return -1;
    int since = strcmp(p->name, "_since") == 0;
    struct filter *f = add_filter(l, since ? OP_GT : OP_LT, MODIFIED_FIELD, strlen(MODIFIED_FIELD));
    f->value = json_integer(ts);
    if (since) {
        if (!l->has_since || ts > l->since)
            l->since = ts;
        l->has_since = 1;
    } else {
        if (!l->has_before || ts < l->before)
            l->before = ts;
        l->has_before = 1;
    }
    return 0;
}

/* Splits a comma list, dropping empty items (colander drops empty strings). */
static json_t *
native_list(const char *s, size_t n)
{
    json_t *list = json_array();
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        if (j > i)
            json_array_append_new(list, native_value(s + i, j - i));
        i = j + 1;
    }
    return list;
}

/* The string a value stands for where Kinto wants a string (id, like_): a JSON string
 * parses to its content, anything else is the raw text. */
static json_t *
string_value(const char *raw, size_t len)
{
    json_t *v = native_value(raw, len);
    if (json_is_string(v))
        return v;
    json_decref(v);
    return json_stringn(raw, len);
}

static int
parse_filter(herald_listing *l, const struct param *p, const herald_listing_opts *opts,
             herald_listing_error *err)
{
    const char *name = p->name;
    enum op op = OP_EQ;
    const char *field = name;
    size_t field_len = p->name_len;
    int prefixed = 0;
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        size_t kl = keywords[i].len;
        if (p->name_len > kl + 1 && memcmp(name, keywords[i].kw, kl) == 0 && name[kl] == '_' &&
            all_field_chars(name + kl + 1, p->name_len - kl - 1)) {
            op = keywords[i].op;
            field = name + kl + 1;
            field_len = p->name_len - kl - 1;
            prefixed = 1;
            break;
        }
    }
    if (has_nul(name, p->name_len) || has_nul(p->value, p->value_len))
        return fail(err, name, "Invalid character 0x00");
    struct filter *f = add_filter(l, op, field, field_len);
    if (!is_known(opts, f->field))
        return fail(err, name, "Unknown filter field '%s'", name);

    int is_id = strcmp(f->field, ID_FIELD) == 0;
    int is_modified = strcmp(f->field, MODIFIED_FIELD) == 0;
    switch (op) {
    case OP_IN:
    case OP_EXCLUDE: {
        f->value = native_list(p->value, p->value_len);
        size_t i;
        json_t *v;
        json_array_foreach(f->value, i, v)
        {
            /* Kinto: ids are strings, timestamps integers. */
            if ((is_id && !json_is_string(v)) || (is_modified && !json_is_integer(v)))
                return fail(err, name, "Invalid value for %s", name);
        }
        break;
    }
    case OP_CONTAINS:
    case OP_CONTAINS_ANY:
        f->value = native_value(p->value, p->value_len);
        if (!json_is_array(f->value)) {
            json_t *list = json_array();
            json_array_append_new(list, f->value);
            f->value = list;
        }
        break;
    case OP_LIKE: {
        /* Kinto's memory backend would crash on a non-string (like_x=5) and use the
         * value as a regex; here it is always text with '*' as the only wildcard. */
        f->value = string_value(p->value, p->value_len);
        f->pattern_len = json_string_length(f->value);
        f->pattern = herald_mem_alloc(f->pattern_len + 1);
        memcpy(f->pattern, json_string_value(f->value), f->pattern_len + 1);
        for (size_t i = 0; i < f->pattern_len; i++)
            if (f->pattern[i] >= 'A' && f->pattern[i] <= 'Z')
                f->pattern[i] = (char)(f->pattern[i] - 'A' + 'a');
        break;
    }
    case OP_HAS:
        f->value = native_value(p->value, p->value_len);
        f->truthy = truthy(f->value);
        break;
    default:
        if (!prefixed && is_modified) {
            /* The bare "last_modified" parameter is a schema field (Integer, >= 0). */
            long long ts;
            if (kinto_int(name, p->value, p->value_len, &ts, err) < 0)
                return -1;
            f->value = json_integer(ts);
        } else if (is_id) {
            /* Kinto compares ids as strings (the schema's String for "id", and the
             * memory backend's str() of an integer value). */
            f->value = string_value(p->value, p->value_len);
        } else {
            f->value = native_value(p->value, p->value_len);
            if (is_modified && !json_is_integer(f->value))
                return fail(err, name, "Invalid value for %s", name);
        }
        break;
    }
    return 0;
}

/* Splits a FieldList (comma-separated, empty items dropped) into 'items'. */
static char **
field_list(const char *s, size_t n, size_t *count)
{
    char **items = NULL;
    size_t k = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        if (j > i) {
            items = herald_mem_realloc(items, (k + 1) * sizeof(*items));
            items[k++] = herald_mem_strndup(s + i, j - i);
        }
        i = j + 1;
    }
    *count = k;
    return items;
}

static void
free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

static void
add_sort(herald_listing *l, const char *field, size_t len, int desc)
{
    l->sort = herald_mem_realloc(l->sort, (l->nsort + 1) * sizeof(*l->sort));
    l->sort[l->nsort].field = herald_mem_strndup(field, len);
    l->sort[l->nsort].desc = desc;
    l->nsort++;
}

/* Kinto's _extract_sorting: entries not matching ^[-+]?[\w.]+$ are silently ignored;
 * -last_modified is appended unless "last_modified" itself is listed. Then, unlike
 * Kinto, "id" ascending when no id key is there: ties broken by the (unique) id. */
static int
parse_sort(herald_listing *l, const struct param *p, const herald_listing_opts *opts,
           herald_listing_error *err)
{
    int modified_used = 0;
    if (p) {
        if (has_nul(p->value, p->value_len))
            return fail(err, p->name, "Invalid character 0x00");
        size_t n;
        char **items = field_list(p->value, p->value_len, &n);
        for (size_t i = 0; i < n; i++) {
            const char *s = items[i];
            if (strcmp(s, MODIFIED_FIELD) == 0)
                modified_used = 1;
            size_t a = 0, z = strlen(s);
            while (a < z && is_space((unsigned char)s[a]))
                a++;
            while (z > a && is_space((unsigned char)s[z - 1]))
                z--;
            int desc = 0;
            if (a < z && (s[a] == '-' || s[a] == '+'))
                desc = s[a++] == '-';
            if (!all_field_chars(s + a, z - a))
                continue;
            add_sort(l, s + a, z - a, desc);
            if (!is_known(opts, l->sort[l->nsort - 1].field)) {
                fail(err, NULL, "Unknown sort field '%s'", l->sort[l->nsort - 1].field);
                free_list(items, n);
                return -1;
            }
        }
        free_list(items, n);
    }
    if (!modified_used)
        add_sort(l, MODIFIED_FIELD, strlen(MODIFIED_FIELD), 1);
    int has_id = 0;
    for (size_t i = 0; i < l->nsort; i++)
        if (strcmp(l->sort[i].field, ID_FIELD) == 0)
            has_id = 1;
    if (!has_id)
        add_sort(l, ID_FIELD, strlen(ID_FIELD), 0);
    return 0;
}

/* Kinto's _extract_partial_fields: root fields must be known; id and last_modified are
 * always added (they are part of the synchronisation API). */
static int
parse_fields(herald_listing *l, const struct param *p, const herald_listing_opts *opts,
             herald_listing_error *err)
{
    if (has_nul(p->value, p->value_len))
        return fail(err, p->name, "Invalid character 0x00");
    size_t n;
    char **items = field_list(p->value, p->value_len, &n);
    if (n == 0) {
        free(items);
        return 0; /* "_fields=" is no projection, as in Kinto */
    }
    /* Counted, not judged by bad.len: an unknown root can be empty (".x", Kinto's
     * "Fields  do not exist"). */
    herald_buf bad = HERALD_BUF_INIT;
    size_t nbad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_known(opts, items[i])) {
            if (nbad++)
                herald_buf_putc(&bad, ',');
            herald_buf_append(&bad, items[i], strcspn(items[i], "."));
        }
    }
    if (nbad) {
        fail(err, "Invalid _fields parameter", "Fields %s do not exist", herald_buf_cstr(&bad));
        herald_buf_free(&bad);
        free_list(items, n);
        return -1;
    }
    herald_buf_free(&bad);
    items = herald_mem_realloc(items, (n + 2) * sizeof(*items));
    items[n++] = herald_mem_strdup(ID_FIELD);
    items[n++] = herald_mem_strdup(MODIFIED_FIELD);
    l->fields = items;
    l->nfields = n;
    return 0;
}

/* The token is ours (see the header); anything that does not decode to
 * {"last_object":{...},"offset":n>=0} is Kinto's "_token has invalid content". */
static int
parse_token(herald_listing *l, const struct param *p, herald_listing_error *err)
{
    int rc = -1;
    json_t *tok = NULL;
    size_t cap = p->value_len / 4 * 3 + 3, binlen = 0;
    unsigned char *bin = herald_mem_alloc(cap);
    const char *end = NULL;
    if (sodium_base642bin(bin, cap, p->value, p->value_len, NULL, &binlen, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != p->value + p->value_len)
        goto bad;
    char ebuf[8];
    /* Not strict: numbers were written from stored records, which may hold integral
     * reals beyond 2^53 (see jcs.h). */
    tok = herald_jcs_parse((const char *)bin, binlen, 0, 0, ebuf, sizeof(ebuf));
    json_t *last = json_object_get(tok, "last_object");
    json_t *off = json_object_get(tok, "offset");
    if (!json_is_object(tok) || !json_is_object(last) || !json_is_number(off))
        goto bad;
    double d = json_number_value(off);
    if (!(d >= 0 && d <= 9e15) || d != floor(d))
        goto bad;
    l->token_last = json_incref(last);
    l->token_offset = (long long)d;
    rc = 0;
    goto out;
bad:
    fail(err, NULL, "_token has invalid content");
out:
    json_decref(tok);
    free(bin);
    return rc;
}

/* Kinto's _extract_limit. */
static int
parse_limit(herald_listing *l, const struct param *p, const herald_listing_opts *opts,
            herald_listing_error *err)
{
    long long paginate_by = opts && opts->paginate_by > 0 ? opts->paginate_by : 0;
    long long max_fetch =
        opts && opts->max_fetch_size > 0 ? opts->max_fetch_size : HERALD_LISTING_DEFAULT_MAX_FETCH;
    long long limit = paginate_by;
    if (p) {
        limit = 0; /* "_limit=" and "_limit=0" both mean "as many as allowed" */
        if (p->value_len && kinto_int(p->name, p->value, p->value_len, &limit, err) < 0)
            return -1;
        if (limit && paginate_by && limit > paginate_by)
            limit = paginate_by;
    }
    l->limit = limit > 0 && limit < max_fetch ? limit : max_fetch;
    return 0;
}

int
herald_listing_parse_len(herald_listing **out, const char *query, size_t len,
                         const herald_listing_opts *opts, herald_listing_error *err)
{
    size_t np = 0;
    struct param *ps = split_query(query, query ? len : 0, &np);
    herald_listing *l = herald_mem_calloc(1, sizeof(*l));
    const struct param *limit_p = NULL, *sort_p = NULL, *fields_p = NULL, *token_p = NULL;
    herald_listing_error scratch;
    if (!err)
        err = &scratch;
    *out = NULL;
    memset(err, 0, sizeof(*err));

    /* A repeated parameter: the last one wins (a dict of the MultiDict). Marked from
     * the end with a hash set, so a long query costs O(n), not O(n^2). */
    unsigned char *superseded = herald_mem_calloc(np + 1, 1);
    json_t *seen = json_object();
    for (size_t i = np; i-- > 0;) {
        if (json_object_getn(seen, ps[i].name, ps[i].name_len))
            superseded[i] = 1;
        else
            json_object_setn_new_nocheck(seen, ps[i].name, ps[i].name_len, json_null());
    }
    json_decref(seen);

    for (size_t i = 0; i < np; i++) {
        const struct param *p = &ps[i];
        if (superseded[i])
            continue;
        if (p->name[0] == '_') {
            if (strcmp(p->name, "_limit") == 0)
                limit_p = p;
            else if (strcmp(p->name, "_sort") == 0)
                sort_p = p;
            else if (strcmp(p->name, "_fields") == 0)
                fields_p = p;
            else if (strcmp(p->name, "_token") == 0)
                token_p = p;
            else if (strcmp(p->name, "_since") == 0 || strcmp(p->name, "_before") == 0 ||
                     strcmp(p->name, "_to") == 0) {
                if (parse_bound(l, p, err) < 0)
                    goto fail;
            }
            continue; /* other _-prefixed parameters are not filters */
        }
        if (parse_filter(l, p, opts, err) < 0)
            goto fail;
    }
    if (parse_limit(l, limit_p, opts, err) < 0)
        goto fail;
    if (parse_sort(l, sort_p, opts, err) < 0)
        goto fail;
    if (fields_p && parse_fields(l, fields_p, opts, err) < 0)
        goto fail;
    if (token_p && token_p->value_len && parse_token(l, token_p, err) < 0)
        goto fail;
    free(superseded);
    free_params(ps, np);
    *out = l;
    return 0;
fail:
    free(superseded);
    free_params(ps, np);
    herald_listing_free(l);
    return -1;
}

int
herald_listing_parse(herald_listing **out, const char *query_string,
                     const herald_listing_opts *opts, herald_listing_error *err)
{
    return herald_listing_parse_len(out, query_string, query_string ? strlen(query_string) : 0,
                                    opts, err);
}

void
herald_listing_free(herald_listing *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nfilters; i++) {
        free(l->filters[i].field);
        json_decref(l->filters[i].value);
        free(l->filters[i].pattern);
    }
    free(l->filters);
    for (size_t i = 0; i < l->nsort; i++)
        free(l->sort[i].field);
    free(l->sort);
    free_list(l->fields, l->nfields);
    json_decref(l->token_last);
    free(l);
}

long long
herald_listing_limit(const herald_listing *l)
{
    return l->limit;
}

int
herald_listing_include_deleted(const herald_listing *l)
{
    return l->include_deleted;
}

int
herald_listing_since(const herald_listing *l, long long *ts)
{
    if (l->has_since && ts)
        *ts = l->since;
    return l->has_since;
}

int
herald_listing_before(const herald_listing *l, long long *ts)
{
    if (l->has_before && ts)
        *ts = l->before;
    return l->has_before;
}

int
herald_listing_has_fields(const herald_listing *l)
{
    return l->fields != NULL;
}

/* ---- values ------------------------------------------------------------------------- */

const json_t *
herald_listing_field(const json_t *obj, const char *path)
{
    for (;;) {
        if (!json_is_object(obj))
            return NULL;
        const json_t *v = json_object_get(obj, path);
        if (v)
            return v;
        /* Longest dotted prefix that is a key of 'obj' is the root (Kinto's
         * find_nested_value); no backtracking to shorter roots, like Kinto. */
        const char *dot = strrchr(path, '.');
        while (dot) {
            if (json_object_getn(obj, path, (size_t)(dot - path)))
                break;
            const char *prev = dot;
            dot = NULL;
            for (const char *s = path; s < prev; s++)
                if (*s == '.')
                    dot = s;
        }
        if (!dot)
            return NULL;
        obj = json_object_getn(obj, path, (size_t)(dot - path));
        path = dot + 1;
    }
}

/* Kinto's memory backend order (schwartzian_transform): None 0, str 1, number 2,
 * bool 3, sequence 4, mapping 5, MISSING 6. */
static int
rank(const json_t *v)
{
    if (!v)
        return 6;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return 0;
    case JSON_STRING:
        return 1;
    case JSON_INTEGER:
    case JSON_REAL:
        return 2;
    case JSON_TRUE:
    case JSON_FALSE:
        return 3;
    case JSON_ARRAY:
        return 4;
    case JSON_OBJECT:
        return 5;
    }
    return 6;
}

static int
keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Objects, which Python cannot order (a 500 in Kinto): by their keys in byte order,
 * key then value, then by size; equal exactly when deep-equal. */
static int
object_cmp(const json_t *a, const json_t *b)
{
    size_t na = json_object_size(a), nb = json_object_size(b);
    const char **ka = herald_mem_alloc((na + nb + 1) * sizeof(*ka));
    const char **kb = ka + na;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        ka[i++] = k;
    }
    i = 0;
    json_object_foreach((json_t *)b, k, v)
    {
        kb[i++] = k;
    }
    qsort(ka, na, sizeof(*ka), keycmp);
    qsort(kb, nb, sizeof(*kb), keycmp);
    int c = 0;
    for (i = 0; i < na && i < nb && c == 0; i++) {
        c = strcmp(ka[i], kb[i]);
        if (c == 0)
            c = herald_listing_value_cmp(json_object_get(a, ka[i]), json_object_get(b, kb[i]));
    }
    if (c == 0)
        c = (na > nb) - (na < nb);
    free(ka);
    return c;
}

int
herald_listing_value_cmp(const json_t *a, const json_t *b)
{
    int ra = rank(a), rb = rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 1: {
        /* Byte order of UTF-8 is code point order, Python's str order. */
        size_t la = json_string_length(a), lb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
        if (c)
            return c < 0 ? -1 : 1;
        return (la > lb) - (la < lb);
    }
    case 2: {
        double x = json_number_value(a), y = json_number_value(b);
        return (x > y) - (x < y);
    }
    case 3:
        return json_is_true(a) - json_is_true(b);
    case 4: {
        /* Python's list order: first difference, then length. */
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            int c = herald_listing_value_cmp(json_array_get(a, i), json_array_get(b, i));
            if (c)
                return c;
        }
        return (na > nb) - (na < nb);
    }
    case 5:
        return object_cmp(a, b);
    default:
        return 0; /* null == null, missing == missing */
    }
}

/* ASCII case-insensitive glob where '*' is the only wildcard (iterative, with one
 * backtrack point: linear for patterns without '*', O(n*m) worst case). */
static int
like_match(const char *pat, size_t pn, const char *s, size_t sn)
{
    size_t p = 0, i = 0, star = (size_t)-1, mark = 0;
    while (i < sn) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (p < pn && pat[p] == '*') {
            star = p++;
            mark = i;
        } else if (p < pn && pat[p] == c) {
            p++;
            i++;
        } else if (star != (size_t)-1) {
            p = star + 1;
            i = ++mark;
        } else
            return 0;
    }
    while (p < pn && pat[p] == '*')
        p++;
    return p == pn;
}

static int
match_like(const struct filter *f, const json_t *left)
{
    if (!json_is_string(left))
        return 0;
    const char *s = json_string_value(left);
    size_t n = json_string_length(left);
    if (!memchr(f->pattern, '*', f->pattern_len)) {
        /* No wildcard: Kinto wraps the value as *value* (contains). */
        for (size_t i = 0; i + f->pattern_len <= n; i++)
            if (like_match(f->pattern, f->pattern_len, s + i, f->pattern_len))
                return 1;
        return 0;
    }
    return like_match(f->pattern, f->pattern_len, s, n);
}

static int
array_has(const json_t *arr, const json_t *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (herald_listing_value_cmp(e, v) == 0)
            return 1;
    }
    return 0;
}

static int
match_filter(const struct filter *f, const json_t *record)
{
    const json_t *left = herald_listing_field(record, f->field);
    size_t i;
    json_t *v;
    switch (f->op) {
    case OP_EQ:
        return herald_listing_value_cmp(left, f->value) == 0;
    case OP_NOT:
        return herald_listing_value_cmp(left, f->value) != 0;
    case OP_LT:
        return herald_listing_value_cmp(left, f->value) < 0;
    case OP_MAX:
        return herald_listing_value_cmp(left, f->value) <= 0;
    case OP_GT:
        return herald_listing_value_cmp(left, f->value) > 0;
    case OP_MIN:
        return herald_listing_value_cmp(left, f->value) >= 0;
    case OP_IN:
        return left && array_has(f->value, left);
    case OP_EXCLUDE:
        return !left || !array_has(f->value, left);
    case OP_LIKE:
        return match_like(f, left);
    case OP_HAS:
        return f->truthy ? left != NULL : left == NULL;
    case OP_CONTAINS:
        /* Only arrays contain (Kinto's memory backend would iterate a string's
         * characters or an object's keys; PostgreSQL's @> does not). */
        if (!json_is_array(left))
            return 0;
        json_array_foreach(f->value, i, v)
        {
            if (!array_has(left, v))
                return 0;
        }
        return 1;
    case OP_CONTAINS_ANY:
        if (!json_is_array(left))
            return 0;
        json_array_foreach(f->value, i, v)
        {
            if (array_has(left, v))
                return 1;
        }
        return 0;
    }
    return 0;
}

int
herald_listing_match(const herald_listing *l, const json_t *record)
{
    for (size_t i = 0; i < l->nfilters; i++)
        if (!match_filter(&l->filters[i], record))
            return 0;
    return 1;
}

int
herald_listing_compare(const herald_listing *l, const json_t *a, const json_t *b)
{
    for (size_t k = 0; k < l->nsort; k++) {
        int c = herald_listing_value_cmp(herald_listing_field(a, l->sort[k].field),
                                         herald_listing_field(b, l->sort[k].field));
        if (c)
            return l->sort[k].desc ? -c : c;
    }
    return 0;
}

/* ---- projection ----------------------------------------------------------------------- */

/* Kinto's dict_merge(a, b): b's items, then a's on top, objects merged recursively.
 * Always new objects: 'b' may hold references into the record, never modified. */
static json_t *
dict_merge(const json_t *a, const json_t *b)
{
    json_t *result = json_object();
    if (json_is_object(b))
        json_object_update(result, (json_t *)b);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        if (json_is_object(v))
            json_object_set_new(result, k, dict_merge(v, json_object_get(result, k)));
        else
            json_object_set(result, k, v);
    }
    return result;
}

/* One key of Kinto's dict_subset: "a.b" splits at the first dot; a non-object "a" is
 * taken whole. */
static void
subset_key(json_t *result, const json_t *d, const char *key)
{
    const char *dot = strchr(key, '.');
    if (!dot) {
        json_t *v = json_object_get(d, key);
        if (v)
            json_object_set(result, key, v);
        return;
    }
    char *field = herald_mem_strndup(key, (size_t)(dot - key));
    json_t *v = json_object_get(d, field);
    if (json_is_object(v)) {
        json_t *sub = json_object();
        subset_key(sub, v, dot + 1);
        json_object_set_new(result, field, dict_merge(sub, json_object_get(result, field)));
        json_decref(sub);
    } else if (v) {
        json_object_set(result, field, v);
    }
    free(field);
}

json_t *
herald_listing_project(const herald_listing *l, const json_t *record)
{
    if (!l->fields)
        return json_incref((json_t *)record);
    json_t *result = json_object();
    for (size_t i = 0; i < l->nfields; i++)
        subset_key(result, record, l->fields[i]);
    return result;
}

/* ---- apply ---------------------------------------------------------------------------- */

struct sorter {
    const herald_listing *l;
    const json_t **keys; /* candidate i's key k at keys[i * nsort + k] */
};

static int
entry_cmp(const struct sorter *s, size_t a, size_t b)
{
    size_t nk = s->l->nsort;
    for (size_t k = 0; k < nk; k++) {
        int c = herald_listing_value_cmp(s->keys[a * nk + k], s->keys[b * nk + k]);
        if (c)
            return s->l->sort[k].desc ? -c : c;
    }
    return 0;
}

/* Candidate 'i' against the token's last object; > 0 when it comes after. A field
 * absent from last_object was missing from that object (not null, unlike Kinto). */
static int
after_token(const struct sorter *s, size_t i)
{
    size_t nk = s->l->nsort;
    for (size_t k = 0; k < nk; k++) {
        const json_t *t = json_object_get(s->l->token_last, s->l->sort[k].field);
        int c = herald_listing_value_cmp(s->keys[i * nk + k], t);
        if (c)
            return s->l->sort[k].desc ? -c : c;
    }
    return 0;
}

/* Stable bottom-up merge sort of 'idx' (n entries), 'tmp' the same size. */
static void
merge_sort(size_t *idx, size_t *tmp, size_t n, const struct sorter *s)
{
    size_t *src = idx, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = entry_cmp(s, src[j], src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        size_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx)
        memcpy(idx, src, n * sizeof(*idx));
}

static char *
make_token(const herald_listing *l, const struct sorter *s, size_t i, long long offset)
{
    json_t *last = json_object();
    for (size_t k = 0; k < l->nsort; k++) {
        const json_t *v = s->keys[i * l->nsort + k];
        if (v)
            json_object_set(last, l->sort[k].field, (json_t *)v);
    }
    json_t *tok = json_object();
    json_object_set_new(tok, "last_object", last);
    json_object_set_new(tok, "offset", json_integer(offset));
    herald_buf b = HERALD_BUF_INIT;
    /* Record values are finite (I-JSON): the dump cannot fail. */
    if (herald_jcs_dump(&b, tok) < 0)
        b.len = 0;
    json_decref(tok);
    size_t cap = sodium_base64_ENCODED_LEN(b.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = herald_mem_alloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)b.data, b.len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    herald_buf_free(&b);
    return out;
}

int
herald_listing_apply_v(herald_listing_page *page, const herald_listing *l,
                       const json_t *const *records, size_t nrecords,
                       const json_t *const *tombstones, size_t ntombstones, int flags)
{
    memset(page, 0, sizeof(*page));
    size_t cap = nrecords + (l->include_deleted ? ntombstones : 0);
    const json_t **cand = herald_mem_alloc((cap + 1) * sizeof(*cand));
    size_t n = 0;
    long long total = 0;
    for (size_t i = 0; i < nrecords; i++) {
        if (json_is_object(records[i]) && herald_listing_match(l, records[i])) {
            cand[n++] = records[i];
            total++;
        }
    }
    if (l->include_deleted)
        for (size_t i = 0; i < ntombstones; i++)
            if (json_is_object(tombstones[i]) && herald_listing_match(l, tombstones[i]))
                cand[n++] = tombstones[i];

    struct sorter s = {l, herald_mem_alloc((n * l->nsort + 1) * sizeof(*s.keys))};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < l->nsort; k++)
            s.keys[i * l->nsort + k] = herald_listing_field(cand[i], l->sort[k].field);

    size_t *idx = herald_mem_alloc((2 * n + 1) * sizeof(*idx));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!l->token_last || after_token(&s, i) > 0)
            idx[m++] = i;
    merge_sort(idx, idx + n, m, &s);

    size_t shown = (long long)m > l->limit ? (size_t)l->limit : m;
    page->data = json_array();
    for (size_t i = 0; i < shown; i++) {
        const json_t *rec = cand[idx[i]];
        json_array_append_new(page->data, (flags & HERALD_LISTING_PROJECT)
                                              ? herald_listing_project(l, rec)
                                              : json_incref((json_t *)rec));
    }
    page->total = total;
    page->offset = l->token_offset + (long long)shown;
    if (m > shown && shown > 0)
        page->next_token = make_token(l, &s, idx[shown - 1], page->offset);

    free(idx);
    free(s.keys);
    free(cand);
    return 0;
}

/* A JSON array's items as a pointer array (borrowed). */
static const json_t **
array_items(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    const json_t **items = herald_mem_alloc((*n + 1) * sizeof(*items));
    for (size_t i = 0; i < *n; i++)
        items[i] = json_array_get(a, i);
    return items;
}

int
herald_listing_apply(herald_listing_page *page, const herald_listing *l, const json_t *records,
                     const json_t *tombstones, int flags)
{
    if (!json_is_array(records) || (tombstones && !json_is_array(tombstones))) {
        memset(page, 0, sizeof(*page));
        return -1;
    }
    size_t nr, nt = 0;
    const json_t **r = array_items(records, &nr);
    const json_t **t = tombstones ? array_items(tombstones, &nt) : NULL;
    int rc = herald_listing_apply_v(page, l, r, nr, t, nt, flags);
    free(r);
    free(t);
    return rc;
}

void
herald_listing_page_free(herald_listing_page *page)
{
    if (!page)
        return;
    json_decref(page->data);
    free(page->next_token);
    memset(page, 0, sizeof(*page));
}

/* ---- Next-Page ------------------------------------------------------------------------ */

void
herald_listing_next_url(herald_buf *out, const char *url, const char *query, size_t qlen,
                        const herald_listing *l, const char *token)
{
    int put_limit = 0, put_token = 0;
    herald_buf_puts(out, url);
    herald_buf_putc(out, '?');
    size_t start = out->len;
    size_t i = 0;
    while (query && i < qlen) {
        size_t j = i;
        while (j < qlen && query[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(query + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (query + i)) : j - i;
            size_t dlen;
            char *name = form_decode(query + i, nlen, &dlen);
            int is_limit = strcmp(name, "_limit") == 0, is_token = strcmp(name, "_token") == 0;
            free(name);
            /* _limit and _token are replaced where they were (Python's dict update
             * keeps the key's position); repeats are dropped. */
            if ((is_limit && put_limit) || (is_token && put_token)) {
                i = j + 1;
                continue;
            }
            if (out->len > start)
                herald_buf_putc(out, '&');
            if (is_limit) {
                herald_buf_puts(out, "_limit=");
                herald_buf_put_i64(out, l->limit);
                put_limit = 1;
            } else if (is_token) {
                herald_buf_puts(out, "_token=");
                herald_buf_puts(out, token);
                put_token = 1;
            } else {
                herald_buf_append(out, query + i, j - i);
            }
        }
        i = j + 1;
    }
    if (!put_limit) {
        if (out->len > start)
            herald_buf_putc(out, '&');
        herald_buf_puts(out, "_limit=");
        herald_buf_put_i64(out, l->limit);
    }
    if (!put_token) {
        herald_buf_puts(out, "&_token=");
        herald_buf_puts(out, token);
    }
}
