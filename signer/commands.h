/*
 * commands -- herald-signer's one-shot subcommands. main() dispatches
 * "herald-signer keygen ..." and "herald-signer verify ..." here with argv starting at the
 * subcommand name (argv[0] == "keygen"). Each returns the process exit status: 0 on
 * success, 1 on failure (reason on stderr), 2 on bad usage.
 */
#ifndef HERALD_SIGNER_COMMANDS_H
#define HERALD_SIGNER_COMMANDS_H

/* keygen --out FILE: writes a new key file (never overwriting) and prints the public key,
 * base64url (43 characters), as the only line on stdout. */
int herald_signer_cmd_keygen(int argc, char **argv);

/* verify --url CHANGESET_URL --public-key KEY [--public-key KEY...] [--state FILE]
 *        [--now-ms N]
 * Fetches and verifies a changeset as a client does; with --state, fetches the delta since
 * the saved state, merges and verifies it (refetching the full changeset once on failure)
 * and saves the new state atomically. Prints "OK bucket=B collection=C timestamp=V
 * records=N key_id=K" on stdout, or "FAIL reason" on stderr (exit 1). */
int herald_signer_cmd_verify(int argc, char **argv);

/* inspect [--redis URL] [--public-key KEY...] [--follow] [B/C ...]
 * Prints the stored snapshots (or, with --follow, each one as it is announced) as JSON
 * lines; see cmd_inspect.c. */
int herald_signer_cmd_inspect(int argc, char **argv);

#endif
