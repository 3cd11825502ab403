/*
 * The connection side of the event loop: reading requests, answering status
 * requests, queueing generate jobs, taking their results back from the
 * worker, and writing replies. State diagram: conn.h.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server_internal.h"
#include "daemon/clock.h"
#include "weave/protocol.h"

/* Registers c with epoll on first use (a connection whose request and
 * reply go through at once never is), else changes its interest. Returns 0,
 * or -1 when c has been closed and freed: the caller must not touch c again. */
static int set_interest(struct server *s, struct weave_conn *c,
                        uint32_t events)
{
    if (c->polled && c->events == events)
        return 0;
    int op = c->polled ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (server_epoll_set(s, op, c->fd, events, c->tag) != 0) {
        /* ENOMEM (or ENOSPC: max_user_watches); without it we would never
         * hear from the client again, so give up on the connection. */
        weave_warn(s->log, "epoll_ctl: %s; closing connection", strerror(errno));
        server_close_conn(s, c);
        return -1;
    }
    c->polled = 1;
    c->events = events;
    return 0;
}

static void finish_conn(struct server *s, struct weave_conn *c)
{
    s->served++;
    weave_debug(s->log, "reply of %zu bytes sent to pid=%ld; closing",
                c->out_len, (long)c->peer.pid);
    server_close_conn(s, c);
}

/* The reply is in c->out: start the write deadline and try at once (the
 * socket is usually writable, which saves a trip through epoll). */
static void start_writing(struct server *s, struct weave_conn *c)
{
    c->state = WEAVE_CONN_WRITING;
    weave_heartbeat_clear(&s->conns, c); /* the reply is the last message */
    weave_deadline_set(&s->conns.writing, c, weave_now_ms() + s->cfg->write_timeout_ms);
    switch (weave_conn_write(c, NULL)) {
    case WEAVE_IO_DONE:
        finish_conn(s, c);
        return;
    case WEAVE_IO_AGAIN:
        set_interest(s, c, EPOLLOUT);
        return;
    default:
        weave_debug(s->log, "write to pid=%ld failed: %s; closing",
                    (long)c->peer.pid, strerror(errno));
        server_close_conn(s, c);
        return;
    }
}

static void reply_error(struct server *s, struct weave_conn *c,
                        const struct weave_error *err)
{
    weave_conn_reply_error(c, err);
    start_writing(s, c);
}

static void reply_status(struct server *s, struct weave_conn *c, uint64_t id)
{
    const char *version = WEAVE_DAEMON_VERSION;
    struct weave_status_response r = {
        .request_id = id,
        .status = WEAVE_STATUS_OK,
        .version_min = WEAVE_SERVED_VERSION_MIN,
        .version_max = WEAVE_SERVED_VERSION_MAX,
        .uptime_ms = weave_now_ms() - s->started_ms,
        .requests_served = s->served,
        .connections_open = s->conns.nconns,
        .max_connections = s->conns.nslots,
        .queue_depth = weave_worker_queue_depth(s->worker),
        .backend = {(const uint8_t *)s->backend->name,
                    (uint32_t)strlen(s->backend->name)},
        .daemon_version = {(const uint8_t *)version, (uint32_t)strlen(version)},
    };
    /* The 11.6 fields; the encoder writes them in a version-2 header only. */
    struct weave_worker_status ws;
    weave_worker_get_status(s->worker, &ws);
    size_t crash_len = strnlen(ws.last_crash, sizeof ws.last_crash);
    if (crash_len > WEAVE_MAX_STATUS_STRING)
        crash_len = WEAVE_MAX_STATUS_STRING;
    r.daemon_pid = (uint32_t)getpid();
    r.features = WEAVE_SERVED_FLAGS;
    r.backend_state = (uint16_t)ws.state;
    r.worker_pid = ws.pid > 0 ? (uint32_t)ws.pid : 0;
    r.worker_restarts = ws.restarts;
    r.jobs_running = ws.jobs_running;
    r.last_crash.data = (const uint8_t *)ws.last_crash;
    r.last_crash.len = (uint32_t)crash_len;
    r.has_totals = 1;
    r.generations = ws.generations;
    r.generation_us = ws.generation_us;
    size_t n = weave_encode_status_response(c->small, sizeof c->small,
                                            weave_conn_reply_version(c), &r);
    if (n == 0) {
        struct weave_error err;
        weave_error_set(&err, id, WEAVE_ERR_INTERNAL, "cannot encode status");
        reply_error(s, c, &err);
        return;
    }
    weave_conn_reply_small(c, n);
    start_writing(s, c);
}

