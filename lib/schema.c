/*
 * schema -- key builders; see include/herald/schema.h for the whole key schema.
 */
#include "herald/schema.h"

#include <stdlib.h>
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

int
herald_schema_reply_i64(int64_t *out, const redisReply *r)
{
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_INTEGER))
        return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = (int64_t)r->integer;
        return 0;
    }
    char *end;
    long long v = strtoll(r->str, &end, 10);
    if (end == r->str || *end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int
is_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING;
}

int
herald_schema_read_reply(herald_read_reply *out, const redisReply *r)
{
    memset(out, 0, sizeof(*out));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !is_str(r->element[0]))
        return -1;
    const char *status = r->element[0]->str;
    if (strcmp(status, "gone") == 0) {
        out->status = HERALD_READ_GONE;
        return 0;
    }
    if (strcmp(status, "unpublished") == 0) {
        out->status = HERALD_READ_UNPUBLISHED;
        return 0;
    }
    if (strcmp(status, "unchanged") == 0) {
        out->status = HERALD_READ_UNCHANGED;
        if (r->elements >= 2 && herald_schema_reply_i64(&out->version, r->element[1]) < 0)
            return -1;
        return 0;
    }
    /* The indexes below are the script's return list, in order. */
    enum { STATUS, VERSION, BUCKET, COLLECTION, RECORDS, TOMBS, STAMP, KIND, LIVE, COUNT };
    redisReply *const *e = r->element;
    if (strcmp(status, "ok") != 0 || r->elements != COUNT ||
        herald_schema_reply_i64(&out->version, e[VERSION]) < 0 || !is_str(e[BUCKET]) ||
        !is_str(e[COLLECTION]) || e[RECORDS]->type != REDIS_REPLY_ARRAY ||
        e[TOMBS]->type != REDIS_REPLY_ARRAY || !is_str(e[STAMP]) || !is_str(e[KIND]) ||
        herald_schema_reply_i64(&out->live, e[LIVE]) < 0)
        return -1;
    if (strcmp(e[KIND]->str, "full") != 0 && strcmp(e[KIND]->str, "delta") != 0)
        return -1;
    out->status = HERALD_READ_OK;
    out->bucket_json = e[BUCKET]->str;
    out->bucket_len = e[BUCKET]->len;
    out->collection_json = e[COLLECTION]->str;
    out->collection_len = e[COLLECTION]->len;
    out->records = e[RECORDS];
    out->tombstones = e[TOMBS];
    out->stamp = e[STAMP]->str;
    out->full = strcmp(e[KIND]->str, "full") == 0;
    return 0;
}
