/* examples/async, in-process through the harness: a 2 s timer wait does not
 * hold up other requests, CPU work runs on the executor, and a client that
 * leaves mid-wait is handled. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../examples/async/app.c"

static async_app cfg;
static sq_test *t;

static sq_app *make_app(sq_loop *loop, void *arg) { return async_app_new(loop, arg); }

static void setup(void) {
    cfg = (async_app){.wait_ms = 2000};
    t = sq_test_start(make_app, &cfg);
    cr_assert_not_null(t);
}

static void teardown(void) { cr_assert_eq(sq_test_free(t), 0); }

TestSuite(async, .init = setup, .fini = teardown);

Test(async, other_requests_are_served_during_the_wait) {
    sq_test_response *slow = sq_test_fetch_start(t, "GET", "/wait", NULL, NULL, 0);
    sq_test_run_for(t, 20); /* the wait has begun */
    for (int i = 0; i < 20; i++) {
        sq_test_response *fast = sq_test_get(t, "/");
        cr_assert_eq(fast->status, 200, "%s", fast->error_message);
        cr_assert(fast->elapsed_ms < 500, "a request took %.1f ms during the wait",
                  fast->elapsed_ms);
    }
    sq_test_response *p = sq_test_get(t, "/primes?n=100000");
    cr_assert_eq(p->status, 200, "%s", p->error_message);
    cr_assert_str_eq(p->body, "{\"n\": 100000, \"primes\": 9592}");
    cr_assert_not(slow->done, "the wait ended early");
    cr_assert_eq(sq_test_fetch_wait(t, slow, 0), 0, "%s", slow->error_message);
    cr_assert_eq(slow->status, 200);
    cr_assert_str_eq(slow->body, "waited\n");
    cr_assert(slow->elapsed_ms >= 1990, "waited only %.1f ms", slow->elapsed_ms);
}

Test(async, cpu_work_runs_on_the_executor) {
    sq_test_set_timeout(t, 60000); /* slow under sanitizers */
    sq_test_response *big = sq_test_fetch_start(t, "GET", "/primes?n=3000000", NULL, NULL, 0);
    sq_test_response *fast = sq_test_get(t, "/");
    cr_assert_eq(fast->status, 200);
    cr_assert_not(big->done, "the loop was blocked by the CPU work");
    cr_assert_eq(sq_test_fetch_wait(t, big, 0), 0, "%s", big->error_message);
    cr_assert_str_eq(big->body, "{\"n\": 3000000, \"primes\": 216816}");
}

Test(async, bad_argument_is_400) {
    cr_assert_eq(sq_test_get(t, "/primes?n=lots")->status, 400);
    cr_assert_eq(sq_test_get(t, "/primes?n=-1")->status, 400);
}

Test(async, client_leaving_mid_wait_cancels_the_timer) {
    sq_test_set_timeout(t, 200);
    sq_test_response *r = sq_test_get(t, "/wait");
    cr_assert_eq(r->error, SQ_ETIMEDOUT);
    /* The app must close at once (the timer was cancelled and the request
     * finished), not 2 s later: teardown has 200 ms. */
}
