/*
 * perms -- see perms.h.
 */
#include "perms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/jcs.h"

static const char *const names_bucket[] = {"read", "write", "collection:create", "group:create",
                                           NULL};
static const char *const names_collection[] = {"read", "write", "record:create", NULL};
static const char *const names_leaf[] = {"read", "write", NULL};

const char *const *
pub_perms_names(enum pub_res res)
{
    switch (res) {
    case PUB_RES_BUCKET:
        return names_bucket;
    case PUB_RES_COLLECTION:
        return names_collection;
    default:
        return names_leaf;
    }
}

void
pub_user_free(pub_user *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->n; i++) {
        free(u->principals[i]);
        free(u->quoted[i]);
    }
    free(u->principals);
    free(u->quoted);
    memset(u, 0, sizeof(*u));
}

void
pub_user_add(pub_user *u, const char *principal)
{
    herald_buf q = HERALD_BUF_INIT;
    for (int i = 0; i < u->n; i++)
        if (strcmp(u->principals[i], principal) == 0)
            return;
    u->principals = herald_mem_realloc(u->principals, (size_t)(u->n + 1) * sizeof(char *));
    u->quoted = herald_mem_realloc(u->quoted, (size_t)(u->n + 1) * sizeof(char *));
    herald_jcs_string(&q, principal, strlen(principal));
    u->principals[u->n] = herald_mem_strdup(principal);
    u->quoted[u->n] = herald_buf_steal(&q, NULL);
    u->n++;
}

void
pub_user_anonymous(pub_user *u)
{
    memset(u, 0, sizeof(*u));
    pub_user_add(u, PUB_EVERYONE);
}

void
pub_user_account(pub_user *u, const char *account, int admin)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->id, sizeof(u->id), "account:%s", account);
    snprintf(u->account, sizeof(u->account), "%s", account);
    u->admin = admin;
    pub_user_add(u, u->id);
    pub_user_add(u, PUB_EVERYONE);
    pub_user_add(u, PUB_AUTHENTICATED);
}

void
pub_user_copy(pub_user *to, const pub_user *from)
{
    memset(to, 0, sizeof(*to));
    memcpy(to->id, from->id, sizeof(to->id));
    memcpy(to->account, from->account, sizeof(to->account));
    to->admin = from->admin;
    for (int i = 0; i < from->n; i++)
        pub_user_add(to, from->principals[i]);
}

int
pub_user_in_json(const pub_user *u, const char *json, size_t len)
{
    /* Stored arrays are canonical arrays of strings: a principal's JCS literal, quotes
     * included, can only match a whole element (a quote inside one is escaped). */
    for (int i = 0; i < u->n; i++) {
        size_t ql = strlen(u->quoted[i]);
        if (ql <= len && memmem(json, len, u->quoted[i], ql))
            return 1;
    }
    return 0;
}

int
pub_user_in_list(const pub_user *u, const char *const *list)
{
    for (; list && *list; list++)
        for (int i = 0; i < u->n; i++)
            if (strcmp(*list, u->principals[i]) == 0)
                return 1;
    return 0;
}

/* 1 if the user is in the permission 'name' of 'set'. */
static int
in_set(const pub_user *u, const pub_permset *set, const char *name)
{
    if (!set)
        return 0;
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->kv[2 * i], name) == 0)
            return pub_user_in_json(u, set->kv[2 * i + 1], set->len[2 * i + 1]);
    return 0;
}

static int
granted(const pub_user *u, const pub_grants *g, enum pub_res context, enum pub_perm_kind kind)
{
    return g && pub_user_in_list(u, (const char *const *)g->list[context][kind]);
}

int
pub_perms_allowed(const pub_user *u, const pub_grants *g, const pub_path *p, int level,
                  const char *perm, const pub_permset *sets, enum pub_res context)
{
    if (u->admin)
        return 1;
    const char *colon = strchr(perm, ':');
    if (colon) {
        /* C:create: on the object itself, or write anywhere above; settings
         * <context>_create_principals, or <context>_write_principals via write. */
        if (granted(u, g, context, PUB_PERM_CREATE) || granted(u, g, context, PUB_PERM_WRITE))
            return 1;
        if (level >= 0 && in_set(u, &sets[level], perm))
            return 1;
        for (int l = 0; l <= level; l++)
            if (in_set(u, &sets[l], "write"))
                return 1;
        return 0;
    }
    int is_read = strcmp(perm, "read") == 0;
    if (granted(u, g, context, PUB_PERM_WRITE) ||
        (is_read && granted(u, g, context, PUB_PERM_READ)))
        return 1;
    (void)p;
    for (int l = 0; l <= level; l++)
        if (in_set(u, &sets[l], "write") || (is_read && in_set(u, &sets[l], "read")))
            return 1;
    return 0;
}
