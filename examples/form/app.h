/* form: the app, separate from main() so that its test builds the same app
 * in-process (tests/integration/test_example_form.c). */
#ifndef FORM_APP_H
#define FORM_APP_H

#include <squall.h>

typedef struct form_app {
    bool xsrf; /* XSRF protection on the form (main turns it on) */
    sq_route routes[2];
} form_app;

/* The app on loop; cfg must outlive it. NULL on failure. */
sq_app *form_app_new(sq_loop *loop, form_app *cfg);

#endif
