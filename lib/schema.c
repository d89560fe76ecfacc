/*
 * schema -- key builders; see include/herald/schema.h for the whole key schema.
 */
#include "herald/schema.h"

#include <string.h>

void
herald_schema_list_key(herald_buf *out, enum herald_schema_listkey which, const char *parent,
                       const char *res)
{
    static const char *kinds[] = {"herald:objs:", "herald:ts:", "herald:mod:", "herald:tomb:"};
    herald_buf_puts(out, kinds[which]);
    herald_buf_puts(out, parent);
    herald_buf_putc(out, ':');
    herald_buf_puts(out, res);
}

void
herald_schema_perm_key(herald_buf *out, const char *uri)
{
    herald_buf_puts(out, "herald:perm:");
    herald_buf_puts(out, uri);
}

void
herald_schema_snap_key(herald_buf *out, const char *bid, const char *cid)
{
    herald_buf_puts(out, "herald:snap:");
    herald_schema_monitor_member(out, bid, cid);
}

void
herald_schema_monitor_member(herald_buf *out, const char *bid, const char *cid)
{
    herald_buf_puts(out, bid);
    herald_buf_putc(out, '/');
    herald_buf_puts(out, cid);
}

int
herald_schema_valid_id(const char *id, size_t len)
{
    if (len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-')))
            return 0;
    }
    return 1;
}
