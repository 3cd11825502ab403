/* Connection read/write steps over real non-blocking socketpairs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "daemon/conn.h"

/* Counts the recvmsg(2) calls the connection makes (it reads through
 * recvmsg, fdpass.h): this test links with -Wl,--wrap=recvmsg
 * (c/daemon/BUILD.bazel). */
static int recv_calls;
ssize_t __real_recvmsg(int fd, struct msghdr *m, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags);

ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags)
{
    recv_calls++;
    return __real_recvmsg(fd, m, flags);
}

/* And the sendmsg(2) calls (-Wl,--wrap=sendmsg): a short send must not be
 * followed by one that can only say EAGAIN. */
static int send_calls;
ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
    send_calls++;
    return __real_sendmsg(fd, m, flags);
}

static int sndbuf_of(int fd)
{
    int v = 0;
    socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l) != 0)
        abort();
    return v;
}

/* What SO_SNDBUF reads back after asking for want: the kernel doubles the
 * request, capped at net.core.wmem_max. */
static long sndbuf_expected(int want)
{
    long max = 0;
    FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
    if (f == NULL || fscanf(f, "%ld", &max) != 1)
        abort();
    fclose(f);
    return 2L * (want < max ? want : max);
}

struct pair {
    struct weave_conn c; /* server side, non-blocking */
    int client;
};

static void open_pair(struct pair *p)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        abort();
    struct weave_peer peer = {0, 0, 0};
    weave_conn_init(&p->c, sv[0], 1ull << 32, &peer);
    p->client = sv[1];
    fcntl(p->client, F_SETFL, 0); /* the client side blocks */
}

static void close_pair(struct pair *p)
{
    weave_conn_release(&p->c);
    close(p->client);
}

static void test_byte_by_byte(void)
{
    struct pair p;
    struct weave_error err;
    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 1, 512, 512, 0);
    CHECK(n == 118);
    open_pair(&p);
    for (size_t i = 0; i < n; i++) {
        CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_AGAIN);
        CHECK(write(p.client, msg + i, 1) == 1);
        enum weave_io r = weave_conn_read(&p.c, &err);
        CHECK(r == (i + 1 == n ? WEAVE_IO_DONE : WEAVE_IO_AGAIN));
    }
    CHECK(p.c.msg_len == 118 && memcmp(p.c.msg, msg, n) == 0);
    CHECK(weave_conn_partial_request_id(&p.c) == 1);
    CHECK(weave_conn_reply_version(&p.c) == 1);
    close_pair(&p);
}

static void test_header_only(void)
{
    /* payload_len 0: done right after the header (decoding comes later). */
    struct pair p;
    struct weave_error err;
    uint8_t h[16];
    tu_put_u32(h, WEAVE_MAGIC);
    tu_put_u16(h + 4, 1);
    tu_put_u16(h + 6, 3);
    tu_put_u32(h + 8, 0);
    tu_put_u32(h + 12, 0);
    open_pair(&p);
    CHECK(write(p.client, h, 16) == 16);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_DONE);
    CHECK(p.c.msg_len == 16);
    close_pair(&p);
}

static void test_bad_magic_no_payload_read(void)
{
    struct pair p;
    struct weave_error err;
    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 5, 512, 512, 0);
    msg[0] = 'X';
    open_pair(&p);
    CHECK(write(p.client, msg, n) == (ssize_t)n);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_REPLY);
    CHECK(err.code == WEAVE_ERR_INVALID_MAGIC && err.status == 400);
    CHECK(err.request_id == 0);
    CHECK(p.c.msg == NULL); /* nothing allocated for the payload */
    close_pair(&p);

    /* A payload longer than the first read: the header is judged on what
     * that one fixed-size recv brought, and the payload is not read on. */
    size_t len = 16 + 3 * WEAVE_CONN_FIRST_READ;
    uint8_t *big = calloc(1, len);
    uint8_t *rest = malloc(len);
    memcpy(big, msg, 16);
    tu_put_u32(big + 8, (uint32_t)(len - 16));
    open_pair(&p);
    CHECK(write(p.client, big, len) == (ssize_t)len);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_REPLY);
    CHECK(err.code == WEAVE_ERR_INVALID_MAGIC && err.request_id == 0);
    CHECK(p.c.msg == NULL);
    /* The rest of the payload is still unread in the socket. */
    CHECK(recv(p.c.fd, rest, len, MSG_DONTWAIT) ==
          (ssize_t)(len - WEAVE_CONN_FIRST_READ));
    free(big);
    free(rest);
    close_pair(&p);
}

