/*
 * history -- Kinto's history plugin: a per-bucket log of every create, update and
 * delete of buckets, collections, groups and records (data and permissions).
 *
 * Entries are written by the write scripts themselves (lib/lua/common.lua,
 * herald_hist_append, called by put_object.lua and delete_object.lua): the entry and
 * the write it describes are one atomic Redis script, so an acknowledged write always
 * has its entry and an entry never exists for a write that did not happen. This module
 * only decides what each write's entry says (pub_history_args: the user, the ids,
 * whether the resource is excluded, the retention bounds) and serves the log:
 *
 *   GET/DELETE /v1/buckets/{bid}/history        Kinto's list semantics (filters,
 *                                               _since/_before/_sort/_limit, Next-Page)
 *   GET /v1/buckets/{bid}/snapshot/collections/{cid}@{ts}   records as they were at ts
 *
 * Reading rules (docs/history.md): a user who may read the bucket now sees every
 * entry. Anyone else sees an entry only when both hold: they were among the readers of
 * the object when the entry was written (the "__read__" list frozen in the entry: bucket,
 * collection and object read/write principals, Kinto's rule), and they may read the
 * object now (current permissions, with inheritance and the settings grants). The
 * second condition is Herald's: a revoked reader stops seeing old entries too.
 *
 * Retention is bounded by settings (maximum age, maximum entries per bucket, maximum
 * entries per listed user and bucket) and enforced by each write, which trims at most
 * a few of the oldest entries: never a scan of the whole log. Entries older than the
 * maximum age are also hidden on read, so the bound is exact from a reader's view.
 */
#ifndef HERALD_PUB_HISTORY_H
#define HERALD_PUB_HISTORY_H

#include <jansson.h>

#include "call.h"

/* Appends the PUB_HIST_NARGS history arguments of a write of the object 'p' (kind
 * PUB_PATH_OBJECT) by the call's user to 'a' (objects.h pub_put.hist). Entries are
 * attributed to 'user_id' when not NULL (workflow writes), else to the user. */
void pub_history_args(pub_args *a, const pub_call *c, const pub_path *p, const char *user_id);

/* 1 if a write of 'uri' by 'user_id' gets an entry (history on, not excluded). */
int pub_history_logged(const pub_settings *s, const char *uri, const char *user_id);

/* GET, HEAD and DELETE of /v1/buckets/{bid}/history ('p' kind PUB_PATH_HISTORY). */
void pub_history_handle(pub_call *c, const pub_path *p);

/* GET /v1/buckets/{bid}/snapshot/collections/{cid}@{ts} ('p' kind PUB_PATH_SNAPSHOT). */
void pub_history_snapshot(pub_call *c, const pub_path *p);

/* capabilities.history, or NULL when history is off. */
json_t *pub_history_capability(const pub_settings *s);

#endif
