/*
 * The "floor" server of //tools/bench: the fewest syscalls this design needs
 * per request, and nothing else.
 *
 * Per connection: accept, getsockopt(SO_PEERCRED) (+ the uid comparison the
 * daemon makes), read the request (one read for a small request), write the
 * precomputed reply, close. No epoll, no timers, no logging, no allocation.
 *
 * Replies are mapped (mmap, read-only) once at start from files (the exact bytes the bench
 * captured from weave-compute, or synthesized the same way for every
 * contestant): --status-reply answers msg_type 3; each --generate-reply
 * answers msg_type 1 requests whose width equals the reply's image_width.
 *
 *   floor_server --socket PATH --status-reply FILE --generate-reply FILE...
 *                [--threads N]
 *
 * --threads N runs N identical accept loops on the same listening socket
 * (default 1: a single blocking loop is the minimum).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "floor_common.h"

#define MAX_GENERATE_REPLIES 8
#define REQUEST_BUFFER 65536u

struct reply {
    const unsigned char *data;
    size_t len;
    uint32_t width;
};

static int g_listen_fd = -1;
static uid_t g_uid;
static struct reply g_status;
static struct reply g_generate[MAX_GENERATE_REPLIES];
static int g_ngenerate;

static const struct reply *pick_reply(const unsigned char *req, size_t len)
{
    uint16_t type = floor_be16(req + 6);
    if (type == WEAVE_MSG_STATUS_REQUEST) {
        return &g_status;
    }
    if (type == WEAVE_MSG_GENERATE_REQUEST && len >= WEAVE_HEADER_SIZE + 16) {
        uint32_t width = floor_be32(req + WEAVE_HEADER_SIZE + 12);
        for (int i = 0; i < g_ngenerate; i++) {
            if (g_generate[i].width == width) {
                return &g_generate[i];
            }
        }
    }
    return NULL;
}

static void serve_one(int fd, unsigned char *buf)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || cred.uid != g_uid) {
        return;
    }
    size_t got = 0;
    size_t want = WEAVE_HEADER_SIZE;
    while (got < want) {
        ssize_t n = read(fd, buf + got, REQUEST_BUFFER - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        got += (size_t)n;
        if (want == WEAVE_HEADER_SIZE && got >= WEAVE_HEADER_SIZE) {
            uint32_t payload = floor_be32(buf + 8);
            if (floor_be32(buf) != WEAVE_MAGIC || payload > REQUEST_BUFFER - WEAVE_HEADER_SIZE) {
                return;
            }
            want = WEAVE_HEADER_SIZE + payload;
        }
    }
    const struct reply *r = pick_reply(buf, got);
    if (r == NULL) {
        return;
    }
    size_t off = 0;
    while (off < r->len) {
        ssize_t n = write(fd, r->data + off, r->len - off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        off += (size_t)n;
    }
}

static void *accept_loop(void *arg)
{
    (void)arg;
    static _Thread_local unsigned char buf[REQUEST_BUFFER];
    for (;;) {
        int fd = accept(g_listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
                continue;
            }
            perror("accept");
            exit(1);
        }
        serve_one(fd, buf);
        close(fd);
    }
    return NULL;
}

static int load_reply(const char *path, struct reply *r, uint16_t want_type)
{
    size_t len = 0;
    unsigned char head[WEAVE_HEADER_SIZE + 20];
    const unsigned char *data = floor_map_file(path, &len, head, sizeof(head));
    if (data == NULL) {
        return -1;
    }
    if (len < sizeof(head) || floor_be32(head) != WEAVE_MAGIC || floor_be16(head + 6) != want_type ||
        (size_t)floor_be32(head + 8) + WEAVE_HEADER_SIZE != len) {
        fprintf(stderr, "%s: not a complete msg_type %u message\n", path, want_type);
        return -1;
    }
    r->data = data;
    r->len = len;
    r->width = want_type == WEAVE_MSG_GENERATE_RESPONSE ? floor_be32(head + WEAVE_HEADER_SIZE + 16) : 0;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: floor_server --socket PATH --status-reply FILE --generate-reply FILE... [--threads N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *sock_path = NULL;
    int threads = 1;
    int have_status = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--socket") == 0) {
            sock_path = v;
        } else if (strcmp(a, "--threads") == 0) {
            threads = atoi(v);
        } else if (strcmp(a, "--status-reply") == 0) {
            if (load_reply(v, &g_status, WEAVE_MSG_STATUS_RESPONSE) != 0) {
                return 1;
            }
            have_status = 1;
        } else if (strcmp(a, "--generate-reply") == 0) {
            if (g_ngenerate == MAX_GENERATE_REPLIES || load_reply(v, &g_generate[g_ngenerate], WEAVE_MSG_GENERATE_RESPONSE) != 0) {
                return 1;
            }
            g_ngenerate++;
        } else {
            usage();
        }
    }
    if (sock_path == NULL || !have_status || threads < 1 || threads > 64) {
        usage();
    }
    signal(SIGPIPE, SIG_IGN);
    g_uid = getuid();

    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(sock_path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "socket path too long\n");
        return 1;
    }
    memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);
    g_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g_listen_fd < 0) {
        perror("socket");
        return 1;
    }
    unlink(sock_path);
    if (bind(g_listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(g_listen_fd, SOMAXCONN) != 0) {
        perror("bind/listen");
        return 1;
    }
    for (int i = 1; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, accept_loop, NULL) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    accept_loop(NULL);
    return 0;
}
