/*
 * log -- one line per event on stderr: "2026-11-23T10:00:00.123Z herald-server INFO msg".
 *
 * The level is checked before the arguments are formatted (the macro), so a disabled
 * debug line costs one comparison. Secrets are never passed to these functions.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

enum herald_log_level {
    HERALD_LOG_DEBUG = 0,
    HERALD_LOG_INFO = 1,
    HERALD_LOG_WARN = 2,
    HERALD_LOG_ERROR = 3,
};

extern int herald_log_level_current;

/* 'program' is kept by reference: pass a string literal. */
void herald_log_init(const char *program, enum herald_log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int herald_log_parse_level(const char *s);
void herald_log_write(enum herald_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define herald_log(level, ...)                                                                     \
    do {                                                                                           \
        if ((level) >= herald_log_level_current)                                                   \
            herald_log_write((level), __VA_ARGS__);                                                \
    } while (0)
#define herald_debug(...) herald_log(HERALD_LOG_DEBUG, __VA_ARGS__)
#define herald_info(...) herald_log(HERALD_LOG_INFO, __VA_ARGS__)
#define herald_warn(...) herald_log(HERALD_LOG_WARN, __VA_ARGS__)
#define herald_error(...) herald_log(HERALD_LOG_ERROR, __VA_ARGS__)

#endif
