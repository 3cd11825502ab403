/*
 * The worker process and its supervisor, for real: this test binary is
 * exec'd as the worker (daemon_testutil.c serves worker mode with the
 * backend below), which crashes, hangs, fails or renders on request, and
 * the tests send it real signals. Checks: order and results, crashes of
 * every kind (500/9 naming the signal), the queue surviving a crash, the
 * watchdog (SIGSTOP), cancel and its escalation, back-off and recovery,
 * idle unload and reload, the descriptors the worker sees, no zombies,
 * shared-memory results.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "backends/procedural/procedural.h"
#include "daemon/worker.h"

/* ---- the backend in the worker: behaviour chosen by the seed ---------- */

enum {
    SEED_SEGV = 11,    /* real SIGSEGV from a bad write */
    SEED_ABORT = 12,   /* abort() */
    SEED_EXIT = 13,    /* exit status 7 */
    SEED_DEAF = 14,    /* sleeps 30 s, never asks should_stop */
    SEED_GARBAGE = 15, /* writes junk, and a descriptor, on the worker socket */
    SEED_FAIL = 666,   /* a clean backend error */
};

static int fake_init(void **s, char *e, size_t n)
{
    (void)e;
    (void)n;
    *s = NULL;
    if (getenv("WORKER_TEST_INIT_HANGS") != NULL)
        sleep(60); /* a model load that never finishes */
    return 0;
}

static int fake_generate(void *s, const struct weave_gen_params *p,
                         const struct weave_gen_hooks *hooks, uint8_t *px,
                         size_t cap, struct weave_error *err)
{
    switch (p->seed) {
    case SEED_SEGV: {
        /* Default action, whatever a sanitizer installed: a real crash. */
        signal(SIGSEGV, SIG_DFL);
        volatile int *bad = (volatile int *)(uintptr_t)16;
        *bad = 1;
        break;
    }
    case SEED_ABORT:
        signal(SIGABRT, SIG_DFL);
        abort();
    case SEED_EXIT:
        _exit(7);
    case SEED_DEAF:
        sleep(30);
        break;
    case SEED_GARBAGE: {
        /* A compromised backend talking to the daemon on fd 3: first a
         * stray descriptor with a junk packet, then more junk. */
        int devnull = open("/dev/null", O_RDONLY);
        struct iovec iov = {.iov_base = "junk", .iov_len = 4};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } ctl;
        memset(&ctl, 0, sizeof ctl);
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &devnull, sizeof devnull);
        sendmsg(3, &mh, MSG_NOSIGNAL);
        sleep(30); /* the daemon kills us first */
        break;
    }
    case SEED_FAIL:
        weave_error_set(err, 0, WEAVE_ERR_GPU, "simulated failure");
        return -1;
    default:
        break;
    }
    return weave_backend_procedural.generate(s, p, hooks, px, cap, err);
}

static void fake_shutdown(void *s)
{
    (void)s;
}

static const struct weave_backend fake = {
    .name = "fake",
    .description = "test backend: crashes on request",
    .init = fake_init,
    .generate = fake_generate,
    .shutdown = fake_shutdown,
};

const struct weave_backend *tu_worker_backend(void)
{
    return &fake;
}

/* ---- harness ------------------------------------------------------------ */

static const char prompt[] = "p";

static struct weave_job *make_job(uint64_t id, uint64_t seed, uint32_t w,
                                  uint32_t steps)
{
    struct weave_job *j = calloc(1, sizeof *j);
    j->conn_tag = id;
    j->version = 1;
    j->req.request_id = id;
    j->req.width = w;
    j->req.height = 64;
    j->req.steps = steps;
    j->req.cfg_scale = 7.0f;
    j->req.seed = seed;
    j->req.clip_l.data = j->req.clip_g.data = j->req.t5.data = (const uint8_t *)prompt;
    j->req.clip_l.len = j->req.clip_g.len = j->req.t5.len = 1;
    return j;
}

#define MAXJ 32

struct rec {
    struct weave_worker *w;
    struct weave_job *done[MAXJ];
    int ndone;
    int started;
    pid_t started_pid; /* the worker pid when the last job started */
    int steps;
    int queue_changed;
};

