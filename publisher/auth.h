/*
 * auth -- HTTP Basic credentials, and the configured admin account.
 *
 * The admin ("admin", password from HERALD_ADMIN_PASSWORD) is checked without Redis:
 * at start its password is hashed with BLAKE2b (libsodium crypto_generichash) under a
 * random key held in sodium_malloc memory, and each request's password is hashed the
 * same way and compared with sodium_memcmp. Comparing fixed-size digests in constant
 * time leaks neither the password's bytes nor its length through timing. Other
 * accounts live in Redis with argon2id hashes (accounts.h).
 *
 * As in Kinto, wrong credentials do not fail the request by themselves: the request is
 * anonymous, and is refused (401) only where anonymous access is not allowed.
 */
#ifndef HERALD_PUB_AUTH_H
#define HERALD_PUB_AUTH_H

#include <stddef.h>

#define PUB_ADMIN_ACCOUNT "admin"
#define PUB_ADMIN_USERID "account:admin"
/* Longest Basic credentials accepted ("user:password", decoded). */
#define PUB_CREDENTIALS_MAX 1024

typedef struct pub_auth pub_auth;

/* Returns NULL if libsodium cannot allocate its guarded memory. 'password' may be NULL
 * (no admin account); the caller wipes its own copy. */
pub_auth *pub_auth_new(const char *password, size_t len) __attribute__((warn_unused_result));
void pub_auth_free(pub_auth *a); /* NULL-safe */

/*
 * Decodes an Authorization header value "Basic base64(user:password)" into 'buf'
 * (PUB_CREDENTIALS_MAX bytes): *user and *password point into it, NUL-terminated.
 * Returns 0, or -1 when the header is absent, not Basic, or malformed. The caller
 * wipes 'buf' (sodium_memzero) when done.
 */
int pub_auth_parse_basic(char *buf, const char **user, const char **password, size_t *pwlen,
                         const char *authorization) __attribute__((warn_unused_result));

/* 1 if (user, password) are the admin's credentials, else 0. */
int pub_auth_is_admin(const pub_auth *a, const char *user, const char *password, size_t pwlen);

#endif
