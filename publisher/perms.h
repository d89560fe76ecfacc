/*
 * perms -- who may do what: Kinto's principals and permission inheritance.
 *
 * A user has principals: its id ("account:alice"), "system.Authenticated" when
 * authenticated, "system.Everyone" always, and the URI of every group listing any of
 * these among its members ("/buckets/b/groups/editors").
 *
 * An object's permissions are stored per object (herald:perm:<uri>) as perm -> JSON
 * array of principals, and inherited down the tree exactly as in Kinto's
 * PERMISSIONS_INHERITANCE_TREE:
 *
 *   read   on X  <- read or write on X or on any ancestor of X
 *   write  on X  <- write on X or on any ancestor of X
 *   C:create on X (create a child of kind C) <- C:create on X, or write on X or on any
 *                                               ancestor of X
 *   bucket:create, account:create (root)     <- settings only
 *
 * Settings grant permissions globally, as Kinto's "<resource>_<perm>_principals": for a
 * request on a resource R, each permission q that would grant it is also granted to
 * the principals of setting R_q_principals ("C:create" reads R_create_principals when C
 * is R), e.g. bucket_create_principals, record_write_principals,
 * account_write_principals (the accounts administrators).
 *
 * The configured admin account (HERALD_ADMIN_PASSWORD) is a superuser: every check
 * passes. That keeps phase 1's promise ("the admin may do everything") whatever the
 * settings say.
 */
#ifndef HERALD_PUB_PERMS_H
#define HERALD_PUB_PERMS_H

#include <stddef.h>

#include "herald/mem.h"
#include "path.h"

#define PUB_EVERYONE "system.Everyone"
#define PUB_AUTHENTICATED "system.Authenticated"
#define PUB_USERID_MAX 300

typedef struct pub_user {
    char id[PUB_USERID_MAX];      /* "" when anonymous */
    char account[PUB_ID_MAX + 1]; /* the account id ("alice"), "" when anonymous */
    int admin;
    int n;
    char **principals;
    char **quoted; /* each principal as a JSON string literal, for matching stored arrays */
} pub_user;

/* Sets 'u' to the anonymous user (principals: system.Everyone). */
void pub_user_anonymous(pub_user *u);
/* Sets 'u' to account 'account' (id "account:<account>"). */
void pub_user_account(pub_user *u, const char *account, int admin);
/* Adds a principal (a group URI); duplicates are ignored. */
void pub_user_add(pub_user *u, const char *principal);
void pub_user_free(pub_user *u); /* NULL-safe; 'u' is anonymous-empty afterwards */
/* Copies 'from' into 'to' (which must be free). */
void pub_user_copy(pub_user *to, const pub_user *from);
/* 1 if one of the user's principals is in the canonical JSON array of strings 'json'. */
int pub_user_in_json(const pub_user *u, const char *json, size_t len);
/* 1 if one of the user's principals is in the NULL-terminated list 'list'. */
int pub_user_in_list(const pub_user *u, const char *const *list);

/* The permissions of one object: 'n' pairs (name, JSON array) at kv[2i], kv[2i+1]. */
typedef struct pub_permset {
    size_t n;
    const char *const *kv;
    const size_t *len; /* lengths of kv[...] */
} pub_permset;

/* Global grants from the settings: for each resource and permission kind
 * (read, write, create), a NULL-terminated list of principals (NULL for none). */
enum pub_perm_kind { PUB_PERM_READ = 0, PUB_PERM_WRITE, PUB_PERM_CREATE, PUB_PERM_KINDS };
typedef struct pub_grants {
    char **list[PUB_RES_COUNT][PUB_PERM_KINDS];
} pub_grants;

/*
 * 1 if 'u' has permission 'perm' on the object at level 'level' of 'p' (level -1: the
 * root, for "bucket:create"/"account:create"), else 0. 'sets[0..level]' are the
 * permissions stored on each level (an object that does not exist has none).
 * 'context' is the resource the request is about (the object itself, or the child
 * kind for a create), for the settings grants.
 */
int pub_perms_allowed(const pub_user *u, const pub_grants *g, const pub_path *p, int level,
                      const char *perm, const pub_permset *sets, enum pub_res context);

/* The permission names a stored object of kind 'res' may have, NULL-terminated. */
const char *const *pub_perms_names(enum pub_res res);

#endif
