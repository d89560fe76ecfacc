/*
 * crypto -- see include/herald/crypto.h. A thin layer over libsodium.
 *
 * Base64url (RFC 4648 section 5) without padding is the only text form of keys and
 * signatures, and decoding is strict so that every byte string has exactly one accepted
 * spelling: no '=', no '+' or '/', no whitespace, no length that is 1 mod 4, and the
 * unused low bits of the last character must be zero. (A lenient decoder would accept
 * 2^k spellings of one signature; harmless for Ed25519, but a pinned key compared as a
 * string, or a key id derived from text, must not have aliases.)
 *
 * Secrets: a signing key keeps libsodium's 64-byte secret key (seed || public key) in
 * sodium_malloc memory, made read-only once built. Every temporary holding the seed or
 * its base64 text (file contents, keygen scratch) is a sodium_malloc'ed scratch area too,
 * wiped by sodium_free on every path.
 */
#include "herald/crypto.h"
#include "herald/err.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct herald_signkey {
    herald_pubkey pub;
    unsigned char *sk; /* crypto_sign_SECRETKEYBYTES, sodium_malloc, read-only */
};

/* The largest key file we read: 43 characters and a line ending, with room to notice
 * trailing junk. */
#define KEYFILE_MAX 128

/* ---- SHA-256 ---------------------------------------------------------------------------
 *
 * The signer hashes a collection's whole records_json on every edit (4 MB for 10k OneCRL
 * records, 40 MB for 100k), so SHA-256 speed is edit latency. libsodium 1.0.18's
 * SHA-256 is portable C (~150-400 MB/s here); x86-64 CPUs with the SHA extensions
 * (Intel since Goldmont/Ice Lake, AMD since Zen) do it in hardware at ~1.5-2 GB/s. The
 * hardware path is chosen once, in herald_crypto_init() (before any thread starts, so
 * the flag is never written concurrently), and checked against libsodium by
 * tests/unit/test_signer_sha256.c (known answers and every length around block
 * boundaries). Hashing public data, it has no secret-dependent timing to worry about.
 *
 * The round structure is the standard one for these instructions (as in Intel's
 * white paper and the public-domain SHA-Intrinsics code): the state is kept as ABEF/CDGH,
 * each sha256rnds2 does two rounds, and the message schedule for words 4i..4i+3 is
 * msg2(msg1(W[i-4], W[i-3]) + alignr(W[i-1], W[i-2], 4), W[i-1]).
 */
static int sha256_hw; /* set once by herald_crypto_init() */

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static int
cpu_has_sha(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
        return 0; /* SSE4.1, SSSE3 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 29) & 1; /* SHA */
}

/* How far ahead of the block being hashed the data is prefetched. Over a buffer larger
 * than the caches (a 100k-record records_json is ~19 MB) the hardware prefetchers alone
 * left the rounds waiting for memory: 15 ms for 18.6 MB against 10.5 ms for the same
 * bytes in cache. Asking for the line 1 KB ahead on every block brings the whole pass to
 * ~10.8 ms; 256 bytes was too close (14 ms), 4 KB no better. The request stays inside
 * the buffer (the last KB is not prefetched), so nothing beyond it is touched. */
#define SHA256_PREFETCH 1024

__attribute__((target("sha,sse4.1,ssse3"))) static void
sha256_hw_blocks(uint32_t state[8], const unsigned char *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i st1 = _mm_loadu_si128((const __m128i *)&state[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);         /* CDAB */
    st1 = _mm_shuffle_epi32(st1, 0x1B);         /* EFGH */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8); /* ABEF */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);      /* CDGH */

    for (; nblocks; nblocks--, p += 64) {
        if (nblocks > SHA256_PREFETCH / 64)
            __builtin_prefetch(p + SHA256_PREFETCH);
        __m128i save0 = st0, save1 = st1, w[16];
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
            else
                w[i] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]),
                                                          _mm_alignr_epi8(w[i - 1], w[i - 2], 4)),
                                            w[i - 1]);
            __m128i msg = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)&sha256_k[4 * i]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
            st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(msg, 0x0E));
        }
        st0 = _mm_add_epi32(st0, save0);
        st1 = _mm_add_epi32(st1, save1);
    }

    tmp = _mm_shuffle_epi32(st0, 0x1B);    /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);    /* DCHG */
    st0 = _mm_blend_epi16(tmp, st1, 0xF0); /* DCBA */
    st1 = _mm_alignr_epi8(st1, tmp, 8);    /* HGFE */
    _mm_storeu_si128((__m128i *)&state[0], st0);
    _mm_storeu_si128((__m128i *)&state[4], st1);
}

