/*
 * review -- Remote Settings' review workflow (its signer plugin's multi-signoff), with
 * the same wire behaviour, and stricter (docs/review.md).
 *
 * Resources (resources.h) map a source (workspace) collection to a destination, with
 * an optional preview. Editors change the source; its `status` drives the workflow:
 * work-in-progress -> to-review (pushes source -> preview) -> to-sign (a reviewer other
 * than the requester approves: source -> preview and destination) -> signed; to-rollback
 * resets the source (and preview) to the destination; to-resign asks the signer to sign
 * the preview and destination again. Any record edit in the source sets
 * work-in-progress, in the same Redis script as the edit (side arguments of
 * put_object/delete_object, lib/lua/common.lua), which cancels a pending review.
 *
 * Every transition and the record copies it implies are one Lua script
 * (lib/lua/review_apply.lua) guarded by the state read: no destination ever holds half of
 * a review, and racing approvals or edits are decided on a consistent state (the loser
 * reads again and gets the refusal the new state implies).
 *
 * Stricter than Remote Settings: preview and destination collections (and buckets) of
 * a configured resource can only be changed by the workflow: any direct write, by
 * anyone including the admin, is 403 naming the source to edit instead. So with review
 * enabled, no single account can take a change from a source to a destination.
 *
 * Writers: the workflow's own writes (copies, created destinations and groups) are
 * attributed to PUB_REVIEW_USER in the history.
 */
#ifndef HERALD_PUB_REVIEW_H
#define HERALD_PUB_REVIEW_H

#include <jansson.h>

#include "call.h"
#include "resources.h"

#define PUB_REVIEW_USER "plugin:remote-settings"

/* capabilities.signer, in Remote Settings' shape; NULL when no resource is configured. */
json_t *pub_review_capability(const pub_settings *s);

/* For the router: a write (PUT, PATCH, POST, DELETE) on 'p' inside a preview or
 * destination answers 403 naming the source. Returns 1 when it answered. */
int pub_review_refuse_target(pub_call *c, const pub_path *p);

/* Appends the PUB_SIDE_NARGS side arguments of a write of record 'p' (objects.h):
 * when the record is in a source collection, the collection ('coll', as read: stored
 * JSON) becomes work-in-progress with last_edit_by/date in the same script. */
void pub_review_side_args(pub_args *a, const pub_call *c, const pub_path *p,
                          const redisReply *coll);

/* What a collection write in a source means (pub_review_collection). */
typedef struct pub_review_plan {
    int source; /* the collection is a configured source */
    int setup;  /* a new source: create groups, preview, destination after the write */
    int apply;  /* a transition with copies: pub_review_apply instead of put_object */
    char requested[24];
    char old_status[24];
    pub_resolved r;
} pub_review_plan;

/*
 * For write.c, once the new data and permissions of a collection write are known
 * ('old' NULL for a create; 'bdata' the request body's "data" or NULL): checks the
 * tracking fields (400), the status transition (400/403 with Remote Settings' errnos
 * and messages) and amends 'data' (final status, tracking fields) and 'perms' (the
 * groups on a new source). Returns 0 with '*plan', or -1 after replying.
 */
int pub_review_collection(pub_call *c, const pub_path *p, const pub_view *v, const json_t *old,
                          const json_t *bdata, json_t *data, json_t *perms, pub_review_plan *plan)
    __attribute__((warn_unused_result));

/*
 * Runs a transition planned with copies: reads the record lists, diffs, and runs
 * review_apply.lua with the new collection ('prefix'/'suffix', stamp.h; 'perms' the
 * permission pairs) guarded by 'old_json' (the collection as read). Replies. Returns
 * PUB_CHANGED to be retried, else PUB_OK.
 */
int pub_review_apply(pub_call *c, const pub_path *p, const pub_review_plan *plan,
                     const redisReply *old_json, const herald_buf *prefix, const herald_buf *suffix,
                     const pub_args *perms);

/* After a new source collection is written: creates its missing editors and reviewers
 * groups and the missing preview and destination (idempotent). Logged, not answered:
 * the write itself succeeded. */
void pub_review_setup(pub_call *c, const pub_path *p, const pub_review_plan *plan);

#endif
