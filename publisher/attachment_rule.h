/*
 * attachment_rule -- kinto-attachment's one rule on ordinary record writes: the
 * `attachment` object of a record is written by the attachment endpoint only. A PUT or
 * PATCH of the record may drop it or set it to null (as Kinto allows), but may not
 * change a non-null `attachment` into another non-null value: that would point a
 * signed record at a file whose hash and size nobody checked. Kept apart from
 * attachment.c so that write.c can call it without depending on the endpoint (which
 * itself writes through write.c).
 */
#ifndef HERALD_PUB_ATTACHMENT_RULE_H
#define HERALD_PUB_ATTACHMENT_RULE_H

#include <jansson.h>

#include "call.h"

/* For a record write of 'c' from 'old' (NULL: new record) to 'data': returns 0 when
 * allowed, else -1 after replying 400 "Attachment metadata cannot be modified." */
int pub_attachment_rule_check(pub_call *c, const json_t *old, const json_t *data);

#endif
