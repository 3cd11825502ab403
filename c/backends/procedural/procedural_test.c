/*
 * The procedural backend: determinism, sensitivity to every input, and the
 * golden values published in docs/BACKEND.md (a Go reimplementation checks
 * the same numbers; if one changes here, the doc must change with it).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_testutil.h"
#include "weave/backend.h"
#include "backends/procedural/procedural.h"

static struct weave_gen_params params(uint32_t w, uint32_t h, uint32_t steps,
                                      uint32_t cfg, uint64_t seed, const char *l,
                                      const char *g, const char *t)
{
    struct weave_gen_params p = {
        .width = w, .height = h, .steps = steps, .cfg_bits = cfg, .seed = seed,
        .clip_l = {(const uint8_t *)l, (uint32_t)strlen(l)},
        .clip_g = {(const uint8_t *)g, (uint32_t)strlen(g)},
        .t5 = {(const uint8_t *)t, (uint32_t)strlen(t)},
    };
    return p;
}

static uint64_t render_hash(const struct weave_gen_params *p)
{
    size_t n = (size_t)p->width * p->height * 3;
    uint8_t *px = malloc(n);
    weave_procedural_render(p, px);
    uint64_t h = weave_fnv1a64(WEAVE_FNV64_OFFSET, px, n);
    free(px);
    return h;
}

static void test_primitives(void)
{
    uint64_t s = 0;
    CHECK(weave_splitmix64(&s) == 0xe220a8397b1dcdafull);
    CHECK(s == 0x9e3779b97f4a7c15ull);
    CHECK(weave_fnv1a64(WEAVE_FNV64_OFFSET, NULL, 0) == 0xcbf29ce484222325ull);
    CHECK(weave_fnv1a64(WEAVE_FNV64_OFFSET, (const uint8_t *)"a", 1) ==
          0xaf63dc4c8601ec8cull);
}

/* docs/BACKEND.md, "Reference values". */
static void test_golden(void)
{
    struct weave_gen_params a = params(512, 512, 28, 0x40E00000u, 42, "a cat in space",
                                       "a cat in space", "a cat in space");
    CHECK(weave_procedural_prompt_hash(&a) == 0xa5a14ca002a9510bull);
    CHECK(render_hash(&a) == 0x7f1e36aafdd3461full);

    struct weave_gen_params b = params(64, 64, 1, 0, 1, "red", "green", "blue");
    CHECK(weave_procedural_prompt_hash(&b) == 0x0c51521f322bc6c7ull);
    CHECK(render_hash(&b) == 0x653328f84d08ababull);

    struct weave_gen_params c = params(128, 64, 100, 0x41A00000u,
                                       0xFFFFFFFFFFFFFFFFull, "\xc3\xbc",
                                       "\xc3\xbc", "\xc3\xbc");
    CHECK(weave_procedural_prompt_hash(&c) == 0xa96077e79e55221cull);
    CHECK(render_hash(&c) == 0x4dd20d17d777c32bull);

    uint8_t px[64 * 64 * 3];
    weave_procedural_render(&b, px);
    static const uint8_t first[9] = {0x17, 0xb6, 0xcf, 0x0f, 0xb8, 0xd1, 0x07, 0xba, 0xd3};
    CHECK(memcmp(px, first, sizeof first) == 0);
}

static void test_deterministic(void)
{
    struct weave_gen_params p = params(256, 192, 30, 0x40E00000u, 7, "x", "y", "z");
    CHECK(render_hash(&p) == render_hash(&p));
}

static void test_every_input_matters(void)
{
    struct weave_gen_params base = params(128, 128, 30, 0x40E00000u, 7, "x", "y", "z");
    uint64_t h = render_hash(&base);
    struct weave_gen_params p;

    p = base; p.seed = 8;
    CHECK(render_hash(&p) != h);
    p = base; p.steps = 31;
    CHECK(render_hash(&p) != h);
    p = base; p.cfg_bits = 0x40E00001u;
    CHECK(render_hash(&p) != h);
    p = base; p.clip_l.data = (const uint8_t *)"w";
    CHECK(render_hash(&p) != h);
    p = base; p.clip_g.data = (const uint8_t *)"w";
    CHECK(render_hash(&p) != h);
    p = base; p.t5.data = (const uint8_t *)"w";
    CHECK(render_hash(&p) != h);
    p = base; p.width = 192;
    CHECK(render_hash(&p) != h);
    /* Length prefixes keep ("ab","c") and ("a","bc") apart. */
    struct weave_gen_params q1 = params(64, 64, 1, 0, 1, "ab", "c", "d");
    struct weave_gen_params q2 = params(64, 64, 1, 0, 1, "a", "bc", "d");
    CHECK(weave_procedural_prompt_hash(&q1) != weave_procedural_prompt_hash(&q2));
}

static void test_not_flat(void)
{
    /* "Looks like something": many distinct colours, not noise-flat. */
    struct weave_gen_params p = params(256, 256, 28, 0x40E00000u, 42, "a cat in space",
                                       "a cat in space", "a cat in space");
    uint8_t *px = malloc(256 * 256 * 3);
    weave_procedural_render(&p, px);
    static unsigned char seen[256];
    memset(seen, 0, sizeof seen);
    int distinct = 0;
    for (size_t i = 0; i < 256u * 256u; i++) {
        if (!seen[px[i * 3]]++)
            distinct++;
    }
    CHECK(distinct > 64);
    free(px);
}

