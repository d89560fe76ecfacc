/*
 * metrics -- see metrics.h. Rendering formats freely: it runs once per scrape.
 */
#include "metrics.h"

#include <string.h>

static const double WAIT_BOUNDS[PUB_METRICS_WAIT_BUCKETS - 1] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const int STATUSES[PUB_METRICS_STATUSES] = {200, 201, 202, 204, 304, 307, 400, 401,
                                                   403, 404, 405, 409, 412, 413, 429, 503};
static const char *const LOGIN_NAMES[PUB_LOGIN_COUNT] = {"success", "failure", "throttled"};

void
pub_metrics_job(pub_metrics *m, int verify, double wait_s, double run_s)
{
    int b = 0;
    if (verify)
        m->verifications++;
    else
        m->hashes++;
    while (b < PUB_METRICS_WAIT_BUCKETS - 1 && wait_s > WAIT_BOUNDS[b])
        b++;
    m->wait_buckets[b]++;
    m->wait_sum += wait_s;
    m->wait_count++;
    m->run_sum += run_s;
    m->run_count++;
}

void
pub_metrics_response(pub_metrics *m, int status)
{
    int i = 0;
    while (i < PUB_METRICS_STATUSES && STATUSES[i] != status)
        i++;
    m->responses[i]++;
}

static void
help(herald_buf *out, const char *name, const char *type, const char *text)
{
    herald_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

void
pub_metrics_render(herald_buf *out, const pub_metrics *m, const pub_metrics_gauges *g)
{
    help(out, "herald_publisher_logins_total", "counter",
         "Attempts with Basic credentials, by result (throttled: answered 429 unverified).");
    for (int r = 0; r < PUB_LOGIN_COUNT; r++)
        herald_buf_printf(out, "herald_publisher_logins_total{result=\"%s\"} %llu\n",
                          LOGIN_NAMES[r], (unsigned long long)m->logins[r]);
    help(out, "herald_publisher_password_verifications_total", "counter",
         "argon2id verifications run (unknown accounts against the dummy hash).");
    herald_buf_printf(out, "herald_publisher_password_verifications_total %llu\n",
                      (unsigned long long)m->verifications);
    help(out, "herald_publisher_password_hashes_total", "counter",
         "argon2id hashes of passwords to store.");
    herald_buf_printf(out, "herald_publisher_password_hashes_total %llu\n",
                      (unsigned long long)m->hashes);
    help(out, "herald_publisher_argon2_queue_full_total", "counter",
         "argon2id jobs refused because the queue was full (503).");
    herald_buf_printf(out, "herald_publisher_argon2_queue_full_total %llu\n",
                      (unsigned long long)m->queue_full);
    help(out, "herald_publisher_argon2_queue_depth", "gauge", "argon2id jobs queued or running.");
    herald_buf_printf(out, "herald_publisher_argon2_queue_depth %lld\n", g->queue_depth);

    help(out, "herald_publisher_argon2_wait_seconds", "histogram",
         "Time an argon2id job waited for a worker.");
    uint64_t cum = 0;
    for (int b = 0; b < PUB_METRICS_WAIT_BUCKETS; b++) {
        cum += m->wait_buckets[b];
        if (b < PUB_METRICS_WAIT_BUCKETS - 1)
            herald_buf_printf(out, "herald_publisher_argon2_wait_seconds_bucket{le=\"%g\"} %llu\n",
                              WAIT_BOUNDS[b], (unsigned long long)cum);
        else
            herald_buf_printf(out,
                              "herald_publisher_argon2_wait_seconds_bucket{le=\"+Inf\"} %llu\n",
                              (unsigned long long)cum);
    }
    herald_buf_printf(out, "herald_publisher_argon2_wait_seconds_sum %.6f\n", m->wait_sum);
    herald_buf_printf(out, "herald_publisher_argon2_wait_seconds_count %llu\n",
                      (unsigned long long)m->wait_count);
    help(out, "herald_publisher_argon2_run_seconds", "summary",
         "Time an argon2id job ran on a worker.");
    herald_buf_printf(out, "herald_publisher_argon2_run_seconds_sum %.6f\n", m->run_sum);
    herald_buf_printf(out, "herald_publisher_argon2_run_seconds_count %llu\n",
                      (unsigned long long)m->run_count);

    help(out, "herald_publisher_login_throttle_entries", "gauge",
         "Slots of the failed-login table in use.");
    herald_buf_printf(out, "herald_publisher_login_throttle_entries %lld\n", g->throttle_entries);
    help(out, "herald_publisher_login_throttle_capacity", "gauge",
         "Slots of the failed-login table.");
    herald_buf_printf(out, "herald_publisher_login_throttle_capacity %lld\n", g->throttle_capacity);
    help(out, "herald_publisher_login_throttle_evictions_total", "counter",
         "Entries of the failed-login table dropped for new ones while still counting.");
    herald_buf_printf(out, "herald_publisher_login_throttle_evictions_total %lld\n",
                      g->throttle_evictions);
    help(out, "herald_publisher_batches_queued", "gauge",
         "Batches accepted whose sub-requests are still running, one per loop turn.");
    herald_buf_printf(out, "herald_publisher_batches_queued %lld\n", g->batches_queued);

    help(out, "herald_publisher_http_responses_total", "counter", "Responses sent, by status.");
    for (int i = 0; i <= PUB_METRICS_STATUSES; i++) {
        if (!m->responses[i])
            continue;
        if (i < PUB_METRICS_STATUSES)
            herald_buf_printf(out, "herald_publisher_http_responses_total{status=\"%d\"} %llu\n",
                              STATUSES[i], (unsigned long long)m->responses[i]);
        else
            herald_buf_printf(out, "herald_publisher_http_responses_total{status=\"other\"} %llu\n",
                              (unsigned long long)m->responses[i]);
    }
}
