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
#include <sys/types.h>

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
    int failed;    /* 1: err is the reply (reply is NULL) */
    int cancelled; /* 1: stopped because weave_worker_cancel() asked */
    /* The contract's (worker_api.h) fields the loop reads; this in-process
     * worker always answers inline: shm_fd stays -1. */
    uint32_t flags;      /* WEAVE_FLAG_PROGRESS | WEAVE_FLAG_SHM */
    int shm_fd;
    uint64_t image_size;
    uint32_t channels;
};

/* The contract's status (SPEC 11.6 fields); here: no worker process. */
struct weave_worker_status {
    enum weave_backend_state state;
    pid_t pid;
    uint32_t restarts;
    uint32_t jobs_running;
    uint32_t queue_depth;
    char last_crash[256];
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
 * Takes job back if it has not started (returns 1: the caller frees it).
 * Running: asks the backend to stop at its next step (hooks.should_stop),
 * and returns 0; the job comes out of take_done, with cancelled = 1 if the
 * backend stopped for it. Done: returns 0 (it is in take_done already).
 * The names and meanings are those of the worker contract (worker_api.h).
 */
int weave_worker_cancel(struct weave_worker *w, struct weave_job *job);

/* Jobs waiting for their turn (not counting the one being generated). */
uint32_t weave_worker_queue_depth(struct weave_worker *w);

/* 1 = next to run; 0 when the job is running or not queued. */
uint32_t weave_worker_queue_position(struct weave_worker *w,
                                     const struct weave_job *job);

/* Always loaded, pid 0, no restarts: the backend is in this process. */
void weave_worker_get_status(struct weave_worker *w, struct weave_worker_status *st);

/*
 * Tells the thread to exit after its current job and waits up to wait_ms
 * for it. Returns 0 when the thread has exited (everything is freed, done
 * and pending jobs included), -1 when it is still busy after wait_ms: the
 * worker is then left alone (the process is about to exit anyway), and
 * weave_worker_stop() may be called again to keep waiting.
 */
int weave_worker_stop(struct weave_worker *w, uint32_t wait_ms);

#endif /* WEAVE_WORKER_H */
