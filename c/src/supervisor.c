/*
 * The daemon side of the worker process (weave/worker.h): the job queue,
 * starting the worker on demand, feeding it one job at a time over the
 * socketpair (worker_wire.h), and everything that can go wrong with it:
 * crashes (the job gets 500/9, the queue survives, a fresh worker takes
 * over, repeated crashes back off), the watchdog (500/10, kill, replace),
 * cancellation (STOP, then a kill after the grace period), and idle unload
 * (keep-alive).
 *
 * Everything runs on the loop's thread and never blocks: the socket is
 * non-blocking, and the socket, a pidfd, a timerfd and an eventfd (for
 * events produced outside dispatch) sit behind one internal epoll fd,
 * which is what the loop polls. The worker is reaped with
 * waitpid(WNOHANG) as soon as its pidfd says it ended: never a zombie.
 */
#define _GNU_SOURCE
#include "weave/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weave/clock.h"
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
    KILL_UNLOAD,   /* keep-alive ran out, or the worker is broken */
};

struct job_priv {
    uint64_t id;
    int memfd;      /* the image memory, until the job is done */
    size_t map_len; /* bytes of memfd (and of the reply mapping) */
    int mapped;     /* job->reply is an mmap of map_len bytes */
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
    char init_error[WW_TEXT_MAX];

    uint64_t crash_ms[CRASH_HISTORY];
    uint32_t ncrash;
    uint64_t backoff_until_ms;
    uint32_t backoff_next_ms;
    char backoff_reason[200];
    uint32_t restarts;
    char last_crash[256];
};

/* ---- jobs and lists ----------------------------------------------------- */

static void list_push(struct job_list *l, struct weave_job *job)
{
    job->next = NULL;
    if (l->tail != NULL)
        l->tail->next = job;
    else
        l->head = job;
    l->tail = job;
    l->count++;
}

static struct weave_job *list_pop(struct job_list *l)
{
    struct weave_job *job = l->head;
    if (job == NULL)
        return NULL;
    l->head = job->next;
    if (l->head == NULL)
        l->tail = NULL;
    l->count--;
    job->next = NULL;
    return job;
}

static int list_remove(struct job_list *l, struct weave_job *job)
{
    struct weave_job *prev = NULL;
    for (struct weave_job *j = l->head; j != NULL; prev = j, j = j->next) {
        if (j != job)
            continue;
        if (prev != NULL)
            prev->next = j->next;
        else
            l->head = j->next;
        if (l->tail == j)
            l->tail = prev;
        l->count--;
        j->next = NULL;
        return 1;
    }
    return 0;
}

static struct job_priv *priv_of(const struct weave_job *job)
{
    return job->priv;
}

static void close_memfd(struct job_priv *p)
{
    if (p != NULL && p->memfd >= 0) {
        close(p->memfd);
        p->memfd = -1;
    }
}

void weave_job_free(struct weave_job *job)
{
    if (job == NULL)
        return;
    struct job_priv *p = priv_of(job);
    free(job->msg);
    if (p != NULL && p->mapped)
        munmap(job->reply, p->map_len);
    else
        free(job->reply);
    if (p != NULL && p->has_shm && job->shm_fd >= 0)
        close(job->shm_fd);
    close_memfd(p);
    free(p);
    free(job);
}

static void free_list(struct job_list *l)
{
    struct weave_job *j;
    while ((j = list_pop(l)) != NULL)
        weave_job_free(j);
}

/* ---- timers and wakeups ------------------------------------------------- */

static uint64_t earlier(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    return (b != 0 && b < a) ? b : a;
}

