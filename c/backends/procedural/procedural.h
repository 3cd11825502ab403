/*
 * The procedural renderer behind the `procedural` backend, exposed for its
 * tests and for anyone reproducing it. docs/BACKEND.md is its specification:
 * a change here is a change there (and to the golden values in
 * c/backends/procedural/procedural_test.c).
 */
#ifndef WEAVE_PROCEDURAL_H
#define WEAVE_PROCEDURAL_H

#include <stddef.h>
#include <stdint.h>

#include "weave/backend.h"

/* The backend itself, for the binary that serves with it (c/daemon/main.c). */
extern const struct weave_backend weave_backend_procedural;

#define WEAVE_FNV64_OFFSET 0xcbf29ce484222325ull
#define WEAVE_FNV64_PRIME 0x100000001b3ull

/* FNV-1a 64: continues from h (start with WEAVE_FNV64_OFFSET). */
uint64_t weave_fnv1a64(uint64_t h, const uint8_t *data, size_t len);

/* splitmix64: advances *state and returns the next output. */
uint64_t weave_splitmix64(uint64_t *state);

/* Hash of the three prompts (step 1 of docs/BACKEND.md). */
uint64_t weave_procedural_prompt_hash(const struct weave_gen_params *p);

/* Renders p->width * p->height * 3 bytes into pixels (caller-checked size). */
void weave_procedural_render(const struct weave_gen_params *p, uint8_t *pixels);

#endif /* WEAVE_PROCEDURAL_H */
