/*
 * settings -- see settings.h.
 */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"
#include "herald/mem.h"

static const char *const kinds[PUB_PERM_KINDS] = {"read", "write", "create"};

#define S(member) HERALD_FIELD(pub_settings, member)
#define STR_(x) #x
#define STR(x) STR_(x)
#define GRANT(res, kind, def)                                                                      \
    {                                                                                              \
#res "_" #kind "_principals", HERALD_SETTING_STR, def, 0, 0, NULL,                         \
            "principals granted " #kind " on " #res "s (space or comma separated)",                \
            HERALD_NO_FIELD                                                                        \
    }
#define MIB (1024LL * 1024)

static const herald_setting table[] = {
    {"publisher_listen", HERALD_SETTING_LISTEN, "127.0.0.1:8889", 0, 0, "listen",
     "address to serve on", S(listen)},
    {"redis_url", HERALD_SETTING_STR, "redis://127.0.0.1:6379/0", 0, 0, "redis",
     "redis://host[:port][/db] or redis+sentinel://host:port[,host:port...]/master[/db]",
     S(redis_url)},
    {"redis_timeout_ms", HERALD_SETTING_INT, "5000", 10, 600000, NULL,
     "connect and command timeout", S(redis_timeout_ms)},
    {"retry_after_seconds", HERALD_SETTING_INT, "5", 0, 86400, NULL, "Retry-After of a 503",
     S(retry_after_seconds)},
    {"log_level", HERALD_SETTING_LOG_LEVEL, "info", 0, 0, NULL, "debug, info, warn or error",
     S(log_level)},
    {"paginate_by", HERALD_SETTING_INT, "0", 0, 1000000, NULL,
     "objects per page (0: no pagination unless _limit)", S(paginate_by)},
    {"storage_max_fetch_size", HERALD_SETTING_INT, "10000", 1, 10000000, NULL,
     "most records in one collection", S(storage_max_fetch_size)},
    {"batch_max_requests", HERALD_SETTING_INT, "25", 1, 10000, NULL, "most requests in one batch",
     S(batch_max_requests)},
    {"max_request_body_bytes", HERALD_SETTING_INT, "8388608", 1024, 1024 * MIB, NULL,
     "largest request body", S(max_body_bytes)},
    {"publisher_idle_timeout_seconds", HERALD_SETTING_INT, "60", 1, 86400, NULL,
     "close a keep-alive connection idle this long", S(idle_timeout_seconds)},
    {"publisher_header_timeout_seconds", HERALD_SETTING_INT, "10", 1, 3600, NULL,
     "a request head must be complete by then (408)", S(header_timeout_seconds)},
    {"max_object_bytes", HERALD_SETTING_INT, "1048576", 64, 1024 * MIB, NULL,
     "largest canonical data of one object", S(max_object_bytes)},
    {"max_json_depth", HERALD_SETTING_INT, STR(HERALD_JCS_DEFAULT_MAX_DEPTH), 2, 1000, NULL,
     "deepest JSON nesting accepted", S(max_json_depth)},
    {"flush_endpoint_enabled", HERALD_SETTING_BOOL, "false", 0, 0, NULL,
     "POST /__flush__ deletes everything", S(flush_endpoint_enabled)},
    {"readonly", HERALD_SETTING_BOOL, "false", 0, 0, NULL, "refuse every write", S(readonly)},
    {"backoff", HERALD_SETTING_INT, "0", 0, 86400 * 7, NULL, "Backoff header, seconds (0: none)",
     S(backoff)},
    {"eos", HERALD_SETTING_STR, NULL, 0, 0, NULL, "end of service date, YYYY-MM-DD", S(eos)},
    {"eos_message", HERALD_SETTING_STR, NULL, 0, 0, NULL, "end of service message", S(eos_message)},
    {"eos_url", HERALD_SETTING_STR, NULL, 0, 0, NULL, "end of service URL", S(eos_url)},
    {"cors_origins", HERALD_SETTING_STR, "*", 0, 0, NULL,
     "\"*\" or the origins allowed, space or comma separated", S(cors_origins)},
    {"cors_max_age_seconds", HERALD_SETTING_INT, "3600", 0, 86400 * 30, NULL,
     "Access-Control-Max-Age", S(cors_max_age_seconds)},
    {"account_cache_ttl_seconds", HERALD_SETTING_INT, "30", 0, 86400, NULL,
     "how long a checked password is remembered", S(account_cache_ttl_seconds)},
    {"account_workers", HERALD_SETTING_INT, "2", 1, 64, NULL, "argon2id threads",
     S(account_workers)},
    {"project_docs", HERALD_SETTING_STR, "https://kinto.readthedocs.io/", 0, 0, NULL,
     "documentation URL of the root endpoint", S(project_docs)},
    GRANT(bucket, read, ""),
    GRANT(bucket, write, ""),
    GRANT(bucket, create, PUB_AUTHENTICATED),
    GRANT(collection, read, ""),
    GRANT(collection, write, ""),
    GRANT(collection, create, ""),
    GRANT(record, read, ""),
    GRANT(record, write, ""),
    GRANT(record, create, ""),
    GRANT(group, read, ""),
    GRANT(group, write, ""),
    GRANT(group, create, ""),
    GRANT(account, read, ""),
    GRANT(account, write, ""),
    GRANT(account, create, ""),
    /* Collection JSON schemas (schema.h, docs/publisher.md "Schemas"). */
    {"experimental_collection_schema_validation", HERALD_SETTING_BOOL, "false", 0, 0, NULL,
     "validate records (and collections, groups) against their JSON schemas, as Kinto",
     S(schema.enabled)},
    {"schema_cache_size", HERALD_SETTING_INT, "256", 1, 1000000, NULL,
     "compiled JSON schemas kept in memory", S(schema.cache_size)},
    /* Login throttling (throttle.h, docs/publisher.md "Logins"). */
    {"login_throttle_failures", HERALD_SETTING_INT, "5", 1, 1000, NULL,
     "failed logins of one account from one address before its attempts are delayed",
     S(throttle.failures)},
    {"login_throttle_address_failures", HERALD_SETTING_INT, "20", 1, 1000000, NULL,
     "failed logins from one address (any accounts) before all its attempts are delayed",
     S(throttle.address_failures)},
    {"login_throttle_account_failures", HERALD_SETTING_INT, "20", 1, 1000000, NULL,
     "failed logins of one account (all addresses) after which an address that failed on it "
     "is delayed from its next failure on",
     S(throttle.account_failures)},
    {"login_throttle_delay_ms", HERALD_SETTING_INT, "1000", 1, 600000, NULL,
     "first delay past a threshold; doubles with each further failure", S(throttle.delay_ms)},
    {"login_throttle_max_delay_seconds", HERALD_SETTING_INT, "900", 1, 86400, NULL, "longest delay",
     S(throttle.max_delay_seconds)},
    {"login_throttle_decay_seconds", HERALD_SETTING_INT, "60", 1, 86400, NULL,
     "one failure of each count is forgotten per this many seconds", S(throttle.decay_seconds)},
    {"login_throttle_entries", HERALD_SETTING_INT, "65536", 64, 16777216, NULL,
     "slots of the in-memory failure table (about 48 bytes each), fixed at start",
     S(throttle.entries)},
    {"trusted_forwarded_for_depth", HERALD_SETTING_INT, "0", 0, 16, NULL,
     "X-Forwarded-For addresses appended by trusted proxies (0: the peer address)",
     S(throttle.forwarded_depth)},
    /* Replication (store.h, docs/deploy.md "Sentinel"). */
    {"redis_min_replicas", HERALD_SETTING_INT, "0", 0, 100, NULL,
     "replicas that must confirm a write (WAIT) before it is acknowledged (0: no WAIT)",
     S(redis_min_replicas)},
    {"redis_wait_timeout_ms", HERALD_SETTING_INT, "1000", 1, 600000, NULL,
     "how long a write waits for redis_min_replicas (below redis_timeout_ms); then 503",
     S(redis_wait_timeout_ms)},
    /* Attachments (attachment.h, docs/attachments.md). */
    {"admin_dir", HERALD_SETTING_STR, NULL, 0, 0, NULL,
     "directory of the admin page's files (unset: ../share/herald/admin from the program)",
     S(admin_dir)},
    {"admin_read_server_url", HERALD_SETTING_STR, NULL, 0, 0, NULL,
     "read server origin the admin page asks what it serves (http://host:port)",
     S(admin_read_server_url)},
    {"attachments_dir", HERALD_SETTING_STR, NULL, 0, 0, NULL,
     "directory of attachment files (content-addressed); unset: no attachments", S(attach.dir)},
    {"attachment_base_url", HERALD_SETTING_STR, "", 0, 0, NULL,
     "URL clients download attachments from (capabilities.attachments.base_url)",
     S(attach.base_url)},
    {"attachment_max_size_bytes", HERALD_SETTING_INT, "104857600", 0, 1LL << 40, NULL,
     "largest attachment file (0: no limit)", S(attach.max_size_bytes)},
    {"attachment_extensions", HERALD_SETTING_STR, "any", 0, 0, NULL,
     "allowed file extensions, space or comma separated, or 'any'", S(attach.extensions)},
    {"attachment_mimetypes", HERALD_SETTING_STR, NULL, 0, 0, NULL,
     "media type overrides by extension, kinto-attachment's '.ext:type;.ext:type'",
     S(attach.mimetypes)},
    {"attachment_allowed_mimetypes", HERALD_SETTING_STR, NULL, 0, 0, NULL,
     "allowed part Content-Types, space or comma separated (unset: any)",
     S(attach.allowed_mimetypes)},
    {"attachment_keep_old_files", HERALD_SETTING_BOOL, "false", 0, 0, NULL,
     "never delete attachment files (no garbage collection)", S(attach.keep_old_files)},
    {"attachment_gc_grace_seconds", HERALD_SETTING_INT, "2592000", 0, 86400LL * 3650, NULL,
     "an unreferenced attachment file is deleted after this long", S(attach.gc_grace_seconds)},
    {"attachment_gc_interval_seconds", HERALD_SETTING_INT, "3600", 1, 86400 * 7, NULL,
     "time between garbage collection passes", S(attach.gc_interval_seconds)},
    {"attachment_bundle_max_size_bytes", HERALD_SETTING_INT, "20000000", 0, 1LL << 40, NULL,
     "no bundle for a collection whose attachments add up to more (0: no limit)",
     S(attach.bundle_max_size_bytes)},
    {"attachment_bundle_poll_ms", HERALD_SETTING_INT, "1000", 50, 3600000, NULL,
     "how often the bundle builder looks for new signed versions", S(attach.bundle_poll_ms)},
    /* History (history.h, docs/history.md). */
    {"history_enabled", HERALD_SETTING_BOOL, "true", 0, 0, NULL,
     "keep a per-bucket history of every change (GET /buckets/{bid}/history)", S(history_enabled)},
    {"history_exclude_resources", HERALD_SETTING_STR, "", 0, 0, NULL,
     "URIs (/buckets/b, /buckets/b/collections/c) whose changes are not logged",
     S(history_exclude_resources)},
    {"history_exclude_user_ids", HERALD_SETTING_STR, "", 0, 0, NULL,
     "user ids whose changes are not logged", S(history_exclude_user_ids)},
    {"history_max_age_seconds", HERALD_SETTING_INT, "0", 0, 100LL * 365 * 86400, NULL,
     "entries older than this are trimmed and hidden (0: kept)", S(history_max_age_seconds)},
    {"history_max_entries", HERALD_SETTING_INT, "0", 0, 1000000000, NULL,
     "most entries kept per bucket, oldest trimmed first (0: no limit)", S(history_max_entries)},
    {"history_auto_trim_max_count", HERALD_SETTING_INT, "0", 0, 1000000000, NULL,
     "most entries kept per bucket for each user of history_auto_trim_user_ids",
     S(history_auto_trim_max_count)},
    {"history_auto_trim_user_ids", HERALD_SETTING_STR, "", 0, 0, NULL,
     "users (e.g. service accounts) whose entries are trimmed per user",
     S(history_auto_trim_user_ids)},
    /* Review workflow (review.h, resources.h, docs/review.md). */
    {"signer_resources", HERALD_SETTING_STR, "", 0, 0, NULL,
     "review resources, 'source -> [preview ->] destination' URIs, ';' or newline separated "
     "(default with review on: /buckets/main-workspace -> /buckets/main-preview -> "
     "/buckets/main)",
     S(signer_resources)},
    {"signer_to_review_enabled", HERALD_SETTING_BOOL, "false", 0, 0, NULL,
     "changes need a review by another account (two-person rule)", S(signer_to_review_enabled)},
    {"signer_to_review_disabled", HERALD_SETTING_STR, "", 0, 0, NULL,
     "source URIs (bucket or collection) opted out of review", S(signer_to_review_disabled)},
};