/* ---- messages before the reply (SPEC 11.3) ---------------------------- */

static uint32_t ms_since(uint64_t t0, uint64_t now)
{
    uint64_t d = now > t0 ? now - t0 : 0;
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* Each returns -1 when c has been closed (server_conn_note). */
static int note_queued(struct server *s, struct weave_conn *c, uint32_t position)
{
    uint8_t buf[WEAVE_HEADER_SIZE + WEAVE_QUEUED_SIZE];
    uint32_t depth = weave_worker_queue_depth(s->worker);
    struct weave_queued q = {
        .request_id = c->request_id,
        .position = position,
        .queue_depth = depth < position ? position : depth,
    };
    size_t n = weave_encode_queued(buf, sizeof buf, &q);
    c->position = position;
    return n > 0 ? server_conn_note(s, c, buf, n) : 0;
}

static int note_heartbeat(struct server *s, struct weave_conn *c)
{
    uint8_t buf[WEAVE_HEADER_SIZE + WEAVE_HEARTBEAT_SIZE];
    struct weave_heartbeat h = {
        .request_id = c->request_id,
        .phase = c->started ? WEAVE_PHASE_RUNNING : WEAVE_PHASE_QUEUED,
        .elapsed_ms = ms_since(c->read_ms, weave_now_ms()),
    };
    size_t n = weave_encode_heartbeat(buf, sizeof buf, &h);
    return n > 0 ? server_conn_note(s, c, buf, n) : 0;
}

static int note_progress(struct server *s, struct weave_conn *c, uint32_t step,
                         uint32_t steps, uint32_t elapsed_ms)
{
    uint8_t buf[WEAVE_HEADER_SIZE + WEAVE_PROGRESS_SIZE];
    struct weave_progress p = {
        .request_id = c->request_id,
        .step = step,
        .steps = steps,
        .elapsed_ms = elapsed_ms,
    };
    size_t n = weave_encode_progress(buf, sizeof buf, &p);
    return n > 0 ? server_conn_note(s, c, buf, n) : 0;
}

/* The connection still waiting for job, or NULL (it left). */
static struct weave_conn *waiting_conn(struct server *s, const struct weave_job *job)
{
    struct weave_conn *c = weave_conn_table_find(&s->conns, job->conn_tag);
    if (c == NULL || c->state != WEAVE_CONN_WORKING || c->job != job)
        return NULL;
    return c;
}

void server_job_started(void *ctx, struct weave_job *job)
{
    struct server *s = ctx;
    struct weave_conn *c = waiting_conn(s, job);

    if (c == NULL)
        return;
    c->started = 1;
    c->position = 0;
    if (c->flags & WEAVE_FLAG_PROGRESS)
        note_heartbeat(s, c); /* SPEC 11.3: phase 2 at once */
}

void server_job_step(void *ctx, struct weave_job *job, uint32_t step,
                     uint32_t steps, uint32_t elapsed_ms)
{
    struct server *s = ctx;
    struct weave_conn *c = waiting_conn(s, job);

    if (c == NULL || steps == 0 || step == 0 || step > steps)
        return;
    c->started = 1;
    c->step = step;
    c->steps = steps;
    if (c->flags & WEAVE_FLAG_PROGRESS)
        note_progress(s, c, step, steps, elapsed_ms);
}

/*
 * Positions moved: every connection still waiting with PROGRESS hears its
 * new one. Those are exactly the not-started connections on the heartbeat
 * list. A message moves its connection to the list's tail (its heartbeat
 * timer restarts), or closes it; so the next one is taken before, and the
 * walk ends at the tail it started with.
 */
void server_queue_changed(void *ctx)
{
    struct server *s = ctx;
    struct weave_conn *c = s->conns.heartbeats.head;
    struct weave_conn *last = s->conns.heartbeats.tail;

    while (c != NULL) {
        struct weave_conn *next = c->hb_next;
        int was_last = c == last;
        if (!c->started && c->job != NULL) {
            uint32_t pos = weave_worker_queue_position(s->worker, c->job);
            if (pos > 0 && pos != c->position)
                note_queued(s, c, pos);
        }
        if (was_last)
            break;
        c = next;
    }
}

void server_conn_heartbeat(struct server *s, struct weave_conn *c)
{
    if (c->state != WEAVE_CONN_WORKING) {
        weave_heartbeat_clear(&s->conns, c); /* cannot happen; never spin */
        return;
    }
    note_heartbeat(s, c); /* restarts the timer, or c is gone */
}

static void queue_generate(struct server *s, struct weave_conn *c,
                           const struct weave_request *req)
{
    /* Interest 0 first: still told about EPOLLHUP/EPOLLERR if the client
     * leaves. If that fails c is gone, and no job may name it (a submitted
     * job would be generated for nobody, and c used after free below). */
    if (set_interest(s, c, 0) != 0)
        return;
    struct weave_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        struct weave_error err;
        weave_error_set(&err, req->u.generate.request_id, WEAVE_ERR_OUT_OF_MEMORY,
                        "out of memory queueing the request");
        reply_error(s, c, &err);
        return;
    }
    job->conn_tag = c->tag;
    job->version = req->version;
    job->flags = c->flags;
    job->shm_fd = -1;
    job->req = req->u.generate; /* points into c->msg, which moves along */
    job->msg = c->msg;
    c->msg = NULL;
    c->job = job;
    c->state = WEAVE_CONN_WORKING;
    c->read_ms = weave_now_ms();
    weave_deadline_clear(c); /* generation takes what it takes */
    weave_worker_submit(s->worker, job);
    uint32_t pos = weave_worker_queue_position(s->worker, job);
    weave_debug(s->log, "request_id=%llu from pid=%ld queued (%u waiting)",
                (unsigned long long)job->req.request_id, (long)c->peer.pid,
                (unsigned)weave_worker_queue_depth(s->worker));
    if (c->flags & WEAVE_FLAG_PROGRESS) {
        /* Heard from within WEAVE_HEARTBEAT_MS from now on; waiting
         * behind others: told where at once (SPEC 11.3). */
        weave_heartbeat_set(&s->conns, c, c->read_ms + WEAVE_HEARTBEAT_MS);
        if (pos > 0)
            note_queued(s, c, pos);
    }
}

