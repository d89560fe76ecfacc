/*
 * verify -- "herald-signer verify": do exactly what a client does with a read server.
 *
 *   herald-signer verify --url http://host/v1/buckets/B/collections/C/changeset
 *                        --public-key KEY [--public-key KEY...] [--state FILE]
 *                        [--now-ms N] [--timeout-ms N]
 *
 * Without --state: fetch the full changeset, verify it (herald_verify_changeset).
 * With --state FILE and the file present: fetch the delta "_since=<saved timestamp>",
 * merge it into the saved records and verify the whole result; if that fails for any
 * reason (HTTP error, bad JSON, bad signature), refetch the full changeset once and verify
 * it on its own, still refusing a version older than the saved one. On success the new
 * state replaces the file atomically (temporary file, fsync, rename), so a crash leaves
 * either the old verified state or the new one. On failure the file is left untouched:
 * the client keeps its last verified copy.
 *
 * Output: one line "OK bucket=B collection=C timestamp=V records=N key_id=K" on stdout,
 * or "FAIL reason" on stderr with exit status 1 (2 for bad usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "herald/clock.h"
#include "herald/crypto.h"
#include "herald/httpc.h"
#include "herald/jcs.h"
#include "herald/mem.h"
#include "herald/snapshot.h"
#include "herald/verify.h"

#define MAX_KEYS 16
#define MAX_STATE_BYTES (1u << 30)
#define MAX_ID 256

struct verify_args {
    const char *url;
    const char *state;
    herald_pubkey keys[MAX_KEYS];
    size_t nkeys;
    int64_t now_ms;
    int timeout_ms;
    char bucket[MAX_ID];
    char collection[MAX_ID];
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: herald-signer verify --url CHANGESET_URL --public-key KEY "
               "[--public-key KEY...]\n"
               "                            [--state FILE] [--now-ms N] [--timeout-ms N]\n"
               "CHANGESET_URL is http://HOST[:PORT]/v1/buckets/BID/collections/CID/changeset\n");
}

static int
parse_i64(int64_t *out, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int
valid_id(const char *s, size_t n)
{
    if (n == 0 || n >= MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

/* Takes bucket and collection from a path ending in
 * "/buckets/{bid}/collections/{cid}/changeset" (any prefix, e.g. "/v1"). */
static int
ids_from_url(struct verify_args *a)
{
    const char *p = strstr(a->url, "://");
    if (!p)
        return -1;
    p = strchr(p + 3, '/');
    if (!p)
        return -1;
    size_t n = strcspn(p, "?#");
    const char *seg[5];
    size_t segl[5];
    const char *end = p + n;
    /* Walk the last five segments backwards. */
    for (int i = 4; i >= 0; i--) {
        const char *s = end;
        while (s > p && s[-1] != '/')
            s--;
        if (s == p)
            return -1; /* ran out of segments */
        seg[i] = s;
        segl[i] = (size_t)(end - s);
        end = s - 1;
    }
    if (segl[0] != 7 || memcmp(seg[0], "buckets", 7) != 0 || segl[2] != 11 ||
        memcmp(seg[2], "collections", 11) != 0 || segl[4] != 9 ||
        memcmp(seg[4], "changeset", 9) != 0 || !valid_id(seg[1], segl[1]) ||
        !valid_id(seg[3], segl[3]))
        return -1;
    memcpy(a->bucket, seg[1], segl[1]);
    a->bucket[segl[1]] = '\0';
    memcpy(a->collection, seg[3], segl[3]);
    a->collection[segl[3]] = '\0';
    return 0;
}

/* Returns 0 with the option's value in '*val' (and 'i' advanced) when argv[*i] is 'name'
 * ("--name VALUE" or "--name=VALUE"); 1 when it is not; -1 when the value is missing. */
static int
opt_value(const char **val, const char *name, int argc, char **argv, int *i)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 1;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 0;
    }
    if (argv[*i][n] != '\0')
        return 1;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 0;
}

