/*
 * attachment -- see attachment.h for the design.
 *
 * An upload in progress is a 'struct upload': the multipart parser's callbacks fill it
 * and record the first error (status, errno, Kinto's message); once an error is
 * recorded nothing more is stored, and the handler answers it after the permission
 * checks (an unauthorized client learns nothing from the body).
 */
#include "attachment.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "herald/castore.h"
#include "herald/jcs.h"
#include "herald/kerror.h"
#include "herald/log.h"
#include "herald/mem.h"
#include "multipart.h"
#include "reply.h"
#include "write.h"

#define ERRNO_INVALID_POSTED_DATA 109
#define FORM_MAX (1 << 20)                        /* the data and permissions fields */
#define BODY_ALLOWANCE (2LL * FORM_MAX + 65536LL) /* fields, part heads, delimiters */
#define UNLIMITED (1LL << 50)

struct pub_attach {
    herald_castore *store;
    pub_httpd_stream stream;
    int64_t max_size;      /* 0: none */
    char **exts;           /* NULL: any */
    char **types;          /* NULL: any */
    char **over;           /* attachment_mimetypes: ext, type, ext, type, ..., NULL */
    int wake[2];           /* commit threads -> loop (see "commits off the event loop") */
    struct event *wake_ev; /* NULL until the first commit */
    atomic_int committing; /* threads running */
    int keep_old_files;
    int readonly;
    char *base_url; /* with a trailing '/' (or "") */
};

enum part { P_NONE, P_FILE, P_DATA, P_PERMS };

typedef struct upload {
    pub_attach *a;
    int status, errnum; /* the first error (0: none) */
    char msg[768];
    pub_mp *mp;
    enum part cur;
    herald_castore_writer *w;
    int have_file, have_data, have_perms;
    char *filename;
    size_t filename_len;
    char mimetype[PUB_MP_MAX_TYPE + 1];
    int64_t size;
    herald_buf data, perms;
    char hash[HERALD_CASTORE_HASH_LEN + 1];
    int pinned;   /* 'hash' is pinned in the store (upload_commit) */
    pub_req *req; /* while committed off the loop: the request to resume */
    pub_httpd_resume_fn resume;
    void *token;
} upload;

/* ---- settings ---------------------------------------------------------------------- */

