/*
 * libFuzzer target for the daemon's connection state machine: conn.c and
 * the event loop's per-connection path (server_conn.c: reading, status
 * replies, generate jobs through the real worker process, error replies,
 * read deadlines, writing, closing), driven in-process over socketpairs.
 *
 * The input is a script of operations on up to two connections at once
 * (their steps interleave in input order):
 *
 *   op byte: bit 0 = connection A or B, bits 1..3 = what
 *     0..2  send the next (1 + next byte) input bytes, then an EPOLLIN event
 *     3     the client half-closes (EOF), then an EPOLLIN|EPOLLRDHUP event
 *     4     the client hangs up (close), then an EPOLLIN|EPOLLHUP event
 *     5     the read deadline passes (when the connection is reading)
 *     6     the client reads what has arrived, then an EPOLLOUT event
 *     7     wait (up to 2 s) for the worker, then collect finished jobs
 *   A connection is opened at its first operation; the byte after the op
 *   that opens it picks a small send buffer (replies then take several
 *   writes) or not. Once the daemon closed one, the next op opens another.
 *
 * After every operation the invariants are checked (abort() on failure):
 * buffer bounds, state <-> deadline list, the table's count; and when the
 * daemon closes a connection, whatever the client received must be exactly
 * one well-formed response message. Build and run: tools/fuzz/run_c_fuzz.sh
 * 60 conn (docs/FUZZING.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/config.h"
#include "daemon/conn_table.h"
#include "daemon/log.h"
#include "daemon/worker.h"
#include "server_internal.h"
#include "weave/backend.h"
#include "weave/protocol.h"

#define REQUIRE(c)                                                          \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_conn: %s:%d: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Images the fuzz backend renders; larger ones fail with 500/9. */
#define MAX_PIXELS (64u * 64u)
/* The largest reply a client can get. */
#define REPLY_CAP (WEAVE_HEADER_SIZE + WEAVE_RESPONSE_FIXED_SIZE + \
                   MAX_PIXELS * 3u + WEAVE_SEED_EXT_SIZE)
/* What a client keeps: that reply after the version-2 messages that may
 * come before it (SPEC 11.3: queued positions, heartbeats, one progress
 * message per step), far more of them than an input of this harness can
 * cause. (Without them, a queued message before a 64x64 reply was once
 * taken for an overflow: a bug of this harness, not of the daemon.) */
#define CLIENT_CAP (REPLY_CAP + 64u * 1024u)

/* ---- a backend that is instant, small and sometimes fails ------------ */

static int fz_init(void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *state = NULL;
    return 0;
}

static int fz_generate(void *state, const struct weave_gen_params *p,
                       const struct weave_gen_hooks *hooks, uint8_t *pixels,
                       size_t cap, struct weave_error *err)
{
    (void)state;
    size_t n = (size_t)p->width * p->height * 3u;
    if ((size_t)p->width * p->height > MAX_PIXELS || n > cap) {
        weave_error_set(err, 0, WEAVE_ERR_GPU, "fuzz backend: too big");
        return -1;
    }
    if (p->seed % 7u == 3u) {
        weave_error_set(err, 0, (uint32_t)(p->seed % 100u), "fuzz failure %u",
                        (unsigned)(p->seed % 100u));
        return -1;
    }
    for (uint32_t i = 1; i <= p->steps; i++) {
        if (hooks->should_stop(hooks->ctx))
            return -1;
        hooks->step(hooks->ctx, i, p->steps);
    }
    memset(pixels, (int)(p->seed & 0xFF), n);
    return 0;
}

static void fz_shutdown(void *state)
{
    (void)state;
}

static const struct weave_backend fz_backend = {
    "fuzz", "fuzz backend", fz_init, fz_generate, fz_shutdown,
};

/* ---- the loop's state, kept across inputs ---------------------------- */

