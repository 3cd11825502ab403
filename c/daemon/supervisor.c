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
#include "supervisor.h"

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

#include "daemon/clock.h"

/* ---- timers and wakeups ------------------------------------------------- */

uint64_t sv_earlier(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    return (b != 0 && b < a) ? b : a;
}

/* Arms the timerfd for the nearest deadline (or disarms it). */
void sv_arm_timer(struct weave_worker *w)
{
    uint64_t next = 0;
    next = sv_earlier(next, w->job_deadline_ms);
    next = sv_earlier(next, w->cancel_deadline_ms);
    next = sv_earlier(next, w->kill_deadline_ms);
    next = sv_earlier(next, w->ready_deadline_ms);
    next = sv_earlier(next, w->idle_deadline_ms);
    next = sv_earlier(next, w->pool_deadline_ms);
    if (w->proc.pid != 0 && w->proc.pidfd < 0)
        next = sv_earlier(next, weave_now_ms() + REAP_POLL_MS);
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
void sv_kick(struct weave_worker *w)
{
    if (w->in_dispatch)
        return;
    uint64_t one = 1;
    while (write(w->kickfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
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
    w->pool = sv_pool_new(w);
    if (w->pool == NULL) {
        snprintf(err, errlen, "out of memory");
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
    sv_pool_close(w->pool);
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
            sv_sock_ready(w);
            break;
        case TAG_PIDFD:
            pid_ready = 1;
            break;
        case TAG_TIMER:
            sv_timer_ready(w);
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
            sv_sock_ready(w); /* whatever it said before it ended */
        sv_try_reap(w);
    }
    sv_pump(w);
    w->in_dispatch--;

    /* Events last, one at a time: a callback may submit or cancel. */
    struct weave_job *job;
    while ((job = sv_list_pop(&w->done)) != NULL) {
        sv_deliver_started(w, job);
        w->ev.done(w->ev.ctx, job);
    }
    if (w->current != NULL)
        sv_deliver_started(w, w->current);
    if (w->queue_dirty) {
        w->queue_dirty = 0;
        if (w->ev.queue_changed != NULL)
            w->ev.queue_changed(w->ev.ctx);
    }
    sv_arm_timer(w);
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
        sv_list_push(&w->done, job);
        sv_kick(w);
        return;
    }
    p->id = w->next_id++;
    p->memfd = -1;
    job->priv = p;
    sv_list_push(&w->pending, job);
    w->queue_dirty = 1;
    w->in_dispatch++; /* events wait for dispatch; kick once below */
    sv_pump(w);
    w->in_dispatch--;
    /* A wakeup only when there is news now: a failed job, a job that has
     * to wait (queue positions), or a started job that wants progress. A
     * job that went straight to an idle worker says so with its DONE. */
    if (w->done.head != NULL || w->pending.count > 0 ||
        (w->current != NULL && sv_priv_of(w->current)->started_due &&
         (w->current->flags & WEAVE_GEN_FLAG_PROGRESS)))
        sv_kick(w);
    else
        w->queue_dirty = 0;
    sv_arm_timer(w);
}

int weave_worker_cancel(struct weave_worker *w, struct weave_job *job)
{
    if (sv_list_remove(&w->pending, job)) {
        w->queue_dirty = 1;
        sv_kick(w);
        return 1;
    }
    if (job != w->current || w->cancel_requested)
        return 0;
    w->cancel_requested = 1;
    struct ww_stop m = {.type = WW_STOP, .job_id = sv_priv_of(job)->id};
    if (w->proc.sock >= 0 && ww_send(w->proc.sock, &m, sizeof m, -1, MSG_DONTWAIT) != 0)
        weave_debug(w->log, "worker: cannot send STOP: %s", strerror(errno));
    w->cancel_deadline_ms = weave_now_ms() + w->cfg.cancel_grace_ms;
    sv_arm_timer(w);
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
    st->generations = w->generations;
    st->generation_us = w->generation_us;
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
        sv_close_sock(w); /* EOF: an idle worker exits at once */
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
    sv_free_list(&w->pending);
    sv_free_list(&w->done);
    weave_job_free(w->current);
    sv_pool_close(w->pool); /* jobs the loop still holds release theirs */
    close(w->epfd);
    close(w->tfd);
    close(w->kickfd);
    free(w);
    return rc;
}