/* Splits a space or comma separated list (lowercased); NULL for NULL, "" or "any". */
static char **
split_list(const char *s)
{
    if (!s || !*s || strcasecmp(s, "any") == 0)
        return NULL;
    size_t n = 0;
    char **v = herald_mem_calloc(strlen(s) + 2, sizeof(char *));
    while (*s) {
        s += strspn(s, " ,\t");
        size_t k = strcspn(s, " ,\t");
        if (k) {
            v[n] = herald_mem_strndup(*s == '.' ? s + 1 : s, *s == '.' ? k - 1 : k);
            for (char *p = v[n]; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            n++;
        }
        s += k;
    }
    return v;
}

/* kinto-attachment's extension groups (utils.py _EXTENSION_GROUPS). */
static const struct {
    const char *name, *exts;
} GROUPS[] = {
    {"documents", "pdf rtf odf ods gnumeric abw doc docx xls xlsx"},
    {"text", "txt"},
    {"images", "jpg jpe jpeg png gif svg bmp tiff"},
    {"audio", "wav mp3 aac ogg oga flac"},
    {"video", "mpeg 3gp avi divx dvr flv mp4 wmv"},
    {"data", "csv ini json plist xml yaml yml"},
    {"scripts", "js php pl py rb sh"},
    {"archives", "gz bz2 zip tar tgz txz 7z"},
    {"executables", "so exe dll"},
    {"default", "pdf rtf odf ods gnumeric abw doc docx xls xlsx txt jpg jpe jpeg png gif svg "
                "bmp tiff csv ini json plist xml yaml yml"},
    {"any", ""},
};

/* kinto-attachment's resolve_extensions: groups joined by '+', each a group name or a
 * list of extensions; an empty result ("any") allows every extension (NULL). */
static char **
resolve_extensions(const char *s)
{
    herald_buf all = HERALD_BUF_INIT;
    char *copy = herald_mem_strdup(s ? s : "any"), *save = NULL;
    for (char *g = strtok_r(copy, "+", &save); g; g = strtok_r(NULL, "+", &save)) {
        const char *trim = g + strspn(g, " ,\t");
        size_t tl = strcspn(trim, " ,\t");
        const char *exts = g;
        if (trim[tl + strspn(trim + tl, " ,\t")] == '\0')
            for (size_t i = 0; i < sizeof(GROUPS) / sizeof(GROUPS[0]); i++)
                if (strlen(GROUPS[i].name) == tl && strncmp(GROUPS[i].name, trim, tl) == 0)
                    exts = GROUPS[i].exts;
        herald_buf_puts(&all, exts);
        herald_buf_putc(&all, ' ');
    }
    free(copy);
    const char *joined = herald_buf_cstr(&all);
    char **v = joined[strspn(joined, " ,\t")] ? split_list(joined) : NULL;
    herald_buf_free(&all);
    return v;
}

/* attachment_mimetypes, kinto-attachment's ".ext:type;.ext:type" (';', ',' or spaces
 * between entries). Returns 0 with 'out' (ext, type pairs; NULL when empty), or -1. */
static int
parse_overrides(const char *s, char ***out)
{
    *out = NULL;
    if (!s)
        return 0;
    size_t n = 0;
    char **v = herald_mem_calloc(2 * strlen(s) + 2, sizeof(char *));
    while (*s) {
        s += strspn(s, " ;,\t");
        size_t k = strcspn(s, " ;,\t");
        if (!k)
            break;
        const char *colon = memchr(s, ':', k);
        const char *e = *s == '.' ? s + 1 : s;
        if (!colon || colon == e ||
            !herald_castore_valid_type(colon + 1, k - (size_t)(colon + 1 - s))) {
            for (size_t i = 0; i < n; i++)
                free(v[i]);
            free(v);
            return -1;
        }
        v[n++] = herald_mem_strndup(e, (size_t)(colon - e));
        v[n++] = herald_mem_strndup(colon + 1, k - (size_t)(colon + 1 - s));
        s += k;
    }
    if (n)
        *out = v;
    else
        free(v);
    return 0;
}

static void
free_list(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int
in_list(char **v, const char *s, size_t len)
{
    for (size_t i = 0; v[i]; i++)
        if (strlen(v[i]) == len && strncasecmp(v[i], s, len) == 0)
            return 1;
    return 0;
}

/* ---- the upload -------------------------------------------------------------------- */

static void set_error(upload *u, int status, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_error(upload *u, int status, int errnum, const char *fmt, ...)
{
    if (u->status)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->msg, sizeof(u->msg), fmt, ap);
    va_end(ap);
    for (char *m = u->msg; *m; m++) /* part names are the client's bytes: keep JSON valid */
        if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f)
            *m = '?';
    u->status = status;
    u->errnum = errnum;
    herald_castore_abort(u->w);
    u->w = NULL;
}

/* The extension of 'name' (after the last '.'), or NULL. */
static const char *
extension(const char *name, size_t len, size_t *elen)
{
    const char *dot = NULL;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '.')
            dot = name + i;
        else if (name[i] == '/' || name[i] == '\\')
            dot = NULL;
    if (!dot)
        return NULL;
    *elen = len - (size_t)(dot + 1 - name);
    return dot + 1;
}

/* kinto-attachment's built-in overrides (utils.py DEFAULT_MIMETYPES) ... */
static const char *const BUILTIN[] = {"pem", "application/x-pem-file", "geojson",
                                      "application/geojson", NULL};
/* ... and, for a part without a type or with the generic application/octet-stream
 * (curl's and most libraries' default for an unknown file), the type Python's
 * mimetypes.guess_type gives the common extensions: what kinto-http.py's
 * add_attachment would have sent for the same file. */
