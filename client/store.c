/*
 * client/store -- see store.h.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/err.h"

int
herald_cstore_mkdirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path)) {
        herald_err_set(err, errlen, "bad directory name");
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char save = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            herald_err_set(err, errlen, "mkdir %s: %s", path, strerror(errno));
            return -1;
        }
        path[i] = save;
    }
    return 0;
}

int
herald_cstore_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int
herald_cstore_write(const char *dir, const char *name, const void *data, size_t len, char *err,
                    size_t errlen)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    const char *p = data;
    int fd = -1;
    if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
        snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst)) {
        herald_err_set(err, errlen, "path too long");
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, dst) < 0)
        goto fail;
    if (herald_cstore_sync_dir(dir) < 0)
        goto fail;
    return 0;
fail:
    herald_err_set(err, errlen, "writing %s: %s", dst, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

int
herald_cstore_read(const char *dir, const char *name, size_t max, herald_buf *out)
{
    char path[PATH_MAX], chunk[65536];
    int fd;
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || out->len + (size_t)r > max) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        herald_buf_append(out, chunk, (size_t)r);
    }
    close(fd);
    return 0;
}
