/*
 * multipart -- see multipart.h for the design.
 *
 * States:
 *
 *   PREAMBLE ──delimiter──▶ AFTER ──"--"──▶ EPILOGUE (ignored to the end)
 *                             │ ws* CRLF
 *                             ▼
 *                           HEAD ──empty line──▶ BODY ──delimiter──▶ AFTER
 *
 * Any error is sticky (ST_ERROR keeps the first status).
 */
#include "multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/mem.h"

enum state { ST_PREAMBLE, ST_AFTER, ST_HEAD, ST_BODY, ST_EPILOGUE, ST_ERROR };
enum after { AF_START, AF_DASH, AF_WS, AF_CR };

struct pub_mp {
    pub_mp_callbacks cb;
    void *arg;
    enum state st;
    enum pub_mp_status err;
    enum after af;
    char delim[PUB_MP_MAX_BOUNDARY + 5]; /* CRLF "--" boundary */
    size_t dlen;
    size_t fail[PUB_MP_MAX_BOUNDARY + 5]; /* KMP: border of delim[0..k) */
    size_t mi;                            /* delim[0..mi) matched, held back */
    /* the header section of the current part */
    char line[PUB_MP_MAX_HEAD];
    size_t line_len;
    size_t head_bytes;
    int nheaders;
    int has_disp;
    pub_mp_part part;
    char name[PUB_MP_MAX_NAME + 1];
    char filename[PUB_MP_MAX_NAME + 1];
    size_t filename_len;
    int has_filename, has_filename_star;
    char ctype[PUB_MP_MAX_TYPE + 1];
};

/* ---- Content-Type ------------------------------------------------------------------ */

static int
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 2046 bchars. */
static int
is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

/* Reads a parameter value (token or quoted-string) at 's' into 'out' (at most 'cap'
 * bytes, NUL-terminated). Returns the position after it, or NULL when malformed or
 * too long. NUL, CR and LF are refused. */