static void on_started(void *ctx, struct weave_job *job)
{
    struct rec *r = ctx;
    struct weave_worker_status st;
    (void)job;
    r->started++;
    weave_worker_get_status(r->w, &st);
    r->started_pid = st.pid;
}

static void on_step(void *ctx, struct weave_job *job, uint32_t step,
                    uint32_t steps, uint32_t elapsed_ms)
{
    (void)job;
    (void)step;
    (void)steps;
    (void)elapsed_ms;
    ((struct rec *)ctx)->steps++;
}

static void on_done(void *ctx, struct weave_job *job)
{
    struct rec *r = ctx;
    if (r->ndone < MAXJ)
        r->done[r->ndone++] = job;
    else
        weave_job_free(job);
}

static void on_queue(void *ctx)
{
    ((struct rec *)ctx)->queue_changed++;
}

static struct weave_log quiet = {.level = WEAVE_LOG_ERROR, .fd = -1};

static struct weave_worker *start(struct rec *r, struct weave_worker_config *cfg)
{
    struct weave_worker *w = NULL;
    char err[128];
    struct weave_worker_events ev = {r, on_started, on_step, on_done, on_queue};
    memset(r, 0, sizeof *r);
    cfg->log_level = WEAVE_LOG_ERROR;
    if (cfg->cancel_grace_ms == 0)
        cfg->cancel_grace_ms = 300;
    CHECK(weave_worker_start(&w, cfg, &fake, &quiet, &ev, err, sizeof err) == 0);
    r->w = w;
    return w;
}

static struct weave_worker_config defaults(void)
{
    struct weave_worker_config c;
    memset(&c, 0, sizeof c);
    c.generation_timeout_ms = 20000;
    c.keep_alive_ms = -1;
    return c;
}

/* One round of the loop: poll the worker's fd, then dispatch. */
static void spin(struct weave_worker *w, int ms)
{
    struct pollfd pfd = {.fd = weave_worker_fd(w), .events = POLLIN};
    if (poll(&pfd, 1, ms) > 0)
        weave_worker_dispatch(w);
}

/* Runs the loop until n jobs are done (or 10 s pass); returns ndone. */
static int wait_done(struct weave_worker *w, struct rec *r, int n)
{
    uint64_t end = tu_now_ms() + 10000;
    while (r->ndone < n && tu_now_ms() < end)
        spin(w, 50);
    return r->ndone;
}

static pid_t worker_pid(const struct weave_worker *w)
{
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    return st.pid;
}

/* Runs the loop until `started` jobs have started; returns the pid of the
 * worker that started the last one (it may have died since). */
static pid_t wait_running(struct weave_worker *w, struct rec *r, int started)
{
    uint64_t end = tu_now_ms() + 10000;
    while (tu_now_ms() < end && r->started < started)
        spin(w, 20);
    return r->started_pid;
}

static enum weave_backend_state wait_state(struct weave_worker *w,
                                           enum weave_backend_state want,
                                           int timeout_ms)
{
    struct weave_worker_status st;
    uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        weave_worker_get_status(w, &st);
        if (st.state == want || tu_now_ms() >= end)
            return st.state;
        spin(w, 20);
    }
}

/* The process is gone and reaped: not even a zombie left. */
static int gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld", (long)pid);
    uint64_t end = tu_now_ms() + 5000;
    while (tu_now_ms() < end) {
        if (access(path, F_OK) != 0)
            return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD;
        usleep(10000);
    }
    return 0;
}

static int has(const struct weave_job *j, const char *text)
{
    return strstr(j->err.message, text) != NULL;
}