static struct weave_config cfg;
static struct weave_log logger;
static struct weave_worker *worker;
static struct server *current; /* the input being run: done events go there */
static int epfd = -1;
static uint32_t generation; /* tags never repeat across inputs */

struct client {
    int fd;            /* our end; -1 when not open */
    uint64_t tag;      /* the daemon's connection, 0 when none */
    int half_closed;   /* sent its EOF: sends nothing more */
    int gone;          /* closed its end: cannot judge a reply */
    uint8_t *got;      /* what the daemon sent */
    size_t got_len;
    int overflow;
};

/* This binary is also its own worker process (exec'd by the worker
 * supervisor with a hidden argv): serve that before libFuzzer starts.
 * glibc passes argc and argv to constructors. */
__attribute__((constructor)) static void worker_mode(int argc, char **argv)
{
    if (argv != NULL && weave_worker_child_requested(argc, argv))
        exit(weave_worker_child_main(argc, argv, &fz_backend));
}

static void on_done(void *ctx, struct weave_job *job)
{
    (void)ctx;
    if (current != NULL)
        server_job_done(current, job); /* frees jobs of closed connections */
    else
        weave_job_free(job);
}

static void setup_once(void)
{
    weave_config_defaults(&cfg);
    cfg.max_connections = 4;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    /* WARN: the loop's warnings are still formatted and written; the
     * per-request INFO lines would only cost executions. */
    weave_log_init(&logger, WEAVE_LOG_WARN, devnull);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    char err[256];
    REQUIRE(epfd >= 0);
    /* One worker for the whole run: never unloaded, no watchdog. */
    struct weave_worker_config wcfg = {
        .keep_alive_ms = -1,
        .cancel_grace_ms = 2000,
        .log_level = WEAVE_LOG_WARN,
    };
    struct weave_worker_events ev = {.done = on_done};
    REQUIRE(weave_worker_start(&worker, &wcfg, &fz_backend, &logger, &ev, err,
                               sizeof err) == 0);
}

static void check_conn(const struct server *s, const struct weave_conn *c)
{
    REQUIRE(c->fd >= 0);
    REQUIRE(c->header_got <= WEAVE_HEADER_SIZE);
    if (c->msg != NULL) {
        REQUIRE(c->msg_got <= c->msg_cap && c->msg_cap <= c->msg_len);
        REQUIRE(c->msg_len <= WEAVE_MAX_MESSAGE_SIZE);
    }
    REQUIRE(c->out_sent <= c->out_len);
    switch (c->state) {
    case WEAVE_CONN_READ_HEADER:
    case WEAVE_CONN_READ_PAYLOAD:
        REQUIRE(c->dl_list == &s->conns.reading && c->job == NULL);
        break;
    case WEAVE_CONN_WORKING:
        REQUIRE(c->dl_list == NULL && c->job != NULL && c->deadline_ms == 0);
        break;
    case WEAVE_CONN_WRITING:
        REQUIRE(c->dl_list == &s->conns.writing && c->out != NULL);
        if (c->job != NULL) /* a generated reply, sent from its mapping */
            REQUIRE(c->out == c->job->reply && c->out_len == c->job->reply_len);
        else if (!c->out_on_heap)
            REQUIRE(c->out_len <= sizeof c->small);
        break;
    default:
        REQUIRE(0);
    }
}

static void check_table(const struct server *s)
{
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->conns.nslots; i++) {
        if (s->conns.slots[i] != NULL) {
            live++;
            check_conn(s, s->conns.slots[i]);
        }
    }
    REQUIRE(live == s->conns.nconns);
    for (const struct weave_conn *c = s->conns.reading.head; c; c = c->dl_next)
        REQUIRE(c->dl_next == NULL || c->dl_next->deadline_ms >= c->deadline_ms);
}

