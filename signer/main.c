/*
 * herald-signer -- turns every change into a signed snapshot.
 *
 *   herald-signer keygen --out FILE           write a new key, print its public key
 *   herald-signer verify --url URL --public-key KEY [--state FILE]
 *   herald-signer inspect [--redis URL] [--follow] [B/C ...]   print stored snapshots
 *   herald-signer --redis URL --key FILE [--key FILE ...]   run the signer
 *
 * The publisher appends one event per write to the stream herald:changes (same Lua
 * script as the write, so no write is without its event). The signer reads it through
 * the consumer group "signers": an entry stays pending until it is acknowledged, which
 * happens only after the snapshot covering it is stored. A killed signer therefore
 * loses nothing: on restart it first re-reads its own pending entries (ID 0), and any
 * signer reclaims entries left pending by a dead one (XAUTOCLAIM) once they have been
 * idle for signer_claim_idle_seconds (default a minute: longer than any signature takes,
 * so a live signer's entries are not stolen; a stolen one is only signed twice anyway).
 * Bursts are coalesced: each batch of events is reduced to the set of collections it
 * touches and each is signed once, from its latest state (publish.c, from an in-memory
 * copy of each collection updated with only what changed: cache.c). The batch's entries
 * are acknowledged and deleted from the stream (XACK + XDEL) in the same atomic script
 * that stores the last collection's snapshot, once all the others are stored: one fsync
 * of Redis's append-only file per edit instead of three, and the stream does not grow
 * without bound.
 *
 * At start, and every signer_sweep_seconds, every collection is checked: a published one
 * whose attributes (or this signer's keys) changed is re-published, a deleted or
 * unpublished one removed, and one whose signature expires within the re-sign margin
 * re-signed. This also repairs anything missed while the stream was unavailable. After
 * any reconnection every in-memory copy is dropped (Redis may be another one now).
 *
 * The program is a static library of its modules (herald_signer, which unit tests link)
 * plus this file. Each layer calls only the ones below it:
 *
 *   main.c          settings, keys, signals; dispatches the subcommands
 *   cmd_keygen.c, cmd_verify.c, cmd_inspect.c    one-shot subcommands (lib/ only)
 *   consume.c       the stream consumer, the sweep, the reclaim of dead consumers' entries
 *   publish.c       one collection: read, build, sign, store (signer.h)
 *   cache.c         the in-memory copy of each collection
 *   settings.c      the settings table
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "consume.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "herald/redis.h"
#include "settings.h"
#include "signer.h"

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return herald_signer_cmd_keygen(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return herald_signer_cmd_verify(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "inspect") == 0)
        return herald_signer_cmd_inspect(argc - 1, argv + 1);

    herald_log_init("herald-signer", HERALD_LOG_INFO);
    /* Declared before the first goto: the one cleanup path below frees them. */
    signer_ctx s;
    memset(&s, 0, sizeof(s));
    signer_settings set;
    char *files = NULL;
    char err[512];
    herald_redis_url url;
    int rc = signer_settings_read(&set, argc, argv);
    if (rc >= 0)
        goto done;
    rc = 2;
    if (herald_redis_parse_url(&url, set.redis_url ? set.redis_url : "") < 0) {
        fprintf(stderr, "herald-signer: redis_url: expected redis://host[:port][/db]\n");
        goto done;
    }
    herald_log_init("herald-signer", (enum herald_log_level)set.log_level);
    s.lifetime_ms = set.lifetime_seconds * 1000;
    s.resign_before_ms = set.resign_seconds * 1000;
    s.monitor_lifetime_ms = set.monitor_lifetime_seconds * 1000;
    s.horizon_ms = set.horizon_seconds * 1000;
    s.zstd_level = (int)set.zstd_level;
    s.sweep_ms = set.sweep_seconds * 1000;
    s.claim_idle_ms = set.claim_idle_seconds * 1000;
    s.large_blob_bytes = set.large_blob_bytes;

    if (herald_crypto_init() < 0) {
        fprintf(stderr, "herald-signer: libsodium failed to initialize\n");
        rc = 1;
        goto done;
    }
    files = herald_mem_strdup(set.keys ? set.keys : "");
    for (char *save = NULL, *f = strtok_r(files, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
        herald_signkey *k = herald_crypto_signkey_load(f, err, sizeof(err));
        if (!k) {
            fprintf(stderr, "herald-signer: %s\n", err);
            rc = 1;
            goto done;
        }
        s.keys = herald_mem_realloc(s.keys, (s.nkeys + 1) * sizeof(*s.keys));
        s.keys[s.nkeys++] = k;
        herald_info("signing key %s loaded from %s", herald_crypto_signkey_public(k)->key_id, f);
    }
    free(files);
    files = NULL;
    if (s.nkeys == 0) {
        fprintf(stderr, "herald-signer: no signing key (--key FILE)\n");
        rc = 2;
        goto done;
    }
    herald_buf keyset = HERALD_BUF_INIT;
    for (size_t i = 0; i < s.nkeys; i++) {
        if (i)
            herald_buf_putc(&keyset, ',');
        herald_buf_puts(&keyset, herald_crypto_signkey_public(s.keys[i])->key_id);
    }
    s.keyset = herald_buf_steal(&keyset, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = signer_consume_run(&s, &url, set.consumer, &stopping);
done:
    free(files);
    for (size_t i = 0; i < s.nkeys; i++)
        herald_crypto_signkey_free(s.keys[i]);
    free(s.keys);
    free(s.keyset);
    signer_settings_free(&set);
    return rc;
}