/* The whole request is in c->msg. */
static void on_message(struct server *s, struct weave_conn *c)
{
    struct weave_request req;
    struct weave_error err;

    if (weave_request_decode_versions(c->msg, c->msg_len, WEAVE_SERVED_VERSION_MIN,
                                      WEAVE_SERVED_VERSION_MAX, &req, &err) != 0) {
        weave_info(s->log, "refused request from pid=%ld: %u/%u %s: %s",
                   (long)c->peer.pid, (unsigned)err.status, (unsigned)err.code,
                   weave_error_code_name(err.code), err.message);
        reply_error(s, c, &err);
        return;
    }
    if (req.msg_type == WEAVE_MSG_STATUS_REQUEST) {
        c->request_id = req.u.status.request_id;
        reply_status(s, c, req.u.status.request_id);
        return;
    }
    if (req.msg_type == WEAVE_MSG_GENERATE_OPTIONS) {
        /* Flag bits we do not know are ignored (SPEC 11.2). */
        c->flags = req.flags & WEAVE_SERVED_FLAGS;
    } else if (req.msg_type != WEAVE_MSG_GENERATE_REQUEST) {
        /* The decoder only accepts these; be safe if that ever changes. */
        weave_error_set(&err, 0, WEAVE_ERR_UNKNOWN_TYPE,
                        "message type 0x%04X is not served here",
                        (unsigned)req.msg_type);
        reply_error(s, c, &err);
        return;
    }
    c->request_id = req.u.generate.request_id;
    queue_generate(s, c, &req);
}

