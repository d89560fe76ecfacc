/*
 * test_crypto -- known-answer vectors (RFC 4648 base64, FIPS 180-2 SHA-256, RFC 8032
 * Ed25519 test 1) and the key file rules: mode 0600, never overwritten, strict content.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/crypto.h"

/* RFC 8032 section 7.1, TEST 1 (empty message). */
#define RFC8032_SEED "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8032_PUB "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8032_KEY_ID "21fe31dfa154a261"
#define RFC8032_SIG                                                                                \
    "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc-bRr0lv18FlbviRlUUFDjnoQCw"

static char tmpdir[64];

static void
setup(void)
{
    cr_assert(herald_crypto_init() == 0);
    strcpy(tmpdir, "/tmp/herald-test-crypto-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_assert(system(cmd) == 0);
}

TestSuite(crypto, .init = setup, .fini = teardown);

static void
tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const char *content, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert(fd >= 0);
    cr_assert(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
    close(fd);
    cr_assert(chmod(path, mode) == 0);
}

Test(crypto, b64url_rfc4648_vectors)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char enc[16];
        unsigned char dec[16];
        size_t n = 99;
        herald_crypto_b64url_encode(enc, in[i], strlen(in[i]));
        cr_assert_str_eq(enc, out[i]);
        cr_assert(herald_crypto_b64url_decode(dec, sizeof(dec), &n, out[i], strlen(out[i])) == 0);
        cr_assert_eq(n, strlen(in[i]));
        cr_assert(memcmp(dec, in[i], n) == 0);
    }
}

Test(crypto, b64url_url_alphabet)
{
    const unsigned char in[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    unsigned char dec[8];
    size_t n;
    herald_crypto_b64url_encode(enc, in, 3);
    cr_assert_str_eq(enc, "-_-_");
    cr_assert(herald_crypto_b64url_decode(dec, sizeof(dec), &n, "-_-_", 4) == 0);
    cr_assert(n == 3 && memcmp(dec, in, 3) == 0);
}

Test(crypto, b64url_rejects)
{
    static const char *const bad[] = {
        "Zg==",   /* padding */
        "Zm8=",   /* padding */
        "Zm9v+A", /* standard alphabet */
        "Zm9v/A", /* standard alphabet */
        " Zm9v",  /* whitespace */
        "Zm9v\n", /* whitespace */
        "Zm 9v",  /* whitespace */
        "Z",      /* 1 mod 4 */
        "Zm9vY",  /* 1 mod 4 */
        "Zh",     /* non-zero trailing bits (4 bits) */
        "Zm9",    /* non-zero trailing bits (2 bits) */
        "Zm9vYh", /* non-zero trailing bits */
        "Zm.v",   /* not base64 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char dec[16];
        size_t n = 99;
        cr_assert(herald_crypto_b64url_decode(dec, sizeof(dec), &n, bad[i], strlen(bad[i])) < 0,
                  "accepted '%s'", bad[i]);
        cr_assert_eq(n, 0);
    }
    /* An embedded NUL is an invalid character, not a terminator. */
    unsigned char dec[8];
    size_t n;
    cr_assert(herald_crypto_b64url_decode(dec, sizeof(dec), &n, "Zm\0v", 4) < 0);
    /* Output too small. */
    cr_assert(herald_crypto_b64url_decode(dec, 2, &n, "Zm9v", 4) < 0);
    cr_assert(herald_crypto_b64url_decode(dec, 3, &n, "Zm9v", 4) == 0 && n == 3);
}

Test(crypto, b64url_every_byte_value)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int c = 0; c < 256; c++) {
        char in[4] = {'A', 'A', 'A', (char)c};
        unsigned char dec[3];
        size_t n;
        const char *pos = c ? strchr(alphabet, c) : NULL;
        int ok = herald_crypto_b64url_decode(dec, sizeof(dec), &n, in, 4) == 0;
        cr_assert_eq(ok, pos != NULL, "byte %d", c);
        if (ok)
            cr_assert_eq(dec[2], (unsigned char)(pos - alphabet), "byte %d", c);
    }
}

Test(crypto, b64url_round_trip_all_lengths)
{
    unsigned char in[70], dec[70];
    char enc[100];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof(in); len++) {
        size_t n;
        herald_crypto_b64url_encode(enc, in, len);
        cr_assert_eq(strlen(enc), (len * 4 + 2) / 3);
        cr_assert(herald_crypto_b64url_decode(dec, sizeof(dec), &n, enc, strlen(enc)) == 0);
        cr_assert(n == len && memcmp(dec, in, len) == 0);
    }
}