static const char *
param_value(const char *s, const char *end, char *out, size_t cap, size_t *outlen)
{
    size_t n = 0;
    if (s < end && *s == '"') {
        s++;
        for (;;) {
            if (s >= end)
                return NULL; /* no closing quote */
            char c = *s++;
            if (c == '"')
                break;
            if (c == '\\') {
                if (s >= end)
                    return NULL;
                c = *s++;
            }
            if (c == '\0' || c == '\r' || c == '\n' || n >= cap)
                return NULL;
            out[n++] = c;
        }
    } else {
        while (s < end && *s != ';' && !is_ows(*s)) {
            if (*s == '\0' || *s == '\r' || *s == '\n' || *s == '"' || n >= cap)
                return NULL;
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    *outlen = n;
    return s;
}

int
pub_mp_content_type(const char *ct, char *out, size_t outlen)
{
    static const char mt[] = "multipart/form-data";
    char val[PUB_MP_MAX_BOUNDARY + 2];
    out[0] = '\0';
    if (!ct)
        return 1;
    const char *end = ct + strlen(ct);
    while (is_ows(*ct))
        ct++;
    size_t tl = strcspn(ct, ";");
    size_t t = tl;
    while (t > 0 && is_ows(ct[t - 1]))
        t--;
    if (t != sizeof(mt) - 1 || strncasecmp(ct, mt, t) != 0)
        return 1;
    const char *p = ct + tl;
    while (p < end) {
        p++; /* ';' */
        while (p < end && is_ows(*p))
            p++;
        const char *nm = p;
        while (p < end && *p != '=' && *p != ';' && !is_ows(*p))
            p++;
        size_t nl = (size_t)(p - nm);
        while (p < end && is_ows(*p))
            p++;
        if (p >= end || *p != '=') {
            p += strcspn(p, ";");
            continue;
        }
        p++;
        while (p < end && is_ows(*p))
            p++;
        size_t vl = 0;
        const char *q = param_value(p, end, val, sizeof(val) - 1, &vl);
        if (nl == 8 && strncasecmp(nm, "boundary", 8) == 0) {
            if (!q) {
                size_t k = strcspn(p, ";");
                k = k < outlen - 1 ? k : outlen - 1;
                memcpy(out, p, k);
                out[k] = '\0';
                return 2;
            }
            snprintf(out, outlen, "%s", val);
            if (vl == 0 || vl > PUB_MP_MAX_BOUNDARY || val[vl - 1] == ' ')
                return 2;
            for (size_t i = 0; i < vl; i++)
                if (!is_bchar(val[i]))
                    return 2;
            return outlen > vl ? 0 : 2;
        }
        if (!q)
            return 2;
        p = q;
        p += strcspn(p, ";");
    }
    return 2;
}

/* ---- parser ------------------------------------------------------------------------ */

pub_mp *
pub_mp_new(const char *boundary, const pub_mp_callbacks *cb, void *arg)
{
    size_t bl = strlen(boundary);
    if (bl == 0 || bl > PUB_MP_MAX_BOUNDARY)
        return NULL;
    pub_mp *m = herald_mem_calloc(1, sizeof(*m));
    m->cb = *cb;
    m->arg = arg;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, bl);
    m->dlen = bl + 4;
    /* KMP prefix function: fail[k] = longest proper border of delim[0..k). */
    m->fail[0] = m->fail[1] = 0;
    for (size_t k = 2, b = 0; k <= m->dlen; k++) {
        while (b > 0 && m->delim[b] != m->delim[k - 1])
            b = m->fail[b];
        if (m->delim[b] == m->delim[k - 1])
            b++;
        m->fail[k] = b;
    }
    m->st = ST_PREAMBLE;
    m->mi = 2; /* as if the body began with CRLF: the first line may be the boundary */
    return m;
}

void
pub_mp_free(pub_mp *m)
{
    free(m);
}

static enum pub_mp_status
fail_with(pub_mp *m, enum pub_mp_status s)
{
    m->st = ST_ERROR;
    m->err = s;
    return s;
}

/* Delivers bytes [a, b) of V = delim[0..mi0) ++ d to the part (in BODY) or drops them. */
static int
emit(pub_mp *m, size_t mi0, const char *d, size_t a, size_t b)
{
    if (m->st != ST_BODY || a >= b || !m->cb.part_data)
        return 0;
    if (a < mi0) {
        size_t e = b < mi0 ? b : mi0;
        if (m->cb.part_data(m->arg, m->delim + a, e - a))
            return -1;
        a = e;
    }
    if (a < b && m->cb.part_data(m->arg, d + (a - mi0), b - a))
        return -1;
    return 0;
}

/* Scans 'd' for the delimiter. Returns the bytes used; '*found' says whether it ended
 * on a complete delimiter. -1 when a callback stopped. */
static long
scan(pub_mp *m, const char *d, size_t n, int *found)
{
    size_t mi0 = m->mi, mi = m->mi;
    *found = 0;
    for (size_t i = 0; i < n; i++) {
        if (mi == 0) {
            /* Nothing matched: skip to the next CR, where a delimiter can begin. */
            const char *cr = memchr(d + i, '\r', n - i);
            if (!cr)
                break;
            i = (size_t)(cr - d);
        }
        char c = d[i];
        while (mi > 0 && m->delim[mi] != c)
            mi = m->fail[mi];
        if (m->delim[mi] == c)
            mi++;
        if (mi == m->dlen) {
            if (emit(m, mi0, d, 0, mi0 + i + 1 - m->dlen))
                return -1;
            m->mi = 0;
            *found = 1;
            return (long)(i + 1);
        }
    }
    if (emit(m, mi0, d, 0, mi0 + n - mi))
        return -1;
    m->mi = mi;
    return (long)n;
}

static void
part_reset(pub_mp *m)
{
    m->line_len = 0;
    m->head_bytes = 0;
    m->nheaders = 0;
    m->has_disp = 0;
    m->name[0] = '\0';
    m->filename[0] = '\0';
    m->filename_len = 0;
    m->has_filename = m->has_filename_star = 0;
    m->ctype[0] = '\0';
    memset(&m->part, 0, sizeof(m->part));
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* RFC 8187 ext-value: charset'lang'pct-encoded; only UTF-8 (or no charset) is used. */
static enum pub_mp_status
filename_star(pub_mp *m, const char *v, size_t len)
{
    const char *q1 = memchr(v, '\'', len);
    const char *q2 = q1 ? memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - v)) : NULL;
    if (!q2)
        return PUB_MP_BAD;
    size_t cl = (size_t)(q1 - v);
    if (cl && !(cl == 5 && strncasecmp(v, "utf-8", 5) == 0))
        return PUB_MP_OK; /* another charset: ignored, the plain filename is used */
    size_t n = 0;
    for (const char *p = q2 + 1; p < v + len; p++) {
        char c = *p;
        if (c == '%') {
            if (v + len - p < 3)
                return PUB_MP_BAD;
            int h = hexval(p[1]), l = hexval(p[2]);
            if (h < 0 || l < 0)
                return PUB_MP_BAD;
            c = (char)(h * 16 + l);
            p += 2;
        }
        if (c == '\0' || c == '\r' || c == '\n')
            return PUB_MP_BAD;
        if (n >= PUB_MP_MAX_NAME)
            return PUB_MP_LIMIT;
        m->filename[n++] = c;
    }
    m->filename[n] = '\0';
    m->filename_len = n;
    m->has_filename = m->has_filename_star = 1;
    return PUB_MP_OK;
}

