/* The generation worker: order, results, seed choice, cancel, stop. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "backends/procedural/procedural.h"
#include "daemon/worker.h"

/* A backend that records the order of calls and can be slow or fail. */
static uint64_t order[16];
static int calls;
static int delay_ms;

static int fake_init(void **s, char *e, size_t n)
{
    (void)e;
    (void)n;
    *s = NULL;
    return 0;
}

static int fake_generate(void *s, const struct weave_gen_params *p,
                         const struct weave_gen_hooks *hooks, uint8_t *px,
                         size_t cap, struct weave_error *err)
{
    (void)s;
    /* The in-process worker never asks a generation to stop. */
    if (hooks->should_stop(hooks->ctx))
        return -1;
    hooks->step(hooks->ctx, 1, 1);
    if (calls < 16)
        order[calls] = p->seed;
    calls++;
    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000);
    if (p->seed == 666) {
        weave_error_set(err, 0, WEAVE_ERR_GPU, "simulated failure");
        return -1;
    }
    memset(px, 0xAB, cap);
    return 0;
}

static void fake_shutdown(void *s)
{
    (void)s;
}

static const struct weave_backend fake = {
    "fake", "fake backend for tests", fake_init, fake_generate, fake_shutdown,
};

static const char prompt[] = "p";

static struct weave_job *make_job(uint64_t id, uint64_t seed, uint32_t w)
{
    struct weave_job *j = calloc(1, sizeof *j);
    j->conn_tag = id;
    j->version = 1;
    j->req.request_id = id;
    j->req.width = w;
    j->req.height = 64;
    j->req.steps = 10;
    j->req.cfg_scale = 7.0f;
    j->req.seed = seed;
    j->req.clip_l.data = j->req.clip_g.data = j->req.t5.data = (const uint8_t *)prompt;
    j->req.clip_l.len = j->req.clip_g.len = j->req.t5.len = 1;
    return j;
}

/* Collects n finished jobs (in arrival order) within 5 s. */
static int collect(struct weave_worker *w, struct weave_job **out, int n)
{
    int got = 0;
    uint64_t end = tu_now_ms() + 5000;
    while (got < n && tu_now_ms() < end) {
        struct pollfd pfd = {.fd = weave_worker_event_fd(w), .events = POLLIN};
        poll(&pfd, 1, 100);
        for (struct weave_job *j = weave_worker_take_done(w); j != NULL;) {
            struct weave_job *next = j->next;
            if (got < n)
                out[got++] = j;
            else
                weave_job_free(j);
            j = next;
        }
    }
    return got;
}

static struct weave_log quiet = {.level = WEAVE_LOG_ERROR, .fd = -1};

static void test_fifo_one_at_a_time(void)
{
    struct weave_worker *w;
    char err[128];
    calls = 0;
    delay_ms = 20;
    CHECK(weave_worker_start(&w, &fake, NULL, &quiet, err, sizeof err) == 0);
    for (uint64_t i = 1; i <= 4; i++)
        weave_worker_submit(w, make_job(i, 100 + i, 64));
    usleep(5000);
    CHECK(weave_worker_queue_depth(w) == 3); /* one running, three waiting */
    struct weave_job *done[4];
    CHECK(collect(w, done, 4) == 4);
    for (int i = 0; i < 4; i++) {
        CHECK(done[i]->req.request_id == (uint64_t)i + 1);
        CHECK(order[i] == 101 + (uint64_t)i);
        CHECK(done[i]->reply != NULL);
        CHECK(done[i]->generation_ms >= 15);
        weave_job_free(done[i]);
    }
    CHECK(weave_worker_queue_depth(w) == 0);
    CHECK(weave_worker_stop(w, 1000) == 0);
}

