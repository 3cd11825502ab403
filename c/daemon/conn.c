/* Connection buffers and non-blocking I/O steps; see conn.h. */
#define _GNU_SOURCE
#include "daemon/conn.h"
#include "daemon/config.h"
#include "daemon/fdpass.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* First payload buffer; it doubles as bytes arrive, up to msg_len, so a
 * client that announces 10 MiB and sends nothing costs almost nothing. */
#define FIRST_BUFFER (64u * 1024u)

_Static_assert(WEAVE_CONN_FIRST_READ <= FIRST_BUFFER,
               "what the first read brings must fit in the first buffer");
/* The replies that go out of c->small: the largest error (255-byte
 * message) and the largest status reply (three 255-byte strings). */
_Static_assert(WEAVE_HEADER_SIZE + WEAVE_ERROR_FIXED_SIZE +
                       WEAVE_MAX_ERROR_MESSAGE <= WEAVE_CONN_SMALL_REPLY,
               "an error reply must fit in the small reply buffer");
_Static_assert(WEAVE_HEADER_SIZE + WEAVE_STATUS_RESP_FIXED_SIZE +
                       2 * WEAVE_MAX_STATUS_STRING + WEAVE_STATUS_V2_FIXED_SIZE +
                       WEAVE_MAX_STATUS_STRING + WEAVE_STATUS_V2_TOTALS_SIZE <=
                   WEAVE_CONN_SMALL_REPLY,
               "a version-2 status reply must fit in the small reply buffer");
_Static_assert(WEAVE_HEADER_SIZE + WEAVE_SHM_RESPONSE_SIZE <= WEAVE_CONN_SMALL_REPLY,
               "a shared-memory reply must fit in the small reply buffer");

void weave_conn_init(struct weave_conn *c, int fd, uint64_t tag,
                     const struct weave_peer *peer)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->tag = tag;
    c->peer = *peer;
    c->state = WEAVE_CONN_READ_HEADER;
    c->out_fd = -1;
}

void weave_conn_release(struct weave_conn *c)
{
    if (c->fd >= 0) {
        /* close() on a socket can only fail with EINTR/EIO after the fd is
         * already released on Linux: never retry it. */
        close(c->fd);
        c->fd = -1;
    }
    free(c->msg);
    c->msg = NULL;
    if (c->out_on_heap)
        free(c->out);
    c->out = NULL;
    c->out_on_heap = 0;
    if (c->out_fd >= 0)
        close(c->out_fd);
    c->out_fd = -1;
    free(c->notes);
    c->notes = NULL;
}

size_t weave_conn_received(const struct weave_conn *c)
{
    return c->state == WEAVE_CONN_READ_HEADER ? c->header_got : c->msg_got;
}

/* recv() that retries EINTR and closes any descriptor the client sent
 * (fdpass.h): a client never leaks one into the daemon. */
static ssize_t recv_some(struct weave_conn *c, void *buf, size_t len)
{
    return weave_fd_recv(c->fd, buf, len, &c->fds_dropped);
}

static enum weave_io eof_midway(struct weave_conn *c, struct weave_error *err)
{
    size_t got = weave_conn_received(c);
    if (got == 0)
        return WEAVE_IO_CLOSE; /* connected and left: nobody to answer */
    if (c->state == WEAVE_CONN_READ_HEADER)
        weave_error_set(err, 0, WEAVE_ERR_MALFORMED,
                        "connection closed after %zu of the %u header bytes",
                        got, (unsigned)WEAVE_HEADER_SIZE);
    else
        weave_error_set(err, weave_conn_partial_request_id(c), WEAVE_ERR_MALFORMED,
                        "connection closed after %zu of the %zu message bytes",
                        got, c->msg_len);
    return WEAVE_IO_REPLY;
}

/*
 * Header complete: judge it, and only then allocate for the payload, from
 * the checked length (at most FIRST_BUFFER to start with). `extra` are the
 * bytes that came after the header in the same recv.
 *
 * The type is a header check (SPEC section 2: magic, version, size, type),
 * so a type we do not serve is answered now, not after a payload we would
 * throw away and that may never come. The request_id is echoed when its 8
 * bytes came with the header (clients write a message in one go), but we
 * never wait for them: the codec judges exactly what has arrived.
 */
