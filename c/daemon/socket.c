/* Listening socket creation, stale-socket replacement, cleanup. */
#define _GNU_SOURCE
#include "daemon/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/exitcodes.h"
#include "daemon/errbuf.h"

/* Fills addr for path; -1 if path does not fit sun_path (never truncated). */
static int make_addr(struct sockaddr_un *addr, const char *path)
{
    size_t len = strlen(path);

    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (len + 1 > sizeof addr->sun_path)
        return -1;
    memcpy(addr->sun_path, path, len + 1);
    return 0;
}

/*
 * Is anyone accepting on the socket at path? A non-blocking connect so a
 * full backlog (EAGAIN: a live but busy server) cannot block us. Returns
 * 1 live, 0 stale (ECONNREFUSED) or gone (ENOENT), -1 error (errno set).
 */
static int probe_socket(const char *path)
{
    struct sockaddr_un addr;

    if (make_addr(&addr, path) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r;
    do {
        r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    } while (r != 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r == 0 || e == EAGAIN || e == EINPROGRESS)
        return 1;
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    errno = e;
    return -1;
}

int weave_socket_check_existing(const char *sock_path,
                                const struct weave_log *log, char *err,
                                size_t errlen)
{
    struct stat st;

    if (lstat(sock_path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot stat %s: %s",
                          sock_path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME,
                          "%s exists and is not a socket; refusing to replace it "
                          "(remove it by hand if it is not needed)",
                          sock_path);
    switch (probe_socket(sock_path)) {
    case 1:
        return weave_errf(err, errlen, WEAVE_EXIT_ALREADY_RUNNING,
                          "another process is accepting connections on %s "
                          "(without holding the lock); not touching it",
                          sock_path);
    case 0:
        weave_info(log, "replacing stale socket %s", sock_path);
        return 0;
    default:
        return weave_errf(err, errlen, WEAVE_EXIT_RUNTIME,
                          "cannot tell whether %s is in use: %s", sock_path,
                          strerror(errno));
    }
}

/* socket + bind under tmp with no window where the file is not 0600. */
static int bind_private(const char *tmp, char *err, size_t errlen)
{
    struct sockaddr_un addr;

    if (make_addr(&addr, tmp) != 0) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME,
                   "socket path too long: %s (a Unix socket path holds at most %zu bytes)",
                   tmp, sizeof addr.sun_path - 1);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "socket: %s", strerror(errno));
        return -1;
    }
    /* Only the lock holder uses the temporary name, so whatever is there
     * is left over from a daemon that died between bind and rename. */
    if (unlink(tmp) != 0 && errno != ENOENT) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot remove %s: %s", tmp,
                   strerror(errno));
        close(fd);
        return -1;
    }
    /* umask is process-wide: this runs at startup, before any thread. */
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    umask(old);
    if (r != 0) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot bind %s: %s", tmp,
                   strerror(e));
        close(fd);
        return -1;
    }
    return fd;
}

int weave_socket_listen(struct weave_listener *l, const struct weave_paths *p,
                        char *err, size_t errlen)
{
    struct stat st;

    memset(l, 0, sizeof *l);
    l->fd = -1;
    int fd = bind_private(p->tmp, err, errlen);
    if (fd < 0)
        return WEAVE_EXIT_RUNTIME;
    /* Already 0600 thanks to the umask; chmod states it independently of
     * how the kernel applied the umask. */
    if (chmod(p->tmp, 0600) != 0) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot chmod %s: %s", p->tmp,
                   strerror(errno));
        goto fail_unlink;
    }
    if (listen(fd, WEAVE_LISTEN_BACKLOG) != 0) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot listen on %s: %s", p->tmp,
                   strerror(errno));
        goto fail_unlink;
    }
    /* The identity of our socket file, taken before the rename (which
     * keeps the inode): once renamed, nothing can fail and leave it behind. */
    if (lstat(p->tmp, &st) != 0) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot stat %s: %s", p->tmp,
                   strerror(errno));
        goto fail_unlink;
    }
    /* rename() replaces a stale weave.sock atomically: a client sees the
     * old (refusing) socket or ours, never no socket at all. */
    if (rename(p->tmp, p->sock) != 0) {
        weave_errf(err, errlen, WEAVE_EXIT_RUNTIME, "cannot rename %s to %s: %s",
                   p->tmp, p->sock, strerror(errno));
        goto fail_unlink;
    }
    l->fd = fd;
    l->owns_path = 1;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    memcpy(l->path, p->sock, sizeof l->path);
    return 0;

fail_unlink:
    unlink(p->tmp);
    close(fd);
    return WEAVE_EXIT_RUNTIME;
}

void weave_socket_adopt(struct weave_listener *l, int fd)
{
    memset(l, 0, sizeof *l);
    l->fd = fd;
    l->owns_path = 0;
}

void weave_socket_close(struct weave_listener *l)
{
    struct stat st;

    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    if (l->owns_path) {
        /* A later daemon may have replaced the file (after we lost it some
         * other way); only remove the one we made. */
        if (lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
            st.st_ino == l->ino)
            unlink(l->path);
        l->owns_path = 0;
    }
}
