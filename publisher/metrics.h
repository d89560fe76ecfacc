/*
 * metrics -- the publisher's counters and its /metrics page (Prometheus text format
 * 0.0.4, as the read server's /metrics).
 *
 * Counters are plain integers: the publisher counts on its event loop thread only (the
 * argon2id workers hand their timings back with the finished job). They are given
 * numbers by the pipeline; they read no other module's state. Gauges that belong to
 * other modules (queue depth, throttle table) are passed in when rendering.
 *
 * Exported (counters since start):
 *   herald_publisher_logins_total{result}           Basic-auth attempts: success,
 *                                                   failure, throttled (429)
 *   herald_publisher_password_verifications_total   argon2id verifications run (also
 *                                                   against the dummy hash)
 *   herald_publisher_password_hashes_total          argon2id hashes of new passwords
 *   herald_publisher_argon2_queue_full_total        jobs refused: queue full (503)
 *   herald_publisher_argon2_queue_depth             jobs queued or running (gauge)
 *   herald_publisher_argon2_wait_seconds            time in the queue (histogram)
 *   herald_publisher_argon2_run_seconds             time on a worker (sum, count)
 *   herald_publisher_login_throttle_entries         failure table slots in use (gauge),
 *   herald_publisher_login_throttle_capacity        and its size
 *   herald_publisher_login_throttle_evictions_total entries dropped while counting
 *   herald_publisher_http_responses_total{status}   responses sent, by status
 *   herald_publisher_batches_queued                 batches accepted, sub-requests still to
 *                                                   run (gauge, fairq.h)
 */
#ifndef HERALD_PUB_METRICS_H
#define HERALD_PUB_METRICS_H

#include <stdint.h>

#include "herald/mem.h"

#define PUB_METRICS_WAIT_BUCKETS 12

enum pub_login_result {
    PUB_LOGIN_SUCCESS = 0,
    PUB_LOGIN_FAILURE,
    PUB_LOGIN_THROTTLED,
    PUB_LOGIN_COUNT,
};

/* Statuses counted one by one; the others as "other". */
#define PUB_METRICS_STATUSES 16

typedef struct pub_metrics {
    uint64_t logins[PUB_LOGIN_COUNT];
    uint64_t verifications;
    uint64_t hashes;
    uint64_t queue_full;
    uint64_t wait_buckets[PUB_METRICS_WAIT_BUCKETS]; /* not cumulative; last is +Inf */
    double wait_sum;
    uint64_t wait_count;
    double run_sum;
    uint64_t run_count;
    uint64_t responses[PUB_METRICS_STATUSES + 1];
} pub_metrics;

/* What other modules own, read when rendering. */
typedef struct pub_metrics_gauges {
    long long queue_depth;
    long long throttle_entries;
    long long throttle_capacity;
    long long throttle_evictions;
    long long batches_queued;
} pub_metrics_gauges;

/* Counts one argon2id job: seconds queued and seconds running. */
void pub_metrics_job(pub_metrics *m, int verify, double wait_s, double run_s);
/* Counts one response with HTTP 'status'. */
void pub_metrics_response(pub_metrics *m, int status);
/* Appends the page. */
void pub_metrics_render(herald_buf *out, const pub_metrics *m, const pub_metrics_gauges *g);

#endif
