/*
 * objects -- Kinto objects (buckets, collections, groups, records, accounts) in Redis,
 * following the key schema of include/herald/schema.h.
 *
 * Level L of a path (pub_path, 0-based) is the object ids[L] in the list
 * (parent = URI of level L-1, res = p->res[L]):
 *
 *   level 0  ("",                       "bucket")      uri /buckets/b
 *   level 1  ("/buckets/b",             "collection")  uri /buckets/b/collections/c
 *   level 2  ("/buckets/b/collections/c", "record")    uri .../records/r
 *   (groups: level 1 ("/buckets/b", "group"); accounts: level 0 ("", "account"))
 *
 * Reads are one MULTI/EXEC transaction (one consistent state, one round trip) that
 * fetches every level's object and permissions, so the caller can check ancestors
 * exist and resolve inherited permissions from the same state. Writes are one Lua
 * script each (lib/lua/put_object.lua, delete_object.lua), which also check the
 * ancestors, assign the timestamp and append the change event atomically, guarded by
 * the state the caller read (PUB_CHANGED: read again and start over).
 *
 * Return values of the operations: PUB_OK, PUB_MISSING (an object or an ancestor does
 * not exist; *missing_level says which), PUB_CHANGED (the guard failed), PUB_FULL (the
 * list holds storage_max_fetch_size objects), PUB_UNAVAILABLE (Redis unreachable or
 * not serving: answer 503), PUB_UNCONFIRMED (the write ran but WAIT did not see enough
 * replicas have it: 503 saying it may or may not be kept), PUB_FAILED (an unexpected reply: a bug,
 * answer 500).
 */
#ifndef HERALD_PUB_OBJECTS_H
#define HERALD_PUB_OBJECTS_H

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "herald/mem.h"
#include "path.h"
#include "perms.h"
#include "store.h"

/* The number of history arguments every write script takes (lib/lua/common.lua,
 * herald_hist_take). */
#define PUB_HIST_NARGS 10
/* The number of side arguments (review.h: a source collection's status on a record
 * edit; lib/lua/common.lua herald_side_take). */
#define PUB_SIDE_NARGS 5

enum pub_status {
    PUB_OK = 0,
    PUB_MISSING = 1,
    PUB_CHANGED = 2,
    PUB_FULL = 3,
    PUB_UNAVAILABLE = -1,
    PUB_FAILED = -2,
    PUB_UNCONFIRMED = -3, /* written, but redis_min_replicas did not confirm it: 503 */
};

/* Appends the URI of the object at 'levels' levels of 'p' ("/buckets/b/..."; "" for 0). */
void pub_objects_uri(herald_buf *out, const pub_path *p, int levels);

/* One consistent read of the levels 0..depth-1 of a path and, optionally, of the list
 * below them. Pointers point into 'exec'; free everything with pub_view_free. */
typedef struct pub_view {
    redisReply *exec;
    int depth;
    const redisReply *obj[PUB_DEPTH_MAX];  /* stored JSON, or REDIS_REPLY_NIL */
    const redisReply *perm[PUB_DEPTH_MAX]; /* HGETALL: perm, JSON array, ... */
    pub_permset sets[PUB_DEPTH_MAX + 1];   /* perm[] as pub_permsets (+1 for a child) */
    const char **kv_store[PUB_DEPTH_MAX + 1];
    size_t *len_store[PUB_DEPTH_MAX + 1];
    /* With a list: */
    const redisReply *list_ts;    /* GET herald:ts (string or nil) */
    const redisReply *list_objs;  /* HGETALL herald:objs: id, JSON, ... */
    const redisReply *list_tombs; /* HGETALL herald:tomb: id, last_modified, ... */
} pub_view;

/* Reads levels 0..depth-1 of 'p', plus the list at level 'depth' when 'with_list'.
 * Returns PUB_OK or PUB_UNAVAILABLE. */
int pub_objects_fetch(pub_view *v, pub_store *s, const pub_path *p, int depth, int with_list)
    __attribute__((warn_unused_result));
void pub_view_free(pub_view *v); /* NULL-safe, idempotent */
/* The first level < v->depth whose object does not exist, or -1. */
int pub_view_first_missing(const pub_view *v);
/* 1 if level 'level' exists. */
int pub_view_exists(const pub_view *v, int level);
/* The list's timestamp, or 0. */
long long pub_view_list_ts(const pub_view *v);

/* Sets 'set' to the permissions in an HGETALL reply; the arrays are allocated into
 * '*kv' and '*len' (free both). */
void pub_permset_from_reply(pub_permset *set, const char ***kv, size_t **len,
                            const redisReply *flat);

/* Appends the permissions object {"perm":[principals...],...} from an HGETALL reply. */
void pub_objects_perms_json(herald_buf *out, const redisReply *flat);

/* Reads the permissions of the 'n' objects 'ids' of the list at level 'level' of 'p'
 * (one HGETALL each, one transaction). Returns the EXEC reply (free it) or NULL. */
redisReply *pub_objects_fetch_perms(pub_store *s, const pub_path *p, int level,
                                    const char *const *ids, size_t n)
    __attribute__((warn_unused_result));

typedef struct pub_put {
    /* In: */
    const herald_buf *prefix; /* stamp.h halves of the stored JSON */
    const herald_buf *suffix;
    const pub_args *perms; /* the permissions after the write, (name, JSON array) pairs */
    long long guard;       /* -1: none; 0: must not exist; else its last_modified */
    long long max_objects; /* 0: no limit */
    const pub_args *hist;  /* PUB_HIST_NARGS history arguments (history.h); NULL: no entry */
    const pub_args *side;  /* PUB_SIDE_NARGS side arguments (review.h); NULL: none */
    /* Out: */
    int created;
    long long ts;
    int missing_level;
    herald_buf perms_json; /* the object's permissions after the write */
} pub_put;

/* Creates or replaces the object named by 'p' (kind PUB_PATH_OBJECT). The caller
 * releases w->perms_json with herald_buf_free. */
int pub_objects_put(pub_put *w, pub_store *s, const pub_path *p)
    __attribute__((warn_unused_result));

/* Deletes the object named by 'p', with its children (collection, bucket). Sets *ts to
 * the tombstone's timestamp. PUB_MISSING means the object itself did not exist.
 * 'guard', 'side' and 'hist' as in pub_put (-1: none). */
int pub_objects_delete(long long *ts, pub_store *s, const pub_path *p, long long guard,
                       const pub_args *side, const pub_args *hist)
    __attribute__((warn_unused_result));

/* The group URIs listing any of the user's principals (SUNION of herald:principals),
 * added to 'u'. Returns PUB_OK or PUB_UNAVAILABLE. */
int pub_objects_load_principals(pub_user *u, pub_store *s) __attribute__((warn_unused_result));

/* Runs one read command (argv) and returns its reply (free it), or NULL. */
redisReply *pub_objects_command(pub_store *s, const pub_args *cmd)
    __attribute__((warn_unused_result));

#endif
