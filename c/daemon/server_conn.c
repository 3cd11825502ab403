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
    weave_deadline_set(&s->conns.writing, c, weave_now_ms() + s->cfg->write_timeout_ms);
    switch (weave_conn_write(c)) {
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
        .version_min = WEAVE_VERSION_MIN,
        .version_max = WEAVE_VERSION_MAX,
        .uptime_ms = weave_now_ms() - s->started_ms,
        .requests_served = s->served,
        .connections_open = s->conns.nconns,
        .max_connections = s->conns.nslots,
        .queue_depth = weave_worker_queue_depth(s->worker),
        .backend = {(const uint8_t *)s->backend->name,
                    (uint32_t)strlen(s->backend->name)},
        .daemon_version = {(const uint8_t *)version, (uint32_t)strlen(version)},
    };
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
    job->req = req->u.generate; /* points into c->msg, which moves along */
    job->msg = c->msg;
    c->msg = NULL;
    c->job = job;
    c->state = WEAVE_CONN_WORKING;
    weave_deadline_clear(c); /* generation takes what it takes */
    weave_worker_submit(s->worker, job);
    weave_debug(s->log, "request_id=%llu from pid=%ld queued (%u waiting)",
                (unsigned long long)job->req.request_id, (long)c->peer.pid,
                (unsigned)weave_worker_queue_depth(s->worker));
}

/* The whole request is in c->msg. */
static void on_message(struct server *s, struct weave_conn *c)
{
    struct weave_request req;
    struct weave_error err;

    if (weave_request_decode(c->msg, c->msg_len, &req, &err) != 0) {
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
    if (req.msg_type != WEAVE_MSG_GENERATE_REQUEST) {
        /* The decoder only accepts the two; be safe if that ever changes. */
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
    switch (weave_conn_write(c)) {
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
        if (events & (EPOLLHUP | EPOLLERR)) {
            weave_debug(s->log, "pid=%ld hung up while request_id=%llu waited; "
                        "dropping it", (long)c->peer.pid,
                        (unsigned long long)c->request_id);
            server_close_conn(s, c);
        }
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

void server_job_done(void *ctx, struct weave_job *job)
{
    struct server *s = ctx;
    struct weave_conn *c = weave_conn_table_find(&s->conns, job->conn_tag);

    if (c == NULL || c->state != WEAVE_CONN_WORKING || c->job != job) {
        weave_job_free(job); /* the client is gone */
        return;
    }
    c->job = NULL;
    if (!job->failed && job->reply != NULL) {
        /* DEBUG: a busy daemon must not write a line per request at
         * the default level (INFO is for events worth reading). */
        weave_debug(s->log,
                    "generated request_id=%llu %ux%u steps=%u seed=%llu in %u ms",
                    (unsigned long long)job->req.request_id,
                    (unsigned)job->req.width, (unsigned)job->req.height,
                    (unsigned)job->req.steps, (unsigned long long)job->seed,
                    (unsigned)job->generation_ms);
        reply_mapped(c, job);
        start_writing(s, c);
        return;
    }
    if (!job->failed) /* SHM results: the connection side sends those */
        weave_error_set(&job->err, job->req.request_id, WEAVE_ERR_INTERNAL,
                        "no inline reply for this job");
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
