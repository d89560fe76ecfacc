/*
 * jcs -- I-JSON input checking and RFC 8785 canonical output; see include/herald/jcs.h.
 *
 * Parsing. jansson does the lexing and most of I-JSON: it rejects invalid UTF-8
 * (overlong forms, encoded surrogates, code points above U+10FFFF), lone surrogate
 * escapes ("\ud800" cannot become UTF-8), "\u0000" without JSON_ALLOW_NUL, number
 * overflow (1e400), trailing garbage, and with JSON_REJECT_DUPLICATES duplicate keys. We
 * then walk the tree once for what it cannot know: integer literals outside
 * +-(2^53-1) (jansson keeps them exactly as long long, but a JavaScript client cannot)
 * and nesting depth. jansson stops at JSON_PARSER_MAX_DEPTH (2048) on its own, so the
 * walk's recursion is bounded. Errors name the JSON Pointer of the offending value.
 *
 * Output. The whole canonical form is three small functions:
 *  - strings: only the escapes JSON requires, everything else as raw UTF-8;
 *  - object keys: sorted by UTF-16 code units. UTF-8 byte order equals code point
 *    order, and UTF-16 order differs from code point order in exactly one case:
 *    a supplementary character (UTF-16 surrogates D800-DBFF; UTF-8 lead byte F0-F4)
 *    sorts before U+E000..U+FFFF (UTF-8 lead byte EE or EF). So keys are compared as
 *    bytes, and only when the first difference falls in characters with those lead
 *    bytes is the answer flipped. No conversion, no allocation per comparison.
 *  - numbers: ECMAScript Number.prototype.toString. The shortest digit string that
 *    round-trips is found by asking printf for 1, 2, ... 17 correctly rounded
 *    significant digits and strtod-ing each back (glibc's printf and strtod are exact).
 *    The correctly rounded p-digit value is the closest p-digit decimal to x; when it
 *    does not round-trip, the neighbour on the other side of x still may (x = 2^k has
 *    a rounding interval twice as wide above as below), so that one is tried too.
 *    Digits are then laid out per ECMA-262 (plain decimal for 1e-6 <= |x| < 1e21,
 *    otherwise d.ddde+N). Integral values below 2^53 (timestamps, counters: nearly
 *    every number Herald writes) skip the search.
 *
 * printf and strtod follow the locale's decimal point; the round-trip check feeds
 * strtod an integer mantissa and an exponent ("3333e-4") and digits are read from
 * printf by skipping whatever separates them, so a program that calls setlocale()
 * still gets canonical output.
 */
#include "herald/jcs.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ---------------------------------------------------------------------- */

#define MAX_SAFE_INTEGER 9007199254740991LL /* 2^53 - 1 */

struct check {
    int max_depth;
    herald_buf path; /* JSON Pointer of the value being checked */
    char *err;
    size_t errlen;
};

/* Appends "/segment" with JSON Pointer escaping (RFC 6901: '~' -> ~0, '/' -> ~1). */
static void
path_push(herald_buf *path, const char *seg, size_t len)
{
    herald_buf_putc(path, '/');
    for (size_t i = 0; i < len; i++) {
        if (seg[i] == '~')
            herald_buf_puts(path, "~0");
        else if (seg[i] == '/')
            herald_buf_puts(path, "~1");
        else
            herald_buf_putc(path, seg[i]);
    }
}

/* Returns 0, or -1 with the reason in ck->err. */
static int
check_value(struct check *ck, const json_t *v, int depth)
{
    size_t mark = ck->path.len;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        if (++depth > ck->max_depth) {
            snprintf(ck->err, ck->errlen, "nesting deeper than %d at '%s'", ck->max_depth,
                     herald_buf_cstr(&ck->path));
            return -1;
        }
        break;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i > MAX_SAFE_INTEGER || i < -MAX_SAFE_INTEGER) {
            snprintf(ck->err, ck->errlen, "integer %lld outside +-(2^53-1) at '%s'", (long long)i,
                     herald_buf_cstr(&ck->path));
            return -1;
        }
        return 0;
    }
    case JSON_REAL:
        /* jansson never builds a non-finite real; this is the defensive check. */
        if (!isfinite(json_real_value(v))) {
            snprintf(ck->err, ck->errlen, "non-finite number at '%s'", herald_buf_cstr(&ck->path));
            return -1;
        }
        return 0;
    default:
        return 0;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            char idx[24];
            int n = snprintf(idx, sizeof(idx), "%zu", i);
            path_push(&ck->path, idx, (size_t)n);
            if (check_value(ck, json_array_get(v, i), depth) < 0)
                return -1;
            ck->path.len = mark;
        }
        return 0;
    }
    /* jansson's iterators are not const-qualified; the walk only reads. */
    for (void *it = json_object_iter((json_t *)v); it;
         it = json_object_iter_next((json_t *)v, it)) {
        path_push(&ck->path, json_object_iter_key(it), json_object_iter_key_len(it));
        if (check_value(ck, json_object_iter_value(it), depth) < 0)
            return -1;
        ck->path.len = mark;
    }
    return 0;
}

