/*
 * One client connection: its buffers, where it is in the exchange, and the
 * non-blocking read and write steps. The event loop (server.h) owns
 * the connections and decides what each step's result means.
 *
 *   READ_HEADER -> READ_PAYLOAD -> WORKING (queued or generating)
 *        |              |              |
 *        +--------------+--------------+--> WRITING -> closed
 *
 * An error found while reading (bad header, EOF mid-message, deadline) goes
 * straight to WRITING with an error reply. One request per connection.
 */
#ifndef WEAVE_CONN_H
#define WEAVE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/auth.h"
#include "weave/protocol.h"

enum weave_conn_state {
    WEAVE_CONN_READ_HEADER,
    WEAVE_CONN_READ_PAYLOAD,
    WEAVE_CONN_WORKING, /* generate job queued or being generated */
    WEAVE_CONN_WRITING,
};

enum weave_io {
    WEAVE_IO_AGAIN,  /* would block: wait for the next readiness event */
    WEAVE_IO_DONE,   /* the whole request read / the whole reply written */
    WEAVE_IO_REPLY,  /* reading found an error: send *err, then close */
    WEAVE_IO_CLOSE,  /* peer gone or socket error: close, no reply */
};

/* Error, status and shared-memory replies fit here; only inline images
 * need more. */
#define WEAVE_CONN_SMALL_REPLY 1024

/* A reply of at least WEAVE_CONN_BIG_REPLY bytes asks for a send buffer of
 * WEAVE_CONN_BIG_SNDBUF before its first byte (conn.c, grow_send_buffer). */
#define WEAVE_CONN_BIG_REPLY (1u << 20)
#define WEAVE_CONN_BIG_SNDBUF (1 << 20)

/* Largest read per readiness event, so one fast sender cannot hog the loop. */
#define WEAVE_CONN_READ_BUDGET (1u << 20)

/*
 * The first recv of a request goes into a stack buffer of this size, so the
 * header and, usually, the whole payload arrive in ONE recv: any request a
 * client normally sends fits (16 + 60 + 3 x 2048 prompt bytes at most). The
 * payload buffer is allocated only after the header passed its checks,
 * from the checked length; a refused header has cost at most these bytes.
 */
#define WEAVE_CONN_FIRST_READ 8192u

struct weave_job;
struct weave_conn;

/*
 * Small messages sent before the reply (SPEC 11.3: queued, progress,
 * heartbeat), in order, as the socket takes them. A fixed ring per
 * connection, allocated with the first message: it never grows. When it is
 * full, the newest message waits in `latest` instead, replacing any older
 * one there (a client that reads slowly skips stale progress, and the loop
 * never buffers more than this for it).
 */
#define WEAVE_CONN_NOTES_CAP 2048u
#define WEAVE_CONN_NOTE_MAX 64u /* the largest message that may be queued */

struct weave_conn_notes {
    uint8_t buf[WEAVE_CONN_NOTES_CAP];
    size_t off, len;          /* unsent bytes: buf[off .. len) */
    uint8_t latest[WEAVE_CONN_NOTE_MAX];
    size_t latest_len;        /* 0: nothing set aside */
    uint32_t coalesced;       /* messages replaced while the ring was full */
};

/* A list of connections in deadline order; the event loop keeps two
 * (server.c explains why FIFOs are enough). */
struct weave_conn_list {
    struct weave_conn *head, *tail;
};

struct weave_conn {
    int fd;
    enum weave_conn_state state;
    uint64_t tag;          /* slot and generation: epoll data, job owner */
    struct weave_peer peer;
    uint64_t deadline_ms;  /* read or write deadline; 0 while WORKING */
    uint32_t events;       /* epoll interest currently registered */
    int polled;            /* registered in epoll at all (events may be 0) */

    /* Owned by the event loop: the deadline list c is on (NULL while
     * WORKING) and its neighbours there. */
    struct weave_conn_list *dl_list;
    struct weave_conn *dl_prev, *dl_next;

    uint8_t header[WEAVE_HEADER_SIZE];
    size_t header_got;
    struct weave_header hdr; /* valid once header_ok */
    int header_ok;           /* the header passed its checks */

    uint8_t *msg;          /* header + payload; grows as bytes arrive */
    size_t msg_len;        /* 16 + payload_len */
    size_t msg_cap;
    size_t msg_got;

