/*
 * stamp -- see stamp.h.
 */
#include "stamp.h"

#include <string.h>

#include "herald/jcs.h"

static const char KEY[] = "\"last_modified\":";

/* Offset just after the top-level '"last_modified":' in canonical 's', or -1. */
static long
find_top_level_key(const char *s, size_t len)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_str = 0;
            continue;
        }
        switch (c) {
        case '"':
            /* Canonical output has no whitespace: a key of the top-level object is a
             * string at depth 1 right after '{' or ','. */
            if (depth == 1 && i > 0 && (s[i - 1] == '{' || s[i - 1] == ',') &&
                len - i >= sizeof(KEY) - 1 && memcmp(s + i, KEY, sizeof(KEY) - 1) == 0)
                return (long)(i + sizeof(KEY) - 1);
            in_str = 1;
            break;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            depth--;
            break;
        default:
            break;
        }
    }
    return -1;
}

int
pub_stamp_split(herald_buf *prefix, herald_buf *suffix, json_t *data, const char *id)
{
    herald_buf out = HERALD_BUF_INIT;
    int rc = -1;

    if (!json_is_object(data))
        goto done;
    if (json_object_set_new(data, "id", json_string(id)) != 0 ||
        json_object_set_new(data, "last_modified", json_integer(0)) != 0)
        goto done;
    if (herald_jcs_dump(&out, data) != 0)
        goto done;
    long at = find_top_level_key(out.data, out.len);
    /* The placeholder prints as exactly "0". */
    if (at < 0 || (size_t)at >= out.len || out.data[at] != '0')
        goto done;
    herald_buf_append(prefix, out.data, (size_t)at);
    herald_buf_append(suffix, out.data + at + 1, out.len - (size_t)at - 1);
    rc = 0;
done:
    herald_buf_free(&out);
    return rc;
}

void
pub_stamp_join(herald_buf *out, const char *prefix, size_t plen, long long ts, const char *suffix,
               size_t slen)
{
    herald_buf_append(out, prefix, plen);
    herald_buf_put_i64(out, ts);
    herald_buf_append(out, suffix, slen);
}

long long
pub_stamp_last_modified(const char *json, size_t len)
{
    long at = find_top_level_key(json, len);
    if (at < 0)
        return -1;
    long long v = 0;
    size_t i = (size_t)at;
    if (i >= len || json[i] < '0' || json[i] > '9')
        return -1;
    /* Stored timestamps are integers below 2^53: at most 16 digits. */
    for (; i < len && json[i] >= '0' && json[i] <= '9' && v < 1000000000000000000LL; i++)
        v = v * 10 + (json[i] - '0');
    return v;
}

json_t *
pub_stamp_parse(const char *json, size_t len)
{
    char err[128];
    return herald_jcs_parse(json, len, 0, 0, err, sizeof(err));
}
