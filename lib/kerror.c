/*
 * kerror -- see include/herald/kerror.h.
 *
 * Kinto answers every error with the same JSON shape, which its clients parse:
 *
 *     {"code":404,"errno":111,"error":"Not Found","message":"...","details":{...}}
 *
 * "error" is the HTTP reason phrase as Kinto spells it; "details" is present only when
 * there are details. The body is written directly in canonical (JCS) form, keys in
 * sorted order, so error bodies are byte-stable like every other response and no
 * jansson object is built (which would also need a const cast to reference 'details').
 *
 * The reason table is the only one: both HTTP engines write their status line from it,
 * so every status either sends (307 and 505 included) must be in it.
 */
#include "herald/kerror.h"

#include <string.h>

#include "herald/jcs.h"

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *
herald_kerror_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

int
herald_kerror_protocol_errno(int status)
{
    if (status == 413)
        return HERALD_ERRNO_REQUEST_TOO_LARGE;
    return status < 500 ? HERALD_ERRNO_INVALID_PARAMETERS : HERALD_ERRNO_UNDEFINED;
}

void
herald_kerror_body(herald_buf *out, int status, int errnum, const char *message,
                   const json_t *details)
{
    const char *reason = herald_kerror_reason(status);
    if (!message)
        message = reason;
    /* Keys in JCS order: code, details, errno, error, message. */
    herald_buf_puts(out, "{\"code\":");
    herald_buf_put_i64(out, status);
    if (details) {
        herald_buf_puts(out, ",\"details\":");
        size_t mark = out->len;
        /* Only a non-finite real fails, which jansson cannot hold; never emit half a
         * value: fall back to null. */
        if (herald_jcs_dump(out, details) < 0) {
            out->len = mark;
            herald_buf_puts(out, "null");
        }
    }
    herald_buf_puts(out, ",\"errno\":");
    herald_buf_put_i64(out, errnum);
    herald_buf_puts(out, ",\"error\":");
    herald_jcs_string(out, reason, strlen(reason));
    herald_buf_puts(out, ",\"message\":");
    herald_jcs_string(out, message, strlen(message));
    herald_buf_putc(out, '}');
}
