/*
 * castore -- a content-addressed file store: each file is named by the hex SHA-256 of
 * its bytes, so a name never designates two contents and identical files are stored
 * once. Shared by the publisher (uploads) and the read server (files fetched from an
 * origin).
 *
 * Layout under the store's directory:
 *
 *   <dir>/tmp/               files being written (mkstemp); anything here is garbage
 *                            after a crash and is removed when the store is opened
 *   <dir>/<h0h1>/<hash>      complete files: 256 fan-out directories by the first two
 *                            hex digits, so no directory holds millions of entries
 *
 * Durability: a writer hashes what it writes; commit fsyncs the file, renames it into
 * place and fsyncs the fan-out directory (and the store directory when the fan-out
 * directory was just created), so when commit returns, the file survives a crash under
 * its final name. A name therefore only ever exists for a complete file: readers never
 * see a partial one. Committing a file that is already present leaves the present one
 * (same bytes by construction) and drops the new copy, after refreshing its mtime (the
 * garbage collector's grace period counts from the newest upload of a content).
 *
 * Threads: a store may be used from several threads (the publisher commits uploads on
 * a worker thread while its GC runs on the event loop). The "present already? refresh
 * it : rename into place" step of a commit and herald_castore_remove_older are
 * serialized by the store's mutex, so a removal never deletes a file that a commit
 * has just found present and refreshed (the commit's caller would name a missing file).
 *
 * A verified commit (herald_castore_commit_expect) refuses a file whose hash is not the
 * expected one: how a read server stores what an origin sent only once it checked it.
 *
 * Media type: <dir>/<h0h1>/<hash>.type holds the Content-Type a server sends the file
 * with (one line, "type/subtype"). Like the content, it is written once and never
 * changed (link(2) of a complete temporary file: the first upload of a content names
 * its type; a later upload of the same bytes under another type does not change what
 * is served). It is metadata, not content: a missing or unreadable one means
 * application/octet-stream, so it is not fsync'd. It is not a hash name, so listings
 * of the store (the GC) skip it; herald_castore_remove deletes both.
 *
 * Bundles: <dir>/bundles/<bid>--<cid>.zip, one zip of a collection's attachments
 * (docs/attachments.md). Unlike the content, a bundle's name is mutable: it is
 * replaced as a whole (written as bundles/.build-*, fsync'd, renamed over the old one,
 * directory fsync'd), so a reader sees either the old or the new complete zip. Names
 * are only ever [A-Za-z0-9][A-Za-z0-9_-]*.zip, so a bundle URL cannot name anything
 * outside bundles/ nor a temporary file (leading '.').
 */
#ifndef HERALD_CASTORE_H
#define HERALD_CASTORE_H

#include <stddef.h>
#include <stdint.h>

#define HERALD_CASTORE_HASH_LEN 64

typedef struct herald_castore herald_castore;
typedef struct herald_castore_writer herald_castore_writer;

/* Opens (creating them) 'dir' and its tmp/ directory and empties tmp/. Returns NULL
 * with the reason in 'err'. */
