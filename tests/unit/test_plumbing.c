/*
 * test_plumbing -- the small shared pieces in lib/: clocks, reconnect backoff, HTTP dates
 * (differentially against gmtime_r + English names, whatever the locale).
 */
#include <criterion/criterion.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "herald/backoff.h"
#include "herald/clock.h"
#include "herald/http_parse.h"
#include "herald/httpdate.h"
#include "herald/kerror.h"

Test(clock, monotonic_and_wall)
{
    int64_t m0 = herald_clock_mono_ms(), n0 = herald_clock_mono_ns();
    int64_t w = herald_clock_wall_ms();
    usleep(20 * 1000);
    int64_t m1 = herald_clock_mono_ms(), n1 = herald_clock_mono_ns();
    cr_assert_geq(m1 - m0, 19);
    cr_assert_geq(n1 - n0, 19000000);
    cr_assert_lt(m1 - m0, 5000);
    cr_assert_lt(llabs(w / 1000 - (int64_t)time(NULL)), 2);
}

Test(backoff, doubles_to_the_ceiling_and_resets)
{
    herald_backoff b = HERALD_BACKOFF_INIT;
    static const int want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_eq(herald_backoff_peek(&b), want[i]);
        cr_assert_eq(herald_backoff_next(&b), want[i], "step %zu", i);
    }
    herald_backoff_reset(&b);
    cr_assert_eq(herald_backoff_next(&b), 100);
    herald_backoff odd = {30, 100, 30};
    cr_assert_eq(herald_backoff_next(&odd), 30);
    cr_assert_eq(herald_backoff_next(&odd), 60);
    cr_assert_eq(herald_backoff_next(&odd), 100);
}

static void
reference(char *out, size_t len, int64_t secs)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Test(httpdate, known_answers)
{
    char d[HERALD_HTTPDATE_LEN + 1];
    cr_assert_eq(herald_httpdate_format(d, 784111777), HERALD_HTTPDATE_LEN);
    cr_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    herald_httpdate_format(d, 0);
    cr_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    herald_httpdate_format(d, 951782400); /* a leap day of a year divisible by 400 */
    cr_assert_str_eq(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    herald_httpdate_format(d, 253402300799LL);
    cr_assert_str_eq(d, "Fri, 31 Dec 9999 23:59:59 GMT");
}

Test(httpdate, same_as_gmtime_and_locale_independent)
{
    /* A locale with other day names, when the system has one; the result must not move. */
    setlocale(LC_TIME, "fr_FR.UTF-8");
    char d[HERALD_HTTPDATE_LEN + 1], r[64];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t secs = i < 1000 ? (int64_t)i * 86399 : (int64_t)(x % 253402300800ULL);
        herald_httpdate_format(d, secs);
        reference(r, sizeof(r), secs);
        cr_assert_str_eq(d, r, "at %lld", (long long)secs);
    }
}

Test(kerror, reasons_and_protocol_errnos)
{
    cr_assert_str_eq(herald_kerror_reason(307), "Temporary Redirect");
    cr_assert_str_eq(herald_kerror_reason(505), "HTTP Version Not Supported");
    cr_assert_str_eq(herald_kerror_reason(413), "Request Entity Too Large");
    cr_assert_str_eq(herald_kerror_reason(299), "Unknown");
    cr_assert_eq(herald_kerror_protocol_errno(413), 113);
    static const int invalid[] = {400, 408, 414, 431};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        cr_assert_eq(herald_kerror_protocol_errno(invalid[i]), 107);
    cr_assert_eq(herald_kerror_protocol_errno(501), 999);
    cr_assert_eq(herald_kerror_protocol_errno(505), 999);
}

static int
decode(enum http_query_mode mode, const char *in, char *out, size_t outmax, size_t *outlen)
{
    return http_query_decode_mode((http_slice){in, strlen(in)}, mode, out, outmax, outlen);
}

Test(query_decode, one_decoder_two_modes)
{
    char out[32];
    size_t n;
    for (int m = HTTP_QUERY_STRICT; m <= HTTP_QUERY_LENIENT; m++) {
        cr_assert_eq(decode(m, "a+b%41%c3%A9", out, sizeof(out), &n), 0);
        cr_assert_eq(n, 6);
        cr_assert_str_eq(out, "a bA\xc3\xa9");
        cr_assert_eq(decode(m, "", out, sizeof(out), &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_eq(decode(m, "0123456789", out, 10, &n), -1, "too long for 'out'");
    }
    /* /changeset: malformed escapes and NUL are errors. */
    static const char *const bad[] = {"%zz", "%4", "%", "a%00b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(decode(HTTP_QUERY_STRICT, bad[i], out, sizeof(out), &n), -1, "%s", bad[i]);
    /* /records (parse_qsl): they stay literal, and %00 is a NUL byte. */
    cr_assert_eq(decode(HTTP_QUERY_LENIENT, "%zz%4%", out, sizeof(out), &n), 0);
    cr_assert_str_eq(out, "%zz%4%");
    cr_assert_eq(decode(HTTP_QUERY_LENIENT, "a%00b", out, sizeof(out), &n), 0);
    cr_assert_eq(n, 3);
    cr_assert(memcmp(out, "a\0b", 3) == 0);
    /* The STRICT wrapper is the same decoder. */
    cr_assert_eq(http_query_decode((http_slice){"%zz", 3}, out, sizeof(out), &n), -1);
}
