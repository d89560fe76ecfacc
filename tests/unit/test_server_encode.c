/*
 * test_server_encode -- the read server's precompressed bodies (server/encode.c) and its
 * choice of content coding (http_accept_pick in lib/http_parse.c):
 *  - gzip and zstd encodings decode back to the identity bytes, at every size class;
 *  - small bodies are compressed at the best levels at once, large ones at the fast
 *    levels and then upgraded by the background thread, which skips a body nobody
 *    references any more, feeds its codecs in slices and gives up a slow pass when
 *    stopped; a body of 4 MB or more waits a while before its first compression;
 *  - an encoding that is not smaller than the identity body is not kept;
 *  - a large body freed while versions keep coming is handed, once, to the next build
 *    of a similar size, and goes back to the system when the burst ends;
 *  - a borrowed body (slices of another's memory, as the cached _since deltas are)
 *    compresses to the bytes of its slices joined, keeps the memory it slices alive, and
 *    is skipped with the body it borrows once both are superseded;
 *  - Accept-Encoding with q-values, "*", identity refusals and malformed input, table
 *    driven.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "encode.h"
#include "herald/clock.h"
#include "herald/http_parse.h"
#include "test_decode.h"

static int
unzstd(herald_buf *out, const char *p, size_t n)
{
    unsigned long long size = ZSTD_getFrameContentSize(p, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
        return -1;
    herald_buf_reserve(out, (size_t)size + 1);
    size_t r = ZSTD_decompress(out->data + out->len, (size_t)size + 1, p, n);
    if (ZSTD_isError(r) || r != size)
        return -1;
    out->len += r;
    return 0;
}

/* JSON-like text of about 'n' bytes: compressible, as changesets are. */
static char *
sample(size_t n)
{
    char *p = malloc(n + 1);
    size_t i = 0;
    unsigned x = 12345;
    while (i < n) {
        x = x * 1103515245u + 12345u;
        int k = snprintf(p + i, n + 1 - i, "{\"id\":\"rec-%06u\",\"last_modified\":%u},",
                         x % 1000000u, (x >> 8) % 100000u);
        if (k <= 0)
            break;
        i += (size_t)k;
    }
    p[n] = '\0';
    return p;
}

static void
check_decodes(const payload *b)
{
    const encoded *gz = payload_get(b, ENC_GZIP), *zs = payload_get(b, ENC_ZSTD);
    cr_assert_not_null(gz);
    cr_assert_not_null(zs);
    cr_assert_lt(gz->len, b->len);
    cr_assert_lt(zs->len, b->len);
    herald_buf d = HERALD_BUF_INIT;
    cr_assert_eq(gunzip(&d, gz->data, gz->len), 0);
    cr_assert_eq(d.len, b->len);
    cr_assert_eq(memcmp(d.data, b->data, d.len), 0);
    herald_buf_reset(&d);
    cr_assert_eq(unzstd(&d, zs->data, zs->len), 0);
    cr_assert_eq(d.len, b->len);
    cr_assert_eq(memcmp(d.data, b->data, d.len), 0);
    herald_buf_free(&d);
}

Test(encode, small_bodies_get_the_best_levels_at_once)
{
    payload *b = payload_new(sample(BODY_SMALL), BODY_SMALL, 1);
    check_decodes(b);
    cr_assert_eq(payload_get(b, ENC_GZIP)->level, BODY_BEST_GZIP);
    cr_assert_eq(payload_get(b, ENC_ZSTD)->level, BODY_BEST_ZSTD);
    payload_release(b);
}

Test(encode, large_bodies_fast_first_without_the_upgrader)
{
    size_t n = 300 * 1024;
    payload *b = payload_new(sample(n), n, 1);
    check_decodes(b);
    cr_assert_eq(payload_get(b, ENC_GZIP)->level, BODY_FAST_GZIP);
    cr_assert_eq(payload_get(b, ENC_ZSTD)->level, BODY_FAST_ZSTD);
    payload_release(b);
}