static void on_readable(struct server *s, struct weave_conn *c)
{
    struct weave_error err;

    switch (weave_conn_read(c, &err)) {
    case WEAVE_IO_AGAIN:
        set_interest(s, c, EPOLLIN); /* closes c if that fails */
        return;
    case WEAVE_IO_DONE:
        on_message(s, c);
        return;
    case WEAVE_IO_REPLY:
        weave_info(s->log, "refused request from pid=%ld: %u/%u %s: %s",
                   (long)c->peer.pid, (unsigned)err.status, (unsigned)err.code,
                   weave_error_code_name(err.code), err.message);
        reply_error(s, c, &err);
        return;
    case WEAVE_IO_CLOSE:
        weave_debug(s->log, "connection from pid=%ld closed after %zu bytes",
                    (long)c->peer.pid, weave_conn_received(c));
        server_close_conn(s, c);
        return;
    }
}

static void on_writable(struct server *s, struct weave_conn *c)
{
    switch (weave_conn_write(c, NULL)) {
    case WEAVE_IO_DONE:
        finish_conn(s, c);
        return;
    case WEAVE_IO_AGAIN:
        return;
    default:
        weave_debug(s->log, "write to pid=%ld failed after %zu of %zu bytes: %s",
                    (long)c->peer.pid, c->out_sent, c->out_len, strerror(errno));
        server_close_conn(s, c);
        return;
    }
}

/* The client of a WORKING connection left (hang-up, or a send failed):
 * its job is dropped if queued, asked to stop if running (SPEC 11.5), and
 * the connection closed. */
static void client_went_away(struct server *s, struct weave_conn *c)
{
    struct weave_job *job = c->job;
    unsigned long long id = (unsigned long long)c->request_id;

    c->job = NULL;
    if (job != NULL && weave_worker_cancel(s->worker, job)) {
        weave_info(s->log, "request_id=%llu from pid=%ld cancelled: client "
                   "went away (queued)", id, (long)c->peer.pid);
        weave_job_free(job);
    } else if (job != NULL && c->steps != 0) {
        weave_info(s->log, "request_id=%llu from pid=%ld cancelled: client "
                   "went away (running, step %u/%u)", id, (long)c->peer.pid,
                   (unsigned)c->step, (unsigned)c->steps);
    } else if (job != NULL) {
        /* The worker reports steps only for jobs that asked for progress
         * (or none has completed yet). */
        weave_info(s->log, "request_id=%llu from pid=%ld cancelled: client "
                   "went away (running, %u steps)", id, (long)c->peer.pid,
                   (unsigned)job->req.steps);
    }
    /* A running job comes back through the worker, finds no connection
     * and is freed there (server_job_done). */
    server_close_conn(s, c);
}

/*
 * WORKING: writes the queued messages the socket takes now. A reader that
 * keeps up has no deadline; one that leaves bytes unsent is on the writing
 * list, its deadline restarted whenever some of them drain (SPEC 11.3:
 * closed once nothing drains for the write timeout). Returns -1 when c has
 * been closed.
 */
