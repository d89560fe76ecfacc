/*
 * Unit tests for publisher/perms.c: Kinto's permission inheritance (bucket ->
 * collection -> record, bucket -> group), principals (users, groups, system.*), the
 * settings grants (<resource>_<perm>_principals) and the admin superuser. The test
 * links the publisher's modules (herald_publisher).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "path.h"
#include "perms.h"

/* A permission set from literal (name, JSON array) pairs. */
struct set {
    const char *kv[8];
    size_t len[8];
    pub_permset ps;
};

static void
set_init(struct set *s, const char *n1, const char *v1, const char *n2, const char *v2)
{
    memset(s, 0, sizeof(*s));
    const char *src[4] = {n1, v1, n2, v2};
    size_t n = 0;
    for (int i = 0; i < 4 && src[i]; i += 2) {
        s->kv[2 * n] = src[i];
        s->kv[2 * n + 1] = src[i + 1];
        s->len[2 * n] = strlen(src[i]);
        s->len[2 * n + 1] = strlen(src[i + 1]);
        n++;
    }
    s->ps.n = n;
    s->ps.kv = s->kv;
    s->ps.len = s->len;
}

static pub_path
record_path(void)
{
    pub_path p;
    pub_path_parse(&p, "/v1/buckets/b/collections/c/records/r");
    return p;
}

Test(publisher_perms, inheritance_bucket_to_record)
{
    pub_user alice;
    pub_user_account(&alice, "alice", 0);
    struct set b, c, r;
    set_init(&b, "read", "[\"account:alice\"]", NULL, NULL);
    set_init(&c, NULL, NULL, NULL, NULL);
    set_init(&r, NULL, NULL, NULL, NULL);
    pub_permset sets[3] = {b.ps, c.ps, r.ps};
    pub_path p = record_path();
    cr_assert(pub_perms_allowed(&alice, NULL, &p, 2, "read", sets, PUB_RES_RECORD));
    cr_assert_not(pub_perms_allowed(&alice, NULL, &p, 2, "write", sets, PUB_RES_RECORD));
    cr_assert(pub_perms_allowed(&alice, NULL, &p, 0, "read", sets, PUB_RES_BUCKET));
    pub_user_free(&alice);
}

Test(publisher_perms, write_implies_read_and_create)
{
    pub_user bob;
    pub_user_account(&bob, "bob", 0);
    struct set b, c, r;
    set_init(&b, NULL, NULL, NULL, NULL);
    set_init(&c, "write", "[\"account:bob\"]", NULL, NULL);
    set_init(&r, NULL, NULL, NULL, NULL);
    pub_permset sets[3] = {b.ps, c.ps, r.ps};
    pub_path p = record_path();
    cr_assert(pub_perms_allowed(&bob, NULL, &p, 2, "read", sets, PUB_RES_RECORD));
    cr_assert(pub_perms_allowed(&bob, NULL, &p, 2, "write", sets, PUB_RES_RECORD));
    cr_assert(pub_perms_allowed(&bob, NULL, &p, 1, "record:create", sets, PUB_RES_RECORD));
    /* Nothing above the collection. */
    cr_assert_not(pub_perms_allowed(&bob, NULL, &p, 0, "read", sets, PUB_RES_BUCKET));
    cr_assert_not(
        pub_perms_allowed(&bob, NULL, &p, 0, "collection:create", sets, PUB_RES_COLLECTION));
    pub_user_free(&bob);
}

Test(publisher_perms, create_on_the_object_itself_only)
{
    pub_user u;
    pub_user_account(&u, "u", 0);
    struct set b, c;
    set_init(&b, "collection:create", "[\"account:u\"]", NULL, NULL);
    set_init(&c, NULL, NULL, NULL, NULL);
    pub_permset sets[2] = {b.ps, c.ps};
    pub_path p;
    pub_path_parse(&p, "/v1/buckets/b/collections/c");
    cr_assert(pub_perms_allowed(&u, NULL, &p, 0, "collection:create", sets, PUB_RES_COLLECTION));
    cr_assert_not(pub_perms_allowed(&u, NULL, &p, 0, "group:create", sets, PUB_RES_GROUP));
    /* collection:create on the bucket grants nothing on the collection once created. */
    cr_assert_not(pub_perms_allowed(&u, NULL, &p, 1, "write", sets, PUB_RES_COLLECTION));
    cr_assert_not(pub_perms_allowed(&u, NULL, &p, 1, "read", sets, PUB_RES_COLLECTION));
    pub_user_free(&u);
}

