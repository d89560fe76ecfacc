/*
 * check_multipart -- the publisher's streaming multipart/form-data parser
 * (publisher/multipart.c) on an arbitrary body.
 *
 * Input: optionally "B:<boundary>\n" (else the boundary is "XyZ"), then the body. The
 * body is parsed whole, byte by byte, and in pseudo-random pieces (sizes drawn from the
 * input's own bytes), and must give the same verdict and the same transcript (every
 * callback with its arguments, content runs concatenated). A parse that succeeded is
 * encoded again from its transcript (quoted parameters, escaped) and must parse to the
 * same transcript. pub_mp_content_type() must accept "multipart/form-data;
 * boundary=<b>" for every boundary pub_mp_new() accepts, and give it back.
 */
#include "fuzz_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/mem.h"
#include "multipart.h"

typedef struct part {
    char name[PUB_MP_MAX_NAME + 1];
    int has_name, form_data, has_filename, has_type;
    char filename[PUB_MP_MAX_NAME + 1];
    size_t filename_len;
    char type[PUB_MP_MAX_TYPE + 1];
} part;

typedef struct tr {
    herald_buf t; /* transcript */
    int in_part;  /* between begin and end */
    int bad;      /* content outside a part, or an empty run */
    part *parts;  /* for re-encoding */
    size_t nparts;
    herald_buf *content; /* per part */
} tr;

static void
put_field(herald_buf *b, const char *s, size_t n)
{
    herald_buf_printf(b, "%zu:", n);
    herald_buf_append(b, s, n);
}

static int
on_begin(void *arg, const pub_mp_part *p)
{
    tr *t = arg;
    herald_buf_puts(&t->t, "B");
    put_field(&t->t, p->name, strlen(p->name));
    herald_buf_printf(&t->t, "%d%d", p->has_name, p->form_data);
    if (p->filename)
        put_field(&t->t, p->filename, p->filename_len);
    else
        herald_buf_puts(&t->t, "-");
    if (p->content_type)
        put_field(&t->t, p->content_type, strlen(p->content_type));
    else
        herald_buf_puts(&t->t, "-");
    t->in_part = 1;
    t->parts = herald_mem_realloc(t->parts, (t->nparts + 1) * sizeof(*t->parts));
    t->content = herald_mem_realloc(t->content, (t->nparts + 1) * sizeof(*t->content));
    part *q = &t->parts[t->nparts];
    herald_buf_init(&t->content[t->nparts]);
    t->nparts++;
    memset(q, 0, sizeof(*q));
    snprintf(q->name, sizeof(q->name), "%s", p->name);
    q->has_name = p->has_name;
    q->form_data = p->form_data;
    q->has_filename = p->filename != NULL;
    if (p->filename) {
        memcpy(q->filename, p->filename, p->filename_len);
        q->filename_len = p->filename_len;
    }
    q->has_type = p->content_type != NULL;
    if (p->content_type)
        snprintf(q->type, sizeof(q->type), "%s", p->content_type);
    return 0;
}

static int
on_data(void *arg, const char *d, size_t n)
{
    tr *t = arg;
    if (!t->in_part || n == 0)
        t->bad = 1;
    else
        herald_buf_append(&t->content[t->nparts - 1], d, n);
    return 0;
}

static int
on_end(void *arg)
{
    tr *t = arg;
    herald_buf *c = &t->content[t->nparts - 1];
    put_field(&t->t, c->data ? c->data : "", c->len);
    herald_buf_puts(&t->t, "E");
    t->in_part = 0;
    return 0;
}

static const pub_mp_callbacks cbs = {on_begin, on_data, on_end};

static void
tr_free(tr *t)
{
    herald_buf_free(&t->t);
    for (size_t i = 0; i < t->nparts; i++)
        herald_buf_free(&t->content[i]);
    free(t->content);
    free(t->parts);
    memset(t, 0, sizeof(*t));
}

/* mode 0: whole; 1: byte by byte; 2: pieces sized by 'seed' bytes. */
static enum pub_mp_status
parse(tr *t, const char *boundary, const uint8_t *d, size_t n, int mode, const uint8_t *seed,
      size_t seedlen)
{
    memset(t, 0, sizeof(*t));
    pub_mp *m = pub_mp_new(boundary, &cbs, t);
    if (!m)
        return PUB_MP_BAD;
    enum pub_mp_status s = PUB_MP_OK;
    size_t i = 0, k = 0;
    while (i < n && s == PUB_MP_OK) {
        size_t step = mode == 0   ? n
                      : mode == 1 ? 1
                                  : (size_t)(seedlen ? seed[k++ % seedlen] : 1) + 1;
        if (step > n - i)
            step = n - i;
        s = pub_mp_feed(m, (const char *)d + i, step);
        i += step;
    }
    if (s == PUB_MP_OK)
        s = pub_mp_finish(m);
    pub_mp_free(m);
    return s;
}

