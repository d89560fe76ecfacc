/*
 * bundle -- see bundle.h for what a bundle is and when it is rebuilt.
 *
 * The thread keeps, per published collection, the version it last looked at and the
 * digest of the bundle it wrote; everything else (the monitor, the snapshot) is read
 * again from Redis, so a restart simply rebuilds each flagged collection once. After
 * every cycle that read the monitor, bundles/ is swept of zips that no flagged
 * collection accounts for (a collection deleted or unpublished while the publisher was
 * down). Temporary files (.build-*) older than an hour are removed at start: younger
 * ones may belong to another publisher sharing the directory.
 */
#include "bundle.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "herald/castore.h"
#include "herald/jcs.h"
#include "herald/log.h"
#include "herald/schema.h"
#include "herald/snapshot.h"
#include "objects.h"
#include "store.h"

typedef struct known {
    char name[HERALD_CASTORE_BUNDLE_NAME_MAX + 1]; /* "<bid>--<cid>.zip" */
    int64_t version;
    char digest[HERALD_CASTORE_HASH_LEN + 1]; /* "" when there is no bundle */
    int seen;                                 /* in this cycle's monitor */
} known;

struct pub_bundle {
    herald_castore *cas;
    pub_store *store;
    int64_t poll_ms, max_bytes;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    known *k;
    size_t nk, capk;
};

static atomic_llong g_bundles = -1, g_builds;

static redisReply *
command(pub_store *s, const char *const *argv, const size_t *lens, int argc)
{
    pub_args cmd;
    pub_args_init(&cmd);
    for (int i = 0; i < argc; i++)
        pub_args_add(&cmd, argv[i], lens ? lens[i] : strlen(argv[i]));
    redisReply *r = pub_objects_command(s, &cmd);
    pub_args_free(&cmd);
    return r;
}

static known *
find_known(pub_bundle *b, const char *name)
{
    for (size_t i = 0; i < b->nk; i++)
        if (strcmp(b->k[i].name, name) == 0)
            return &b->k[i];
    if (b->nk == b->capk) {
        b->capk = b->capk ? b->capk * 2 : 16;
        b->k = herald_mem_realloc(b->k, b->capk * sizeof(*b->k));
    }
    known *k = &b->k[b->nk++];
    memset(k, 0, sizeof(*k));
    snprintf(k->name, sizeof(k->name), "%s", name);
    k->version = -1;
    return k;
}

static void
drop_bundle(pub_bundle *b, known *k)
{
    if (herald_castore_bundle_remove(b->cas, k->name) != 0)
        herald_warn("bundle %s: cannot remove: %s", k->name, strerror(errno));
    k->digest[0] = '\0';
}

/* The records of 'snap' that have an attachment, their total size and digest. */
static size_t
with_attachments(const herald_snapshot *snap, const json_t **out, size_t cap, int64_t *total,
                 char digest[HERALD_CASTORE_HASH_LEN + 1])
{
    const json_t *recs = herald_snapshot_records(snap);
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    size_t n = 0, i;
    const json_t *r;
    crypto_hash_sha256_init(&st);
    *total = 0;
    json_array_foreach(recs, i, r)
    {
        const json_t *a = json_object_get(r, "attachment");
        const char *hash = json_string_value(json_object_get(a, "hash"));
        const char *id = json_string_value(json_object_get(r, "id"));
        int64_t size = 0;
        if (!hash || !id || !herald_castore_valid_hash(hash, strlen(hash)) ||
            herald_jcs_get_uint53(&size, json_object_get(a, "size")) != 0 || n == cap)
            continue;
        herald_buf jcs = HERALD_BUF_INIT;
        if (herald_jcs_dump(&jcs, r) == 0) {
            crypto_hash_sha256_update(&st, (const unsigned char *)jcs.data, jcs.len);
            crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
        }
        herald_buf_free(&jcs);
        out[n++] = r;
        *total += size;
    }
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(digest, HERALD_CASTORE_HASH_LEN + 1, h, sizeof(h));
    return n;
}

/* Adds 'src' as 'name' (takes 'src' in every case). Returns 0 or -1. */
static int
add_entry(zip_t *za, const char *name, zip_source_t *src, time_t mtime)
{
    if (!src)
        return -1;
    zip_int64_t idx = zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        zip_source_free(src);
        return -1;
    }
    zip_file_set_mtime(za, (zip_uint64_t)idx, mtime, 0);
    return 0;
}

