/*
 * accept -- see include/herald/accept.h.
 */
#include "herald/accept.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "herald/log.h"

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    herald_acceptor *a = arg;
    if (a->listen_ev)
        event_add(a->listen_ev, NULL);
}

int
herald_accept_init(herald_acceptor *a, struct event_base *base, struct event *listen_ev)
{
    a->listen_ev = listen_ev;
    a->warned = 0;
    a->resume_ev = evtimer_new(base, on_resume, a);
    return a->resume_ev ? 0 : -1;
}

void
herald_accept_free(herald_acceptor *a)
{
    if (!a)
        return;
    if (a->resume_ev)
        event_free(a->resume_ev);
    a->resume_ev = NULL;
    a->listen_ev = NULL;
}

int
herald_accept(herald_acceptor *a, int lfd)
{
    return herald_accept_from(a, lfd, NULL, NULL);
}

int
herald_accept_from(herald_acceptor *a, int lfd, struct sockaddr *sa, socklen_t *salen)
{
    int fd = accept4(lfd, sa, salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
        return fd;
    int err = errno;
    time_t now = time(NULL);
    if (now - a->warned >= HERALD_ACCEPT_WARN_SECONDS) {
        herald_warn("accept: %s: pausing new connections", strerror(err));
        a->warned = now;
    }
    if (a->listen_ev && a->resume_ev) {
        struct timeval tv = {0, HERALD_ACCEPT_PAUSE_MS * 1000};
        event_del(a->listen_ev);
        event_add(a->resume_ev, &tv);
    }
    errno = err;
    return -1;
}
