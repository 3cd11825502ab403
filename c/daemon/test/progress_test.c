/*
 * Protocol version 2 on the connection side (SPEC section 11), against a
 * forked daemon serving the scripted backend (per-step sleeps): the
 * version-2 status reply, 0x0005 with PROGRESS (queued positions,
 * heartbeats, one progress message per step, the reply after them), with
 * SHM (0x0006 and one sealed memfd), and version 1 left exactly as it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/scripted/scripted.h"
#include "daemon_testutil.h"

#define READY_MS 10000
#define WAIT_MS 10000

static int start(struct tu_daemon *d, const char *const *args)
{
    static const char *const debug[] = {"--log-level=debug", NULL};
    tu_daemon_spawn_backend(d, &weave_backend_scripted, args ? args : debug,
                            NULL, NULL);
    return tu_daemon_wait_ready(d, READY_MS);
}

static void fill_request(struct weave_generate_request *req, uint64_t id,
                         const char *script, uint32_t w, uint32_t h,
                         uint32_t steps)
{
    memset(req, 0, sizeof *req);
    req->request_id = id;
    req->width = w;
    req->height = h;
    req->steps = steps;
    req->cfg_scale = 7.0f;
    req->seed = 1;
    req->clip_l.data = (const uint8_t *)script;
    req->clip_l.len = (uint32_t)strlen(script);
    req->clip_g.data = req->t5.data = (const uint8_t *)"x";
    req->clip_g.len = req->t5.len = 1;
}

/* Connects and sends msg; the fd, or -1. */
static int send_msg(const struct tu_daemon *d, const uint8_t *msg, size_t n)
{
    int fd = tu_connect(d->sock);
    if (fd < 0 || n == 0 || tu_send_all(fd, msg, n) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* A 0x0005 request (version-2 header) with these flags. */
static int send_v2(const struct tu_daemon *d, uint64_t id, const char *script,
                   uint32_t w, uint32_t h, uint32_t steps, uint32_t flags)
{
    struct weave_generate_request req;
    uint8_t msg[512];
    fill_request(&req, id, script, w, h, steps);
    return send_msg(d, msg, weave_encode_generate_options(msg, sizeof msg, flags, &req));
}

/* A 0x0001 request in a version-1 header. */
static int send_v1(const struct tu_daemon *d, uint64_t id, const char *script,
                   uint32_t w, uint32_t h, uint32_t steps)
{
    struct weave_generate_request req;
    uint8_t msg[512];
    fill_request(&req, id, script, w, h, steps);
    return send_msg(d, msg, weave_encode_generate_request(msg, sizeof msg, 1, &req));
}

/* Everything one version-2 client hears, in order, up to the final reply. */
#define MAX_SEEN 512
struct heard {
    int n;
    uint16_t type[MAX_SEEN];
    uint64_t at_ms[MAX_SEEN];   /* when it arrived */
    struct weave_response msg[MAX_SEEN]; /* the final one's pointers: raw */
    uint8_t *raw;               /* the final reply's bytes */
    size_t raw_len;
    int fd, nfds;               /* descriptors that came (the last kept) */
    int complete;               /* a final reply arrived and decoded */
    int eof_after;              /* the connection closed right after it */
};

static void heard_free(struct heard *h)
{
    free(h->raw);
    if (h->fd >= 0)
        close(h->fd);
}

/* Reads messages until the final reply (or stop_after messages, if > 0). */
static void listen_to(int sock, struct heard *h, int stop_after)
{
    memset(h, 0, sizeof *h);
    h->fd = -1;
    while (h->n < MAX_SEEN && (stop_after <= 0 || h->n < stop_after)) {
        uint8_t hdr[WEAVE_HEADER_SIZE];
        if (tu_recv_exact_fds(sock, hdr, sizeof hdr, WAIT_MS, &h->fd, &h->nfds) != 0)
            return;
        uint32_t plen = (uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 |
                        (uint32_t)hdr[10] << 8 | hdr[11];
        if (plen > WEAVE_MAX_PAYLOAD_SIZE)
            return;
        uint8_t *buf = malloc(WEAVE_HEADER_SIZE + (size_t)plen);
        memcpy(buf, hdr, sizeof hdr);
        if (tu_recv_exact_fds(sock, buf + WEAVE_HEADER_SIZE, plen, WAIT_MS, &h->fd,
                       &h->nfds) != 0) {
            free(buf);
            return;
        }
        struct weave_error err;
        int i = h->n++;
        h->at_ms[i] = tu_now_ms();
        if (weave_response_decode_versions(buf, WEAVE_HEADER_SIZE + plen, 1, 2,
                                           &h->msg[i], &err) != 0) {
            printf("  undecodable message: %s\n", err.message);
            free(buf);
            return;
        }
        h->type[i] = h->msg[i].msg_type;
        if (h->type[i] == WEAVE_MSG_QUEUED || h->type[i] == WEAVE_MSG_PROGRESS ||
            h->type[i] == WEAVE_MSG_HEARTBEAT) {
            free(buf);
            continue;
        }
        h->raw = buf; /* the final reply; its decoded pointers point here */
        h->raw_len = WEAVE_HEADER_SIZE + plen;
        h->complete = 1;
        char c;
        struct pollfd p = {.fd = sock, .events = POLLIN};
        h->eof_after = poll(&p, 1, WAIT_MS) == 1 && recv(sock, &c, 1, 0) == 0;
        return;
    }
}

/* Reads a version-1 reply on fd (then closes it): its generation_time_ms,
 * or -1 unless it is a 200 for id. */
static long served_ms_v1(int fd, uint64_t id)
{
    size_t n;
    uint8_t *buf = tu_recv_all(fd, WAIT_MS, &n);
    close(fd);
    struct weave_response r;
    long ms = -1;
    if (buf != NULL && tu_decode_reply(buf, n, &r) == 0 &&
        r.msg_type == WEAVE_MSG_GENERATE_RESPONSE && r.u.generate.request_id == id &&
        r.u.generate.status == 200)
        ms = (long)r.u.generate.generation_time_ms;
    free(buf);
    return ms;
}

/* Reads a version-1 reply on fd (then closes it); 1 when a 200 for id. */
static int served_ok_v1(int fd, uint64_t id)
{
    return served_ms_v1(fd, id) >= 0;
}

static int count(const struct heard *h, uint16_t type)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        n += h->type[i] == type;
    return n;
}

static const struct weave_response *final_reply(const struct heard *h)
{
    return h->complete ? &h->msg[h->n - 1] : NULL;
}

/* Waits until `want` jobs wait in the queue (status requests). */
static int wait_depth(const struct tu_daemon *d, uint32_t want)
{
    uint64_t end = tu_now_ms() + WAIT_MS;
    for (;;) {
        uint8_t msg[64];
        size_t n = tu_status_request(msg, sizeof msg, 9), len;
        uint8_t *raw = tu_roundtrip(d->sock, msg, n, WAIT_MS, &len);
        struct weave_response r;
        int ok = raw != NULL && tu_decode_reply(raw, len, &r) == 0 &&
                 r.msg_type == WEAVE_MSG_STATUS_RESPONSE &&
                 r.u.status.queue_depth == want;
        free(raw);
        if (ok)
            return 0;
        if (tu_now_ms() >= end)
            return -1;
        usleep(2000);
    }
}

/* ---- the cases ---------------------------------------------------------- */

static void test_status_v2(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);

    uint8_t msg[64];
    struct weave_status_request sr = {.request_id = 77};
    size_t n = weave_encode_status_request(msg, sizeof msg, 2, &sr);
    int fd = send_msg(&d, msg, n);
    struct heard h;
    listen_to(fd, &h, 0);
    close(fd);
    const struct weave_response *r = final_reply(&h);
    CHECK(r != NULL && r->version == 2 && r->msg_type == WEAVE_MSG_STATUS_RESPONSE);
    if (r != NULL) {
        const struct weave_status_response *st = &r->u.status;
        CHECK(st->request_id == 77 && st->status == 200);
        CHECK(st->version_min == 1 && st->version_max == 2);
        CHECK(st->daemon_pid == (uint32_t)d.pid);
        CHECK(st->features == (WEAVE_FLAG_PROGRESS | WEAVE_FLAG_SHM));
        CHECK(st->backend_state <= WEAVE_BACKEND_RESTARTING);
        CHECK(st->worker_restarts == 0 && st->jobs_running == 0);
        CHECK(st->last_crash.len == 0);
        CHECK(st->has_totals && st->generations == 0 && st->generation_us == 0);
    }
    CHECK(h.nfds == 0 && h.eof_after);
    heard_free(&h);

    /* The same request in a version-1 header: the version-1 reply, exactly
     * as long as section 7 says (no 11.6 fields). */
    n = tu_status_request(msg, sizeof msg, 78);
    size_t len;
    uint8_t *raw = tu_roundtrip(d.sock, msg, n, WAIT_MS, &len);
    struct weave_response r1;
    CHECK(raw != NULL && tu_decode_reply(raw, len, &r1) == 0 && r1.version == 1);
    CHECK(len == WEAVE_HEADER_SIZE + WEAVE_STATUS_RESP_FIXED_SIZE +
                     strlen("scripted") + strlen("0.1.0"));
    free(raw);
    tu_daemon_cleanup(&d);
}

/* A version-2 status reply's generation totals (SPEC 11.6); -1 when no
 * good reply, or one without the pair, came. */
static int totals(const struct tu_daemon *d, uint64_t *gens, uint64_t *us)
{
    uint8_t msg[64];
    struct weave_status_request sr = {.request_id = 79};
    size_t n = weave_encode_status_request(msg, sizeof msg, 2, &sr), len;
    uint8_t *raw = tu_roundtrip(d->sock, msg, n, WAIT_MS, &len);
    struct weave_response r;
    struct weave_error err;
    int ok = raw != NULL &&
             weave_response_decode_versions(raw, len, 1, 2, &r, &err) == 0 &&
             r.msg_type == WEAVE_MSG_STATUS_RESPONSE && r.version == 2 &&
             r.u.status.has_totals;
    if (ok) {
        *gens = r.u.status.generations;
        *us = r.u.status.generation_us;
    }
    free(raw);
    return ok ? 0 : -1;
}


/* The totals count every job finished with an image, in any version, and
 * their exact time, which each reply's generation_time_ms rounds to the
 * nearest millisecond; failed and cancelled jobs add nothing. */
static void test_status_totals(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    uint64_t gens = 1, us = 1, gens2 = 0, us2 = 0;
    CHECK(totals(&d, &gens, &us) == 0 && gens == 0 && us == 0);

    /* A version-1 job of 3 steps of 20 ms: at least 60 000 us. */
    long ms = served_ms_v1(send_v1(&d, 30, "script: step-ms=20", 64, 64, 3), 30);
    CHECK(ms >= 60);
    CHECK(totals(&d, &gens, &us) == 0 && gens == 1 && us >= 60000);
    CHECK(ms >= 0 && (uint64_t)ms == (us + 500) / 1000);

    /* A failed job and a cancelled one: not counted. */
    struct heard h;
    int fd = send_v2(&d, 31, "script: fail=9:\"no VRAM\"@2", 64, 64, 3, 0);
    listen_to(fd, &h, 0);
    close(fd);
    CHECK(final_reply(&h) != NULL &&
          final_reply(&h)->msg_type == WEAVE_MSG_ERROR);
    heard_free(&h);
    fd = send_v2(&d, 32, "script: step-ms=200", 64, 64, 50, WEAVE_FLAG_PROGRESS);
    listen_to(fd, &h, 2); /* the heartbeat and step 1: running */
    CHECK(h.n == 2 && !h.complete);
    close(fd); /* cancels it (SPEC 11.5) */
    heard_free(&h);
    /* The worker is serial: job 33 runs once the cancelled one stopped. */
    CHECK(served_ok_v1(send_v1(&d, 33, "plain", 64, 64, 1), 33));
    /* Counted: job 33 (a plain job behind the cancelled one), not 31, 32. */
    CHECK(totals(&d, &gens2, &us2) == 0 && gens2 == gens + 1 && us2 >= us);

    /* A shared-memory reply counts as well. */
    fd = send_v2(&d, 34, "script: step-ms=5", 64, 64, 2, WEAVE_FLAG_SHM);
    listen_to(fd, &h, 0);
    close(fd);
    CHECK(final_reply(&h) != NULL &&
          final_reply(&h)->msg_type == WEAVE_MSG_SHM_RESPONSE);
    heard_free(&h);
    CHECK(totals(&d, &gens, &us) == 0 && gens == gens2 + 1 && us >= us2 + 10000);
    tu_daemon_cleanup(&d);
}

/* 0x0005 without flags: the inline 0x0002 in a version-2 header, nothing
 * before it. */
static void test_options_no_flags(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    int fd = send_v2(&d, 5, "plain", 128, 64, 3, 0);
    struct heard h;
    listen_to(fd, &h, 0);
    close(fd);
    const struct weave_response *r = final_reply(&h);
    CHECK(h.n == 1 && r != NULL && r->version == 2 &&
          r->msg_type == WEAVE_MSG_GENERATE_RESPONSE);
    CHECK(r != NULL && r->u.generate.request_id == 5 && r->u.generate.width == 128 &&
          r->u.generate.height == 64 && r->u.generate.has_seed);
    CHECK(h.nfds == 0);
    heard_free(&h);

    /* Flag bits the daemon does not know are ignored (SPEC 11.2). */
    fd = send_v2(&d, 6, "plain", 64, 64, 2, 0xFFFFFFFCu);
    listen_to(fd, &h, 0);
    close(fd);
    r = final_reply(&h);
    CHECK(h.n == 1 && r != NULL && r->msg_type == WEAVE_MSG_GENERATE_RESPONSE &&
          r->u.generate.request_id == 6 && r->u.generate.status == 200);
    heard_free(&h);
    tu_daemon_cleanup(&d);
}

/* Steps longer than a second: heartbeats (phase 2) fill the silence, so
 * the client hears something at least once a second. */
static void test_heartbeats_while_running(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    int fd = send_v2(&d, 70, "script: step-ms=1300", 64, 64, 2, WEAVE_FLAG_PROGRESS);
    uint64_t t0 = tu_now_ms();
    struct heard h;
    listen_to(fd, &h, 0);
    close(fd);
    CHECK(final_reply(&h) != NULL && count(&h, WEAVE_MSG_PROGRESS) == 2);
    CHECK(count(&h, WEAVE_MSG_HEARTBEAT) >= 4);
    uint64_t prev = t0;
    int running = 0;
    for (int i = 0; i < h.n; i++) {
        CHECK(h.at_ms[i] - prev <= 1000);
        prev = h.at_ms[i];
        if (h.type[i] == WEAVE_MSG_HEARTBEAT &&
            h.msg[i].u.heartbeat.phase == WEAVE_PHASE_RUNNING)
            running++;
    }
    CHECK(running >= 4);
    heard_free(&h);
    tu_daemon_cleanup(&d);
}

/* Three PROGRESS clients wait behind a long job: each is told its place
 * (1, 2, 3) at once, and hears a heartbeat (phase 1) at least once a
 * second while it waits. Then the long job's client leaves, and all three
 * are served in order, each reply after its messages. */
static void test_queue_positions_heartbeats(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);

    int a = send_v1(&d, 1, "script: step-ms=100", 64, 64, 100);
    CHECK(a >= 0 && wait_depth(&d, 0) == 0); /* queued, and running */
    int w[3];
    struct heard h[3];
    for (int i = 0; i < 3; i++) {
        w[i] = send_v2(&d, (uint64_t)(10 + i), "script: step-ms=10", 64, 64, 3,
                       WEAVE_FLAG_PROGRESS);
        CHECK(w[i] >= 0);
        /* Its first message: queued, at position i + 1. */
        listen_to(w[i], &h[i], 1);
        CHECK(h[i].n == 1 && h[i].type[0] == WEAVE_MSG_QUEUED);
        if (h[i].n == 1 && h[i].type[0] == WEAVE_MSG_QUEUED) {
            CHECK(h[i].msg[0].u.queued.request_id == (uint64_t)(10 + i));
            CHECK(h[i].msg[0].u.queued.position == (uint32_t)i + 1);
            CHECK(h[i].msg[0].u.queued.queue_depth >= (uint32_t)i + 1);
        }
        heard_free(&h[i]);
    }
    /* While they wait: heartbeats, phase 1, none more than a second apart. */
    struct heard hb;
    uint64_t t0 = tu_now_ms();
    listen_to(w[2], &hb, 3);
    CHECK(hb.n == 3 && count(&hb, WEAVE_MSG_HEARTBEAT) == 3);
    uint64_t prev = t0;
    for (int i = 0; i < hb.n; i++) {
        CHECK(hb.msg[i].u.heartbeat.phase == WEAVE_PHASE_QUEUED);
        CHECK(hb.msg[i].u.heartbeat.request_id == 12);
        CHECK(hb.at_ms[i] - prev <= 1000);
        prev = hb.at_ms[i];
    }
    CHECK(hb.n == 3 && hb.msg[2].u.heartbeat.elapsed_ms >= 1000);
    heard_free(&hb);

    close(a); /* cancels the long job: the three run now */
    for (int i = 0; i < 3; i++) {
        listen_to(w[i], &h[i], 0);
        const struct weave_response *r = final_reply(&h[i]);
        CHECK(r != NULL && r->msg_type == WEAVE_MSG_GENERATE_RESPONSE &&
              r->u.generate.request_id == (uint64_t)(10 + i) &&
              r->u.generate.status == 200);
        CHECK(h[i].eof_after);
        heard_free(&h[i]);
        close(w[i]);
    }
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* The 10 MiB rule is unchanged for inline replies: a 2048x2048 request in
 * version 1 (and 0x0005 without SHM) is still 400/5. */
static void test_inline_2048_refused(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    struct heard h;
    int fd = send_v1(&d, 31, "plain", 2048, 2048, 1);
    listen_to(fd, &h, 0);
    close(fd);
    const struct weave_response *r = final_reply(&h);
    CHECK(r != NULL && r->version == 1 && r->msg_type == WEAVE_MSG_ERROR &&
          r->u.error.status == 400 && r->u.error.code == WEAVE_ERR_INVALID_DIMENSIONS &&
          r->u.error.request_id == 31);
    heard_free(&h);
    fd = send_v2(&d, 32, "plain", 2048, 2048, 1, WEAVE_FLAG_PROGRESS);
    listen_to(fd, &h, 0);
    close(fd);
    r = final_reply(&h);
    CHECK(h.n == 1 && r != NULL && r->version == 2 && r->msg_type == WEAVE_MSG_ERROR &&
          r->u.error.status == 400 && r->u.error.code == WEAVE_ERR_INVALID_DIMENSIONS);
    heard_free(&h);
    tu_daemon_cleanup(&d);
}

/* One progress message per step, in order, after a heartbeat (phase 2)
 * when the job starts, and the reply after the last one. */
static void test_progress_per_step(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    /* A first job starts the worker process, so the next one starts at
     * once (no `queued`: nothing ahead of it). */
    CHECK(served_ok_v1(send_v1(&d, 39, "plain", 64, 64, 1), 39));
    int fd = send_v2(&d, 40, "script: step-ms=30", 64, 64, 7, WEAVE_FLAG_PROGRESS);
    struct heard h;
    listen_to(fd, &h, 0);
    close(fd);
    const struct weave_response *r = final_reply(&h);
    CHECK(r != NULL && r->msg_type == WEAVE_MSG_GENERATE_RESPONSE &&
          r->u.generate.request_id == 40 && r->u.generate.status == 200);
    CHECK(count(&h, WEAVE_MSG_PROGRESS) == 7);
    CHECK(count(&h, WEAVE_MSG_QUEUED) == 0);
    CHECK(h.n >= 1 && h.type[0] == WEAVE_MSG_HEARTBEAT &&
          h.msg[0].u.heartbeat.phase == WEAVE_PHASE_RUNNING);
    uint32_t want = 1, last_ms = 0;
    for (int i = 0; i < h.n; i++) {
        if (h.type[i] == WEAVE_MSG_HEARTBEAT) {
            CHECK(h.msg[i].u.heartbeat.phase == WEAVE_PHASE_RUNNING);
            continue;
        }
        if (h.type[i] != WEAVE_MSG_PROGRESS)
            continue;
        const struct weave_progress *p = &h.msg[i].u.progress;
        CHECK(p->request_id == 40 && p->step == want && p->steps == 7);
        CHECK(p->elapsed_ms >= last_ms);
        last_ms = p->elapsed_ms;
        want++;
    }
    CHECK(want == 8 && last_ms >= 7 * 30 - 10);
    CHECK(h.eof_after);
    heard_free(&h);
    tu_daemon_cleanup(&d);
}

/* Positions move as the queue drains: behind one job, three PROGRESS
 * clients hear 1, 2, 3; each start moves the others up by one. */
static void test_positions_move(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    int a = send_v1(&d, 1, "script: step-ms=50", 64, 64, 6);
    CHECK(a >= 0 && wait_depth(&d, 0) == 0);
    int w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = send_v2(&d, (uint64_t)(50 + i), "script: step-ms=50", 64, 64, 4,
                       WEAVE_FLAG_PROGRESS);
        CHECK(w[i] >= 0 && wait_depth(&d, (uint32_t)i + 1) == 0);
    }
    CHECK(served_ok_v1(a, 1));
    for (int i = 0; i < 3; i++) {
        struct heard h;
        listen_to(w[i], &h, 0);
        close(w[i]);
        /* Client i waits behind i others: it hears i+1, i, ..., 1. */
        uint32_t want = (uint32_t)i + 1;
        int ok = 1;
        for (int k = 0; k < h.n; k++) {
            if (h.type[k] != WEAVE_MSG_QUEUED)
                continue;
            ok &= h.msg[k].u.queued.position == want;
            want--;
        }
        CHECK(ok && want == 0);
        CHECK(count(&h, WEAVE_MSG_PROGRESS) == 4);
        const struct weave_response *r = final_reply(&h);
        CHECK(r != NULL && r->msg_type == WEAVE_MSG_GENERATE_RESPONSE);
        heard_free(&h);
    }
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

/* pid's open descriptors once the count has held still for 100 ms (at
 * most ms): the daemon closes a finished connection and its job's memfd
 * just after the client saw EOF, not before. A real leak stays counted. */
static int settled_fds(pid_t pid, int ms)
{
    int n = tu_fd_count(pid), still = 0;
    for (int waited = 0; still < 100 && waited < ms; waited += 10) {
        usleep(10000);
        int m = tu_fd_count(pid);
        still = m == n ? still + 10 : 0;
        n = m;
    }
    return n;
}

/* One shared-memory exchange: checks the reply and its memfd. */
static void shm_case(const struct tu_daemon *d, uint64_t id, uint32_t w,
                     uint32_t hgt, uint32_t flags)
{
    int fd = send_v2(d, id, "script: color=FF2001", w, hgt, 2, flags | WEAVE_FLAG_SHM);
    struct heard h;
    listen_to(fd, &h, 0);
    close(fd);
    const struct weave_response *r = final_reply(&h);
    CHECK(r != NULL && r->version == 2 && r->msg_type == WEAVE_MSG_SHM_RESPONSE);
    CHECK(h.nfds == 1 && h.fd >= 0); /* exactly one descriptor */
    if (r == NULL || r->msg_type != WEAVE_MSG_SHM_RESPONSE || h.fd < 0) {
        heard_free(&h);
        return;
    }
    const struct weave_shm_response *m = &r->u.shm;
    uint64_t size = (uint64_t)w * hgt * 3;
    CHECK(m->request_id == id && m->status == 200 && m->width == w &&
          m->height == hgt && m->channels == 3 && m->image_size == size);
    int seals = fcntl(h.fd, F_GET_SEALS);
    int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    CHECK(seals >= 0 && (seals & all) == all);
    struct stat st;
    CHECK(fstat(h.fd, &st) == 0 && (uint64_t)st.st_size >= size);
    uint8_t *px = mmap(NULL, size, PROT_READ, MAP_SHARED, h.fd, 0);
    CHECK(px != MAP_FAILED);
    if (px != MAP_FAILED) {
        int flat = 1;
        for (uint64_t i = 0; i < size; i += 3)
            flat &= px[i] == 0xFF && px[i + 1] == 0x20 && px[i + 2] == 0x01;
        CHECK(flat);
        munmap(px, size);
    }
    /* Sealed: no writable mapping, no write, no growing. */
    CHECK(mmap(NULL, size, PROT_WRITE, MAP_SHARED, h.fd, 0) == MAP_FAILED);
    CHECK(pwrite(h.fd, "x", 1, 0) < 0);
    CHECK(ftruncate(h.fd, (off_t)size * 2) < 0);
    CHECK(h.eof_after);
    if (flags & WEAVE_FLAG_PROGRESS)
        CHECK(count(&h, WEAVE_MSG_PROGRESS) == 2);
    heard_free(&h);
}

/* SHM: 0x0006 with one sealed memfd of the pixels, 2048x2048 included
 * (past the 10 MiB inline limit), with and without progress; the daemon
 * keeps none of the descriptors it sent. */
static void test_shm_replies(void)
{
    struct tu_daemon d;
    tu_daemon_fresh(&d);
    CHECK(start(&d, NULL) == 0);
    shm_case(&d, 60, 64, 64, 0); /* the worker is running from here on */
    int before = settled_fds(d.pid, 2000);
    shm_case(&d, 61, 2048, 2048, 0);
    shm_case(&d, 62, 1856, 1856, WEAVE_FLAG_PROGRESS);
    shm_case(&d, 63, 512, 192, WEAVE_FLAG_PROGRESS);
    int after = settled_fds(d.pid, 2000);
    CHECK(before > 0 && after == before);
    if (after != before)
        printf("    daemon descriptors: %d before, %d after\n", before, after);
    CHECK(tu_daemon_stop(&d) == 0);
    tu_daemon_cleanup(&d);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    tu_run("v2 status: the 11.6 fields; v1 status unchanged", test_status_v2);
    tu_run("v2 status: generation totals count finished jobs, exactly", test_status_totals);
    tu_run("0x0005 without flags: inline reply only", test_options_no_flags);
    tu_run("queued positions 1, 2, 3 and heartbeats while queued",
           test_queue_positions_heartbeats);
    tu_run("inline 2048x2048 (v1, and v2 without SHM) is still 400/5",
           test_inline_2048_refused);
    tu_run("one progress message per step, reply after them", test_progress_per_step);
    tu_run("queue positions move as the queue drains", test_positions_move);
    tu_run("heartbeats while running, at least once a second",
           test_heartbeats_while_running);
    tu_run("SHM: one sealed memfd, 2048x2048, no descriptor kept", test_shm_replies);
    return tu_summary();
}
