/*
 * test_accept -- herald_accept (lib/accept.c): connections are accepted; out of file
 * descriptors, the listener is taken off the loop (no spinning) and put back after
 * HERALD_ACCEPT_PAUSE_MS, with one warning.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "herald/accept.h"

static void
noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static int
listener(struct sockaddr_in *sa)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(lfd, 0);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(*sa);
    cr_assert_eq(bind(lfd, (struct sockaddr *)sa, len), 0);
    cr_assert_eq(listen(lfd, 64), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)sa, &len), 0);
    return lfd;
}

static int
dial(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (const struct sockaddr *)sa, sizeof(*sa)), 0);
    return fd;
}

Test(accept, accepts_and_reports_an_empty_queue)
{
    struct event_base *base = event_base_new();
    struct sockaddr_in sa;
    int lfd = listener(&sa);
    evutil_make_socket_nonblocking(lfd);
    struct event *lev = event_new(base, lfd, EV_READ | EV_PERSIST, noop, NULL);
    herald_acceptor a;
    cr_assert_eq(herald_accept_init(&a, base, lev), 0);
    event_add(lev, NULL);
    int c = dial(&sa);
    int fd = herald_accept(&a, lfd);
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    cr_assert_eq(herald_accept(&a, lfd), -1);
    cr_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    cr_assert(event_pending(lev, EV_READ, NULL), "no pause for an empty queue");
    close(fd);
    close(c);
    herald_accept_free(&a);
    herald_accept_free(NULL);
    event_free(lev);
    close(lfd);
    event_base_free(base);
}

Test(accept, out_of_descriptors_pauses_then_resumes, .init = cr_redirect_stderr)
{
    struct event_base *base = event_base_new();
    struct sockaddr_in sa;
    int lfd = listener(&sa);
    evutil_make_socket_nonblocking(lfd);
    struct event *lev = event_new(base, lfd, EV_READ | EV_PERSIST, noop, NULL);
    herald_acceptor a;
    cr_assert_eq(herald_accept_init(&a, base, lev), 0);
    event_add(lev, NULL);
    int c1 = dial(&sa), c2 = dial(&sa);
    /* No descriptor left: the lowest free one is above the limit. */
    int spare = dup(0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit low = {(rlim_t)spare, rl.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    cr_assert_eq(herald_accept(&a, lfd), -1);
    cr_assert_eq(errno, EMFILE);
    cr_assert_not(event_pending(lev, EV_READ, NULL), "the listener is paused");
    cr_assert_eq(herald_accept(&a, lfd), -1); /* again: no second warning */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    struct timeval tv = {0, (HERALD_ACCEPT_PAUSE_MS + 100) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    cr_assert(event_pending(lev, EV_READ, NULL), "back after the pause");
    int fd = herald_accept(&a, lfd);
    cr_assert_geq(fd, 0, "the waiting connection is accepted then");
    fflush(stderr);
    FILE *log = cr_get_redirected_stderr();
    char line[512];
    int warnings = 0;
    while (fgets(line, sizeof(line), log))
        warnings += strstr(line, "accept: Too many open files: pausing new connections") != NULL;
    cr_assert_eq(warnings, 1, "one warning for two failures");
    close(fd);
    close(c1);
    close(c2);
    close(spare);
    herald_accept_free(&a);
    event_free(lev);
    close(lfd);
    event_base_free(base);
}
