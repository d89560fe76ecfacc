/*
 * client/store -- the client's files: whole-file reads and crash-safe replacement.
 *
 * herald_cstore_write() writes 'name' in 'dir' so that after a crash at any point the
 * file holds either its old content or the new one, never a mix: the bytes go to a
 * temporary file in the same directory ('.name.tmp'), which is fsync'ed, renamed over
 * 'name' (atomic within one file system), and then the directory is fsync'ed so the
 * rename itself is durable. A leftover temporary file is harmless (never read) and is
 * replaced by the next write of that name.
 */
#ifndef HERALD_CLIENT_STORE_H
#define HERALD_CLIENT_STORE_H

#include <stddef.h>

#include "herald/mem.h"

/* mkdir -p with mode 0700 for new directories. 0 or -1. */
int herald_cstore_mkdirs(const char *dir, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int herald_cstore_write(const char *dir, const char *name, const void *data, size_t len, char *err,
                        size_t errlen) __attribute__((warn_unused_result));
/* Reads the whole file 'dir/name' (at most 'max' bytes) into 'out'. Returns 0, -1 on
 * error, 1 when it does not exist. */
int herald_cstore_read(const char *dir, const char *name, size_t max, herald_buf *out)
    __attribute__((warn_unused_result));
/* fsyncs the directory 'dir'. */
int herald_cstore_sync_dir(const char *dir) __attribute__((warn_unused_result));

#endif