static void
quoted(herald_buf *b, const char *s, size_t n)
{
    herald_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            herald_buf_putc(b, '\\');
        herald_buf_putc(b, s[i]);
    }
    herald_buf_putc(b, '"');
}

static void
encode(herald_buf *b, const tr *t, const char *boundary)
{
    for (size_t i = 0; i < t->nparts; i++) {
        const part *p = &t->parts[i];
        herald_buf_printf(b, "--%s\r\n", boundary);
        if (p->form_data || p->has_name || p->has_filename) {
            herald_buf_puts(b, "Content-Disposition: ");
            herald_buf_puts(b, p->form_data ? "form-data" : "x-other");
            if (p->has_name) {
                herald_buf_puts(b, "; name=");
                quoted(b, p->name, strlen(p->name));
            }
            if (p->has_filename) {
                herald_buf_puts(b, "; filename=");
                quoted(b, p->filename, p->filename_len);
            }
            herald_buf_puts(b, "\r\n");
        }
        if (p->has_type)
            herald_buf_printf(b, "Content-Type: %s\r\n", p->type);
        herald_buf_puts(b, "\r\n");
        if (t->content[i].len)
            herald_buf_append(b, t->content[i].data, t->content[i].len);
        herald_buf_puts(b, "\r\n");
    }
    herald_buf_printf(b, "--%s--\r\n", boundary);
}

const char *
herald_fuzz_check_multipart(const uint8_t *data, size_t size)
{
    char boundary[PUB_MP_MAX_BOUNDARY + 2] = "XyZ";
    if (size >= 2 && data[0] == 'B' && data[1] == ':') {
        const uint8_t *nl = memchr(data, '\n', size);
        if (!nl || (size_t)(nl - data - 2) > PUB_MP_MAX_BOUNDARY)
            return NULL;
        size_t bl = (size_t)(nl - data - 2);
        memcpy(boundary, data + 2, bl);
        boundary[bl] = '\0';
        size -= (size_t)(nl + 1 - data);
        data = nl + 1;
        if (strlen(boundary) != bl)
            return NULL;
    }
    const char *why = NULL;
    tr a, b, c, d;
    memset(&d, 0, sizeof(d));
    enum pub_mp_status sa = parse(&a, boundary, data, size, 0, NULL, 0);
    enum pub_mp_status sb = parse(&b, boundary, data, size, 1, NULL, 0);
    enum pub_mp_status sc = parse(&c, boundary, data, size, 2, data, size < 64 ? size : 64);
    if (sa != sb || sa != sc)
        why = "multipart: the verdict depends on how the body is split";
    else if (a.t.len != b.t.len || a.t.len != c.t.len ||
             (a.t.len &&
              (memcmp(a.t.data, b.t.data, a.t.len) || memcmp(a.t.data, c.t.data, a.t.len))))
        why = "multipart: the parts depend on how the body is split";
    else if (a.bad || b.bad || c.bad)
        why = "multipart: content outside a part, or an empty content run";
    if (!why && sa == PUB_MP_OK) {
        herald_buf e = HERALD_BUF_INIT;
        encode(&e, &a, boundary);
        enum pub_mp_status sd = parse(&d, boundary, (const uint8_t *)e.data, e.len, 0, NULL, 0);
        if (sd != PUB_MP_OK)
            why = "multipart: the re-encoded parts do not parse";
        else if (d.t.len != a.t.len || (a.t.len && memcmp(d.t.data, a.t.data, a.t.len) != 0))
            why = "multipart: the re-encoded parts parse differently";
        herald_buf_free(&e);
    }
    if (!why) {
        pub_mp *m = pub_mp_new(boundary, &cbs, &d);
        if (m) {
            char ct[200], out[PUB_MP_MAX_BOUNDARY + 2];
            herald_buf q = HERALD_BUF_INIT;
            quoted(&q, boundary, strlen(boundary));
            snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", herald_buf_cstr(&q));
            herald_buf_free(&q);
            int valid = 1;
            for (const char *p = boundary; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z') || strchr("'()+_,-./:=? ", *p)))
                    valid = 0;
            if (boundary[strlen(boundary) - 1] == ' ')
                valid = 0;
            int rc = pub_mp_content_type(ct, out, sizeof(out));
            if (valid && (rc != 0 || strcmp(out, boundary) != 0))
                why = "multipart: a valid boundary is refused in Content-Type";
            if (!valid && rc == 0)
                why = "multipart: an invalid boundary is accepted in Content-Type";
            pub_mp_free(m);
        }
    }
    tr_free(&a);
    tr_free(&b);
    tr_free(&c);
    tr_free(&d);
    return why;
}
