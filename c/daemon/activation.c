/* systemd socket activation; see activation.h. */
#define _GNU_SOURCE
#include "daemon/activation.h"
#include "daemon/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Strict decimal, no sign; -1 when s is not one. */
static long parse_count(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 9)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
    }
    return strtol(s, NULL, 10);
}

static int sockopt_int(int fd, int opt, int *val)
{
    socklen_t len = sizeof *val;
    return getsockopt(fd, SOL_SOCKET, opt, val, &len);
}

static int check_listener(int fd, char *err, size_t errlen)
{
    int domain = 0, type = 0, listening = 0;

    if (sockopt_int(fd, SO_DOMAIN, &domain) != 0)
        return weave_errf(err, errlen, -1, "socket activation: fd %d is not a socket: %s",
                          fd, strerror(errno));
    if (sockopt_int(fd, SO_TYPE, &type) != 0 ||
        sockopt_int(fd, SO_ACCEPTCONN, &listening) != 0)
        return weave_errf(err, errlen, -1, "socket activation: getsockopt on fd %d: %s",
                          fd, strerror(errno));
    if (domain != AF_UNIX || type != SOCK_STREAM || !listening)
        return weave_errf(err, errlen, -1,
                          "socket activation: fd %d is not a listening AF_UNIX "
                          "stream socket (domain %d, type %d, listening %d)",
                          fd, domain, type, listening);
    return 0;
}

static int make_nonblocking_cloexec(int fd, char *err, size_t errlen)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return weave_errf(err, errlen, -1, "socket activation: fcntl on fd %d: %s", fd,
                          strerror(errno));
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0)
        return weave_errf(err, errlen, -1, "socket activation: fcntl on fd %d: %s", fd,
                          strerror(errno));
    return 0;
}

int weave_activation_detect(int *fd, char *err, size_t errlen)
{
    *fd = -1;
    const char *pid_s = getenv("LISTEN_PID");
    if (pid_s == NULL)
        return 0;
    /* For another process (e.g. inherited from our parent): not for us. */
    long pid = parse_count(pid_s);
    if (pid != (long)getpid())
        return 0;

    long n = parse_count(getenv("LISTEN_FDS"));
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n < 0)
        return weave_errf(err, errlen, -1, "socket activation: LISTEN_FDS is not a number");
    if (n == 0)
        return 0;
    if (n > 1)
        return weave_errf(err, errlen, -1,
                          "socket activation: LISTEN_FDS=%ld, but weave-compute "
                          "serves exactly one socket",
                          n);
    if (check_listener(WEAVE_ACTIVATION_FD, err, errlen) != 0 ||
        make_nonblocking_cloexec(WEAVE_ACTIVATION_FD, err, errlen) != 0)
        return -1;
    *fd = WEAVE_ACTIVATION_FD;
    return 1;
}
