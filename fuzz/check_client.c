/*
 * check_client -- what the C client (client/) reads that a server, a proxy or the disk
 * controls, outside what the changeset and monitor targets already cover (lib/verify.c,
 * lib/monitor.c): the response header lines it interprets, and the files it loads and
 * re-verifies (a stored state, a packaged dump, client.json), through its public API.
 *
 * The first byte picks what the rest is (modulo 4):
 *   0  response header lines, '\n'-separated, fed to herald_chttp_header_line (Backoff,
 *      Retry-After, ETag, Preference-Applied): Backoff and Retry-After are -1 or a
 *      non-negative number of seconds; the ETag (sent back in If-None-Match) holds only
 *      visible ASCII, fits its buffer, and is "" or a whole header's value; the same lines
 *      again give the same Backoff, ETag and Preference-Applied.
 *   1  a stored state (STATE/main/certs.json), loaded by herald_client_follow with the
 *      golden key pinned and no server;
 *   2  a packaged dump (DUMP/main/certs.json), the same way;
 *      for both: records are handed over only when they verify: a non-NULL
 *      herald_client_records() is sorted by id without duplicates, has info.records
 *      entries and a version, and re-verifies (herald_client_verify) with the file's own
 *      signatures at that version; from_dump says where it came from; NULL means
 *      version 0. The file on disk is never modified by loading it.
 *   3  client.json: herald_client_new accepts any content (ignores what it cannot use),
 *      and what it reports is non-negative.
 * Files go to a private temporary directory made on first use (under $TMPDIR).
 */
#include "fuzz_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../client/http.h"
#include "herald/client.h"
#include "herald/jcs.h"

static char root[4096], state_dir[4200], dump_dir[4200];

static int
ensure_dirs(void)
{
    if (root[0])
        return 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/herald-fuzz-client.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        root[0] = '\0';
        return -1;
    }
    snprintf(state_dir, sizeof(state_dir), "%s/state", root);
    snprintf(dump_dir, sizeof(dump_dir), "%s/dump", root);
    return 0;
}

static int
write_file(const char *dir, const char *sub, const char *name, const uint8_t *data, size_t size)
{
    char path[8400];
    snprintf(path, sizeof(path), "%s", dir);
    mkdir(path, 0700);
    if (sub) {
        snprintf(path, sizeof(path), "%s/%s", dir, sub);
        mkdir(path, 0700);
    }
    snprintf(path, sizeof(path), "%s/%s%s%s", dir, sub ? sub : "", sub ? "/" : "", name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int
same_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int same = 1;
    for (size_t i = 0; i < size && same; i++)
        same = fgetc(f) == data[i];
    same = same && fgetc(f) == EOF;
    fclose(f);
    return same;
}

static void
clean(void)
{
    char path[8400];
    const char *files[] = {"state/main/certs.json", "dump/main/certs.json", "state/client.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", root, files[i]);
        unlink(path);
    }
    /* Temporary files herald_cstore_write may have left (it should not: nothing is
     * written when loading). */
}

static const char *
check_headers(const uint8_t *data, size_t size)
{
    herald_chttp_resp r, r2;
    herald_chttp_resp_init(&r);
    herald_chttp_resp_init(&r2);
    for (int pass = 0; pass < 2; pass++) {
        herald_chttp_resp *x = pass ? &r2 : &r;
        size_t i = 0;
        while (i <= size) {
            const uint8_t *nl = i < size ? memchr(data + i, '\n', size - i) : NULL;
            size_t end = nl ? (size_t)(nl - data) : size;
            herald_chttp_header_line(x, (const char *)data + i, end - i);
            i = end + 1;
        }
    }
    const char *bad = NULL;
    size_t n = strnlen(r.etag, sizeof(r.etag));
    if (r.backoff_s < -1 || r.retry_after_s < -1)
        bad = "negative Backoff or Retry-After";
    else if (n >= sizeof(r.etag))
        bad = "ETag not terminated";
    else if (r.preference_applied != 0 && r.preference_applied != 1)
        bad = "Preference-Applied not a flag";
    for (size_t i = 0; !bad && i < n; i++)
        if ((unsigned char)r.etag[i] < 0x21 || (unsigned char)r.etag[i] > 0x7e)
            bad = "ETag holds a byte that could end or inject a header line";
    if (!bad && n && !memmem(data, size, r.etag, n))
        bad = "ETag not taken from the input";
    if (!bad && (r.backoff_s != r2.backoff_s || strcmp(r.etag, r2.etag) != 0 ||
                 r.preference_applied != r2.preference_applied))
        bad = "the same header lines gave another result";
    herald_chttp_resp_free(&r);
    herald_chttp_resp_free(&r2);
    return bad;
}

