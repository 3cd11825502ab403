/*
 * The scripted backend: its grammar, the hooks, chosen failures and deaths
 * (each death in a forked child), and the daemon serving with it: job 3 of
 * 5 fails as its prompt says while the other four succeed.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/scripted/scripted.h"
#include "daemon_testutil.h"

#define W 64
#define H 64

struct step_log {
    uint32_t n;
    uint32_t stop_after; /* 0: never */
};

static void log_step(void *ctx, uint32_t step, uint32_t steps)
{
    struct step_log *l = ctx;
    (void)steps;
    if (step == l->n + 1)
        l->n = step; /* counts only in-order steps */
}

static int stop_when_told(void *ctx)
{
    const struct step_log *l = ctx;
    return l->stop_after != 0 && l->n >= l->stop_after;
}

static uint8_t px[W * H * 3];

/* generate() with prompt `script`; *l gets the steps reported. */
static int gen(const char *script, uint32_t steps, struct step_log *l,
               struct weave_error *e)
{
    struct weave_gen_params p;
    memset(&p, 0, sizeof p);
    p.width = W;
    p.height = H;
    p.steps = steps;
    p.seed = 1;
    p.clip_l.data = (const uint8_t *)script;
    p.clip_l.len = (uint32_t)strlen(script);
    struct weave_gen_hooks h = {l, log_step, stop_when_told};
    memset(e, 0, sizeof *e);
    return weave_backend_scripted.generate(NULL, &p, &h, px, sizeof px, e);
}

static int flat(uint8_t r, uint8_t g, uint8_t b)
{
    for (size_t i = 0; i < sizeof px; i += 3) {
        if (px[i] != r || px[i + 1] != g || px[i + 2] != b)
            return 0;
    }
    return 1;
}

static void test_plain_and_colour(void)
{
    struct step_log l = {0, 0};
    struct weave_error e;
    CHECK(gen("a cat in space", 5, &l, &e) == 0);
    CHECK(l.n == 5);
    CHECK(flat(0x80, 0x80, 0x80));
    l.n = 0;
    CHECK(gen("script:  color=FF0a00  ", 3, &l, &e) == 0);
    CHECK(l.n == 3);
    CHECK(flat(0xFF, 0x0A, 0x00));
    l.n = 0;
    CHECK(gen("script:", 1, &l, &e) == 0 && l.n == 1);
}

static void test_unknown_words_refused(void)
{
    static const char *const bad[] = {
        "script: bogus",      "script: step-ms=",       "script: step-ms=x",
        "script: step-ms=600001", "script: color=12345", "script: color=GG0000",
        "script: fail=",      "script: fail=9:no",      "script: fail=9:\"x",
        "script: crash=",     "script: crash=segfault", "script: exit=256",
        "script: abort@0",    "script: hang@",          "script: abortx",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct step_log l = {0, 0};
        struct weave_error e;
        int r = gen(bad[i], 4, &l, &e);
        CHECK(r == -1);
        CHECK(e.status == 400 && e.code == WEAVE_ERR_INVALID_PROMPT);
        CHECK(strstr(e.message, "scripted:") != NULL);
        CHECK(l.n == 0); /* refused before any step */
        if (r != -1)
            printf("    accepted: %s\n", bad[i]);
    }
}

static void test_fail_at_step(void)
{
    struct step_log l = {0, 0};
    struct weave_error e;
    CHECK(gen("script: step-ms=1 fail=9:\"no VRAM left\"@3", 5, &l, &e) == -1);
    CHECK(e.status == 500 && e.code == WEAVE_ERR_GPU);
    CHECK(strcmp(e.message, "no VRAM left") == 0);
    CHECK(l.n == 2);
    l.n = 0;
    CHECK(gen("script: fail=6", 5, &l, &e) == -1);
    CHECK(e.status == 400 && e.code == WEAVE_ERR_INVALID_STEPS && l.n == 0);
    CHECK(strcmp(e.message, "invalid steps") == 0);
    /* A step the job never reaches: nothing happens. */
    l.n = 0;
    CHECK(gen("script: fail=9@6 abort@7", 5, &l, &e) == 0 && l.n == 5);
}

static void test_step_ms_and_stop(void)
{
    struct step_log l = {0, 0};
    struct weave_error e;
    uint64_t t0 = tu_now_ms();
    CHECK(gen("script: step-ms=40", 5, &l, &e) == 0);
    CHECK(tu_now_ms() - t0 >= 200);
    CHECK(l.n == 5);

    /* should_stop is asked between steps and while sleeping. */
    l.n = 0;
    l.stop_after = 2;
    CHECK(gen("script: step-ms=20", 10, &l, &e) == -1);
    CHECK(weave_gen_cancelled(&e) && l.n == 2);
}

/* Runs script in a child; returns its wait status. hang_ms > 0: expect it
 * still alive after that long, then kill it. */
