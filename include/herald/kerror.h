/*
 * kerror -- Kinto's error responses: {"code","errno","error","message"[,"details"]}.
 * errno values are Kinto's table (kinto/core/errors.py ERRORS).
 */
#ifndef HERALD_KERROR_H
#define HERALD_KERROR_H

#include <jansson.h>

#include "herald/mem.h"

enum herald_errno {
    HERALD_ERRNO_MISSING_AUTH_TOKEN = 104,
    HERALD_ERRNO_INVALID_AUTH_TOKEN = 105,
    HERALD_ERRNO_BADJSON = 106,
    HERALD_ERRNO_INVALID_PARAMETERS = 107,
    HERALD_ERRNO_MISSING_RESOURCE = 111,
    HERALD_ERRNO_FORBIDDEN = 121,
    HERALD_ERRNO_VERSION_NOT_AVAILABLE = 116,
    HERALD_ERRNO_CLIENT_REACHED_CAPACITY = 117,
    HERALD_ERRNO_METHOD_NOT_ALLOWED = 115,
    HERALD_ERRNO_REQUEST_TOO_LARGE = 113,
    HERALD_ERRNO_MODIFIED_MEANWHILE = 114,
    HERALD_ERRNO_SERVICE_DEPRECATED = 202,
    HERALD_ERRNO_CONSTRAINT_VIOLATED = 122,
    HERALD_ERRNO_BACKEND = 201,
    HERALD_ERRNO_UNDEFINED = 999,
};

/* The reason phrase for an HTTP status ("Bad Request", ...); "Unknown" if unknown. */
const char *herald_kerror_reason(int status);
/* Kinto's errno for a request the HTTP layer refused ('status' from http_parse): 113 for
 * a body too large, 107 (invalid parameters) for any other request it cannot use, 999
 * for a server-side condition. */
int herald_kerror_protocol_errno(int status);
/* Appends the error body. 'details' may be NULL (omitted); the reference is not stolen. */
void herald_kerror_body(herald_buf *out, int status, int errnum, const char *message,
                        const json_t *details);

#endif
