/*
 * jscan -- see include/herald/jscan.h. A recursive-descent validator over the bytes
 * (bounded depth), that records only what the top level of each element says about the
 * three keys. Strings are checked as jansson checks them (UTF-8 without overlong forms,
 * surrogates or code points above U+10FFFF; no raw control characters; valid escapes)
 * so that the scanner never accepts what jansson refuses; the few forms it leaves to
 * jansson are listed in the header. Plain ASCII inside strings, most of a record's bytes,
 * is skipped 8 bytes at a time.
 */
#include "herald/jscan.h"

#include <string.h>

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */
#define MAX_MAGNITUDE 300               /* decimal digits before the point + exponent */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p; -1 if they are not. */
static long
hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The length of the valid UTF-8 sequence at s[0..n) (s[0] >= 0x80), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether any of the 8 bytes in 'v' needs a look of its own: below 0x20, '"', '\\' or
 * not ASCII (the bit tricks answer "any byte" exactly; which one does not matter). */
static int
special8(uint64_t v)
{
    uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
    return ((((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | v) & HIGHS) != 0;
}

/* A string at p[*pos] == '"'; on success *pos is past the closing quote. */
static int
scan_string(const char *p, size_t len, size_t *pos, int *escaped)
{
    size_t i = *pos + 1;
    *escaped = 0;
    while (i < len) {
        /* Most of a record is plain ASCII text: skip it 8 bytes at a time. */
        while (len - i >= 8) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            if (special8(v))
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = (unsigned char)p[i];
        if (c == '"') {
            *pos = i + 1;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (i + 1 >= len)
                return -1;
            *escaped = 1;
            switch (p[i + 1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                i += 2;
                break;
            case 'u': {
                if (len - i < 6)
                    return -1;
                long v = hex4(p + i + 2);
                /* NUL (jansson refuses it) and surrogates (pairs left to jansson). */
                if (v <= 0 || (v >= 0xD800 && v <= 0xDFFF))
                    return -1;
                i += 6;
                break;
            }
            default:
                return -1;
            }
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)p + i, len - i);
        if (!k)
            return -1;
        i += k;
    }
    return -1;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number at p[*pos]; *pos is moved past it. */
static int
scan_number(const char *p, size_t len, size_t *pos)
{
    size_t i = *pos;
    long intdigits = 0, exp = 0;
    int expneg = 0;
    if (i < len && p[i] == '-')
        i++;
    if (i < len && p[i] == '0') {
        i++;
        intdigits = 1;
    } else if (i < len && p[i] >= '1' && p[i] <= '9') {
        while (i < len && is_digit(p[i])) {
            i++;
            intdigits++;
        }
    } else {
        return -1;
    }
    if (i < len && p[i] == '.') {
        i++;
        if (i >= len || !is_digit(p[i]))
            return -1;
        while (i < len && is_digit(p[i]))
            i++;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            expneg = p[i++] == '-';
        if (i >= len || !is_digit(p[i]))
            return -1;
        while (i < len && is_digit(p[i])) {
            if (exp < 100000)
                exp = exp * 10 + (p[i] - '0');
            i++;
        }
    }
    /* Never a double overflow (jansson refuses those); underflow is fine for both. */
    if (intdigits + (expneg ? -exp : exp) > MAX_MAGNITUDE || intdigits > MAX_MAGNITUDE)
        return -1;
    *pos = i;
    return 0;
}

static int
scan_lit(const char *p, size_t len, size_t *pos, const char *lit)
{
    size_t n = strlen(lit);
    if (len - *pos < n || memcmp(p + *pos, lit, n) != 0)
        return -1;
    *pos += n;
    return 0;
}

static int scan_value(const char *p, size_t len, size_t *pos, int depth);

/* An object or array (at p[*pos]) below the top level. */
static int
scan_container(const char *p, size_t len, size_t *pos, int depth)
{
    int obj = p[*pos] == '{';
    char close = obj ? '}' : ']';
    size_t i = *pos + 1;
    int esc;
    if (depth > HERALD_JSCAN_MAX_DEPTH)
        return -1;
    if (i < len && p[i] == close) {
        *pos = i + 1;
        return 0;
    }
    for (;;) {
        if (obj) {
            if (i >= len || p[i] != '"' || scan_string(p, len, &i, &esc) < 0)
                return -1;
            if (i >= len || p[i] != ':')
                return -1;
            i++;
        }
        if (scan_value(p, len, &i, depth + 1) < 0)
            return -1;
        if (i >= len)
            return -1;
        if (p[i] == close) {
            *pos = i + 1;
            return 0;
        }
        if (p[i] != ',')
            return -1;
        i++;
    }
}

static int
scan_value(const char *p, size_t len, size_t *pos, int depth)
{
    int esc;
    if (*pos >= len)
        return -1;
    switch (p[*pos]) {
    case '"':
        return scan_string(p, len, pos, &esc);
    case '{':
    case '[':
        return scan_container(p, len, pos, depth);
    case 't':
        return scan_lit(p, len, pos, "true");
    case 'f':
        return scan_lit(p, len, pos, "false");
    case 'n':
        return scan_lit(p, len, pos, "null");
    default:
        return scan_number(p, len, pos);
    }
}

enum { K_OTHER, K_ID, K_LM, K_DELETED };

/* Which of the three keys the string's raw bytes name (decoded when escaped: "\u0069d"
 * is "id" for jansson too). */
static int
key_of(const char *raw, size_t rawlen, int escaped)
{
    char buf[96]; /* an escape is at most 6 bytes: a longer raw key decodes past 16 */
    if (escaped) {
        if (rawlen > sizeof(buf))
            return K_OTHER;
        rawlen = herald_jscan_unescape(buf, raw, rawlen);
        raw = buf;
    }
    if (rawlen == 2 && memcmp(raw, "id", 2) == 0)
        return K_ID;
    if (rawlen == 13 && memcmp(raw, "last_modified", 13) == 0)
        return K_LM;
    if (rawlen == 7 && memcmp(raw, "deleted", 7) == 0)
        return K_DELETED;
    return K_OTHER;
}

/* One element: an object at p[*pos], its three keys read. */
static int
scan_element(const char *p, size_t len, size_t *pos, herald_jscan_elem *e)
{
    size_t i = *pos;
    int seen[4] = {0};
    if (i >= len || p[i] != '{')
        return -1;
    memset(e, 0, sizeof(*e));
    e->off = i;
    i++;
    if (i < len && p[i] == '}') {
        e->len = i + 1 - e->off;
        *pos = i + 1;
        return 0;
    }
    for (;;) {
        int esc;
        if (i >= len || p[i] != '"')
            return -1;
        size_t ks = i + 1;
        if (scan_string(p, len, &i, &esc) < 0)
            return -1;
        int k = key_of(p + ks, i - 1 - ks, esc);
        if (i >= len || p[i] != ':')
            return -1;
        i++;
        if (k != K_OTHER && seen[k]++)
            return -1;
        size_t vs = i;
        if (scan_value(p, len, &i, 2) < 0)
            return -1;
        if (k == K_ID) {
            if (p[vs] != '"')
                return -1;
            e->id = p + vs + 1;
            e->idlen = i - vs - 2;
            /* Rescanning is cheap and keeps scan_value free of out-parameters. */
            size_t j = vs;
            if (scan_string(p, len, &j, &e->id_escaped) < 0)
                return -1;
        } else if (k == K_LM) {
            if (p[vs] < '0' || p[vs] > '9' || (p[vs] == '0' && i - vs > 1) || i - vs > 16)
                return -1;
            int64_t v = 0;
            for (size_t j = vs; j < i; j++) {
                if (!is_digit(p[j]))
                    return -1;
                v = v * 10 + (p[j] - '0');
            }
            if (v > MAX_SAFE_INT)
                return -1;
            e->has_lm = 1;
            e->lm = v;
        } else if (k == K_DELETED) {
            e->deleted = i - vs == 4 && memcmp(p + vs, "true", 4) == 0;
        }
        if (i >= len)
            return -1;
        if (p[i] == '}') {
            e->len = i + 1 - e->off;
            *pos = i + 1;
            return 0;
        }
        if (p[i] != ',')
            return -1;
        i++;
    }
}

void
herald_jscan_init(herald_jscan *it, const char *json, size_t len)
{
    it->p = json;
    it->len = len;
    it->pos = 0;
    it->state = 0;
}

int
herald_jscan_next(herald_jscan *it, herald_jscan_elem *e)
{
    const char *p = it->p;
    if (it->state == 2)
        return 0;
    if (it->state < 0)
        return -1;
    if (it->state == 0) {
        if (it->len < 2 || p[0] != '[')
            goto refuse;
        it->pos = 1;
        it->state = 1;
        if (p[1] == ']')
            goto end;
    } else {
        /* After an element: ',' then the next one, or ']' and the end of the text. */
        if (it->pos >= it->len)
            goto refuse;
        if (p[it->pos] == ']')
            goto end;
        if (p[it->pos] != ',')
            goto refuse;
        it->pos++;
    }
    if (scan_element(p, it->len, &it->pos, e) < 0)
        goto refuse;
    return 1;
end:
    if (it->pos + 1 != it->len)
        goto refuse;
    it->state = 2;
    return 0;
refuse:
    it->state = -1;
    return -1;
}

long long
herald_jscan_count(const char *json, size_t len)
{
    herald_jscan it;
    herald_jscan_elem e;
    long long n = 0;
    int rc;
    herald_jscan_init(&it, json, len);
    while ((rc = herald_jscan_next(&it, &e)) == 1)
        n++;
    return rc == 0 ? n : -1;
}

size_t
herald_jscan_unescape(char *out, const char *raw, size_t rawlen)
{
    size_t o = 0;
    for (size_t i = 0; i < rawlen;) {
        if (raw[i] != '\\') {
            out[o++] = raw[i++];
            continue;
        }
        char c = raw[i + 1];
        i += 2;
        switch (c) {
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'u': {
            unsigned long v = (unsigned long)hex4(raw + i); /* validated: no surrogate */
            i += 4;
            if (v < 0x80) {
                out[o++] = (char)v;
            } else if (v < 0x800) {
                out[o++] = (char)(0xC0 | v >> 6);
                out[o++] = (char)(0x80 | (v & 0x3F));
            } else {
                out[o++] = (char)(0xE0 | v >> 12);
                out[o++] = (char)(0x80 | ((v >> 6) & 0x3F));
                out[o++] = (char)(0x80 | (v & 0x3F));
            }
            break;
        }
        default: /* '"', '\\', '/' */
            out[o++] = c;
        }
    }
    return o;
}