static int flush_notes(struct server *s, struct weave_conn *c)
{
    int progress = 0;

    switch (weave_conn_write_notes(c, &progress)) {
    case WEAVE_IO_DONE:
        weave_deadline_clear(c);
        return set_interest(s, c, 0); /* still told about a hang-up */
    case WEAVE_IO_AGAIN:
        if (progress || c->dl_list == NULL)
            weave_deadline_set(&s->conns.writing, c,
                               weave_now_ms() + s->cfg->write_timeout_ms);
        return set_interest(s, c, EPOLLOUT);
    default: /* EPIPE, ECONNRESET: it left (SPEC 11.5: a failed send) */
        weave_debug(s->log, "write to pid=%ld failed: %s", (long)c->peer.pid,
                    strerror(errno));
        client_went_away(s, c);
        return -1;
    }
}

int server_conn_note(struct server *s, struct weave_conn *c,
                     const uint8_t *msg, size_t len)
{
    if (c->state != WEAVE_CONN_WORKING)
        return 0;
    int was_pending = weave_conn_notes_pending(c) > 0;
    if (weave_conn_note(c, msg, len) < 0)
        weave_debug(s->log, "progress message for pid=%ld dropped (%zu bytes)",
                    (long)c->peer.pid, len);
    weave_heartbeat_set(&s->conns, c, weave_now_ms() + WEAVE_HEARTBEAT_MS);
    /* Bytes already waiting: epoll says when the socket takes more. */
    if (was_pending)
        return 0;
    return flush_notes(s, c);
}

void server_conn_start(struct server *s, struct weave_conn *c)
{
    on_readable(s, c);
}

void server_conn_event(struct server *s, struct weave_conn *c,
                       uint32_t events)
{
    switch (c->state) {
    case WEAVE_CONN_READ_HEADER:
    case WEAVE_CONN_READ_PAYLOAD:
        /* On HUP/ERR a read reports what is left, then EOF or the error. */
        on_readable(s, c);
        return;
    case WEAVE_CONN_WORKING:
        /* EPOLLHUP: the peer closed the connection (both directions gone).
         * EPOLLRDHUP alone (it only shut down its write side after the
         * request, SPEC 11.5) is not asked for and would not count. */
        if (events & (EPOLLHUP | EPOLLERR)) {
            client_went_away(s, c);
            return;
        }
        if (events & EPOLLOUT)
            flush_notes(s, c);
        return;
    case WEAVE_CONN_WRITING:
        on_writable(s, c);
        return;
    }
}

void server_close_conn(struct server *s, struct weave_conn *c)
{
    struct weave_job *reply_job = NULL;

    /* A job still queued is taken back; one running is asked to stop and
     * is freed when it comes back and finds no connection. While WRITING
     * the job is the loop's: its reply mapping is what c->out points to. */
    if (c->job != NULL) {
        if (c->state == WEAVE_CONN_WRITING)
            reply_job = c->job;
        else if (weave_worker_cancel(s->worker, c->job))
            weave_job_free(c->job);
    }
    c->job = NULL;
    weave_deadline_clear(c);
    weave_heartbeat_clear(&s->conns, c);
    weave_conn_release(c); /* close() also removes it from epoll */
    weave_conn_table_remove(&s->conns, c->tag);
    weave_job_free(reply_job);
    free(c);
}

/* Sends the job's reply straight from the worker's shared memory (no copy
 * of the pixels): c->out points into the job's mapping, so the job stays
 * with the connection until it is closed. */
static void reply_mapped(struct weave_conn *c, struct weave_job *job)
{
    /* WORKING: no reply was set yet, so there is no buffer to free. */
    assert(!c->out_on_heap);
    c->out = job->reply;
    c->out_len = job->reply_len;
    c->out_sent = 0;
    c->out_on_heap = 0;
    c->job = job;
}

/* SPEC 11.4: the fixed 44 bytes, and the sealed memfd on their first byte
 * (the connection owns the descriptor from here on). */
