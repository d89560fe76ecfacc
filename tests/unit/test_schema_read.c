/*
 * test_schema_read -- the typed decoder of signer_read.lua's reply (lib/schema.c), on
 * hand-built hiredis replies: each status, every field of "ok", and malformed shapes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "herald/schema.h"

static redisReply *
str(const char *s)
{
    static redisReply pool[64];
    static int n;
    cr_assert_lt(n, 64);
    redisReply *r = &pool[n++];
    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = (char *)s;
    r->len = strlen(s);
    return r;
}

static redisReply *
arr(redisReply **items, size_t n)
{
    static redisReply pool[16];
    static int k;
    cr_assert_lt(k, 16);
    redisReply *r = &pool[k++];
    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->element = items;
    r->elements = n;
    return r;
}

Test(schema_read, statuses)
{
    herald_read_reply rr;
    redisReply *gone[] = {str("gone")}, *unpub[] = {str("unpublished")};
    redisReply *unch[] = {str("unchanged"), str("42")};
    cr_assert_eq(herald_schema_read_reply(&rr, arr(gone, 1)), 0);
    cr_assert_eq(rr.status, HERALD_READ_GONE);
    cr_assert_eq(herald_schema_read_reply(&rr, arr(unpub, 1)), 0);
    cr_assert_eq(rr.status, HERALD_READ_UNPUBLISHED);
    cr_assert_eq(herald_schema_read_reply(&rr, arr(unch, 2)), 0);
    cr_assert_eq(rr.status, HERALD_READ_UNCHANGED);
    cr_assert_eq(rr.version, 42);
    redisReply *what[] = {str("what")};
    cr_assert_eq(herald_schema_read_reply(&rr, arr(what, 1)), -1);
    cr_assert_eq(herald_schema_read_reply(&rr, NULL), -1);
    cr_assert_eq(herald_schema_read_reply(&rr, str("ok")), -1);
}

Test(schema_read, ok_fields)
{
    redisReply *recs[] = {str("r1"), str("{\"id\":\"r1\"}")};
    redisReply *tombs[] = {str("r0"), str("7")};
    redisReply live = {.type = REDIS_REPLY_INTEGER, .integer = 1};
    redisReply *ok[] = {str("ok"),        str("1700000000000"), str("{\"b\":1}"),
                        str("{\"c\":2}"), arr(recs, 2),         arr(tombs, 2),
                        str("stamp-1"),   str("delta"),         &live};
    herald_read_reply rr;
    cr_assert_eq(herald_schema_read_reply(&rr, arr(ok, 9)), 0);
    cr_assert_eq(rr.status, HERALD_READ_OK);
    cr_assert_eq(rr.version, 1700000000000LL);
    cr_assert_str_eq(rr.bucket_json, "{\"b\":1}");
    cr_assert_eq(rr.bucket_len, 7);
    cr_assert_str_eq(rr.collection_json, "{\"c\":2}");
    cr_assert_eq(rr.records->elements, 2);
    cr_assert_eq(rr.tombstones->elements, 2);
    cr_assert_str_eq(rr.stamp, "stamp-1");
    cr_assert_eq(rr.full, 0);
    cr_assert_eq(rr.live, 1);
    ok[7] = str("full");
    cr_assert_eq(herald_schema_read_reply(&rr, arr(ok, 9)), 0);
    cr_assert_eq(rr.full, 1);

    /* Malformed: each field in turn, and the length. */
    ok[7] = str("partial");
    cr_assert_eq(herald_schema_read_reply(&rr, arr(ok, 9)), -1);
    ok[7] = str("full");
    ok[1] = str("12x");
    cr_assert_eq(herald_schema_read_reply(&rr, arr(ok, 9)), -1);
    ok[1] = str("12");
    ok[4] = str("not an array");
    cr_assert_eq(herald_schema_read_reply(&rr, arr(ok, 9)), -1);
    ok[4] = arr(recs, 2);
    cr_assert_eq(herald_schema_read_reply(&rr, arr(ok, 8)), -1);
    cr_assert_eq(herald_schema_read_reply(&rr, arr(ok, 9)), 0, "back to valid");
}
