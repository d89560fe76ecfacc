/*
 * attachment_rule -- see attachment_rule.h.
 */
#include "attachment_rule.h"

#include <string.h>

#include "herald/jcs.h"
#include "herald/kerror.h"
#include "reply.h"

/* Equal as JSON values. Not json_equal(): the stored record is parsed with integers as
 * reals (herald_jcs_parse without HERALD_JCS_STRICT) and a request body strictly, and
 * jansson never finds the real 6.0 equal to the integer 6, so a client sending back the
 * record it read, unchanged, was refused. The canonical forms (RFC 8785) compare numbers
 * by value and objects regardless of key order. */
static int
same_value(const json_t *a, const json_t *b)
{
    herald_buf x = HERALD_BUF_INIT, y = HERALD_BUF_INIT;
    int eq = herald_jcs_dump(&x, a) == 0 && herald_jcs_dump(&y, b) == 0 && x.len == y.len &&
             memcmp(x.data, y.data, x.len) == 0;
    herald_buf_free(&x);
    herald_buf_free(&y);
    return eq;
}

int
pub_attachment_rule_check(pub_call *c, const json_t *old, const json_t *data)
{
    const json_t *was = old ? json_object_get(old, "attachment") : NULL;
    const json_t *now = json_object_get(data, "attachment");
    if (c->attachment_write || !was || json_is_null(was) || !now || json_is_null(now) ||
        same_value(was, now))
        return 0;
    json_t *details = json_pack("[{s:s,s:s,s:s}]", "location", "body", "name", "attachment",
                                "description", "Attachment metadata cannot be modified.");
    pub_reply_error(c->resp, 400, HERALD_ERRNO_UNDEFINED, "Attachment metadata cannot be modified.",
                    details);
    json_decref(details);
    return -1;
}
