/*
 * test_redis_url -- the Redis URL forms every program takes: redis:// and
 * redis+sentinel:// (herald/redis.h, herald/sentinel.h).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "herald/redis.h"
#include "herald/sentinel.h"

Test(redis_url, plain)
{
    herald_redis_url u;
    cr_assert_eq(herald_redis_parse_url(&u, "redis://10.0.0.1:6380/3"), 0);
    cr_assert_str_eq(u.host, "10.0.0.1");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 3);
    cr_assert_eq(u.sentinel.n, 0);
    cr_assert_eq(herald_redis_parse_url(&u, "redis://h"), 0);
    cr_assert_eq(u.port, 6379);
}

Test(redis_url, sentinel)
{
    herald_redis_url u;
    cr_assert_eq(herald_redis_parse_url(&u, "redis+sentinel://a:26380,b,10.0.0.3:1/mymaster/2"), 0);
    cr_assert_eq(u.sentinel.n, 3);
    cr_assert_str_eq(u.sentinel.addr[0].host, "a");
    cr_assert_eq(u.sentinel.addr[0].port, 26380);
    cr_assert_str_eq(u.sentinel.addr[1].host, "b");
    cr_assert_eq(u.sentinel.addr[1].port, 26379);
    cr_assert_str_eq(u.sentinel.addr[2].host, "10.0.0.3");
    cr_assert_eq(u.sentinel.addr[2].port, 1);
    cr_assert_str_eq(u.sentinel.master, "mymaster");
    cr_assert_eq(u.db, 2);
    cr_assert_eq(herald_redis_parse_url(&u, "redis+sentinel://s1:26379/m"), 0);
    cr_assert_eq(u.db, 0);
    cr_assert_eq(u.sentinel.n, 1);
    cr_assert_str_eq(u.sentinel.master, "m");
}

Test(redis_url, sentinel_refused)
{
    static const char *const bad[] = {
        "redis+sentinel://",
        "redis+sentinel://a:1",                 /* no master */
        "redis+sentinel://a:1/",                /* empty master */
        "redis+sentinel://a:1,/m",              /* empty address */
        "redis+sentinel://,a:1/m",              /* empty address */
        "redis+sentinel://a:0/m",               /* port 0 */
        "redis+sentinel://a:65536/m",           /* port too large */
        "redis+sentinel://a:x/m",               /* port not a number */
        "redis+sentinel://a:/m",                /* empty port */
        "redis+sentinel://a:1/m/x",             /* db not a number */
        "redis+sentinel://u:p@a:1/m",           /* credentials */
        "redis+sentinel://a,b,c,d,e,f,g,h,i/m", /* more than HERALD_SENTINEL_MAX */
        "sentinel://a:1/m",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        herald_redis_url u;
        cr_expect_neq(herald_redis_parse_url(&u, bad[i]), 0, "%s", bad[i]);
    }
}

Test(redis_url, rediscovery_errors)
{
    redisReply r = {.type = REDIS_REPLY_ERROR};
    char readonly[] = "READONLY You can't write against a read only replica.";
    char noreplicas[] = "NOREPLICAS Not enough good replicas to write.";
    char other[] = "ERR wrong number of arguments";
    r.str = readonly;
    cr_assert(herald_redis_error_wants_rediscovery(&r));
    r.str = noreplicas;
    cr_assert(herald_redis_error_wants_rediscovery(&r));
    r.str = other;
    cr_assert_not(herald_redis_error_wants_rediscovery(&r));
    cr_assert_not(herald_redis_error_wants_rediscovery(NULL));
}

/* Against a real Redis that is no sentinel: resolve fails with a reason, never an
 * address; against nothing listening, too. */
Test(redis_url, resolve_without_sentinels)
{
    herald_sentinel_conf c;
    memset(&c, 0, sizeof(c));
    cr_assert_eq(herald_sentinel_parse_list(&c, "127.0.0.1:1", 11), 0);
    snprintf(c.master, sizeof(c.master), "m");
    herald_sentinel_addr a;
    char err[256] = "";
    cr_assert_eq(herald_sentinel_resolve(&a, &c, 0, 0, 200, err, sizeof(err)), -1);
    cr_assert(strstr(err, "sentinel") != NULL, "%s", err);
}
