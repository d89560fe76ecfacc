/*
 * object -- the handler of one Kinto object (bucket, collection, group, record,
 * account): GET, HEAD, PUT, PATCH, DELETE.
 *
 * Kinto's order of checks is kept: permissions first (an unauthorized client learns
 * nothing, not even whether an object exists), then existence (404 naming the first
 * missing level), then preconditions (412/304), then the body (400). Writes go through
 * write.h; a delete is guarded the same way and retried when the object changed.
 */
#ifndef HERALD_PUB_OBJECT_H
#define HERALD_PUB_OBJECT_H

#include "call.h"

/* Answers 'c' about the object 'p' (PUB_PATH_OBJECT). */
void pub_object_handle(pub_call *c, const pub_path *p);

#endif