Test(encode, upgrader_recompresses_at_the_best_levels)
{
    size_t n = 200 * 1024;
    payload *fast = payload_new(sample(n), n, 1); /* no upgrader: fast levels at once */
    cr_assert_eq(payload_get(fast, ENC_ZSTD)->level, BODY_FAST_ZSTD);
    cr_assert_eq(encode_start(), 0);
    payload *b = payload_new(sample(n), n, 1);
    encode_drain();
    cr_assert_eq(payload_get(b, ENC_ZSTD)->level, BODY_BEST_ZSTD);
    cr_assert_leq(payload_get(b, ENC_ZSTD)->len, payload_get(fast, ENC_ZSTD)->len);
    payload_release(fast);
    check_decodes(b);
    unsigned long long up, skip, pending;
    encode_stats(&up, &skip, &pending);
    cr_assert_eq(pending, 0);
    cr_assert_eq(up, 1);
    payload_release(b);
    encode_stop();
}

Test(encode, new_bodies_are_served_at_once_and_compressed_in_the_background)
{
    /* With the upgrader running, a new body never waits for compression: it is
     * identity-only when payload_new() returns, and compressed after the drain. */
    cr_assert_eq(encode_start(), 0);
    size_t n = 300 * 1024;
    payload *b = payload_new(sample(n), n, 1);
    unsigned long long up, skip, pending;
    encode_stats(&up, &skip, &pending);
    cr_assert_geq(pending + up, 1);
    encode_drain();
    cr_assert_not_null(payload_get(b, ENC_GZIP));
    cr_assert_not_null(payload_get(b, ENC_ZSTD));
    check_decodes(b);
    payload_release(b);
    encode_stop();
}

Test(encode, upgrader_skips_superseded_bodies)
{
    cr_assert_eq(encode_start(), 0);
    size_t n = 400 * 1024;
    unsigned long long up0, skip0, pending;
    encode_stats(&up0, &skip0, &pending);
    /* Many versions in a burst, each dropped (superseded) before the upgrader reaches
     * it, then the newest kept: only the newest is compressed. The upgrader is held
     * while they queue, so that "before it reaches it" does not depend on how fast this
     * thread runs against the upgrader's (a race that ASan under load lost: 4 of 8). */
    encode_hold(1);
    for (int i = 0; i < 8; i++)
        payload_release(payload_new(sample(n), n, 1));
    payload *kept = payload_new(sample(n), n, 1);
    encode_drain(); /* ends the hold */
    unsigned long long up, skip;
    encode_stats(&up, &skip, &pending);
    cr_assert_eq(pending, 0);
    cr_assert_eq(skip - skip0, 8, "skipped %llu of 8", skip - skip0);
    cr_assert_eq(up - up0, 1);
    cr_assert_not_null(payload_get(kept, ENC_GZIP));
    cr_assert_not_null(payload_get(kept, ENC_ZSTD));
    check_decodes(kept);
    payload_release(kept);
    encode_stop();
}

/* Polls (no encode_drain(): a drain skips the large bodies' wait) until 'b' is ready,
 * for at most a minute. */
static void
wait_ready(const payload *b)
{
    int64_t deadline = herald_clock_mono_ms() + 60000;
    while (!payload_ready(b) && herald_clock_mono_ms() < deadline)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
}

Test(encode, a_large_body_waits_before_its_first_compression)
{
    /* A body of 4 MB or more (LARGE_BODY) is first compressed only once it has been
     * queued for 250 ms (LARGE_DELAY_MS): a version superseded sooner then costs no CPU.
     * The upgrader otherwise takes the newest body first, so with a small body queued
     * before a large one (both while held, so that the order does not depend on which
     * thread runs first), the small one is ready while the large one is not; without
     * the wait the large one would be compressed first. That holds only within the
     * wait, which compressing 64 KB leaves by far; past it (a stalled machine) the test
     * skips that check rather than fail. The wait ends by itself: no drain. */
    cr_assert_eq(encode_start(), 0);
    size_t small = 64 * 1024, large = 5u << 20;
    encode_hold(1);
    payload *s = payload_new(sample(small), small, 1);
    payload *l = payload_new(sample(large), large, 1);
    int64_t t0 = herald_clock_mono_ms();
    encode_hold(0);
    wait_ready(s);
    cr_assert(payload_ready(s));
    int large_ready = payload_ready(l);
    int64_t waited = herald_clock_mono_ms() - t0;
    if (waited < 200)
        cr_assert_not(large_ready, "the large body was compressed before the small one");
    else
        cr_log_warn("small body ready only after %lld ms: order not checked", (long long)waited);
    wait_ready(l);
    cr_assert(payload_ready(l), "the large body was never compressed");
    check_decodes(s);
    payload_release(s);
    payload_release(l);
    encode_stop();
}