static int
parse_args(struct verify_args *a, int argc, char **argv)
{
    int have_now = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if ((r = opt_value(&v, "--url", argc, argv, &i)) == 0) {
            a->url = v;
        } else if (r < 0) {
            goto missing;
        } else if ((r = opt_value(&v, "--public-key", argc, argv, &i)) == 0) {
            if (a->nkeys == MAX_KEYS) {
                fprintf(stderr, "FAIL too many --public-key (at most %d)\n", MAX_KEYS);
                return -1;
            }
            if (herald_crypto_pubkey_parse(&a->keys[a->nkeys], v) < 0) {
                fprintf(stderr, "FAIL --public-key '%s' is not a valid Ed25519 public key\n", v);
                return -1;
            }
            a->nkeys++;
        } else if (r < 0) {
            goto missing;
        } else if ((r = opt_value(&v, "--state", argc, argv, &i)) == 0) {
            a->state = v;
        } else if (r < 0) {
            goto missing;
        } else if ((r = opt_value(&v, "--now-ms", argc, argv, &i)) == 0) {
            if (parse_i64(&a->now_ms, v) < 0) {
                fprintf(stderr, "FAIL --now-ms wants a non-negative integer\n");
                return -1;
            }
            have_now = 1;
        } else if (r < 0) {
            goto missing;
        } else if ((r = opt_value(&v, "--timeout-ms", argc, argv, &i)) == 0) {
            int64_t t;
            if (parse_i64(&t, v) < 0 || t == 0 || t > 3600000) {
                fprintf(stderr, "FAIL --timeout-ms wants 1..3600000\n");
                return -1;
            }
            a->timeout_ms = (int)t;
        } else if (r < 0) {
            goto missing;
        } else {
            fprintf(stderr, "FAIL unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    if (!a->url || a->nkeys == 0) {
        fprintf(stderr, "FAIL --url and at least one --public-key are required\n");
        usage(stderr);
        return -1;
    }
    if (ids_from_url(a) < 0) {
        fprintf(stderr, "FAIL --url must end in /buckets/BID/collections/CID/changeset\n");
        return -1;
    }
    if (!have_now) {
        a->now_ms = herald_clock_wall_ms();
    }
    return 0;

missing:
    fprintf(stderr, "FAIL option '%s' needs a value\n", argv[argc - 1]);
    return -1;
}

/* Reads the saved state. Returns 0 with '*state' (NULL when the file does not exist), or
 * -1 with a reason. */
static int
load_state(json_t **state, const char *path, char *err, size_t errlen)
{
    herald_buf b = HERALD_BUF_INIT;
    char why[256];
    int rc = -1;
    *state = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "state %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > MAX_STATE_BYTES) {
            snprintf(err, errlen, "state %s: too large", path);
            goto out;
        }
        herald_buf_append(&b, chunk, n);
    }
    if (ferror(f)) {
        snprintf(err, errlen, "state %s: read error", path);
        goto out;
    }
    /* Written by us from verified data: a non-strict parse reads it back exactly. */
    *state = herald_jcs_parse(b.data ? b.data : "", b.len, 0, 0, why, sizeof(why));
    if (!*state || !json_is_object(*state)) {
        json_decref(*state);
        *state = NULL;
        snprintf(err, errlen, "state %s: %s", path, why);
        goto out;
    }
    rc = 0;

out:
    fclose(f);
    herald_buf_free(&b);
    return rc;
}

/* Replaces 'path' with the canonical JSON of 'state': temporary file in the same
 * directory, fsync, rename, fsync of the directory. */
static int
save_state(const char *path, const json_t *state, char *err, size_t errlen)
{
    herald_buf b = HERALD_BUF_INIT;
    herald_buf tmp = HERALD_BUF_INIT;
    int fd = -1;
    int rc = -1;

    if (herald_jcs_dump(&b, state) < 0) {
        snprintf(err, errlen, "state cannot be serialized");
        goto out;
    }
    herald_buf_putc(&b, '\n');
    herald_buf_printf(&tmp, "%s.tmp.XXXXXX", path);
    fd = mkstemp(herald_buf_cstr(&tmp));
    if (fd < 0) {
        snprintf(err, errlen, "state %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "state %s: write: %s", tmp.data, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "state %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.data, path) != 0) {
        snprintf(err, errlen, "state %s: rename: %s", path, strerror(errno));
        goto out;
    }
    tmp.len = 0; /* renamed: nothing to unlink */
    /* Make the rename itself durable. */
    char *dcopy = herald_mem_strdup(path);
    int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(dcopy);
    rc = 0;

out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp.len)
        unlink(herald_buf_cstr(&tmp));
    herald_buf_free(&b);
    herald_buf_free(&tmp);
    return rc;
}

/* Fetches 'url' and verifies it against 'prev' (may be NULL). On success '*key_index' is
 * the pinned key whose signature entry was checked. */
