/*
 * The epoll loop; see weave/server.h and the state diagram in weave/conn.h.
 * This file: setup, the loop itself, deadlines, signals and shutdown. The
 * listener is in server_accept.c, connections and replies in server_conn.c.
 *
 * Everything here runs on one thread. Generation happens in the worker
 * process (weave/worker.h), which never touches connections: the loop polls
 * its one descriptor and gets finished jobs back through its done event.
 */
#define _GNU_SOURCE
#include "weave/server.h"

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
#include "weave/clock.h"
#include "weave/exitcodes.h"

#define MAX_EVENTS 64

int server_epoll_set(struct server *s, int op, int fd, uint32_t events,
                     uint64_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = tag;
    return epoll_ctl(s->epfd, op, fd, &ev);
}

struct weave_conn *server_find_conn(struct server *s, uint64_t tag)
{
    uint32_t slot = (uint32_t)tag;
    if ((tag >> 32) == 0 || slot >= s->nslots)
        return NULL;
    struct weave_conn *c = s->slots[slot];
    return (c != NULL && c->tag == tag) ? c : NULL;
}

/* The free slots are a stack in s->free_slots[0 .. nslots - nconns). */
uint32_t server_take_slot(struct server *s, struct weave_conn *c)
{
    uint32_t slot = s->free_slots[s->nslots - s->nconns - 1];
    s->slots[slot] = c;
    s->nconns++;
    return slot;
}

void server_free_slot(struct server *s, uint32_t slot)
{
    s->slots[slot] = NULL;
    s->nconns--;
    s->free_slots[s->nslots - s->nconns - 1] = slot;
}

/* Returns 1 when a warning of this kind may be printed now. */
int server_warn_due(uint64_t *last, uint64_t now)
{
    if (*last != 0 && now - *last < WARN_INTERVAL_MS)
        return 0;
    *last = now;
    return 1;
}

/* ---- deadlines -------------------------------------------------------- */

/*
 * Deadlines are kept in two intrusive lists, each in deadline order, so the
 * loop never scans the max_connections slots (up to 65536): the nearest
 * deadline is a list head, O(1), and setting or clearing one is O(1).
 *
 * Why lists and not a heap: every read deadline is accept time + the same
 * read timeout, and every write deadline is the time the reply was ready +
 * the same write timeout. Appending at the tail with a monotonic clock
 * therefore keeps each list sorted by construction (FIFO = deadline order);
 * a single list would not be, since the two timeouts differ. Connections
 * that are WORKING have no deadline and are on no list.
 *
 * Insertion still walks back from the tail past later deadlines: with the
 * clock and timeouts as they are it never moves (O(1)), and should a caller
 * ever pass an earlier deadline the list stays sorted instead of a timeout
 * being missed.
 */

static void list_unlink(struct weave_conn *c)
{
    struct weave_conn_list *l = c->dl_list;

    if (l == NULL)
        return;
    if (c->dl_prev != NULL)
        c->dl_prev->dl_next = c->dl_next;
    else
        l->head = c->dl_next;
    if (c->dl_next != NULL)
        c->dl_next->dl_prev = c->dl_prev;
    else
        l->tail = c->dl_prev;
    c->dl_list = NULL;
    c->dl_prev = c->dl_next = NULL;
}

/* Inserts c after the last entry whose deadline is not later than c's. */
static void list_insert_sorted(struct weave_conn_list *l, struct weave_conn *c)
{
    struct weave_conn *after = l->tail;

    while (after != NULL && after->deadline_ms > c->deadline_ms)
        after = after->dl_prev;
    c->dl_list = l;
    c->dl_prev = after;
    c->dl_next = after != NULL ? after->dl_next : l->head;
    if (c->dl_next != NULL)
        c->dl_next->dl_prev = c;
    else
        l->tail = c;
    if (after != NULL)
        after->dl_next = c;
    else
        l->head = c;
}

void server_set_deadline(struct weave_conn_list *list, struct weave_conn *c,
                         uint64_t deadline_ms)
{
    list_unlink(c);
    c->deadline_ms = deadline_ms;
    list_insert_sorted(list, c);
}

void server_clear_deadline(struct weave_conn *c)
{
    list_unlink(c);
    c->deadline_ms = 0;
}

static void expire(struct server *s, uint64_t now)
{
    struct weave_conn *c;

    while ((c = s->writing.head) != NULL && now >= c->deadline_ms) {
        /* The client's problem, not ours: INFO, not ERROR. */
        weave_info(s->log, "write deadline: pid=%ld took %zu of %zu bytes in "
                   "%u ms; closing", (long)c->peer.pid, c->out_sent,
                   c->out_len, (unsigned)s->cfg->write_timeout_ms);
        server_close_conn(s, c);
    }
    /* Each one leaves s->reading: replying moves it to s->writing (with a
     * deadline in the future) or closes it. */
    while ((c = s->reading.head) != NULL && now >= c->deadline_ms)
        server_read_deadline(s, c);
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

    if (s->reading.head != NULL)
        next = s->reading.head->deadline_ms;
    if (s->writing.head != NULL)
        next = earlier(next, s->writing.head->deadline_ms);
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
        struct weave_conn *c = server_find_conn(s, job->conn_tag);
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
     * the connections on s->reading). Connections with a job in progress or
     * a reply on its way get until the deadline. */
    while (s->reading.head != NULL)
        server_close_conn(s, s->reading.head);
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
    s->nslots = p->cfg->max_connections;

    /* Block before the worker starts so it inherits the mask and the
     * signals only ever arrive through the signalfd. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
        weave_error(s->log, "cannot block signals");
        return -1;
    }
    s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->slots = calloc(s->nslots, sizeof *s->slots);
    s->free_slots = calloc(s->nslots, sizeof *s->free_slots);
    if (s->sigfd < 0 || s->epfd < 0 || s->slots == NULL || s->free_slots == NULL) {
        weave_error(s->log, "event loop setup: %s", strerror(errno));
        return -1;
    }
    /* Slot 0 on top; from then on the slot freed last is reused first. */
    for (uint32_t i = 0; i < s->nslots; i++)
        s->free_slots[i] = s->nslots - 1 - i;
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
        .done = server_job_done,
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

    for (uint32_t i = 0; s->slots != NULL && i < s->nslots; i++) {
        if (s->slots[i] != NULL) {
            weave_debug(s->log, "closing connection from pid=%ld at exit",
                        (long)s->slots[i]->peer.pid);
            server_close_conn(s, s->slots[i]);
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
    free(s->slots);
    free(s->free_slots);
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
        struct weave_conn *c = server_find_conn(s, ev->data.u64);
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
        if (s.stopping && (s.nconns == 0 || now >= s.stop_deadline_ms))
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
    if (s.stopping && s.nconns > 0)
        weave_info(s.log, "shutdown timeout (%u ms): closing %u connections",
                   (unsigned)s.cfg->shutdown_timeout_ms, (unsigned)s.nconns);
    if (!s.stopping)
        server_stop_listening(&s);
    *backend_busy = teardown(&s);
    return rc;
}