static int reply_shm(struct weave_conn *c, struct weave_job *job)
{
    struct weave_shm_response r = {
        .request_id = job->req.request_id,
        .status = WEAVE_STATUS_OK,
        .generation_time_ms = job->generation_ms,
        .width = job->req.width,
        .height = job->req.height,
        .channels = job->channels,
        .image_size = job->image_size,
        .seed = job->seed,
    };
    size_t n = weave_encode_shm_response(c->small, sizeof c->small, &r);
    if (n == 0)
        return -1;
    weave_conn_reply_small_fd(c, n, job->shm_fd);
    job->shm_fd = -1;
    return 0;
}

/* The worker's done event: the job's reply (or error) goes out after the
 * messages still queued before it. */
void server_job_done(void *ctx, struct weave_job *job)
{
    struct server *s = ctx;
    struct weave_conn *c = waiting_conn(s, job);

    if (c == NULL) {
        weave_job_free(job); /* the client is gone */
        return;
    }
    c->job = NULL;
    int shm = !job->failed && job->shm_fd >= 0;
    if (shm || (!job->failed && job->reply != NULL)) {
        /* DEBUG: a busy daemon must not write a line per request at
         * the default level (INFO is for events worth reading). */
        weave_debug(s->log,
                    "generated request_id=%llu %ux%u steps=%u seed=%llu in %u ms%s",
                    (unsigned long long)job->req.request_id,
                    (unsigned)job->req.width, (unsigned)job->req.height,
                    (unsigned)job->req.steps, (unsigned long long)job->seed,
                    (unsigned)job->generation_ms, shm ? " (shared memory)" : "");
    }
    if (shm && reply_shm(c, job) == 0) {
        weave_job_free(job);
        start_writing(s, c);
        return;
    }
    if (shm) {
        job->failed = 1;
        weave_error_set(&job->err, job->req.request_id, WEAVE_ERR_INTERNAL,
                        "cannot encode the shared-memory reply");
    } else if (!job->failed && job->reply != NULL) {
        reply_mapped(c, job);
        start_writing(s, c);
        return;
    } else if (!job->failed) {
        weave_error_set(&job->err, job->req.request_id, WEAVE_ERR_INTERNAL,
                        "the worker returned no reply");
    }
    weave_error(s->log, "request_id=%llu failed: %u/%u %s: %s",
                (unsigned long long)job->req.request_id,
                (unsigned)job->err.status, (unsigned)job->err.code,
                weave_error_code_name(job->err.code), job->err.message);
    struct weave_error err = job->err;
    weave_job_free(job);
    reply_error(s, c, &err);
}

void server_read_deadline(struct server *s, struct weave_conn *c)
{
    struct weave_error err;

    weave_info(s->log, "read deadline: pid=%ld sent %zu bytes in %u ms, not a "
               "whole request; replying timeout", (long)c->peer.pid,
               weave_conn_received(c), (unsigned)s->cfg->read_timeout_ms);
    weave_error_set(&err, weave_conn_partial_request_id(c), WEAVE_ERR_TIMEOUT,
                    "request not received within %u ms",
                    (unsigned)s->cfg->read_timeout_ms);
    /* Best effort: start_writing sends at most what fits now, then has the
     * write deadline like any other reply. */
    reply_error(s, c, &err);
}

void server_write_deadline(struct server *s, struct weave_conn *c)
{
    /* The client's problem, not ours: INFO, not ERROR. */
    if (c->state == WEAVE_CONN_WORKING) {
        weave_info(s->log, "write deadline: pid=%ld read none of its progress "
                   "messages for %u ms (%zu bytes waiting); closing, "
                   "request_id=%llu cancelled", (long)c->peer.pid,
                   (unsigned)s->cfg->write_timeout_ms,
                   weave_conn_notes_pending(c), (unsigned long long)c->request_id);
    } else {
        weave_info(s->log, "write deadline: pid=%ld took %zu of %zu bytes in "
                   "%u ms; closing", (long)c->peer.pid, c->out_sent,
                   c->out_len, (unsigned)s->cfg->write_timeout_ms);
    }
    server_close_conn(s, c);
}
