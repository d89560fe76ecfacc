/*
 * err -- the one way lib functions report a reason: a caller-provided 'err' buffer of
 * 'errlen' bytes (either may be NULL/0 when the caller does not want the reason).
 */
#ifndef HERALD_ERR_H
#define HERALD_ERR_H

#include <stddef.h>

/* Formats the reason into 'err' (always NUL-terminated when errlen > 0). */
void herald_err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
