/* XDG paths, the socket directory checks, and the lock. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_testutil.h"
#include "daemon/exitcodes.h"
#include "daemon/rundir.h"

static char err[512];

static void test_xdg_unset(void)
{
    struct weave_paths p;
    CHECK(weave_paths_init(&p, NULL, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strcmp(err, "XDG_RUNTIME_DIR not set") == 0);
    CHECK(weave_paths_init(&p, "", err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strcmp(err, "XDG_RUNTIME_DIR not set") == 0);
    CHECK(weave_paths_init(&p, "relative/dir", err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "absolute") != NULL);
}

static void test_paths(void)
{
    struct weave_paths p;
    CHECK(weave_paths_init(&p, "/run/user/1000", err, sizeof err) == 0);
    CHECK(strcmp(p.dir, "/run/user/1000/weave") == 0);
    CHECK(strcmp(p.sock, "/run/user/1000/weave/weave.sock") == 0);
    CHECK(strcmp(p.lock, "/run/user/1000/weave/weave.lock") == 0);
    CHECK(strcmp(p.tmp, "/run/user/1000/weave/weave.tmp") == 0);
    CHECK(weave_paths_init(&p, "/run/user/1000///", err, sizeof err) == 0);
    CHECK(strcmp(p.sock, "/run/user/1000/weave/weave.sock") == 0);
    CHECK(weave_paths_init(&p, "/", err, sizeof err) == 0);
    CHECK(strcmp(p.sock, "/weave/weave.sock") == 0);
}

static void test_path_too_long(void)
{
    struct weave_paths p;
    char dir[200];
    /* "/" + 90 'a' = 91 bytes; + "/weave/weave.sock" (17) = 108 > 107. */
    dir[0] = '/';
    memset(dir + 1, 'a', 90);
    dir[91] = '\0';
    CHECK(weave_paths_init(&p, dir, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "socket path too long") != NULL);
    CHECK(strstr(err, dir) != NULL);       /* names the path */
    CHECK(strstr(err, "107") != NULL);     /* and the limit */
    CHECK(strstr(err, "108 bytes") != NULL);
    /* One byte less fits exactly (107 bytes). */
    dir[90] = '\0';
    CHECK(weave_paths_init(&p, dir, err, sizeof err) == 0);
    CHECK(strlen(p.sock) == 107);
}

