/*
 * herald -- the command-line client on libherald_client (include/herald/client.h).
 *
 *   herald sync URL --public-key K [--public-key K2] --state DIR [--dump DIR]
 *               [--filter FIELD=VALUE] [--retries N] [--timeout-ms MS] [--print]
 *               bucket/collection...
 *   herald show --state DIR --public-key K [--dump DIR] [--filter FIELD=VALUE]
 *               bucket/collection        (no request: what the client holds)
 *   herald attachment URL --public-key K --state DIR bucket/collection RECORD_ID
 *   herald watch URL --public-key K --state DIR [--wait S] [--count N] [--timeout S]
 *               [--poll-ms MS] [--print] [... as sync] bucket/collection...
 *   herald verify ...        (exactly "herald-signer verify ...": signer/cmd_verify.c,
 *                             linked in, same arguments, output and exit status)
 *
 * watch long-polls the monitor (herald_client_watch) and prints, as they happen, one
 * "change B/C version=V records=N" line per verified change (then its records with
 * --print) and one "sync status=S monitor=M committed=0|1[ error=...]" line per monitor
 * answer acted on; it ends after --count changes, after --timeout seconds, or on
 * SIGINT/SIGTERM, then prints the same summary as sync. Exit status 0, or 1 when
 * --timeout passed before --count changes were seen.
 *
 * sync prints one line per collection ("B/C version=V records=N status=S[ error=...]"),
 * a "monitor timestamp=M expires=E committed=0|1 age_ms=A" line (committed=1: every
 * followed collection is at the version and hash the verified signed monitor names, so
 * all of it was current as of a monitor signed at most A ms before this sync) and a
 * "stats" line; --print then prints each collection's records (canonical JSON,
 * one line). Exit status: 0 all verified, 1 an error (the last verified copy is kept),
 * 2 usage, 3 backoff (no request made).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h" /* signer/: herald_signer_cmd_verify */
#include "herald/client.h"
#include "herald/jcs.h"

#define MAX_ITEMS 64

typedef struct filter_arg {
    char *field;
    const char *value;
} filter_arg;

static int
field_filter(const json_t *record, void *arg)
{
    const filter_arg *f = arg;
    const char *v = json_string_value(json_object_get(record, f->field));
    return v && strcmp(v, f->value) == 0;
}

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: herald sync URL --public-key K --state DIR [--dump DIR] [--filter F=V]\n"
        "                   [--retries N] [--timeout-ms MS] [--print] bucket/collection...\n"
        "       herald show --state DIR --public-key K [--dump DIR] [--filter F=V] "
        "bucket/collection\n"
        "       herald attachment URL --public-key K --state DIR bucket/collection ID\n"
        "       herald watch URL --public-key K --state DIR [--wait S] [--count N]\n"
        "                    [--timeout S] [--poll-ms MS] [--print] [...] bucket/collection...\n"
        "       herald verify --url CHANGESET_URL --public-key KEY [...] (= herald-signer "
        "verify)\n");
}