Test(encode, upgrader_compresses_bodies_larger_than_one_slice)
{
    /* The upgrader feeds its codecs 1 MB at a time: the result must be one valid
     * frame/stream of the whole body, with the content size in the zstd header. */
    cr_assert_eq(encode_start(), 0);
    size_t n = 2 * 1024 * 1024 + 12345;
    payload *b = payload_new(sample(n), n, 1);
    encode_drain();
    cr_assert_eq(payload_get(b, ENC_GZIP)->level, BODY_BEST_GZIP);
    cr_assert_eq(payload_get(b, ENC_ZSTD)->level, BODY_BEST_ZSTD);
    check_decodes(b);
    payload_release(b);
    encode_stop();
}

Test(encode, stop_abandons_a_slow_upgrade)
{
    /* A 16 MB body takes the upgrader many seconds at zstd 19; encode_stop() (server
     * shutdown) must not wait for that: the pass stops at its next slice and the body
     * keeps its fast encodings. */
    cr_assert_eq(encode_start(), 0);
    size_t n = 16 * 1024 * 1024;
    payload *b = payload_new(sample(n), n, 1);
    unsigned long long up, skip, pending;
    do
        encode_stats(&up, &skip, &pending);
    while (pending == 0); /* queued, then busy: 'pending' counts both */
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    double t0 = ((double)herald_clock_mono_ns() / 1e9);
    encode_stop();
    double took = ((double)herald_clock_mono_ns() / 1e9) - t0;
    cr_assert_lt(took, 3.0, "encode_stop took %.2f s", took);
    /* Identity, or the fast encodings when that pass finished before the stop. */
    const encoded *zs = payload_get(b, ENC_ZSTD);
    cr_assert(!zs || zs->level == BODY_FAST_ZSTD);
    if (zs)
        check_decodes(b);
    payload_release(b);
}

Test(encode, incompressible_or_empty_bodies_stay_identity)
{
    char *p = malloc(64);
    for (int i = 0; i < 64; i++)
        p[i] = (char)(i * 97 + 13);
    payload *b = payload_new(p, 64, 1);
    cr_assert_null(payload_get(b, ENC_GZIP));
    cr_assert_null(payload_get(b, ENC_ZSTD));
    payload_release(b);
    b = payload_new(strdup(""), 0, 1);
    cr_assert_null(payload_get(b, ENC_GZIP));
    payload_release(b);
    b = payload_new(sample(50000), 50000, 0); /* compression off */
    cr_assert_null(payload_get(b, ENC_ZSTD));
    payload_release(b);
    payload_release(NULL);
}

Test(encode, codecs_round_trip_at_every_level)
{
    char *p = sample(70000);
    for (int level = 1; level <= 9; level += 4) {
        herald_buf e = HERALD_BUF_INIT, d = HERALD_BUF_INIT;
        cr_assert_eq(encode_gzip(&e, p, 70000, level), 0);
        cr_assert_eq(gunzip(&d, e.data, e.len), 0);
        cr_assert_eq(d.len, 70000);
        cr_assert_eq(memcmp(d.data, p, 70000), 0);
        herald_buf_reset(&e);
        herald_buf_reset(&d);
        cr_assert_eq(encode_zstd(&e, p, 70000, level * 2), 0);
        cr_assert_eq(unzstd(&d, e.data, e.len), 0);
        cr_assert_eq(memcmp(d.data, p, 70000), 0);
        herald_buf_free(&e);
        herald_buf_free(&d);
    }
    free(p);
}

/* ---- Accept-Encoding ------------------------------------------------------------ */

struct pick_case {
    const char *ae;
    unsigned avail;
    int want; /* HTTP_ENC_ZSTD, HTTP_ENC_GZIP or 0 */
};