static void free_done(struct rec *r)
{
    for (int i = 0; i < r->ndone; i++)
        weave_job_free(r->done[i]);
    r->ndone = 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_fifo_and_pixels(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    struct weave_worker_status st;

    weave_worker_get_status(w, &st);
    CHECK(st.state == WEAVE_BACKEND_UNLOADED && st.pid == 0); /* lazy */
    for (uint64_t i = 1; i <= 4; i++) {
        struct weave_job *j = make_job(i, 100 + i, 128, 5);
        j->flags = i <= 3 ? WEAVE_GEN_FLAG_PROGRESS : 0;
        weave_worker_submit(w, j);
    }
    CHECK(weave_worker_queue_depth(w) <= 4);
    CHECK(wait_done(w, &r, 4) == 4);
    for (int i = 0; i < 4 && i < r.ndone; i++) {
        struct weave_job *j = r.done[i];
        struct weave_response resp;
        CHECK(j->req.request_id == (uint64_t)i + 1);
        CHECK(!j->failed && j->reply != NULL && j->shm_fd == -1);
        CHECK(tu_decode_reply(j->reply, j->reply_len, &resp) == 0);
        CHECK(resp.u.generate.request_id == (uint64_t)i + 1);
        CHECK(resp.u.generate.has_seed && resp.u.generate.seed == 101 + (uint64_t)i);
        struct weave_gen_params p = {
            .width = 128, .height = 64, .steps = 5, .cfg_bits = 0x40E00000u,
            .seed = 101 + (uint64_t)i, .clip_l = {(const uint8_t *)prompt, 1},
            .clip_g = {(const uint8_t *)prompt, 1}, .t5 = {(const uint8_t *)prompt, 1},
        };
        uint8_t *px = malloc(128 * 64 * 3);
        weave_procedural_render(&p, px);
        CHECK(resp.u.generate.image.len == 128 * 64 * 3);
        CHECK(memcmp(resp.u.generate.image.data, px, 128 * 64 * 3) == 0);
        free(px);
    }
    CHECK(r.started == 4);
    CHECK(r.steps == 3 * 5); /* only the jobs that asked for progress */
    CHECK(r.queue_changed > 0);
    weave_worker_get_status(w, &st);
    CHECK(st.state == WEAVE_BACKEND_LOADED && st.pid > 0 && st.restarts == 0);
    CHECK(st.last_crash[0] == '\0' && st.jobs_running == 0);
    pid_t pid = st.pid;
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
    CHECK(gone(pid));
}

static void test_seed_zero_and_failure(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    weave_worker_submit(w, make_job(1, 0, 64, 1));
    weave_worker_submit(w, make_job(2, SEED_FAIL, 64, 1));
    CHECK(wait_done(w, &r, 2) == 2);
    CHECK(!r.done[0]->failed && r.done[0]->seed != 0);
    CHECK(r.done[1]->failed && r.done[1]->err.status == 500);
    CHECK(r.done[1]->err.code == WEAVE_ERR_GPU && has(r.done[1], "simulated failure"));
    CHECK(r.done[1]->err.request_id == 2);
    free_done(&r);
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(st.restarts == 0); /* an error is not a crash */
    CHECK(weave_worker_stop(w, 2000) == 0);
}

/* A crash of each kind: that job 500/9 naming it, the next one fine. */
static void crash_case(uint64_t seed, const char *want)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    weave_worker_submit(w, make_job(1, seed, 64, 1));
    pid_t first = wait_running(w, &r, 1);
    CHECK(wait_done(w, &r, 1) == 1);
    CHECK(r.done[0]->failed && r.done[0]->err.status == 500);
    CHECK(r.done[0]->err.code == WEAVE_ERR_GPU);
    CHECK(has(r.done[0], want));
    if (!has(r.done[0], want))
        printf("    got: %s\n", r.done[0]->err.message);
    CHECK(gone(first));
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(strstr(st.last_crash, want) != NULL);
    weave_worker_submit(w, make_job(2, 5, 64, 1));
    CHECK(wait_done(w, &r, 2) == 2);
    CHECK(!r.done[1]->failed);
    weave_worker_get_status(w, &st);
    CHECK(st.restarts == 1 && st.pid != first && st.pid > 0);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

static void test_segv(void) { crash_case(SEED_SEGV, "backend crashed (SIGSEGV"); }
static void test_abort(void) { crash_case(SEED_ABORT, "backend crashed (SIGABRT"); }
static void test_exit(void) { crash_case(SEED_EXIT, "backend exited with status 7"); }

/* Real signals from outside, while a job runs (20 steps of 100 ms). */
static void signal_case(int sig, const char *want)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    cfg.step_delay_ms = 100;
    struct weave_worker *w = start(&r, &cfg);
    weave_worker_submit(w, make_job(1, 5, 64, 20));
    weave_worker_submit(w, make_job(2, 6, 64, 1)); /* queued behind it */
    pid_t pid = wait_running(w, &r, 1);
    CHECK(pid > 0);
    CHECK(kill(pid, sig) == 0);
    CHECK(wait_done(w, &r, 2) == 2);
    CHECK(r.done[0]->req.request_id == 1 && r.done[0]->failed);
    CHECK(r.done[0]->err.code == WEAVE_ERR_GPU && has(r.done[0], want));
    CHECK(r.done[1]->req.request_id == 2 && !r.done[1]->failed); /* survived */
    CHECK(gone(pid));
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

static void test_sigkill(void) { signal_case(SIGKILL, "backend crashed (SIGKILL)"); }
static void test_sigsegv_sent(void) { signal_case(SIGSEGV, "backend crashed (SIGSEGV"); }

/* A worker that breaks the framing (junk, a stray descriptor) is killed:
 * the job gets 500/9, the descriptor is not kept, the next job is fine. */
static void test_malformed_message(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    int before = tu_fd_count(0);
    weave_worker_submit(w, make_job(1, SEED_GARBAGE, 64, 1));
    pid_t pid = wait_running(w, &r, 1);
    CHECK(wait_done(w, &r, 1) == 1);
    CHECK(r.done[0]->failed && r.done[0]->err.code == WEAVE_ERR_GPU);
    CHECK(has(r.done[0], "broke the worker protocol"));
    CHECK(gone(pid));
    /* Our descriptors: the same count as before (the worker's socket and
     * pidfd are gone, the stray descriptor was closed). */
    CHECK(before >= 0 && tu_fd_count(0) == before);
    weave_worker_submit(w, make_job(2, 5, 64, 1));
    CHECK(wait_done(w, &r, 2) == 2 && !r.done[1]->failed);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

static void test_crash_third_of_five(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    uint64_t seeds[5] = {1, 2, SEED_SEGV, 4, 5};
    for (uint64_t i = 0; i < 5; i++)
        weave_worker_submit(w, make_job(i + 1, seeds[i], 64, 2));
    CHECK(wait_done(w, &r, 5) == 5);
    for (int i = 0; i < r.ndone; i++) {
        CHECK(r.done[i]->req.request_id == (uint64_t)i + 1);
        CHECK(r.done[i]->failed == (i == 2));
    }
    CHECK(r.ndone == 5 && has(r.done[2], "SIGSEGV"));
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(st.restarts == 1);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

/* SIGSTOP: the worker hangs; the watchdog answers 500/10 and replaces it. */
static void test_watchdog_sigstop(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    cfg.step_delay_ms = 50;
    cfg.generation_timeout_ms = 400;
    struct weave_worker *w = start(&r, &cfg);
    weave_worker_submit(w, make_job(1, 5, 64, 100));
    pid_t pid = wait_running(w, &r, 1);
    CHECK(kill(pid, SIGSTOP) == 0);
    uint64_t t0 = tu_now_ms();
    CHECK(wait_done(w, &r, 1) == 1);
    CHECK(tu_now_ms() - t0 < 3000);
    CHECK(r.done[0]->failed && r.done[0]->err.status == 500);
    CHECK(r.done[0]->err.code == WEAVE_ERR_TIMEOUT);
    CHECK(has(r.done[0], "timed out"));
    CHECK(gone(pid));
    weave_worker_submit(w, make_job(2, 5, 64, 2));
    CHECK(wait_done(w, &r, 2) == 2 && !r.done[1]->failed);
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(st.restarts == 1 && strstr(st.last_crash, "watchdog") != NULL);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

/* A backend whose init hangs: the worker is killed after the generation
 * timeout, counted as a crash, and a fresh one serves the queued job. */
static void test_startup_hangs(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    cfg.generation_timeout_ms = 300;
    struct weave_worker *w = start(&r, &cfg);
    setenv("WORKER_TEST_INIT_HANGS", "1", 1);
    weave_worker_submit(w, make_job(1, 5, 64, 1)); /* spawns the worker */
    unsetenv("WORKER_TEST_INIT_HANGS");            /* the next one is fine */
    pid_t first = worker_pid(w);
    CHECK(first > 0);
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(st.state == WEAVE_BACKEND_STARTING);
    uint64_t t0 = tu_now_ms();
    CHECK(wait_done(w, &r, 1) == 1);
    CHECK(tu_now_ms() - t0 >= 250);
    CHECK(!r.done[0]->failed); /* served by the replacement */
    CHECK(gone(first));
    weave_worker_get_status(w, &st);
    CHECK(st.restarts == 1 && strstr(st.last_crash, "did not start within 300 ms"));
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

static void test_cancel(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    cfg.step_delay_ms = 100;
    cfg.cancel_grace_ms = 3000;
    struct weave_worker *w = start(&r, &cfg);
    struct weave_job *a = make_job(1, 5, 64, 50), *b = make_job(2, 6, 64, 1),
                     *c = make_job(3, 7, 64, 1);
    weave_worker_submit(w, a);
    weave_worker_submit(w, b);
    weave_worker_submit(w, c);
    pid_t pid = wait_running(w, &r, 1);
    CHECK(weave_worker_queue_position(w, b) == 1);
    CHECK(weave_worker_queue_position(w, c) == 2);
    CHECK(weave_worker_queue_position(w, a) == 0); /* running */
    CHECK(weave_worker_cancel(w, b) == 1);         /* queued: taken back */
    weave_job_free(b);
    CHECK(weave_worker_queue_position(w, c) == 1);
    uint64_t t0 = tu_now_ms();
    CHECK(weave_worker_cancel(w, a) == 0); /* running: asked to stop */
    CHECK(wait_done(w, &r, 2) == 2);
    /* Stopped at the next step, well before the grace period. */
    CHECK(tu_now_ms() - t0 < 1500);
    CHECK(r.done[0] == a && a->cancelled && a->failed);
    CHECK(r.done[1] == c && !c->failed);
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(st.pid == pid && st.restarts == 0); /* no kill needed */
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

/* A backend that never looks at should_stop is killed after the grace. */
static void test_cancel_escalates(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    cfg.cancel_grace_ms = 300;
    struct weave_worker *w = start(&r, &cfg);
    struct weave_job *a = make_job(1, SEED_DEAF, 64, 1);
    weave_worker_submit(w, a);
    weave_worker_submit(w, make_job(2, 6, 64, 1));
    pid_t pid = wait_running(w, &r, 1);
    usleep(50000);
    uint64_t t0 = tu_now_ms();
    CHECK(weave_worker_cancel(w, a) == 0);
    CHECK(wait_done(w, &r, 2) == 2);
    CHECK(tu_now_ms() - t0 >= 250 && tu_now_ms() - t0 < 3000);
    CHECK(r.done[0] == a && a->cancelled);
    CHECK(!r.done[1]->failed);
    CHECK(gone(pid));
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

static void test_crash_loop_backoff(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    cfg.crash_limit = 3;
    cfg.crash_window_ms = 10000;
    cfg.backoff_ms = 700;
    struct weave_worker *w = start(&r, &cfg);
    for (uint64_t i = 1; i <= 3; i++) {
        weave_worker_submit(w, make_job(i, SEED_SEGV, 64, 1));
        CHECK(wait_done(w, &r, (int)i) == (int)i);
    }
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(st.state == WEAVE_BACKEND_RESTARTING && st.pid == 0);
    /* Down: an immediate, clear error, no process started. */
    weave_worker_submit(w, make_job(4, 5, 64, 1));
    CHECK(wait_done(w, &r, 4) == 4);
    CHECK(r.done[3]->failed && r.done[3]->err.code == WEAVE_ERR_GPU);
    CHECK(has(r.done[3], "backend unavailable") && has(r.done[3], "SIGSEGV"));
    CHECK(has(r.done[3], "retrying in"));
    CHECK(worker_pid(w) == 0);
    /* After the back-off: recovery. */
    CHECK(wait_state(w, WEAVE_BACKEND_UNLOADED, 3000) == WEAVE_BACKEND_UNLOADED);
    weave_worker_submit(w, make_job(5, 5, 64, 1));
    CHECK(wait_done(w, &r, 5) == 5 && !r.done[4]->failed);
    weave_worker_get_status(w, &st);
    CHECK(st.state == WEAVE_BACKEND_LOADED && st.restarts == 3);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

static void test_keep_alive(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    cfg.keep_alive_ms = 200;
    struct weave_worker *w = start(&r, &cfg);
    weave_worker_submit(w, make_job(1, 5, 64, 1));
    CHECK(wait_done(w, &r, 1) == 1 && !r.done[0]->failed);
    pid_t first = worker_pid(w);
    CHECK(first > 0);
    CHECK(wait_state(w, WEAVE_BACKEND_LOADED, 100) == WEAVE_BACKEND_LOADED);
    uint64_t t0 = tu_now_ms();
    /* Unloaded after ~200 ms idle: the process exits and is reaped. */
    uint64_t end = t0 + 5000;
    while (worker_pid(w) != 0 && tu_now_ms() < end)
        spin(w, 20);
    CHECK(worker_pid(w) == 0);
    CHECK(tu_now_ms() - t0 >= 100);
    CHECK(gone(first));
    struct weave_worker_status st;
    weave_worker_get_status(w, &st);
    CHECK(st.state == WEAVE_BACKEND_UNLOADED && st.restarts == 0);
    /* Reload on the next job. */
    weave_worker_submit(w, make_job(2, 5, 64, 1));
    CHECK(wait_done(w, &r, 2) == 2 && !r.done[1]->failed);
    CHECK(worker_pid(w) != first);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);

    /* 0: unload after every job. */
    cfg = defaults();
    cfg.keep_alive_ms = 0;
    w = start(&r, &cfg);
    weave_worker_submit(w, make_job(3, 5, 64, 1));
    CHECK(wait_done(w, &r, 1) == 1 && !r.done[0]->failed);
    end = tu_now_ms() + 5000;
    while (worker_pid(w) != 0 && tu_now_ms() < end)
        spin(w, 20);
    CHECK(worker_pid(w) == 0);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

/* The worker sees stdin/stdout (/dev/null), stderr and its socket: none of
 * ours, not even a descriptor opened without CLOEXEC. */
static void test_worker_fds(void)
{
    int leak[2];
    CHECK(pipe(leak) == 0); /* deliberately inheritable */
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    weave_worker_submit(w, make_job(1, 5, 64, 1));
    CHECK(wait_done(w, &r, 1) == 1);
    pid_t pid = worker_pid(w);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int count = 0, sock = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        char link[PATH_MAX + 80], target[PATH_MAX];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        CHECK(fd <= 3);
        if (fd > 3)
            printf("    worker fd %d -> %s\n", fd, target);
        if (fd == 0 || fd == 1)
            CHECK(strcmp(target, "/dev/null") == 0);
        if (fd == 3)
            sock = strncmp(target, "socket:", 7) == 0;
        count++;
    }
    if (d != NULL)
        closedir(d);
    CHECK(count == 4 && sock);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
    CHECK(gone(pid));
    close(leak[0]);
    close(leak[1]);
}

static void test_stop_kills_running_job(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    weave_worker_submit(w, make_job(1, SEED_DEAF, 64, 1));
    weave_worker_submit(w, make_job(2, 5, 64, 1));
    pid_t pid = wait_running(w, &r, 1);
    CHECK(pid > 0);
    uint64_t t0 = tu_now_ms();
    CHECK(weave_worker_stop(w, 400) == 0); /* SIGTERM, then SIGKILL */
    CHECK(tu_now_ms() - t0 < 2000);
    CHECK(gone(pid));
    free_done(&r);
}

static void test_shm_result(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);
    struct weave_job *j = make_job(1, 77, 128, 3);
    j->flags = WEAVE_GEN_FLAG_SHM;
    weave_worker_submit(w, j);
    CHECK(wait_done(w, &r, 1) == 1);
    CHECK(!j->failed && j->reply == NULL && j->shm_fd >= 0);
    CHECK(j->image_size == 128 * 64 * 3 && j->channels == 3 && j->seed == 77);
    int seals = fcntl(j->shm_fd, F_GET_SEALS);
    int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    CHECK(seals >= 0 && (seals & want) == want);
    struct stat sb;
    CHECK(fstat(j->shm_fd, &sb) == 0 && (uint64_t)sb.st_size >= j->image_size);
    /* Sealed against writes: a writable shared mapping is refused. */
    CHECK(mmap(NULL, (size_t)j->image_size, PROT_WRITE, MAP_SHARED, j->shm_fd, 0) ==
          MAP_FAILED);
    uint8_t *px = mmap(NULL, (size_t)j->image_size, PROT_READ, MAP_SHARED, j->shm_fd, 0);
    CHECK(px != MAP_FAILED);
    struct weave_gen_params p = {
        .width = 128, .height = 64, .steps = 3, .cfg_bits = 0x40E00000u,
        .seed = 77, .clip_l = {(const uint8_t *)prompt, 1},
        .clip_g = {(const uint8_t *)prompt, 1}, .t5 = {(const uint8_t *)prompt, 1},
    };
    uint8_t *want_px = malloc(128 * 64 * 3);
    weave_procedural_render(&p, want_px);
    if (px != MAP_FAILED) {
        CHECK(memcmp(px, want_px, 128 * 64 * 3) == 0);
        munmap(px, (size_t)j->image_size);
    }
    free(want_px);
    free_done(&r);
    CHECK(weave_worker_stop(w, 2000) == 0);
}

/* The worker dies with its daemon (PR_SET_PDEATHSIG). */
static void test_dies_with_daemon(void)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    pid_t daemon = fork();
    if (daemon == 0) {
        struct rec r;
        struct weave_worker_config cfg = defaults();
        struct weave_worker *w = start(&r, &cfg);
        weave_worker_submit(w, make_job(1, 5, 64, 1));
        wait_done(w, &r, 1);
        pid_t pid = worker_pid(w);
        if (write(p[1], &pid, sizeof pid) != (ssize_t)sizeof pid)
            _exit(1);
        _exit(0); /* no cleanup: the "daemon" just dies */
    }
    close(p[1]);
    pid_t pid = 0;
    CHECK(read(p[0], &pid, sizeof pid) == (ssize_t)sizeof pid);
    close(p[0]);
    CHECK(waitpid(daemon, NULL, 0) == daemon);
    /* Reparented (to us if we are a subreaper, else init): wait for it to
     * disappear or turn zombie under someone else. */
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int dead = 0;
    uint64_t end = tu_now_ms() + 5000;
    while (pid > 0 && !dead && tu_now_ms() < end) {
        char *st = tu_read_file(path);
        char *rp = st != NULL ? strrchr(st, ')') : NULL;
        dead = st == NULL || (rp != NULL && (rp[2] == 'Z' || rp[2] == 'X'));
        free(st);
        if (!dead)
            usleep(10000);
    }
    CHECK(dead);
}

/* The worker's mappings of image memfds, from /proc/PID/maps. */
static int image_maps(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
    char *maps = tu_read_file(path);
    int n = 0;
    for (const char *q = maps; q != NULL && (q = strstr(q, "memfd:weave-image")) != NULL; q++)
        n++;
    free(maps);
    return n;
}

/* The worker still maps an image memfd throughout the next ms ms (checked
 * every millisecond): a mapping torn down after DONE is gone within
 * microseconds of it, a kept one stays WORKER_MAP_IDLE_MS (100 ms) after
 * the worker's DONE, well past the window. */
static int kept_for(pid_t pid, int ms)
{
    uint64_t end = tu_now_ms() + (uint64_t)ms;
    do {
        if (image_maps(pid) != 1)
            return 0;
        usleep(1000);
    } while (tu_now_ms() < end);
    return 1;
}

/* Checks job's reply against the procedural image of seed (128x64x3). */
static int pixels_of(const struct weave_job *j, uint64_t seed)
{
    struct weave_response resp;
    if (j->failed || tu_decode_reply(j->reply, j->reply_len, &resp) != 0 ||
        resp.u.generate.image.len != 128 * 64 * 3)
        return 0;
    struct weave_gen_params p = {
        .width = 128, .height = 64, .steps = 1, .cfg_bits = 0x40E00000u,
        .seed = seed, .clip_l = {(const uint8_t *)prompt, 1},
        .clip_g = {(const uint8_t *)prompt, 1}, .t5 = {(const uint8_t *)prompt, 1},
    };
    uint8_t *px = malloc(128 * 64 * 3);
    weave_procedural_render(&p, px);
    int same = memcmp(resp.u.generate.image.data, px, 128 * 64 * 3) == 0;
    free(px);
    return same;
}

/* A pooled inline buffer stays mapped in the worker for the next job (no
 * map/unmap per job), the next job's pixels land in it, and the mapping
 * goes once no job comes (with the daemon's idle pool). */
static void test_kept_mapping(void)
{
    struct rec r;
    struct weave_worker_config cfg = defaults();
    struct weave_worker *w = start(&r, &cfg);

    weave_worker_submit(w, make_job(1, 101, 128, 1));
    CHECK(wait_done(w, &r, 1) == 1);
    pid_t pid = worker_pid(w);
    CHECK(pid > 0);
    CHECK(r.ndone == 1 && pixels_of(r.done[0], 101));
    free_done(&r); /* the buffer goes back to the pool */
    CHECK(kept_for(pid, 20)); /* kept after the job */

    weave_worker_submit(w, make_job(2, 202, 128, 1));
    CHECK(wait_done(w, &r, 1) == 1);
    CHECK(r.ndone == 1 && pixels_of(r.done[0], 202)); /* same buffer, new image */
    CHECK(kept_for(pid, 20)); /* reused, not mapped twice */
    free_done(&r);

    /* Idle: the worker lets go (100 ms after its last job; generous). */
    uint64_t end = tu_now_ms() + 5000;
    while (image_maps(pid) != 0 && tu_now_ms() < end)
        spin(w, 20);
    CHECK(image_maps(pid) == 0);
    CHECK(worker_pid(w) == pid); /* the same worker, not a restart */
    CHECK(weave_worker_stop(w, 2000) == 0);
    CHECK(gone(pid));
}

int main(void)
{
    /* A sanitizer's handlers would turn a worker's SIGSEGV into exit(1):
     * the workers this test starts die by the signal itself. */
    const char *old = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%shandle_segv=0:handle_abort=0",
             old != NULL ? old : "", old != NULL && old[0] ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    signal(SIGPIPE, SIG_IGN);
    /* The crashes are on purpose: no core files (inherited by workers). */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);

    tu_run("worker: FIFO, pixels, events, lazy start", test_fifo_and_pixels);
    tu_run("worker: seed 0 and a backend error", test_seed_zero_and_failure);
    tu_run("worker: SIGSEGV in the backend is 500/9, next job fine", test_segv);
    tu_run("worker: abort() in the backend", test_abort);
    tu_run("worker: exit(7) in the backend", test_exit);
    tu_run("worker: SIGKILL sent during a job; the queue survives", test_sigkill);
    tu_run("worker: SIGSEGV sent during a job", test_sigsegv_sent);
    tu_run("worker: crash on the 3rd of 5 queued jobs", test_crash_third_of_five);
    tu_run("worker: a malformed message gets the worker killed", test_malformed_message);
    tu_run("worker: SIGSTOP trips the watchdog (500/10)", test_watchdog_sigstop);
    tu_run("worker: a hung backend init is killed and replaced", test_startup_hangs);
    tu_run("worker: cancel queued and running jobs, positions", test_cancel);
    tu_run("worker: cancel escalates to a kill", test_cancel_escalates);
    tu_run("worker: crash loop backs off, then recovers", test_crash_loop_backoff);
    tu_run("worker: keep-alive unload and reload", test_keep_alive);
    tu_run("worker: no daemon descriptor in the worker", test_worker_fds);
    tu_run("worker: stop terminates a busy worker", test_stop_kills_running_job);
    tu_run("worker: SHM result is a sealed memfd", test_shm_result);
    tu_run("worker: a pooled buffer stays mapped, then is let go", test_kept_mapping);
    tu_run("worker: dies with its daemon", test_dies_with_daemon);
    return tu_summary();
}
