/*
 * Private to the event loop (server.c, server_accept.c, server_conn.c): the
 * loop's state and the functions its files share. Not a public API.
 */
#ifndef WEAVE_SERVER_INTERNAL_H
#define WEAVE_SERVER_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "weave/backend.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/conn_table.h"
#include "daemon/log.h"
#include "daemon/socket.h"
#include "daemon/worker.h"

/* epoll data of the fixed descriptors; connections use slot | gen << 32
 * with gen >= 1, so the two never collide. */
#define TAG_LISTENER 1u
#define TAG_SIGNAL 2u
#define TAG_WORKER 3u

#define ACCEPT_PAUSE_MS 100      /* listener rest after fd exhaustion */
#define WEAVE_HEARTBEAT_MS 500   /* SPEC 11.3: silence before a heartbeat */
#define WARN_INTERVAL_MS 10000   /* rate limit for repeated warnings */

struct server {
    const struct weave_config *cfg;
    const struct weave_log *log;
    const struct weave_backend *backend;
    struct weave_listener *listener;
    int listener_polled;       /* listener registered in epoll */
    uint64_t accept_resume_ms; /* listener paused until then; 0 if not */
    int epfd;
    int sigfd;
    int reserve_fd;            /* spare fd, given up to shed a connection on EMFILE */
    struct weave_worker *worker;
    struct weave_conn_table conns; /* max_connections slots, deadlines */
    uid_t uid;
    uint64_t started_ms;
    uint64_t served;           /* replies written completely */
    uint64_t busy_warned_ms;
    uint64_t accept_warned_ms;
    int stopping;
    uint64_t stop_deadline_ms;
};

/* epoll_ctl with the event mask and tag in one call. */
static inline int server_epoll_set(struct server *s, int op, int fd,
                                   uint32_t events, uint64_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = tag;
    return epoll_ctl(s->epfd, op, fd, &ev);
}

/* Returns 1 when a warning of this kind may be printed now. */
static inline int server_warn_due(uint64_t *last, uint64_t now)
{
    if (*last != 0 && now - *last < WARN_INTERVAL_MS)
        return 0;
    *last = now;
    return 1;
}

/* Calls run one way: server.c (the loop) -> server_accept.c ->
 * server_conn.c -> conn_table.c; none calls back up. */

/* server_accept.c: the listening socket */
void server_accept_ready(struct server *s);
void server_resume_accept(struct server *s, uint64_t now);
/* Closes the listener for good (and unlinks our socket file). */
void server_stop_listening(struct server *s);

/* server_conn.c: connections, requests, replies */
/* A connection just accepted (in s->conns, on its reading list): read at once. */
void server_conn_start(struct server *s, struct weave_conn *c);
void server_conn_event(struct server *s, struct weave_conn *c, uint32_t events);
/* Closes and frees c; a job still queued for it is taken back. */
void server_close_conn(struct server *s, struct weave_conn *c);
/* The worker's done event (ctx is the server): starts writing the reply. */
void server_job_done(void *ctx, struct weave_job *job);
/* The read deadline passed: best-effort 500/10 reply, then close. */
void server_read_deadline(struct server *s, struct weave_conn *c);
/* The write deadline passed (reply, or messages before it): close; a job
 * still queued or running for it is cancelled. */
void server_write_deadline(struct server *s, struct weave_conn *c);
/*
 * Queues a small message (SPEC 11.3) to go before c's reply, restarts c's
 * heartbeat timer, and writes at once what the socket takes. Only for a
 * WORKING connection (else nothing happens). Returns 0, or -1 when c has
 * been closed (the client left): the caller must not touch c again.
 */
int server_conn_note(struct server *s, struct weave_conn *c,
                     const uint8_t *msg, size_t len);
/* c's heartbeat is due (it is the head of s->conns.heartbeats): sends one,
 * which moves it to the tail, or closes c. */
void server_conn_heartbeat(struct server *s, struct weave_conn *c);
/* The worker's events (worker.h; ctx is the server). */
void server_job_started(void *ctx, struct weave_job *job);
void server_job_step(void *ctx, struct weave_job *job, uint32_t step,
                     uint32_t steps, uint32_t elapsed_ms);
void server_queue_changed(void *ctx);

#endif /* WEAVE_SERVER_INTERNAL_H */
