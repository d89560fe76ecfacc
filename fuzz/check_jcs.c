/*
 * check_jcs -- JSON input through canonicalization (lib/jcs.c).
 *
 * The input is parsed strict (I-JSON, as the publisher reads request bodies) and
 * non-strict (as Herald reads what it stored), then:
 *   - strict accepts a subset of non-strict, and a strict parse with a small max_depth
 *     a subset of the default one;
 *   - the canonical dump of a non-strict parse never fails; re-parsing it non-strict and
 *     dumping again gives the same bytes (canonicalization is idempotent), and the same
 *     numbers bit for bit (so a stable but wrong number string is caught too);
 *   - the strict parse dumps to the same bytes as the non-strict one (integers versus
 *     integral reals must print alike);
 *   - every number printed has no shorter correctly rounded form that round-trips;
 *   - the dump, read by a separate scanner, is RFC 8785's form: no whitespace, only the
 *     required escapes (short forms first), object keys in UTF-16 code unit order.
 * The first 8 bytes are also taken as a double: herald_jcs_number() must print what
 * jansson parses back to the same double.
 */
#include "fuzz_checks.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"

/* Both trees have the same shape (one is the re-parse of the other's dump); numbers
 * must be equal doubles (0 and -0 print alike, so they may differ in sign only). */
static const char *
same_tree(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x == y ? NULL : "jcs: a number changed value through dump and re-parse";
    }
    if (json_typeof(a) != json_typeof(b))
        return "jcs: a value changed type through dump and re-parse";
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return "jcs: an array changed size through dump and re-parse";
        for (size_t i = 0; i < json_array_size(a); i++) {
            const char *why = same_tree(json_array_get(a, i), json_array_get(b, i));
            if (why)
                return why;
        }
    } else if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return "jcs: an object changed size through dump and re-parse";
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, k, klen, v)
        {
            const json_t *w = json_object_getn(b, k, klen);
            if (!w)
                return "jcs: an object key changed through dump and re-parse";
            const char *why = same_tree(v, w);
            if (why)
                return why;
        }
    } else if (json_is_string(a)) {
        if (json_string_length(a) != json_string_length(b) ||
            memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) != 0)
            return "jcs: a string changed through dump and re-parse";
    }
    return NULL;
}

/* 's' is herald_jcs_number(d): no correctly rounded shorter form may round-trip. */
static const char *
check_shortest(double d, const char *s)
{
    int sig = 0, seen_nonzero = 0, trailing = 0;
    for (const char *p = s; *p && *p != 'e'; p++) {
        if (*p < '0' || *p > '9')
            continue;
        if (*p != '0' || seen_nonzero) {
            seen_nonzero = 1;
            sig++;
            trailing = *p == '0' ? trailing + 1 : 0;
        }
    }
    sig -= trailing; /* "100000000000000000000" has one significant digit */
    char buf[64];
    for (int k = 1; k < sig; k++) {
        snprintf(buf, sizeof(buf), "%.*e", k - 1, d);
        if (strtod(buf, NULL) == d)
            return "jcs: a number is not in its shortest round-trip form";
    }
    return NULL;
}

static const char *
check_numbers(const json_t *v)
{
    if (json_is_real(v)) {
        char s[40];
        double d = json_real_value(v);
        if (herald_jcs_number(s, d) < 0)
            return "jcs: a parsed real is not finite";
        if (strtod(s, NULL) != d)
            return "jcs: herald_jcs_number does not round-trip";
        return check_shortest(fabs(d), s);
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const char *why = check_numbers(json_array_get(v, i));
            if (why)
                return why;
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            const char *why = check_numbers(m);
            if (why)
                return why;
        }
    }
    return NULL;
}

static const char *
check_double(const uint8_t *data, size_t size)
{
    double d;
    char s[40];
    if (size < sizeof(d))
        return NULL;
    memcpy(&d, data, sizeof(d));
    if (!isfinite(d))
        return herald_jcs_number(s, d) == -1 ? NULL : "jcs: a non-finite number printed";
    int n = herald_jcs_number(s, d);
    if (n <= 0 || (size_t)n != strlen(s) || n > 25)
        return "jcs: herald_jcs_number length is wrong";
    json_t *v = herald_jcs_parse(s, (size_t)n, 0, 0, NULL, 0);
    const char *why = NULL;
    if (!v || !json_is_number(v) || json_number_value(v) != d)
        why = "jcs: herald_jcs_number output does not parse back to the same double";
    else
        why = check_shortest(fabs(d), s);
    json_decref(v);
    return why;
}

/* ---- an independent reading of the canonical form ------------------------------------ */

struct scan {
    const char *p, *end;
    const char *why;
};

/* Appends code point 'c' to 'u' as UTF-16 code units. */
static size_t
put_utf16(uint16_t *u, size_t n, uint32_t c)
{
    if (c >= 0x10000) {
        c -= 0x10000;
        u[n++] = (uint16_t)(0xd800 + (c >> 10));
        u[n++] = (uint16_t)(0xdc00 + (c & 0x3ff));
    } else {
        u[n++] = (uint16_t)c;
    }
    return n;
}

