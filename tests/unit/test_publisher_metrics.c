/*
 * Unit tests for publisher/metrics.c: the /metrics page holds every documented series in
 * Prometheus text form, the wait histogram is cumulative, statuses are counted by code.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "metrics.h"

static int
has_line(const herald_buf *b, const char *line)
{
    const char *p = herald_buf_cstr((herald_buf *)b);
    size_t n = strlen(line);
    while ((p = strstr(p, line)) != NULL) {
        if ((p == b->data || p[-1] == '\n') && p[n] == '\n')
            return 1;
        p += n;
    }
    return 0;
}

Test(metrics, render)
{
    pub_metrics m;
    pub_metrics_gauges g = {3, 10, 64, 2, 5};
    herald_buf out = HERALD_BUF_INIT;
    memset(&m, 0, sizeof(m));
    m.logins[PUB_LOGIN_SUCCESS] = 4;
    m.logins[PUB_LOGIN_FAILURE] = 7;
    m.logins[PUB_LOGIN_THROTTLED] = 9;
    pub_metrics_job(&m, 1, 0.002, 0.1); /* bucket 0.005 */
    pub_metrics_job(&m, 1, 0.3, 0.1);   /* bucket 0.5 */
    pub_metrics_job(&m, 0, 100.0, 0.2); /* +Inf */
    pub_metrics_response(&m, 429);
    pub_metrics_response(&m, 429);
    pub_metrics_response(&m, 418);
    m.queue_full = 1;
    pub_metrics_render(&out, &m, &g);
    cr_expect(has_line(&out, "herald_publisher_logins_total{result=\"success\"} 4"));
    cr_expect(has_line(&out, "herald_publisher_logins_total{result=\"failure\"} 7"));
    cr_expect(has_line(&out, "herald_publisher_logins_total{result=\"throttled\"} 9"));
    cr_expect(has_line(&out, "herald_publisher_password_verifications_total 2"));
    cr_expect(has_line(&out, "herald_publisher_password_hashes_total 1"));
    cr_expect(has_line(&out, "herald_publisher_argon2_queue_full_total 1"));
    cr_expect(has_line(&out, "herald_publisher_argon2_queue_depth 3"));
    cr_expect(has_line(&out, "herald_publisher_batches_queued 5"));
    cr_expect(has_line(&out, "herald_publisher_argon2_wait_seconds_bucket{le=\"0.005\"} 1"));
    cr_expect(has_line(&out, "herald_publisher_argon2_wait_seconds_bucket{le=\"0.25\"} 1"));
    cr_expect(has_line(&out, "herald_publisher_argon2_wait_seconds_bucket{le=\"0.5\"} 2"));
    cr_expect(has_line(&out, "herald_publisher_argon2_wait_seconds_bucket{le=\"10\"} 2"));
    cr_expect(has_line(&out, "herald_publisher_argon2_wait_seconds_bucket{le=\"+Inf\"} 3"));
    cr_expect(has_line(&out, "herald_publisher_argon2_wait_seconds_count 3"));
    cr_expect(has_line(&out, "herald_publisher_argon2_wait_seconds_sum 100.302000"));
    cr_expect(has_line(&out, "herald_publisher_argon2_run_seconds_count 3"));
    cr_expect(has_line(&out, "herald_publisher_login_throttle_entries 10"));
    cr_expect(has_line(&out, "herald_publisher_login_throttle_capacity 64"));
    cr_expect(has_line(&out, "herald_publisher_login_throttle_evictions_total 2"));
    cr_expect(has_line(&out, "herald_publisher_http_responses_total{status=\"429\"} 2"));
    cr_expect(has_line(&out, "herald_publisher_http_responses_total{status=\"other\"} 1"));
    cr_expect(has_line(&out, "# TYPE herald_publisher_argon2_wait_seconds histogram"));
    cr_expect(!strstr(herald_buf_cstr(&out), "status=\"200\""), "zero series are left out");
    herald_buf_free(&out);
}
