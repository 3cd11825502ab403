/* systemd socket activation detection (LISTEN_PID / LISTEN_FDS, fd 3). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "daemon/activation.h"

static char err[512];

static void set_env(const char *pid, const char *fds)
{
    char buf[32];
    if (pid == NULL) {
        snprintf(buf, sizeof buf, "%ld", (long)getpid());
        pid = buf;
    }
    setenv("LISTEN_PID", pid, 1);
    if (fds != NULL)
        setenv("LISTEN_FDS", fds, 1);
    else
        unsetenv("LISTEN_FDS");
    setenv("LISTEN_FDNAMES", "weave", 1);
}

/* Puts a listening (or not) Unix socket on fd 3. */
static void put_on_fd3(int domain, int type, int do_listen)
{
    int fd = socket(domain, type, 0);
    if (domain == AF_UNIX) {
        /* Autobind to an abstract name: no file needed. */
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)) != 0)
            abort();
    }
    if (do_listen && listen(fd, 1) != 0)
        abort();
    if (fd != 3) {
        dup2(fd, 3);
        close(fd);
    }
}

static void test_not_activated(void)
{
    int fd = 42;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == 0 && fd == -1);
    /* Meant for another process: ignored, variables left alone. */
    set_env("1", "1");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == 0 && fd == -1);
    CHECK(getenv("LISTEN_FDS") != NULL);
}

static void test_activated(void)
{
    int fd = -1;
    put_on_fd3(AF_UNIX, SOCK_STREAM, 1);
    set_env(NULL, "1");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == 1);
    CHECK(fd == 3);
    CHECK((fcntl(3, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(3, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL &&
          getenv("LISTEN_FDNAMES") == NULL);
    close(3);
}

static void test_too_many(void)
{
    int fd;
    set_env(NULL, "2");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
    CHECK(strstr(err, "LISTEN_FDS=2") != NULL);
    set_env(NULL, "x");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
    set_env(NULL, NULL);
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
    set_env(NULL, "0");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == 0 && fd == -1);
}

static void test_wrong_fd3(void)
{
    int fd;
    put_on_fd3(AF_UNIX, SOCK_STREAM, 0); /* not listening */
    set_env(NULL, "1");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
    CHECK(strstr(err, "not a listening AF_UNIX stream socket") != NULL);
    close(3);
    put_on_fd3(AF_UNIX, SOCK_DGRAM, 0);
    set_env(NULL, "1");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
    close(3);
    put_on_fd3(AF_INET, SOCK_STREAM, 1);
    set_env(NULL, "1");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
    close(3);
    int p[2];
    if (pipe(p) != 0)
        abort();
    dup2(p[0], 3);
    set_env(NULL, "1");
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
    CHECK(strstr(err, "not a socket") != NULL);
    close(3);
    close(p[0]);
    close(p[1]);
    set_env(NULL, "1"); /* fd 3 closed */
    CHECK(weave_activation_detect(&fd, err, sizeof err) == -1);
}

int main(void)
{
    /* fd 3 is ours to play with: move whatever the runner put there. */
    int spare = fcntl(3, F_DUPFD_CLOEXEC, 10);
    close(3);
    tu_run("activation: not activated", test_not_activated);
    tu_run("activation: LISTEN_FDS=1 adopts fd 3", test_activated);
    tu_run("activation: LISTEN_FDS other than 1", test_too_many);
    tu_run("activation: fd 3 not a listening unix socket", test_wrong_fd3);
    if (spare >= 0)
        dup2(spare, 3);
    return tu_summary();
}
