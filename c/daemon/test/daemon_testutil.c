/* See daemon_testutil.h. */
#define _GNU_SOURCE
#include "daemon_testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/procedural/procedural.h"
#include "backends/scripted/scripted.h"
#include "daemon/daemon.h"
#include "daemon/worker.h"

static int passed, failed, case_failures;

/*
 * A daemon (or worker) started by a test spawns its worker process by
 * exec'ing /proc/self/exe: this test binary. Serve as that worker before
 * the test's main() runs, with the backend the test names through
 * tu_worker_backend() (a weak symbol) if its name is the one the daemon
 * asked for, else the scripted or the procedural one, by name.
 * glibc passes argc and argv to constructors.
 */
__attribute__((constructor)) static void tu_worker_mode(int argc, char **argv)
{
    if (argv == NULL || !weave_worker_child_requested(argc, argv))
        return;
    /* The daemon names its backend; pick it among the ones we have. */
    const char *want = weave_worker_child_backend(argc, argv);
    const struct weave_backend *b = &weave_backend_procedural;
    if (want != NULL && strcmp(want, weave_backend_scripted.name) == 0)
        b = &weave_backend_scripted;
    if (tu_worker_backend != NULL &&
        (want == NULL || strcmp(want, tu_worker_backend()->name) == 0))
        b = tu_worker_backend();
    exit(weave_worker_child_main(argc, argv, b));
}

void tu_check(int ok, const char *file, int line, const char *expr)
{
    if (ok)
        return;
    if (case_failures++ == 0)
        printf("\n");
    printf("    %s:%d: check failed: %s\n", file, line, expr);
    fflush(stdout);
}

void tu_run(const char *name, void (*fn)(void))
{
    printf("%-60s", name);
    fflush(stdout);
    case_failures = 0;
    fn();
    if (case_failures == 0) {
        passed++;
        printf("PASS\n");
    } else {
        failed++;
        printf("  -> FAIL %s\n", name);
    }
    fflush(stdout);
}

void tu_skip(const char *name, const char *why)
{
    printf("%-60sSKIP (%s)\n", name, why);
    fflush(stdout);
}

int tu_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

int tu_can_become_nobody(const char **why)
{
    if (geteuid() != 0) {
        *why = "needs root to switch to uid 65534";
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0)
        _exit(setresgid(65534, 65534, 65534) == 0 &&
                      setresuid(65534, 65534, 65534) == 0
                  ? 0
                  : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *why = "setresuid(65534) fails here (user namespace without that uid?)";
        return 0;
    }
    return 1;
}

uint64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tu_tmpdir(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/wvt.XXXXXX");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tu_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_send_fds(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
    union {
        struct cmsghdr align;
        unsigned char buf[CMSG_SPACE(TU_MAX_FDS * sizeof(int))];
    } ctl;
    if (nfds < 1 || nfds > TU_MAX_FDS)
        return -1;
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    memset(&ctl, 0, sizeof ctl);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    return sendmsg(sock, &m, 0) == (ssize_t)len ? 0 : -1;
}

int tu_recv_exact_fds(int sock, uint8_t *buf, size_t len, int timeout_ms,
                      int *fd, int *nfds)
{
    size_t have = 0;
    uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
    while (have < len) {
        uint64_t now = tu_now_ms();
        struct pollfd p = {.fd = sock, .events = POLLIN};
        if (now >= end || poll(&p, 1, (int)(end - now)) != 1)
            return -1;
        union {
            struct cmsghdr align;
            unsigned char buf[CMSG_SPACE(TU_MAX_FDS * sizeof(int))];
        } ctl;
        struct iovec iov = {.iov_base = buf + have, .iov_len = len - have};
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        ssize_t k = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; i++) {
                if (*fd >= 0)
                    close(*fd);
                memcpy(fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                (*nfds)++;
            }
        }
        have += (size_t)k;
    }
    return 0;
}

int tu_fd_count(pid_t pid)
{
    char path[64];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/fd");
    else
        snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return pid == 0 ? n - 1 : n; /* the directory's own descriptor */
}

char *tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

int tu_count_lines(const char *text, const char *needle)
{
    int count = 0;
    const char *line = text;
    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        char *copy = strndup(line, len);
        if (strstr(copy, needle) != NULL)
            count++;
        free(copy);
        line = end != NULL ? end + 1 : NULL;
    }
    return count;
}

int tu_connect(const char *path)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path)
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int tu_send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

