/*
 * admin -- see admin.h.
 */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adminpath.h"
#include "herald/log.h"
#include "reply.h"

#define FILE_MAX (2 * 1024 * 1024)

char *
pub_admin_dir(const char *setting)
{
    if (setting && *setting)
        return strdup(setting);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    size_t len = strlen(exe) + sizeof("/../share/herald/admin");
    char *dir = malloc(len);
    if (dir)
        snprintf(dir, len, "%s/../share/herald/admin", exe);
    return dir;
}

/* The security headers of every admin answer. */
static void
secure(pub_call *c)
{
    pub_headers *h = &c->resp->headers;
    const char *read_url = c->app->settings->admin_read_server_url;
    herald_buf csp = HERALD_BUF_INIT;
    herald_buf_puts(&csp, "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data: blob:; connect-src 'self'");
    if (read_url && *read_url && !strpbrk(read_url, ";,' \r\n")) {
        herald_buf_putc(&csp, ' ');
        herald_buf_puts(&csp, read_url);
    }
    herald_buf_puts(&csp, "; form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
    pub_headers_set(h, "Content-Security-Policy", herald_buf_cstr(&csp));
    herald_buf_free(&csp);
    pub_headers_set(h, "X-Content-Type-Options", "nosniff");
    pub_headers_set(h, "X-Frame-Options", "DENY");
    pub_headers_set(h, "Referrer-Policy", "no-referrer");
    pub_headers_set(h, "Cache-Control", "no-cache");
}

/* Reads the regular file 'path' into 'out'. Returns 0, or -1 (missing, not a regular
 * file, too large, unreadable). */
static int
read_file(herald_buf *out, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX)
        goto done;
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto done;
        if (n == 0)
            break;
        if (out->len + (size_t)n > FILE_MAX)
            goto done;
        herald_buf_append(out, chunk, (size_t)n);
    }
    rc = 0;
done:
    close(fd);
    return rc;
}

int
pub_admin_handle(pub_call *c)
{
    const char *path = c->req->path;
    size_t len = strlen(path);
    if (c->in_batch || !pub_adminpath_is_admin(path, len))
        return 0;
    enum pub_method m = c->req->method;
    if (!c->app->admin_dir) {
        pub_reply_missing(c->resp, NULL, NULL);
    } else if (m != PUB_GET && m != PUB_HEAD) {
        pub_reply_method_not_allowed(c->resp);
    } else if (len == sizeof(PUB_ADMIN_PREFIX) - 2) {
        /* "/v1/admin": relative URLs in the page need the trailing slash. */
        pub_headers_set(&c->resp->headers, "Location", PUB_ADMIN_PREFIX);
        pub_reply_json(c->resp, 307, NULL, 0);
    } else if (strcmp(path, PUB_ADMIN_PREFIX "config.json") == 0) {
        /* The page's settings, from the publisher's: the read server it may ask. */
        const char *rs = c->app->settings->admin_read_server_url;
        pub_call_json(c, 200, json_pack("{s:s?}", "read_server_url", rs && *rs ? rs : NULL), 0);
    } else {
        char file[PATH_MAX];
        const char *ctype;
        herald_buf body = HERALD_BUF_INIT;
        if (pub_adminpath_resolve(file, sizeof(file), &ctype, c->app->admin_dir, path, len) != 0 ||
            read_file(&body, file) != 0) {
            pub_reply_missing(c->resp, NULL, NULL);
        } else {
            pub_reply_json(c->resp, 200, &body, 0);
            pub_headers_set(&c->resp->headers, "Content-Type", ctype);
        }
        herald_buf_free(&body);
    }
    secure(c);
    return 1;
}
