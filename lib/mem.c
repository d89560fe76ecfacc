/*
 * mem -- see include/herald/mem.h. Allocation failure aborts the process with a message:
 * services cannot continue meaningfully without memory.
 */
#include "herald/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(size_t n)
{
    fprintf(stderr, "herald: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
herald_mem_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *
herald_mem_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *
herald_mem_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *
herald_mem_strdup(const char *s)
{
    return herald_mem_strndup(s, strlen(s));
}

char *
herald_mem_strndup(const char *s, size_t n)
{
    char *p = herald_mem_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
herald_buf_init(herald_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
herald_buf_free(herald_buf *b)
{
    if (!b)
        return;
    free(b->data);
    herald_buf_init(b);
}

void
herald_buf_reset(herald_buf *b)
{
    b->len = 0;
}

void
herald_buf_reserve(herald_buf *b, size_t n)
{
    /* +1 keeps room for the NUL that herald_buf_cstr() writes. */
    if (n > SIZE_MAX - b->len - 1)
        oom(SIZE_MAX);
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = herald_mem_realloc(b->data, cap);
    b->cap = cap;
}

void
herald_buf_append(herald_buf *b, const void *p, size_t n)
{
    herald_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void
herald_buf_puts(herald_buf *b, const char *s)
{
    herald_buf_append(b, s, strlen(s));
}

void
herald_buf_putc(herald_buf *b, char c)
{
    herald_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void
herald_buf_vprintf(herald_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    herald_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void
herald_buf_printf(herald_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    herald_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void
herald_buf_put_i64(herald_buf *b, long long v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    herald_buf_append(b, tmp + i, sizeof(tmp) - (size_t)i);
}

char *
herald_buf_cstr(herald_buf *b)
{
    herald_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return b->data;
}

char *
herald_buf_steal(herald_buf *b, size_t *len)
{
    char *p = herald_buf_cstr(b);
    if (len)
        *len = b->len;
    herald_buf_init(b);
    return p;
}

void
herald_buf_adopt(herald_buf *b, char *p, size_t size)
{
    free(b->data);
    b->data = p;
    b->len = 0;
    b->cap = size;
}
