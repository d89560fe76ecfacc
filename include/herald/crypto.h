/*
 * crypto -- Ed25519 signing keys, pinned public keys, SHA-256 and base64url.
 *
 * Key file: the 32-byte Ed25519 seed, base64url without padding (43 characters), one
 * line, mode 0600. A signing key's secret part lives in sodium_malloc'ed memory
 * (guarded pages, locked, wiped on free); temporary copies are wiped with sodium_memzero.
 *
 *   key_id = lowercase hex of the first 8 bytes of SHA-256(32-byte public key)
 *   signature = base64url, no padding, of crypto_sign_detached (64 bytes -> 86 chars)
 *
 * All functions return 0 on success and -1 on failure unless said otherwise; 'err'
 * receives a one-line reason when given.
 */
#ifndef HERALD_CRYPTO_H
#define HERALD_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define HERALD_PUBKEY_B64_LEN 43 /* 32 bytes, base64url, no padding */
#define HERALD_SIG_B64_LEN 86    /* 64 bytes */
#define HERALD_KEY_ID_LEN 16     /* hex of 8 bytes */

/* Must be called once before any other function here (wraps sodium_init). */
int herald_crypto_init(void) __attribute__((warn_unused_result));

/* Base64url without padding. encode writes a NUL-terminated string into 'out'
 * (4*ceil(n/3)+1 bytes suffice); decode refuses padding, other alphabets and
 * non-canonical trailing bits, and writes exactly *outlen bytes (at most 'outmax'). */
void herald_crypto_b64url_encode(char *out, const void *in, size_t n);
int herald_crypto_b64url_decode(void *out, size_t outmax, size_t *outlen, const char *in,
                                size_t inlen) __attribute__((warn_unused_result));

/* SHA-256, in hardware (x86-64 SHA extensions) when herald_crypto_init() found them,
 * else libsodium's. HERALD_SHA256_PORTABLE in the environment at init forces libsodium. */
void herald_crypto_sha256(unsigned char out[32], const void *data, size_t len);
void herald_crypto_sha256_hex(char out[65], const void *data, size_t len);
/* "sha-ni" or "libsodium": which implementation herald_crypto_sha256() uses. */
const char *herald_crypto_sha256_impl(void);

/* Incremental SHA-256 over pieces, the same digest as herald_crypto_sha256() over their
 * concatenation, by the same implementation (the read server hashes a records array
 * whose elements lie in several buffers without joining them). Not opaque so that it
 * lives on the caller's stack; its fields are crypto.c's. */
typedef struct herald_sha256 {
    uint32_t st[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
    _Alignas(16) unsigned char sodium[128]; /* libsodium's state, when not in hardware */
} herald_sha256;
void herald_crypto_sha256_init(herald_sha256 *h);
void herald_crypto_sha256_update(herald_sha256 *h, const void *data, size_t len);
void herald_crypto_sha256_final_hex(herald_sha256 *h, char out[65]);

typedef struct herald_pubkey {
    unsigned char pk[32];
    char key_id[HERALD_KEY_ID_LEN + 1];
    char b64[HERALD_PUBKEY_B64_LEN + 1];
} herald_pubkey;

/* Parses a public key as keygen prints it (43 base64url characters). */
int herald_crypto_pubkey_parse(herald_pubkey *out, const char *b64)
    __attribute__((warn_unused_result));

/* Verifies base64url 'sig_b64' over 'msg'. Returns 0 only for a valid signature. */
int herald_crypto_verify(const herald_pubkey *key, const char *sig_b64, const void *msg, size_t len)
    __attribute__((warn_unused_result));

typedef struct herald_signkey herald_signkey; /* opaque; secret in sodium_malloc memory */

/* Writes a new key file at 'path' (O_EXCL: never overwrites; mode 0600) and the public
 * key, base64url, into 'pub_b64'. */
int herald_crypto_keygen(const char *path, char pub_b64[HERALD_PUBKEY_B64_LEN + 1], char *err,
                         size_t errlen) __attribute__((warn_unused_result));

/* Loads a key file; refuses a file readable or writable by group or others. */
herald_signkey *herald_crypto_signkey_load(const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Builds a key from a 32-byte seed (tests, known-answer vectors). */
herald_signkey *herald_crypto_signkey_from_seed(const unsigned char seed[32]);
void herald_crypto_signkey_free(herald_signkey *k); /* NULL-safe; wipes */
const herald_pubkey *herald_crypto_signkey_public(const herald_signkey *k);
/* Signs 'msg'; writes 86 characters + NUL into 'sig_b64'. */
int herald_crypto_sign(char sig_b64[HERALD_SIG_B64_LEN + 1], const herald_signkey *k,
                       const void *msg, size_t len);

#endif
