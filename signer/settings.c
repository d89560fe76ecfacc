/*
 * settings -- see settings.h. The table is the only place a default, a range or a flag
 * of herald-signer is written; the one rule across two settings (a signature is re-signed
 * before it expires) is checked after it.
 */
#include "settings.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herald/log.h"
#include "herald/mem.h"

#define S(member) HERALD_FIELD(signer_settings, member)
/* Seconds become milliseconds in an int64_t. */
#define MAX_SECONDS (INT64_MAX / 1000)

static const herald_setting table[] = {
    {"redis_url", HERALD_SETTING_STR, "redis://127.0.0.1:6379/0", 0, 0, "redis",
     "redis://host[:port][/db] or redis+sentinel://host:port[,host:port...]/master[/db]",
     S(redis_url)},
    {"signer_keys", HERALD_SETTING_LIST, "", 0, 0, "key", "signing key files, space-separated",
     S(keys)},
    {"consumer", HERALD_SETTING_STR, NULL, 0, 0, "consumer",
     "name in the consumer group (default HOSTNAME-PID)", S(consumer), HERALD_SETTING_FLAG_ONLY},
    {"log_level", HERALD_SETTING_LOG_LEVEL, "info", 0, 0, "log-level", "debug, info, warn or error",
     S(log_level)},
    {"signature_lifetime_seconds", HERALD_SETTING_INT, "172800", 1, MAX_SECONDS, NULL,
     "a signature expires this long after signing", S(lifetime_seconds)},
    {"signature_resign_seconds", HERALD_SETTING_INT, "86400", 0, MAX_SECONDS, NULL,
     "re-sign when less than this remains (below the lifetime)", S(resign_seconds)},
    {"monitor_signature_lifetime_seconds", HERALD_SETTING_INT, "3600", 4, MAX_SECONDS, NULL,
     "the signed monitor expires this long after signing (re-signed at half)",
     S(monitor_lifetime_seconds)},
    {"tombstone_horizon_seconds", HERALD_SETTING_INT, "2592000", 1, MAX_SECONDS, NULL,
     "tombstones older than this are dropped", S(horizon_seconds)},
    {"snapshot_zstd_level", HERALD_SETTING_INT, "3", 1, 19, NULL, "zstd level of the snapshots",
     S(zstd_level)},
    {"signer_sweep_seconds", HERALD_SETTING_INT, "60", 1, MAX_SECONDS, NULL,
     "period of the full check (re-sign, repair)", S(sweep_seconds)},
    {"signer_claim_idle_seconds", HERALD_SETTING_INT, "60", 1, MAX_SECONDS, NULL,
     "reclaim other signers' events pending this long", S(claim_idle_seconds)},
    {"signer_large_blob_bytes", HERALD_SETTING_INT, "4194304", 0, INT64_MAX, NULL,
     "records of a collection from which its full blob may wait 500 ms for a newer version",
     S(large_blob_bytes)},
};

const herald_settings_spec signer_settings_spec = {
    .program = "herald-signer",
    .synopsis = "usage: herald-signer [--redis URL] --key FILE [--key FILE ...] [--config FILE]\n"
                "                     [--consumer NAME] [--log-level LEVEL]\n"
                "       herald-signer keygen --out FILE\n"
                "       herald-signer verify --url CHANGESET_URL --public-key KEY [--state "
                "FILE]\n"
                "       herald-signer inspect [--redis URL] [--public-key KEY] [--follow] "
                "[B/C]\n",
    .table = table,
    .n = sizeof(table) / sizeof(table[0]),
};

/* Read by the publisher, not a setting: no warning when a shared environment has it. */
static const char *const other_env[] = {"HERALD_ADMIN_PASSWORD", NULL};

int
signer_settings_read(signer_settings *s, int argc, char **argv)
{
    char hostname[64] = "signer", consumer[128];
    memset(s, 0, sizeof(*s));
    gethostname(hostname, sizeof(hostname) - 1);
    snprintf(consumer, sizeof(consumer), "%s-%d", hostname, (int)getpid());
    s->consumer = herald_mem_strdup(consumer);
    switch (herald_settings_read(&signer_settings_spec, argc, argv, other_env, s, NULL)) {
    case HERALD_SETTINGS_OK:
        break;
    case HERALD_SETTINGS_HELP:
        return 0;
    case HERALD_SETTINGS_USAGE:
    case HERALD_SETTINGS_INVALID:
        return 2;
    }
    if (s->resign_seconds >= s->lifetime_seconds) {
        fprintf(stderr,
                "herald-signer: signature_resign_seconds (%lld) must be below "
                "signature_lifetime_seconds (%lld)\n",
                (long long)s->resign_seconds, (long long)s->lifetime_seconds);
        return 2;
    }
    if (!s->consumer)
        s->consumer = herald_mem_strdup(consumer); /* --consumer "" */
    return -1;
}

void
signer_settings_free(signer_settings *s)
{
    if (s)
        herald_settings_free(&signer_settings_spec, s);
}
