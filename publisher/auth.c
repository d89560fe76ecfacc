/*
 * auth -- see auth.h.
 */
#include "auth.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

struct pub_auth {
    unsigned char *key;    /* sodium_malloc: crypto_generichash_KEYBYTES */
    unsigned char *digest; /* sodium_malloc: keyed hash of the admin password */
};

#define DIGEST_BYTES 32
/* Basic credentials longer than this are refused without decoding. */
#define MAX_CREDENTIALS 1024

static void
hash_password(unsigned char *out, const unsigned char *key, const char *pw, size_t len)
{
    crypto_generichash(out, DIGEST_BYTES, (const unsigned char *)pw, len, key,
                       crypto_generichash_KEYBYTES);
}

pub_auth *
pub_auth_new(const char *password, size_t len)
{
    pub_auth *a = sodium_malloc(sizeof(*a));
    if (!a)
        return NULL;
    a->key = sodium_malloc(crypto_generichash_KEYBYTES);
    a->digest = sodium_malloc(DIGEST_BYTES);
    if (!a->key || !a->digest || len == 0)
        goto fail;
    randombytes_buf(a->key, crypto_generichash_KEYBYTES);
    hash_password(a->digest, a->key, password, len);
    return a;
fail:
    pub_auth_free(a);
    return NULL;
}

void
pub_auth_free(pub_auth *a)
{
    if (!a)
        return;
    sodium_free(a->key); /* sodium_free wipes, and accepts NULL */
    sodium_free(a->digest);
    sodium_free(a);
}

enum pub_user
pub_auth_check(const pub_auth *a, const char *authorization)
{
    unsigned char bin[MAX_CREDENTIALS], digest[DIGEST_BYTES];
    size_t binlen = 0, hlen;
    enum pub_user user = PUB_USER_ANONYMOUS;

    if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
        return PUB_USER_ANONYMOUS;
    authorization += 6;
    while (*authorization == ' ')
        authorization++;
    hlen = strlen(authorization);
    while (hlen > 0 && authorization[hlen - 1] == ' ')
        hlen--;
    if (hlen == 0 || hlen > (MAX_CREDENTIALS / 3) * 4)
        return PUB_USER_ANONYMOUS;
    if (sodium_base642bin(bin, sizeof(bin), authorization, hlen, NULL, &binlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        goto done;
    const unsigned char *colon = memchr(bin, ':', binlen);
    if (!colon)
        goto done;
    size_t ulen = (size_t)(colon - bin);
    const char *pw = (const char *)colon + 1;
    size_t pwlen = binlen - ulen - 1;
    hash_password(digest, a->key, pw, pwlen);
    /* The user name is public; only the password comparison must be constant time. */
    if (ulen == 5 && memcmp(bin, "admin", 5) == 0 &&
        sodium_memcmp(digest, a->digest, DIGEST_BYTES) == 0)
        user = PUB_USER_ADMIN;
done:
    sodium_memzero(bin, sizeof(bin));
    sodium_memzero(digest, sizeof(digest));
    return user;
}