/* Reads what the daemon sent to cl, without blocking. Returns 1 at EOF. */
static int client_read(struct client *cl)
{
    uint8_t buf[16384];
    for (;;) {
        ssize_t n = recv(cl->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == ECONNRESET; /* reset: the daemon closed too */
        if (n == 0)
            return 1;
        size_t take = (size_t)n;
        if (cl->got_len + take > CLIENT_CAP) {
            cl->overflow = 1;
            take = CLIENT_CAP - cl->got_len;
        }
        memcpy(cl->got + cl->got_len, buf, take);
        cl->got_len += take;
    }
}

/* The daemon closed cl's connection: what arrived must be one response,
 * after (version 2, SPEC 11.3) any number of queued, progress and
 * heartbeat messages; each must decode, nothing may follow the reply. */
static void client_finish(struct client *cl)
{
    if (cl->fd >= 0) {
        int eof = client_read(cl);
        (void)eof;
        close(cl->fd);
    }
    REQUIRE(!cl->overflow);
    size_t off = 0;
    while (cl->got_len > 0 && !cl->gone && off < cl->got_len) {
        struct weave_response r;
        struct weave_error err;
        const uint8_t *m = cl->got + off;
        size_t left = cl->got_len - off;
        int rc = weave_response_decode_versions(m, left, 1, 2, &r, &err);
        if (rc != 0) {
            fprintf(stderr, "fuzz_conn: bad reply (%zu bytes at %zu): %s\n",
                    left, off, err.message);
            abort();
        }
        size_t total = WEAVE_HEADER_SIZE +
                       (size_t)(((uint32_t)m[8] << 24) | ((uint32_t)m[9] << 16) |
                                ((uint32_t)m[10] << 8) | m[11]);
        REQUIRE(total <= left);
        off += total;
        int note = r.msg_type == WEAVE_MSG_QUEUED ||
                   r.msg_type == WEAVE_MSG_PROGRESS ||
                   r.msg_type == WEAVE_MSG_HEARTBEAT;
        REQUIRE(note ? off < cl->got_len : off == cl->got_len);
        REQUIRE(total <= REPLY_CAP);
    }
    cl->fd = -1;
    cl->tag = 0;
    cl->got_len = 0;
    cl->half_closed = 0;
    cl->gone = 0;
    cl->overflow = 0;
}

static struct weave_conn *conn_of(struct server *s, struct client *cl)
{
    return cl->tag != 0 ? weave_conn_table_find(&s->conns, cl->tag) : NULL;
}

/* Opens a connection the way server_accept.c's admit() does. */
static int client_open(struct server *s, struct client *cl, int small_sndbuf)
{
    int sv[2];
    if (s->conns.nconns >= s->conns.nslots)
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    if (small_sndbuf) {
        int sz = 4096;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    struct weave_conn *c = malloc(sizeof *c);
    REQUIRE(c != NULL);
    struct weave_peer peer = {.uid = s->uid, .pid = getpid()};
    weave_conn_init(c, sv[0], weave_conn_table_add(&s->conns, c), &peer);
    weave_deadline_set(&s->conns.reading, c,
                       weave_now_ms() + s->cfg->read_timeout_ms);
    cl->fd = sv[1];
    cl->tag = c->tag;
    cl->got_len = 0;
    server_conn_start(s, c);
    return 0;
}

/* If the daemon closed cl's connection since, check what cl got. */
static void settle(struct server *s, struct client *cl)
{
    if (cl->tag != 0 && conn_of(s, cl) == NULL)
        client_finish(cl);
}

static int any_working(struct server *s)
{
    for (uint32_t i = 0; i < s->conns.nslots; i++) {
        struct weave_conn *c = s->conns.slots[i];
        if (c != NULL && c->state == WEAVE_CONN_WORKING)
            return 1;
    }
    return 0;
}

static void wait_worker(struct server *s, int timeout_ms)
{
    (void)s;
    struct pollfd p = {.fd = weave_worker_fd(worker), .events = POLLIN};
    if (poll(&p, 1, timeout_ms) > 0)
        weave_worker_dispatch(worker);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (worker == NULL)
        setup_once();

    struct server s;
    memset(&s, 0, sizeof s);
    s.cfg = &cfg;
    s.log = &logger;
    s.backend = &fz_backend;
    s.epfd = epfd;
    s.sigfd = s.reserve_fd = -1;
    s.worker = worker;
    s.uid = geteuid();
    s.started_ms = weave_now_ms();
    REQUIRE(weave_conn_table_init(&s.conns, cfg.max_connections) == 0);
    s.conns.generation = generation;
    current = &s;

    static uint8_t got[2][CLIENT_CAP];
    struct client cl[2];
    memset(cl, 0, sizeof cl);
    for (int k = 0; k < 2; k++) {
        cl[k].fd = -1;
        cl[k].got = got[k];
    }

    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        struct client *k = &cl[op & 1];
        unsigned what = (op >> 1) & 7u;

        settle(&s, k);
        if (k->tag == 0) {
            int small = i < size && (data[i++] & 1);
            if (client_open(&s, k, small) != 0)
                continue;
            check_table(&s);
            settle(&s, k);
            if (k->tag == 0)
                continue;
        }
        struct weave_conn *c = conn_of(&s, k);
        switch (what) {
        case 0:
        case 1:
        case 2: {
            size_t n = i < size ? (size_t)data[i++] + 1u : 0;
            if (n > size - i)
                n = size - i;
            if (!k->half_closed && n > 0) {
                ssize_t w = send(k->fd, data + i, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w; /* EAGAIN/EPIPE: what the kernel took is what counts */
            }
            i += n;
            server_conn_event(&s, c, EPOLLIN);
            break;
        }
        case 3:
            shutdown(k->fd, SHUT_WR);
            k->half_closed = 1;
            server_conn_event(&s, c, EPOLLIN | EPOLLRDHUP);
            break;
        case 4:
            close(k->fd);
            k->fd = -1;
            k->half_closed = k->gone = 1;
            server_conn_event(&s, c, EPOLLIN | EPOLLHUP);
            break;
        case 5:
            if (c->state == WEAVE_CONN_READ_HEADER ||
                c->state == WEAVE_CONN_READ_PAYLOAD)
                server_read_deadline(&s, c);
            break;
        case 6:
            if (k->fd >= 0)
                client_read(k);
            server_conn_event(&s, c, EPOLLOUT);
            break;
        case 7:
            if (any_working(&s))
                wait_worker(&s, 2000);
            break;
        }
        check_table(&s);
        settle(&s, &cl[0]);
        settle(&s, &cl[1]);
    }

    /* The end: let the daemon finish what it can, then close the rest the
     * way shutdown does. */
    for (int round = 0; round < 64 && any_working(&s); round++)
        wait_worker(&s, 2000);
    for (int r = 0; r < 8; r++) {
        for (int k = 0; k < 2; k++) {
            struct weave_conn *c = conn_of(&s, &cl[k]);
            if (c != NULL && c->state == WEAVE_CONN_WRITING && cl[k].fd >= 0) {
                client_read(&cl[k]);
                server_conn_event(&s, c, EPOLLOUT);
            }
            settle(&s, &cl[k]);
        }
    }
    check_table(&s);
    for (uint32_t j = 0; j < s.conns.nslots; j++) {
        if (s.conns.slots[j] != NULL)
            server_close_conn(&s, s.conns.slots[j]);
    }
    for (int k = 0; k < 2; k++) {
        if (cl[k].fd >= 0)
            close(cl[k].fd);
    }
    REQUIRE(s.conns.nconns == 0);
    weave_worker_dispatch(worker); /* jobs of connections gone: freed */
    current = NULL; /* later events find no connection: freed */
    generation = s.conns.generation;
    weave_conn_table_free(&s.conns);
    return 0;
}