/* Arms the timerfd for the nearest deadline (or disarms it). */
static void arm_timer(struct weave_worker *w)
{
    uint64_t next = 0;
    next = earlier(next, w->job_deadline_ms);
    next = earlier(next, w->cancel_deadline_ms);
    next = earlier(next, w->kill_deadline_ms);
    next = earlier(next, w->idle_deadline_ms);
    if (w->proc.pid != 0 && w->proc.pidfd < 0)
        next = earlier(next, weave_now_ms() + REAP_POLL_MS);
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (next != 0) {
        /* weave_now_ms() is CLOCK_MONOTONIC in ms, plus 1. */
        uint64_t ms = next > 1 ? next - 1 : 0;
        its.it_value.tv_sec = (time_t)(ms / 1000u);
        its.it_value.tv_nsec = (long)(ms % 1000u) * 1000000L;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* 0 would disarm */
    }
    /* Cannot fail with a valid fd and value. */
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Makes weave_worker_fd() readable so the loop calls dispatch(). */
static void kick(struct weave_worker *w)
{
    if (w->in_dispatch)
        return;
    uint64_t one = 1;
    while (write(w->kickfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void finish(struct weave_worker *w, struct weave_job *job)
{
    close_memfd(priv_of(job));
    list_push(&w->done, job);
    kick(w);
}

static void fail(struct weave_worker *w, struct weave_job *job, uint32_t code,
                 const char *msg)
{
    job->failed = 1;
    weave_error_set(&job->err, job->req.request_id, code, "%s", msg);
    finish(w, job);
}

static void fail_pending(struct weave_worker *w, const char *msg)
{
    struct weave_job *j;
    while ((j = list_pop(&w->pending)) != NULL) {
        w->queue_dirty = 1;
        fail(w, j, WEAVE_ERR_GPU, msg);
    }
}

/* ---- the process -------------------------------------------------------- */

static void epoll_add(struct weave_worker *w, int fd, uint64_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        weave_warn(w->log, "worker: epoll_ctl: %s", strerror(errno));
}

static void close_sock(struct weave_worker *w)
{
    if (w->proc.sock >= 0) {
        close(w->proc.sock); /* also leaves the epoll set */
        w->proc.sock = -1;
    }
    w->ready = 0;
}

static void kill_worker(struct weave_worker *w, enum kill_reason why)
{
    if (w->proc.pid == 0)
        return;
    if (w->kill_reason == KILL_NONE || why == KILL_TIMEOUT)
        w->kill_reason = why;
    /* The pid cannot be reused before we reap it. */
    kill(w->proc.pid, SIGKILL);
}

static int spawn(struct weave_worker *w, char *err, size_t errlen)
{
    struct ws_args a = {
        .exe = w->cfg.exe != NULL ? w->cfg.exe : "/proc/self/exe",
        .argv0 = "weave-compute",
        .step_delay_ms = w->cfg.step_delay_ms,
        .log_level = weave_log_level_name(w->cfg.log_level),
        .backend = w->backend->name,
    };
    char lower[16];
    size_t i = 0;
    for (; a.log_level[i] != '\0' && i + 1 < sizeof lower; i++)
        lower[i] = (char)(a.log_level[i] | 0x20);
    lower[i] = '\0';
    a.log_level = lower;

    uint64_t t0 = weave_now_ms();
    if (ws_spawn(&a, &w->proc, err, errlen) != 0)
        return -1;
    w->spawned_ms = t0;
    w->ready = 0;
    w->kill_reason = KILL_NONE;
    w->kill_deadline_ms = 0;
    w->init_error[0] = '\0';
    epoll_add(w, w->proc.sock, TAG_SOCK);
    if (w->proc.pidfd >= 0)
        epoll_add(w, w->proc.pidfd, TAG_PIDFD);
    if (w->replacing) {
        w->restarts++;
        weave_info(w->log, "worker: started pid %ld to replace the last one "
                   "(restart %u)", (long)w->proc.pid, (unsigned)w->restarts);
    } else {
        weave_info(w->log, "worker: started pid %ld (backend %s)",
                   (long)w->proc.pid, w->backend->name);
    }
    w->replacing = 0;
    return 0;
}

/* Back-off: crash_limit crashes within crash_window_ms. */
static int crash_loop(struct weave_worker *w, uint64_t now)
{
    uint32_t limit = w->cfg.crash_limit;
    if (w->ncrash < CRASH_HISTORY)
        w->crash_ms[w->ncrash++] = now;
    else {
        memmove(w->crash_ms, w->crash_ms + 1,
                (CRASH_HISTORY - 1) * sizeof w->crash_ms[0]);
        w->crash_ms[CRASH_HISTORY - 1] = now;
    }
    if (w->ncrash < limit)
        return 0;
    return now - w->crash_ms[w->ncrash - limit] <= w->cfg.crash_window_ms;
}

static void start_backoff(struct weave_worker *w, uint64_t now)
{
    uint32_t ms = w->backoff_next_ms;
    w->backoff_until_ms = now + ms;
    w->backoff_next_ms = ms >= w->cfg.backoff_max_ms / 2 ? w->cfg.backoff_max_ms
                                                         : ms * 2;
    w->ncrash = 0;
    snprintf(w->backoff_reason, sizeof w->backoff_reason,
             "%u crashes within %u ms, last: %.120s", (unsigned)w->cfg.crash_limit,
             (unsigned)w->cfg.crash_window_ms, w->last_crash);
    weave_warn(w->log, "worker: %s; not restarting for %u ms",
               w->backoff_reason, (unsigned)ms);
}

static void fail_unavailable(struct weave_worker *w, uint64_t now)
{
    char msg[WEAVE_MAX_ERROR_MESSAGE + 1];
    uint64_t left = w->backoff_until_ms > now ? w->backoff_until_ms - now : 0;
    snprintf(msg, sizeof msg, "backend unavailable: %s; retrying in %llu.%llu s",
             w->backoff_reason, (unsigned long long)(left / 1000u),
             (unsigned long long)(left % 1000u / 100u));
    fail_pending(w, msg);
}

static void pump(struct weave_worker *w);

/* The worker process ended with wait status `status`. */
static void on_exit_status(struct weave_worker *w, int status)
{
    char what[160];
    uint64_t now = weave_now_ms();
    struct weave_job *job = w->current;
    enum kill_reason why = w->kill_reason;

    ws_describe_exit(status, what, sizeof what);
    if (w->proc.pidfd >= 0)
        close(w->proc.pidfd);
    close_sock(w);
    pid_t pid = w->proc.pid;
    w->proc.pid = 0;
    w->proc.pidfd = -1;
    w->kill_reason = KILL_NONE;
    w->kill_deadline_ms = 0;
    w->current = NULL;
    w->job_deadline_ms = w->cancel_deadline_ms = 0;
    w->idle_deadline_ms = 0;

    if (why == KILL_UNLOAD) {
        weave_debug(w->log, "worker: pid %ld unloaded (%s)", (long)pid, what);
        if (job != NULL)
            fail(w, job, WEAVE_ERR_GPU, "backend unloaded during the job");
        pump(w);
        return;
    }
    w->replacing = 1;
    if (why == KILL_TIMEOUT && job != NULL) {
        char msg[WEAVE_MAX_ERROR_MESSAGE + 1];
        snprintf(msg, sizeof msg, "generation timed out after %llu ms; backend "
                 "restarted", (unsigned long long)w->cfg.generation_timeout_ms);
        snprintf(w->last_crash, sizeof w->last_crash,
                 "killed by the watchdog after %llu ms",
                 (unsigned long long)w->cfg.generation_timeout_ms);
        fail(w, job, WEAVE_ERR_TIMEOUT, msg);
    } else if (why == KILL_CANCEL && job != NULL) {
        job->cancelled = 1;
        fail(w, job, WEAVE_ERR_TIMEOUT, "cancelled");
    } else if (why == KILL_NONE) {
        const char *desc = what;
        char init[WW_TEXT_MAX + 32];
        if (w->init_error[0] != '\0') {
            snprintf(init, sizeof init, "backend init failed: %s", w->init_error);
            desc = init;
        }
        snprintf(w->last_crash, sizeof w->last_crash, "%.255s", desc);
        if (job != NULL) {
            weave_warn(w->log, "worker: pid %ld %s during request_id=%llu",
                       (long)pid, desc, (unsigned long long)job->req.request_id);
            fail(w, job, WEAVE_ERR_GPU, desc);
        } else {
            weave_warn(w->log, "worker: pid %ld %s while %s", (long)pid, desc,
                       w->ready ? "idle" : "starting");
        }
        if (crash_loop(w, now)) {
            start_backoff(w, now);
            fail_unavailable(w, now);
        }
    } else if (job != NULL) { /* killed with no job to blame */
        fail(w, job, WEAVE_ERR_GPU, what);
    }
    pump(w);
}

static void try_reap(struct weave_worker *w)
{
    if (w->proc.pid == 0)
        return;
    int status;
    pid_t r;
    do {
        r = waitpid(w->proc.pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == w->proc.pid)
        on_exit_status(w, status);
    else if (r < 0 && errno == ECHILD) /* someone else reaped it */
        on_exit_status(w, 0);
}

/* ---- feeding jobs ------------------------------------------------------- */

/*
 * Seed 0 asks the daemon to choose. The kernel's random source; if it
 * is not ready (early boot) or missing, the clock and pid mixed by
 * splitmix64: unpredictable enough for picking pictures, and never 0.
 */
static uint64_t pick_seed(const struct weave_log *log)
{
    uint64_t seed = 0;
    for (int tries = 0; tries < 4 && seed == 0; tries++) {
        ssize_t n = getrandom(&seed, sizeof seed, GRND_NONBLOCK);
        if (n == (ssize_t)sizeof seed)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t z = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        z ^= (uint64_t)getpid() << 32;
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        seed = z ^ (z >> 31);
        weave_debug(log, "getrandom unavailable (%s); seed from the clock",
                    n < 0 ? strerror(errno) : "short read");
    }
    return seed != 0 ? seed : 1;
}

/* The image memory of one job, sized and sealed against resizing (so the
 * worker cannot shrink it under our mapping). Returns 0 or -1 (errno). */
static int make_memfd(struct job_priv *p, size_t size)
{
    int fd = memfd_create("weave-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    p->memfd = fd;
    p->map_len = size;
    return 0;
}

/* Sends job to the ready, idle worker. 0, or -1 when the job failed. */
static int send_job(struct weave_worker *w, struct weave_job *job)
{
    struct job_priv *p = priv_of(job);
    const struct weave_generate_request *r = &job->req;
    int shm = (job->flags & WEAVE_GEN_FLAG_SHM) != 0;
    uint64_t image = (uint64_t)r->width * r->height * WEAVE_DAEMON_CHANNELS;
    size_t size = shm ? (size_t)image
                      : weave_generate_response_size(r->width, r->height,
                                                     WEAVE_DAEMON_CHANNELS);
    if (size == 0 || image == 0 || image > (1ull << 30)) {
        fail(w, job, WEAVE_ERR_INTERNAL, "image size out of range");
        return -1;
    }
    if (make_memfd(p, size) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "out of memory: cannot allocate %zu bytes of "
                 "shared memory for the image: %s", size, strerror(errno));
        fail(w, job, WEAVE_ERR_OUT_OF_MEMORY, msg);
        return -1;
    }
    job->seed = r->seed != 0 ? r->seed : pick_seed(w->log);
    job->channels = WEAVE_DAEMON_CHANNELS;
    job->image_size = image;

    uint8_t buf[WW_MSG_MAX];
    struct ww_job m;
    memset(&m, 0, sizeof m);
    m.type = WW_JOB;
    m.flags = job->flags;
    m.job_id = p->id;
    m.map_len = size;
    m.pixel_offset = shm ? 0 : WEAVE_HEADER_SIZE + WEAVE_RESPONSE_FIXED_SIZE;
    m.width = r->width;
    m.height = r->height;
    m.steps = r->steps;
    memcpy(&m.cfg_bits, &r->cfg_scale, sizeof m.cfg_bits);
    m.seed = job->seed;
    m.clip_l_len = r->clip_l.len;
    m.clip_g_len = r->clip_g.len;
    m.t5_len = r->t5.len;
    size_t len = sizeof m + (size_t)r->clip_l.len + r->clip_g.len + r->t5.len;
    if (r->clip_l.len > WEAVE_MAX_PROMPT_LEN || r->clip_g.len > WEAVE_MAX_PROMPT_LEN ||
        r->t5.len > WEAVE_MAX_PROMPT_LEN || len > sizeof buf) {
        fail(w, job, WEAVE_ERR_INTERNAL, "prompts too long for the worker");
        return -1;
    }
    memcpy(buf, &m, sizeof m);
    size_t off = sizeof m;
    if (r->clip_l.len)
        memcpy(buf + off, r->clip_l.data, r->clip_l.len);
    off += r->clip_l.len;
    if (r->clip_g.len)
        memcpy(buf + off, r->clip_g.data, r->clip_g.len);
    off += r->clip_g.len;
    if (r->t5.len)
        memcpy(buf + off, r->t5.data, r->t5.len);

    if (ww_send(w->proc.sock, buf, len, p->memfd, MSG_DONTWAIT) != 0) {
        /* An idle worker's socket is empty: it is broken. */
        weave_warn(w->log, "worker: cannot send a job to pid %ld: %s",
                   (long)w->proc.pid, strerror(errno));
        fail(w, job, WEAVE_ERR_GPU, "backend unreachable");
        kill_worker(w, KILL_UNLOAD);
        return -1;
    }
    return 0;
}

static void unload(struct weave_worker *w, const char *why)
{
    weave_info(w->log, "worker: unloading pid %ld (%s)", (long)w->proc.pid, why);
    close_sock(w); /* EOF: the worker shuts its backend down and exits */
    w->kill_reason = KILL_UNLOAD;
    w->kill_deadline_ms = weave_now_ms() + UNLOAD_GRACE_MS;
    w->idle_deadline_ms = 0;
}

/* Moves things along: start a worker, send the next job, or go idle. */
static void pump(struct weave_worker *w)
{
    uint64_t now = weave_now_ms();

    if (w->proc.pid == 0) {
        if (w->pending.head == NULL)
            return; /* lazy: the next job starts one */
        if (now < w->backoff_until_ms) {
            fail_unavailable(w, now);
            return;
        }
        char err[160], msg[WEAVE_MAX_ERROR_MESSAGE + 1];
        if (spawn(w, err, sizeof err) != 0) {
            weave_error(w->log, "worker: cannot start: %s", err);
            snprintf(msg, sizeof msg, "backend unavailable: cannot start the "
                     "worker: %s", err);
            fail_pending(w, msg);
        }
        return; /* wait for READY */
    }
    if (!w->ready || w->current != NULL || w->kill_reason != KILL_NONE)
        return;
    while (w->pending.head != NULL) {
        struct weave_job *job = list_pop(&w->pending);
        w->queue_dirty = 1;
        if (send_job(w, job) != 0) {
            if (w->kill_reason != KILL_NONE)
                return;
            continue;
        }
        w->current = job;
        w->cancel_requested = 0;
        w->job_started_ms = now;
        w->job_deadline_ms = w->cfg.generation_timeout_ms != 0
                                 ? now + w->cfg.generation_timeout_ms : 0;
        w->idle_deadline_ms = 0;
        /* Delivered by dispatch: at once for a job that wants progress
         * (heartbeats start now), else with the next event. */
        priv_of(job)->started_due = 1;
        if (job->flags & WEAVE_GEN_FLAG_PROGRESS)
            kick(w);
        return;
    }
    if (w->cfg.keep_alive_ms == 0)
        unload(w, "keep-alive 0: unload after every job");
    else if (w->cfg.keep_alive_ms > 0 && w->idle_deadline_ms == 0)
        w->idle_deadline_ms = now + (uint64_t)w->cfg.keep_alive_ms;
}

/* ---- messages from the worker ------------------------------------------ */

static void job_done(struct weave_worker *w, const struct ww_done *d)
{
    struct weave_job *job = w->current;
    struct job_priv *p = priv_of(job);
    uint64_t id = job->req.request_id;

    w->current = NULL;
    w->job_deadline_ms = w->cancel_deadline_ms = 0;
    job->generation_ms = d->generation_ms;
    if (w->cancel_requested)
        job->cancelled = 1;
    if (d->result == WW_RESULT_CANCELLED) {
        job->cancelled = 1;
        fail(w, job, WEAVE_ERR_TIMEOUT, "cancelled");
        return;
    }
    if (d->result != WW_RESULT_OK) {
        char msg[WW_TEXT_MAX];
        memcpy(msg, d->err_message, sizeof msg);
        msg[sizeof msg - 1] = '\0';
        uint32_t code = d->err_code;
        if (code == WEAVE_ERR_NONE || code > 0xFFFF)
            code = WEAVE_ERR_INTERNAL;
        job->failed = 1;
        weave_error_set(&job->err, id, code, "%s", msg);
        if (d->err_status == 400 || d->err_status == 500)
            job->err.status = d->err_status;
        finish(w, job);
        return;
    }
    /* A good job: the streak of crashes is over. */
    w->ncrash = 0;
    w->backoff_next_ms = w->cfg.backoff_ms;

    if (job->flags & WEAVE_GEN_FLAG_SHM) {
        /* Fails (EBUSY) if the worker kept a writable mapping. */
        if (fcntl(p->memfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "cannot seal the image memory: %s",
                     strerror(errno));
            fail(w, job, WEAVE_ERR_OUT_OF_MEMORY, msg);
            return;
        }
        job->shm_fd = p->memfd;
        p->memfd = -1;
        p->has_shm = 1;
        finish(w, job);
        return;
    }
    /* Inline: map the rendered reply (the pixels are already in place at
     * offset 48) and write the header and fixed fields around them. */
    uint8_t *map = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_POPULATE, p->memfd, 0);
    if (map == MAP_FAILED) {
        char msg[128];
        snprintf(msg, sizeof msg, "out of memory: cannot map the reply: %s",
                 strerror(errno));
        fail(w, job, WEAVE_ERR_OUT_OF_MEMORY, msg);
        return;
    }
    struct weave_generate_response resp = {
        .request_id = id,
        .status = WEAVE_STATUS_OK,
        .generation_time_ms = job->generation_ms,
        .width = job->req.width,
        .height = job->req.height,
        .channels = WEAVE_DAEMON_CHANNELS,
        .image = {NULL, (uint32_t)job->image_size},
        .has_seed = 1,
        .seed = job->seed,
    };
    size_t n = weave_encode_generate_response(map, p->map_len, job->version, &resp);
    if (n != p->map_len) {
        munmap(map, p->map_len);
        fail(w, job, WEAVE_ERR_INTERNAL, "cannot encode the reply");
        return;
    }
    job->reply = map;
    job->reply_len = n;
    p->mapped = 1;
    finish(w, job);
}

static void deliver_started(struct weave_worker *w, struct weave_job *job)
{
    struct job_priv *p = priv_of(job);
    if (p == NULL || !p->started_due)
        return;
    p->started_due = 0;
    if (w->ev.started != NULL)
        w->ev.started(w->ev.ctx, job);
}

static void on_message(struct weave_worker *w, const uint8_t *buf, size_t n)
{
    uint32_t type;
    if (n < sizeof type)
        return;
    memcpy(&type, buf, sizeof type);
    switch (type) {
    case WW_READY:
        if (n != sizeof(struct ww_ready) || w->ready)
            break;
        w->ready = 1;
        weave_debug(w->log, "worker: pid %ld ready in %llu ms",
                    (long)w->proc.pid,
                    (unsigned long long)(weave_now_ms() - w->spawned_ms));
        pump(w);
        return;
    case WW_INIT_FAILED: {
        struct ww_init_failed f;
        if (n != sizeof f)
            break;
        memcpy(&f, buf, sizeof f);
        f.message[sizeof f.message - 1] = '\0';
        snprintf(w->init_error, sizeof w->init_error, "%s", f.message);
        weave_error(w->log, "worker: backend %s: %s", w->backend->name,
                    w->init_error);
        return;
    }
    case WW_STEP: {
        struct ww_step s;
        if (n != sizeof s)
            break;
        memcpy(&s, buf, sizeof s);
        if (w->current == NULL || s.job_id != priv_of(w->current)->id ||
            s.steps == 0 || s.step == 0 || s.step > s.steps)
            break;
        deliver_started(w, w->current);
        if (w->ev.step != NULL)
            w->ev.step(w->ev.ctx, w->current, s.step, s.steps, s.elapsed_ms);
        return;
    }
    case WW_DONE: {
        struct ww_done d;
        if (n != sizeof d)
            break;
        memcpy(&d, buf, sizeof d);
        if (w->current == NULL || d.job_id != priv_of(w->current)->id)
            break;
        job_done(w, &d);
        pump(w);
        return;
    }
    default:
        break;
    }
    weave_warn(w->log, "worker: pid %ld sent a bad message (type %u, %zu "
               "bytes); killing it", (long)w->proc.pid, (unsigned)type, n);
    kill_worker(w, KILL_NONE);
}

static void sock_ready(struct weave_worker *w)
{
    uint8_t buf[WW_MSG_MAX];
    /* A bounded batch per wakeup: the worker cannot hog the loop. */
    for (int i = 0; i < 64 && w->proc.sock >= 0; i++) {
        int fd;
        ssize_t n = ww_recv(w->proc.sock, buf, sizeof buf, &fd, MSG_DONTWAIT);
        if (fd >= 0)
            close(fd); /* the worker never sends descriptors */
        if (n == -2)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            /* EOF or error: the worker is exiting (or closed its end). */
            close_sock(w);
            if (w->kill_deadline_ms == 0)
                w->kill_deadline_ms = weave_now_ms() + EOF_GRACE_MS;
            try_reap(w);
            return;
        }
        on_message(w, buf, (size_t)n);
    }
}

static void timer_ready(struct weave_worker *w)
{
    uint64_t expirations;
    while (read(w->tfd, &expirations, sizeof expirations) < 0 && errno == EINTR)
        ;
    uint64_t now = weave_now_ms();
    if (w->current != NULL && w->job_deadline_ms != 0 && now >= w->job_deadline_ms) {
        w->job_deadline_ms = 0;
        weave_warn(w->log, "worker: request_id=%llu ran past the generation "
                   "timeout (%llu ms); killing pid %ld",
                   (unsigned long long)w->current->req.request_id,
                   (unsigned long long)w->cfg.generation_timeout_ms,
                   (long)w->proc.pid);
        kill_worker(w, KILL_TIMEOUT);
    }
    if (w->cancel_deadline_ms != 0 && now >= w->cancel_deadline_ms) {
        w->cancel_deadline_ms = 0;
        if (w->current != NULL) {
            weave_warn(w->log, "worker: backend ignored the cancel of "
                       "request_id=%llu for %u ms; killing pid %ld",
                       (unsigned long long)w->current->req.request_id,
                       (unsigned)w->cfg.cancel_grace_ms, (long)w->proc.pid);
            kill_worker(w, KILL_CANCEL);
        }
    }
    if (w->idle_deadline_ms != 0 && now >= w->idle_deadline_ms) {
        w->idle_deadline_ms = 0;
        if (w->current == NULL && w->pending.head == NULL && w->ready &&
            w->kill_reason == KILL_NONE) {
            char why[64];
            snprintf(why, sizeof why, "idle for %lld ms",
                     (long long)w->cfg.keep_alive_ms);
            unload(w, why);
        }
    }
    if (w->kill_deadline_ms != 0 && now >= w->kill_deadline_ms) {
        w->kill_deadline_ms = 0;
        if (w->proc.pid != 0) {
            weave_warn(w->log, "worker: pid %ld did not exit; killing it",
                       (long)w->proc.pid);
            kill_worker(w, w->kill_reason == KILL_NONE ? KILL_UNLOAD
                                                       : w->kill_reason);
        }
    }
    if (w->proc.pid != 0 && w->proc.pidfd < 0)
        try_reap(w);
}

/* ---- the API ------------------------------------------------------------ */

int weave_worker_start(struct weave_worker **out,
                       const struct weave_worker_config *cfg,
                       const struct weave_backend *backend,
                       const struct weave_log *log,
                       const struct weave_worker_events *events,
                       char *err, size_t errlen)
{
    *out = NULL;
    if (events == NULL || events->done == NULL) {
        snprintf(err, errlen, "worker: no done callback");
        return -1;
    }
    struct weave_worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->cfg = *cfg;
    if (w->cfg.crash_limit == 0)
        w->cfg.crash_limit = 3;
    if (w->cfg.crash_limit > CRASH_HISTORY)
        w->cfg.crash_limit = CRASH_HISTORY;
    if (w->cfg.crash_window_ms == 0)
        w->cfg.crash_window_ms = 10000;
    if (w->cfg.backoff_ms == 0)
        w->cfg.backoff_ms = 5000;
    if (w->cfg.backoff_max_ms < w->cfg.backoff_ms)
        w->cfg.backoff_max_ms = w->cfg.backoff_ms > 60000 ? w->cfg.backoff_ms : 60000;
    w->backoff_next_ms = w->cfg.backoff_ms;
    w->backend = backend;
    w->log = log;
    w->ev = *events;
    w->next_id = 1;
    w->proc.pid = 0;
    w->proc.sock = w->proc.pidfd = -1;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->tfd < 0 || w->kickfd < 0) {
        snprintf(err, errlen, "worker setup: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = TAG_TIMER;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &ev) != 0)
        goto fail_epoll;
    ev.data.u64 = TAG_KICK;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->kickfd, &ev) != 0)
        goto fail_epoll;
    *out = w;
    return 0;
fail_epoll:
    snprintf(err, errlen, "worker setup: epoll_ctl: %s", strerror(errno));
fail:
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->tfd >= 0)
        close(w->tfd);
    if (w->kickfd >= 0)
        close(w->kickfd);
    free(w);
    return -1;
}

int weave_worker_fd(const struct weave_worker *w)
{
    return w->epfd;
}

int weave_worker_next_timeout_ms(const struct weave_worker *w)
{
    (void)w;
    return -1;
}

void weave_worker_dispatch(struct weave_worker *w)
{
    struct epoll_event evs[4];

    w->in_dispatch++;
    int n;
    do {
        n = epoll_wait(w->epfd, evs, 4, 0);
    } while (n < 0 && errno == EINTR);
    /* Pidfd last: the worker's final messages (DONE) are read first. */
    int pid_ready = 0;
    for (int i = 0; i < n; i++) {
        switch (evs[i].data.u64) {
        case TAG_SOCK:
            sock_ready(w);
            break;
        case TAG_PIDFD:
            pid_ready = 1;
            break;
        case TAG_TIMER:
            timer_ready(w);
            break;
        case TAG_KICK: {
            uint64_t v;
            while (read(w->kickfd, &v, sizeof v) < 0 && errno == EINTR)
                ;
            break;
        }
        default:
            break;
        }
    }
    if (pid_ready) {
        if (w->proc.sock >= 0)
            sock_ready(w); /* whatever it said before it ended */
        try_reap(w);
    }
    pump(w);
    w->in_dispatch--;

    /* Events last, one at a time: a callback may submit or cancel. */
    struct weave_job *job;
    while ((job = list_pop(&w->done)) != NULL) {
        deliver_started(w, job);
        w->ev.done(w->ev.ctx, job);
    }
    if (w->current != NULL)
        deliver_started(w, w->current);
    if (w->queue_dirty) {
        w->queue_dirty = 0;
        if (w->ev.queue_changed != NULL)
            w->ev.queue_changed(w->ev.ctx);
    }
    arm_timer(w);
}

void weave_worker_submit(struct weave_worker *w, struct weave_job *job)
{
    struct job_priv *p = calloc(1, sizeof *p);
    job->shm_fd = -1;
    job->failed = job->cancelled = 0;
    job->next = NULL;
    if (p == NULL) {
        job->priv = NULL;
        job->failed = 1;
        weave_error_set(&job->err, job->req.request_id, WEAVE_ERR_OUT_OF_MEMORY,
                        "out of memory queueing the request");
        list_push(&w->done, job);
        kick(w);
        return;
    }
    p->id = w->next_id++;
    p->memfd = -1;
    job->priv = p;
    list_push(&w->pending, job);
    w->queue_dirty = 1;
    w->in_dispatch++; /* events wait for dispatch; kick once below */
    pump(w);
    w->in_dispatch--;
    /* A wakeup only when there is news now: a failed job, a job that has
     * to wait (queue positions), or a started job that wants progress. A
     * job that went straight to an idle worker says so with its DONE. */
    if (w->done.head != NULL || w->pending.count > 0 ||
        (w->current != NULL && priv_of(w->current)->started_due &&
         (w->current->flags & WEAVE_GEN_FLAG_PROGRESS)))
        kick(w);
    else
        w->queue_dirty = 0;
    arm_timer(w);
}

int weave_worker_cancel(struct weave_worker *w, struct weave_job *job)
{
    if (list_remove(&w->pending, job)) {
        w->queue_dirty = 1;
        kick(w);
        return 1;
    }
    if (job != w->current || w->cancel_requested)
        return 0;
    w->cancel_requested = 1;
    struct ww_stop m = {.type = WW_STOP, .job_id = priv_of(job)->id};
    if (w->proc.sock >= 0 && ww_send(w->proc.sock, &m, sizeof m, -1, MSG_DONTWAIT) != 0)
        weave_debug(w->log, "worker: cannot send STOP: %s", strerror(errno));
    w->cancel_deadline_ms = weave_now_ms() + w->cfg.cancel_grace_ms;
    arm_timer(w);
    return 0;
}

uint32_t weave_worker_queue_depth(const struct weave_worker *w)
{
    return w->pending.count;
}

uint32_t weave_worker_queue_position(const struct weave_worker *w,
                                     const struct weave_job *job)
{
    uint32_t pos = 1;
    for (const struct weave_job *j = w->pending.head; j != NULL; j = j->next, pos++) {
        if (j == job)
            return pos;
    }
    return 0;
}

void weave_worker_get_status(const struct weave_worker *w,
                             struct weave_worker_status *st)
{
    memset(st, 0, sizeof *st);
    if (w->proc.pid == 0)
        st->state = weave_now_ms() < w->backoff_until_ms ? WEAVE_BACKEND_RESTARTING
                                                         : WEAVE_BACKEND_UNLOADED;
    else if (w->kill_reason == KILL_UNLOAD)
        st->state = WEAVE_BACKEND_UNLOADED;
    else
        st->state = w->ready ? WEAVE_BACKEND_LOADED : WEAVE_BACKEND_STARTING;
    st->pid = w->proc.pid;
    st->restarts = w->restarts;
    st->jobs_running = w->current != NULL ? 1 : 0;
    st->queue_depth = w->pending.count;
    snprintf(st->last_crash, sizeof st->last_crash, "%s", w->last_crash);
}

struct weave_job *weave_worker_take_pending(struct weave_worker *w)
{
    struct weave_job *head = w->pending.head;
    w->pending.head = w->pending.tail = NULL;
    w->pending.count = 0;
    return head;
}

/* Waits up to ms for the worker to end; 1 when reaped. */
static int wait_exit(struct weave_worker *w, uint64_t ms)
{
    uint64_t end = weave_now_ms() + ms;
    for (;;) {
        int status;
        pid_t r = waitpid(w->proc.pid, &status, WNOHANG);
        if (r == w->proc.pid || (r < 0 && errno == ECHILD))
            return 1;
        uint64_t now = weave_now_ms();
        if (now >= end)
            return 0;
        uint64_t left = end - now;
        if (w->proc.pidfd >= 0) {
            struct pollfd pfd = {.fd = w->proc.pidfd, .events = POLLIN};
            poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        } else {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

int weave_worker_stop(struct weave_worker *w, uint32_t wait_ms)
{
    int rc = 0;
    if (w == NULL)
        return 0;
    if (w->proc.pid != 0) {
        pid_t pid = w->proc.pid;
        close_sock(w); /* EOF: an idle worker exits at once */
        uint64_t grace = wait_ms / 2u;
        if (!wait_exit(w, w->current == NULL ? grace : 0)) {
            kill(pid, SIGTERM);
            if (!wait_exit(w, wait_ms - grace)) {
                weave_warn(w->log, "worker: pid %ld ignored SIGTERM; killing it",
                           (long)pid);
                kill(pid, SIGKILL);
                if (!wait_exit(w, 5000))
                    rc = -1;
            }
        }
        if (w->proc.pidfd >= 0)
            close(w->proc.pidfd);
        w->proc.pid = 0;
    }
    free_list(&w->pending);
    free_list(&w->done);
    weave_job_free(w->current);
    close(w->epfd);
    close(w->tfd);
    close(w->kickfd);
    free(w);
    return rc;
}
