/* Listening socket: mode, stale replacement, refusing what is not ours. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "daemon/exitcodes.h"
#include "daemon/rundir.h"
#include "daemon/socket.h"

static char err[512];

struct fixture {
    char base[64];
    struct weave_paths p;
    struct weave_log log;
    int logpipe[2];
};

static void setup(struct fixture *f)
{
    tu_tmpdir(f->base, sizeof f->base);
    if (weave_paths_init(&f->p, f->base, err, sizeof err) != 0 ||
        weave_rundir_prepare(f->p.dir, err, sizeof err) != 0 ||
        pipe2(f->logpipe, O_NONBLOCK) != 0)
        abort();
    weave_log_init(&f->log, WEAVE_LOG_DEBUG, f->logpipe[1]);
}

static char *drain_log(struct fixture *f)
{
    static char buf[4096];
    ssize_t n = read(f->logpipe[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void teardown(struct fixture *f)
{
    close(f->logpipe[0]);
    close(f->logpipe[1]);
    tu_rmtree(f->base);
}

/* A socket file with nobody listening (what SIGKILL leaves behind). */
static void make_stale(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        abort();
    close(fd);
}

static int make_live(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0)
        abort();
    return fd;
}

static void test_listen_mode(void)
{
    struct fixture f;
    struct weave_listener l;
    struct stat st;
    setup(&f);
    mode_t old = umask(0); /* the socket must be 0600 regardless */
    CHECK(weave_socket_check_existing(f.p.sock, &f.log, err, sizeof err) == 0);
    CHECK(weave_socket_listen(&l, &f.p, err, sizeof err) == 0);
    umask(old);
    CHECK(umask(old) == old); /* umask restored */
    CHECK(lstat(f.p.sock, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(access(f.p.tmp, F_OK) != 0); /* renamed away */
    CHECK((fcntl(l.fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(l.fd, F_GETFD) & FD_CLOEXEC) != 0);
    int c = tu_connect(f.p.sock);
    CHECK(c >= 0);
    close(c);
    weave_socket_close(&l);
    CHECK(access(f.p.sock, F_OK) != 0); /* unlinked */
    weave_socket_close(&l);              /* twice is fine */
    teardown(&f);
}

static void test_stale_replaced(void)
{
    struct fixture f;
    struct weave_listener l;
    struct stat before, after;
    setup(&f);
    make_stale(f.p.sock);
    CHECK(lstat(f.p.sock, &before) == 0);
    CHECK(weave_socket_check_existing(f.p.sock, &f.log, err, sizeof err) == 0);
    CHECK(strstr(drain_log(&f), "INFO replacing stale socket") != NULL);
    CHECK(weave_socket_listen(&l, &f.p, err, sizeof err) == 0);
    CHECK(lstat(f.p.sock, &after) == 0 && after.st_ino != before.st_ino);
    int c = tu_connect(f.p.sock);
    CHECK(c >= 0);
    close(c);
    weave_socket_close(&l);
    teardown(&f);
}

static void test_live_left_alone(void)
{
    struct fixture f;
    struct stat before, after;
    setup(&f);
    int live = make_live(f.p.sock);
    CHECK(lstat(f.p.sock, &before) == 0);
    CHECK(weave_socket_check_existing(f.p.sock, &f.log, err, sizeof err) ==
          WEAVE_EXIT_ALREADY_RUNNING);
    CHECK(strstr(err, f.p.sock) != NULL);
    CHECK(lstat(f.p.sock, &after) == 0 && after.st_ino == before.st_ino);
    close(live);
    teardown(&f);
}

static void test_non_socket_left_alone(void)
{
    struct fixture f;
    setup(&f);
    int fd = open(f.p.sock, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
    close(fd);
    CHECK(weave_socket_check_existing(f.p.sock, &f.log, err, sizeof err) ==
          WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "not a socket") != NULL);
    char *content = tu_read_file(f.p.sock);
    CHECK(content != NULL && strcmp(content, "keep") == 0);
    free(content);

    /* A directory or a symlink at the path: same. */
    unlink(f.p.sock);
    CHECK(mkdir(f.p.sock, 0700) == 0);
    CHECK(weave_socket_check_existing(f.p.sock, &f.log, err, sizeof err) ==
          WEAVE_EXIT_RUNTIME);
    rmdir(f.p.sock);
    CHECK(symlink("/dev/null", f.p.sock) == 0);
    CHECK(weave_socket_check_existing(f.p.sock, &f.log, err, sizeof err) ==
          WEAVE_EXIT_RUNTIME);
    struct stat st;
    CHECK(lstat(f.p.sock, &st) == 0 && S_ISLNK(st.st_mode));
    teardown(&f);
}

static void test_leftover_tmp(void)
{
    struct fixture f;
    struct weave_listener l;
    setup(&f);
    make_stale(f.p.tmp); /* a daemon died between bind and rename */
    CHECK(weave_socket_listen(&l, &f.p, err, sizeof err) == 0);
    weave_socket_close(&l);
    teardown(&f);
}

static void test_close_keeps_foreign(void)
{
    struct fixture f;
    struct weave_listener l;
    setup(&f);
    CHECK(weave_socket_listen(&l, &f.p, err, sizeof err) == 0);
    /* Someone else's socket took the path: not ours to delete. */
    CHECK(unlink(f.p.sock) == 0);
    make_stale(f.p.sock);
    weave_socket_close(&l);
    CHECK(access(f.p.sock, F_OK) == 0);
    teardown(&f);
}

static void test_adopted_never_unlinked(void)
{
    struct fixture f;
    struct weave_listener l;
    setup(&f);
    int fd = make_live(f.p.sock);
    weave_socket_adopt(&l, fd);
    weave_socket_close(&l);
    CHECK(access(f.p.sock, F_OK) == 0);
    teardown(&f);
}

int main(void)
{
    tu_run("socket: 0600, non-blocking, cloexec, unlinked", test_listen_mode);
    tu_run("socket: stale socket replaced (INFO logged)", test_stale_replaced);
    tu_run("socket: live socket left alone (exit 3)", test_live_left_alone);
    tu_run("socket: non-socket path left alone (exit 1)", test_non_socket_left_alone);
    tu_run("socket: leftover temporary name", test_leftover_tmp);
    tu_run("socket: close keeps a replaced file", test_close_keeps_foreign);
    tu_run("socket: adopted listener never unlinked", test_adopted_never_unlinked);
    return tu_summary();
}