const herald_settings_spec pub_settings_spec = {
    .program = "herald-publisher",
    .synopsis = "usage: herald-publisher [--listen HOST:PORT] [--redis URL] [--config FILE]\n"
                "                        [--NAME VALUE ...]\n"
                "\n"
                "Kinto HTTP API (1.23) for editors; stores everything in Redis.\n",
    .epilog = "\n"
              "Environment: HERALD_ADMIN_PASSWORD is the password of the account 'admin'\n"
              "(HTTP Basic auth), which may do everything.\n"
              "\n"
              "Redis must run with appendonly yes and appendfsync always: a write is\n"
              "acknowledged when Redis replies, which is then after its fsync.\n"
              "Basic auth travels in clear: put a TLS-terminating proxy in front.\n",
    .table = table,
    .n = sizeof(table) / sizeof(table[0]),
    .any_flag = 1,
};

/* Read by main.c on its own: a config file is easier to leak than an environment. */
static const char *const other_env[] = {"HERALD_ADMIN_PASSWORD", NULL};

/* Splits a list of principals separated by spaces, commas or newlines. */
static char **
split_list(const char *s)
{
    char **out = NULL;
    size_t n = 0;
    while (s && *s) {
        while (*s == ' ' || *s == ',' || *s == '\n' || *s == '\t')
            s++;
        size_t len = strcspn(s, " ,\n\t");
        if (len == 0)
            break;
        out = herald_mem_realloc(out, (n + 2) * sizeof(char *));
        out[n++] = herald_mem_strndup(s, len);
        out[n] = NULL;
        s += len;
    }
    return out;
}

