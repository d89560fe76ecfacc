/*
 * test_jscan -- the records scanner (lib/jscan.c), differentially against jansson.
 *
 * Random records arrays are written as text: objects with or without "id",
 * "last_modified" and "deleted", in any key order, other keys holding nested objects and
 * arrays that themselves carry "id", "last_modified" and "deleted" (which must be
 * ignored), strings with quotes, backslashes, control characters, brackets, commas and
 * non-ASCII (2-, 3- and 4-byte UTF-8), written raw or escaped in every form the scanner
 * takes (short escapes, \/, \uXXXX in either case). The scanner must accept each text
 * and find exactly what jansson finds. The same texts canonicalized (herald_jcs_dump)
 * must be accepted too. Then random mutations of them: whenever the scanner still
 * accepts, jansson must agree. Then a table of texts the scanner must refuse. Last, a
 * blob decoded as the loader decodes it (herald_snapshot_decode_indexed): indexed when
 * the scanner takes its records, parsed by jansson when it does not, the same state
 * either way.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/delta.h"
#include "herald/jcs.h"
#include "herald/jscan.h"
#include "herald/mem.h"
#include "herald/snapshot.h"

static unsigned long long rng_state;

static unsigned
rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

/* Appends code point 'cp' as UTF-8. */
static void
put_utf8(herald_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        herald_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        herald_buf_putc(b, (char)(0xC0 | cp >> 6));
        herald_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        herald_buf_putc(b, (char)(0xE0 | cp >> 12));
        herald_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        herald_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        herald_buf_putc(b, (char)(0xF0 | cp >> 18));
        herald_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        herald_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        herald_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static unsigned
rnd_cp(void)
{
    static const unsigned pool[] = {
        'a',    'z',    '0',    '"',    '\\',    '/',     '\n',     '\t', 0x01,  0x1f,  '[',
        ']',    '{',    '}',    ',',    ':',     ' ',     0x7f,     0xe9, 0x7ff, 0x800, 0x20ac,
        0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff, 'i',  'd'};
    return pool[rnd(sizeof(pool) / sizeof(pool[0]))];
}

/* Writes the string of code points 'cps' as a JSON literal, each character raw or
 * escaped at random (any form the scanner accepts). */
static void
put_string(herald_buf *b, const unsigned *cps, size_t n)
{
    static const char *hex[2] = {"0123456789abcdef", "0123456789ABCDEF"};
    herald_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned cp = cps[i];
        int must = cp < 0x20 || cp == '"' || cp == '\\';
        int esc = must || (cp < 0x10000 && rnd(4) == 0);
        if (!esc) {
            put_utf8(b, cp);
            continue;
        }
        const char *shortf = cp == '"'    ? "\\\""
                             : cp == '\\' ? "\\\\"
                             : cp == '/'  ? "\\/"
                             : cp == '\n' ? "\\n"
                             : cp == '\t' ? "\\t"
                                          : NULL;
        if (shortf && rnd(2)) {
            herald_buf_puts(b, shortf);
            continue;
        }
        const char *h = hex[rnd(2)];
        char u[7] = {'\\', 'u', h[cp >> 12], h[(cp >> 8) & 15], h[(cp >> 4) & 15], h[cp & 15], 0};
        herald_buf_puts(b, u);
    }
    herald_buf_putc(b, '"');
}

static void
put_rnd_string(herald_buf *b)
{
    unsigned cps[12];
    size_t n = rnd(12);
    for (size_t i = 0; i < n; i++)
        cps[i] = rnd_cp();
    put_string(b, cps, n);
}

static void put_value(herald_buf *b, int depth);

static const char *const keys[] = {"id", "last_modified", "deleted", "details", "x", "é", "a\"b"};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void
put_key(herald_buf *b, const char *k)
{
    unsigned cps[16];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
        if (*p < 0x80)
            cps[n++] = *p;
        else { /* only "é" here */
            cps[n++] = 0xe9;
            p++;
        }
    }
    put_string(b, cps, n);
}

/* An object with distinct keys from 'keys' in a random order; at the top level the three
 * special keys get values of their kind (mostly). */