/* The last 'rem' (< 64) bytes of a 'len'-byte message and its padding: 0x80, zeros,
 * the bit length big-endian in the last 8 bytes; then the digest. */
static void
sha256_hw_finish(uint32_t st[8], const unsigned char *rest, size_t rem, uint64_t len,
                 unsigned char out[32])
{
    unsigned char tail[128];
    memset(tail, 0, sizeof(tail));
    if (rem)
        memcpy(tail, rest, rem);
    tail[rem] = 0x80;
    size_t tlen = rem + 9 <= 64 ? 64 : 128;
    uint64_t bits = len * 8;
    for (int i = 0; i < 8; i++)
        tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha256_hw_blocks(st, tail, tlen / 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(st[i] >> 24);
        out[4 * i + 1] = (unsigned char)(st[i] >> 16);
        out[4 * i + 2] = (unsigned char)(st[i] >> 8);
        out[4 * i + 3] = (unsigned char)st[i];
    }
}

static const uint32_t sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static void
sha256_hw_hash(unsigned char out[32], const unsigned char *data, size_t len)
{
    uint32_t st[8];
    memcpy(st, sha256_iv, sizeof(st));
    size_t full = len / 64;
    sha256_hw_blocks(st, data, full);
    sha256_hw_finish(st, data + full * 64, len % 64, len, out);
}

static void
sha256_hw_update(herald_sha256 *h, const unsigned char *p, size_t len)
{
    h->len += len;
    if (h->nbuf) {
        size_t take = 64 - h->nbuf < len ? 64 - h->nbuf : len;
        memcpy(h->buf + h->nbuf, p, take);
        h->nbuf += take;
        p += take;
        len -= take;
        if (h->nbuf < 64)
            return;
        sha256_hw_blocks(h->st, h->buf, 1);
        h->nbuf = 0;
    }
    sha256_hw_blocks(h->st, p, len / 64);
    memcpy(h->buf, p + len / 64 * 64, len % 64);
    h->nbuf = len % 64;
}
#else
static const uint32_t sha256_iv[8];

static void
sha256_hw_update(herald_sha256 *h, const unsigned char *p, size_t len)
{
    (void)h, (void)p, (void)len; /* never called: sha256_hw is 0 */
}

static void
sha256_hw_finish(uint32_t st[8], const unsigned char *rest, size_t rem, uint64_t len,
                 unsigned char out[32])
{
    (void)st, (void)rest, (void)rem, (void)len, (void)out;
}

static int
cpu_has_sha(void)
{
    return 0;
}

static void
sha256_hw_hash(unsigned char out[32], const unsigned char *data, size_t len)
{
    crypto_hash_sha256(out, data, len);
}
#endif

int
herald_crypto_init(void)
{
    /* sodium_init() returns 1 when already initialised: that is success. */
    if (sodium_init() < 0)
        return -1;
    sha256_hw = getenv("HERALD_SHA256_PORTABLE") ? 0 : cpu_has_sha();
    return 0;
}

const char *
herald_crypto_sha256_impl(void)
{
    return sha256_hw ? "sha-ni" : "libsodium";
}

