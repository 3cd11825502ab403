/*
 * The backend API: the daemon talks to its renderer only through this table
 * of functions, so a real diffusion backend can replace the shipped
 * `procedural` one without touching the transport. The binary picks the
 * backend (c/daemon/main.c) and hands it to weave_daemon_main(); the
 * daemon's library depends on this header only, never on a backend.
 *
 * Threading: all three run in the daemon's worker process (a child of the
 * daemon, docs/BACKEND.md "Worker contract"): init() when a worker starts,
 * shutdown() when it is unloaded, generate() one call at a time, never
 * concurrently.
 * Specification of the shipped backends: docs/BACKEND.md.
 */
#ifndef WEAVE_BACKEND_H
#define WEAVE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "weave/protocol.h"

/* What a backend gets for one image (validated by the codec already). */
struct weave_gen_params {
    uint32_t width;     /* 64..2048, multiple of 64 */
    uint32_t height;
    uint32_t steps;     /* 1..100 */
    uint32_t cfg_bits;  /* IEEE 754 bit pattern of cfg_scale (0.0..20.0) */
    uint64_t seed;      /* never 0: seed 0 is resolved before generate() */
    struct weave_bytes clip_l;
    struct weave_bytes clip_g;
    struct weave_bytes t5;
};

/*
 * What generate() tells its caller while it runs, and how the caller asks
 * it to stop. Both callbacks run on the generating thread, between steps;
 * they must be quick and must not call back into the backend.
 */
struct weave_gen_hooks {
    void *ctx; /* passed to both callbacks */
    /* Called after each completed step, step = 1..steps, in order: a
     * successful generate() has reported every one of its `steps`. */
    void (*step)(void *ctx, uint32_t step, uint32_t steps);
    /* Asked before each step; non-zero: stop now. generate() then returns
     * -1 with the error weave_gen_set_cancelled() makes. */
    int (*should_stop)(void *ctx);
};

/*
 * The err->code of a generation stopped by should_stop(). Not a wire code:
 * the caller, which asked for the stop, decides what (if anything) to send.
 */
#define WEAVE_GEN_ERR_CANCELLED 0xFFFFu

static inline void weave_gen_set_cancelled(struct weave_error *err)
{
    err->request_id = 0;
    err->status = WEAVE_STATUS_SERVER_ERROR;
    err->code = WEAVE_GEN_ERR_CANCELLED;
    memcpy(err->message, "cancelled", sizeof "cancelled");
}

static inline int weave_gen_cancelled(const struct weave_error *err)
{
    return err->code == WEAVE_GEN_ERR_CANCELLED;
}

struct weave_backend {
    /* Short name: status response `backend` field and logs. */
    const char *name;
    /* One honest line about what it is, for the startup log. */
    const char *description;
    /* Prepares *state (e.g. loads a model). Returns 0, or -1 with err set. */
    int (*init)(void **state, char *err, size_t errlen);
    /*
     * Renders width*height RGB pixels (3 bytes each, rows top to bottom,
     * tightly packed) into pixels, whose capacity is cap bytes. Returns 0,
     * or -1 with *err filled (e.g. 500 / WEAVE_ERR_GPU). The caller measures
     * the wall time around this call for generation_time_ms. hooks is never
     * NULL, nor are its callbacks.
     */
    int (*generate)(void *state, const struct weave_gen_params *params,
                    const struct weave_gen_hooks *hooks, uint8_t *pixels,
                    size_t cap, struct weave_error *err);
    /* Releases what init() made. */
    void (*shutdown)(void *state);
};

#endif /* WEAVE_BACKEND_H */
