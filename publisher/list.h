/*
 * list -- the handler of a list of Kinto objects (the buckets, a bucket's collections
 * or groups, a collection's records, the accounts): GET, HEAD, POST, DELETE.
 *
 * A list is read in one transaction with its parents (objects.h); when the user may
 * not read the whole list, the permissions of each object are read too and only the
 * objects the user may access are kept. Filters, sorting and pagination are Kinto's
 * (herald/listing.h). POST names the object (its id, the user's own account, or a new
 * id) and writes it through write.h.
 */
#ifndef HERALD_PUB_LIST_H
#define HERALD_PUB_LIST_H

#include "call.h"

/* Answers 'c' about the list 'p' (PUB_PATH_LIST). */
void pub_list_handle(pub_call *c, const pub_path *p);

#endif
