/*
 * permissions -- the handler of GET /v1/permissions: the objects on which the user
 * holds any permission, with Kinto's filters, sorting and pagination.
 */
#ifndef HERALD_PUB_PERMISSIONS_H
#define HERALD_PUB_PERMISSIONS_H

#include "call.h"

/* Answers 'c' (a GET or HEAD of /v1/permissions). */
void pub_permissions_handle(pub_call *c);

#endif
