/*
 * accept -- accepting connections on a libevent listener, with the pause when the
 * process is out of file descriptors.
 *
 * When accept fails with EMFILE or ENFILE the connection stays in the listen queue, so
 * the listener stays readable: accepting again at once would spin at 100% CPU (and log
 * a line per attempt) until some connection closes. Instead the listener's event is
 * taken off the loop for HERALD_ACCEPT_PAUSE_MS and a warning is logged at most every
 * HERALD_ACCEPT_WARN_SECONDS. Both read servers used to carry this code; one copy here
 * means the next fix is made once.
 */
#ifndef HERALD_ACCEPT_H
#define HERALD_ACCEPT_H

#include <event2/event.h>
#include <sys/socket.h>
#include <time.h>

#define HERALD_ACCEPT_PAUSE_MS 100
#define HERALD_ACCEPT_WARN_SECONDS 10

typedef struct herald_acceptor {
    struct event *listen_ev; /* the caller's (EV_READ | EV_PERSIST) listener event */
    struct event *resume_ev; /* ours: puts listen_ev back after a pause */
    time_t warned;           /* time of the last warning */
} herald_acceptor;

/* Prepares 'a' for the listener event 'listen_ev' of 'base' (not added here). Returns 0,
 * or -1 when libevent cannot allocate the timer. */
int herald_accept_init(herald_acceptor *a, struct event_base *base, struct event *listen_ev)
    __attribute__((warn_unused_result));
/* Before the listener event is freed: no pause will put it back any more. NULL-safe. */
void herald_accept_free(herald_acceptor *a);
/* accept4 on 'lfd' (non-blocking, close-on-exec). Returns the new descriptor, or -1 when
 * there is nothing to accept now (errno set); on EMFILE/ENFILE the listener is also
 * paused as described above. */
int herald_accept(herald_acceptor *a, int lfd);
/* herald_accept, also writing the peer's address into 'sa' (of '*salen' bytes; '*salen'
 * becomes its length), as accept4 does. */
int herald_accept_from(herald_acceptor *a, int lfd, struct sockaddr *sa, socklen_t *salen);

#endif
