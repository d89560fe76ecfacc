/*
 * test_decode -- decoders the unit tests use to check what the read server compresses
 * (shared so that every test decodes with the same, strict, rules).
 */
#ifndef HERALD_TEST_DECODE_H
#define HERALD_TEST_DECODE_H

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "herald/mem.h"

/* Appends the decoding of gzip 'p' to 'dst'. Returns 0, or -1 unless 'p' is exactly one
 * complete gzip member. */
static inline int
gunzip(herald_buf *dst, const char *p, size_t n)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    int rc;
    do {
        herald_buf_reserve(dst, 65536);
        zs.next_out = (Bytef *)dst->data + dst->len;
        zs.avail_out = 65536;
        rc = inflate(&zs, Z_NO_FLUSH);
        dst->len = (size_t)((char *)zs.next_out - dst->data);
    } while (rc == Z_OK);
    inflateEnd(&zs);
    return rc == Z_STREAM_END && zs.avail_in == 0 ? 0 : -1;
}

#endif
