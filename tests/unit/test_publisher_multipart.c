/*
 * test_publisher_multipart -- the streaming multipart/form-data parser (multipart.h),
 * table-driven: each body is fed whole, byte by byte and in pieces of 7, and must give
 * the same transcript of parts (name, filename, type, content) and the same verdict.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "herald/mem.h"
#include "multipart.h"

/* Transcript: "[name|filename|type]content" per part; NULL filename/type as '-'. */
typedef struct tr {
    herald_buf b;
    int stop_at_data; /* stop when this much content was seen (0: never) */
    size_t seen;
} tr;

static int
on_begin(void *arg, const pub_mp_part *p)
{
    tr *t = arg;
    herald_buf_printf(&t->b, "[%s|", p->has_name ? p->name : "-");
    if (p->filename)
        herald_buf_append(&t->b, p->filename, p->filename_len);
    else
        herald_buf_putc(&t->b, '-');
    herald_buf_printf(&t->b, "|%s%s]", p->content_type ? p->content_type : "-",
                      p->form_data ? "" : "|notform");
    return 0;
}

static int
on_data(void *arg, const char *d, size_t n)
{
    tr *t = arg;
    herald_buf_append(&t->b, d, n);
    t->seen += n;
    return t->stop_at_data && t->seen >= (size_t)t->stop_at_data;
}

static int
on_end(void *arg)
{
    tr *t = arg;
    herald_buf_putc(&t->b, ';');
    return 0;
}

static const pub_mp_callbacks cbs = {on_begin, on_data, on_end};

/* Parses 'body' in pieces of 'step' (0: whole); returns the status, transcript in 'out'. */
static enum pub_mp_status
run(const char *boundary, const char *body, size_t len, size_t step, herald_buf *out)
{
    tr t;
    memset(&t, 0, sizeof(t));
    pub_mp *m = pub_mp_new(boundary, &cbs, &t);
    cr_assert(m);
    enum pub_mp_status s = PUB_MP_OK;
    if (step == 0)
        step = len ? len : 1;
    for (size_t i = 0; i < len && s == PUB_MP_OK; i += step)
        s = pub_mp_feed(m, body + i, len - i < step ? len - i : step);
    if (s == PUB_MP_OK)
        s = pub_mp_finish(m);
    pub_mp_free(m);
    *out = t.b;
    return s;
}

struct mp_case {
    const char *what;
    const char *body;
    enum pub_mp_status status;
    const char *transcript; /* NULL: not checked (errors) */
};

#define B "--XyZ\r\n"
#define E "\r\n--XyZ--\r\n"
#define CD "Content-Disposition: form-data; "

