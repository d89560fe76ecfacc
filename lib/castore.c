/*
 * castore -- see castore.h for the layout and the durability rules.
 */
#include "herald/castore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/mem.h"

struct herald_castore {
    char *dir;
    pthread_mutex_t mu; /* commit's check-and-rename vs. remove_older (castore.h) */
    /* Pinned hashes (herald_castore_commit_pin), one entry per pin, under 'mu'. */
    char (*pins)[HERALD_CASTORE_HASH_LEN + 1];
    size_t npins, cappins;
};

struct herald_castore_writer {
    herald_castore *s;
    int fd;
    char tmp[4096];
    int64_t size;
    crypto_hash_sha256_state st;
};

static int
mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

herald_castore *
herald_castore_open(const char *dir, char *err, size_t errlen)
{
    char tmp[4096];
    if (!dir || !*dir || snprintf(tmp, sizeof(tmp), "%s/tmp", dir) >= (int)sizeof(tmp) - 80) {
        snprintf(err, errlen, "attachments directory: missing or too long");
        return NULL;
    }
    if (mkdir_p(tmp) < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return NULL;
    }
    /* Files left in tmp/ by a crash were never committed: nothing names them. */
    DIR *d = opendir(tmp);
    if (!d) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return NULL;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4400];
        snprintf(p, sizeof(p), "%s/%s", tmp, e->d_name);
        unlink(p);
    }
    closedir(d);
    herald_castore *s = herald_mem_calloc(1, sizeof(*s));
    s->dir = herald_mem_strdup(dir);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void
herald_castore_close(herald_castore *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->pins);
    free(s->dir);
    free(s);
}

const char *
herald_castore_dir(const herald_castore *s)
{
    return s->dir;
}