uint8_t *tu_recv_all(int fd, int timeout_ms, size_t *len)
{
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
    *len = 0;
    for (;;) {
        uint64_t now = tu_now_ms();
        if (now >= end) {
            free(buf);
            return NULL;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(end - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (*len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = recv(fd, buf + *len, cap - *len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return buf; /* EOF, or ECONNRESET: what we have is the reply */
        *len += (size_t)n;
    }
}

int tu_decode_reply(const uint8_t *buf, size_t len, struct weave_response *out)
{
    struct weave_error err;
    if (buf == NULL)
        return -1;
    return weave_response_decode(buf, len, out, &err);
}

size_t tu_example_request(uint8_t *buf, size_t cap, uint64_t request_id,
                          uint32_t width, uint32_t height, uint64_t seed)
{
    static const char prompt[] = "a cat in space";
    struct weave_generate_request req;
    memset(&req, 0, sizeof req);
    req.request_id = request_id;
    req.width = width;
    req.height = height;
    req.steps = 28;
    req.cfg_scale = 7.0f;
    req.seed = seed;
    req.clip_l.data = req.clip_g.data = req.t5.data = (const uint8_t *)prompt;
    req.clip_l.len = req.clip_g.len = req.t5.len = sizeof prompt - 1;
    return weave_encode_generate_request(buf, cap, 1, &req);
}

size_t tu_status_request(uint8_t *buf, size_t cap, uint64_t request_id)
{
    struct weave_status_request req = {.request_id = request_id};
    return weave_encode_status_request(buf, cap, 1, &req);
}

void tu_daemon_spawn(struct tu_daemon *d, const char *const *args,
                     void (*before_main)(void *), void *arg)
{
    tu_daemon_spawn_backend(d, &weave_backend_procedural, args, before_main, arg);
}

void tu_daemon_spawn_backend(struct tu_daemon *d,
                             const struct weave_backend *backend,
                             const char *const *args,
                             void (*before_main)(void *), void *arg)
{
    snprintf(d->sock, sizeof d->sock, "%s/weave/weave.sock", d->dir);
    snprintf(d->lock, sizeof d->lock, "%s/weave/weave.lock", d->dir);
    if (d->log[0] == '\0') {
        /* Log files need no short path: Bazel's TEST_TMPDIR when there is
         * one (cleaned by Bazel), /tmp otherwise. Unique names from
         * mkstemp, not from the pid: sandboxed tests run in their own pid
         * namespace, so concurrent ones share a pid (and /tmp). */
        const char *base = getenv("TEST_TMPDIR");
        if (base == NULL || base[0] == '\0' || strlen(base) > 200)
            base = "/tmp";
        snprintf(d->log, sizeof d->log, "%s/wvt-log.XXXXXX", base);
        snprintf(d->out, sizeof d->out, "%s/wvt-out.XXXXXX", base);
        int lfd = mkstemp(d->log), ofd = mkstemp(d->out);
        if (lfd < 0 || ofd < 0) {
            perror("mkstemp");
            exit(2);
        }
        close(lfd);
        close(ofd);
    }
    d->reaped = 0;
    /* Truncated here, before the fork, so a reader never sees the log of
     * a previous run of the same tu_daemon. */
    int lfd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ofd = open(d->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (lfd < 0 || ofd < 0) {
        perror("open log");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        dup2(lfd, STDERR_FILENO);
        dup2(ofd, STDOUT_FILENO);
        /* Nothing of the test's own (client sockets...) leaks into it. */
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        if (d->dir[0] != '\0')
            setenv("XDG_RUNTIME_DIR", d->dir, 1);
        else
            unsetenv("XDG_RUNTIME_DIR");
        if (before_main != NULL)
            before_main(arg);
        char *argv[32];
        int argc = 0;
        argv[argc++] = "weave-compute";
        for (int i = 0; args != NULL && args[i] != NULL && argc < 31; i++)
            argv[argc++] = (char *)args[i];
        argv[argc] = NULL;
        int rc = weave_daemon_main(argc, argv, backend);
        /* exit(), not _exit(): sanitizer builds check the daemon for leaks. */
        exit(rc);
    }
    close(lfd);
    close(ofd);
    d->pid = pid;
}

char *tu_daemon_log(const struct tu_daemon *d)
{
    char *s = tu_read_file(d->log);
    return s != NULL ? s : strdup("");
}

int tu_daemon_wait_exit(struct tu_daemon *d, int timeout_ms)
{
    uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
    while (!d->reaped) {
        pid_t r = waitpid(d->pid, &d->status, WNOHANG);
        if (r == d->pid) {
            d->reaped = 1;
            break;
        }
        if (tu_now_ms() >= end)
            return -1;
        usleep(5000);
    }
    if (WIFEXITED(d->status))
        return WEXITSTATUS(d->status);
    return 128 + WTERMSIG(d->status);
}

int tu_daemon_wait_ready(struct tu_daemon *d, int timeout_ms)
{
    uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char *log = tu_daemon_log(d);
        int ready = strstr(log, "listening on") != NULL;
        free(log);
        if (ready)
            return 0;
        if (tu_daemon_wait_exit(d, 0) >= 0 || tu_now_ms() >= end)
            return -1;
        usleep(5000);
    }
}

int tu_daemon_stop(struct tu_daemon *d)
{
    if (d->reaped)
        return tu_daemon_wait_exit(d, 0);
    kill(d->pid, SIGTERM);
    int rc = tu_daemon_wait_exit(d, 10000);
    if (rc < 0) {
        kill(d->pid, SIGKILL);
        tu_daemon_wait_exit(d, 10000);
        return -1;
    }
    return rc;
}

uint8_t *tu_roundtrip(const char *sock, const uint8_t *msg, size_t msglen,
                      int timeout_ms, size_t *len)
{
    *len = 0;
    int fd = tu_connect(sock);
    if (fd < 0)
        return NULL;
    /* A send that fails (EPIPE) is not the end: the daemon may have
     * answered and closed before reading it all (bad header, busy), and
     * that reply is still there to read. */
    (void)tu_send_all(fd, msg, msglen);
    uint8_t *r = tu_recv_all(fd, timeout_ms, len);
    close(fd);
    return r;
}

void tu_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void tu_put_u32(uint8_t *p, uint32_t v)
{
    tu_put_u16(p, (uint16_t)(v >> 16));
    tu_put_u16(p + 2, (uint16_t)v);
}

void tu_put_u64(uint8_t *p, uint64_t v)
{
    tu_put_u32(p, (uint32_t)(v >> 32));
    tu_put_u32(p + 4, (uint32_t)v);
}

void tu_daemon_fresh(struct tu_daemon *d)
{
    memset(d, 0, sizeof *d);
    tu_tmpdir(d->dir, sizeof d->dir);
}

void tu_daemon_cleanup(struct tu_daemon *d)
{
    if (!d->reaped)
        tu_daemon_stop(d);
    unlink(d->log);
    unlink(d->out);
    tu_rmtree(d->dir);
}
