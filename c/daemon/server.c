/*
 * The epoll loop; see server.h and the state diagram in conn.h.
 * This file: setup, the loop itself, deadlines, signals and shutdown. The
 * listener is in server_accept.c, connections and replies in server_conn.c,
 * the connection table and deadline lists in conn_table.c. Calls run one
 * way: server.c -> server_accept.c -> server_conn.c -> conn_table.c.
 *
 * Everything here runs on one thread. Generation happens in the worker
 * process (worker.h), which never touches connections: the loop polls
 * its one descriptor and gets finished jobs back through its done event.
 */
#define _GNU_SOURCE
#include "daemon/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "server_internal.h"
#include "daemon/clock.h"
#include "daemon/exitcodes.h"

#define MAX_EVENTS 64

static void expire(struct server *s, uint64_t now)
{
    struct weave_conn *c;

    while ((c = s->conns.writing.head) != NULL && now >= c->deadline_ms)
        server_write_deadline(s, c);
    /* Each one leaves the reading list: replying moves it to the writing
     * list (with a deadline in the future) or closes it. */
    while ((c = s->conns.reading.head) != NULL && now >= c->deadline_ms)
        server_read_deadline(s, c);
    /* Each one moves to the tail with a due time in the future, or is
     * closed: the loop ends. */
    while ((c = s->conns.heartbeats.head) != NULL && now >= c->hb_due_ms)
        server_conn_heartbeat(s, c);
}

/* The earlier of two deadlines, 0 meaning none. */
static uint64_t earlier(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    return (b != 0 && b < a) ? b : a;
}

/* epoll_wait timeout: until the nearest deadline, or forever (-1). */
static int next_timeout(const struct server *s, uint64_t now)
{
    uint64_t next = 0;

    if (s->conns.reading.head != NULL)
        next = s->conns.reading.head->deadline_ms;
    if (s->conns.writing.head != NULL)
        next = earlier(next, s->conns.writing.head->deadline_ms);
    if (s->conns.heartbeats.head != NULL)
        next = earlier(next, s->conns.heartbeats.head->hb_due_ms);
    next = earlier(next, s->accept_resume_ms);
    if (s->stopping)
        next = earlier(next, s->stop_deadline_ms);
    if (next == 0)
        return -1;
    if (next <= now)
        return 0;
    uint64_t wait = next - now;
    return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

/* ---- shutdown --------------------------------------------------------- */

static const char *signal_name(int signo)
{
    return signo == SIGTERM ? "SIGTERM" : signo == SIGINT ? "SIGINT" : "signal";
}

static void begin_shutdown(struct server *s, int signo)
{
    uint64_t now = weave_now_ms();

    if (s->stopping) {
        weave_info(s->log, "second %s: exiting now", signal_name(signo));
        s->stop_deadline_ms = now;
        return;
    }
    weave_info(s->log, "shutting down (%s)", signal_name(signo));
    s->stopping = 1;
    s->stop_deadline_ms = now + s->cfg->shutdown_timeout_ms;
    server_stop_listening(s);

    /* Queued jobs are abandoned: their clients see the connection close. */
    struct weave_job *job = weave_worker_take_pending(s->worker);
    while (job != NULL) {
        struct weave_job *next = job->next;
        struct weave_conn *c = weave_conn_table_find(&s->conns, job->conn_tag);
        if (c != NULL) {
            weave_debug(s->log, "abandoning queued request_id=%llu",
                        (unsigned long long)job->req.request_id);
            c->job = NULL;
            server_close_conn(s, c);
        }
        weave_job_free(job);
        job = next;
    }
    /* Requests still arriving will not be served either (they are exactly
     * the connections on s->conns.reading). Connections with a job in progress or
     * a reply on its way get until the deadline. */
    while (s->conns.reading.head != NULL)
        server_close_conn(s, s->conns.reading.head);
}

static void signal_ready(struct server *s)
{
    struct signalfd_siginfo si;

    for (;;) {
        ssize_t n = read(s->sigfd, &si, sizeof si);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof si)
            return; /* EAGAIN: all read */
        begin_shutdown(s, (int)si.ssi_signo);
    }
}

/* ---- setup and the loop ----------------------------------------------- */

