/*
 * `procedural`: a deterministic test renderer, NOT a diffusion model.
 *
 * It exists so the whole transport can be exercised end to end with real
 * image sizes and timings. Integer arithmetic only, so any language can
 * reproduce it byte for byte: docs/BACKEND.md is the specification, and a
 * Go reimplementation in the integration tests compares pixels with it.
 */
#define _GNU_SOURCE
#include "backends/procedural/procedural.h"

#include <stdio.h>
#include <string.h>

uint64_t weave_fnv1a64(uint64_t h, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= WEAVE_FNV64_PRIME;
    }
    return h;
}

uint64_t weave_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Numbers are hashed as their big-endian bytes (docs/BACKEND.md). */
static uint64_t hash_be32(uint64_t h, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    return weave_fnv1a64(h, b, sizeof b);
}

static uint64_t hash_be64(uint64_t h, uint64_t v)
{
    return hash_be32(hash_be32(h, (uint32_t)(v >> 32)), (uint32_t)v);
}

static uint64_t hash_prompt(uint64_t h, struct weave_bytes s)
{
    h = hash_be32(h, s.len);
    return weave_fnv1a64(h, s.data, s.len);
}

uint64_t weave_procedural_prompt_hash(const struct weave_gen_params *p)
{
    uint64_t h = WEAVE_FNV64_OFFSET;
    h = hash_prompt(h, p->clip_l);
    h = hash_prompt(h, p->clip_g);
    return hash_prompt(h, p->t5);
}

/* Image key: everything that selects the picture (step 2). */
static uint64_t image_key(const struct weave_gen_params *p, uint64_t prompt)
{
    uint64_t h = WEAVE_FNV64_OFFSET;
    h = hash_be64(h, prompt);
    h = hash_be64(h, p->seed);
    h = hash_be32(h, p->width);
    h = hash_be32(h, p->height);
    h = hash_be32(h, p->steps);
    return hash_be32(h, p->cfg_bits);
}

/* Triangle wave with period 512 and range 0..255, on the low 9 bits of v
 * (two's complement, so negative arguments wrap like in Go's uint32). */
static inline uint32_t tri(int32_t v)
{
    uint32_t u = (uint32_t)v & 511u;
    return u < 256u ? u : 511u - u;
}

struct geometry {
    int32_t fx[3], fy[3], ph[3]; /* three plane waves */
    int32_t cx, cy, rs, rp;      /* one ring pattern */
};

static void make_palette(uint64_t prompt, uint8_t pal[256][3])
{
    uint64_t s = prompt;
    uint32_t mul[3], off[3];

    for (int c = 0; c < 3; c++) {
        uint64_t r = weave_splitmix64(&s);
        mul[c] = 1u + (uint32_t)(r & 3u);
        off[c] = (uint32_t)((r >> 8) & 511u);
    }
    for (uint32_t t = 0; t < 256; t++) {
        for (int c = 0; c < 3; c++)
            pal[t][c] = (uint8_t)tri((int32_t)(t * mul[c] + off[c]));
    }
}

static void make_geometry(const struct weave_gen_params *p, uint64_t key,
                          struct geometry *g)
{
    uint64_t s = key;

    for (int i = 0; i < 3; i++) {
        uint64_t r = weave_splitmix64(&s);
        g->fx[i] = (int32_t)(r & 7u) - 3;
        g->fy[i] = (int32_t)((r >> 4) & 7u) - 3;
        g->ph[i] = (int32_t)((r >> 8) & 511u);
    }
    uint64_t r = weave_splitmix64(&s);
    g->cx = (int32_t)((r & 0xFFFFu) % p->width);
    g->cy = (int32_t)(((r >> 16) & 0xFFFFu) % p->height);
    g->rs = 6 + (int32_t)((r >> 32) & 3u);
    g->rp = (int32_t)((r >> 40) & 511u);
}