static void test_too_large(void)
{
    struct pair p;
    struct weave_error err;
    uint8_t h[16];
    tu_put_u32(h, WEAVE_MAGIC);
    tu_put_u16(h + 4, 1);
    tu_put_u16(h + 6, 1);
    tu_put_u32(h + 8, WEAVE_MAX_PAYLOAD_SIZE + 1);
    tu_put_u32(h + 12, 0);
    open_pair(&p);
    CHECK(write(p.client, h, 16) == 16);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_REPLY);
    CHECK(err.code == WEAVE_ERR_TOO_LARGE);
    CHECK(p.c.msg == NULL);
    close_pair(&p);

    /* Exactly the limit is fine, and costs only the first buffer. */
    tu_put_u32(h + 8, WEAVE_MAX_PAYLOAD_SIZE);
    open_pair(&p);
    CHECK(write(p.client, h, 16) == 16);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_AGAIN);
    CHECK(p.c.msg != NULL && p.c.msg_cap <= 64 * 1024);
    close_pair(&p);
}

static void test_unknown_type_at_header(void)
{
    struct pair p;
    struct weave_error err;
    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 31, 512, 512, 0);

    /* Header only, payload never sent: answered at once, id unknown. */
    tu_put_u16(msg + 6, 0x1234);
    open_pair(&p);
    CHECK(write(p.client, msg, 16) == 16);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_REPLY);
    CHECK(err.status == 400 && err.code == WEAVE_ERR_UNKNOWN_TYPE);
    CHECK(err.request_id == 0);
    CHECK(p.c.msg == NULL);
    close_pair(&p);

    /* Whole message in one write: the id is already there, echoed. */
    tu_put_u16(msg + 6, WEAVE_MSG_GENERATE_RESPONSE);
    open_pair(&p);
    CHECK(write(p.client, msg, n) == (ssize_t)n);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_REPLY);
    CHECK(err.code == WEAVE_ERR_UNKNOWN_TYPE && err.request_id == 31);
    close_pair(&p);

    /* A payload shorter than 8 bytes: nothing to echo. */
    tu_put_u32(msg + 8, 5);
    open_pair(&p);
    CHECK(write(p.client, msg, 21) == 21);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_REPLY);
    CHECK(err.code == WEAVE_ERR_UNKNOWN_TYPE && err.request_id == 0);
    close_pair(&p);
}

static void test_eof(void)
{
    struct pair p;
    struct weave_error err;
    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 77, 512, 512, 0);

    /* Nothing at all: close quietly. */
    open_pair(&p);
    shutdown(p.client, SHUT_WR);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_CLOSE);
    close_pair(&p);

    /* Half a header: 400/11, id unknown. */
    open_pair(&p);
    CHECK(write(p.client, msg, 7) == 7);
    shutdown(p.client, SHUT_WR);
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_REPLY);
    CHECK(err.code == WEAVE_ERR_MALFORMED && err.status == 400 && err.request_id == 0);
    close_pair(&p);

    /* Part of the payload, id included: echoed. */
    open_pair(&p);
    CHECK(write(p.client, msg, 30) == 30);
    shutdown(p.client, SHUT_WR);
    enum weave_io r;
    do {
        r = weave_conn_read(&p.c, &err);
    } while (r == WEAVE_IO_AGAIN);
    CHECK(r == WEAVE_IO_REPLY);
    CHECK(err.code == WEAVE_ERR_MALFORMED && err.request_id == 77);
    CHECK(strstr(err.message, "30 of the 118") != NULL);
    (void)n;
    close_pair(&p);
}

/* The largest request a client normally sends: one 2048-byte prompt used
 * three times (SPEC: 16 + 60 + 3 x 2048 bytes). */
