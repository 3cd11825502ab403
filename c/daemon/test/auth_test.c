/* SO_PEERCRED checks through real connections. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "daemon/auth.h"

static void test_same_uid_socketpair(void)
{
    int sv[2];
    struct weave_peer peer;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(weave_auth_check(sv[0], geteuid(), &peer) == WEAVE_AUTH_OK);
    CHECK(peer.uid == geteuid() && peer.pid == getpid());
    /* The same credentials judged against another uid: rejected. */
    CHECK(weave_auth_check(sv[0], geteuid() + 1, &peer) == WEAVE_AUTH_REJECTED);
    close(sv[0]);
    close(sv[1]);
}

static void test_not_a_socket(void)
{
    int p[2];
    struct weave_peer peer;
    CHECK(pipe(p) == 0);
    CHECK(weave_auth_check(p[0], geteuid(), &peer) == WEAVE_AUTH_ERROR);
    CHECK(errno == ENOTSOCK);
    close(p[0]);
    close(p[1]);
}

/* A listener anyone may connect to (0711 dir, 0666 socket). */
static int open_listener(char *base, size_t cap, char *path, size_t pcap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    tu_tmpdir(base, cap);
    chmod(base, 0711);
    snprintf(path, pcap, "%s/s", base);
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0)
        abort();
    chmod(path, 0666);
    return fd;
}

static void test_same_uid_connect(void)
{
    char base[64], path[128];
    struct weave_peer peer;
    int l = open_listener(base, sizeof base, path, sizeof path);
    int c = tu_connect(path);
    int s = accept(l, NULL, NULL);
    CHECK(c >= 0 && s >= 0);
    CHECK(weave_auth_check(s, geteuid(), &peer) == WEAVE_AUTH_OK);
    CHECK(peer.pid == getpid());
    close(c);
    close(s);
    close(l);
    tu_rmtree(base);
}

static void test_other_uid_rejected(void)
{
    char base[64], path[128];
    struct weave_peer peer;
    int l = open_listener(base, sizeof base, path, sizeof path);
    pid_t child = fork();
    if (child == 0) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            _exit(10);
        int c = tu_connect(path);
        if (c < 0)
            _exit(11);
        char b;
        /* Wait for the server to close us: read returns 0, nothing sent. */
        ssize_t n = read(c, &b, 1);
        _exit(n == 0 ? 0 : 12);
    }
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0);
    CHECK(weave_auth_check(s, geteuid(), &peer) == WEAVE_AUTH_REJECTED);
    CHECK(peer.uid == 65534 && peer.pid == child);
    close(s);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(l);
    tu_rmtree(base);
}

int main(void)
{
    tu_run("auth: same uid accepted (socketpair)", test_same_uid_socketpair);
    tu_run("auth: same uid accepted (connect)", test_same_uid_connect);
    tu_run("auth: getsockopt failure reported", test_not_a_socket);
    const char *why = NULL;
    if (tu_can_become_nobody(&why))
        tu_run("auth: uid 65534 rejected", test_other_uid_rejected);
    else
        tu_skip("auth: uid 65534 rejected", why);
    return tu_summary();
}