static int
fetch_verify(json_t **state, size_t *key_index, const struct verify_args *a, const char *url,
             const json_t *prev, char *err, size_t errlen)
{
    herald_buf body = HERALD_BUF_INIT;
    json_t *cs = NULL;
    char why[256];
    int status = 0;
    int rc = -1;
    *state = NULL;

    if (herald_httpc_get(url, a->timeout_ms, &status, &body, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "fetch %s: %s", url, why);
        goto out;
    }
    if (status != 200) {
        snprintf(err, errlen, "fetch %s: HTTP status %d", url, status);
        goto out;
    }
    /* The response is untrusted, but it is canonical JSON, which may spell a large real
     * as an integer beyond 2^53 (1e20 is served as 100000000000000000000) and nests two
     * levels deeper than the record: a strict I-JSON parse would refuse what the server
     * legitimately serves. Trust comes from the signature over the client's own
     * canonical form of the merged state, not from the parse. */
    cs = herald_jcs_parse(body.data ? body.data : "", body.len, 0, 0, why, sizeof(why));
    if (!cs) {
        snprintf(err, errlen, "changeset is not valid JSON: %s", why);
        goto out;
    }
    herald_verify_opts o = {.keys = a->keys,
                            .nkeys = a->nkeys,
                            .now_ms = a->now_ms,
                            .bucket = a->bucket,
                            .collection = a->collection};
    if (herald_verify_changeset(state, cs, prev, &o, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s", why);
        goto out;
    }
    /* The same lookup herald_snapshot_verify() made: the first pinned key with an entry. */
    herald_snapshot_find_entry(json_object_get(json_object_get(cs, "metadata"), "signatures"),
                               a->keys, a->nkeys, key_index);
    rc = 0;

out:
    json_decref(cs);
    herald_buf_free(&body);
    return rc;
}

static int64_t
state_timestamp(const json_t *state)
{
    return (int64_t)json_number_value(json_object_get(state, "timestamp"));
}

int
herald_signer_cmd_verify(int argc, char **argv)
{
    struct verify_args *a = herald_mem_calloc(1, sizeof(*a));
    json_t *prev = NULL;
    json_t *state = NULL;
    herald_buf url = HERALD_BUF_INIT;
    char err[512];
    char err2[512];
    size_t ki = 0;
    int rc = 1;

    a->timeout_ms = 30000;
    if (parse_args(a, argc, argv) < 0) {
        rc = 2;
        goto out;
    }
    if (herald_crypto_init() < 0) {
        fprintf(stderr, "FAIL libsodium initialisation failed\n");
        goto out;
    }
    if (a->state && load_state(&prev, a->state, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL %s\n", err);
        goto out;
    }

    if (prev) {
        herald_buf_puts(&url, a->url);
        url.len = strcspn(herald_buf_cstr(&url), "#");
        herald_buf_putc(&url, strchr(herald_buf_cstr(&url), '?') ? '&' : '?');
        herald_buf_puts(&url, "_since=");
        herald_buf_put_i64(&url, (long long)state_timestamp(prev));
        if (fetch_verify(&state, &ki, a, herald_buf_cstr(&url), prev, err, sizeof(err)) < 0) {
            /* Any failure of the delta: one full refetch, verified on its own. */
            if (fetch_verify(&state, &ki, a, a->url, NULL, err2, sizeof(err2)) < 0) {
                fprintf(stderr, "FAIL %s (delta: %s)\n", err2, err);
                goto out;
            }
            if (state_timestamp(state) < state_timestamp(prev)) {
                fprintf(stderr, "FAIL changeset timestamp %lld is older than the saved %lld\n",
                        (long long)state_timestamp(state), (long long)state_timestamp(prev));
                goto out;
            }
        }
    } else if (fetch_verify(&state, &ki, a, a->url, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL %s\n", err);
        goto out;
    }

    if (a->state && save_state(a->state, state, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL %s\n", err);
        goto out;
    }

    fprintf(stdout, "OK bucket=%s collection=%s timestamp=%lld records=%zu key_id=%s\n", a->bucket,
            a->collection, (long long)state_timestamp(state),
            json_array_size(json_object_get(state, "records")), a->keys[ki].key_id);
    rc = 0;

out:
    json_decref(prev);
    json_decref(state);
    herald_buf_free(&url);
    free(a);
    return rc;
}
