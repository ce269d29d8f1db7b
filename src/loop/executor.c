/* The executor: work on libuv's thread pool, results back on the loop. */
#include <stdlib.h>

#include "loop/loop_impl.h"

typedef struct {
    uv_work_t req;
    sq_loop *loop;
    sq_work_fn work;
    void *arg;
    sq_work_done_cb done; /* callback style */
    sq_future *future;    /* future style */
    void (*free_result)(void *);
    void *result;
    int status;
} sq__job;

/* On a pool thread: touches nothing but the job. */
static void job_work(uv_work_t *req) {
    sq__job *job = req->data;
    job->status = job->work(job->arg, &job->result);
}

static void job_after(uv_work_t *req, int status) {
    sq__job *job = req->data;
    sq_loop *loop = job->loop;
    loop->nwork--;
    if (status == UV_ECANCELED) {
        job->status = SQ_ECANCELED;
        job->result = NULL;
    }
    if (job->done) {
        job->done(loop, job->status, job->result, job->arg);
    } else {
        sq_future *f = job->future;
        sq_future_set_cancel_hook(f, NULL, NULL);
        if (job->status == 0) {
            sq_future_resolve(f, job->result, job->free_result);
        } else {
            if (job->result && job->free_result) job->free_result(job->result);
            sq_future_reject(f, job->status < 0 ? job->status : SQ_EINVAL);
        }
        sq_future_unref(f);
    }
    free(job);
}

static int job_submit(sq_loop *loop, sq__job *job) {
    job->req.data = job;
    int err = uv_queue_work(loop->uv, &job->req, job_work, job_after);
    if (err) return err;
    loop->nwork++;
    return 0;
}

int sq_loop_run_in_executor(sq_loop *loop, sq_work_fn work, void *arg, sq_work_done_cb done) {
    if (!loop || !work || !done) return SQ_EINVAL;
    if (loop->closing) return SQ_ECLOSED;
    sq__job *job = calloc(1, sizeof *job);
    if (!job) return SQ_ENOMEM;
    job->loop = loop;
    job->work = work;
    job->arg = arg;
    job->done = done;
    int err = job_submit(loop, job);
    if (err) free(job);
    return err;
}

/* The future's cancel hook: withdraw the job if no thread has started it
 * (then job_after sees UV_ECANCELED); a running job cannot be stopped. */
static void job_cancel(sq_future *f, void *arg) {
    sq__job *job = arg;
    uv_cancel((uv_req_t *)&job->req);
}

sq_future *sq_loop_run_in_executor_future(sq_loop *loop, sq_work_fn work, void *arg,
                                          void (*free_result)(void *)) {
    if (!loop || !work || loop->closing) return NULL;
    sq__job *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    sq_future *f = sq_future_new(loop);
    if (!f) {
        free(job);
        return NULL;
    }
    job->loop = loop;
    job->work = work;
    job->arg = arg;
    job->future = sq_future_ref(f);
    job->free_result = free_result;
    if (job_submit(loop, job) != 0) {
        sq_future_unref(f);
        sq_future_unref(f);
        free(job);
        return NULL;
    }
    sq_future_set_cancel_hook(f, job_cancel, job);
    return f;
}