void
herald_crypto_sha256(unsigned char out[32], const void *data, size_t len)
{
    if (sha256_hw)
        sha256_hw_hash(out, data, len);
    else
        crypto_hash_sha256(out, data, len);
}

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((herald_sha256 *)0)->sodium),
               "herald_sha256 has room for libsodium's state");

void
herald_crypto_sha256_init(herald_sha256 *h)
{
    memset(h, 0, sizeof(*h));
    if (sha256_hw)
        memcpy(h->st, sha256_iv, sizeof(h->st));
    else
        crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)h->sodium);
}

void
herald_crypto_sha256_update(herald_sha256 *h, const void *data, size_t len)
{
    if (sha256_hw)
        sha256_hw_update(h, data, len);
    else
        crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)h->sodium, data, len);
}

static void hex_lower(char *out, const unsigned char *in, size_t n);

void
herald_crypto_sha256_final_hex(herald_sha256 *h, char out[65])
{
    unsigned char d[32];
    if (sha256_hw)
        sha256_hw_finish(h->st, h->buf, h->nbuf, h->len, d);
    else
        crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)h->sodium, d);
    hex_lower(out, d, sizeof(d));
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
herald_crypto_b64url_encode(char *out, const void *in, size_t n)
{
    const unsigned char *p = in;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
}

/* Value of one base64url character, or -1. Branch-free (libsodium's construction), since
 * key files are decoded with it too: the timing must not depend on the seed. */
#define CT_EQ(x, y) ((((0U - ((unsigned)(x) ^ (unsigned)(y))) >> 8) & 0xFF) ^ 0xFF)
#define CT_GT(x, y) ((((unsigned)(y) - (unsigned)(x)) >> 8) & 0xFF)
#define CT_LT(x, y) CT_GT(y, x)

static int
b64url_value(unsigned char c)
{
    unsigned x = (CT_GT(c, 'A' - 1) & CT_LT(c, 'Z' + 1) & (unsigned)(c - 'A')) |
                 (CT_GT(c, 'a' - 1) & CT_LT(c, 'z' + 1) & (unsigned)(c - ('a' - 26))) |
                 (CT_GT(c, '0' - 1) & CT_LT(c, '9' + 1) & (unsigned)(c - ('0' - 52))) |
                 (CT_EQ(c, '-') & 62U) | (CT_EQ(c, '_') & 63U);
    /* x == 0 is either 'A' or invalid: mark invalid as 0xFF. */
    x |= CT_EQ(x, 0) & (CT_EQ(c, 'A') ^ 0xFFU);
    /* 0..63, or 0xFF -> -1, without a branch on the character. */
    return (int)x - (int)((CT_EQ(x, 0xFF) & 1U) << 8);
}

int
herald_crypto_b64url_decode(void *out, size_t outmax, size_t *outlen, const char *in, size_t inlen)
{
    unsigned char *o = out;
    size_t rem = inlen % 4;
    if (rem == 1)
        goto err; /* 6 bits cannot encode a byte */
    size_t need = inlen / 4 * 3 + (rem ? rem - 1 : 0);
    if (need > outmax)
        goto err;

    size_t j = 0;
    size_t i = 0;
    for (; i + 4 <= inlen; i += 4) {
        int a = b64url_value((unsigned char)in[i]);
        int b = b64url_value((unsigned char)in[i + 1]);
        int c = b64url_value((unsigned char)in[i + 2]);
        int d = b64url_value((unsigned char)in[i + 3]);
        if ((a | b | c | d) < 0)
            goto err;
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
        o[j++] = (unsigned char)(v >> 16);
        o[j++] = (unsigned char)(v >> 8);
        o[j++] = (unsigned char)v;
    }
    if (rem == 2) {
        int a = b64url_value((unsigned char)in[i]);
        int b = b64url_value((unsigned char)in[i + 1]);
        if ((a | b) < 0 || (b & 0x0f))
            goto err; /* non-zero trailing bits: a second spelling of the same bytes */
        o[j++] = (unsigned char)(a << 2 | b >> 4);
    } else if (rem == 3) {
        int a = b64url_value((unsigned char)in[i]);
        int b = b64url_value((unsigned char)in[i + 1]);
        int c = b64url_value((unsigned char)in[i + 2]);
        if ((a | b | c) < 0 || (c & 0x03))
            goto err;
        o[j++] = (unsigned char)(a << 2 | b >> 4);
        o[j++] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
    }
    *outlen = j;
    return 0;

err:
    /* Fail closed: never leave a partial decode for a caller that ignores the result. */
    if (outmax)
        sodium_memzero(out, outmax);
    *outlen = 0;
    return -1;
}