static int in_child(const char *script, int hang_ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct step_log l = {0, 0};
        struct weave_error e;
        int r = gen(script, 5, &l, &e);
        _exit(r == 0 ? 100 + (int)l.n : 99);
    }
    int status = 0;
    if (hang_ms > 0) {
        usleep((useconds_t)hang_ms * 1000);
        CHECK(waitpid(pid, &status, WNOHANG) == 0); /* still hanging */
        kill(pid, SIGKILL);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    return status;
}

static void test_deaths(void)
{
    int st = in_child("script: crash=segv@3", 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = in_child("script: crash=kill", 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    st = in_child("script: abort@2", 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = in_child("script: exit=7@1", 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    st = in_child("script: hang@4", 300);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* The first action whose step comes wins. */
    st = in_child("script: exit=3@4 exit=4@2", 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4);
    st = in_child("script: step-ms=1", 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 105);
}

static size_t job(uint8_t *buf, size_t cap, uint64_t id, const char *script)
{
    struct weave_generate_request req;
    memset(&req, 0, sizeof req);
    req.request_id = id;
    req.width = W;
    req.height = H;
    req.steps = 4;
    req.cfg_scale = 7.0f;
    req.seed = 5;
    req.clip_l.data = (const uint8_t *)script;
    req.clip_l.len = (uint32_t)strlen(script);
    req.clip_g = req.t5 = req.clip_l;
    return weave_encode_generate_request(buf, cap, 1, &req);
}

/* The real daemon loop with the scripted backend: job 3 of 5 fails. */
static void test_daemon_job_3_of_5_fails(void)
{
    struct tu_daemon d;
    memset(&d, 0, sizeof d);
    tu_tmpdir(d.dir, sizeof d.dir);
    tu_daemon_spawn_backend(&d, &weave_backend_scripted, NULL, NULL, NULL);
    CHECK(tu_daemon_wait_ready(&d, 10000) == 0);
    for (uint64_t id = 1; id <= 5; id++) {
        uint8_t msg[512];
        size_t len = job(msg, sizeof msg, id,
                         id == 3 ? "script: step-ms=5 fail=9:\"no VRAM\"@2"
                                 : "script: step-ms=5 color=102030");
        size_t n = 0;
        uint8_t *reply = tu_roundtrip(d.sock, msg, len, 10000, &n);
        struct weave_response r;
        CHECK(reply != NULL && tu_decode_reply(reply, n, &r) == 0);
        if (reply == NULL)
            continue;
        if (id == 3) {
            CHECK(r.msg_type == WEAVE_MSG_ERROR);
            CHECK(r.u.error.request_id == 3 && r.u.error.status == 500 &&
                  r.u.error.code == WEAVE_ERR_GPU);
            CHECK(r.u.error.message.len == 7 &&
                  memcmp(r.u.error.message.data, "no VRAM", 7) == 0);
        } else {
            CHECK(r.msg_type == WEAVE_MSG_GENERATE_RESPONSE);
            CHECK(r.u.generate.request_id == id && r.u.generate.status == 200);
            CHECK(r.u.generate.image.len == W * H * 3);
            CHECK(r.u.generate.image.data[0] == 0x10 &&
                  r.u.generate.image.data[W * H * 3 - 1] == 0x30);
        }
        free(reply);
    }
    /* A malformed script is the backend's 400/4, and the daemon lives on. */
    uint8_t msg[512];
    size_t len = job(msg, sizeof msg, 6, "script: explode");
    size_t n = 0;
    uint8_t *reply = tu_roundtrip(d.sock, msg, len, 10000, &n);
    struct weave_response r;
    CHECK(reply != NULL && tu_decode_reply(reply, n, &r) == 0 &&
          r.msg_type == WEAVE_MSG_ERROR && r.u.error.status == 400 &&
          r.u.error.code == WEAVE_ERR_INVALID_PROMPT && r.u.error.request_id == 6);
    free(reply);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "backend: scripted (TEST ONLY") != NULL);
    free(log);
    CHECK(tu_daemon_stop(&d) == 0);
    unlink(d.log);
    unlink(d.out);
    tu_rmtree(d.dir);
}

int main(void)
{
    tu_run("scripted: plain jobs and color=", test_plain_and_colour);
    tu_run("scripted: unknown or malformed words are 400/4",
           test_unknown_words_refused);
    tu_run("scripted: fail=CODE:\"MSG\"@STEP", test_fail_at_step);
    tu_run("scripted: step-ms sleeps, should_stop stops", test_step_ms_and_stop);
    tu_run("scripted: crash, abort, exit, hang (in children)", test_deaths);
    tu_run("scripted: daemon serves 5 jobs, job 3 fails as told",
           test_daemon_job_3_of_5_fails);
    return tu_summary();
}
