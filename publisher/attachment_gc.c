/*
 * attachment_gc -- see attachment_gc.h for the rules.
 */
#include "attachment_gc.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/castore.h"
#include "herald/clock.h"
#include "herald/jcs.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "objects.h"
#include "store.h"

struct pub_attach_gc {
    pub_attach *a;
    pub_store *store; /* the thread's own connection */
    int64_t grace_ms;
    int64_t interval_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static pthread_mutex_t g_stats_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int valid;
    int64_t files, bytes, orphans, deleted;
} g_stats;

/* Changes to the orphan table, sent as one HSET / HDEL per batch of fields (with
 * appendfsync always each command is a disk sync: one per file would take minutes for
 * a store of many files). */
#define BATCH 512
typedef struct batch {
    pub_args args;
    int fields;
    int pairs; /* HSET: field value */
    const char *verb;
} batch;

static void
batch_flush(pub_store *s, batch *b)
{
    if (b->fields > 0) {
        redisReply *r = pub_objects_command(s, &b->args);
        if (r)
            freeReplyObject(r);
    }
    pub_args_free(&b->args);
    pub_args_init(&b->args);
    b->fields = 0;
}

static void
batch_add(pub_store *s, batch *b, const char *field, int64_t value)
{
    if (b->fields == 0) {
        pub_args_adds(&b->args, b->verb);
        pub_args_adds(&b->args, PUB_GC_ORPHANS_KEY);
    }
    pub_args_adds(&b->args, field);
    if (b->pairs)
        pub_args_addi(&b->args, (long long)value);
    if (++b->fields == BATCH)
        batch_flush(s, b);
}

/* A sorted array of hashes, searched with bsearch. */
typedef struct hashes {
    char (*v)[HERALD_CASTORE_HASH_LEN + 1];
    size_t n, cap;
} hashes;

static int
cmp_hash(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
hashes_add(hashes *h, const char *s)
{
    if (!s || !herald_castore_valid_hash(s, strlen(s)))
        return;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->v = herald_mem_realloc(h->v, h->cap * sizeof(*h->v));
    }
    memcpy(h->v[h->n++], s, HERALD_CASTORE_HASH_LEN + 1);
}

static int
hashes_has(const hashes *h, const char *s)
{
    return h->n && bsearch(s, h->v, h->n, sizeof(*h->v), cmp_hash) != NULL;
}

static redisReply *
command(pub_store *s, const char *const *argv, int argc)
{
    pub_args cmd;
    pub_args_init(&cmd);
    for (int i = 0; i < argc; i++)
        pub_args_adds(&cmd, argv[i]);
    redisReply *r = pub_objects_command(s, &cmd);
    pub_args_free(&cmd);
    return r;
}

