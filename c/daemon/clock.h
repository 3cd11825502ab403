/* Monotonic milliseconds for deadlines (never the wall clock, which jumps). */
#ifndef WEAVE_CLOCK_H
#define WEAVE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds; never 0, so 0 can mean "no deadline". */
uint64_t weave_now_ms(void);
/* CLOCK_MONOTONIC in microseconds, for durations (generation times). */
uint64_t weave_now_us(void);

#endif /* WEAVE_CLOCK_H */