static void
put_object(herald_buf *b, int depth, int top)
{
    size_t order[NKEYS];
    for (size_t i = 0; i < NKEYS; i++)
        order[i] = i;
    for (size_t i = NKEYS - 1; i > 0; i--) {
        size_t j = rnd((unsigned)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    size_t n = rnd(NKEYS + 1);
    if (top && n < 3)
        n += 2; /* mostly with an id */
    herald_buf_putc(b, '{');
    for (size_t i = 0; i < n && i < NKEYS; i++) {
        const char *k = keys[order[i]];
        if (i)
            herald_buf_putc(b, ',');
        put_key(b, k);
        herald_buf_putc(b, ':');
        if (top && !strcmp(k, "id"))
            put_rnd_string(b);
        else if (top && !strcmp(k, "last_modified"))
            herald_buf_put_i64(b, rnd(3) == 0   ? 0
                                  : rnd(2) == 0 ? 9007199254740991LL - rnd(10)
                                                : 1700000000000LL + rnd(1000000));
        else if (top && !strcmp(k, "deleted") && rnd(2))
            herald_buf_puts(b, "true");
        else
            put_value(b, depth + 1);
    }
    herald_buf_putc(b, '}');
}

static void
put_value(herald_buf *b, int depth)
{
    static const char *const nums[] = {"0",      "-0",       "12",
                                       "-7",     "1.5",      "-0.25e-3",
                                       "1E+21",  "6.02e23",  "123456789012345678901",
                                       "1e-400", "9.99e299", "0.000001"};
    unsigned k = rnd(depth > 4 ? 4 : 7);
    switch (k) {
    case 0:
        put_rnd_string(b);
        break;
    case 1:
        herald_buf_puts(b, nums[rnd(sizeof(nums) / sizeof(nums[0]))]);
        break;
    case 2:
        herald_buf_puts(b, rnd(3) == 0 ? "true" : rnd(2) ? "false" : "null");
        break;
    case 3:
        herald_buf_put_i64(b, (long long)rnd(1000000));
        break;
    case 4:
    case 5:
        put_object(b, depth, 0);
        break;
    default: {
        size_t n = rnd(4);
        herald_buf_putc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                herald_buf_putc(b, ',');
            put_value(b, depth + 1);
        }
        herald_buf_putc(b, ']');
    }
    }
}

static void
put_records(herald_buf *b)
{
    size_t n = rnd(6);
    herald_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            herald_buf_putc(b, ',');
        put_object(b, 1, 1);
    }
    herald_buf_putc(b, ']');
}

/* Scans 'text'; when the scanner accepts, asserts jansson finds the same. Returns the
 * scanner's verdict (0 accepted, -1 refused). */
static int
compare(const char *text, size_t len)
{
    herald_jscan it;
    herald_jscan_elem e;
    herald_jscan_elem v[64];
    size_t n = 0;
    int rc;
    herald_jscan_init(&it, text, len);
    while ((rc = herald_jscan_next(&it, &e)) == 1) {
        cr_assert_lt(n, 64);
        v[n++] = e;
    }
    if (rc < 0) {
        cr_assert_eq(herald_jscan_count(text, len), -1);
        return -1;
    }
    cr_assert_eq(herald_jscan_count(text, len), (long long)n);
    char why[200];
    json_t *arr = herald_jcs_parse(text, len, 0, 0, why, sizeof(why));
    cr_assert(arr && json_is_array(arr), "scanner accepted, jansson refused (%s): %.*s", why,
              (int)len, text);
    cr_assert_eq(json_array_size(arr), n, "%.*s", (int)len, text);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(arr, i);
        cr_assert(json_is_object(r));
        const json_t *id = json_object_get(r, "id");
        cr_assert_eq(!v[i].id, !id, "id presence, element %zu of %.*s", i, (int)len, text);
        if (id) {
            char dec[256];
            cr_assert_leq(v[i].idlen, sizeof(dec));
            size_t dl = herald_jscan_unescape(dec, v[i].id, v[i].idlen);
            cr_assert(json_is_string(id) && dl == json_string_length(id) &&
                          memcmp(dec, json_string_value(id), dl) == 0,
                      "id of element %zu of %.*s", i, (int)len, text);
        }
        const json_t *lm = json_object_get(r, "last_modified");
        cr_assert_eq(v[i].has_lm, lm != NULL);
        if (lm)
            cr_assert(json_number_value(lm) == (double)v[i].lm, "lm of element %zu of %.*s", i,
                      (int)len, text);
        cr_assert_eq(v[i].deleted, json_is_true(json_object_get(r, "deleted")), "%.*s", (int)len,
                     text);
        json_t *alone = herald_jcs_parse(text + v[i].off, v[i].len, 0, 0, NULL, 0);
        cr_assert(alone && json_equal(alone, r), "range of element %zu of %.*s", i, (int)len, text);
        json_decref(alone);
    }
    json_decref(arr);
    return 0;
}

