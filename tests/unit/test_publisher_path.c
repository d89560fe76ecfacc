/*
 * Unit tests for publisher/path.c (the Kinto URL router). The test links the
 * publisher's modules (herald_publisher).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "path.h"

struct route_case {
    /* Arrays, not pointers: Criterion runs each case in a new process (with its own
     * address layout), so parameters must not point into the parent's memory. */
    char path[64];
    enum pub_path_kind kind;
    int depth;
    char last_id[16]; /* ids[depth-1] for objects, "" otherwise */
    char redirect[32];
};

ParameterizedTestParameters(publisher_path, routes)
{
    static struct route_case cases[] = {
        {"/v1/", PUB_PATH_ROOT, 0, "", ""},
        {"/v1", PUB_PATH_REDIRECT, 0, "", "/v1/"},
        {"/", PUB_PATH_REDIRECT, 0, "", "/v1/"},
        {"/buckets/b", PUB_PATH_REDIRECT, 0, "", "/v1/buckets/b"},
        {"/v1/buckets/", PUB_PATH_REDIRECT, 0, "", "/v1/buckets"},
        {"/v2/buckets", PUB_PATH_BAD_VERSION, 0, "", ""},
        {"/v1/buckets", PUB_PATH_LIST, 1, "", ""},
        {"/v1/buckets/b", PUB_PATH_OBJECT, 1, "b", ""},
        {"/v1/buckets/b/collections", PUB_PATH_LIST, 2, "", ""},
        {"/v1/buckets/b/collections/c-1", PUB_PATH_OBJECT, 2, "c-1", ""},
        {"/v1/buckets/b/collections/c/records", PUB_PATH_LIST, 3, "", ""},
        {"/v1/buckets/b/collections/c/records/R_9", PUB_PATH_OBJECT, 3, "R_9", ""},
        {"/v1/buckets/b/collections/c/records/r/x", PUB_PATH_NOT_FOUND, 0, "", ""},
        {"/v1/buckets/b/records/r", PUB_PATH_NOT_FOUND, 0, "", ""},
        {"/v1/buckets//collections", PUB_PATH_NOT_FOUND, 0, "", ""},
        {"/v1/nope", PUB_PATH_NOT_FOUND, 0, "", ""},
        {"/v1/buckets/_b", PUB_PATH_BAD_ID, 1, "", ""},
        {"/v1/buckets/a%2Fb", PUB_PATH_BAD_ID, 1, "", ""},
        {"/v1/buckets/b:c/collections/c", PUB_PATH_BAD_ID, 2, "", ""},
        {"/v1/buckets/b.c/nope", PUB_PATH_NOT_FOUND, 0, "", ""},
        {"/v1/buckets/b/groups", PUB_PATH_LIST, 2, "", ""},
        {"/v1/buckets/b/groups/g1", PUB_PATH_OBJECT, 2, "g1", ""},
        {"/v1/buckets/b/groups/g/records", PUB_PATH_NOT_FOUND, 0, "", ""},
        {"/v1/accounts", PUB_PATH_LIST, 1, "", ""},
        {"/v1/accounts/alice", PUB_PATH_OBJECT, 1, "alice", ""},
        {"/v1/accounts/alice/collections", PUB_PATH_NOT_FOUND, 0, "", ""},
        {"/v1/batch", PUB_PATH_BATCH, 0, "", ""},
        {"/v1/permissions", PUB_PATH_PERMISSIONS, 0, "", ""},
        {"/v1/__heartbeat__", PUB_PATH_HEARTBEAT, 0, "", ""},
        {"/v1/__lbheartbeat__", PUB_PATH_LBHEARTBEAT, 0, "", ""},
        {"/v1/__version__", PUB_PATH_VERSION, 0, "", ""},
        {"/v1/__flush__", PUB_PATH_FLUSH, 0, "", ""},
        {"/v1/batch/", PUB_PATH_REDIRECT, 0, "", "/v1/batch"},
    };
    return cr_make_param_array(struct route_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct route_case *c, publisher_path, routes)
{
    pub_path p;
    cr_assert_eq(pub_path_parse(&p, c->path), 0);
    cr_assert_eq(p.kind, c->kind, "%s: kind %d, want %d", c->path, p.kind, c->kind);
    if (c->kind == PUB_PATH_LIST || c->kind == PUB_PATH_OBJECT || c->kind == PUB_PATH_BAD_ID)
        cr_assert_eq(p.depth, c->depth, "%s: depth %d", c->path, p.depth);
    if (c->last_id[0])
        cr_assert_str_eq(p.ids[p.depth - 1], c->last_id);
    if (c->redirect[0])
        cr_assert_str_eq(p.redirect, c->redirect);
}

Test(publisher_path, bad_id_names_its_level)
{
    pub_path p;
    pub_path_parse(&p, "/v1/buckets/b/collections/c/records/-r");
    cr_assert_eq(p.kind, PUB_PATH_BAD_ID);
    cr_assert_eq(p.bad_level, 2);
    cr_assert_str_eq(pub_path_name(&p, p.bad_level), "record");
}

Test(publisher_path, id_length_limit)
{
    char path[400], id[300];
    memset(id, 'a', 256);
    id[256] = '\0';
    snprintf(path, sizeof(path), "/v1/buckets/%s", id);
    pub_path p;
    pub_path_parse(&p, path);
    cr_assert_eq(p.kind, PUB_PATH_BAD_ID);
    id[255] = '\0';
    snprintf(path, sizeof(path), "/v1/buckets/%s", id);
    pub_path_parse(&p, path);
    cr_assert_eq(p.kind, PUB_PATH_OBJECT);
    cr_assert_str_eq(p.ids[0], id);
}

Test(publisher_path, resources_per_level)
{
    pub_path p;
    pub_path_parse(&p, "/v1/buckets/b/groups/g");
    cr_assert_eq(p.res[0], PUB_RES_BUCKET);
    cr_assert_eq(p.res[1], PUB_RES_GROUP);
    cr_assert_str_eq(pub_path_name(&p, 1), "group");
    pub_path_parse(&p, "/v1/accounts/a");
    cr_assert_eq(p.res[0], PUB_RES_ACCOUNT);
    pub_path_parse(&p, "/v1/buckets/b/collections/c/records/r");
    cr_assert_eq(p.res[2], PUB_RES_RECORD);
}