static const char *const GUESS[] = {"txt",   "text/plain",
                                    "json",  "application/json",
                                    "csv",   "text/csv",
                                    "html",  "text/html",
                                    "htm",   "text/html",
                                    "css",   "text/css",
                                    "js",    "text/javascript",
                                    "mjs",   "text/javascript",
                                    "xml",   "text/xml",
                                    "md",    "text/markdown",
                                    "pdf",   "application/pdf",
                                    "zip",   "application/zip",
                                    "tar",   "application/x-tar",
                                    "wasm",  "application/wasm",
                                    "png",   "image/png",
                                    "jpg",   "image/jpeg",
                                    "jpeg",  "image/jpeg",
                                    "jpe",   "image/jpeg",
                                    "gif",   "image/gif",
                                    "svg",   "image/svg+xml",
                                    "bmp",   "image/bmp",
                                    "tif",   "image/tiff",
                                    "tiff",  "image/tiff",
                                    "ico",   "image/vnd.microsoft.icon",
                                    "webp",  "image/webp",
                                    "mp3",   "audio/mpeg",
                                    "wav",   "audio/x-wav",
                                    "mp4",   "video/mp4",
                                    "mpeg",  "video/mpeg",
                                    "avi",   "video/x-msvideo",
                                    "woff",  "font/woff",
                                    "woff2", "font/woff2",
                                    "ttf",   "font/ttf",
                                    "otf",   "font/otf",
                                    "crt",   "application/x-x509-ca-cert",
                                    "der",   "application/x-x509-ca-cert",
                                    NULL};

static const char *
lookup(char *const *pairs, const char *ext, size_t el)
{
    for (size_t i = 0; pairs && ext && pairs[i]; i += 2)
        if (strlen(pairs[i]) == el && strncasecmp(pairs[i], ext, el) == 0)
            return pairs[i + 1];
    return NULL;
}

/* The record's mimetype: an override by extension (attachment_mimetypes, then the
 * built-in ones), else the part's type without parameters, guessed from the extension
 * when that is missing or generic (see GUESS). Always a valid media type. */
static void
choose_mimetype(upload *u, const char *part_type)
{
    size_t el = 0, tl = 0;
    const char *ext = extension(u->filename, u->filename_len, &el);
    const char *t = lookup(u->a->over, ext, el);
    if (!t)
        t = lookup((char *const *)BUILTIN, ext, el);
    if (t) {
        snprintf(u->mimetype, sizeof(u->mimetype), "%s", t);
        return;
    }
    if (part_type) {
        part_type += strspn(part_type, " \t");
        tl = strcspn(part_type, "; \t");
        if (!herald_castore_valid_type(part_type, tl))
            tl = 0;
    }
    if (tl && !(tl == 24 && strncasecmp(part_type, "application/octet-stream", 24) == 0)) {
        snprintf(u->mimetype, sizeof(u->mimetype), "%.*s", (int)tl, part_type);
        for (char *p = u->mimetype; *p; p++) /* media types are case-insensitive */
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        return;
    }
    t = lookup((char *const *)GUESS, ext, el);
    snprintf(u->mimetype, sizeof(u->mimetype), "%s", t ? t : "application/octet-stream");
}

