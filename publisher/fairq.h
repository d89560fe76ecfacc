/*
 * fairq -- long requests (POST /v1/batch) run one step per turn of the event loop.
 *
 * Why: the publisher runs its Redis scripts on the event loop thread over one blocking
 * connection (store.h), and with appendfsync always every write script costs one fsync
 * (1-10 ms, far more when the disk is busy). A batch of 25 writes used to run in one go:
 * an urgent single-record PUT that arrived during a bulk import (several clients posting
 * batches back to back) waited for the batch in flight and for every other batch whose
 * request the loop had read before it, up to 100 fsyncs, 100-450 ms.
 *
 * How: a batch is validated at once, then handed to the queue, which runs one sub-request
 * per turn of the event loop, round robin over the batches it holds (so batches also share
 * the store fairly among themselves). The turns come from one zero timeout timer: libevent
 * makes an expired timer active only after it has polled the sockets, and queues it behind
 * the socket events of that poll, so a request that became readable while a step ran is
 * read and answered before the next step. An urgent write therefore waits for at most the
 * one sub-request in flight (one script and its fsync) and for the requests that arrived
 * before it, not for other clients' whole batches.
 *
 * Why not a lower event priority for the steps: libevent runs a lower priority only in a
 * turn without any active event of a higher one, so a steady stream of single requests
 * (several clients writing back to back) would starve the batches forever. With one step
 * per turn, a batch still advances in every turn, whatever else arrives.
 *
 * What does not change: the sub-requests of a batch still run in order, each exactly as
 * before (one script each; a batch was never atomic: "sub-request errors do not fail the
 * batch", and other publisher processes could always interleave their writes). Only other
 * requests of this process may now run between two sub-requests. A step is only ever run
 * from the loop; nothing is acknowledged before Redis has answered its script.
 */
#ifndef HERALD_PUB_FAIRQ_H
#define HERALD_PUB_FAIRQ_H

#include <event2/event.h>

typedef struct pub_fairq pub_fairq;

/* Runs one step of a task. Returns 1 when the task has more steps, 0 when it is finished
 * (it has freed itself, or handed itself back to its owner). */
typedef int (*pub_fairq_step_fn)(void *arg);

/* Frees a task that will never run again (pub_fairq_free at exit with tasks queued). */
typedef void (*pub_fairq_drop_fn)(void *arg);

/* NULL when the timer cannot be created. */
pub_fairq *pub_fairq_new(struct event_base *base);
/* NULL-safe. Tasks still queued (a forced exit) are not run: their 'drop' frees them. */
void pub_fairq_free(pub_fairq *s);

/* Queues a task at the end of the round robin; its first step runs in a later turn of the
 * loop, never from this call. 'drop' (NULL: none) frees it if it is never finished.
 * Returns 0, or -1 when the timer cannot be armed: the task is not queued and the caller
 * runs it itself. */
int pub_fairq_add(pub_fairq *s, pub_fairq_step_fn step, pub_fairq_drop_fn drop, void *arg)
    __attribute__((warn_unused_result));

/* Tasks queued, for tests and metrics. */
int pub_fairq_pending(const pub_fairq *s);

#endif
