/*
 * Generation backends. The daemon talks to its renderer only through this
 * table of functions, so a real diffusion backend can replace the shipped
 * `procedural` one without touching the transport.
 *
 * Threading: init() and shutdown() run on the main thread; generate() runs
 * on the single worker thread, one call at a time, never concurrently.
 */
#ifndef WEAVE_BACKEND_H
#define WEAVE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

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
     * the wall time around this call for generation_time_ms.
     */
    int (*generate)(void *state, const struct weave_gen_params *params,
                    uint8_t *pixels, size_t cap, struct weave_error *err);
    /* Releases what init() made. */
    void (*shutdown)(void *state);
};

/* The shipped backend: deterministic procedural renderer (docs/BACKEND.md). */
extern const struct weave_backend weave_backend_procedural;

#endif /* WEAVE_BACKEND_H */
