/*
 * settings -- see settings.h. The table is the only place a default, a range or a flag
 * of herald-server is written.
 */
#include "settings.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "herald/log.h"

#define S(member) HERALD_FIELD(server_settings, member)
#define DAY 86400

static const herald_setting table[] = {
    {"server_listen", HERALD_SETTING_LISTEN, "127.0.0.1:8888", 0, 0, "listen",
     "address to serve on", S(listen)},
    {"redis_url", HERALD_SETTING_STR, "redis://127.0.0.1:6379/0", 0, 0, "redis",
     "redis://host:port/db or redis+sentinel://host:port[,host:port...]/master[/db]", S(redis_url)},
    {"public_keys", HERALD_SETTING_LIST, "", 0, 0, "public-key",
     "signer public keys (base64url, 43 characters); required: only snapshots verified by one "
     "are served",
     S(public_keys)},
    {"server_threads", HERALD_SETTING_INT, NULL, 1, 256, "threads",
     "worker threads (default: the number of cores)", S(threads)},
    {"http_host", HERALD_SETTING_STR, NULL, 0, 0, "public-host",
     "host of monitor/changes entries (default: the listen address)", S(http_host)},
    {"log_level", HERALD_SETTING_LOG_LEVEL, "info", 0, 0, "log-level", "debug, info, warn or error",
     S(log_level)},
    {"server_idle_timeout_seconds", HERALD_SETTING_INT, "60", 1, DAY, NULL,
     "close a keep-alive connection idle this long", S(idle_timeout_seconds)},
    {"server_header_timeout_seconds", HERALD_SETTING_INT, "10", 1, 3600, NULL,
     "a request head must be complete by then", S(header_timeout_seconds)},
    {"server_max_connections", HERALD_SETTING_INT, "50000", 1, 10000000, NULL,
     "open connections at most", S(max_connections)},
    {"server_drain_timeout_seconds", HERALD_SETTING_INT, "10", 0, 3600, NULL,
     "on SIGTERM, the longest wait for responses being written", S(drain_timeout_seconds)},
    {"server_compression", HERALD_SETTING_BOOL, "true", 0, 0, NULL, "gzip and zstd bodies",
     S(compression)},
    {"tombstone_horizon_seconds", HERALD_SETTING_INT, "2592000", 1, 100LL * 365 * DAY, NULL,
     "as the signer's", S(tombstone_horizon_seconds)},
    {"paginate_by", HERALD_SETTING_INT, "0", 0, 1000000, NULL, "records per page (0: none)",
     S(paginate_by)},
    {"record_cache_expires_seconds", HERALD_SETTING_INT, "60", 0, INT32_MAX, NULL,
     "Cache-Control max-age of records", S(record_cache_expires_seconds)},
    {"record_cache_maximum_expires_seconds", HERALD_SETTING_INT, "3600", 0, INT32_MAX, NULL,
     "largest max-age a client may ask for", S(record_cache_maximum_expires_seconds)},
    {"monitor.changes.record_cache_expires_seconds", HERALD_SETTING_INT, "60", 0, INT32_MAX, NULL,
     "the same, for monitor/changes", S(monitor_cache_expires_seconds)},
    {"monitor.changes.record_cache_maximum_expires_seconds", HERALD_SETTING_INT, "3600", 0,
     INT32_MAX, NULL, "the same, for monitor/changes", S(monitor_cache_maximum_expires_seconds)},
    {"server_backoff_seconds", HERALD_SETTING_INT, "0", 0, DAY, "backoff",
     "Backoff header (seconds) on every response, 0: none; the Redis key herald:backoff, "
     "while it exists, overrides it",
     S(backoff_seconds)},
    {"redis_prefer_replica", HERALD_SETTING_BOOL, "false", 0, 0, "redis-prefer-replica",
     "through Sentinel (redis+sentinel://), load and subscribe from a healthy replica when "
     "there is one",
     S(prefer_replica)},
    {"long_poll_max_seconds", HERALD_SETTING_INT, "60", 0, 3600, NULL,
     "longest hold of a request with Prefer: wait=N (long-poll); 0: never hold",
     S(long_poll_max_seconds)},
    {"server_lockstep_max_wait_seconds", HERALD_SETTING_INT, "30", 0, 3600, NULL,
     "with a signed monitor, a loaded version is served only with a monitor that commits to "
     "it, and waits at most this long for one (then the newest versions are served with the "
     "unsigned monitor); 0: no lock-step",
     S(lockstep_max_wait_seconds)},
    {"server_parallel_verify_records", HERALD_SETTING_INT, "10000", 0, 1000000000LL, NULL,
     "a version built from a delta with at least this many records is verified on a thread "
     "of its own while its bodies are built (0: always one after the other)",
     S(parallel_verify_records)},
    {"server_malloc_arenas", HERALD_SETTING_INT, "2", 0, 64, NULL,
     "glibc malloc arenas at most (0: glibc's default of 8 per core); few arenas keep memory "
     "freed by one thread reusable by the others",
     S(malloc_arenas)},
    {"server_kinto_view_idle_seconds", HERALD_SETTING_INT, "600", 0, 100LL * 365 * DAY, NULL,
     "a collection's parsed records (built for Kinto's records list on first use) are dropped "
     "when unused this long (0: never)",
     S(kinto_view_idle_seconds)},
    /* Attachments (attach.h, docs/attachments.md). */
    {"attachments_dir", HERALD_SETTING_STR, NULL, 0, 0, "attachments-dir",
     "attachment files (the publisher's directory, or this server's own); unset: none",
     S(attachments_dir)},
    {"attachment_origin", HERALD_SETTING_STR, NULL, 0, 0, "attachment-origin",
     "base URL to fetch missing attachment files from, checked by SHA-256", S(attachment_origin)},
    {"attachment_fetch_timeout_seconds", HERALD_SETTING_INT, "300", 1, DAY,
     "attachment-fetch-timeout-seconds",
     "a request to attachment_origin (a missing file, then its type) not complete this long "
     "after it began is abandoned: the requests waiting for the file get 504",
     S(attachment_fetch_timeout_seconds)},
};

const herald_settings_spec server_settings_spec = {
    .program = "herald-server",
    .synopsis = "usage: herald-server [options]\n\nServes verified snapshots from memory.\n",
    .table = table,
    .n = sizeof(table) / sizeof(table[0]),
};

/* Read by the publisher, not a setting: no warning when a shared environment has it. */
static const char *const other_env[] = {"HERALD_ADMIN_PASSWORD", NULL};

int
server_settings_read(server_settings *s, int argc, char **argv)
{
    memset(s, 0, sizeof(*s));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads = cores > 0 ? cores : 1;
    herald_log_init("herald-server", HERALD_LOG_INFO);
    switch (herald_settings_read(&server_settings_spec, argc, argv, other_env, s, NULL)) {
    case HERALD_SETTINGS_OK:
        return -1;
    case HERALD_SETTINGS_HELP:
        return 0;
    case HERALD_SETTINGS_USAGE:
        return 2;
    case HERALD_SETTINGS_INVALID:
        break;
    }
    return 1;
}

void
server_settings_free(server_settings *s)
{
    if (s)
        herald_settings_free(&server_settings_spec, s);
}
