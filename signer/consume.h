/*
 * consume -- runs the signer: the stream consumer, the sweep and the reclaim of dead
 * consumers' entries, reconnecting to Redis with backoff (see consume.c).
 */
#ifndef HERALD_SIGNER_CONSUME_H
#define HERALD_SIGNER_CONSUME_H

#include <signal.h>

#include "herald/redis.h"
#include "signer.h"

/* Runs until '*stopping' becomes non-zero (set by a signal handler), as consumer
 * 'consumer' of the group, with Redis at 'url'. 's' holds the keys and the settings; its
 * connection is the consumer's. Returns 0. */
int signer_consume_run(signer_ctx *s, const herald_redis_url *url, const char *consumer,
                       volatile sig_atomic_t *stopping);

#endif