/* Every attachment hash of every record. Returns 0, or -1 when Redis failed. */
static int
referenced(pub_store *s, hashes *out)
{
    char cursor[32] = "0";
    do {
        const char *scan[] = {"SCAN", cursor, "MATCH", "herald:objs:*:record", "COUNT", "1000"};
        redisReply *r = command(s, scan, 6);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *hv[] = {"HVALS", keys->element[i]->str};
            redisReply *v = command(s, hv, 2);
            if (!v || v->type != REDIS_REPLY_ARRAY) {
                if (v)
                    freeReplyObject(v);
                freeReplyObject(r);
                return -1;
            }
            for (size_t j = 0; j < v->elements; j++) {
                const redisReply *e = v->element[j];
                if (e->type != REDIS_REPLY_STRING || !memmem(e->str, e->len, "\"attachment\"", 12))
                    continue;
                json_t *rec = json_loadb(e->str, e->len, 0, NULL);
                hashes_add(out, json_string_value(
                                    json_object_get(json_object_get(rec, "attachment"), "hash")));
                json_decref(rec);
            }
            freeReplyObject(v);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    qsort(out->v, out->n, sizeof(*out->v), cmp_hash);
    return 0;
}

/* The orphan table: hash -> first seen unreferenced (ms). */
static int
orphans_load(pub_store *s, json_t *into)
{
    const char *hg[] = {"HGETALL", PUB_GC_ORPHANS_KEY};
    redisReply *r = command(s, hg, 2);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_object_set_new(into, r->element[i]->str,
                            json_integer(strtoll(r->element[i + 1]->str, NULL, 10)));
    freeReplyObject(r);
    return 0;
}

int
pub_attach_gc_run(pub_attach_gc *g, int64_t now_ms)
{
    hashes refs = {0};
    json_t *orph = json_object();
    int deleted = -1;
    int64_t files = 0, bytes = 0, pending = 0;
    const char *dir = herald_castore_dir(pub_attach_store(g->a));
    batch add = {.verb = "HSET", .pairs = 1}, del = {.verb = "HDEL"};
    pub_args_init(&add.args);
    pub_args_init(&del.args);
    if (referenced(g->store, &refs) != 0 || orphans_load(g->store, orph) != 0) {
        herald_warn("attachments gc: redis unavailable, pass skipped");
        goto done;
    }
    deleted = 0;
    for (int f = 0; f < 256; f++) {
        char sub[4200];
        snprintf(sub, sizeof(sub), "%.4096s/%02x", dir, f);
        DIR *d = opendir(sub);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            const char *h = e->d_name;
            if (!herald_castore_valid_hash(h, strlen(h)))
                continue;
            char path[4400];
            struct stat st;
            int pn = snprintf(path, sizeof(path), "%s/%s", sub, h);
            if (pn < 0 || (size_t)pn >= sizeof(path) || stat(path, &st) != 0)
                continue;
            if (hashes_has(&refs, h)) {
                files++;
                bytes += st.st_size;
                if (json_object_get(orph, h))
                    batch_add(g->store, &del, h, 0);
                json_object_del(orph, h); /* visited: see below */
                continue;
            }
            json_t *seen = json_object_get(orph, h);
            int64_t mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
            if (!seen) {
                batch_add(g->store, &add, h, now_ms);
            } else if (deleted < PUB_GC_MAX_DELETES && !pub_attach_keep_old_files(g->a) &&
                       now_ms - json_integer_value(seen) >= g->grace_ms &&
                       now_ms - mtime_ms >= g->grace_ms &&
                       herald_castore_remove_older(pub_attach_store(g->a), h,
                                                   now_ms - g->grace_ms) == 0) {
                batch_add(g->store, &del, h, 0);
                herald_info("attachments gc: deleted %s (%lld bytes)", h, (long long)st.st_size);
                json_object_del(orph, h);
                deleted++;
                continue;
            }
            json_object_del(orph, h);
            files++;
            bytes += st.st_size;
            pending++;
        }
        closedir(d);
    }
    /* Entries whose file is gone (deleted by another publisher, or by hand). */
    const char *k;
    json_t *v;
    json_object_foreach(orph, k, v)
    {
        (void)v;
        batch_add(g->store, &del, k, 0);
    }
    batch_flush(g->store, &add);
    batch_flush(g->store, &del);
    pthread_mutex_lock(&g_stats_mu);
    g_stats.valid = 1;
    g_stats.files = files;
    g_stats.bytes = bytes;
    g_stats.orphans = pending;
    g_stats.deleted += deleted;
    pthread_mutex_unlock(&g_stats_mu);
done:
    pub_args_free(&add.args);
    pub_args_free(&del.args);
    free(refs.v);
    json_decref(orph);
    return deleted;
}

static void *
run(void *arg)
{
    pub_attach_gc *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)g->interval_s;
        while (!g->stop && pthread_cond_timedwait(&g->cv, &g->mu, &ts) != ETIMEDOUT)
            ;
        if (g->stop)
            break;
        pthread_mutex_unlock(&g->mu);
        pub_attach_gc_run(g, herald_clock_wall_ms());
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

pub_attach_gc *
pub_attach_gc_start(pub_attach *a, const herald_redis_url *url, int timeout_ms, int64_t grace_s,
                    int64_t interval_s)
{
    if (!a)
        return NULL;
    pub_attach_gc *g = herald_mem_calloc(1, sizeof(*g));
    g->a = a;
    g->store = pub_store_new(url, timeout_ms);
    g->grace_ms = grace_s * 1000;
    g->interval_s = interval_s;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&g->mu, NULL);
    if (pthread_create(&g->thread, NULL, run, g) != 0) {
        herald_error("attachments gc: cannot start its thread");
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        pub_store_free(g->store);
        free(g);
        return NULL;
    }
    return g;
}

void
pub_attach_gc_stop(pub_attach_gc *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    pub_store_free(g->store);
    free(g);
}

void
pub_attach_gc_metrics(herald_buf *out)
{
    pthread_mutex_lock(&g_stats_mu);
    if (g_stats.valid)
        herald_buf_printf(out,
                          "# TYPE herald_attachment_files gauge\nherald_attachment_files %lld\n"
                          "# TYPE herald_attachment_bytes gauge\nherald_attachment_bytes %lld\n"
                          "# TYPE herald_attachment_orphans_pending gauge\n"
                          "herald_attachment_orphans_pending %lld\n"
                          "# TYPE herald_attachment_deleted_total counter\n"
                          "herald_attachment_deleted_total %lld\n",
                          (long long)g_stats.files, (long long)g_stats.bytes,
                          (long long)g_stats.orphans, (long long)g_stats.deleted);
    pthread_mutex_unlock(&g_stats_mu);
}