Test(publisher_perms, groups_and_system_principals)
{
    pub_user u, anon;
    pub_user_account(&u, "u", 0);
    pub_user_add(&u, "/buckets/b/groups/editors");
    pub_user_anonymous(&anon);
    struct set b;
    set_init(&b, "write", "[\"/buckets/b/groups/editors\"]", "read", "[\"system.Everyone\"]");
    pub_permset sets[1] = {b.ps};
    pub_path p;
    pub_path_parse(&p, "/v1/buckets/b");
    cr_assert(pub_perms_allowed(&u, NULL, &p, 0, "write", sets, PUB_RES_BUCKET));
    cr_assert(pub_perms_allowed(&anon, NULL, &p, 0, "read", sets, PUB_RES_BUCKET));
    cr_assert_not(pub_perms_allowed(&anon, NULL, &p, 0, "write", sets, PUB_RES_BUCKET));
    struct set auth;
    set_init(&auth, "read", "[\"system.Authenticated\"]", NULL, NULL);
    pub_permset sets2[1] = {auth.ps};
    cr_assert(pub_perms_allowed(&u, NULL, &p, 0, "read", sets2, PUB_RES_BUCKET));
    cr_assert_not(pub_perms_allowed(&anon, NULL, &p, 0, "read", sets2, PUB_RES_BUCKET));
    pub_user_free(&u);
    pub_user_free(&anon);
}

Test(publisher_perms, principal_match_is_exact)
{
    /* "account:al" must not match "account:alice", nor a principal inside another. */
    pub_user u;
    pub_user_account(&u, "al", 0);
    const char *json = "[\"account:alice\",\"x\\\"account:al\\\"\"]";
    cr_assert_not(pub_user_in_json(&u, json, strlen(json)));
    const char *yes = "[\"account:al\",\"account:alice\"]";
    cr_assert(pub_user_in_json(&u, yes, strlen(yes)));
    pub_user_free(&u);
}

Test(publisher_perms, settings_grants)
{
    pub_user u, anon;
    pub_user_account(&u, "u", 0);
    pub_user_anonymous(&anon);
    char *auth_list[] = {"system.Authenticated", NULL};
    char *admins[] = {"account:u", NULL};
    pub_grants g;
    memset(&g, 0, sizeof(g));
    g.list[PUB_RES_BUCKET][PUB_PERM_CREATE] = auth_list;
    g.list[PUB_RES_ACCOUNT][PUB_PERM_WRITE] = admins;
    pub_permset none[1] = {{0, NULL, NULL}};
    pub_path root;
    pub_path_parse(&root, "/v1/buckets/b");
    cr_assert(pub_perms_allowed(&u, &g, &root, -1, "bucket:create", none, PUB_RES_BUCKET));
    cr_assert_not(pub_perms_allowed(&anon, &g, &root, -1, "bucket:create", none, PUB_RES_BUCKET));
    pub_path acc;
    pub_path_parse(&acc, "/v1/accounts/other");
    cr_assert(pub_perms_allowed(&u, &g, &acc, 0, "read", none, PUB_RES_ACCOUNT));
    cr_assert(pub_perms_allowed(&u, &g, &acc, 0, "write", none, PUB_RES_ACCOUNT));
    /* A grant is per resource: account_write_principals says nothing about buckets. */
    cr_assert_not(pub_perms_allowed(&u, &g, &root, 0, "write", none, PUB_RES_BUCKET));
    pub_user_free(&u);
    pub_user_free(&anon);
}

Test(publisher_perms, admin_may_do_everything)
{
    pub_user a;
    pub_user_account(&a, "admin", 1);
    pub_permset none[3] = {{0, NULL, NULL}, {0, NULL, NULL}, {0, NULL, NULL}};
    pub_path p = record_path();
    cr_assert(pub_perms_allowed(&a, NULL, &p, 2, "write", none, PUB_RES_RECORD));
    cr_assert(pub_perms_allowed(&a, NULL, &p, -1, "bucket:create", none, PUB_RES_BUCKET));
    pub_user_free(&a);
}

Test(publisher_perms, user_principals)
{
    pub_user u;
    pub_user_account(&u, "zoe", 0);
    pub_user_add(&u, "/buckets/b/groups/g");
    pub_user_add(&u, "/buckets/b/groups/g");
    cr_assert_eq(u.n, 4);
    cr_assert_str_eq(u.id, "account:zoe");
    pub_user copy;
    pub_user_copy(&copy, &u);
    cr_assert_eq(copy.n, 4);
    cr_assert_str_eq(copy.principals[3], "/buckets/b/groups/g");
    pub_user_free(&copy);
    pub_user_free(&u);
    pub_user_free(NULL);
}
