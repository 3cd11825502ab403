/*
 * The daemon end to end: weave_daemon_main() in a forked child with its own
 * XDG_RUNTIME_DIR under /tmp, driven through its socket. Covers exit codes
 * and messages, the socket's life cycle, every error reply the loop makes,
 * deadlines, concurrency, the connection cap, other-uid rejection, the lock,
 * stale sockets, socket activation, shutdown and fd exhaustion.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_testutil.h"

#define READY_MS 10000

#if defined(__SANITIZE_ADDRESS__)
static const int under_asan = 1;
#else
static const int under_asan = 0;
#endif

static int start(struct tu_daemon *d, const char *const *args)
{
    tu_daemon_spawn(d, args, NULL, NULL);
    return tu_daemon_wait_ready(d, READY_MS);
}

/* Sends msg and decodes the reply; 0 on success. */
static int ask(const struct tu_daemon *d, const uint8_t *msg, size_t len,
               struct weave_response *r, uint8_t **raw)
{
    size_t n;
    uint8_t *buf = tu_roundtrip(d->sock, msg, len, 10000, &n);
    int rc = tu_decode_reply(buf, n, r);
    if (raw != NULL)
        *raw = buf;
    else if (rc == 0 && r->msg_type == WEAVE_MSG_GENERATE_RESPONSE)
        free(buf); /* r points into buf: only scalar fields are usable */
    else
        free(buf);
    return rc;
}

static int expect_error(const struct tu_daemon *d, const uint8_t *msg, size_t len,
                        uint32_t status, uint32_t code, uint64_t id)
{
    struct weave_response r;
    uint8_t *raw = NULL;
    int ok = ask(d, msg, len, &r, &raw) == 0 && r.msg_type == WEAVE_MSG_ERROR &&
             r.u.error.status == status && r.u.error.code == code &&
             r.u.error.request_id == id;
    if (!ok)
        printf("\n    wanted %u/%u id %llu\n", (unsigned)status, (unsigned)code,
               (unsigned long long)id);
    free(raw);
    return ok;
}

/* A valid header for msg_type with payload_len, then nothing. */
static void header(uint8_t *h, uint16_t version, uint16_t type, uint32_t plen)
{
    tu_put_u32(h, WEAVE_MAGIC);
    tu_put_u16(h + 4, version);
    tu_put_u16(h + 6, type);
    tu_put_u32(h + 8, plen);
    tu_put_u32(h + 12, 0);
}

/* ---- command line and environment ------------------------------------- */

static void set_empty_xdg(void *arg)
{
    (void)arg;
    setenv("XDG_RUNTIME_DIR", "", 1);
}

static void test_xdg_not_set(void)
{
    struct tu_daemon d;
    memset(&d, 0, sizeof d); /* dir "" : variable unset */
    tu_daemon_spawn(&d, NULL, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 1);
    char *log = tu_daemon_log(&d);
    CHECK(strcmp(log, "weave-compute: XDG_RUNTIME_DIR not set\n") == 0);
    free(log);
    unlink(d.log);
    unlink(d.out);

    memset(&d, 0, sizeof d);
    tu_daemon_spawn(&d, NULL, set_empty_xdg, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 1);
    log = tu_daemon_log(&d);
    CHECK(strcmp(log, "weave-compute: XDG_RUNTIME_DIR not set\n") == 0);
    free(log);
    tu_daemon_cleanup(&d);
}

static void test_usage_errors(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    const char *bad[] = {"--bogus", NULL};
    tu_daemon_spawn(&d, bad, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 2);
    char *log = tu_daemon_log(&d);
    CHECK(strncmp(log, "weave-compute: unknown option '--bogus'\n", 40) == 0);
    CHECK(strstr(log, "Usage: weave-compute") != NULL);
    free(log);

    const char *badlevel[] = {"--log-level=loud", NULL};
    tu_daemon_spawn(&d, badlevel, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 2);
    tu_daemon_cleanup(&d);
}

static void bogus_env_level(void *arg)
{
    (void)arg;
    setenv("WEAVE_LOG_LEVEL", "chatty", 1);
}

static void test_env_level_invalid(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    tu_daemon_spawn(&d, NULL, bogus_env_level, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 2);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "WEAVE_LOG_LEVEL") != NULL);
    free(log);
    tu_daemon_cleanup(&d);
}

static void test_version_help(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    const char *v[] = {"--version", NULL};
    tu_daemon_spawn(&d, v, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 0);
    char *out = tu_read_file(d.out);
    CHECK(out != NULL && strcmp(out, "weave-compute 0.1.0 (protocol 1..2)\n") == 0);
    free(out);
    const char *h[] = {"--help", NULL};
    tu_daemon_spawn(&d, h, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 0);
    out = tu_read_file(d.out);
    CHECK(out != NULL && strstr(out, "Usage: weave-compute") != NULL);
    free(out);
    struct stat st;
    CHECK(stat(d.sock, &st) != 0); /* nothing created */
    tu_daemon_cleanup(&d);
}