herald_castore *herald_castore_open(const char *dir, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void herald_castore_close(herald_castore *s); /* NULL-safe */
const char *herald_castore_dir(const herald_castore *s);

/* 1 if 'hash' is 64 lowercase hex digits. */
int herald_castore_valid_hash(const char *hash, size_t len);
/* Writes "<dir>/<h0h1>/<hash>" into 'out'. Returns 0, or -1 when 'hash' is invalid or
 * 'out' too small. */
int herald_castore_path(const herald_castore *s, const char *hash, char *out, size_t outlen);
/* Opens the file of 'hash' read-only. Returns the fd (size in '*size'), or -1 (errno
 * ENOENT when absent). */
int herald_castore_open_file(const herald_castore *s, const char *hash, int64_t *size);

/* Maps a URL path to a hash: 'path' must be exactly 'prefix' + h0h1 + '/' + 64 lowercase
 * hex digits whose first two are h0h1. Returns 0 with the hash in 'hash', else -1.
 * Nothing else maps: no '.', '%', '/' or NUL can reach a file name. */
int herald_castore_url_hash(const char *path, size_t len, const char *prefix,
                            char hash[HERALD_CASTORE_HASH_LEN + 1]);

/* Starts a new file. Returns NULL with errno set. */
herald_castore_writer *herald_castore_begin(herald_castore *s) __attribute__((warn_unused_result));
/* Appends 'len' bytes. Returns 0, or -1 with errno set (the writer stays valid for
 * abort). */
int herald_castore_write(herald_castore_writer *w, const void *data, size_t len)
    __attribute__((warn_unused_result));
int64_t herald_castore_size(const herald_castore_writer *w);
/* Makes the file durable under its hash (see above), written to 'hash' (65 bytes).
 * Frees 'w' in every case. Returns 0, or -1 with errno set (nothing is left behind). */
int herald_castore_commit(herald_castore_writer *w, char hash[HERALD_CASTORE_HASH_LEN + 1])
    __attribute__((warn_unused_result));
/* The same, and pins the file (atomically with the commit): herald_castore_remove_older
 * keeps a pinned file whatever its age, until herald_castore_unpin. How an upload keeps
 * its file from a concurrent garbage collection until the record naming it is written
 * (publisher/attachment_gc.h), however long that takes. Pins are counted. */
int herald_castore_commit_pin(herald_castore_writer *w, char hash[HERALD_CASTORE_HASH_LEN + 1])
    __attribute__((warn_unused_result));
void herald_castore_unpin(herald_castore *s, const char *hash);
/* The same, only if the content's hash is 'expected' (else -1 with errno EBADMSG and
 * nothing stored). */
int herald_castore_commit_expect(herald_castore_writer *w, const char *expected)
    __attribute__((warn_unused_result));
/* Drops the file being written. NULL-safe. */
void herald_castore_abort(herald_castore_writer *w);

/* 1 if 'type' (of 'len' bytes) is a media type "type/subtype" of RFC 9110 token
 * characters, at most HERALD_CASTORE_TYPE_MAX bytes (no parameters). */
#define HERALD_CASTORE_TYPE_MAX 127
int herald_castore_valid_type(const char *type, size_t len);
/* Records 'type' as the media type of 'hash' unless one is recorded already. Returns
 * 0 (also when one was there), or -1 with errno set (EINVAL: invalid hash or type). */
int herald_castore_set_type(herald_castore *s, const char *hash, const char *type);
/* The media type recorded for 'hash' into 'out' (HERALD_CASTORE_TYPE_MAX + 1 bytes).
 * Returns 0, or -1 when none (or an invalid one) is recorded. */
int herald_castore_get_type(const herald_castore *s, const char *hash,
                            char out[HERALD_CASTORE_TYPE_MAX + 1]);
/* Deletes the file of 'hash' and its media type. Returns 0, or -1 with errno set (the
 * file's unlink). */
int herald_castore_remove(herald_castore *s, const char *hash);
/* The same, only if the file's mtime (its last commit) is at or before 'before_ms'
 * (wall clock) and the file is not pinned, checked and done under the store's mutex. Returns 0 when
 * deleted, 1 when kept (newer), -1 with errno set. */
int herald_castore_remove_older(herald_castore *s, const char *hash, int64_t before_ms);

/* ---- bundles ---- */
#define HERALD_CASTORE_BUNDLE_NAME_MAX 255
/* 1 if 'name' (of 'len' bytes) is a bundle file name: [A-Za-z0-9][A-Za-z0-9_-]*.zip,
 * at most HERALD_CASTORE_BUNDLE_NAME_MAX bytes. */
int herald_castore_valid_bundle_name(const char *name, size_t len);
/* Maps a URL path to a bundle name: 'path' must be exactly 'prefix' + "bundles/" + a
 * valid name. Returns 0 with the name in 'name', else -1. */
int herald_castore_url_bundle(const char *path, size_t len, const char *prefix,
                              char name[HERALD_CASTORE_BUNDLE_NAME_MAX + 1]);
/* Writes "<dir>/bundles/<name>" into 'out' (-1: invalid name or 'out' too small). */
int herald_castore_bundle_path(const herald_castore *s, const char *name, char *out, size_t outlen);
/* A fresh temporary path "<dir>/bundles/.build-<unique>.zip" (the file does not exist;
 * bundles/ is created). Returns 0, or -1 with errno set. */
int herald_castore_bundle_tmp(herald_castore *s, char *out, size_t outlen);
/* Makes the complete file 'tmp' (from herald_castore_bundle_tmp) the bundle 'name':
 * chmod 0644, fsync, rename, fsync of bundles/. Returns 0, or -1 with errno set ('tmp'
 * is removed in every case). */
int herald_castore_bundle_publish(herald_castore *s, const char *tmp, const char *name);
/* Deletes the bundle 'name'. Returns 0 (also when absent), or -1 with errno set. */
int herald_castore_bundle_remove(herald_castore *s, const char *name);

#endif
