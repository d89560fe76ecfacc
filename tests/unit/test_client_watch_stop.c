/*
 * test_client_watch_stop -- herald_client_watch_stop() ends only a watch that is running.
 * It used to set a flag that stayed set when no watch ran, so the next watch ended at
 * once without a single request. The watch here points at a closed loopback port: each
 * attempt fails at once and reaches on_sync, which ends the watch after the first call,
 * so the count of on_sync calls says whether the watch ran at all (no clock involved).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "herald/client.h"

/* A loopback port nothing listens on: bound, then closed. */
static int
closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct calls {
    int n;
    herald_client_status last;
} calls;

static int
on_sync(herald_client_status st, int64_t mts, const char *error, void *arg)
{
    (void)mts;
    (void)error;
    calls *k = arg;
    k->n++;
    k->last = st;
    return 1; /* one attempt is enough */
}

static herald_client *
make_client(char *dir, size_t dirlen)
{
    /* RFC 8032's first test key: a valid point; nothing is ever verified here. */
    static const char *keys[] = {"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"};
    char url[64], err[256];
    snprintf(dir, dirlen, "/tmp/herald-watch-stop-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", closed_port());
    herald_client_config cfg = {.server_url = url,
                                .public_keys = keys,
                                .npublic_keys = 1,
                                .state_dir = dir,
                                .max_retries = -1,
                                .retry_base_ms = 10,
                                .connect_timeout_ms = 2000,
                                .timeout_ms = 2000};
    herald_client *c = herald_client_new(&cfg, err, sizeof(err));
    cr_assert(c, "herald_client_new: %s", err);
    return c;
}

static void
cleanup(herald_client *c, const char *dir)
{
    char cmd[512];
    herald_client_free(c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert(system(cmd) == 0);
}

Test(client_watch_stop, a_stop_with_no_watch_running_does_not_end_the_next_watch)
{
    char dir[64];
    herald_client *c = make_client(dir, sizeof(dir));
    calls k = {0, HERALD_CLIENT_OK};
    herald_client_watch_opts o = {.duration_ms = 30000, .on_sync = on_sync, .arg = &k};

    herald_client_watch_stop(c); /* nothing is running */
    cr_assert_eq(herald_client_watch(c, &o), HERALD_CLIENT_OK);
    cr_expect_eq(k.n, 1, "the watch made %d attempts; it should have made one", k.n);
    cr_expect_eq(k.last, HERALD_CLIENT_ENETWORK, "status %s", herald_client_strerror(k.last));

    /* And the same client watches again normally after a watch ended. */
    k.n = 0;
    cr_assert_eq(herald_client_watch(c, &o), HERALD_CLIENT_OK);
    cr_expect_eq(k.n, 1);
    cleanup(c, dir);
}