#define BOTH (HTTP_ENC_GZIP | HTTP_ENC_ZSTD)
static struct pick_case pick_cases[] = {
    {"gzip", BOTH, HTTP_ENC_GZIP},
    {"zstd", BOTH, HTTP_ENC_ZSTD},
    {"gzip, deflate, br, zstd", BOTH, HTTP_ENC_ZSTD}, /* Firefox: tie -> smaller */
    {"gzip, deflate, br", BOTH, HTTP_ENC_GZIP},       /* Chrome without zstd */
    {"gzip;q=1.0, zstd;q=0.5", BOTH, HTTP_ENC_GZIP},
    {"gzip;q=0.5, zstd;q=0.9", BOTH, HTTP_ENC_ZSTD},
    {"gzip;q=0, zstd;q=0", BOTH, 0},
    {"zstd;q=0.000", BOTH, 0},
    {"zstd;q=0.001", BOTH, HTTP_ENC_ZSTD},
    {"ZSTD;Q=1", BOTH, HTTP_ENC_ZSTD},
    {"x-gzip", BOTH, HTTP_ENC_GZIP},
    {"*", BOTH, HTTP_ENC_ZSTD},
    {"*;q=0", BOTH, 0},
    {"gzip, *;q=0", BOTH, HTTP_ENC_GZIP},
    {"zstd;q=0, *", BOTH, HTTP_ENC_GZIP},
    {"identity", BOTH, 0},
    {"identity;q=1, gzip;q=0.5", BOTH, 0},
    {"identity;q=0.5, gzip;q=0.5", BOTH, HTTP_ENC_GZIP}, /* tie: compressed */
    {"identity;q=0", BOTH, 0},                           /* nothing else: identity anyway */
    {"br", BOTH, 0},
    {"", BOTH, 0},
    {"zstd", HTTP_ENC_GZIP, 0}, /* not available */
    {"zstd, gzip", HTTP_ENC_GZIP, HTTP_ENC_GZIP},
    {"gzip", 0, 0},
    {"gzip;q=2", BOTH, 0},       /* not a qvalue: not acceptable */
    {"gzip;q=abc", BOTH, 0},     /* malformed q: not acceptable */
    {"gzip;q=0.12345", BOTH, 0}, /* too many digits: malformed */
    {"gzip ; q=0.5 , zstd ; q=0.4", BOTH, HTTP_ENC_GZIP},
    {"gzip;level=1;q=0.3, zstd;q=0.2", BOTH, HTTP_ENC_GZIP},
    {",,, ,zstd", BOTH, HTTP_ENC_ZSTD},
    {"gzipx, zstdy", BOTH, 0},
};