static int
on_begin(void *arg, const pub_mp_part *part)
{
    upload *u = arg;
    const char *name = part->name;
    if (u->status)
        return 1;
    if (strcmp(name, "attachment") == 0) {
        if (u->have_file) {
            set_error(u, 400, ERRNO_INVALID_POSTED_DATA, "body: 'attachment' is given twice");
            return 1;
        }
        if (!part->filename || part->filename_len == 0) {
            set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS, "body: Filename is required.");
            return 1;
        }
        size_t el = 0;
        const char *ext = extension(part->filename, part->filename_len, &el);
        if (u->a->exts && (!ext || !in_list(u->a->exts, ext, el))) {
            set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS,
                      "body: File extension is not allowed.");
            return 1;
        }
        if (u->a->types) {
            const char *t = part->content_type ? part->content_type : "";
            size_t tl = strcspn(t, "; \t");
            if (!in_list(u->a->types, t, tl)) {
                set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS,
                          "body: File type is not allowed.");
                return 1;
            }
        }
        u->have_file = 1;
        u->filename = herald_mem_strndup(part->filename, part->filename_len);
        u->filename_len = part->filename_len;
        choose_mimetype(u, part->content_type);
        u->w = herald_castore_begin(u->a->store);
        if (!u->w) {
            herald_error("attachments: cannot create a file: %s", strerror(errno));
            set_error(u, 500, HERALD_ERRNO_UNDEFINED, "Cannot store the attachment");
            return 1;
        }
        u->cur = P_FILE;
        return 0;
    }
    int is_data = strcmp(name, "data") == 0, is_perms = strcmp(name, "permissions") == 0;
    if (!is_data && !is_perms) {
        /* Python's repr of the name, as kinto-attachment shows it. */
        set_error(u, 400, ERRNO_INVALID_POSTED_DATA,
                  "body: '%.200s' not in ('data', 'permissions')", name);
        return 1;
    }
    if (part->filename) {
        set_error(u, 400, ERRNO_INVALID_POSTED_DATA,
                  "body: '%s' field should be passed as form data, not files", name);
        return 1;
    }
    if (is_data ? u->have_data : u->have_perms) {
        set_error(u, 400, ERRNO_INVALID_POSTED_DATA, "body: '%s' is given twice", name);
        return 1;
    }
    if (is_data)
        u->have_data = 1;
    else
        u->have_perms = 1;
    u->cur = is_data ? P_DATA : P_PERMS;
    return 0;
}

static int
on_data(void *arg, const char *d, size_t n)
{
    upload *u = arg;
    if (u->status)
        return 1;
    if (u->cur == P_FILE) {
        u->size += (int64_t)n;
        if (u->a->max_size && u->size > u->a->max_size) {
            /* Counted to its end for the message, not stored. */
            herald_castore_abort(u->w);
            u->w = NULL;
            return 0;
        }
        if (herald_castore_write(u->w, d, n) != 0) {
            herald_error("attachments: cannot write a file: %s", strerror(errno));
            set_error(u, 500, HERALD_ERRNO_UNDEFINED, "Cannot store the attachment");
            return 1;
        }
        return 0;
    }
    herald_buf *b = u->cur == P_DATA ? &u->data : &u->perms;
    if (b->len + n > FORM_MAX) {
        set_error(u, 400, ERRNO_INVALID_POSTED_DATA, "body: '%s' is larger than %d bytes",
                  u->cur == P_DATA ? "data" : "permissions", FORM_MAX);
        return 1;
    }
    herald_buf_append(b, d, n);
    return 0;
}

static int
on_end(void *arg)
{
    upload *u = arg;
    if (u->cur == P_FILE && u->a->max_size && u->size > u->a->max_size) {
        set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS,
                  "body: File size (%lld bytes) exceeds the limit (%lld bytes).",
                  (long long)u->size, (long long)u->a->max_size);
        return 1;
    }
    u->cur = P_NONE;
    return 0;
}

static const pub_mp_callbacks mp_callbacks = {on_begin, on_data, on_end};

static upload *
upload_new(pub_attach *a, const char *content_type)
{
    char boundary[PUB_MP_MAX_BOUNDARY + 2];
    upload *u = herald_mem_calloc(1, sizeof(*u));
    u->a = a;
    herald_buf_init(&u->data);
    herald_buf_init(&u->perms);
    int rc = pub_mp_content_type(content_type, boundary, sizeof(boundary));
    if (rc == 1)
        set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS,
                  "Content-Type should be multipart/form-data");
    else if (rc == 2)
        set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS,
                  "Invalid boundary in multipart form: '%s'", boundary);
    else
        u->mp = pub_mp_new(boundary, &mp_callbacks, u);
    return u;
}

