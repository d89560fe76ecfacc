/*
 * md5 -- MD5 (RFC 1321), used for one thing only: the monitor/changes entry "id",
 * which Remote Settings computes as str(UUID(md5(host + "/buckets/B/collections/C")))
 * (kinto-remote-settings changes/utils.py change_entry_id). Clients and CDNs key on
 * these ids, so they must match byte for byte. libsodium has no MD5 and this is not a
 * security use, so a small local implementation is the least dependency.
 */
#ifndef HERALD_SERVER_MD5_H
#define HERALD_SERVER_MD5_H

#include <stddef.h>

void md5_digest(unsigned char out[16], const void *data, size_t len);
/* Formats md5(data) as a UUID: 8-4-4-4-12 lowercase hex, NUL-terminated (37 bytes). */
void md5_uuid(char out[37], const void *data, size_t len);

#endif
