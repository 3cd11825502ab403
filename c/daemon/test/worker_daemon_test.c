/*
 * The worker process behind the real daemon loop: a daemon forked with the
 * scripted backend (its worker is this test binary in worker mode, which
 * serves the scripted backend the daemon names), real clients over the
 * socket, real signals sent to the worker. What a client sees when the
 * backend crashes, hangs or is stopped; that the daemon keeps serving; the
 * queue surviving a crash; hang-up cancelling a running job; idle unload;
 * SIGTERM with a hung backend; no zombie, no daemon descriptor in the
 * worker.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/scripted/scripted.h"
#include "daemon_testutil.h"

#define READY_MS 10000

static int start(struct tu_daemon *d, const char *const *args)
{
    memset(d, 0, sizeof *d);
    tu_tmpdir(d->dir, sizeof d->dir);
    tu_daemon_spawn_backend(d, &weave_backend_scripted, args, NULL, NULL);
    return tu_daemon_wait_ready(d, READY_MS);
}

static size_t job(uint8_t *buf, size_t cap, uint64_t id, uint32_t steps,
                  const char *script)
{
    struct weave_generate_request req;
    memset(&req, 0, sizeof req);
    req.request_id = id;
    req.width = 64;
    req.height = 64;
    req.steps = steps;
    req.cfg_scale = 7.0f;
    req.seed = 5;
    req.clip_l.data = (const uint8_t *)script;
    req.clip_l.len = (uint32_t)strlen(script);
    req.clip_g = req.t5 = req.clip_l;
    return weave_encode_generate_request(buf, cap, 1, &req);
}

/* Sends a job on a new connection; returns the fd (the reply comes later). */
static int send_job(const struct tu_daemon *d, uint64_t id, uint32_t steps,
                    const char *script)
{
    uint8_t msg[1024];
    size_t n = job(msg, sizeof msg, id, steps, script);
    int fd = tu_connect(d->sock);
    if (fd >= 0 && tu_send_all(fd, msg, n) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

struct reply {
    int ok;         /* decoded */
    int error;      /* an error reply */
    uint32_t status, code;
    char message[256];
};

static struct reply read_reply(int fd, int timeout_ms)
{
    struct reply r;
    memset(&r, 0, sizeof r);
    size_t n = 0;
    uint8_t *raw = tu_recv_all(fd, timeout_ms, &n);
    struct weave_response resp;
    if (raw != NULL && tu_decode_reply(raw, n, &resp) == 0) {
        r.ok = 1;
        if (resp.msg_type == WEAVE_MSG_ERROR) {
            r.error = 1;
            r.status = resp.u.error.status;
            r.code = resp.u.error.code;
            size_t len = resp.u.error.message.len < sizeof r.message - 1
                             ? resp.u.error.message.len : sizeof r.message - 1;
            memcpy(r.message, resp.u.error.message.data, len);
        } else {
            r.status = resp.u.generate.status;
        }
    }
    free(raw);
    close(fd);
    return r;
}

static struct reply generate(const struct tu_daemon *d, uint64_t id,
                             uint32_t steps, const char *script)
{
    int fd = send_job(d, id, steps, script);
    if (fd < 0) {
        struct reply r;
        memset(&r, 0, sizeof r);
        return r;
    }
    return read_reply(fd, 15000);
}

static int good(const struct reply *r)
{
    return r->ok && !r->error && r->status == 200;
}

/* The daemon's children (its worker), from /proc; 0 when none. */
static pid_t worker_of(const struct tu_daemon *d)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)d->pid,
             (long)d->pid);
    char *s = tu_read_file(path);
    long pid = s != NULL ? strtol(s, NULL, 10) : 0;
    free(s);
    return (pid_t)pid;
}

/*
 * Waits (the daemon must run with --log-level=debug) until the nth job was
 * sent to a worker ("worker: request_id=N sent to pid P") and returns that
 * worker's pid: the job is running from then on, and the process is past
 * exec and READY (what /proc shows is the worker's own). 0 on timeout.
 */
