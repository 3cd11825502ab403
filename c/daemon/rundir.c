/* Runtime directory, paths and lock; see rundir.h. */
#define _GNU_SOURCE
#include "daemon/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/exitcodes.h"
#include "daemon/errbuf.h"

/* Writes base + "/" + name into dst (cap bytes); -1 if it does not fit. */
static int join(char *dst, size_t cap, const char *base, size_t baselen,
                const char *name)
{
    int n = snprintf(dst, cap, "%.*s/%s", (int)baselen, base, name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int weave_paths_init(struct weave_paths *p, const char *runtime_dir, char *err,
                     size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (runtime_dir == NULL || runtime_dir[0] == '\0')
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "XDG_RUNTIME_DIR not set");
    if (runtime_dir[0] != '/')
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "XDG_RUNTIME_DIR must be an absolute path, not '%s'",
                          runtime_dir);

    /* "/run/user/1000/" and "/run/user/1000" name the same directory. */
    size_t len = strlen(runtime_dir);
    while (len > 1 && runtime_dir[len - 1] == '/')
        len--;
    if (len == 1)
        len = 0; /* "/" + "/weave" would give "//weave" */
    if (len > INT_MAX)
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "XDG_RUNTIME_DIR is too long");

    if (join(p->dir, sizeof p->dir, runtime_dir, len, "weave") != 0 ||
        join(p->lock, sizeof p->lock, p->dir, strlen(p->dir), "weave.lock") != 0)
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "XDG_RUNTIME_DIR is too long (%zu bytes)", len);

    /* sun_path holds 107 bytes and a NUL. A truncated path would be a
     * different file, so refuse. weave.tmp is shorter than weave.sock. */
    char full[PATH_MAX];
    if (join(full, sizeof full, p->dir, strlen(p->dir), "weave.sock") != 0)
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "XDG_RUNTIME_DIR is too long (%zu bytes)", len);
    size_t socklen = strlen(full);
    if (socklen + 1 > sizeof p->sock)
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME,
                          "socket path too long: %s (%zu bytes; a Unix socket path "
                          "holds at most %d bytes)",
                          full, socklen, WEAVE_SUN_PATH_MAX - 1);
    memcpy(p->sock, full, socklen + 1);
    if (join(p->tmp, sizeof p->tmp, p->dir, strlen(p->dir), "weave.tmp") != 0)
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "socket path too long: %s", full);
    return 0;
}

/* The checks on an existing directory, from lstat() so links are seen. */
static int check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(dir, &st) != 0)
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot stat %s: %s", dir, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "%s is a symbolic link; refusing to use it", dir);
    if (!S_ISDIR(st.st_mode))
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "%s exists and is not a directory", dir);
    if (st.st_uid != geteuid())
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME,
                          "%s is owned by uid %lu, not by this user (uid %lu); "
                          "refusing to use it",
                          dir, (unsigned long)st.st_uid, (unsigned long)geteuid());
    if ((st.st_mode & 077) != 0)
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME,
                          "%s has mode %04o; it must not be accessible to group or "
                          "others (chmod 700 %s)",
                          dir, (unsigned)(st.st_mode & 07777), dir);
    return 0;
}

/*
 * umask may have taken owner bits from the directory we just made: set
 * exactly 0700. Through an O_NOFOLLOW descriptor, not chmod(path): if the
 * entry was swapped for a symlink since mkdir (a parent writable by others),
 * chmod would change the mode of whatever the link points to.
 */
static int set_mode_0700(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fchmod(fd, 0700);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

int weave_rundir_prepare(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) == 0) {
        if (set_mode_0700(dir) != 0)
            return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot chmod %s: %s", dir, strerror(errno));
    } else if (errno != EEXIST) {
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot create directory %s: %s", dir,
                          strerror(errno));
    }
    return check_dir(dir, err, errlen);
}

/*
 * flock() on a file that another daemon unlinks at shutdown could lock an
 * orphaned inode while a third daemon locks the new file: after locking,
 * make sure the path still names the inode we hold, and retry if not.
 */
static int lock_once(struct weave_lock *lk, const char *path, char *err,
                     size_t errlen, int *retry)
{
    struct stat fst, pst;

    *retry = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                  0600);
    if (fd < 0) {
        if (errno == ELOOP)
            return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "%s is a symbolic link; refusing to use it",
                              path);
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot open lock file %s: %s", path,
                          strerror(errno));
    }
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
        close(fd);
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "lock file %s is not a regular file", path);
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        close(fd);
        if (e == EWOULDBLOCK) {
            snprintf(err, errlen,
                     "another weave-compute is already running (lock held on %s)",
                     path);
            return WEAVE_EXIT_ALREADY_RUNNING;
        }
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot lock %s: %s", path, strerror(e));
    }
    if (lstat(path, &pst) != 0 || pst.st_dev != fst.st_dev ||
        pst.st_ino != fst.st_ino) {
        close(fd); /* unlinked or replaced under us: lock the new one */
        *retry = 1;
        return 0;
    }
    lk->fd = fd;
    lk->dev = fst.st_dev;
    lk->ino = fst.st_ino;
    return 0;
}

int weave_lock_acquire(struct weave_lock *lk, const char *path, char *err,
                       size_t errlen)
{
    lk->fd = -1;
    for (int attempt = 0; attempt < 10; attempt++) {
        int retry;
        int r = lock_once(lk, path, err, errlen, &retry);
        if (r != 0 || !retry)
            return r;
    }
    return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "lock file %s keeps being replaced", path);
}

void weave_lock_release(struct weave_lock *lk, const char *path)
{
    struct stat st;

    if (lk->fd < 0)
        return;
    /* Unlink only our own file, and while still holding the lock, so no
     * other daemon is between its open() and its flock() on it unnoticed
     * (lock_once re-checks the path after locking). */
    if (path != NULL && lstat(path, &st) == 0 && st.st_dev == lk->dev &&
        st.st_ino == lk->ino)
        unlink(path);
    close(lk->fd);
    lk->fd = -1;
}
