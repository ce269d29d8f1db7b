/* bench_app: the app `make bench` measures against the same app in Tornado
 * (bench/peers/), separate from main() so that a test builds it in-process
 * (tests/integration/test_example_bench_app.c). */
#ifndef BENCH_APP_H
#define BENCH_APP_H

#include <squall.h>

/* The app on loop; NULL on failure. */
sq_app *bench_app_new(sq_loop *loop);

#endif