static void test_path_too_long(void)
{
    struct tu_daemon d;
    memset(&d, 0, sizeof d);
    /* Never created: the length check comes first. */
    snprintf(d.dir, sizeof d.dir, "/tmp/%0100d", 0);
    tu_daemon_spawn(&d, NULL, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 1);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "weave-compute: socket path too long: /tmp/000") != NULL);
    CHECK(strstr(log, "at most 107 bytes") != NULL);
    free(log);
    unlink(d.log);
    unlink(d.out);
}

static void test_unsafe_dir(void)
{
    struct tu_daemon d;
    char dir[160];
    tu_daemon_fresh(&d);
    snprintf(dir, sizeof dir, "%s/weave", d.dir);
    CHECK(mkdir(dir, 0755) == 0 && chmod(dir, 0755) == 0);
    tu_daemon_spawn(&d, NULL, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 1);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "weave-compute: ") == log && strstr(log, "mode 0755") != NULL);
    free(log);
    tu_daemon_cleanup(&d);
}

/* ---- serving ------------------------------------------------------------ */

static void test_serve_and_shutdown(void)
{
    struct tu_daemon d;
    struct stat st;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);

    char dir[160];
    snprintf(dir, sizeof dir, "%s/weave", d.dir);
    CHECK(lstat(dir, &st) == 0 && (st.st_mode & 07777) == 0700);
    CHECK(lstat(d.sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
          (st.st_mode & 07777) == 0600);
    char *log = tu_daemon_log(&d);
    char want[400];
    snprintf(want, sizeof want, " INFO listening on %s\n", d.sock);
    CHECK(tu_count_lines(log, "") == 3);
    CHECK(strstr(log, want) != NULL);
    CHECK(strstr(log, " INFO backend: procedural (deterministic test renderer, "
                      "not a diffusion model)\n") != NULL);
    free(log);

    /* The SPEC example: 118 bytes, seed 0. */
    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 1, 512, 512, 0);
    struct weave_response r;
    uint8_t *raw1 = NULL, *raw2 = NULL;
    CHECK(ask(&d, msg, n, &r, &raw1) == 0);
    CHECK(r.msg_type == WEAVE_MSG_GENERATE_RESPONSE);
    CHECK(r.u.generate.request_id == 1 && r.u.generate.status == 200);
    CHECK(r.u.generate.width == 512 && r.u.generate.height == 512 &&
          r.u.generate.channels == 3);
    CHECK(r.u.generate.has_seed && r.u.generate.seed != 0);
    uint64_t seed = r.u.generate.seed;

    /* Asking again with the reported seed reproduces the image. */
    n = tu_example_request(msg, sizeof msg, 2, 512, 512, seed);
    struct weave_response r2;
    CHECK(ask(&d, msg, n, &r2, &raw2) == 0);
    CHECK(r2.u.generate.seed == seed);
    CHECK(raw1 != NULL && raw2 != NULL &&
          memcmp(raw1 + 48, raw2 + 48, 512 * 512 * 3) == 0);
    free(raw1);
    free(raw2);

    /* Status. */
    n = tu_status_request(msg, sizeof msg, 99);
    uint8_t *raw = NULL;
    CHECK(ask(&d, msg, n, &r, &raw) == 0);
    CHECK(r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
    CHECK(r.u.status.request_id == 99 && r.u.status.status == 200);
    CHECK(r.u.status.version_min == 1 && r.u.status.version_max == 2);
    CHECK(r.u.status.requests_served == 2);
    CHECK(r.u.status.connections_open == 1 && r.u.status.max_connections == 64);
    CHECK(r.u.status.queue_depth == 0);
    CHECK(r.u.status.backend.len == 10 &&
          memcmp(r.u.status.backend.data, "procedural", 10) == 0);
    CHECK(r.u.status.daemon_version.len == 5 &&
          memcmp(r.u.status.daemon_version.data, "0.1.0", 5) == 0);
    free(raw);

    CHECK(tu_daemon_stop(&d) == 0);
    CHECK(access(d.sock, F_OK) != 0);
    CHECK(access(d.lock, F_OK) != 0);
    log = tu_daemon_log(&d);
    CHECK(strstr(log, " INFO shutting down") != NULL);
    CHECK(strstr(log, " ERROR ") == NULL && strstr(log, " WARN ") == NULL);
    /* A served request is not worth a line at INFO (DEBUG has it). */
    CHECK(strstr(log, "generated request_id") == NULL);
    free(log);
    tu_daemon_cleanup(&d);
}

