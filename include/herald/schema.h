/*
 * schema -- the Redis key schema and the Lua scripts that change it. Nothing else in
 * Herald spells a key.
 *
 * Objects live in lists, as in Kinto's storage: a list is (parent URI, resource name),
 * e.g. ("", "bucket"), ("/buckets/b", "collection"), ("/buckets/b", "group"),
 * ("/buckets/b/collections/c", "record"), ("", "account"). Ids match
 * ^[a-zA-Z0-9][a-zA-Z0-9_-]*$, so ':' and '/' never occur inside one.
 *
 *   herald:objs:<parent>:<res>   HASH  id -> JCS of the object's data (with id and
 *                                      last_modified)
 *   herald:ts:<parent>:<res>     STRING the list's timestamp (ms); strictly increasing
 *   herald:mod:<parent>:<res>    ZSET  id -> last_modified, live objects and tombstones
 *   herald:tomb:<parent>:<res>   HASH  id -> last_modified of the tombstone
 *   herald:perm:<uri>            HASH  perm -> JSON array of principals ("read", ...)
 *   herald:principals:<principal> SET  URIs of the groups listing <principal> among
 *                                their members ("/buckets/b/groups/g"); kept by the
 *                                publisher's scripts, read to find a user's principals
 *
 *   herald:hist:<bid>            ZSET  history entry id -> last_modified (ms), the bucket's
 *                                log (publisher/history.h; written by lib/lua/common.lua
 *                                herald_hist_append inside each write script)
 *   herald:histe:<bid>           HASH  entry id -> entry JSON (plus "__read__", the
 *                                principals that could read the object then)
 *   herald:histu:<bid>:<user>    ZSET  entry id -> last_modified, for users trimmed per
 *                                user (history_auto_trim_user_ids)
 *   herald:histus:<bid>          SET   the herald:histu keys of the bucket
 *   herald:ts:/buckets/<bid>:history  STRING the history's timestamp (a list timestamp)
 *
 *   herald:changes               STREAM change events for the signer: fields b (bucket
 *                                id), c (collection id, "" for a bucket-level change),
 *                                ts. Consumer group "signers".
 *   herald:snap:<bid>/<cid>      STRING the signed snapshot blob (snapshot.h)
 *   herald:monitor               ZSET  "<bid>/<cid>" -> published version V
 *   herald:monitor:src           HASH  "<bid>/<cid>" -> SHA-1 of the bucket and collection
 *                                attributes and the signing key ids that version was
 *                                built from
 *   herald:monitor:expires       ZSET  "<bid>/<cid>" -> when its signature expires (ms)
 *   herald:monitor:sha           HASH  "<bid>/<cid>" -> head.sha256 of the published
 *                                version (the signed monitor's H)
 *   herald:monitor:gen           STRING incremented whenever herald:monitor changes
 *                                (a store or a removal): the signed monitor's
 *                                compare-and-set on the entries it was built from
 *   herald:monitor:signed        HASH  the signed monitor (herald/monitor.h): fields
 *                                "timestamp" (M), "expires" (E), "gen" (the
 *                                herald:monitor:gen it was built from), "body"
 *                                (JCS {"entries":[...],"signatures":[...]})
 *   herald:signer:keys           HASH  key_id -> public key (base64url), active keys
 *   channel herald:snapshots     PUBLISH "<bid>/<cid> <V>" on a new snapshot,
 *                                "<bid>/<cid> 0" when one is removed,
 *                                "monitor <M>" on a new signed monitor
 *   herald:backoff               STRING seconds read servers send as Backoff on every
 *                                response (0: none); set by the operator, read (never
 *                                written) by read servers; absent: their setting
 *
 * Timestamps are computed inside Redis (the Lua scripts, with Redis TIME) as
 *   ts = max(now_ms, previous + 1, published + 1)
 * where published is the collection's score in herald:monitor (records lists only).
 */
#ifndef HERALD_SCHEMA_H
#define HERALD_SCHEMA_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "herald/mem.h"

