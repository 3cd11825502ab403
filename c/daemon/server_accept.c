/*
 * The listening side of the event loop: accept, check the peer's
 * credentials before anything else, enforce the connection cap, and survive
 * running out of file descriptors without spinning.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_internal.h"
#include "daemon/auth.h"
#include "daemon/clock.h"
#include "weave/protocol.h"

static void pause_accept(struct server *s, uint64_t now)
{
    if (s->listener_polled) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listener->fd, NULL);
        s->listener_polled = 0;
    }
    s->accept_resume_ms = now + ACCEPT_PAUSE_MS;
}

void server_resume_accept(struct server *s, uint64_t now)
{
    if (s->accept_resume_ms == 0 || now < s->accept_resume_ms || s->stopping)
        return;
    s->accept_resume_ms = 0;
    if (server_epoll_set(s, EPOLL_CTL_ADD, s->listener->fd, EPOLLIN, TAG_LISTENER) == 0)
        s->listener_polled = 1;
    else
        pause_accept(s, now); /* try again later */
}

void server_stop_listening(struct server *s)
{
    if (s->listener_polled)
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listener->fd, NULL);
    s->listener_polled = 0;
    s->accept_resume_ms = 0;
    weave_socket_close(s->listener); /* also unlinks our socket file */
}

/* Best effort, never blocks: one non-blocking send of a small error reply
 * on a connection we are not going to keep. Returns 1 if it all went out. */
static int send_and_forget(int fd, uint32_t code, const char *text)
{
    struct weave_error err;
    uint8_t buf[WEAVE_HEADER_SIZE + WEAVE_ERROR_FIXED_SIZE + WEAVE_MAX_ERROR_MESSAGE];

    weave_error_set(&err, 0, code, "%s", text);
    size_t n = weave_encode_error(buf, sizeof buf, WEAVE_VERSION_MIN, &err);
    assert(n > 0); /* buf holds the largest error reply */
    ssize_t w;
    do {
        w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (w < 0 && errno == EINTR);
    return w >= 0 && (size_t)w == n;
}

/* Credentials first, before any byte is read or written. Returns 1 for a
 * peer of our own uid; otherwise the fd is closed already. */
static int authenticate(struct server *s, int fd, struct weave_peer *peer)
{
    switch (weave_auth_check(fd, s->uid, peer)) {
    case WEAVE_AUTH_OK:
        return 1;
    case WEAVE_AUTH_REJECTED:
        /* Exactly one line, at DEBUG only: another user probing the socket
         * must not be able to fill the logs above debug level. */
        weave_debug(s->log, "rejected connection from uid=%lu pid=%ld",
                    (unsigned long)peer->uid, (long)peer->pid);
        break;
    case WEAVE_AUTH_ERROR:
        weave_debug(s->log, "rejected connection: SO_PEERCRED failed: %s",
                    strerror(errno));
        break;
    }
    close(fd);
    return 0;
}

static void admit(struct server *s, int fd, uint64_t now)
{
    struct weave_peer peer;

    if (!authenticate(s, fd, &peer))
        return;
    if (s->conns.nconns >= s->conns.nslots) {
        char text[96];
        snprintf(text, sizeof text, "server busy: %u connections open",
                 (unsigned)s->conns.nconns);
        if (send_and_forget(fd, WEAVE_ERR_BUSY, text))
            s->served++;
        close(fd);
        if (server_warn_due(&s->busy_warned_ms, now))
            weave_warn(s->log,
                       "connection limit reached (%u open); answering 'server busy'",
                       (unsigned)s->conns.nconns);
        return;
    }
    struct weave_conn *c = malloc(sizeof *c);
    if (c == NULL) {
        send_and_forget(fd, WEAVE_ERR_OUT_OF_MEMORY, "out of memory");
        close(fd);
        return;
    }
    /* nconns < nslots: a slot is free. */
    weave_conn_init(c, fd, weave_conn_table_add(&s->conns, c), &peer);
    weave_deadline_set(&s->conns.reading, c, now + s->cfg->read_timeout_ms);
    weave_debug(s->log, "accepted connection from pid=%ld (%u open)",
                (long)peer.pid, (unsigned)s->conns.nconns);
    /* Not registered with epoll yet: the request is usually here already,
     * and a status request is then answered without any epoll call. */
    server_conn_start(s, c);
}

/*
 * Out of file descriptors. Level-triggered epoll would report the pending
 * connection again at once, spinning the CPU, so: give up the reserve fd,
 * accept the connection, tell it (if it is ours) that we are busy, close
 * it, and take the reserve back. If even that fails, stop polling the
 * listener for ACCEPT_PAUSE_MS.
 */
static void shed_connection(struct server *s, int err, uint64_t now)
{
    if (server_warn_due(&s->accept_warned_ms, now))
        weave_warn(s->log, "accept: %s (%u connections open); shedding connections",
                   strerror(err), (unsigned)s->conns.nconns);
    if (s->reserve_fd < 0) {
        pause_accept(s, now);
        return;
    }
    close(s->reserve_fd);
    s->reserve_fd = -1;
    int fd = accept4(s->listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        struct weave_peer peer;
        if (authenticate(s, fd, &peer)) {
            send_and_forget(fd, WEAVE_ERR_BUSY, "server busy: out of file descriptors");
            close(fd);
        }
    }
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || s->reserve_fd < 0)
        pause_accept(s, now);
}

/*
 * ONE accept per wakeup. Accepting until EAGAIN would cost a failed accept4
 * on every wakeup, and a failed accept4 is not cheap: the kernel allocates
 * and frees a socket for it (1.6-2 us on the bench VM, against 0.3 us for
 * an epoll_wait that finds an event ready). The listener is level-triggered,
 * so epoll reports it again at once while connections wait, and between two
 * accepts the loop serves every connection that became ready: fair to both.
 */
void server_accept_ready(struct server *s)
{
    /* An earlier event of this batch may have paused or closed it. */
    if (!s->listener_polled)
        return;
    uint64_t now = weave_now_ms();
    int fd = accept4(s->listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        admit(s, fd, now);
        return;
    }
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
        return; /* none, or that one connection failed: epoll tells us more */
    case EMFILE:
    case ENFILE:
        shed_connection(s, errno, now);
        return;
    default: /* ENOBUFS, ENOMEM, ...: back off instead of spinning */
        if (server_warn_due(&s->accept_warned_ms, now))
            weave_warn(s->log, "accept: %s; pausing %d ms", strerror(errno),
                       ACCEPT_PAUSE_MS);
        pause_accept(s, now);
        return;
    }
}