static void test_error_replies(void)
{
    struct tu_daemon d;
    uint8_t msg[256], h[16];
    size_t n;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);

    n = tu_example_request(msg, sizeof msg, 3, 512, 512, 0);
    msg[0] ^= 0xFF;
    CHECK(expect_error(&d, msg, n, 400, WEAVE_ERR_INVALID_MAGIC, 0));

    /* Versions 1 and 2 are served (SPEC 11); 3 is not. */
    n = tu_example_request(msg, sizeof msg, 3, 512, 512, 0);
    tu_put_u16(msg + 4, 3);
    CHECK(expect_error(&d, msg, n, 400, WEAVE_ERR_UNSUPPORTED_VERSION, 0));

    header(h, 1, 1, WEAVE_MAX_PAYLOAD_SIZE + 1);
    CHECK(expect_error(&d, h, 16, 400, WEAVE_ERR_TOO_LARGE, 0));

    n = tu_example_request(msg, sizeof msg, 4, 512, 512, 0);
    tu_put_u16(msg + 6, 9);
    CHECK(expect_error(&d, msg, n, 400, WEAVE_ERR_UNKNOWN_TYPE, 4));
    tu_put_u16(msg + 6, WEAVE_MSG_GENERATE_RESPONSE);
    CHECK(expect_error(&d, msg, n, 400, WEAVE_ERR_UNKNOWN_TYPE, 4));

    /* Type is a header check: a bare header is answered at once, not at
     * the read deadline (60 s here). */
    int hfd = tu_connect(d.sock);
    header(h, 1, 0x1234, 102);
    uint64_t t0 = tu_now_ms();
    CHECK(tu_send_all(hfd, h, 16) == 0);
    size_t hgot;
    uint8_t *hraw = tu_recv_all(hfd, 5000, &hgot);
    struct weave_response hr;
    CHECK(tu_decode_reply(hraw, hgot, &hr) == 0 && hr.msg_type == WEAVE_MSG_ERROR &&
          hr.u.error.code == WEAVE_ERR_UNKNOWN_TYPE && hr.u.error.request_id == 0);
    CHECK(tu_now_ms() - t0 < 2000);
    free(hraw);
    close(hfd);

    n = tu_example_request(msg, sizeof msg, 5, 500, 512, 0);
    CHECK(expect_error(&d, msg, n, 400, WEAVE_ERR_INVALID_DIMENSIONS, 5));

    /* 2048x2048 RGB cannot be sent: refused up front, naming 1856x1856. */
    n = tu_example_request(msg, sizeof msg, 6, 2048, 2048, 0);
    struct weave_response r;
    uint8_t *raw = NULL;
    CHECK(ask(&d, msg, n, &r, &raw) == 0 && r.msg_type == WEAVE_MSG_ERROR);
    CHECK(r.u.error.code == WEAVE_ERR_INVALID_DIMENSIONS && r.u.error.request_id == 6);
    CHECK(raw != NULL && memmem(r.u.error.message.data, r.u.error.message.len,
                                "1856x1856", 9) != NULL);
    free(raw);

    /* A generate payload shorter than 60 bytes. */
    header(h, 1, 1, 8);
    uint8_t shortmsg[24];
    memcpy(shortmsg, h, 16);
    tu_put_u64(shortmsg + 16, 8);
    CHECK(expect_error(&d, shortmsg, sizeof shortmsg, 400, WEAVE_ERR_MALFORMED, 8));

    /* EOF in the middle: best-effort 400/11. */
    int fd = tu_connect(d.sock);
    n = tu_example_request(msg, sizeof msg, 7, 512, 512, 0);
    CHECK(fd >= 0 && tu_send_all(fd, msg, 40) == 0);
    shutdown(fd, SHUT_WR);
    size_t got;
    raw = tu_recv_all(fd, 5000, &got);
    CHECK(tu_decode_reply(raw, got, &r) == 0 && r.msg_type == WEAVE_MSG_ERROR &&
          r.u.error.code == WEAVE_ERR_MALFORMED && r.u.error.request_id == 7);
    free(raw);
    close(fd);

    /* Connect and leave: nothing to answer, nothing breaks. */
    fd = tu_connect(d.sock);
    close(fd);

    /* Still serving. */
    n = tu_status_request(msg, sizeof msg, 1);
    CHECK(ask(&d, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* ---- deadlines and concurrency ----------------------------------------- */

static void test_read_deadline(void)
{
    struct tu_daemon d;
    struct weave_response r;
    size_t got;
    tu_daemon_fresh(&d);
    const char *args[] = {"--read-timeout-ms=300", NULL};
    CHECK(start(&d, args) == 0);

    /* Silent client. */
    uint64_t t0 = tu_now_ms();
    int fd = tu_connect(d.sock);
    uint8_t *raw = tu_recv_all(fd, 5000, &got);
    uint64_t took = tu_now_ms() - t0;
    CHECK(took >= 290 && took < 3000);
    CHECK(tu_decode_reply(raw, got, &r) == 0 && r.msg_type == WEAVE_MSG_ERROR);
    CHECK(r.u.error.status == 500 && r.u.error.code == WEAVE_ERR_TIMEOUT);
    static const char timeout_text[] = "request not received within 300 ms";
    CHECK(r.u.error.message.len == strlen(timeout_text) &&
          memcmp(r.u.error.message.data, timeout_text, strlen(timeout_text)) == 0);
    free(raw);
    close(fd);

    /* A trickling client does not extend the deadline: it is for the
     * whole request, counted from accept. */
    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 11, 512, 512, 0);
    t0 = tu_now_ms();
    fd = tu_connect(d.sock);
    CHECK(tu_send_all(fd, msg, 30) == 0); /* header and request_id */
    size_t sent = 30;
    while (tu_now_ms() - t0 < 1000 && sent < n) {
        if (send(fd, msg + sent, 1, MSG_NOSIGNAL) != 1)
            break;
        sent++;
        usleep(50000);
    }
    raw = tu_recv_all(fd, 5000, &got);
    CHECK(tu_decode_reply(raw, got, &r) == 0 && r.msg_type == WEAVE_MSG_ERROR &&
          r.u.error.code == WEAVE_ERR_TIMEOUT);
    CHECK(r.u.error.request_id == 11); /* 8 payload bytes had arrived */
    free(raw);
    close(fd);

    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, " INFO read deadline") != NULL);
    free(log);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_idle_clients_do_not_block(void)
{
    struct tu_daemon d;
    struct weave_response r;
    uint8_t msg[256];
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0); /* default 60 s read deadline */
    int idle[5];
    for (int i = 0; i < 5; i++)
        idle[i] = tu_connect(d.sock);
    /* One more sends half a request and stalls. */
    size_t n = tu_example_request(msg, sizeof msg, 1, 512, 512, 0);
    int half = tu_connect(d.sock);
    CHECK(tu_send_all(half, msg, 50) == 0);

    uint64_t t0 = tu_now_ms();
    n = tu_status_request(msg, sizeof msg, 5);
    uint8_t *raw = NULL;
    CHECK(ask(&d, msg, n, &r, &raw) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
    CHECK(r.u.status.connections_open == 7);
    free(raw);
    n = tu_example_request(msg, sizeof msg, 2, 256, 256, 5);
    CHECK(ask(&d, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_GENERATE_RESPONSE);
    CHECK(tu_now_ms() - t0 < 2000);
    for (int i = 0; i < 5; i++)
        close(idle[i]);
    close(half);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_parallel_generates(void)
{
    /* Several clients at once: every one gets its own reply. */
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    int fds[6];
    uint8_t msg[256];
    for (int i = 0; i < 6; i++) {
        size_t n = tu_example_request(msg, sizeof msg, 100 + (uint64_t)i, 256, 256,
                                      1 + (uint64_t)i);
        fds[i] = tu_connect(d.sock);
        CHECK(tu_send_all(fds[i], msg, n) == 0);
    }
    for (int i = 0; i < 6; i++) {
        size_t got;
        struct weave_response r;
        uint8_t *raw = tu_recv_all(fds[i], 10000, &got);
        CHECK(tu_decode_reply(raw, got, &r) == 0);
        CHECK(r.msg_type == WEAVE_MSG_GENERATE_RESPONSE &&
              r.u.generate.request_id == 100 + (uint64_t)i &&
              r.u.generate.seed == 1 + (uint64_t)i);
        free(raw);
        close(fds[i]);
    }
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_write_deadline(void)
{
    struct tu_daemon d;
    uint8_t msg[256];
    tu_daemon_fresh(&d);
    const char *args[] = {"--write-timeout-ms=300", "--log-level=debug", NULL};
    CHECK(start(&d, args) == 0);
    /* 1024x1024 is a 3 MiB reply: far more than a socket buffer. */
    size_t n = tu_example_request(msg, sizeof msg, 1, 1024, 1024, 3);
    int fd = tu_connect(d.sock);
    CHECK(tu_send_all(fd, msg, n) == 0);
    uint64_t t0 = tu_now_ms();
    int seen = 0;
    while (!seen && tu_now_ms() - t0 < 5000) {
        usleep(20000);
        char *log = tu_daemon_log(&d);
        seen = strstr(log, " INFO write deadline") != NULL;
        free(log);
    }
    CHECK(seen);
    CHECK(tu_now_ms() - t0 >= 250);
    /* The connection is closed: reading gives part of the reply, then EOF. */
    size_t got;
    uint8_t *raw = tu_recv_all(fd, 5000, &got);
    CHECK(raw != NULL && got < 3u * 1024 * 1024 + 56);
    free(raw);
    close(fd);
    struct weave_response r;
    n = tu_status_request(msg, sizeof msg, 1);
    CHECK(ask(&d, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
    CHECK(tu_daemon_stop(&d) == 0);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, " ERROR ") == NULL);
    CHECK(strstr(log, " DEBUG generated request_id=1 1024x1024 steps=28 seed=3 in ") != NULL);
    free(log);
    tu_daemon_cleanup(&d);
}

/* Index of the first line containing needle, or -1. */
static int line_index(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    if (hit == NULL)
        return -1;
    int line = 0;
    for (const char *p = text; p < hit; p++)
        line += *p == '\n';
    return line;
}

static void test_deadlines_interleaved(void)
{
    /* Read and write deadlines of several connections at once, each on its
     * own clock: the later reader is not cut short by the earlier one, and
     * a write deadline due before both fires first. */
    struct tu_daemon d;
    uint8_t msg[256];
    size_t got;
    struct weave_response r;
    tu_daemon_fresh(&d);
    const char *args[] = {"--read-timeout-ms=500", "--write-timeout-ms=100",
                          "--log-level=debug", NULL};
    CHECK(start(&d, args) == 0);
    /* The worker process starts on the first job: start it now, so the
     * timings below do not include its cold start (fork, exec). */
    size_t wn = tu_example_request(msg, sizeof msg, 9, 64, 64, 1);
    free(tu_roundtrip(d.sock, msg, wn, 10000, &got));

    uint64_t ta = tu_now_ms();
    int a = tu_connect(d.sock); /* silent: read deadline ta + 500 */
    usleep(200000);
    uint64_t tb = tu_now_ms();
    int b = tu_connect(d.sock); /* silent: tb + 500 */
    /* A 3 MiB reply it never reads: closed 100 ms after it was ready,
     * long before a's read deadline. */
    size_t n = tu_example_request(msg, sizeof msg, 1, 1024, 1024, 3);
    int c = tu_connect(d.sock);
    CHECK(tu_send_all(c, msg, n) == 0);

    uint8_t *raw = tu_recv_all(a, 5000, &got);
    uint64_t a_took = tu_now_ms() - ta;
    CHECK(tu_decode_reply(raw, got, &r) == 0 && r.msg_type == WEAVE_MSG_ERROR &&
          r.u.error.code == WEAVE_ERR_TIMEOUT);
    free(raw);
    raw = tu_recv_all(b, 5000, &got);
    uint64_t b_took = tu_now_ms() - tb;
    CHECK(tu_decode_reply(raw, got, &r) == 0 && r.msg_type == WEAVE_MSG_ERROR &&
          r.u.error.code == WEAVE_ERR_TIMEOUT);
    free(raw);
    CHECK(a_took >= 490 && a_took < 3000);
    CHECK(b_took >= 490 && b_took < 3000);

    char *log = tu_daemon_log(&d);
    int w = line_index(log, " INFO write deadline: ");
    int rd = line_index(log, " INFO read deadline: ");
    CHECK(w >= 0 && rd >= 0 && w < rd);
    CHECK(tu_count_lines(log, " INFO read deadline: ") == 2);
    free(log);
    close(a);
    close(b);
    close(c);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_many_slots(void)
{
    /* --max-connections at its limit: slots are taken and given back
     * without scanning them (and the loop does not scan them either). */
    struct tu_daemon d;
    uint8_t msg[64];
    struct weave_response r;
    tu_daemon_fresh(&d);
    const char *args[] = {"--max-connections=65536", NULL};
    CHECK(start(&d, args) == 0);
    int idle[10];
    for (int i = 0; i < 10; i++)
        idle[i] = tu_connect(d.sock);
    size_t n = tu_status_request(msg, sizeof msg, 8);
    for (int i = 0; i < 200; i++) {
        uint8_t *raw = NULL;
        int ok = ask(&d, msg, n, &r, &raw) == 0 &&
                 r.msg_type == WEAVE_MSG_STATUS_RESPONSE;
        if (!ok || i == 199) {
            CHECK(ok);
            CHECK(r.u.status.max_connections == 65536);
            CHECK(r.u.status.connections_open == 11);
            CHECK(r.u.status.requests_served == (uint64_t)i);
            free(raw);
            break;
        }
        free(raw);
    }
    for (int i = 0; i < 10; i++)
        close(idle[i]);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* RssAnon of a process in KiB, or -1. */
static long rss_anon_kib(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    char *s = tu_read_file(path);
    if (s == NULL)
        return -1;
    const char *p = strstr(s, "\nRssAnon:");
    long kib = -1;
    if (p == NULL || sscanf(p, "\nRssAnon: %ld kB", &kib) != 1)
        kib = -1;
    free(s);
    return kib;
}

static void test_big_reply_memory_returned(void)
{
    /* After a 10 MB reply the daemon is back to its idle footprint, also
     * after the second one (glibc's dynamic mmap threshold would keep the
     * second one's buffer in the heap; daemon.c fixes the threshold). */
    struct tu_daemon d;
    uint8_t msg[256];
    struct weave_response r;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    size_t n = tu_status_request(msg, sizeof msg, 1);
    CHECK(ask(&d, msg, n, &r, NULL) == 0);
    long base = rss_anon_kib(d.pid);
    CHECK(base > 0);
    for (int i = 0; i < 3; i++) {
        n = tu_example_request(msg, sizeof msg, 2, 1856, 1856, 5);
        uint8_t *raw = NULL;
        CHECK(ask(&d, msg, n, &r, &raw) == 0 &&
              r.msg_type == WEAVE_MSG_GENERATE_RESPONSE);
        free(raw);
    }
    /* The client sees EOF when the fd is closed, just before the free. */
    long now = -1;
    for (int i = 0; i < 100; i++) {
        now = rss_anon_kib(d.pid);
        if (now >= 0 && now <= base + 1024)
            break;
        usleep(20000);
    }
    printf("(RssAnon %ld -> %ld KiB) ", base, now);
    CHECK(now >= 0 && now <= base + 1024);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_connection_cap(void)
{
    struct tu_daemon d;
    struct weave_response r;
    uint8_t msg[256];
    tu_daemon_fresh(&d);
    const char *args[] = {"--max-connections=2", NULL};
    CHECK(start(&d, args) == 0);
    int a = tu_connect(d.sock), b = tu_connect(d.sock);
    usleep(100000); /* both accepted */
    size_t n = tu_status_request(msg, sizeof msg, 1);
    uint8_t *raw = NULL;
    CHECK(ask(&d, msg, n, &r, &raw) == 0 && r.msg_type == WEAVE_MSG_ERROR);
    CHECK(r.u.error.status == 500 && r.u.error.code == WEAVE_ERR_BUSY);
    static const char busy[] = "server busy: 2 connections open";
    CHECK(raw != NULL && r.u.error.message.len == strlen(busy) &&
          memcmp(r.u.error.message.data, busy, strlen(busy)) == 0);
    free(raw);
    close(a);
    close(b);
    /* Served again once the daemon has seen the two hang up. */
    int served = 0;
    for (int i = 0; i < 100 && !served; i++) {
        served = ask(&d, msg, n, &r, NULL) == 0 &&
                 r.msg_type == WEAVE_MSG_STATUS_RESPONSE;
        if (!served)
            usleep(50000);
    }
    CHECK(served);
    CHECK(tu_daemon_stop(&d) == 0);
    char *log = tu_daemon_log(&d);
    CHECK(tu_count_lines(log, " WARN connection limit reached (2 open)") == 1);
    free(log);
    tu_daemon_cleanup(&d);
}

/* ---- other uid, via socket activation ---------------------------------- */

struct activation {
    char path[200];
};

/* In the daemon child: a listening socket on fd 3, anyone may connect. */
static void activate(void *arg)
{
    struct activation *a = arg;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, a->path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(fd, 16) != 0 || chmod(a->path, 0666) != 0)
        _exit(98);
    if (fd != 3) {
        dup2(fd, 3);
        close(fd);
    }
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "1", 1);
    unsetenv("XDG_RUNTIME_DIR"); /* not needed when activated */
}

/* Lines mentioning "pid=P" exactly (not pid=P7...). */
static int lines_with_pid(const char *log, pid_t pid)
{
    char tok[32];
    int n = snprintf(tok, sizeof tok, "pid=%ld", (long)pid);
    int count = 0;
    for (const char *line = log; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        for (size_t i = 0; i + (size_t)n <= len; i++) {
            if (memcmp(line + i, tok, (size_t)n) == 0 &&
                (i + (size_t)n == len || line[i + (size_t)n] < '0' ||
                 line[i + (size_t)n] > '9')) {
                count++;
                break;
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return count;
}

/* Connects as uid 65534, sends a request; exit 0 if closed with no reply. */
static pid_t connect_as_nobody(const char *path, const uint8_t *msg, size_t n)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
        _exit(10);
    int fd = tu_connect(path);
    if (fd < 0)
        _exit(11);
    send(fd, msg, n, MSG_NOSIGNAL); /* may fail: we may be closed already */
    size_t got;
    uint8_t *raw = tu_recv_all(fd, 5000, &got);
    _exit(raw == NULL ? 12 : got == 0 ? 0 : 13);
}

static void run_rejection(const char *level, int expect_lines)
{
    struct tu_daemon d;
    struct activation a;
    tu_daemon_fresh(&d);
    chmod(d.dir, 0711);
    snprintf(a.path, sizeof a.path, "%s/activated.sock", d.dir);
    const char *args[] = {level, NULL};
    tu_daemon_spawn(&d, args, activate, &a);
    CHECK(tu_daemon_wait_ready(&d, READY_MS) == 0);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, " INFO using socket-activated listener (fd 3)\n") != NULL);
    char want[400];
    snprintf(want, sizeof want, " INFO listening on %s\n", a.path);
    CHECK(strstr(log, want) != NULL);
    free(log);

    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 1, 512, 512, 0);
    pid_t child = connect_as_nobody(a.path, msg, n);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Our own uid is still served on the same socket. */
    struct weave_response r;
    snprintf(d.sock, sizeof d.sock, "%s", a.path);
    n = tu_status_request(msg, sizeof msg, 1);
    CHECK(ask(&d, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);

    CHECK(tu_daemon_stop(&d) == 0);
    log = tu_daemon_log(&d);
    snprintf(want, sizeof want, "rejected connection from uid=65534 pid=%ld",
             (long)child);
    CHECK(tu_count_lines(log, want) == expect_lines);
    CHECK(tu_count_lines(log, "uid=65534") == expect_lines);
    if (expect_lines > 0) {
        char line[512];
        snprintf(line, sizeof line, " DEBUG %s\n", want);
        CHECK(strstr(log, line) != NULL);
    }
    /* Nothing about the rejected client at INFO or above. */
    CHECK(lines_with_pid(log, child) == expect_lines);
    free(log);
    /* An activated socket belongs to systemd: never unlinked. */
    CHECK(access(a.path, F_OK) == 0);
    tu_daemon_cleanup(&d);
}

static void test_other_uid_rejected(void)
{
    run_rejection("--log-level=debug", 1);
}

static void test_other_uid_silent_at_info(void)
{
    run_rejection("--log-level=info", 0);
}

/* ---- the lock and the socket file -------------------------------------- */

static void test_second_instance(void)
{
    struct tu_daemon a, b;
    struct stat s1, s2, l1, l2;
    tu_daemon_fresh(&a);
    CHECK(start(&a, NULL) == 0);
    CHECK(lstat(a.sock, &s1) == 0 && lstat(a.lock, &l1) == 0);

    memset(&b, 0, sizeof b);
    memcpy(b.dir, a.dir, sizeof b.dir);
    tu_daemon_spawn(&b, NULL, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&b, READY_MS) == 3);
    char *log = tu_daemon_log(&b);
    char want[400];
    snprintf(want, sizeof want,
             "weave-compute: another weave-compute is already running "
             "(lock held on %s)\n", a.lock);
    CHECK(strcmp(log, want) == 0);
    free(log);
    unlink(b.log);
    unlink(b.out);

    CHECK(lstat(a.sock, &s2) == 0 && s2.st_ino == s1.st_ino);
    CHECK(lstat(a.lock, &l2) == 0 && l2.st_ino == l1.st_ino);
    uint8_t msg[64];
    struct weave_response r;
    size_t n = tu_status_request(msg, sizeof msg, 1);
    CHECK(ask(&a, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
    CHECK(tu_daemon_stop(&a) == 0);
    tu_daemon_cleanup(&a);
}

static void test_simultaneous_start(void)
{
    for (int round = 0; round < 5; round++) {
        struct tu_daemon a, b;
        tu_daemon_fresh(&a);
        memset(&b, 0, sizeof b);
        memcpy(b.dir, a.dir, sizeof b.dir);
        tu_daemon_spawn(&a, NULL, NULL, NULL);
        tu_daemon_spawn(&b, NULL, NULL, NULL);
        int ra = tu_daemon_wait_ready(&a, READY_MS);
        int rb = tu_daemon_wait_ready(&b, READY_MS);
        CHECK((ra == 0) != (rb == 0)); /* exactly one serves */
        struct tu_daemon *loser = ra == 0 ? &b : &a;
        struct tu_daemon *winner = ra == 0 ? &a : &b;
        CHECK(tu_daemon_wait_exit(loser, READY_MS) == 3);
        uint8_t msg[64];
        struct weave_response r;
        size_t n = tu_status_request(msg, sizeof msg, 1);
        CHECK(ask(winner, msg, n, &r, NULL) == 0 &&
              r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
        CHECK(tu_daemon_stop(winner) == 0);
        unlink(loser->log);
        unlink(loser->out);
        tu_daemon_cleanup(winner);
    }
}

static void make_stale(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        abort();
    close(fd);
}

static void test_stale_socket(void)
{
    struct tu_daemon d;
    char dir[160];
    tu_daemon_fresh(&d);
    snprintf(dir, sizeof dir, "%s/weave", d.dir);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(d.sock, sizeof d.sock, "%s/weave.sock", dir);
    make_stale(d.sock);
    CHECK(start(&d, NULL) == 0);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, " INFO replacing stale socket") != NULL);
    free(log);
    uint8_t msg[64];
    struct weave_response r;
    size_t n = tu_status_request(msg, sizeof msg, 1);
    CHECK(ask(&d, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);

    /* SIGKILL leaves the socket behind; the next start replaces it. */
    kill(d.pid, SIGKILL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 128 + SIGKILL);
    CHECK(access(d.sock, F_OK) == 0);
    CHECK(start(&d, NULL) == 0);
    log = tu_daemon_log(&d);
    CHECK(strstr(log, " INFO replacing stale socket") != NULL);
    free(log);
    CHECK(ask(&d, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

static void test_non_socket_untouched(void)
{
    struct tu_daemon d;
    char dir[160], path[200];
    tu_daemon_fresh(&d);
    snprintf(dir, sizeof dir, "%s/weave", d.dir);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/weave.sock", dir);
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    tu_daemon_spawn(&d, NULL, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 1);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "not a socket") != NULL);
    free(log);
    char *content = tu_read_file(path);
    CHECK(content != NULL && strcmp(content, "precious") == 0);
    free(content);
    tu_daemon_cleanup(&d);
}

static void test_foreign_listener_untouched(void)
{
    struct tu_daemon d;
    char dir[160], path[200];
    struct stat before, after;
    tu_daemon_fresh(&d);
    snprintf(dir, sizeof dir, "%s/weave", d.dir);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/weave.sock", dir);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0);
    CHECK(lstat(path, &before) == 0);
    tu_daemon_spawn(&d, NULL, NULL, NULL);
    CHECK(tu_daemon_wait_exit(&d, READY_MS) == 3);
    CHECK(lstat(path, &after) == 0 && after.st_ino == before.st_ino);
    close(l);
    tu_daemon_cleanup(&d);
}

/* ---- shutdown ------------------------------------------------------------ */

static void test_shutdown_bounded(void)
{
    struct tu_daemon d;
    uint8_t msg[256];
    tu_daemon_fresh(&d);
    const char *args[] = {"--shutdown-timeout-ms=300", "--write-timeout-ms=60000",
                          NULL};
    CHECK(start(&d, args) == 0);
    /* One client idle, one with a big reply it never reads. */
    int idle = tu_connect(d.sock);
    size_t n = tu_example_request(msg, sizeof msg, 1, 1024, 1024, 3);
    int stuck = tu_connect(d.sock);
    CHECK(tu_send_all(stuck, msg, n) == 0);
    usleep(300000); /* generated, reply partly written */
    uint64_t t0 = tu_now_ms();
    kill(d.pid, SIGTERM);
    CHECK(tu_daemon_wait_exit(&d, 5000) == 0);
    uint64_t took = tu_now_ms() - t0;
    CHECK(took >= 250 && took < 3000);
    CHECK(access(d.sock, F_OK) != 0 && access(d.lock, F_OK) != 0);
    char *log = tu_daemon_log(&d);
    CHECK(strstr(log, "INFO shutting down (SIGTERM)") != NULL);
    free(log);
    close(idle);
    close(stuck);
    tu_daemon_cleanup(&d);
}

static void test_sigint_idle(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    int idle = tu_connect(d.sock);
    usleep(50000);
    uint64_t t0 = tu_now_ms();
    kill(d.pid, SIGINT);
    CHECK(tu_daemon_wait_exit(&d, 5000) == 0);
    CHECK(tu_now_ms() - t0 < 1500); /* idle readers are not waited for */
    CHECK(access(d.sock, F_OK) != 0);
    close(idle);
    tu_daemon_cleanup(&d);
}

/* ---- file descriptor exhaustion ---------------------------------------- */

static void low_fd_limit(void *arg)
{
    (void)arg;
    struct rlimit rl = {16, 16};
    setrlimit(RLIMIT_NOFILE, &rl);
}

static long cpu_ticks(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    char *s = tu_read_file(path);
    if (s == NULL)
        return -1;
    /* Fields 14 and 15 (utime, stime), counted after the ")" of comm. */
    char *p = strrchr(s, ')');
    long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
                            &ut, &st) != 2)
        ut = st = -1;
    free(s);
    return ut + st;
}

static void test_fd_exhaustion(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    tu_daemon_spawn(&d, NULL, low_fd_limit, NULL);
    CHECK(tu_daemon_wait_ready(&d, READY_MS) == 0);
    int fds[40];
    for (int i = 0; i < 40; i++)
        fds[i] = tu_connect(d.sock);
    long t0 = cpu_ticks(d.pid);
    usleep(1000000);
    long used = cpu_ticks(d.pid) - t0;
    printf("(%ld ticks in 1 s) ", used);
    CHECK(t0 >= 0 && used < 30); /* no busy loop on EMFILE */
    CHECK(tu_daemon_wait_exit(&d, 0) < 0); /* still running */
    for (int i = 0; i < 40; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    usleep(100000);
    uint8_t msg[64];
    struct weave_response r;
    size_t n = tu_status_request(msg, sizeof msg, 1);
    CHECK(ask(&d, msg, n, &r, NULL) == 0 && r.msg_type == WEAVE_MSG_STATUS_RESPONSE);
    CHECK(tu_daemon_stop(&d) == 0);
    char *log = tu_daemon_log(&d);
    int warns = tu_count_lines(log, " WARN accept: Too many open files");
    CHECK(warns >= 1 && warns <= 2); /* rate-limited */
    free(log);
    tu_daemon_cleanup(&d);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    tu_run("daemon: XDG_RUNTIME_DIR not set (exact text, exit 1)", test_xdg_not_set);
    tu_run("daemon: usage errors exit 2", test_usage_errors);
    tu_run("daemon: invalid WEAVE_LOG_LEVEL exits 2", test_env_level_invalid);
    tu_run("daemon: --version and --help", test_version_help);
    tu_run("daemon: socket path too long exits 1", test_path_too_long);
    tu_run("daemon: unsafe directory exits 1", test_unsafe_dir);
    tu_run("daemon: serves generate and status, SIGTERM cleans up",
           test_serve_and_shutdown);
    tu_run("daemon: error replies", test_error_replies);
    tu_run("daemon: read deadline (silent and trickling clients)", test_read_deadline);
    tu_run("daemon: idle clients do not block others", test_idle_clients_do_not_block);
    tu_run("daemon: parallel clients", test_parallel_generates);
    tu_run("daemon: write deadline", test_write_deadline);
    tu_run("daemon: read and write deadlines interleaved", test_deadlines_interleaved);
    tu_run("daemon: --max-connections=65536", test_many_slots);
    /* ASan's allocator keeps freed memory in quarantine: nothing to see. */
    if (under_asan)
        tu_skip("daemon: memory of a 10 MB reply is returned", "under ASan");
    else
        tu_run("daemon: memory of a 10 MB reply is returned",
               test_big_reply_memory_returned);
    tu_run("daemon: connection cap answers server busy", test_connection_cap);
    const char *why = NULL;
    if (tu_can_become_nobody(&why)) {
        tu_run("daemon: other uid rejected, one DEBUG line", test_other_uid_rejected);
        tu_run("daemon: other uid rejected, silent at info",
               test_other_uid_silent_at_info);
    } else {
        tu_skip("daemon: other uid rejected", why);
    }
    tu_run("daemon: second instance exits 3, touches nothing", test_second_instance);
    tu_run("daemon: simultaneous start, exactly one serves", test_simultaneous_start);
    tu_run("daemon: stale socket replaced (also after SIGKILL)", test_stale_socket);
    tu_run("daemon: non-socket at the path left alone", test_non_socket_untouched);
    tu_run("daemon: foreign listener left alone (exit 3)",
           test_foreign_listener_untouched);
    tu_run("daemon: shutdown bounded by --shutdown-timeout-ms", test_shutdown_bounded);
    tu_run("daemon: SIGINT with an idle client", test_sigint_idle);
    tu_run("daemon: EMFILE does not spin or kill the daemon", test_fd_exhaustion);
    return tu_summary();
}