static void
upload_free(void *arg)
{
    upload *u = arg;
    if (!u)
        return;
    herald_castore_abort(u->w);
    if (u->pinned)
        herald_castore_unpin(u->a->store, u->hash);
    pub_mp_free(u->mp);
    free(u->filename);
    herald_buf_free(&u->data);
    herald_buf_free(&u->perms);
    free(u);
}

static int
upload_feed(upload *u, const char *d, size_t n)
{
    if (u->status)
        return 1;
    enum pub_mp_status st = pub_mp_feed(u->mp, d, n);
    if (st != PUB_MP_OK && st != PUB_MP_STOPPED)
        set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS, "body: Invalid multipart form");
    return u->status != 0;
}

/* The body is complete: checks what the form lacks. Returns 1 when there is a file
 * to commit, 0 when an error is recorded. */
static int
upload_check(upload *u)
{
    if (!u->status && pub_mp_finish(u->mp) != PUB_MP_OK)
        set_error(u, 400, HERALD_ERRNO_INVALID_PARAMETERS, "body: Invalid multipart form");
    if (!u->status && !u->have_file)
        set_error(u, 400, ERRNO_INVALID_POSTED_DATA, "Attachment missing.");
    return !u->status;
}

/* Makes the file durable under its hash (castore.h) and records its type. Touches only
 * the writer, the hash, the status and the store: safe on a worker thread. */
static void
upload_commit(upload *u)
{
    herald_castore_writer *w = u->w;
    u->w = NULL;
    /* Pinned until upload_free, after the record naming it is written (or not): the
     * GC thread never deletes it meanwhile (attachment_gc.h). */
    if (herald_castore_commit_pin(w, u->hash) != 0) {
        herald_error("attachments: cannot commit a file: %s", strerror(errno));
        set_error(u, 500, HERALD_ERRNO_UNDEFINED, "Cannot store the attachment");
        return;
    }
    u->pinned = 1;
    /* What read servers send as Content-Type (castore.h); without it they send
     * application/octet-stream, so that one is not recorded (a later upload of the same
     * bytes with a specific type may name it) and a failure is logged, not fatal. */
    if (strcmp(u->mimetype, "application/octet-stream") != 0 &&
        herald_castore_set_type(u->a->store, u->hash, u->mimetype) != 0)
        herald_warn("attachments: cannot record the type of %s: %s", u->hash, strerror(errno));
}

/* The body is complete: the file is committed or dropped, on the calling thread. */
static void
upload_end(upload *u)
{
    if (upload_check(u))
        upload_commit(u);
}

/* ---- commits off the event loop ------------------------------------------------------
 *
 * fsync of a large file takes 100+ ms on a disk (bench_attach_loop.sh): a commit runs
 * on a thread of its own (uploads are few, and each holds a connection anyway), which
 * then writes the upload's address to a pipe that the loop watches; the loop hands the
 * request on (resume). Until then the upload belongs to the thread, not the request. */

static void
on_committed(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    upload *u;
    while (read(fd, &u, sizeof(u)) == (ssize_t)sizeof(u)) {
        u->req->streamed = u;
        u->req->streamed_free = upload_free;
        u->resume(u->token);
    }
}

static void *
commit_thread(void *arg)
{
    upload *u = arg;
    pub_attach *a = u->a; /* once written to the pipe, 'u' is the loop's (and freed) */
    upload_commit(u);
    ssize_t n;
    do /* 8 bytes to a pipe: atomic */
        n = write(a->wake[1], &u, sizeof(u));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(u))
        herald_error("attachments: cannot wake the event loop: %s", strerror(errno));
    atomic_fetch_sub(&a->committing, 1);
    return NULL;
}