#define HERALD_KEY_CHANGES "herald:changes"
#define HERALD_KEY_MONITOR "herald:monitor"
#define HERALD_KEY_MONITOR_SRC "herald:monitor:src"
#define HERALD_KEY_MONITOR_EXPIRES "herald:monitor:expires"
#define HERALD_KEY_MONITOR_SHA "herald:monitor:sha"
#define HERALD_KEY_MONITOR_GEN "herald:monitor:gen"
#define HERALD_KEY_MONITOR_SIGNED "herald:monitor:signed"
#define HERALD_KEY_SIGNER_KEYS "herald:signer:keys"
#define HERALD_CHANNEL_SNAPSHOTS "herald:snapshots"
#define HERALD_KEY_BACKOFF "herald:backoff"
#define HERALD_GROUP_SIGNERS "signers"
#define HERALD_KEY_PRINCIPALS_PREFIX "herald:principals:"

enum herald_schema_listkey {
    HERALD_LIST_OBJS,
    HERALD_LIST_TS,
    HERALD_LIST_MOD,
    HERALD_LIST_TOMB,
};

/* Appends the key of one part of the list (parent, res) to 'out'. 'parent' is "" for
 * top-level lists. */
void herald_schema_list_key(herald_buf *out, enum herald_schema_listkey which, const char *parent,
                            const char *res);
/* Appends "herald:perm:<uri>". */
void herald_schema_perm_key(herald_buf *out, const char *uri);
/* Appends "herald:snap:<bid>/<cid>". */
void herald_schema_snap_key(herald_buf *out, const char *bid, const char *cid);
/* Appends the monitor member "<bid>/<cid>". */
void herald_schema_monitor_member(herald_buf *out, const char *bid, const char *cid);
/* 1 if 'id' matches ^[a-zA-Z0-9][a-zA-Z0-9_-]*$ and is at most 255 bytes, else 0. */
int herald_schema_valid_id(const char *id, size_t len);

/* An integer in a script reply: a Redis integer or a decimal string. Returns 0 or -1. */
int herald_schema_reply_i64(int64_t *out, const redisReply *r) __attribute__((warn_unused_result));

/*
 * The reply of signer_read.lua (see its header comment), typed:
 *   {"gone"} | {"unpublished"} | {"unchanged", P} |
 *   {"ok", V, bucket json, collection json, {id, json, ...}, {id, lm, ...}, stamp,
 *    "full" | "delta", live count}
 * Strings and arrays point into the reply, which must outlive this struct.
 */
enum herald_read_status {
    HERALD_READ_OK,
    HERALD_READ_GONE,        /* the bucket or the collection does not exist */
    HERALD_READ_UNPUBLISHED, /* not readable by system.Everyone */
    HERALD_READ_UNCHANGED,   /* already published as is */
};

typedef struct herald_read_reply {
    enum herald_read_status status;
    int64_t version; /* OK: V; UNCHANGED: the published P when given, else 0 */
    const char *bucket_json, *collection_json;
    size_t bucket_len, collection_len;
    const redisReply *records;    /* array: id, json, id, json, ... */
    const redisReply *tombstones; /* array: id, last_modified, ... */
    const char *stamp;            /* source stamp of this state */
    int full;                     /* 1: the whole state; 0: changes since the given copy */
    int64_t live;                 /* live records in Redis */
} herald_read_reply;

/* Decodes 'r'. Returns 0, or -1 when it is not a reply of that shape. */
int herald_schema_read_reply(herald_read_reply *out, const redisReply *r)
    __attribute__((warn_unused_result));

/* Lua scripts, generated from lib/lua/<name>.lua (each begins with lib/lua/common.lua).
 * See the header comment of each .lua file for its KEYS and ARGV. */
extern const char herald_lua_put_object[];
extern const char herald_lua_delete_object[];
extern const char herald_lua_signer_read[];
extern const char herald_lua_signer_store[];
extern const char herald_lua_signer_remove[];
extern const char herald_lua_signer_monitor[];

#endif
