/*
 * Private to the worker supervisor (supervisor.c, supervisor_jobs.c,
 * supervisor_proc.c): its state and the functions its files share. The
 * public side is weave/worker.h.
 */
#ifndef WEAVE_SUPERVISOR_H
#define WEAVE_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/worker.h"
#include "worker_spawn.h"
#include "worker_wire.h"

#define TAG_SOCK 1u
#define TAG_PIDFD 2u
#define TAG_TIMER 3u
#define TAG_KICK 4u

#define UNLOAD_GRACE_MS 2000u /* an unloading worker gets this to exit */
#define EOF_GRACE_MS 1000u    /* a worker that closed its socket, to exit */
#define REAP_POLL_MS 50u      /* without pidfd: how often to try waitpid */
#define CRASH_HISTORY 16u

enum kill_reason {
    KILL_NONE = 0, /* any death now is a crash */
    KILL_TIMEOUT,  /* the watchdog */
    KILL_CANCEL,   /* cancel ignored past the grace period */
    KILL_UNLOAD,   /* keep-alive ran out, or the worker is unreachable */
    KILL_BROKEN,   /* it sent a malformed message: counted as a crash */
    KILL_STARTUP,  /* no READY within the generation timeout: a crash */
};

/*
 * Inline replies render into pooled memfds: a buffer the daemon keeps
 * mapped (pages already allocated, page tables already filled) is reused by
 * the next job instead of a fresh memfd being allocated, faulted in, mapped
 * and torn down every time. At most SV_POOL_MAX buffers, given back
 * SV_POOL_IDLE_MS after the last one came back. Shared-memory (SHM)
 * results are never pooled: they are sealed and handed to the client. The
 * pool outlives the worker while jobs still hold its buffers (refs).
 */
#define SV_POOL_MAX 2u
#define SV_POOL_IDLE_MS 100u

struct sv_buf {
    int fd;       /* the memfd, sealed against shrinking and growing */
    uint8_t *map; /* our shared mapping of all of it */
    size_t cap;   /* its size */
    uint64_t id;  /* unique per buffer (the worker keeps its mapping by it) */
};

struct sv_pool {
    uint32_t refs;          /* the worker, and every job holding a buffer */
    struct weave_worker *w; /* NULL once the worker stopped */
    uint32_t n;
    uint64_t next_id;       /* the id of the next buffer made (from 1) */
    struct sv_buf buf[SV_POOL_MAX];
};

struct job_priv {
    uint64_t id;
    int memfd;      /* the image memory, until the job is done */
    size_t map_len; /* bytes of memfd (and of the reply mapping) */
    size_t need;    /* bytes this job's reply (or image) takes */
    uint8_t *pmap;  /* inline: our mapping of memfd (job->reply), or NULL */
    uint64_t buf_id; /* inline, pooled: sv_buf.id of memfd; else 0 */
    struct sv_pool *pool; /* inline: where the buffer goes back (a ref) */
    int has_shm;    /* job->shm_fd is ours to close */
    int started_due; /* the started event is still to be delivered */
};

struct job_list {
    struct weave_job *head, *tail;
    uint32_t count;
};

struct weave_worker {
    struct weave_worker_config cfg;
    const struct weave_backend *backend;
    const struct weave_log *log;
    struct weave_worker_events ev;
    int epfd, tfd, kickfd;
    int in_dispatch;

    struct job_list pending;
    struct job_list done;      /* finished, events not delivered yet */
    struct weave_job *current; /* sent to the worker */
    uint64_t next_id;
    uint64_t job_started_ms;
    uint64_t job_deadline_ms;  /* watchdog; 0 = none */
    uint64_t cancel_deadline_ms;
    int cancel_requested;
    int queue_dirty;

    struct ws_proc proc;       /* pid 0: no worker */
    int ready;                 /* READY received */
    int replacing;             /* the next start replaces a dead worker */
    enum kill_reason kill_reason;
    uint64_t kill_deadline_ms; /* SIGKILL then, if still alive */
    uint64_t idle_deadline_ms; /* keep-alive */
    uint64_t spawned_ms;
    uint64_t ready_deadline_ms; /* startup watchdog: READY by then */
    char init_error[WW_TEXT_MAX];

    uint64_t crash_ms[CRASH_HISTORY];
    uint32_t ncrash;
    uint64_t backoff_until_ms;
    uint32_t backoff_next_ms;
    char backoff_reason[200];
    uint32_t restarts;
    char last_crash[256];
    uint64_t generations;   /* jobs finished with an image, SPEC 11.6 */
    uint64_t generation_us; /* wraps at 2^64, as the spec says */

    struct sv_pool *pool;
    uint64_t pool_deadline_ms; /* give the pooled buffers back then */
};

/* supervisor_jobs.c: lists, job memory, results */
void sv_list_push(struct job_list *l, struct weave_job *job);
void sv_list_push_front(struct job_list *l, struct weave_job *job);
struct weave_job *sv_list_pop(struct job_list *l);
int sv_list_remove(struct job_list *l, struct weave_job *job);
struct job_priv *sv_priv_of(const struct weave_job *job);
void sv_close_memfd(struct job_priv *p);
void sv_free_list(struct job_list *l);
/* The job is finished: onto the done list (events go out in dispatch). */
void sv_finish(struct weave_worker *w, struct weave_job *job);
void sv_fail(struct weave_worker *w, struct weave_job *job, uint32_t code,
             const char *msg);
/* Fails every queued job with 500/9 msg. */
void sv_fail_pending(struct weave_worker *w, const char *msg);
/* Sends job to the ready, idle worker: 0; -1 when the job failed (done);
 * 1 when the worker could not take it (it is killed; the job stays). */
int sv_send_job(struct weave_worker *w, struct weave_job *job);
/* The running job's DONE: its result, its reply mapping or sealed memfd. */
void sv_job_done(struct weave_worker *w, const struct ww_done *d);
void sv_deliver_started(struct weave_worker *w, struct weave_job *job);
struct sv_pool *sv_pool_new(struct weave_worker *w);
/* Unmaps and closes the pooled buffers. */
void sv_pool_drain(struct sv_pool *pl);
/* The worker stops: drain, forget it, drop its reference. */
void sv_pool_close(struct sv_pool *pl);

/* supervisor_proc.c: the process, its messages and timers */
int sv_spawn(struct weave_worker *w, char *err, size_t errlen);
void sv_close_sock(struct weave_worker *w);
void sv_kill_worker(struct weave_worker *w, enum kill_reason why);
void sv_fail_unavailable(struct weave_worker *w, uint64_t now);
void sv_try_reap(struct weave_worker *w);
void sv_unload(struct weave_worker *w, const char *why);
/* Moves things along: start a worker, send the next job, or go idle. */
void sv_pump(struct weave_worker *w);
void sv_sock_ready(struct weave_worker *w);
void sv_timer_ready(struct weave_worker *w);

/* supervisor.c */
uint64_t sv_earlier(uint64_t a, uint64_t b);
/* Arms the timerfd for the nearest deadline (or disarms it). */
void sv_arm_timer(struct weave_worker *w);
/* Makes weave_worker_fd() readable so the loop calls dispatch(). */
void sv_kick(struct weave_worker *w);

#endif /* WEAVE_SUPERVISOR_H */
