/*
 * Unit tests for publisher/settings.c: Kinto's setting names and defaults, validation at
 * start (a bad value stops the program), the <resource>_<perm>_principals grants, and
 * the CORS origin list.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "settings.h"

Test(publisher_settings, defaults)
{
    herald_config *c = herald_config_new();
    pub_settings s;
    char err[256];
    cr_assert_eq(pub_settings_load(&s, c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(s.paginate_by, 0);
    cr_assert_eq(s.storage_max_fetch_size, 10000);
    cr_assert_eq(s.batch_max_requests, 25);
    cr_assert_eq(s.flush_endpoint_enabled, 0);
    cr_assert_eq(s.readonly, 0);
    cr_assert_eq(s.account_cache_ttl_seconds, 30);
    cr_assert_null(s.eos);
    cr_assert_str_eq(s.grants.list[PUB_RES_BUCKET][PUB_PERM_CREATE][0], "system.Authenticated");
    cr_assert_null(s.grants.list[PUB_RES_BUCKET][PUB_PERM_CREATE][1]);
    cr_assert_null(s.grants.list[PUB_RES_ACCOUNT][PUB_PERM_CREATE]);
    cr_assert(pub_settings_origin_allowed(&s, "https://anything.example"));
    pub_settings_free(&s);
    pub_settings_free(NULL);
    herald_config_free(c);
}

Test(publisher_settings, values_and_lists)
{
    herald_config *c = herald_config_new();
    herald_config_set(c, "paginate_by", "50");
    herald_config_set(c, "flush_endpoint_enabled", "true");
    herald_config_set(c, "account_write_principals", "account:alice, account:bob\naccount:carol");
    herald_config_set(c, "bucket_create_principals", "");
    herald_config_set(c, "cors_origins", "https://a.example https://b.example");
    herald_config_set(c, "eos", "2030-01-31");
    pub_settings s;
    char err[256];
    cr_assert_eq(pub_settings_load(&s, c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(s.paginate_by, 50);
    cr_assert_eq(s.flush_endpoint_enabled, 1);
    char **admins = s.grants.list[PUB_RES_ACCOUNT][PUB_PERM_WRITE];
    cr_assert_str_eq(admins[0], "account:alice");
    cr_assert_str_eq(admins[1], "account:bob");
    cr_assert_str_eq(admins[2], "account:carol");
    cr_assert_null(admins[3]);
    cr_assert_null(s.grants.list[PUB_RES_BUCKET][PUB_PERM_CREATE], "an empty list grants nothing");
    cr_assert(pub_settings_origin_allowed(&s, "https://b.example"));
    cr_assert_not(pub_settings_origin_allowed(&s, "https://b.example.evil"));
    cr_assert_not(pub_settings_origin_allowed(&s, "https://c.example"));
    cr_assert_str_eq(s.eos, "2030-01-31");
    pub_settings_free(&s);
    herald_config_free(c);
}

struct bad_case {
    char name[40];
    char value[24];
};

Test(publisher_settings, invalid_values_stop_the_start)
{
    static const struct bad_case cases[] = {
        {"paginate_by", "-1"},       {"paginate_by", "ten"},
        {"batch_max_requests", "0"}, {"storage_max_fetch_size", "0"},
        {"readonly", "maybe"},       {"eos", "31/01/2030"},
        {"eos", "2030-13-01"},       {"max_json_depth", "1"},
        {"account_workers", "0"},    {"retry_after_seconds", "999999"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        herald_config *c = herald_config_new();
        herald_config_set(c, cases[i].name, cases[i].value);
        pub_settings s;
        char err[256] = "";
        cr_assert_eq(pub_settings_load(&s, c, err, sizeof(err)), -1, "%s = %s accepted",
                     cases[i].name, cases[i].value);
        cr_assert(strstr(err, cases[i].name), "error names the setting: %s", err);
        pub_settings_free(&s);
        herald_config_free(c);
    }
}

Test(publisher_settings, every_grant_has_a_name)
{
    /* Each <resource>_<perm>_principals is settable from the environment. */
    static const char *const kinds[PUB_PERM_KINDS] = {"read", "write", "create"};
    for (int r = 0; r < PUB_RES_COUNT; r++)
        for (int k = 0; k < PUB_PERM_KINDS; k++) {
            char name[64];
            int found = 0;
            snprintf(name, sizeof(name), "%s_%s_principals", pub_res_name[r], kinds[k]);
            found = herald_settings_find(&pub_settings_spec, name) != NULL;
            cr_assert(found, "%s missing from the settings table", name);
        }
}

/* settings.c names resources through path.c. */
#include "path.h"
