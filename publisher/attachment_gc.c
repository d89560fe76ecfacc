/*
 * attachment_gc -- see attachment_gc.h for the rules.
 */
#include "attachment_gc.h"

#include <dirent.h>
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

struct pub_attach_gc {
    pub_attach *a;
    pub_store *store;
    int64_t grace_ms;
    int64_t interval_s;
    struct event *tev;
};

static struct {
    int valid;
    int64_t files, bytes, orphans, deleted;
} g_stats;

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
            snprintf(path, sizeof(path), "%s/%s", sub, h);
            if (stat(path, &st) != 0)
                continue;
            if (hashes_has(&refs, h)) {
                files++;
                bytes += st.st_size;
                if (json_object_get(orph, h)) {
                    const char *hd[] = {"HDEL", PUB_GC_ORPHANS_KEY, h};
                    redisReply *r = command(g->store, hd, 3);
                    if (r)
                        freeReplyObject(r);
                }
                continue;
            }
            json_t *seen = json_object_get(orph, h);
            int64_t mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
            if (!seen) {
                char v[32];
                snprintf(v, sizeof(v), "%lld", (long long)now_ms);
                const char *hs[] = {"HSET", PUB_GC_ORPHANS_KEY, h, v};
                redisReply *r = command(g->store, hs, 4);
                if (r)
                    freeReplyObject(r);
            } else if (deleted < PUB_GC_MAX_DELETES && !pub_attach_keep_old_files(g->a) &&
                       now_ms - json_integer_value(seen) >= g->grace_ms &&
                       now_ms - mtime_ms >= g->grace_ms &&
                       herald_castore_remove_older(pub_attach_store(g->a), h,
                                                   now_ms - g->grace_ms) == 0) {
                const char *hd[] = {"HDEL", PUB_GC_ORPHANS_KEY, h};
                redisReply *r = command(g->store, hd, 3);
                if (r)
                    freeReplyObject(r);
                herald_info("attachments gc: deleted %s (%lld bytes)", h, (long long)st.st_size);
                deleted++;
                continue;
            }
            files++;
            bytes += st.st_size;
            pending++;
        }
        closedir(d);
    }
    g_stats.valid = 1;
    g_stats.files = files;
    g_stats.bytes = bytes;
    g_stats.orphans = pending;
    g_stats.deleted += deleted;
done:
    free(refs.v);
    json_decref(orph);
    return deleted;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pub_attach_gc *g = arg;
    pub_attach_gc_run(g, herald_clock_wall_ms());
}

pub_attach_gc *
pub_attach_gc_start(struct event_base *base, pub_attach *a, pub_store *store, int64_t grace_s,
                    int64_t interval_s)
{
    if (!a)
        return NULL;
    pub_attach_gc *g = herald_mem_calloc(1, sizeof(*g));
    g->a = a;
    g->store = store;
    g->grace_ms = grace_s * 1000;
    g->interval_s = interval_s;
    g->tev = event_new(base, -1, EV_PERSIST, on_tick, g);
    struct timeval tv = {(time_t)interval_s, 0};
    if (!g->tev || event_add(g->tev, &tv) != 0) {
        herald_error("attachments gc: cannot start its timer");
        pub_attach_gc_stop(g);
        return NULL;
    }
    return g;
}

void
pub_attach_gc_stop(pub_attach_gc *g)
{
    if (!g)
        return;
    if (g->tev)
        event_free(g->tev);
    free(g);
}

void
pub_attach_gc_metrics(herald_buf *out)
{
    if (!g_stats.valid)
        return;
    herald_buf_printf(out,
                      "# TYPE herald_attachment_files gauge\nherald_attachment_files %lld\n"
                      "# TYPE herald_attachment_bytes gauge\nherald_attachment_bytes %lld\n"
                      "# TYPE herald_attachment_orphans_pending gauge\n"
                      "herald_attachment_orphans_pending %lld\n"
                      "# TYPE herald_attachment_deleted_total counter\n"
                      "herald_attachment_deleted_total %lld\n",
                      (long long)g_stats.files, (long long)g_stats.bytes,
                      (long long)g_stats.orphans, (long long)g_stats.deleted);
}
