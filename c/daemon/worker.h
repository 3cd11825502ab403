/*
 * The generation worker: ONE thread that runs generate jobs one at a time,
 * in arrival order, so a big image never stalls the I/O loop. The loop
 * submits jobs; the worker signals each finished job through an eventfd the
 * loop polls, and the loop collects finished jobs with
 * weave_worker_take_done().
 *
 * Ownership: a submitted job belongs to the worker until the loop takes it
 * back (take_done, take_pending or cancel); then the loop frees it.
 */
#ifndef WEAVE_WORKER_H
#define WEAVE_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "weave/backend.h"
#include "daemon/log.h"
#include "weave/protocol.h"

struct weave_job {
    struct weave_job *next;
    uint64_t conn_tag;                  /* the connection waiting for it */
    uint16_t version;                   /* protocol version of the reply */
    struct weave_generate_request req;  /* points into msg */
    uint8_t *msg;                       /* the request message (owned) */

    /* Results, filled by the worker. */
    uint8_t *reply;       /* complete response message (owned), or NULL */
    size_t reply_len;
    struct weave_error err; /* the error reply when reply is NULL */
    uint64_t seed;          /* seed actually used */
    uint32_t generation_ms;
};

struct weave_worker;

/* Frees the job, its request and its reply. NULL is fine. */
void weave_job_free(struct weave_job *job);

/* Starts the thread. Returns 0, or -1 with err set. */
int weave_worker_start(struct weave_worker **out,
                       const struct weave_backend *backend, void *backend_state,
                       const struct weave_log *log, char *err, size_t errlen);

/* Readable when jobs are done; read it down with weave_worker_take_done(). */
int weave_worker_event_fd(const struct weave_worker *w);

void weave_worker_submit(struct weave_worker *w, struct weave_job *job);

/* Clears the eventfd and returns the finished jobs, oldest first. */
struct weave_job *weave_worker_take_done(struct weave_worker *w);

/* Removes and returns the jobs not started yet (shutdown abandons them). */
struct weave_job *weave_worker_take_pending(struct weave_worker *w);

/*
 * Takes job back if it has not started (returns 1: the caller frees it);
 * returns 0 when it is running or done, and will come out of take_done.
 */
int weave_worker_cancel(struct weave_worker *w, struct weave_job *job);

/* Jobs waiting for their turn (not counting the one being generated). */
uint32_t weave_worker_queue_depth(struct weave_worker *w);

/*
 * Tells the thread to exit after its current job and waits up to wait_ms
 * for it. Returns 0 when the thread has exited (everything is freed, done
 * and pending jobs included), -1 when it is still busy after wait_ms: the
 * worker is then left alone (the process is about to exit anyway), and
 * weave_worker_stop() may be called again to keep waiting.
 */
int weave_worker_stop(struct weave_worker *w, uint32_t wait_ms);

#endif /* WEAVE_WORKER_H */
