/*
 * keygen -- "herald-signer keygen --out FILE": a new Ed25519 signing key.
 *
 * The key file is created with O_EXCL and mode 0600 (herald_crypto_keygen): an existing
 * file is never replaced, so rerunning the command by mistake cannot destroy a key that
 * clients have pinned. The public key is the only line on stdout so scripts can capture
 * it directly: PUB=$(herald-signer keygen --out signer.key).
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "herald/crypto.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: herald-signer keygen --out FILE\n"
               "Writes a new Ed25519 key (the seed, base64url, mode 0600; never overwrites)\n"
               "and prints its public key (43 characters) on stdout.\n");
}

int
herald_signer_cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    char pub[HERALD_PUBKEY_B64_LEN + 1];
    char err[512];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strncmp(a, "--out=", 6) == 0) {
            out = a + 6;
        } else {
            fprintf(stderr, "herald-signer keygen: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!out || !*out) {
        usage(stderr);
        return 2;
    }
    if (herald_crypto_init() < 0) {
        fprintf(stderr, "herald-signer keygen: libsodium initialisation failed\n");
        return 1;
    }
    if (herald_crypto_keygen(out, pub, err, sizeof(err)) < 0) {
        fprintf(stderr, "herald-signer keygen: %s\n", err);
        return 1;
    }
    printf("%s\n", pub);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "herald-signer keygen: cannot write the public key to stdout\n");
        return 1;
    }
    return 0;
}