    uint8_t *out;          /* the reply: small or a heap buffer */
    size_t out_len;
    size_t out_sent;
    int out_on_heap;
    int out_fd;            /* sent with the reply's first byte (SCM_RIGHTS),
                              owned by c and closed on release; -1: none */
    struct weave_conn_notes *notes; /* messages before the reply, or NULL */
    unsigned fds_dropped;  /* descriptors the client sent (all closed) */
    uint8_t small[WEAVE_CONN_SMALL_REPLY];

    struct weave_job *job; /* while WORKING (owned by the worker) */
    uint64_t request_id;   /* for logs, once known */
    uint32_t step, steps;  /* last step the worker reported; 0/0: none */
    uint32_t flags;        /* WEAVE_FLAG_* of a 0x0005 request, else 0 */
    uint64_t read_ms;      /* when the whole request had arrived */
    int started;           /* the worker started on its job */
    uint32_t position;     /* last queue position sent (0: none) */

    /* Owned by the event loop: the heartbeat list (server.c), for WORKING
     * connections that asked for progress, by when the next one is due. */
    int hb_on;
    uint64_t hb_due_ms;
    struct weave_conn *hb_prev, *hb_next;
};

/* Sets up a connection in READ_HEADER for an accepted, non-blocking fd. */
void weave_conn_init(struct weave_conn *c, int fd, uint64_t tag,
                     const struct weave_peer *peer);

/* Closes the fd and frees the buffers (not the job). */
void weave_conn_release(struct weave_conn *c);

/* Bytes of the request received so far (header included). */
size_t weave_conn_received(const struct weave_conn *c);

/*
 * Reads what is available, up to WEAVE_CONN_READ_BUDGET bytes, and stops at
 * a short read (the socket is drained) instead of asking again for EAGAIN.
 * Bytes past the message's end that came with the first read are ignored
 * (one request per connection). DONE: the whole message is in c->msg
 * (c->msg_len bytes). REPLY: *err is the error to send (header refused:
 * magic, version, size or a msg_type we do not serve; EOF mid-message; out
 * of memory). CLOSE: the peer left before sending anything, or the socket
 * failed.
 */
enum weave_io weave_conn_read(struct weave_conn *c, struct weave_error *err);

/*
 * Writes what the socket takes: the queued messages first, then the reply
 * (with c->out_fd on its first byte). DONE, AGAIN, or CLOSE (errno set).
 * *progress (may be NULL) is set when any byte went out.
 */
enum weave_io weave_conn_write(struct weave_conn *c, int *progress);

/*
 * Queues a message (len <= WEAVE_CONN_NOTE_MAX) to go before the reply.
 * Returns 0 when it is in the ring, 1 when the ring was full and it waits
 * as the newest (replacing an older one), -1 when it was dropped: too long,
 * or no memory for the ring.
 */
int weave_conn_note(struct weave_conn *c, const uint8_t *msg, size_t len);

/* Bytes of queued messages not sent yet (the one set aside included). */
size_t weave_conn_notes_pending(const struct weave_conn *c);

/* Writes queued messages only (not the reply): DONE when none is left. */
enum weave_io weave_conn_write_notes(struct weave_conn *c, int *progress);

/* Reply with len bytes already encoded into c->small, and the descriptor
 * fd (owned by c from now on) on its first byte. */
void weave_conn_reply_small_fd(struct weave_conn *c, size_t len, int fd);

/* Reply with an error message (encoded into c->small). */
void weave_conn_reply_error(struct weave_conn *c, const struct weave_error *err);

/* Reply with len bytes already encoded into c->small. */
void weave_conn_reply_small(struct weave_conn *c, size_t len);

/* Reply with a heap buffer; the connection takes ownership. */
void weave_conn_reply_heap(struct weave_conn *c, uint8_t *buf, size_t len);

/* The request_id readable from what has arrived so far, or 0 (SPEC: echo
 * it whenever 8 payload bytes of a generate or status request exist). */
uint64_t weave_conn_partial_request_id(const struct weave_conn *c);

/* Protocol version to answer in: the request's once its header passed. */
uint16_t weave_conn_reply_version(const struct weave_conn *c);

#endif /* WEAVE_CONN_H */