static void test_reply_contents(void)
{
    struct weave_worker *w;
    char err[128];
    struct weave_response r;
    CHECK(weave_worker_start(&w, &weave_backend_procedural, NULL, &quiet, err,
                             sizeof err) == 0);
    weave_worker_submit(w, make_job(9, 12345, 128));
    weave_worker_submit(w, make_job(10, 0, 64)); /* daemon picks the seed */
    struct weave_job *done[2];
    CHECK(collect(w, done, 2) == 2);

    CHECK(tu_decode_reply(done[0]->reply, done[0]->reply_len, &r) == 0);
    CHECK(r.msg_type == WEAVE_MSG_GENERATE_RESPONSE);
    CHECK(r.u.generate.request_id == 9 && r.u.generate.status == 200);
    CHECK(r.u.generate.width == 128 && r.u.generate.height == 64);
    CHECK(r.u.generate.channels == 3);
    CHECK(r.u.generate.has_seed && r.u.generate.seed == 12345);
    /* Same pixels as the renderer called directly. */
    struct weave_gen_params p = {
        .width = 128, .height = 64, .steps = 10, .cfg_bits = 0x40E00000u,
        .seed = 12345, .clip_l = {(const uint8_t *)prompt, 1},
        .clip_g = {(const uint8_t *)prompt, 1}, .t5 = {(const uint8_t *)prompt, 1},
    };
    uint8_t *px = malloc(128 * 64 * 3);
    weave_procedural_render(&p, px);
    CHECK(r.u.generate.image.len == 128 * 64 * 3);
    CHECK(memcmp(r.u.generate.image.data, px, 128 * 64 * 3) == 0);
    free(px);

    CHECK(tu_decode_reply(done[1]->reply, done[1]->reply_len, &r) == 0);
    CHECK(r.u.generate.has_seed && r.u.generate.seed != 0);
    CHECK(done[1]->seed == r.u.generate.seed);
    weave_job_free(done[0]);
    weave_job_free(done[1]);
    CHECK(weave_worker_stop(w, 1000) == 0);
}

static void test_backend_failure(void)
{
    struct weave_worker *w;
    char err[128];
    calls = 0;
    delay_ms = 0;
    CHECK(weave_worker_start(&w, &fake, NULL, &quiet, err, sizeof err) == 0);
    weave_worker_submit(w, make_job(5, 666, 64));
    struct weave_job *done[1];
    CHECK(collect(w, done, 1) == 1);
    CHECK(done[0]->reply == NULL);
    CHECK(done[0]->err.status == 500 && done[0]->err.code == WEAVE_ERR_GPU);
    CHECK(done[0]->err.request_id == 5);
    weave_job_free(done[0]);
    CHECK(weave_worker_stop(w, 1000) == 0);
}

static void test_cancel_and_take_pending(void)
{
    struct weave_worker *w;
    char err[128];
    calls = 0;
    delay_ms = 100;
    CHECK(weave_worker_start(&w, &fake, NULL, &quiet, err, sizeof err) == 0);
    struct weave_job *a = make_job(1, 1, 64), *b = make_job(2, 2, 64),
                     *c = make_job(3, 3, 64), *d = make_job(4, 4, 64);
    weave_worker_submit(w, a);
    usleep(20000); /* a is running */
    weave_worker_submit(w, b);
    weave_worker_submit(w, c);
    weave_worker_submit(w, d);
    CHECK(weave_worker_cancel(w, a) == 0); /* running: cannot */
    CHECK(weave_worker_cancel(w, c) == 1);
    weave_job_free(c);
    struct weave_job *pending = weave_worker_take_pending(w);
    CHECK(pending == b && b->next == d && d->next == NULL);
    weave_job_free(b);
    weave_job_free(d);
    CHECK(weave_worker_queue_depth(w) == 0);
    struct weave_job *done[1];
    CHECK(collect(w, done, 1) == 1 && done[0] == a);
    weave_job_free(a);
    CHECK(calls == 1);
    CHECK(weave_worker_stop(w, 1000) == 0);
}

static void test_stop_timeout(void)
{
    struct weave_worker *w;
    char err[128];
    calls = 0;
    delay_ms = 300;
    CHECK(weave_worker_start(&w, &fake, NULL, &quiet, err, sizeof err) == 0);
    weave_worker_submit(w, make_job(1, 1, 64));
    usleep(20000);
    uint64_t t0 = tu_now_ms();
    CHECK(weave_worker_stop(w, 50) == -1); /* still generating: not joined */
    CHECK(tu_now_ms() - t0 < 250);
    /* It finishes in the end; a second stop then frees everything. */
    CHECK(weave_worker_stop(w, 2000) == 0);
}

int main(void)
{
    tu_run("worker: FIFO, one job at a time", test_fifo_one_at_a_time);
    tu_run("worker: reply bytes and seed extension", test_reply_contents);
    tu_run("worker: backend failure becomes an error reply", test_backend_failure);
    tu_run("worker: cancel and take pending", test_cancel_and_take_pending);
    tu_run("worker: stop gives up on a stuck job", test_stop_timeout);
    return tu_summary();
}