static size_t longest_usual_request(uint8_t *buf, size_t cap)
{
    static uint8_t prompt[2048];
    memset(prompt, 'a', sizeof prompt);
    struct weave_generate_request req;
    memset(&req, 0, sizeof req);
    req.request_id = 12;
    req.width = req.height = 64;
    req.steps = 1;
    req.cfg_scale = 7.0f;
    req.clip_l.data = req.clip_g.data = req.t5.data = prompt;
    req.clip_l.len = req.clip_g.len = req.t5.len = sizeof prompt;
    return weave_encode_generate_request(buf, cap, 1, &req);
}

/* Reads one message written in one go; returns the recvmsg calls it took. */
static int recvs_for(const uint8_t *msg, size_t n)
{
    struct pair p;
    struct weave_error err;
    open_pair(&p);
    CHECK(tu_send_all(p.client, msg, n) == 0);
    recv_calls = 0;
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_DONE);
    int calls = recv_calls;
    CHECK(p.c.msg_len == n && memcmp(p.c.msg, msg, n) == 0);
    close_pair(&p);
    return calls;
}

static void test_few_recvs(void)
{
    /* Already in the socket: header and payload in ONE recv, and no second
     * recv only to hear EAGAIN. */
    uint8_t msg[8192];
    size_t n = tu_status_request(msg, sizeof msg, 3);
    CHECK(n == 24 && recvs_for(msg, n) == 1);
    n = tu_example_request(msg, sizeof msg, 4, 512, 512, 0);
    CHECK(n == 118 && recvs_for(msg, n) == 1);
    n = longest_usual_request(msg, sizeof msg);
    CHECK(n == 6220 && n <= WEAVE_CONN_FIRST_READ && recvs_for(msg, n) == 1);

    /* Longer than the first read: the rest in one more recv, into a buffer
     * allocated (after the header check) for exactly the message. */
    size_t len = 16 + 2 * WEAVE_CONN_FIRST_READ;
    uint8_t *big = calloc(1, len);
    tu_put_u32(big, WEAVE_MAGIC);
    tu_put_u16(big + 4, 1);
    tu_put_u16(big + 6, 1);
    tu_put_u32(big + 8, (uint32_t)(len - 16));
    CHECK(recvs_for(big, len) == 2);
    free(big);

    /* The header alone, the payload later: each read stops at the short
     * recv instead of asking again. */
    struct pair p;
    struct weave_error err;
    n = tu_example_request(msg, sizeof msg, 5, 512, 512, 0);
    open_pair(&p);
    CHECK(write(p.client, msg, 16) == 16);
    recv_calls = 0;
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_AGAIN && recv_calls == 1);
    CHECK(p.c.state == WEAVE_CONN_READ_PAYLOAD && p.c.msg_cap == n);
    CHECK(write(p.client, msg + 16, n - 16) == (ssize_t)(n - 16));
    recv_calls = 0;
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_DONE && recv_calls == 1);
    CHECK(memcmp(p.c.msg, msg, n) == 0);
    close_pair(&p);
}

static void test_trailing_bytes_ignored(void)
{
    /* One request per connection: bytes after it in the same read are not
     * part of it. */
    struct pair p;
    struct weave_error err;
    uint8_t msg[256];
    size_t n = tu_status_request(msg, sizeof msg, 6);
    memset(msg + n, 0xEE, 40);
    open_pair(&p);
    CHECK(write(p.client, msg, n + 40) == (ssize_t)(n + 40));
    CHECK(weave_conn_read(&p.c, &err) == WEAVE_IO_DONE);
    CHECK(p.c.msg_len == n && p.c.msg_got == n && memcmp(p.c.msg, msg, n) == 0);
    close_pair(&p);
}

static void test_large_payload_grows(void)
{
    struct pair p;
    struct weave_error err;
    size_t plen = 3 * 1024 * 1024;
    uint8_t *msg = calloc(1, 16 + plen);
    tu_put_u32(msg, WEAVE_MAGIC);
    tu_put_u16(msg + 4, 1);
    tu_put_u16(msg + 6, 1);
    tu_put_u32(msg + 8, (uint32_t)plen);
    for (size_t i = 16; i < 16 + plen; i++)
        msg[i] = (uint8_t)(i * 7);
    open_pair(&p);
    pid_t child = fork();
    if (child == 0) {
        _exit(tu_send_all(p.client, msg, 16 + plen) == 0 ? 0 : 1);
    }
    enum weave_io r;
    int rounds = 0;
    do {
        r = weave_conn_read(&p.c, &err);
        rounds++;
        if (r == WEAVE_IO_AGAIN)
            usleep(100);
    } while (r == WEAVE_IO_AGAIN && rounds < 1000000);
    CHECK(r == WEAVE_IO_DONE);
    CHECK(p.c.msg_len == 16 + plen && memcmp(p.c.msg, msg, 16 + plen) == 0);
    CHECK(rounds >= 3); /* bounded reads per call */
    int status;
    waitpid(child, &status, 0);
    free(msg);
    close_pair(&p);
}