/* Content-Disposition: form-data; name="..."; filename="..." */
static enum pub_mp_status
disposition(pub_mp *m, const char *v, const char *end)
{
    char val[PUB_MP_MAX_NAME + 1];
    int seen_name = 0, seen_fn = 0, seen_fns = 0;
    size_t tl = strcspn(v, ";");
    if (v + tl > end)
        tl = (size_t)(end - v);
    size_t t = tl;
    while (t > 0 && is_ows(v[t - 1]))
        t--;
    m->part.form_data = t == 9 && strncasecmp(v, "form-data", 9) == 0;
    const char *p = v + tl;
    while (p < end) {
        if (*p != ';')
            return PUB_MP_BAD;
        p++;
        while (p < end && is_ows(*p))
            p++;
        if (p >= end)
            break; /* a trailing ';' */
        const char *nm = p;
        while (p < end && *p != '=' && *p != ';' && !is_ows(*p))
            p++;
        size_t nl = (size_t)(p - nm);
        while (p < end && is_ows(*p))
            p++;
        if (nl == 0 || p >= end || *p != '=')
            return PUB_MP_BAD;
        p++;
        while (p < end && is_ows(*p))
            p++;
        size_t vl = 0;
        const char *q = param_value(p, end, val, PUB_MP_MAX_NAME, &vl);
        if (!q)
            return (size_t)(end - p) > PUB_MP_MAX_NAME ? PUB_MP_LIMIT : PUB_MP_BAD;
        p = q;
        while (p < end && is_ows(*p))
            p++;
        if (nl == 4 && strncasecmp(nm, "name", 4) == 0) {
            if (seen_name++)
                return PUB_MP_BAD;
            memcpy(m->name, val, vl + 1);
            m->part.has_name = 1;
        } else if (nl == 8 && strncasecmp(nm, "filename", 8) == 0) {
            if (seen_fn++)
                return PUB_MP_BAD;
            if (!m->has_filename_star) {
                memcpy(m->filename, val, vl + 1);
                m->filename_len = vl;
                m->has_filename = 1;
            }
        } else if (nl == 9 && strncasecmp(nm, "filename*", 9) == 0) {
            if (seen_fns++)
                return PUB_MP_BAD;
            enum pub_mp_status s = filename_star(m, val, vl);
            if (s != PUB_MP_OK)
                return s;
        }
    }
    return PUB_MP_OK;
}

/* One header line of a part (without its CRLF). */
static enum pub_mp_status
header_line(pub_mp *m, const char *l, size_t len)
{
    if (++m->nheaders > PUB_MP_MAX_HEADERS)
        return PUB_MP_LIMIT;
    if (len == 0 || is_ows(l[0]))
        return PUB_MP_BAD; /* obsolete line folding */
    const char *colon = memchr(l, ':', len);
    if (!colon || colon == l)
        return PUB_MP_BAD;
    size_t nl = (size_t)(colon - l);
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)l[i] <= ' ' || l[i] == 0x7f)
            return PUB_MP_BAD;
    const char *v = colon + 1, *end = l + len;
    for (const char *p = v; p < end; p++)
        if (*p == '\0')
            return PUB_MP_BAD;
    while (v < end && is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    if (nl == 19 && strncasecmp(l, "content-disposition", 19) == 0) {
        if (m->has_disp++)
            return PUB_MP_BAD;
        return disposition(m, v, end);
    }
    if (nl == 12 && strncasecmp(l, "content-type", 12) == 0) {
        size_t vl = (size_t)(end - v);
        if (vl > PUB_MP_MAX_TYPE)
            return PUB_MP_LIMIT;
        if (m->part.content_type)
            return PUB_MP_BAD;
        memcpy(m->ctype, v, vl);
        m->ctype[vl] = '\0';
        m->part.content_type = m->ctype;
    }
    return PUB_MP_OK;
}

