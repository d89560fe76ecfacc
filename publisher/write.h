/*
 * write -- the write of one object (PUT, PATCH, and POST once its id is known), shared
 * by the object and list handlers.
 *
 * A write reads first (objects.h: the path's objects and permissions in one
 * transaction), decides on that state, then writes with a guard on the state it read.
 * If another publisher changed the object in between, the script refuses (PUB_CHANGED)
 * and the write starts over, a few times at most, then answers 409. One attempt goes
 * through these steps, each of which may answer and stop:
 *
 *   read         the view of the path
 *   check        reserved ids, permissions (Kinto's order: an unauthorized client learns
 *                nothing, not even whether the object exists), then existence (404)
 *   precondition If-Match / If-None-Match (412); POST of an existing id answers it
 *   content      the new data and permissions from the body (PUT, the three PATCH
 *                flavours of patch.h), validated (400)
 *   schema       the schema attributes checked, the data validated against the
 *                collection's and the bucket's JSON schemas (schema.h; 400)
 *   complete     the account password replaced by its hash; the writer kept among
 *                the writers
 *   encode       the stored form (stamp.h) and its size limit; an unchanged PATCH is
 *                answered without a write
 *   store        the Lua script, and its answer turned into the response
 */
#ifndef HERALD_PUB_WRITE_H
#define HERALD_PUB_WRITE_H

#include <jansson.h>

#include "call.h"

enum pub_write_mode { PUB_WRITE_PUT, PUB_WRITE_PATCH, PUB_WRITE_POST };

/* The body's Content-Type: JSON, or for a PATCH one of the two patch formats. */
enum pub_body_kind { PUB_BODY_JSON, PUB_BODY_MERGE, PUB_BODY_JSONPATCH };

/* Checks the request's Content-Type (415) and parses its body (400): an object, or an
 * array for a JSON Patch. Returns a new reference with '*kind' set, or NULL after
 * replying. */
json_t *pub_write_body(pub_call *c, int is_patch, enum pub_body_kind *kind)
    __attribute__((warn_unused_result));

/* Writes the object named by 'p' (PUB_PATH_OBJECT) from 'body' (pub_write_body) and
 * replies. */
void pub_write_object(pub_call *c, const pub_path *p, enum pub_write_mode mode, const json_t *body,
                      enum pub_body_kind kind);

#endif
