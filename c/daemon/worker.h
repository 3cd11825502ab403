/*
 * CONTRACT between the event loop and the generation worker.
 *
 * The worker runs generate jobs one at a time, in arrival order, away from
 * the event loop: in a supervised child process (the "worker process",
 * docs/ARCHITECTURE.md), started on the first job and replaced when it
 * dies. The loop polls ONE descriptor, weave_worker_fd(), for EPOLLIN and
 * calls weave_worker_dispatch() when it is readable, which runs the event
 * callbacks below on the loop's thread. The loop never blocks on the
 * worker: every timer the worker needs (watchdog, cancel grace, keep-alive,
 * back-off) is a timerfd behind that descriptor, so
 * weave_worker_next_timeout_ms() always returns -1.
 *
 * Events are only ever delivered from weave_worker_dispatch(), never from
 * inside submit() or cancel(): the loop may call those anywhere.
 *
 * The worker process is this same binary, exec'd in worker mode (a hidden
 * argv: weave_worker_child_requested()); its main() must therefore start
 * with weave_worker_child_main() when asked (weave_daemon_main does it).
 * The private framing on the socketpair is documented in docs/BACKEND.md,
 * "Worker contract".
 */
#ifndef WEAVE_WORKER_H
#define WEAVE_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weave/backend.h"
#include "daemon/log.h"
#include "weave/protocol.h"

/* SPEC 11.2 flag bits of a job: the codec's, under the contract's names. */
#define WEAVE_GEN_FLAG_PROGRESS WEAVE_FLAG_PROGRESS
#define WEAVE_GEN_FLAG_SHM WEAVE_FLAG_SHM

struct weave_job {
    struct weave_job *next;            /* the worker's list link */
    uint64_t conn_tag;                 /* the connection waiting for it */
    uint16_t version;                  /* protocol version of the reply */
    uint32_t flags;                    /* WEAVE_GEN_FLAG_PROGRESS | _SHM (SPEC 11.2) */
    struct weave_generate_request req; /* points into msg */
    uint8_t *msg;                      /* the request message (owned) */

    /* Results, valid once the job came back through events.done: */
    int failed;              /* 1: err is the reply */
    int cancelled;           /* 1: stopped because weave_worker_cancel() asked */
    struct weave_error err;
    uint64_t seed;           /* seed actually used */
    uint32_t generation_ms;  /* generation_us to the nearest ms, for the reply */
    uint64_t generation_us;
    uint32_t channels;       /* 3 */
    /*
     * Inline reply (flags without SHM): the complete response message.
     * It is a shared mapping of the memfd the worker rendered into (no copy
     * of the pixels), NOT a malloc'd buffer: never free() it, and do not
     * hand it to weave_conn_reply_heap(). Send it from here while the job
     * is alive; weave_job_free() unmaps it.
     */
    uint8_t *reply;
    size_t reply_len;
    /* SHM: a memfd holding width*height*channels pixels from offset 0,
     * already sealed F_SEAL_SHRINK|GROW|WRITE|SEAL; -1 otherwise. The job
     * owns it; weave_job_free() closes it. */
    int shm_fd;
    uint64_t image_size;
    /* private to the worker implementation */
    void *priv;
};

struct weave_worker;

struct weave_worker_events {
    void *ctx;
    /* Each callback may be NULL (ignored), except done. */
    /* The job left the queue and the backend started on it. Delivered at
     * once for a job with WEAVE_GEN_FLAG_PROGRESS; for others it may come
     * with the next dispatch (at the latest just before done). */
    void (*started)(void *ctx, struct weave_job *job);
    /* The backend completed step `step` of `steps` (1..steps). Only for
     * jobs with WEAVE_GEN_FLAG_PROGRESS: a message per step is not free,
     * and nobody else listens. */
    void (*step)(void *ctx, struct weave_job *job, uint32_t step,
                 uint32_t steps, uint32_t elapsed_ms);
    /* The job is finished (ok, failed, cancelled, crashed, timed out):
     * ownership returns to the loop, which frees it with weave_job_free. */
    void (*done)(void *ctx, struct weave_job *job);
    /* Queue positions changed (a job started, was dropped, or was added):
     * the loop may re-send `queued` messages (weave_worker_queue_position). */
    void (*queue_changed)(void *ctx);
};

/*
 * SPEC 11.6 backend_state: enum weave_backend_state of the codec
 * (weave/protocol.h). Here:
 *   WEAVE_BACKEND_UNLOADED    no worker process (never started, unloaded
 *                             after keep-alive, or exiting); the next job
 *                             starts one
 *   WEAVE_BACKEND_STARTING    spawned, backend init not finished
 *   WEAVE_BACKEND_LOADED      ready or generating
 *   WEAVE_BACKEND_RESTARTING  after repeated crashes, backing off: jobs get
 *                             500/9 "backend unavailable: ..." until it ends
 */