/* Consumes header bytes. Returns bytes used, or -1 (m->err set). Sets '*done' at the
 * empty line. */
static long
head(pub_mp *m, const char *d, size_t n, int *done)
{
    *done = 0;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (++m->head_bytes > PUB_MP_MAX_HEAD) {
            fail_with(m, PUB_MP_LIMIT);
            return -1;
        }
        if (c != '\n') {
            m->line[m->line_len++] = c; /* head_bytes bounds line_len */
            continue;
        }
        if (m->line_len == 0 || m->line[m->line_len - 1] != '\r') {
            fail_with(m, PUB_MP_BAD); /* bare LF */
            return -1;
        }
        size_t len = m->line_len - 1;
        m->line_len = 0;
        if (len == 0) {
            *done = 1;
            return (long)(i + 1);
        }
        if (memchr(m->line, '\r', len)) {
            fail_with(m, PUB_MP_BAD);
            return -1;
        }
        enum pub_mp_status s = header_line(m, m->line, len);
        if (s != PUB_MP_OK) {
            fail_with(m, s);
            return -1;
        }
    }
    return (long)n;
}

enum pub_mp_status
pub_mp_feed(pub_mp *m, const char *d, size_t n)
{
    while (n > 0 || m->st == ST_ERROR) {
        long used = 0;
        int found = 0;
        switch (m->st) {
        case ST_ERROR:
            return m->err;
        case ST_EPILOGUE:
            return PUB_MP_OK;
        case ST_PREAMBLE:
        case ST_BODY:
            used = scan(m, d, n, &found);
            if (used < 0)
                return fail_with(m, PUB_MP_STOPPED);
            if (found) {
                if (m->st == ST_BODY && m->cb.part_end && m->cb.part_end(m->arg))
                    return fail_with(m, PUB_MP_STOPPED);
                m->st = ST_AFTER;
                m->af = AF_START;
            }
            break;
        case ST_AFTER: {
            char c = d[0];
            used = 1;
            if (m->af == AF_START && c == '-') {
                m->af = AF_DASH;
            } else if (m->af == AF_DASH) {
                if (c != '-')
                    return fail_with(m, PUB_MP_BAD);
                m->st = ST_EPILOGUE;
            } else if ((m->af == AF_START || m->af == AF_WS) && is_ows(c)) {
                m->af = AF_WS;
            } else if ((m->af == AF_START || m->af == AF_WS) && c == '\r') {
                m->af = AF_CR;
            } else if (m->af == AF_CR && c == '\n') {
                m->st = ST_HEAD;
                part_reset(m);
            } else {
                return fail_with(m, PUB_MP_BAD);
            }
            break;
        }
        case ST_HEAD:
            used = head(m, d, n, &found);
            if (used < 0)
                return m->err;
            if (found) {
                m->part.name = m->name;
                m->part.filename = m->has_filename ? m->filename : NULL;
                m->part.filename_len = m->filename_len;
                m->st = ST_BODY;
                m->mi = 0;
                if (m->cb.part_begin && m->cb.part_begin(m->arg, &m->part))
                    return fail_with(m, PUB_MP_STOPPED);
            }
            break;
        }
        d += used;
        n -= (size_t)used;
    }
    return PUB_MP_OK;
}

enum pub_mp_status
pub_mp_finish(pub_mp *m)
{
    if (m->st == ST_ERROR)
        return m->err;
    return m->st == ST_EPILOGUE ? PUB_MP_OK : PUB_MP_TRUNCATED;
}