/* The pipe and its event, made on the first upload (the loop's base comes with it). */
static int
wake_init(pub_attach *a, struct event_base *base)
{
    if (a->wake_ev)
        return 0;
    if (pipe2(a->wake, O_CLOEXEC) < 0)
        return -1;
    if (fcntl(a->wake[0], F_SETFL, O_NONBLOCK) < 0 ||
        !(a->wake_ev = event_new(base, a->wake[0], EV_READ | EV_PERSIST, on_committed, a)) ||
        event_add(a->wake_ev, NULL) < 0) {
        if (a->wake_ev)
            event_free(a->wake_ev);
        a->wake_ev = NULL;
        close(a->wake[0]);
        close(a->wake[1]);
        return -1;
    }
    return 0;
}

/* ---- httpd hooks ------------------------------------------------------------------- */

static void *
stream_open(void *arg, const pub_req *req, long long content_length, long long *limit)
{
    pub_attach *a = arg;
    pub_path p;
    (void)content_length;
    if (req->method != PUB_POST || !pub_attach_path(&p, req->path))
        return NULL;
    *limit = a->max_size ? a->max_size + BODY_ALLOWANCE : UNLIMITED;
    return upload_new(a, pub_req_header(req, "Content-Type"));
}

static int
stream_data(void *u, const char *p, size_t n)
{
    return upload_feed(u, p, n);
}

static int
stream_finish(void *arg, pub_req *req, struct event_base *base, pub_httpd_resume_fn resume,
              void *token)
{
    upload *u = arg;
    if (upload_check(u)) {
        pthread_t t;
        pthread_attr_t attr;
        u->req = req;
        u->resume = resume;
        u->token = token;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_fetch_add(&u->a->committing, 1);
        int started =
            wake_init(u->a, base) == 0 && pthread_create(&t, &attr, commit_thread, u) == 0;
        pthread_attr_destroy(&attr);
        if (!started)
            atomic_fetch_sub(&u->a->committing, 1);
        if (started)
            return 1;
        upload_commit(u); /* no thread: on the loop, as a last resort */
    }
    req->streamed = u;
    req->streamed_free = upload_free;
    return 0;
}

static void
stream_abort(void *u)
{
    upload_free(u);
}

/* ---- the store --------------------------------------------------------------------- */

pub_attach *
pub_attach_new(const pub_settings *s, char *err, size_t errlen)
{
    err[0] = '\0';
    if (!s->attach.dir || !*s->attach.dir)
        return NULL;
    herald_castore *store = herald_castore_open(s->attach.dir, err, errlen);
    if (!store)
        return NULL;
    pub_attach *a = herald_mem_calloc(1, sizeof(*a));
    a->store = store;
    a->max_size = s->attach.max_size_bytes;
    a->keep_old_files = s->attach.keep_old_files;
    a->readonly = s->readonly;
    a->exts = resolve_extensions(s->attach.extensions);
    a->types = split_list(s->attach.allowed_mimetypes);
    if (parse_overrides(s->attach.mimetypes, &a->over) != 0) {
        snprintf(err, errlen, "attachment_mimetypes: expected '.ext:type;.ext:type'");
        pub_attach_free(a);
        return NULL;
    }
    const char *b = s->attach.base_url ? s->attach.base_url : "";
    size_t bl = strlen(b);
    a->base_url = herald_mem_alloc(bl + 2);
    snprintf(a->base_url, bl + 2, "%s%s", b, bl && b[bl - 1] != '/' ? "/" : "");
    a->stream = (pub_httpd_stream){stream_open, stream_data, stream_finish, stream_abort, a};
    return a;
}

void
pub_attach_free(pub_attach *a)
{
    if (!a)
        return;
    int running = atomic_load(&a->committing);
    if (running) {
        /* At exit after the drain timed out: a commit thread still uses 'a', its store
         * and its pipe, so they are left to the process's end. */
        herald_warn("attachments: %d commit(s) still running at exit", running);
        return;
    }
    herald_castore_close(a->store);
    free_list(a->exts);
    free_list(a->types);
    free_list(a->over);
    if (a->wake_ev) {
        event_free(a->wake_ev);
        close(a->wake[0]);
        close(a->wake[1]);
    }
    free(a->base_url);
    free(a);
}

const pub_httpd_stream *
pub_attach_stream(pub_attach *a)
{
    return a ? &a->stream : NULL;
}

