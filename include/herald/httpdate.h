/*
 * httpdate -- IMF-fixdate (RFC 9110 5.6.7), "Sun, 06 Nov 1994 08:49:37 GMT", for Date and
 * Last-Modified. The day and month names are English whatever the locale (strftime's %a
 * and %b are not), and the date is computed without gmtime_r, from the day count
 * (Howard Hinnant's days-to-civil), so the read path formats one without a lock or a
 * time zone lookup.
 */
#ifndef HERALD_HTTPDATE_H
#define HERALD_HTTPDATE_H

#include <stdint.h>

#define HERALD_HTTPDATE_LEN 29 /* without the terminating NUL */

/* Writes the date of 'secs' (seconds since the epoch, >= 0 and before year 10000) and a
 * NUL into 'out'; returns HERALD_HTTPDATE_LEN. */
int herald_httpdate_format(char out[HERALD_HTTPDATE_LEN + 1], int64_t secs);

#endif