static void
hex_lower(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void
herald_crypto_sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    herald_crypto_sha256(h, data, len);
    hex_lower(out, h, sizeof(h));
}

/* Fills key_id and b64 from pk. */
static void
pubkey_finish(herald_pubkey *k)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, k->pk, sizeof(k->pk));
    hex_lower(k->key_id, h, HERALD_KEY_ID_LEN / 2);
    herald_crypto_b64url_encode(k->b64, k->pk, sizeof(k->pk));
}

int
herald_crypto_pubkey_parse(herald_pubkey *out, const char *b64)
{
    size_t n = 0;
    memset(out, 0, sizeof(*out));
    if (!b64 || strlen(b64) != HERALD_PUBKEY_B64_LEN)
        goto err;
    if (herald_crypto_b64url_decode(out->pk, sizeof(out->pk), &n, b64, HERALD_PUBKEY_B64_LEN) < 0 ||
        n != sizeof(out->pk))
        goto err;
    /* A key that is not a canonical point of the main subgroup can never have produced a
     * signature libsodium accepts; reject it when it is configured, not at first use. */
    if (!crypto_core_ed25519_is_valid_point(out->pk))
        goto err;
    pubkey_finish(out);
    return 0;

err:
    memset(out, 0, sizeof(*out));
    return -1;
}

int
herald_crypto_verify(const herald_pubkey *key, const char *sig_b64, const void *msg, size_t len)
{
    unsigned char sig[crypto_sign_BYTES];
    size_t n = 0;
    if (!key || !sig_b64 || strlen(sig_b64) != HERALD_SIG_B64_LEN)
        return -1;
    if (herald_crypto_b64url_decode(sig, sizeof(sig), &n, sig_b64, HERALD_SIG_B64_LEN) < 0 ||
        n != sizeof(sig))
        return -1;
    if (crypto_sign_verify_detached(sig, msg, len, key->pk) != 0)
        return -1;
    return 0;
}

herald_signkey *
herald_crypto_signkey_from_seed(const unsigned char seed[32])
{
    herald_signkey *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!k->sk)
        goto err;
    if (crypto_sign_seed_keypair(k->pub.pk, k->sk, seed) != 0)
        goto err;
    pubkey_finish(&k->pub);
    /* Read-only from now on: a stray write through a bad pointer faults instead of
     * silently corrupting (or leaking into) the key. */
    sodium_mprotect_readonly(k->sk);
    return k;

err:
    herald_crypto_signkey_free(k);
    return NULL;
}

void
herald_crypto_signkey_free(herald_signkey *k)
{
    if (!k)
        return;
    sodium_free(k->sk); /* NULL-safe; makes the pages writable, wipes, unmaps */
    sodium_memzero(k, sizeof(*k));
    free(k);
}

const herald_pubkey *
herald_crypto_signkey_public(const herald_signkey *k)
{
    return &k->pub;
}

int
herald_crypto_sign(char sig_b64[HERALD_SIG_B64_LEN + 1], const herald_signkey *k, const void *msg,
                   size_t len)
{
    unsigned char sig[crypto_sign_BYTES];
    if (!k || crypto_sign_detached(sig, NULL, msg, len, k->sk) != 0) {
        sig_b64[0] = '\0';
        return -1;
    }
    herald_crypto_b64url_encode(sig_b64, sig, sizeof(sig));
    return 0;
}