/* The signatures the file carries (a state: "signatures"; a dump: metadata.signatures). */
static json_t *
file_signatures(const uint8_t *data, size_t size, int dump)
{
    json_t *doc = herald_jcs_parse((const char *)data, size, 0, 64, NULL, 0), *s;
    if (!doc)
        return NULL;
    s = dump ? json_object_get(json_object_get(doc, "metadata"), "signatures")
             : json_object_get(doc, "signatures");
    json_incref(s);
    json_decref(doc);
    return s;
}

static const char *
check_load(const uint8_t *data, size_t size, int dump)
{
    const char *keys[] = {HERALD_FUZZ_PUBKEY};
    herald_client_config cfg = {.public_keys = keys, .npublic_keys = 1, .state_dir = state_dir};
    char err[256], path[8400];
    const char *bad = NULL;
    herald_client_info info;
    json_t *recs = NULL, *sigs = NULL, *cs = NULL, *st = NULL;

    if (dump)
        cfg.dump_dir = dump_dir;
    if (write_file(dump ? dump_dir : state_dir, "main", "certs.json", data, size) < 0)
        return NULL; /* the machine's problem, not a finding */
    herald_client *c = herald_client_new(&cfg, err, sizeof(err));
    if (!c)
        return "client not created";
    if (herald_client_follow(c, "main", "certs") != HERALD_CLIENT_OK) {
        bad = "follow failed";
        goto out;
    }
    if (herald_client_info_get(c, "main", "certs", &info) != HERALD_CLIENT_OK) {
        bad = "followed collection has no info";
        goto out;
    }
    recs = herald_client_records(c, "main", "certs");
    snprintf(path, sizeof(path), "%s/main/certs.json", dump ? dump_dir : state_dir);
    if (!same_file(path, data, size)) {
        bad = "loading modified the file";
        goto out;
    }
    if (!recs) {
        if (info.version != 0 || info.records != 0)
            bad = "no records handed over, yet a version";
        goto out;
    }
    if (info.version <= 0 || json_array_size(recs) != info.records) {
        bad = "records handed over without a version, or a wrong count";
        goto out;
    }
    if (info.from_dump != dump) {
        bad = "from_dump does not say where the records came from";
        goto out;
    }
    const char *prev = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (!id || (prev && strcmp(prev, id) >= 0)) {
            bad = "records not sorted by unique id";
            goto out;
        }
        prev = id;
    }
    sigs = file_signatures(data, size, dump);
    cs = json_pack("{s:O,s:{s:O?},s:I}", "changes", recs, "metadata", "signatures", sigs,
                   "timestamp", (json_int_t)info.version);
    if (!cs || herald_client_verify(&st, cs, NULL, 0, "main", "certs", keys, 1, 0, err,
                                    sizeof(err)) != HERALD_CLIENT_OK)
        bad = "records handed over do not verify with the file's signatures";
out:
    json_decref(st);
    json_decref(cs);
    json_decref(sigs);
    json_decref(recs);
    herald_client_free(c);
    return bad;
}

static const char *
check_client_json(const uint8_t *data, size_t size)
{
    const char *keys[] = {HERALD_FUZZ_PUBKEY};
    herald_client_config cfg = {.public_keys = keys, .npublic_keys = 1, .state_dir = state_dir};
    char err[256];
    const char *bad = NULL;
    herald_client_freshness f;
    if (write_file(state_dir, NULL, "client.json", data, size) < 0)
        return NULL;
    herald_client *c = herald_client_new(&cfg, err, sizeof(err));
    if (!c)
        return "client.json's content stopped the client from starting";
    herald_client_freshness_get(c, &f);
    if (f.monitor_timestamp < 0 || f.monitor_expires < 0 || f.checked_at < 0 ||
        (f.all_committed != 0 && f.all_committed != 1) || herald_client_backoff_ms(c) < 0)
        bad = "negative value or non-flag loaded from client.json";
    herald_client_free(c);
    return bad;
}

const char *
herald_fuzz_check_client(const uint8_t *data, size_t size)
{
    if (size == 0 || ensure_dirs() < 0)
        return NULL;
    const char *bad;
    switch (data[0] % 4) {
    case 0:
        return check_headers(data + 1, size - 1);
    case 1:
        bad = check_load(data + 1, size - 1, 0);
        break;
    case 2:
        bad = check_load(data + 1, size - 1, 1);
        break;
    default:
        bad = check_client_json(data + 1, size - 1);
        break;
    }
    clean();
    return bad;
}