/* Writes the bundle of 'recs' as 'name'. Returns 0, or -1 (logged). */
static int
build(pub_bundle *b, const char *name, const json_t **recs, size_t n)
{
    char tmp[4400], path[4400], entry[600];
    int zerr = 0;
    if (herald_castore_bundle_tmp(b->cas, tmp, sizeof(tmp)) != 0) {
        herald_error("bundle %s: %s", name, strerror(errno));
        return -1;
    }
    zip_t *za = zip_open(tmp, ZIP_CREATE | ZIP_EXCL, &zerr);
    if (!za) {
        herald_error("bundle %s: zip_open: error %d", name, zerr);
        unlink(tmp);
        return -1;
    }
    /* Remote Settings' order: every "<id>.meta.json", then every "<id>". */
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(recs[i], "id"));
        int64_t lm = 0;
        if (herald_jcs_get_uint53(&lm, json_object_get(recs[i], "last_modified")) != 0)
            lm = 0;
        herald_buf jcs = HERALD_BUF_INIT;
        if (herald_jcs_dump(&jcs, recs[i]) != 0) {
            herald_buf_free(&jcs);
            goto fail;
        }
        void *copy = malloc(jcs.len ? jcs.len : 1); /* libzip frees it with free() */
        if (!copy) {
            herald_buf_free(&jcs);
            goto fail;
        }
        size_t len = jcs.len;
        memcpy(copy, jcs.data, len);
        herald_buf_free(&jcs);
        snprintf(entry, sizeof(entry), "%s.meta.json", id);
        zip_source_t *src = zip_source_buffer(za, copy, len, 1);
        if (!src)
            free(copy);
        if (add_entry(za, entry, src, (time_t)(lm / 1000)) != 0)
            goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(recs[i], "id"));
        const json_t *a = json_object_get(recs[i], "attachment");
        const char *hash = json_string_value(json_object_get(a, "hash"));
        int64_t size = 0, lm = 0;
        struct stat st;
        if (herald_jcs_get_uint53(&lm, json_object_get(recs[i], "last_modified")) != 0)
            lm = 0;
        if (herald_jcs_get_uint53(&size, json_object_get(a, "size")) != 0 ||
            herald_castore_path(b->cas, hash, path, sizeof(path)) != 0 || stat(path, &st) != 0 ||
            st.st_size != size) {
            herald_warn("bundle %s: record %s: file %s missing or not of size %lld", name, id, hash,
                        (long long)size);
            goto fail;
        }
        if (add_entry(za, id, zip_source_file(za, path, 0, -1), (time_t)(lm / 1000)) != 0)
            goto fail;
    }
    /* zip_close writes the archive (reading the files now, never all in memory). */
    if (zip_close(za) != 0) {
        herald_error("bundle %s: zip_close: %s", name, zip_strerror(za));
        zip_discard(za);
        unlink(tmp);
        return -1;
    }
    if (herald_castore_bundle_publish(b->cas, tmp, name) != 0) {
        herald_error("bundle %s: cannot publish: %s", name, strerror(errno));
        return -1;
    }
    atomic_fetch_add(&g_builds, 1);
    herald_info("bundle %s: built (%zu attachments)", name, n);
    return 0;
fail:
    herald_error("bundle %s: %s", name, zip_strerror(za));
    zip_discard(za);
    unlink(tmp);
    return -1;
}

/* Brings the bundle of 'member' ("<bid>/<cid>") at 'version' up to date. */
static void
update(pub_bundle *b, const char *member, int64_t version)
{
    char name[HERALD_CASTORE_BUNDLE_NAME_MAX + 1];
    const char *slash = strchr(member, '/');
    if (!slash ||
        snprintf(name, sizeof(name), "%.*s--%s.zip", (int)(slash - member), member, slash + 1) >=
            (int)sizeof(name) ||
        !herald_castore_valid_bundle_name(name, strlen(name)))
        return;
    known *k = find_known(b, name);
    k->seen = 1;
    if (k->version == version)
        return;
    char bid[256];
    snprintf(bid, sizeof(bid), "%.*s", (int)(slash - member), member);
    herald_buf key = HERALD_BUF_INIT;
    herald_schema_snap_key(&key, bid, slash + 1);
    herald_buf_putc(&key, '\0');
    const char *argv[] = {"GET", key.data};
    redisReply *r = command(b->store, argv, NULL, 2);
    herald_buf_free(&key);
    if (!r)
        return; /* Redis unavailable: retried next cycle */
    if (r->type != REDIS_REPLY_STRING) {
        /* Removed meanwhile: the monitor will say so. */
        freeReplyObject(r);
        return;
    }
    char err[256];
    herald_snapshot *snap = herald_snapshot_decode(r->str, r->len, err, sizeof(err));
    freeReplyObject(r);
    if (snap && herald_snapshot_timestamp(snap) < version) {
        /* The version's full blob follows its announcement (docs/incremental.md): this
         * is the previous one. Not looked at yet: the next cycle reads it again. */
        herald_snapshot_free(snap);
        return;
    }
    k->version = version;
    if (!snap) {
        herald_error("bundle %s: snapshot: %s", name, err);
        return;
    }
    const json_t *opt = json_object_get(herald_snapshot_metadata(snap), "attachment");
    size_t cap = json_array_size(herald_snapshot_records(snap));
    const json_t **recs = herald_mem_calloc(cap ? cap : 1, sizeof(*recs));
    int64_t total = 0;
    char digest[HERALD_CASTORE_HASH_LEN + 1];
    size_t n = with_attachments(snap, recs, cap, &total, digest);
    char path[4400];
    struct stat st;
    if (!json_is_true(json_object_get(opt, "bundle")) || n == 0 ||
        (b->max_bytes > 0 && total > b->max_bytes)) {
        if (n && json_is_true(json_object_get(opt, "bundle")))
            herald_info("bundle %s: %lld bytes of attachments, above %lld: no bundle", name,
                        (long long)total, (long long)b->max_bytes);
        drop_bundle(b, k);
    } else if (strcmp(digest, k->digest) == 0 &&
               herald_castore_bundle_path(b->cas, name, path, sizeof(path)) == 0 &&
               stat(path, &st) == 0) {
        /* Same attachments as the bundle present (a re-signature, a metadata change). */
    } else if (build(b, name, recs, n) == 0) {
        memcpy(k->digest, digest, sizeof(digest));
    } else {
        drop_bundle(b, k); /* never an outdated bundle; the next version retries */
    }
    free(recs);
    herald_snapshot_free(snap);
}

