/*
 * log -- see include/herald/log.h. One fprintf per line so lines from threads do not
 * interleave (stdio locks the stream for the duration of one call).
 */
#include "herald/log.h"

#include "herald/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int herald_log_level_current = HERALD_LOG_INFO;
static const char *log_program = "herald";

void
herald_log_init(const char *program, enum herald_log_level level)
{
    log_program = program;
    herald_log_level_current = (int)level;
}

int
herald_log_parse_level(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void
herald_log_write(enum herald_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char msg[2048], when[32];
    int64_t now = herald_clock_wall_ms();
    time_t sec = (time_t)(now / 1000);
    struct tm tm;
    va_list ap;

    gmtime_r(&sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One event, one line: newlines inside a message would forge extra events. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s.%03dZ %s %s %s\n", when, (int)(now % 1000), log_program, names[level & 3],
            msg);
}