struct weave_worker_status {
    enum weave_backend_state state;
    pid_t pid;                  /* worker process, 0 when none */
    uint32_t restarts;          /* workers started to replace one that died or was killed */
    uint32_t jobs_running;      /* 0 or 1 */
    uint32_t queue_depth;       /* jobs waiting */
    char last_crash[256];       /* "" when none */
    uint64_t generations;       /* jobs finished with an image (SPEC 11.6) */
    uint64_t generation_us;     /* their summed generation time */
};

/* Defaults of the flags (weave/config.h uses them). */
#define WEAVE_DEFAULT_GENERATION_TIMEOUT_MS 600000u
#define WEAVE_DEFAULT_KEEP_ALIVE_MS 300000
#define WEAVE_DEFAULT_CANCEL_GRACE_MS 2000u

struct weave_worker_config {
    uint32_t step_delay_ms;          /* --step-delay-ms (backend testing aid) */
    uint64_t generation_timeout_ms;  /* --generation-timeout-ms, 0 = off */
    int64_t keep_alive_ms;           /* --keep-alive-ms, 0 = unload after each job, -1 = never */
    uint32_t cancel_grace_ms;        /* after a cancel, kill the worker if the backend ignores it */
    /* Additions: */
    const char *exe;                 /* binary to exec in worker mode; NULL = /proc/self/exe */
    enum weave_log_level log_level;  /* the worker process's log level */
    /* Back-off after crash_limit crashes within crash_window_ms: first
     * backoff_ms, doubling up to backoff_max_ms. 0 = the defaults
     * (3 in 10000 ms; 5000 ms doubling to 60000 ms). */
    uint32_t crash_limit;
    uint32_t crash_window_ms;
    uint32_t backoff_ms;
    uint32_t backoff_max_ms;
};

/* Frees the job: its request, its reply mapping, its memfd. NULL is fine.
 * Any job the loop allocated (calloc'd, never submitted) may be freed too. */
void weave_job_free(struct weave_job *job);

/* Sets up the worker (no process yet: the first job starts it). The
 * backend is the one this binary serves: the parent only uses its name;
 * the worker process runs it. Returns 0, or -1 with err set. */
int weave_worker_start(struct weave_worker **out,
                       const struct weave_worker_config *cfg,
                       const struct weave_backend *backend,
                       const struct weave_log *log,
                       const struct weave_worker_events *events,
                       char *err, size_t errlen);
int weave_worker_fd(const struct weave_worker *w);
/* Runs due callbacks; call when weave_worker_fd() is readable. Never
 * blocks. */
void weave_worker_dispatch(struct weave_worker *w);
/* Always -1 here: the worker keeps its timers behind its fd. */
int weave_worker_next_timeout_ms(const struct weave_worker *w);
/* Queues the job (the worker owns it until done). Never fails: problems
 * (no worker can be started, back-off) come back through done. */
void weave_worker_submit(struct weave_worker *w, struct weave_job *job);
/* Queued: removes it and returns 1 (the caller frees it, no done event).
 * Running: asks the backend to stop at its next step (hooks.should_stop);
 * if it has not stopped after cfg->cancel_grace_ms the worker is killed and
 * replaced; the job comes back through done with cancelled = 1. Returns 0. */
int weave_worker_cancel(struct weave_worker *w, struct weave_job *job);
uint32_t weave_worker_queue_depth(const struct weave_worker *w);
/* 1 = next to run; 0 when the job is running or not queued. */
uint32_t weave_worker_queue_position(const struct weave_worker *w,
                                     const struct weave_job *job);
void weave_worker_get_status(const struct weave_worker *w,
                             struct weave_worker_status *st);
/* Addition: removes and returns the queued jobs, oldest first, linked by
 * next (shutdown abandons them; no done events, the caller frees them). */
struct weave_job *weave_worker_take_pending(struct weave_worker *w);
/* Stops (terminates and reaps) the worker process within wait_ms: it is
 * asked to exit (its socket closed), then SIGTERM, then SIGKILL at
 * wait_ms. Jobs still queued or running are freed, with no done events:
 * the loop is shutting down. Frees w. Returns 0 (-1 only if the process
 * could not be reaped, which SIGKILL makes impossible in practice). */
int weave_worker_stop(struct weave_worker *w, uint32_t wait_ms);

/* ---- the worker process side (worker_proc.c) --------------------------- */

/* 1 when argv asks for worker mode (argv[1] is "--worker-fd=N"). */
int weave_worker_child_requested(int argc, char *const argv[]);
/* The backend name the daemon asked for (--worker-backend=NAME), or NULL:
 * for a binary that links several backends (tests) to pick the right one. */
const char *weave_worker_child_backend(int argc, char *const argv[]);
/* Runs the worker process: serves jobs from the socketpair with `backend`
 * until the daemon closes it. Returns the process exit code. */
int weave_worker_child_main(int argc, char *const argv[],
                            const struct weave_backend *backend);

#endif /* WEAVE_WORKER_H */
