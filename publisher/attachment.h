/*
 * attachment -- kinto-attachment's endpoint on the publisher:
 *
 *   POST   /v1/buckets/{bid}/collections/{cid}/records/{rid}/attachment   upload
 *   DELETE /v1/buckets/{bid}/collections/{cid}/records/{rid}/attachment   attachment: null
 *
 * (docs/attachments.md; the wire contract is kinto-attachment's.)
 *
 * An upload is streamed (httpd.h pub_httpd_stream): as the multipart body arrives it
 * goes through the multipart parser (multipart.h); the `attachment` part's bytes are
 * hashed and written to a temporary file of the content-addressed store (castore.h),
 * the `data` and `permissions` form fields are kept in memory (bounded). Memory use is
 * therefore independent of the file size. The size limit applies three times: a
 * Content-Length above limit + form allowance is answered 413 before any byte is read;
 * a body growing past it while streaming is cut with 413; a file part above
 * attachment_max_size_bytes is counted to its end without being stored and answered
 * kinto-attachment's 400 "File size (N bytes) exceeds the limit (M bytes)."
 *
 * At the end of the body the file is committed (fsync, rename into <dir>/<h0h1>/<hash>,
 * directory fsync), and only then does the request go to the handler, which checks
 * permissions and writes the record through write.h (PATCH when it exists, else PUT,
 * If-Match / If-None-Match honoured) with `attachment` = {filename, location, hash,
 * mimetype, size}. A crash at any point leaves either no record naming the file or a
 * complete, durable file. The location is "<h0h1>/<hash>", relative to
 * capabilities.attachments.base_url as in Remote Settings, hence immutable: one
 * location is one content. Replacing or removing an attachment does not delete the
 * file: files no record references are collected after a grace period (attach_gc.h).
 */
#ifndef HERALD_PUB_ATTACHMENT_H
#define HERALD_PUB_ATTACHMENT_H

#include <jansson.h>

#include "call.h"
#include "httpd.h"

typedef struct pub_attach pub_attach;

/* From the attachment_* settings. Returns NULL and *err == '\0' when attachments are
 * off (no attachments_dir); NULL with a reason in 'err' on error. */
pub_attach *pub_attach_new(const pub_settings *s, char *err, size_t errlen);
void pub_attach_free(pub_attach *a); /* NULL-safe */
/* The streamed-body hooks for httpd (NULL-safe: NULL when 'a' is). */
const pub_httpd_stream *pub_attach_stream(pub_attach *a);
/* The `attachments` heartbeat (kinto-attachment's attachments_ping): 1 when a file can
 * be written to and removed from the store (always 1 on a read-only publisher). */
int pub_attach_ping(pub_attach *a);
/* attachment_keep_old_files (kinto-attachment's keep_old_files): the GC deletes nothing. */
int pub_attach_keep_old_files(const pub_attach *a);
/* The store (castore.h) of 'a'. */
struct herald_castore *pub_attach_store(pub_attach *a);

/* If 'path' names a record's attachment, fills 'p' with the record's path and returns 1;
 * else returns 0. */
int pub_attach_path(pub_path *p, const char *path);
/* Answers a request to the attachment of the record 'p' (pub_attach_path). */
void pub_attach_handle(pub_call *c, const pub_path *p);
/* Adds capabilities.attachments when attachments are on. */
void pub_attach_capability(const pub_app *app, json_t *caps);

#endif