/* Makes 'err' one line: keys and jansson's "near '...'" excerpts may hold raw bytes. */
static void
one_line(char *err)
{
    for (; *err; err++)
        if ((unsigned char)*err < 0x20 || *err == 0x7f)
            *err = '?';
}

json_t *
herald_jcs_parse(const char *data, size_t len, int flags, int max_depth, char *err, size_t errlen)
{
    json_error_t je;
    size_t jflags = JSON_DECODE_ANY;
    char dummy[1];
    if (errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (flags & HERALD_JCS_STRICT)
        jflags |= JSON_REJECT_DUPLICATES;
    else
        jflags |= JSON_DECODE_INT_AS_REAL;
    json_t *v = json_loadb(data, len, jflags, &je);
    if (!v) {
        snprintf(err, errlen, "%s at line %d column %d", je.text, je.line, je.column);
        goto fail;
    }
    if (flags & HERALD_JCS_STRICT) {
        struct check ck = {max_depth > 0 ? max_depth : HERALD_JCS_DEFAULT_MAX_DEPTH,
                           HERALD_BUF_INIT, err, errlen};
        int rc = check_value(&ck, v, 0);
        herald_buf_free(&ck.path);
        if (rc < 0) {
            json_decref(v);
            v = NULL;
            goto fail;
        }
    }
    return v;
fail:
    one_line(err);
    return NULL;
}

/* ---- output ----------------------------------------------------------------------- */

void
herald_jcs_string(herald_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the bytes not yet copied */
    herald_buf_reserve(out, len + 2);
    herald_buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        herald_buf_append(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            herald_buf_puts(out, "\\\"");
            break;
        case '\\':
            herald_buf_puts(out, "\\\\");
            break;
        case '\b':
            herald_buf_puts(out, "\\b");
            break;
        case '\f':
            herald_buf_puts(out, "\\f");
            break;
        case '\n':
            herald_buf_puts(out, "\\n");
            break;
        case '\r':
            herald_buf_puts(out, "\\r");
            break;
        case '\t':
            herald_buf_puts(out, "\\t");
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            herald_buf_append(out, u, sizeof(u));
        }
        }
    }
    herald_buf_append(out, s + run, len - run);
    herald_buf_putc(out, '"');
}

/* Returns the double nearest to d.ddd * 10^exp10 ('k' digits), parsed as "DIGITSe<exp>":
 * without a decimal point, so the locale does not matter. */
static double
digits_value(const char *digits, int k, int exp10)
{
    char buf[48];
    snprintf(buf, sizeof(buf), "%.*se%d", k, digits, exp10 - (k - 1));
    return strtod(buf, NULL);
}

/* Adds +1 or -1 to the last of the 'k' digits, keeping 'k' digits: "999"+1 is "100"
 * with the exponent up one; "100"-1 is "999" with the exponent down one. */
static void
digits_step(char *digits, int k, int *exp10, int up)
{
    int i = k - 1;
    if (up) {
        while (i >= 0 && digits[i] == '9')
            digits[i--] = '0';
        if (i < 0) {
            digits[0] = '1';
            (*exp10)++;
        } else {
            digits[i]++;
        }
    } else {
        while (i >= 0 && digits[i] == '0')
            digits[i--] = '9';
        digits[i]--; /* digits[0] is never '0', so i >= 0 here */
        if (digits[0] == '0') {
            memmove(digits, digits + 1, (size_t)k - 1);
            digits[k - 1] = '9';
            (*exp10)--;
        }
    }
}

/* Finds the shortest round-tripping digits of positive finite 'x', closest to 'x'.
 * Writes them (no trailing zeros) to 'digits' and returns their count; '*exp10' is the
 * decimal exponent of the first digit (x ~= d.ddd * 10^exp10). */