static const struct mp_case cases[] = {
    {"one file",
     B CD "name=\"attachment\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
          "hello" E,
     PUB_MP_OK, "[attachment|a.txt|text/plain]hello;"},
    {"file and data",
     B CD "name=\"data\"\r\n\r\n{\"a\":1}\r\n" B CD
          "name=\"attachment\"; filename=\"x.bin\"\r\n\r\n\r\n--Xy\r\n--XyZa" E,
     PUB_MP_BAD, NULL},
    {"content with near-delimiters",
     B CD "name=\"f\"; filename=\"x\"\r\n\r\n\r\n--Xy\r\n-\r\n--X\r\r\n" E, PUB_MP_OK,
     "[f|x|-]\r\n--Xy\r\n-\r\n--X\r\r\n;"},
    {"empty content", B CD "name=\"a\"\r\n\r\n" E, PUB_MP_OK, "[a|-|-];"},
    {"preamble and epilogue", "ignored\r\n" B CD "name=\"a\"\r\n\r\nv" E "trailing junk", PUB_MP_OK,
     "[a|-|-]v;"},
    {"padding after boundary", "--XyZ \t\r\n" CD "name=a\r\n\r\nv" E, PUB_MP_OK, "[a|-|-]v;"},
    {"unquoted and escaped params", B CD "name=a; filename=\"q\\\"uote\"\r\n\r\nv" E, PUB_MP_OK,
     "[a|q\"uote|-]v;"},
    {"filename* wins",
     B CD "name=a; filename=\"plain\"; filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n\r\nv" E, PUB_MP_OK,
     "[a|\xc3\xa9t\xc3\xa9.txt|-]v;"},
    {"empty filename", B CD "name=a; filename=\"\"\r\n\r\nv" E, PUB_MP_OK, "[a||-]v;"},
    {"no disposition", B "Content-Type: x/y\r\n\r\nv" E, PUB_MP_OK, "[-|-|x/y|notform]v;"},
    {"not form-data", B "Content-Disposition: attachment; name=a\r\n\r\nv" E, PUB_MP_OK,
     "[a|-|-|notform]v;"},
    {"two parts", B CD "name=a\r\n\r\n1\r\n" B CD "name=b\r\n\r\n2" E, PUB_MP_OK,
     "[a|-|-]1;[b|-|-]2;"},
    {"truncated in content", B CD "name=a\r\n\r\nabc", PUB_MP_TRUNCATED, NULL},
    {"truncated in head", B CD "name=a\r\n", PUB_MP_TRUNCATED, NULL},
    {"no close delimiter", B CD "name=a\r\n\r\nabc\r\n--XyZ\r\n", PUB_MP_TRUNCATED, NULL},
    {"empty body", "", PUB_MP_TRUNCATED, NULL},
    {"bare LF in head", B CD "name=a\n\r\nv" E, PUB_MP_BAD, NULL},
    {"folded header", B CD "name=a\r\n continued\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"header without colon", B "nocolon\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"unterminated quote", B CD "name=\"a\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"duplicate name", B CD "name=a; name=b\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"duplicate disposition", B CD "name=a\r\n" CD "name=b\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"NUL in filename", B CD "name=a; filename*=UTF-8''a%00b\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"bad percent", B CD "name=a; filename*=UTF-8''a%zz\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"short percent", B CD "name=a; filename*=UTF-8''a%4\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"garbage after boundary", "--XyZx\r\n" CD "name=a\r\n\r\nv" E, PUB_MP_BAD, NULL},
    {"param without value", B CD "name\r\n\r\nv" E, PUB_MP_BAD, NULL},
};

Test(multipart, table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mp_case *c = &cases[i];
        herald_buf whole;
        enum pub_mp_status s0 = run("XyZ", c->body, strlen(c->body), 0, &whole);
        cr_expect_eq(s0, c->status, "%s: status %d, expected %d", c->what, s0, c->status);
        if (c->transcript)
            cr_expect(whole.len == strlen(c->transcript) &&
                          memcmp(whole.data, c->transcript, whole.len) == 0,
                      "%s: transcript %.*s", c->what, (int)whole.len, whole.data);
        for (size_t step = 1; step <= 7; step += 6) {
            herald_buf t;
            enum pub_mp_status s = run("XyZ", c->body, strlen(c->body), step, &t);
            cr_expect_eq(s, s0, "%s: step %zu status %d, whole %d", c->what, step, s, s0);
            if (s == PUB_MP_OK)
                cr_expect(t.len == whole.len && memcmp(t.data, whole.data, t.len) == 0,
                          "%s: step %zu transcript differs", c->what, step);
            herald_buf_free(&t);
        }
        herald_buf_free(&whole);
    }
}

/* Content holding every prefix of the delimiter, with a self-overlapping boundary. */
Test(multipart, overlapping_boundary)
{
    const char *body = "--aab\r\nContent-Disposition: form-data; name=f\r\n\r\n"
                       "\r\n--aa\r\n--a\r\n--aaa\r\n--aaab\r\n--ab"
                       "\r\n--aab--";
    herald_buf t;
    for (size_t step = 0; step < 5; step++) {
        cr_assert_eq(run("aab", body, strlen(body), step, &t), PUB_MP_OK);
        const char *want = "[f|-|-]\r\n--aa\r\n--a\r\n--aaa\r\n--aaab\r\n--ab;";
        cr_expect(t.len == strlen(want) && memcmp(t.data, want, t.len) == 0, "step %zu: %.*s", step,
                  (int)t.len, t.data);
        herald_buf_free(&t);
    }
}

