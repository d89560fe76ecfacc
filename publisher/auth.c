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
    int has_admin;
};

#define DIGEST_BYTES 32

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
    a->has_admin = password && len > 0;
    if (!a->key || !a->digest)
        goto fail;
    randombytes_buf(a->key, crypto_generichash_KEYBYTES);
    if (a->has_admin)
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

int
pub_auth_parse_basic(char *buf, const char **user, const char **password, size_t *pwlen,
                     const char *authorization)
{
    size_t binlen = 0, hlen;
    if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
        return -1;
    authorization += 6;
    while (*authorization == ' ')
        authorization++;
    hlen = strlen(authorization);
    while (hlen > 0 && authorization[hlen - 1] == ' ')
        hlen--;
    if (hlen == 0 || hlen > ((PUB_CREDENTIALS_MAX - 1) / 3) * 4)
        return -1;
    if (sodium_base642bin((unsigned char *)buf, PUB_CREDENTIALS_MAX - 1, authorization, hlen, NULL,
                          &binlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    buf[binlen] = '\0';
    char *colon = memchr(buf, ':', binlen);
    if (!colon || colon == buf || memchr(buf, '\0', binlen))
        return -1;
    *colon = '\0';
    *user = buf;
    *password = colon + 1;
    *pwlen = binlen - (size_t)(colon - buf) - 1;
    return 0;
}

int
pub_auth_is_admin(const pub_auth *a, const char *user, const char *password, size_t pwlen)
{
    unsigned char digest[DIGEST_BYTES];
    int ok;
    if (!a->has_admin)
        return 0;
    hash_password(digest, a->key, password, pwlen);
    /* The user name is public; only the password comparison must be constant time. */
    ok =
        strcmp(user, PUB_ADMIN_ACCOUNT) == 0 && sodium_memcmp(digest, a->digest, DIGEST_BYTES) == 0;
    sodium_memzero(digest, sizeof(digest));
    return ok;
}
