/*
 * backoff -- the delay before reconnecting to Redis after a failure: it starts small, so
 * a blip costs little, and doubles up to a ceiling, so a long outage is not hammered.
 * Every program reconnects under this one policy. After a success, reset.
 */
#ifndef HERALD_BACKOFF_H
#define HERALD_BACKOFF_H

#define HERALD_BACKOFF_MIN_MS 100
#define HERALD_BACKOFF_MAX_MS 5000

typedef struct herald_backoff {
    int min_ms, max_ms, next_ms;
} herald_backoff;

/* A policy from 'min_ms' doubling to 'max_ms'. */
#define HERALD_BACKOFF_INIT                                                                        \
    {                                                                                              \
        HERALD_BACKOFF_MIN_MS, HERALD_BACKOFF_MAX_MS, HERALD_BACKOFF_MIN_MS                        \
    }

/* The delay to wait now; the one after it is twice as long, up to the ceiling. */
int herald_backoff_next(herald_backoff *b);
/* The delay herald_backoff_next would return, without advancing. */
int herald_backoff_peek(const herald_backoff *b);
/* Back to the smallest delay (after a successful connection). */
void herald_backoff_reset(herald_backoff *b);

#endif
