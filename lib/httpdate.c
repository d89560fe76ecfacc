/*
 * httpdate -- see include/herald/httpdate.h.
 */
#include "herald/httpdate.h"

static void
put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

int
herald_httpdate_format(char out[HERALD_HTTPDATE_LEN + 1], int64_t secs)
{
    static const char days[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (secs < 0)
        secs = 0;
    int64_t z = secs / 86400;
    int sod = (int)(secs % 86400);
    const char *wday = days[z % 7]; /* 1970-01-01 was a Thursday */
    /* days-to-civil: eras of 400 years starting on March 1st. */
    z += 719468;
    int64_t era = z / 146097;
    int doe = (int)(z - era * 146097);
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    int d = doy - (153 * mp + 2) / 5 + 1;
    int m = mp < 10 ? mp + 3 : mp - 9;
    int y = (int)(yoe + era * 400) + (m <= 2);
    char *p = out;
    for (int i = 0; i < 3; i++)
        *p++ = wday[i];
    *p++ = ',';
    *p++ = ' ';
    put2(p, d);
    p += 2;
    *p++ = ' ';
    for (int i = 0; i < 3; i++)
        *p++ = months[m - 1][i];
    *p++ = ' ';
    put2(p, y / 100 % 100);
    put2(p + 2, y % 100);
    p += 4;
    *p++ = ' ';
    put2(p, sod / 3600);
    p[2] = ':';
    put2(p + 3, sod / 60 % 60);
    p[5] = ':';
    put2(p + 6, sod % 60);
    p += 8;
    for (const char *g = " GMT"; *g; g++)
        *p++ = *g;
    *p = '\0';
    return (int)(p - out);
}
