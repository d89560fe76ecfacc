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

const char *const pub_settings_names[] = {
    "publisher_listen",
    "redis_url",
    "redis_timeout_ms",
    "retry_after_seconds",
    "log_level",
    "paginate_by",
    "storage_max_fetch_size",
    "batch_max_requests",
    "max_request_body_bytes",
    "publisher_idle_timeout_seconds",
    "publisher_header_timeout_seconds",
    "max_object_bytes",
    "max_json_depth",
    "flush_endpoint_enabled",
    "readonly",
    "backoff",
    "eos",
    "eos_message",
    "eos_url",
    "cors_origins",
    "cors_max_age_seconds",
    "account_cache_ttl_seconds",
    "account_workers",
    "project_docs",
    "bucket_read_principals",
    "bucket_write_principals",
    "bucket_create_principals",
    "collection_read_principals",
    "collection_write_principals",
    "collection_create_principals",
    "record_read_principals",
    "record_write_principals",
    "record_create_principals",
    "group_read_principals",
    "group_write_principals",
    "group_create_principals",
    "account_read_principals",
    "account_write_principals",
    "account_create_principals",
    NULL,
};

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

static int
get_int(int64_t *out, const herald_config *c, const char *name, int64_t def, int64_t min,
        int64_t max, char *err, size_t errlen)
{
    if (herald_config_get_int(c, name, def, out) != 0 || *out < min || *out > max) {
        snprintf(err, errlen, "%s: expected an integer from %lld to %lld", name, (long long)min,
                 (long long)max);
        return -1;
    }
    return 0;
}

static int
get_bool(int *out, const herald_config *c, const char *name, int def, char *err, size_t errlen)
{
    if (herald_config_get_bool(c, name, def, out) != 0) {
        snprintf(err, errlen, "%s: expected true or false", name);
        return -1;
    }
    return 0;
}

static char *
get_str(const herald_config *c, const char *name, const char *def)
{
    const char *v = herald_config_get(c, name, def);
    return v && *v ? herald_mem_strdup(v) : NULL;
}

int
pub_settings_load(pub_settings *s, const herald_config *c, char *err, size_t errlen)
{
    int64_t v;
    memset(s, 0, sizeof(*s));
    if (get_int(&v, c, "retry_after_seconds", 5, 0, 86400, err, errlen))
        return -1;
    s->retry_after_seconds = (int)v;
    if (get_int(&v, c, "max_json_depth", HERALD_JCS_DEFAULT_MAX_DEPTH, 2, 1000, err, errlen))
        return -1;
    s->max_json_depth = (int)v;
    if (get_int(&s->paginate_by, c, "paginate_by", 0, 0, 1000000, err, errlen) ||
        get_int(&s->storage_max_fetch_size, c, "storage_max_fetch_size", 10000, 1, 10000000, err,
                errlen) ||
        get_int(&s->batch_max_requests, c, "batch_max_requests", 25, 1, 10000, err, errlen) ||
        get_int(&s->max_body_bytes, c, "max_request_body_bytes", 8 * 1024 * 1024, 1024,
                1024LL * 1024 * 1024, err, errlen) ||
        get_int(&s->max_object_bytes, c, "max_object_bytes", 1024 * 1024, 64, 1024LL * 1024 * 1024,
                err, errlen) ||
        get_int(&s->backoff, c, "backoff", 0, 0, 86400 * 7, err, errlen) ||
        get_int(&s->cors_max_age_seconds, c, "cors_max_age_seconds", 3600, 0, 86400 * 30, err,
                errlen) ||
        get_int(&s->account_cache_ttl_seconds, c, "account_cache_ttl_seconds", 30, 0, 86400, err,
                errlen) ||
        get_int(&s->account_workers, c, "account_workers", 2, 1, 64, err, errlen) ||
        get_int(&s->idle_timeout_seconds, c, "publisher_idle_timeout_seconds", 60, 1, 86400, err,
                errlen) ||
        get_int(&s->header_timeout_seconds, c, "publisher_header_timeout_seconds", 10, 1, 3600, err,
                errlen))
        return -1;
    if (get_bool(&s->flush_endpoint_enabled, c, "flush_endpoint_enabled", 0, err, errlen) ||
        get_bool(&s->readonly, c, "readonly", 0, err, errlen))
        return -1;
    s->eos = get_str(c, "eos", NULL);
    s->eos_message = get_str(c, "eos_message", NULL);
    s->eos_url = get_str(c, "eos_url", NULL);
    s->cors_origins = get_str(c, "cors_origins", "*");
    s->project_docs = get_str(c, "project_docs", "https://kinto.readthedocs.io/");
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
            const char *def = r == PUB_RES_BUCKET && k == PUB_PERM_CREATE ? PUB_AUTHENTICATED : "";
            s->grants.list[r][k] = split_list(herald_config_get(c, name, def));
        }
    return 0;
}

void
pub_settings_free(pub_settings *s)
{
    if (!s)
        return;
    free(s->eos);
    free(s->eos_message);
    free(s->eos_url);
    free(s->cors_origins);
    free(s->project_docs);
    for (int r = 0; r < PUB_RES_COUNT; r++)
        for (int k = 0; k < PUB_PERM_KINDS; k++)
            free_list(s->grants.list[r][k]);
    memset(s, 0, sizeof(*s));
}

int
pub_settings_origin_allowed(const pub_settings *s, const char *origin)
{
    const char *list = s->cors_origins;
    if (!list)
        return 0;
    size_t olen = strlen(origin);
    while (*list) {
        while (*list == ' ' || *list == ',')
            list++;
        size_t len = strcspn(list, " ,");
        if (len == 0)
            break;
        if ((len == 1 && list[0] == '*') || (len == olen && strncmp(list, origin, len) == 0))
            return 1;
        list += len;
    }
    return 0;
}