/* Removes zips no flagged collection accounts for; counts the others. */
static void
sweep(pub_bundle *b, int startup)
{
    char dir[4200];
    long long count = 0;
    snprintf(dir, sizeof(dir), "%.4096s/bundles", herald_castore_dir(b->cas));
    DIR *d = opendir(dir);
    if (!d) {
        atomic_store(&g_bundles, 0);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        char path[4600];
        struct stat st;
        snprintf(path, sizeof(path), "%.4200s/%.255s", dir, nm);
        if (startup && strncmp(nm, ".build-", 7) == 0) {
            if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > 3600)
                unlink(path);
            continue;
        }
        if (!herald_castore_valid_bundle_name(nm, strlen(nm)))
            continue;
        int keep = 0;
        for (size_t i = 0; i < b->nk; i++)
            if (strcmp(b->k[i].name, nm) == 0 && b->k[i].digest[0])
                keep = 1;
        if (keep)
            count++;
        else if (herald_castore_bundle_remove(b->cas, nm) == 0)
            herald_info("bundle %s: removed (no published collection with bundle: true)", nm);
    }
    closedir(d);
    atomic_store(&g_bundles, count);
}

static void
cycle(pub_bundle *b, int startup)
{
    const char *argv[] = {"ZRANGE", HERALD_KEY_MONITOR, "0", "-1", "WITHSCORES"};
    redisReply *r = command(b->store, argv, NULL, 5);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return;
    }
    for (size_t i = 0; i < b->nk; i++)
        b->k[i].seen = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *m = r->element[i], *s = r->element[i + 1];
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING)
            continue;
        update(b, m->str, strtoll(s->str, NULL, 10));
    }
    freeReplyObject(r);
    /* Collections no longer published lose their bundle. */
    size_t w = 0;
    for (size_t i = 0; i < b->nk; i++) {
        if (!b->k[i].seen) {
            if (b->k[i].digest[0])
                drop_bundle(b, &b->k[i]);
            continue;
        }
        b->k[w++] = b->k[i];
    }
    b->nk = w;
    sweep(b, startup);
}

static void *
run(void *arg)
{
    pub_bundle *b = arg;
    int startup = 1;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        pthread_mutex_unlock(&b->mu);
        cycle(b, startup);
        startup = 0;
        pthread_mutex_lock(&b->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(b->poll_ms / 1000);
        ts.tv_nsec += (long)(b->poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!b->stop && pthread_cond_timedwait(&b->cv, &b->mu, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

pub_bundle *
pub_bundle_start(pub_attach *a, const herald_redis_url *url, int timeout_ms, int64_t poll_ms,
                 int64_t max_bytes)
{
    if (!a)
        return NULL;
    pub_bundle *b = herald_mem_calloc(1, sizeof(*b));
    b->cas = pub_attach_store(a);
    b->store = pub_store_new(url, timeout_ms);
    b->poll_ms = poll_ms > 0 ? poll_ms : 1000;
    b->max_bytes = max_bytes;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->mu, NULL);
    if (pthread_create(&b->thread, NULL, run, b) != 0) {
        herald_error("attachment bundles: cannot start their thread");
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        pub_store_free(b->store);
        free(b);
        return NULL;
    }
    return b;
}

void
pub_bundle_stop(pub_bundle *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    pub_store_free(b->store);
    free(b->k);
    free(b);
}

void
pub_bundle_metrics(herald_buf *out)
{
    long long n = atomic_load(&g_bundles);
    if (n < 0)
        return;
    herald_buf_printf(out,
                      "# TYPE herald_attachment_bundles gauge\nherald_attachment_bundles %lld\n"
                      "# TYPE herald_attachment_bundle_builds_total counter\n"
                      "herald_attachment_bundle_builds_total %lld\n",
                      n, (long long)atomic_load(&g_builds));
}