static enum weave_io start_payload(struct weave_conn *c, const uint8_t *extra,
                                   size_t extra_len, struct weave_error *err)
{
    if (weave_header_decode_versions(c->header, WEAVE_SERVED_VERSION_MIN,
                                     WEAVE_SERVED_VERSION_MAX, &c->hdr, err) != 0)
        return WEAVE_IO_REPLY; /* reply now; no more of the payload is read */
    c->header_ok = 1;
    if (!weave_request_type_served_in(c->hdr.version, c->hdr.msg_type)) {
        weave_request_type_error(&c->hdr, extra, extra_len, err);
        return WEAVE_IO_REPLY;
    }

    c->msg_len = WEAVE_HEADER_SIZE + (size_t)c->hdr.payload_len; /* <= 10 MiB */
    c->msg_cap = c->msg_len < FIRST_BUFFER ? c->msg_len : FIRST_BUFFER;
    c->msg = malloc(c->msg_cap);
    if (c->msg == NULL) {
        weave_error_set(err, 0, WEAVE_ERR_OUT_OF_MEMORY,
                        "out of memory for a %zu-byte request", c->msg_len);
        return WEAVE_IO_REPLY;
    }
    /* Fits: extra_len < WEAVE_CONN_FIRST_READ <= FIRST_BUFFER, and what
     * lies past the message's end is dropped. */
    assert(extra_len < WEAVE_CONN_FIRST_READ);
    assert(c->msg_len <= WEAVE_MAX_MESSAGE_SIZE);
    size_t take = c->msg_len - WEAVE_HEADER_SIZE;
    if (take > extra_len)
        take = extra_len;
    memcpy(c->msg, c->header, WEAVE_HEADER_SIZE);
    memcpy(c->msg + WEAVE_HEADER_SIZE, extra, take);
    c->msg_got = WEAVE_HEADER_SIZE + take;
    c->state = WEAVE_CONN_READ_PAYLOAD;
    return c->msg_got == c->msg_len ? WEAVE_IO_DONE : WEAVE_IO_AGAIN;
}

/* Makes room for at least one more byte, doubling up to msg_len. */
static int grow(struct weave_conn *c)
{
    if (c->msg_got < c->msg_cap)
        return 0;
    size_t cap = c->msg_cap * 2;
    if (cap > c->msg_len || cap < c->msg_cap)
        cap = c->msg_len;
    uint8_t *p = realloc(c->msg, cap);
    if (p == NULL)
        return -1;
    c->msg = p;
    c->msg_cap = cap;
    return 0;
}

/*
 * Reading the header: ONE recv into a stack buffer, which usually brings
 * the whole request (WEAVE_CONN_FIRST_READ). Only a header that arrives in
 * pieces (rare: clients write a message in one go) takes more recvs, until
 * it is complete, EAGAIN or EOF. *drained is set when the last recv came
 * back short: the socket is empty, asking again would only be EAGAIN.
 */
static enum weave_io read_first(struct weave_conn *c, struct weave_error *err,
                                size_t *budget, int *drained)
{
    uint8_t buf[WEAVE_CONN_FIRST_READ];
    ssize_t n;
    size_t take;

    do {
        n = recv_some(c, buf, sizeof buf);
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? WEAVE_IO_AGAIN
                                                             : WEAVE_IO_CLOSE;
        if (n == 0)
            return eof_midway(c, err);
        *budget -= (size_t)n;
        take = WEAVE_HEADER_SIZE - c->header_got;
        if (take > (size_t)n)
            take = (size_t)n;
        memcpy(c->header + c->header_got, buf, take);
        c->header_got += take;
    } while (c->header_got < WEAVE_HEADER_SIZE);
    *drained = (size_t)n < sizeof buf;
    return start_payload(c, buf + take, (size_t)n - take, err);
}