Test(multipart, limits)
{
    herald_buf b = HERALD_BUF_INIT, t;
    herald_buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n");
    for (int i = 0; i < PUB_MP_MAX_HEADERS; i++)
        herald_buf_puts(&b, "X-A: b\r\n");
    herald_buf_puts(&b, "\r\nv\r\n--XyZ--");
    cr_expect_eq(run("XyZ", b.data, b.len, 0, &t), PUB_MP_LIMIT, "too many header lines");
    herald_buf_free(&t);
    herald_buf_reset(&b);
    herald_buf_puts(&b, "--XyZ\r\nX-Long: ");
    for (int i = 0; i < PUB_MP_MAX_HEAD; i++)
        herald_buf_putc(&b, 'x');
    herald_buf_puts(&b, "\r\n\r\nv\r\n--XyZ--");
    cr_expect_eq(run("XyZ", b.data, b.len, 3, &t), PUB_MP_LIMIT, "header section too long");
    herald_buf_free(&t);
    herald_buf_reset(&b);
    herald_buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=a; filename=\"");
    for (int i = 0; i <= PUB_MP_MAX_NAME; i++)
        herald_buf_putc(&b, 'x');
    herald_buf_puts(&b, "\"\r\n\r\nv\r\n--XyZ--");
    cr_expect_eq(run("XyZ", b.data, b.len, 0, &t), PUB_MP_LIMIT, "filename too long");
    herald_buf_free(&t);
    herald_buf_free(&b);
}

Test(multipart, callback_stops)
{
    const char *body =
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n0123456789\r\n--XyZ--";
    tr t;
    memset(&t, 0, sizeof(t));
    t.stop_at_data = 4;
    pub_mp *m = pub_mp_new("XyZ", &cbs, &t);
    enum pub_mp_status s = PUB_MP_OK;
    for (size_t i = 0; i < strlen(body) && s == PUB_MP_OK; i += 2)
        s = pub_mp_feed(m, body + i, 2);
    cr_expect_eq(s, PUB_MP_STOPPED);
    cr_expect_eq(pub_mp_feed(m, "x", 1), PUB_MP_STOPPED, "errors are sticky");
    cr_expect_eq(pub_mp_finish(m), PUB_MP_STOPPED);
    pub_mp_free(m);
    herald_buf_free(&t.b);
    cr_expect_null(pub_mp_new("", &cbs, &t));
}

struct ct_case {
    const char *ct;
    int rc;
    const char *boundary;
};

Test(multipart, content_type)
{
    static const struct ct_case cs[] = {
        {"multipart/form-data; boundary=abc", 0, "abc"},
        {"Multipart/Form-Data ;charset=utf-8; BOUNDARY=\"a b:c\"", 0, "a b:c"},
        {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", 0,
         "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
        {"application/json", 1, ""},
        {NULL, 1, ""},
        {"multipart/mixed; boundary=a", 1, ""},
        {"multipart/form-data", 2, ""},
        {"multipart/form-data; boundary=", 2, ""},
        {"multipart/form-data; boundary=\"\"", 2, ""},
        {"multipart/form-data; boundary=\"abc ", 2, NULL},
        {"multipart/form-data; boundary=a{b", 2, "a{b"},
        {"multipart/form-data; boundary=\"ends with space \"", 2, NULL},
        {"multipart/form-data; boundary="
         "12345678901234567890123456789012345678901234567890123456789012345678901",
         2, NULL},
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        char b[PUB_MP_MAX_BOUNDARY + 2];
        int rc = pub_mp_content_type(cs[i].ct, b, sizeof(b));
        cr_expect_eq(rc, cs[i].rc, "%s: %d", cs[i].ct ? cs[i].ct : "(null)", rc);
        if (cs[i].boundary)
            cr_expect_str_eq(b, cs[i].boundary, "%s", cs[i].ct ? cs[i].ct : "(null)");
    }
}
