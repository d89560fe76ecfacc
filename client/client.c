/*
 * client -- see include/herald/client.h for the contract. How it is built:
 *
 *   herald_client_sync()
 *     └─ monitor GET ─┬─ for each followed collection whose version moved:
 *                     │    sync_collection(): delta GET → herald_client_verify()
 *                     │      └─ on failure: full GET → herald_client_verify() (once)
 *                     │    store (state_dir/B/C.json, atomic) → swap in memory → on_change
 *                     └─ client.json (monitor version, backoff deadline), atomic
 *
 *   herald_client_watch(): a loop of monitor GETs on a curl handle of its own, with
 *     If-None-Match (the last verified monitor's ETag) and Prefer: wait=N; each 200 goes
 *     through apply_monitor(), the very code herald_client_sync() runs after its GET, so
 *     watch and poll cannot differ in what they accept. Only apply_monitor() takes
 *     sync_lock; the held request does not, so syncs and readers never wait behind it.
 *
 * The verified state of a collection is one JSON object,
 *   {"bucket","collection","timestamp":V,"expires":E,"records":[by id],"signatures":[...]}
 * written canonically (JCS) to disk. Keeping the signatures makes the file self-proving:
 * a load re-derives the canonical bytes and checks the signature (not the expiry), so a
 * file damaged or edited on disk is never handed to the application.
 *
 * Locks: 'sync_lock' serializes everything that talks to the network (one curl handle,
 * at most one request in flight per collection); 'data_lock' guards the in-memory states
 * and is held only to read or swap a pointer (states are immutable once verified), so
 * readers never wait for the network. Order: sync_lock, then data_lock.
 *
 * herald_client_verify() classifies failures before calling lib/verify.c, which does the
 * merge and the cryptographic check: no pinned key → EKEY, older than the last verified
 * version → EROLLBACK, expired → EEXPIRED, anything else that does not verify → EINVALID.
 */
#include "herald/client.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "herald/crypto.h"
#include "herald/err.h"
#include "herald/jcs.h"
#include "herald/mem.h"
#include "herald/monitor.h"
#include "herald/snapshot.h"
#include "herald/verify.h"
#include "http.h"
#include "store.h"

#define STATE_MAX_BYTES ((size_t)1 << 30)
#define JSON_MAX_DEPTH 64

typedef struct coll {
    char *bucket, *collection;
    json_t *state; /* verified, immutable; NULL if none */
    json_t *ahead; /* verified but newer than the monitor that named the sync (the server
                    * switched between our two requests); adopted without a second fetch
                    * if the next monitor names exactly it. Under sync_lock. */
    int from_dump;
    herald_client_status last_status;
    char last_error[256];
    struct coll *next;
} coll;