static enum weave_io read_payload(struct weave_conn *c, struct weave_error *err,
                                  size_t *budget)
{
    if (grow(c) != 0) {
        weave_error_set(err, weave_conn_partial_request_id(c),
                        WEAVE_ERR_OUT_OF_MEMORY,
                        "out of memory for a %zu-byte request", c->msg_len);
        return WEAVE_IO_REPLY;
    }
    size_t want = c->msg_cap - c->msg_got;
    if (want > *budget)
        want = *budget;
    ssize_t n = recv_some(c, c->msg + c->msg_got, want);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WEAVE_IO_AGAIN
                                                         : WEAVE_IO_CLOSE;
    if (n == 0)
        return eof_midway(c, err);
    c->msg_got += (size_t)n;
    *budget -= (size_t)n;
    return c->msg_got == c->msg_len ? WEAVE_IO_DONE : WEAVE_IO_AGAIN;
}

enum weave_io weave_conn_read(struct weave_conn *c, struct weave_error *err)
{
    size_t budget = WEAVE_CONN_READ_BUDGET;

    if (c->state == WEAVE_CONN_READ_HEADER) {
        int drained = 1;
        enum weave_io r = read_first(c, err, &budget, &drained);
        if (r != WEAVE_IO_AGAIN || drained)
            return r;
    }
    while (c->state == WEAVE_CONN_READ_PAYLOAD && budget > 0) {
        enum weave_io r = read_payload(c, err, &budget);
        if (r != WEAVE_IO_AGAIN)
            return r;
        if (c->msg_got < c->msg_cap)
            return WEAVE_IO_AGAIN; /* short read: the socket is drained */
    }
    return WEAVE_IO_AGAIN;
}

/* One send of what is left of buf; the descriptor, if any, with it. */
static enum weave_io send_part(struct weave_conn *c, const uint8_t *buf,
                               size_t len, size_t *sent, int pass_fd)
{
    ssize_t n = weave_fd_send(c->fd, buf, len, pass_fd);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WEAVE_IO_AGAIN
                                                         : WEAVE_IO_CLOSE;
    *sent = (size_t)n;
    return WEAVE_IO_DONE;
}

enum weave_io weave_conn_write_notes(struct weave_conn *c, int *progress)
{
    struct weave_conn_notes *q = c->notes;

    while (q != NULL && q->off < q->len) {
        size_t n = 0;
        enum weave_io r = send_part(c, q->buf + q->off, q->len - q->off, &n, -1);
        if (r != WEAVE_IO_DONE)
            return r;
        if (progress != NULL && n > 0)
            *progress = 1;
        q->off += n;
        if (q->off == q->len) {
            q->off = q->len = 0;
            /* The one set aside goes next (it fits: the ring is empty). */
            if (q->latest_len > 0) {
                memcpy(q->buf, q->latest, q->latest_len);
                q->len = q->latest_len;
                q->latest_len = 0;
            }
        }
    }
    return WEAVE_IO_DONE;
}

/* A big inline reply (version-1 bulk, up to 10 MiB) goes out in one send
 * and one epoll_wait per send buffer's worth: ~50 rounds for 10 MiB with
 * the default buffer (net.core.wmem_default, 208 KiB). Before its first
 * byte, ask for WEAVE_CONN_BIG_SNDBUF (the kernel doubles it, and caps it
 * at net.core.wmem_max): ~5 rounds. Larger was slower in the bench (the
 * client then reads megabytes that left the cache; docs/PERFORMANCE.md).
 * The kernel charges only what is queued, at most that much per slow
 * reader, whose write deadline still ends it. Best effort: a refusal
 * leaves the default, which works, only slower. */
