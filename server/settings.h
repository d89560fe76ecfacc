/*
 * settings -- herald-server's settings: one table (settings.c) gives the defaults, the
 * ranges, the flags, the environment variables and --help (herald/config.h). Precedence:
 * defaults < --config FILE < HERALD_<NAME> environment < flags (DESIGN.md).
 */
#ifndef HERALD_SERVER_SETTINGS_H
#define HERALD_SERVER_SETTINGS_H

#include <stdint.h>

#include "herald/config.h"

typedef struct server_settings {
    herald_listen listen;
    char *redis_url;
    char *public_keys; /* space, tab or comma separated; NULL: none */
    int64_t threads;   /* default: the number of cores */
    char *http_host;   /* NULL: the listen address */
    int log_level;
    int64_t idle_timeout_seconds;
    int64_t header_timeout_seconds;
    int64_t max_connections;
    int64_t drain_timeout_seconds;
    int compression;
    int64_t tombstone_horizon_seconds;
    int64_t paginate_by;
    int64_t record_cache_expires_seconds;
    int64_t record_cache_maximum_expires_seconds;
    int64_t monitor_cache_expires_seconds;
    int64_t monitor_cache_maximum_expires_seconds;
    int64_t backoff_seconds;           /* until (and unless) herald:backoff says otherwise */
    int prefer_replica;                /* through Sentinel: read from a replica (sync.c) */
    int64_t long_poll_max_seconds;     /* cap of Prefer: wait=N; 0: long-poll off */
    int64_t lockstep_max_wait_seconds; /* lockstep.h's bound; 0: lock-step off */
    int64_t parallel_verify_records;   /* loader.h loader_set_parallel_verify */
    int64_t malloc_arenas;             /* glibc malloc arenas at most (0: glibc's default) */
    int64_t kinto_view_idle_seconds;   /* parsed Kinto views unused this long go (0: never) */
    char *attachments_dir;             /* attach.h; NULL: no attachments */
    char *attachment_origin;
    int64_t attachment_fetch_timeout_seconds; /* the whole fetch from the origin (504 after) */
} server_settings;

extern const herald_settings_spec server_settings_spec;

/* Reads the command line, the --config file and the environment into 's'. Returns the
 * process exit status to stop with (0 after --help, 2 on a bad command line, 1 on a bad
 * setting; the reason is printed), or -1 to run. */
int server_settings_read(server_settings *s, int argc, char **argv);
void server_settings_free(server_settings *s); /* NULL-safe */

#endif