/* Reads a canonical string literal at sc->p into UTF-16 'u' (at most 'cap' units, the
 * rest is compared by length only); '*n' gets the number of units. Checks RFC 8785's
 * escaping: only \" \\ \b \f \n \r \t and lowercase \u00xx for other controls. */
static void
scan_string(struct scan *sc, uint16_t *u, size_t cap, size_t *n)
{
    *n = 0;
    if (sc->p >= sc->end || *sc->p != '"') {
        sc->why = "jcs: canonical output: expected a string";
        return;
    }
    sc->p++;
    while (sc->p < sc->end && *sc->p != '"') {
        unsigned char c = (unsigned char)*sc->p;
        uint32_t cp;
        if (c < 0x20) {
            sc->why = "jcs: canonical output: raw control character in a string";
            return;
        }
        if (c == '\\') {
            if (sc->end - sc->p < 2) {
                sc->why = "jcs: canonical output: truncated escape";
                return;
            }
            const char *short_forms = "\"\\bfnrt";
            const char *f = strchr(short_forms, sc->p[1]);
            if (f && sc->p[1]) {
                static const char vals[] = "\"\\\b\f\n\r\t";
                cp = (unsigned char)vals[f - short_forms];
                sc->p += 2;
            } else if (sc->p[1] == 'u' && sc->end - sc->p >= 6 && sc->p[2] == '0' &&
                       sc->p[3] == '0' && strchr("01", sc->p[4]) && sc->p[4] &&
                       strchr("0123456789abcdef", sc->p[5]) && sc->p[5]) {
                cp = (uint32_t)((sc->p[4] - '0') * 16 +
                                (sc->p[5] <= '9' ? sc->p[5] - '0' : sc->p[5] - 'a' + 10));
                if (cp == '\b' || cp == '\f' || cp == '\n' || cp == '\r' || cp == '\t') {
                    sc->why = "jcs: canonical output: \\u escape where a short form exists";
                    return;
                }
                sc->p += 6;
            } else {
                sc->why = "jcs: canonical output: escape that RFC 8785 does not produce";
                return;
            }
        } else if (c < 0x80) {
            cp = c;
            sc->p++;
        } else {
            int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (sc->end - sc->p < len) {
                sc->why = "jcs: canonical output: truncated UTF-8";
                return;
            }
            cp = c & (0x3f >> (len - 1));
            for (int i = 1; i < len; i++)
                cp = cp << 6 | ((unsigned char)sc->p[i] & 0x3f);
            sc->p += len;
        }
        if (*n + 2 <= cap)
            *n = put_utf16(u, *n, cp);
        else
            *n += cp >= 0x10000 ? 2 : 1;
    }
    if (sc->p >= sc->end) {
        sc->why = "jcs: canonical output: unterminated string";
        return;
    }
    sc->p++;
}

#define KEY_UNITS 64 /* keys are compared on their first 64 UTF-16 units, then length */

static int
utf16_less(const uint16_t *a, size_t an, const uint16_t *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    if (m > KEY_UNITS)
        m = KEY_UNITS;
    for (size_t i = 0; i < m; i++)
        if (a[i] != b[i])
            return a[i] < b[i];
    if (an > KEY_UNITS && bn > KEY_UNITS)
        return 1; /* not decided within the compared prefix: do not report */
    return an < bn;
}

/* Consumes 'c' if it is the next byte. Returns 1 if it was. */
static int
scan_byte(struct scan *sc, char c)
{
    if (sc->p < sc->end && *sc->p == c) {
        sc->p++;
        return 1;
    }
    return 0;
}

/* After a member of an array or object: returns 1 after a ',' (another member follows);
 * 0 after 'close', or with sc->why set ('bad' if neither byte follows). */
static int
scan_more(struct scan *sc, char close, const char *bad)
{
    if (sc->why || scan_byte(sc, ','))
        return !sc->why;
    if (!scan_byte(sc, close))
        sc->why = bad;
    return 0;
}