int
herald_castore_valid_hash(const char *h, size_t len)
{
    if (len != HERALD_CASTORE_HASH_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    return 1;
}

int
herald_castore_path(const herald_castore *s, const char *hash, char *out, size_t outlen)
{
    if (!herald_castore_valid_hash(hash, strlen(hash)))
        return -1;
    int n = snprintf(out, outlen, "%s/%.2s/%s", s->dir, hash, hash);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
herald_castore_open_file(const herald_castore *s, const char *hash, int64_t *size)
{
    char p[4400];
    if (herald_castore_path(s, hash, p, sizeof(p)) < 0) {
        errno = ENOENT;
        return -1;
    }
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    *size = (int64_t)st.st_size;
    return fd;
}

int
herald_castore_url_hash(const char *path, size_t len, const char *prefix,
                        char hash[HERALD_CASTORE_HASH_LEN + 1])
{
    size_t pl = strlen(prefix);
    if (len != pl + 3 + HERALD_CASTORE_HASH_LEN || memcmp(path, prefix, pl) != 0)
        return -1;
    const char *h = path + pl + 3;
    if (path[pl + 2] != '/' || path[pl] != h[0] || path[pl + 1] != h[1] ||
        !herald_castore_valid_hash(h, HERALD_CASTORE_HASH_LEN))
        return -1;
    memcpy(hash, h, HERALD_CASTORE_HASH_LEN);
    hash[HERALD_CASTORE_HASH_LEN] = '\0';
    return 0;
}

herald_castore_writer *
herald_castore_begin(herald_castore *s)
{
    herald_castore_writer *w = herald_mem_calloc(1, sizeof(*w));
    w->s = s;
    snprintf(w->tmp, sizeof(w->tmp), "%s/tmp/up-XXXXXX", s->dir);
    w->fd = mkostemp(w->tmp, O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        errno = e;
        return NULL;
    }
    /* Readable by the other processes that serve the directory (a proxy, nginx). */
    if (fchmod(w->fd, 0644) < 0) {
        int e = errno;
        herald_castore_abort(w);
        errno = e;
        return NULL;
    }
    crypto_hash_sha256_init(&w->st);
    return w;
}

int
herald_castore_write(herald_castore_writer *w, const void *data, size_t len)
{
    const char *p = data;
    crypto_hash_sha256_update(&w->st, data, len);
    w->size += (int64_t)len;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int64_t
herald_castore_size(const herald_castore_writer *w)
{
    return w->size;
}

void
herald_castore_abort(herald_castore_writer *w)
{
    if (!w)
        return;
    close(w->fd);
    unlink(w->tmp);
    free(w);
}

/* Under s->mu. */
static void
pin_locked(herald_castore *s, const char *hash)
{
    if (s->npins == s->cappins) {
        s->cappins = s->cappins ? s->cappins * 2 : 16;
        s->pins = herald_mem_realloc(s->pins, s->cappins * sizeof(*s->pins));
    }
    memcpy(s->pins[s->npins++], hash, HERALD_CASTORE_HASH_LEN + 1);
}

static int
pinned_locked(const herald_castore *s, const char *hash)
{
    for (size_t i = 0; i < s->npins; i++)
        if (strcmp(s->pins[i], hash) == 0)
            return 1;
    return 0;
}

void
herald_castore_unpin(herald_castore *s, const char *hash)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->npins; i++)
        if (strcmp(s->pins[i], hash) == 0) {
            memcpy(s->pins[i], s->pins[--s->npins], HERALD_CASTORE_HASH_LEN + 1);
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

static int
commit(herald_castore_writer *w, char hash[HERALD_CASTORE_HASH_LEN + 1], const char *expected,
       int pin)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char dir[4200], path[4400];
    int e = 0, created = 0;
    crypto_hash_sha256_final(&w->st, h);
    sodium_bin2hex(hash, HERALD_CASTORE_HASH_LEN + 1, h, sizeof(h));
    if (expected && strcmp(hash, expected) != 0) {
        e = EBADMSG;
        goto fail;
    }
    snprintf(dir, sizeof(dir), "%.4096s/%.2s", w->s->dir, hash);
    snprintf(path, sizeof(path), "%s/%s", dir, hash);
    if (fsync(w->fd) < 0)
        goto fail_errno;
    if (mkdir(dir, 0755) == 0)
        created = 1;
    else if (errno != EEXIST)
        goto fail_errno;
    if (created && fsync_dir(w->s->dir) < 0)
        goto fail_errno;
    pthread_mutex_lock(&w->s->mu);
    if (access(path, F_OK) == 0 && utimensat(AT_FDCWD, path, NULL, 0) == 0) {
        /* Present already (the same bytes): keep it, newer mtime for the GC grace. */
        if (pin)
            pin_locked(w->s, hash);
        pthread_mutex_unlock(&w->s->mu);
        herald_castore_abort(w);
        return 0;
    }
    int rc = rename(w->tmp, path);
    e = errno;
    if (rc == 0 && pin)
        pin_locked(w->s, hash);
    pthread_mutex_unlock(&w->s->mu);
    if (rc < 0) {
        errno = e;
        goto fail_errno;
    }
    close(w->fd);
    free(w);
    return fsync_dir(dir);
fail_errno:
    e = errno;
fail:
    herald_castore_abort(w);
    errno = e;
    return -1;
}

int
herald_castore_commit(herald_castore_writer *w, char hash[HERALD_CASTORE_HASH_LEN + 1])
{
    return commit(w, hash, NULL, 0);
}

int
herald_castore_commit_pin(herald_castore_writer *w, char hash[HERALD_CASTORE_HASH_LEN + 1])
{
    return commit(w, hash, NULL, 1);
}

int
herald_castore_commit_expect(herald_castore_writer *w, const char *expected)
{
    char hash[HERALD_CASTORE_HASH_LEN + 1];
    return commit(w, hash, expected, 0);
}

/* ---- media types ------------------------------------------------------------------- */

static int
tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int
herald_castore_valid_type(const char *t, size_t len)
{
    size_t slash = 0, i;
    if (len == 0 || len > HERALD_CASTORE_TYPE_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        if (t[i] == '/' && !slash && i > 0)
            slash = i;
        else if (!tchar((unsigned char)t[i]))
            return 0;
    }
    return slash && slash + 1 < len;
}

static int
type_path(const herald_castore *s, const char *hash, char *out, size_t outlen)
{
    if (herald_castore_path(s, hash, out, outlen) < 0)
        return -1;
    size_t n = strlen(out);
    if (n + 6 > outlen)
        return -1;
    memcpy(out + n, ".type", 6);
    return 0;
}

int
herald_castore_set_type(herald_castore *s, const char *hash, const char *type)
{
    char path[4400], tmp[4200];
    size_t tl = strlen(type);
    if (!herald_castore_valid_type(type, tl) || type_path(s, hash, path, sizeof(path)) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (access(path, F_OK) == 0)
        return 0;
    snprintf(tmp, sizeof(tmp), "%.4096s/%.2s", s->dir, hash);
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    snprintf(tmp, sizeof(tmp), "%.4096s/tmp/type-XXXXXX", s->dir);
    int fd = mkostemp(tmp, O_CLOEXEC), e = 0;
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0644) < 0 || write(fd, type, tl) != (ssize_t)tl)
        e = errno ? errno : EIO;
    close(fd);
    /* link(2) fails when the name exists: the first recorded type stays. */
    if (!e && link(tmp, path) < 0 && errno != EEXIST)
        e = errno;
    unlink(tmp);
    errno = e;
    return e ? -1 : 0;
}

int
herald_castore_get_type(const herald_castore *s, const char *hash,
                        char out[HERALD_CASTORE_TYPE_MAX + 1])
{
    char path[4400];
    if (type_path(s, hash, path, sizeof(path)) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, HERALD_CASTORE_TYPE_MAX + 1);
    close(fd);
    if (n <= 0 || !herald_castore_valid_type(out, (size_t)n))
        return -1;
    out[n] = '\0';
    return 0;
}

int
herald_castore_remove(herald_castore *s, const char *hash)
{
    char path[4400];
    if (type_path(s, hash, path, sizeof(path)) < 0) {
        errno = EINVAL;
        return -1;
    }
    size_t n = strlen(path);
    path[n - 5] = '\0';
    if (unlink(path) < 0)
        return -1;
    path[n - 5] = '.';
    unlink(path);
    return 0;
}

int
herald_castore_remove_older(herald_castore *s, const char *hash, int64_t before_ms)
{
    char path[4400];
    struct stat st;
    int rc = -1;
    if (herald_castore_path(s, hash, path, sizeof(path)) < 0) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    if (stat(path, &st) == 0) {
        int64_t mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        rc = mtime_ms > before_ms || pinned_locked(s, hash) ? 1 : herald_castore_remove(s, hash);
    }
    int e = errno;
    pthread_mutex_unlock(&s->mu);
    errno = e;
    return rc;
}

/* ---- bundles ----------------------------------------------------------------------- */

int
herald_castore_valid_bundle_name(const char *name, size_t len)
{
    static const char ext[] = ".zip";
    size_t el = sizeof(ext) - 1;
    if (len <= el || len > HERALD_CASTORE_BUNDLE_NAME_MAX || memcmp(name + len - el, ext, el) != 0)
        return 0;
    for (size_t i = 0; i < len - el; i++) {
        unsigned char c = (unsigned char)name[i];
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (i == 0 || (c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

int
herald_castore_url_bundle(const char *path, size_t len, const char *prefix,
                          char name[HERALD_CASTORE_BUNDLE_NAME_MAX + 1])
{
    static const char sub[] = "bundles/";
    size_t pl = strlen(prefix), sl = sizeof(sub) - 1;
    if (len <= pl + sl || memcmp(path, prefix, pl) != 0 || memcmp(path + pl, sub, sl) != 0)
        return -1;
    const char *n = path + pl + sl;
    size_t nl = len - pl - sl;
    if (!herald_castore_valid_bundle_name(n, nl))
        return -1;
    memcpy(name, n, nl);
    name[nl] = '\0';
    return 0;
}

int
herald_castore_bundle_path(const herald_castore *s, const char *name, char *out, size_t outlen)
{
    if (!herald_castore_valid_bundle_name(name, strlen(name)))
        return -1;
    int n = snprintf(out, outlen, "%s/bundles/%s", s->dir, name);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
herald_castore_bundle_tmp(herald_castore *s, char *out, size_t outlen)
{
    static atomic_uint seq;
    char dir[4200];
    snprintf(dir, sizeof(dir), "%.4096s/bundles", s->dir);
    if (mkdir(dir, 0755) == 0) {
        if (fsync_dir(s->dir) < 0)
            return -1;
    } else if (errno != EEXIST) {
        return -1;
    }
    unsigned char rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    int n = snprintf(out, outlen, "%s/.build-%d-%u-%s.zip", dir, (int)getpid(),
                     atomic_fetch_add(&seq, 1), hex);
    if (n < 0 || (size_t)n >= outlen) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int
herald_castore_bundle_publish(herald_castore *s, const char *tmp, const char *name)
{
    char dir[4200], path[4400];
    int e = 0;
    snprintf(dir, sizeof(dir), "%.4096s/bundles", s->dir);
    if (herald_castore_bundle_path(s, name, path, sizeof(path)) != 0) {
        e = EINVAL;
        goto fail;
    }
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto fail_errno;
    /* Readable by the other processes that serve the directory (a proxy, nginx). */
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        e = errno;
        close(fd);
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) < 0)
        goto fail_errno;
    return fsync_dir(dir);
fail_errno:
    e = errno;
fail:
    unlink(tmp);
    errno = e;
    return -1;
}

int
herald_castore_bundle_remove(herald_castore *s, const char *name)
{
    char dir[4200], path[4400];
    if (herald_castore_bundle_path(s, name, path, sizeof(path)) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (unlink(path) < 0)
        return errno == ENOENT ? 0 : -1;
    snprintf(dir, sizeof(dir), "%.4096s/bundles", s->dir);
    return fsync_dir(dir);
}
