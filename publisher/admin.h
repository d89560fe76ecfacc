/*
 * admin -- the handler of /v1/admin/: Herald's admin page, static files from a
 * directory installed with the publisher (docs/admin.md).
 *
 * The page is plain HTML, CSS and ES modules that talk to the API of the same origin;
 * nothing is generated or fetched from elsewhere. The directory is the setting
 * admin_dir, by default "<directory of the program>/../share/herald/admin": the
 * installed layout (bin/herald-publisher, share/herald/admin/) and the build tree's
 * (build/publisher/herald-publisher, build/share/herald/admin -> admin/ of the source,
 * a link CMake makes) alike.
 *
 * One name is not a file: /v1/admin/config.json is the page's settings from the
 * publisher's ({"read_server_url": admin_read_server_url}).
 *
 * Every answer carries a strict Content-Security-Policy (scripts and styles from the
 * same origin only: no inline script, no eval; API calls to the same origin and to
 * admin_read_server_url when set), nosniff, no framing and no referrer. Files are read
 * with one blocking read per request: they are a few kilobytes, on local disk, asked
 * for once per page load by the few people who administer the service.
 */
#ifndef HERALD_PUB_ADMIN_H
#define HERALD_PUB_ADMIN_H

#include "call.h"

/* The directory to serve from: 'setting' when set, else the default above (NULL when
 * the program's location is unknown: the page is then off). Returns a malloc'ed
 * string the caller frees. */
char *pub_admin_dir(const char *setting);

/* 1 if 'c' is a request for the admin page (and was answered), else 0. */
int pub_admin_handle(pub_call *c);

#endif
