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

/* Error and status replies fit here; only images need the heap. */
#define WEAVE_CONN_SMALL_REPLY 640

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
    int header_ok;           /* the header passed weave_header_decode */

    uint8_t *msg;          /* header + payload; grows as bytes arrive */
    size_t msg_len;        /* 16 + payload_len */
    size_t msg_cap;
    size_t msg_got;

    uint8_t *out;          /* the reply: small or a heap buffer */
    size_t out_len;
    size_t out_sent;
    int out_on_heap;
    uint8_t small[WEAVE_CONN_SMALL_REPLY];

    struct weave_job *job; /* while WORKING (owned by the worker) */
    uint64_t request_id;   /* for logs, once known */
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

/* Writes what the socket takes. DONE, AGAIN, or CLOSE (errno set). */
enum weave_io weave_conn_write(struct weave_conn *c);

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
