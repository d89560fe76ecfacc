/*
 * Unit tests for publisher/fairq.c on a real libevent loop with a real socket pair: a
 * step never runs from pub_fairq_add, tasks take turns round robin, a socket that becomes
 * readable while a step runs is served before the next step (the urgent request that
 * arrives during a batch), and a socket readable in every turn does not starve the steps.
 * Everything is checked by the order of a log of callbacks, never by time.
 */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fairq.h"

#define LOG_MAX 64

static struct event_base *base;
static pub_fairq *q;
static int sp[2] = {-1, -1}; /* sp[0] written by the test, sp[1] watched by the loop */
static struct event *rev;
static char log_[LOG_MAX][8];
static int nlog;
static int running; /* tasks not finished */
static int refill;  /* the socket callback makes the socket readable again */

static void
note(const char *what)
{
    cr_assert_lt(nlog, LOG_MAX, "the log is full: a loop that does not end?");
    snprintf(log_[nlog++], sizeof(log_[0]), "%s", what);
}

static char *
joined(void)
{
    static char out[LOG_MAX * 8];
    out[0] = '\0';
    for (int i = 0; i < nlog; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, log_[i]);
    }
    return out;
}

static void
poke(void)
{
    cr_assert_eq(write(sp[0], "x", 1), 1);
}

static void
on_readable(evutil_socket_t fd, short events, void *arg)
{
    char c;
    (void)events;
    (void)arg;
    cr_assert_eq(read(fd, &c, 1), 1);
    note("io");
    if (refill)
        poke();
}

/* A task: 'name' with 'steps' steps; at step 'poke_at' (-1: never) it makes the socket
 * readable, as a client sending a request while the step's script runs. */
typedef struct task {
    char name[4];
    int steps, done, poke_at;
} task;

static int
step(void *arg)
{
    task *t = arg;
    char what[8];
    snprintf(what, sizeof(what), "%s%d", t->name, t->done);
    note(what);
    if (t->done == t->poke_at)
        poke();
    if (++t->done < t->steps)
        return 1;
    if (--running == 0)
        event_base_loopexit(base, NULL);
    return 0;
}

static void
add(task *t)
{
    running++;
    cr_assert_eq(pub_fairq_add(q, step, NULL, t), 0);
}

static void
setup(void)
{
    base = event_base_new();
    cr_assert_not_null(base);
    q = pub_fairq_new(base);
    cr_assert_not_null(q);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    rev = event_new(base, sp[1], EV_READ | EV_PERSIST, on_readable, NULL);
    cr_assert_eq(event_add(rev, NULL), 0);
    nlog = running = refill = 0;
}

static void
teardown(void)
{
    event_free(rev);
    pub_fairq_free(q);
    event_base_free(base);
    close(sp[0]);
    close(sp[1]);
}

TestSuite(fairq, .init = setup, .fini = teardown);

Test(fairq, add_never_runs_a_step)
{
    task a = {"A", 2, 0, -1};
    add(&a);
    cr_assert_eq(nlog, 0);
    cr_assert_eq(pub_fairq_pending(q), 1);
    cr_assert_eq(event_base_dispatch(base), 0);
    cr_assert_str_eq(joined(), "A0 A1");
    cr_assert_eq(pub_fairq_pending(q), 0);
}

Test(fairq, round_robin)
{
    task a = {"A", 3, 0, -1}, b = {"B", 2, 0, -1}, c = {"C", 1, 0, -1};
    add(&a);
    add(&b);
    add(&c);
    cr_assert_eq(pub_fairq_pending(q), 3);
    cr_assert_eq(event_base_dispatch(base), 0);
    cr_assert_str_eq(joined(), "A0 B0 C0 A1 B1 A2");
}

/* The request that arrives while a batch's sub-request runs is answered before the next
 * sub-request of any batch. */
Test(fairq, readable_during_a_step_goes_before_the_next_step)
{
    task a = {"A", 4, 0, 1}, b = {"B", 3, 0, -1};
    add(&a);
    add(&b);
    cr_assert_eq(event_base_dispatch(base), 0);
    cr_assert_str_eq(joined(), "A0 B0 A1 io B1 A2 B2 A3");
}

/* A socket readable in every turn (clients writing back to back) still leaves one step per
 * turn to the batches. */
Test(fairq, a_busy_socket_does_not_starve_the_steps)
{
    task a = {"A", 3, 0, -1}, b = {"B", 2, 0, -1};
    refill = 1;
    poke();
    add(&a);
    add(&b);
    cr_assert_eq(event_base_dispatch(base), 0);
    cr_assert_str_eq(joined(), "io A0 io B0 io A1 io B1 io A2");
}

static int dropped;

static void
drop(void *arg)
{
    task *t = arg;
    dropped += t->steps - t->done;
}

/* A forced exit with batches queued frees them through their drop function, unrun. */
Test(fairq, free_drops_the_queued_tasks)
{
    task a = {"A", 3, 0, -1}, b = {"B", 2, 0, -1};
    dropped = 0;
    cr_assert_eq(pub_fairq_add(q, step, drop, &a), 0);
    cr_assert_eq(pub_fairq_add(q, step, drop, &b), 0);
    pub_fairq_free(q);
    q = NULL;
    cr_assert_eq(nlog, 0);
    cr_assert_eq(dropped, 5);
}
