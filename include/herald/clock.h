/*
 * clock -- the two clocks every program reads, in one place.
 *
 * Monotonic time measures durations and deadlines (it never jumps when the wall clock is
 * set); wall time is what goes into timestamps others read (snapshot expiry, logs).
 * Both are read with clock_gettime, which on Linux is a vDSO call: no system call, so
 * cheap enough for every request.
 */
#ifndef HERALD_CLOCK_H
#define HERALD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds and in nanoseconds (from an arbitrary origin). */
int64_t herald_clock_mono_ms(void);
int64_t herald_clock_mono_ns(void);
/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
int64_t herald_clock_wall_ms(void);

#endif
