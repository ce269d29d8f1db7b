/* async: the app, separate from main() so that its test builds the same app
 * in-process (tests/integration/test_example_async.c). */
#ifndef ASYNC_APP_H
#define ASYNC_APP_H

#include <squall.h>

typedef struct async_app {
    uint64_t wait_ms; /* how long /wait waits (2000 in main) */
    sq_route routes[4];
} async_app;

/* The app on loop; cfg must outlive it. NULL on failure. */
sq_app *async_app_new(sq_loop *loop, async_app *cfg);

/* The number of primes below n: the CPU-heavy work /primes offloads. */
long async_count_primes(long n);

#endif