/* Everything the pixels depend on, computed once per image. */
struct scene {
    uint8_t pal[256][3];
    struct geometry g;
};

static void make_scene(const struct weave_gen_params *p, struct scene *sc)
{
    uint64_t prompt = weave_procedural_prompt_hash(p);

    make_palette(prompt, sc->pal);
    make_geometry(p, image_key(p, prompt), &sc->g);
}

/* Rows y0..y1-1 (each row depends only on its own y), into pixels. */
static void render_rows(const struct weave_gen_params *p, const struct scene *sc,
                        int32_t y0, int32_t y1, uint8_t *pixels)
{
    const struct geometry *g = &sc->g;

    /* Sides are <= 2048, so every intermediate fits in int32: plane-wave
     * arguments stay within +-17000, ring distances under 2^23. */
    uint8_t *out = pixels + (size_t)y0 * p->width * 3u;
    for (int32_t y = y0; y < y1; y++) {
        int32_t dy = y - g->cy;
        int32_t dy2 = dy * dy;
        int32_t w0 = g->fy[0] * y + g->ph[0];
        int32_t w1 = g->fy[1] * y + g->ph[1];
        int32_t w2 = g->fy[2] * y + g->ph[2];
        for (int32_t x = 0; x < (int32_t)p->width; x++) {
            int32_t dx = x - g->cx;
            uint32_t a = tri(g->fx[0] * x + w0) + tri(g->fx[1] * x + w1) +
                         tri(g->fx[2] * x + w2);
            uint32_t b = tri(((dx * dx + dy2) >> g->rs) + g->rp);
            const uint8_t *c = sc->pal[(a + b) >> 2];
            out[0] = c[0];
            out[1] = c[1];
            out[2] = c[2];
            out += 3;
        }
    }
}

void weave_procedural_render(const struct weave_gen_params *p, uint8_t *pixels)
{
    struct scene sc;

    make_scene(p, &sc);
    render_rows(p, &sc, 0, (int32_t)p->height, pixels);
}

static int procedural_init(void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *state = NULL; /* stateless */
    return 0;
}

/*
 * The picture does not depend on how it is cut: step i of n renders rows
 * [height*(i-1)/n, height*i/n), so the hooks see every step and the pixels
 * are exactly weave_procedural_render()'s.
 */
static int procedural_generate(void *state, const struct weave_gen_params *p,
                               const struct weave_gen_hooks *hooks,
                               uint8_t *pixels, size_t cap,
                               struct weave_error *err)
{
    (void)state;
    /* The codec already bounded the sides; check again rather than trust a
     * caller with someone else's buffer. */
    if (p->width == 0 || p->height == 0 || p->width > 2048 || p->height > 2048 ||
        (uint64_t)p->width * p->height * 3u > cap) {
        weave_error_set(err, 0, WEAVE_ERR_INTERNAL,
                        "procedural: bad image size %ux%u for a %zu-byte buffer",
                        (unsigned)p->width, (unsigned)p->height, cap);
        return -1;
    }
    uint32_t steps = p->steps != 0 ? p->steps : 1;
    struct scene sc;
    make_scene(p, &sc);
    for (uint32_t i = 1; i <= steps; i++) {
        if (hooks->should_stop(hooks->ctx)) {
            weave_gen_set_cancelled(err);
            return -1;
        }
        uint64_t y0 = (uint64_t)p->height * (i - 1) / steps;
        uint64_t y1 = (uint64_t)p->height * i / steps;
        render_rows(p, &sc, (int32_t)y0, (int32_t)y1, pixels);
        hooks->step(hooks->ctx, i, steps);
    }
    return 0;
}

static void procedural_shutdown(void *state)
{
    (void)state;
}

const struct weave_backend weave_backend_procedural = {
    .name = "procedural",
    .description = "procedural (deterministic test renderer, not a diffusion model)",
    .init = procedural_init,
    .generate = procedural_generate,
    .shutdown = procedural_shutdown,
};