static void test_write_partial(void)
{
    struct pair p;
    size_t len = 2 * 1024 * 1024; /* more than a socket buffer */
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)i;
    open_pair(&p);
    int sndbuf_default = sndbuf_of(p.c.fd);
    weave_conn_reply_heap(&p.c, buf, len);
    send_calls = 0;
    CHECK(weave_conn_write(&p.c, NULL) == WEAVE_IO_AGAIN);
    CHECK(p.c.out_sent > 0 && p.c.out_sent < len);
    /* One send: it came back short, so the next could only be EAGAIN. */
    CHECK(send_calls == 1);
    /* A big reply asked for a larger send buffer before its first byte. */
    CHECK(sndbuf_of(p.c.fd) == sndbuf_expected(WEAVE_CONN_BIG_SNDBUF));
    CHECK(sndbuf_of(p.c.fd) >= sndbuf_default);
    /* Read it all on the client while writing. */
    uint8_t *got = malloc(len);
    size_t have = 0;
    enum weave_io r = WEAVE_IO_AGAIN;
    while (have < len) {
        ssize_t n = recv(p.client, got + have, len - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
        if (r == WEAVE_IO_AGAIN)
            r = weave_conn_write(&p.c, NULL);
    }
    CHECK(r == WEAVE_IO_DONE);
    CHECK(memcmp(got, buf, len) == 0);
    free(got);
    close_pair(&p); /* frees buf */
}

static void test_small_reply_keeps_sndbuf(void)
{
    struct pair p;
    size_t len = WEAVE_CONN_BIG_REPLY - 1; /* just below the threshold */
    uint8_t *buf = calloc(1, len);
    open_pair(&p);
    int before = sndbuf_of(p.c.fd);
    weave_conn_reply_heap(&p.c, buf, len);
    (void)weave_conn_write(&p.c, NULL);
    CHECK(sndbuf_of(p.c.fd) == before);
    close_pair(&p); /* frees buf */
}

static void test_write_peer_gone(void)
{
    struct pair p;
    struct weave_error e;
    weave_error_set(&e, 9, WEAVE_ERR_INTERNAL, "x");
    open_pair(&p);
    weave_conn_reply_error(&p.c, &e);
    close(p.client);
    p.client = -1;
    /* EPIPE, not SIGPIPE (which would kill this test). */
    CHECK(weave_conn_write(&p.c, NULL) == WEAVE_IO_CLOSE);
    CHECK(errno == EPIPE || errno == ECONNRESET);
    weave_conn_release(&p.c);
}

static void test_error_reply_encoding(void)
{
    struct pair p;
    struct weave_error e;
    struct weave_response r;
    weave_error_set(&e, 42, WEAVE_ERR_TIMEOUT, "request not received within %u ms", 5u);
    open_pair(&p);
    weave_conn_reply_error(&p.c, &e);
    CHECK(tu_decode_reply(p.c.out, p.c.out_len, &r) == 0);
    CHECK(r.msg_type == WEAVE_MSG_ERROR && r.u.error.request_id == 42);
    CHECK(r.u.error.status == 500 && r.u.error.code == 10);
    close_pair(&p);
}