Test(jscan, agrees_with_jansson_on_random_records)
{
    rng_state = 19;
    size_t accepted_mutants = 0, ids_escaped = 0, tomb = 0, nested_id = 0;
    for (int round = 0; round < 4000; round++) {
        herald_buf b = HERALD_BUF_INIT;
        put_records(&b);
        cr_assert_eq(compare(b.data, b.len), 0, "refused a valid text: %.*s", (int)b.len, b.data);
        ids_escaped += memmem(b.data, b.len, "\"id\":\"", 6) && memchr(b.data, '\\', b.len);
        tomb += memmem(b.data, b.len, "\"deleted\":true", 14) != NULL;
        nested_id += memmem(b.data, b.len, ":{\"id\"", 6) != NULL;

        /* Its canonical form (what the signer writes): accepted too. */
        json_t *arr = herald_jcs_parse(b.data, b.len, 0, 0, NULL, 0);
        herald_buf c = HERALD_BUF_INIT;
        cr_assert(arr && herald_jcs_dump(&c, arr) == 0);
        cr_assert_eq(compare(c.data, c.len), 0, "refused canonical text: %.*s", (int)c.len, c.data);
        json_decref(arr);
        herald_buf_free(&c);

        /* Mutants: a byte replaced, dropped or inserted. */
        for (int m = 0; m < 8 && b.len > 0; m++) {
            herald_buf x = HERALD_BUF_INIT;
            herald_buf_append(&x, b.data, b.len);
            size_t at = rnd((unsigned)x.len);
            static const char bytes[] = "\"\\{}[],:0-e.tu \x01\x80\xc3\xff";
            char nb = rnd(2) ? bytes[rnd(sizeof(bytes) - 1)] : (char)rnd(256);
            switch (rnd(3)) {
            case 0:
                x.data[at] = nb;
                break;
            case 1:
                memmove(x.data + at, x.data + at + 1, x.len - at - 1);
                x.len--;
                break;
            default:
                herald_buf_putc(&x, 0);
                memmove(x.data + at + 1, x.data + at, x.len - at - 1);
                x.data[at] = nb;
            }
            accepted_mutants += compare(x.data, x.len) == 0;
            herald_buf_free(&x);
        }
        herald_buf_free(&b);
    }
    /* The generator reached what it is meant to: escaped ids, tombstones, "id" nested. */
    cr_assert_gt(ids_escaped, 100);
    cr_assert_gt(tomb, 100);
    cr_assert_gt(nested_id, 100);
    cr_assert_gt(accepted_mutants, 100);
}

Test(jscan, reads_the_three_keys)
{
    const char *t = "[{\"deleted\":true,\"id\":\"a\\\"\\u00e9\",\"last_modified\":42,"
                    "\"x\":{\"id\":\"no\",\"last_modified\":1}},{\"id\":\"b\"}]";
    herald_jscan it;
    herald_jscan_elem e;
    herald_jscan_init(&it, t, strlen(t));
    cr_assert_eq(herald_jscan_next(&it, &e), 1);
    char dec[32];
    size_t n = herald_jscan_unescape(dec, e.id, e.idlen);
    cr_assert(e.id_escaped && n == 4 && memcmp(dec, "a\"\xc3\xa9", 4) == 0);
    cr_assert(e.has_lm && e.lm == 42 && e.deleted == 1);
    cr_assert_eq(e.off, 1);
    cr_assert_eq(t[e.off + e.len], ',');
    cr_assert_eq(herald_jscan_next(&it, &e), 1);
    cr_assert(e.idlen == 1 && e.id[0] == 'b' && !e.id_escaped && !e.has_lm && e.lm == 0 &&
              !e.deleted);
    cr_assert_eq(herald_jscan_next(&it, &e), 0);
    cr_assert_eq(herald_jscan_next(&it, &e), 0);
}

