/*
 * backoff -- see include/herald/backoff.h.
 */
#include "herald/backoff.h"

int
herald_backoff_next(herald_backoff *b)
{
    int d = b->next_ms;
    b->next_ms = d > b->max_ms / 2 ? b->max_ms : d * 2;
    return d;
}

int
herald_backoff_peek(const herald_backoff *b)
{
    return b->next_ms;
}

void
herald_backoff_reset(herald_backoff *b)
{
    b->next_ms = b->min_ms;
}
