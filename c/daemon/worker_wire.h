/*
 * The private framing between the daemon and its worker process, on one
 * AF_UNIX SOCK_SEQPACKET socketpair: one message per packet, native byte
 * order (both ends are the same binary), fixed-layout structs checked for
 * type and exact size by the receiver. Internal: not the client wire.
 * docs/BACKEND.md "Worker contract" describes the exchange.
 *
 *   daemon -> worker   JOB (+ one memfd, SCM_RIGHTS), STOP
 *   worker -> daemon   READY, INIT_FAILED, STEP, DONE
 */
#ifndef WEAVE_WORKER_WIRE_H
#define WEAVE_WORKER_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weave/protocol.h"

enum {
    WW_JOB = 1,          /* run this job; the memfd comes with it */
    WW_STOP = 2,         /* stop job_id at the next step (cancel) */
    WW_READY = 16,       /* backend init done; send jobs */
    WW_INIT_FAILED = 17, /* backend init failed; the worker exits */
    WW_STEP = 18,        /* job_id completed step of steps */
    WW_DONE = 19,        /* job_id finished; the memfd holds the pixels */
};

enum {
    WW_RESULT_OK = 0,
    WW_RESULT_FAILED = 1,    /* err_* is the reply */
    WW_RESULT_CANCELLED = 2, /* should_stop() was honoured */
};

#define WW_MSG_MAX 8192u /* a JOB with 3 maximal prompts fits */
#define WW_TEXT_MAX 256u

struct ww_job {
    uint32_t type;
    uint32_t flags;        /* WEAVE_GEN_FLAG_* of the request */
    uint64_t job_id;
    uint64_t map_len;      /* bytes of the memfd to map */
    uint64_t pixel_offset; /* where the pixels go in it */
    uint32_t width, height, steps, cfg_bits;
    uint64_t seed;         /* never 0 */
    uint32_t clip_l_len, clip_g_len, t5_len; /* the prompts follow */
    uint32_t warm;         /* 1: a reused buffer, its pages already exist */
    uint32_t reserved;
    uint64_t buf_id;       /* the daemon's pooled buffer this memfd is, never
                            * reused; 0: a one-off (SHM, or no pool) */
};

struct ww_stop {
    uint32_t type;
    uint32_t reserved;
    uint64_t job_id;
};

struct ww_ready {
    uint32_t type;
    int32_t pid;
};

struct ww_init_failed {
    uint32_t type;
    uint32_t reserved;
    char message[WW_TEXT_MAX]; /* NUL-terminated */
};

struct ww_step {
    uint32_t type;
    uint32_t step;
    uint64_t job_id;
    uint32_t steps;
    uint32_t elapsed_ms;
};

struct ww_done {
    uint32_t type;
    uint32_t result; /* WW_RESULT_* */
    uint64_t job_id;
    uint64_t generation_us; /* the backend's generate() call */
    uint32_t err_status;
    uint32_t err_code;
    char err_message[WW_TEXT_MAX]; /* NUL-terminated */
};

/* Sends one packet (with fd when fd >= 0). Returns 0, or -1 (errno;
 * EAGAIN on a non-blocking socket that is full). MSG_NOSIGNAL. */
int ww_send(int sock, const void *msg, size_t len, int fd, int flags);
/* Receives one packet into buf; *fd gets a passed descriptor (CLOEXEC) or
 * -1, and every extra descriptor is closed. Returns the length, 0 at EOF,
 * -1 on error (errno), or -2 for a truncated packet (dropped). */
ssize_t ww_recv(int sock, void *buf, size_t cap, int *fd, int flags);

#endif /* WEAVE_WORKER_WIRE_H */
