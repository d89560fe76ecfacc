/*
 * settings -- herald-signer's settings: one table (settings.c) gives the defaults, the
 * ranges, the flags, the environment variables and --help (herald/config.h). Precedence:
 * defaults < --config FILE < HERALD_<NAME> environment < flags.
 */
#ifndef HERALD_SIGNER_SETTINGS_H
#define HERALD_SIGNER_SETTINGS_H

#include <stdint.h>

#include "herald/config.h"

typedef struct signer_settings {
    char *redis_url;
    char *keys;     /* key files, space-separated; NULL: none */
    char *consumer; /* consumer name in the group; default HOSTNAME-PID */
    int log_level;
    int64_t lifetime_seconds;
    int64_t resign_seconds;
    int64_t monitor_lifetime_seconds;
    int64_t horizon_seconds;
    int64_t zstd_level;
    int64_t sweep_seconds;
    int64_t claim_idle_seconds;
    int64_t large_blob_bytes;
} signer_settings;

extern const herald_settings_spec signer_settings_spec;

/* Reads the command line, the --config file and the environment into 's'. Returns the
 * process exit status to stop with (0 after --help, 2 on a bad command line or setting;
 * the reason is printed), or -1 to run. */
int signer_settings_read(signer_settings *s, int argc, char **argv);
void signer_settings_free(signer_settings *s); /* NULL-safe */

#endif