static void test_dir_created_0700(void)
{
    char base[64], dir[128];
    struct stat st;
    tu_tmpdir(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/weave", base);
    mode_t old = umask(0); /* even with a permissive umask */
    CHECK(weave_rundir_prepare(dir, err, sizeof err) == 0);
    umask(old);
    CHECK(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0700);
    /* Existing and correct: fine again. */
    CHECK(weave_rundir_prepare(dir, err, sizeof err) == 0);
    tu_rmtree(base);
}

static void test_dir_bad_mode(void)
{
    char base[64], dir[128];
    tu_tmpdir(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/weave", base);
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0755) == 0);
    CHECK(weave_rundir_prepare(dir, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "mode 0755") != NULL);
    CHECK(chmod(dir, 0710) == 0);
    CHECK(weave_rundir_prepare(dir, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0710); /* untouched */
    tu_rmtree(base);
}

static void test_dir_symlink(void)
{
    char base[64], dir[128], target[128];
    tu_tmpdir(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/weave", base);
    snprintf(target, sizeof target, "%s/real", base);
    CHECK(mkdir(target, 0700) == 0);
    CHECK(symlink(target, dir) == 0);
    CHECK(weave_rundir_prepare(dir, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "symbolic link") != NULL);
    tu_rmtree(base);
}

static void test_dir_not_dir(void)
{
    char base[64], dir[128];
    tu_tmpdir(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/weave", base);
    int fd = open(dir, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(weave_rundir_prepare(dir, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "not a directory") != NULL);
    tu_rmtree(base);
}

static void test_dir_wrong_owner(void)
{
    char base[64], dir[128];
    tu_tmpdir(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/weave", base);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(chown(dir, 65534, 65534) == 0);
    CHECK(weave_rundir_prepare(dir, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "owned by uid 65534") != NULL);
    tu_rmtree(base);
}

static void test_missing_parent(void)
{
    CHECK(weave_rundir_prepare("/nonexistent-wvt/weave", err, sizeof err) ==
          WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "cannot create directory") != NULL);
}

static void test_lock(void)
{
    char base[64], path[128];
    struct weave_lock a, b;
    struct stat st;
    tu_tmpdir(base, sizeof base);
    snprintf(path, sizeof path, "%s/weave.lock", base);

    CHECK(weave_lock_acquire(&a, path, err, sizeof err) == 0);
    CHECK(a.fd >= 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK((fcntl(a.fd, F_GETFD) & FD_CLOEXEC) != 0);

    /* flock is per open file: a second open in this process conflicts. */
    CHECK(weave_lock_acquire(&b, path, err, sizeof err) ==
          WEAVE_EXIT_ALREADY_RUNNING);
    char want[256];
    snprintf(want, sizeof want,
             "another weave-compute is already running (lock held on %s)", path);
    CHECK(strcmp(err, want) == 0);
    CHECK(b.fd == -1);

    /* And from another process. */
    pid_t pid = fork();
    if (pid == 0) {
        struct weave_lock c;
        _exit(weave_lock_acquire(&c, path, err, sizeof err));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == WEAVE_EXIT_ALREADY_RUNNING);

    /* Release unlinks our file; then the lock is free again. */
    weave_lock_release(&a, path);
    CHECK(a.fd == -1);
    CHECK(access(path, F_OK) != 0);
    CHECK(weave_lock_acquire(&b, path, err, sizeof err) == 0);
    weave_lock_release(&b, NULL); /* NULL: keep the file */
    CHECK(access(path, F_OK) == 0);
    tu_rmtree(base);
}

static void test_lock_release_keeps_foreign_file(void)
{
    char base[64], path[128], other[128];
    struct weave_lock a;
    tu_tmpdir(base, sizeof base);
    snprintf(path, sizeof path, "%s/weave.lock", base);
    snprintf(other, sizeof other, "%s/other", base);
    CHECK(weave_lock_acquire(&a, path, err, sizeof err) == 0);
    /* Someone replaced the file: releasing must not delete theirs. */
    int fd = open(other, O_WRONLY | O_CREAT, 0600);
    close(fd);
    CHECK(rename(other, path) == 0);
    weave_lock_release(&a, path);
    CHECK(access(path, F_OK) == 0);
    tu_rmtree(base);
}

static void test_lock_symlink_refused(void)
{
    char base[64], path[128], target[128];
    struct weave_lock a;
    tu_tmpdir(base, sizeof base);
    snprintf(path, sizeof path, "%s/weave.lock", base);
    snprintf(target, sizeof target, "%s/target", base);
    CHECK(symlink(target, path) == 0);
    CHECK(weave_lock_acquire(&a, path, err, sizeof err) == WEAVE_EXIT_RUNTIME);
    CHECK(strstr(err, "symbolic link") != NULL);
    CHECK(access(target, F_OK) != 0); /* O_NOFOLLOW: nothing created there */
    tu_rmtree(base);
}

int main(void)
{
    tu_run("rundir: XDG_RUNTIME_DIR unset/empty/relative", test_xdg_unset);
    tu_run("rundir: paths", test_paths);
    tu_run("rundir: socket path longer than sun_path", test_path_too_long);
    tu_run("rundir: directory created 0700", test_dir_created_0700);
    tu_run("rundir: group/other bits refused", test_dir_bad_mode);
    tu_run("rundir: symlink refused", test_dir_symlink);
    tu_run("rundir: non-directory refused", test_dir_not_dir);
    const char *why = NULL;
    if (tu_can_become_nobody(&why))
        tu_run("rundir: wrong owner refused", test_dir_wrong_owner);
    else
        tu_skip("rundir: wrong owner refused", why);
    tu_run("rundir: missing XDG_RUNTIME_DIR directory", test_missing_parent);
    tu_run("lock: exclusive, exact message, released", test_lock);
    tu_run("lock: release keeps a replaced file", test_lock_release_keeps_foreign_file);
    tu_run("lock: symlink refused", test_lock_symlink_refused);
    return tu_summary();
}