Test(crypto, sha256_known_values)
{
    char hex[65];
    herald_crypto_sha256_hex(hex, "", 0);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    herald_crypto_sha256_hex(hex, "abc", 3);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    herald_crypto_sha256_hex(hex, "[]", 2);
    cr_assert_str_eq(hex, "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945");
}

Test(crypto, pubkey_parse_and_key_id)
{
    herald_pubkey k;
    cr_assert(herald_crypto_pubkey_parse(&k, RFC8032_PUB) == 0);
    cr_assert_str_eq(k.key_id, RFC8032_KEY_ID);
    cr_assert_str_eq(k.b64, RFC8032_PUB);

    cr_assert(herald_crypto_pubkey_parse(&k, RFC8032_PUB "A") < 0);
    cr_assert(herald_crypto_pubkey_parse(&k, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR") < 0);
    cr_assert(herald_crypto_pubkey_parse(&k, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo") < 0);
    /* Non-zero trailing bits: 'p' instead of 'o' decodes to the same 32 bytes leniently. */
    cr_assert(herald_crypto_pubkey_parse(&k, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp") < 0);
    /* The identity-adjacent small-order point (all zeros) is not a usable key. */
    cr_assert(herald_crypto_pubkey_parse(&k, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") < 0);
    cr_assert(herald_crypto_pubkey_parse(&k, NULL) < 0);
}

Test(crypto, rfc8032_sign_verify)
{
    unsigned char seed[32];
    size_t n;
    cr_assert(herald_crypto_b64url_decode(seed, sizeof(seed), &n, RFC8032_SEED, 43) == 0);
    herald_signkey *k = herald_crypto_signkey_from_seed(seed);
    cr_assert_not_null(k);
    cr_assert_str_eq(herald_crypto_signkey_public(k)->b64, RFC8032_PUB);
    cr_assert_str_eq(herald_crypto_signkey_public(k)->key_id, RFC8032_KEY_ID);

    char sig[HERALD_SIG_B64_LEN + 1];
    cr_assert(herald_crypto_sign(sig, k, "", 0) == 0);
    cr_assert_str_eq(sig, RFC8032_SIG);

    herald_pubkey pub;
    cr_assert(herald_crypto_pubkey_parse(&pub, RFC8032_PUB) == 0);
    cr_assert(herald_crypto_verify(&pub, RFC8032_SIG, "", 0) == 0);
    cr_assert(herald_crypto_verify(&pub, RFC8032_SIG, "x", 1) < 0);

    cr_assert(herald_crypto_sign(sig, k, "hello", 5) == 0);
    cr_assert_eq(strlen(sig), HERALD_SIG_B64_LEN);
    cr_assert(herald_crypto_verify(&pub, sig, "hello", 5) == 0);
    cr_assert(herald_crypto_verify(&pub, sig, "hellO", 5) < 0);
    char bad[HERALD_SIG_B64_LEN + 2];
    strcpy(bad, sig);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    cr_assert(herald_crypto_verify(&pub, bad, "hello", 5) < 0);
    strcpy(bad, sig);
    bad[HERALD_SIG_B64_LEN - 1] = '\0'; /* too short */
    cr_assert(herald_crypto_verify(&pub, bad, "hello", 5) < 0);
    strcpy(bad, sig);
    strcat(bad, "A"); /* too long */
    cr_assert(herald_crypto_verify(&pub, bad, "hello", 5) < 0);

    /* Another key does not verify it. */
    seed[0] ^= 1;
    herald_signkey *k2 = herald_crypto_signkey_from_seed(seed);
    cr_assert(herald_crypto_verify(herald_crypto_signkey_public(k2), sig, "hello", 5) < 0);
    herald_crypto_signkey_free(k2);
    herald_crypto_signkey_free(k);
    herald_crypto_signkey_free(NULL);
}

Test(crypto, keygen_writes_0600_and_loads)
{
    char path[128];
    char pub[HERALD_PUBKEY_B64_LEN + 1];
    char err[256];
    struct stat st;
    tmp_path(path, sizeof(path), "k1");
    cr_assert(herald_crypto_keygen(path, pub, err, sizeof(err)) == 0, "%s", err);
    cr_assert_eq(strlen(pub), HERALD_PUBKEY_B64_LEN);
    cr_assert(stat(path, &st) == 0);
    cr_assert_eq(st.st_mode & 07777, 0600);
    cr_assert_eq(st.st_size, 44);

    FILE *f = fopen(path, "r");
    char line[64] = {0};
    cr_assert_not_null(fgets(line, sizeof(line), f));
    fclose(f);
    cr_assert_eq(strlen(line), 44);
    cr_assert_eq(line[43], '\n');

    herald_signkey *k = herald_crypto_signkey_load(path, err, sizeof(err));
    cr_assert_not_null(k, "%s", err);
    cr_assert_str_eq(herald_crypto_signkey_public(k)->b64, pub);
    herald_pubkey p;
    cr_assert(herald_crypto_pubkey_parse(&p, pub) == 0);
    char sig[HERALD_SIG_B64_LEN + 1];
    cr_assert(herald_crypto_sign(sig, k, "m", 1) == 0);
    cr_assert(herald_crypto_verify(&p, sig, "m", 1) == 0);
    herald_crypto_signkey_free(k);
}

Test(crypto, keygen_never_overwrites)
{
    char path[128], err[256];
    char pub1[HERALD_PUBKEY_B64_LEN + 1], pub2[HERALD_PUBKEY_B64_LEN + 1];
    tmp_path(path, sizeof(path), "k2");
    cr_assert(herald_crypto_keygen(path, pub1, err, sizeof(err)) == 0);
    cr_assert(herald_crypto_keygen(path, pub2, err, sizeof(err)) < 0);
    cr_assert(strstr(err, "exists") != NULL, "%s", err);
    herald_signkey *k = herald_crypto_signkey_load(path, err, sizeof(err));
    cr_assert_not_null(k);
    cr_assert_str_eq(herald_crypto_signkey_public(k)->b64, pub1);
    herald_crypto_signkey_free(k);

    /* Not through a symlink either (even a dangling one). */
    char link[128];
    tmp_path(link, sizeof(link), "link");
    char target[128];
    tmp_path(target, sizeof(target), "target");
    cr_assert(symlink(target, link) == 0);
    cr_assert(herald_crypto_keygen(link, pub2, err, sizeof(err)) < 0);
    cr_assert(access(target, F_OK) != 0);
    /* A missing directory fails cleanly. */
    tmp_path(path, sizeof(path), "nodir/k");
    cr_assert(herald_crypto_keygen(path, pub2, err, sizeof(err)) < 0);
}

Test(crypto, signkey_load_refuses_open_modes)
{
    char path[128], err[256];
    tmp_path(path, sizeof(path), "k3");
    static const mode_t bad[] = {0640, 0604, 0660, 0644, 0601, 0610, 0602};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(path, RFC8032_SEED "\n", bad[i]);
        err[0] = '\0';
        cr_assert_null(herald_crypto_signkey_load(path, err, sizeof(err)), "mode %o", bad[i]);
        cr_assert(strstr(err, "mode") != NULL, "%s", err);
    }
    write_file(path, RFC8032_SEED "\n", 0400);
    herald_signkey *k = herald_crypto_signkey_load(path, err, sizeof(err));
    cr_assert_not_null(k, "%s", err);
    cr_assert_str_eq(herald_crypto_signkey_public(k)->b64, RFC8032_PUB);
    herald_crypto_signkey_free(k);
}

Test(crypto, signkey_load_content)
{
    char path[128], err[256];
    tmp_path(path, sizeof(path), "k4");
    /* Without the final newline: accepted. */
    write_file(path, RFC8032_SEED, 0600);
    herald_signkey *k = herald_crypto_signkey_load(path, err, sizeof(err));
    cr_assert_not_null(k, "%s", err);
    herald_crypto_signkey_free(k);

    static const char *const bad[] = {
        "",
        RFC8032_SEED "\n\n",
        RFC8032_SEED " \n",
        RFC8032_SEED "\r\n",
        " " RFC8032_SEED "\n",
        "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n",
        "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2B\n", /* non-zero trailing bits */
        "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2\n",
        "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unlink(path);
        write_file(path, bad[i], 0600);
        cr_assert_null(herald_crypto_signkey_load(path, err, sizeof(err)), "accepted #%zu", i);
    }
    tmp_path(path, sizeof(path), "missing");
    cr_assert_null(herald_crypto_signkey_load(path, err, sizeof(err)));
    /* A directory is not a key file. */
    cr_assert(chmod(tmpdir, 0700) == 0);
    cr_assert_null(herald_crypto_signkey_load(tmpdir, err, sizeof(err)));
}
