/*
 * test_signer_sha256 -- herald_crypto_sha256(), which the signer runs over every
 * collection's records_json on every edit, in hardware when the CPU has the x86 SHA
 * extensions (lib/crypto.c).
 *
 * Known answers (FIPS 180-2 examples), then differential against libsodium's portable
 * SHA-256 for every length from 0 to 1100 bytes (all padding cases: remainders 0..63,
 * one or two final blocks) and for a few large random buffers. On a CPU without the
 * extensions both sides are libsodium and the test still passes; the implementation in
 * use is printed.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/crypto.h"

static void
setup(void)
{
    cr_assert(herald_crypto_init() == 0);
}

TestSuite(signer_sha256, .init = setup);

Test(signer_sha256, known_answers)
{
    static const struct {
        const char *in;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
         "nopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    cr_log_info("SHA-256 implementation: %s", herald_crypto_sha256_impl());
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char hex[65];
        herald_crypto_sha256_hex(hex, v[i].in, strlen(v[i].in));
        cr_assert_str_eq(hex, v[i].hex, "input %zu", i);
    }
    /* One million 'a' (FIPS 180-2). */
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    char hex[65];
    herald_crypto_sha256_hex(hex, a, n);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

Test(signer_sha256, same_as_libsodium_at_every_length)
{
    size_t max = 1100;
    unsigned char *buf = malloc(max);
    randombytes_buf(buf, max);
    for (size_t len = 0; len <= max; len++) {
        unsigned char want[32], got[32];
        crypto_hash_sha256(want, buf, len);
        herald_crypto_sha256(got, buf, len);
        cr_assert(memcmp(want, got, 32) == 0, "length %zu", len);
    }
    /* Unaligned starts. */
    for (size_t off = 1; off < 16; off++) {
        unsigned char want[32], got[32];
        crypto_hash_sha256(want, buf + off, max - off);
        herald_crypto_sha256(got, buf + off, max - off);
        cr_assert(memcmp(want, got, 32) == 0, "offset %zu", off);
    }
    free(buf);
}

Test(signer_sha256, same_as_libsodium_on_large_buffers)
{
    static const size_t sizes[] = {65536, 4 * 1024 * 1024 + 17, 9 * 1024 * 1024 - 3};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *buf = malloc(sizes[i]);
        randombytes_buf(buf, sizes[i]);
        unsigned char want[32], got[32];
        crypto_hash_sha256(want, buf, sizes[i]);
        herald_crypto_sha256(got, buf, sizes[i]);
        cr_assert(memcmp(want, got, 32) == 0, "size %zu", sizes[i]);
        free(buf);
    }
}

/* The incremental form (herald_crypto_sha256_init/update/final_hex), which the read
 * server runs over a records array whose elements lie in several buffers: the digest of
 * random cuts of a buffer, pieces of 0 to 200 bytes (within a block, across one, several
 * blocks at once, empty pieces), equals libsodium's of the whole, for every length to
 * 1100 and for a large buffer. */
Test(signer_sha256, incremental_same_as_whole)
{
    size_t max = 300000;
    unsigned char *buf = malloc(max);
    randombytes_buf(buf, max);
    for (size_t len = 0; len <= max; len = len < 1100 ? len + 1 : len + 98899) {
        unsigned char want[32];
        char want_hex[65], got_hex[65];
        crypto_hash_sha256(want, buf, len);
        for (int i = 0; i < 32; i++)
            snprintf(want_hex + 2 * i, 3, "%02x", want[i]);
        herald_sha256 h;
        herald_crypto_sha256_init(&h);
        for (size_t at = 0; at < len;) {
            size_t n = randombytes_uniform(201);
            if (n > len - at)
                n = len - at;
            herald_crypto_sha256_update(&h, buf + at, n);
            at += n;
        }
        herald_crypto_sha256_final_hex(&h, got_hex);
        cr_assert_str_eq(got_hex, want_hex, "length %zu", len);
    }
    free(buf);
}