static void
free_list(char **l)
{
    for (char **p = l; p && *p; p++)
        free(*p);
    free(l);
}

/* What the table cannot say: the date's shape, the grants' lists. */
static int
finish(pub_settings *s, const herald_config *c, char *err, size_t errlen)
{
    if (s->eos) {
        int y, m, d;
        char extra;
        if (sscanf(s->eos, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 || d < 1 ||
            d > 31) {
            snprintf(err, errlen, "eos: expected a date YYYY-MM-DD");
            return -1;
        }
    }
    for (int r = 0; r < PUB_RES_COUNT; r++)
        for (int k = 0; k < PUB_PERM_KINDS; k++) {
            char name[64];
            snprintf(name, sizeof(name), "%s_%s_principals", pub_res_name[r], kinds[k]);
            s->grants.list[r][k] = split_list(herald_settings_get(&pub_settings_spec, c, name));
        }
    return pub_resources_parse(&s->resources, s->signer_resources, s->signer_to_review_enabled,
                               s->signer_to_review_disabled, err, errlen);
}

int
pub_settings_load(pub_settings *s, const herald_config *c, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (herald_settings_store(&pub_settings_spec, c, s, err, errlen) < 0)
        return -1;
    return finish(s, c, err, errlen);
}

int
pub_settings_read(pub_settings *s, int argc, char **argv)
{
    herald_config *c = herald_config_new();
    char err[512];
    int rc = 1;
    memset(s, 0, sizeof(*s));
    switch (herald_settings_read(&pub_settings_spec, argc, argv, other_env, s, c)) {
    case HERALD_SETTINGS_OK:
        rc = -1;
        if (finish(s, c, err, sizeof(err)) < 0) {
            fprintf(stderr, "herald-publisher: %s\n", err);
            rc = 1;
        }
        break;
    case HERALD_SETTINGS_HELP:
        rc = 0;
        break;
    case HERALD_SETTINGS_USAGE:
        rc = 2;
        break;
    case HERALD_SETTINGS_INVALID:
        break;
    }
    herald_config_free(c);
    return rc;
}

void
pub_settings_free(pub_settings *s)
{
    if (!s)
        return;
    herald_settings_free(&pub_settings_spec, s);
    for (int r = 0; r < PUB_RES_COUNT; r++)
        for (int k = 0; k < PUB_PERM_KINDS; k++)
            free_list(s->grants.list[r][k]);
    pub_resources_free(&s->resources);
    memset(s, 0, sizeof(*s));
}

int
pub_settings_origin_allowed(const pub_settings *s, const char *origin)
{
    const char *list = s->cors_origins;
    if (!list)
        return 0;
    return herald_config_list_has(list, "*") || herald_config_list_has(list, origin);
}
