/*
 * Long generations on the connection side, against a forked daemon serving
 * the scripted backend (per-step sleeps, c/backends/scripted/scripted.h):
 * a client that hangs up cancels its job (queued: dropped; running: stopped
 * at the next step, and the next job starts at once), a client that only
 * shut down its write side is still served, and descriptors a client
 * sends are closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/scripted/scripted.h"
#include "daemon_testutil.h"

#define READY_MS 10000
#define WAIT_MS 10000

static int start(struct tu_daemon *d)
{
    static const char *const args[] = {"--log-level=debug", NULL};
    tu_daemon_spawn_backend(d, &weave_backend_scripted, args, NULL, NULL);
    return tu_daemon_wait_ready(d, READY_MS);
}

/* Waits until the log holds `needle` `count` times; 0, or -1 on timeout. */
static int wait_log(const struct tu_daemon *d, const char *needle, int count)
{
    uint64_t end = tu_now_ms() + WAIT_MS;
    for (;;) {
        char *log = tu_daemon_log(d);
        int n = tu_count_lines(log, needle);
        free(log);
        if (n >= count)
            return 0;
        if (tu_now_ms() >= end)
            return -1;
        usleep(2000);
    }
}

/* A version-1 64x64 generate request whose clip_l is `script`. */
static size_t scripted_request(uint8_t *buf, size_t cap, uint64_t id,
                               const char *script, uint32_t steps)
{
    struct weave_generate_request req;
    memset(&req, 0, sizeof req);
    req.request_id = id;
    req.width = 64;
    req.height = 64;
    req.steps = steps;
    req.cfg_scale = 7.0f;
    req.seed = 1;
    req.clip_l.data = (const uint8_t *)script;
    req.clip_l.len = (uint32_t)strlen(script);
    req.clip_g.data = req.t5.data = (const uint8_t *)"x";
    req.clip_g.len = req.t5.len = 1;
    return weave_encode_generate_request(buf, cap, 1, &req);
}

/* Connects and sends a scripted request; the fd, or -1. */
static int send_job(const struct tu_daemon *d, uint64_t id, const char *script,
                    uint32_t steps)
{
    uint8_t msg[512];
    size_t n = scripted_request(msg, sizeof msg, id, script, steps);
    int fd = tu_connect(d->sock);
    if (fd < 0 || n == 0 || tu_send_all(fd, msg, n) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Reads the reply on fd (then closes it); 1 when it is a 200 for id. */
static int served_ok(int fd, uint64_t id)
{
    size_t n;
    uint8_t *buf = tu_recv_all(fd, WAIT_MS, &n);
    close(fd);
    struct weave_response r;
    int ok = buf != NULL && tu_decode_reply(buf, n, &r) == 0 &&
             r.msg_type == WEAVE_MSG_GENERATE_RESPONSE &&
             r.u.generate.request_id == id && r.u.generate.status == 200;
    free(buf);
    return ok;
}

/* Waits for the DEBUG line of request id being queued. */
static int queued_line(const struct tu_daemon *d, uint64_t id)
{
    char needle[128];
    snprintf(needle, sizeof needle, "request_id=%llu from pid=%ld queued (",
             (unsigned long long)id, (long)getpid());
    return wait_log(d, needle, 1);
}

/* The queue depth of a status reply, or -1. */
static long queue_depth(const struct tu_daemon *d)
{
    uint8_t msg[64];
    size_t n = tu_status_request(msg, sizeof msg, 7), len;
    uint8_t *raw = tu_roundtrip(d->sock, msg, n, WAIT_MS, &len);
    struct weave_response r;
    long depth = -1;
    if (raw != NULL && tu_decode_reply(raw, len, &r) == 0 &&
        r.msg_type == WEAVE_MSG_STATUS_RESPONSE)
        depth = (long)r.u.status.queue_depth;
    free(raw);
    return depth;
}

/* Waits until `want` jobs wait in the queue (the worker took the others). */
static int wait_depth(const struct tu_daemon *d, long want)
{
    uint64_t end = tu_now_ms() + WAIT_MS;
    while (queue_depth(d) != want) {
        if (tu_now_ms() >= end)
            return -1;
        usleep(2000);
    }
    return 0;
}

static int cancelled_line(const struct tu_daemon *d, uint64_t id, const char *how)
{
    char needle[160];
    snprintf(needle, sizeof needle,
             " INFO request_id=%llu from pid=%ld cancelled: client went away (%s",
             (unsigned long long)id, (long)getpid(), how);
    return wait_log(d, needle, 1);
}

/* 100 steps at 100 ms: a 10 s job. Its client hangs up once it runs; the
 * next request must be served within about one step, not 10 s. */
static void test_hangup_cancels_running(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d) == 0);

    int a = send_job(&d, 1, "script: step-ms=100", 100);
    CHECK(a >= 0);
    CHECK(queued_line(&d, 1) == 0 && wait_depth(&d, 0) == 0); /* running */
    uint64_t t0 = tu_now_ms();
    close(a);
    int b = send_job(&d, 2, "plain", 1);
    CHECK(b >= 0 && served_ok(b, 2));
    uint64_t took = tu_now_ms() - t0;
    printf("  next request served %llu ms after the hang-up (one step: 100 ms)\n",
           (unsigned long long)took);
    CHECK(took < 1000); /* generous: the job had 9.9 s left */
    CHECK(cancelled_line(&d, 1, "running") == 0);

    CHECK(tu_daemon_stop(&d) == 0);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "generated request_id=1 ") == NULL);
    CHECK(strstr(log, " ERROR ") == NULL);
    free(log);
    tu_daemon_cleanup(&d);
}