static int
split(char *item, char **b, char **c)
{
    char *slash = strchr(item, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    *b = item;
    *c = slash + 1;
    return 0;
}

static void
print_records(herald_client *c, const char *b, const char *col)
{
    json_t *recs = herald_client_records(c, b, col);
    herald_buf out = HERALD_BUF_INIT;
    if (recs && herald_jcs_dump(&out, recs) == 0)
        printf("%s\n", herald_buf_cstr(&out));
    else
        printf("null\n");
    herald_buf_free(&out);
    json_decref(recs);
}

/* The watch: what it prints as it goes, and when it stops. */
typedef struct watch_state {
    herald_client *c;
    int print;
    long count;   /* stop after this many changes, 0: no limit */
    long changes; /* seen so far */
} watch_state;

static herald_client *volatile watched;

static void
on_signal(int sig)
{
    (void)sig;
    if (watched)
        herald_client_watch_stop(watched);
}

static void
watch_changed(const char *b, const char *col, int64_t version, void *arg)
{
    watch_state *w = arg;
    herald_client_info info;
    w->changes++;
    if (herald_client_info_get(w->c, b, col, &info) != HERALD_CLIENT_OK)
        info.records = 0;
    printf("change %s/%s version=%lld records=%zu\n", b, col, (long long)version, info.records);
    if (w->print)
        print_records(w->c, b, col);
    fflush(stdout);
}

static int
watch_synced(herald_client_status st, int64_t mts, const char *error, void *arg)
{
    watch_state *w = arg;
    herald_client_freshness f;
    herald_client_freshness_get(w->c, &f);
    printf("sync status=%s monitor=%lld committed=%d%s%s\n", herald_client_strerror(st),
           (long long)mts, f.all_committed, error[0] ? " error=" : "", error);
    fflush(stdout);
    return w->count > 0 && w->changes >= w->count;
}

int
main(int argc, char **argv)
{
    const char *keys[16];
    char *items[MAX_ITEMS];
    size_t nkeys = 0, nitems = 0;
    herald_client_config cfg = {0};
    filter_arg fa = {0};
    int print = 0, rc = 0;
    const char *cmd;
    char err[256];

    if (argc < 2) {
        usage();
        return 2;
    }
    cmd = argv[1];
    /* The one-shot verifier of a URL, herald-signer's own code (signer/cmd_verify.c). */
    if (strcmp(cmd, "verify") == 0)
        return herald_signer_cmd_verify(argc - 1, argv + 1);
    int watch = strcmp(cmd, "watch") == 0;
    watch_state ws = {0};
    herald_client_watch_opts wo = {0};
    int i = 2;
    if (strcmp(cmd, "sync") == 0 || strcmp(cmd, "attachment") == 0 || watch) {
        if (argc < 3) {
            usage();
            return 2;
        }
        cfg.server_url = argv[i++];
    } else if (strcmp(cmd, "show") != 0) {
        usage();
        return 2;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--public-key") == 0 && more && nkeys < 16)
            keys[nkeys++] = argv[++i];
        else if (strcmp(a, "--state") == 0 && more)
            cfg.state_dir = argv[++i];
        else if (strcmp(a, "--dump") == 0 && more)
            cfg.dump_dir = argv[++i];
        else if (strcmp(a, "--retries") == 0 && more)
            cfg.max_retries = atoi(argv[++i]) == 0 ? -1 : atoi(argv[i]);
        else if (strcmp(a, "--timeout-ms") == 0 && more)
            cfg.timeout_ms = cfg.connect_timeout_ms = atol(argv[++i]);
        else if (strcmp(a, "--print") == 0)
            print = 1;
        else if (watch && strcmp(a, "--wait") == 0 && more)
            wo.wait_s = atoi(argv[++i]);
        else if (watch && strcmp(a, "--count") == 0 && more)
            ws.count = atol(argv[++i]);
        else if (watch && strcmp(a, "--timeout") == 0 && more)
            wo.duration_ms = (int64_t)(atof(argv[++i]) * 1000);
        else if (watch && strcmp(a, "--poll-ms") == 0 && more)
            wo.poll_ms = atol(argv[++i]);
        else if (strcmp(a, "--filter") == 0 && more && strchr(argv[i + 1], '=')) {
            fa.field = argv[++i];
            char *eq = strchr(fa.field, '=');
            *eq = '\0';
            fa.value = eq + 1;
            cfg.filter = field_filter;
            cfg.filter_arg = &fa;
        } else if (a[0] != '-' && nitems < MAX_ITEMS)
            items[nitems++] = argv[i];
        else {
            usage();
            return 2;
        }
    }
    cfg.public_keys = keys;
    cfg.npublic_keys = nkeys;
    if (watch) {
        cfg.on_change = watch_changed;
        cfg.on_change_arg = &ws;
        ws.print = print;
        wo.on_sync = watch_synced;
        wo.arg = &ws;
    }
    if (!cfg.state_dir || nitems == 0 || (strcmp(cmd, "attachment") == 0 && nitems != 2)) {
        usage();
        return 2;
    }
    herald_client *c = herald_client_new(&cfg, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "herald: %s\n", err);
        return 2;
    }
    size_t ncolls = strcmp(cmd, "attachment") == 0 ? 1 : nitems;
    for (size_t k = 0; k < ncolls; k++) {
        char *b, *col;
        if (split(items[k], &b, &col) < 0 || herald_client_follow(c, b, col) != HERALD_CLIENT_OK) {
            fprintf(stderr, "herald: bad collection name '%s'\n", items[k]);
            herald_client_free(c);
            return 2;
        }
    }
    if (strcmp(cmd, "attachment") == 0) {
        char path[4096];
        herald_client_status st = herald_client_attachment(
            c, items[0], items[0] + strlen(items[0]) + 1, items[1], path, sizeof(path));
        if (st == HERALD_CLIENT_OK)
            printf("%s\n", path);
        else
            fprintf(stderr, "herald: attachment: %s\n", herald_client_strerror(st));
        herald_client_free(c);
        return st == HERALD_CLIENT_OK ? 0 : 1;
    }
    if (watch) {
        struct sigaction sa = {0};
        ws.c = c;
        watched = c;
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        herald_client_status st = herald_client_watch(c, &wo);
        if (st != HERALD_CLIENT_OK) {
            fprintf(stderr, "herald: watch: %s\n", herald_client_strerror(st));
            rc = 1;
        } else if (ws.count > 0 && ws.changes < ws.count) {
            rc = 1; /* --timeout (or a signal) came first */
        }
        watched = NULL;
        print = 0; /* printed as they came */
    } else if (strcmp(cmd, "sync") == 0) {
        herald_client_status st = herald_client_sync(c);
        if (st == HERALD_CLIENT_EBACKOFF) {
            fprintf(stderr, "herald: backing off for %lld ms\n",
                    (long long)herald_client_backoff_ms(c));
            rc = 3;
        } else if (st != HERALD_CLIENT_OK) {
            rc = 1;
        }
    }
    for (size_t k = 0; k < nitems; k++) {
        const char *b = items[k], *col = items[k] + strlen(items[k]) + 1;
        herald_client_info info;
        (void)herald_client_info_get(c, b, col, &info);
        printf("%s/%s version=%lld records=%zu status=%s%s%s%s\n", b, col, (long long)info.version,
               info.records, herald_client_strerror(info.last_status),
               info.from_dump ? " from_dump=1" : "", info.last_error[0] ? " error=" : "",
               info.last_error);
        if (print || strcmp(cmd, "show") == 0)
            print_records(c, b, col);
        if (strcmp(cmd, "show") == 0 && info.version == 0)
            rc = 1;
    }
    if (strcmp(cmd, "sync") == 0 || watch) {
        /* Freshness: what the client can prove from the last verified signed monitor. */
        herald_client_freshness f;
        herald_client_freshness_get(c, &f);
        printf("monitor timestamp=%lld expires=%lld committed=%d age_ms=%lld\n",
               (long long)f.monitor_timestamp, (long long)f.monitor_expires, f.all_committed,
               (long long)(f.monitor_timestamp ? f.checked_at - f.monitor_timestamp : -1));
        herald_client_stats s;
        herald_client_stats_get(c, &s);
        printf("stats requests=%llu bytes=%llu verify_failures=%llu\n",
               (unsigned long long)s.requests, (unsigned long long)s.bytes_received,
               (unsigned long long)s.verify_failures);
    }
    herald_client_free(c);
    return rc;
}