ParameterizedTestParameters(accept, pick)
{
    static int idx[sizeof(pick_cases) / sizeof(pick_cases[0])];
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
        idx[i] = (int)i;
    return cr_make_param_array(int, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(int *i, accept, pick)
{
    const struct pick_case *c = &pick_cases[*i];
    http_slice ae = {c->ae, strlen(c->ae)};
    cr_assert_eq(http_accept_pick(ae, c->avail), c->want, "Accept-Encoding: %s -> %d, want %d",
                 c->ae, http_accept_pick(ae, c->avail), c->want);
}

Test(encode, a_hold_queues_bodies_until_released)
{
    /* A cold start holds the upgrader (sync.c): bodies are served in identity and stay
     * queued, however long the loading takes, then are compressed once released. */
    cr_assert_eq(encode_start(), 0);
    encode_hold(1);
    size_t n = 300 * 1024;
    payload *b = payload_new(sample(n), n, 1);
    /* Time for an upgrader that ignored the hold to compress it (no timing is asserted:
     * a late upgrader only makes this check weaker, never fail). */
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    unsigned long long up, skip, pending;
    encode_stats(&up, &skip, &pending);
    cr_assert_eq(pending, 1);
    cr_assert_eq(up, 0);
    cr_assert_null(payload_get(b, ENC_GZIP));
    cr_assert_null(payload_get(b, ENC_ZSTD));
    cr_assert_not(payload_ready(b));
    encode_hold(0);
    encode_drain();
    cr_assert_not_null(payload_get(b, ENC_GZIP));
    cr_assert_not_null(payload_get(b, ENC_ZSTD));
    check_decodes(b);
    payload_release(b);
    encode_stop();
}

/* ---- borrowed bodies (payload_new_parts) ------------------------------------------- */

/* Checks that 'b' (borrowed) decodes, in both codings, to the concatenation of its
 * parts, which must be 'want'. */
static void
check_parts_decode(const payload *b, const char *want, size_t want_len)
{
    cr_assert_null(b->data, "a borrowed body owns no identity copy");
    herald_buf cat = HERALD_BUF_INIT;
    for (size_t i = 0; i < b->nparts; i++)
        herald_buf_append(&cat, b->part[i].p, b->part[i].n);
    cr_assert_eq(cat.len, want_len);
    cr_assert_eq(b->len, want_len);
    cr_assert_eq(memcmp(cat.data, want, want_len), 0);
    const encoded *gz = payload_get(b, ENC_GZIP), *zs = payload_get(b, ENC_ZSTD);
    cr_assert_not_null(gz);
    cr_assert_not_null(zs);
    herald_buf d = HERALD_BUF_INIT;
    cr_assert_eq(gunzip(&d, gz->data, gz->len), 0);
    cr_assert(d.len == want_len && memcmp(d.data, want, want_len) == 0, "gzip of the parts");
    herald_buf_reset(&d);
    cr_assert_eq(unzstd(&d, zs->data, zs->len), 0);
    cr_assert(d.len == want_len && memcmp(d.data, want, want_len) == 0, "zstd of the parts");
    herald_buf_free(&d);
    herald_buf_free(&cat);
}

/* A body that borrows two slices of another (a head and a tail, as a cached _since
 * delta borrows its coll's listing) compresses to the bytes of their concatenation: on
 * the calling thread and on the upgrader (fed in slices that cross the parts'
 * boundary), at every size class. */
Test(encode, borrowed_bodies_compress_the_concatenation_of_their_parts)
{
    static const size_t sizes[] = {4000, BODY_SMALL + 1000, 300 * 1024, 900 * 1024};
    for (int up = 0; up < 2; up++) {
        if (up)
            cr_assert_eq(encode_start(), 0);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            size_t n = sizes[s];
            payload *keep = payload_new(sample(n), n, 0);
            /* head: the first 60%, tail: the last 1000 bytes (like {"changes":[ +
             * prefix, then the metadata tail). */
            size_t head = n * 6 / 10, tail = 1000;
            body_part parts[2] = {{keep->data, head}, {keep->data + n - tail, tail}};
            payload *b = payload_new_parts(keep, parts, 2, 1);
            cr_assert_eq(atomic_load(&keep->borrowers), 1);
            encode_drain();
            herald_buf want = HERALD_BUF_INIT;
            herald_buf_append(&want, keep->data, head);
            herald_buf_append(&want, keep->data + n - tail, tail);
            check_parts_decode(b, want.data, want.len);
            if (up) /* small: the best levels at once; larger: upgraded to them */
                cr_assert_eq(payload_get(b, ENC_ZSTD)->level, BODY_BEST_ZSTD, "size %zu", n);
            payload_release(b);
            cr_assert_eq(atomic_load(&keep->borrowers), 0);
            cr_assert_eq(atomic_load(&keep->refs), 1);
            payload_release(keep);
            herald_buf_free(&want);
        }
        if (up)
            encode_stop();
    }
}

/* The body a borrowed one slices stays alive as long as the borrower: its owner may
 * drop it first (a coll freed while the upgrader still holds a job for one of its
 * cached deltas). */
Test(encode, a_borrowed_body_keeps_the_memory_it_slices)
{
    cr_assert_eq(encode_start(), 0);
    encode_hold(1);
    size_t n = 200 * 1024;
    char *copy = sample(n);
    payload *keep = payload_new(sample(n), n, 0);
    body_part parts[2] = {{keep->data, 5000}, {keep->data + n - 700, 700}};
    payload *b = payload_new_parts(keep, parts, 2, 1);
    payload_release(keep); /* the owner is gone; 'b' still reads its bytes */
    encode_hold(0);
    encode_drain();
    herald_buf want = HERALD_BUF_INIT;
    herald_buf_append(&want, copy, 5000);
    herald_buf_append(&want, copy + n - 700, 700);
    check_parts_decode(b, want.data, want.len);
    payload_release(b); /* frees 'keep' too (ASan/valgrind would see a leak otherwise) */
    herald_buf_free(&want);
    free(copy);
    encode_stop();
}

/* A superseded version's bodies are skipped, borrowed ones and the body they borrow
 * alike: the borrowers' references to it do not make it look still served. And a body
 * kept only for its borrowers (its owner dropped it) is not compressed: nobody serves
 * it; its borrower still is. */
Test(encode, superseded_bodies_are_skipped_with_their_borrowers)
{
    cr_assert_eq(encode_start(), 0);
    size_t n = 300 * 1024;
    unsigned long long up0, skip0, pending, up, skip;
    encode_stats(&up0, &skip0, &pending);
    encode_hold(1);
    payload *keep = payload_new(sample(n), n, 1);
    body_part parts[2] = {{keep->data, n / 2}, {keep->data + n - 900, 900}};
    payload *b = payload_new_parts(keep, parts, 2, 1);
    payload_release(b);
    payload_release(keep); /* the version is gone: nothing to compress */
    encode_hold(0);
    encode_drain();
    encode_stats(&up, &skip, &pending);
    cr_assert_eq(up - up0, 0);
    cr_assert_eq(skip - skip0, 2);

    encode_hold(1);
    keep = payload_new(sample(n), n, 1);
    body_part p2[2] = {{keep->data, n / 2}, {keep->data + n - 900, 900}};
    b = payload_new_parts(keep, p2, 2, 1);
    payload_release(keep); /* only 'b' needs it now */
    encode_hold(0);
    encode_drain();
    encode_stats(&up0, &skip0, &pending);
    cr_assert_eq(up0 - up, 1, "the borrower is compressed");
    cr_assert_eq(skip0 - skip, 1, "the body it borrows is not");
    herald_buf want = HERALD_BUF_INIT;
    herald_buf_append(&want, b->part[0].p, b->part[0].n);
    herald_buf_append(&want, b->part[1].p, b->part[1].n);
    check_parts_decode(b, want.data, want.len);
    herald_buf_free(&want);
    payload_release(b);
    encode_stop();
}

/* ---- spare bodies (payload_spare_take) --------------------------------------------- */

Test(encode, a_large_body_freed_during_a_burst_is_handed_to_the_next_build)
{
    /* While the upgrader has work (versions keep coming), a freed body of 256 KB or more
     * is kept, once, for a build of a similar size; a small one never; and none outside a
     * burst or once its linger ended (a drain ends it at once). */
    cr_assert_eq(encode_start(), 0);
    encode_hold(1);
    size_t n = 300 * 1024;
    payload *queued = payload_new(sample(n), n, 1); /* the burst: a job waiting */
    payload *old = payload_new(sample(n), n, 0);
    char *mem = old->data;
    payload_release(old);
    size_t len = 0;
    cr_assert_null(payload_spare_take(3 * n, &len), "a body of a third of the size taken");
    cr_assert_null(payload_spare_take(n / 3, &len), "a body three times the size taken");
    char *p = payload_spare_take(n + 100, &len);
    cr_assert_eq(p, mem, "the freed body was not kept");
    cr_assert_eq(len, n);
    cr_assert_null(payload_spare_take(n, &len), "one body handed out twice");
    free(p);

    payload_release(payload_new(sample(1000), 1000, 0));
    cr_assert_null(payload_spare_take(1000, &len), "a small body kept");

    payload_release(payload_new(sample(n), n, 0));
    encode_hold(0);
    encode_drain(); /* the burst ends, its memory goes back */
    cr_assert_null(payload_spare_take(n, &len), "a body kept past the burst");
    payload_release(payload_new(sample(n), n, 0));
    cr_assert_null(payload_spare_take(n, &len), "a body kept outside a burst");

    payload_release(queued);

    /* One kept when the upgrader stops is freed with it (the sanitizers' leak check). */
    encode_hold(1);
    queued = payload_new(sample(n), n, 1);
    payload_release(payload_new(sample(n), n, 0));
    encode_stop();
    payload_release(queued);
}