int
pub_attach_ping(pub_attach *a)
{
    if (a->readonly)
        return 1; /* as kinto-attachment: nothing is written on a read-only server */
    herald_castore_writer *w = herald_castore_begin(a->store);
    int ok = w && herald_castore_write(w, "herald heartbeat\n", 17) == 0;
    herald_castore_abort(w);
    return ok;
}

int
pub_attach_keep_old_files(const pub_attach *a)
{
    return a->keep_old_files;
}

struct herald_castore *
pub_attach_store(pub_attach *a)
{
    return a->store;
}

int
pub_attach_path(pub_path *p, const char *path)
{
    static const char suffix[] = "/attachment";
    size_t n = strlen(path), sl = sizeof(suffix) - 1;
    char buf[1024];
    if (n <= sl || n - sl >= sizeof(buf) || strcmp(path + n - sl, suffix) != 0)
        return 0;
    memcpy(buf, path, n - sl);
    buf[n - sl] = '\0';
    pub_path_parse(p, buf);
    return p->kind == PUB_PATH_OBJECT && p->depth == 3 && p->res[2] == PUB_RES_RECORD;
}

/* ---- the endpoint ------------------------------------------------------------------ */

/* Permission (write on the record, or create in the collection) and existence of the
 * bucket and collection; with 'need_record', of the record too. Returns 1 if the
 * record exists, 0 if not, -1 after replying. */
static int
check_access(pub_call *c, const pub_path *p, int need_record)
{
    pub_view v;
    memset(&v, 0, sizeof(v));
    int rc = pub_objects_fetch(&v, c->app->store, p, p->depth, 0), ret = -1;
    if (rc != PUB_OK) {
        pub_call_status(c, rc);
        goto done;
    }
    int exists = pub_view_exists(&v, 2);
    int ok = exists || need_record ? pub_call_allowed(c, p, &v, 2, "write", PUB_RES_RECORD)
                                   : pub_call_may_create(c, p, &v);
    if (!ok) {
        pub_call_deny(c);
        goto done;
    }
    int missing = pub_view_first_missing(&v);
    if (missing >= 0 && (missing < 2 || need_record)) {
        pub_reply_missing(c->resp, pub_path_name(p, missing), p->ids[missing]);
        goto done;
    }
    ret = exists;
done:
    pub_view_free(&v);
    return ret;
}

/* Parses the form field 'name' as a JSON object. Returns a new reference (an empty
 * object when absent), or NULL after replying. */
static json_t *
form_json(pub_call *c, const herald_buf *b, int present, const char *name)
{
    char err[256], msg[400];
    if (!present)
        return json_object();
    json_t *v = herald_jcs_parse(b->data ? b->data : "", b->len, HERALD_JCS_STRICT,
                                 c->app->settings->max_json_depth, err, sizeof(err));
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
        snprintf(err, sizeof(err), "not an object");
    }
    if (!v) {
        snprintf(msg, sizeof(msg), "body: %s is not valid JSON (%s)", name, err);
        pub_reply_error(c->resp, 400, ERRNO_INVALID_POSTED_DATA, msg, NULL);
    }
    return v;
}

