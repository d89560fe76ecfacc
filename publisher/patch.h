/*
 * patch -- the three PATCH flavours Kinto accepts, on jansson values:
 *
 *   application/json              shallow merge of "data" (Kinto's default: top-level
 *                                 keys replaced, sub-objects replaced, null kept)
 *   application/merge-patch+json  RFC 7396 (null removes a key, objects merge)
 *   application/json-patch+json   RFC 6902 operations on {"data": {...},
 *                                 "permissions": {"read": {principal: principal}, ...}}
 *                                 so "/permissions/read/alice" adds or removes one
 *                                 principal, as in Kinto.
 *
 * Pure functions, no I/O: unit-tested in tests/unit/test_publisher_patch.c.
 */
#ifndef HERALD_PUB_PATCH_H
#define HERALD_PUB_PATCH_H

#include <jansson.h>
#include <stddef.h>

/* Sets every key of 'patch' into 'target' (both objects). */
void pub_patch_shallow(json_t *target, const json_t *patch);

/* RFC 7396. Returns a new reference to the result ('target' may be consumed into it;
 * the caller keeps its own reference to 'target' and must still decref it). */
json_t *pub_patch_merge(json_t *target, const json_t *patch) __attribute__((warn_unused_result));

/* RFC 6902: applies the operations array 'ops' to '*doc' (which may be replaced).
 * Returns 0, or -1 with a one-line reason in 'err' (then '*doc' may be half patched:
 * the caller patches a copy). A failed "test" operation is an error too. */
int pub_patch_json(json_t **doc, const json_t *ops, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Kinto's JSON Patch of an object: applies 'ops' to the document
 *   {"data": <copy of 'data'>, "permissions": {perm: {principal: principal, ...}}}
 * built from 'perms' (perm name -> set object {principal: true}), with an empty object
 * for each name of 'names' (NULL-terminated) that 'perms' lacks. As in Kinto, an
 * operation on "/permissions/<perm>/<principal>" needs no value (it is the principal),
 * and everything after "/permissions/<perm>/" is the principal, '/' included: clients
 * (kinto-http) do not escape the '/' of group URIs there.
 * On success sets '*data_out' (the patched data) and '*perms_out' (the patched
 * permissions shaped like a request body's: perm -> array of principals), both new
 * references, and returns 0; else returns -1 with a one-line reason in 'err'.
 * 'data', 'perms' and 'ops' are not modified.
 */
int pub_patch_kinto(json_t **data_out, json_t **perms_out, const json_t *data, const json_t *perms,
                    const char *const *names, const json_t *ops, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
