/*
 * The worker process as the supervisor sees it (supervisor.h): starting
 * it, reading its messages, its timers (watchdog, cancel grace,
 * keep-alive, kill deadlines), and what its end means for the running job
 * and the queue: crash, kill, unload, back-off.
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

void sv_close_sock(struct weave_worker *w)
{
    if (w->proc.sock >= 0) {
        close(w->proc.sock); /* also leaves the epoll set */
        w->proc.sock = -1;
    }
    w->ready = 0;
}

void sv_kill_worker(struct weave_worker *w, enum kill_reason why)
{
    if (w->proc.pid == 0)
        return;
    if (w->kill_reason == KILL_NONE || why == KILL_TIMEOUT)
        w->kill_reason = why;
    /* The pid cannot be reused before we reap it. */
    kill(w->proc.pid, SIGKILL);
}

int sv_spawn(struct weave_worker *w, char *err, size_t errlen)
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
    /* A backend whose init hangs would hold the queue forever: the
     * generation timeout bounds the start too. */
    w->ready_deadline_ms = w->cfg.generation_timeout_ms != 0
                               ? t0 + w->cfg.generation_timeout_ms : 0;
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

void sv_fail_unavailable(struct weave_worker *w, uint64_t now)
{
    char msg[WEAVE_MAX_ERROR_MESSAGE + 1];
    uint64_t left = w->backoff_until_ms > now ? w->backoff_until_ms - now : 0;
    snprintf(msg, sizeof msg, "backend unavailable: %s; retrying in %llu.%llu s",
             w->backoff_reason, (unsigned long long)(left / 1000u),
             (unsigned long long)(left % 1000u / 100u));
    sv_fail_pending(w, msg);
}


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
    sv_close_sock(w);
    pid_t pid = w->proc.pid;
    w->proc.pid = 0;
    w->ready_deadline_ms = 0;
    w->proc.pidfd = -1;
    w->kill_reason = KILL_NONE;
    w->kill_deadline_ms = 0;
    w->current = NULL;
    w->job_deadline_ms = w->cancel_deadline_ms = 0;
    w->idle_deadline_ms = 0;

    if (why == KILL_UNLOAD) {
        weave_debug(w->log, "worker: pid %ld unloaded (%s)", (long)pid, what);
        if (job != NULL)
            sv_fail(w, job, WEAVE_ERR_GPU, "backend unloaded during the job");
        sv_pump(w);
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
        sv_fail(w, job, WEAVE_ERR_TIMEOUT, msg);
    } else if (why == KILL_CANCEL && job != NULL) {
        job->cancelled = 1;
        sv_fail(w, job, WEAVE_ERR_TIMEOUT, "cancelled");
    } else if (why == KILL_NONE || why == KILL_BROKEN || why == KILL_STARTUP) {
        const char *desc = what;
        char init[WW_TEXT_MAX + 32];
        if (why == KILL_BROKEN) {
            desc = "backend broke the worker protocol (malformed message); "
                   "worker killed";
        } else if (why == KILL_STARTUP) {
            snprintf(init, sizeof init, "backend did not start within %llu ms; "
                     "worker killed",
                     (unsigned long long)w->cfg.generation_timeout_ms);
            desc = init;
        } else if (w->init_error[0] != '\0') {
            snprintf(init, sizeof init, "backend init failed: %s", w->init_error);
            desc = init;
        }
        snprintf(w->last_crash, sizeof w->last_crash, "%.255s", desc);
        if (job != NULL) {
            weave_warn(w->log, "worker: pid %ld %s during request_id=%llu",
                       (long)pid, desc, (unsigned long long)job->req.request_id);
            sv_fail(w, job, WEAVE_ERR_GPU, desc);
        } else {
            weave_warn(w->log, "worker: pid %ld %s while %s", (long)pid, desc,
                       w->ready ? "idle" : "starting");
        }
        if (crash_loop(w, now)) {
            start_backoff(w, now);
            sv_fail_unavailable(w, now);
        }
    } else if (job != NULL) { /* killed with no job to blame */
        sv_fail(w, job, WEAVE_ERR_GPU, what);
    }
    sv_pump(w);
}

void sv_try_reap(struct weave_worker *w)
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

void sv_unload(struct weave_worker *w, const char *why)
{
    weave_info(w->log, "worker: unloading pid %ld (%s)", (long)w->proc.pid, why);
    sv_close_sock(w); /* EOF: the worker shuts its backend down and exits */
    w->kill_reason = KILL_UNLOAD;
    w->kill_deadline_ms = weave_now_ms() + UNLOAD_GRACE_MS;
    w->idle_deadline_ms = 0;
}

