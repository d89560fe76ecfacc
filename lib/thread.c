/*
 * thread -- see include/herald/thread.h. On a small host (2 cores running the signer,
 * the publisher, Redis and a read server) a compression pass at the same priority as
 * the loader or the signer delayed the next version by tens of ms; below them, they
 * preempt it at once and it still gets an idle CPU. POSIX setpriority applies to a
 * process; Linux applies it to one thread when given its tid.
 */
#include "herald/thread.h"

#include <errno.h>
#include <string.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "herald/log.h"

void
herald_thread_background(int nice, const char *who)
{
#ifdef __linux__
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice) < 0)
        herald_debug("%s: setpriority: %s", who, strerror(errno));
#else
    (void)nice;
    (void)who;
#endif
}
