/*
 * fairq -- see fairq.h.
 *
 * One timer for all tasks: a turn runs the head task's next step, then moves it to the
 * tail (round robin) or drops it when it is finished, and re-arms the timer while tasks
 * remain. A zero timeout timer rather than event_active(): an active event re-activated
 * from its own callback would run again in the same pass over the active queue, without
 * the loop polling the sockets in between; a timer only becomes active in the next turn,
 * after the poll.
 */
#include "fairq.h"

#include <stdlib.h>

#include "herald/log.h"
#include "herald/mem.h"

typedef struct task {
    pub_fairq_step_fn step;
    pub_fairq_drop_fn drop;
    void *arg;
    struct task *next;
} task;

struct pub_fairq {
    struct event *turn;
    task *head, *tail;
    int n;
};

static int
arm(pub_fairq *s)
{
    static const struct timeval zero = {0, 0};
    return event_add(s->turn, &zero);
}

static void
on_turn(evutil_socket_t fd, short events, void *arg)
{
    pub_fairq *s = arg;
    (void)fd;
    (void)events;
    task *t = s->head;
    if (!t)
        return;
    s->head = t->next;
    if (!s->head)
        s->tail = NULL;
    t->next = NULL;
    if (t->step(t->arg)) {
        if (s->tail)
            s->tail->next = t;
        else
            s->head = t;
        s->tail = t;
    } else {
        free(t);
        s->n--;
    }
    /* Cannot fail for a timer already assigned to this loop; if it ever did, the tasks
     * would only run at the next pub_fairq_add. */
    if (s->head && arm(s) != 0)
        herald_error("fairq: cannot re-arm the step timer (%d task(s) wait)", s->n);
}

pub_fairq *
pub_fairq_new(struct event_base *base)
{
    pub_fairq *s = herald_mem_calloc(1, sizeof(*s));
    s->turn = evtimer_new(base, on_turn, s);
    if (!s->turn) {
        free(s);
        return NULL;
    }
    return s;
}

void
pub_fairq_free(pub_fairq *s)
{
    if (!s)
        return;
    event_free(s->turn);
    while (s->head) {
        task *t = s->head;
        s->head = t->next;
        if (t->drop)
            t->drop(t->arg);
        free(t);
    }
    free(s);
}

int
pub_fairq_add(pub_fairq *s, pub_fairq_step_fn step, pub_fairq_drop_fn drop, void *arg)
{
    if (!s->head && arm(s) != 0)
        return -1;
    task *t = herald_mem_calloc(1, sizeof(*t));
    t->step = step;
    t->drop = drop;
    t->arg = arg;
    if (s->tail)
        s->tail->next = t;
    else
        s->head = t;
    s->tail = t;
    s->n++;
    return 0;
}

int
pub_fairq_pending(const pub_fairq *s)
{
    return s ? s->n : 0;
}
