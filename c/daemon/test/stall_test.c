/*
 * A client that does not read its progress messages (SPEC 11.3): the
 * daemon never blocks on it, buffers no more than its fixed ring, and
 * closes it once nothing drained for the write deadline, cancelling its
 * job so the next one starts.
 *
 * Filling a real Unix socket with 20-byte messages would take hundreds of
 * them (the kernel charges each its full buffer overhead against a 208 KiB
 * send buffer): more than a test can make a job send. So this test links
 * with -Wl,--wrap=sendmsg (c/daemon/BUILD.bazel): in the forked daemon,
 * every progress message for request STALL_ID finds the socket "full"
 * (EAGAIN), exactly what a reader that stopped reading looks like to the
 * daemon. Everything else (epoll, deadlines, the job, the next client) is
 * real.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/scripted/scripted.h"
#include "daemon_testutil.h"

#define STALL_ID 0x5ea1ull
#define WAIT_MS 10000

ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);

static int stalled_message(const struct msghdr *m)
{
    if (m->msg_iovlen < 1 || m->msg_iov[0].iov_len < 24)
        return 0;
    const uint8_t *p = m->msg_iov[0].iov_base;
    uint16_t version = (uint16_t)(p[4] << 8 | p[5]);
    uint16_t type = (uint16_t)(p[6] << 8 | p[7]);
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | p[16 + i];
    return version == 2 && type >= WEAVE_MSG_QUEUED &&
           type <= WEAVE_MSG_HEARTBEAT && id == STALL_ID;
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
    if (stalled_message(m)) {
        errno = EAGAIN;
        return -1;
    }
    return __real_sendmsg(fd, m, flags);
}

static int send_v2(const struct tu_daemon *d, uint64_t id, const char *script,
                   uint32_t steps)
{
    struct weave_generate_request req;
    memset(&req, 0, sizeof req);
    req.request_id = id;
    req.width = req.height = 64;
    req.steps = steps;
    req.cfg_scale = 7.0f;
    req.seed = 1;
    req.clip_l.data = (const uint8_t *)script;
    req.clip_l.len = (uint32_t)strlen(script);
    req.clip_g.data = req.t5.data = (const uint8_t *)"x";
    req.clip_g.len = req.t5.len = 1;
    uint8_t msg[512];
    size_t n = weave_encode_generate_options(msg, sizeof msg, WEAVE_FLAG_PROGRESS, &req);
    int fd = tu_connect(d->sock);
    if (fd >= 0 && tu_send_all(fd, msg, n) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void test_unread_progress_closed(void)
{
    struct tu_daemon d;
    memset(&d, 0, sizeof d);
    tu_tmpdir(d.dir, sizeof d.dir);
    static const char *const args[] = {"--log-level=debug",
                                       "--write-timeout-ms=1000", NULL};
    tu_daemon_spawn_backend(&d, &weave_backend_scripted, args, NULL, NULL);
    CHECK(tu_daemon_wait_ready(&d, WAIT_MS) == 0);

    /* 100 steps at 100 ms: 10 s of messages nobody reads. */
    uint64_t t0 = tu_now_ms();
    int a = send_v2(&d, STALL_ID, "script: step-ms=100", 100);
    CHECK(a >= 0);
    /* The daemon closes it: EOF, with no byte ever delivered. */
    struct pollfd p = {.fd = a, .events = POLLIN};
    char c;
    CHECK(poll(&p, 1, WAIT_MS) == 1 && recv(a, &c, 1, 0) == 0);
    uint64_t took = tu_now_ms() - t0;
    printf("  closed after %llu ms (write deadline 1000 ms)\n",
           (unsigned long long)took);
    CHECK(took >= 1000 && took < 5000);
    close(a);

    /* Its job was cancelled: the next request is served at once. */
    int b = send_v2(&d, 2, "plain", 1);
    size_t n;
    uint8_t *raw = b >= 0 ? tu_recv_all(b, WAIT_MS, &n) : NULL;
    CHECK(raw != NULL && n > 0);
    free(raw);
    if (b >= 0)
        close(b);
    CHECK(tu_now_ms() - t0 < 6000);

    CHECK(tu_daemon_stop(&d) == 0);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, " INFO write deadline: pid=") != NULL &&
          strstr(log, "read none of its progress messages for 1000 ms") != NULL &&
          strstr(log, "request_id=24225 cancelled") != NULL);
    free(log);
    unlink(d.log);
    unlink(d.out);
    tu_rmtree(d.dir);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    tu_run("a client that reads no progress is closed at the write deadline",
           test_unread_progress_closed);
    return tu_summary();
}
