/*
 * mem -- allocation for services, and a growable byte buffer.
 *
 * Services abort on out-of-memory through one wrapper (herald_mem_*): a read server that
 * cannot allocate cannot do anything useful, and checking every small allocation hides
 * the real logic. Parsers of untrusted input use these too but return errors for bad
 * input; size limits are enforced before allocating, so input cannot cause the abort.
 *
 * herald_buf is the one growable byte buffer used everywhere (JSON output, HTTP
 * responses, Redis blobs). It always keeps one spare byte so herald_buf_cstr() can
 * NUL-terminate without reallocating the caller's view.
 */
#ifndef HERALD_MEM_H
#define HERALD_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *herald_mem_alloc(size_t n);
void *herald_mem_calloc(size_t nmemb, size_t size);
/* Like realloc: the old pointer is invalid afterwards. */
void *herald_mem_realloc(void *p, size_t n);
char *herald_mem_strdup(const char *s);
char *herald_mem_strndup(const char *s, size_t n);

typedef struct herald_buf {
    char *data;
    size_t len;
    size_t cap;
} herald_buf;

#define HERALD_BUF_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void herald_buf_init(herald_buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. NULL-safe. */
void herald_buf_free(herald_buf *b);
/* Empties the buffer, keeping its storage (per-request reuse without malloc). */
void herald_buf_reset(herald_buf *b);
/* Makes room for 'n' more bytes; 'data' may move (old pointers into it are invalid). */
void herald_buf_reserve(herald_buf *b, size_t n);
void herald_buf_append(herald_buf *b, const void *p, size_t n);
void herald_buf_puts(herald_buf *b, const char *s);
void herald_buf_putc(herald_buf *b, char c);
void herald_buf_printf(herald_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void herald_buf_vprintf(herald_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends a signed decimal integer (no printf on hot paths). */
void herald_buf_put_i64(herald_buf *b, long long v);
/* NUL-terminates (not counted in len) and returns data; never NULL. */
char *herald_buf_cstr(herald_buf *b);
/* Hands the storage to the caller (NUL-terminated, free() it); the buffer is empty. */
char *herald_buf_steal(herald_buf *b, size_t *len);
/* The opposite: takes 'p' (from malloc, 'size' bytes) as the buffer's storage, empty;
 * the previous storage is freed. */
void herald_buf_adopt(herald_buf *b, char *p, size_t size);

#endif