/* Moves things along: start a worker, send the next job, or go idle. */
void sv_pump(struct weave_worker *w)
{
    uint64_t now = weave_now_ms();

    if (w->proc.pid == 0) {
        if (w->pending.head == NULL)
            return; /* lazy: the next job starts one */
        if (now < w->backoff_until_ms) {
            sv_fail_unavailable(w, now);
            return;
        }
        char err[160], msg[WEAVE_MAX_ERROR_MESSAGE + 1];
        if (sv_spawn(w, err, sizeof err) != 0) {
            weave_error(w->log, "worker: cannot start: %s", err);
            snprintf(msg, sizeof msg, "backend unavailable: cannot start the "
                     "worker: %s", err);
            sv_fail_pending(w, msg);
        }
        return; /* wait for READY */
    }
    if (!w->ready || w->current != NULL || w->kill_reason != KILL_NONE)
        return;
    while (w->pending.head != NULL) {
        struct weave_job *job = sv_list_pop(&w->pending);
        w->queue_dirty = 1;
        int rc = sv_send_job(w, job);
        if (rc > 0) {
            sv_list_push_front(&w->pending, job); /* for the next worker */
            return;
        }
        if (rc < 0) {
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
        sv_priv_of(job)->started_due = 1;
        if (job->flags & WEAVE_GEN_FLAG_PROGRESS)
            sv_kick(w);
        return;
    }
    if (w->cfg.keep_alive_ms == 0)
        sv_unload(w, "keep-alive 0: unload after every job");
    else if (w->cfg.keep_alive_ms > 0 && w->idle_deadline_ms == 0)
        w->idle_deadline_ms = now + (uint64_t)w->cfg.keep_alive_ms;
}

/* ---- messages from the worker ------------------------------------------ */

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
        w->ready_deadline_ms = 0;
        weave_debug(w->log, "worker: pid %ld ready in %llu ms",
                    (long)w->proc.pid,
                    (unsigned long long)(weave_now_ms() - w->spawned_ms));
        sv_pump(w);
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
        if (w->current == NULL || s.job_id != sv_priv_of(w->current)->id ||
            s.steps == 0 || s.step == 0 || s.step > s.steps)
            break;
        sv_deliver_started(w, w->current);
        if (w->ev.step != NULL)
            w->ev.step(w->ev.ctx, w->current, s.step, s.steps, s.elapsed_ms);
        return;
    }
    case WW_DONE: {
        struct ww_done d;
        if (n != sizeof d)
            break;
        memcpy(&d, buf, sizeof d);
        if (w->current == NULL || d.job_id != sv_priv_of(w->current)->id)
            break;
        sv_job_done(w, &d);
        sv_pump(w);
        return;
    }
    default:
        break;
    }
    weave_warn(w->log, "worker: pid %ld sent a bad message (type %u, %zu "
               "bytes); killing it", (long)w->proc.pid, (unsigned)type, n);
    sv_kill_worker(w, KILL_BROKEN);
}

void sv_sock_ready(struct weave_worker *w)
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
            sv_close_sock(w);
            if (w->kill_deadline_ms == 0)
                w->kill_deadline_ms = weave_now_ms() + EOF_GRACE_MS;
            sv_try_reap(w);
            return;
        }
        on_message(w, buf, (size_t)n);
    }
}

void sv_timer_ready(struct weave_worker *w)
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
        sv_kill_worker(w, KILL_TIMEOUT);
    }
    if (w->cancel_deadline_ms != 0 && now >= w->cancel_deadline_ms) {
        w->cancel_deadline_ms = 0;
        if (w->current != NULL) {
            weave_warn(w->log, "worker: backend ignored the cancel of "
                       "request_id=%llu for %u ms; killing pid %ld",
                       (unsigned long long)w->current->req.request_id,
                       (unsigned)w->cfg.cancel_grace_ms, (long)w->proc.pid);
            sv_kill_worker(w, KILL_CANCEL);
        }
    }
    if (w->ready_deadline_ms != 0 && now >= w->ready_deadline_ms) {
        w->ready_deadline_ms = 0;
        if (w->proc.pid != 0 && !w->ready && w->kill_reason == KILL_NONE) {
            weave_warn(w->log, "worker: pid %ld not ready after %llu ms; "
                       "killing it", (long)w->proc.pid,
                       (unsigned long long)w->cfg.generation_timeout_ms);
            sv_kill_worker(w, KILL_STARTUP);
        }
    }
    if (w->pool_deadline_ms != 0 && now >= w->pool_deadline_ms) {
        w->pool_deadline_ms = 0;
        sv_pool_drain(w->pool); /* idle: give the image memory back */
    }
    if (w->idle_deadline_ms != 0 && now >= w->idle_deadline_ms) {
        w->idle_deadline_ms = 0;
        if (w->current == NULL && w->pending.head == NULL && w->ready &&
            w->kill_reason == KILL_NONE) {
            char why[64];
            snprintf(why, sizeof why, "idle for %lld ms",
                     (long long)w->cfg.keep_alive_ms);
            sv_unload(w, why);
        }
    }
    if (w->kill_deadline_ms != 0 && now >= w->kill_deadline_ms) {
        w->kill_deadline_ms = 0;
        if (w->proc.pid != 0) {
            weave_warn(w->log, "worker: pid %ld did not exit; killing it",
                       (long)w->proc.pid);
            sv_kill_worker(w, w->kill_reason == KILL_NONE ? KILL_UNLOAD
                                                       : w->kill_reason);
        }
    }
    if (w->proc.pid != 0 && w->proc.pidfd < 0)
        sv_try_reap(w);
}
