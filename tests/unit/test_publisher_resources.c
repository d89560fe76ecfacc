/*
 * The review workflow's resources (publisher/resources.h): Remote Settings'
 * signer.resources syntax, its default, per-bucket and per-collection lookups, and the
 * configuration errors that stop the publisher at start.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "resources.h"

Test(resources, default_only_with_review)
{
    pub_resources rs;
    char err[256];
    cr_assert_eq(pub_resources_parse(&rs, NULL, 0, NULL, err, sizeof(err)), 0);
    cr_assert_eq(rs.n, 0, "no review, no setting: no resource");
    pub_resources_free(&rs);
    cr_assert_eq(pub_resources_parse(&rs, "", 1, NULL, err, sizeof(err)), 0);
    cr_assert_eq(rs.n, 1);
    pub_resolved r;
    cr_assert(pub_resources_source(&rs, "main-workspace", "crl", &r));
    cr_assert_str_eq(r.prev_b, "main-preview");
    cr_assert_str_eq(r.dst_b, "main");
    cr_assert_str_eq(r.dst_c, "crl", "per bucket: same collection id");
    cr_assert(r.has_preview && r.review);
    cr_assert(pub_resources_target(&rs, "main", "crl", &r));
    cr_assert_str_eq(r.src_b, "main-workspace");
    cr_assert(pub_resources_target(&rs, "main", NULL, &r), "the destination bucket itself");
    cr_assert_not(pub_resources_target(&rs, "main-workspace", "crl", &r));
    cr_assert_not(pub_resources_source(&rs, "main", "crl", &r));
    pub_resources_free(&rs);
}

Test(resources, per_collection_and_opt_out)
{
    pub_resources rs;
    char err[256];
    cr_assert_eq(pub_resources_parse(&rs,
                                     " /buckets/ws/collections/a -> /buckets/pub/collections/a ;\n"
                                     "/buckets/ws -> /buckets/prev -> /buckets/dst\n",
                                     1, "/buckets/ws/collections/a", err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(rs.n, 2);
    pub_resolved r;
    cr_assert(pub_resources_source(&rs, "ws", "a", &r));
    cr_assert_str_eq(r.dst_b, "pub");
    cr_assert_not(r.has_preview);
    cr_assert_not(r.review, "opted out");
    cr_assert(pub_resources_source(&rs, "ws", "b", &r), "the per-bucket resource for the rest");
    cr_assert_str_eq(r.dst_b, "dst");
    cr_assert(r.review);
    cr_assert_not(pub_resources_target(&rs, "pub", "other", &r), "only that collection of pub");
    cr_assert(pub_resources_target(&rs, "pub", NULL, &r), "pub holds a destination");
    pub_resources_free(&rs);
}

Test(resources, errors)
{
    pub_resources rs;
    char err[256];
    const char *bad[] = {
        "/buckets/a",                                         /* one URI */
        "/buckets/a -> /buckets/b/collections/c",             /* mixed kinds */
        "/buckets/a -> /buckets/b; /buckets/c -> /buckets/b", /* reused */
        "/buckets/a -> /buckets/a",                           /* reused in one */
        "buckets/a -> /buckets/b",                            /* not a URI */
        "/buckets/a -> /buckets/b -> /buckets/c -> /buckets/d",
        "/buckets/a b -> /buckets/c",
        "/buckets/a -> /groups/b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(pub_resources_parse(&rs, bad[i], 0, NULL, err, sizeof(err)), -1, "%s", bad[i]);
        cr_assert(strstr(err, "signer_resources"), "%s: %s", bad[i], err);
    }
}