static void test_sent_fds_closed(void)
{
    /* A client attaches descriptors to its request: the request is read
     * as usual, and every descriptor that arrived is closed at once. The
     * write end of a pipe proves it: once ours and the one passed are
     * closed, the read end sees EOF. */
    struct pair p;
    struct weave_error err;
    uint8_t msg[256];
    size_t n = tu_example_request(msg, sizeof msg, 1, 512, 512, 0);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    int nul = open("/dev/null", O_RDONLY);
    open_pair(&p);
    int before = tu_fd_count(0);
    int fds[3] = {pfd[1], nul, pfd[1]};
    CHECK(tu_send_fds(p.client, msg, 40, fds, 3) == 0);
    CHECK(tu_send_fds(p.client, msg + 40, n - 40, fds, 2) == 0);
    close(pfd[1]);
    close(nul);
    enum weave_io r;
    int rounds = 0;
    do { /* the kernel ends a read at bytes that carried descriptors */
        r = weave_conn_read(&p.c, &err);
    } while (r == WEAVE_IO_AGAIN && ++rounds < 10);
    CHECK(r == WEAVE_IO_DONE && p.c.msg_len == n && memcmp(p.c.msg, msg, n) == 0);
    CHECK(p.c.fds_dropped == 5);
    CHECK(tu_fd_count(0) == before - 2); /* ours closed, none of theirs kept */
    char c;
    CHECK(read(pfd[0], &c, 1) == 0); /* EOF: no copy of the write end left */
    close(pfd[0]);
    close_pair(&p);
}

/* Reads exactly len bytes from a blocking fd. */
static int read_exact(int fd, uint8_t *buf, size_t len)
{
    size_t have = 0;
    while (have < len) {
        ssize_t k = read(fd, buf + have, len - have);
        if (k <= 0)
            return -1;
        have += (size_t)k;
    }
    return 0;
}

static void test_notes_before_reply(void)
{
    struct pair p;
    struct weave_error e;
    open_pair(&p);
    uint8_t a[20], b[36];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    CHECK(weave_conn_note(&p.c, a, sizeof a) == 0);
    CHECK(weave_conn_note(&p.c, b, sizeof b) == 0);
    CHECK(weave_conn_notes_pending(&p.c) == 56);
    uint8_t too_long[WEAVE_CONN_NOTE_MAX + 1] = {0};
    CHECK(weave_conn_note(&p.c, too_long, sizeof too_long) == -1);
    weave_error_set(&e, 9, WEAVE_ERR_INTERNAL, "x");
    weave_conn_reply_error(&p.c, &e);
    int progress = 0;
    CHECK(weave_conn_write(&p.c, &progress) == WEAVE_IO_DONE && progress);
    CHECK(weave_conn_notes_pending(&p.c) == 0);
    uint8_t got[56];
    CHECK(read_exact(p.client, got, sizeof got) == 0);
    CHECK(memcmp(got, a, 20) == 0 && memcmp(got + 20, b, 36) == 0);
    uint8_t reply[64];
    size_t rn = p.c.out_len;
    CHECK(rn <= sizeof reply && read_exact(p.client, reply, rn) == 0);
    struct weave_response r;
    CHECK(tu_decode_reply(reply, rn, &r) == 0 && r.msg_type == WEAVE_MSG_ERROR);
    close_pair(&p);
}

static void test_notes_bounded(void)
{
    /* Nobody reads: the ring fills, then only the newest message waits
     * aside; what reaches the client is the ring in order, then the
     * newest, never more than the ring and one message. */
    struct pair p;
    open_pair(&p);
    uint8_t m[32];
    unsigned fit = WEAVE_CONN_NOTES_CAP / sizeof m;
    for (unsigned i = 0; i < fit + 50; i++) {
        memset(m, (int)(i & 0xFF), sizeof m);
        int r = weave_conn_note(&p.c, m, sizeof m);
        CHECK(r == (i < fit ? 0 : 1));
        CHECK(weave_conn_notes_pending(&p.c) <=
              WEAVE_CONN_NOTES_CAP + WEAVE_CONN_NOTE_MAX);
    }
    CHECK(p.c.notes->coalesced == 49);
    CHECK(weave_conn_write_notes(&p.c, NULL) == WEAVE_IO_DONE);
    uint8_t got[32];
    for (unsigned i = 0; i < fit; i++) {
        CHECK(read_exact(p.client, got, sizeof got) == 0 && got[0] == (uint8_t)i);
    }
    CHECK(read_exact(p.client, got, sizeof got) == 0 &&
          got[0] == (uint8_t)(fit + 49));
    /* Drained, the ring takes messages again, sent messages' room reused. */
    for (unsigned i = 0; i < fit; i++)
        CHECK(weave_conn_note(&p.c, m, sizeof m) == 0);
    close_pair(&p);
}

