/*
 * attachment_rule -- see attachment_rule.h.
 */
#include "attachment_rule.h"

#include "herald/kerror.h"
#include "reply.h"

int
pub_attachment_rule_check(pub_call *c, const json_t *old, const json_t *data)
{
    const json_t *was = old ? json_object_get(old, "attachment") : NULL;
    const json_t *now = json_object_get(data, "attachment");
    if (c->attachment_write || !was || json_is_null(was) || !now || json_is_null(now) ||
        json_equal(was, now))
        return 0;
    json_t *details = json_pack("[{s:s,s:s,s:s}]", "location", "body", "name", "attachment",
                                "description", "Attachment metadata cannot be modified.");
    pub_reply_error(c->resp, 400, HERALD_ERRNO_UNDEFINED, "Attachment metadata cannot be modified.",
                    details);
    json_decref(details);
    return -1;
}