static void grow_send_buffer(int fd, size_t len)
{
    if (len < WEAVE_CONN_BIG_REPLY)
        return;
    int want = WEAVE_CONN_BIG_SNDBUF;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

enum weave_io weave_conn_write(struct weave_conn *c, int *progress)
{
    enum weave_io r = weave_conn_write_notes(c, progress);
    if (r != WEAVE_IO_DONE)
        return r;
    if (c->out_sent == 0)
        grow_send_buffer(c->fd, c->out_len);
    while (c->out_sent < c->out_len) {
        /* MSG_NOSIGNAL: a client that went away is EPIPE, not SIGPIPE. The
         * descriptor rides on the reply's first byte, once. */
        int pass = c->out_sent == 0 ? c->out_fd : -1;
        size_t want = c->out_len - c->out_sent;
        size_t n = 0;
        r = send_part(c, c->out + c->out_sent, want, &n, pass);
        if (r != WEAVE_IO_DONE)
            return r;
        if (progress != NULL && n > 0)
            *progress = 1;
        c->out_sent += n;
        /* A short send filled the socket's buffer: asking again now would
         * only be EAGAIN (one syscall per buffer's worth of a big reply,
         * about 50 for 10 MiB); epoll is level-triggered, so if there is
         * room after all, EPOLLOUT comes at once. */
        if (n < want)
            return WEAVE_IO_AGAIN;
    }
    return WEAVE_IO_DONE;
}

int weave_conn_note(struct weave_conn *c, const uint8_t *msg, size_t len)
{
    if (len == 0 || len > WEAVE_CONN_NOTE_MAX)
        return -1;
    if (c->notes == NULL) {
        c->notes = malloc(sizeof *c->notes);
        if (c->notes == NULL)
            return -1;
        c->notes->off = c->notes->len = c->notes->latest_len = 0;
        c->notes->coalesced = 0;
    }
    struct weave_conn_notes *q = c->notes;
    if (q->latest_len == 0 && q->len + len > sizeof q->buf && q->off > 0) {
        /* Make room: what was sent of the ring is dead space. */
        memmove(q->buf, q->buf + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
    }
    /* Once something is set aside, newer messages go there too, or the
     * order would break. */
    if (q->latest_len == 0 && q->len + len <= sizeof q->buf) {
        memcpy(q->buf + q->len, msg, len);
        q->len += len;
        return 0;
    }
    if (q->latest_len > 0)
        q->coalesced++;
    memcpy(q->latest, msg, len);
    q->latest_len = len;
    return 1;
}

size_t weave_conn_notes_pending(const struct weave_conn *c)
{
    if (c->notes == NULL)
        return 0;
    return c->notes->len - c->notes->off + c->notes->latest_len;
}

static void set_out(struct weave_conn *c, uint8_t *buf, size_t len, int heap)
{
    if (c->out_on_heap)
        free(c->out);
    c->out = buf;
    c->out_len = len;
    c->out_sent = 0;
    c->out_on_heap = heap;
}

void weave_conn_reply_error(struct weave_conn *c, const struct weave_error *err)
{
    size_t n = weave_encode_error(c->small, sizeof c->small,
                                  weave_conn_reply_version(c), err);
    /* Cannot fail: 16 + 18 + 255 bytes fit in small (asserted above). */
    assert(n > 0);
    set_out(c, c->small, n, 0);
}

void weave_conn_reply_small(struct weave_conn *c, size_t len)
{
    assert(len > 0 && len <= sizeof c->small);
    set_out(c, c->small, len, 0);
}

void weave_conn_reply_small_fd(struct weave_conn *c, size_t len, int fd)
{
    weave_conn_reply_small(c, len);
    if (c->out_fd >= 0)
        close(c->out_fd);
    c->out_fd = fd;
}

void weave_conn_reply_heap(struct weave_conn *c, uint8_t *buf, size_t len)
{
    set_out(c, buf, len, 1);
}

uint64_t weave_conn_partial_request_id(const struct weave_conn *c)
{
    if (!c->header_ok || c->msg == NULL)
        return 0;
    return weave_request_echo_id(&c->hdr, c->msg + WEAVE_HEADER_SIZE,
                                 c->msg_got - WEAVE_HEADER_SIZE);
}

uint16_t weave_conn_reply_version(const struct weave_conn *c)
{
    /* Before the header passed its checks, answer in version 1, which
     * every client reads (SPEC section 8). */
    return c->header_ok ? c->hdr.version : (uint16_t)WEAVE_VERSION_MIN;
}