/* Scratch for the secret material of keygen and load, in guarded, locked memory. */
struct key_scratch {
    unsigned char seed[32];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char text[KEYFILE_MAX + 1];
};

int
herald_crypto_keygen(const char *path, char pub_b64[HERALD_PUBKEY_B64_LEN + 1], char *err,
                     size_t errlen)
{
    int rc = -1;
    int fd = -1;
    int created = 0;
    struct key_scratch *s = sodium_malloc(sizeof(*s));
    if (!s) {
        herald_err_set(err, errlen, "cannot allocate secure memory");
        goto out;
    }
    pub_b64[0] = '\0';

    randombytes_buf(s->seed, sizeof(s->seed));
    if (crypto_sign_seed_keypair(s->pk, s->sk, s->seed) != 0) {
        herald_err_set(err, errlen, "key derivation failed");
        goto out;
    }
    herald_crypto_b64url_encode(s->text, s->seed, sizeof(s->seed));
    s->text[HERALD_PUBKEY_B64_LEN] = '\n';

    /* O_EXCL: an existing key (or a symlink planted where it will be) is never replaced;
     * 0600 before umask, so the file is never readable by others even for an instant. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        herald_err_set(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    created = 1;
    size_t off = 0;
    const size_t total = HERALD_PUBKEY_B64_LEN + 1;
    while (off < total) {
        ssize_t w = write(fd, s->text + off, total - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            herald_err_set(err, errlen, "%s: write: %s", path,
                           w < 0 ? strerror(errno) : "short write");
            goto out;
        }
        off += (size_t)w;
    }
    /* The key must be on disk before its public half is handed out and pinned. */
    if (fsync(fd) != 0) {
        herald_err_set(err, errlen, "%s: fsync: %s", path, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        herald_err_set(err, errlen, "%s: close: %s", path, strerror(errno));
        goto out;
    }
    fd = -1;
    herald_crypto_b64url_encode(pub_b64, s->pk, sizeof(s->pk));
    rc = 0;

out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && created)
        unlink(path); /* ours (O_EXCL): do not leave a half-written key behind */
    sodium_free(s);   /* wipes seed, secret key and text */
    return rc;
}

herald_signkey *
herald_crypto_signkey_load(const char *path, char *err, size_t errlen)
{
    herald_signkey *k = NULL;
    struct key_scratch *s = sodium_malloc(sizeof(*s));
    int fd = -1;
    struct stat st;
    if (!s) {
        herald_err_set(err, errlen, "cannot allocate secure memory");
        goto out;
    }
    /* No O_NOFOLLOW: secret stores (Kubernetes, systemd credentials) mount keys behind
     * symlinks. fstat() checks the file actually opened. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        herald_err_set(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        herald_err_set(err, errlen, "%s: fstat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        herald_err_set(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        herald_err_set(err, errlen, "%s: mode %04o is accessible by group or others (want 0600)",
                       path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, s->text + n, KEYFILE_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            herald_err_set(err, errlen, "%s: read: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == KEYFILE_MAX)
            break;
    }
    /* Exactly 43 characters, optionally followed by one newline. */
    if (n == HERALD_PUBKEY_B64_LEN + 1 && s->text[HERALD_PUBKEY_B64_LEN] == '\n')
        n--;
    size_t seedlen = 0;
    if (n != HERALD_PUBKEY_B64_LEN ||
        herald_crypto_b64url_decode(s->seed, sizeof(s->seed), &seedlen, s->text, n) < 0 ||
        seedlen != sizeof(s->seed)) {
        herald_err_set(err, errlen,
                       "%s: not a key file (want 43 base64url characters and a newline)", path);
        goto out;
    }
    k = herald_crypto_signkey_from_seed(s->seed);
    if (!k)
        herald_err_set(err, errlen, "%s: cannot build key", path);

out:
    if (fd >= 0)
        close(fd);
    sodium_free(s);
    return k;
}
