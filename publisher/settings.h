/*
 * settings -- the publisher's configuration, read once at start (config.h precedence:
 * defaults < --config FILE < HERALD_<NAME> environment < flags) and read-only
 * afterwards. Names are Kinto's (without the "kinto." prefix); the table in settings.c
 * is the one place each default, range and flag is written (docs/publisher.md lists
 * them too). Every setting is also a flag: --NAME VALUE, '-' or '_' alike.
 */
#ifndef HERALD_PUB_SETTINGS_H
#define HERALD_PUB_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "herald/config.h"
#include "perms.h"
#include "resources.h"
#include "schema.h"
#include "throttle.h"

typedef struct pub_settings {
    herald_listen listen;
    char *redis_url;
    int64_t redis_timeout_ms; /* connect and command timeout */
    int log_level;
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
    pub_throttle_opts throttle; /* login_throttle_*, trusted_forwarded_for_depth */
    pub_schema_opts schema;     /* experimental_collection_schema_validation, schema_cache_size */
    int64_t redis_min_replicas; /* WAIT for this many replicas after a write (0: none) */
    int64_t redis_wait_timeout_ms; /* WAIT's timeout */
    struct {
        char *dir; /* attachments_dir; NULL: attachments are off */
        char *base_url;
        int64_t max_size_bytes;
        char *extensions;
        char *mimetypes;         /* kinto-attachment's ".ext:type;..." overrides */
        char *allowed_mimetypes; /* allowed part Content-Types (NULL: any) */
        int keep_old_files;      /* the GC never deletes */
        int64_t gc_grace_seconds;
        int64_t gc_interval_seconds;
        int64_t bundle_max_size_bytes; /* bundle.h: larger collections get no bundle */
        int64_t bundle_poll_ms;        /* bundle.h: how often signed versions are polled */
    } attach;                          /* attachment_* (attachment.h) */
    /* History (history.h, docs/history.md). Lists are space or comma separated. */
    int history_enabled;
    char *history_exclude_resources; /* URIs: "/buckets/b", "/buckets/b/collections/c" */
    char *history_exclude_user_ids;
    int64_t history_max_age_seconds;     /* 0: no limit */
    int64_t history_max_entries;         /* per bucket; 0: no limit */
    int64_t history_auto_trim_max_count; /* per listed user and bucket; 0: no trimming */
    char *history_auto_trim_user_ids;
    /* Review workflow (review.h, resources.h, docs/review.md). */
    char *signer_resources;
    int signer_to_review_enabled;
    char *signer_to_review_disabled;
    pub_resources resources; /* parsed from the three above */
    /* The admin page (admin.h, docs/admin.md). */
    char *admin_dir;             /* NULL: next to the program (admin.h) */
    char *admin_read_server_url; /* a read server the page asks what it serves */
} pub_settings;

/* Every setting: the table in settings.c. */
extern const herald_settings_spec pub_settings_spec;

/* Reads the command line, the --config file and the environment into 's'. Returns the
 * process exit status to stop with (0 after --help, 2 on a bad command line, 1 on a bad
 * setting; the reason is printed), or -1 to run. */
int pub_settings_read(pub_settings *s, int argc, char **argv);
/* Fills 's' from 'c' (values, else the table's defaults). Returns 0, or -1 with
 * "name: reason" in 'err'. */
int pub_settings_load(pub_settings *s, const herald_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void pub_settings_free(pub_settings *s); /* NULL-safe */

/* 1 if 'origin' may make cross-origin requests. */
int pub_settings_origin_allowed(const pub_settings *s, const char *origin);

#endif