struct herald_client {
    char *url; /* without a trailing '/' */
    herald_pubkey *keys;
    char **key_strs;
    size_t nkeys;
    char *state_dir, *dump_dir, *att_dir;
    herald_client_filter_fn filter;
    void *filter_arg;
    herald_client_changed_fn on_change;
    void *on_change_arg;
    herald_chttp *http;
    herald_chttp_opts http_opts; /* for the watch's own connection */
    char *ca_file;
    long retry_base_ms;
    atomic_int watching;   /* herald_client_watch() calls running */
    atomic_int watch_stop; /* herald_client_watch_stop() was called during one of them */
    pthread_mutex_t sync_lock, data_lock;
    coll *colls;
    int64_t monitor_ts;      /* M of the last verified signed monitor (rollback floor) */
    int64_t monitor_expires; /* its expiry */
    int all_committed;       /* the last sync found everything at the monitor's V and H */
    int monitor_behind;      /* that sync was served a verified version newer than the
                              * monitor's: the server moved on between the two answers */
    int64_t checked_at;      /* when that sync ran */
    int64_t backoff_until;   /* ms since the epoch */
    char *att_base_url;      /* capabilities.attachments.base_url, once fetched */
    herald_client_stats stats;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;

static void
init_globals(void)
{
    init_ok = herald_crypto_init() == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
herald_client_strerror(herald_client_status s)
{
    switch (s) {
    case HERALD_CLIENT_OK:
        return "ok";
    case HERALD_CLIENT_EUSAGE:
        return "usage";
    case HERALD_CLIENT_ENETWORK:
        return "network";
    case HERALD_CLIENT_EBACKOFF:
        return "backoff";
    case HERALD_CLIENT_EPARSE:
        return "parse";
    case HERALD_CLIENT_EKEY:
        return "unknown_key";
    case HERALD_CLIENT_EEXPIRED:
        return "expired";
    case HERALD_CLIENT_EROLLBACK:
        return "rollback";
    case HERALD_CLIENT_EINVALID:
        return "invalid";
    case HERALD_CLIENT_ENOTFOUND:
        return "not_found";
    case HERALD_CLIENT_ESTORAGE:
        return "storage";
    case HERALD_CLIENT_EATTACHMENT:
        return "attachment";
    case HERALD_CLIENT_EUNCOMMITTED:
        return "uncommitted";
    }
    return "unknown";
}

/* Kinto ids: ^[a-zA-Z0-9][a-zA-Z0-9_-]*$ (also what makes them safe in paths and URLs). */
static int
valid_id(const char *s)
{
    if (!s || !*s || *s == '-' || *s == '_')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int
get_int(int64_t *out, const json_t *v)
{
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (!(fabs(d) <= 9007199254740991.0) || d != floor(d))
        return -1;
    *out = (int64_t)d;
    return 0;
}

static json_t *
parse_body(const char *data, size_t len, char *err, size_t errlen)
{
    return herald_jcs_parse(data, len, 0, JSON_MAX_DEPTH, err, errlen);
}

/* ---- verification (stateless) ---- */

static herald_client_status
verify_with_keys(json_t **state_out, const json_t *changeset, const json_t *prev,
                 int64_t min_version, const char *bucket, const char *collection,
                 const herald_pubkey *keys, size_t nkeys, int64_t now, char *err, size_t errlen)
{
    const json_t *meta, *sigs, *entry;
    int64_t ts = 0;
    herald_head head;
    json_t *st = NULL;
    char why[256];
    herald_verify_opts vo = {
        .keys = keys, .nkeys = nkeys, .now_ms = now, .bucket = bucket, .collection = collection};

    *state_out = NULL;
    meta = json_object_get(changeset, "metadata");
    sigs = json_object_get(meta, "signatures");
    if (!json_is_object(changeset) || !json_is_array(sigs) ||
        get_int(&ts, json_object_get(changeset, "timestamp")) < 0 ||
        !json_is_array(json_object_get(changeset, "changes"))) {
        herald_err_set(err, errlen, "not a changeset (metadata.signatures, timestamp, changes)");
        return HERALD_CLIENT_EPARSE;
    }
    entry = herald_snapshot_find_entry(sigs, keys, nkeys, NULL);
    if (!entry || !json_is_string(json_object_get(entry, "mode")) ||
        strcmp(json_string_value(json_object_get(entry, "mode")), "ed25519") != 0) {
        herald_err_set(err, errlen, "no ed25519 signature by a pinned key");
        return HERALD_CLIENT_EKEY;
    }
    if (herald_snapshot_head_parse(&head, json_object_get(entry, "head"), why, sizeof(why)) < 0) {
        herald_err_set(err, errlen, "signed head: %s", why);
        return HERALD_CLIENT_EINVALID;
    }
    if (prev) {
        int64_t pts = 0;
        if (get_int(&pts, json_object_get(prev, "timestamp")) < 0) {
            herald_err_set(err, errlen, "previous state has no timestamp");
            return HERALD_CLIENT_EUSAGE;
        }
        if (pts > min_version)
            min_version = pts;
    }
    if (ts < min_version || head.timestamp < min_version) {
        herald_err_set(err, errlen, "version %lld is older than the verified %lld", (long long)ts,
                       (long long)min_version);
        return HERALD_CLIENT_EROLLBACK;
    }
    if (now > 0 && head.expires <= now) {
        herald_err_set(err, errlen, "signature expired at %lld (now %lld)", (long long)head.expires,
                       (long long)now);
        return HERALD_CLIENT_EEXPIRED;
    }
    if (herald_verify_changeset(&st, changeset, prev, &vo, why, sizeof(why)) < 0) {
        herald_err_set(err, errlen, "%s", why);
        return HERALD_CLIENT_EINVALID;
    }
    json_object_set_new(st, "expires", json_integer((json_int_t)head.expires));
    json_object_set_new(st, "signatures", json_deep_copy(sigs));
    *state_out = st;
    return HERALD_CLIENT_OK;
}

static int
parse_keys(herald_pubkey *out, const char *const *strs, size_t n, char *err, size_t errlen)
{
    if (n == 0) {
        herald_err_set(err, errlen, "no public key pinned");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!strs[i] || herald_crypto_pubkey_parse(&out[i], strs[i]) < 0) {
            herald_err_set(err, errlen, "public key %zu is not 43 base64url characters", i + 1);
            return -1;
        }
    return 0;
}

herald_client_status
herald_client_verify(json_t **state_out, const json_t *changeset, const json_t *prev,
                     int64_t min_version, const char *bucket, const char *collection,
                     const char *const *public_keys, size_t nkeys, int64_t now, char *err,
                     size_t errlen)
{
    herald_client_status st;
    herald_pubkey *keys;
    *state_out = NULL;
    pthread_once(&init_once, init_globals);
    if (!init_ok || !valid_id(bucket) || !valid_id(collection) || nkeys == 0) {
        herald_err_set(err, errlen, "bad arguments");
        return HERALD_CLIENT_EUSAGE;
    }
    keys = herald_mem_calloc(nkeys, sizeof(*keys));
    if (parse_keys(keys, public_keys, nkeys, err, errlen) < 0) {
        free(keys);
        return HERALD_CLIENT_EUSAGE;
    }
    st = verify_with_keys(state_out, changeset, prev, min_version, bucket, collection, keys, nkeys,
                          now, err, errlen);
    free(keys);
    return st;
}

/* A stored state or a packaged dump, re-verified (not for expiry). NULL if it does not
 * verify; 'is_changeset': the JSON is a served changeset (a dump), else a stored state. */
static json_t *
load_verified(herald_client *c, const char *dir, const char *b, const char *col, int is_changeset,
              char *err, size_t errlen)
{
    herald_buf raw = HERALD_BUF_INIT;
    char sub[PATH_MAX], name[PATH_MAX];
    json_t *doc = NULL, *cs = NULL, *st = NULL;
    int rc;
    snprintf(sub, sizeof(sub), "%s/%s", dir, b);
    snprintf(name, sizeof(name), "%s.json", col);
    rc = herald_cstore_read(sub, name, STATE_MAX_BYTES, &raw);
    if (rc != 0) {
        if (rc < 0)
            herald_err_set(err, errlen, "cannot read %s/%s", sub, name);
        goto out;
    }
    doc = parse_body(raw.data, raw.len, err, errlen);
    if (!doc)
        goto out;
    if (is_changeset) {
        cs = json_incref(doc);
    } else {
        cs = json_pack("{s:{s:O?},s:O?,s:O?}", "metadata", "signatures",
                       json_object_get(doc, "signatures"), "timestamp",
                       json_object_get(doc, "timestamp"), "changes",
                       json_object_get(doc, "records"));
        if (!cs) {
            herald_err_set(err, errlen, "stored state is malformed");
            goto out;
        }
    }
    if (verify_with_keys(&st, cs, NULL, 0, b, col, c->keys, c->nkeys, 0, err, errlen) !=
        HERALD_CLIENT_OK)
        st = NULL;
out:
    json_decref(doc);
    json_decref(cs);
    herald_buf_free(&raw);
    return st;
}

/* ---- client.json ---- */

static int
save_client_state(herald_client *c, char *err, size_t errlen)
{
    herald_buf out = HERALD_BUF_INIT;
    json_t *o = json_pack("{s:I,s:I,s:I,s:b,s:I}", "monitor_timestamp", (json_int_t)c->monitor_ts,
                          "monitor_expires", (json_int_t)c->monitor_expires, "backoff_until",
                          (json_int_t)c->backoff_until, "all_committed", c->all_committed,
                          "checked_at", (json_int_t)c->checked_at);
    int rc = herald_jcs_dump(&out, o);
    if (rc == 0)
        rc = herald_cstore_write(c->state_dir, "client.json", out.data, out.len, err, errlen);
    json_decref(o);
    herald_buf_free(&out);
    return rc;
}

static void
load_client_state(herald_client *c)
{
    herald_buf raw = HERALD_BUF_INIT;
    json_t *o;
    if (herald_cstore_read(c->state_dir, "client.json", 1 << 16, &raw) != 0)
        goto out;
    o = parse_body(raw.data, raw.len, NULL, 0);
    if (o) {
        int64_t v = 0;
        if (get_int(&v, json_object_get(o, "monitor_timestamp")) == 0 && v >= 0)
            c->monitor_ts = v;
        if (get_int(&v, json_object_get(o, "backoff_until")) == 0 && v >= 0)
            c->backoff_until = v;
        if (get_int(&v, json_object_get(o, "monitor_expires")) == 0 && v >= 0)
            c->monitor_expires = v;
        if (get_int(&v, json_object_get(o, "checked_at")) == 0 && v >= 0)
            c->checked_at = v;
        c->all_committed = json_is_true(json_object_get(o, "all_committed"));
        json_decref(o);
    }
out:
    herald_buf_free(&raw);
}

/* ---- life cycle ---- */

static char *
join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = herald_mem_alloc(n);
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

herald_client *
herald_client_new(const herald_client_config *cfg, char *err, size_t errlen)
{
    herald_client *c;
    herald_chttp_opts ho;
    size_t n;
    pthread_once(&init_once, init_globals);
    if (!init_ok) {
        herald_err_set(err, errlen, "libsodium or libcurl failed to initialize");
        return NULL;
    }
    if (!cfg || !cfg->state_dir ||
        (cfg->server_url && strncmp(cfg->server_url, "http://", 7) != 0 &&
         strncmp(cfg->server_url, "https://", 8) != 0)) {
        herald_err_set(err, errlen, "state_dir is needed, and server_url is http:// or https://");
        return NULL;
    }
    c = herald_mem_calloc(1, sizeof(*c));
    /* Without a server the client only reads what it holds (state, dump). */
    c->url = herald_mem_strdup(cfg->server_url ? cfg->server_url : "");
    n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    c->nkeys = cfg->npublic_keys;
    c->keys = herald_mem_calloc(c->nkeys + 1, sizeof(*c->keys));
    pthread_mutex_init(&c->sync_lock, NULL);
    pthread_mutex_init(&c->data_lock, NULL);
    c->state_dir = herald_mem_strdup(cfg->state_dir);
    c->att_dir = join(cfg->state_dir, "attachments");
    c->dump_dir = cfg->dump_dir ? herald_mem_strdup(cfg->dump_dir) : NULL;
    c->filter = cfg->filter;
    c->filter_arg = cfg->filter_arg;
    c->on_change = cfg->on_change;
    c->on_change_arg = cfg->on_change_arg;
    if (parse_keys(c->keys, cfg->public_keys, c->nkeys, err, errlen) < 0 ||
        herald_cstore_mkdirs(c->state_dir, err, errlen) < 0)
        goto fail;
    ho.connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    ho.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
    ho.max_retries = cfg->max_retries < 0 ? 0 : cfg->max_retries == 0 ? 2 : cfg->max_retries;
    ho.retry_base_ms = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 250;
    ho.max_body_bytes = cfg->max_body_bytes > 0 ? cfg->max_body_bytes : (size_t)256 << 20;
    c->ca_file = cfg->ca_file ? herald_mem_strdup(cfg->ca_file) : NULL;
    ho.ca_file = c->ca_file;
    c->http_opts = ho;
    c->retry_base_ms = ho.retry_base_ms;
    c->http = herald_chttp_new(&ho, err, errlen);
    if (!c->http)
        goto fail;
    load_client_state(c);
    return c;
fail:
    herald_client_free(c);
    return NULL;
}

void
herald_client_free(herald_client *c)
{
    if (!c)
        return;
    coll *k = c->colls;
    while (k) {
        coll *next = k->next;
        json_decref(k->state);
        json_decref(k->ahead);
        free(k->bucket);
        free(k->collection);
        free(k);
        k = next;
    }
    herald_chttp_free(c->http);
    free(c->ca_file);
    pthread_mutex_destroy(&c->sync_lock);
    pthread_mutex_destroy(&c->data_lock);
    free(c->url);
    free(c->keys);
    free(c->state_dir);
    free(c->dump_dir);
    free(c->att_dir);
    free(c->att_base_url);
    free(c);
}

static coll *
find_coll(herald_client *c, const char *b, const char *col)
{
    for (coll *k = c->colls; k; k = k->next)
        if (strcmp(k->bucket, b) == 0 && strcmp(k->collection, col) == 0)
            return k;
    return NULL;
}

herald_client_status
herald_client_follow(herald_client *c, const char *b, const char *col)
{
    char err[256] = "";
    json_t *st = NULL;
    int from_dump = 0;
    if (!c || !valid_id(b) || !valid_id(col))
        return HERALD_CLIENT_EUSAGE;
    pthread_mutex_lock(&c->sync_lock);
    if (find_coll(c, b, col)) {
        pthread_mutex_unlock(&c->sync_lock);
        return HERALD_CLIENT_OK;
    }
    st = load_verified(c, c->state_dir, b, col, 0, err, sizeof(err));
    if (!st && c->dump_dir) {
        st = load_verified(c, c->dump_dir, b, col, 1, err, sizeof(err));
        from_dump = st != NULL;
    }
    coll *k = herald_mem_calloc(1, sizeof(*k));
    k->bucket = herald_mem_strdup(b);
    k->collection = herald_mem_strdup(col);
    k->state = st;
    k->from_dump = from_dump;
    /* A state that did not verify is reported, not fatal: the next sync replaces it. */
    if (!st && err[0]) {
        k->last_status = HERALD_CLIENT_EINVALID;
        snprintf(k->last_error, sizeof(k->last_error), "stored state ignored: %s", err);
    }
    pthread_mutex_lock(&c->data_lock);
    k->next = c->colls;
    c->colls = k;
    pthread_mutex_unlock(&c->data_lock);
    pthread_mutex_unlock(&c->sync_lock);
    return HERALD_CLIENT_OK;
}

/* ---- sync ---- */

static void
note_backoff(herald_client *c, const herald_chttp_resp *r)
{
    int64_t secs = r->backoff_s;
    if (r->retry_after_s > secs && (r->status == 429 || r->status == 503))
        secs = r->retry_after_s;
    c->stats.requests += r->requests;
    c->stats.bytes_received += r->bytes;
    if (secs > 0) {
        int64_t until = now_ms() + secs * 1000;
        if (until > c->backoff_until) {
            c->backoff_until = until;
            (void)save_client_state(c, NULL, 0);
        }
    }
}

/* GETs 'url' and parses the JSON body into '*out'. */
static herald_client_status
get_json(herald_client *c, const char *url, json_t **out, char *err, size_t errlen)
{
    herald_chttp_resp r;
    herald_client_status st = HERALD_CLIENT_OK;
    *out = NULL;
    herald_chttp_resp_init(&r);
    if (herald_chttp_get(c->http, url, NULL, &r, err, errlen) < 0) {
        st = r.status == 404 ? HERALD_CLIENT_ENOTFOUND : HERALD_CLIENT_ENETWORK;
    } else {
        *out = parse_body(r.body.data ? r.body.data : "", r.body.len, err, errlen);
        if (!*out)
            st = HERALD_CLIENT_EPARSE;
    }
    note_backoff(c, &r);
    herald_chttp_resp_free(&r);
    return st;
}

static void
set_status(herald_client *c, coll *k, herald_client_status st, const char *err)
{
    pthread_mutex_lock(&c->data_lock);
    k->last_status = st;
    snprintf(k->last_error, sizeof(k->last_error), "%s", st == HERALD_CLIENT_OK ? "" : err);
    pthread_mutex_unlock(&c->data_lock);
}

static herald_client_status
store_state(herald_client *c, coll *k, json_t *st, char *err, size_t errlen)
{
    herald_buf out = HERALD_BUF_INIT;
    char sub[PATH_MAX], name[PATH_MAX];
    int rc;
    snprintf(sub, sizeof(sub), "%s/%s", c->state_dir, k->bucket);
    snprintf(name, sizeof(name), "%s.json", k->collection);
    rc = herald_jcs_dump(&out, st);
    if (rc == 0) {
        struct stat sb;
        int existed = stat(sub, &sb) == 0;
        rc = herald_cstore_mkdirs(sub, err, errlen);
        /* A new directory entry must itself be durable before its file counts. */
        if (rc == 0 && !existed)
            rc = herald_cstore_sync_dir(c->state_dir);
        if (rc == 0)
            rc = herald_cstore_write(sub, name, out.data, out.len, err, errlen);
    } else {
        herald_err_set(err, errlen, "state cannot be serialized");
    }
    herald_buf_free(&out);
    return rc == 0 ? HERALD_CLIENT_OK : HERALD_CLIENT_ESTORAGE;
}

/* The head.sha256 of 'state''s signature by the first pinned key that has one, into
 * 'out'. Returns 0, or -1 when there is none. */
static int
state_sha(herald_client *c, const json_t *state, char out[65])
{
    const json_t *e =
        herald_snapshot_find_entry(json_object_get(state, "signatures"), c->keys, c->nkeys, NULL);
    herald_head h;
    if (!e || herald_snapshot_head_parse(&h, json_object_get(e, "head"), NULL, 0) < 0)
        return -1;
    memcpy(out, h.sha256, 65);
    return 0;
}

/* Fetches bucket/collection at 'version' (the monitor's V, with records hash 'sha', its
 * H): a delta, then once the full changeset. A verified answer that is not exactly V and
 * H is refused (EUNCOMMITTED): the monitor commits to another state. */
static herald_client_status
sync_collection(herald_client *c, coll *k, int64_t version, const char *sha, int *changed)
{
    char err[256] = "", url[PATH_MAX];
    json_t *prev, *st = NULL;
    int64_t pts = 0;
    herald_client_status rc = HERALD_CLIENT_OK;

    pthread_mutex_lock(&c->data_lock);
    prev = json_incref(k->state);
    pthread_mutex_unlock(&c->data_lock);
    if (prev)
        (void)get_int(&pts, json_object_get(prev, "timestamp"));
    if (k->ahead) {
        json_t *a = k->ahead;
        int64_t ats = 0;
        char asha[65] = "";
        k->ahead = NULL;
        (void)get_int(&ats, json_object_get(a, "timestamp"));
        if (ats == version && state_sha(c, a, asha) == 0 && strcmp(asha, sha) == 0)
            st = a; /* verified when fetched; now committed to by a verified monitor */
        else
            json_decref(a);
    }
    for (int attempt = 0; !st && attempt < 2; attempt++) {
        json_t *cs = NULL;
        int delta = attempt == 0 && prev;
        if (delta)
            snprintf(url, sizeof(url),
                     "%s/buckets/%s/collections/%s/changeset?_expected=%lld&_since=%lld", c->url,
                     k->bucket, k->collection, (long long)version, (long long)pts);
        else
            snprintf(url, sizeof(url), "%s/buckets/%s/collections/%s/changeset?_expected=%lld",
                     c->url, k->bucket, k->collection, (long long)version);
        rc = get_json(c, url, &cs, err, sizeof(err));
        if (rc == HERALD_CLIENT_OK)
            rc = verify_with_keys(&st, cs, delta ? prev : NULL, pts, k->bucket, k->collection,
                                  c->keys, c->nkeys, now_ms(), err, sizeof(err));
        if (rc == HERALD_CLIENT_OK) {
            int64_t nts = 0;
            char nsha[65] = "";
            (void)get_int(&nts, json_object_get(st, "timestamp"));
            if (nts > version) {
                /* Verified, and newer than this monitor names: the read server switched
                 * to a newer (monitor, versions) pair between our two requests (it
                 * publishes them in lock-step). Not stored -- this monitor does not
                 * commit to it -- and no failure: the caller asks for the monitor again,
                 * and adopts this copy if that monitor names it. */
                herald_err_set(err, sizeof(err),
                               "served version %lld is newer than the signed monitor's %lld",
                               (long long)nts, (long long)version);
                c->monitor_behind = 1;
                k->ahead = st;
                st = NULL;
                json_decref(cs);
                rc = HERALD_CLIENT_EUNCOMMITTED;
                break;
            }
            if (nts != version || state_sha(c, st, nsha) < 0 || strcmp(nsha, sha) != 0) {
                herald_err_set(err, sizeof(err),
                               "served version %lld is not the state the signed monitor commits "
                               "to (version %lld, sha256 %.12s...)",
                               (long long)nts, (long long)version, sha);
                rc = HERALD_CLIENT_EUNCOMMITTED;
                json_decref(st);
                st = NULL;
            }
        }
        json_decref(cs);
        if (rc == HERALD_CLIENT_OK || rc == HERALD_CLIENT_ENETWORK || rc == HERALD_CLIENT_ENOTFOUND)
            break;
        c->stats.verify_failures++;
    }
    if (rc == HERALD_CLIENT_OK)
        rc = store_state(c, k, st, err, sizeof(err));
    if (rc == HERALD_CLIENT_OK) {
        int64_t nts = 0;
        (void)get_int(&nts, json_object_get(st, "timestamp"));
        pthread_mutex_lock(&c->data_lock);
        json_t *old = k->state;
        k->state = st;
        k->from_dump = 0;
        pthread_mutex_unlock(&c->data_lock);
        json_decref(old);
        st = NULL;
        if (nts != pts) {
            *changed = 1;
            if (c->on_change)
                c->on_change(k->bucket, k->collection, nts, c->on_change_arg);
        }
    }
    set_status(c, k, rc, err);
    json_decref(st);
    json_decref(prev);
    return rc;
}

/* Verifies the monitor changeset 'mon' (served timestamp 'mts') against the pinned keys,
 * its expiry and the last verified M; on success remembers its M and E (persisted before
 * any collection is fetched, so a rollback is refused even after a crash). */
static herald_client_status
verify_monitor(herald_client *c, const json_t *mon, int64_t mts, char *err, size_t errlen)
{
    const json_t *sigs = json_object_get(json_object_get(mon, "metadata"), "signatures");
    herald_monitor_head h;
    if (!json_is_array(sigs)) {
        herald_err_set(err, errlen, "monitor is not signed (no metadata.signatures)");
        return HERALD_CLIENT_EKEY;
    }
    char why[200];
    enum herald_monitor_status ms =
        herald_monitor_verify(&h, json_object_get(mon, "changes"), sigs, mts, now_ms(),
                              c->monitor_ts, c->keys, c->nkeys, why, sizeof(why));
    if (ms != HERALD_MONITOR_OK) {
        herald_err_set(err, errlen, "signed monitor: %s", why);
        switch (ms) {
        case HERALD_MONITOR_UNPINNED:
            return HERALD_CLIENT_EKEY;
        case HERALD_MONITOR_EXPIRED:
            return HERALD_CLIENT_EEXPIRED;
        case HERALD_MONITOR_ROLLBACK:
            return HERALD_CLIENT_EROLLBACK;
        default:
            return HERALD_CLIENT_EINVALID;
        }
    }
    if (h.timestamp != c->monitor_ts || h.expires != c->monitor_expires) {
        c->monitor_ts = h.timestamp;
        c->monitor_expires = h.expires;
        if (save_client_state(c, err, errlen) < 0)
            return HERALD_CLIENT_ESTORAGE;
    }
    return HERALD_CLIENT_OK;
}

/* Acts on a monitor answer ('st' and 'err' say how getting it went; 'mon' is owned by
 * the caller): verifies it, then syncs each followed collection it says moved. Called
 * with sync_lock held; sets '*changed' when a verified state was swapped in. */
static herald_client_status
apply_monitor(herald_client *c, const json_t *mon, herald_client_status st, char *err,
              size_t errlen, int *changed)
{
    herald_client_status overall = HERALD_CLIENT_OK;
    int64_t mts = 0;

    if (st == HERALD_CLIENT_OK && (get_int(&mts, json_object_get(mon, "timestamp")) < 0 ||
                                   !json_is_array(json_object_get(mon, "changes")))) {
        herald_err_set(err, errlen, "monitor answer is not a changeset");
        st = HERALD_CLIENT_EPARSE;
    }
    if (st == HERALD_CLIENT_OK)
        st = verify_monitor(c, mon, mts, err, errlen);
    if (st != HERALD_CLIENT_OK) {
        if (st != HERALD_CLIENT_ENETWORK && st != HERALD_CLIENT_EBACKOFF)
            c->stats.verify_failures++;
        for (coll *k = c->colls; k; k = k->next)
            set_status(c, k, st, err);
        c->all_committed = 0;
        c->checked_at = now_ms();
        char ignored[256];
        (void)save_client_state(c, ignored, sizeof(ignored));
        return st;
    }
    int committed = 1;
    for (coll *k = c->colls; k; k = k->next) {
        const json_t *e, *changes = json_object_get(mon, "changes");
        herald_monitor_entry me;
        int found = 0;
        size_t i;
        json_array_foreach(changes, i, e)
        {
            if (herald_monitor_entry_parse(&me, e, NULL, 0) == 0 &&
                strcmp(me.bucket, k->bucket) == 0 && strcmp(me.collection, k->collection) == 0) {
                found = 1;
                break;
            }
        }
        if (!found) {
            st = HERALD_CLIENT_ENOTFOUND;
            set_status(c, k, st, "collection not in the signed monitor (not published)");
        } else {
            int64_t cur = 0;
            char csha[65] = "";
            pthread_mutex_lock(&c->data_lock);
            json_t *held = json_incref(k->state);
            pthread_mutex_unlock(&c->data_lock);
            if (held) {
                (void)get_int(&cur, json_object_get(held, "timestamp"));
                (void)state_sha(c, held, csha);
            }
            json_decref(held);
            if (cur < me.last_modified) {
                st = sync_collection(c, k, me.last_modified, me.sha256, changed);
            } else if (cur == me.last_modified && strcmp(csha, me.sha256) != 0) {
                st = HERALD_CLIENT_EUNCOMMITTED;
                set_status(c, k, st,
                           "the verified copy has another records hash than the signed monitor "
                           "names for its version");
            } else {
                /* At the monitor's V and H; or ahead of it (a monitor a little behind, or
                 * a cache in front of it): kept, but not proven current by this monitor. */
                st = HERALD_CLIENT_OK;
                set_status(c, k, st, "");
                if (cur > me.last_modified)
                    committed = 0;
            }
        }
        if (st != HERALD_CLIENT_OK) {
            committed = 0;
            if (overall == HERALD_CLIENT_OK)
                overall = st;
        }
        if (c->backoff_until > now_ms()) {
            committed = 0;
            break; /* asked to slow down: the rest waits for the next sync */
        }
    }
    c->all_committed = committed;
    c->checked_at = now_ms();
    if (save_client_state(c, err, errlen) < 0 && overall == HERALD_CLIENT_OK)
        overall = HERALD_CLIENT_ESTORAGE;
    return overall;
}

/* The signed monitor's URL. _expected=0: the monitor's short max-age. With the last M as
 * cache key (as for collections) a cache could keep answering that URL with a monitor that
 * expires in its cache, and the client, unable to verify a newer M, would never change the
 * URL: a freeze made by the cache itself. */
static void
monitor_url(const herald_client *c, char *url, size_t len)
{
    snprintf(url, len, "%s/buckets/monitor/collections/changes/changeset?_expected=0", c->url);
}

/* apply_monitor(), and again with a fresh monitor (up to MONITOR_CATCH_UP times) when a
 * collection was served newer than the monitor named (c->monitor_behind): the server
 * switched to a newer pair between the two requests, so a later monitor commits to what
 * it serves now. Under a continuous burst the server may switch again each time; the
 * sync then ends uncommitted, keeping its last verified copies. */
#define MONITOR_CATCH_UP 3
static herald_client_status
apply_monitor_fresh(herald_client *c, const json_t *mon, herald_client_status st, char *err,
                    size_t errlen, int *changed)
{
    c->monitor_behind = 0;
    st = apply_monitor(c, mon, st, err, errlen, changed);
    for (int i = 0; i < MONITOR_CATCH_UP && st == HERALD_CLIENT_EUNCOMMITTED && c->monitor_behind;
         i++) {
        char url[PATH_MAX];
        json_t *again = NULL;
        monitor_url(c, url, sizeof(url));
        c->monitor_behind = 0;
        st = get_json(c, url, &again, err, errlen);
        st = apply_monitor(c, again, st, err, errlen, changed);
        json_decref(again);
    }
    return st;
}

herald_client_status
herald_client_sync(herald_client *c)
{
    char err[256] = "", url[PATH_MAX];
    json_t *mon = NULL;
    herald_client_status st;
    int changed = 0;

    if (!c || !c->url[0])
        return HERALD_CLIENT_EUSAGE;
    pthread_mutex_lock(&c->sync_lock);
    if (c->backoff_until > now_ms()) {
        pthread_mutex_unlock(&c->sync_lock);
        return HERALD_CLIENT_EBACKOFF;
    }
    monitor_url(c, url, sizeof(url));
    st = get_json(c, url, &mon, err, sizeof(err));
    st = apply_monitor_fresh(c, mon, st, err, sizeof(err), &changed);
    json_decref(mon);
    pthread_mutex_unlock(&c->sync_lock);
    if (changed)
        (void)herald_client_attachments_prune(c);
    return st;
}

/* ---- watch (long-poll) ---- */

void
herald_client_watch_stop(herald_client *c)
{
    /* Only a running watch is stopped: a stop with none running used to stay set and end
     * the next watch at once. */
    if (c && atomic_load(&c->watching) > 0)
        atomic_store(&c->watch_stop, 1);
}

typedef struct watch_ctx {
    herald_client *c;
    int64_t deadline; /* ms since the epoch, 0: none */
} watch_ctx;

static int
watch_over(void *arg)
{
    const watch_ctx *w = arg;
    return atomic_load(&w->c->watch_stop) || (w->deadline && now_ms() >= w->deadline);
}

/* Sleeps 'ms', waking early when the watch is stopped or its deadline passes. */
static void
watch_pause(const watch_ctx *w, int64_t ms)
{
    int64_t until = now_ms() + ms;
    while (!watch_over((void *)w)) {
        int64_t left = until - now_ms();
        if (left <= 0)
            return;
        if (left > 100)
            left = 100;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The last running watch to end clears the stop, so it cannot end the next one. */
static void
watch_end(herald_client *c)
{
    if (atomic_fetch_sub(&c->watching, 1) == 1)
        atomic_store(&c->watch_stop, 0);
}

static int64_t
watch_jitter(const herald_client *c, int failures)
{
    uint32_t rnd = randombytes_random();
    int64_t cap = (int64_t)c->retry_base_ms << (failures < 10 ? failures : 10);
    if (cap > 30000)
        cap = 30000;
    return cap > 0 ? (int64_t)(rnd % (uint32_t)cap) : 0;
}

herald_client_status
herald_client_watch(herald_client *c, const herald_client_watch_opts *o)
{
    static const herald_client_watch_opts defaults = {0};
    char err[256], url[PATH_MAX], etag[128] = "";
    int failures = 0, seen_held = 0;
    herald_chttp *http;
    herald_chttp_opts ho;
    watch_ctx w;

    if (!c || !c->url[0])
        return HERALD_CLIENT_EUSAGE;
    if (!o)
        o = &defaults;
    atomic_fetch_add(&c->watching, 1);
    int wait_s = o->wait_s > 0 ? o->wait_s : 60;
    int64_t poll_ms = o->poll_ms > 0 ? o->poll_ms : 60000;
    w.c = c;
    w.deadline = o->duration_ms > 0 ? now_ms() + o->duration_ms : 0;
    /* Its own connection: a held request occupies it for up to wait_s, and a sync (on
     * this thread or another) must not queue behind it (docs/server.md, "Connections"). */
    ho = c->http_opts;
    http = herald_chttp_new(&ho, err, sizeof(err));
    if (!http) {
        watch_end(c);
        return HERALD_CLIENT_ENETWORK;
    }
    monitor_url(c, url, sizeof(url));
    while (!watch_over(&w)) {
        int64_t backoff = herald_client_backoff_ms(c);
        if (backoff > 0) {
            watch_pause(&w, backoff);
            continue;
        }
        herald_chttp_req req = {.if_none_match = etag[0] ? etag : NULL,
                                .prefer_wait_s = etag[0] ? wait_s : 0,
                                .timeout_ms = (long)wait_s * 1000 + c->http_opts.timeout_ms,
                                .no_retry = 1,
                                .cancelled = watch_over,
                                .cancelled_arg = &w};
        herald_chttp_resp r;
        herald_chttp_resp_init(&r);
        err[0] = '\0';
        int got = herald_chttp_get_ex(http, url, NULL, &req, &r, err, sizeof(err));
        pthread_mutex_lock(&c->sync_lock);
        note_backoff(c, &r);
        pthread_mutex_unlock(&c->sync_lock);
        if (watch_over(&w)) {
            herald_chttp_resp_free(&r);
            break;
        }
        if (got == 0 && r.status == 304) {
            int held = r.preference_applied;
            herald_chttp_resp_free(&r);
            if (held) {
                seen_held = 1;
                failures = 0;
            } else if (seen_held) {
                /* Held before, not now: a server shutting down answers its held requests
                 * at once (docs/server.md, "Shutdown"), or the path changed. Ask again
                 * soon (jittered, growing), not after poll_ms. */
                failures++;
                watch_pause(&w, watch_jitter(c, failures));
            } else {
                /* Never held: this server or a proxy does not support long-poll; poll
                 * every poll_ms instead of looping at once. */
                watch_pause(&w, poll_ms);
            }
            continue;
        }
        herald_client_status st;
        int64_t mts = 0;
        int changed = 0;
        json_t *mon = NULL;
        if (got == 0) {
            mon = parse_body(r.body.data ? r.body.data : "", r.body.len, err, sizeof(err));
            st = mon ? HERALD_CLIENT_OK : HERALD_CLIENT_EPARSE;
        } else {
            st = r.status == 404 ? HERALD_CLIENT_ENOTFOUND : HERALD_CLIENT_ENETWORK;
        }
        pthread_mutex_lock(&c->sync_lock);
        st = apply_monitor_fresh(c, mon, st, err, sizeof(err), &changed);
        pthread_mutex_unlock(&c->sync_lock);
        if (changed)
            (void)herald_client_attachments_prune(c);
        if (mon)
            (void)get_int(&mts, json_object_get(mon, "timestamp"));
        json_decref(mon);
        int stop = o->on_sync ? o->on_sync(st, mts, st == HERALD_CLIENT_OK ? "" : err, o->arg) : 0;
        if (st == HERALD_CLIENT_OK) {
            char next[128];
            if (r.etag[0])
                snprintf(next, sizeof(next), "%s", r.etag);
            else
                snprintf(next, sizeof(next), "\"%lld\"", (long long)mts);
            /* The same version again at once: something in between ignores If-None-Match
             * and Prefer; poll instead of looping. */
            if (strcmp(next, etag) == 0 && !stop)
                watch_pause(&w, poll_ms);
            snprintf(etag, sizeof(etag), "%s", next);
            failures = 0;
        } else {
            /* Keep the ETag of the last verified monitor: the next request is answered
             * at once with the current one, after a jittered, growing delay. */
            failures++;
            if (!stop)
                watch_pause(&w, watch_jitter(c, failures));
        }
        herald_chttp_resp_free(&r);
        if (stop)
            break;
    }
    herald_chttp_free(http);
    watch_end(c);
    return HERALD_CLIENT_OK;
}

/* ---- readers ---- */

herald_client_status
herald_client_info_get(herald_client *c, const char *b, const char *col, herald_client_info *out)
{
    memset(out, 0, sizeof(*out));
    if (!c || !b || !col)
        return HERALD_CLIENT_EUSAGE;
    pthread_mutex_lock(&c->data_lock);
    coll *k = find_coll(c, b, col);
    if (k) {
        if (k->state) {
            (void)get_int(&out->version, json_object_get(k->state, "timestamp"));
            (void)get_int(&out->expires, json_object_get(k->state, "expires"));
            out->records = json_array_size(json_object_get(k->state, "records"));
        }
        out->from_dump = k->from_dump;
        out->last_status = k->last_status;
        snprintf(out->last_error, sizeof(out->last_error), "%s", k->last_error);
    }
    pthread_mutex_unlock(&c->data_lock);
    return k ? HERALD_CLIENT_OK : HERALD_CLIENT_ENOTFOUND;
}

json_t *
herald_client_records(herald_client *c, const char *b, const char *col)
{
    json_t *st = NULL, *out = NULL;
    if (!c || !b || !col)
        return NULL;
    pthread_mutex_lock(&c->data_lock);
    coll *k = find_coll(c, b, col);
    if (k)
        st = json_incref(k->state);
    pthread_mutex_unlock(&c->data_lock);
    if (!st)
        return NULL;
    out = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(st, "records"), i, r)
    {
        /* Copies: the verified state is shared and must not be changed by the caller. */
        if (!c->filter || c->filter(r, c->filter_arg))
            json_array_append_new(out, json_deep_copy(r));
    }
    json_decref(st);
    return out;
}

int64_t
herald_client_backoff_ms(herald_client *c)
{
    pthread_mutex_lock(&c->sync_lock);
    int64_t left = c->backoff_until - now_ms();
    pthread_mutex_unlock(&c->sync_lock);
    return left > 0 ? left : 0;
}

void
herald_client_freshness_get(herald_client *c, herald_client_freshness *out)
{
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    pthread_mutex_lock(&c->sync_lock);
    out->monitor_timestamp = c->monitor_ts;
    out->monitor_expires = c->monitor_expires;
    out->all_committed = c->all_committed;
    out->checked_at = c->checked_at;
    pthread_mutex_unlock(&c->sync_lock);
}

void
herald_client_stats_get(herald_client *c, herald_client_stats *out)
{
    pthread_mutex_lock(&c->sync_lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->sync_lock);
}

/* ---- attachments ---- */

static int
is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* 0 if the file at 'path' has exactly 'size' bytes hashing to 'hash'. */
static int
file_matches(const char *path, const char *hash, int64_t size)
{
    unsigned char buf[65536], md[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256_state h;
    int64_t total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    crypto_hash_sha256_init(&h);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        total += r;
        if (total > size)
            break;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)r);
    }
    close(fd);
    crypto_hash_sha256_final(&h, md);
    sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
    return total == size && strcmp(hex, hash) == 0 ? 0 : -1;
}

static herald_client_status
attachment_base_url(herald_client *c, char *err, size_t errlen)
{
    char url[PATH_MAX];
    json_t *root = NULL;
    herald_client_status st;
    if (c->att_base_url)
        return HERALD_CLIENT_OK;
    if (!c->url[0])
        return HERALD_CLIENT_EUSAGE;
    snprintf(url, sizeof(url), "%s/", c->url);
    st = get_json(c, url, &root, err, errlen);
    if (st != HERALD_CLIENT_OK)
        return st;
    const char *base = json_string_value(json_object_get(
        json_object_get(json_object_get(root, "capabilities"), "attachments"), "base_url"));
    if (!base || !*base) {
        herald_err_set(err, errlen, "the server advertises no attachments base_url");
        st = HERALD_CLIENT_ENOTFOUND;
    } else {
        c->att_base_url = herald_mem_strdup(base);
    }
    json_decref(root);
    return st;
}

herald_client_status
herald_client_attachment(herald_client *c, const char *b, const char *col, const char *rid,
                         char *path, size_t pathlen)
{
    char err[256] = "", hash[65] = "", location[1024] = "", url[PATH_MAX * 2], tmp[PATH_MAX] = "";
    int64_t size = -1;
    herald_client_status st = HERALD_CLIENT_ENOTFOUND;
    FILE *f = NULL;

    if (!c || !b || !col || !rid || !path || pathlen == 0)
        return HERALD_CLIENT_EUSAGE;
    pthread_mutex_lock(&c->sync_lock);
    pthread_mutex_lock(&c->data_lock);
    coll *k = find_coll(c, b, col);
    const json_t *r;
    size_t i;
    json_array_foreach(json_object_get(k ? k->state : NULL, "records"), i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (!id || strcmp(id, rid) != 0)
            continue;
        const json_t *a = json_object_get(r, "attachment");
        const char *h = json_string_value(json_object_get(a, "hash"));
        const char *loc = json_string_value(json_object_get(a, "location"));
        if (is_hex64(h) && loc && strlen(loc) < sizeof(location) &&
            get_int(&size, json_object_get(a, "size")) == 0 && size >= 0) {
            snprintf(hash, sizeof(hash), "%s", h);
            snprintf(location, sizeof(location), "%s", loc);
            st = HERALD_CLIENT_OK;
        }
        break;
    }
    pthread_mutex_unlock(&c->data_lock);
    if (st != HERALD_CLIENT_OK)
        goto out;
    if (snprintf(path, pathlen, "%s/%s", c->att_dir, hash) >= (int)pathlen) {
        st = HERALD_CLIENT_EUSAGE;
        goto out;
    }
    if (file_matches(path, hash, size) == 0)
        goto out; /* cached and intact */
    /* A damaged cached copy is only replaced by a verified download (rename below). */
    if (herald_cstore_mkdirs(c->att_dir, err, sizeof(err)) < 0) {
        st = HERALD_CLIENT_ESTORAGE;
        goto out;
    }
    st = attachment_base_url(c, err, sizeof(err));
    if (st != HERALD_CLIENT_OK)
        goto out;
    if (strncmp(location, "http://", 7) == 0 || strncmp(location, "https://", 8) == 0) {
        /* Only under the advertised base: a record must not send the client elsewhere. */
        if (strncmp(location, c->att_base_url, strlen(c->att_base_url)) != 0) {
            st = HERALD_CLIENT_EATTACHMENT;
            herald_err_set(err, sizeof(err), "location outside the base_url");
            goto out;
        }
        snprintf(url, sizeof(url), "%s", location);
    } else {
        size_t bl = strlen(c->att_base_url);
        const char *loc = location;
        while (*loc == '/' && bl > 0 && c->att_base_url[bl - 1] == '/')
            loc++;
        snprintf(url, sizeof(url), "%s%s", c->att_base_url, loc);
    }
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", c->att_dir, hash);
    f = fopen(tmp, "w+e");
    if (!f) {
        st = HERALD_CLIENT_ESTORAGE;
        goto out;
    }
    {
        herald_chttp_resp resp;
        herald_chttp_resp_init(&resp);
        int grc = herald_chttp_get(c->http, url, f, &resp, err, sizeof(err));
        note_backoff(c, &resp);
        herald_chttp_resp_free(&resp);
        if (grc < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0) {
            st = HERALD_CLIENT_ENETWORK;
            goto out;
        }
    }
    fclose(f);
    f = NULL;
    if (file_matches(tmp, hash, size) < 0) {
        st = HERALD_CLIENT_EATTACHMENT;
        goto out;
    }
    if (rename(tmp, path) < 0 || herald_cstore_sync_dir(c->att_dir) < 0) {
        st = HERALD_CLIENT_ESTORAGE;
        goto out;
    }
out:
    if (f)
        fclose(f);
    if (st != HERALD_CLIENT_OK) {
        if (tmp[0] != '\0' && hash[0] != '\0')
            unlink(tmp);
        path[0] = '\0';
    }
    pthread_mutex_unlock(&c->sync_lock);
    return st;
}

int
herald_client_attachments_prune(herald_client *c)
{
    json_t *keep = json_object();
    int removed = 0;
    pthread_mutex_lock(&c->sync_lock);
    pthread_mutex_lock(&c->data_lock);
    for (coll *k = c->colls; k; k = k->next) {
        const json_t *r;
        size_t i;
        json_array_foreach(json_object_get(k->state, "records"), i, r)
        {
            const char *h =
                json_string_value(json_object_get(json_object_get(r, "attachment"), "hash"));
            if (h)
                json_object_set_new(keep, h, json_true());
        }
    }
    pthread_mutex_unlock(&c->data_lock);
    DIR *d = opendir(c->att_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                json_object_get(keep, e->d_name))
                continue;
            if (unlinkat(dirfd(d), e->d_name, 0) == 0)
                removed++;
        }
        closedir(d);
        if (removed > 0 && herald_cstore_sync_dir(c->att_dir) < 0)
            removed = -1;
    }
    pthread_mutex_unlock(&c->sync_lock);
    json_decref(keep);
    return removed;
}
