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
 *   herald:changes               STREAM change events for the signer: fields b (bucket
 *                                id), c (collection id, "" for a bucket-level change),
 *                                ts. Consumer group "signers".
 *   herald:snap:<bid>/<cid>      STRING the signed snapshot blob (snapshot.h)
 *   herald:monitor               ZSET  "<bid>/<cid>" -> published version V
 *   herald:monitor:src           HASH  "<bid>/<cid>" -> SHA-1 of the bucket and collection
 *                                attributes and the signing key ids that version was
 *                                built from
 *   herald:monitor:expires       ZSET  "<bid>/<cid>" -> when its signature expires (ms)
 *   herald:signer:keys           HASH  key_id -> public key (base64url), active keys
 *   channel herald:snapshots     PUBLISH "<bid>/<cid> <V>" on a new snapshot,
 *                                "<bid>/<cid> 0" when one is removed
 *
 * Timestamps are computed inside Redis (the Lua scripts, with Redis TIME) as
 *   ts = max(now_ms, previous + 1, published + 1)
 * where published is the collection's score in herald:monitor (records lists only).
 */
#ifndef HERALD_SCHEMA_H
#define HERALD_SCHEMA_H

#include "herald/mem.h"

#define HERALD_KEY_CHANGES "herald:changes"
#define HERALD_KEY_MONITOR "herald:monitor"
#define HERALD_KEY_MONITOR_SRC "herald:monitor:src"
#define HERALD_KEY_MONITOR_EXPIRES "herald:monitor:expires"
#define HERALD_KEY_SIGNER_KEYS "herald:signer:keys"
#define HERALD_CHANNEL_SNAPSHOTS "herald:snapshots"
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

/* Lua scripts, generated from lib/lua/<name>.lua (each begins with lib/lua/common.lua).
 * See the header comment of each .lua file for its KEYS and ARGV. */
extern const char herald_lua_put_object[];
extern const char herald_lua_delete_object[];
extern const char herald_lua_signer_read[];
extern const char herald_lua_signer_store[];
extern const char herald_lua_signer_remove[];

#endif