static int
shortest_digits(double x, char *digits, int *exp10)
{
    char buf[48];
    int k;
    for (k = 1; k <= 17; k++) {
        snprintf(buf, sizeof(buf), "%.*e", k - 1, x);
        /* "d[<point>ddd]e<sign>NN": collect digits up to 'e', skipping the point. */
        int n = 0;
        const char *p = buf;
        for (; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9')
                digits[n++] = *p;
        *exp10 = atoi(p + 1);
        double y = digits_value(digits, k, *exp10);
        if (y == x)
            break;
        if (k == 17)
            break; /* 17 digits always round-trip; not reached with exact printf */
        digits_step(digits, k, exp10, y < x);
        if (digits_value(digits, k, *exp10) == x)
            break;
    }
    while (k > 1 && digits[k - 1] == '0')
        k--;
    return k;
}

int
herald_jcs_number(char *out, double d)
{
    char digits[24];
    int exp10, k, n;
    char *p = out;
    if (!isfinite(d))
        return -1;
    if (d == 0) { /* and -0 */
        memcpy(out, "0", 2);
        return 1;
    }
    if (d < 0) {
        *p++ = '-';
        d = -d;
    }
    if (d < 9007199254740992.0 && d == floor(d)) {
        /* Below 2^53 consecutive integers are representable, so the integer's own
         * digits are the shortest round-trip form. */
        int len = snprintf(p, 24, "%llu", (unsigned long long)d);
        return (int)(p - out) + len;
    }
    k = shortest_digits(d, digits, &exp10);
    n = exp10 + 1; /* ECMA-262's n: x = digits * 10^(n-k) */
    if (k <= n && n <= 21) {
        memcpy(p, digits, (size_t)k);
        p += k;
        memset(p, '0', (size_t)(n - k));
        p += n - k;
    } else if (0 < n && n <= 21) {
        memcpy(p, digits, (size_t)n);
        p += n;
        *p++ = '.';
        memcpy(p, digits + n, (size_t)(k - n));
        p += k - n;
    } else if (-6 < n && n <= 0) {
        *p++ = '0';
        *p++ = '.';
        memset(p, '0', (size_t)-n);
        p += -n;
        memcpy(p, digits, (size_t)k);
        p += k;
    } else {
        *p++ = digits[0];
        if (k > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)k - 1);
            p += k - 1;
        }
        p += sprintf(p, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    *p = '\0';
    return (int)(p - out);
}

/*
 * Returns <0, 0, >0 comparing 'a' and 'b' as UTF-16 code unit sequences (see the top of
 * the file). Assumes valid UTF-8; on invalid UTF-8 it is still a consistent order.
 */
static int
utf16_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i == n)
        return alen < blen ? -1 : alen > blen;
    /* Back up to the lead byte of the character where they differ (shared prefix). */
    size_t lead = i;
    while (lead > 0 && (a[lead] & 0xc0) == 0x80)
        lead--;
    unsigned char la = a[lead], lb = b[lead];
    if (la >= 0xf0 && (lb == 0xee || lb == 0xef))
        return -1;
    if (lb >= 0xf0 && (la == 0xee || la == 0xef))
        return 1;
    return a[i] < b[i] ? -1 : 1;
}

struct member {
    const char *key;
    size_t len;
    const json_t *value;
};

static int
member_cmp(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    return utf16_cmp((const unsigned char *)a->key, a->len, (const unsigned char *)b->key, b->len);
}

static int
dump_value(herald_buf *out, const json_t *v)
{
    char num[32];
    int rc = -1;
    struct member *members = NULL;
    switch (json_typeof(v)) {
    case JSON_NULL:
        herald_buf_puts(out, "null");
        return 0;
    case JSON_TRUE:
        herald_buf_puts(out, "true");
        return 0;
    case JSON_FALSE:
        herald_buf_puts(out, "false");
        return 0;
    case JSON_STRING:
        herald_jcs_string(out, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i >= -MAX_SAFE_INTEGER && i <= MAX_SAFE_INTEGER) {
            herald_buf_put_i64(out, i);
            return 0;
        }
        /* ECMAScript would hold it as the double it rounds to. */
        herald_jcs_number(num, (double)i);
        herald_buf_puts(out, num);
        return 0;
    }
    case JSON_REAL:
        if (herald_jcs_number(num, json_real_value(v)) < 0)
            return -1;
        herald_buf_puts(out, num);
        return 0;
    case JSON_ARRAY:
        herald_buf_putc(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                herald_buf_putc(out, ',');
            if (dump_value(out, json_array_get(v, i)) < 0)
                return -1;
        }
        herald_buf_putc(out, ']');
        return 0;
    case JSON_OBJECT:
        break;
    default:
        return -1;
    }
    size_t n = json_object_size(v), i = 0;
    if (n > 0)
        members = herald_mem_alloc(n * sizeof(*members));
    for (void *it = json_object_iter((json_t *)v); it && i < n;
         it = json_object_iter_next((json_t *)v, it), i++) {
        members[i].key = json_object_iter_key(it);
        members[i].len = json_object_iter_key_len(it);
        members[i].value = json_object_iter_value(it);
    }
    if (i > 1)
        qsort(members, i, sizeof(*members), member_cmp);
    herald_buf_putc(out, '{');
    for (size_t j = 0; j < i; j++) {
        if (j > 0)
            herald_buf_putc(out, ',');
        herald_jcs_string(out, members[j].key, members[j].len);
        herald_buf_putc(out, ':');
        if (dump_value(out, members[j].value) < 0)
            goto out;
    }
    herald_buf_putc(out, '}');
    rc = 0;
out:
    free(members);
    return rc;
}

int
herald_jcs_dump(herald_buf *out, const json_t *v)
{
    if (!v)
        return -1;
    return dump_value(out, v);
}

/* ---- reading values --------------------------------------------------------------- */

int
herald_jcs_get_uint53(int64_t *out, const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > MAX_SAFE_INTEGER)
            return -1;
        *out = (int64_t)i;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d <= (double)MAX_SAFE_INTEGER) || d != floor(d))
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    return -1;
}

const char *
herald_jcs_get_cstring(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}