/* A job waiting behind another is dropped when its client leaves; the
 * queue is then empty, and the next job starts once the first stops. */
static void test_hangup_drops_queued(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d) == 0);

    int a = send_job(&d, 1, "script: step-ms=100", 100);
    CHECK(a >= 0 && queued_line(&d, 1) == 0);
    int b = send_job(&d, 2, "script: step-ms=100", 100);
    CHECK(b >= 0 && queued_line(&d, 2) == 0 && wait_depth(&d, 1) == 0);
    close(b);
    CHECK(cancelled_line(&d, 2, "queued)") == 0);

    CHECK(queue_depth(&d) == 0);

    uint64_t t0 = tu_now_ms();
    close(a);
    int c = send_job(&d, 3, "plain", 1);
    CHECK(c >= 0 && served_ok(c, 3));
    CHECK(tu_now_ms() - t0 < 1000);
    CHECK(cancelled_line(&d, 1, "running") == 0);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* shutdown(SHUT_WR) after the request is not a hang-up (SPEC 11.5): the
 * daemon sees EOF on its read side (EPOLLRDHUP) and still serves it. */
static void test_half_close_served(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d) == 0);

    int a = send_job(&d, 1, "script: step-ms=50", 6);
    CHECK(a >= 0 && shutdown(a, SHUT_WR) == 0);
    CHECK(served_ok(a, 1));
    /* Also while it waits in the queue. */
    int b = send_job(&d, 2, "script: step-ms=50", 6);
    int c = send_job(&d, 3, "script: step-ms=50", 2);
    CHECK(b >= 0 && c >= 0 && queued_line(&d, 3) == 0 && wait_depth(&d, 1) == 0);
    CHECK(shutdown(c, SHUT_WR) == 0);
    CHECK(served_ok(b, 2));
    CHECK(served_ok(c, 3));

    CHECK(tu_daemon_stop(&d) == 0);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "cancelled") == NULL);
    free(log);
    tu_daemon_cleanup(&d);
}

/* Connects and sends msg with nfds descriptors attached to its first
 * bytes and more to the rest (SCM_RIGHTS); the fd, or -1. */
static int send_with_fds(const struct tu_daemon *d, const uint8_t *msg,
                         size_t len, const int *fds, int nfds)
{
    int sock = tu_connect(d->sock);
    if (sock < 0)
        return -1;
    size_t first = len / 2;
    if (tu_send_fds(sock, msg, first, fds, nfds) != 0 ||
        tu_send_fds(sock, msg + first, len - first, fds, nfds) != 0) {
        close(sock);
        return -1;
    }
    return sock;
}

/* Descriptors a client attaches to its request are closed by the daemon
 * (SPEC 11.4): it is served as usual, and keeps none of them. */
static void test_client_fds_closed(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d) == 0);
    /* A first job starts the worker process (its descriptors are the
     * daemon's from then on): count after it. */
    int w = send_job(&d, 4, "plain", 1);
    CHECK(w >= 0 && served_ok(w, 4));
    int before = tu_fd_count(d.pid);
    CHECK(before > 0);

    int pfd[2];
    CHECK(pipe(pfd) == 0);
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fds[3] = {pfd[1], nul, pfd[1]};
    uint8_t msg[512];
    size_t n = scripted_request(msg, sizeof msg, 5, "plain", 2);
    int a = send_with_fds(&d, msg, n, fds, 3);
    CHECK(a >= 0 && served_ok(a, 5));
    n = tu_status_request(msg, sizeof msg, 6);
    int b = send_with_fds(&d, msg, n, fds, 2);
    size_t len;
    uint8_t *raw = b >= 0 ? tu_recv_all(b, WAIT_MS, &len) : NULL;
    struct weave_response r;
    CHECK(raw != NULL && tu_decode_reply(raw, len, &r) == 0 &&
          r.msg_type == WEAVE_MSG_STATUS_RESPONSE && r.u.status.status == 200);
    free(raw);
    if (b >= 0)
        close(b);
    close(pfd[1]);
    close(nul);
    /* Every copy of the pipe's write end is gone: the daemon kept none. */
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    char c;
    CHECK(poll(&p, 1, WAIT_MS) == 1 && read(pfd[0], &c, 1) == 0);
    close(pfd[0]);
    CHECK(tu_fd_count(d.pid) == before);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    tu_run("hang-up cancels the running job; next starts at once",
           test_hangup_cancels_running);
    tu_run("hang-up drops a queued job", test_hangup_drops_queued);
    tu_run("half-close (SHUT_WR) is still served", test_half_close_served);
    tu_run("descriptors a client sends are closed", test_client_fds_closed);
    return tu_summary();
}