Test(jscan, refuses)
{
    static const char *const bad[] = {
        "",
        "[",
        "]",
        "{}",
        "[{}",
        "[{}]]",
        "[{}] ",
        " []",
        "[ ]",
        "[{},]",
        "[,{}]",
        "[{}{}]",
        "[1]",
        "[\"id\"]",
        "[[]]",
        "[null]",
        "[{\"id\":1}]",
        "[{\"id\":null}]",
        "[{\"id\":\"a\",\"id\":\"b\"}]",
        "[{\"id\":\"a\",\"\\u0069d\":\"b\"}]",
        "[{\"last_modified\":1,\"last_modified\":1}]",
        "[{\"deleted\":true,\"deleted\":false}]",
        "[{\"last_modified\":-1}]",
        "[{\"last_modified\":1.0}]",
        "[{\"last_modified\":1e3}]",
        "[{\"last_modified\":01}]",
        "[{\"last_modified\":9007199254740992}]",
        "[{\"last_modified\":\"1\"}]",
        "[{\"id\":\"a\" }]",
        "[{\"id\" :\"a\"}]",
        "[{\"id\":\"a\"\n}]",
        "[{\"id\"}]",
        "[{\"id\":}]",
        "[{\"id\":\"a}]",
        "[{\"id\":\"a\\\"}]",
        "[{\"id\":\"\\x\"}]",
        "[{\"id\":\"\\u00\"}]",
        "[{\"id\":\"\\u00g0\"}]",
        "[{\"id\":\"\\u0000\"}]",
        "[{\"id\":\"\\ud800\"}]",
        "[{\"id\":\"\\ud83d\\ude00\"}]", /* valid, but pairs are left to jansson */
        "[{\"id\":\"\x01\"}]",
        "[{\"id\":\"\x80\"}]",
        "[{\"id\":\"\xc0\xaf\"}]",
        "[{\"id\":\"\xe0\x80\xaf\"}]",
        "[{\"id\":\"\xed\xa0\x80\"}]",
        "[{\"id\":\"\xf4\x90\x80\x80\"}]",
        "[{\"id\":\"\xf0\x9f\x98\"}]",
        "[{\"x\":01}]",
        "[{\"x\":+1}]",
        "[{\"x\":.5}]",
        "[{\"x\":1.}]",
        "[{\"x\":1e}]",
        "[{\"x\":-}]",
        "[{\"x\":1e400}]",
        "[{\"x\":-1e301}]",
        "[{\"x\":tru}]",
        "[{\"x\":nul}]",
        "[{\"x\":True}]",
        "[{\"x\":[1,]}]",
        "[{\"x\":{\"a\":1,}}]",
        "[{\"x\":{\"a\"}}]",
        "[{\"x\":{1:2}}]",
        "[{\"x\":[}]",
        "[{\"x\":NaN}]",
        "[{\"x\":\"a\",}]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(herald_jscan_count(bad[i], strlen(bad[i])), -1, "accepted: %s", bad[i]);
    }
    /* An embedded NUL, and nesting past the limit. */
    cr_assert_eq(herald_jscan_count("[{\"id\":\"a\0\"}]", 12), -1);
    herald_buf b = HERALD_BUF_INIT;
    herald_buf_puts(&b, "[{\"x\":");
    for (int i = 0; i < HERALD_JSCAN_MAX_DEPTH + 1; i++)
        herald_buf_putc(&b, '[');
    for (int i = 0; i < HERALD_JSCAN_MAX_DEPTH + 1; i++)
        herald_buf_putc(&b, ']');
    herald_buf_puts(&b, "}]");
    cr_assert_eq(herald_jscan_count(b.data, b.len), -1);
    herald_buf_free(&b);
    /* ... while just under it is fine, and so is what the table's neighbours accept. */
    herald_buf_puts(&b, "[{\"x\":");
    for (int i = 0; i < HERALD_JSCAN_MAX_DEPTH - 2; i++)
        herald_buf_putc(&b, '[');
    for (int i = 0; i < HERALD_JSCAN_MAX_DEPTH - 2; i++)
        herald_buf_putc(&b, ']');
    herald_buf_puts(&b, "}]");
    cr_assert_eq(herald_jscan_count(b.data, b.len), 1);
    herald_buf_free(&b);
    static const char *const good[] = {
        "[]",
        "[{}]",
        "[{\"x\":9e299,\"y\":-1e-999,\"z\":-0.0E+0}]",
        "[{\"last_modified\":0}]",
        "[{\"last_modified\":9007199254740991}]",
        "[{\"deleted\":false,\"id\":\"\\/\"}]",
        "[{\"id\":\"\xf4\x8f\xbf\xbf\\uFFFF\"}]",
        "[{\"x\":{\"id\":1,\"id\":2}}]",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(compare(good[i], strlen(good[i])) == 0 ? 0 : -1, 0, "refused: %s", good[i]);
}

/* A blob of 'records' (unsigned: decoding does not verify) and the state the loader
 * builds of it; 'indexed' tells whether the scanner took the records. */
static herald_state *
loader_state(const char *records, int *indexed)
{
    char err[256];
    herald_buf blob = HERALD_BUF_INIT;
    json_t *obj = json_object(), *sigs = json_array(), *tombs = json_array();
    herald_snapshot_parts p = {.bucket = "b",
                               .collection = "c",
                               .timestamp = 7,
                               .metadata = obj,
                               .bucket_data = obj,
                               .signatures = sigs,
                               .records_json = records,
                               .records_len = strlen(records),
                               .tombstones = tombs};
    cr_assert(herald_snapshot_encode(&blob, &p, 1) == 0);
    herald_snapshot *s = herald_snapshot_decode_indexed(blob.data, blob.len, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    size_t n;
    *indexed = herald_snapshot_record_index(s, &n) != NULL;
    cr_assert_eq(*indexed, herald_snapshot_records(s) == NULL);
    herald_state *st = herald_state_take_snapshot(s, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    json_decref(obj);
    json_decref(sigs);
    json_decref(tombs);
    herald_buf_free(&blob);
    return st;
}

Test(jscan, loader_falls_back_to_jansson)
{
    /* The same two records, canonical, then with the emoji escaped as a surrogate pair
     * (valid JSON the scanner leaves to jansson) and a whitespace. */
    static const char canon[] = "[{\"id\":\"a\",\"last_modified\":5,\"x\":{\"id\":\"no\"}},"
                                "{\"id\":\"b\xf0\x9f\x98\x80\",\"last_modified\":6}]";
    static const char other[] = "[{\"id\":\"a\",\"last_modified\":5,\"x\":{\"id\":\"no\"}},"
                                "{\"id\":\"b\\ud83d\\ude00\", \"last_modified\":6}]";
    int ia, ib;
    herald_state *a = loader_state(canon, &ia), *b = loader_state(other, &ib);
    cr_assert(ia && !ib);
    cr_assert_eq(herald_state_count(a, 0), 2);
    cr_assert_eq(herald_state_count(b, 0), 2);
    for (size_t i = 0; i < 2; i++) {
        herald_state_entry x, y;
        herald_state_get(a, 0, i, &x);
        herald_state_get(b, 0, i, &y);
        cr_assert(x.idlen == y.idlen && memcmp(x.id, y.id, x.idlen) == 0, "id %zu", i);
        cr_assert_eq(x.lm, y.lm);
        cr_assert_eq(x.lm, 5 + (int64_t)i);
    }
    herald_state_entry e;
    herald_state_get(a, 0, 1, &e);
    cr_assert(e.idlen == 5 && memcmp(e.id, "b\xf0\x9f\x98\x80", 5) == 0);
    cr_assert(e.len == strlen(canon) - (size_t)(strchr(canon, '}') - canon) - 4);
    herald_state_free(a);
    herald_state_free(b);
}