static pid_t wait_ready(const struct tu_daemon *d, int nth)
{
    static const char mark[] = " sent to pid ";
    uint64_t end = tu_now_ms() + 10000;
    while (tu_now_ms() < end) {
        char *log = tu_daemon_log(d);
        int seen = 0;
        for (const char *p = log; (p = strstr(p, mark)) != NULL; p++) {
            if (++seen == nth) {
                long pid = strtol(p + sizeof mark - 1, NULL, 10);
                free(log);
                return (pid_t)pid;
            }
        }
        free(log);
        usleep(5000);
    }
    return 0;
}

/* Gone from /proc: reaped by the daemon, not left a zombie. */
static int reaped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld", (long)pid);
    uint64_t end = tu_now_ms() + 5000;
    while (access(path, F_OK) == 0) {
        if (tu_now_ms() > end)
            return 0;
        usleep(5000);
    }
    return 1;
}

static void test_crash_is_500_9(void)
{
    struct tu_daemon d;
    CHECK(start(&d, NULL) == 0);
    struct reply r = generate(&d, 1, 4, "script: step-ms=5 crash=segv@2");
    CHECK(r.ok && r.error && r.status == 500 && r.code == WEAVE_ERR_GPU);
    CHECK(strcmp(r.message, "backend crashed (SIGSEGV)") == 0);
    r = generate(&d, 2, 2, "script: step-ms=1");
    CHECK(good(&r)); /* the daemon serves on, with a fresh worker */
    r = generate(&d, 3, 1, "script: abort");
    CHECK(r.error && strstr(r.message, "backend crashed (SIGABRT") != NULL);
    r = generate(&d, 4, 1, "plain"); /* a success: no crash loop */
    CHECK(good(&r));
    r = generate(&d, 5, 1, "script: exit=3");
    CHECK(r.error && strcmp(r.message, "backend exited with status 3") == 0);
    r = generate(&d, 6, 1, "plain");
    CHECK(good(&r));
    char *log = tu_daemon_log(&d);
    CHECK(tu_count_lines(log, " WARN worker: pid ") == 3);
    CHECK(tu_count_lines(log, "backend crashed (SIGSEGV) during request_id=1") == 1);
    CHECK(tu_count_lines(log, " INFO worker: started pid ") == 4);
    CHECK(tu_count_lines(log, "to replace the last one (restart 3)") == 1);
    free(log);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* Five queued jobs, the third crashes the worker: the other four succeed. */
static void test_crash_third_of_five(void)
{
    struct tu_daemon d;
    CHECK(start(&d, NULL) == 0);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = send_job(&d, (uint64_t)i + 1, 3,
                          i == 2 ? "script: step-ms=20 crash=segv@2"
                                 : "script: step-ms=20");
        CHECK(fds[i] >= 0);
        usleep(20000); /* arrival order */
    }
    for (int i = 0; i < 5; i++) {
        if (fds[i] < 0)
            continue;
        struct reply r = read_reply(fds[i], 15000);
        if (i == 2)
            CHECK(r.error && r.code == WEAVE_ERR_GPU &&
                  strcmp(r.message, "backend crashed (SIGSEGV)") == 0);
        else
            CHECK(good(&r));
    }
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* Real signals sent to the worker while it renders. */
static void signal_case(int sig, const char *want)
{
    struct tu_daemon d;
    const char *args[] = {"--log-level=debug", NULL};
    CHECK(start(&d, args) == 0);
    int fd = send_job(&d, 1, 100, "script: step-ms=50");
    pid_t w = wait_ready(&d, 1); /* the job is running from here on */
    CHECK(w > 0);
    CHECK(w > 0 && kill(w, sig) == 0);
    struct reply r = read_reply(fd, 15000);
    CHECK(r.error && r.status == 500 && r.code == WEAVE_ERR_GPU);
    CHECK(strcmp(r.message, want) == 0);
    if (strcmp(r.message, want) != 0)
        printf("    got: %s\n", r.message);
    CHECK(reaped(w));
    r = generate(&d, 2, 1, "plain");
    CHECK(good(&r));
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_sigkill(void) { signal_case(SIGKILL, "backend crashed (SIGKILL)"); }
static void test_sigsegv(void) { signal_case(SIGSEGV, "backend crashed (SIGSEGV)"); }

/* SIGSTOP: the worker hangs; the watchdog answers 500/10 and replaces it. */
static void test_sigstop_watchdog(void)
{
    struct tu_daemon d;
    const char *args[] = {"--generation-timeout-ms=500", "--log-level=debug", NULL};
    CHECK(start(&d, args) == 0);
    int fd = send_job(&d, 1, 100, "script: step-ms=50");
    pid_t w = wait_ready(&d, 1);
    uint64_t t0 = tu_now_ms();
    CHECK(w > 0 && kill(w, SIGSTOP) == 0);
    struct reply r = read_reply(fd, 15000);
    uint64_t took = tu_now_ms() - t0;
    CHECK(r.error && r.status == 500 && r.code == WEAVE_ERR_TIMEOUT);
    CHECK(strstr(r.message, "timed out after 500 ms") != NULL);
    CHECK(took >= 400 && took < 5000);
    CHECK(reaped(w));
    /* A hung backend (ignores should_stop) the same way. */
    r = generate(&d, 2, 1, "script: hang");
    CHECK(r.error && r.code == WEAVE_ERR_TIMEOUT);
    r = generate(&d, 3, 1, "plain");
    CHECK(good(&r));
    char *log = tu_daemon_log(&d);
    CHECK(tu_count_lines(log, "ran past the generation timeout (500 ms)") == 2);
    free(log);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* A client that hangs up cancels its running job: the next one starts at
 * the next step, and a backend that ignores the stop is killed. */
static void test_hangup_cancels(void)
{
    struct tu_daemon d;
    const char *args[] = {"--log-level=debug", NULL};
    CHECK(start(&d, args) == 0);
    int fd = send_job(&d, 1, 100, "script: step-ms=100"); /* 10 s */
    pid_t w = wait_ready(&d, 1);
    usleep(150000); /* a step or two */
    close(fd);
    uint64_t t0 = tu_now_ms();
    struct reply r = generate(&d, 2, 1, "plain");
    CHECK(good(&r));
    CHECK(tu_now_ms() - t0 < 1500); /* stopped at a step, not after 10 s */
    CHECK(worker_of(&d) == w);      /* and without a kill */

    fd = send_job(&d, 3, 1, "script: hang");
    usleep(150000);
    close(fd);
    t0 = tu_now_ms();
    r = generate(&d, 4, 1, "plain");
    uint64_t took = tu_now_ms() - t0;
    CHECK(good(&r));
    CHECK(took >= 1500 && took < 6000); /* the 2 s grace, then a kill */
    CHECK(reaped(w));
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_crash_loop_backs_off(void)
{
    struct tu_daemon d;
    CHECK(start(&d, NULL) == 0);
    for (uint64_t id = 1; id <= 3; id++) {
        struct reply r = generate(&d, id, 1, "script: crash=segv");
        CHECK(r.error && strcmp(r.message, "backend crashed (SIGSEGV)") == 0);
    }
    uint64_t t0 = tu_now_ms();
    struct reply r = generate(&d, 4, 1, "plain");
    CHECK(r.error && r.status == 500 && r.code == WEAVE_ERR_GPU);
    CHECK(strstr(r.message, "backend unavailable: 3 crashes within 10000 ms, "
                            "last: backend crashed (SIGSEGV); retrying in ") != NULL);
    CHECK(tu_now_ms() - t0 < 1000); /* at once, no worker started */
    CHECK(worker_of(&d) == 0);
    /* The status request still works while the backend is down. */
    uint8_t msg[64];
    size_t n = tu_status_request(msg, sizeof msg, 9), len = 0;
    uint8_t *raw = tu_roundtrip(d.sock, msg, n, 5000, &len);
    CHECK(raw != NULL);
    free(raw);
    /* Recovery after the 5 s back-off. */
    uint64_t end = tu_now_ms() + 12000;
    do {
        usleep(250000);
        r = generate(&d, 5, 1, "plain");
    } while (!good(&r) && tu_now_ms() < end);
    CHECK(good(&r));
    CHECK(tu_now_ms() - t0 >= 4000);
    char *log = tu_daemon_log(&d);
    CHECK(tu_count_lines(log, " WARN worker: 3 crashes within 10000 ms") == 1);
    free(log);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_keep_alive_unload(void)
{
    struct tu_daemon d;
    const char *args[] = {"--keep-alive-ms=200", NULL};
    CHECK(start(&d, args) == 0);
    CHECK(worker_of(&d) == 0); /* lazy: none before the first job */
    struct reply r = generate(&d, 1, 1, "plain");
    CHECK(good(&r));
    pid_t w = worker_of(&d);
    CHECK(w > 0);
    CHECK(reaped(w)); /* unloaded after 200 ms idle, and reaped */
    CHECK(worker_of(&d) == 0);
    r = generate(&d, 2, 1, "plain");
    CHECK(good(&r)); /* loaded again */
    char *log = tu_daemon_log(&d);
    CHECK(tu_count_lines(log, "(idle for 200 ms)") >= 1);
    CHECK(tu_count_lines(log, "restart") == 0); /* an unload is no restart */
    free(log);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* SIGTERM with a hung job: the daemon still exits within its shutdown
 * timeout, and takes the worker with it. */
static void stop_case(int sig)
{
    struct tu_daemon d;
    const char *args[] = {"--shutdown-timeout-ms=300", "--log-level=debug", NULL};
    CHECK(start(&d, args) == 0);
    int fd = send_job(&d, 1, 1, "script: hang");
    pid_t w = wait_ready(&d, 1);
    CHECK(w > 0);
    usleep(50000); /* into the hang */
    uint64_t t0 = tu_now_ms();
    CHECK(kill(d.pid, sig) == 0);
    CHECK(tu_daemon_wait_exit(&d, 5000) == 0);
    CHECK(tu_now_ms() - t0 < 2500);
    CHECK(reaped(w));
    close(fd);
    tu_daemon_cleanup(&d);
}

static void test_sigterm_stops_worker(void) { stop_case(SIGTERM); }
static void test_sigint_stops_worker(void) { stop_case(SIGINT); }

/* The worker holds stdin/stdout/stderr and its socket (fd 3), nothing of
 * the daemon's: not the listener, the lock, a client connection. */
static void test_worker_fds(void)
{
    struct tu_daemon d;
    const char *args[] = {"--log-level=debug", NULL};
    CHECK(start(&d, args) == 0);
    int fd = send_job(&d, 1, 40, "script: step-ms=50"); /* a connection open */
    pid_t w = wait_ready(&d, 1); /* past exec */
    CHECK(w > 0);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/fd", (long)w);
    DIR *dp = opendir(dir);
    CHECK(dp != NULL);
    int count = 0;
    struct dirent *e;
    while (dp != NULL && (e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        count++;
        CHECK(atoi(e->d_name) <= 3);
    }
    if (dp != NULL)
        closedir(dp);
    CHECK(count == 4);
    close(fd);
    CHECK(tu_daemon_stop(&d) == 0);
    CHECK(reaped(w));
    tu_daemon_cleanup(&d);
}

int main(void)
{
    /* The crashes are on purpose: no core files, and a sanitizer's
     * handlers must not turn the signals into exit(1) (inherited by the
     * daemons and their workers). */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    const char *old = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%shandle_segv=0:handle_abort=0",
             old != NULL ? old : "", old != NULL && old[0] ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);

    tu_run("daemon+worker: a crash is 500/9, the daemon serves on", test_crash_is_500_9);
    tu_run("daemon+worker: crash on the 3rd of 5 queued jobs", test_crash_third_of_five);
    tu_run("daemon+worker: SIGKILL sent to the worker", test_sigkill);
    tu_run("daemon+worker: SIGSEGV sent to the worker", test_sigsegv);
    tu_run("daemon+worker: SIGSTOP and hang trip the watchdog", test_sigstop_watchdog);
    tu_run("daemon+worker: hang-up cancels, escalates to a kill", test_hangup_cancels);
    tu_run("daemon+worker: crash loop backs off, then recovers", test_crash_loop_backs_off);
    tu_run("daemon+worker: idle unload and reload", test_keep_alive_unload);
    tu_run("daemon+worker: SIGTERM stops a hung worker", test_sigterm_stops_worker);
    tu_run("daemon+worker: SIGINT stops a hung worker", test_sigint_stops_worker);
    tu_run("daemon+worker: no daemon descriptor in the worker", test_worker_fds);
    return tu_summary();
}