static void
post_attachment(pub_call *c, const pub_path *p)
{
    pub_attach *a = c->app->attach;
    upload *u = c->req->streamed, *local = NULL;
    json_t *data = NULL, *perms = NULL, *att = NULL, *body = NULL;
    if (!u) {
        /* A body that was not streamed (inside a batch): parsed the same way. */
        u = local = upload_new(a, pub_req_header(c->req, "Content-Type"));
        if (!u->status)
            upload_feed(u, c->req->body, c->req->body_len);
        upload_end(u);
    }
    int exists = check_access(c, p, 0);
    if (exists < 0)
        goto done;
    if (u->status) {
        json_t *details = u->status == 400
                              ? json_pack("[{s:s,s:s}]", "location", "body", "description", u->msg)
                              : NULL;
        pub_reply_error(c->resp, u->status, u->errnum, u->msg, details);
        json_decref(details);
        goto done;
    }
    if (!(data = form_json(c, &u->data, u->have_data, "data")) ||
        !(perms = form_json(c, &u->perms, u->have_perms, "permissions")))
        goto done;
    char location[8 + HERALD_CASTORE_HASH_LEN];
    snprintf(location, sizeof(location), "%.2s/%s", u->hash, u->hash);
    json_t *fname = json_stringn(u->filename, u->filename_len);
    if (!fname) {
        pub_reply_invalid(c->resp, "body", NULL, "Filename is not valid UTF-8");
        goto done;
    }
    att = json_pack("{s:o,s:s,s:s,s:s,s:I}", "filename", fname, "location", location, "hash",
                    u->hash, "mimetype", u->mimetype, "size", (json_int_t)u->size);
    json_object_set(data, "attachment", att);
    body = json_pack("{s:O}", "data", data);
    if (json_object_size(perms))
        json_object_set(body, "permissions", perms);
    c->attachment_write = 1;
    pub_write_object(c, p, exists ? PUB_WRITE_PATCH : PUB_WRITE_PUT, body, PUB_BODY_JSON);
    c->attachment_write = 0;
    if (c->resp->status == 200 || c->resp->status == 201) {
        herald_buf uri = HERALD_BUF_INIT;
        herald_buf_reset(&c->resp->body);
        if (herald_jcs_dump(&c->resp->body, att) != 0) {
            pub_reply_internal(c->resp);
        } else {
            herald_buf_puts(&uri, c->req->host);
            herald_buf_puts(&uri, "/v1");
            pub_objects_uri(&uri, p, 3);
            pub_headers_set(&c->resp->headers, "Location", herald_buf_cstr(&uri));
        }
        herald_buf_free(&uri);
        herald_info("attachment %s/%s/%s: %s (%lld bytes)", p->ids[0], p->ids[1], p->ids[2],
                    u->hash, (long long)u->size);
    }
done:
    json_decref(body);
    json_decref(att);
    json_decref(data);
    json_decref(perms);
    upload_free(local);
}

static void
delete_attachment(pub_call *c, const pub_path *p)
{
    if (check_access(c, p, 1) < 0)
        return;
    json_t *body = json_pack("{s:{s:n}}", "data", "attachment");
    c->attachment_write = 1;
    pub_write_object(c, p, PUB_WRITE_PATCH, body, PUB_BODY_JSON);
    c->attachment_write = 0;
    json_decref(body);
    if (c->resp->status == 200) {
        c->resp->status = 204;
        herald_buf_reset(&c->resp->body);
        c->resp->has_body = 0;
    }
}

void
pub_attach_handle(pub_call *c, const pub_path *p)
{
    if (!c->app->attach) {
        pub_reply_missing(c->resp, NULL, NULL);
        return;
    }
    if (c->req->precheck) {
        /* The head of an upload whose body is not read yet (httpd.h): 100 to read it,
         * else the permission or existence error, and the body is never read. */
        if (c->req->method == PUB_POST && check_access(c, p, 0) >= 0) {
            pub_resp_reset(c->resp);
            c->resp->status = 100;
            c->resp->has_body = 0;
        } else if (c->req->method != PUB_POST) {
            pub_reply_method_not_allowed(c->resp);
        }
        return;
    }
    switch (c->req->method) {
    case PUB_POST:
        post_attachment(c, p);
        return;
    case PUB_DELETE:
        delete_attachment(c, p);
        return;
    default:
        pub_reply_method_not_allowed(c->resp);
        return;
    }
}

void
pub_attach_capability(const pub_app *app, json_t *caps)
{
    if (!app->attach)
        return;
    json_object_set_new(caps, "attachments",
                        json_pack("{s:s,s:s,s:s,s:s}", "version", "6.4.0", "description",
                                  "Add file attachments to records", "url",
                                  "https://github.com/Kinto/kinto-attachment/", "base_url",
                                  app->attach->base_url));
}
