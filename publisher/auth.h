/*
 * auth -- who is making a request. Phase 1 knows one account, "admin", whose password
 * comes from HERALD_ADMIN_PASSWORD, checked with HTTP Basic auth.
 *
 * The password itself is never kept: at start it is hashed with BLAKE2b (libsodium
 * crypto_generichash) under a random key held in sodium_malloc memory, and each request's
 * password is hashed the same way and compared with sodium_memcmp. Comparing fixed-size
 * digests in constant time leaks neither the password's bytes nor its length through
 * timing. (Accounts stored in Redis will use argon2id; see issue 3.)
 *
 * As in Kinto, wrong credentials do not fail the request by themselves: the request is
 * anonymous, and is refused (401) only where anonymous access is not allowed.
 */
#ifndef HERALD_PUB_AUTH_H
#define HERALD_PUB_AUTH_H

#include <stddef.h>

enum pub_user {
    PUB_USER_ANONYMOUS = 0,
    PUB_USER_ADMIN = 1,
};

#define PUB_ADMIN_USERID "account:admin"

typedef struct pub_auth pub_auth;

/* Returns NULL if libsodium cannot allocate its guarded memory. 'password' must not be
 * empty; the caller wipes its own copy. */
pub_auth *pub_auth_new(const char *password, size_t len) __attribute__((warn_unused_result));
void pub_auth_free(pub_auth *a); /* NULL-safe */

/* The user an Authorization header value (NULL when absent) authenticates. */
enum pub_user pub_auth_check(const pub_auth *a, const char *authorization);

#endif