static void
scan_value(struct scan *sc, int depth)
{
    if (sc->why)
        return;
    if (sc->p >= sc->end || depth > 4096) {
        sc->why = "jcs: canonical output: truncated";
        return;
    }
    char c = *sc->p;
    if (c == '"') {
        uint16_t u[KEY_UNITS + 2];
        size_t n;
        scan_string(sc, u, sizeof(u) / sizeof(u[0]), &n);
    } else if (c == '[') {
        sc->p++;
        if (scan_byte(sc, ']'))
            return;
        do
            scan_value(sc, depth + 1);
        while (scan_more(sc, ']', "jcs: canonical output: bad array"));
    } else if (c == '{') {
        uint16_t prev[KEY_UNITS + 2], cur[KEY_UNITS + 2];
        size_t prevn = 0, curn;
        int first = 1;
        sc->p++;
        if (scan_byte(sc, '}'))
            return;
        do {
            scan_string(sc, cur, KEY_UNITS + 2, &curn);
            if (sc->why)
                return;
            if (!first && !utf16_less(prev, prevn, cur, curn)) {
                sc->why = "jcs: canonical output: object keys not in UTF-16 order";
                return;
            }
            first = 0;
            memcpy(prev, cur, sizeof(cur));
            prevn = curn;
            if (!scan_byte(sc, ':')) {
                sc->why = "jcs: canonical output: expected ':'";
                return;
            }
            scan_value(sc, depth + 1);
        } while (scan_more(sc, '}', "jcs: canonical output: bad object"));
    } else {
        /* A literal, or a number as ECMAScript prints it:
         * -?(0|[1-9][0-9]*)(.[0-9]*[1-9])?(e[+-][1-9][0-9]*)? */
        static const char *const lits[] = {"true", "false", "null"};
        for (size_t i = 0; i < 3; i++) {
            size_t n = strlen(lits[i]);
            if ((size_t)(sc->end - sc->p) >= n && memcmp(sc->p, lits[i], n) == 0) {
                sc->p += n;
                return;
            }
        }
        const char *q = sc->p, *e = sc->end;
        if (q < e && *q == '-')
            q++;
        if (q < e && *q == '0') {
            q++;
        } else if (q < e && *q >= '1' && *q <= '9') {
            while (q < e && *q >= '0' && *q <= '9')
                q++;
        } else {
            sc->why = "jcs: canonical output: unexpected character";
            return;
        }
        if (q < e && *q == '.') {
            q++;
            const char *d = q;
            while (q < e && *q >= '0' && *q <= '9')
                q++;
            if (q == d || q[-1] == '0') {
                sc->why = "jcs: canonical output: fraction empty or with a trailing zero";
                return;
            }
        }
        if (q < e && *q == 'e') {
            q++;
            if (q >= e || (*q != '+' && *q != '-')) {
                sc->why = "jcs: canonical output: exponent without its sign";
                return;
            }
            q++;
            if (q >= e || *q < '1' || *q > '9') {
                sc->why = "jcs: canonical output: exponent empty or with a leading zero";
                return;
            }
            while (q < e && *q >= '0' && *q <= '9')
                q++;
        }
        if (q - sc->p == 2 && sc->p[0] == '-' && sc->p[1] == '0') {
            sc->why = "jcs: canonical output: -0";
            return;
        }
        sc->p = q;
    }
}

/* Reads 'b' as RFC 8785 output: the grammar, the escapes and the key order are checked
 * by this separate reading, not by re-running the code under test. */
static const char *
check_canonical(const herald_buf *b)
{
    struct scan sc = {b->data, b->data + b->len, NULL};
    scan_value(&sc, 0);
    if (!sc.why && sc.p != sc.end)
        sc.why = "jcs: canonical output: bytes after the value";
    return sc.why;
}

const char *
herald_fuzz_check_jcs(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char err[256];
    const char *why = NULL;
    herald_buf d1 = HERALD_BUF_INIT, d2 = HERALD_BUF_INIT, d3 = HERALD_BUF_INIT;
    json_t *strict = herald_jcs_parse(in, size, HERALD_JCS_STRICT, 0, err, sizeof(err));
    json_t *shallow = herald_jcs_parse(in, size, HERALD_JCS_STRICT, 3, NULL, 0);
    json_t *loose = herald_jcs_parse(in, size, 0, 0, NULL, 0);
    json_t *again = NULL;

    if (!strict && (err[0] == '\0' || strchr(err, '\n'))) {
        why = "jcs: a strict parse failed without a one-line reason";
        goto out;
    }
    if (shallow && !strict) {
        why = "jcs: max_depth 3 accepted what the default depth refused";
        goto out;
    }
    if (strict && !loose) {
        why = "jcs: strict accepted what non-strict refused";
        goto out;
    }
    if (!loose)
        goto out;
    if (herald_jcs_dump(&d2, loose) != 0) {
        why = "jcs: the dump of a parsed value failed";
        goto out;
    }
    again = herald_jcs_parse(d2.data, d2.len, 0, 0, err, sizeof(err));
    if (!again) {
        why = "jcs: the canonical dump does not parse";
        goto out;
    }
    if (herald_jcs_dump(&d3, again) != 0 || d3.len != d2.len ||
        memcmp(d3.data, d2.data, d2.len) != 0) {
        why = "jcs: dump(parse(dump(x))) != dump(x)";
        goto out;
    }
    if ((why = same_tree(loose, again)) != NULL)
        goto out;
    if ((why = check_canonical(&d2)) != NULL)
        goto out;
    if ((why = check_numbers(loose)) != NULL)
        goto out;
    if (strict) {
        if (herald_jcs_dump(&d1, strict) != 0 || d1.len != d2.len ||
            memcmp(d1.data, d2.data, d2.len) != 0) {
            why = "jcs: strict and non-strict parses dump differently";
            goto out;
        }
    }
out:
    if (!why)
        why = check_double(data, size);
    json_decref(strict);
    json_decref(shallow);
    json_decref(loose);
    json_decref(again);
    herald_buf_free(&d1);
    herald_buf_free(&d2);
    herald_buf_free(&d3);
    return why;
}