/* Records what generate() reports; asks to stop once `stop_after` steps
 * were reported (0: never). */
struct step_log {
    uint32_t seen[128];
    uint32_t n, total;
    uint32_t stop_after;
    int bad_total;
};

static void log_step(void *ctx, uint32_t step, uint32_t steps)
{
    struct step_log *l = ctx;
    if (l->n < 128)
        l->seen[l->n] = step;
    l->n++;
    if (l->total != 0 && l->total != steps)
        l->bad_total = 1;
    l->total = steps;
}

static int stop_when_told(void *ctx)
{
    const struct step_log *l = ctx;
    return l->stop_after != 0 && l->n >= l->stop_after;
}

static struct weave_gen_hooks hooks_for(struct step_log *l)
{
    struct weave_gen_hooks h = {l, log_step, stop_when_told};
    return h;
}

static void test_hooks_every_step_same_pixels(void)
{
    const struct weave_backend *b = &weave_backend_procedural;
    uint32_t step_counts[] = {1, 7, 28, 100};
    static uint8_t want[192 * 128 * 3], got[192 * 128 * 3];
    for (size_t k = 0; k < sizeof step_counts / sizeof step_counts[0]; k++) {
        struct weave_gen_params p =
            params(192, 128, step_counts[k], 0x40E00000u, 99, "a", "bb", "ccc");
        struct step_log l;
        memset(&l, 0, sizeof l);
        struct weave_gen_hooks h = hooks_for(&l);
        struct weave_error e;
        weave_procedural_render(&p, want);
        memset(got, 0, sizeof got);
        CHECK(b->generate(NULL, &p, &h, got, sizeof got, &e) == 0);
        CHECK(memcmp(want, got, sizeof got) == 0);
        CHECK(l.n == p.steps && l.total == p.steps && !l.bad_total);
        int in_order = 1;
        for (uint32_t i = 0; i < l.n && i < 128; i++)
            in_order &= l.seen[i] == i + 1;
        CHECK(in_order);
    }
}

static void test_hooks_stop(void)
{
    const struct weave_backend *b = &weave_backend_procedural;
    struct weave_gen_params p = params(64, 64, 10, 0, 1, "red", "green", "blue");
    uint8_t px[64 * 64 * 3];
    struct step_log l;
    memset(&l, 0, sizeof l);
    l.stop_after = 3;
    struct weave_gen_hooks h = hooks_for(&l);
    struct weave_error e;
    memset(&e, 0, sizeof e);
    CHECK(b->generate(NULL, &p, &h, px, sizeof px, &e) == -1);
    CHECK(weave_gen_cancelled(&e));
    CHECK(e.status == 500);
    CHECK(l.n == 3);
}

static void test_backend_interface(void)
{
    const struct weave_backend *b = &weave_backend_procedural;
    void *state = (void *)1;
    char err[128];
    struct weave_error e;
    CHECK(strcmp(b->name, "procedural") == 0);
    CHECK(strstr(b->description, "not a diffusion model") != NULL);
    CHECK(b->init(&state, err, sizeof err) == 0);
    struct weave_gen_params p = params(64, 64, 1, 0, 1, "red", "green", "blue");
    uint8_t px[64 * 64 * 3];
    struct step_log l;
    memset(&l, 0, sizeof l);
    struct weave_gen_hooks h = hooks_for(&l);
    CHECK(b->generate(state, &p, &h, px, sizeof px, &e) == 0);
    CHECK(px[0] == 0x17 && px[1] == 0xb6);
    /* A buffer too small is an error, not an overflow. */
    CHECK(b->generate(state, &p, &h, px, sizeof px - 1, &e) == -1);
    CHECK(e.status == 500);
    b->shutdown(state);
}

static void test_speed(void)
{
    struct weave_gen_params p = params(1024, 1024, 28, 0x40E00000u, 42, "a", "b", "c");
    uint8_t *px = malloc(1024 * 1024 * 3);
    uint64_t t0 = tu_now_ms();
    for (int i = 0; i < 4; i++)
        weave_procedural_render(&p, px);
    uint64_t ms = tu_now_ms() - t0;
    printf("(%.1f ns/pixel) ", (double)ms * 1e6 / (4.0 * 1024 * 1024));
    /* Generous: sanitizer builds are several times slower. */
    CHECK(ms < 4 * 1000);
    free(px);
}

int main(void)
{
    tu_run("backend: FNV-1a 64 and splitmix64", test_primitives);
    tu_run("backend: golden values (docs/BACKEND.md)", test_golden);
    tu_run("backend: deterministic", test_deterministic);
    tu_run("backend: every input changes the image", test_every_input_matters);
    tu_run("backend: image is not flat", test_not_flat);
    tu_run("backend: interface and buffer check", test_backend_interface);
    tu_run("backend: hooks see every step, pixels unchanged",
           test_hooks_every_step_same_pixels);
    tu_run("backend: should_stop stops between steps", test_hooks_stop);
    tu_run("backend: speed", test_speed);
    return tu_summary();
}
