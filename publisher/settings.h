/*
 * settings -- the publisher's configuration, read once at start (config.h precedence:
 * defaults < --config FILE < HERALD_<NAME> environment < flags) and read-only
 * afterwards. Names are Kinto's (without the "kinto." prefix); docs/publisher.md lists
 * them all with their defaults.
 */
#ifndef HERALD_PUB_SETTINGS_H
#define HERALD_PUB_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "herald/config.h"
#include "perms.h"

typedef struct pub_settings {
    int retry_after_seconds;
    int max_json_depth;
    int64_t paginate_by;            /* 0: no pagination unless _limit */
    int64_t storage_max_fetch_size; /* most objects in one list (records per collection) */
    int64_t batch_max_requests;
    int64_t max_body_bytes;         /* request body */
    int64_t idle_timeout_seconds;   /* keep-alive connection without a request */
    int64_t header_timeout_seconds; /* a request head must be complete by then (408) */
    int64_t max_object_bytes;       /* one object's canonical data */
    int flush_endpoint_enabled;
    int readonly;
    int64_t backoff; /* seconds; 0: no Backoff header */
    char *eos;       /* "YYYY-MM-DD" or NULL */
    char *eos_message;
    char *eos_url;
    char *cors_origins; /* "*" or a space/comma separated list */
    int64_t cors_max_age_seconds;
    int64_t account_cache_ttl_seconds;
    int64_t account_workers;
    char *project_docs;
    pub_grants grants;
} pub_settings;

/* Every setting name, NULL-terminated (for herald_config_load_env). */
extern const char *const pub_settings_names[];

/* Fills 's' from 'c'. Returns 0, or -1 with "name: reason" in 'err'. */
int pub_settings_load(pub_settings *s, const herald_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void pub_settings_free(pub_settings *s); /* NULL-safe */

/* 1 if 'origin' may make cross-origin requests. */
int pub_settings_origin_allowed(const pub_settings *s, const char *origin);

#endif