static void test_notes_stuck_reader(void)
{
    /* A reader that reads nothing: the socket buffer fills, writes say
     * AGAIN without blocking, and what waits in the daemon stays bounded. */
    struct pair p;
    open_pair(&p);
    int small = 4096;
    setsockopt(p.c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    uint8_t m[36] = {1};
    enum weave_io r = WEAVE_IO_DONE;
    for (int i = 0; i < 100000 && r != WEAVE_IO_AGAIN; i++) {
        weave_conn_note(&p.c, m, sizeof m);
        r = weave_conn_write_notes(&p.c, NULL);
    }
    CHECK(r == WEAVE_IO_AGAIN);
    for (int i = 0; i < 1000; i++) {
        weave_conn_note(&p.c, m, sizeof m);
        CHECK(weave_conn_write_notes(&p.c, NULL) == WEAVE_IO_AGAIN);
    }
    CHECK(weave_conn_notes_pending(&p.c) <= WEAVE_CONN_NOTES_CAP + WEAVE_CONN_NOTE_MAX);
    close_pair(&p);
}

static void test_reply_carries_fd(void)
{
    /* The descriptor rides on the reply's first byte, exactly once. */
    struct pair p;
    open_pair(&p);
    int mfd = memfd_create("t", MFD_CLOEXEC);
    CHECK(mfd >= 0 && write(mfd, "pixels", 6) == 6);
    uint8_t note[20] = {7};
    CHECK(weave_conn_note(&p.c, note, sizeof note) == 0);
    memset(p.c.small, 0x5A, 60);
    weave_conn_reply_small_fd(&p.c, 60, mfd);
    CHECK(weave_conn_write(&p.c, NULL) == WEAVE_IO_DONE);
    /* Read as the message boundaries say: the note (no descriptor), then
     * the reply (one descriptor, on its first byte). */
    uint8_t got[80];
    int passed = -1, n = 0;
    CHECK(tu_recv_exact_fds(p.client, got, 20, 5000, &passed, &n) == 0 && n == 0 && passed == -1);
    CHECK(tu_recv_exact_fds(p.client, got + 20, 60, 5000, &passed, &n) == 0 && n == 1 && passed >= 0);
    CHECK(got[0] == 7 && got[20] == 0x5A && got[79] == 0x5A);
    char buf[8] = {0};
    CHECK(passed >= 0 && pread(passed, buf, 6, 0) == 6 && memcmp(buf, "pixels", 6) == 0);
    if (passed >= 0)
        close(passed);
    close_pair(&p); /* closes mfd, the connection's */
}

int main(void)
{
    tu_run("conn: request arriving byte by byte", test_byte_by_byte);
    tu_run("conn: header-only message", test_header_only);
    tu_run("conn: bad magic answered, payload not read on", test_bad_magic_no_payload_read);
    tu_run("conn: payload_len over the limit", test_too_large);
    tu_run("conn: unknown msg_type refused at the header", test_unknown_type_at_header);
    tu_run("conn: EOF before a whole message", test_eof);
    tu_run("conn: a waiting request takes one recv", test_few_recvs);
    tu_run("conn: bytes after the message ignored", test_trailing_bytes_ignored);
    tu_run("conn: 3 MiB payload, buffer grows", test_large_payload_grows);
    tu_run("conn: partial writes", test_write_partial);
    tu_run("conn: a small reply keeps the default send buffer", test_small_reply_keeps_sndbuf);
    tu_run("conn: write to a closed peer", test_write_peer_gone);
    tu_run("conn: error reply encoding", test_error_reply_encoding);
    tu_run("conn: descriptors a client sends are closed", test_sent_fds_closed);
    tu_run("conn: queued messages go before the reply", test_notes_before_reply);
    tu_run("conn: a full ring keeps only the newest", test_notes_bounded);
    tu_run("conn: a stuck reader never blocks, stays bounded", test_notes_stuck_reader);
    tu_run("conn: the reply's first byte carries its descriptor", test_reply_carries_fd);
    return tu_summary();
}