static int setup(struct server *s, const struct weave_server_params *p)
{
    sigset_t mask;

    memset(s, 0, sizeof *s);
    s->epfd = s->sigfd = s->reserve_fd = -1;
    s->cfg = p->cfg;
    s->log = p->log;
    s->backend = p->backend;
    s->listener = p->listener;
    s->uid = geteuid();
    s->started_ms = weave_now_ms();

    /* The caller blocked these in every thread (server.h), so they only
     * ever arrive through the signalfd. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->sigfd < 0 || s->epfd < 0 ||
        weave_conn_table_init(&s->conns, p->cfg->max_connections) != 0) {
        weave_error(s->log, "event loop setup: %s", strerror(errno));
        return -1;
    }
    /* Missing is survivable: EMFILE then pauses the listener instead. */
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    char err[256];
    struct weave_worker_config wcfg = {
        .step_delay_ms = p->cfg->step_delay_ms,
        .generation_timeout_ms = p->cfg->generation_timeout_ms,
        .keep_alive_ms = p->cfg->keep_alive_ms,
        .cancel_grace_ms = WEAVE_DEFAULT_CANCEL_GRACE_MS,
        .log_level = p->log->level,
    };
    struct weave_worker_events events = {
        .ctx = s,
        .started = server_job_started,
        .step = server_job_step,
        .done = server_job_done,
        .queue_changed = server_queue_changed,
    };
    if (weave_worker_start(&s->worker, &wcfg, p->backend, p->log, &events,
                           err, sizeof err) != 0) {
        weave_error(s->log, "%s", err);
        return -1;
    }
    if (server_epoll_set(s, EPOLL_CTL_ADD, s->sigfd, EPOLLIN, TAG_SIGNAL) != 0 ||
        server_epoll_set(s, EPOLL_CTL_ADD, weave_worker_fd(s->worker), EPOLLIN,
                  TAG_WORKER) != 0 ||
        server_epoll_set(s, EPOLL_CTL_ADD, s->listener->fd, EPOLLIN, TAG_LISTENER) != 0) {
        weave_error(s->log, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    s->listener_polled = 1;
    return 0;
}

/* Returns 1 when the worker could not be reaped (never, in practice: the
 * worker process is killed at the deadline). */
static int teardown(struct server *s)
{
    int abandoned = 0;

    for (uint32_t i = 0; s->conns.slots != NULL && i < s->conns.nslots; i++) {
        struct weave_conn *c = s->conns.slots[i];
        if (c != NULL) {
            weave_debug(s->log, "closing connection from pid=%ld at exit",
                        (long)c->peer.pid);
            server_close_conn(s, c);
        }
    }
    if (s->worker != NULL) {
        uint64_t now = weave_now_ms();
        uint64_t left = s->stop_deadline_ms > now ? s->stop_deadline_ms - now : 0;
        /* A small grace even at the deadline: the job is usually done. */
        if (weave_worker_stop(s->worker, (uint32_t)left + 50u) != 0) {
            weave_warn(s->log, "worker process still running at exit");
            abandoned = 1;
        }
        s->worker = NULL;
    }
    weave_conn_table_free(&s->conns);
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    if (s->sigfd >= 0)
        close(s->sigfd);
    if (s->epfd >= 0)
        close(s->epfd);
    return abandoned;
}

static void dispatch(struct server *s, const struct epoll_event *ev)
{
    switch (ev->data.u64) {
    case TAG_LISTENER:
        server_accept_ready(s);
        return;
    case TAG_SIGNAL:
        signal_ready(s);
        return;
    case TAG_WORKER:
        weave_worker_dispatch(s->worker);
        return;
    default: {
        /* NULL when an earlier event of this batch closed it. */
        struct weave_conn *c = weave_conn_table_find(&s->conns, ev->data.u64);
        if (c != NULL)
            server_conn_event(s, c, ev->events);
        return;
    }
    }
}

int weave_server_run(const struct weave_server_params *p, int *backend_busy)
{
    struct server s;
    struct epoll_event events[MAX_EVENTS];
    int rc = WEAVE_EXIT_OK;

    if (setup(&s, p) != 0) {
        *backend_busy = teardown(&s);
        return WEAVE_EXIT_RUNTIME;
    }
    weave_info(s.log, "listening on %s", p->listen_name);

    for (;;) {
        uint64_t now = weave_now_ms();
        if (s.stopping && (s.conns.nconns == 0 || now >= s.stop_deadline_ms))
            break;
        int n = epoll_wait(s.epfd, events, MAX_EVENTS, next_timeout(&s, now));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            weave_error(s.log, "epoll_wait: %s", strerror(errno));
            rc = WEAVE_EXIT_RUNTIME;
            break;
        }
        for (int i = 0; i < n; i++)
            dispatch(&s, &events[i]);
        now = weave_now_ms();
        expire(&s, now);
        server_resume_accept(&s, now);
    }
    if (s.stopping && s.conns.nconns > 0)
        weave_info(s.log, "shutdown timeout (%u ms): closing %u connections",
                   (unsigned)s.cfg->shutdown_timeout_ms, (unsigned)s.conns.nconns);
    if (!s.stopping)
        server_stop_listening(&s);
    *backend_busy = teardown(&s);
    return rc;
}
